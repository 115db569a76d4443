/* bench_tfidf_lr.c — speed of the tfidf-lr baseline on synthetic tweets whose token
 * ids follow a Zipf law (as words do): training rows/s and single-thread scoring
 * tweets/s, printed as a Markdown table on stdout.
 *
 *   build/bench/bench_tfidf_lr [train_rows [vocab_size]]     (defaults 200000, 50000)
 *
 * Labels come from hidden token weights (plus a "negation" bigram), so the model has
 * something real to learn; its held-out accuracy and AUC are printed as a sanity
 * check, not as a quality claim. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/metrics.h"
#include "model/tfidf_lr.h"
#include "model/util.h"

typedef struct {
    SeqSet s;
    int64_t *off;
    int32_t *ids;
    uint8_t *label;
} Tweets;

/* Draws an id in [2, V) with P(id) proportional to 1 / (id - 1)^1.1 from its CDF. */
static int32_t zipf_draw(const double *cdf, int V, Rng *r) {
    double u = rng_uniform(r) * cdf[V - 1];
    int lo = 2, hi = V - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void tweets_make(Tweets *t, int n, int V, const double *cdf, const float *hidden, Rng *r) {
    t->off = mallocCheck(((size_t)n + 1) * sizeof *t->off);
    t->ids = mallocCheck((size_t)n * 30 * sizeof *t->ids);
    t->label = mallocCheck((size_t)n);
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        t->off[i] = at;
        int len = 4 + (int)rng_below(r, 27);
        float z = 0;
        for (int k = 0; k < len; k++) {
            int32_t id = zipf_draw(cdf, V, r);
            t->ids[at + k] = id;
            /* id 2 plays "not": it flips the sign of the next word */
            z += (k > 0 && t->ids[at + k - 1] == 2) ? -2.0f * hidden[id] : hidden[id];
        }
        at += len;
        t->label[i] = rng_uniform(r) < 1.0f / (1.0f + expf(-z));
    }
    t->off[n] = at;
    t->s = (SeqSet){.n = n, .off = t->off, .ids = t->ids, .label = t->label};
}

static void tweets_free(Tweets *t) {
    free(t->off);
    free(t->ids);
    free(t->label);
}

int main(int argc, char **argv) {
    int ntrain = argc > 1 ? atoi(argv[1]) : 200000;
    int V = argc > 2 ? atoi(argv[2]) : 50000;
    int ntest = ntrain / 4 > 1000 ? ntrain / 4 : 1000;
    if (ntrain < 1 || V < 10) util_die("usage: bench_tfidf_lr [train_rows >= 1 [vocab_size >= 10]]");

    Rng r;
    rng_seed(&r, 2024);
    double *cdf = mallocCheck((size_t)V * sizeof *cdf);
    cdf[0] = cdf[1] = 0;
    for (int id = 2; id < V; id++) cdf[id] = cdf[id - 1] + 1.0 / pow(id - 1, 1.1);
    float *hidden = mallocCheck((size_t)V * sizeof *hidden);
    for (int id = 0; id < V; id++) hidden[id] = id < 3 ? 0.0f : 0.8f * rng_normal(&r);
    Tweets train, test;
    tweets_make(&train, ntrain, V, cdf, hidden, &r);
    tweets_make(&test, ntest, V, cdf, hidden, &r);

    TfidfLrConfig cfg = tfidf_lr_default_config();
    char err[256];
    double t0 = util_now_s();
    TfidfLr *m = tfidf_lr_fit(&train.s, V, &cfg, err, sizeof err);
    double fit_s = util_now_s() - t0;
    if (!m) util_die("%s", err);

    /* scoring: one tweet at a time through the serving call, one thread */
    int32_t *scratch = mallocCheck(tfidf_lr_scratch_len(30) * sizeof *scratch);
    float *p = mallocCheck((size_t)ntest * sizeof *p);
    const int reps = 5;
    double best = INFINITY;
    for (int rep = 0; rep < reps; rep++) {
        double s0 = util_now_s();
        for (int i = 0; i < ntest; i++)
            p[i] = tfidf_lr_predict_one(m, test.ids + test.off[i], (int)(test.off[i + 1] - test.off[i]),
                                        scratch);
        double s = util_now_s() - s0;
        if (s < best) best = s;
    }
    Metrics mt;
    metrics_compute(test.label, p, (size_t)ntest, &mt);

    printf("## tfidf-lr (synthetic Zipf tweets)\n\n");
    printf("| measure | value |\n| --- | --- |\n");
    printf("| training rows | %d (mean %.1f tokens, vocabulary %d, %lld features) |\n", ntrain,
           (double)train.off[ntrain] / ntrain, V, (long long)m->num_features);
    printf("| config | %d epochs, batch %d, lr %g, C %g, 2^%d bigram buckets |\n", cfg.epochs, cfg.batch_size,
           (double)cfg.lr, (double)cfg.c, cfg.bigram_bits);
    printf("| fit time (features + all epochs) | %.2f s |\n", fit_s);
    printf("| training throughput | %.0f rows/s (rows x epochs / fit time) |\n",
           (double)ntrain * cfg.epochs / fit_s);
    printf("| scoring, 1 thread, 1 tweet per call | %.0f tweets/s (%.0f ns/tweet, best of %d) |\n",
           ntest / best, 1e9 * best / ntest, reps);
    printf("| held-out accuracy / AUC (sanity) | %.4f / %.4f |\n", mt.accuracy, mt.auc);
    printf("\nCommand: `build/bench/bench_tfidf_lr %d %d`\n", ntrain, V);

    free(p);
    free(scratch);
    tfidf_lr_free(m);
    tweets_free(&train);
    tweets_free(&test);
    free(hidden);
    free(cdf);
    return 0;
}
