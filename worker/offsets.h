/* offsets.h — per-partition tracker of in-flight input offsets for at-least-once
 * commits.
 *
 * The poll thread registers every consumed message (offsets_begin, in consumption
 * order, so offsets rise within a partition); whichever thread learns that the
 * message's output was acknowledged by the broker marks it done (offsets_done), in
 * any order. Only the contiguous low watermark is ever reported for commit: the
 * offset of the oldest unfinished message, or the last finished one + 1 when none is
 * unfinished. A message finished out of order is remembered until everything before
 * it is finished, so a commit never passes an unfinished message.
 *
 * Offsets need not be contiguous (compacted topics, transaction markers): only the
 * registered ones count. All functions are thread-safe (one mutex); waiters are
 * woken whenever the pending count falls. */
#ifndef BUZZRADAR_OFFSETS_H
#define BUZZRADAR_OFFSETS_H

#include <stdint.h>

typedef struct OffsetTracker OffsetTracker;

/* A partition whose committable offset advanced: `next` is the offset to store
 * (Kafka semantics: the next message to read). */
typedef struct {
    int32_t partition;
    int64_t next;
} OffsetCommit;

/* New empty tracker. Each partition's ring starts with room for `capacity` messages
 * (>= 1) and doubles when more are in flight (rare: the pipeline bounds in-flight
 * work). Exits on out-of-memory. */
OffsetTracker *offsets_new(int capacity);
void offsets_free(OffsetTracker *t);

/* Registers a consumed, unfinished message. Returns 0, or 1 when `offset` does not
 * come after the partition's last registered offset (the consumer rewound: a seek or
 * an offset reset): the partition then restarts from this offset, and the messages it
 * forgets count as neither done nor pending. Returns -1 for a negative partition or
 * offset (nothing registered). */
int offsets_begin(OffsetTracker *t, int32_t partition, int64_t offset);

/* Marks a registered message done and advances the partition's watermark over every
 * finished message at its head. Returns 0, or -1 when the message is unknown
 * (already done, never registered, or forgotten by offsets_forget): nothing changes. */
int offsets_done(OffsetTracker *t, int32_t partition, int64_t offset);

/* Messages registered and not yet passed by the watermark: of one partition, and in
 * all partitions (the pipeline's in-flight count). */
int64_t offsets_pending(OffsetTracker *t, int32_t partition);
int64_t offsets_pending_total(OffsetTracker *t);

/* Writes up to `max` partitions whose committable offset advanced since the last
 * collect (each partition once, ascending) and returns how many were written. A
 * partition not written because `max` was reached is reported by the next call. */
int offsets_collect(OffsetTracker *t, OffsetCommit *out, int max);

/* The committable offset of a partition, or -1 when nothing of it was finished yet. */
int64_t offsets_committable(OffsetTracker *t, int32_t partition);

/* Abandons a partition (revoked or lost): its pending messages are forgotten, later
 * offsets_done calls for them return -1, and its committable offset is reset. */
void offsets_forget(OffsetTracker *t, int32_t partition);

/* Waits until none of the `n` partitions has pending messages, for at most
 * `timeout_ms`. Returns 0 when drained, -1 on timeout. */
int offsets_wait_drained(OffsetTracker *t, const int32_t *partitions, int n, int timeout_ms);

/* Waits until fewer than `limit` messages are pending in all partitions, for at most
 * `timeout_ms`. Returns 0 when below, -1 on timeout. */
int offsets_wait_below(OffsetTracker *t, int64_t limit, int timeout_ms);

#endif
