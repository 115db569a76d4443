/* test_cli_tail.c — `buzzradar tail` as a program against the project's Kafka-protocol
 * broker: what it prints for scored tweets, alerts and garbage, colours only when
 * asked, --count, a clean exit on SIGINT, and usage errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>

#include "tests/harness/harness.h"

static HarnessBroker broker;
static char tmpdir[HARNESS_PATH_MAX];

static const char *bin(void) {
    const char *b = getenv("BUZZRADAR_BIN");
    return b && *b ? b : "build/buzzradar";
}

static int group_setup(void **state) {
    (void)state;
    if (harness_tmpdir_create("tail", tmpdir, sizeof tmpdir) != 0) return -1;
    return harness_broker_start(&broker, 1, NULL);
}

static int group_teardown(void **state) {
    (void)state;
    return harness_broker_stop(&broker);
}

static void produce(const char *topic, const char *const *values, size_t n) {
    HarnessRecord recs[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) recs[i] = (HarnessRecord){.key = "k", .value = values[i]};
    char err[256];
    if (harness_kafka_produce(broker.bootstrap, topic, recs, n, NULL, 10000, err, sizeof err) != 0)
        fail_msg("produce to %s: %s", topic, err);
}

/* Runs tail to completion (it must exit by itself within 20 s). Returns its exit status;
 * out and errout get its stdout and stderr (free them). */
static int run_tail(const char *const *args, const char *const *env, char **out, char **errout) {
    const char *argv[24] = {bin(), "tail", "--brokers", broker.bootstrap};
    int n = 4;
    for (int i = 0; args[i]; i++) argv[n++] = args[i];
    argv[n] = NULL;
    char out_path[HARNESS_PATH_MAX + 16], err_path[HARNESS_PATH_MAX + 16];
    snprintf(out_path, sizeof out_path, "%s/out", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/err", tmpdir);
    HarnessSpawnOptions o = {.env = env, .stdout_path = out_path, .stderr_path = err_path};
    pid_t pid = harness_spawn(argv, &o);
    assert_true(pid > 0);
    int status;
    if (harness_wait(pid, 20000, &status) != 0) {
        harness_stop(pid, 1000);
        harness_print_tail("tail stderr", err_path);
        fail_msg("tail did not exit by itself");
    }
    *out = harness_read_file(out_path, NULL);
    *errout = harness_read_file(err_path, NULL);
    assert_non_null(*out);
    assert_non_null(*errout);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Three scored tweets (one unreadable) and an alert, read from the beginning. */
static void prints_scored_tweets_and_alerts(void **state) {
    (void)state;
    char scored[128], alerts[128];
    harness_unique_name("scored", scored, sizeof scored);
    harness_unique_name("alerts", alerts, sizeof alerts);
    const char *tweets[] = {
        "{\"id\":\"1\",\"text\":\"@AirParadis lost my "
        "bag\\nagain\",\"label\":\"negative\",\"p_positive\":0.04,"
        "\"scored_at\":\"2026-03-14T12:10:00.000Z\"}",
        "{\"id\":\"2\",\"text\":\"Lovely crew \xf0\x9f\x98\x8a\",\"label\":\"positive\",\"p_positive\":0.93,"
        "\"scored_at\":\"2026-03-14T12:10:01.000Z\"}",
        "not json at all",
    };
    const char *alert[] = {
        "{\"type\":\"negative_surge\",\"severity\":\"critical\",\"message\":\"Negative share "
        "71%\",\"value\":0.71,\"threshold\":0.4,\"window_s\":300,\"at\":\"2026-03-14T12:11:00Z\"}"};
    produce(scored, tweets, 3); /* one key: one partition, in order */
    produce(alerts, alert, 1);

    const char *args[] = {"--topic-out", scored, "--topic-alerts", alerts, "--from-beginning", "-c",
                          "4",           NULL};
    const char *env[] = {"TZ=UTC", "NO_COLOR=", "COLUMNS=", NULL};
    char *out, *err;
    assert_int_equal(run_tail(args, env, &out, &err), 0);
    assert_non_null(strstr(out, "12:10:00  NEG [..........] 0.04  @AirParadis lost my bag again\n"));
    assert_non_null(strstr(out, "12:10:01  POS [#########.] 0.93  Lovely crew \xf0\x9f\x98\x8a\n"));
    assert_non_null(strstr(out, "unreadable scored event (15 bytes)\n"));
    assert_non_null(strstr(out, " *** ALERT  negative_surge  critical  12:11:00 ***\n"
                                "    Negative share 71% (value 0.71, threshold 0.4, window 300 s)\n"));
    assert_null(strchr(out, '\033')); /* stdout is a file: no colours */
    assert_non_null(strstr(err, "2 scored tweets (1 negative), 1 alerts, 1 unreadable"));
    free(out);
    free(err);

    /* --color always: escapes; NO_COLOR does not override an explicit request */
    const char *args2[] = {
        "--topic-out", scored, "--topic-alerts", alerts, "--from-beginning", "--color", "always", "-c",
        "4",           NULL};
    const char *env2[] = {"TZ=UTC", "NO_COLOR=1", NULL};
    assert_int_equal(run_tail(args2, env2, &out, &err), 0);
    assert_non_null(strstr(out, "\033[1;31mNEG"));
    assert_non_null(strstr(out, "\033[1;97;41m"));
    free(out);
    free(err);
}

/* From the end: only what arrives after it started; SIGINT ends it at once with 0. */
static void follows_the_end_and_stops_on_sigint(void **state) {
    (void)state;
    char scored[128], alerts[128];
    harness_unique_name("scored", scored, sizeof scored);
    harness_unique_name("alerts", alerts, sizeof alerts);
    const char *old[] = {"{\"text\":\"before\",\"label\":\"positive\",\"p_positive\":0.9}"};
    produce(scored, old, 1);
    produce(alerts, (const char *[]){"{\"type\":\"x\"}"}, 1);

    char out_path[HARNESS_PATH_MAX + 16], err_path[HARNESS_PATH_MAX + 16];
    snprintf(out_path, sizeof out_path, "%s/live.out", tmpdir);
    snprintf(err_path, sizeof err_path, "%s/live.err", tmpdir);
    const char *argv[] = {
        bin(), "tail", "--brokers", broker.bootstrap, "--topic-out", scored, "--topic-alerts", alerts, NULL};
    HarnessSpawnOptions o = {.stdout_path = out_path, .stderr_path = err_path};
    pid_t pid = harness_spawn(argv, &o);
    assert_true(pid > 0);

    /* keep producing until a line shows up: tail assigns at the end a little after start */
    const char *live[] = {"{\"text\":\"after\",\"label\":\"negative\",\"p_positive\":0.1}"};
    int64_t deadline = harness_now_ms() + 15000;
    char *out = NULL;
    while (harness_now_ms() < deadline) {
        produce(scored, live, 1);
        harness_sleep_ms(300);
        free(out);
        out = harness_read_file(out_path, NULL);
        if (out && strstr(out, "after")) break;
    }
    assert_non_null(out);
    assert_non_null(strstr(out, "NEG [#.........] 0.10  after\n"));
    assert_null(strstr(out, "before"));
    free(out);

    int64_t t0 = harness_now_ms();
    assert_int_equal(harness_signal(pid, SIGINT), 0);
    int status;
    assert_int_equal(harness_wait(pid, 5000, &status), 0);
    print_message("tail exited %lld ms after SIGINT\n", (long long)(harness_now_ms() - t0));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char *err = harness_read_file(err_path, NULL);
    assert_non_null(strstr(err, "scored tweets"));
    free(err);
}

static void usage_errors(void **state) {
    (void)state;
    static const char *const cases[][4] = {
        {"--count", "0", NULL}, {"--color", "sometimes", NULL}, {"-X", "novalue", NULL}, {"--bogus", NULL},
        {"extra", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out, *err;
        assert_int_equal(run_tail(cases[i], NULL, &out, &err), 2);
        assert_true(strlen(err) > 0);
        free(out);
        free(err);
    }
    /* no brokers at all */
    char err_path[HARNESS_PATH_MAX + 16];
    snprintf(err_path, sizeof err_path, "%s/nobrokers", tmpdir);
    const char *argv[] = {bin(), "tail", NULL};
    const char *env[] = {"BUZZRADAR_BROKERS=", NULL};
    HarnessSpawnOptions o = {.env = env, .stderr_path = err_path};
    pid_t pid = harness_spawn(argv, &o);
    int status;
    assert_int_equal(harness_wait(pid, 5000, &status), 0);
    assert_int_equal(WEXITSTATUS(status), 2);
    char *err = harness_read_file(err_path, NULL);
    assert_non_null(strstr(err, "--brokers is required"));
    free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prints_scored_tweets_and_alerts),
        cmocka_unit_test(follows_the_end_and_stops_on_sigint),
        cmocka_unit_test(usage_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
