/* test_smoke_kafka.c — the project's broker (mockbroker, its own process) with clients
 * in several processes over TCP: this test produces and kcat reads (and the reverse),
 * a consumer group of two members in two processes splits 4 partitions, committed
 * offsets are resumed by another process, and messages survive injected faults
 * (request errors, a broker down then up, a slow broker). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/harness/harness.h"

#define NAME_LEN 96

typedef struct {
    HarnessBroker broker;
    char dir[HARNESS_PATH_MAX]; /* for kcat's input and output files */
} KafkaFixture;

static int kafka_setup(void **state) {
    KafkaFixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    if (harness_broker_start(&f->broker, 3, NULL) != 0) {
        free(f);
        return -1;
    }
    if (harness_tmpdir_create("smoke", f->dir, sizeof f->dir) != 0) {
        harness_broker_stop(&f->broker);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int kafka_teardown(void **state) {
    KafkaFixture *f = *state;
    int rc = harness_broker_stop(&f->broker);
    harness_tmpdir_remove(f->dir);
    free(f);
    return rc;
}

/* A fresh topic with `partitions` partitions; its name goes to name. */
static void make_topic(KafkaFixture *f, const char *prefix, int partitions, char *name) {
    harness_unique_name(prefix, name, NAME_LEN);
    assert_int_equal(harness_broker_command(&f->broker, NULL, 0, "topic %s %d", name, partitions), 0);
}

/* n records "k0000".."kNNNN" with values "value-I" and a header trace=tI; pinned to
 * partition I % partitions when partitions > 0. Strings live in one block. */
typedef struct {
    HarnessRecord *recs;
    char (*keys)[16];
    char (*values)[32];
    char (*traces)[16];
    const char *(*headers)[3];
} Records;

static Records make_records(size_t n, int partitions) {
    Records r = {calloc(n, sizeof *r.recs), calloc(n, sizeof *r.keys), calloc(n, sizeof *r.values),
                 calloc(n, sizeof *r.traces), calloc(n, sizeof *r.headers)};
    assert_true(r.recs && r.keys && r.values && r.traces && r.headers);
    for (size_t i = 0; i < n; i++) {
        snprintf(r.keys[i], sizeof r.keys[i], "k%04zu", i);
        snprintf(r.values[i], sizeof r.values[i], "value-%zu", i);
        snprintf(r.traces[i], sizeof r.traces[i], "t%zu", i);
        r.headers[i][0] = "trace", r.headers[i][1] = r.traces[i], r.headers[i][2] = NULL;
        r.recs[i] = (HarnessRecord){.key = r.keys[i], .value = r.values[i], .headers = r.headers[i]};
        if (partitions > 0) r.recs[i].pinned = true, r.recs[i].partition = (int32_t)(i % (size_t)partitions);
    }
    return r;
}

static void free_records(Records *r) {
    free(r->recs), free(r->keys), free(r->values), free(r->traces), free(r->headers);
}

/* Index of a "kNNNN" key, or -1. */
static long key_index(const char *key) {
    if (!key || key[0] != 'k') return -1;
    char *end;
    long i = strtol(key + 1, &end, 10);
    return *end == '\0' || *end == ' ' || *end == '|' ? i : -1;
}

/* Runs kcat with argv (after "kcat"), stdin from in_path (may be NULL), stdout to
 * out_path, and asserts it exits 0 within timeout_ms. */
static void run_kcat(KafkaFixture *f, const char *const *args, const char *in_path, const char *out_path,
                     int timeout_ms) {
    const char *argv[32] = {"kcat"};
    size_t n = 1;
    while (args[n - 1]) {
        assert_true(n < 31);
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    char err_path[HARNESS_PATH_MAX];
    assert_int_equal(harness_path_join(err_path, sizeof err_path, f->dir, "kcat.err"), 0);
    HarnessSpawnOptions opts = {.stdin_path = in_path, .stdout_path = out_path, .stderr_path = err_path};
    pid_t pid = harness_spawn(argv, &opts);
    assert_true(pid > 0);
    int status = -1;
    int waited = harness_wait(pid, timeout_ms, &status);
    if (waited != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (waited == 1) harness_stop(pid, 1000);
        harness_print_tail("kcat stderr", err_path);
        fail_msg("kcat %s: %s (status 0x%x)", args[0], waited == 1 ? "timed out" : "failed", status);
    }
}

/* The test process produces; kcat, another process, reads it all back over TCP. Then
 * kcat produces and the test reads. Keys, values, headers and partitions survive. */
static void produce_here_consume_in_kcat_and_back(void **state) {
    KafkaFixture *f = *state;
    char topic[NAME_LEN], back[NAME_LEN], err[512];
    make_topic(f, "smoke.cross", 4, topic);
    const size_t n = 100;
    Records recs = make_records(n, 0);
    int rc = harness_kafka_produce(f->broker.bootstrap, topic, recs.recs, n, NULL, 10000, err, sizeof err);
    assert_int_equal(rc, 0);

    char out[HARNESS_PATH_MAX];
    assert_int_equal(harness_path_join(out, sizeof out, f->dir, "cross.out"), 0);
    const char *args[] = {"-b", f->broker.bootstrap, "-C", "-t", topic, "-e", "-q",
                          "-f", "%p|%o|%k|%s|%h\n",  NULL};
    run_kcat(f, args, NULL, out, 15000);
    char *text = harness_read_file(out, NULL);
    assert_non_null(text);
    int seen[100] = {0}, per_partition[4] = {0};
    size_t lines = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), lines++) {
        int partition;
        long offset;
        char key[16], value[32], header[32];
        assert_int_equal(sscanf(line, "%d|%ld|%15[^|]|%31[^|]|%31s", &partition, &offset, key, value, header),
                         5);
        long i = key_index(key);
        assert_true(i >= 0 && i < (long)n && partition >= 0 && partition < 4);
        seen[i]++, per_partition[partition]++;
        char expect[40];
        snprintf(expect, sizeof expect, "value-%ld", i);
        assert_string_equal(value, expect);
        snprintf(expect, sizeof expect, "trace=t%ld", i);
        assert_string_equal(header, expect);
    }
    free(text);
    assert_int_equal(lines, n);
    for (size_t i = 0; i < n; i++) assert_int_equal(seen[i], 1);
    int used = 0;
    for (int p = 0; p < 4; p++) used += per_partition[p] > 0;
    assert_true(used >= 2); /* keys were spread by the partitioner */
    free_records(&recs);

    /* kcat produces "key:value" lines with a header; the test reads them. */
    make_topic(f, "smoke.back", 2, back);
    char in[HARNESS_PATH_MAX];
    assert_int_equal(harness_path_join(in, sizeof in, f->dir, "back.in"), 0);
    FILE *fin = fopen(in, "w");
    assert_non_null(fin);
    for (int i = 0; i < 50; i++) fprintf(fin, "k%04d:from kcat %d\n", i, i);
    fclose(fin);
    const char *pargs[] = {"-b", f->broker.bootstrap, "-P", "-t", back, "-K", ":", "-H", "src=kcat", NULL};
    run_kcat(f, pargs, in, out, 15000);
    HarnessMessages got = {0};
    rc = harness_kafka_consume(f->broker.bootstrap, back, 10, 10000, NULL, &got, err, sizeof err);
    if (rc) fail_msg("consume 10 of %s: %s", back, err);
    assert_int_equal(got.n, 10); /* stops at the count */
    harness_messages_free(&got);
    rc = harness_kafka_consume(f->broker.bootstrap, back, 0, 10000, NULL, &got, err, sizeof err);
    if (rc) fail_msg("consume %s: %s", back, err);
    assert_int_equal(got.n, 50);
    int seen_back[50] = {0};
    for (size_t k = 0; k < got.n; k++) {
        const HarnessMessage *m = &got.items[k];
        long i = key_index(m->key);
        assert_true(i >= 0 && i < 50);
        seen_back[i]++;
        char expect[32];
        snprintf(expect, sizeof expect, "from kcat %ld", i);
        assert_string_equal(m->value, expect);
        assert_string_equal(harness_message_header(m, "src"), "kcat");
        assert_true(m->partition == 0 || m->partition == 1);
    }
    for (int i = 0; i < 50; i++) assert_int_equal(seen_back[i], 1);
    harness_messages_free(&got);
}

/* Polls a group consumer until `want` messages arrived or the deadline passed. */
static void poll_messages(rd_kafka_t *c, size_t want, int timeout_ms, HarnessMessages *out) {
    int64_t deadline = harness_now_ms() + timeout_ms;
    while (out->n < want && harness_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m) continue;
        if (!m->err) harness_messages_append(out, m);
        rd_kafka_message_destroy(m);
    }
}

/* Marks the keys of kcat's "PARTITION KEY" lines in seen; the partitions they came
 * from go to *partitions (bit set). Returns the number of complete lines. kcat is
 * still writing (unbuffered, one write per format field), so text after the last
 * newline is a line in progress and is left for the next scan. */
static size_t scan_kcat_lines(const char *path, int *seen, size_t n, unsigned *partitions) {
    char *text = harness_read_file(path, NULL);
    char *end = text ? strrchr(text, '\n') : NULL;
    if (text) *(end ? end + 1 : text) = '\0';
    size_t lines = 0;
    char *save = NULL;
    for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
        int partition = -1;
        char key[16] = "";
        int fields = sscanf(line, "%d %15s", &partition, key);
        long i = key_index(key);
        if (fields != 2 || partition < 0 || partition > 31 || i < 0 || i >= (long)n)
            fail_msg("unexpected kcat line: %s", line);
        seen[i]++, lines++;
        *partitions |= 1u << partition;
    }
    free(text);
    return lines;
}

/* Two members of one group, this test and a kcat process, split 4 partitions 2 + 2;
 * each reads only its own partitions and together they read everything. A member's
 * first join can start a second rebalance a moment later (it rejoins once its topic
 * metadata arrives), after which uncommitted messages are read again: duplicates are
 * allowed (at-least-once), losses and foreign partitions are not. */
static void consumer_group_of_two_processes_splits_partitions(void **state) {
    KafkaFixture *f = *state;
    char topic[NAME_LEN], group[NAME_LEN], err[512];
    make_topic(f, "smoke.group", 4, topic);
    harness_unique_name("smoke-group", group, sizeof group);

    char out[HARNESS_PATH_MAX], kerr[HARNESS_PATH_MAX];
    assert_int_equal(harness_path_join(out, sizeof out, f->dir, "group.out"), 0);
    assert_int_equal(harness_path_join(kerr, sizeof kerr, f->dir, "group.err"), 0);
    const char *argv[] = {"kcat",
                          "-b",
                          f->broker.bootstrap,
                          "-G",
                          group,
                          "-X",
                          "session.timeout.ms=6000",
                          "-X",
                          "heartbeat.interval.ms=500",
                          "-X",
                          "auto.offset.reset=earliest",
                          "-u",
                          "-f",
                          "%p %k\n",
                          topic,
                          NULL};
    HarnessSpawnOptions opts = {.stdout_path = out, .stderr_path = kerr};
    pid_t kcat = harness_spawn(argv, &opts);
    assert_true(kcat > 0);

    rd_kafka_t *c = harness_kafka_group_consumer(f->broker.bootstrap, group, NULL, err, sizeof err);
    if (!c) fail_msg("consumer: %s", err);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(c, topics), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(topics);
    int64_t t0 = harness_now_ms();
    if (harness_kafka_wait_assignment(c, 2, 20000, NULL) != 0) {
        harness_print_tail("kcat -G stderr", kerr);
        fail_msg("the group never split 2 + 2");
    }
    printf("group balanced after %lld ms\n", (long long)(harness_now_ms() - t0));

    enum { N = 40 };
    Records recs = make_records(N, 4); /* 10 per partition */
    assert_int_equal(
        harness_kafka_produce(f->broker.bootstrap, topic, recs.recs, N, NULL, 10000, err, sizeof err), 0);
    HarnessMessages got = {0};
    int seen[N];
    unsigned mine = 0, theirs = 0;
    size_t missing = N, their_lines = 0;
    int64_t deadline = harness_now_ms() + 20000;
    while (missing > 0 && harness_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 50);
        if (m && !m->err) harness_messages_append(&got, m);
        if (m) rd_kafka_message_destroy(m);
        memset(seen, 0, sizeof seen);
        mine = theirs = 0;
        for (size_t k = 0; k < got.n; k++) {
            seen[key_index(got.items[k].key)]++;
            mine |= 1u << got.items[k].partition;
        }
        their_lines = scan_kcat_lines(out, seen, N, &theirs);
        missing = 0;
        for (int i = 0; i < N; i++) missing += seen[i] == 0;
    }
    if (missing > 0 || __builtin_popcount(mine) != 2 || __builtin_popcount(theirs) != 2 || (mine & theirs)) {
        harness_print_tail("kcat -G stderr", kerr);
        fail_msg("%zu messages never read; partitions here 0x%x, in kcat 0x%x", missing, mine, theirs);
    }
    assert_int_equal(mine | theirs, 0xf);
    printf("read %zu here + %zu in kcat for %d messages\n", got.n, their_lines, N);

    harness_signal(kcat, SIGKILL); /* a crashed member: the test's close must not wait for it */
    assert_int_equal(harness_wait(kcat, 5000, NULL), 0);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    harness_messages_free(&got);
    free_records(&recs);
}

/* A member reads half of a topic, commits and leaves; another process (kcat joining
 * the same group) resumes exactly at the committed offsets: nothing read twice or
 * skipped. The mock makes a rejoin wait session.timeout.ms - 1 s: both members use
 * 3 s here to keep the test short. */
static void committed_offsets_are_resumed_by_another_process(void **state) {
    KafkaFixture *f = *state;
    char topic[NAME_LEN], group[NAME_LEN], err[512];
    make_topic(f, "smoke.commit", 4, topic);
    harness_unique_name("smoke-commit", group, sizeof group);
    const size_t n = 40;
    Records recs = make_records(n, 4);
    assert_int_equal(
        harness_kafka_produce(f->broker.bootstrap, topic, recs.recs, n, NULL, 10000, err, sizeof err), 0);

    const char *conf[] = {"enable.auto.commit", "false", "session.timeout.ms", "3000", NULL};
    rd_kafka_t *c = harness_kafka_group_consumer(f->broker.bootstrap, group, conf, err, sizeof err);
    if (!c) fail_msg("consumer: %s", err);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(c, topics), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(topics);
    HarnessMessages first = {0};
    poll_messages(c, 20, 20000, &first);
    assert_int_equal(first.n, 20);
    assert_int_equal(rd_kafka_commit(c, NULL, 0), RD_KAFKA_RESP_ERR_NO_ERROR); /* synchronous */
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);

    char out[HARNESS_PATH_MAX];
    assert_int_equal(harness_path_join(out, sizeof out, f->dir, "commit.out"), 0);
    const char *args[] = {"-b",  f->broker.bootstrap,
                          "-G",  group,
                          "-X",  "session.timeout.ms=3000",
                          "-X",  "heartbeat.interval.ms=500",
                          "-X",  "auto.offset.reset=earliest",
                          "-e",  "-q",
                          "-f",  "%p %o %k\n",
                          topic, NULL};
    int64_t t0 = harness_now_ms();
    run_kcat(f, args, NULL, out, 20000);
    printf("second member joined and read to the end in %lld ms\n", (long long)(harness_now_ms() - t0));

    /* A rebalance may have made this member read some messages twice: count keys. */
    int mine[40] = {0}, resumed_keys[40] = {0};
    int64_t next[4] = {0, 0, 0, 0}; /* per partition: the offset after the last one read here */
    for (size_t k = 0; k < first.n; k++) {
        const HarnessMessage *m = &first.items[k];
        mine[key_index(m->key)]++;
        if (m->offset + 1 > next[m->partition]) next[m->partition] = m->offset + 1;
    }
    char *text = harness_read_file(out, NULL);
    assert_non_null(text);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int partition;
        long offset;
        char key[16];
        assert_int_equal(sscanf(line, "%d %ld %15s", &partition, &offset, key), 3);
        assert_true(partition >= 0 && partition < 4);
        assert_int_equal(offset, next[partition]); /* contiguous from the committed offset */
        next[partition]++;
        long i = key_index(key);
        assert_true(i >= 0 && i < 40);
        resumed_keys[i]++;
    }
    free(text);
    for (int i = 0; i < 40; i++) assert_int_equal(resumed_keys[i], mine[i] ? 0 : 1);
    for (int p = 0; p < 4; p++) assert_int_equal(next[p], 10);
    harness_messages_free(&first);
    free_records(&recs);
}

/* Sends records [from, to) without waiting for delivery. */
static void send_range(rd_kafka_t *p, const char *topic, const Records *recs, size_t from, size_t to) {
    for (size_t i = from; i < to; i++)
        assert_int_equal(harness_kafka_send(p, topic, &recs->recs[i], 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Injected Produce errors, a broker down (its partition waits) then up, and a slow
 * broker: every message is acknowledged and present in the topic. */
static void messages_survive_injected_faults(void **state) {
    KafkaFixture *f = *state;
    char topic[NAME_LEN], err[512];
    make_topic(f, "smoke.faults", 4, topic);
    assert_int_equal(harness_broker_command(&f->broker, NULL, 0, "leader %s 0 2", topic), 0);
    const size_t n = 2000, quarter = n / 4;
    Records recs = make_records(n, 4);
    HarnessDelivery d = {0};
    const char *conf[] = {"retry.backoff.ms", "50", "message.timeout.ms", "30000", NULL};
    rd_kafka_t *p = harness_kafka_producer(f->broker.bootstrap, conf, &d, err, sizeof err);
    if (!p) fail_msg("producer: %s", err);

    send_range(p, topic, &recs, 0, quarter); /* a healthy start */
    assert_int_equal(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(d.delivered, quarter);

    assert_int_equal(harness_broker_command(&f->broker, NULL, 0, "error Produce 3 NOT_LEADER_FOR_PARTITION"),
                     0);
    assert_int_equal(harness_broker_command(&f->broker, NULL, 0, "error Produce 1 _TRANSPORT"), 0);
    send_range(p, topic, &recs, quarter, 2 * quarter);
    assert_int_equal(rd_kafka_flush(p, 15000), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(d.delivered, 2 * quarter);

    /* Broker 2 leads partition 0: while it is down, partition 0's messages wait. */
    assert_int_equal(harness_broker_command(&f->broker, NULL, 0, "down 2"), 0);
    send_range(p, topic, &recs, 2 * quarter, 3 * quarter);
    int64_t until = harness_now_ms() + 800;
    while (harness_now_ms() < until) rd_kafka_poll(p, 50);
    size_t stuck = 3 * quarter - d.delivered - d.failed;
    assert_true(stuck >= quarter / 4); /* the partition-0 share at least */
    assert_int_equal(harness_broker_command(&f->broker, NULL, 0, "up 2"), 0);
    assert_int_equal(rd_kafka_flush(p, 20000), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(d.delivered, 3 * quarter);

    assert_int_equal(harness_broker_command(&f->broker, NULL, 0, "rtt 1 100"), 0);
    assert_int_equal(harness_broker_command(&f->broker, NULL, 0, "rtt 3 100"), 0);
    send_range(p, topic, &recs, 3 * quarter, n);
    assert_int_equal(rd_kafka_flush(p, 15000), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(harness_broker_command(&f->broker, NULL, 0, "rtt 1 0"), 0);
    assert_int_equal(harness_broker_command(&f->broker, NULL, 0, "rtt 3 0"), 0);
    assert_int_equal(d.failed, 0);
    assert_int_equal(d.delivered, n);
    rd_kafka_destroy(p);
    printf("%zu messages were held back while broker 2 was down\n", stuck);

    HarnessMessages got = {0};
    if (harness_kafka_consume(f->broker.bootstrap, topic, 0, 15000, NULL, &got, err, sizeof err))
        fail_msg("consume: %s", err);
    int *seen = calloc(n, sizeof *seen);
    size_t duplicates = 0;
    for (size_t k = 0; k < got.n; k++) {
        long i = key_index(got.items[k].key);
        assert_true(i >= 0 && i < (long)n);
        assert_int_equal(got.items[k].partition, (int32_t)(i % 4));
        duplicates += seen[i]++ > 0;
    }
    for (size_t i = 0; i < n; i++)
        if (!seen[i]) fail_msg("message %zu lost", i);
    printf("%zu messages read back, %zu duplicates (allowed: at-least-once)\n", got.n, duplicates);
    free(seen);
    harness_messages_free(&got);
    free_records(&recs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(produce_here_consume_in_kcat_and_back),
        cmocka_unit_test(consumer_group_of_two_processes_splits_partitions),
        cmocka_unit_test(committed_offsets_are_resumed_by_another_process),
        cmocka_unit_test(messages_survive_injected_faults),
    };
    if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER")); /* e.g. "*group*" */
    return cmocka_run_group_tests(tests, kafka_setup, kafka_teardown);
}
