/* test_cli_tokens.c — `buzzradar tokens` as users run it ($BUZZRADAR_BIN): lines
 * through a pipe, its flags, and an answer to each line as soon as it is written
 * (stdin kept open, as a person or a program would). */
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct {
    pid_t pid;
    int in;  /* the child's stdin (we write) */
    int out; /* the child's stdout (we read) */
} Child;

/* $BUZZRADAR_BIN, or NULL (with a message) when it is not set. */
static const char *bin(void) {
    const char *b = getenv("BUZZRADAR_BIN");
    if (b && *b) return b;
    print_message("BUZZRADAR_BIN is not set (run through make test): skipped\n");
    return NULL;
}

/* Starts `buzzradar tokens ARGS...` with pipes on stdin and stdout; stderr goes to
 * /dev/null. */
static Child spawn(char *const argv[]) {
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    Child c = {.pid = fork()};
    assert_true(c.pid >= 0);
    if (c.pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, STDERR_FILENO);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c.in = in[1];
    c.out = out[0];
    return c;
}

/* Reads until `want` newlines arrived or the stream ends, waiting at most
 * timeout_ms for each chunk. Returns the bytes read (NUL-terminated in buf). */
static size_t read_lines(int fd, char *buf, size_t cap, int want, int timeout_ms) {
    size_t n = 0;
    int lines = 0;
    while (lines < want && n + 1 < cap) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0) break;
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0) break;
        for (ssize_t k = 0; k < r; k++) lines += buf[n + (size_t)k] == '\n';
        n += (size_t)r;
    }
    buf[n] = '\0';
    return n;
}

static int finish(Child *c) {
    if (c->in >= 0) close(c->in);
    close(c->out);
    int status;
    assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs the command on the whole input and returns its output and exit status. */
static int run(char *const argv[], const char *input, char *out, size_t cap) {
    Child c = spawn(argv);
    size_t len = strlen(input);
    assert_int_equal(write(c.in, input, len), (ssize_t)len);
    close(c.in);
    c.in = -1;
    read_lines(c.out, out, cap, 1 << 30, 10000);
    return finish(&c);
}

static int setup(void **state) {
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void tokens_of_piped_lines(void **state) {
    (void)state;
    if (!bin()) skip();
    char out[4096];
    char *argv[] = {(char *)bin(), "tokens", NULL};
    int rc = run(argv,
                 "@switchfoot http://twitpic.com/2y1zl - Awww, that's a bummer. ;D\n"
                 "\n"
                 "I can't stand this!!! :(\r\n"
                 "last line without newline &lt;3",
                 out, sizeof out);
    assert_int_equal(rc, 0);
    assert_string_equal(out, "<user> <url> aww that a bummer <pos_emo>\n"
                             "\n"
                             "i can not stand this !! <neg_emo>\n"
                             "last line without newlin <pos_emo>\n");
}

static void flags(void **state) {
    (void)state;
    if (!bin()) skip();
    char out[4096];
    char *nostem[] = {(char *)bin(), "tokens", "--no-stem", "--max-tokens", "3", NULL};
    assert_int_equal(run(nostem, "loving running dogs and cats\n", out, sizeof out), 0);
    assert_string_equal(out, "loving running dogs\n");
    char *eq[] = {(char *)bin(), "tokens", "--max-tokens=1", NULL};
    assert_int_equal(run(eq, "one two\n", out, sizeof out), 0);
    assert_string_equal(out, "one\n");
    char *help[] = {(char *)bin(), "tokens", "--help", NULL};
    assert_int_equal(run(help, "", out, sizeof out), 0);
    assert_non_null(strstr(out, "usage: buzzradar tokens"));
    char *bad[] = {(char *)bin(), "tokens", "--max-tokens", "0", NULL};
    assert_int_equal(run(bad, "", out, sizeof out), 2);
    char *bad2[] = {(char *)bin(), "tokens", "--max-tokens", "9x", NULL};
    assert_int_equal(run(bad2, "", out, sizeof out), 2);
    char *missing[] = {(char *)bin(), "tokens", "--max-tokens", NULL};
    assert_int_equal(run(missing, "", out, sizeof out), 2);
    char *unknown[] = {(char *)bin(), "tokens", "--frobnicate", NULL};
    assert_int_equal(run(unknown, "", out, sizeof out), 2);
}

static void answers_each_line_at_once(void **state) {
    (void)state;
    if (!bin()) skip();
    char *argv[] = {(char *)bin(), "tokens", NULL};
    Child c = spawn(argv);
    char out[1024];
    /* stdin stays open: each answer must come without waiting for more input */
    assert_int_equal(write(c.in, "hello world\n", 12), 12);
    read_lines(c.out, out, sizeof out, 1, 10000);
    assert_string_equal(out, "hello world\n");
    assert_int_equal(write(c.in, "so happy :)\n", 12), 12);
    read_lines(c.out, out, sizeof out, 1, 10000);
    assert_string_equal(out, "so happi <pos_emo>\n");
    assert_int_equal(finish(&c), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tokens_of_piped_lines),
        cmocka_unit_test(flags),
        cmocka_unit_test(answers_each_line_at_once),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
