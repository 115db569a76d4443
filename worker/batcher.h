/* batcher.h — the micro-batcher: a bounded multi-producer, multi-consumer queue whose
 * consumers take work in batches.
 *
 * A consumer (an inference thread) waits until either `max_batch` items are queued,
 * or the oldest queued item has waited `max_wait_ms`, or the producer flushed the
 * queue (it has nothing more to push for now), or the queue is closed, then takes up
 * to `max_batch` items at once. Under load batches fill at once; with a trickle of
 * tweets no item waits more than max_wait_ms for company, and none waits at all when
 * its producer knows no company is coming (the pipeline flushes once it has pushed
 * every message the consumer had fetched: the next ones are a fetch away). Pushing never
 * blocks: a full queue refuses, and its producer (the poll thread) decides what to
 * do (stop reading). Items are opaque pointers; the queue never frees them. */
#ifndef BUZZRADAR_BATCHER_H
#define BUZZRADAR_BATCHER_H

typedef struct Batcher Batcher;

/* A queue of at most `capacity` items handing out batches of up to `max_batch`
 * (both >= 1), waiting at most `max_wait_ms` (>= 0) for a batch to fill. Exits on
 * out-of-memory. */
Batcher *batcher_new(int capacity, int max_batch, int max_wait_ms);

/* Frees the queue (not its items). No thread may be using it. */
void batcher_free(Batcher *b);

/* Appends an item stamped with the current monotonic time. Returns 0, or -1 when the
 * queue is full or closed (the item is not taken). Never blocks. */
int batcher_push(Batcher *b, void *item);

/* Makes every item queued now ready: consumers take them (up to max_batch at a time)
 * without waiting for their deadline. Items pushed later wait as usual. Never blocks
 * for long. */
void batcher_flush(Batcher *b);

/* Blocks until a batch is ready (see above), then moves up to max_batch items (in
 * push order) into items[] and their push times (monotonic seconds, util_now_s) into
 * pushed_s[] (may be NULL). Returns the number of items, or 0 once the queue is
 * closed and empty. */
int batcher_pop(Batcher *b, void **items, double *pushed_s, int max);

/* batcher_pop without the wait: takes a batch only when one is ready now (same rules),
 * else returns 0 at once (also when the queue is closed and empty). For a consumer
 * that has other work to finish before it would sleep. */
int batcher_pop_ready(Batcher *b, void **items, double *pushed_s, int max);

/* Refuses further pushes and wakes every waiting consumer; queued items are still
 * handed out. */
void batcher_close(Batcher *b);

/* Items queued now (a snapshot). */
int batcher_len(Batcher *b);

#endif
