/* cli_tokens.c — `buzzradar tokens`: prints the tokens the model sees for each line
 * of stdin, separated by single spaces, one output line per input line (an empty
 * line when a line has no tokens). Output is flushed whenever stdin has nothing
 * more waiting, so a person typing, or a program talking through a pipe, gets each
 * answer at once, while a large file is still written in big blocks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/text.h"
#include "model/util.h"
#include "worker/cli.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: buzzradar tokens [--max-tokens N] [--no-stem] < lines\n\n"
            "Prints, for each line of stdin, the tokens the model sees (separated by single\n"
            "spaces, one line per input line): the same text pipeline as training and serving.\n\n"
            "  --max-tokens N   keep at most N tokens per line (1..%d, default %d)\n"
            "  --no-stem        do not apply the Snowball English stemmer\n"
            "  -h, --help       this help\n\n"
            "Special tokens: %s %s %s %s %s; negations read \"%s\".\n",
            TEXT_MAX_TOKENS_CAP, TEXT_MAX_TOKENS_DEFAULT, TEXT_TOK_URL, TEXT_TOK_USER, TEXT_TOK_NUM,
            TEXT_TOK_POS_EMO, TEXT_TOK_NEG_EMO, TEXT_TOK_NOT);
}

/* Parses a whole decimal int in [lo, hi]; returns 0 on success. */
static int parse_int(const char *s, int lo, int hi, int *v) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi) return -1;
    *v = (int)x;
    return 0;
}

static void print_tokens(const TextTokens *t) {
    for (int k = 0; k < t->n; k++) {
        if (k) putchar(' ');
        fwrite(t->tok[k], 1, (size_t)t->len[k], stdout);
    }
    putchar('\n');
}

/* Tokenises one line (without its '\n'; a trailing '\r' is dropped) and prints it. */
static void tokens_line(TextPipeline *tp, TextTokens *t, const char *line, size_t len) {
    if (len && line[len - 1] == '\r') len--;
    text_tokenize(tp, line, len, t);
    print_tokens(t);
}

/* Reads stdin with read(2) so that it knows when no more input is waiting: the
 * output is flushed right before a read that may block. Returns 0, or 1 on a read
 * or write error. */
static int tokens_stream(TextPipeline *tp, TextTokens *t) {
    size_t cap = 1 << 16, start = 0, end = 0;
    char *buf = mallocCheck(cap);
    int rc = 0;
    for (;;) {
        char *nl;
        while ((nl = memchr(buf + start, '\n', end - start))) {
            tokens_line(tp, t, buf + start, (size_t)(nl - (buf + start)));
            start = (size_t)(nl - buf) + 1;
        }
        if (start > 0) { /* keep the unfinished line at the front */
            memmove(buf, buf + start, end - start);
            end -= start;
            start = 0;
        }
        if (end == cap) buf = reallocCheck(buf, cap *= 2);
        if (fflush(stdout) != 0) {
            rc = 1;
            break;
        }
        ssize_t n = read(STDIN_FILENO, buf + end, cap - end);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            fprintf(stderr, "buzzradar tokens: reading stdin: %s\n", strerror(errno));
            rc = 1;
            break;
        }
        if (n == 0) { /* end of input: a last line without '\n' */
            if (end > 0) tokens_line(tp, t, buf, end);
            break;
        }
        end += (size_t)n;
    }
    free(buf);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "buzzradar tokens: writing stdout: %s\n", strerror(errno));
        rc = 1;
    }
    return rc;
}

int cli_tokens(int argc, char **argv) {
    TextConfig cfg = text_config_default();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--no-stem")) {
            cfg.stem = 0;
        } else if (!strcmp(a, "--max-tokens") || !strncmp(a, "--max-tokens=", 13)) {
            const char *v = a[12] == '=' ? a + 13 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || parse_int(v, 1, TEXT_MAX_TOKENS_CAP, &cfg.max_tokens)) {
                fprintf(stderr, "buzzradar tokens: --max-tokens needs an integer in 1..%d\n",
                        TEXT_MAX_TOKENS_CAP);
                return 2;
            }
        } else {
            fprintf(stderr, "buzzradar tokens: unknown argument '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    TextPipeline *tp = text_pipeline_new(&cfg);
    TextTokens *t = mallocCheck(sizeof *t);
    int rc = tokens_stream(tp, t);
    free(t);
    text_pipeline_free(tp);
    return rc;
}
