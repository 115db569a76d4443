/* w2v_dense.c — mean word2vec embedding -> dense relu -> dense sigmoid, trained with
 * Adam (contracts in w2v_dense.h). Layers come as forward/backward pairs in the
 * style of llm.c; all parameters (and their gradients) live in one buffer. */
#include "model/w2v_dense.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/util.h"

enum { W2V_FIRST_WORD_ID = 2 }; /* 0 is padding, 1 the unknown word: both skipped */

static const float ADAM_BETA1 = 0.9f, ADAM_BETA2 = 0.999f, ADAM_EPS = 1e-8f;

struct W2vDenseWork {
    int max_batch;
    float *x;      /* (B, D) mean embeddings */
    float *a1;     /* (B, H) pre-activations of the hidden layer */
    float *h1;     /* (B, H) relu(a1) */
    float *logit;  /* (B) */
    uint8_t *y;    /* (B) labels */
    float *dlogit; /* (B) */
    float *dh1;    /* (B, H) */
    float *da1;    /* (B, H) */
};

W2vDenseConfig w2v_dense_default_config(void) {
    return (W2vDenseConfig){
        .hidden = 64,
        .lr = 2e-3f,
        .epochs = 20,
        .batch_size = 64,
        .patience = 3,
        .seed = 42,
        .verbose = 0,
    };
}

size_t w2v_dense_num_params(int dim, int hidden) {
    return (size_t)hidden * (size_t)dim + 2 * (size_t)hidden + 1;
}

/* Points the tensor views at their places in a buffer laid out as params. */
static W2vDenseParams params_views(float *buf, int dim, int hidden) {
    W2vDenseParams p;
    p.w1 = buf;
    p.b1 = p.w1 + (size_t)hidden * dim;
    p.w2 = p.b1 + hidden;
    p.b2 = p.w2 + hidden;
    return p;
}

/* ---- layers ------------------------------------------------------------------------ */

/* out is (D): the mean of the embedding rows (emb is (V, D)) of the known ids among
 * ids[0 .. n); zeros when there is none. */
static void mean_embed_one(float *out, const int32_t *ids, int n, const float *emb, int V, int D) {
    for (int d = 0; d < D; d++) out[d] = 0.0f;
    int known = 0;
    for (int i = 0; i < n; i++) {
        int32_t t = ids[i];
        if (t < W2V_FIRST_WORD_ID || t >= V) continue;
        const float *row = emb + (size_t)t * D;
        for (int d = 0; d < D; d++) out[d] += row[d];
        known++;
    }
    if (known > 1) {
        float inv = 1.0f / (float)known;
        for (int d = 0; d < D; d++) out[d] *= inv;
    }
}

/* out is (B, D): the mean embedding of tweet idx[b] of s. No backward: the
 * embedding is not trained. */
static void mean_embed_forward(float *out, const SeqSet *s, const int *idx, int B, const float *emb, int V,
                               int D) {
    for (int b = 0; b < B; b++) {
        int i = idx[b];
        mean_embed_one(out + (size_t)b * D, s->ids + s->off[i], (int)(s->off[i + 1] - s->off[i]), emb, V, D);
    }
}

/* out (B, OC) = inp (B, C) . weight (C, OC) + bias (OC). The weight is stored input-
 * major so that the inner loop runs over contiguous outputs (vectorised); every
 * output's sum still runs over c in order, so a row's result does not depend on B
 * (the per-tweet forward equals the batched one bit for bit). */
static void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int B, int C,
                           int OC) {
    for (int b = 0; b < B; b++) {
        const float *x = inp + (size_t)b * C;
        float *y = out + (size_t)b * OC;
        for (int o = 0; o < OC; o++) y[o] = bias[o];
        for (int c = 0; c < C; c++) {
            const float *w = weight + (size_t)c * OC;
            float xc = x[c];
            for (int o = 0; o < OC; o++) y[o] += xc * w[o];
        }
    }
}

/* Given dout (B, OC): accumulates dweight (C, OC) and dbias (OC), and writes
 * dinp (B, C) unless it is NULL (the first layer's input needs no gradient). */
static void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                            const float *weight, int B, int C, int OC) {
    for (int b = 0; b < B; b++) {
        const float *x = inp + (size_t)b * C;
        const float *g = dout + (size_t)b * OC;
        for (int c = 0; c < C; c++) {
            float *dw = dweight + (size_t)c * OC;
            float xc = x[c];
            for (int o = 0; o < OC; o++) dw[o] += xc * g[o];
        }
        for (int o = 0; o < OC; o++) dbias[o] += g[o];
        if (dinp) {
            float *dx = dinp + (size_t)b * C;
            for (int c = 0; c < C; c++) {
                const float *w = weight + (size_t)c * OC;
                float acc = 0.0f;
                for (int o = 0; o < OC; o++) acc += g[o] * w[o];
                dx[c] = acc;
            }
        }
    }
}

/* out (N) = max(inp, 0) */
static void relu_forward(float *out, const float *inp, size_t N) {
    for (size_t i = 0; i < N; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

/* dinp (N) = dout where inp > 0, else 0 */
static void relu_backward(float *dinp, const float *inp, const float *dout, size_t N) {
    for (size_t i = 0; i < N; i++) dinp[i] = inp[i] > 0.0f ? dout[i] : 0.0f;
}

static inline float sigmoidf(float z) {
    if (z >= 0) return 1.0f / (1.0f + expf(-z));
    float e = expf(z);
    return e / (1.0f + e);
}

/* Sum over the batch of the binary cross-entropy of sigmoid(logit (B)) against y (B),
 * in the stable form max(z, 0) - z y + ln(1 + e^-|z|). */
static double bce_forward(const float *logit, const uint8_t *y, int B) {
    double sum = 0.0;
    for (int b = 0; b < B; b++) {
        double z = logit[b];
        sum += fmax(z, 0.0) - z * (y[b] != 0) + log1p(exp(-fabs(z)));
    }
    return sum;
}

/* dlogit (B) = d mean-loss / d logit = (sigmoid(logit) - y) / B */
static void bce_backward(float *dlogit, const float *logit, const uint8_t *y, int B) {
    for (int b = 0; b < B; b++) dlogit[b] = (sigmoidf(logit[b]) - (float)(y[b] != 0)) / (float)B;
}

/* ---- model forward / backward ------------------------------------------------------ */

/* Runs the forward pass of the tweets idx[0 .. B) of s into w (logits in w->logit). */
static void model_forward(const W2vDense *m, const SeqSet *s, const int *idx, int B, W2vDenseWork *w) {
    int D = m->dim, H = m->hidden;
    mean_embed_forward(w->x, s, idx, B, m->embedding, m->vocab_size, D);
    matmul_forward(w->a1, w->x, m->p.w1, m->p.b1, B, D, H);
    relu_forward(w->h1, w->a1, (size_t)B * H);
    matmul_forward(w->logit, w->h1, m->p.w2, m->p.b2, B, H, 1);
}

float w2v_dense_batch_loss(const W2vDense *m, const SeqSet *s, const int *idx, int B, W2vDenseWork *w,
                           float *grads, float *probs) {
    int D = m->dim, H = m->hidden;
    model_forward(m, s, idx, B, w);
    for (int b = 0; b < B; b++) w->y[b] = s->label[idx[b]];
    if (probs)
        for (int b = 0; b < B; b++) probs[b] = sigmoidf(w->logit[b]);
    float loss = B > 0 ? (float)(bce_forward(w->logit, w->y, B) / B) : 0.0f;
    if (!grads || B == 0) return loss;

    memset(grads, 0, m->num_params * sizeof *grads);
    W2vDenseParams g = params_views(grads, D, H);
    bce_backward(w->dlogit, w->logit, w->y, B);
    matmul_backward(w->dh1, g.w2, g.b2, w->dlogit, w->h1, m->p.w2, B, H, 1);
    relu_backward(w->da1, w->a1, w->dh1, (size_t)B * H);
    matmul_backward(NULL, g.w1, g.b1, w->da1, w->x, m->p.w1, B, D, H);
    return loss;
}

/* ---- inference ---------------------------------------------------------------------- */

size_t w2v_dense_scratch_len(const W2vDense *m) { return (size_t)m->dim + (size_t)m->hidden; }

float w2v_dense_predict_one(const W2vDense *m, const int32_t *ids, int n, float *scratch) {
    float *x = scratch, *h = scratch + m->dim, logit;
    mean_embed_one(x, ids, n, m->embedding, m->vocab_size, m->dim);
    matmul_forward(h, x, m->p.w1, m->p.b1, 1, m->dim, m->hidden);
    relu_forward(h, h, (size_t)m->hidden);
    matmul_forward(&logit, h, m->p.w2, m->p.b2, 1, m->hidden, 1);
    return sigmoidf(logit);
}

W2vDenseWork *w2v_dense_work_new(const W2vDense *m, int max_batch) {
    size_t B = max_batch > 0 ? (size_t)max_batch : 1, D = (size_t)m->dim, H = (size_t)m->hidden;
    W2vDenseWork *w = callocCheck(1, sizeof *w);
    w->max_batch = (int)B;
    w->x = mallocCheck(B * D * sizeof(float));
    w->a1 = mallocCheck(B * H * sizeof(float));
    w->h1 = mallocCheck(B * H * sizeof(float));
    w->logit = mallocCheck(B * sizeof(float));
    w->y = mallocCheck(B);
    w->dlogit = mallocCheck(B * sizeof(float));
    w->dh1 = mallocCheck(B * H * sizeof(float));
    w->da1 = mallocCheck(B * H * sizeof(float));
    return w;
}

void w2v_dense_work_free(W2vDenseWork *w) {
    if (!w) return;
    free(w->x);
    free(w->a1);
    free(w->h1);
    free(w->logit);
    free(w->y);
    free(w->dlogit);
    free(w->dh1);
    free(w->da1);
    free(w);
}

/* Runs the forward over s in batches of the work's size: probabilities into p, or
 * (p NULL) returns the mean loss (NaN for an empty s). */
static float run_batches(const W2vDense *m, const SeqSet *s, W2vDenseWork *w, float *p) {
    int *idx = mallocCheck((size_t)w->max_batch * sizeof *idx);
    double loss = 0.0;
    for (int start = 0; start < s->n; start += w->max_batch) {
        int B = s->n - start < w->max_batch ? s->n - start : w->max_batch;
        for (int b = 0; b < B; b++) idx[b] = start + b;
        if (p) {
            model_forward(m, s, idx, B, w);
            for (int b = 0; b < B; b++) p[start + b] = sigmoidf(w->logit[b]);
        } else {
            loss += (double)w2v_dense_batch_loss(m, s, idx, B, w, NULL, NULL) * B;
        }
    }
    free(idx);
    return s->n > 0 ? (float)(loss / s->n) : NAN;
}

void w2v_dense_predict(const W2vDense *m, const SeqSet *s, float *p) {
    W2vDenseWork *w = w2v_dense_work_new(m, 256);
    run_batches(m, s, w, p);
    w2v_dense_work_free(w);
}

/* ---- construction and training ------------------------------------------------------ */

static int all_finite(const float *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

static int sizes_check(int vocab_size, int dim, int hidden, char *err, size_t errlen) {
    if (vocab_size < 2 || dim < 1 || hidden < 1)
        return util_err(err, errlen,
                        "w2v-dense: need vocabulary size >= 2, dim >= 1, hidden >= 1 (got %d, %d, %d)",
                        vocab_size, dim, hidden);
    return 0;
}

static W2vDense *w2v_dense_alloc(int vocab_size, int dim, int hidden, const float *embedding) {
    W2vDense *m = callocCheck(1, sizeof *m);
    m->vocab_size = vocab_size;
    m->dim = dim;
    m->hidden = hidden;
    size_t esize = (size_t)vocab_size * (size_t)dim;
    m->embedding = mallocCheck(esize * sizeof(float));
    memcpy(m->embedding, embedding, esize * sizeof(float));
    m->num_params = w2v_dense_num_params(dim, hidden);
    m->params = callocCheck(m->num_params, sizeof(float));
    m->p = params_views(m->params, dim, hidden);
    return m;
}

W2vDense *w2v_dense_from_arrays(int vocab_size, int dim, int hidden, const float *embedding,
                                const float *params, char *err, size_t errlen) {
    if (sizes_check(vocab_size, dim, hidden, err, errlen) != 0) return NULL;
    if (!all_finite(embedding, (size_t)vocab_size * (size_t)dim)) {
        util_err(err, errlen, "w2v-dense: the embedding has a non-finite value");
        return NULL;
    }
    size_t np = w2v_dense_num_params(dim, hidden);
    if (!all_finite(params, np)) {
        util_err(err, errlen, "w2v-dense: a parameter is not finite");
        return NULL;
    }
    W2vDense *m = w2v_dense_alloc(vocab_size, dim, hidden, embedding);
    memcpy(m->params, params, np * sizeof(float));
    return m;
}

void w2v_dense_free(W2vDense *m) {
    if (!m) return;
    free(m->embedding);
    free(m->params);
    free(m->train_loss);
    free(m->val_loss);
    free(m);
}

/* He initialisation for the relu layer, LeCun for the output, zero biases. */
static void init_params(W2vDense *m, Rng *rng) {
    float s1 = sqrtf(2.0f / (float)m->dim), s2 = sqrtf(1.0f / (float)m->hidden);
    for (size_t i = 0; i < (size_t)m->hidden * m->dim; i++) m->p.w1[i] = s1 * rng_normal(rng);
    for (int i = 0; i < m->hidden; i++) m->p.w2[i] = s2 * rng_normal(rng);
}

typedef struct {
    float *m, *v; /* (num_params) first and second moments */
    int64_t t;
} Adam;

static void adam_step(Adam *a, float *params, const float *grads, size_t n, float lr) {
    a->t++;
    float c1 = 1.0f - powf(ADAM_BETA1, (float)a->t), c2 = 1.0f - powf(ADAM_BETA2, (float)a->t);
    for (size_t i = 0; i < n; i++) {
        a->m[i] = ADAM_BETA1 * a->m[i] + (1.0f - ADAM_BETA1) * grads[i];
        a->v[i] = ADAM_BETA2 * a->v[i] + (1.0f - ADAM_BETA2) * grads[i] * grads[i];
        params[i] -= lr * (a->m[i] / c1) / (sqrtf(a->v[i] / c2) + ADAM_EPS);
    }
}

W2vDense *w2v_dense_fit(const SeqSet *train, const SeqSet *val, const float *embedding, int vocab_size,
                        int dim, const W2vDenseConfig *cfg, char *err, size_t errlen) {
    if (sizes_check(vocab_size, dim, cfg->hidden, err, errlen) != 0) return NULL;
    if (!(cfg->lr > 0.0f) || cfg->epochs < 1 || cfg->batch_size < 1 || cfg->patience < 1) {
        util_err(err, errlen, "w2v-dense: need lr > 0, epochs >= 1, batch_size >= 1, patience >= 1");
        return NULL;
    }
    if (train->n < 1) {
        util_err(err, errlen, "w2v-dense: empty training set");
        return NULL;
    }
    if (!all_finite(embedding, (size_t)vocab_size * (size_t)dim)) {
        util_err(err, errlen, "w2v-dense: the embedding has a non-finite value");
        return NULL;
    }
    if (val && val->n == 0) val = NULL;

    W2vDense *m = w2v_dense_alloc(vocab_size, dim, cfg->hidden, embedding);
    Rng rng;
    rng_seed(&rng, cfg->seed);
    init_params(m, &rng);
    m->train_loss = mallocCheck((size_t)cfg->epochs * sizeof(float));
    m->val_loss = mallocCheck((size_t)cfg->epochs * sizeof(float));

    size_t np = m->num_params;
    float *grads = mallocCheck(np * sizeof(float));
    float *best = mallocCheck(np * sizeof(float));
    Adam adam = {callocCheck(np, sizeof(float)), callocCheck(np, sizeof(float)), 0};
    W2vDenseWork *w = w2v_dense_work_new(m, cfg->batch_size);
    int *order = mallocCheck((size_t)train->n * sizeof *order);
    for (int i = 0; i < train->n; i++) order[i] = i;

    double t0 = util_now_s();
    float best_val = INFINITY;
    int have_best = 0; /* a finite validation loss has been seen */
    for (int e = 0; e < cfg->epochs; e++) {
        rng_shuffle_int(&rng, order, (size_t)train->n);
        double sum = 0.0;
        for (int start = 0; start < train->n; start += cfg->batch_size) {
            int B = train->n - start < cfg->batch_size ? train->n - start : cfg->batch_size;
            sum += (double)w2v_dense_batch_loss(m, train, order + start, B, w, grads, NULL) * B;
            adam_step(&adam, m->params, grads, np, cfg->lr);
        }
        m->train_loss[e] = (float)(sum / train->n);
        m->val_loss[e] = val ? run_batches(m, val, w, NULL) : NAN;
        m->epochs_run = e + 1;
        if (cfg->verbose)
            fprintf(stderr, "w2v-dense: epoch %d/%d  train loss %.4f  val loss %.4f  (%.1fs)\n", e + 1,
                    cfg->epochs, m->train_loss[e], m->val_loss[e], util_now_s() - t0);
        if (!val) {
            m->best_epoch = e;
        } else if (isfinite(m->val_loss[e]) && m->val_loss[e] < best_val) {
            best_val = m->val_loss[e];
            m->best_epoch = e;
            have_best = 1;
            memcpy(best, m->params, np * sizeof(float));
        } else if (have_best && e - m->best_epoch >= cfg->patience) {
            break;
        }
    }
    if (have_best)
        memcpy(m->params, best, np * sizeof(float));
    else
        m->best_epoch = m->epochs_run - 1;

    free(order);
    w2v_dense_work_free(w);
    free(adam.m);
    free(adam.v);
    free(best);
    free(grads);
    return m;
}
