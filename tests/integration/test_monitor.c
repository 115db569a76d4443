/* test_monitor.c — the monitor against a real redis-server (started by the harness),
 * with injected time: a normal day of synthetic traffic raises nothing; every alert
 * fires when it should; two monitors sharing one Redis raise an alert once; feedback
 * replays count once; Redis stopped -> monitor_unavailable and fast calls, Redis back
 * -> monitoring resumes (scripts reloaded, NOSCRIPT answered with EVAL); one round
 * trip per batch; keys carry TTLs and the configured prefix; corrections exported as a
 * CSV that dataset_load reads back; `buzzradar report` and `feedback export`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "model/dataset.h"
#include "model/util.h"
#include "tests/harness/harness.h"
#include "tests/integration/alert_sink.h"
#include "worker/feedback.h"
#include "worker/monitor.h"
#include "worker/redis_store.h"

#define T0      1764028800000LL /* 2025-11-25T00:00:00Z */
#define MINUTE  60000LL
#define HOUR    3600000LL
#define VERSION "bilstm-test-1"

static HarnessRedis server;

/* ---- fixtures ------------------------------------------------------------------------- */

static redisContext *raw(void) {
    redisContext *c = harness_redis_connect(&server);
    if (!c) fail_msg("cannot connect to the test redis-server");
    return c;
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

static Monitor *open_monitor(const char *url, Sink *sink, MonitorConfig *override) {
    MonitorConfig c;
    if (override)
        c = *override;
    else
        monitor_config_default(&c);
    c.url = url;
    c.model_version = VERSION;
    c.eval_interval_ms = override ? override->eval_interval_ms : MINUTE;
    c.on_alert = sink_fn;
    c.on_alert_ctx = sink;
    c.conn.backoff_initial_ms = 20; /* tests wait for retries: keep them short */
    c.conn.backoff_max_ms = 100;
    c.conn.command_timeout_ms = 2000; /* a loaded CI machine is not an outage: outages */
    c.conn.connect_timeout_ms = 2000; /* here are stopped servers, refused at once */
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
    o.conn.command_timeout_ms = o.conn.connect_timeout_ms = 2000; /* as in open_monitor */
    char err[256];
    RedisStore *s = store_new(&o, err, sizeof err);
    if (!s) fail_msg("store_new: %s", err);
    return s;
}

/* ---- synthetic traffic ---------------------------------------------------------------- */

typedef struct {
    double rate;          /* tweets per minute */
    double share;         /* negative share */
    double confidence;    /* mean confidence */
    double tokens;        /* tokens per tweet */
    double oov;           /* unknown token share */
    double latency;       /* ms */
    double failed;        /* share of messages dead-lettered */
    const char *neg_text; /* NULL: everyday complaints */
    const char *id_prefix;
} Traffic;

static Traffic normal_traffic(void) {
    return (Traffic){.rate = 100,
                     .share = 0.30,
                     .confidence = 0.85,
                     .tokens = 14,
                     .oov = 0.03,
                     .latency = 15,
                     .failed = 0.002,
                     .id_prefix = "n"};
}

static const char *const complaints[] = {
    "flight delayed an hour at the gate",
    "the seat was broken and nobody cared",
    "cold food again on the morning flight",
    "long queue at check-in today",
    "wifi on board does not work",
    "boarding was chaotic as usual",
    "the app crashed while I was checking in",
    "my connection was tight and stressful",
};

enum { BATCH_MAX = 4096 };
static char ids[BATCH_MAX][48];
static MonitorTweet negs[BATCH_MAX];
static float lat[BATCH_MAX];

/* Plays traffic on the monitors (batches every step_ms, spread round-robin) from t0 to
 * t1. Each batch's counts are random around the traffic's means. */
static void play(Monitor **ms, int nm, Rng *rng, int64_t t0, int64_t t1, int64_t step_ms, const Traffic *tr) {
    static long long serial;
    int turn = 0;
    for (int64_t t = t0; t < t1; t += step_ms) {
        double mean = tr->rate * (double)step_ms / 60000.0;
        long n = lround(mean + sqrt(mean) * rng_normal(rng));
        if (n < 0) n = 0;
        if (n > BATCH_MAX) n = BATCH_MAX;
        MonitorBatch b = {0};
        b.n = n;
        int nn = 0;
        for (long i = 0; i < n; i++) {
            int neg = rng_uniform(rng) < tr->share;
            float p = neg ? 0.02f + 0.4f * rng_uniform(rng) : 0.6f + 0.38f * rng_uniform(rng);
            b.sum_p_positive += p;
            b.sum_confidence += tr->confidence + 0.05 * rng_normal(rng);
            int tok = (int)lround(tr->tokens + 3 * rng_normal(rng));
            if (tok < 1) tok = 1;
            b.n_tokens += tok;
            for (int k = 0; k < tok; k++) b.n_oov += rng_uniform(rng) < tr->oov;
            lat[i] = (float)(tr->latency * (0.8 + 0.4 * rng_uniform(rng)));
            if (neg) {
                snprintf(ids[nn], sizeof ids[nn], "%s-%lld", tr->id_prefix, serial++);
                const char *text = tr->neg_text ? tr->neg_text : complaints[rng_below(rng, 8)];
                negs[nn] = (MonitorTweet){ids[nn], strlen(ids[nn]), text, strlen(text), p};
                nn++;
            }
        }
        b.n_negative = nn;
        b.negatives = negs;
        b.n_negatives = nn;
        b.latency_ms = lat;
        b.n_latency = (int)n;
        double fails = tr->failed * (double)n / (1 - tr->failed);
        b.n_failed = (int64_t)fails + (rng_uniform(rng) < fails - floor(fails));
        Monitor *m = ms[turn++ % nm];
        assert_int_not_equal(monitor_observe_batch(m, t, &b), MONITOR_UNAVAILABLE);
    }
}

/* ---- tests ---------------------------------------------------------------------------- */

/* A day whose volume (15..105 tweets a minute) and negative share (47%..63%) follow the
 * clock raises nothing; a bad buzz at its end is caught. */
static void normal_day_raises_nothing(void **state) {
    (void)state;
    Sink sink = {0};
    Monitor *m = open_monitor(server.url, &sink, NULL);
    Rng rng;
    rng_seed(&rng, 2025);
    Traffic tr = normal_traffic();
    for (int64_t t = T0 - 3 * HOUR; t < T0 + 24 * HOUR; t += 5 * MINUTE) {
        double phase = 2 * M_PI * (double)(t - T0) / (24.0 * HOUR);
        tr.rate = 60 + 45 * sin(phase);
        tr.share = 0.55 + 0.08 * sin(phase + 1.0);
        play(&m, 1, &rng, t, t + 5 * MINUTE, 10000, &tr);
        if (sink.n) {
            sink_print(&sink);
            fail_msg("alert raised on normal traffic at %+.1f h", (double)(t - T0) / HOUR);
        }
    }
    AlertBaseline hour, day;
    monitor_baselines(m, &hour, &day);
    assert_true(day.minutes > 24 * 60);
    assert_true(fabs(alert_baseline_share(&day) - 0.55) < 0.05);
    assert_true(fabs(alert_baseline_confidence(&day) - 0.85) < 0.01);
    MonitorStats st;
    monitor_stats(m, &st);
    assert_true(st.evaluations >= 27 * 60 - 5);
    assert_int_equal(st.batches_dropped, 0);

    /* the detector is alive: a bad buzz at the end of that day pages */
    int64_t t = T0 + 24 * HOUR;
    tr.rate = 100;
    tr.share = 0.9;
    tr.neg_text = "@AirParadis lost my bags AGAIN #LostLuggage";
    tr.id_prefix = "buzz";
    play(&m, 1, &rng, t, t + 6 * MINUTE, 10000, &tr);
    assert_int_equal(sink_count(&sink, ALERT_NEGATIVE_SURGE), 1);
    sink_clear(&sink);
    monitor_free(m);
}

/* Checks a negative_surge alert's JSON: critical, the buzz's terms, example ids. */
static void check_surge_json(const char *json) {
    cJSON *o = cJSON_Parse(json);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "negative_surge");
    assert_string_equal(cJSON_GetObjectItem(o, "severity")->valuestring, "critical");
    assert_string_equal(cJSON_GetObjectItem(o, "model_version")->valuestring, VERSION);
    assert_true(cJSON_GetObjectItem(o, "window_s")->valuedouble == 300);
    double value = cJSON_GetObjectItem(o, "value")->valuedouble;
    assert_true(value > 0.5 && value >= cJSON_GetObjectItem(o, "threshold")->valuedouble);
    const char *msg = cJSON_GetObjectItem(o, "message")->valuestring;
    assert_non_null(strstr(msg, "hashtags #lostluggage ("));
    assert_non_null(strstr(msg, "mentions @airparadis ("));
    assert_non_null(strstr(msg, "words "));
    assert_non_null(strstr(msg, "bags"));
    cJSON *ex = cJSON_GetObjectItem(o, "examples");
    assert_true(cJSON_GetArraySize(ex) >= 3);
    for (int i = 0; i < cJSON_GetArraySize(ex); i++)
        assert_memory_equal(cJSON_GetArrayItem(ex, i)->valuestring, "buzz-", 5);
    cJSON_Delete(o);
}

static void negative_surge_fires_with_terms(void **state) {
    (void)state;
    Sink sink = {0};
    Monitor *m = open_monitor(server.url, &sink, NULL);
    Rng rng;
    rng_seed(&rng, 7);
    Traffic tr = normal_traffic();
    play(&m, 1, &rng, T0, T0 + 2 * HOUR, 10000, &tr);
    /* a mild rise (30% -> 38%) for 10 minutes: not a bad buzz */
    tr.share = 0.38;
    play(&m, 1, &rng, T0 + 2 * HOUR, T0 + 2 * HOUR + 10 * MINUTE, 10000, &tr);
    assert_int_equal(sink.n, 0);
    /* the bad buzz: 75% negative, about lost bags */
    tr.share = 0.75;
    tr.neg_text = "@AirParadis lost my bags AGAIN!! #LostLuggage #fail";
    tr.id_prefix = "buzz";
    int64_t start = T0 + 2 * HOUR + 10 * MINUTE;
    play(&m, 1, &rng, start, start + 5 * MINUTE, 10000, &tr);
    if (sink.n != 1) sink_print(&sink);
    assert_int_equal(sink.n, 1);
    assert_int_equal(sink.type[0], ALERT_NEGATIVE_SURGE);
    assert_true(sink.at[0] - start <= 4 * MINUTE); /* caught within minutes */
    check_surge_json(sink.json[0]);
    /* raised once: the cool-down holds while the buzz goes on */
    play(&m, 1, &rng, start + 5 * MINUTE, start + 9 * MINUTE, 10000, &tr);
    assert_int_equal(sink_count(&sink, ALERT_NEGATIVE_SURGE), 1);
    MonitorStats st;
    monitor_stats(m, &st);
    assert_true(st.suppressed >= 3);
    assert_int_equal(st.raised[ALERT_NEGATIVE_SURGE], 1);
    sink_clear(&sink);
    monitor_free(m);
}

/* Two workers share the traffic and one Redis: each sees half the batches, both
 * evaluate the shared windows, one raises the alert. */
static void two_workers_raise_once(void **state) {
    (void)state;
    Sink s1 = {0}, s2 = {0};
    Monitor *ms[2] = {open_monitor(server.url, &s1, NULL), open_monitor(server.url, &s2, NULL)};
    Rng rng;
    rng_seed(&rng, 11);
    Traffic tr = normal_traffic();
    play(ms, 2, &rng, T0, T0 + 2 * HOUR, 5000, &tr);
    tr.share = 0.8;
    tr.neg_text = "@AirParadis lost my bags #LostLuggage";
    tr.id_prefix = "buzz";
    play(ms, 2, &rng, T0 + 2 * HOUR, T0 + 2 * HOUR + 8 * MINUTE, 5000, &tr);
    assert_int_equal(sink_count(&s1, ALERT_NEGATIVE_SURGE) + sink_count(&s2, ALERT_NEGATIVE_SURGE), 1);
    MonitorStats a, b;
    monitor_stats(ms[0], &a);
    monitor_stats(ms[1], &b);
    assert_true(a.suppressed + b.suppressed >= 1); /* the other one fired and was refused */
    assert_true(a.evaluations > 100 && b.evaluations > 100);
    /* both built the same baselines from the shared buckets */
    AlertBaseline h1, h2;
    monitor_baselines(ms[0], &h1, NULL);
    monitor_baselines(ms[1], &h2, NULL);
    assert_true(fabs(alert_baseline_share(&h1) - alert_baseline_share(&h2)) < 1e-9);
    sink_clear(&s1);
    sink_clear(&s2);
    monitor_free(ms[0]);
    monitor_free(ms[1]);
}

static void quality_warnings(void **state) {
    (void)state;
    Sink sink = {0};
    Monitor *m = open_monitor(server.url, &sink, NULL);
    Rng rng;
    rng_seed(&rng, 3);
    Traffic tr = normal_traffic();
    play(&m, 1, &rng, T0, T0 + 2 * HOUR, 10000, &tr);
    assert_int_equal(sink.n, 0);
    /* a new kind of stream: 90% positive, long tweets full of unknown words, unsure model */
    tr.share = 0.08;
    tr.oov = 0.2;
    tr.confidence = 0.65;
    tr.tokens = 24;
    play(&m, 1, &rng, T0 + 2 * HOUR, T0 + 2 * HOUR + 6 * MINUTE, 10000, &tr);
    if (sink.n != 4) sink_print(&sink);
    assert_int_equal(sink.n, 4);
    assert_int_equal(sink_count(&sink, ALERT_PREDICTION_SKEW), 1);
    assert_int_equal(sink_count(&sink, ALERT_VOCABULARY_DRIFT), 1);
    assert_int_equal(sink_count(&sink, ALERT_CONFIDENCE_DROP), 1);
    assert_int_equal(sink_count(&sink, ALERT_LENGTH_SHIFT), 1);
    for (int i = 0; i < sink.n; i++) assert_int_equal(sink.severity[i], ALERT_WARNING);
    assert_non_null(strstr(sink_find(&sink, ALERT_PREDICTION_SKEW), "positive"));
    sink_clear(&sink);
    monitor_free(m);
}

static void latency_alerts(void **state) {
    (void)state;
    Sink sink = {0};
    Monitor *m = open_monitor(server.url, &sink, NULL);
    Rng rng;
    rng_seed(&rng, 5);
    Traffic tr = normal_traffic();
    play(&m, 1, &rng, T0, T0 + HOUR, 10000, &tr);
    /* 250 ms for 9 complete minutes: not yet */
    tr.latency = 260;
    int64_t slow = T0 + HOUR;
    play(&m, 1, &rng, slow, slow + 10 * MINUTE - 10000, 10000, &tr);
    assert_int_equal(sink.n, 0);
    play(&m, 1, &rng, slow + 10 * MINUTE - 10000, slow + 12 * MINUTE, 10000, &tr);
    assert_int_equal(sink.n, 1);
    assert_int_equal(sink.type[0], ALERT_LATENCY_P95);
    assert_int_equal(sink.severity[0], ALERT_CRITICAL);
    assert_true(sink.at[0] >= slow + 10 * MINUTE); /* once 10 complete minutes are slow */
    cJSON *o = cJSON_Parse(sink.json[0]);
    assert_true(cJSON_GetObjectItem(o, "value")->valuedouble > 200);
    assert_true(cJSON_GetObjectItem(o, "threshold")->valuedouble == 200);
    cJSON_Delete(o);
    sink_clear(&sink);

    /* 132..198 ms: a warning after 30 minutes, and only then */
    tr.latency = 15;
    int64_t back = slow + 12 * MINUTE;
    play(&m, 1, &rng, back, back + 20 * MINUTE, 10000, &tr);
    tr.latency = 165;
    int64_t warm = back + 20 * MINUTE;
    play(&m, 1, &rng, warm, warm + 29 * MINUTE, 10000, &tr);
    assert_int_equal(sink.n, 0);
    play(&m, 1, &rng, warm + 29 * MINUTE, warm + 33 * MINUTE, 10000, &tr);
    assert_int_equal(sink.n, 1);
    assert_int_equal(sink.type[0], ALERT_LATENCY_P95);
    assert_int_equal(sink.severity[0], ALERT_WARNING);
    sink_clear(&sink);
    monitor_free(m);
}

static void error_rate_alert(void **state) {
    (void)state;
    Sink sink = {0};
    Monitor *m = open_monitor(server.url, &sink, NULL);
    Rng rng;
    rng_seed(&rng, 9);
    Traffic tr = normal_traffic();
    tr.failed = 0.04;
    play(&m, 1, &rng, T0, T0 + 2 * HOUR, 10000, &tr);
    assert_int_equal(sink.n, 0);
    tr.failed = 0.08; /* the hour's rate crosses 5% after about half an hour */
    play(&m, 1, &rng, T0 + 2 * HOUR, T0 + 3 * HOUR, 10000, &tr);
    if (sink.n != 1) sink_print(&sink);
    assert_int_equal(sink.n, 1);
    assert_int_equal(sink.type[0], ALERT_ERROR_RATE);
    assert_true(sink.at[0] > T0 + 2 * HOUR + 10 * MINUTE && sink.at[0] < T0 + 2 * HOUR + 50 * MINUTE);
    sink_clear(&sink);
    monitor_free(m);
}

/* One pipelined round trip per batch; keys under the configured prefix, with TTLs. */
static void one_round_trip_prefix_and_ttls(void **state) {
    (void)state;
    Sink sink = {0};
    MonitorConfig c;
    monitor_config_default(&c);
    c.key_prefix = "air:";
    c.eval_interval_ms = HOUR; /* no evaluation in between */
    Monitor *m = open_monitor(server.url, &sink, &c);
    Rng rng;
    rng_seed(&rng, 1);
    Traffic tr = normal_traffic();
    tr.rate = 6000;
    assert_int_equal(monitor_evaluate(m, T0), 0); /* warm-up reads happen here */
    RedisConnStats before, after;
    redis_conn_stats(monitor_conn(m), &before);
    play(&m, 1, &rng, T0 + 1000, T0 + 21000, 1000, &tr); /* 20 batches of about 100 tweets */
    redis_conn_stats(monitor_conn(m), &after);
    assert_int_equal(after.round_trips - before.round_trips, 20);
    assert_int_equal(after.commands - before.commands, 40); /* counters + negatives */

    redisContext *r = raw();
    long long sec = (T0 + 5000) / 1000, min = T0 / MINUTE;
    assert_true(harness_redis_int(r, "HGET air:win:{vol}:s:%lld n", sec) > 50);
    long long pttl = harness_redis_int(r, "PTTL air:win:{vol}:s:%lld", sec);
    assert_true(pttl > 0 && pttl <= c.second_ttl_ms);
    pttl = harness_redis_int(r, "PTTL air:win:{vol}:m:%lld", min);
    assert_true(pttl > c.minute_ttl_ms - 60000 && pttl <= c.minute_ttl_ms);
    assert_true(harness_redis_int(r, "HGET air:win:{vol}:m:%lld ln", min) > 1000);
    assert_true(harness_redis_int(r, "ZCARD air:win:{neg}:w:%lld", min) > 5);
    assert_int_equal(harness_redis_int(r, "ZCARD air:win:{neg}:x:%lld", min), 20); /* capped */
    pttl = harness_redis_int(r, "PTTL air:win:{neg}:h:%lld", min);
    assert_true(pttl == -2 || (pttl > 0 && pttl <= c.terms_ttl_ms)); /* no hashtags in complaints */
    assert_true(harness_redis_int(r, "PTTL air:win:{neg}:w:%lld", min) > 0);
    redisReply *keys = redisCommand(r, "KEYS bz:*");
    assert_int_equal(keys->elements, 0);
    freeReplyObject(keys);
    keys = redisCommand(r, "KEYS *");
    for (size_t i = 0; i < keys->elements; i++) {
        assert_memory_equal(keys->element[i]->str, "air:", 4);
        assert_true(harness_redis_int(r, "PTTL %s", keys->element[i]->str) > 0); /* nothing grows forever */
    }
    freeReplyObject(keys);
    redisFree(r);
    monitor_free(m);
}

/* Scores stored by the prediction store; feedback matched against them. */
static void put_predictions(RedisStore *s, const char *const *ids, const uint8_t *positive, int n) {
    StoreRecord rec[16];
    for (int i = 0; i < n; i++)
        rec[i] = (StoreRecord){.id = ids[i],
                               .id_len = strlen(ids[i]),
                               .p_positive = positive[i] ? 0.9f : 0.1f,
                               .positive = positive[i],
                               .scored_at_ms = T0};
    assert_int_equal(store_put(s, rec, n), STORE_OK);
}

static FeedbackItem item(const char *id, int positive, const char *text) {
    return (FeedbackItem){id, strlen(id), (uint8_t)positive, text, text ? strlen(text) : 0};
}

static void misclassification_burst_counts_replays_once(void **state) {
    (void)state;
    Sink sink = {0};
    Monitor *m = open_monitor(server.url, &sink, NULL);
    RedisStore *s = open_store(server.url);
    const char *pid[] = {"101", "102", "103", "104", "105", "106"};
    const uint8_t plabel[] = {1, 1, 0, 1, 0, 1};
    put_predictions(s, pid, plabel, 6);

    FeedbackOutcome out[4];
    /* two wrong predictions, each reported twice (a replayed topic) */
    FeedbackItem a[] = {item("101", 0, NULL), item("102", 0, NULL), item("101", 0, NULL),
                        item("102", 0, NULL)};
    assert_int_equal(feedback_handle(m, s, a, 4, T0, out), 0);
    assert_int_equal(out[0], FEEDBACK_MISCLASSIFIED);
    assert_int_equal(out[1], FEEDBACK_MISCLASSIFIED);
    assert_int_equal(out[2], FEEDBACK_REPLAYED);
    assert_int_equal(out[3], FEEDBACK_REPLAYED);
    /* a confirmation and an unknown id do not count as misclassifications */
    FeedbackItem b[] = {item("103", 0, NULL), item("999", 1, NULL)};
    assert_int_equal(feedback_handle(m, s, b, 2, T0 + MINUTE, out), 0);
    assert_int_equal(out[0], FEEDBACK_CONFIRMED);
    assert_int_equal(out[1], FEEDBACK_UNKNOWN);
    assert_int_equal(feedback_handle(m, s, a, 2, T0 + 2 * MINUTE, out), 0); /* replayed later */
    assert_int_equal(sink.n, 0);
    /* the third within 5 minutes */
    FeedbackItem c[] = {item("104", 0, NULL)};
    assert_int_equal(feedback_handle(m, s, c, 1, T0 + 4 * MINUTE, out), 1);
    assert_int_equal(out[0], FEEDBACK_MISCLASSIFIED);
    assert_int_equal(sink.n, 1);
    cJSON *o = cJSON_Parse(sink.json[0]);
    assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "misclassification_burst");
    assert_true(cJSON_GetObjectItem(o, "value")->valuedouble == 3);
    cJSON *ex = cJSON_GetObjectItem(o, "examples");
    assert_int_equal(cJSON_GetArraySize(ex), 3);
    assert_string_equal(cJSON_GetArrayItem(ex, 0)->valuestring, "101");
    assert_string_equal(cJSON_GetArrayItem(ex, 1)->valuestring, "102");
    assert_string_equal(cJSON_GetArrayItem(ex, 2)->valuestring, "104");
    cJSON_Delete(o);

    /* the counters for the report: 5 feedback counted (replays excluded) */
    FeedbackCounts fc[6], sum = {0};
    assert_int_equal(feedback_read_counts(m, T0 + 5 * MINUTE, T0 / MINUTE, 6, fc), MONITOR_OK);
    for (int i = 0; i < 6; i++) {
        sum.total += fc[i].total;
        sum.confirmed += fc[i].confirmed;
        sum.misclassified += fc[i].misclassified;
        sum.unknown += fc[i].unknown;
    }
    assert_int_equal(sum.total, 5);
    assert_int_equal(sum.misclassified, 3);
    assert_int_equal(sum.confirmed, 1);
    assert_int_equal(sum.unknown, 1);
    MonitorStats st;
    monitor_stats(m, &st);
    assert_int_equal(st.feedback[FEEDBACK_REPLAYED], 4);
    assert_int_equal(st.feedback[FEEDBACK_MISCLASSIFIED], 3);
    monitor_free(m);
    sink_clear(&sink);

    /* misclassifications 3 minutes apart never make 3 within 5 minutes */
    assert_int_equal(flush_all(NULL), 0);
    m = open_monitor(server.url, &sink, NULL);
    put_predictions(s, pid, plabel, 6);
    for (int i = 0; i < 4; i++) {
        FeedbackItem w = item(pid[i == 2 ? 3 : i == 3 ? 5 : i], !plabel[i == 2 ? 3 : i == 3 ? 5 : i], NULL);
        assert_int_equal(feedback_handle(m, s, &w, 1, T0 + i * 3 * MINUTE, out), 0);
        assert_int_equal(out[0], FEEDBACK_MISCLASSIFIED);
    }
    assert_int_equal(sink.n, 0);
    store_free(s);
    monitor_free(m);
}

static void two_workers_one_burst_alert(void **state) {
    (void)state;
    Sink s1 = {0}, s2 = {0};
    Monitor *m1 = open_monitor(server.url, &s1, NULL), *m2 = open_monitor(server.url, &s2, NULL);
    RedisStore *s = open_store(server.url);
    const char *pid[] = {"201", "202", "203", "204"};
    const uint8_t plabel[] = {1, 1, 1, 1};
    put_predictions(s, pid, plabel, 4);
    FeedbackOutcome out[1];
    for (int i = 0; i < 4; i++) {
        FeedbackItem w = item(pid[i], 0, NULL);
        feedback_handle(i % 2 ? m2 : m1, s, &w, 1, T0 + i * 1000, out);
        assert_int_equal(out[0], FEEDBACK_MISCLASSIFIED);
    }
    assert_int_equal(s1.n + s2.n, 1);
    sink_clear(&s1);
    sink_clear(&s2);
    store_free(s);
    monitor_free(m1);
    monitor_free(m2);
}

/* Redis stopped: monitor_unavailable once, every call fast; Redis back at the same
 * address (a symbolic link to the new server's socket): monitoring resumes. */
static void redis_down_then_back(void **state) {
    (void)state;
    HarnessRedis r1, r2;
    assert_int_equal(harness_redis_start(&r1), 0);
    char dir[HARNESS_PATH_MAX], link[HARNESS_PATH_MAX + 32], url[HARNESS_PATH_MAX + 48];
    assert_int_equal(harness_tmpdir_create("monitor-link", dir, sizeof dir), 0);
    snprintf(link, sizeof link, "%s/redis.sock", dir);
    snprintf(url, sizeof url, "unix://%s", link);
    assert_int_equal(symlink(r1.socket_path, link), 0);

    Sink sink = {0};
    Monitor *m = open_monitor(url, &sink, NULL);
    Rng rng;
    rng_seed(&rng, 13);
    Traffic tr = normal_traffic();
    play(&m, 1, &rng, T0, T0 + 40 * MINUTE, 10000, &tr);
    assert_int_equal(monitor_unavailable(m), 0);

    assert_int_equal(harness_redis_stop(&r1), 0);
    MonitorBatch b = {.n = 10, .n_negative = 3, .sum_confidence = 8.5, .n_tokens = 140};
    int64_t t = T0 + 40 * MINUTE;
    double worst = 0;
    for (int i = 0; i < 50; i++, t += 10000) {
        double t0 = util_now_s();
        assert_int_equal(monitor_observe_batch(m, t, &b), MONITOR_UNAVAILABLE);
        assert_int_equal(monitor_evaluate(m, t + 1), MONITOR_UNAVAILABLE);
        double dt = util_now_s() - t0;
        if (dt > worst) worst = dt;
        harness_sleep_ms(5);
    }
    assert_true(worst < 1.0);
    assert_int_equal(monitor_unavailable(m), 1);
    assert_int_equal(sink.n, 1); /* once per outage */
    assert_int_equal(sink.type[0], ALERT_MONITOR_UNAVAILABLE);
    assert_non_null(strstr(sink.json[0], "\"severity\":\"critical\""));
    MonitorStats st;
    monitor_stats(m, &st);
    assert_int_equal(st.outages, 1);
    assert_int_equal(st.batches_dropped, 50);

    assert_int_equal(harness_redis_start(&r2), 0);
    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink(r2.socket_path, link), 0);
    int rc = MONITOR_UNAVAILABLE;
    for (int i = 0; i < 100 && rc != MONITOR_OK; i++, t += 1000) {
        rc = monitor_observe_batch(m, t, &b);
        if (rc != MONITOR_OK) harness_sleep_ms(20);
    }
    assert_int_equal(rc, MONITOR_OK);
    assert_int_equal(monitor_unavailable(m), 0);

    /* the new server knows nothing: windows work again from scratch, scripts reloaded */
    RedisStore *s = open_store(url);
    const char *pid[] = {"301", "302", "303"};
    const uint8_t plabel[] = {1, 1, 1};
    put_predictions(s, pid, plabel, 3);
    FeedbackItem fb[] = {item("301", 0, NULL), item("302", 0, NULL), item("303", 0, NULL)};
    FeedbackOutcome out[3];
    assert_int_equal(feedback_handle(m, s, fb, 3, t, out), 1);
    assert_int_equal(sink_count(&sink, ALERT_MISCLASSIFICATION_BURST), 1);

    /* scripts flushed under a live connection: NOSCRIPT is answered with EVAL */
    redisContext *c = redisConnectUnix(r2.socket_path);
    redisReply *r = redisCommand(c, "SCRIPT FLUSH");
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(monitor_observe_batch(m, t + 1000, &b), MONITOR_OK);
    monitor_stats(m, &st);
    assert_true(st.noscript >= 1);
    assert_int_equal(st.outages, 1);
    assert_int_equal(sink_count(&sink, ALERT_MONITOR_UNAVAILABLE), 1);
    c = redisConnectUnix(r2.socket_path);
    assert_true(harness_redis_int(c, "HGET bz:win:{vol}:m:%lld n", (t + 1000) / MINUTE) >= 10);
    redisFree(c);

    sink_clear(&sink);
    store_free(s);
    monitor_free(m);
    assert_int_equal(harness_redis_stop(&r2), 0);
    harness_tmpdir_remove(dir);
}

/* Corrections exported as label,text CSV are read back by the dataset loader. */
static void feedback_export_round_trip(void **state) {
    (void)state;
    Sink sink = {0};
    MonitorConfig c;
    monitor_config_default(&c);
    c.rules.miscls_count = 100; /* no alert in this test */
    c.eval_interval_ms = MINUTE;
    Monitor *m = open_monitor(server.url, &sink, &c);
    RedisStore *s = open_store(server.url);
    const char *pid[] = {"401", "402", "403", "404", "405"};
    const uint8_t plabel[] = {1, 0, 1, 0, 1};
    put_predictions(s, pid, plabel, 5);
    int64_t now = util_wall_ms();
    const char *texts[] = {"Lost my bags, again. \"Thanks\" @AirParadis", "Great crew\non the night flight",
                           "caf\xc3\xa9 au lait \xe2\x9c\x88 was fine"};
    FeedbackItem fb[] = {item("401", 0, texts[0]), item("402", 1, texts[1]), item("403", 1, texts[2]),
                         item("404", 1, NULL), item("777", 0, "never scored, still labelled")};
    FeedbackOutcome out[5];
    assert_int_equal(feedback_handle(m, s, fb, 5, now - 2 * HOUR, out), 0);
    /* an old correction, outside --since */
    FeedbackItem old = item("405", 0, "from last month");
    assert_int_equal(feedback_handle(m, s, &old, 1, now - 20LL * 24 * HOUR, out), 0);

    char dir[HARNESS_PATH_MAX], path[HARNESS_PATH_MAX + 16], err[256];
    assert_int_equal(harness_tmpdir_create("fbexport", dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/fb.csv", dir);
    FILE *f = fopen(path, "w");
    FeedbackExportStats st;
    assert_int_equal(feedback_export(m, now, now - 7 * 24 * HOUR, 0, f, &st), MONITOR_OK);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(st.rows, 4);
    assert_int_equal(st.without_text, 1);

    DatasetOptions o = dataset_options_default();
    o.quiet = 1;
    o.on_bad = DATA_BAD_STOP;
    Dataset d;
    assert_int_equal(dataset_load(path, &o, &d, err, sizeof err), 0);
    assert_int_equal(d.n, 4);
    assert_int_equal(d.format, DATA_FORMAT_CSV);
    const char *want[] = {texts[0], texts[1], texts[2], "never scored, still labelled"};
    const int want_label[] = {0, 1, 1, 0};
    for (int i = 0; i < 4; i++) { /* ids within one millisecond come back in id order */
        assert_string_equal(dataset_text(&d, i), want[i]);
        assert_int_equal(d.label[i], want_label[i]);
    }
    dataset_free(&d);

    /* only the model's mistakes: 401 (said positive, is negative) and 402 */
    f = fopen(path, "w");
    assert_int_equal(feedback_export(m, now, now - 30 * 24 * HOUR, 1, f, &st), MONITOR_OK);
    fclose(f);
    assert_int_equal(st.rows, 3);         /* 401, 402 and 405 (last month) */
    assert_int_equal(st.filtered, 2);     /* 403 was right, 777 was never scored */
    assert_int_equal(st.without_text, 1); /* 404 */
    assert_int_equal(dataset_load(path, &o, &d, err, sizeof err), 0);
    assert_int_equal(d.n, 3);
    assert_string_equal(dataset_text(&d, 0), "from last month");
    dataset_free(&d);

    /* the CLI writes the same file */
    char out_path[HARNESS_PATH_MAX + 16], log_path[HARNESS_PATH_MAX + 16];
    snprintf(out_path, sizeof out_path, "%s/cli.csv", dir);
    snprintf(log_path, sizeof log_path, "%s/cli.log", dir);
    const char *bin = getenv("BUZZRADAR_BIN");
    if (!bin) bin = "build/buzzradar";
    const char *argv[] = {bin,       "feedback", "export", "--redis", server.url,
                          "--since", "7d",       "--out",  out_path,  NULL};
    HarnessSpawnOptions so = {.stderr_path = log_path};
    pid_t pid_cli = harness_spawn(argv, &so);
    assert_true(pid_cli > 0);
    int status;
    assert_int_equal(harness_wait(pid_cli, 10000, &status), 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) harness_print_tail("feedback export", log_path);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(dataset_load(out_path, &o, &d, err, sizeof err), 0);
    assert_int_equal(d.n, 4);
    dataset_free(&d);
    char *log = harness_read_file(log_path, NULL);
    assert_non_null(strstr(log, "4 corrections"));
    assert_non_null(strstr(log, "1 without text"));
    free(log);

    harness_tmpdir_remove(dir);
    store_free(s);
    monitor_free(m);
}

/* `buzzradar report --since 24h` summarises the last day read from Redis. */
static void report_summarises_the_day(void **state) {
    (void)state;
    Sink sink = {0};
    Monitor *m = open_monitor(server.url, &sink, NULL);
    RedisStore *s = open_store(server.url);
    Rng rng;
    rng_seed(&rng, 17);
    int64_t now = util_wall_ms();
    Traffic tr = normal_traffic();
    tr.rate = 50;
    play(&m, 1, &rng, now - 3 * HOUR, now - 20 * MINUTE, 30000, &tr);
    tr.share = 0.9;
    tr.neg_text = "#LostLuggage again";
    tr.id_prefix = "buzz";
    play(&m, 1, &rng, now - 20 * MINUTE, now - 10 * MINUTE, 10000, &tr);
    assert_int_equal(sink_count(&sink, ALERT_NEGATIVE_SURGE), 1);
    const char *pid[] = {"501", "502"};
    const uint8_t plabel[] = {1, 0};
    put_predictions(s, pid, plabel, 2);
    FeedbackItem fb[] = {item("501", 0, NULL), item("502", 0, NULL)};
    FeedbackOutcome out[2];
    feedback_handle(m, s, fb, 2, now - 5 * MINUTE, out);

    char dir[HARNESS_PATH_MAX], out_path[HARNESS_PATH_MAX + 16];
    assert_int_equal(harness_tmpdir_create("report", dir, sizeof dir), 0);
    snprintf(out_path, sizeof out_path, "%s/report.txt", dir);
    const char *bin = getenv("BUZZRADAR_BIN");
    if (!bin) bin = "build/buzzradar";
    const char *argv[] = {bin, "report", "--since", "24h", "--redis", server.url, NULL};
    HarnessSpawnOptions so = {.stdout_path = out_path};
    pid_t p = harness_spawn(argv, &so);
    int status;
    assert_int_equal(harness_wait(p, 10000, &status), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *text = harness_read_file(out_path, NULL);
    assert_non_null(text);
    fprintf(stderr, "%s", text);
    assert_non_null(strstr(text, "tweets scored"));
    assert_non_null(strstr(text, "negative_surge"));
    assert_non_null(strstr(text, "accuracy 50.0% (1 of 2)"));
    assert_non_null(strstr(text, "p95"));
    free(text);

    /* JSON for programs */
    const char *argj[] = {bin, "report", "--since", "24h", "--redis", server.url, "--json", NULL};
    p = harness_spawn(argj, &so);
    assert_int_equal(harness_wait(p, 10000, &status), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    text = harness_read_file(out_path, NULL);
    cJSON *o = cJSON_Parse(text);
    assert_non_null(o);
    double scored = cJSON_GetObjectItem(o, "tweets_scored")->valuedouble;
    assert_true(scored > 50 * 170 * 0.9 && scored < 50 * 170 * 1.1 + 1000);
    cJSON *alerts = cJSON_GetObjectItem(o, "alerts");
    int surges = 0;
    for (int i = 0; i < cJSON_GetArraySize(alerts); i++)
        surges += !strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(alerts, i), "type")->valuestring,
                          "negative_surge");
    assert_int_equal(surges, 1);
    assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "feedback"), "misclassified")->valuedouble == 1);
    cJSON_Delete(o);
    free(text);

    /* an unreachable Redis is a clear error, fast */
    const char *argb[] = {bin, "report", "--redis", "unix:///nonexistent/redis.sock", NULL};
    char err_path[HARNESS_PATH_MAX + 16];
    snprintf(err_path, sizeof err_path, "%s/err.txt", dir);
    HarnessSpawnOptions se = {.stderr_path = err_path, .stdout_path = out_path};
    p = harness_spawn(argb, &se);
    assert_int_equal(harness_wait(p, 5000, &status), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    text = harness_read_file(err_path, NULL);
    assert_non_null(strstr(text, "cannot reach Redis"));
    free(text);

    harness_tmpdir_remove(dir);
    sink_clear(&sink);
    store_free(s);
    monitor_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(normal_day_raises_nothing, flush_all),
        cmocka_unit_test_setup(negative_surge_fires_with_terms, flush_all),
        cmocka_unit_test_setup(two_workers_raise_once, flush_all),
        cmocka_unit_test_setup(quality_warnings, flush_all),
        cmocka_unit_test_setup(latency_alerts, flush_all),
        cmocka_unit_test_setup(error_rate_alert, flush_all),
        cmocka_unit_test_setup(one_round_trip_prefix_and_ttls, flush_all),
        cmocka_unit_test_setup(misclassification_burst_counts_replays_once, flush_all),
        cmocka_unit_test_setup(two_workers_one_burst_alert, flush_all),
        cmocka_unit_test_setup(redis_down_then_back, flush_all),
        cmocka_unit_test_setup(feedback_export_round_trip, flush_all),
        cmocka_unit_test_setup(report_summarises_the_day, flush_all),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
