/* pipeline.c — the poll loop, the inference work and the delivery reports of the
 * stream worker (see pipeline.h). */
#include "worker/pipeline.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consumers/consumer.h"
#include "model/util.h"
#include "producers/scored_event.h"
#include "worker/batcher.h"
#include "worker/cpus.h"
#include "worker/log.h"
#include "worker/offsets.h"
#include "worker/pool.h"

#define NREASONS (PIPELINE_PRODUCE_FAILED + 1)

struct Pipeline {
    const WorkerConfig *cfg;
    const Classifier *model;
    PipelineHooks hooks[PIPELINE_MAX_HOOKS];
    int nhooks;

    Consumer *consumer;
    Producer *producer;
    OffsetTracker *offsets;
    Batcher *batcher;
    PoolWork work;
    CpuList cpus; /* --inference-cpus (n == 0: threads not pinned) */

    pthread_t delivery_thread;
    atomic_int delivery_stop;
    atomic_int fatal;   /* an unrecoverable error: stop, commit nothing more */
    atomic_int closing; /* shutting down: revocations do not wait any more */

    /* counters (pipeline_stats) */
    atomic_ullong consumed, scored, cache_hits, batches, acknowledged;
    atomic_ullong dead_letters[NREASONS];
    atomic_int reading;
};

static const char *reason_name(int r) {
    return r == PIPELINE_PRODUCE_FAILED ? "produce_failed" : tweet_reason(r);
}

static void set_fatal(Pipeline *p, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_fatal(Pipeline *p, const char *event, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_event(LOG_ERROR, event, NULL, "%s", msg);
    atomic_store(&p->fatal, 1);
}

/* ---- dead letters and delivery reports --------------------------------------------- */

/* Sends an input message to the dead-letter topic; its report will mark it done. */
static void dead_letter(Pipeline *p, rd_kafka_message_t *m, int reason) {
    DeadLetter d = {
        m->key,       m->key_len, m->payload, m->len, reason_name(reason), rd_kafka_topic_name(m->rkt),
        m->partition, m->offset};
    rd_kafka_resp_err_t err = producer_dead_letter(p->producer, &d, m);
    if (err) {
        set_fatal(p, "dead_letter_failed", "cannot enqueue a dead letter for %s/%" PRId32 "/%" PRId64 ": %s",
                  d.topic, m->partition, m->offset, rd_kafka_err2str(err));
        rd_kafka_message_destroy(m); /* never done: its offset is not committed */
        return;
    }
    atomic_fetch_add(&p->dead_letters[reason], 1);
}

/* Delivery reports, on the delivery thread (or the shutdown's flush). */
static void on_delivery(void *ctx, ProducedKind kind, void *opaque, rd_kafka_resp_err_t err) {
    Pipeline *p = ctx;
    if (kind == PRODUCED_ALERT || kind == PRODUCED_OTHER) {
        if (err) {
            const char *what = kind == PRODUCED_ALERT ? "alert" : "message";
            const char *kv[] = {"error", rd_kafka_err2name(err), NULL};
            log_event(LOG_WARN, kind == PRODUCED_ALERT ? "alert_failed" : "produce_failed", kv,
                      "%s not delivered: %s", what, rd_kafka_err2str(err));
        }
        return;
    }
    rd_kafka_message_t *m = opaque; /* the input message */
    if (!m) {                       /* a dead letter of another topic (pipeline_producer): nothing to track */
        if (err) {
            const char *kv[] = {"error", rd_kafka_err2name(err), NULL};
            log_event(LOG_ERROR, "dead_letter_failed", kv, "dead letter not delivered: %s",
                      rd_kafka_err2str(err));
        }
        return;
    }
    if (!err) {
        offsets_done(p->offsets, m->partition, m->offset);
        atomic_fetch_add(&p->acknowledged, 1);
        rd_kafka_message_destroy(m);
    } else if (err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
        rd_kafka_message_destroy(m); /* abandoned at shutdown: scored again after a restart */
    } else if (kind == PRODUCED_SCORED) {
        char where[64];
        snprintf(where, sizeof where, "%" PRId32 "/%" PRId64, m->partition, m->offset);
        const char *kv[] = {"error", rd_kafka_err2name(err), "source", where, NULL};
        log_event(LOG_ERROR, "produce_failed", kv, "scored event refused (%s): dead-lettering the tweet",
                  rd_kafka_err2str(err));
        dead_letter(p, m, PIPELINE_PRODUCE_FAILED);
    } else {
        set_fatal(p, "dead_letter_failed", "dead letter for %s/%" PRId32 "/%" PRId64 " refused: %s",
                  rd_kafka_topic_name(m->rkt), m->partition, m->offset, rd_kafka_err2str(err));
        rd_kafka_message_destroy(m);
    }
}

static void *delivery_main(void *arg) {
    Pipeline *p = arg;
    while (!atomic_load(&p->delivery_stop)) producer_poll(p->producer, 100);
    return NULL;
}

/* ---- inference threads ------------------------------------------------------------- */

/* One batch: its decoded tweets, their input messages and the model's batch (with
 * the tokens). A thread has two: while one is scored, the other is filled. */
typedef struct {
    ClassifierBatch *cb;
    PipelineTweet *tweets;     /* (max_batch) */
    rd_kafka_message_t **msgs; /* (max_batch) input message of each tweet */
    double *pushed_s;          /* (max_batch) */
    char *arena;               /* decoded ids and texts */
    size_t used;
    int n;
} Batch;

typedef struct {
    Pipeline *p;
    Batch batch[2];
    int filling;      /* the batch decoded into */
    int held;         /* batch[!filling] is prepared and waits to be scored */
    size_t arena_cap; /* of each batch */
    char *event;      /* one encoded scored event */
    size_t event_cap;
    void *hook_state[PIPELINE_MAX_HOOKS];
} InferenceThread;

static void *inference_init(void *ctx, int index) {
    Pipeline *p = ctx;
    const WorkerConfig *cfg = p->cfg;
    InferenceThread *t = callocCheck(1, sizeof *t);
    t->p = p;
    if (p->cpus.n) {
        char err[256];
        if (cpus_pin(pthread_self(), p->cpus.cpu[index % p->cpus.n], err, sizeof err))
            log_event(LOG_WARN, "inference_not_pinned", NULL, "inference thread %d: %s", index, err);
    }
    size_t one = tweet_decode_bound((size_t)cfg->max_message_bytes);
    t->arena_cap = (size_t)cfg->batch_max * 2048;
    if (t->arena_cap < one) t->arena_cap = one;
    for (int b = 0; b < 2; b++) {
        Batch *bt = &t->batch[b];
        bt->cb = classifier_batch_new(p->model, cfg->batch_max);
        bt->tweets = callocCheck((size_t)cfg->batch_max, sizeof *bt->tweets);
        bt->msgs = callocCheck((size_t)cfg->batch_max, sizeof *bt->msgs);
        bt->pushed_s = callocCheck((size_t)cfg->batch_max, sizeof *bt->pushed_s);
        bt->arena = mallocCheck(t->arena_cap);
    }
    /* the largest event: an id of TWEET_ID_MAX and a text as long as a repair can make it */
    ScoredEvent worst = {.id_len = TWEET_ID_MAX,
                         .text_len = one,
                         .model = classifier_kind(p->model),
                         .model_version = classifier_version(p->model),
                         .topic = cfg->topic_in};
    t->event_cap = scored_event_bound(&worst);
    t->event = mallocCheck(t->event_cap);
    for (int h = 0; h < p->nhooks; h++)
        if (p->hooks[h].thread_init) t->hook_state[h] = p->hooks[h].thread_init(p->hooks[h].ctx, index);
    return t;
}

static void inference_free(void *ctx, void *scratch) {
    Pipeline *p = ctx;
    InferenceThread *t = scratch;
    for (int h = 0; h < p->nhooks; h++)
        if (p->hooks[h].thread_free) p->hooks[h].thread_free(p->hooks[h].ctx, t->hook_state[h]);
    for (int b = 0; b < 2; b++) {
        Batch *bt = &t->batch[b];
        classifier_batch_free(bt->cb);
        free(bt->tweets);
        free(bt->msgs);
        free(bt->pushed_s);
        free(bt->arena);
    }
    free(t->event);
    free(t);
}

/* Tokenises a decoded batch: the model's input, and each tweet's tokens and key. */
static void batch_prepare(Batch *b) {
    ClassifierBatch *cb = b->cb;
    classifier_batch_reset(cb);
    for (int j = 0; j < b->n; j++) {
        PipelineTweet *tw = &b->tweets[j];
        int slot = classifier_batch_add(cb, tw->text, tw->text_len); /* == j: the batch holds batch_max */
        tw->tokens = classifier_batch_ntokens(cb, slot);
        tw->oov = classifier_batch_noov(cb, slot);
        tw->key = classifier_batch_key(cb, slot, &tw->key_len);
        tw->cached = 0;
    }
}

/* Scores a prepared batch and produces its events; `next`, when not NULL, is the
 * prepared batch to be scored after it (its hooks' lookahead runs meanwhile). */
static void score_and_send(InferenceThread *t, Batch *b, const Batch *next) {
    Pipeline *p = t->p;
    ClassifierBatch *cb = b->cb;
    const int n = b->n;
    for (int h = 0; h < p->nhooks; h++)
        if (p->hooks[h].before_score)
            p->hooks[h].before_score(p->hooks[h].ctx, t->hook_state[h], b->tweets, n);
    for (int h = 0; next && h < p->nhooks; h++)
        if (p->hooks[h].lookahead)
            p->hooks[h].lookahead(p->hooks[h].ctx, t->hook_state[h], next->tweets, next->n);
    int hits = 0;
    for (int j = 0; j < n; j++)
        if (b->tweets[j].cached) {
            classifier_batch_set(cb, j, b->tweets[j].p_positive);
            hits++;
        }
    classifier_batch_score(cb);
    int64_t scored_at = util_wall_ms();
    for (int j = 0; j < n; j++) {
        if (!b->tweets[j].cached) b->tweets[j].p_positive = classifier_batch_p(cb, j);
        b->tweets[j].scored_at_ms = scored_at;
    }
    for (int h = 0; h < p->nhooks; h++)
        if (p->hooks[h].after_score) p->hooks[h].after_score(p->hooks[h].ctx, t->hook_state[h], b->tweets, n);

    const char *kind = classifier_kind(p->model), *version = classifier_version(p->model);
    for (int j = 0; j < n; j++) {
        const PipelineTweet *tw = &b->tweets[j];
        rd_kafka_message_t *m = b->msgs[j];
        ScoredEvent e = {tw->id,
                         tw->id_len,
                         tw->text,
                         tw->text_len,
                         tw->p_positive,
                         kind,
                         version,
                         tw->tokens,
                         tw->oov,
                         scored_at,
                         (util_now_s() - b->pushed_s[j]) * 1000.0,
                         rd_kafka_topic_name(m->rkt),
                         m->partition,
                         m->offset};
        size_t len = scored_event_encode(&e, t->event, t->event_cap);
        rd_kafka_resp_err_t err = len ? producer_scored(p->producer, tw->id, tw->id_len, t->event, len, m)
                                      : RD_KAFKA_RESP_ERR__FAIL;
        if (err) {
            const char *kv[] = {"error", rd_kafka_err2name(err), NULL};
            log_event(LOG_ERROR, "produce_failed", kv, "cannot enqueue a scored event: %s",
                      rd_kafka_err2str(err));
            dead_letter(p, m, PIPELINE_PRODUCE_FAILED);
        }
    }
    for (int h = 0; h < p->nhooks; h++)
        if (p->hooks[h].after_send) p->hooks[h].after_send(p->hooks[h].ctx, t->hook_state[h], b->tweets, n);
    atomic_fetch_add(&p->scored, (unsigned long long)n);
    atomic_fetch_add(&p->cache_hits, (unsigned long long)hits);
    atomic_fetch_add(&p->batches, 1);
}

/* The filled batch is complete: prepare it, then score the one held before it (with
 * this one as its lookahead) and hold this one in its place. */
static void batch_complete(InferenceThread *t) {
    Batch *b = &t->batch[t->filling];
    if (b->n == 0) return;
    batch_prepare(b);
    Batch *held = &t->batch[!t->filling];
    if (t->held) score_and_send(t, held, b);
    t->held = 1;
    t->filling = !t->filling;
    t->batch[t->filling].n = 0;
    t->batch[t->filling].used = 0;
}

/* The pool's idle: score the held batch, then let the hooks finish their I/O. */
static void inference_idle(void *ctx, void *scratch) {
    Pipeline *p = ctx;
    InferenceThread *t = scratch;
    if (t->held) score_and_send(t, &t->batch[!t->filling], NULL);
    t->held = 0;
    for (int h = 0; h < p->nhooks; h++)
        if (p->hooks[h].idle) p->hooks[h].idle(p->hooks[h].ctx, t->hook_state[h]);
}

/* The pool's work: decode the popped messages, dead-letter the bad ones, make batches
 * of the rest (a batch ends early when its arena cannot take the next tweet). The last
 * batch completed is held: the next work or idle scores it. */
static void inference_work(void *ctx, void *scratch, void **items, const double *pushed_s, int n) {
    Pipeline *p = ctx;
    InferenceThread *t = scratch;
    const size_t max_bytes = (size_t)p->cfg->max_message_bytes;
    for (int i = 0; i < n; i++) {
        rd_kafka_message_t *m = items[i];
        size_t need = tweet_decode_bound(m->len);
        Batch *b = &t->batch[t->filling];
        if (m->len <= max_bytes && (b->n == p->cfg->batch_max || b->used + need > t->arena_cap)) {
            batch_complete(t);
            b = &t->batch[t->filling];
        }
        Tweet tw;
        TweetStatus st =
            tweet_decode(m->payload, m->len, max_bytes, &tw, b->arena + b->used, t->arena_cap - b->used);
        if (st != TWEET_OK) {
            dead_letter(p, m, st);
            continue;
        }
        int k = b->n;
        b->tweets[k] = (PipelineTweet){.id = tw.id,
                                       .id_len = tw.id_len,
                                       .text = tw.text,
                                       .text_len = tw.text_len,
                                       .timestamp_ms = rd_kafka_message_timestamp(m, NULL) > 0
                                                           ? rd_kafka_message_timestamp(m, NULL)
                                                           : 0};
        b->msgs[k] = m;
        b->pushed_s[k] = pushed_s[i];
        b->used += tw.id_len + 1 + tw.text_len + 1;
        b->n++;
    }
    batch_complete(t);
}

/* ---- the poll thread --------------------------------------------------------------- */

/* Stores every advanced watermark for the next commit. */
static void store_offsets(Pipeline *p) {
    OffsetCommit c[64];
    int n;
    do {
        n = offsets_collect(p->offsets, c, 64);
        for (int i = 0; i < n; i++) consumer_store(p->consumer, c[i].partition, c[i].next);
    } while (n == 64);
}

/* The partitions of the input topic in a list, into a new array (*n of them). */
static int32_t *input_partitions(Pipeline *p, const rd_kafka_topic_partition_list_t *parts, int *n) {
    int32_t *out = mallocCheck((size_t)(parts->cnt ? parts->cnt : 1) * sizeof *out);
    *n = 0;
    for (int i = 0; i < parts->cnt; i++)
        if (!strcmp(parts->elems[i].topic, p->cfg->topic_in)) out[(*n)++] = parts->elems[i].partition;
    return out;
}

static void on_assign(void *ctx, const rd_kafka_topic_partition_list_t *parts) {
    Pipeline *p = ctx;
    int n;
    int32_t *ps = input_partitions(p, parts, &n);
    for (int i = 0; i < n; i++) offsets_forget(p->offsets, ps[i]); /* a new generation starts afresh */
    free(ps);
}

/* Finish (or, past the timeout, abandon) the in-flight work of revoked partitions
 * and store what was acknowledged; the consumer commits next. */
static void on_revoke(void *ctx, const rd_kafka_topic_partition_list_t *parts, int lost) {
    Pipeline *p = ctx;
    int n;
    int32_t *ps = input_partitions(p, parts, &n);
    if (!lost && !atomic_load(&p->closing)) {
        double t0 = util_now_s();
        int rc = offsets_wait_drained(p->offsets, ps, n, p->cfg->revoke_timeout_ms);
        int64_t left = 0;
        for (int i = 0; i < n; i++) left += offsets_pending(p->offsets, ps[i]);
        char ms[32], nleft[32];
        snprintf(ms, sizeof ms, "%.1f", (util_now_s() - t0) * 1000.0);
        snprintf(nleft, sizeof nleft, "%" PRId64, left);
        const char *kv[] = {"waited_ms", ms, "abandoned", nleft, NULL};
        if (rc)
            log_event(
                LOG_WARN, "revoke_abandoned", kv,
                "%s in-flight tweets of revoked partitions abandoned after %s ms: they will be scored again",
                nleft, ms);
        else
            log_event(LOG_DEBUG, "revoke_drained", kv,
                      "in-flight work of revoked partitions drained in %s ms", ms);
    }
    store_offsets(p);
    for (int i = 0; i < n; i++) offsets_forget(p->offsets, ps[i]);
    free(ps);
}

/* librdkafka's statistics, to every hook that wants them. */
static void on_kafka_stats(void *ctx, const char *json, size_t len) {
    Pipeline *p = ctx;
    for (int h = 0; h < p->nhooks; h++)
        if (p->hooks[h].kafka_stats) p->hooks[h].kafka_stats(p->hooks[h].ctx, json, len);
}

Pipeline *pipeline_new(const WorkerConfig *cfg, const Classifier *model, const char *bootstrap,
                       const PipelineHooks *hooks, int nhooks, char *err, size_t errlen) {
    if (nhooks < 0 || nhooks > PIPELINE_MAX_HOOKS) {
        snprintf(err, errlen, "at most %d pipeline hooks", PIPELINE_MAX_HOOKS);
        return NULL;
    }
    Pipeline *p = callocCheck(1, sizeof *p);
    p->cfg = cfg;
    p->model = model;
    p->nhooks = nhooks;
    if (nhooks) memcpy(p->hooks, hooks, (size_t)nhooks * sizeof *hooks);
    atomic_store(&p->reading, 1);
    if (cfg->inference_cpus && *cfg->inference_cpus && cpus_parse(cfg->inference_cpus, &p->cpus, err, errlen))
        goto fail;

    rd_kafka_conf_t *pconf = config_kafka_conf(cfg, KAFKA_PRODUCER, bootstrap, err, errlen);
    if (!pconf) goto fail;
    ProducerOptions po = {cfg->topic_out, cfg->topic_dlq, cfg->topic_alerts, on_delivery, p, 10000};
    p->producer = producer_new(pconf, &po, err, errlen);
    if (!p->producer) goto fail;

    p->offsets = offsets_new(cfg->max_inflight < 4096 ? cfg->max_inflight : 4096);
    /* room for every tweet in flight, and for the few a redirection race may add */
    p->batcher = batcher_new(cfg->max_inflight + 1024, cfg->batch_max, cfg->batch_wait_ms);
    p->work = (PoolWork){p, inference_init, inference_work, inference_idle, inference_free};

    rd_kafka_conf_t *cconf = config_kafka_conf(cfg, KAFKA_CONSUMER, bootstrap, err, errlen);
    if (!cconf) goto fail;
    int want_stats = 0;
    for (int h = 0; h < nhooks; h++) want_stats |= hooks[h].kafka_stats != NULL;
    char interval[32] = "0";
    size_t ilen = sizeof interval;
    if (want_stats &&
        rd_kafka_conf_get(cconf, "statistics.interval.ms", interval, &ilen) == RD_KAFKA_CONF_OK &&
        !strcmp(interval, "0"))
        rd_kafka_conf_set(cconf, "statistics.interval.ms", "1000", interval, sizeof interval);
    ConsumerHooks ch = {p, on_assign, on_revoke, want_stats ? on_kafka_stats : NULL};
    p->consumer = consumer_new(cconf, cfg->topic_in, &ch, err, errlen);
    if (!p->consumer) goto fail;
    return p;
fail:
    pipeline_free(p);
    return NULL;
}

void pipeline_free(Pipeline *p) {
    if (!p) return;
    consumer_free(p->consumer);
    producer_free(p->producer);
    batcher_free(p->batcher);
    offsets_free(p->offsets);
    free(p);
}

Producer *pipeline_producer(Pipeline *p) { return p->producer; }

void pipeline_stats(Pipeline *p, PipelineStats *out) {
    memset(out, 0, sizeof *out);
    out->consumed = atomic_load(&p->consumed);
    out->scored = atomic_load(&p->scored);
    out->cache_hits = atomic_load(&p->cache_hits);
    out->batches = atomic_load(&p->batches);
    out->acknowledged = atomic_load(&p->acknowledged);
    for (int r = 0; r < NREASONS; r++) out->dead_letters[r] = atomic_load(&p->dead_letters[r]);
    out->inflight = offsets_pending_total(p->offsets);
    out->assigned = p->consumer ? consumer_assigned(p->consumer) : 0;
    out->reading = atomic_load(&p->reading);
}

/* One "stats" log line: totals and the rate since the previous line. */
static void log_stats(Pipeline *p, double elapsed_s, uint64_t *last_scored) {
    PipelineStats s;
    pipeline_stats(p, &s);
    uint64_t dead = 0;
    for (int r = 0; r < NREASONS; r++) dead += s.dead_letters[r];
    char consumed[24], scored[24], dl[24], hits[24], inflight[24], assigned[16], rate[32], batch[32];
    snprintf(consumed, sizeof consumed, "%" PRIu64, s.consumed);
    snprintf(scored, sizeof scored, "%" PRIu64, s.scored);
    snprintf(dl, sizeof dl, "%" PRIu64, dead);
    snprintf(hits, sizeof hits, "%" PRIu64, s.cache_hits);
    snprintf(inflight, sizeof inflight, "%" PRId64, s.inflight);
    snprintf(assigned, sizeof assigned, "%d", s.assigned);
    snprintf(rate, sizeof rate, "%.1f", elapsed_s > 0 ? (double)(s.scored - *last_scored) / elapsed_s : 0.0);
    snprintf(batch, sizeof batch, "%.1f", s.batches ? (double)s.scored / (double)s.batches : 0.0);
    const char *kv[] = {"consumed", consumed, "scored",   scored,   "dead_letters", dl,   "cache_hits", hits,
                        "inflight", inflight, "assigned", assigned, "scored_per_s", rate, "mean_batch", batch,
                        NULL};
    log_event(LOG_INFO, "stats", kv, "%s scored (%s/s), %s dead letters, %s in flight", scored, rate, dl,
              inflight);
    *last_scored = s.scored;
}

/* Registers a consumed message and queues it for scoring. */
static void accept_message(Pipeline *p, rd_kafka_message_t *m) {
    if (offsets_begin(p->offsets, m->partition, m->offset) == 1) {
        char where[64];
        snprintf(where, sizeof where, "%" PRId32 "/%" PRId64, m->partition, m->offset);
        const char *kv[] = {"source", where, NULL};
        log_event(LOG_INFO, "partition_rewound", kv, "partition %" PRId32 " went back to offset %" PRId64,
                  m->partition, m->offset);
    }
    atomic_fetch_add(&p->consumed, 1);
    while (batcher_push(p->batcher, m) != 0) nanosleep(&(struct timespec){0, 1000000L}, NULL);
}

static int fatal_kafka(Pipeline *p) {
    char reason[512];
    if (producer_fatal(p->producer, reason, sizeof reason) ||
        consumer_fatal(p->consumer, reason, sizeof reason))
        atomic_store(&p->fatal, 1);
    return atomic_load(&p->fatal);
}

int pipeline_run(Pipeline *p, const atomic_int *stop) {
    const WorkerConfig *cfg = p->cfg;
    int rc = pthread_create(&p->delivery_thread, NULL, delivery_main, p);
    if (rc) util_die("cannot start the delivery thread: %s", strerror(rc));
    pthread_setname_np(p->delivery_thread, "bz:delivery");
    Pool *pool = pool_start(cfg->threads, cfg->batch_max, p->batcher, &p->work);
    {
        char threads[16], batch[16], wait[16];
        snprintf(threads, sizeof threads, "%d", cfg->threads);
        snprintf(batch, sizeof batch, "%d", cfg->batch_max);
        snprintf(wait, sizeof wait, "%d", cfg->batch_wait_ms);
        const char *kv[] = {"topic",
                            cfg->topic_in,
                            "group",
                            cfg->group,
                            "threads",
                            threads,
                            "batch_max",
                            batch,
                            "batch_wait_ms",
                            wait,
                            "model",
                            classifier_kind(p->model),
                            "model_version",
                            classifier_version(p->model),
                            NULL};
        log_event(LOG_INFO, "pipeline_started", kv, "consuming %s as group %s with %s inference threads",
                  cfg->topic_in, cfg->group, threads);
    }

    double last_stats = util_now_s();
    uint64_t last_scored = 0;
    int unflushed = 0; /* messages pushed since the batcher was last flushed */
    while (!atomic_load(stop) && !fatal_kafka(p)) {
        int room = offsets_pending_total(p->offsets) < cfg->max_inflight;
        if (room != atomic_load(&p->reading)) {
            atomic_store(&p->reading, room);
            log_event(LOG_DEBUG, room ? "reading_resumed" : "reading_paused", NULL,
                      room ? "below max in-flight: reading again" : "max in-flight reached: reading paused");
        }
        /* While messages keep coming, take them without waiting; once the fetched ones
         * are all pushed, flush the batcher: the next messages are a fetch away, so a
         * partial batch gains nothing by waiting for them. */
        rd_kafka_message_t *m = consumer_poll(p->consumer, room, room && !unflushed ? 100 : 0);
        if (m) {
            accept_message(p, m);
            unflushed++;
        } else if (unflushed) {
            batcher_flush(p->batcher);
            unflushed = 0;
        }
        if (!room) offsets_wait_below(p->offsets, cfg->max_inflight, 50);
        store_offsets(p);
        double now = util_now_s();
        if (cfg->stats_interval_s > 0 && now - last_stats >= cfg->stats_interval_s) {
            log_stats(p, now - last_stats, &last_scored);
            last_stats = now;
        }
    }

    /* Drain: score what was read, wait for its acknowledgements, commit, leave. */
    double t0 = util_now_s();
    log_event(LOG_INFO, "pipeline_draining", NULL, "stopping: draining in-flight tweets");
    batcher_close(p->batcher);
    pool_join(pool);
    double deadline = t0 + cfg->drain_timeout_ms / 1000.0;
    while (offsets_pending_total(p->offsets) > 0 && util_now_s() < deadline && !atomic_load(&p->fatal)) {
        rd_kafka_message_t *m = consumer_poll(p->consumer, 0, 0); /* keep the membership alive */
        if (m) rd_kafka_message_destroy(m);                       /* read after the stop: left for later */
        offsets_wait_below(p->offsets, 1, 50);
        store_offsets(p);
    }
    atomic_store(&p->delivery_stop, 1);
    pthread_join(p->delivery_thread, NULL);
    int64_t left = offsets_pending_total(p->offsets);
    int status = atomic_load(&p->fatal) ? 1 : 0;
    if (left > 0 || producer_flush(p->producer, 1000)) {
        char n[24];
        snprintf(n, sizeof n, "%" PRId64, left);
        const char *kv[] = {"unacknowledged", n, NULL};
        log_event(LOG_WARN, "drain_incomplete", kv,
                  "%s tweets not acknowledged: their offsets are not committed, they will be scored again",
                  n);
        producer_purge(p->producer);
        producer_flush(p->producer, 5000); /* serves the purge reports: every input message is released */
        status = 1;
    }
    atomic_store(&p->closing, 1);
    store_offsets(p);
    if (!atomic_load(&p->fatal)) consumer_commit(p->consumer);
    consumer_close(p->consumer);
    log_stats(p, util_now_s() - last_stats, &last_scored);
    char ms[32];
    snprintf(ms, sizeof ms, "%.0f", (util_now_s() - t0) * 1000.0);
    const char *kv[] = {"drain_ms", ms, NULL};
    log_event(status ? LOG_WARN : LOG_INFO, "pipeline_stopped", kv, "stopped after draining for %s ms", ms);
    return status;
}
