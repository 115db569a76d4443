/* pool.h — a pool of worker threads fed by a Batcher.
 *
 * Each thread owns its scratch state (made by `thread_init` on that thread, freed by
 * `thread_free` on it too), pops batches from the batcher and hands each to `work`.
 * The pipeline's work scores tweets; tests give a trivial work function. The pool
 * knows nothing of what the items are. */
#ifndef BUZZRADAR_POOL_H
#define BUZZRADAR_POOL_H

#include "worker/batcher.h"

typedef struct {
    void *ctx; /* passed to every callback */
    /* Called once on each new thread (index 0..n-1) before its first batch; returns
     * the thread's scratch (may be NULL). May be NULL. */
    void *(*thread_init)(void *ctx, int index);
    /* Processes items[0..n) (n >= 1) pushed at pushed_s[i] (monotonic seconds). When
     * `idle` is set, work may keep its last batch unfinished, to overlap its waits
     * with the next batch. */
    void (*work)(void *ctx, void *scratch, void **items, const double *pushed_s, int n);
    /* Called whenever no batch is ready (also when work kept nothing), before the
     * thread sleeps and so before thread_free: finishes what work kept. A batch may
     * become ready just after it. May be NULL. */
    void (*idle)(void *ctx, void *scratch);
    /* Called once on each thread after its last batch. May be NULL. */
    void (*thread_free)(void *ctx, void *scratch);
} PoolWork;

typedef struct Pool Pool;

/* Starts `nthreads` (>= 1) threads taking batches of up to `max_batch` from `in`.
 * `in` and `*w` must outlive the pool. Exits with a message when a thread cannot be
 * created. */
Pool *pool_start(int nthreads, int max_batch, Batcher *in, const PoolWork *w);

/* Waits until every thread has finished — which happens once `in` is closed and
 * drained — and frees the pool. */
void pool_join(Pool *p);

#endif
