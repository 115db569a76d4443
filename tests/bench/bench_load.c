/* bench_load.c — how fast and how lean the dataset loaders are: load time, rows/s,
 * MB/s and peak resident memory for the shared data files, printed as Markdown.
 *
 *   build/bench/bench_load [-r REPEATS] [FILE...]
 *
 * Without FILE it measures the 1.58M-row training file (gzip CSV) and the 53k-row
 * Sentiment140 sample (latin-1) from $BUZZRADAR_SHARED_DATA (default ../shared/data);
 * a missing file is reported and skipped. Each measurement runs in its own child
 * process so that its peak RSS (getrusage ru_maxrss, via wait4) is its own; the
 * best of REPEATS runs (default 1) is shown.
 *
 * A stage is "load, then do something with every row". Adding one (for example
 * tokenising with the text pipeline) means writing one function with the
 * BenchStageFn signature and one line in bench_stages[]. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/corpus.h"
#include "model/dataset.h"
#include "model/text.h"
#include "model/util.h"

/* Works on every row of d; returns a count to print (tokens, ...), or -1 on failure. */
typedef long (*BenchStageFn)(const Dataset *d);

typedef struct {
    const char *name;
    BenchStageFn fn;  /* NULL: the load alone */
    const char *unit; /* what fn's count counts */
} BenchStage;

/* Tokenises every row with the text pipeline (stemming on, the serving settings). */
static long bench_tokenise(const Dataset *d) {
    TextPipeline *tp = text_pipeline_new(NULL);
    TextTokens toks;
    long tokens = 0;
    for (int i = 0; i < d->n; i++) tokens += text_tokenize(tp, dataset_text(d, i), dataset_len(d, i), &toks);
    text_pipeline_free(tp);
    return tokens;
}

/* Tokenises every row and builds the vocabulary and encoded corpus, as training does. */
static long bench_corpus(const Dataset *d) {
    int *rows = mallocCheck((size_t)d->n * sizeof(int));
    for (int i = 0; i < d->n; i++) rows[i] = i;
    TextConfig tc = text_config_default();
    Corpus c;
    char err[256];
    long tokens = corpus_build(d, rows, d->n, &tc, 5, 50000, 1, &c, err, sizeof err) ? -1 : (long)c.tokens;
    corpus_free(&c);
    free(rows);
    return tokens;
}

static const BenchStage bench_stages[] = {
    {"load", NULL, NULL},
    {"load + tokenise", bench_tokenise, "tokens"},
    {"load + tokenise + vocabulary + encode", bench_corpus, "tokens"},
};

typedef struct {
    int ok;
    long rows, count;
    double load_s, stage_s;
    double text_mb;
    long maxrss_kb;
} BenchResult;

/* In a child process: loads path, runs the stage, writes a BenchResult to fd. */
static void bench_child(const char *path, const BenchStage *st, int fd) {
    BenchResult res = {0};
    DatasetOptions opt = dataset_options_default();
    opt.quiet = 1;
    Dataset d;
    char err[512];
    double t0 = util_now_s();
    if (dataset_load(path, &opt, &d, err, sizeof err) != 0) {
        fprintf(stderr, "bench_load: %s\n", err);
    } else {
        res.load_s = util_now_s() - t0;
        res.rows = d.n;
        res.text_mb = (double)d.off[d.n] / 1e6;
        double t1 = util_now_s();
        res.count = st->fn ? st->fn(&d) : 0;
        res.stage_s = util_now_s() - t1;
        res.ok = res.count >= 0;
        dataset_free(&d);
    }
    ssize_t w = write(fd, &res, sizeof res);
    _exit(w == (ssize_t)sizeof res ? 0 : 1);
}

static int bench_run(const char *path, const BenchStage *st, BenchResult *out) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(fds[0]);
        bench_child(path, st, fds[1]);
    }
    close(fds[1]);
    memset(out, 0, sizeof *out);
    ssize_t got = read(fds[0], out, sizeof *out);
    close(fds[0]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) return -1;
    out->maxrss_kb = ru.ru_maxrss;
    return got == (ssize_t)sizeof *out && WIFEXITED(status) && WEXITSTATUS(status) == 0 && out->ok ? 0 : -1;
}

static void bench_file(const char *path, int repeats) {
    struct stat sb;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (stat(path, &sb) != 0) {
        printf("| %s | - | skipped: %s | | | | | |\n", base, strerror(errno));
        return;
    }
    double file_mb = (double)sb.st_size / 1e6;
    for (size_t s = 0; s < sizeof bench_stages / sizeof bench_stages[0]; s++) {
        const BenchStage *st = &bench_stages[s];
        BenchResult best = {0}, r;
        int ok = 0;
        for (int k = 0; k < repeats; k++) {
            if (bench_run(path, st, &r) != 0) break;
            if (!ok || r.load_s + r.stage_s < best.load_s + best.stage_s) best = r;
            ok = 1;
        }
        if (!ok) {
            printf("| %s | %s | failed (see stderr) | | | | | |\n", base, st->name);
            continue;
        }
        double secs = best.load_s + best.stage_s;
        char extra[64] = "";
        if (st->fn) snprintf(extra, sizeof extra, " (%ld %s, %.2f s)", best.count, st->unit, best.stage_s);
        printf("| %s | %s%s | %ld | %.2f | %.0f | %.1f | %.1f | %.0f |\n", base, st->name, extra, best.rows,
               secs, (double)best.rows / secs, file_mb / best.load_s, best.text_mb / best.load_s,
               (double)best.maxrss_kb / 1024.0);
    }
}

int main(int argc, char **argv) {
    int repeats = 1, i = 1;
    if (argc > 2 && !strcmp(argv[1], "-r")) {
        repeats = atoi(argv[2]);
        if (repeats < 1) repeats = 1;
        i = 3;
    }
    const char *dir = getenv("BUZZRADAR_SHARED_DATA");
    if (!dir || !*dir) dir = "../shared/data";
    char big[4096], sample[4096];
    snprintf(big, sizeof big, "%s/sentiment140-train.csv.gz", dir);
    snprintf(sample, sizeof sample, "%s/sentiment140-sample-53k.csv", dir);

    printf("## Dataset loading (one core, best of %d)\n\n", repeats);
    printf("| file | stage | rows | seconds | rows/s | MB/s (file) | MB/s (text) | peak RSS (MB) |\n");
    printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    if (i < argc) {
        for (; i < argc; i++) bench_file(argv[i], repeats);
    } else {
        bench_file(big, repeats);
        bench_file(sample, repeats);
    }
    printf("\nMB/s (file): bytes of the file as stored (compressed for .gz) per second of loading; "
           "MB/s (text): UTF-8 text kept per second. Peak RSS is the whole process's.\n");
    return 0;
}
