/* test_worker_failover.c — workers that die: two workers in one group split the
 * partitions and, when one is SIGKILLed mid-stream, the other takes its partitions
 * over and every tweet is scored at least once; a worker SIGKILLed and restarted
 * scores again only what it had not committed (duplicates come only from the
 * uncommitted tail, never from below a committed offset). */
#include "tests/integration/worker_fixture.h"

static int setup(void **state) { return wf_setup(state, 3); }
static int teardown(void **state) { return wf_teardown(state); }

/* How many times each tweet "<prefix><i>" (i < n) was scored; returns the total. */
static size_t count_scored(WorkerFixture *f, const char *topic, const char *prefix, int n, int *times) {
    HarnessMessages msgs = {0};
    wf_read_all(f, topic, &msgs);
    memset(times, 0, (size_t)n * sizeof *times);
    size_t plen = strlen(prefix);
    for (size_t k = 0; k < msgs.n; k++) {
        assert_true(!strncmp(msgs.items[k].key, prefix, plen));
        int i = atoi(msgs.items[k].key + plen);
        assert_true(i >= 0 && i < n);
        times[i]++;
    }
    size_t total = msgs.n;
    harness_messages_free(&msgs);
    return total;
}

static void the_survivor_takes_over_a_killed_worker(void **state) {
    WorkerFixture *f = *state;
    if (!f->model[0]) skip();
    enum { N = 4000 };
    WorkerNames n;
    wf_names(f, "fo", &n);
    char log_a[HARNESS_PATH_MAX], log_b[HARNESS_PATH_MAX];
    pid_t a = wf_worker_start(f, &n, "fo-a.log", NULL, log_a, sizeof log_a);
    wf_wait_assigned(log_a, WF_PARTITIONS, 30000);
    pid_t b = wf_worker_start(f, &n, "fo-b.log", NULL, log_b, sizeof log_b);
    wf_wait_assigned(log_b, WF_PARTITIONS / 2, 30000); /* the group split the partitions */
    wf_wait_assigned(log_a, WF_PARTITIONS / 2, 30000);

    wf_produce_tweets(f, n.in, "f", 0, N / 2);
    wf_wait_count(f, n.out, N / 4, 30000, log_b);
    wf_worker_kill(b); /* mid-stream, without a chance to commit or leave */
    wf_produce_tweets(f, n.in, "f", N / 2, N / 2);
    wf_wait_assigned(log_a, WF_PARTITIONS, 30000); /* after the session timeout */
    wf_wait_count(f, n.out, N, 60000, log_a);
    /* every tweet at least once (the count above may include duplicates: check ids) */
    static int times[N];
    int64_t deadline = harness_now_ms() + 30000;
    int missing;
    do {
        count_scored(f, n.out, "f", N, times);
        missing = 0;
        for (int i = 0; i < N; i++) missing += times[i] == 0;
        if (missing) harness_sleep_ms(200);
    } while (missing && harness_now_ms() < deadline);
    if (missing) {
        harness_print_tail("survivor log", log_a);
        fail_msg("%d tweets never scored", missing);
    }
    wf_worker_term(a, log_a);
}

static void a_restart_rescores_only_the_uncommitted_tail(void **state) {
    WorkerFixture *f = *state;
    if (!f->model[0]) skip();
    enum { N = 15000, FIRST = 1000, KILL_AT = 3000 };
    WorkerNames n;
    wf_names(f, "tail", &n);
    char log[HARNESS_PATH_MAX];
    /* one thread, small batches: slow enough to be killed mid-stream */
    const char *extra[] = {"--threads", "1", "--batch-max", "8", "--max-inflight", "64", NULL};
    pid_t w = wf_worker_start(f, &n, "tail.log", extra, log, sizeof log);
    wf_wait_assigned(log, WF_PARTITIONS, 30000);
    /* a first part, until the worker has committed (the mock refuses commits while a
     * rebalance settles, which can take seconds after the first join) ... */
    wf_produce_tweets(f, n.in, "c", 0, FIRST);
    wf_wait_count(f, n.out, FIRST, 60000, log);
    int64_t committed[WF_PARTITIONS], committed_total = 0;
    for (int64_t until = harness_now_ms() + 20000; committed_total == 0 && harness_now_ms() < until;) {
        wf_committed(f, n.group, n.in, committed);
        for (int p = 0; p < WF_PARTITIONS; p++) committed_total += committed[p] > 0 ? committed[p] : 0;
        if (committed_total == 0) harness_sleep_ms(50);
    }
    /* ... then the rest, and the kill in the middle of it */
    wf_produce_tweets(f, n.in, "c", FIRST, N - FIRST);
    wf_wait_count(f, n.out, KILL_AT, 60000, log);
    wf_worker_kill(w);
    int64_t scored_before = wf_topic_count(f, n.out);
    /* The last commits before the kill. They trail the scored events by the work done
     * since the last auto-commit (auto.commit.interval.ms=200 in the fixture) plus the
     * few tweets in flight: offsets are stored within ~1 ms of their delivery reports,
     * but at the ~20 k tweets/s of this test 200 ms is up to ~4,000 tweets. */
    wf_committed(f, n.group, n.in, committed);
    committed_total = 0;
    for (int p = 0; p < WF_PARTITIONS; p++) committed_total += committed[p] > 0 ? committed[p] : 0;
    assert_true(committed_total > 0); /* commits happened while it ran */
    assert_true(committed_total <= scored_before);
    if (scored_before >= N) skip(); /* it finished before the kill: nothing to check */

    w = wf_worker_start(f, &n, "tail-restart.log", extra, log, sizeof log);
    wf_wait_count(f, n.out, N, 90000, log);
    int64_t deadline = harness_now_ms() + 30000;
    static int times[N];
    int missing;
    do {
        count_scored(f, n.out, "c", N, times);
        missing = 0;
        for (int i = 0; i < N; i++) missing += times[i] == 0;
        if (missing) harness_sleep_ms(200);
    } while (missing && harness_now_ms() < deadline);
    assert_int_equal(missing, 0);
    wf_worker_term(w, log);

    /* every duplicate comes from at or above the committed offset of its partition */
    HarnessMessages msgs = {0};
    wf_read_all(f, n.out, &msgs);
    int duplicates = 0;
    static int seen[N];
    memset(seen, 0, sizeof seen);
    for (size_t k = 0; k < msgs.n; k++) {
        int i = atoi(msgs.items[k].key + 1);
        if (seen[i]++) {
            duplicates++;
            cJSON *o = wf_event(&msgs.items[k]);
            int p;
            int64_t off;
            wf_event_source(o, &p, &off);
            if (off < committed[p])
                fail_msg("tweet %d (partition %d, offset %lld) scored again below the committed offset %lld",
                         i, p, (long long)off, (long long)committed[p]);
            cJSON_Delete(o);
        }
    }
    assert_true(duplicates <= scored_before - committed_total);
    printf("killed after %lld scored (%lld committed): %d duplicates after the restart\n",
           (long long)scored_before, (long long)committed_total, duplicates);
    harness_messages_free(&msgs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_survivor_takes_over_a_killed_worker),
        cmocka_unit_test(a_restart_rescores_only_the_uncommitted_tail),
    };
    if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER")); /* e.g. "*cache*" */
    return cmocka_run_group_tests_name("worker_failover", tests, setup, teardown);
}
