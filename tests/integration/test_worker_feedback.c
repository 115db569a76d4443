/* test_worker_feedback.c — the feedback loop of `buzzradar run` through a Redis outage,
 * as a process against the project's broker and real redis-servers reached through a
 * symbolic link (so a new server takes the old one's address):
 *   - the pipeline stores each tweet's raw text with its prediction (bz:pred);
 *   - Redis stopped: feedback is held, not committed past (a malformed message is still
 *     dead-lettered and passed), retries are counted on /metrics;
 *   - Redis back: the held feedback is recorded (with the scored text, the messages had
 *     none), misclassification_burst fires, the offsets are committed;
 *   - Redis stopped again: SIGTERM still exits promptly and cleanly, leaving the held
 *     message uncommitted; the next worker reads it again and records it. */
#include "tests/integration/worker_fixture.h"

static int setup(void **state) { return wf_setup(state, 1); }
static int teardown(void **state) { return wf_teardown(state); }

/* A redis-server behind DIR/redis.sock, a link that can be pointed at a new server. */
typedef struct {
    HarnessRedis server;
    char dir[HARNESS_PATH_MAX];
    char link[HARNESS_PATH_MAX + 32];
    char url[HARNESS_PATH_MAX + 48];
} LinkedRedis;

static void linked_start(LinkedRedis *r) {
    if (!r->dir[0]) {
        assert_int_equal(harness_tmpdir_create("wfb-link", r->dir, sizeof r->dir), 0);
        snprintf(r->link, sizeof r->link, "%s/redis.sock", r->dir);
        snprintf(r->url, sizeof r->url, "unix://%s", r->link);
    }
    assert_int_equal(harness_redis_start(&r->server), 0);
}

/* Points the link at the server started last. */
static void linked_point(LinkedRedis *r) {
    unlink(r->link);
    assert_int_equal(symlink(r->server.socket_path, r->link), 0);
}

static redisContext *linked_connect(LinkedRedis *r) {
    redisContext *c = harness_redis_connect(&r->server);
    assert_non_null(c);
    return c;
}

/* Waits until the feedback group's committed offsets equal want[0..WF_PARTITIONS)
 * (-1: none committed). */
static void wait_committed(WorkerFixture *f, const char *group, const char *topic, const int64_t *want,
                           int timeout_ms) {
    int64_t got[WF_PARTITIONS], deadline = harness_now_ms() + timeout_ms;
    for (;;) {
        wf_committed(f, group, topic, got);
        if (!memcmp(got, want, sizeof got)) return;
        if (harness_now_ms() > deadline)
            fail_msg("committed %lld %lld %lld %lld, want %lld %lld %lld %lld", (long long)got[0],
                     (long long)got[1], (long long)got[2], (long long)got[3], (long long)want[0],
                     (long long)want[1], (long long)want[2], (long long)want[3]);
        harness_sleep_ms(100);
    }
}

/* Produces feedback pinned to partitions. */
static void produce_feedback(WorkerFixture *f, const char *topic, const char *const *values,
                             const int32_t *partitions, int n) {
    HarnessRecord recs[8];
    for (int i = 0; i < n; i++)
        recs[i] =
            (HarnessRecord){.key = "fb", .value = values[i], .pinned = true, .partition = partitions[i]};
    char err[256];
    if (harness_kafka_produce(f->broker.bootstrap, topic, recs, (size_t)n, NULL, 30000, err, sizeof err))
        fail_msg("produce feedback: %s", err);
}

/* Alerts of one type on the alerts topic now (monitor_unavailable comes and goes with
 * the outages). */
static int count_alerts(WorkerFixture *f, const char *topic, const char *type) {
    if (wf_topic_count(f, topic) == 0) return 0;
    HarnessMessages m = {0};
    wf_read_all(f, topic, &m);
    int k = 0;
    for (size_t i = 0; i < m.n; i++) k += m.items[i].key && !strcmp(m.items[i].key, type);
    harness_messages_free(&m);
    return k;
}

/* HGET as a malloc'ed string (NULL when absent). */
static char *hget(redisContext *c, const char *key, const char *field) {
    redisReply *r = redisCommand(c, "HGET %s %s", key, field);
    assert_non_null(r);
    char *v = r->type == REDIS_REPLY_STRING ? strdup(r->str) : NULL;
    freeReplyObject(r);
    return v;
}

static void feedback_survives_redis_outages_and_a_restart(void **state) {
    WorkerFixture *f = *state;
    if (!f->model[0]) skip();
    enum { N = 8 };
    WorkerNames n;
    wf_names(f, "wfb", &n);
    char fbgroup[WF_NAME + 16];
    snprintf(fbgroup, sizeof fbgroup, "%s.feedback", n.group);
    LinkedRedis r = {0};
    linked_start(&r);
    linked_point(&r);
    const char *extra[] = {"--redis", r.url, NULL};

    wf_produce_tweets(f, n.in, "f", 0, N);
    char log[HARNESS_PATH_MAX];
    pid_t w = wf_worker_start(f, &n, "wfb1.log", extra, log, sizeof log);
    int port = wf_http_port(log);
    wf_wait_count(f, n.out, N, 60000, log);

    /* bz:pred holds the raw text beside the label */
    char label[N][16], text[N][160], key[N][32];
    redisContext *c = linked_connect(&r);
    for (int i = 0; i < N; i++) {
        snprintf(key[i], sizeof key[i], "bz:pred:f%d", i);
        wf_tweet_text(i, text[i], sizeof text[i]);
        char *l = hget(c, key[i], "label"), *t = hget(c, key[i], "text");
        if (!l || !t) fail_msg("%s: label %s, text %s", key[i], l ? l : "(none)", t ? t : "(none)");
        assert_string_equal(t, text[i]);
        snprintf(label[i], sizeof label[i], "%s", l);
        free(l);
        free(t);
    }
    redisFree(c);

    /* Redis stops; three corrections contradicting the model, two malformed messages:
     * p0 = [f0, bad], p1 = [bad, f1], p2 = [f2] */
    assert_int_equal(harness_redis_stop(&r.server), 0);
    char v[3][128];
    for (int i = 0; i < 3; i++)
        snprintf(v[i], sizeof v[i], "{\"id\":\"f%d\",\"label\":\"%s\"}", i,
                 strcmp(label[i], "positive") ? "positive" : "negative");
    const char *values[] = {v[0], "{\"id\":\"f0\"}", "not json", v[1], v[2]};
    const int32_t parts[] = {0, 0, 1, 1, 2};
    produce_feedback(f, n.feedback, values, parts, 5);
    wf_wait_log(log, "\"event\":\"feedback_deferred\"", 1, 30000);
    wf_wait_count(f, n.dlq, 2, 30000, log); /* malformed feedback is dead-lettered all the same */
    /* only p1 passes its dead letter; nothing passes a held correction */
    const int64_t held[WF_PARTITIONS] = {-1, 1, -1, -1};
    wait_committed(f, fbgroup, n.feedback, held, 15000);
    harness_sleep_ms(1000); /* five auto-commit intervals and some retries later: still there */
    int64_t got[WF_PARTITIONS];
    wf_committed(f, fbgroup, n.feedback, got);
    assert_memory_equal(got, held, sizeof got);
    assert_true(wf_metric(f, port, "buzzradar_feedback_retries_total") >= 1);
    assert_true(wf_metric(f, port, "buzzradar_feedback_waiting") == 3);
    assert_int_equal(count_alerts(f, n.alerts, "misclassification_burst"), 0);

    /* Redis back, empty but for the predictions (the pipeline writes them again) */
    linked_start(&r);
    c = linked_connect(&r);
    for (int i = 0; i < N; i++) {
        redisReply *rep =
            redisCommand(c, "HSET %s label %s p_positive 0.5 model_version v scored_at x text %s", key[i],
                         label[i], text[i]);
        assert_non_null(rep);
        freeReplyObject(rep);
    }
    linked_point(&r);
    wf_wait_log(log, "\"event\":\"feedback_resumed\"", 1, 30000);
    const int64_t all[WF_PARTITIONS] = {2, 2, 1, -1};
    wait_committed(f, fbgroup, n.feedback, all, 15000);
    int64_t deadline = harness_now_ms() + 30000;
    while (count_alerts(f, n.alerts, "misclassification_burst") == 0 && harness_now_ms() < deadline)
        harness_sleep_ms(200);
    assert_int_equal(count_alerts(f, n.alerts, "misclassification_burst"), 1);
    for (int i = 0; i < 3; i++) { /* kept for retraining with the scored text */
        char fbkey[32];
        snprintf(fbkey, sizeof fbkey, "bz:fb:f%d", i);
        char *t = hget(c, fbkey, "text");
        assert_non_null(t);
        assert_string_equal(t, text[i]);
        free(t);
    }
    assert_true(wf_metric(f, port, "buzzradar_feedback_waiting") == 0);
    assert_true(wf_metric(f, port, "buzzradar_feedback_total") == 3);

    /* Redis stops again with a correction in flight: SIGTERM exits promptly, uncommitted */
    assert_int_equal(harness_redis_stop(&r.server), 0);
    redisFree(c);
    snprintf(v[0], sizeof v[0], "{\"id\":\"f3\",\"label\":\"%s\"}", label[3]);
    const char *late[] = {v[0]};
    const int32_t late_part[] = {3};
    produce_feedback(f, n.feedback, late, late_part, 1);
    wf_wait_log(log, "\"event\":\"feedback_deferred\"", 2, 30000);
    int64_t t0 = harness_now_ms();
    wf_worker_term(w, log);
    int64_t took = harness_now_ms() - t0;
    if (took > 10000) fail_msg("the worker took %lld ms to stop with Redis down", (long long)took);
    wf_committed(f, fbgroup, n.feedback, got);
    assert_memory_equal(got, all, sizeof got);

    /* the next worker, Redis back: the held correction is read again and recorded */
    linked_start(&r);
    linked_point(&r);
    char log2[HARNESS_PATH_MAX];
    w = wf_worker_start(f, &n, "wfb2.log", extra, log2, sizeof log2);
    const int64_t last[WF_PARTITIONS] = {2, 2, 1, 1};
    wait_committed(f, fbgroup, n.feedback, last, 60000);
    c = linked_connect(&r);
    char *l = hget(c, "bz:fb:f3", "label");
    assert_non_null(l);
    assert_string_equal(l, strcmp(label[3], "positive") ? "0" : "1");
    free(l);
    redisFree(c);
    wf_worker_term(w, log2);
    assert_int_equal(harness_redis_stop(&r.server), 0);
    harness_tmpdir_remove(r.dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(feedback_survives_redis_outages_and_a_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
