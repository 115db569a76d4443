/* test_offsets.c — the offset tracker: only the contiguous low watermark is ever
 * committable, whatever the completion order, gaps, rewinds and revocations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "model/util.h"
#include "worker/offsets.h"

static void in_order_completion_advances_one_by_one(void **state) {
    (void)state;
    OffsetTracker *t = offsets_new(16);
    for (int64_t o = 0; o < 10; o++) assert_int_equal(offsets_begin(t, 0, o), 0);
    assert_int_equal(offsets_pending(t, 0), 10);
    assert_int_equal(offsets_committable(t, 0), -1);
    for (int64_t o = 0; o < 10; o++) {
        assert_int_equal(offsets_done(t, 0, o), 0);
        assert_int_equal(offsets_committable(t, 0), o + 1);
    }
    assert_int_equal(offsets_pending_total(t), 0);
    OffsetCommit c[4];
    assert_int_equal(offsets_collect(t, c, 4), 1);
    assert_int_equal(c[0].partition, 0);
    assert_int_equal(c[0].next, 10);
    assert_int_equal(offsets_collect(t, c, 4), 0); /* nothing new */
    offsets_free(t);
}

static void out_of_order_never_passes_an_unfinished_message(void **state) {
    (void)state;
    OffsetTracker *t = offsets_new(16);
    for (int64_t o = 100; o < 105; o++) offsets_begin(t, 3, o);
    assert_int_equal(offsets_done(t, 3, 103), 0);
    assert_int_equal(offsets_done(t, 3, 101), 0);
    assert_int_equal(offsets_committable(t, 3), -1); /* 100 still in flight */
    OffsetCommit c[4];
    assert_int_equal(offsets_collect(t, c, 4), 0);
    assert_int_equal(offsets_done(t, 3, 100), 0);
    assert_int_equal(offsets_committable(t, 3), 102); /* 100, 101 done; 102 not */
    assert_int_equal(offsets_pending(t, 3), 3);       /* 102, 103 (done), 104 */
    assert_int_equal(offsets_collect(t, c, 4), 1);
    assert_int_equal(c[0].next, 102);
    assert_int_equal(offsets_done(t, 3, 102), 0);
    assert_int_equal(offsets_committable(t, 3), 104); /* jumps over finished 103 */
    assert_int_equal(offsets_done(t, 3, 104), 0);
    assert_int_equal(offsets_committable(t, 3), 105);
    assert_int_equal(offsets_pending(t, 3), 0);
    offsets_free(t);
}

static void gaps_in_offsets_commit_at_the_oldest_unfinished(void **state) {
    (void)state;
    OffsetTracker *t = offsets_new(4);
    offsets_begin(t, 0, 10);
    offsets_begin(t, 0, 12); /* 11 compacted away */
    offsets_begin(t, 0, 15);
    assert_int_equal(offsets_done(t, 0, 12), 0);
    assert_int_equal(offsets_done(t, 0, 10), 0);
    assert_int_equal(offsets_committable(t, 0), 13); /* resume reads 15 again, never 16 */
    assert_int_equal(offsets_done(t, 0, 15), 0);
    assert_int_equal(offsets_committable(t, 0), 16);
    offsets_free(t);
}

static void unknown_and_repeated_done_are_refused(void **state) {
    (void)state;
    OffsetTracker *t = offsets_new(4);
    assert_int_equal(offsets_done(t, 0, 0), -1); /* nothing registered */
    offsets_begin(t, 1, 5);
    offsets_begin(t, 1, 6);
    assert_int_equal(offsets_done(t, 1, 7), -1);
    assert_int_equal(offsets_done(t, 2, 5), -1);
    assert_int_equal(offsets_done(t, 1, 6), 0);
    assert_int_equal(offsets_done(t, 1, 6), -1); /* already done, not yet passed */
    assert_int_equal(offsets_done(t, 1, 5), 0);
    assert_int_equal(offsets_done(t, 1, 5), -1); /* passed by the watermark */
    assert_int_equal(offsets_committable(t, 1), 7);
    assert_int_equal(offsets_begin(t, -1, 0), -1);
    assert_int_equal(offsets_begin(t, 0, -5), -1);
    assert_int_equal(offsets_pending_total(t), 0);
    offsets_free(t);
}

static void rewind_restarts_the_partition(void **state) {
    (void)state;
    OffsetTracker *t = offsets_new(4);
    offsets_begin(t, 0, 50);
    offsets_begin(t, 0, 51);
    assert_int_equal(offsets_done(t, 0, 50), 0);
    assert_int_equal(offsets_begin(t, 0, 40), 1); /* consumer went back */
    assert_int_equal(offsets_pending(t, 0), 1);
    assert_int_equal(offsets_pending_total(t), 1);
    assert_int_equal(offsets_committable(t, 0), -1);
    assert_int_equal(offsets_done(t, 0, 51), -1); /* forgotten by the restart */
    assert_int_equal(offsets_done(t, 0, 40), 0);
    assert_int_equal(offsets_committable(t, 0), 41);
    offsets_free(t);
}

static void revocation_forgets_in_flight_work(void **state) {
    (void)state;
    OffsetTracker *t = offsets_new(4);
    offsets_begin(t, 0, 1);
    offsets_begin(t, 2, 7);
    offsets_begin(t, 2, 8);
    offsets_done(t, 2, 7);
    offsets_forget(t, 2);
    assert_int_equal(offsets_pending(t, 2), 0);
    assert_int_equal(offsets_pending_total(t), 1);
    assert_int_equal(offsets_committable(t, 2), -1);
    assert_int_equal(offsets_done(t, 2, 8), -1); /* a late acknowledgement is ignored */
    OffsetCommit c[4];
    assert_int_equal(offsets_collect(t, c, 4), 0);
    /* assigned again later: starts afresh from the committed offset */
    assert_int_equal(offsets_begin(t, 2, 8), 0);
    assert_int_equal(offsets_done(t, 2, 8), 0);
    assert_int_equal(offsets_collect(t, c, 4), 1);
    assert_int_equal(c[0].partition, 2);
    assert_int_equal(c[0].next, 9);
    offsets_forget(t, 99); /* unknown partition: no effect */
    offsets_free(t);
}

static void rings_grow_past_their_capacity(void **state) {
    (void)state;
    enum { N = 5000 };
    OffsetTracker *t = offsets_new(2);
    static int order[N];
    for (int i = 0; i < N; i++) {
        order[i] = i;
        offsets_begin(t, 7, 2 * (int64_t)i); /* even offsets only */
    }
    Rng r;
    rng_seed(&r, 11);
    rng_shuffle_int(&r, order, N);
    static uint8_t finished[N];
    int64_t prev = -1;
    for (int i = 0; i < N; i++) {
        assert_int_equal(offsets_done(t, 7, 2 * (int64_t)order[i]), 0);
        finished[order[i]] = 1;
        int64_t w = offsets_committable(t, 7);
        assert_true(w >= prev); /* the watermark never goes back */
        /* everything below the watermark is finished, and the message at it is not */
        if (w >= 0) {
            if (i % 250 == 0)
                for (int j = 0; 2 * j < w; j++) assert_true(finished[j]);
            if ((w + 1) / 2 < N) assert_false(finished[(w + 1) / 2]); /* w = 2j + 1 */
        }
        prev = w;
    }
    assert_int_equal(offsets_committable(t, 7), 2 * (N - 1) + 1);
    assert_int_equal(offsets_pending_total(t), 0);
    offsets_free(t);
}

static void collect_reports_each_partition_once_within_max(void **state) {
    (void)state;
    OffsetTracker *t = offsets_new(4);
    for (int32_t p = 0; p < 5; p++) {
        offsets_begin(t, p, 0);
        offsets_done(t, p, 0);
    }
    OffsetCommit c[5];
    assert_int_equal(offsets_collect(t, c, 2), 2);
    assert_int_equal(c[0].partition, 0);
    assert_int_equal(c[1].partition, 1);
    assert_int_equal(offsets_collect(t, c, 5), 3);
    assert_int_equal(c[0].partition, 2);
    assert_int_equal(c[2].partition, 4);
    assert_int_equal(c[2].next, 1);
    assert_int_equal(offsets_collect(t, c, 5), 0);
    offsets_free(t);
}

typedef struct {
    OffsetTracker *t;
    int32_t partition;
    int64_t first, count;
    int delay_ms;
} DoneJob;

static void *done_thread(void *arg) {
    DoneJob *j = arg;
    if (j->delay_ms) nanosleep(&(struct timespec){0, j->delay_ms * 1000000L}, NULL);
    for (int64_t o = j->first + j->count - 1; o >= j->first; o--) offsets_done(j->t, j->partition, o);
    return NULL;
}

static void waits_wake_on_completion_and_time_out(void **state) {
    (void)state;
    OffsetTracker *t = offsets_new(8);
    for (int64_t o = 0; o < 20; o++) offsets_begin(t, 1, o);
    offsets_begin(t, 2, 0);
    int32_t p1 = 1, both[2] = {1, 2};
    DoneJob j = {t, 1, 0, 20, 50};
    pthread_t th;
    pthread_create(&th, NULL, done_thread, &j);
    double t0 = util_now_s();
    assert_int_equal(offsets_wait_drained(t, &p1, 1, 5000), 0);
    double waited = util_now_s() - t0;
    assert_true(waited >= 0.04 && waited < 4.0);
    pthread_join(th, NULL);
    t0 = util_now_s();
    assert_int_equal(offsets_wait_drained(t, both, 2, 100), -1); /* partition 2 never finishes */
    assert_true(util_now_s() - t0 >= 0.09);
    offsets_forget(t, 2);
    assert_int_equal(offsets_wait_drained(t, both, 2, 0), 0);

    /* waiting for room: 20 pending, room below 15 comes when 6 are done */
    for (int64_t o = 100; o < 120; o++) offsets_begin(t, 1, o);
    assert_int_equal(offsets_wait_below(t, 15, 50), -1);
    DoneJob j2 = {t, 1, 100, 20, 30};
    pthread_create(&th, NULL, done_thread, &j2);
    assert_int_equal(offsets_wait_below(t, 15, 5000), 0);
    pthread_join(th, NULL);
    assert_int_equal(offsets_wait_below(t, 1, 0), 0);
    offsets_free(t);
}

/* Completions from several threads in parallel with registration by one poll thread:
 * every partition ends fully committed, and the in-flight count returns to zero. */
static void concurrent_completion(void **state) {
    (void)state;
    enum { P = 4, PER = 20000 };
    OffsetTracker *t = offsets_new(64);
    for (int32_t p = 0; p < P; p++)
        for (int64_t o = 0; o < PER; o++) offsets_begin(t, p, o);
    DoneJob jobs[P * 2];
    pthread_t th[P * 2];
    for (int i = 0; i < P * 2; i++) { /* two threads per partition, interleaved halves */
        jobs[i] = (DoneJob){t, i / 2, (i % 2) * (PER / 2), PER / 2, 0};
        pthread_create(&th[i], NULL, done_thread, &jobs[i]);
    }
    OffsetCommit c[P];
    int64_t seen[P] = {0};
    for (int round = 0; round < 1000 && offsets_pending_total(t) > 0; round++) {
        int n = offsets_collect(t, c, P);
        for (int i = 0; i < n; i++) {
            assert_true(c[i].next > seen[c[i].partition]);
            seen[c[i].partition] = c[i].next;
        }
    }
    for (int i = 0; i < P * 2; i++) pthread_join(th[i], NULL);
    for (int32_t p = 0; p < P; p++) assert_int_equal(offsets_committable(t, p), PER);
    assert_int_equal(offsets_pending_total(t), 0);
    offsets_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_order_completion_advances_one_by_one),
        cmocka_unit_test(out_of_order_never_passes_an_unfinished_message),
        cmocka_unit_test(gaps_in_offsets_commit_at_the_oldest_unfinished),
        cmocka_unit_test(unknown_and_repeated_done_are_refused),
        cmocka_unit_test(rewind_restarts_the_partition),
        cmocka_unit_test(revocation_forgets_in_flight_work),
        cmocka_unit_test(rings_grow_past_their_capacity),
        cmocka_unit_test(collect_reports_each_partition_once_within_max),
        cmocka_unit_test(waits_wake_on_completion_and_time_out),
        cmocka_unit_test(concurrent_completion),
    };
    return cmocka_run_group_tests_name("offsets", tests, NULL, NULL);
}
