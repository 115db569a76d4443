/* proc.c — child processes and temporary directories of the test harness (see
 * harness.h): spawn with PDEATHSIG, bounded waits, stop by PID, and the registry that
 * stops and removes everything at exit. */
#include "tests/harness/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define HARNESS_MAX_CHILDREN 64
#define HARNESS_MAX_DIRS     64
#define HARNESS_STOP_ALL_MS  3000
#define HARNESS_KILL_WAIT_MS 5000

/* Each entry remembers the process that created it: a forked child inherits a copy of
 * the registry and must never signal or remove its parent's resources. */
typedef struct {
    pid_t pid; /* 0: free slot */
    pid_t owner;
} HarnessChild;

typedef struct {
    char path[HARNESS_PATH_MAX]; /* "": free slot */
    pid_t owner;
} HarnessDir;

static struct {
    pthread_mutex_t lock;
    HarnessChild children[HARNESS_MAX_CHILDREN];
    HarnessDir dirs[HARNESS_MAX_DIRS];
    bool atexit_registered;
} harness_registry = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void harness_registry_atexit(void) { harness_stop_all(); }

/* Must hold the lock. */
static void harness_ensure_atexit(void) {
    if (!harness_registry.atexit_registered && atexit(harness_registry_atexit) == 0)
        harness_registry.atexit_registered = true;
}

static int harness_child_add(pid_t pid) {
    int rc = -1;
    pthread_mutex_lock(&harness_registry.lock);
    harness_ensure_atexit();
    for (int i = 0; i < HARNESS_MAX_CHILDREN && rc < 0; i++) {
        if (harness_registry.children[i].pid == 0) {
            harness_registry.children[i] = (HarnessChild){.pid = pid, .owner = getpid()};
            rc = 0;
        }
    }
    pthread_mutex_unlock(&harness_registry.lock);
    return rc;
}

static bool harness_child_known(pid_t pid) {
    bool known = false;
    pthread_mutex_lock(&harness_registry.lock);
    for (int i = 0; i < HARNESS_MAX_CHILDREN; i++)
        if (pid > 0 && harness_registry.children[i].pid == pid &&
            harness_registry.children[i].owner == getpid())
            known = true;
    pthread_mutex_unlock(&harness_registry.lock);
    return known;
}

static void harness_child_remove(pid_t pid) {
    pthread_mutex_lock(&harness_registry.lock);
    for (int i = 0; i < HARNESS_MAX_CHILDREN; i++)
        if (harness_registry.children[i].pid == pid && harness_registry.children[i].owner == getpid())
            harness_registry.children[i].pid = 0;
    pthread_mutex_unlock(&harness_registry.lock);
}

int64_t harness_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_sleep_ms(int ms) {
    if (ms <= 0) return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- spawn ---------------------------------------------------------------------------- */

/* Why exec did not happen, sent from the child over a close-on-exec pipe. */
typedef struct {
    int stage; /* index into harness_spawn_stages */
    int err;   /* errno */
} HarnessExecFailure;

static const char *const harness_spawn_stages[] = {"parent died before prctl",
                                                   "prctl(PR_SET_PDEATHSIG)",
                                                   "chdir",
                                                   "open stdin",
                                                   "open stdout",
                                                   "open stderr",
                                                   "execve"};

/* Child side of harness_spawn, between fork and exec: only async-signal-safe calls
 * (the test process has librdkafka threads). Never returns. */
static void harness_child_exec(const char *path, char *const argv[], char *const envp[],
                               const HarnessSpawnOptions *o, pid_t parent, int report_fd) {
    HarnessExecFailure f = {0, 0};
    int fd;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
        f.stage = 1;
        goto fail;
    }
    if (getppid() != parent) { /* the parent died before prctl: nobody would kill us */
        f.stage = 0;
        goto fail;
    }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (o->cwd && chdir(o->cwd) != 0) {
        f.stage = 2;
        goto fail;
    }
    fd = open(o->stdin_path ? o->stdin_path : "/dev/null", O_RDONLY);
    if (fd < 0 || dup2(fd, 0) < 0) {
        f.stage = 3;
        goto fail;
    }
    if (fd != 0) close(fd);
    const char *outs[2] = {o->stdout_path, o->stderr_path};
    for (int k = 0; k < 2; k++) {
        if (!outs[k]) continue;
        fd = open(outs[k], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, k + 1) < 0) {
            f.stage = 4 + k;
            goto fail;
        }
        if (fd != k + 1) close(fd);
    }
    /* Descriptors of the test (hiredis sockets, log files) must not leak into the
     * child; the report pipe is close-on-exec already. */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    execve(path, argv, envp);
    f.stage = 6;
fail:
    f.err = errno;
    if (write(report_fd, &f, sizeof f) < 0) { /* nothing more we can do */
    }
    _exit(127);
}

/* Finds `name` in PATH (or takes it as is when it holds a '/'). Returns 0 or -1. */
static int harness_resolve_program(const char *name, char *out, size_t len) {
    if (strchr(name, '/')) {
        if ((size_t)snprintf(out, len, "%s", name) >= len) return -1;
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n > 0 && (size_t)snprintf(out, len, "%.*s/%s", (int)n, path, name) < len &&
            access(out, X_OK) == 0)
            return 0;
        path += n + (path[n] == ':');
    }
    return -1;
}

/* The inherited environment with `extra` "KEY=VALUE" entries added or replacing.
 * Only the pointer array is allocated. */
static char **harness_build_env(const char *const *extra) {
    size_t n_env = 0, n_extra = 0;
    while (environ && environ[n_env]) n_env++;
    while (extra && extra[n_extra]) n_extra++;
    char **envp = malloc((n_env + n_extra + 1) * sizeof *envp);
    if (!envp) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++) {
        bool replaced = false;
        for (size_t j = 0; j < n_extra && !replaced; j++) {
            size_t key_len = strcspn(extra[j], "=");
            replaced = !strncmp(environ[i], extra[j], key_len) && environ[i][key_len] == '=';
        }
        if (!replaced) envp[k++] = environ[i];
    }
    for (size_t j = 0; j < n_extra; j++) envp[k++] = (char *)extra[j];
    envp[k] = NULL;
    return envp;
}

pid_t harness_spawn(const char *const argv[], const HarnessSpawnOptions *opts) {
    static const HarnessSpawnOptions no_options = {0};
    const HarnessSpawnOptions *o = opts ? opts : &no_options;
    if (!argv || !argv[0]) {
        fprintf(stderr, "harness: spawn: empty argv\n");
        return -1;
    }
    char path[PATH_MAX];
    if (harness_resolve_program(argv[0], path, sizeof path)) {
        fprintf(stderr, "harness: spawn: %s: not found in PATH\n", argv[0]);
        return -1;
    }
    char **envp = harness_build_env(o->env);
    int report[2];
    if (!envp || pipe2(report, O_CLOEXEC) != 0) {
        fprintf(stderr, "harness: spawn %s: %s\n", argv[0], strerror(errno));
        free(envp);
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) harness_child_exec(path, (char *const *)argv, envp, o, parent, report[1]);
    int fork_errno = errno;
    close(report[1]);
    free(envp);
    if (pid < 0) {
        close(report[0]);
        fprintf(stderr, "harness: spawn %s: fork: %s\n", argv[0], strerror(fork_errno));
        return -1;
    }
    HarnessExecFailure f;
    ssize_t got;
    do got = read(report[0], &f, sizeof f);
    while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof f) { /* the child failed before or at exec and exits */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        fprintf(stderr, "harness: spawn %s: %s: %s\n", path, harness_spawn_stages[f.stage], strerror(f.err));
        return -1;
    }
    if (harness_child_add(pid)) {
        fprintf(stderr, "harness: spawn %s: more than %d children; killing it\n", path, HARNESS_MAX_CHILDREN);
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        return -1;
    }
    return pid;
}

int harness_signal(pid_t pid, int sig) {
    if (!harness_child_known(pid)) {
        fprintf(stderr, "harness: signal: %ld is not a running child of this test\n", (long)pid);
        return -1;
    }
    return kill(pid, sig) == 0 ? 0 : -1;
}

int harness_wait(pid_t pid, int timeout_ms, int *status) {
    if (!harness_child_known(pid)) {
        fprintf(stderr, "harness: wait: %ld is not a running child of this test\n", (long)pid);
        return -1;
    }
    int64_t deadline = harness_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (int round = 0;; round++) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            harness_child_remove(pid);
            if (status) *status = st;
            return 0;
        }
        if (r < 0 && errno != EINTR) { /* reaped elsewhere (SIGCHLD ignored?) */
            fprintf(stderr, "harness: wait %ld: %s\n", (long)pid, strerror(errno));
            harness_child_remove(pid);
            return -1;
        }
        int64_t left = deadline - harness_now_ms();
        if (left <= 0) return 1;
        harness_sleep_ms((int)(left < 10 ? left : round < 10 ? 1 : 10));
    }
}

int harness_stop(pid_t pid, int grace_ms) {
    if (!harness_child_known(pid)) {
        fprintf(stderr, "harness: stop: %ld is not a running child of this test\n", (long)pid);
        return -1;
    }
    int status;
    kill(pid, SIGTERM);
    int r = harness_wait(pid, grace_ms, &status);
    if (r == 1) {
        fprintf(stderr, "harness: %ld still running %d ms after SIGTERM: SIGKILL\n", (long)pid, grace_ms);
        kill(pid, SIGKILL);
        r = harness_wait(pid, HARNESS_KILL_WAIT_MS, &status);
    }
    return r == 0 ? status : -1;
}

void harness_stop_all(void) {
    pid_t pids[HARNESS_MAX_CHILDREN];
    int n = 0;
    pthread_mutex_lock(&harness_registry.lock);
    for (int i = 0; i < HARNESS_MAX_CHILDREN; i++)
        if (harness_registry.children[i].pid && harness_registry.children[i].owner == getpid())
            pids[n++] = harness_registry.children[i].pid;
    pthread_mutex_unlock(&harness_registry.lock);
    for (int i = 0; i < n; i++) kill(pids[i], SIGTERM);
    int64_t deadline = harness_now_ms() + HARNESS_STOP_ALL_MS;
    for (int i = 0; i < n; i++) {
        int64_t left = deadline - harness_now_ms();
        if (harness_wait(pids[i], left > 0 ? (int)left : 0, NULL) == 1) {
            fprintf(stderr, "harness: %ld ignored SIGTERM: SIGKILL\n", (long)pids[i]);
            kill(pids[i], SIGKILL);
            harness_wait(pids[i], HARNESS_KILL_WAIT_MS, NULL);
        }
    }
    char dirs[HARNESS_MAX_DIRS][HARNESS_PATH_MAX];
    int n_dirs = 0;
    pthread_mutex_lock(&harness_registry.lock);
    for (int i = 0; i < HARNESS_MAX_DIRS; i++)
        if (harness_registry.dirs[i].path[0] && harness_registry.dirs[i].owner == getpid())
            memcpy(dirs[n_dirs++], harness_registry.dirs[i].path, HARNESS_PATH_MAX);
    pthread_mutex_unlock(&harness_registry.lock);
    for (int i = 0; i < n_dirs; i++) harness_tmpdir_remove(dirs[i]);
}

/* ---- temporary directories and files --------------------------------------------------- */

int harness_tmpdir_create(const char *prefix, char *dir, size_t len) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    if (len > HARNESS_PATH_MAX) len = HARNESS_PATH_MAX;
    if ((size_t)snprintf(dir, len, "%s/bz-%s-XXXXXX", tmp, prefix) >= len) {
        fprintf(stderr, "harness: temporary directory name too long under %s\n", tmp);
        return -1;
    }
    if (!mkdtemp(dir)) {
        fprintf(stderr, "harness: mkdtemp %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = -1;
    pthread_mutex_lock(&harness_registry.lock);
    harness_ensure_atexit();
    for (int i = 0; i < HARNESS_MAX_DIRS && rc < 0; i++) {
        if (!harness_registry.dirs[i].path[0]) {
            snprintf(harness_registry.dirs[i].path, HARNESS_PATH_MAX, "%s", dir);
            harness_registry.dirs[i].owner = getpid();
            rc = 0;
        }
    }
    pthread_mutex_unlock(&harness_registry.lock);
    if (rc) {
        fprintf(stderr, "harness: more than %d temporary directories\n", HARNESS_MAX_DIRS);
        rmdir(dir);
    }
    return rc;
}

static int harness_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int harness_tmpdir_remove(const char *dir) {
    char path[HARNESS_PATH_MAX];
    bool found = false;
    pthread_mutex_lock(&harness_registry.lock);
    for (int i = 0; i < HARNESS_MAX_DIRS; i++) {
        if (harness_registry.dirs[i].owner == getpid() && !strcmp(harness_registry.dirs[i].path, dir)) {
            memcpy(path, harness_registry.dirs[i].path, HARNESS_PATH_MAX);
            harness_registry.dirs[i].path[0] = '\0';
            found = true;
        }
    }
    pthread_mutex_unlock(&harness_registry.lock);
    if (!found) {
        fprintf(stderr, "harness: %s is not a temporary directory of this test\n", dir);
        return -1;
    }
    const char *keep = getenv("BUZZRADAR_KEEP_TMP");
    if (keep && !strcmp(keep, "1")) {
        fprintf(stderr, "harness: keeping %s (BUZZRADAR_KEEP_TMP=1)\n", path);
        return 0;
    }
    if (nftw(path, harness_remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        fprintf(stderr, "harness: cannot remove %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int harness_path_join(char *out, size_t len, const char *dir, const char *name) {
    int n = snprintf(out, len, "%s/%s", dir, name);
    return n >= 0 && (size_t)n < len ? 0 : -1;
}

char *harness_read_file(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) break;
            buf = bigger, cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        if (r == 0) {
            close(fd);
            buf[n] = '\0';
            if (len) *len = n;
            return buf;
        }
        n += (size_t)r;
    }
    close(fd);
    free(buf);
    return NULL;
}

void harness_print_tail(const char *label, const char *path) {
    size_t len;
    char *text = harness_read_file(path, &len);
    if (!text) return;
    const char *start = len > 2000 ? strchr(text + len - 2000, '\n') : NULL;
    fprintf(stderr, "harness: --- end of %s (%s) ---\n%s\nharness: ---\n", label, path,
            start ? start + 1 : text);
    free(text);
}

size_t harness_count_lines(const char *path) {
    size_t len, lines = 0;
    char *text = harness_read_file(path, &len);
    for (size_t i = 0; text && i < len; i++) lines += text[i] == '\n';
    free(text);
    return lines;
}

void harness_unique_name(const char *prefix, char *buf, size_t len) {
    static unsigned counter;
    unsigned r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r = (unsigned)harness_now_ms();
    pthread_mutex_lock(&harness_registry.lock);
    unsigned n = ++counter;
    pthread_mutex_unlock(&harness_registry.lock);
    snprintf(buf, len, "%s-%ld-%u-%08x", prefix, (long)getpid(), n, r);
}
