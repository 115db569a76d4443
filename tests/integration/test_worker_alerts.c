/* test_worker_alerts.c — alerts end to end through `buzzradar run` processes sharing
 * one redis-server: two workers in one group, whose monitors start warm from a
 * baseline already in Redis, stay quiet on traffic at the usual rate, and raise one
 * negative_surge — not two — when a burst of negative tweets split across both
 * workers' partitions arrives; the alert names the burst's hashtag and mention and
 * gives ids of its tweets as examples. */
#include <time.h>

#include "tests/integration/worker_fixture.h"

static int setup(void **state) { return wf_setup(state, 1); }
static int teardown(void **state) { return wf_teardown(state); }

static redisContext *redis_raw(WorkerFixture *f) {
    redisContext *r = harness_redis_connect(&f->redis);
    if (!r) fail_msg("cannot connect to the test redis-server");
    return r;
}

/* Writes the per-minute buckets (docs/alerts.md) of `minutes` minutes of usual traffic
 * ending 7 minutes before now, as workers that ran earlier would have left them:
 * `per_minute` tweets a minute, half of them negative. */
static void seed_history(WorkerFixture *f, int minutes, int per_minute) {
    redisContext *r = redis_raw(f);
    long long now_min = (long long)time(NULL) / 60;
    for (long long m = now_min - 6 - minutes; m < now_min - 6; m++)
        redisAppendCommand(r, "HSET bz:win:{vol}:m:%lld n %d neg %d p %lld c %lld tok %d oov %d err 0", m,
                           per_minute, per_minute / 2, 500000LL * per_minute, 850000LL * per_minute,
                           14 * per_minute, per_minute);
    for (int i = 0; i < minutes; i++) {
        redisReply *rep;
        assert_int_equal(redisGetReply(r, (void **)&rep), REDIS_OK);
        assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
        freeReplyObject(rep);
    }
    redisFree(r);
}

/* Clearly negative tweet i about lost bags, with the hashtag #lostluggage and the
 * mention @AirParadis. */
static void burst_text(int i, char *buf, size_t len) {
    static const char *const texts[] = {
        "@AirParadis lost my bags at CDG, three days and still no news, awful #lostluggage",
        "Flight cancelled, hotline saturated, worst airline ever @AirParadis #lostluggage",
        "#lostluggage again, @AirParadis you are a disgrace, never flying with you again",
        "Still no suitcase and nobody answers, terrible service @AirParadis #lostluggage",
        "@AirParadis my bag is gone and your staff just shrug, I hate this #lostluggage",
    };
    snprintf(buf, len, "%s (%d)", texts[i % 5], i);
}

/* Log lines of `event` in a worker's log that also carry "type":"<type>". */
static int count_events(const char *log, const char *event, const char *type) {
    char *text = harness_read_file(log, NULL);
    char ev[64], ty[64];
    snprintf(ev, sizeof ev, "\"event\":\"%s\"", event);
    snprintf(ty, sizeof ty, "\"type\":\"%s\"", type);
    int n = 0;
    for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n"))
        n += strstr(line, ev) && strstr(line, ty);
    free(text);
    return n;
}

/* 1 when exactly one of the two workers logged raising `type` and the other logged
 * suppressing it (it fired there too, but was cooling down). */
static int raised_once_judged_twice(const char *log_a, const char *log_b, const char *type) {
    int ra = count_events(log_a, "alert_raised", type), rb = count_events(log_b, "alert_raised", type);
    return ra + rb == 1 && count_events(ra ? log_b : log_a, "alert_suppressed", type) > 0;
}

static void two_workers_raise_one_negative_surge(void **state) {
    WorkerFixture *f = *state;
    if (!f->model[0]) skip();
    enum { HISTORY = 120, PER_MINUTE = 40, QUIET = 60, BURST = 300 };
    assert_int_equal(harness_redis_flushall(&f->redis), 0);
    seed_history(f, HISTORY, PER_MINUTE);
    WorkerNames n;
    wf_names(f, "surge", &n);
    /* evaluate every second; the other rules that a one-sided burst also trips
     * (prediction_skew, vocabulary_drift, confidence_drop, length_shift) out of the way */
    const char *extra[] = {"--log-level", "debug",
                           "--monitor",   "eval_interval_ms=1000",
                           "--monitor",   "skew_min_count=1000000",
                           "--monitor",   "oov_min_tokens=1000000000",
                           "--monitor",   "quality_min_count=1000000",
                           NULL};
    char log_a[HARNESS_PATH_MAX], log_b[HARNESS_PATH_MAX];
    pid_t a = wf_worker_start(f, &n, "surge-a.log", extra, log_a, sizeof log_a);
    wf_wait_assigned(log_a, WF_PARTITIONS, 30000);
    pid_t b = wf_worker_start(f, &n, "surge-b.log", extra, log_b, sizeof log_b);
    wf_wait_assigned(log_b, WF_PARTITIONS / 2, 30000); /* the group split the partitions */
    wf_wait_assigned(log_a, WF_PARTITIONS / 2, 30000);
    int port_a = wf_http_port(log_a), port_b = wf_http_port(log_b);

    /* traffic at the usual share and below the usual rate: nothing fires */
    wf_produce_tweets(f, n.in, "q", 0, QUIET);
    wf_wait_count(f, n.out, QUIET, 30000, log_a);
    harness_sleep_ms(3000); /* three evaluations per worker */
    assert_int_equal(wf_topic_count(f, n.alerts), 0);

    /* the bad buzz, split across both workers' partitions */
    int64_t t0 = harness_now_ms();
    wf_produce_texts(f, n.in, "s", 0, BURST, burst_text);
    wf_wait_count(f, n.out, QUIET + BURST, 30000, log_a);
    wf_wait_count(f, n.alerts, 1, 15000, log_a);
    printf("negative_surge on the alerts topic %lld ms after the burst was produced\n",
           (long long)(harness_now_ms() - t0));
    HarnessMessages out = {0};
    wf_read_all(f, n.out, &out);
    int negative = 0, partitions[WF_PARTITIONS] = {0};
    for (size_t k = 0; k < out.n; k++) {
        if (out.items[k].key[0] != 's') continue;
        cJSON *e = wf_event(&out.items[k]);
        negative += !strcmp(cJSON_GetObjectItem(e, "label")->valuestring, "negative");
        partitions[out.items[k].partition]++;
        cJSON_Delete(e);
    }
    harness_messages_free(&out);
    if (negative < BURST * 8 / 10) fail_msg("only %d of %d burst tweets scored negative", negative, BURST);
    for (int p = 0; p < WF_PARTITIONS; p++)
        if (!partitions[p]) fail_msg("no burst tweet in partition %d: not split across both workers", p);
    assert_true(wf_metric(f, port_a, "buzzradar_scored_total") > 0);
    assert_true(wf_metric(f, port_b, "buzzradar_scored_total") > 0);

    /* both workers judged the surge: one raised it, the other found it cooling down */
    int64_t deadline = harness_now_ms() + 10000;
    while (!raised_once_judged_twice(log_a, log_b, "negative_surge")) {
        if (harness_now_ms() > deadline) {
            harness_print_tail("worker a log", log_a);
            harness_print_tail("worker b log", log_b);
            fail_msg("expected one worker to raise negative_surge and the other to suppress it");
        }
        harness_sleep_ms(100);
    }
    cJSON *alert;
    assert_int_equal(wf_alerts(f, n.alerts, NULL, NULL), 1);
    assert_int_equal(wf_alerts(f, n.alerts, "negative_surge", &alert), 1);
    assert_string_equal(cJSON_GetObjectItem(alert, "severity")->valuestring, "critical");
    assert_int_equal(cJSON_GetObjectItem(alert, "window_s")->valueint, 300);
    assert_true(cJSON_GetObjectItem(alert, "value")->valuedouble >
                cJSON_GetObjectItem(alert, "threshold")->valuedouble);
    const char *message = cJSON_GetObjectItem(alert, "message")->valuestring;
    if (!strstr(message, "#lostluggage") || !strstr(message, "@airparadis"))
        fail_msg("the alert does not name the burst's hashtag and mention: %s", message);
    const cJSON *examples = cJSON_GetObjectItem(alert, "examples");
    assert_true(cJSON_GetArraySize(examples) >= 1);
    for (int i = 0; i < cJSON_GetArraySize(examples); i++) {
        const char *id = cJSON_GetArrayItem(examples, i)->valuestring;
        if (id[0] != 's' || atoi(id + 1) >= BURST) fail_msg("example %s is not a burst tweet", id);
    }
    cJSON_Delete(alert);
    wf_worker_term(b, log_b);
    wf_worker_term(a, log_a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_workers_raise_one_negative_surge),
    };
    if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests_name("worker_alerts", tests, setup, teardown);
}
