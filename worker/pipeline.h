/* pipeline.h — the stream worker's pipeline: Kafka in, batched scoring on a pool of
 * inference threads, Kafka out, with at-least-once delivery and nothing lost.
 *
 *   poll thread        consumer_poll -> offsets_begin -> batcher_push
 *   inference threads  batcher_pop -> tweet_decode (invalid: producer_dead_letter) ->
 *                      tokenise -> then the batch before it: [hooks.before] ->
 *                      [hooks.lookahead: this batch] -> model -> [hooks.after] ->
 *                      producer_scored; with nothing ready: score it, [hooks.idle]
 *   delivery thread    producer_poll -> delivery report -> offsets_done
 *   poll thread        offsets_collect -> consumer_store (auto-commit commits it)
 *
 * Delivery: an input offset is stored only when its scored event (or dead letter)
 * was acknowledged by the broker, and only as the contiguous low watermark of its
 * partition (worker/offsets.h). A scored event the broker refuses for good goes to
 * the dead-letter topic as `produce_failed`; a dead letter refused for good stops
 * the worker (exit 1) with nothing stored past it.
 *
 * Backpressure: at most cfg->max_inflight tweets are consumed and not yet
 * acknowledged; beyond it the poll thread stops taking messages but keeps serving
 * the consumer's events (consumer.h), so max.poll.interval.ms is never exceeded.
 *
 * Shutdown (pipeline_run returns after *stop becomes non-zero): stop reading, score
 * what was read, wait for its acknowledgements (up to cfg->drain_timeout_ms), store
 * and commit, leave the group.
 *
 * Memory: everything a batch needs (decoded tweets, model scratch, the encoded
 * event) is preallocated per inference thread; scoring allocates nothing beyond
 * librdkafka's copy of each produced message and cJSON's parse of each input. */
#ifndef BUZZRADAR_PIPELINE_H
#define BUZZRADAR_PIPELINE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "consumers/tweet.h"
#include "model/classifier.h"
#include "producers/producer.h"
#include "worker/config.h"

/* One tweet of a batch, as the hooks see it. */
typedef struct {
    const char *id; /* valid UTF-8, NUL-terminated */
    size_t id_len;
    const char *text; /* the tweet's text (repaired UTF-8), NUL-terminated */
    size_t text_len;
    const char *key; /* normalised text (classifier_batch_key): keys a score cache */
    size_t key_len;
    int tokens, oov;      /* tokens the model sees, and how many it does not know */
    float p_positive;     /* after scoring; set by before_score on a cache hit */
    int cached;           /* before_score: 1 when p_positive came from a cache */
    int64_t scored_at_ms; /* after scoring: wall clock */
    int64_t timestamp_ms; /* the input message's Kafka timestamp (ms since the epoch), 0 if none */
} PipelineTweet;

/* Optional per-batch stages around the model (the Redis cache and prediction store,
 * the monitor's windows). Each inference thread gets its own state from
 * thread_init. Hooks must not block for long: scoring waits for them.
 *
 * Under load an inference thread prepares (decodes, tokenises) the next batch before
 * it scores the current one, so that a hook can start the next batch's I/O while the
 * model runs. Per batch, in this order: before_score(batch); lookahead(next batch)
 * when one is prepared; the model; after_score(batch); the scored events are
 * produced; after_send(batch). idle() when the thread has nothing more to score.
 * A lookahead(next, n) is always followed, on the same thread and before any other
 * batch, by before_score(next, n): the same array, its memory unchanged until that
 * batch's after_send. */
typedef struct {
    void *ctx;
    void *(*thread_init)(void *ctx, int thread_index); /* may be NULL */
    void (*thread_free)(void *ctx, void *state);       /* may be NULL */
    /* Before the model: may set cached = 1 and p_positive for some tweets. */
    void (*before_score)(void *ctx, void *state, PipelineTweet *tweets, int n);
    /* The batch this thread scores next (tweets with their key; the same array and n
     * are its before_score's): work for it may start now. May be NULL. */
    void (*lookahead)(void *ctx, void *state, const PipelineTweet *next, int n);
    /* Nothing is left to score for now: finish what was started. May be NULL. */
    void (*idle)(void *ctx, void *state);
    /* After the model: every tweet has its p_positive and scored_at_ms. */
    void (*after_score)(void *ctx, void *state, const PipelineTweet *tweets, int n);
    /* The input consumer's librdkafka statistics JSON (len bytes, valid during the
     * call; on a librdkafka thread). May be NULL. When a hook sets it and -X
     * statistics.interval.ms is not given, the pipeline asks for them every second. */
    void (*kafka_stats)(void *ctx, const char *json, size_t len);
    /* After the batch's scored events were handed to the producer, with the tweets of
     * its after_score: work started there may be waited for here. May be NULL. */
    void (*after_send)(void *ctx, void *state, const PipelineTweet *tweets, int n);
} PipelineHooks;

#define PIPELINE_MAX_HOOKS 4

/* Counters since start (a snapshot; any thread). dead_letters[r] counts reason r:
 * TweetStatus values, and PIPELINE_PRODUCE_FAILED for events the broker refused. */
#define PIPELINE_PRODUCE_FAILED (TWEET_INVALID_UTF8 + 1)
typedef struct {
    uint64_t consumed, scored, cache_hits, batches;
    uint64_t dead_letters[PIPELINE_PRODUCE_FAILED + 1];
    uint64_t acknowledged; /* scored events and dead letters acknowledged by the broker */
    int64_t inflight;      /* consumed, not yet acknowledged */
    int assigned;          /* partitions assigned */
    int reading;           /* 0 while backpressure holds the reading back */
} PipelineStats;

typedef struct Pipeline Pipeline;

/* Builds the pipeline: consumer (subscribed to cfg->topic_in), producer, batcher,
 * tracker. `model` and `cfg` must outlive it; `bootstrap` is the embedded cluster's
 * address when cfg->embedded (else NULL); hooks[0..nhooks) (nhooks <=
 * PIPELINE_MAX_HOOKS) are copied. Threads start in pipeline_run. Returns NULL with
 * a one-line reason in err (e.g. librdkafka refused a -X property). */
Pipeline *pipeline_new(const WorkerConfig *cfg, const Classifier *model, const char *bootstrap,
                       const PipelineHooks *hooks, int nhooks, char *err, size_t errlen);

/* Runs until *stop is non-zero (set it from a signal handler: a lock-free atomic) or
 * a fatal Kafka error, then shuts down as described above. Returns 0 after a clean
 * drain, 1 after a fatal error or when in-flight work could not be acknowledged
 * within the drain timeout (its offsets are then not committed: it will be scored
 * again). Call once. */
int pipeline_run(Pipeline *p, const atomic_int *stop);

/* A snapshot of the counters (any thread, also during pipeline_run). */
void pipeline_stats(Pipeline *p, PipelineStats *out);

/* The producer, for alerts (producer_alert), other topics (producer_send) and dead letters that are not input
 * messages (producer_dead_letter with a NULL opaque); any thread. */
Producer *pipeline_producer(Pipeline *p);

/* Frees everything (after pipeline_run has returned, or instead of it). */
void pipeline_free(Pipeline *p);

#endif
