/* test_lstm_grad.c — the BiLSTM's backward pass against finite differences.
 *
 * An independent, naive double-precision BiLSTM (per tweet, no packing, libm tanh
 * and exp) gives the reference loss and, by central differences, the reference
 * gradient of EVERY parameter: embedding rows, both directions' W_ih, W_hh, b, and
 * the two dense layers. The batch mixes lengths (empty, 1, full T, longer than T,
 * all-unknown) so masking and truncation are exercised; dropout is off. Both
 * pooling modes are checked. Also: the packed step schedule and the accuracy of
 * the tanh/sigmoid approximations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/bilstm.h"
#include "model/lstm.h"
#include "model/util.h"

/* ---- the reference network, in double ---------------------------------------------- */

typedef struct {
    const BilstmConfig *c;
    const BilstmTensor *t;
} Ref;

static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Runs one direction over tok[0..L) (reversed when rev) and writes the pooled
 * feature (H) into out. P points at the full double parameter buffer. */
static void ref_direction(const Ref *r, const double *P, int dir, const int32_t *tok, int L, int rev,
                          double *out) {
    const int E = r->c->E, H = r->c->H;
    const double *emb = P + r->t[0].offset;
    const double *Wih = P + r->t[1 + 3 * dir].offset, *Whh = P + r->t[2 + 3 * dir].offset,
                 *bias = P + r->t[3 + 3 * dir].offset;
    double h[64] = {0}, c[64] = {0}, g[256], mx[64];
    for (int j = 0; j < H; j++) mx[j] = -INFINITY;
    for (int s = 0; s < L; s++) {
        const double *x = emb + (size_t)tok[rev ? L - 1 - s : s] * E;
        for (int k = 0; k < 4 * H; k++) {
            double a = bias[k];
            for (int e = 0; e < E; e++) a += x[e] * Wih[e * 4 * H + k];
            for (int q = 0; q < H; q++) a += h[q] * Whh[q * 4 * H + k];
            g[k] = a;
        }
        for (int j = 0; j < H; j++) {
            double i = ref_sigmoid(g[j]), f = ref_sigmoid(g[H + j]), gg = tanh(g[2 * H + j]),
                   o = ref_sigmoid(g[3 * H + j]);
            c[j] = f * c[j] + i * gg;
            h[j] = o * tanh(c[j]);
            if (h[j] > mx[j]) mx[j] = h[j];
        }
    }
    for (int j = 0; j < H; j++) out[j] = L == 0 ? 0.0 : (r->c->pooling == BILSTM_POOL_MAX ? mx[j] : h[j]);
}

/* The mean binary cross-entropy of the batch. */
static double ref_loss(const Ref *r, const double *P, const SeqSet *s, const int *idx, int n) {
    const int H = r->c->H, D = r->c->dense;
    const double *W1 = P + r->t[7].offset, *b1 = P + r->t[8].offset, *W2 = P + r->t[9].offset,
                 *b2 = P + r->t[10].offset;
    double sum = 0.0;
    for (int k = 0; k < n; k++) {
        const int i = idx[k];
        int L = (int)(s->off[i + 1] - s->off[i]);
        if (L > r->c->T) L = r->c->T;
        double feat[128], z = b2[0];
        ref_direction(r, P, 0, s->ids + s->off[i], L, 0, feat);
        ref_direction(r, P, 1, s->ids + s->off[i], L, 1, feat + H);
        for (int d = 0; d < D; d++) {
            double a = b1[d];
            for (int q = 0; q < 2 * H; q++) a += feat[q] * W1[q * D + d];
            z += (a > 0 ? a : 0) * W2[d];
        }
        sum += log1p(exp(-fabs(z))) + fmax(z, 0.0) - z * s->label[i];
    }
    return sum / n;
}

/* ---- the check ----------------------------------------------------------------------- */

enum { TV = 12, TT = 6 };

/* Seven tweets: lengths 3, 1, 6 (= T), 0, 9 (> T, cut), 4 (all unknown), 2. */
static const int32_t ids[] = {2,
                              5,
                              7,
                              /**/ 3,
                              /**/ 4,
                              9,
                              11,
                              2,
                              6,
                              8, /**/
                              /* empty */ 10,
                              3,
                              5,
                              7,
                              9,
                              2,
                              4,
                              6,
                              8,
                              /**/ 1,
                              1,
                              1,
                              1,
                              /**/ 11,
                              10};
static const int64_t off[] = {0, 3, 4, 10, 10, 19, 23, 25};
static const uint8_t lab[] = {1, 0, 1, 0, 1, 0, 1};

static void check_gradients(int pooling) {
    BilstmConfig cfg = bilstm_config_default(TV);
    cfg.E = 5, cfg.H = 4, cfg.dense = 6, cfg.T = TT, cfg.pooling = pooling, cfg.dropout = 0.0f, cfg.seed = 3;
    BiLSTM *m = bilstm_new(&cfg, NULL);
    size_t np;
    float *p = bilstm_params(m, &np);
    Rng rng;
    rng_seed(&rng, 11);
    for (size_t k = 0; k < np; k++) p[k] = 0.8f * (rng_uniform(&rng) - 0.5f);
    int nt;
    const BilstmTensor *t = bilstm_tensors(m, &nt);
    assert_int_equal(nt, BILSTM_NTENSORS);

    const SeqSet s = {7, off, ids, lab};
    const int idx[] = {0, 1, 2, 3, 4, 5, 6};
    const float *g;
    const double loss = bilstm_loss_grad(m, &s, idx, 7, &g);

    Ref r = {&cfg, t};
    double *P = malloc(np * sizeof(double));
    for (size_t k = 0; k < np; k++) P[k] = p[k];
    const double ref = ref_loss(&r, P, &s, idx, 7);
    printf("pooling %s: loss %.9f reference %.9f\n", pooling ? "max" : "last", loss, ref);
    assert_true(fabs(loss - ref) < 1e-5 * fabs(ref));

    const double h = 1e-5;
    for (int k = 0; k < nt; k++) {
        double maxrel = 0.0, num2 = 0.0, diff2 = 0.0;
        for (size_t q = t[k].offset; q < t[k].offset + t[k].size; q++) {
            const double keep = P[q];
            P[q] = keep + h;
            const double lp = ref_loss(&r, P, &s, idx, 7);
            P[q] = keep - h;
            const double lm = ref_loss(&r, P, &s, idx, 7);
            P[q] = keep;
            const double num = (lp - lm) / (2 * h), ana = g[q];
            // relative error, with a floor so that entries that are ~0 in both do not count
            const double rel = fabs(ana - num) / fmax(fmax(fabs(ana), fabs(num)), 1e-4);
            if (rel > maxrel) maxrel = rel;
            num2 += num * num;
            diff2 += (ana - num) * (ana - num);
        }
        const double normrel = num2 > 0 ? sqrt(diff2 / num2) : sqrt(diff2);
        printf("  %-10s max rel err %.2e   ||a-n||/||n|| %.2e\n", t[k].name, maxrel, normrel);
        assert_true(num2 > 0); /* every tensor gets a gradient */
        assert_true(maxrel < 1e-4);
        assert_true(normrel < 1e-5);
    }
    // rows of unused ids (0 = padding) get exactly no gradient
    for (int e = 0; e < cfg.E; e++) assert_true(g[e] == 0.0f);
    free(P);
    bilstm_free(m);
}

static void gradients_last_pooling(void **state) {
    (void)state;
    check_gradients(BILSTM_POOL_LAST);
}

static void gradients_max_pooling(void **state) {
    (void)state;
    check_gradients(BILSTM_POOL_MAX);
}

static void steps_are_packed_prefixes(void **state) {
    (void)state;
    const int len[] = {5, 3, 3, 1, 0};
    int n[5], offs[6];
    LstmSteps s = {0, 0, n, offs};
    lstm_steps_build(&s, len, 5);
    assert_int_equal(s.T, 5);
    const int want_n[] = {4, 3, 3, 1, 1}, want_off[] = {0, 4, 7, 10, 11, 12};
    for (int t = 0; t < 5; t++) assert_int_equal(n[t], want_n[t]);
    for (int t = 0; t <= 5; t++) assert_int_equal(offs[t], want_off[t]);
    const int empty[] = {0, 0};
    lstm_steps_build(&s, empty, 2);
    assert_int_equal(s.T, 0);
}

static void activations_are_accurate(void **state) {
    (void)state;
    enum { N = 20001 };
    static float v[N], x[N], y[N];
    for (int i = 0; i < N; i++) v[i] = x[i] = y[i] = -20.0f + 40.0f * (float)i / (N - 1);
    lstm_tanh(x, N);
    lstm_sigmoid(y, N);
    double et = 0, es = 0;
    for (int i = 0; i < N; i++) {
        et = fmax(et, fabs(x[i] - tanh((double)v[i])));
        es = fmax(es, fabs(y[i] - 1.0 / (1.0 + exp(-(double)v[i]))));
        assert_true(x[i] >= -1.0f && x[i] <= 1.0f && y[i] >= 0.0f && y[i] <= 1.0f);
    }
    printf("tanh max abs err %.2e, sigmoid %.2e\n", et, es);
    assert_true(et < 5e-7);
    assert_true(es < 5e-7);
    float tiny[3] = {1e-20f, -1e-30f, 0.0f};
    lstm_tanh(tiny, 3);
    // odd and relatively accurate near 0 (where tanh x ~ x)
    assert_true(fabsf(tiny[0] - 1e-20f) < 1e-6f * 1e-20f && fabsf(tiny[1] + 1e-30f) < 1e-6f * 1e-30f);
    assert_true(tiny[2] == 0.0f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(steps_are_packed_prefixes),
        cmocka_unit_test(activations_are_accurate),
        cmocka_unit_test(gradients_last_pooling),
        cmocka_unit_test(gradients_max_pooling),
    };
    return cmocka_run_group_tests_name("lstm_grad", tests, NULL, NULL);
}
