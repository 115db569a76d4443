/* test_worker_http.c — `buzzradar run` with its HTTP server, metrics, monitor and
 * feedback consumer wired in, as a process against the project's broker and a real
 * redis-server: the server binds a kernel-chosen port and logs it; /health, /ready and
 * /metrics answer (buzzradar_scored_total counts every tweet produced); POST /predict
 * gives what `buzzradar predict` gives; feedback contradicting three scored labels
 * raises misclassification_burst on the alerts topic; malformed feedback is
 * dead-lettered with its reason (and counted by it); POST /predict is counted in
 * Redis by the shared rate limiter, whose budget --http-rate-limit sets; POST /feedback
 * reaches the feedback consumer; `--http off` runs without a server. */
#include <math.h>
#include <time.h>

#include "tests/integration/worker_fixture.h"

static int setup(void **state) { return wf_setup(state, 1); }
static int teardown(void **state) { return wf_teardown(state); }

/* wf_http_call with this file's body name. */
static void http_call(WorkerFixture *f, int port, const char *path, const char *data, WfReply *r) {
    wf_http_call(f, port, path, data, "http.body", r);
}

static void serves_health_metrics_predict_and_raises_misclassification_burst(void **state) {
    WorkerFixture *f = *state;
    if (!f->model[0]) skip();
    enum { N = 40 };
    WorkerNames n;
    wf_names(f, "http", &n);
    wf_produce_tweets(f, n.in, "h", 0, N);
    char log[HARNESS_PATH_MAX];
    pid_t w = wf_worker_start(f, &n, "http.log", NULL, log, sizeof log);
    int port = wf_http_port(log);
    wf_wait_count(f, n.out, N, 60000, log);

    WfReply r;
    http_call(f, port, "/health", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"ok\""));
    free(r.body);

    int64_t deadline = harness_now_ms() + 20000;
    for (;;) { /* ready once partitions are assigned: they are, tweets were scored */
        http_call(f, port, "/ready", NULL, &r);
        int ok = r.status == 200 && strstr(r.body, "\"ready\":true") && strstr(r.body, "\"redis\":\"up\"");
        if (!ok && harness_now_ms() > deadline) fail_msg("/ready: %d %s", r.status, r.body);
        free(r.body);
        if (ok) break;
        harness_sleep_ms(100);
    }

    deadline = harness_now_ms() + 10000;
    for (;;) { /* the consumed counter follows within a tick of the services thread */
        http_call(f, port, "/metrics", NULL, &r);
        assert_int_equal(r.status, 200);
        double scored = wf_metric_sum(r.body, "buzzradar_scored_total");
        double consumed = wf_metric_sum(r.body, "buzzradar_consumed_total");
        int ok = scored == N && consumed == N && wf_metric_sum(r.body, "buzzradar_batch_size_count") >= 1 &&
                 wf_metric_sum(r.body, "buzzradar_inference_seconds_count") >= 1 &&
                 strstr(r.body, "buzzradar_model_info{");
        if (!ok && harness_now_ms() > deadline)
            fail_msg("/metrics: scored %g consumed %g\n%s", scored, consumed, r.body);
        free(r.body);
        if (ok) break;
        harness_sleep_ms(100);
    }

    /* POST /predict equals `buzzradar predict` */
    static char texts[3][160];
    double want[3];
    for (int i = 0; i < 3; i++) wf_tweet_text(i, texts[i], sizeof texts[i]);
    wf_predict_texts(f, texts, 3, want);
    char body[1024];
    snprintf(body, sizeof body, "{\"texts\":[\"%s\",\"%s\",\"%s\"]}", texts[0], texts[1], texts[2]);
    http_call(f, port, "/predict", body, &r);
    assert_int_equal(r.status, 200);
    cJSON *o = cJSON_Parse(r.body);
    assert_non_null(o);
    cJSON *preds = cJSON_GetObjectItem(o, "predictions");
    assert_int_equal(cJSON_GetArraySize(preds), 3);
    for (int i = 0; i < 3; i++) {
        cJSON *pi = cJSON_GetArrayItem(preds, i);
        double p = cJSON_GetObjectItem(pi, "p_positive")->valuedouble;
        if (fabs(p - want[i]) > 1e-9) fail_msg("text %d: /predict %.6f, predict %.6f", i, p, want[i]);
        assert_string_equal(cJSON_GetObjectItem(pi, "label")->valuestring,
                            p >= 0.5 ? "positive" : "negative");
    }
    cJSON_Delete(o);
    free(r.body);
    /* ... and was counted by the rate limiter in Redis (bz:rate:<ip>:<minute>) */
    redisContext *rc = harness_redis_connect(&f->redis);
    assert_non_null(rc);
    redisReply *keys = redisCommand(rc, "KEYS bz:rate:127.0.0.1:*");
    assert_true(keys && keys->type == REDIS_REPLY_ARRAY && keys->elements == 1);
    redisReply *count = redisCommand(rc, "GET %s", keys->element[0]->str);
    assert_true(count && count->type == REDIS_REPLY_STRING && atoi(count->str) >= 1);
    freeReplyObject(count);
    freeReplyObject(keys);
    redisFree(rc);

    /* three corrections contradicting the scored labels, and one malformed message */
    HarnessMessages msgs = {0};
    wf_read_all(f, n.out, &msgs);
    assert_true(msgs.n >= 4);
    HarnessRecord recs[4];
    char values[4][256];
    for (int i = 0; i < 3; i++) {
        cJSON *e = wf_event(&msgs.items[i]);
        const char *label = cJSON_GetObjectItem(e, "label")->valuestring;
        snprintf(values[i], sizeof values[i], "{\"id\":\"%s\",\"label\":\"%s\"}",
                 cJSON_GetObjectItem(e, "id")->valuestring,
                 strcmp(label, "positive") ? "positive" : "negative");
        recs[i] = (HarnessRecord){.key = msgs.items[i].key, .value = values[i]};
        cJSON_Delete(e);
    }
    snprintf(values[3], sizeof values[3], "{\"id\":\"h1\",\"label\":\"maybe\"}");
    recs[3] = (HarnessRecord){.key = "h1", .value = values[3]};
    char err[256];
    if (harness_kafka_produce(f->broker.bootstrap, n.feedback, recs, 4, NULL, 30000, err, sizeof err))
        fail_msg("produce feedback: %s", err);
    char fb[256]; /* and one more through POST /feedback, which produces to the feedback topic */
    snprintf(fb, sizeof fb, "{\"id\":\"%s\",\"label\":\"positive\"}", msgs.items[3].key);
    harness_messages_free(&msgs);
    http_call(f, port, "/feedback", fb, &r);
    assert_int_equal(r.status, 202);
    free(r.body);

    wf_wait_count(f, n.alerts, 1, 30000, log);
    HarnessMessages alerts = {0};
    wf_read_all(f, n.alerts, &alerts);
    int burst = 0;
    for (size_t k = 0; k < alerts.n; k++)
        if (alerts.items[k].key && !strcmp(alerts.items[k].key, "misclassification_burst")) {
            cJSON *a = cJSON_Parse(alerts.items[k].value);
            assert_non_null(a);
            assert_string_equal(cJSON_GetObjectItem(a, "type")->valuestring, "misclassification_burst");
            cJSON_Delete(a);
            burst++;
        }
    assert_int_equal(burst, 1);
    harness_messages_free(&alerts);

    wf_wait_count(f, n.dlq, 1, 30000, log);
    HarnessMessages dl = {0};
    wf_read_all(f, n.dlq, &dl);
    assert_int_equal(dl.n, 1);
    assert_string_equal(dl.items[0].value, values[3]);
    assert_string_equal(harness_message_header(&dl.items[0], "error"), "invalid_label");
    harness_messages_free(&dl);

    deadline = harness_now_ms() + 10000;
    for (;;) { /* the 3 corrections and the one from POST /feedback were all counted */
        http_call(f, port, "/metrics", NULL, &r);
        double alerts_total = wf_metric_sum(r.body, "buzzradar_alerts_total");
        double feedback = wf_metric_sum(r.body, "buzzradar_feedback_total");
        int ok = alerts_total >= 1 && feedback == 4 &&
                 strstr(r.body, "buzzradar_dead_letters_total{reason=\"invalid_label\"} 1\n");
        if (!ok && harness_now_ms() > deadline)
            fail_msg("/metrics: alerts %g feedback %g", alerts_total, feedback);
        free(r.body);
        if (ok) break;
        harness_sleep_ms(100);
    }
    wf_worker_term(w, log);
}

static void http_off_disables_the_server(void **state) {
    WorkerFixture *f = *state;
    if (!f->model[0]) skip();
    WorkerNames n;
    wf_names(f, "nohttp", &n);
    wf_produce_tweets(f, n.in, "o", 0, 5);
    char log[HARNESS_PATH_MAX];
    const char *extra[] = {"--http", "off", NULL};
    pid_t w = wf_worker_start(f, &n, "nohttp.log", extra, log, sizeof log);
    wf_wait_count(f, n.out, 5, 60000, log);
    wf_worker_term(w, log);
    assert_int_equal(wf_count_in_file(log, "\"event\":\"http_listening\""), 0);
}

/* --http-rate-limit sets the per-IP budget of /predict: with 3, the fourth request of
 * a minute gets 429 with Retry-After. Redis is flushed first (the other test's requests
 * count against the same key); a minute that rolls over mid-way is tried again. */
static void http_rate_limit_flag_sets_the_budget(void **state) {
    WorkerFixture *f = *state;
    if (!f->model[0]) skip();
    WorkerNames n;
    wf_names(f, "ratelimit", &n);
    char log[HARNESS_PATH_MAX];
    const char *extra[] = {"--http-rate-limit", "3", NULL};
    pid_t w = wf_worker_start(f, &n, "ratelimit.log", extra, log, sizeof log);
    int port = wf_http_port(log);
    const char *body = "{\"texts\":[\"the crew was lovely\"]}";
    int codes[4] = {0};
    for (int attempt = 0; attempt < 2; attempt++) {
        assert_int_equal(harness_redis_flushall(&f->redis), 0);
        time_t minute = time(NULL) / 60;
        for (int i = 0; i < 4; i++) {
            WfReply r;
            http_call(f, port, "/predict", body, &r);
            codes[i] = r.status;
            if (i == 3 && r.status == 429)
                assert_non_null(strstr(r.body, "rate limit of 3 requests per minute"));
            free(r.body);
        }
        if (time(NULL) / 60 == minute) break;
    }
    for (int i = 0; i < 3; i++) assert_int_equal(codes[i], 200);
    assert_int_equal(codes[3], 429);
    wf_worker_term(w, log);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serves_health_metrics_predict_and_raises_misclassification_burst),
        cmocka_unit_test(http_off_disables_the_server),
        cmocka_unit_test(http_rate_limit_flag_sets_the_budget),
    };
    return cmocka_run_group_tests_name("worker_http", tests, setup, teardown);
}
