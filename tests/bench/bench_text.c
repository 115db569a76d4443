/* bench_text.c — throughput of the tweet text pipeline on one core, on real tweets.
 *
 *   bench_text [ROWS]     (default 200000; env BUZZRADAR_SHARED_DATA must point to
 *                          the data folder holding sentiment140-train.csv.gz)
 *
 * Loads the first ROWS texts into memory (a minimal "label,text" CSV parse with
 * zlib's gzgets: enough for a benchmark, the real loader lives elsewhere), then
 * times text_tokenize over all of them in several configurations: a fresh pipeline
 * (cold stem cache), the same pipeline again (warm), stemming without a cache, and
 * no stemming. Prints Markdown on stdout; skips with a message when the data is
 * missing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "model/text.h"
#include "model/util.h"

typedef struct {
    char *bytes; /* all texts, back to back */
    size_t *off; /* n+1 offsets */
    int n;
} Texts;

/* Unquotes a CSV field in place ("a ""b""" -> a "b"); returns its length. */
static size_t csv_field(char *f, size_t len) {
    if (len < 2 || f[0] != '"') return len;
    size_t w = 0;
    for (size_t r = 1; r < len; r++) {
        if (f[r] == '"') {
            if (r + 1 < len && f[r + 1] == '"')
                r++;
            else
                break;
        }
        f[w++] = f[r];
    }
    return w;
}

static int load_texts(const char *path, int rows, Texts *t) {
    gzFile gz = gzopen(path, "rb");
    if (!gz) return -1;
    gzbuffer(gz, 1 << 17);
    size_t cap = (size_t)rows * 80 + 1024, used = 0;
    t->bytes = mallocCheck(cap);
    t->off = mallocCheck(((size_t)rows + 1) * sizeof *t->off);
    t->n = 0;
    char line[8192];
    int header = 1;
    while (t->n < rows && gzgets(gz, line, sizeof line)) {
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (header) { /* "label,text" */
            header = 0;
            continue;
        }
        char *comma = strchr(line, ',');
        if (!comma) continue;
        char *text = comma + 1;
        size_t tl = csv_field(text, len - (size_t)(text - line));
        if (used + tl > cap) t->bytes = reallocCheck(t->bytes, cap = 2 * cap + tl);
        t->off[t->n++] = used;
        memcpy(t->bytes + used, text, tl);
        used += tl;
    }
    t->off[t->n] = used;
    gzclose(gz);
    return 0;
}

typedef struct {
    double seconds; /* CPU time of this thread */
    uint64_t tokens;
    uint64_t bytes;
} Run;

#define REPEATS 3 /* each measurement is the best of this many passes */

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static Run run_pass(TextPipeline *tp, const Texts *t, TextTokens *out) {
    Run r = {0};
    double t0 = cpu_now();
    for (int i = 0; i < t->n; i++) {
        size_t a = t->off[i], b = t->off[i + 1];
        r.tokens += (uint64_t)text_tokenize(tp, t->bytes + a, b - a, out);
        r.bytes += b - a;
    }
    r.seconds = cpu_now() - t0;
    return r;
}

static Run best(Run a, Run b) { return b.seconds < a.seconds ? b : a; }

static void row(const char *name, const Texts *t, Run r, const char *hits) {
    printf("| %s | %.0f | %.2f | %.1f | %.2f | %s |\n", name, t->n / r.seconds, r.tokens / r.seconds / 1e6,
           r.bytes / r.seconds / 1e6, 1e6 * r.seconds / t->n, hits);
}

static const char *hit_rate(const TextPipeline *tp, TextStats before, char *buf, size_t len) {
    TextStats after = text_pipeline_stats(tp);
    uint64_t h = after.stem_hits - before.stem_hits, m = after.stem_misses - before.stem_misses;
    if (!text_pipeline_config(tp)->stem || !text_pipeline_config(tp)->stem_cache_slots || h + m == 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.1f%%", 100.0 * (double)h / (double)(h + m));
    return buf;
}

/* The first pass of fresh pipelines (best of REPEATS). */
static Run measure_cold(const TextConfig *cfg, const Texts *t, TextTokens *out, char *hits, size_t len) {
    Run r = {.seconds = 1e300};
    for (int k = 0; k < REPEATS; k++) {
        TextPipeline *tp = text_pipeline_new(cfg);
        TextStats s0 = text_pipeline_stats(tp);
        r = best(r, run_pass(tp, t, out));
        hit_rate(tp, s0, hits, len);
        text_pipeline_free(tp);
    }
    return r;
}

/* Passes after a warm-up pass (best of REPEATS). */
static Run measure_warm(const TextConfig *cfg, const Texts *t, TextTokens *out, char *hits, size_t len) {
    TextPipeline *tp = text_pipeline_new(cfg);
    run_pass(tp, t, out);
    TextStats s0 = text_pipeline_stats(tp);
    Run r = run_pass(tp, t, out);
    hit_rate(tp, s0, hits, len);
    for (int k = 1; k < REPEATS; k++) r = best(r, run_pass(tp, t, out));
    text_pipeline_free(tp);
    return r;
}

int main(int argc, char **argv) {
    int rows = argc > 1 ? atoi(argv[1]) : 200000;
    if (rows <= 0) rows = 200000;
    const char *dir = getenv("BUZZRADAR_SHARED_DATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/sentiment140-train.csv.gz", dir ? dir : "");
    Texts t;
    if (!dir || load_texts(path, rows, &t) != 0) {
        printf("- bench_text: skipped (needs $BUZZRADAR_SHARED_DATA/sentiment140-train.csv.gz; "
               "BUZZRADAR_SHARED_DATA=%s)\n",
               dir ? dir : "unset");
        return 0;
    }
    TextTokens *out = mallocCheck(sizeof *out);
    char hits[32];

    printf("### Text pipeline (one core, first %d tweets of sentiment140-train.csv.gz, %.1f MB)\n\n", t.n,
           t.off[t.n] / 1e6);
    printf("Thread CPU time, best of %d passes.\n\n", REPEATS);
    printf("| configuration | tweets/s | Mtokens/s | MB/s | us/tweet | stem cache hits |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");

    TextConfig def = text_config_default();
    Run cold = measure_cold(&def, &t, out, hits, sizeof hits);
    char name[96];
    snprintf(name, sizeof name, "default (stem, cache of %d), cold: first pass", def.stem_cache_slots);
    row(name, &t, cold, hits);
    Texts first = t; /* the same texts, cut to the first 10,000 */
    first.n = t.n < 10000 ? t.n : 10000;
    snprintf(name, sizeof name, "default, cold: first %d tweets of a new pipeline", first.n);
    row(name, &first, measure_cold(&def, &first, out, hits, sizeof hits), hits);
    Run warm = measure_warm(&def, &t, out, hits, sizeof hits);
    snprintf(name, sizeof name, "default (stem, cache of %d), warm", def.stem_cache_slots);
    row(name, &t, warm, hits);

    static const int other_sizes[] = {4096, 16384, 262144, 0};
    for (size_t k = 0; k < sizeof other_sizes / sizeof other_sizes[0]; k++) {
        TextConfig cfg = def;
        cfg.stem_cache_slots = other_sizes[k];
        if (cfg.stem_cache_slots)
            snprintf(name, sizeof name, "stem, cache of %d, warm", cfg.stem_cache_slots);
        else
            snprintf(name, sizeof name, "stem, no cache");
        row(name, &t, measure_warm(&cfg, &t, out, hits, sizeof hits), hits);
    }
    TextConfig nostem = def;
    nostem.stem = 0;
    row("no stemming", &t, measure_warm(&nostem, &t, out, hits, sizeof hits), hits);

    printf("\n- tokens per tweet: %.2f; stem cache entry: 64 bytes (default %d KiB per pipeline)\n",
           (double)warm.tokens / t.n, def.stem_cache_slots * 64 / 1024);
    printf("- target >= 300000 tweets/s per core including stemming: %s (cold %.0f, warm %.0f)\n\n",
           t.n / cold.seconds >= 300000 && t.n / warm.seconds >= 300000 ? "met" : "NOT met",
           t.n / cold.seconds, t.n / warm.seconds);
    free(out);
    free(t.bytes);
    free(t.off);
    return 0;
}
