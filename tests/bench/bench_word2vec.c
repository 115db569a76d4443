/* bench_word2vec.c — throughput of the vocabulary builder/lookup and of word2vec
 * training (words/s with 1 and 2 threads), printed as Markdown on stdout.
 *
 *   bench_word2vec [--tokens N] [--rows N] [--epochs N]
 *
 * Corpora: a synthetic Zipf corpus (V = 50,000 words, s = 1, --tokens tokens, default
 * 2,000,000, tweets of 5-20 tokens), and, when $BUZZRADAR_SHARED_DATA is set, the first
 * --rows (default 200,000) tweets of sentiment140-train.csv.gz tokenised crudely (ASCII
 * lower-case, split on white space; the real text pipeline is not used here).
 * words/s counts every token read, before subsampling (word2vec.c's convention). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "model/util.h"
#include "model/vocab.h"
#include "model/word2vec.h"

/* A corpus as a SeqSet plus the arrays it points to. */
typedef struct {
    SeqSet set;
    int64_t *off;
    int32_t *ids;
    uint8_t *label;
    int64_t *counts;
    int V;
} Corpus;

static void corpus_free(Corpus *c) {
    free(c->off);
    free(c->ids);
    free(c->label);
    free(c->counts);
}

/* Zipf(s = 1) over ids 2..V-1, drawn by inverting the cumulative distribution. */
static Corpus zipf_corpus(int V, int64_t ntokens, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    double *cdf = mallocCheck((size_t)V * sizeof *cdf), total = 0;
    for (int i = 2; i < V; i++) cdf[i] = total += 1.0 / (i - 1);
    Corpus c = {.V = V};
    int64_t cap = ntokens / 5 + 2;
    c.off = mallocCheck((size_t)cap * sizeof *c.off);
    c.ids = mallocCheck((size_t)(ntokens + 20) * sizeof *c.ids);
    c.counts = callocCheck((size_t)V, sizeof *c.counts);
    int64_t pos = 0;
    int n = 0;
    while (pos < ntokens) {
        c.off[n++] = pos;
        int len = 5 + (int)rng_below(&r, 16);
        for (int j = 0; j < len; j++) {
            double u = (double)(rng_u64(&r) >> 11) * (1.0 / 9007199254740992.0) * total;
            int lo = 2, hi = V - 1;
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (cdf[mid] < u)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            c.ids[pos++] = lo;
            c.counts[lo]++;
        }
    }
    c.off[n] = pos;
    c.label = callocCheck((size_t)n, 1);
    c.set = (SeqSet){.n = n, .off = c.off, .ids = c.ids, .label = c.label};
    free(cdf);
    return c;
}

/* Crude tokens of the first `rows` tweets of a "label,text" CSV (gzip): the text is
 * the rest of the line after the first comma, quotes dropped, ASCII lower-cased,
 * split on white space. Returns the raw text, one tweet per line, tokens separated
 * by single spaces, or NULL when the file cannot be opened. */
static char *read_tweets(const char *path, int rows, int *nrows, size_t *nbytes) {
    gzFile gz = gzopen(path, "rb");
    if (!gz) return NULL;
    size_t cap = 1 << 24, len = 0;
    char *text = mallocCheck(cap), line[8192];
    int n = 0;
    if (!gzgets(gz, line, sizeof line)) line[0] = '\0'; /* header */
    while (n < rows && gzgets(gz, line, sizeof line)) {
        const char *p = strchr(line, ',');
        if (!p) continue;
        if (len + sizeof line + 2 > cap) text = reallocCheck(text, cap *= 2);
        int space = 1;
        for (p++; *p && *p != '\n' && *p != '\r'; p++) {
            unsigned char ch = (unsigned char)*p;
            if (ch == '"') continue;
            if (isspace(ch)) {
                if (!space) text[len++] = ' ';
                space = 1;
            } else {
                text[len++] = (char)tolower(ch);
                space = 0;
            }
        }
        if (len > 0 && text[len - 1] == ' ') len--;
        text[len++] = '\n';
        n++;
    }
    gzclose(gz);
    *nrows = n;
    *nbytes = len;
    return text;
}

/* Visits the tokens of text (space-separated, newline-terminated lines). */
#define FOR_EACH_TOKEN(text, len, tok, tlen, BODY)                                                           \
    for (size_t i_ = 0; i_ < (len);) {                                                                       \
        size_t j_ = i_;                                                                                      \
        while (j_ < (len) && (text)[j_] != ' ' && (text)[j_] != '\n') j_++;                                  \
        if (j_ > i_) {                                                                                       \
            const char *tok = (text) + i_;                                                                   \
            int tlen = (int)(j_ - i_);                                                                       \
            BODY                                                                                             \
        }                                                                                                    \
        i_ = j_ + 1;                                                                                         \
    }

typedef struct {
    const char *corpus;
    int64_t tokens;
    int V, threads, epochs;
    float sample;
    double seconds, cpu_seconds;
} Row;

static double cpu_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static Row bench_train(const char *name, const Corpus *c, int threads, int epochs, float sample) {
    W2VConfig cfg = w2v_config_default();
    cfg.threads = threads;
    cfg.epochs = epochs;
    cfg.sample = sample;
    cfg.progress = 1;
    float *emb = mallocCheck((size_t)c->V * cfg.dim * sizeof *emb);
    double t0 = util_now_s(), c0 = cpu_now_s();
    if (w2v_train(&c->set, c->counts, c->V, &cfg, emb) != 0) util_die("w2v_train failed on %s", name);
    Row row = {name, c->off[c->set.n], c->V, threads, epochs, sample, util_now_s() - t0, cpu_now_s() - c0};
    free(emb);
    return row;
}

static void machine_info(void) {
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0) {
                const char *p = strchr(line, ':');
                if (p) snprintf(model, sizeof model, "%s", p + 2);
                model[strcspn(model, "\n")] = '\0';
                break;
            }
        fclose(f);
    }
    double load[3] = {0};
    if (getloadavg(load, 3) < 0) load[0] = -1;
    struct utsname u;
    uname(&u);
    printf("Machine: %s, %ld online cores, %s %s; load average %.2f at start.\n\n", model,
           sysconf(_SC_NPROCESSORS_ONLN), u.sysname, u.machine, load[0]);
}

int main(int argc, char **argv) {
    int64_t ntokens = 2000000;
    int rows = 200000, epochs = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--tokens") == 0)
            ntokens = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--rows") == 0)
            rows = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--epochs") == 0)
            epochs = atoi(argv[i + 1]);
        else
            util_die("usage: bench_word2vec [--tokens N] [--rows N] [--epochs N]");
    }
    if (ntokens < 1 || rows < 1 || epochs < 1) util_die("--tokens, --rows and --epochs must be >= 1");

    Row results[8];
    int nres = 0;
    Corpus zipf = zipf_corpus(50002, ntokens, 1);
    results[nres++] = bench_train("synthetic Zipf", &zipf, 1, epochs, 0.0f);
    results[nres++] = bench_train("synthetic Zipf", &zipf, 1, epochs, 1e-4f);
    results[nres++] = bench_train("synthetic Zipf", &zipf, 2, epochs, 1e-4f);
    corpus_free(&zipf);

    /* vocabulary on real tweets, then word2vec on them */
    const char *data = getenv("BUZZRADAR_SHARED_DATA");
    double t_add = 0, t_finish = 0, t_lookup = 0;
    int64_t real_tokens = 0;
    int real_rows = 0, real_V = 0, real_distinct = 0;
    if (data) {
        char path[4096];
        snprintf(path, sizeof path, "%s/sentiment140-train.csv.gz", data);
        size_t len = 0;
        char *text = read_tweets(path, rows, &real_rows, &len);
        if (!text) util_die("cannot read %s", path);
        size_t ntok_cap = len / 2 + 1;
        int32_t *pids = mallocCheck(ntok_cap * sizeof *pids);
        int64_t *off = mallocCheck((size_t)(real_rows + 1) * sizeof *off);

        VocabBuilder *vb = vocab_builder_new();
        double t0 = util_now_s();
        FOR_EACH_TOKEN(text, len, tok, tlen, { pids[real_tokens++] = vocab_builder_add(vb, tok, tlen); })
        t_add = util_now_s() - t0;
        real_distinct = vocab_builder_size(vb);

        t0 = util_now_s();
        int32_t *remap;
        Vocab *v = vocab_builder_finish(vb, 5, 0, &remap);
        t_finish = util_now_s() - t0;
        real_V = vocab_size(v);

        int64_t k = 0, unknown = 0;
        t0 = util_now_s();
        FOR_EACH_TOKEN(text, len, tok, tlen, {
            unknown += vocab_lookup(v, tok, tlen) == VOCAB_UNK;
            k++;
        })
        t_lookup = util_now_s() - t0;
        if (k != real_tokens) util_die("token count changed between passes");
        fprintf(stderr, "real tweets: %d rows, %lld tokens, %d distinct, V=%d, %.1f%% unknown\n", real_rows,
                (long long)real_tokens, real_distinct, real_V, 100.0 * (double)unknown / (double)k);

        /* one tweet per line: rebuild the offsets, remap the provisional ids */
        int r = 0;
        int64_t t = 0;
        off[0] = 0;
        for (size_t i = 0; i < len; i++) {
            if (text[i] == ' ' || text[i] == '\n') {
                if (i > 0 && text[i - 1] != ' ' && text[i - 1] != '\n') t++;
                if (text[i] == '\n') off[++r] = t;
            }
        }
        for (int64_t i = 0; i < real_tokens; i++) pids[i] = remap[pids[i]];
        Corpus real = {.off = off, .ids = pids, .label = callocCheck((size_t)real_rows, 1), .V = real_V};
        real.counts = mallocCheck((size_t)real_V * sizeof *real.counts);
        memcpy(real.counts, vocab_counts(v), (size_t)real_V * sizeof *real.counts);
        real.set = (SeqSet){.n = real_rows, .off = off, .ids = pids, .label = real.label};
        results[nres++] = bench_train("Sentiment140 (crude tokens)", &real, 1, epochs, 1e-4f);
        results[nres++] = bench_train("Sentiment140 (crude tokens)", &real, 2, epochs, 1e-4f);
        corpus_free(&real);
        free(remap);
        vocab_free(v);
        vocab_builder_free(vb);
        free(text);
    }

    printf("## word2vec (skip-gram, negative sampling)\n\n");
    machine_info();
    printf(
        "Command: `build/bench/bench_word2vec --tokens %lld --rows %d --epochs %d`; dim 100, window 5, "
        "negative 5, alpha 0.025. words/s counts every token read, before subsampling; the time includes "
        "initialisation. The machine is shared: words per CPU-second is the steadier per-thread figure.\n\n",
        (long long)ntokens, rows, epochs);
    printf("| corpus | tokens | V | sample | threads | seconds | words/s | words/s per thread | words/CPU-s "
           "|\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (int i = 0; i < nres; i++) {
        const Row *row = &results[i];
        double wps = (double)row->tokens * row->epochs / row->seconds;
        printf("| %s | %lld | %d | %g | %d | %.2f | %.0f | %.0f | %.0f |\n", row->corpus,
               (long long)row->tokens, row->V, row->sample, row->threads, row->seconds, wps,
               wps / row->threads, (double)row->tokens * row->epochs / row->cpu_seconds);
    }
    if (data) {
        printf("\n## vocabulary (first %d tweets of sentiment140-train.csv.gz, %lld tokens, %d distinct, "
               "min_count 5 -> V = %d)\n\n",
               real_rows, (long long)real_tokens, real_distinct, real_V);
        printf("| operation | seconds | tokens/s |\n| --- | ---: | ---: |\n");
        printf("| vocab_builder_add | %.3f | %.0f |\n", t_add, (double)real_tokens / t_add);
        printf("| vocab_builder_finish (sort, remap) | %.3f | |\n", t_finish);
        printf("| vocab_lookup | %.3f | %.0f |\n", t_lookup, (double)real_tokens / t_lookup);
    } else {
        printf("\n(BUZZRADAR_SHARED_DATA is not set: the real-tweet rows and the vocabulary timings were "
               "skipped.)\n");
    }
    return 0;
}
