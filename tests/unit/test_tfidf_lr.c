/* test_tfidf_lr.c — the tfidf-lr baseline (model/tfidf_lr.c): features and idf by
 * hand, the lazy Adagrad against a dense reference, a synthetic task that needs both
 * unigrams and the bigram "not good", determinism, and validation of saved arrays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/tfidf_lr.h"
#include "model/util.h"

#define assert_near(a, b, eps) assert_near_at((a), (b), (eps), #a, __FILE__, __LINE__)
static void assert_near_at(double a, double b, double eps, const char *what, const char *file, int line) {
    if (!(fabs(a - b) <= eps))
        fail_msg("%s:%d: %s = %.9g, expected %.9g (+- %g)", file, line, what, a, b, eps);
}

/* ---- a synthetic sentiment task --------------------------------------------------
 * ids: 2 "good", 3 "not", 4..9 positive words, 10..15 negative words, 16..V-1 filler.
 * Half the tweets are "bigram" tweets holding exactly one "good" and one "not":
 * negative ones say "not good", positive ones put "not" before a filler and "good"
 * elsewhere, so their bags of words have the same distribution and only the bigram
 * tells them apart. The other half are fillers plus one positive or negative word. */
enum { GOOD = 2, NOT = 3, POS0 = 4, NEG0 = 10, FILL0 = 16, SYN_V = 60, MAXLEN = 12 };

typedef struct {
    SeqSet s;
    int64_t *off;
    int32_t *ids;
    uint8_t *label;
    uint8_t *is_bigram; /* 1 for the "good"/"not good" tweets */
} Synth;

static void synth_make(Synth *d, int n, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    d->off = mallocCheck(((size_t)n + 1) * sizeof *d->off);
    d->ids = mallocCheck((size_t)n * MAXLEN * sizeof *d->ids);
    d->label = mallocCheck((size_t)n);
    d->is_bigram = mallocCheck((size_t)n);
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        int len = 6 + (int)rng_below(&r, MAXLEN - 6 + 1);
        int32_t *t = d->ids + at;
        for (int k = 0; k < len; k++) t[k] = FILL0 + (int32_t)rng_below(&r, SYN_V - FILL0);
        int y = (int)rng_below(&r, 2);
        int bigram = (int)rng_below(&r, 2);
        if (bigram && !y) { /* "... not good ..." */
            int k = (int)rng_below(&r, (uint32_t)len - 1);
            t[k] = NOT;
            t[k + 1] = GOOD;
        } else if (bigram) { /* "... not <filler> ... good ..." with good not after not */
            int k = (int)rng_below(&r, (uint32_t)len - 1);
            int j;
            do j = (int)rng_below(&r, (uint32_t)len);
            while (j == k || j == k + 1);
            t[k] = NOT;
            t[j] = GOOD;
        } else {
            t[rng_below(&r, (uint32_t)len)] = (y ? POS0 : NEG0) + (int32_t)rng_below(&r, 6);
        }
        d->label[i] = (uint8_t)y;
        d->is_bigram[i] = (uint8_t)bigram;
        d->off[i] = at;
        at += len;
    }
    d->off[n] = at;
    d->s = (SeqSet){.n = n, .off = d->off, .ids = d->ids, .label = d->label};
}

static void synth_free(Synth *d) {
    free(d->off);
    free(d->ids);
    free(d->label);
    free(d->is_bigram);
}

/* Accuracy of m on the tweets of d with is_bigram == which (-1: all). */
static double accuracy_on(const TfidfLr *m, const Synth *d, int which) {
    float *p = mallocCheck((size_t)d->s.n * sizeof *p);
    tfidf_lr_predict(m, &d->s, p);
    int right = 0, total = 0;
    for (int i = 0; i < d->s.n; i++) {
        if (which >= 0 && d->is_bigram[i] != which) continue;
        total++;
        right += (p[i] >= 0.5f) == (d->label[i] == 1);
    }
    free(p);
    return (double)right / total;
}

static TfidfLrConfig small_config(int bigram_bits) {
    TfidfLrConfig cfg = tfidf_lr_default_config();
    cfg.bigram_bits = bigram_bits;
    cfg.epochs = 10;
    return cfg;
}

static void learns_unigrams_and_the_not_good_bigram(void **state) {
    (void)state;
    Synth train, test;
    synth_make(&train, 4000, 1);
    synth_make(&test, 2000, 2);
    TfidfLrConfig cfg = small_config(12);
    char err[128];
    TfidfLr *m = tfidf_lr_fit(&train.s, SYN_V, &cfg, err, sizeof err);
    assert_non_null(m);
    double all = accuracy_on(m, &test, -1), bi = accuracy_on(m, &test, 1), uni = accuracy_on(m, &test, 0);
    print_message("held-out accuracy %.4f (bigram tweets %.4f, unigram tweets %.4f)\n", all, bi, uni);
    assert_true(all >= 0.97);
    assert_true(bi >= 0.95);
    assert_true(uni >= 0.97);
    /* the learning curve goes down */
    assert_int_equal(m->epochs_run, cfg.epochs);
    assert_true(m->train_loss[cfg.epochs - 1] < 0.5f * m->train_loss[0]);
    /* the weights say what the task says: positive words up, negative words down,
     * and the "not good" bucket is the most negative bigram feature */
    assert_true(m->weights[POS0] > 0.5f && m->weights[NEG0] < -0.5f);
    int64_t not_good = SYN_V + tfidf_lr_bigram_bucket(NOT, GOOD, cfg.bigram_bits);
    for (int64_t f = SYN_V; f < m->num_features; f++)
        if (f != not_good) assert_true(m->weights[f] > m->weights[not_good]);
    tfidf_lr_free(m);
    synth_free(&train);
    synth_free(&test);
}

static void without_bigrams_the_not_good_tweets_are_a_coin_toss(void **state) {
    (void)state;
    Synth train, test;
    synth_make(&train, 4000, 1);
    synth_make(&test, 2000, 2);
    TfidfLrConfig cfg = small_config(0);
    char err[128];
    TfidfLr *m = tfidf_lr_fit(&train.s, SYN_V, &cfg, err, sizeof err);
    assert_non_null(m);
    assert_int_equal(m->num_features, SYN_V);
    double bi = accuracy_on(m, &test, 1), uni = accuracy_on(m, &test, 0);
    print_message("unigrams only: bigram tweets %.4f, unigram tweets %.4f\n", bi, uni);
    assert_true(bi < 0.65);   /* the bag of words carries no signal there */
    assert_true(uni >= 0.97); /* but the unigram half is still learnt */
    tfidf_lr_free(m);
    synth_free(&train);
    synth_free(&test);
}

static void same_seed_same_model_bytes(void **state) {
    (void)state;
    Synth train;
    synth_make(&train, 1500, 3);
    TfidfLrConfig cfg = small_config(10);
    cfg.epochs = 3;
    char err[128];
    TfidfLr *a = tfidf_lr_fit(&train.s, SYN_V, &cfg, err, sizeof err);
    TfidfLr *b = tfidf_lr_fit(&train.s, SYN_V, &cfg, err, sizeof err);
    cfg.seed = 43;
    TfidfLr *c = tfidf_lr_fit(&train.s, SYN_V, &cfg, err, sizeof err);
    size_t bytes = (size_t)a->num_features * sizeof(float);
    assert_memory_equal(a->weights, b->weights, bytes);
    assert_memory_equal(a->idf, b->idf, bytes);
    assert_memory_equal(&a->bias, &b->bias, sizeof a->bias);
    assert_memory_not_equal(a->weights, c->weights, bytes); /* the seed is used */
    assert_memory_equal(a->idf, c->idf, bytes);             /* idf does not depend on it */
    tfidf_lr_free(a);
    tfidf_lr_free(b);
    tfidf_lr_free(c);
    synth_free(&train);
}

static void idf_is_scikit_learns_smoothed_idf(void **state) {
    (void)state;
    /* N = 3 tweets [2 3], [2 2], [4]; V = 5, no bigrams:
     * df(2) = 2 -> ln(4/3) + 1 = 1.2876821; df(3) = df(4) = 1 -> ln(4/2) + 1 = 1.6931472;
     * df(0) = df(1) = 0 -> ln(4/1) + 1 = 2.3862944 */
    const int64_t off[4] = {0, 2, 4, 5};
    const int32_t ids[5] = {2, 3, 2, 2, 4};
    const uint8_t y[3] = {1, 0, 1};
    SeqSet s = {3, off, ids, y};
    TfidfLrConfig cfg = small_config(0);
    char err[128];
    TfidfLr *m = tfidf_lr_fit(&s, 5, &cfg, err, sizeof err);
    assert_non_null(m);
    assert_near(m->idf[2], 1.2876821, 1e-6);
    assert_near(m->idf[3], 1.6931472, 1e-6);
    assert_near(m->idf[4], 1.6931472, 1e-6);
    assert_near(m->idf[0], 2.3862944, 1e-6);
    assert_near(m->idf[1], 2.3862944, 1e-6);
    tfidf_lr_free(m);
}

static void score_by_hand(void **state) {
    (void)state;
    /* V = 5, no bigrams, idf = [1 1 2 1 1], weights = [0 0 1 -1 0], bias 0.5.
     * Tweet [2 2 3], raw tf: x2 = 2 * idf2 = 4, x3 = 1; |x| = sqrt(17);
     *   z = 0.5 + (4 * 1 + 1 * -1) / sqrt(17) = 1.2276; p = sigmoid(z) = 0.7733994.
     * Sublinear tf: x2 = (1 + ln 2) * 2 = 3.3862944, x3 = 1;
     *   z = 0.5 + 2.3862944 / sqrt(12.4670) = 1.1758; p = 0.7641988. */
    const float idf[5] = {1, 1, 2, 1, 1}, w[5] = {0, 0, 1, -1, 0};
    const int32_t tweet[3] = {2, 2, 3};
    int32_t scratch[6];
    assert_true(tfidf_lr_scratch_len(3) <= 6);
    char err[128];
    TfidfLr *raw = tfidf_lr_from_arrays(5, 0, 0, idf, w, 0.5f, err, sizeof err);
    TfidfLr *sub = tfidf_lr_from_arrays(5, 0, 1, idf, w, 0.5f, err, sizeof err);
    assert_non_null(raw);
    assert_non_null(sub);
    assert_near(tfidf_lr_predict_one(raw, tweet, 3, scratch), 0.7733994, 1e-6);
    assert_near(tfidf_lr_predict_one(sub, tweet, 3, scratch), 0.7641988, 1e-6);
    /* order does not matter without bigrams; an empty tweet scores sigmoid(bias) */
    const int32_t shuffled[3] = {3, 2, 2};
    assert_near(tfidf_lr_predict_one(raw, shuffled, 3, scratch), 0.7733994, 1e-6);
    assert_near(tfidf_lr_predict_one(raw, NULL, 0, scratch), 1.0 / (1.0 + exp(-0.5)), 1e-6);
    /* ids outside [1, V) are the unknown id 1 (weight 0 here): they only add norm */
    const int32_t odd[4] = {2, 2, 3, 99};
    const int32_t unk[4] = {2, 2, 3, 1};
    assert_near(tfidf_lr_predict_one(raw, odd, 4, scratch), tfidf_lr_predict_one(raw, unk, 4, scratch), 0);
    const int32_t neg[4] = {-7, 0, 2, 3};
    const int32_t unk2[4] = {1, 1, 2, 3};
    assert_near(tfidf_lr_predict_one(raw, neg, 4, scratch), tfidf_lr_predict_one(raw, unk2, 4, scratch), 0);
    tfidf_lr_free(raw);
    tfidf_lr_free(sub);
}

static void predict_one_equals_batch_and_handles_long_tweets(void **state) {
    (void)state;
    Synth train;
    synth_make(&train, 1000, 4);
    TfidfLrConfig cfg = small_config(8);
    cfg.epochs = 2;
    char err[128];
    TfidfLr *m = tfidf_lr_fit(&train.s, SYN_V, &cfg, err, sizeof err);
    float *p = mallocCheck((size_t)train.s.n * sizeof *p);
    tfidf_lr_predict(m, &train.s, p);
    int32_t scratch[2 * MAXLEN];
    for (int i = 0; i < train.s.n; i++) {
        int n = (int)(train.off[i + 1] - train.off[i]);
        assert_true(tfidf_lr_scratch_len(n) <= 2 * MAXLEN);
        float q = tfidf_lr_predict_one(m, train.ids + train.off[i], n, scratch);
        assert_memory_equal(&q, &p[i], sizeof q);
    }
    /* a 500-token tweet takes the heapsort path: its unigram-only score must equal
     * the one computed here from a histogram of its ids */
    enum { LONG = 500 };
    const int32_t *t = train.ids;
    int32_t *big = mallocCheck(tfidf_lr_scratch_len(LONG) * sizeof *big);
    TfidfLr *uni = tfidf_lr_from_arrays(SYN_V, 0, 1, m->idf, m->weights, m->bias, err, sizeof err);
    assert_non_null(uni);
    int hist[SYN_V] = {0};
    for (int k = 0; k < LONG; k++) hist[t[k]]++;
    double sq = 0, dot = 0;
    for (int f = 0; f < SYN_V; f++)
        if (hist[f]) {
            double xf = (1.0 + log(hist[f])) * uni->idf[f];
            sq += xf * xf;
            dot += xf * uni->weights[f];
        }
    double want = 1.0 / (1.0 + exp(-(uni->bias + dot / sqrt(sq))));
    assert_near(tfidf_lr_predict_one(uni, t, LONG, big), want, 1e-5);
    tfidf_lr_free(uni);
    free(big);
    free(p);
    tfidf_lr_free(m);
    synth_free(&train);
}

/* The dense Adagrad that the lazy one must equal (tfidf_lr.c's comment): rows built
 * from the model's own idf with the documented feature definition, every feature
 * updated at every step. */
static void lazy_adagrad_equals_dense_adagrad(void **state) {
    (void)state;
    Synth train;
    synth_make(&train, 200, 5);
    TfidfLrConfig cfg = small_config(5);
    cfg.epochs = 3;
    cfg.batch_size = 8;
    cfg.c = 0.05f; /* l2 = 1 / (c N) = 0.1: strong shrinkage, so laziness shows */
    char err[128];
    TfidfLr *m = tfidf_lr_fit(&train.s, SYN_V, &cfg, err, sizeof err);
    assert_non_null(m);
    const int F = (int)m->num_features, N = train.s.n;
    const float l2 = (float)(1.0 / ((double)cfg.c * N));

    /* dense rows x (N, F) */
    float *x = callocCheck((size_t)N * F, sizeof *x);
    for (int i = 0; i < N; i++) {
        const int32_t *t = train.ids + train.off[i];
        int n = (int)(train.off[i + 1] - train.off[i]);
        float *row = x + (size_t)i * F;
        for (int k = 0; k < n; k++) row[t[k]] += 1.0f;
        for (int k = 0; k + 1 < n; k++)
            row[SYN_V + tfidf_lr_bigram_bucket(t[k], t[k + 1], cfg.bigram_bits)] += 1.0f;
        float sq = 0;
        for (int f = 0; f < F; f++)
            if (row[f] > 0) {
                row[f] = (1.0f + logf(row[f])) * m->idf[f];
                sq += row[f] * row[f];
            }
        for (int f = 0; f < F; f++) row[f] /= sqrtf(sq);
    }
    float *w = callocCheck((size_t)F, sizeof *w), *G = callocCheck((size_t)F, sizeof *G);
    float *g = mallocCheck((size_t)F * sizeof *g);
    float b = 0, Gb = 0;
    int *order = mallocCheck((size_t)N * sizeof *order);
    for (int i = 0; i < N; i++) order[i] = i;
    Rng rng;
    rng_seed(&rng, cfg.seed);
    for (int e = 0; e < cfg.epochs; e++) {
        rng_shuffle_int(&rng, order, (size_t)N);
        for (int s = 0; s < N; s += cfg.batch_size) {
            int bsz = N - s < cfg.batch_size ? N - s : cfg.batch_size;
            memset(g, 0, (size_t)F * sizeof *g);
            float gb = 0;
            for (int r = s; r < s + bsz; r++) {
                const float *row = x + (size_t)order[r] * F;
                double z = b;
                for (int f = 0; f < F; f++) z += (double)w[f] * row[f];
                float d = (float)((1.0 / (1.0 + exp(-z)) - train.label[order[r]]) / bsz);
                for (int f = 0; f < F; f++) g[f] += d * row[f];
                gb += d;
            }
            for (int f = 0; f < F; f++) {
                G[f] += g[f] * g[f];
                if (G[f] == 0) continue; /* never seen: stays 0 */
                float eta = cfg.lr / (sqrtf(G[f]) + 1e-8f);
                w[f] = (w[f] - eta * g[f]) / (1.0f + eta * l2);
            }
            Gb += gb * gb;
            b -= cfg.lr / (sqrtf(Gb) + 1e-8f) * gb;
        }
    }
    double maxdiff = 0, maxw = 0;
    for (int f = 0; f < F; f++) {
        maxdiff = fmax(maxdiff, fabs(w[f] - m->weights[f]));
        maxw = fmax(maxw, fabs(w[f]));
    }
    print_message("dense vs lazy: max |dw| = %.3g (max |w| = %.3g)\n", maxdiff, maxw);
    assert_true(maxw > 0.1);
    assert_true(maxdiff <= 1e-4 * maxw);
    assert_near(m->bias, b, 1e-4);
    free(order);
    free(g);
    free(G);
    free(w);
    free(x);
    tfidf_lr_free(m);
    synth_free(&train);
}

static void bigram_buckets_are_stable_and_spread(void **state) {
    (void)state;
    /* pinned values: the bucket is part of the model-file format */
    assert_int_equal(tfidf_lr_bigram_bucket(2, 3, 20), 150209);
    assert_int_equal(tfidf_lr_bigram_bucket(3, 2, 20), 937344);
    assert_int_equal(tfidf_lr_bigram_bucket(123456, 7, 28), 140115186);
    int count[256] = {0};
    for (int a = 1; a <= 100; a++)
        for (int b = 1; b <= 100; b++) {
            uint32_t k = tfidf_lr_bigram_bucket(a, b, 8);
            assert_true(k < 256);
            count[k]++;
        }
    for (int k = 0; k < 256; k++) assert_true(count[k] > 10000 / 256 / 2 && count[k] < 10000 / 256 * 2);
}

static void bad_configs_and_arrays_are_errors(void **state) {
    (void)state;
    Synth train;
    synth_make(&train, 10, 6);
    char err[128];
    TfidfLrConfig cfg = small_config(31);
    assert_null(tfidf_lr_fit(&train.s, SYN_V, &cfg, err, sizeof err));
    assert_non_null(strstr(err, "bigram_bits"));
    cfg = small_config(4);
    assert_null(tfidf_lr_fit(&train.s, 1, &cfg, err, sizeof err));
    assert_non_null(strstr(err, "vocabulary size"));
    cfg.c = 0;
    assert_null(tfidf_lr_fit(&train.s, SYN_V, &cfg, err, sizeof err));
    cfg = small_config(4);
    SeqSet empty = {0, train.off, train.ids, train.label};
    assert_null(tfidf_lr_fit(&empty, SYN_V, &cfg, err, sizeof err));
    assert_non_null(strstr(err, "empty"));

    float idf[5] = {1, 1, 1, 1, 1}, w[5] = {0};
    TfidfLr *ok = tfidf_lr_from_arrays(5, 0, 1, idf, w, 0, err, sizeof err);
    assert_non_null(ok);
    assert_int_equal(ok->epochs_run, 0);
    assert_null(ok->train_loss);
    tfidf_lr_free(ok);
    idf[3] = 0;
    assert_null(tfidf_lr_from_arrays(5, 0, 1, idf, w, 0, err, sizeof err));
    assert_non_null(strstr(err, "idf[3]"));
    idf[3] = 1;
    w[4] = NAN;
    assert_null(tfidf_lr_from_arrays(5, 0, 1, idf, w, 0, err, sizeof err));
    assert_non_null(strstr(err, "weight[4]"));
    w[4] = 0;
    assert_null(tfidf_lr_from_arrays(5, 0, 1, idf, w, INFINITY, err, sizeof err));
    assert_null(tfidf_lr_from_arrays(5, -1, 1, idf, w, 0, err, sizeof err));
    assert_null(tfidf_lr_from_arrays(0, 0, 1, idf, w, 0, err, sizeof err));
    synth_free(&train);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(learns_unigrams_and_the_not_good_bigram),
        cmocka_unit_test(without_bigrams_the_not_good_tweets_are_a_coin_toss),
        cmocka_unit_test(same_seed_same_model_bytes),
        cmocka_unit_test(idf_is_scikit_learns_smoothed_idf),
        cmocka_unit_test(score_by_hand),
        cmocka_unit_test(predict_one_equals_batch_and_handles_long_tweets),
        cmocka_unit_test(lazy_adagrad_equals_dense_adagrad),
        cmocka_unit_test(bigram_buckets_are_stable_and_spread),
        cmocka_unit_test(bad_configs_and_arrays_are_errors),
    };
    return cmocka_run_group_tests_name("tfidf_lr", tests, NULL, NULL);
}
