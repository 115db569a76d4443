/* test_monitor_replay.c — the monitor on real tweets scored by the real model, with
 * injected time, against a real redis-server: the demo day's tweets
 * (scripts/demo/airparadis.jsonl) are scored with the shipped model, then its normal
 * stretch (08:00-12:10) is replayed as 27 hours of traffic whose volume follows the
 * clock — nothing fires — and its bad-buzz stretch (12:10-13:50) arriving on top of
 * that traffic raises one negative_surge naming the buzz's hashtags, with example ids
 * of buzz tweets. The same day replayed with the human-labelled TweetEval tweets of
 * $BUZZRADAR_SHARED_DATA (another era, another vocabulary) raises nothing either.
 *
 * Each test skips with a message when its data file or the model is missing. */
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
#include "model/dataset.h"
#include "model/metrics.h"
#include "model/util.h"
#include "tests/harness/harness.h"
#include "tests/integration/alert_sink.h"
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
static Classifier *model;
static DemoDay day, tweeteval;
static const char *skip_reason, *tweeteval_skip;

/* ---- the demo day, scored ------------------------------------------------------------- */

static void corpus_add(DemoDay *d, const char *id, const char *text, Stretch s) {
    d->tweets = reallocCheck(d->tweets, (size_t)(d->n + 1) * sizeof *d->tweets);
    DemoTweet *t = &d->tweets[d->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", id);
    t->text = strdupCheck(text);
    t->stretch = s;
}

/* Indexes a corpus' tweets by stretch. */
static void corpus_pools(DemoDay *d) {
    for (int s = 0; s < 3; s++) d->pool[s] = mallocCheck((size_t)d->n * sizeof(int));
    for (int i = 0; i < d->n; i++) d->pool[d->tweets[i].stretch][d->n_pool[d->tweets[i].stretch]++] = i;
}

static void corpus_free(DemoDay *d) {
    for (int i = 0; i < d->n; i++) free(d->tweets[i].text);
    free(d->tweets);
    for (int s = 0; s < 3; s++) free(d->pool[s]);
}

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
        corpus_add(&day, id->valuestring, text->valuestring,
                   strcmp(at->valuestring, BUZZ_FROM) < 0 ? STRETCH_NORMAL
                   : strcmp(at->valuestring, BUZZ_TO) < 0 ? STRETCH_BUZZ
                                                          : STRETCH_RECOVERY);
        cJSON_Delete(o);
    }
    fclose(fp);
    corpus_pools(&day);
    return NULL;
}

/* Reads the TweetEval tweets of $BUZZRADAR_SHARED_DATA into tweeteval, all in the normal
 * stretch, ids "te<row>" (NULL: read, else why not). */
static const char *tweeteval_load(void) {
    const char *dir = getenv("BUZZRADAR_SHARED_DATA");
    if (!dir) return "BUZZRADAR_SHARED_DATA is not set (../shared/data)";
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/tweeteval-val-binary.csv", dir);
    DatasetOptions o = dataset_options_default();
    o.quiet = 1;
    Dataset d;
    if (dataset_load(path, &o, &d, err, sizeof err)) return "tweeteval-val-binary.csv cannot be read";
    for (int i = 0; i < d.n; i++) {
        char id[32];
        snprintf(id, sizeof id, "te%d", i);
        corpus_add(&tweeteval, id, dataset_text(&d, i), STRETCH_NORMAL);
    }
    dataset_free(&d);
    corpus_pools(&tweeteval);
    return NULL;
}

/* Scores every tweet of a corpus with the model. */
static void corpus_score(DemoDay *d) {
    enum { B = 64 };
    ClassifierBatch *b = classifier_batch_new(model, B);
    for (int first = 0; first < d->n; first += B) {
        int k = d->n - first < B ? d->n - first : B;
        classifier_batch_reset(b);
        for (int i = 0; i < k; i++) {
            const char *text = d->tweets[first + i].text;
            assert_int_equal(classifier_batch_add(b, text, strlen(text)), i);
        }
        classifier_batch_score(b);
        for (int i = 0; i < k; i++) {
            DemoTweet *t = &d->tweets[first + i];
            t->p_positive = classifier_batch_p(b, i);
            t->tokens = classifier_batch_ntokens(b, i);
            t->oov = classifier_batch_noov(b, i);
        }
    }
    classifier_batch_free(b);
}

static int group_setup(void **state) {
    (void)state;
    const char *root = getenv("BUZZRADAR_ROOT");
    char path[1024];
    snprintf(path, sizeof path, "%s/scripts/demo/airparadis.jsonl", root ? root : ".");
    skip_reason = demo_load(path);
    tweeteval_skip = tweeteval_load();
    snprintf(path, sizeof path, "%s/model/pretrained/bilstm.model", root ? root : ".");
    char err[256];
    model = classifier_load(path, err, sizeof err);
    if (model) {
        if (!skip_reason) corpus_score(&day);
        if (!tweeteval_skip) corpus_score(&tweeteval);
    } else {
        skip_reason = tweeteval_skip = "the shipped model (model/pretrained/bilstm.model) cannot be loaded";
    }
    return harness_redis_start(&server);
}

static int group_teardown(void **state) {
    (void)state;
    corpus_free(&day);
    corpus_free(&tweeteval);
    if (model) classifier_free(model);
    return harness_redis_stop(&server);
}

/* Each test starts from an empty Redis (no history of the previous one). */
static int flush_all(void **state) {
    (void)state;
    return harness_redis_flushall(&server);
}

/* ---- replay --------------------------------------------------------------------------- */

enum { BATCH_MAX = 256 };

/* Adds n tweets drawn at random from a corpus' stretch to batch b. Each replayed tweet
 * gets the id "<its id>-<serial>" (ids stay unique, and name the corpus tweet). */
static void draw(const DemoDay *d, Rng *rng, Stretch s, int n, MonitorBatch *b, MonitorTweet *negs,
                 char (*ids)[48], float *latency) {
    static long long serial;
    for (int k = 0; k < n && b->n < BATCH_MAX; k++) {
        const DemoTweet *t = &d->tweets[d->pool[s][rng_below(rng, (uint32_t)d->n_pool[s])]];
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
static void play(const DemoDay *d, Monitor *m, Rng *rng, int64_t t0, int64_t t1, double rate,
                 double buzz_rate) {
    static MonitorTweet negs[BATCH_MAX];
    static char ids[BATCH_MAX][48];
    static float latency[BATCH_MAX];
    for (int64_t t = t0; t < t1; t += STEP) {
        MonitorBatch b = {.negatives = negs, .latency_ms = latency};
        double mean = rate * (double)STEP / MINUTE;
        long n = lround(mean + sqrt(mean) * rng_normal(rng));
        draw(d, rng, STRETCH_NORMAL, n < 0 ? 0 : (int)n, &b, negs, ids, latency);
        if (buzz_rate > 0)
            draw(d, rng, STRETCH_BUZZ, (int)lround(buzz_rate * (double)STEP / MINUTE), &b, negs, ids,
                 latency);
        assert_int_equal(monitor_observe_batch(m, t, &b), MONITOR_OK);
    }
}

static Monitor *open_monitor(Sink *sink) {
    MonitorConfig c;
    monitor_config_default(&c);
    c.url = server.url;
    c.model_version = "demo";
    c.eval_interval_ms = MINUTE;
    c.on_alert = sink_fn;
    c.on_alert_ctx = sink;
    char err[256];
    Monitor *m = monitor_new(&c, err, sizeof err);
    if (!m) fail_msg("monitor_new: %s", err);
    return m;
}

/* Replays 27 hours of a corpus' normal stretch, 15..105 tweets a minute following the
 * clock, and fails the test at the first alert. */
static void replay_normal_day(const DemoDay *d, Monitor *m, Rng *rng, Sink *sink) {
    for (int64_t t = T0 - 3 * HOUR; t < T0 + 24 * HOUR; t += 5 * MINUTE) {
        double rate = 60 + 45 * sin(2 * M_PI * (double)(t - T0) / (24.0 * HOUR));
        play(d, m, rng, t, t + 5 * MINUTE, rate, 0);
        if (sink->n) {
            sink_print(sink);
            fail_msg("alert raised on a normal day at %+.1f h", (double)(t - T0) / HOUR);
        }
    }
    MonitorStats st;
    monitor_stats(m, &st);
    assert_true(st.evaluations >= 27 * 60 - 5);
    assert_int_equal(st.batches_dropped, 0);
}

/* Prints a corpus' stretches as the model sees them; neg_share[s] gets stretch s's
 * share of negative predictions. */
static void corpus_describe(const DemoDay *d, const char *name, double neg_share[3]) {
    static const char *const names[] = {"normal", "bad-buzz", "recovery"};
    int neg[3] = {0};
    double oov[3] = {0}, tok[3] = {0};
    for (int i = 0; i < d->n; i++) {
        const DemoTweet *t = &d->tweets[i];
        neg[t->stretch] += !metrics_is_positive(t->p_positive);
        oov[t->stretch] += t->oov;
        tok[t->stretch] += t->tokens;
    }
    for (int s = 0; s < 3; s++) {
        neg_share[s] = d->n_pool[s] ? (double)neg[s] / d->n_pool[s] : 0;
        if (d->n_pool[s])
            printf("%s, %s: %d tweets, %.0f%% scored negative, %.1f tokens a tweet, %.1f%% unknown\n", name,
                   names[s], d->n_pool[s], 100.0 * neg_share[s], tok[s] / d->n_pool[s],
                   100.0 * oov[s] / tok[s]);
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
    double share[3];
    corpus_describe(&day, "demo day", share);
    /* the model sees the buzz: a clear rise of the negative share between the stretches */
    assert_true(day.n_pool[STRETCH_NORMAL] >= 100 && day.n_pool[STRETCH_BUZZ] >= 100);
    assert_true(share[STRETCH_BUZZ] > share[STRETCH_NORMAL] + 0.3);

    Sink sink = {0};
    Monitor *m = open_monitor(&sink);
    Rng rng;
    rng_seed(&rng, 314);
    replay_normal_day(&day, m, &rng, &sink);

    /* the bad buzz arrives on top of the usual traffic: paged within minutes, once */
    int64_t start = T0 + 24 * HOUR;
    play(&day, m, &rng, start, start + 10 * MINUTE, 60, 60);
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
    int n_ex = cJSON_GetArraySize(ex), from_buzz = 0;
    assert_true(n_ex >= 3);
    for (int i = 0; i < n_ex; i++) {
        const DemoTweet *t = demo_of(cJSON_GetArrayItem(ex, i)->valuestring);
        if (!t || metrics_is_positive(t->p_positive))
            fail_msg("example %s is no negative replayed tweet", cJSON_GetArrayItem(ex, i)->valuestring);
        from_buzz += t->stretch == STRETCH_BUZZ;
    }
    /* "typical" is judged per batch on shared words (@airparadis, bags): the usual
     * complaints in the window can outrank buzz tweets, so only some examples are sure
     * to come from the buzz (1 to 5 of 5 over eight seeds) */
    printf("%d of the %d examples are bad-buzz tweets\n", from_buzz, n_ex);
    assert_true(from_buzz >= 1);
    cJSON_Delete(o);
    sink_clear(&sink);
    monitor_free(m);
}

static void tweeteval_day_replayed_raises_nothing(void **state) {
    (void)state;
    if (tweeteval_skip) {
        printf("skipped: %s\n", tweeteval_skip);
        skip();
    }
    double share[3];
    corpus_describe(&tweeteval, "TweetEval", share);
    assert_true(tweeteval.n > 1000);
    Sink sink = {0};
    Monitor *m = open_monitor(&sink);
    Rng rng;
    rng_seed(&rng, 2017);
    replay_normal_day(&tweeteval, m, &rng, &sink);
    AlertBaseline hour, day_baseline;
    monitor_baselines(m, &hour, &day_baseline);
    assert_true(fabs(alert_baseline_share(&day_baseline) - share[STRETCH_NORMAL]) < 0.03);
    monitor_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(demo_day_replayed_raises_nothing_then_its_buzz_pages, flush_all),
        cmocka_unit_test_setup(tweeteval_day_replayed_raises_nothing, flush_all),
    };
    return cmocka_run_group_tests_name("monitor_replay", tests, group_setup, group_teardown);
}
