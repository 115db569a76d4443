/* test_feedback.c — the feedback consumer's queue (worker/feedback_queue.h) and the
 * texts of corrections, against real redis-servers started by the harness, with
 * injected time:
 *   - Redis stopped: feedback is held, not handled, its partition's committable offset
 *     stays before it (a malformed message is still done at once), attempts back off
 *     (doubling, capped) and each call returns fast; Redis restarted at the same
 *     address: everything held is recorded, the burst alert fires, the offsets advance;
 *   - a revoked partition's held messages are dropped (read again), a rewind drops
 *     what comes again;
 *   - the decoder's reason codes;
 *   - a correction whose message had no text is exported with the text the pipeline
 *     stored with the prediction, in a CSV that the dataset loader and `train` read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/dataset.h"
#include "model/util.h"
#include "tests/harness/harness.h"
#include "worker/feedback.h"
#include "worker/feedback_queue.h"
#include "worker/monitor.h"
#include "worker/redis_store.h"

#define T0      1764028800000LL /* 2025-11-25T00:00:00Z */
#define VERSION "bilstm-test-1"

static HarnessRedis server; /* for the tests that do not stop theirs */

/* ---- fixtures ------------------------------------------------------------------------ */

typedef struct {
    int n;
    char json[8][2048];
} Alerts;

static void alert_sink(const Alert *a, const char *json, void *ctx) {
    (void)a;
    Alerts *s = ctx;
    if (s->n < 8) snprintf(s->json[s->n++], sizeof s->json[0], "%s", json);
}

static Monitor *open_monitor(const char *url, Alerts *sink) {
    MonitorConfig c;
    monitor_config_default(&c);
    c.url = url;
    c.model_version = VERSION;
    c.on_alert = alert_sink;
    c.on_alert_ctx = sink;
    c.conn.backoff_initial_ms = 20; /* the connection's own back-off: short, tests wait for it */
    c.conn.backoff_max_ms = 100;
    char err[256];
    Monitor *m = monitor_new(&c, err, sizeof err);
    if (!m) fail_msg("monitor_new: %s", err);
    return m;
}

static RedisStore *open_store(const char *url) {
    StoreOptions o;
    store_options_default(&o);
    o.url = url;
    o.model_version = VERSION;
    o.conn.backoff_initial_ms = 20;
    o.conn.backoff_max_ms = 100;
    char err[256];
    RedisStore *s = store_new(&o, err, sizeof err);
    if (!s) fail_msg("store_new: %s", err);
    return s;
}

static FeedbackQueue *open_queue(Monitor *m, RedisStore *s, int backoff_min, int backoff_max) {
    FeedbackQueueConfig c;
    feedback_queue_config_default(&c);
    c.backoff_min_ms = backoff_min;
    c.backoff_max_ms = backoff_max;
    char err[256];
    FeedbackQueue *q = feedback_queue_new(m, s, &c, err, sizeof err);
    if (!q) fail_msg("feedback_queue_new: %s", err);
    return q;
}

/* Predictions as the pipeline stores them: label from positive[i], text texts[i].
 * Returns store_put's result. */
static int put_predictions(RedisStore *s, const char *const *ids, const uint8_t *positive,
                           const char *const *texts, int n) {
    StoreRecord rec[16];
    for (int i = 0; i < n; i++)
        rec[i] = (StoreRecord){.id = ids[i],
                               .id_len = strlen(ids[i]),
                               .p_positive = positive[i] ? 0.9f : 0.1f,
                               .positive = positive[i],
                               .scored_at_ms = T0,
                               .text = texts ? texts[i] : NULL,
                               .text_len = texts && texts[i] ? strlen(texts[i]) : 0};
    return store_put(s, rec, n);
}

static int push(FeedbackQueue *q, int32_t partition, int64_t offset, const char *json) {
    const char *reason = NULL;
    int rc = feedback_queue_push(q, partition, offset, json, strlen(json), &reason);
    assert_true(rc == 0 || (rc == 1 && reason));
    return rc;
}

/* Collects the committable offsets into next[partition] (-1: not reported). */
static int collect(FeedbackQueue *q, int64_t *next, int np) {
    for (int p = 0; p < np; p++) next[p] = -1;
    OffsetCommit oc[16];
    int k = feedback_queue_collect(q, oc, 16);
    for (int i = 0; i < k; i++) {
        assert_true(oc[i].partition >= 0 && oc[i].partition < np);
        next[oc[i].partition] = oc[i].next;
    }
    return k;
}

static int group_setup(void **state) {
    (void)state;
    return harness_redis_start(&server);
}

static int group_teardown(void **state) {
    (void)state;
    return harness_redis_stop(&server);
}

static int flush_all(void **state) {
    (void)state;
    return harness_redis_flushall(&server);
}

/* ---- tests --------------------------------------------------------------------------- */

/* Redis stopped under a live queue: nothing is lost or committed past; Redis restarted
 * at the same address (a symbolic link to the new server's socket): all is recorded. */
static void redis_down_holds_feedback_then_records_it(void **state) {
    (void)state;
    HarnessRedis r1, r2;
    assert_int_equal(harness_redis_start(&r1), 0);
    char dir[HARNESS_PATH_MAX], link[HARNESS_PATH_MAX + 32], url[HARNESS_PATH_MAX + 48];
    assert_int_equal(harness_tmpdir_create("feedback-link", dir, sizeof dir), 0);
    snprintf(link, sizeof link, "%s/redis.sock", dir);
    snprintf(url, sizeof url, "unix://%s", link);
    assert_int_equal(symlink(r1.socket_path, link), 0);

    Alerts sink = {0};
    Monitor *m = open_monitor(url, &sink);
    RedisStore *s = open_store(url);
    FeedbackQueue *q = open_queue(m, s, 100, 800);
    const char *ids[] = {"601", "602", "603", "604"};
    const uint8_t said[] = {1, 1, 1, 0};
    const char *texts[] = {"lost my bag", "four hours late", "rude crew", "fine flight"};
    assert_int_equal(put_predictions(s, ids, said, texts, 4), STORE_OK);

    /* Redis works: the first message is recorded and its offset is committable. */
    assert_int_equal(push(q, 0, 0, "{\"id\":\"601\",\"label\":\"negative\"}"), 0);
    assert_int_equal(feedback_queue_run(q, T0), 1);
    int64_t next[2];
    assert_int_equal(collect(q, next, 2), 1);
    assert_int_equal(next[0], 1);

    assert_int_equal(harness_redis_stop(&r1), 0);
    assert_int_equal(push(q, 0, 1, "{\"id\":\"602\",\"label\":\"negative\"}"), 0);
    assert_int_equal(push(q, 1, 0, "{\"id\":\"x\",\"label\":\"maybe\"}"), 1); /* malformed: done */
    assert_int_equal(push(q, 1, 1, "{\"id\":\"603\",\"label\":0}"), 0);
    assert_int_equal(push(q, 0, 2, "{\"id\":\"604\",\"label\":\"negative\",\"text\":\"ok I guess\"}"), 0);
    assert_int_equal(push(q, 0, 3, "{\"id\":\"never-scored\",\"label\":\"positive\"}"), 0);
    assert_int_equal(feedback_queue_waiting(q), 4);

    /* Attempts fail fast and back off: 100, 200, 400, then 800 ms (the cap). */
    int64_t now = T0 + 1000;
    double worst = 0;
    const int64_t waits[] = {100, 200, 400, 800, 800};
    for (int i = 0; i < 5; i++) {
        double t0 = util_now_s();
        assert_int_equal(feedback_queue_run(q, now), MONITOR_UNAVAILABLE);
        double dt = util_now_s() - t0;
        if (dt > worst) worst = dt;
        assert_int_equal(feedback_queue_retry_at(q), now + waits[i]);
        /* before the back-off ends: no attempt at all */
        assert_int_equal(feedback_queue_run(q, now + waits[i] - 1), 0);
        now += waits[i];
    }
    assert_true(worst < 1.0);
    FeedbackQueueStats st;
    feedback_queue_stats(q, &st);
    assert_int_equal(st.attempts_failed, 5);
    assert_int_equal(st.waiting, 4);
    assert_int_equal(st.handled, 1);
    assert_int_equal(st.malformed, 1);
    assert_int_equal(st.received, 6);
    assert_int_equal(st.outcomes[FEEDBACK_UNAVAILABLE], 0);
    /* only partition 1 moved: past its dead-lettered message, not past 603 */
    assert_int_equal(collect(q, next, 2), 1);
    assert_int_equal(next[0], -1);
    assert_int_equal(next[1], 1);
    assert_int_equal(sink.n, 0);

    /* Redis back (empty: the pipeline wrote the predictions again meanwhile). */
    assert_int_equal(harness_redis_start(&r2), 0);
    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink(r2.socket_path, link), 0);
    int rc = STORE_UNAVAILABLE; /* the connections wait for their own back-off (<= 100 ms) */
    for (int i = 0; i < 100 && rc != STORE_OK; i++)
        if ((rc = put_predictions(s, ids, said, texts, 4)) != STORE_OK) harness_sleep_ms(30);
    assert_int_equal(rc, STORE_OK);
    rc = MONITOR_UNAVAILABLE;
    for (int i = 0; i < 100 && rc == MONITOR_UNAVAILABLE; i++) {
        now = feedback_queue_retry_at(q);
        rc = feedback_queue_run(q, now);
        if (rc == MONITOR_UNAVAILABLE) harness_sleep_ms(30);
    }
    assert_int_equal(rc, 4);
    assert_int_equal(feedback_queue_waiting(q), 0);
    assert_int_equal(feedback_queue_retry_at(q), 0); /* the back-off is reset */
    assert_int_equal(collect(q, next, 2), 2);
    assert_int_equal(next[0], 4);
    assert_int_equal(next[1], 2);
    feedback_queue_stats(q, &st);
    assert_int_equal(st.handled, 5);
    assert_int_equal(st.outcomes[FEEDBACK_MISCLASSIFIED], 3); /* 601 (on r1), 602, 603 */
    assert_int_equal(st.outcomes[FEEDBACK_CONFIRMED], 1);     /* 604 */
    assert_int_equal(st.outcomes[FEEDBACK_UNKNOWN], 1);       /* never-scored */

    /* recorded on the new server, with the texts: the message's own, else the scored one */
    redisContext *c = harness_redis_connect(&r2);
    assert_non_null(c);
    redisReply *t = redisCommand(c, "HGET bz:fb:602 text");
    assert_string_equal(t->str, "four hours late");
    freeReplyObject(t);
    t = redisCommand(c, "HGET bz:fb:604 text");
    assert_string_equal(t->str, "ok I guess");
    freeReplyObject(t);
    assert_int_equal(harness_redis_int(c, "ZCARD bz:fb:index"), 4);
    assert_int_equal(harness_redis_int(c, "ZCARD bz:win:{misclassified}"), 2);
    redisFree(c);

    /* a message arriving now is recorded at once */
    assert_int_equal(push(q, 1, 2, "{\"id\":\"601\",\"label\":\"negative\"}"), 0);
    assert_int_equal(feedback_queue_run(q, now + 1), 1);
    assert_int_equal(sink.n, 1); /* 601 is the third misclassification within 5 min */
    assert_non_null(strstr(sink.json[0], "misclassification_burst"));
    assert_int_equal(collect(q, next, 2), 1);
    assert_int_equal(next[1], 3);

    feedback_queue_free(q);
    store_free(s);
    monitor_free(m);
    assert_int_equal(harness_redis_stop(&r2), 0);
    harness_tmpdir_remove(dir);
}

/* Revoked partitions give up what they hold; a rewind drops what comes again. */
static void revoke_and_rewind_drop_held_messages(void **state) {
    (void)state;
    Alerts sink = {0};
    const char *url = "unix:///nonexistent/buzzradar/redis.sock"; /* never reachable */
    Monitor *m = open_monitor(url, &sink);
    RedisStore *s = open_store(url);
    FeedbackQueue *q = open_queue(m, s, 100, 5000);
    for (int off = 0; off < 3; off++) assert_int_equal(push(q, 0, off, "{\"id\":\"1\",\"label\":1}"), 0);
    assert_int_equal(push(q, 1, 7, "{\"id\":\"2\",\"label\":1}"), 0);
    assert_int_equal(feedback_queue_run(q, T0), MONITOR_UNAVAILABLE);
    assert_int_equal(feedback_queue_waiting(q), 4);

    feedback_queue_forget(q, 0);
    assert_int_equal(feedback_queue_waiting(q), 1);
    FeedbackQueueStats st;
    feedback_queue_stats(q, &st);
    assert_int_equal(st.dropped, 3);
    /* the partition comes back from its committed offset: taken again as new */
    assert_int_equal(push(q, 0, 0, "{\"id\":\"1\",\"label\":1}"), 0);
    assert_int_equal(feedback_queue_waiting(q), 2);

    /* partition 1 rewinds to 5: the held 7 will come again, so it goes */
    assert_int_equal(push(q, 1, 5, "{\"id\":\"3\",\"label\":0}"), 0);
    assert_int_equal(feedback_queue_waiting(q), 2);
    feedback_queue_stats(q, &st);
    assert_int_equal(st.dropped, 4);
    int64_t next[2];
    assert_int_equal(collect(q, next, 2), 0); /* nothing recorded: nothing committable */
    assert_int_equal(feedback_queue_push(q, -1, 0, "{}", 2, &(const char *){NULL}), -1);
    assert_true(feedback_queue_room(q) > 0);

    FeedbackQueueConfig bad;
    feedback_queue_config_default(&bad);
    bad.backoff_min_ms = 10000;
    char err[256];
    assert_null(feedback_queue_new(m, s, &bad, err, sizeof err));
    assert_non_null(strstr(err, "backoff"));
    feedback_queue_free(q);
    store_free(s);
    monitor_free(m);
}

static void decoder_reason_codes(void **state) {
    (void)state;
    struct {
        const char *json;
        const char *reason; /* NULL: valid */
        int positive;
        const char *text;
    } cases[] = {
        {"{\"id\":\"1\",\"label\":\"positive\"}", NULL, 1, NULL},
        {"{\"id\":\"1\",\"label\":\"negative\",\"text\":\"caf\\u00e9, \\\"ok\\\"\"}", NULL, 0,
         "caf\xc3\xa9, \"ok\""},
        {"{\"id\":\"1\",\"label\":1}", NULL, 1, NULL},
        {"{\"id\":\"1\",\"label\":0,\"text\":42}", NULL, 0, NULL},
        {"not json", "invalid_json", 0, NULL},
        {"[1,2]", "invalid_json", 0, NULL},
        {"{\"label\":\"positive\"}", "missing_id", 0, NULL},
        {"{\"id\":\"\",\"label\":\"positive\"}", "missing_id", 0, NULL},
        {"{\"id\":7,\"label\":\"positive\"}", "missing_id", 0, NULL},
        {"{\"id\":\"1\",\"label\":\"Positive\"}", "invalid_label", 0, NULL},
        {"{\"id\":\"1\",\"label\":2}", "invalid_label", 0, NULL},
        {"{\"id\":\"1\"}", "invalid_label", 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *doc = NULL;
        FeedbackItem it;
        const char *reason = NULL;
        int rc = feedback_queue_decode(cases[i].json, strlen(cases[i].json), &doc, &it, &reason);
        if (cases[i].reason) {
            assert_int_equal(rc, -1);
            assert_string_equal(reason, cases[i].reason);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(it.positive, cases[i].positive);
            assert_int_equal(it.id_len, 1);
            if (cases[i].text)
                assert_string_equal(it.text, cases[i].text);
            else
                assert_null(it.text);
        }
        cJSON_Delete(doc);
    }
}

/* A correction sent without its text is exported with the text the pipeline stored
 * with the prediction; the CSV is read by the dataset loader and by `train`. */
static void export_gives_the_scored_text(void **state) {
    (void)state;
    Alerts sink = {0};
    Monitor *m = open_monitor(server.url, &sink);
    RedisStore *s = open_store(server.url);
    const char *ids[] = {"701", "702", "703", "704", "705", "706"};
    const uint8_t said[] = {1, 0, 1, 0, 1, 0};
    const char *texts[] = {"Lost my bags, again. \"Thanks\" @AirParadis",
                           "Great crew\non the night flight",
                           "caf\xc3\xa9 au lait \xe2\x9c\x88 was fine",
                           "delayed three hours, no food, no info",
                           "smooth landing, lovely staff",
                           NULL}; /* scored by an older worker: no text kept */
    assert_int_equal(put_predictions(s, ids, said, texts, 6), STORE_OK);
    FeedbackQueue *q = open_queue(m, s, 100, 5000);
    const char *msgs[] = {"{\"id\":\"701\",\"label\":\"negative\"}",
                          "{\"id\":\"702\",\"label\":\"positive\"}",
                          "{\"id\":\"703\",\"label\":\"positive\"}",
                          "{\"id\":\"704\",\"label\":\"negative\",\"text\":\"the message's own text\"}",
                          "{\"id\":\"705\",\"label\":\"positive\"}",
                          "{\"id\":\"706\",\"label\":\"positive\"}"};
    for (int i = 0; i < 6; i++) assert_int_equal(push(q, 0, i, msgs[i]), 0);
    /* and enough more corrections for `train` to split them (ids sort after 70x) */
    enum { BULK = 34 };
    char bulk_id[BULK][8], bulk_text[BULK][64], json[BULK][64];
    for (int i = 0; i < BULK; i++) {
        snprintf(bulk_id[i], sizeof bulk_id[i], "8%02d", i);
        snprintf(bulk_text[i], sizeof bulk_text[i], "%s, flight %d",
                 i % 2 ? "wonderful crew and great seats" : "awful delay and lost luggage", i);
        const char *id = bulk_id[i], *text = bulk_text[i];
        const uint8_t label = (uint8_t)(i % 2);
        assert_int_equal(put_predictions(s, &id, &label, &text, 1), STORE_OK);
        snprintf(json[i], sizeof json[i], "{\"id\":\"%s\",\"label\":%d}", bulk_id[i], i % 2);
        assert_int_equal(push(q, 1, i, json[i]), 0);
    }
    int64_t now = util_wall_ms();
    assert_int_equal(feedback_queue_run(q, now - 1000), 6 + BULK);

    char dir[HARNESS_PATH_MAX], path[HARNESS_PATH_MAX + 16], err[256];
    assert_int_equal(harness_tmpdir_create("fbtext", dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/fb.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    FeedbackExportStats st;
    assert_int_equal(feedback_export(m, now, 0, 0, f, &st), MONITOR_OK);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(st.rows, 5 + BULK);
    assert_int_equal(st.without_text, 1); /* 706 only */

    DatasetOptions o = dataset_options_default();
    o.quiet = 1;
    o.on_bad = DATA_BAD_STOP;
    Dataset d;
    assert_int_equal(dataset_load(path, &o, &d, err, sizeof err), 0);
    assert_int_equal(d.n, 5 + BULK);
    const char *want[] = {texts[0], texts[1], texts[2], "the message's own text", texts[4]};
    const int want_label[] = {0, 1, 1, 0, 1};
    for (int i = 0; i < 5; i++) { /* one millisecond: in id order */
        assert_string_equal(dataset_text(&d, i), want[i]);
        assert_int_equal(d.label[i], want_label[i]);
    }
    for (int i = 0; i < BULK; i++) assert_string_equal(dataset_text(&d, 5 + i), bulk_text[i]);
    dataset_free(&d);

    /* `train` takes the export as it is (a small set: larger validation and test parts) */
    char model[HARNESS_PATH_MAX + 16], log[HARNESS_PATH_MAX + 16];
    snprintf(model, sizeof model, "%s/fb.model", dir);
    snprintf(log, sizeof log, "%s/train.log", dir);
    const char *bin = getenv("BUZZRADAR_BIN");
    if (!bin) bin = "build/buzzradar";
    const char *argv[] = {bin,   "train",       "--data", path,    "--model", "tfidf-lr", "--val-frac",
                          "0.2", "--test-frac", "0.2",    "--out", model,     NULL};
    HarnessSpawnOptions so = {.stderr_path = log, .stdout_path = "/dev/null"};
    pid_t pid = harness_spawn(argv, &so);
    assert_true(pid > 0);
    int status;
    assert_int_equal(harness_wait(pid, 60000, &status), 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) harness_print_tail("train", log);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(access(model, R_OK), 0);

    harness_tmpdir_remove(dir);
    feedback_queue_free(q);
    store_free(s);
    monitor_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(redis_down_holds_feedback_then_records_it),
        cmocka_unit_test(revoke_and_rewind_drop_held_messages),
        cmocka_unit_test(decoder_reason_codes),
        cmocka_unit_test_setup(export_gives_the_scored_text, flush_all),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
