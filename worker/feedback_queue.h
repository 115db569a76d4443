/* feedback_queue.h — the feedback consumer's messages between Kafka and Redis: each
 * message read from tweets.feedback is held until the feedback loop (feedback.h) has
 * recorded it in Redis, and only then may its offset be committed. When Redis is
 * unavailable nothing is lost: the messages stay held, the attempt is retried after a
 * back-off (doubling from backoff_min_ms to backoff_max_ms, reset by a success), and
 * the partition's committable offset stays before the oldest message not recorded.
 *
 *   poll thread   consumer_poll -> feedback_queue_push   (malformed: dead-letter it)
 *                 feedback_queue_run(now)                (records what is due, or backs off)
 *                 feedback_queue_collect -> consumer_store (auto-commit commits it)
 *   on_revoke     feedback_queue_collect -> consumer_store, then feedback_queue_forget
 *
 * Offsets are tracked as in the main pipeline (worker/offsets.h): every message read is
 * registered, a message is done once recorded (or, when malformed, as soon as it is
 * pushed: the caller dead-letters it before the next collect), and only the contiguous
 * low watermark of each partition is reported for commit. Held messages of a partition
 * that is revoked, lost or rewound are dropped without being committed: Kafka delivers
 * them again, to this worker or another. At shutdown the held messages are simply freed
 * with the queue, uncommitted, and read again by the next worker. Handling a message
 * twice is harmless: the feedback loop is idempotent per tweet id.
 *
 * Never blocks: a feedback_queue_run costs at most the feedback loop's bounded Redis
 * calls (at once while the connection backs off), and none while the queue's back-off
 * runs, so the caller's loop stays responsive to its stop flag.
 *
 * Memory: each held message owns one copy of its id and text (feedback is a trickle
 * next to the tweet stream). Threads: one thread at a time (the services thread); the
 * hooks of its consumer run on that thread too. */
#ifndef BUZZRADAR_FEEDBACK_QUEUE_H
#define BUZZRADAR_FEEDBACK_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "worker/feedback.h"
#include "worker/monitor.h"
#include "worker/offsets.h"
#include "worker/redis_store.h"

typedef struct {
    int capacity;       /* messages held before feedback_queue_room() says 0 (default 1024) */
    int max_per_run;    /* messages handled by one feedback_queue_run (default 256) */
    int backoff_min_ms; /* wait after the first failed attempt (default 100) */
    int backoff_max_ms; /* longest wait between attempts (default 5000) */
} FeedbackQueueConfig;

/* Fills c with the defaults above. */
void feedback_queue_config_default(FeedbackQueueConfig *c);

typedef struct {
    uint64_t received;                    /* messages pushed */
    uint64_t malformed;                   /* ... refused by the decoder (dead-lettered by the caller) */
    uint64_t handled;                     /* valid messages the feedback loop finished with */
    uint64_t outcomes[FEEDBACK_OUTCOMES]; /* handled ones by outcome (never FEEDBACK_UNAVAILABLE) */
    uint64_t attempts_failed;             /* attempts that found Redis unavailable (then a back-off) */
    uint64_t dropped;                     /* held messages given up to a revoke or rewind (read again) */
    int waiting;                          /* messages held now, not yet handled */
} FeedbackQueueStats;

typedef struct FeedbackQueue FeedbackQueue;

/* A queue recording through m and looking predictions up through store (both borrowed,
 * used on the queue's thread only; they must outlive it). Returns NULL with a one-line
 * reason in err for a bad configuration (capacity, max_per_run or back-offs < 1, or
 * backoff_min_ms > backoff_max_ms). */
FeedbackQueue *feedback_queue_new(Monitor *m, RedisStore *store, const FeedbackQueueConfig *cfg, char *err,
                                  size_t errlen);
void feedback_queue_free(FeedbackQueue *q); /* NULL is fine; held messages are dropped */

/* Decodes a feedback message: {"id":"...","label":"positive"|"negative"|0|1} with an
 * optional "text" string. On success fills it (pointing into *doc, which the caller
 * cJSON_Deletes) and returns 0; otherwise returns -1 with a dead-letter reason code
 * ("invalid_json", "missing_id", "invalid_label") in *reason (*doc may be NULL then,
 * and must still be deleted). */
int feedback_queue_decode(const char *json, size_t len, cJSON **doc, FeedbackItem *it, const char **reason);

/* Takes a message read at (partition, offset): a valid one is held (copied) until
 * recorded; a malformed one is done at once. Returns 0 when held, 1 when malformed
 * (*reason set: the caller dead-letters the original message), -1 for a negative
 * partition or offset (nothing taken). A message at or before the partition's last one
 * (the consumer rewound) first drops the partition's held messages at or after it. */
int feedback_queue_push(FeedbackQueue *q, int32_t partition, int64_t offset, const void *payload, size_t len,
                        const char **reason);

/* Records held messages, oldest first, up to max_per_run, when the back-off allows it
 * at now_ms (the time given to the feedback loop too). Returns the number of messages
 * handled (>= 0; 0 also while backing off or with nothing held), or MONITOR_UNAVAILABLE
 * when an attempt found Redis unavailable: the messages not recorded stay held and the
 * next attempt waits for the back-off. */
int feedback_queue_run(FeedbackQueue *q, int64_t now_ms);

/* The time (ms) before which feedback_queue_run will not try again, or 0 when it is
 * not backing off. */
int64_t feedback_queue_retry_at(const FeedbackQueue *q);

/* Messages held and not yet handled. */
int feedback_queue_waiting(const FeedbackQueue *q);

/* How many more messages the caller should read now (capacity - waiting, >= 0). A
 * message read anyway is still taken by feedback_queue_push. */
int feedback_queue_room(const FeedbackQueue *q);

/* Writes up to max partitions whose committable offset advanced (offsets_collect):
 * store each with consumer_store. Returns how many were written. */
int feedback_queue_collect(FeedbackQueue *q, OffsetCommit *out, int max);

/* Drops the held messages of a partition (revoked or lost) and forgets its offsets:
 * they will be read again by whoever owns the partition next. */
void feedback_queue_forget(FeedbackQueue *q, int32_t partition);

void feedback_queue_stats(const FeedbackQueue *q, FeedbackQueueStats *out);

#endif
