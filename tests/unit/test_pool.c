/* test_pool.c — the micro-batcher (batch size, wait, flush, bounds, close, a pop that
 * never waits) and the thread pool over it with a trivial work function: every item
 * processed exactly once, by threads that each own their scratch, and a batch kept by
 * the work finished by idle before the thread sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "model/util.h"
#include "worker/batcher.h"
#include "worker/pool.h"

static void sleep_ms(int ms) { nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL); }

static void full_batch_goes_at_once(void **state) {
    (void)state;
    Batcher *b = batcher_new(100, 8, 2000);
    static int v[20];
    for (int i = 0; i < 20; i++) assert_int_equal(batcher_push(b, &v[i]), 0);
    void *items[8];
    double pushed[8];
    double t0 = util_now_s();
    assert_int_equal(batcher_pop(b, items, pushed, 8), 8);
    assert_int_equal(batcher_pop(b, items, pushed, 8), 8);
    assert_true(util_now_s() - t0 < 1.0); /* did not wait for the 2 s deadline */
    assert_ptr_equal(items[0], &v[8]);    /* in push order */
    assert_ptr_equal(items[7], &v[15]);
    assert_true(pushed[0] <= pushed[7]);
    assert_int_equal(batcher_len(b), 4);
    batcher_free(b);
}

static void partial_batch_waits_for_its_deadline(void **state) {
    (void)state;
    Batcher *b = batcher_new(100, 64, 60);
    int x = 1;
    batcher_push(b, &x);
    batcher_push(b, &x);
    void *items[64];
    double pushed[64];
    assert_int_equal(batcher_pop(b, items, pushed, 64), 2);
    double waited = util_now_s() - pushed[0];
    assert_true(waited >= 0.059);
    assert_true(waited < 1.0);
    batcher_free(b);

    b = batcher_new(100, 64, 0); /* no wait: take what is there */
    batcher_push(b, &x);
    double t0 = util_now_s();
    assert_int_equal(batcher_pop(b, items, NULL, 64), 1);
    assert_true(util_now_s() - t0 < 0.05);
    batcher_free(b);
}

static void bounded_and_closable(void **state) {
    (void)state;
    Batcher *b = batcher_new(3, 2, 1000);
    int x;
    for (int i = 0; i < 3; i++) assert_int_equal(batcher_push(b, &x), 0);
    assert_int_equal(batcher_push(b, &x), -1); /* full: refused, never blocks */
    batcher_close(b);
    assert_int_equal(batcher_push(b, &x), -1); /* closed */
    void *items[2];
    double t0 = util_now_s();
    assert_int_equal(batcher_pop(b, items, NULL, 2), 2); /* closed queues still hand out */
    assert_int_equal(batcher_pop(b, items, NULL, 2), 1); /* ... without waiting */
    assert_int_equal(batcher_pop(b, items, NULL, 2), 0);
    assert_true(util_now_s() - t0 < 0.5);
    batcher_free(b);
}

static void *pop_once(void *arg) {
    void *items[4];
    intptr_t n = batcher_pop(arg, items, NULL, 4);
    return (void *)n;
}

static void close_wakes_waiting_consumers(void **state) {
    (void)state;
    Batcher *b = batcher_new(10, 4, 10000);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, pop_once, b);
    sleep_ms(50);
    batcher_close(b);
    for (int i = 0; i < 2; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        assert_int_equal((intptr_t)rc, 0);
    }
    batcher_free(b);
}

static void flush_releases_what_is_queued_and_nothing_later(void **state) {
    (void)state;
    Batcher *b = batcher_new(100, 4, 200);
    static int v[12];
    for (int i = 0; i < 10; i++) assert_int_equal(batcher_push(b, &v[i]), 0);
    batcher_flush(b);
    assert_int_equal(batcher_push(b, &v[10]), 0); /* after the flush: waits as usual */
    void *items[4];
    double pushed[4];
    double t0 = util_now_s();
    assert_int_equal(batcher_pop(b, items, pushed, 4), 4); /* full */
    assert_int_equal(batcher_pop(b, items, pushed, 4), 4); /* full */
    /* v[8], v[9] were flushed, v[10] was not: the batch takes the three at once (the
     * flushed items are ready, and a batch takes everything up to max_batch) */
    assert_int_equal(batcher_pop(b, items, pushed, 4), 3);
    assert_ptr_equal(items[0], &v[8]);
    assert_ptr_equal(items[2], &v[10]);
    assert_true(util_now_s() - t0 < 0.15); /* none waited for the 200 ms deadline */
    assert_int_equal(batcher_push(b, &v[11]), 0);
    assert_int_equal(batcher_pop(b, items, pushed, 4), 1); /* nothing flushed: its deadline */
    assert_true(util_now_s() - pushed[0] >= 0.199);
    batcher_free(b);
}

static void *pop_batch(void *arg) {
    void *items[64];
    intptr_t n = batcher_pop(arg, items, NULL, 64);
    return (void *)n;
}

static void flush_wakes_a_consumer_waiting_for_its_deadline(void **state) {
    (void)state;
    Batcher *b = batcher_new(100, 64, 10000);
    int x = 0;
    pthread_t th;
    pthread_create(&th, NULL, pop_batch, b);
    assert_int_equal(batcher_push(b, &x), 0);
    assert_int_equal(batcher_push(b, &x), 0);
    sleep_ms(30); /* the consumer now waits on the 10 s deadline */
    double t0 = util_now_s();
    batcher_flush(b);
    void *rc;
    pthread_join(th, &rc);
    assert_int_equal((intptr_t)rc, 2);
    assert_true(util_now_s() - t0 < 2.0);
    assert_int_equal(batcher_len(b), 0);
    batcher_flush(b); /* an empty queue: nothing to release, no effect */
    assert_int_equal(batcher_push(b, &x), 0);
    batcher_close(b);
    assert_int_equal(batcher_pop(b, (void *[1]){0}, NULL, 1), 1);
    batcher_free(b);
}

/* batcher_pop_ready takes what batcher_pop would, but never waits for it. */
static void pop_ready_never_waits(void **state) {
    (void)state;
    Batcher *b = batcher_new(100, 8, 2000);
    void *items[8];
    double pushed[8];
    int v[16];
    assert_int_equal(batcher_pop_ready(b, items, pushed, 8), 0); /* empty */
    for (int i = 0; i < 3; i++) assert_int_equal(batcher_push(b, &v[i]), 0);
    double t0 = util_now_s();
    assert_int_equal(batcher_pop_ready(b, items, pushed, 8), 0); /* partial, deadline ahead */
    assert_true(util_now_s() - t0 < 0.5);
    for (int i = 3; i < 10; i++) assert_int_equal(batcher_push(b, &v[i]), 0);
    assert_int_equal(batcher_pop_ready(b, items, pushed, 8), 8); /* a full batch */
    for (int i = 0; i < 8; i++) assert_ptr_equal(items[i], &v[i]);
    assert_int_equal(batcher_pop_ready(b, items, pushed, 8), 0);
    batcher_flush(b);
    assert_int_equal(batcher_pop_ready(b, items, pushed, 8), 2); /* flushed */
    assert_ptr_equal(items[0], &v[8]);
    assert_int_equal(batcher_push(b, &v[10]), 0);
    batcher_close(b);
    assert_int_equal(batcher_pop_ready(b, items, pushed, 8), 1); /* closed: what is left */
    assert_int_equal(batcher_pop_ready(b, items, pushed, 8), 0);
    batcher_free(b);
}

/* ---- the pool ---------------------------------------------------------------------- */

enum { NITEMS = 200000, NTHREADS = 4, MAXB = 32 };

typedef struct {
    atomic_int seen[NITEMS];  /* times each item was processed */
    atomic_int inits, frees;  /* thread_init / thread_free calls */
    atomic_int index_mask;    /* thread indexes seen */
    atomic_int oversized;     /* batches larger than MAXB */
    atomic_long max_delay_us; /* worst push-to-work delay */
    atomic_int batches;
} PoolCheck;

typedef struct {
    int index;
    long processed; /* this thread's own counter: no sharing */
} Scratch;

static void *check_init(void *ctx, int index) {
    PoolCheck *c = ctx;
    atomic_fetch_add(&c->inits, 1);
    atomic_fetch_or(&c->index_mask, 1 << index);
    Scratch *s = calloc(1, sizeof *s);
    s->index = index;
    return s;
}

static void check_work(void *ctx, void *scratch, void **items, const double *pushed_s, int n) {
    PoolCheck *c = ctx;
    Scratch *s = scratch;
    if (n > MAXB) atomic_fetch_add(&c->oversized, 1);
    atomic_fetch_add(&c->batches, 1);
    double now = util_now_s();
    for (int i = 0; i < n; i++) {
        atomic_fetch_add(&c->seen[(intptr_t)items[i]], 1);
        long d = (long)((now - pushed_s[i]) * 1e6);
        long prev = atomic_load(&c->max_delay_us);
        while (d > prev && !atomic_compare_exchange_weak(&c->max_delay_us, &prev, d)) {
        }
    }
    s->processed += n;
}

static void check_free(void *ctx, void *scratch) {
    PoolCheck *c = ctx;
    atomic_fetch_add(&c->frees, 1);
    free(scratch);
}

static void pool_processes_every_item_exactly_once(void **state) {
    (void)state;
    PoolCheck *c = calloc(1, sizeof *c);
    Batcher *b = batcher_new(1024, MAXB, 2);
    PoolWork w = {c, check_init, check_work, NULL, check_free};
    Pool *p = pool_start(NTHREADS, MAXB, b, &w);
    for (intptr_t i = 0; i < NITEMS; i++)
        while (batcher_push(b, (void *)i) != 0) sched_yield(); /* full: the producer's choice is to retry */
    batcher_close(b);
    pool_join(p);
    for (int i = 0; i < NITEMS; i++)
        if (atomic_load(&c->seen[i]) != 1)
            fail_msg("item %d processed %d times", i, atomic_load(&c->seen[i]));
    assert_int_equal(atomic_load(&c->inits), NTHREADS);
    assert_int_equal(atomic_load(&c->frees), NTHREADS);
    assert_int_equal(atomic_load(&c->index_mask), (1 << NTHREADS) - 1);
    assert_int_equal(atomic_load(&c->oversized), 0);
    assert_true(atomic_load(&c->batches) >= NITEMS / MAXB);
    batcher_free(b);
    free(c);
}

static void trickle_waits_no_longer_than_the_batch_wait(void **state) {
    (void)state;
    PoolCheck *c = calloc(1, sizeof *c);
    Batcher *b = batcher_new(64, 16, 20);
    PoolWork w = {c, check_init, check_work, NULL, check_free};
    Pool *p = pool_start(2, 16, b, &w);
    for (intptr_t i = 0; i < 30; i++) { /* one tweet every 5 ms: batches never fill */
        assert_int_equal(batcher_push(b, (void *)i), 0);
        sleep_ms(5);
    }
    batcher_close(b);
    pool_join(p);
    for (int i = 0; i < 30; i++) assert_int_equal(atomic_load(&c->seen[i]), 1);
    long worst = atomic_load(&c->max_delay_us);
    assert_true(worst >= 0);
    assert_true(worst < 20000 + 150000);        /* the wait, plus generous scheduling slack */
    assert_true(atomic_load(&c->batches) < 30); /* tweets did share batches */
    batcher_free(b);
    free(c);
}

/* A work that keeps its last batch, as the pipeline does (to overlap the next
 * batch's I/O): the pool's idle must finish it before the thread sleeps. */
typedef struct {
    atomic_int seen[64];
    atomic_int idles_with_held, frees_with_held;
} HoldCheck;

typedef struct {
    void *held[16];
    int nheld;
} HoldScratch;

static void *hold_init(void *ctx, int index) {
    (void)ctx;
    (void)index;
    return calloc(1, sizeof(HoldScratch));
}

static void hold_finish(HoldCheck *c, HoldScratch *s) {
    for (int i = 0; i < s->nheld; i++) atomic_fetch_add(&c->seen[(intptr_t)s->held[i]], 1);
    s->nheld = 0;
}

static void hold_work(void *ctx, void *scratch, void **items, const double *pushed_s, int n) {
    (void)pushed_s;
    HoldScratch *s = scratch;
    hold_finish(ctx, s); /* the one before, then keep this one */
    memcpy(s->held, items, (size_t)n * sizeof *items);
    s->nheld = n;
}

static void hold_idle(void *ctx, void *scratch) {
    HoldCheck *c = ctx;
    HoldScratch *s = scratch;
    if (s->nheld) atomic_fetch_add(&c->idles_with_held, 1);
    hold_finish(c, s);
}

static void hold_free(void *ctx, void *scratch) {
    HoldCheck *c = ctx;
    if (((HoldScratch *)scratch)->nheld) atomic_fetch_add(&c->frees_with_held, 1);
    free(scratch);
}

static void idle_finishes_a_kept_batch_before_sleeping(void **state) {
    (void)state;
    HoldCheck *c = calloc(1, sizeof *c);
    Batcher *b = batcher_new(64, 16, 5);
    PoolWork w = {c, hold_init, hold_work, hold_idle, hold_free};
    Pool *p = pool_start(1, 16, b, &w);
    for (intptr_t i = 0; i < 40; i++) assert_int_equal(batcher_push(b, (void *)i), 0);
    batcher_flush(b);
    /* no more pushes and no close: the thread goes idle, and must not sit on a batch */
    double t0 = util_now_s();
    int done = 0;
    while (!done && util_now_s() - t0 < 5.0) {
        done = 1;
        for (int i = 0; i < 40; i++) done &= atomic_load(&c->seen[i]) == 1;
        if (!done) sleep_ms(1);
    }
    assert_true(done);
    assert_true(atomic_load(&c->idles_with_held) >= 1);
    assert_int_equal(batcher_push(b, (void *)(intptr_t)40), 0);
    batcher_close(b);
    pool_join(p);
    for (int i = 0; i <= 40; i++) assert_int_equal(atomic_load(&c->seen[i]), 1);
    assert_int_equal(atomic_load(&c->frees_with_held), 0);
    batcher_free(b);
    free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_batch_goes_at_once),
        cmocka_unit_test(partial_batch_waits_for_its_deadline),
        cmocka_unit_test(bounded_and_closable),
        cmocka_unit_test(close_wakes_waiting_consumers),
        cmocka_unit_test(flush_releases_what_is_queued_and_nothing_later),
        cmocka_unit_test(flush_wakes_a_consumer_waiting_for_its_deadline),
        cmocka_unit_test(pop_ready_never_waits),
        cmocka_unit_test(pool_processes_every_item_exactly_once),
        cmocka_unit_test(idle_finishes_a_kept_batch_before_sleeping),
        cmocka_unit_test(trickle_waits_no_longer_than_the_batch_wait),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
