/* test_deploy.c — the deployment files (deploy/Dockerfile, docker-compose.yml,
 * deploy/k8s/, deploy/prometheus/, deploy/grafana/) checked offline by
 * tests/deploy/check.py, one cmocka test per section of it: static consistency, the
 * image's shell scripts run for real, promtool's rule tests, and the runtime packages
 * against the libraries of $BUZZRADAR_BIN. A section whose tool is missing (promtool,
 * objdump) is reported as skipped, never as passed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define CHECK_SKIPPED 77 /* check.py's exit status when its section could not run */
#define OUTPUT_MAX    (64 * 1024)

// Runs `python3 ROOT/tests/deploy/check.py ARGS...` (Debian's /usr/bin/python3 when
// present: that is where python3-yaml installs), prints its output, and returns its
// exit status, or -1 when it could not be started or was killed by a signal.
static int run_check(const char *const *args) {
    const char *root = getenv("BUZZRADAR_ROOT");
    char script[4096];
    snprintf(script, sizeof script, "%s/tests/deploy/check.py", root);
    const char *python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    const char *argv[16] = {python, script};
    int argc = 2;
    for (int i = 0; args[i] && argc < 15; i++) argv[argc++] = args[i];
    argv[argc] = NULL;

    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execvp(python, (char *const *)argv);
        fprintf(stderr, "cannot run %s: %s\n", python, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    static char out[OUTPUT_MAX];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], out + len, sizeof out - 1 - len)) != 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        len += (size_t)n;
        if (len == sizeof out - 1) { // keep draining so that the child never blocks
            char sink[4096];
            while (read(fds[0], sink, sizeof sink) > 0) {
            }
            break;
        }
    }
    out[len] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    print_message("%s", out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The repository root from tests/run.sh; skips the calling test when unset.
static void need_root(void) {
    if (!getenv("BUZZRADAR_ROOT")) {
        print_message("BUZZRADAR_ROOT is unset: run through `make test` (tests/run.sh)\n");
        skip();
    }
}

// Every file parses and the files agree with each other, DESIGN.md and the worker.
static void deploy_files_are_consistent(void **state) {
    (void)state;
    need_root();
    const char *args[] = {"static", NULL};
    assert_int_equal(run_check(args), 0);
}

// The entry point, the health check and the compose shell snippets do their job.
static void deploy_scripts_work(void **state) {
    (void)state;
    need_root();
    const char *args[] = {"scripts", NULL};
    assert_int_equal(run_check(args), 0);
}

// promtool accepts the rules and configurations, and the rule unit tests pass.
static void prometheus_rules_pass_promtool(void **state) {
    (void)state;
    need_root();
    const char *args[] = {"promtool", NULL};
    int rc = run_check(args);
    if (rc == CHECK_SKIPPED) skip();
    assert_int_equal(rc, 0);
}

// Each shared library of the binary comes from a package of the runtime stage.
static void runtime_stage_has_every_library(void **state) {
    (void)state;
    need_root();
    const char *bin = getenv("BUZZRADAR_BIN");
    if (!bin) {
        print_message("BUZZRADAR_BIN is unset: no binary to inspect\n");
        skip();
    }
    const char *args[] = {"binary", "--binary", bin, NULL};
    int rc = run_check(args);
    if (rc == CHECK_SKIPPED) skip();
    assert_int_equal(rc, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deploy_files_are_consistent),
        cmocka_unit_test(deploy_scripts_work),
        cmocka_unit_test(prometheus_rules_pass_promtool),
        cmocka_unit_test(runtime_stage_has_every_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
