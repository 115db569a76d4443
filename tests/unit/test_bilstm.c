/* test_bilstm.c — the BiLSTM end to end: it learns (overfits a toy set), it is
 * reproducible (same seed, one thread: the same parameter bytes; two or three
 * threads: the same metrics within 0.001), the serving path equals the training-time forward,
 * inputs nobody expects (empty tweets, only unknown words, more than T tokens, ids
 * out of range) behave as documented, and the optimiser, configuration checks and
 * tensor table do what they say. The training options: the moving average of the
 * weights (lazy rows equal to a dense average; validated and kept), the embedding's
 * own learning rate, and the learning-rate schedules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/adam.h"
#include "model/bilstm.h"
#include "model/bilstm_infer.h"
#include "model/bilstm_train.h"
#include "model/ema.h"
#include "model/util.h"

/* ---- a toy data set: positive tweets use ids 2..6, negative ones 7..11, both mixed
 *      with neutral ids 12..V-1 (and the unknown id 1) ---------------------------- */

typedef struct {
    SeqSet s;
    int64_t *off;
    int32_t *ids;
    uint8_t *label;
} Toy;

static Toy toy_new(int n, int V, int maxlen, uint64_t seed) {
    Toy t;
    Rng r;
    rng_seed(&r, seed);
    t.off = malloc((size_t)(n + 1) * sizeof(int64_t));
    t.ids = malloc((size_t)n * maxlen * sizeof(int32_t));
    t.label = malloc((size_t)n);
    t.off[0] = 0;
    for (int i = 0; i < n; i++) {
        const int L = 1 + (int)rng_below(&r, (uint32_t)maxlen), y = (int)rng_below(&r, 2);
        const int cue = (int)rng_below(&r, (uint32_t)L);
        for (int k = 0; k < L; k++) {
            int32_t id = 12 + (int32_t)rng_below(&r, (uint32_t)(V - 12));
            if (rng_below(&r, 8) == 0) id = 1;
            if (k == cue) id = (y ? 2 : 7) + (int32_t)rng_below(&r, 5);
            t.ids[t.off[i] + k] = id;
        }
        t.off[i + 1] = t.off[i] + L;
        t.label[i] = (uint8_t)y;
    }
    t.s = (SeqSet){n, t.off, t.ids, t.label};
    return t;
}

static void toy_free(Toy *t) {
    free(t->off);
    free(t->ids);
    free(t->label);
}

static BilstmConfig small_config(int V) {
    BilstmConfig c = bilstm_config_default(V);
    c.E = 8, c.H = 12, c.dense = 8, c.T = 16, c.dropout = 0.0f, c.lr = 0.02f, c.batch = 16;
    c.epochs = 40, c.patience = 40, c.clip = 5.0f, c.seed = 1, c.threads = 1;
    return c;
}

static const BilstmFitOptions quiet = {1, NULL};

/* ---- learning and reproducibility ------------------------------------------------ */

static void overfits_a_toy_set(void **state) {
    (void)state;
    Toy t = toy_new(64, 30, 8, 5);
    BilstmConfig c = small_config(30);
    BiLSTM *m = bilstm_new(&c, NULL);
    double loss0, acc0, loss, acc;
    bilstm_score(m, &t.s, 1, NULL, &loss0, &acc0);
    BilstmHistory h;
    bilstm_fit(m, &t.s, &t.s, &quiet, &h);
    bilstm_score(m, &t.s, 1, NULL, &loss, &acc);
    printf("toy: loss %.4f -> %.5f, accuracy %.3f -> %.3f in %d epochs\n", loss0, loss, acc0, acc, h.n);
    assert_true(loss0 > 0.5);
    assert_true(loss < 0.02);
    assert_true(acc == 1.0);
    assert_int_equal(h.n, 40);
    assert_true(h.epoch[h.n - 1].train_loss < h.epoch[0].train_loss);
    // the history's best epoch is the one kept
    assert_true(fabs(h.epoch[h.best].val_loss - loss) < 1e-6);
    for (int e = 0; e < h.n; e++) assert_true(h.epoch[e].val_loss >= h.epoch[h.best].val_loss);
    bilstm_free(m);
    toy_free(&t);
}

static void early_stopping_keeps_the_best_weights(void **state) {
    (void)state;
    // a validation set with the labels flipped gets worse as training improves
    Toy t = toy_new(64, 30, 8, 6), v = toy_new(64, 30, 8, 7);
    for (int i = 0; i < v.s.n; i++) v.label[i] ^= 1;
    BilstmConfig c = small_config(30);
    c.patience = 2;
    BiLSTM *m = bilstm_new(&c, NULL);
    BilstmHistory h;
    bilstm_fit(m, &t.s, &v.s, &quiet, &h);
    assert_true(h.stopped_early);
    assert_true(h.n < c.epochs && h.n == h.best + 1 + c.patience);
    double loss;
    bilstm_score(m, &v.s, 1, NULL, &loss, NULL);
    assert_true(fabs(loss - h.epoch[h.best].val_loss) < 1e-6);
    bilstm_free(m);
    toy_free(&t);
    toy_free(&v);
}

/* With lr_decay, an epoch without a better validation loss sends training back to
 * the best weights with a smaller step: the epochs up to that plateau are the same as
 * without it, the next one differs, and the log says so. */
static void plateau_restores_best_weights_and_decays(void **state) {
    (void)state;
    Toy t = toy_new(64, 30, 8, 6), v = toy_new(64, 30, 8, 7);
    for (int i = 0; i < v.s.n; i++) v.label[i] ^= 1;
    BilstmConfig c = small_config(30);
    c.patience = 3;
    BiLSTM *a = bilstm_new(&c, NULL);
    BilstmHistory ha, hb;
    bilstm_fit(a, &t.s, &v.s, &quiet, &ha);
    c.lr_decay = 0.5f;
    BiLSTM *b = bilstm_new(&c, NULL);
    FILE *log = tmpfile();
    assert_non_null(log);
    BilstmFitOptions opt = {.quiet = 0, .log = log};
    bilstm_fit(b, &t.s, &v.s, &opt, &hb);
    int plateau = ha.best + 1; /* first epoch without a better validation loss */
    assert_true(plateau + 1 < ha.n && plateau + 1 < hb.n);
    for (int e = 0; e <= plateau; e++) assert_true(ha.epoch[e].train_loss == hb.epoch[e].train_loss);
    assert_true(ha.epoch[plateau + 1].train_loss != hb.epoch[plateau + 1].train_loss);
    char text[8192];
    rewind(log);
    size_t len = fread(text, 1, sizeof text - 1, log);
    text[len] = '\0';
    fclose(log);
    char want[64];
    snprintf(want, sizeof want, "back to epoch %d, learning rate 0.01", ha.best + 1);
    assert_non_null(strstr(text, want));
    bilstm_free(a);
    bilstm_free(b);
    toy_free(&t);
    toy_free(&v);
}

static BiLSTM *fit_copy(const BilstmConfig *c, const Toy *t, const Toy *v, BilstmHistory *h) {
    BiLSTM *m = bilstm_new(c, NULL);
    bilstm_fit(m, &t->s, &v->s, &quiet, h);
    return m;
}

static void same_seed_one_thread_same_bytes(void **state) {
    (void)state;
    Toy t = toy_new(200, 40, 12, 8), v = toy_new(50, 40, 12, 9);
    BilstmConfig c = small_config(40);
    c.epochs = 3, c.dropout = 0.3f, c.batch = 24;
    BilstmHistory h1, h2, h3;
    BiLSTM *a = fit_copy(&c, &t, &v, &h1), *b = fit_copy(&c, &t, &v, &h2);
    c.seed = 2;
    BiLSTM *d = fit_copy(&c, &t, &v, &h3);
    size_t na, nb, nd;
    const float *pa = bilstm_params(a, &na), *pb = bilstm_params(b, &nb), *pd = bilstm_params(d, &nd);
    assert_true(na == nb && na == nd);
    assert_memory_equal(pa, pb, na * sizeof(float));
    assert_memory_not_equal(pa, pd, na * sizeof(float));
    assert_memory_equal(&h1.epoch[0].train_loss, &h2.epoch[0].train_loss, sizeof(float));
    bilstm_free(a);
    bilstm_free(b);
    bilstm_free(d);
    toy_free(&t);
    toy_free(&v);
}

static void more_threads_same_metrics(void **state) {
    (void)state;
    // 600 tweets in batches of 32: with 3 threads the slices are 11, 11, 10, and the
    // last batch of a chunk (24 tweets) gives 11, 11, 2; batches of 20 leave a slice empty
    Toy t = toy_new(620, 60, 20, 10), v = toy_new(2000, 60, 20, 11);
    BilstmConfig c = small_config(60);
    c.epochs = 2, c.dropout = 0.2f, c.batch = 32, c.lr = 0.01f;
    BilstmHistory h1, hk;
    BiLSTM *a = fit_copy(&c, &t, &v, &h1);
    double la, aa;
    bilstm_score(a, &v.s, 1, NULL, &la, &aa);
    assert_true(aa > 0.6); /* it learned something, so the comparison means something */
    for (int threads = 2; threads <= 3; threads++) {
        c.threads = threads;
        BiLSTM *b = fit_copy(&c, &t, &v, &hk);
        double lb, ab;
        bilstm_score(b, &v.s, threads, NULL, &lb, &ab);
        printf("1 thread: val loss %.6f acc %.4f; %d threads: %.6f %.4f\n", la, aa, threads, lb, ab);
        assert_true(fabs(la - lb) < 1e-3 && fabs(aa - ab) < 1e-3);
        for (int e = 0; e < 2; e++) assert_true(fabs(h1.epoch[e].train_loss - hk.epoch[e].train_loss) < 1e-3);
        bilstm_free(b);
    }
    c.threads = 3, c.batch = 20, c.epochs = 1;
    BiLSTM *d = fit_copy(&c, &t, &v, &hk);
    assert_true(hk.epoch[0].val_acc > 0.5f);
    bilstm_free(d);
    bilstm_free(a);
    toy_free(&t);
    toy_free(&v);
}

static void unused_embedding_rows_stay_untouched(void **state) {
    (void)state;
    Toy t = toy_new(100, 40, 8, 12);
    // ids 36..39 never occur: remap them
    for (int64_t k = 0; k < t.off[t.s.n]; k++)
        if (t.ids[k] >= 36) t.ids[k] = 12;
    BilstmConfig c = small_config(40);
    c.epochs = 2;
    BiLSTM *m = bilstm_new(&c, NULL);
    size_t np;
    const float *p = bilstm_params(m, &np);
    float before[4 * 8];
    memcpy(before, p + 36 * 8, sizeof before);
    float used[8];
    memcpy(used, p + 12 * 8, sizeof used);
    bilstm_fit(m, &t.s, &t.s, &quiet, NULL);
    assert_memory_equal(before, p + 36 * 8, sizeof before);
    assert_memory_not_equal(used, p + 12 * 8, sizeof used);
    bilstm_free(m);
    toy_free(&t);
}

static void scoring_does_not_depend_on_threads(void **state) {
    (void)state;
    Toy t = toy_new(700, 50, 30, 13);
    BilstmConfig c = small_config(50);
    BiLSTM *m = bilstm_new(&c, NULL);
    float *p1 = malloc(700 * sizeof(float)), *p3 = malloc(700 * sizeof(float));
    double l1, a1, l3, a3;
    bilstm_score(m, &t.s, 1, p1, &l1, &a1);
    bilstm_score(m, &t.s, 3, p3, &l3, &a3);
    assert_memory_equal(p1, p3, 700 * sizeof(float));
    assert_true(l1 == l3 && a1 == a3);
    free(p1);
    free(p3);
    bilstm_free(m);
    toy_free(&t);
}

static void dropout_masks_follow_the_key(void **state) {
    (void)state;
    Toy t = toy_new(20, 30, 8, 14);
    BilstmConfig c = small_config(30);
    c.dropout = 0.5f;
    BiLSTM *m = bilstm_new(&c, NULL);
    BilstmWork *w = bilstm_work_new(m, 20, 0);
    int idx[20];
    for (int i = 0; i < 20; i++) idx[i] = i;
    const double e1 = bilstm_work_forward(m, w, &t.s, idx, 20, 0, 1, NULL, NULL);
    const double e2 = bilstm_work_forward(m, w, &t.s, idx, 20, 0, 2, NULL, NULL);
    const double k1 = bilstm_work_forward(m, w, &t.s, idx, 20, 1, 1, NULL, NULL);
    const double k1b = bilstm_work_forward(m, w, &t.s, idx, 20, 1, 1, NULL, NULL);
    const double k2 = bilstm_work_forward(m, w, &t.s, idx, 20, 1, 2, NULL, NULL);
    assert_true(e1 == e2);  /* evaluation ignores the key */
    assert_true(k1 == k1b); /* same key, same masks */
    assert_true(k1 != k2 && k1 != e1);
    // a tweet's mask does not depend on its batch: tweet 3 alone gives the same loss
    float pa[20], pb[1];
    bilstm_work_forward(m, w, &t.s, idx, 20, 1, 7, pa, NULL);
    bilstm_work_forward(m, w, &t.s, idx + 3, 1, 1, 7, pb, NULL);
    assert_true(fabsf(pa[3] - pb[0]) < 1e-6f);
    bilstm_work_free(w);
    bilstm_free(m);
    toy_free(&t);
}

/* ---- serving path == training-time forward, and unexpected inputs ------------------- */

static void check_infer_matches_predict(int pooling) {
    enum { N = 300, V = 50 };
    BilstmConfig c = small_config(V);
    c.T = 10, c.H = 12, c.pooling = pooling;
    BiLSTM *m = bilstm_new(&c, NULL);
    size_t np;
    float *par = bilstm_params(m, &np);
    Rng r;
    rng_seed(&r, 99);
    for (size_t k = 0; k < np; k++) par[k] = 3.0f * (rng_uniform(&r) - 0.5f); /* non-trivial outputs */
    int64_t off[N + 1];
    int32_t ids[N * 16];
    int len[N];
    off[0] = 0;
    for (int i = 0; i < N; i++) {
        len[i] = (int)rng_below(&r, 16); /* 0..15: empty ones and longer than T */
        for (int k = 0; k < len[i]; k++) ids[off[i] + k] = i % 7 == 0 ? 1 : 1 + (int32_t)rng_below(&r, V - 1);
        off[i + 1] = off[i] + len[i];
    }
    const SeqSet s = {N, off, ids, NULL};
    float pp[N], pi[N], p1[N];
    bilstm_predict(m, &s, pp, 2);
    bilstm_infer_prepare(m);
    BilstmInfer *inf = bilstm_infer_new(m, 64), *one = bilstm_infer_new(m, 1);
    bilstm_infer_run(inf, ids, len, N, pi);
    for (int i = 0; i < N; i++) bilstm_infer_run(one, ids + off[i], len + i, 1, p1 + i);
    double maxdiff = 0.0, spread = 0.0;
    for (int i = 0; i < N; i++) {
        maxdiff = fmax(maxdiff, fmax(fabs(pp[i] - pi[i]), fabs(pp[i] - p1[i])));
        spread = fmax(spread, fabs(pp[i] - pp[0]));
    }
    printf("pooling %s: max |infer - predict| = %.2e (outputs spread %.2f)\n", pooling ? "max" : "last",
           maxdiff, spread);
    assert_true(maxdiff < 1e-5);
    assert_true(spread > 0.1);
    bilstm_infer_free(inf);
    bilstm_infer_free(one);
    bilstm_free(m);
}

static void infer_equals_training_forward_last(void **state) {
    (void)state;
    check_infer_matches_predict(BILSTM_POOL_LAST);
}

static void infer_equals_training_forward_max(void **state) {
    (void)state;
    check_infer_matches_predict(BILSTM_POOL_MAX);
}

static void unexpected_inputs(void **state) {
    (void)state;
    BilstmConfig c = small_config(30);
    c.T = 5;
    BiLSTM *m = bilstm_new(&c, NULL);
    size_t np;
    float *par = bilstm_params(m, &np);
    Rng r;
    rng_seed(&r, 3);
    for (size_t k = 0; k < np; k++) par[k] = rng_uniform(&r) - 0.5f;
    bilstm_infer_prepare(m);
    BilstmInfer *inf = bilstm_infer_new(m, 8);
    const int tensors_n = BILSTM_NTENSORS;
    int nt;
    const BilstmTensor *t = bilstm_tensors(m, &nt);
    assert_int_equal(nt, tensors_n);

    // an empty tweet: zero final states, so p = sigmoid(relu(b1) . W2 + b2)
    const float *b1 = par + t[8].offset, *W2 = par + t[9].offset, *b2 = par + t[10].offset;
    double z = b2[0];
    for (int d = 0; d < c.dense; d++) z += (b1[d] > 0 ? b1[d] : 0) * W2[d];
    const float want = (float)(1.0 / (1.0 + exp(-z)));
    float p[4];
    const int32_t none[1] = {0};
    const int zero = 0;
    bilstm_infer_run(inf, none, &zero, 1, p);
    assert_true(fabsf(p[0] - want) < 1e-6f);
    const int64_t off0[2] = {0, 0};
    const SeqSet empty = {1, off0, none, NULL};
    bilstm_predict(m, &empty, p + 1, 1);
    assert_true(fabsf(p[1] - want) < 1e-6f);

    // more than T tokens: the same as the first T
    const int32_t longer[9] = {3, 4, 5, 6, 7, 8, 9, 10, 11};
    const int l9 = 9, l5 = 5;
    bilstm_infer_run(inf, longer, &l9, 1, p);
    bilstm_infer_run(inf, longer, &l5, 1, p + 1);
    assert_true(p[0] == p[1]);
    const int64_t off9[2] = {0, 9};
    const SeqSet s9 = {1, off9, longer, NULL};
    bilstm_predict(m, &s9, p + 2, 1);
    assert_true(fabsf(p[2] - p[0]) < 1e-6f);

    // only unknown words, and ids out of range read as unknown
    const int32_t unk[3] = {1, 1, 1}, bad[3] = {-5, 30, 1 << 30};
    const int l3 = 3;
    bilstm_infer_run(inf, unk, &l3, 1, p);
    bilstm_infer_run(inf, bad, &l3, 1, p + 1);
    assert_true(isfinite(p[0]) && p[0] > 0.0f && p[0] < 1.0f);
    assert_true(p[0] == p[1]);
    // a negative length counts as empty; zero tweets is fine
    const int neg = -3;
    bilstm_infer_run(inf, none, &neg, 1, p);
    assert_true(fabsf(p[0] - want) < 1e-6f);
    bilstm_infer_run(inf, none, &zero, 0, p);

    // the training-side check rejects what the serving side tolerates
    char err[256];
    const int64_t off3[2] = {0, 3};
    const SeqSet sbad = {1, off3, bad, NULL};
    assert_int_equal(bilstm_seqset_check(m, &sbad, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "outside the vocabulary"));
    const uint8_t two = 2;
    const SeqSet slab = {1, off3, unk, &two};
    assert_int_equal(bilstm_seqset_check(m, &slab, 0, err, sizeof err), 0);
    assert_int_equal(bilstm_seqset_check(m, &slab, 1, err, sizeof err), -1);
    bilstm_infer_free(inf);
    bilstm_free(m);
}

/* ---- configuration, tensor table, optimiser ------------------------------------------ */

static void config_checks_and_tensor_table(void **state) {
    (void)state;
    char err[256];
    BilstmConfig c = bilstm_config_default(50000);
    assert_int_equal(bilstm_config_check(&c, err, sizeof err), 0);
    assert_int_equal(c.E, 100);
    assert_int_equal(c.H, 128);
    assert_int_equal(c.T, 64);
    struct {
        BilstmConfig c;
        const char *what;
    } bad[10];
    for (int k = 0; k < 10; k++) bad[k].c = c;
    bad[0].c.V = 1, bad[0].what = "vocabulary";
    bad[1].c.dropout = 1.0f, bad[1].what = "dropout";
    bad[2].c.T = 0, bad[2].what = "sequence cap";
    bad[3].c.pooling = 2, bad[3].what = "pooling";
    bad[4].c.epochs = 0, bad[4].what = "epochs";
    bad[5].c.lr = NAN, bad[5].what = "learning rate";
    bad[6].c.lr_decay = 1.0f, bad[6].what = "lr_decay";
    bad[7].c.ema = 1.0f, bad[7].what = "ema";
    bad[8].c.emb_lr_scale = -0.5f, bad[8].what = "emb_lr_scale";
    bad[9].c.lr_schedule = 3, bad[9].what = "lr_schedule";
    for (int k = 0; k < 10; k++) {
        assert_int_equal(bilstm_config_check(&bad[k].c, err, sizeof err), -1);
        assert_non_null(strstr(err, bad[k].what));
    }

    BilstmConfig s = small_config(30);
    BiLSTM *m = bilstm_new(&s, NULL);
    int nt;
    size_t np;
    const BilstmTensor *t = bilstm_tensors(m, &nt);
    bilstm_params(m, &np);
    const char *names[] = {"embedding", "fwd.W_ih", "fwd.W_hh", "fwd.b",    "bwd.W_ih", "bwd.W_hh",
                           "bwd.b",     "dense1.W", "dense1.b", "dense2.W", "dense2.b"};
    size_t off = 0;
    for (int k = 0; k < nt; k++) {
        assert_string_equal(t[k].name, names[k]);
        assert_int_equal(t[k].offset, off);
        assert_int_equal(t[k].size, (size_t)t[k].shape[0] * t[k].shape[1]);
        off += t[k].size;
    }
    assert_int_equal(off, np);
    assert_int_equal(t[2].shape[0], 12);
    assert_int_equal(t[2].shape[1], 48);
    // the forget-gate bias starts at 1, the others at 0; the padding row is zero
    const float *p = bilstm_params(m, NULL);
    for (int j = 0; j < 48; j++) assert_true(p[t[3].offset + j] == (j >= 12 && j < 24 ? 1.0f : 0.0f));
    for (int e = 0; e < s.E; e++) assert_true(p[e] == 0.0f);
    // an embedding given at creation is used as is (but the padding row)
    float *w2v = malloc((size_t)30 * s.E * sizeof(float));
    for (int k = 0; k < 30 * s.E; k++) w2v[k] = (float)k;
    BiLSTM *m2 = bilstm_new(&s, w2v);
    assert_memory_equal(bilstm_params(m2, NULL) + s.E, w2v + s.E, (size_t)29 * s.E * sizeof(float));
    // training hyper-parameters can change, the architecture cannot
    BilstmConfig s2 = s;
    s2.lr = 0.5f, s2.epochs = 3;
    assert_int_equal(bilstm_set_training(m, &s2, err, sizeof err), 0);
    assert_true(bilstm_config(m)->lr == 0.5f);
    s2.H = 13;
    assert_int_equal(bilstm_set_training(m, &s2, err, sizeof err), -1);
    free(w2v);
    bilstm_free(m2);
    bilstm_free(m);
}

static void adam_minimises_and_rows_are_lazy(void **state) {
    (void)state;
    // minimise sum (p - 3)^2 over a 4 x 2 table, updating rows 0 and 2 only
    float p[8] = {0}, g[8];
    Adam a;
    adam_init(&a, 8, 0.1f);
    const int rows[2] = {0, 2};
    for (int step = 0; step < 500; step++) {
        for (int i = 0; i < 8; i++) g[i] = 2.0f * (p[i] - 3.0f);
        adam_begin_step(&a);
        adam_update_rows(&a, p, g, 0, 2, rows, 2, 1.0f);
    }
    for (int i = 0; i < 8; i++) {
        const int row = i / 2;
        if (row == 0 || row == 2)
            assert_true(fabsf(p[i] - 3.0f) < 1e-2f);
        else
            assert_true(p[i] == 0.0f && a.m[i] == 0.0f && a.v[i] == 0.0f);
    }
    // the first step moves every parameter by lr (bias correction)
    float q[1] = {1.0f}, gq[1] = {123.0f};
    Adam b;
    adam_init(&b, 1, 0.01f);
    adam_begin_step(&b);
    adam_update(&b, q, gq, 0, 1, 1.0f);
    assert_true(fabsf(q[0] - 0.99f) < 1e-6f);
    adam_free(&a);
    adam_free(&b);
}

/* ---- training options: moving average, embedding learning rate, schedules ---------- */

/* The lazy average of a table whose rows change now and then equals the average of
 * every parameter updated every step, computed here in double. */
static void ema_lazy_rows_equal_a_dense_average(void **state) {
    (void)state;
    enum { ROWS = 6, W = 3, DENSE = 4, N = ROWS * W + DENSE, STEPS = 60 };
    const double d = 0.9;
    float p[N], out[N];
    double ref[N] = {0};
    Rng r;
    rng_seed(&r, 3);
    for (int i = 0; i < N; i++) p[i] = (float)i;
    Ema e;
    ema_init(&e, N, d, 0, ROWS, W);
    ema_read(&e, p, out); /* no step yet: the weights themselves */
    assert_memory_equal(out, p, sizeof p);
    for (int t = 1; t <= STEPS; t++) {
        int rows[ROWS], nrows = 0;
        for (int k = 0; k < ROWS; k++)
            if (k != 5 && rng_below(&r, 3) == 0) rows[nrows++] = k; /* row 5 never changes */
        ema_begin_step(&e);
        ema_rows_catch_up(&e, p, rows, nrows);
        for (int k = 0; k < nrows; k++)
            for (int q = 0; q < W; q++) p[rows[k] * W + q] += (float)rng_below(&r, 100) / 50.0f - 1.0f;
        for (int i = ROWS * W; i < N; i++) p[i] += 0.25f;
        ema_rows_update(&e, p, rows, nrows);
        ema_update(&e, p, ROWS * W, DENSE);
        for (int i = 0; i < N; i++) ref[i] = d * ref[i] + (1.0 - d) * p[i];
        if (t % 20 == 0) {
            ema_read(&e, p, out);
            for (int i = 0; i < N; i++) assert_true(fabs(out[i] - ref[i] / (1.0 - pow(d, t))) < 1e-4);
        }
    }
    // an unchanged row averages to itself; the dense part lags behind its drift
    for (int q = 0; q < W; q++) assert_true(fabsf(out[5 * W + q] - p[5 * W + q]) < 1e-5f);
    assert_true(out[N - 1] < p[N - 1] - 1.0f);
    // a reset makes the average the given weights
    ema_reset(&e, p);
    ema_read(&e, p, out);
    for (int i = 0; i < N; i++) assert_true(fabsf(out[i] - p[i]) < 1e-4f * (1.0f + fabsf(p[i])));
    ema_free(&e);
}

static void schedules_decay_to_zero(void **state) {
    (void)state;
    assert_true(bilstm_schedule_factor(BILSTM_LR_CONSTANT, 70, 100) == 1.0f);
    assert_true(bilstm_schedule_factor(BILSTM_LR_LINEAR, 0, 100) == 1.0f);
    assert_true(fabsf(bilstm_schedule_factor(BILSTM_LR_LINEAR, 25, 100) - 0.75f) < 1e-6f);
    assert_true(bilstm_schedule_factor(BILSTM_LR_COSINE, 0, 100) == 1.0f);
    assert_true(fabsf(bilstm_schedule_factor(BILSTM_LR_COSINE, 50, 100) - 0.5f) < 1e-6f);
    assert_true(fabsf(bilstm_schedule_factor(BILSTM_LR_COSINE, 25, 100) - 0.8535534f) < 1e-6f);
    assert_true(bilstm_schedule_factor(BILSTM_LR_COSINE, 100, 100) == 0.0f);
    assert_true(bilstm_schedule_factor(BILSTM_LR_LINEAR, 130, 100) == 0.0f);
    for (int k = BILSTM_LR_CONSTANT; k <= BILSTM_LR_COSINE; k++)
        assert_int_equal(bilstm_schedule_parse(bilstm_schedule_name(k)), k);
    assert_int_equal(bilstm_schedule_parse("step"), -1);
    assert_null(bilstm_schedule_name(3));
}

/* With ema, the weights kept are the average: scoring the fitted model gives the
 * validation loss of its best epoch, the average differs from the raw run's weights,
 * and one thread with the same seed still gives the same bytes. */
static void ema_weights_are_validated_and_kept(void **state) {
    (void)state;
    Toy t = toy_new(200, 40, 12, 8), v = toy_new(80, 40, 12, 9);
    BilstmConfig c = small_config(40);
    c.epochs = 4, c.patience = 4, c.dropout = 0.3f, c.batch = 24;
    BilstmHistory h0, h1, h2;
    BiLSTM *raw = fit_copy(&c, &t, &v, &h0);
    c.ema = 0.9f;
    BiLSTM *a = fit_copy(&c, &t, &v, &h1), *b = fit_copy(&c, &t, &v, &h2);
    size_t np;
    const float *pr = bilstm_params(raw, &np), *pa = bilstm_params(a, NULL), *pb = bilstm_params(b, NULL);
    assert_memory_equal(pa, pb, np * sizeof(float));
    assert_memory_not_equal(pa, pr, np * sizeof(float));
    // training itself is unchanged (the average is only read): same training losses
    for (int e = 0; e < h0.n; e++) assert_true(h0.epoch[e].train_loss == h1.epoch[e].train_loss);
    double loss;
    bilstm_score(a, &v.s, 1, NULL, &loss, NULL);
    assert_true(fabs(loss - h1.epoch[h1.best].val_loss) < 1e-6);
    assert_true(h1.epoch[0].val_loss != h0.epoch[0].val_loss);
    // the lazy average leaves unused embedding rows as they were
    Toy u = toy_new(100, 40, 8, 12);
    for (int64_t k = 0; k < u.off[u.s.n]; k++)
        if (u.ids[k] >= 36) u.ids[k] = 12;
    BiLSTM *m = bilstm_new(&c, NULL);
    float before[4 * 8];
    memcpy(before, bilstm_params(m, NULL) + 36 * 8, sizeof before);
    bilstm_fit(m, &u.s, &u.s, &quiet, NULL);
    for (int k = 0; k < 4 * 8; k++)
        assert_true(fabsf(bilstm_params(m, NULL)[36 * 8 + k] - before[k]) < 1e-6f);
    bilstm_free(m);
    bilstm_free(raw);
    bilstm_free(a);
    bilstm_free(b);
    toy_free(&t);
    toy_free(&v);
    toy_free(&u);
}

/* emb_lr_scale 0 freezes the embedding (the rest still learns); a smaller scale moves
 * it less; a schedule changes the run but not its first step. */
static void embedding_rate_and_schedule_shape_the_steps(void **state) {
    (void)state;
    Toy t = toy_new(120, 40, 10, 15), v = toy_new(40, 40, 10, 16);
    BilstmConfig c = small_config(40);
    c.epochs = 2, c.patience = 2;
    BiLSTM *init = bilstm_new(&c, NULL);
    size_t np;
    const float *p0 = bilstm_params(init, &np);
    const size_t nemb = (size_t)40 * c.E;
    float dist[3];
    const float scales[3] = {1.0f, 0.2f, 0.0f};
    for (int k = 0; k < 3; k++) {
        c.emb_lr_scale = scales[k];
        BilstmHistory h;
        BiLSTM *m = fit_copy(&c, &t, &v, &h);
        const float *p = bilstm_params(m, NULL);
        double d2 = 0.0;
        for (size_t i = 0; i < nemb; i++) d2 += (double)(p[i] - p0[i]) * (p[i] - p0[i]);
        dist[k] = (float)sqrt(d2);
        assert_memory_not_equal(p + nemb, p0 + nemb, (np - nemb) * sizeof(float));
        bilstm_free(m);
    }
    printf("embedding moved %.4f (x1), %.4f (x0.2), %.4f (x0)\n", dist[0], dist[1], dist[2]);
    assert_true(dist[2] == 0.0f);
    assert_true(dist[1] > 0.0f && dist[1] < 0.5f * dist[0]);
    // a schedule: the same first step (factor 1), a different run
    c.emb_lr_scale = 1.0f, c.epochs = 1, c.batch = 120; /* one batch, one step */
    BilstmHistory hc, hs;
    BiLSTM *a = fit_copy(&c, &t, &v, &hc);
    c.lr_schedule = BILSTM_LR_COSINE;
    BiLSTM *b = fit_copy(&c, &t, &v, &hs);
    assert_memory_equal(bilstm_params(a, NULL), bilstm_params(b, NULL), np * sizeof(float));
    c.epochs = 3, c.batch = 24, c.lr_schedule = BILSTM_LR_CONSTANT;
    BiLSTM *a3 = fit_copy(&c, &t, &v, &hc);
    c.lr_schedule = BILSTM_LR_LINEAR;
    BiLSTM *b3 = fit_copy(&c, &t, &v, &hs);
    assert_true(hc.epoch[0].train_loss != hs.epoch[0].train_loss);
    assert_memory_not_equal(bilstm_params(a3, NULL), bilstm_params(b3, NULL), np * sizeof(float));
    bilstm_free(a);
    bilstm_free(b);
    bilstm_free(a3);
    bilstm_free(b3);
    bilstm_free(init);
    toy_free(&t);
    toy_free(&v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_checks_and_tensor_table),
        cmocka_unit_test(adam_minimises_and_rows_are_lazy),
        cmocka_unit_test(dropout_masks_follow_the_key),
        cmocka_unit_test(scoring_does_not_depend_on_threads),
        cmocka_unit_test(infer_equals_training_forward_last),
        cmocka_unit_test(infer_equals_training_forward_max),
        cmocka_unit_test(unexpected_inputs),
        cmocka_unit_test(overfits_a_toy_set),
        cmocka_unit_test(early_stopping_keeps_the_best_weights),
        cmocka_unit_test(plateau_restores_best_weights_and_decays),
        cmocka_unit_test(same_seed_one_thread_same_bytes),
        cmocka_unit_test(more_threads_same_metrics),
        cmocka_unit_test(unused_embedding_rows_stay_untouched),
        cmocka_unit_test(ema_lazy_rows_equal_a_dense_average),
        cmocka_unit_test(schedules_decay_to_zero),
        cmocka_unit_test(ema_weights_are_validated_and_kept),
        cmocka_unit_test(embedding_rate_and_schedule_shape_the_steps),
    };
    return cmocka_run_group_tests_name("bilstm", tests, NULL, NULL);
}
