/* test_w2v_dense.c — the w2v-dense baseline (model/w2v_dense.c): finite-difference
 * gradient check of every parameter tensor, the forward by hand, a synthetic task it
 * must learn, early stopping that keeps the best weights, determinism, validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/w2v_dense.h"
#include "model/util.h"

#define assert_near(a, b, eps) assert_near_at((a), (b), (eps), #a, __FILE__, __LINE__)
static void assert_near_at(double a, double b, double eps, const char *what, const char *file, int line) {
    if (!(fabs(a - b) <= eps))
        fail_msg("%s:%d: %s = %.9g, expected %.9g (+- %g)", file, line, what, a, b, eps);
}

/* ---- data ---------------------------------------------------------------------------- */

typedef struct {
    SeqSet s;
    int64_t *off;
    int32_t *ids;
    uint8_t *label;
} Set;

static void set_alloc(Set *d, int n, int maxlen) {
    d->off = mallocCheck(((size_t)n + 1) * sizeof *d->off);
    d->ids = mallocCheck(((size_t)n * maxlen + 1) * sizeof *d->ids);
    d->label = mallocCheck((size_t)n + 1);
    d->s = (SeqSet){.n = n, .off = d->off, .ids = d->ids, .label = d->label};
}

static void set_free(Set *d) {
    free(d->off);
    free(d->ids);
    free(d->label);
}

/* Synthetic sentiment: ids 2..7 positive words, 8..13 negative words, 14..V-1 filler.
 * A tweet has 4-10 fillers (and sometimes the unknown id 1) plus 1-2 words of its
 * label's polarity. The embedding gives dimension 0 the polarity (+1, -1, 0 for
 * fillers) and noise elsewhere, so the mean embedding carries the label. */
enum { SYN_V = 40, SYN_D = 8 };

static void synth_set(Set *d, int n, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    set_alloc(d, n, 13);
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        int y = (int)rng_below(&r, 2);
        d->off[i] = at;
        int fill = 4 + (int)rng_below(&r, 7), senti = 1 + (int)rng_below(&r, 2);
        for (int k = 0; k < fill; k++)
            d->ids[at++] = rng_below(&r, 8) == 0 ? 1 : 14 + (int32_t)rng_below(&r, 26);
        for (int k = 0; k < senti; k++) d->ids[at++] = (y ? 2 : 8) + (int32_t)rng_below(&r, 6);
        d->label[i] = (uint8_t)y;
    }
    d->off[n] = at;
}

static float *synth_embedding(uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    float *e = mallocCheck(SYN_V * SYN_D * sizeof *e);
    for (int t = 0; t < SYN_V; t++) {
        e[t * SYN_D] = t >= 2 && t < 8 ? 1.0f : t >= 8 && t < 14 ? -1.0f : 0.0f;
        for (int d = 1; d < SYN_D; d++) e[t * SYN_D + d] = rng_normal(&r);
    }
    return e;
}

static double accuracy(const W2vDense *m, const SeqSet *s) {
    float *p = mallocCheck((size_t)s->n * sizeof *p);
    w2v_dense_predict(m, s, p);
    int right = 0;
    for (int i = 0; i < s->n; i++) right += (p[i] >= 0.5f) == (s->label[i] == 1);
    free(p);
    return (double)right / s->n;
}

/* ---- tests --------------------------------------------------------------------------- */

static void gradients_match_finite_differences(void **state) {
    (void)state;
    enum { V = 12, D = 5, H = 7, B = 6 };
    Rng r;
    rng_seed(&r, 11);
    float emb[V * D];
    for (int i = 0; i < V * D; i++) emb[i] = rng_normal(&r);
    size_t np = w2v_dense_num_params(D, H);
    float *params = mallocCheck(np * sizeof *params);
    for (size_t i = 0; i < np; i++) params[i] = 0.7f * rng_normal(&r);
    char err[128];
    W2vDense *m = w2v_dense_from_arrays(V, D, H, emb, params, err, sizeof err);
    assert_non_null(m);

    /* six tweets: one empty, one of unknowns only, the rest mixed */
    const int64_t off[B + 1] = {0, 3, 3, 5, 9, 10, 14};
    const int32_t ids[14] = {2, 5, 7, /* empty */ 1, 1, 3, 3, 11, 1, 9, 4, 6, 8, 10};
    const uint8_t y[B] = {1, 0, 1, 0, 1, 0};
    SeqSet s = {B, off, ids, y};
    const int idx[B] = {0, 1, 2, 3, 4, 5};
    W2vDenseWork *w = w2v_dense_work_new(m, B);
    float *grads = mallocCheck(np * sizeof *grads);
    w2v_dense_batch_loss(m, &s, idx, B, w, grads, NULL);

    struct {
        const char *name;
        float *t;
        size_t n;
    } tensors[4] = {
        {"w1", m->p.w1, (size_t)H * D}, {"b1", m->p.b1, H}, {"w2", m->p.w2, H}, {"b2", m->p.b2, 1}};
    const float eps = 1e-2f;
    for (int k = 0; k < 4; k++) {
        double num2 = 0, diff2 = 0, maxerr = 0;
        for (size_t i = 0; i < tensors[k].n; i++) {
            float *x = &tensors[k].t[i], keep = *x;
            *x = keep + eps;
            double lp = w2v_dense_batch_loss(m, &s, idx, B, w, NULL, NULL);
            *x = keep - eps;
            double lm = w2v_dense_batch_loss(m, &s, idx, B, w, NULL, NULL);
            *x = keep;
            double numeric = (lp - lm) / (2.0 * eps);
            double analytic = grads[(size_t)(tensors[k].t - m->params) + i];
            num2 += numeric * numeric;
            diff2 += (numeric - analytic) * (numeric - analytic);
            maxerr = fmax(maxerr, fabs(numeric - analytic));
            assert_near(analytic, numeric, 1e-4 + 1e-2 * fabs(numeric));
        }
        print_message("%s: %zu values, |numeric| = %.4g, max |numeric - analytic| = %.2g\n", tensors[k].name,
                      tensors[k].n, sqrt(num2), maxerr);
        assert_true(num2 > 0); /* the tensor takes part in the loss */
        assert_true(sqrt(diff2) <= 1e-3 * sqrt(num2) + 1e-5);
    }
    free(grads);
    w2v_dense_work_free(w);
    w2v_dense_free(m);
    free(params);
}

static void forward_by_hand(void **state) {
    (void)state;
    /* V = 5, D = 2, H = 1: emb[2] = (1, 0), emb[3] = (0, 1), emb[4] = (-1, -1);
     * w1 = [1 2], b1 = 0, w2 = [1], b2 = 0.
     *   [2 3]:      x = (1/2, 1/2), a = 1/2 + 1 = 1.5,   p = sigmoid(1.5)  = 0.8175745
     *   [3 3 2 1]:  unknown skipped, x = (1/3, 2/3), a = 5/3, p = sigmoid(5/3) = 0.8411309
     *   [4]:        a = -3, relu -> 0, p = sigmoid(0) = 0.5
     *   [] and [1 0 7 -2]: nothing known, x = 0, p = 0.5 */
    const float emb[10] = {0, 0, 0, 0, 1, 0, 0, 1, -1, -1};
    const float params[4] = {1, 2, /* b1 */ 0, /* w2 */ 1}; /* b2 follows */
    float all[5];
    memcpy(all, params, sizeof params);
    all[4] = 0;
    char err[128];
    W2vDense *m = w2v_dense_from_arrays(5, 2, 1, emb, all, err, sizeof err);
    assert_non_null(m);
    assert_int_equal(m->num_params, 5);
    float scratch[3];
    assert_int_equal(w2v_dense_scratch_len(m), 3);
    const int32_t a[2] = {2, 3}, b[4] = {3, 3, 2, 1}, c[1] = {4}, d[4] = {1, 0, 7, -2};
    assert_near(w2v_dense_predict_one(m, a, 2, scratch), 0.8175745, 1e-6);
    assert_near(w2v_dense_predict_one(m, b, 4, scratch), 0.8411309, 1e-6);
    assert_near(w2v_dense_predict_one(m, c, 1, scratch), 0.5, 1e-7);
    assert_near(w2v_dense_predict_one(m, NULL, 0, scratch), 0.5, 1e-7);
    assert_near(w2v_dense_predict_one(m, d, 4, scratch), 0.5, 1e-7);
    w2v_dense_free(m);
}

static W2vDenseConfig small_config(void) {
    W2vDenseConfig cfg = w2v_dense_default_config();
    cfg.hidden = 16;
    cfg.epochs = 15;
    cfg.batch_size = 32;
    cfg.lr = 5e-3f;
    return cfg;
}

static void learns_a_synthetic_task(void **state) {
    (void)state;
    Set train, test;
    synth_set(&train, 3000, 1);
    synth_set(&test, 1000, 2);
    float *emb = synth_embedding(3);
    W2vDenseConfig cfg = small_config();
    char err[128];
    W2vDense *m = w2v_dense_fit(&train.s, NULL, emb, SYN_V, SYN_D, &cfg, err, sizeof err);
    assert_non_null(m);
    double acc = accuracy(m, &test.s);
    print_message("held-out accuracy %.4f, train loss %.4f -> %.4f\n", acc, m->train_loss[0],
                  m->train_loss[m->epochs_run - 1]);
    assert_true(acc >= 0.97);
    assert_int_equal(m->epochs_run, cfg.epochs); /* no validation: every epoch runs */
    assert_int_equal(m->best_epoch, cfg.epochs - 1);
    assert_true(isnan(m->val_loss[0]));
    assert_true(m->train_loss[cfg.epochs - 1] < 0.5f * m->train_loss[0]);

    /* the batched forward and the per-tweet one give the same bits; the unknown id
     * and ids outside the vocabulary do not change a tweet's score */
    float *p = mallocCheck((size_t)test.s.n * sizeof *p);
    w2v_dense_predict(m, &test.s, p);
    float *scratch = mallocCheck(w2v_dense_scratch_len(m) * sizeof *scratch);
    for (int i = 0; i < test.s.n; i++) {
        float q =
            w2v_dense_predict_one(m, test.ids + test.off[i], (int)(test.off[i + 1] - test.off[i]), scratch);
        assert_memory_equal(&q, &p[i], sizeof q);
    }
    const int32_t plain[2] = {20, 3}, noisy[6] = {1, 20, 0, 3, SYN_V, -1};
    assert_near(w2v_dense_predict_one(m, plain, 2, scratch), w2v_dense_predict_one(m, noisy, 6, scratch), 0);
    free(scratch);
    free(p);
    w2v_dense_free(m);
    free(emb);
    set_free(&train);
    set_free(&test);
}

static void early_stopping_keeps_the_best_epoch(void **state) {
    (void)state;
    /* random labels: nothing to learn, so the validation loss soon rises while the
     * training loss falls (overfitting), and training must stop */
    Set train, val;
    synth_set(&train, 60, 4);
    synth_set(&val, 300, 5);
    Rng r;
    rng_seed(&r, 6);
    for (int i = 0; i < train.s.n; i++) train.label[i] = (uint8_t)rng_below(&r, 2);
    for (int i = 0; i < val.s.n; i++) val.label[i] = (uint8_t)rng_below(&r, 2);
    float *emb = synth_embedding(7);
    W2vDenseConfig cfg = small_config();
    cfg.hidden = 32;
    cfg.epochs = 300;
    cfg.batch_size = 8;
    cfg.lr = 1e-2f;
    cfg.patience = 4;
    char err[128];
    W2vDense *m = w2v_dense_fit(&train.s, &val.s, emb, SYN_V, SYN_D, &cfg, err, sizeof err);
    assert_non_null(m);
    print_message("stopped after %d epochs, best %d (val loss %.4f, last %.4f)\n", m->epochs_run,
                  m->best_epoch + 1, m->val_loss[m->best_epoch], m->val_loss[m->epochs_run - 1]);
    assert_true(m->epochs_run < cfg.epochs);
    assert_int_equal(m->epochs_run, m->best_epoch + cfg.patience + 1);
    for (int e = 0; e < m->epochs_run; e++) assert_true(m->val_loss[m->best_epoch] <= m->val_loss[e]);
    assert_true(m->val_loss[m->best_epoch] < m->val_loss[m->epochs_run - 1]);

    /* the weights kept are the best epoch's: their validation loss is the one recorded */
    int *idx = mallocCheck((size_t)val.s.n * sizeof *idx);
    for (int i = 0; i < val.s.n; i++) idx[i] = i;
    W2vDenseWork *w = w2v_dense_work_new(m, val.s.n);
    float loss = w2v_dense_batch_loss(m, &val.s, idx, val.s.n, w, NULL, NULL);
    assert_near(loss, m->val_loss[m->best_epoch], 1e-5);
    w2v_dense_work_free(w);
    free(idx);
    w2v_dense_free(m);
    free(emb);
    set_free(&train);
    set_free(&val);
}

static void same_seed_same_model_bytes(void **state) {
    (void)state;
    Set train;
    synth_set(&train, 500, 8);
    float *emb = synth_embedding(9);
    W2vDenseConfig cfg = small_config();
    cfg.epochs = 3;
    char err[128];
    W2vDense *a = w2v_dense_fit(&train.s, NULL, emb, SYN_V, SYN_D, &cfg, err, sizeof err);
    W2vDense *b = w2v_dense_fit(&train.s, NULL, emb, SYN_V, SYN_D, &cfg, err, sizeof err);
    cfg.seed = 1234;
    W2vDense *c = w2v_dense_fit(&train.s, NULL, emb, SYN_V, SYN_D, &cfg, err, sizeof err);
    assert_int_equal(a->num_params, b->num_params);
    assert_memory_equal(a->params, b->params, a->num_params * sizeof(float));
    assert_memory_not_equal(a->params, c->params, a->num_params * sizeof(float));
    assert_memory_equal(a->embedding, emb, SYN_V * SYN_D * sizeof(float)); /* copied, not trained */
    w2v_dense_free(a);
    w2v_dense_free(b);
    w2v_dense_free(c);
    free(emb);
    set_free(&train);
}

static void bad_inputs_are_errors(void **state) {
    (void)state;
    Set train;
    synth_set(&train, 10, 10);
    float *emb = synth_embedding(11);
    char err[128];
    W2vDenseConfig cfg = small_config();
    cfg.hidden = 0;
    assert_null(w2v_dense_fit(&train.s, NULL, emb, SYN_V, SYN_D, &cfg, err, sizeof err));
    assert_non_null(strstr(err, "hidden"));
    cfg = small_config();
    cfg.lr = -1;
    assert_null(w2v_dense_fit(&train.s, NULL, emb, SYN_V, SYN_D, &cfg, err, sizeof err));
    cfg = small_config();
    SeqSet empty = {0, train.off, train.ids, train.label};
    assert_null(w2v_dense_fit(&empty, NULL, emb, SYN_V, SYN_D, &cfg, err, sizeof err));
    assert_non_null(strstr(err, "empty"));
    emb[5] = NAN;
    assert_null(w2v_dense_fit(&train.s, NULL, emb, SYN_V, SYN_D, &cfg, err, sizeof err));
    assert_non_null(strstr(err, "embedding"));
    emb[5] = 0;

    size_t np = w2v_dense_num_params(SYN_D, 4);
    float *params = callocCheck(np, sizeof *params);
    W2vDense *ok = w2v_dense_from_arrays(SYN_V, SYN_D, 4, emb, params, err, sizeof err);
    assert_non_null(ok);
    assert_int_equal(ok->epochs_run, 0);
    w2v_dense_free(ok);
    params[np - 1] = INFINITY;
    assert_null(w2v_dense_from_arrays(SYN_V, SYN_D, 4, emb, params, err, sizeof err));
    assert_non_null(strstr(err, "parameter"));
    assert_null(w2v_dense_from_arrays(1, SYN_D, 4, emb, params, err, sizeof err));
    free(params);
    free(emb);
    set_free(&train);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradients_match_finite_differences),
        cmocka_unit_test(forward_by_hand),
        cmocka_unit_test(learns_a_synthetic_task),
        cmocka_unit_test(early_stopping_keeps_the_best_epoch),
        cmocka_unit_test(same_seed_same_model_bytes),
        cmocka_unit_test(bad_inputs_are_errors),
    };
    return cmocka_run_group_tests_name("w2v_dense", tests, NULL, NULL);
}
