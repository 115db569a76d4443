/* pipeline_store.c — Redis cache and prediction store around the model (see
 * pipeline_store.h). */
#include "worker/pipeline_store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "model/util.h"

#define MAX_THREADS 256

struct PipelineStore {
    char *url, *model_version;
    int max_batch;
    pthread_mutex_t mu;              /* guards stores[] (registration and stats) */
    RedisStore *stores[MAX_THREADS]; /* each thread's, for the stats */
};

/* One inference thread's store and batch arrays. The cache keys of a batch are made
 * once, before the model, and written with the scores after it. */
typedef struct {
    PipelineStore *owner;
    int index;
    RedisStore *store;
    char *keybuf;      /* (max_batch, STORE_CACHE_KEY_MAX + 1) the batch's cache keys */
    const char **keys; /* (max_batch) into keybuf */
    size_t *lens;
    const PipelineTweet *keyed; /* the batch keybuf holds the keys of (tweets, n) */
    int keyed_n;
    float *p;
    uint8_t *hit;
    StoreRecord *recs;
    int cap;
} StoreThread;

PipelineStore *pipeline_store_new(const char *url, const char *model_version, int max_batch, char *err,
                                  size_t errlen) {
    RedisUrl u;
    if (redis_url_parse(url, &u, err, errlen)) return NULL;
    PipelineStore *s = callocCheck(1, sizeof *s);
    s->url = strdupCheck(url);
    s->model_version = strdupCheck(model_version);
    s->max_batch = max_batch < 1 ? 1 : max_batch;
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void pipeline_store_free(PipelineStore *s) {
    if (!s) return;
    pthread_mutex_destroy(&s->mu);
    free(s->url);
    free(s->model_version);
    free(s);
}

static void *store_thread_init(void *ctx, int index) {
    PipelineStore *s = ctx;
    StoreThread *t = callocCheck(1, sizeof *t);
    t->owner = s;
    t->index = index;
    StoreOptions o;
    store_options_default(&o);
    o.url = s->url;
    o.model_version = s->model_version;
    o.max_batch = s->max_batch;
    char err[256];
    t->store = store_new(&o, err, sizeof err);
    if (!t->store) util_die("redis store: %s", err); /* the URL was checked at start-up */
    t->cap = s->max_batch;
    t->keybuf = mallocCheck((size_t)t->cap * (STORE_CACHE_KEY_MAX + 1));
    t->keys = callocCheck((size_t)t->cap, sizeof *t->keys);
    t->lens = callocCheck((size_t)t->cap, sizeof *t->lens);
    t->p = callocCheck((size_t)t->cap, sizeof *t->p);
    t->hit = callocCheck((size_t)t->cap, sizeof *t->hit);
    t->recs = callocCheck((size_t)t->cap, sizeof *t->recs);
    if (index >= 0 && index < MAX_THREADS) {
        pthread_mutex_lock(&s->mu);
        s->stores[index] = t->store;
        pthread_mutex_unlock(&s->mu);
    }
    return t;
}

static void store_thread_free(void *ctx, void *state) {
    PipelineStore *s = ctx;
    StoreThread *t = state;
    if (t->index >= 0 && t->index < MAX_THREADS) {
        pthread_mutex_lock(&s->mu);
        s->stores[t->index] = NULL;
        pthread_mutex_unlock(&s->mu);
    }
    store_free(t->store);
    free(t->keybuf);
    free(t->keys);
    free(t->lens);
    free(t->p);
    free(t->hit);
    free(t->recs);
    free(t);
}

static void store_before(void *ctx, void *state, PipelineTweet *tweets, int n) {
    (void)ctx;
    StoreThread *t = state;
    if (n > t->cap) n = t->cap;
    for (int i = 0; i < n; i++) {
        char *key = t->keybuf + (size_t)i * (STORE_CACHE_KEY_MAX + 1);
        t->keys[i] = key;
        t->lens[i] = (size_t)store_cache_key(t->store, tweets[i].key, tweets[i].key_len, key,
                                             STORE_CACHE_KEY_MAX + 1); /* always fits */
    }
    t->keyed = tweets;
    t->keyed_n = n;
    if (store_cache_get_keys(t->store, t->keys, t->lens, n, t->p, t->hit) <= 0) return;
    for (int i = 0; i < n; i++)
        if (t->hit[i]) {
            tweets[i].cached = 1;
            tweets[i].p_positive = t->p[i];
        }
}

static void store_after(void *ctx, void *state, const PipelineTweet *tweets, int n) {
    (void)ctx;
    StoreThread *t = state;
    if (n > t->cap) n = t->cap;
    int keyed = tweets == t->keyed && n == t->keyed_n; /* else store_put hashes the texts */
    t->keyed = NULL;
    for (int i = 0; i < n; i++) {
        const PipelineTweet *tw = &tweets[i];
        t->recs[i] = (StoreRecord){.id = tw->id,
                                   .id_len = tw->id_len,
                                   .norm_text = tw->cached ? NULL : tw->key,
                                   .norm_len = tw->key_len,
                                   .cache_key = keyed ? t->keys[i] : NULL,
                                   .cache_key_len = keyed ? t->lens[i] : 0,
                                   .p_positive = tw->p_positive,
                                   .positive = (uint8_t)(tw->p_positive >= 0.5f),
                                   .scored_at_ms = tw->scored_at_ms,
                                   .text = tw->text, /* raw: what `feedback export` gives `train` */
                                   .text_len = tw->text_len};
    }
    store_put_start(t->store, t->recs, n); /* finished after the events are produced */
}

static void store_after_send(void *ctx, void *state, const PipelineTweet *tweets, int n) {
    (void)ctx;
    (void)tweets;
    (void)n;
    StoreThread *t = state;
    store_put_finish(t->store);
}

PipelineHooks pipeline_store_hooks(PipelineStore *s) {
    return (PipelineHooks){.ctx = s,
                           .thread_init = store_thread_init,
                           .thread_free = store_thread_free,
                           .before_score = store_before,
                           .after_score = store_after,
                           .after_send = store_after_send};
}

void pipeline_store_stats(PipelineStore *s, StoreStats *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < MAX_THREADS; i++) {
        if (!s->stores[i]) continue;
        StoreStats one;
        store_stats(s->stores[i], &one);
        out->cache_lookups += one.cache_lookups;
        out->cache_hits += one.cache_hits;
        out->cache_stale += one.cache_stale;
        out->cache_skipped += one.cache_skipped;
        out->preds_written += one.preds_written;
        out->preds_dropped += one.preds_dropped;
        out->cache_writes += one.cache_writes;
        out->pred_lookups += one.pred_lookups;
        out->reply_errors += one.reply_errors;
        out->batches_failed += one.batches_failed;
    }
    pthread_mutex_unlock(&s->mu);
}
