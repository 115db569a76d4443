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
    pthread_mutex_t mu;                  /* guards stores[] (registration and stats) */
    RedisStore *stores[2 * MAX_THREADS]; /* each thread's two, for the stats */
};

/* The cache keys of one batch and its look-up's results. The keys are made once,
 * before the model, and written with the scores after it. */
typedef struct {
    const PipelineTweet *tweets; /* the batch of these keys: (tweets, n); NULL: none */
    int n;
    int started;       /* its look-up was sent ahead (store_lookahead) */
    char *keybuf;      /* (max_batch, STORE_CACHE_KEY_MAX + 1) */
    const char **keys; /* (max_batch) into keybuf */
    size_t *lens;
    float *p;
    uint8_t *hit;
} KeySlot;

/* One inference thread's stores and batch arrays: two key slots, the batch being
 * scored (cur) and the next one, whose look-up runs meanwhile. Look-ups and writes go
 * over two connections, each with one exchange in flight: the look-up of batch k+1
 * is sent and the write of batch k-1 still unread while the model scores batch k, and
 * neither waits for the other. */
typedef struct {
    PipelineStore *owner;
    int index;
    RedisStore *lookup, *writer;
    KeySlot slot[2];
    int cur; /* the slot of the batch between before_score and after_score */
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
    t->lookup = store_new(&o, err, sizeof err);
    t->writer = t->lookup ? store_new(&o, err, sizeof err) : NULL;
    if (!t->writer) util_die("redis store: %s", err); /* the URL was checked at start-up */
    t->cap = s->max_batch;
    for (int k = 0; k < 2; k++) {
        KeySlot *ks = &t->slot[k];
        ks->keybuf = mallocCheck((size_t)t->cap * (STORE_CACHE_KEY_MAX + 1));
        ks->keys = callocCheck((size_t)t->cap, sizeof *ks->keys);
        ks->lens = callocCheck((size_t)t->cap, sizeof *ks->lens);
        ks->p = callocCheck((size_t)t->cap, sizeof *ks->p);
        ks->hit = callocCheck((size_t)t->cap, sizeof *ks->hit);
    }
    t->recs = callocCheck((size_t)t->cap, sizeof *t->recs);
    if (index >= 0 && index < MAX_THREADS) {
        pthread_mutex_lock(&s->mu);
        s->stores[2 * index] = t->lookup;
        s->stores[2 * index + 1] = t->writer;
        pthread_mutex_unlock(&s->mu);
    }
    return t;
}

static void store_thread_free(void *ctx, void *state) {
    PipelineStore *s = ctx;
    StoreThread *t = state;
    if (t->index >= 0 && t->index < MAX_THREADS) {
        pthread_mutex_lock(&s->mu);
        s->stores[2 * t->index] = NULL;
        s->stores[2 * t->index + 1] = NULL;
        pthread_mutex_unlock(&s->mu);
    }
    store_free(t->lookup);
    store_free(t->writer);
    for (int k = 0; k < 2; k++) {
        free(t->slot[k].keybuf);
        free(t->slot[k].keys);
        free(t->slot[k].lens);
        free(t->slot[k].p);
        free(t->slot[k].hit);
    }
    free(t->recs);
    free(t);
}

/* Makes the cache keys of (tweets, n) in slot k. */
static void keys_make(StoreThread *t, int k, const PipelineTweet *tweets, int n) {
    KeySlot *ks = &t->slot[k];
    for (int i = 0; i < n; i++) {
        char *key = ks->keybuf + (size_t)i * (STORE_CACHE_KEY_MAX + 1);
        ks->keys[i] = key;
        ks->lens[i] = (size_t)store_cache_key(t->lookup, tweets[i].key, tweets[i].key_len, key,
                                              STORE_CACHE_KEY_MAX + 1); /* always fits */
    }
    ks->tweets = tweets;
    ks->n = n;
    ks->started = 0;
}

/* Before the model: the batch's look-up, sent ahead by store_lookahead or now. */
static void store_before(void *ctx, void *state, PipelineTweet *tweets, int n) {
    (void)ctx;
    StoreThread *t = state;
    if (n > t->cap) n = t->cap;
    int k = t->slot[0].started && t->slot[0].tweets == tweets && t->slot[0].n == n   ? 0
            : t->slot[1].started && t->slot[1].tweets == tweets && t->slot[1].n == n ? 1
                                                                                     : -1;
    int hits;
    if (k >= 0) {
        hits = store_cache_get_finish(t->lookup);
    } else {
        /* no look-up was sent ahead for this batch (the first one, or after idle):
         * whatever one another slot holds is stale */
        k = 0;
        t->slot[1].started = 0;
        keys_make(t, k, tweets, n);
        hits = store_cache_get_keys(t->lookup, t->slot[k].keys, t->slot[k].lens, n, t->slot[k].p,
                                    t->slot[k].hit);
    }
    KeySlot *ks = &t->slot[k];
    ks->started = 0;
    t->cur = k;
    if (hits <= 0) return;
    for (int i = 0; i < n; i++)
        if (ks->hit[i]) {
            tweets[i].cached = 1;
            tweets[i].p_positive = ks->p[i];
        }
}

/* The next batch is ready: its look-up runs while the model scores this one. */
static void store_lookahead(void *ctx, void *state, const PipelineTweet *next, int n) {
    (void)ctx;
    StoreThread *t = state;
    if (n > t->cap) n = t->cap;
    int k = !t->cur;
    keys_make(t, k, next, n);
    KeySlot *ks = &t->slot[k];
    store_cache_get_start(t->lookup, ks->keys, ks->lens, n, ks->p, ks->hit);
    ks->started = 1;
}

static void store_after(void *ctx, void *state, const PipelineTweet *tweets, int n) {
    (void)ctx;
    StoreThread *t = state;
    if (n > t->cap) n = t->cap;
    KeySlot *ks = &t->slot[t->cur];
    int keyed = tweets == ks->tweets && n == ks->n; /* else store_put hashes the texts */
    ks->tweets = NULL;
    store_flush(t->writer); /* the write in flight reads recs[] when its replies come */
    for (int i = 0; i < n; i++) {
        const PipelineTweet *tw = &tweets[i];
        t->recs[i] = (StoreRecord){.id = tw->id,
                                   .id_len = tw->id_len,
                                   .norm_text = tw->cached ? NULL : tw->key,
                                   .norm_len = tw->key_len,
                                   .cache_key = keyed ? ks->keys[i] : NULL,
                                   .cache_key_len = keyed ? ks->lens[i] : 0,
                                   .p_positive = tw->p_positive,
                                   .positive = (uint8_t)(tw->p_positive >= 0.5f),
                                   .scored_at_ms = tw->scored_at_ms,
                                   .text = tw->text, /* raw: what `feedback export` gives `train` */
                                   .text_len = tw->text_len};
    }
    store_put_start(t->writer, t->recs, n); /* replies read by the next batch's, or idle */
}

static void store_idle(void *ctx, void *state) {
    (void)ctx;
    StoreThread *t = state;
    store_flush(t->lookup);
    store_flush(t->writer);
}

PipelineHooks pipeline_store_hooks(PipelineStore *s) {
    return (PipelineHooks){.ctx = s,
                           .thread_init = store_thread_init,
                           .thread_free = store_thread_free,
                           .before_score = store_before,
                           .lookahead = store_lookahead,
                           .after_score = store_after,
                           .idle = store_idle};
}

void pipeline_store_stats(PipelineStore *s, StoreStats *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < 2 * MAX_THREADS; i++) {
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
