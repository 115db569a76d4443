/* test_harness.c — the test harness itself: child processes (redirection, environment,
 * exit status, timeouts, SIGKILL escalation), redis-server and mockbroker start/stop,
 * a redis-server halted (SIGTERM, SIGKILL) and restarted on the same socket,
 * the broker's control socket, and that a test killed in any way leaves no server
 * running. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness/harness.h"

static bool path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* A child's output files land in a fresh directory removed at the end of the test. */
static void spawn_redirects_output_env_and_exit_status(void **state) {
    (void)state;
    char dir[HARNESS_PATH_MAX], out[HARNESS_PATH_MAX + 8], err[HARNESS_PATH_MAX + 8],
        in[HARNESS_PATH_MAX + 8];
    assert_int_equal(harness_tmpdir_create("spawn", dir, sizeof dir), 0);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(err, sizeof err, "%s/err", dir);
    snprintf(in, sizeof in, "%s/in", dir);
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    fputs("from stdin\n", f);
    fclose(f);

    const char *argv[] = {"sh", "-c", "read line; echo \"$line/$BZ_HARNESS_X/$HOME\"; echo oops >&2; exit 3",
                          NULL};
    const char *env[] = {"BZ_HARNESS_X=42", "HOME=/nowhere", NULL};
    HarnessSpawnOptions opts = {.env = env, .stdin_path = in, .stdout_path = out, .stderr_path = err};
    pid_t pid = harness_spawn(argv, &opts);
    assert_true(pid > 0);
    int status = 0;
    assert_int_equal(harness_wait(pid, 5000, &status), 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
    char *text = harness_read_file(out, NULL);
    assert_non_null(text);
    assert_string_equal(text, "from stdin/42//nowhere\n");
    free(text);
    text = harness_read_file(err, NULL);
    assert_string_equal(text, "oops\n");
    free(text);
    /* A reaped child is no longer ours to signal or wait for. */
    assert_int_equal(harness_signal(pid, 0), -1);
    assert_int_equal(harness_wait(pid, 0, NULL), -1);
    assert_int_equal(harness_tmpdir_remove(dir), 0);
    assert_false(path_exists(dir));
}

static void spawn_reports_what_cannot_start(void **state) {
    (void)state;
    const char *missing[] = {"/nonexistent/buzzradar-tool", NULL};
    assert_int_equal(harness_spawn(missing, NULL), -1);
    const char *not_in_path[] = {"buzzradar-no-such-program", NULL};
    assert_int_equal(harness_spawn(not_in_path, NULL), -1);
    const char *ok[] = {"true", NULL};
    HarnessSpawnOptions bad_out = {.stdout_path = "/nonexistent/dir/out"};
    assert_int_equal(harness_spawn(ok, &bad_out), -1);
    /* Only our own children can be signalled: the parent of this test is not. */
    assert_int_equal(harness_signal(getppid(), 0), -1);
    assert_int_equal(harness_stop(getppid(), 0), -1);
}

static void wait_times_out_and_stop_escalates_to_sigkill(void **state) {
    (void)state;
    const char *sleeper[] = {"sleep", "30", NULL};
    pid_t pid = harness_spawn(sleeper, NULL);
    assert_true(pid > 0);
    int64_t t0 = harness_now_ms();
    assert_int_equal(harness_wait(pid, 100, NULL), 1);
    int64_t waited = harness_now_ms() - t0;
    assert_true(waited >= 100 && waited < 1000);
    int status = harness_stop(pid, 2000);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);

    /* SIGTERM ignored: stop must fall back to SIGKILL after the grace period. */
    const char *stubborn[] = {"sh", "-c", "trap '' TERM; exec sleep 30", NULL};
    pid = harness_spawn(stubborn, NULL);
    assert_true(pid > 0);
    harness_sleep_ms(100); /* let the shell install its trap */
    t0 = harness_now_ms();
    status = harness_stop(pid, 200);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_true(harness_now_ms() - t0 < 3000);
}

static void redis_starts_without_persistence_and_stops(void **state) {
    (void)state;
    HarnessRedis r;
    assert_int_equal(harness_redis_start(&r), 0);
    pid_t pid = r.pid;
    assert_true(pid > 0);
    assert_true(path_exists(r.socket_path));
    assert_string_equal(r.url + strlen("unix://"), r.socket_path);
    redisContext *c = harness_redis_connect(&r);
    assert_non_null(c);
    redisReply *reply = redisCommand(c, "SET bz:harness hello");
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_STATUS);
    freeReplyObject(reply);
    reply = redisCommand(c, "GET bz:harness");
    assert_string_equal(reply->str, "hello");
    freeReplyObject(reply);
    const char *expect[][2] = {{"save", ""}, {"appendonly", "no"}, {"port", "0"}};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        reply = redisCommand(c, "CONFIG GET %s", expect[i][0]);
        assert_int_equal(reply->type, REDIS_REPLY_ARRAY);
        assert_int_equal(reply->elements, 2);
        assert_string_equal(reply->element[1]->str, expect[i][1]);
        freeReplyObject(reply);
    }
    redisFree(c);
    char dir[HARNESS_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", r.dir);
    assert_int_equal(harness_redis_stop(&r), 0); /* exited 0 on SIGTERM */
    assert_int_equal(r.pid, 0);
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
    assert_false(path_exists(dir));
    assert_int_equal(harness_redis_stop(&r), 0); /* idempotent */
}

static void redis_halts_and_restarts_on_the_same_socket(void **state) {
    (void)state;
    HarnessRedis r;
    assert_int_equal(harness_redis_start(&r), 0);
    char url[sizeof r.url], dir[HARNESS_PATH_MAX];
    snprintf(url, sizeof url, "%s", r.url);
    snprintf(dir, sizeof dir, "%s", r.dir);
    const int sigs[] = {SIGTERM, SIGKILL}; /* a clean stop removes the socket, a crash leaves it */
    for (int i = 0; i < 2; i++) {
        redisContext *c = harness_redis_connect(&r);
        assert_non_null(c);
        redisReply *reply = redisCommand(c, "SET bz:harness %d", i);
        assert_int_equal(reply->type, REDIS_REPLY_STATUS);
        freeReplyObject(reply);
        pid_t pid = r.pid;
        assert_int_equal(harness_redis_halt(&r, sigs[i]), 0);
        assert_int_equal(r.pid, 0);
        assert_int_equal(kill(pid, 0), -1);
        redisFree(c);
        struct timeval tv = {.tv_sec = 1};
        c = redisConnectUnixWithTimeout(r.socket_path, tv);
        assert_true(c == NULL || c->err); /* refused: nobody listens */
        redisFree(c);
        assert_int_equal(harness_redis_halt(&r, SIGTERM), -1); /* not running */

        assert_int_equal(harness_redis_restart(&r), 0);
        assert_true(r.pid > 0 && r.pid != pid);
        assert_string_equal(r.url, url);
        assert_int_equal(harness_redis_restart(&r), -1); /* running already */
        c = harness_redis_connect(&r);
        assert_non_null(c);
        reply = redisCommand(c, "EXISTS bz:harness");
        assert_int_equal(reply->integer, 0); /* a fresh, empty server */
        freeReplyObject(reply);
        redisFree(c);
    }
    assert_int_equal(harness_redis_halt(&r, SIGKILL), 0);
    assert_int_equal(harness_redis_stop(&r), 0); /* removes the halted server's directory */
    assert_false(path_exists(dir));
}

static void broker_starts_with_topics_and_obeys_commands(void **state) {
    (void)state;
    HarnessBroker b;
    const char *topics[] = {"harness.a:3", "harness.b:1", NULL};
    assert_int_equal(harness_broker_start(&b, 2, topics), 0);
    pid_t pid = b.pid;
    char *file = harness_read_file(b.bootstrap_file, NULL);
    assert_non_null(file);
    assert_true(strncmp(file, b.bootstrap, strlen(b.bootstrap)) == 0);
    assert_string_equal(file + strlen(b.bootstrap), "\n");
    free(file);
    assert_non_null(strstr(b.bootstrap, "127.0.0.1:"));
    assert_non_null(strchr(b.bootstrap, ',')); /* two brokers */

    char reply[512];
    assert_int_equal(harness_broker_command(&b, reply, sizeof reply, "ping"), 0);
    assert_string_equal(reply, "ok");
    assert_int_equal(harness_broker_command(&b, reply, sizeof reply, "bootstrap"), 0);
    assert_string_equal(reply + 3, b.bootstrap);
    assert_int_equal(harness_broker_command(&b, reply, sizeof reply, "down %d", 3), 1); /* only 1..2 */
    assert_int_equal(strncmp(reply, "err ", 4), 0);
    assert_int_equal(harness_broker_command(&b, NULL, 0, "no-such-command"), 1);
    assert_int_equal(harness_broker_command(&b, NULL, 0, "error Produce 2 NOT_LEADER_FOR_PARTITION"), 0);
    assert_int_equal(harness_broker_command(&b, NULL, 0, "error NoSuchApi 2 1"), 1);
    assert_int_equal(harness_broker_command(&b, NULL, 0, "error Produce 2 NO_SUCH_ERROR"), 1);
    assert_int_equal(harness_broker_command(&b, NULL, 0, "clear Produce"), 0);
    assert_int_equal(harness_broker_command(&b, NULL, 0, "rtt 1 0"), 0);
    assert_int_equal(harness_broker_command(&b, NULL, 0, "topic harness.c 5"), 0);
    assert_int_equal(harness_broker_command(&b, NULL, 0, "leader harness.c 0 2"), 0);

    /* Another process (kcat) sees the brokers, the topics and the new leader. */
    char meta[HARNESS_PATH_MAX + 16];
    snprintf(meta, sizeof meta, "%s/metadata.txt", b.dir);
    const char *argv[] = {"kcat", "-b", b.bootstrap, "-L", "-m", "5", NULL};
    HarnessSpawnOptions opts = {.stdout_path = meta};
    pid_t kcat = harness_spawn(argv, &opts);
    assert_true(kcat > 0);
    int status = -1;
    assert_int_equal(harness_wait(kcat, 10000, &status), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *text = harness_read_file(meta, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, " 2 brokers:"));
    assert_non_null(strstr(text, "topic \"harness.a\" with 3 partitions"));
    assert_non_null(strstr(text, "topic \"harness.b\" with 1 partitions"));
    assert_non_null(strstr(text, "topic \"harness.c\" with 5 partitions"));
    const char *c0 = strstr(text, "topic \"harness.c\"");
    assert_non_null(strstr(c0, "partition 0, leader 2,"));
    free(text);

    char dir[HARNESS_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", b.dir);
    assert_int_equal(harness_broker_stop(&b), 0); /* exited 0 on SIGTERM */
    assert_int_equal(kill(pid, 0), -1);
    assert_false(path_exists(dir));
}

typedef enum { DIE_BY_SIGKILL, DIE_BY__EXIT, DIE_BY_EXIT } DeathKind;

typedef struct {
    pid_t redis, broker;
    char redis_dir[HARNESS_PATH_MAX], broker_dir[HARNESS_PATH_MAX];
} ServersReport;

/* Forks a "test" that starts both servers, reports their PIDs, and dies as `kind`
 * says; returns what it reported. The servers' directories are created under `tmp`. */
static ServersReport run_dying_test(DeathKind kind, const char *tmp) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    char *old_tmpdir = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    setenv("TMPDIR", tmp, 1);
    fflush(NULL); /* or the child's exit() would print our buffered output again */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(fds[0]);
        ServersReport rep;
        memset(&rep, 0, sizeof rep);
        HarnessRedis r;
        HarnessBroker b;
        if (harness_redis_start(&r) == 0 && harness_broker_start(&b, 1, NULL) == 0) {
            rep.redis = r.pid, rep.broker = b.pid;
            memcpy(rep.redis_dir, r.dir, sizeof rep.redis_dir);
            memcpy(rep.broker_dir, b.dir, sizeof rep.broker_dir);
        }
        if (write(fds[1], &rep, sizeof rep) != (ssize_t)sizeof rep) _exit(2);
        if (kind == DIE_BY__EXIT) _exit(0); /* no atexit: only PDEATHSIG can help */
        if (kind == DIE_BY_EXIT) exit(0);   /* atexit: harness_stop_all */
        for (;;) pause();                   /* wait for SIGKILL */
    }
    if (old_tmpdir)
        setenv("TMPDIR", old_tmpdir, 1);
    else
        unsetenv("TMPDIR");
    free(old_tmpdir);
    close(fds[1]);
    ServersReport rep;
    memset(&rep, 0, sizeof rep);
    ssize_t got = read(fds[0], &rep, sizeof rep);
    close(fds[0]);
    if (kind == DIE_BY_SIGKILL) kill(child, SIGKILL);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_int_equal(got, (ssize_t)sizeof rep);
    assert_true(rep.redis > 0 && rep.broker > 0);
    return rep;
}

/* This process is a child subreaper: the servers of a dead child are re-parented to
 * it, so it can reap them and see how they died. */
static void assert_killed_by_sigkill(pid_t pid) {
    int64_t deadline = harness_now_ms() + 5000;
    int status = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && harness_now_ms() < deadline) harness_sleep_ms(10);
    assert_int_equal(r, pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

static void servers_die_with_a_sigkilled_or_exiting_test(void **state) {
    (void)state;
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    char tmp[HARNESS_PATH_MAX];
    assert_int_equal(harness_tmpdir_create("dying", tmp, sizeof tmp), 0);

    int64_t t0 = harness_now_ms();
    ServersReport rep = run_dying_test(DIE_BY_SIGKILL, tmp);
    assert_killed_by_sigkill(rep.redis);
    assert_killed_by_sigkill(rep.broker);
    printf("servers of a SIGKILLed test gone after %lld ms\n", (long long)(harness_now_ms() - t0));

    rep = run_dying_test(DIE_BY__EXIT, tmp);
    assert_killed_by_sigkill(rep.redis);
    assert_killed_by_sigkill(rep.broker);

    /* A normal exit stops the servers gracefully and removes their directories. */
    rep = run_dying_test(DIE_BY_EXIT, tmp);
    assert_int_equal(kill(rep.redis, 0), -1);
    assert_int_equal(errno, ESRCH);
    assert_int_equal(kill(rep.broker, 0), -1);
    assert_false(path_exists(rep.redis_dir));
    assert_false(path_exists(rep.broker_dir));

    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
    assert_int_equal(harness_tmpdir_remove(tmp), 0); /* also the killed servers' dirs */
    assert_false(path_exists(tmp));
}

/* harness_stop_all stops every child still running (what the atexit handler does). */
static void stop_all_stops_everything_started(void **state) {
    (void)state;
    HarnessRedis r;
    assert_int_equal(harness_redis_start(&r), 0);
    const char *sleeper[] = {"sleep", "30", NULL};
    pid_t s = harness_spawn(sleeper, NULL);
    assert_true(s > 0);
    char dir[HARNESS_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", r.dir);
    harness_stop_all();
    assert_int_equal(kill(r.pid, 0), -1);
    assert_int_equal(kill(s, 0), -1);
    assert_false(path_exists(dir));
    assert_int_equal(harness_wait(s, 0, NULL), -1); /* already reaped */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spawn_redirects_output_env_and_exit_status),
        cmocka_unit_test(spawn_reports_what_cannot_start),
        cmocka_unit_test(wait_times_out_and_stop_escalates_to_sigkill),
        cmocka_unit_test(redis_starts_without_persistence_and_stops),
        cmocka_unit_test(redis_halts_and_restarts_on_the_same_socket),
        cmocka_unit_test(broker_starts_with_topics_and_obeys_commands),
        cmocka_unit_test(servers_die_with_a_sigkilled_or_exiting_test),
        cmocka_unit_test(stop_all_stops_everything_started),
    };
    if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER")); /* e.g. "*group*" */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
