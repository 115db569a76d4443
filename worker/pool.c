/* pool.c — worker threads looping on batcher_pop (see pool.h). */
#include "worker/pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/util.h"

typedef struct {
    struct Pool *pool;
    int index;
    pthread_t thread;
} PoolThread;

struct Pool {
    Batcher *in;
    const PoolWork *w;
    int max_batch;
    int nthreads;
    PoolThread *threads; /* (nthreads) */
};

static void *pool_main(void *arg) {
    PoolThread *t = arg;
    Pool *p = t->pool;
    const PoolWork *w = p->w;
    void *scratch = w->thread_init ? w->thread_init(w->ctx, t->index) : NULL;
    /* The batch arrays are this thread's own, allocated once. */
    void **items = mallocCheck((size_t)p->max_batch * sizeof *items);
    double *pushed_s = mallocCheck((size_t)p->max_batch * sizeof *pushed_s);
    for (;;) {
        int n = w->idle ? batcher_pop_ready(p->in, items, pushed_s, p->max_batch) : 0;
        if (n == 0) {
            if (w->idle) w->idle(w->ctx, scratch);
            n = batcher_pop(p->in, items, pushed_s, p->max_batch);
        }
        if (n == 0) break; /* closed and drained */
        w->work(w->ctx, scratch, items, pushed_s, n);
    }
    free(items);
    free(pushed_s);
    if (w->thread_free) w->thread_free(w->ctx, scratch);
    return NULL;
}

Pool *pool_start(int nthreads, int max_batch, Batcher *in, const PoolWork *w) {
    Pool *p = callocCheck(1, sizeof *p);
    p->in = in;
    p->w = w;
    p->max_batch = max_batch < 1 ? 1 : max_batch;
    p->nthreads = nthreads < 1 ? 1 : nthreads;
    p->threads = callocCheck((size_t)p->nthreads, sizeof *p->threads);
    for (int i = 0; i < p->nthreads; i++) {
        p->threads[i].pool = p;
        p->threads[i].index = i;
        int rc = pthread_create(&p->threads[i].thread, NULL, pool_main, &p->threads[i]);
        if (rc) util_die("cannot start inference thread %d: %s", i, strerror(rc));
        char name[32]; /* shown by top -H and perf (cut to 15 characters) */
        snprintf(name, sizeof name, "bz:infer%d", i);
        pthread_setname_np(p->threads[i].thread, name);
    }
    return p;
}

void pool_join(Pool *p) {
    if (!p) return;
    for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i].thread, NULL);
    free(p->threads);
    free(p);
}
