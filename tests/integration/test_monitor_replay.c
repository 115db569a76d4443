/* test_monitor_replay.c — the monitor on real tweets scored by the real model, with
 * injected time, against a real redis-server: the demo day's tweets
 * (scripts/demo/airparadis.jsonl) are scored with the shipped model, then its normal
 * stretch (08:00-12:10) is replayed as 27 hours of traffic whose volume follows the
 * clock — nothing fires — and its bad-buzz stretch (12:10-13:50) arriving on top of
 * that traffic raises one negative_surge naming the buzz's hashtags, with example ids
 * of buzz tweets.
 *
 * Skips with a message when the demo file or the model is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "model/classifier.h"
#include "model/metrics.h"
#include "model/util.h"
#include "tests/harness/harness.h"
#include "worker/monitor.h"

#define T0     1764028800000LL /* 2025-11-25T00:00:00Z */
#define MINUTE 60000LL
#define HOUR   3600000LL
#define STEP   10000LL /* a batch every 10 s */

/* The demo day's stretches (docs: scripts/demo/README.md), by created_at. */
typedef enum { STRETCH_NORMAL = 0, STRETCH_BUZZ, STRETCH_RECOVERY } Stretch;
#define BUZZ_FROM "2026-03-14T12:10"
#define BUZZ_TO   "2026-03-14T13:50"

typedef struct {
    char id[32];
    char *text;
    Stretch stretch;
    float p_positive; /* the shipped model's score */
    int tokens, oov;
} DemoTweet;

typedef struct {
    DemoTweet *tweets;
    int n;
    int *pool[3]; /* indices of each stretch's tweets */
    int n_pool[3];
} DemoDay;

static HarnessRedis server;
static DemoDay day;
static const char *skip_reason;

/* ---- the demo day, scored ------------------------------------------------------------- */

/* Reads the demo file into day (NULL: read, else why not). */
static const char *demo_load(const char *path) {
    FILE *fp = fopen(path, "r");
    if (!fp) return "scripts/demo/airparadis.jsonl is missing";
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        cJSON *o = cJSON_Parse(line);
        const cJSON *id = cJSON_GetObjectItem(o, "id"), *text = cJSON_GetObjectItem(o, "text"),
                    *at = cJSON_GetObjectItem(o, "created_at");
        if (!cJSON_IsString(id) || !cJSON_IsString(text) || !cJSON_IsString(at) ||
            strlen(id->valuestring) >= 32)
            fail_msg("%s:%d: not a demo tweet", path, lineno);
        day.tweets = reallocCheck(day.tweets, (size_t)(day.n + 1) * sizeof *day.tweets);
        DemoTweet *t = &day.tweets[day.n++];
        memset(t, 0, sizeof *t);
        snprintf(t->id, sizeof t->id, "%s", id->valuestring);
        t->text = strdupCheck(text->valuestring);
        t->stretch = strcmp(at->valuestring, BUZZ_FROM) < 0 ? STRETCH_NORMAL
                     : strcmp(at->valuestring, BUZZ_TO) < 0 ? STRETCH_BUZZ
                                                            : STRETCH_RECOVERY;
        cJSON_Delete(o);
    }
    fclose(fp);
    for (int s = 0; s < 3; s++) day.pool[s] = mallocCheck((size_t)day.n * sizeof(int));
    for (int i = 0; i < day.n; i++) day.pool[day.tweets[i].stretch][day.n_pool[day.tweets[i].stretch]++] = i;
    return NULL;
}

/* Scores every demo tweet with the model (NULL: scored, else why not). */
static const char *demo_score(const char *model_path) {
    char err[256];
    Classifier *c = classifier_load(model_path, err, sizeof err);
    if (!c) return "the shipped model (model/pretrained/bilstm.model) cannot be loaded";
    enum { B = 64 };
    ClassifierBatch *b = classifier_batch_new(c, B);
    for (int first = 0; first < day.n; first += B) {
        int k = day.n - first < B ? day.n - first : B;
        classifier_batch_reset(b);
        for (int i = 0; i < k; i++) {
            const char *text = day.tweets[first + i].text;
            assert_int_equal(classifier_batch_add(b, text, strlen(text)), i);
        }
        classifier_batch_score(b);
        for (int i = 0; i < k; i++) {
            DemoTweet *t = &day.tweets[first + i];
            t->p_positive = classifier_batch_p(b, i);
            t->tokens = classifier_batch_ntokens(b, i);
            t->oov = classifier_batch_noov(b, i);
        }
    }
    classifier_batch_free(b);
    classifier_free(c);
    return NULL;
}

static int group_setup(void **state) {
    (void)state;
    const char *root = getenv("BUZZRADAR_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/scripts/demo/airparadis.jsonl", root ? root : ".");
    skip_reason = demo_load(path);
    if (!skip_reason) {
        snprintf(path, sizeof path, "%s/model/pretrained/bilstm.model", root ? root : ".");
        skip_reason = demo_score(path);
    }
    return harness_redis_start(&server);
}

static int group_teardown(void **state) {
    (void)state;
    for (int i = 0; i < day.n; i++) free(day.tweets[i].text);
    free(day.tweets);
    for (int s = 0; s < 3; s++) free(day.pool[s]);
    return harness_redis_stop(&server);
}

/* ---- replay --------------------------------------------------------------------------- */

enum { SINK_MAX = 16, BATCH_MAX = 256 };
typedef struct {
    int n;
    AlertType type[SINK_MAX];
    int64_t at[SINK_MAX];
    char *json[SINK_MAX];
} Sink;

static void sink_fn(const Alert *a, const char *json, void *ctx) {
    Sink *s = ctx;
    if (s->n >= SINK_MAX) return;
    s->type[s->n] = a->type;
    s->at[s->n] = a->at_ms;
    s->json[s->n++] = strdupCheck(json);
}

static void sink_print(const Sink *s) {
    for (int i = 0; i < s->n; i++) fprintf(stderr, "  alert %d: %s\n", i, s->json[i]);
}

/* Adds n tweets drawn at random from a stretch to batch b. Each replayed tweet gets the
 * id "<demo id>-<serial>" (ids stay unique, and name the demo tweet). */
static void draw(Rng *rng, Stretch s, int n, MonitorBatch *b, MonitorTweet *negs, char (*ids)[48],
                 float *latency) {
    static long long serial;
    for (int k = 0; k < n && b->n < BATCH_MAX; k++) {
        const DemoTweet *t = &day.tweets[day.pool[s][rng_below(rng, (uint32_t)day.n_pool[s])]];
        float p = t->p_positive;
        latency[b->n_latency++] = (float)(10 + 10 * rng_uniform(rng));
        b->n++;
        b->sum_p_positive += p;
        b->sum_confidence += p > 0.5f ? p : 1.0f - p;
        b->n_tokens += t->tokens;
        b->n_oov += t->oov;
        if (metrics_is_positive(p)) continue;
        int i = b->n_negatives++;
        snprintf(ids[i], sizeof ids[i], "%s-%lld", t->id, serial++);
        negs[i] = (MonitorTweet){ids[i], strlen(ids[i]), t->text, strlen(t->text), p};
        b->n_negative++;
    }
}

/* Plays [t0, t1): each STEP a batch of the normal stretch at `rate` tweets a minute
 * (Poisson-like noise), plus `buzz_rate` tweets a minute of the bad-buzz stretch. */
static void play(Monitor *m, Rng *rng, int64_t t0, int64_t t1, double rate, double buzz_rate) {
    static MonitorTweet negs[BATCH_MAX];
    static char ids[BATCH_MAX][48];
    static float latency[BATCH_MAX];
    for (int64_t t = t0; t < t1; t += STEP) {
        MonitorBatch b = {.negatives = negs, .latency_ms = latency};
        double mean = rate * (double)STEP / MINUTE;
        long n = lround(mean + sqrt(mean) * rng_normal(rng));
        draw(rng, STRETCH_NORMAL, n < 0 ? 0 : (int)n, &b, negs, ids, latency);
        draw(rng, STRETCH_BUZZ, (int)lround(buzz_rate * (double)STEP / MINUTE), &b, negs, ids, latency);
        assert_int_equal(monitor_observe_batch(m, t, &b), MONITOR_OK);
    }
}

/* The demo tweet a replayed id "<demo id>-<serial>" names, or NULL. */
static const DemoTweet *demo_of(const char *replay_id) {
    const char *dash = strrchr(replay_id, '-');
    size_t len = dash ? (size_t)(dash - replay_id) : strlen(replay_id);
    for (int i = 0; i < day.n; i++)
        if (strlen(day.tweets[i].id) == len && !memcmp(day.tweets[i].id, replay_id, len))
            return &day.tweets[i];
    return NULL;
}

static void demo_day_replayed_raises_nothing_then_its_buzz_pages(void **state) {
    (void)state;
    if (skip_reason) {
        printf("skipped: %s\n", skip_reason);
        skip();
    }
    int neg[3] = {0};
    double oov[3] = {0}, tok[3] = {0};
    for (int i = 0; i < day.n; i++) {
        const DemoTweet *t = &day.tweets[i];
        neg[t->stretch] += !metrics_is_positive(t->p_positive);
        oov[t->stretch] += t->oov;
        tok[t->stretch] += t->tokens;
    }
    for (int s = 0; s < 3; s++)
        printf("%s stretch: %d tweets, %.0f%% scored negative, %.1f tokens a tweet, %.1f%% unknown\n",
               s == STRETCH_NORMAL ? "normal"
               : s == STRETCH_BUZZ ? "bad-buzz"
                                   : "recovery",
               day.n_pool[s], 100.0 * neg[s] / day.n_pool[s], tok[s] / day.n_pool[s],
               100.0 * oov[s] / tok[s]);
    /* the model sees the buzz: a clear rise of the negative share between the stretches */
    assert_true(day.n_pool[STRETCH_NORMAL] >= 100 && day.n_pool[STRETCH_BUZZ] >= 100);
    assert_true((double)neg[STRETCH_BUZZ] / day.n_pool[STRETCH_BUZZ] >
                (double)neg[STRETCH_NORMAL] / day.n_pool[STRETCH_NORMAL] + 0.3);

    MonitorConfig c;
    monitor_config_default(&c);
    Sink sink = {0};
    c.url = server.url;
    c.model_version = "demo";
    c.eval_interval_ms = MINUTE;
    c.on_alert = sink_fn;
    c.on_alert_ctx = &sink;
    char err[256];
    Monitor *m = monitor_new(&c, err, sizeof err);
    if (!m) fail_msg("monitor_new: %s", err);
    Rng rng;
    rng_seed(&rng, 314);

    /* 27 hours of the normal stretch, 15..105 tweets a minute following the clock */
    for (int64_t t = T0 - 3 * HOUR; t < T0 + 24 * HOUR; t += 5 * MINUTE) {
        double rate = 60 + 45 * sin(2 * M_PI * (double)(t - T0) / (24.0 * HOUR));
        play(m, &rng, t, t + 5 * MINUTE, rate, 0);
        if (sink.n) {
            sink_print(&sink);
            fail_msg("alert raised on the demo day's normal traffic at %+.1f h", (double)(t - T0) / HOUR);
        }
    }
    MonitorStats st;
    monitor_stats(m, &st);
    assert_true(st.evaluations >= 27 * 60 - 5);
    assert_int_equal(st.batches_dropped, 0);

    /* the bad buzz arrives on top of the usual traffic: paged within minutes, once */
    int64_t start = T0 + 24 * HOUR;
    play(m, &rng, start, start + 10 * MINUTE, 60, 60);
    if (sink.n != 1 || sink.type[0] != ALERT_NEGATIVE_SURGE) {
        sink_print(&sink);
        fail_msg("wanted one negative_surge, got %d alerts", sink.n);
    }
    printf("negative_surge %.1f min after the buzz began\n", (double)(sink.at[0] - start) / MINUTE);
    assert_true(sink.at[0] - start <= 5 * MINUTE);
    cJSON *o = cJSON_Parse(sink.json[0]);
    assert_non_null(o);
    const char *msg = cJSON_GetObjectItem(o, "message")->valuestring;
    if (!strstr(msg, "#airparadisfail") && !strstr(msg, "#lostluggage"))
        fail_msg("the alert does not name the buzz's hashtags: %s", msg);
    const cJSON *ex = cJSON_GetObjectItem(o, "examples");
    assert_true(cJSON_GetArraySize(ex) >= 3);
    for (int i = 0; i < cJSON_GetArraySize(ex); i++) {
        const DemoTweet *t = demo_of(cJSON_GetArrayItem(ex, i)->valuestring);
        if (!t || t->stretch != STRETCH_BUZZ)
            fail_msg("example %s is not a bad-buzz tweet", cJSON_GetArrayItem(ex, i)->valuestring);
    }
    cJSON_Delete(o);
    for (int i = 0; i < sink.n; i++) free(sink.json[i]);
    monitor_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(demo_day_replayed_raises_nothing_then_its_buzz_pages),
    };
    return cmocka_run_group_tests_name("monitor_replay", tests, group_setup, group_teardown);
}
