/* broker.c — the project's Kafka-protocol broker (tests/tools/mockbroker.c) started as
 * a child of a test program, and its control socket (see harness.h). */
#include "tests/harness/harness.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define BROKER_READY_MS   10000
#define BROKER_STOP_MS    5000
#define BROKER_REPLY_S    10
#define BROKER_MAX_TOPICS 64

/* $BUZZRADAR_TOOLS/mockbroker, or BUILD/tools/mockbroker next to this test binary
 * (BUILD/tests/integration/test_x) when the variable is unset. Returns 0 or -1. */
static int harness_mockbroker_path(char *out, size_t len) {
    const char *tools = getenv("BUZZRADAR_TOOLS");
    if (tools && *tools) return (size_t)snprintf(out, len, "%s/mockbroker", tools) < len ? 0 : -1;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = '\0';
    for (int up = 0; up < 3; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash) return -1;
        *slash = '\0';
    }
    return (size_t)snprintf(out, len, "%s/tools/mockbroker", exe) < len ? 0 : -1;
}

/* Reads the bootstrap file once it exists (it is renamed into place complete). */
static int harness_read_bootstrap(HarnessBroker *b) {
    size_t len;
    char *text = harness_read_file(b->bootstrap_file, &len);
    if (!text) return -1;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) text[--len] = '\0';
    int rc = len > 0 && len < sizeof b->bootstrap ? 0 : -1;
    if (rc == 0) memcpy(b->bootstrap, text, len + 1);
    free(text);
    return rc;
}

int harness_broker_start(HarnessBroker *b, int brokers, const char *const topics[]) {
    memset(b, 0, sizeof *b);
    b->brokers = brokers;
    char tool[PATH_MAX];
    if (harness_mockbroker_path(tool, sizeof tool)) {
        fprintf(stderr, "harness: cannot locate mockbroker: set BUZZRADAR_TOOLS\n");
        return -1;
    }
    if (harness_tmpdir_create("kafka", b->dir, sizeof b->dir)) return -1;
    char out_path[HARNESS_PATH_MAX], n_brokers[16];
    struct sockaddr_un sa;
    if (harness_path_join(b->bootstrap_file, sizeof b->bootstrap_file, b->dir, "bootstrap") ||
        harness_path_join(b->control_path, sizeof sa.sun_path, b->dir, "control") ||
        harness_path_join(b->log_path, sizeof b->log_path, b->dir, "mockbroker.log") ||
        harness_path_join(out_path, sizeof out_path, b->dir, "mockbroker.out")) {
        fprintf(stderr, "harness: temporary directory path too long: %s\n", b->dir);
        harness_tmpdir_remove(b->dir);
        return -1;
    }
    snprintf(n_brokers, sizeof n_brokers, "%d", brokers);

    const char *argv[8 + 2 * BROKER_MAX_TOPICS + 1];
    int argc = 0;
    argv[argc++] = tool;
    argv[argc++] = "--brokers";
    argv[argc++] = n_brokers;
    argv[argc++] = "--bootstrap-file";
    argv[argc++] = b->bootstrap_file;
    argv[argc++] = "--control";
    argv[argc++] = b->control_path;
    for (int i = 0; topics && topics[i]; i++) {
        if (i == BROKER_MAX_TOPICS) {
            fprintf(stderr, "harness: more than %d topics for the broker\n", BROKER_MAX_TOPICS);
            harness_tmpdir_remove(b->dir);
            return -1;
        }
        argv[argc++] = "--topic";
        argv[argc++] = topics[i];
    }
    argv[argc] = NULL;
    HarnessSpawnOptions opts = {.stdout_path = out_path, .stderr_path = b->log_path};
    b->pid = harness_spawn(argv, &opts);
    if (b->pid < 0) {
        b->pid = 0;
        harness_tmpdir_remove(b->dir);
        return -1;
    }
    int64_t deadline = harness_now_ms() + BROKER_READY_MS;
    while (harness_read_bootstrap(b) != 0) {
        int status;
        if (harness_wait(b->pid, 0, &status) == 0) {
            fprintf(stderr, "harness: mockbroker exited at start-up (status 0x%x)\n", status);
            b->pid = 0;
            harness_print_tail("mockbroker log", b->log_path);
            harness_tmpdir_remove(b->dir);
            return -1;
        }
        if (harness_now_ms() > deadline) {
            fprintf(stderr, "harness: mockbroker wrote no bootstrap file within %d ms\n", BROKER_READY_MS);
            harness_print_tail("mockbroker log", b->log_path);
            harness_broker_stop(b);
            return -1;
        }
        harness_sleep_ms(10);
    }
    return 0;
}

int harness_broker_command(const HarnessBroker *b, char *reply, size_t reply_len, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof line - 1 || memchr(line, '\n', (size_t)n)) {
        fprintf(stderr, "harness: broker command too long or holds a newline\n");
        return -1;
    }
    line[n++] = '\n';
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(b->control_path) >= sizeof sa.sun_path) {
        fprintf(stderr, "harness: control socket path too long: %s\n", b->control_path);
        return -1;
    }
    memcpy(sa.sun_path, b->control_path, strlen(b->control_path) + 1);
    struct timeval tv = {.tv_sec = BROKER_REPLY_S};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
        fprintf(stderr, "harness: broker control %s: %s\n", b->control_path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    char buf[1024] = "";
    size_t got = 0;
    while (got < sizeof buf - 1 && !memchr(buf, '\n', got)) {
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    char *nl = memchr(buf, '\n', got);
    if (!nl) {
        fprintf(stderr, "harness: no reply from the broker to '%.*s'\n", n - 1, line);
        return -1;
    }
    *nl = '\0';
    if (reply && reply_len) snprintf(reply, reply_len, "%s", buf);
    if (!strncmp(buf, "ok", 2) && (buf[2] == '\0' || buf[2] == ' ')) return 0;
    fprintf(stderr, "harness: broker answered '%.*s' with: %s\n", n - 1, line, buf);
    return 1;
}

int harness_broker_stop(HarnessBroker *b) {
    if (b->pid <= 0) return 0;
    int status = harness_stop(b->pid, BROKER_STOP_MS);
    b->pid = 0;
    bool clean = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!clean) {
        fprintf(stderr, "harness: mockbroker did not exit cleanly (status 0x%x)\n", status);
        harness_print_tail("mockbroker log", b->log_path);
    }
    harness_tmpdir_remove(b->dir);
    return clean ? 0 : -1;
}
