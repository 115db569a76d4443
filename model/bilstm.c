/* bilstm.c — the BiLSTM classifier: parameters, batched forward/backward, prediction
 * (see bilstm.h). */
#include "model/bilstm.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bilstm_internal.h"
#include "model/lstm.h"
#include "model/nn.h"
#include "model/util.h"

#define BILSTM_EVAL_BATCH 128 /* tweets per batch in bilstm_score */

static const char *const bilstm_tensor_names[BILSTM_NTENSORS] = {
    "embedding", "fwd.W_ih", "fwd.W_hh", "fwd.b",    "bwd.W_ih", "bwd.W_hh",
    "bwd.b",     "dense1.W", "dense1.b", "dense2.W", "dense2.b",
};

/* ---- configuration ------------------------------------------------------------- */

BilstmConfig bilstm_config_default(int V) {
    BilstmConfig c = {
        .V = V,
        .E = 100,
        .H = 128,
        .dense = 64,
        .T = 64,
        .pooling = BILSTM_POOL_LAST,
        .dropout = 0.3f,
        .lr = 2e-3f,
        .batch = 128,
        .epochs = 10,
        .patience = 2,
        .clip = 5.0f,
        .seed = 42,
        .threads = 1,
        .ema = 0.0f,
        .emb_lr_scale = 1.0f,
        .lr_schedule = BILSTM_LR_CONSTANT,
    };
    return c;
}

static const char *const bilstm_schedule_names[] = {"constant", "linear", "cosine"};

const char *bilstm_schedule_name(int schedule) {
    return schedule >= BILSTM_LR_CONSTANT && schedule <= BILSTM_LR_COSINE ? bilstm_schedule_names[schedule]
                                                                          : NULL;
}

int bilstm_schedule_parse(const char *name) {
    for (int k = BILSTM_LR_CONSTANT; k <= BILSTM_LR_COSINE; k++)
        if (!strcmp(name, bilstm_schedule_names[k])) return k;
    return -1;
}

float bilstm_schedule_factor(int schedule, long step, long total) {
    if (schedule == BILSTM_LR_CONSTANT) return 1.0f;
    if (total <= 0 || step >= total) return 0.0f;
    const double x = (double)(step < 0 ? 0 : step) / (double)total;
    return (float)(schedule == BILSTM_LR_LINEAR ? 1.0 - x : 0.5 * (1.0 + cos(M_PI * x)));
}

int bilstm_config_check(const BilstmConfig *c, char *err, size_t errlen) {
#define BILSTM_REQUIRE(cond, ...)                                                                            \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            snprintf(err, errlen, __VA_ARGS__);                                                              \
            return -1;                                                                                       \
        }                                                                                                    \
    } while (0)
    BILSTM_REQUIRE(c->V >= 2 && c->V <= 50000000, "bilstm: vocabulary size %d not in [2, 50000000]", c->V);
    BILSTM_REQUIRE(c->E >= 1 && c->E <= 4096, "bilstm: embedding width %d not in [1, 4096]", c->E);
    BILSTM_REQUIRE(c->H >= 1 && c->H <= 4096, "bilstm: hidden units %d not in [1, 4096]", c->H);
    BILSTM_REQUIRE(c->dense >= 1 && c->dense <= 4096, "bilstm: dense units %d not in [1, 4096]", c->dense);
    BILSTM_REQUIRE(c->T >= 1 && c->T <= BILSTM_MAX_T, "bilstm: sequence cap %d not in [1, %d]", c->T,
                   BILSTM_MAX_T);
    BILSTM_REQUIRE(c->pooling == BILSTM_POOL_LAST || c->pooling == BILSTM_POOL_MAX,
                   "bilstm: pooling %d is neither last (0) nor max (1)", c->pooling);
    BILSTM_REQUIRE((size_t)c->V * (size_t)c->E <= ((size_t)1 << 32), "bilstm: embedding %d x %d too large",
                   c->V, c->E);
    BILSTM_REQUIRE(c->dropout >= 0.0f && c->dropout < 1.0f, "bilstm: dropout %g not in [0, 1)", c->dropout);
    BILSTM_REQUIRE(c->lr > 0.0f && c->lr < 10.0f, "bilstm: learning rate %g not in (0, 10)", c->lr);
    BILSTM_REQUIRE(c->batch >= 1 && c->batch <= 65536, "bilstm: batch %d not in [1, 65536]", c->batch);
    BILSTM_REQUIRE(c->epochs >= 1 && c->epochs <= BILSTM_MAX_EPOCHS, "bilstm: epochs %d not in [1, %d]",
                   c->epochs, BILSTM_MAX_EPOCHS);
    BILSTM_REQUIRE(c->patience >= 1, "bilstm: patience %d must be at least 1", c->patience);
    BILSTM_REQUIRE(c->clip >= 0.0f && isfinite(c->clip), "bilstm: gradient clip %g must be >= 0", c->clip);
    BILSTM_REQUIRE(c->lr_decay >= 0.0f && c->lr_decay < 1.0f, "bilstm: lr_decay %g must be in [0,1)",
                   (double)c->lr_decay);
    BILSTM_REQUIRE(c->ema >= 0.0f && c->ema < 1.0f, "bilstm: ema decay %g must be in [0,1)", (double)c->ema);
    BILSTM_REQUIRE(c->emb_lr_scale >= 0.0f && c->emb_lr_scale <= 10.0f,
                   "bilstm: emb_lr_scale %g must be in [0,10]", (double)c->emb_lr_scale);
    BILSTM_REQUIRE(bilstm_schedule_name(c->lr_schedule) != NULL,
                   "bilstm: lr_schedule %d is not constant (0), linear (1) or cosine (2)", c->lr_schedule);
    BILSTM_REQUIRE(c->threads >= 1 && c->threads <= 256, "bilstm: threads %d not in [1, 256]", c->threads);
#undef BILSTM_REQUIRE
    return 0;
}

/* ---- the model ---------------------------------------------------------------- */

/* Points the views of a buffer laid out like the parameters, whose tensor k starts
 * at base + tensors[k].offset - skip (skip = V*E for buffers without the embedding). */
void bilstm_views(const BiLSTM *m, float *base, size_t skip, BilstmViews *v) {
    const BilstmTensor *t = m->tensors;
    const int E = m->cfg.E, H = m->cfg.H;
    v->emb = skip ? NULL : base;
    v->fwd =
        (LstmWeights){E, H, base + t[1].offset - skip, base + t[2].offset - skip, base + t[3].offset - skip};
    v->bwd =
        (LstmWeights){E, H, base + t[4].offset - skip, base + t[5].offset - skip, base + t[6].offset - skip};
    v->W1 = base + t[7].offset - skip;
    v->b1 = base + t[8].offset - skip;
    v->W2 = base + t[9].offset - skip;
    v->b2 = base + t[10].offset - skip;
}

static void bilstm_uniform(Rng *r, float *x, size_t n, float a) {
    for (size_t i = 0; i < n; i++) x[i] = (2.0f * rng_uniform(r) - 1.0f) * a;
}

BiLSTM *bilstm_new(const BilstmConfig *cfg, const float *embedding) {
    char err[256];
    if (bilstm_config_check(cfg, err, sizeof err)) util_die("%s", err);
    BiLSTM *m = callocCheck(1, sizeof *m);
    m->cfg = *cfg;
    const int V = cfg->V, E = cfg->E, H = cfg->H, D = cfg->dense;
    const int shapes[BILSTM_NTENSORS][2] = {
        {V, E},     {E, 4 * H}, {H, 4 * H}, {4 * H, 1}, {E, 4 * H}, {H, 4 * H},
        {4 * H, 1}, {2 * H, D}, {D, 1},     {D, 1},     {1, 1},
    };
    size_t off = 0;
    for (int k = 0; k < BILSTM_NTENSORS; k++) {
        BilstmTensor *t = &m->tensors[k];
        t->name = bilstm_tensor_names[k];
        t->shape[0] = shapes[k][0];
        t->shape[1] = shapes[k][1];
        t->ndim = (k == 0 || k == 1 || k == 2 || k == 4 || k == 5 || k == 7 || k == 9) ? 2 : 1;
        t->offset = off;
        t->size = (size_t)shapes[k][0] * (size_t)shapes[k][1];
        off += t->size;
    }
    m->nparams = off;
    m->params = mallocCheck(m->nparams * sizeof(float));
    bilstm_views(m, m->params, 0, &m->w);

    Rng r;
    rng_seed(&r, cfg->seed);
    if (embedding)
        memcpy(m->w.emb, embedding, (size_t)V * E * sizeof(float));
    else
        bilstm_uniform(&r, m->w.emb, (size_t)V * E, 0.05f);
    memset(m->w.emb, 0, (size_t)E * sizeof(float)); /* padding */
    const LstmWeights *dirs[2] = {&m->w.fwd, &m->w.bwd};
    for (int d = 0; d < 2; d++) {
        const float a = 1.0f / sqrtf((float)H);
        bilstm_uniform(&r, dirs[d]->W_ih, (size_t)E * 4 * H, a);
        bilstm_uniform(&r, dirs[d]->W_hh, (size_t)H * 4 * H, a);
        memset(dirs[d]->b, 0, (size_t)4 * H * sizeof(float));
        for (int j = 0; j < H; j++) dirs[d]->b[H + j] = 1.0f; /* forget gate */
    }
    bilstm_uniform(&r, m->w.W1, (size_t)2 * H * D, sqrtf(6.0f / (float)(2 * H + D)));
    memset(m->w.b1, 0, (size_t)D * sizeof(float));
    bilstm_uniform(&r, m->w.W2, (size_t)D, sqrtf(6.0f / (float)(D + 1)));
    m->w.b2[0] = 0.0f;
    return m;
}

void bilstm_free(BiLSTM *m) {
    if (!m) return;
    free(m->params);
    free(m->grads);
    free(m->proj);
    free(m);
}

const BilstmConfig *bilstm_config(const BiLSTM *m) { return &m->cfg; }

int bilstm_set_training(BiLSTM *m, const BilstmConfig *cfg, char *err, size_t errlen) {
    const BilstmConfig *a = &m->cfg;
    if (cfg->V != a->V || cfg->E != a->E || cfg->H != a->H || cfg->dense != a->dense || cfg->T != a->T ||
        cfg->pooling != a->pooling) {
        snprintf(err, errlen, "bilstm: the configuration's architecture differs from the model's");
        return -1;
    }
    if (bilstm_config_check(cfg, err, errlen)) return -1;
    m->cfg = *cfg;
    return 0;
}

float *bilstm_params(BiLSTM *m, size_t *count) {
    if (count) *count = m->nparams;
    return m->params;
}

const BilstmTensor *bilstm_tensors(const BiLSTM *m, int *count) {
    if (count) *count = BILSTM_NTENSORS;
    return m->tensors;
}

int bilstm_seqset_check(const BiLSTM *m, const SeqSet *s, int need_labels, char *err, size_t errlen) {
    if (s->n < 0 || (s->n > 0 && (!s->off || !s->ids))) {
        snprintf(err, errlen, "bilstm: malformed sequence set (n = %d)", s->n);
        return -1;
    }
    if (need_labels && s->n > 0 && !s->label) {
        snprintf(err, errlen, "bilstm: the sequence set has no labels");
        return -1;
    }
    for (int i = 0; i < s->n; i++) {
        if (s->off[i + 1] < s->off[i]) {
            snprintf(err, errlen, "bilstm: tweet %d has negative length", i);
            return -1;
        }
        for (int64_t k = s->off[i]; k < s->off[i + 1]; k++) {
            if (s->ids[k] < 0 || s->ids[k] >= m->cfg.V) {
                snprintf(err, errlen, "bilstm: tweet %d has token id %d outside the vocabulary [0, %d)", i,
                         (int)s->ids[k], m->cfg.V);
                return -1;
            }
        }
        if (need_labels && s->label[i] > 1) {
            snprintf(err, errlen, "bilstm: tweet %d has label %d (not 0 or 1)", i, (int)s->label[i]);
            return -1;
        }
    }
    return 0;
}

/* ---- one batch: activations, forward, backward ---------------------------------- */

struct BilstmWork {
    int maxB, T, E, with_backward;
    /* the batch, sorted longest first */
    int B, train;
    int *pos;            /* (B) position in the caller's idx list */
    int *len;            /* (B) length, capped at T */
    const int32_t **tok; /* (B) first token */
    uint8_t *y;          /* (B) labels */
    int *count;          /* (T+1) counting sort */
    int *steps_n, *steps_off;
    LstmSteps steps;
    int *idf, *idb; /* (N) token id of each packed row, forward and backward direction */
    /* forward activations */
    float *xf, *xb;              /* (N,E) */
    float *gates_f, *gates_b;    /* (N,4H) */
    float *cf, *cb, *hf, *hb;    /* (N,H) */
    float *feat;                 /* (B,2H) */
    int *argmax;                 /* (B,2H) packed row of each max (max pooling) */
    float *z1, *a1, *mask, *a1d; /* (B,D) pre-relu, relu, dropout mask, after dropout */
    float *logit, *p;            /* (B) */
    /* backward */
    float *dlogit, *da, *dfeat;             /* (B), (B,D), (B,2H) */
    float *dhf, *dhb, *dgates, *dc, *hprev; /* (N,H), (N,H), (N,4H), (B,H), (N,H) */
    float *dxf, *dxb;                       /* (N,E) */
    float *grads;                           /* parameters after the embedding */
    BilstmViews g;
};

BilstmWork *bilstm_work_new(const BiLSTM *m, int max_batch, int with_backward) {
    if (max_batch < 1) util_die("bilstm_work_new: max_batch %d < 1", max_batch);
    const BilstmConfig *c = &m->cfg;
    const size_t B = (size_t)max_batch, T = (size_t)c->T, N = B * T, E = (size_t)c->E, H = (size_t)c->H,
                 D = (size_t)c->dense;
    BilstmWork *w = callocCheck(1, sizeof *w);
    w->maxB = max_batch;
    w->T = c->T;
    w->E = c->E;
    w->with_backward = with_backward;
    w->pos = mallocCheck(B * sizeof(int));
    w->len = mallocCheck(B * sizeof(int));
    w->tok = mallocCheck(B * sizeof(*w->tok));
    w->y = mallocCheck(B);
    w->count = mallocCheck((T + 2) * sizeof(int));
    w->steps_n = mallocCheck(T * sizeof(int));
    w->steps_off = mallocCheck((T + 1) * sizeof(int));
    w->steps = (LstmSteps){0, 0, w->steps_n, w->steps_off};
    w->idf = mallocCheck(N * sizeof(int));
    w->idb = mallocCheck(N * sizeof(int));
    w->xf = mallocCheck(N * E * sizeof(float));
    w->xb = mallocCheck(N * E * sizeof(float));
    w->gates_f = mallocCheck(N * 4 * H * sizeof(float));
    w->gates_b = mallocCheck(N * 4 * H * sizeof(float));
    w->cf = mallocCheck(N * H * sizeof(float));
    w->cb = mallocCheck(N * H * sizeof(float));
    w->hf = mallocCheck(N * H * sizeof(float));
    w->hb = mallocCheck(N * H * sizeof(float));
    w->feat = mallocCheck(B * 2 * H * sizeof(float));
    w->argmax = mallocCheck(B * 2 * H * sizeof(int));
    w->z1 = mallocCheck(B * D * sizeof(float));
    w->a1 = mallocCheck(B * D * sizeof(float));
    w->mask = mallocCheck(B * D * sizeof(float));
    w->a1d = mallocCheck(B * D * sizeof(float));
    w->logit = mallocCheck(B * sizeof(float));
    w->p = mallocCheck(B * sizeof(float));
    if (with_backward) {
        w->dlogit = mallocCheck(B * sizeof(float));
        w->da = mallocCheck(B * D * sizeof(float));
        w->dfeat = mallocCheck(B * 2 * H * sizeof(float));
        w->dhf = mallocCheck(N * H * sizeof(float));
        w->dhb = mallocCheck(N * H * sizeof(float));
        w->dgates = mallocCheck(N * 4 * H * sizeof(float));
        w->dc = mallocCheck(B * H * sizeof(float));
        w->hprev = mallocCheck(N * H * sizeof(float));
        w->dxf = mallocCheck(N * E * sizeof(float));
        w->dxb = mallocCheck(N * E * sizeof(float));
        w->grads = mallocCheck((m->nparams - m->tensors[1].offset) * sizeof(float));
        bilstm_views(m, w->grads, m->tensors[1].offset, &w->g);
    }
    return w;
}

void bilstm_work_free(BilstmWork *w) {
    if (!w) return;
    void *bufs[] = {
        w->pos,    w->len, w->tok,     w->y,       w->count, w->steps_n, w->steps_off, w->idf,    w->idb,
        w->xf,     w->xb,  w->gates_f, w->gates_b, w->cf,    w->cb,      w->hf,        w->hb,     w->feat,
        w->argmax, w->z1,  w->a1,      w->mask,    w->a1d,   w->logit,   w->p,         w->dlogit, w->da,
        w->dfeat,  w->dhf, w->dhb,     w->dgates,  w->dc,    w->hprev,   w->dxf,       w->dxb,    w->grads};
    for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++) free(bufs[k]);
    free(w);
}

float *bilstm_work_grads(BilstmWork *w) { return w->grads; }

/* Orders the batch longest first (stable: equal lengths keep the caller's order),
 * by counting sort over the capped lengths. */
static void bilstm_work_sort(BilstmWork *w, const SeqSet *s, const int *idx, int n) {
    const int T = w->T;
    memset(w->count, 0, (size_t)(T + 2) * sizeof(int));
    for (int k = 0; k < n; k++) {
        int64_t L = s->off[idx[k] + 1] - s->off[idx[k]];
        w->count[T - (L < T ? (int)L : T)]++; /* bucket 0 = longest */
    }
    for (int b = 0, acc = 0; b <= T; b++) {
        int c = w->count[b];
        w->count[b] = acc;
        acc += c;
    }
    for (int k = 0; k < n; k++) {
        int64_t L = s->off[idx[k] + 1] - s->off[idx[k]];
        int l = L < T ? (int)L : T;
        int b = w->count[T - l]++;
        w->pos[b] = k;
        w->len[b] = l;
        w->tok[b] = s->ids + s->off[idx[k]];
        w->y[b] = s->label ? s->label[idx[k]] : 0;
    }
}

/* Pooling over time: feat (B,2H) from the packed states hf, hb (N,H). */
static void bilstm_pool_forward(const BilstmWork *w, int H, int pooling) {
    const LstmSteps *s = &w->steps;
    for (int b = 0; b < w->B; b++) {
        float *f = w->feat + (size_t)b * 2 * H;
        const int L = w->len[b];
        if (L == 0) {
            memset(f, 0, (size_t)2 * H * sizeof(float));
            continue;
        }
        if (pooling == BILSTM_POOL_LAST) {
            const size_t r = (size_t)s->off[L - 1] + b;
            memcpy(f, w->hf + r * H, (size_t)H * sizeof(float));
            memcpy(f + H, w->hb + r * H, (size_t)H * sizeof(float));
            continue;
        }
        int *am = w->argmax + (size_t)b * 2 * H;
        for (int j = 0; j < H; j++) {
            am[j] = am[H + j] = b; /* row of step 0 */
            f[j] = w->hf[(size_t)b * H + j];
            f[H + j] = w->hb[(size_t)b * H + j];
        }
        for (int t = 1; t < L; t++) {
            const int r = s->off[t] + b;
            const float *hf = w->hf + (size_t)r * H, *hb = w->hb + (size_t)r * H;
            for (int j = 0; j < H; j++) {
                if (hf[j] > f[j]) f[j] = hf[j], am[j] = r;
                if (hb[j] > f[H + j]) f[H + j] = hb[j], am[H + j] = r;
            }
        }
    }
}

/* dhf, dhb (N,H) = the gradient of the pooled features dfeat (B,2H). */
static void bilstm_pool_backward(BilstmWork *w, int H, int pooling) {
    const LstmSteps *s = &w->steps;
    const size_t N = w->steps.T > 0 ? (size_t)s->off[s->T] : 0;
    memset(w->dhf, 0, N * H * sizeof(float));
    memset(w->dhb, 0, N * H * sizeof(float));
    for (int b = 0; b < w->B; b++) {
        const float *df = w->dfeat + (size_t)b * 2 * H;
        const int L = w->len[b];
        if (L == 0) continue;
        if (pooling == BILSTM_POOL_LAST) {
            const size_t r = (size_t)s->off[L - 1] + b;
            memcpy(w->dhf + r * H, df, (size_t)H * sizeof(float));
            memcpy(w->dhb + r * H, df + H, (size_t)H * sizeof(float));
            continue;
        }
        const int *am = w->argmax + (size_t)b * 2 * H;
        for (int j = 0; j < H; j++) {
            w->dhf[(size_t)am[j] * H + j] += df[j];
            w->dhb[(size_t)am[H + j] * H + j] += df[H + j];
        }
    }
}

double bilstm_work_forward(const BiLSTM *m, BilstmWork *w, const SeqSet *s, const int *idx, int n, int train,
                           uint64_t key, float *p_out, int *correct) {
    const BilstmConfig *c = &m->cfg;
    const int E = c->E, H = c->H, D = c->dense;
    if (n > w->maxB || n < 0) util_die("bilstm_work_forward: batch of %d > capacity %d", n, w->maxB);
    w->B = n;
    w->train = train && c->dropout > 0.0f;
    bilstm_work_sort(w, s, idx, n);
    lstm_steps_build(&w->steps, w->len, n);
    const LstmSteps *st = &w->steps;

    // x (N,E): the embedding rows, packed; the backward direction reads each tweet reversed
    for (int t = 0; t < st->T; t++) {
        for (int b = 0; b < st->n[t]; b++) {
            const size_t r = (size_t)st->off[t] + b;
            const int idf = w->tok[b][t], idb = w->tok[b][w->len[b] - 1 - t];
            w->idf[r] = idf;
            w->idb[r] = idb;
            memcpy(w->xf + r * E, m->w.emb + (size_t)idf * E, (size_t)E * sizeof(float));
            memcpy(w->xb + r * E, m->w.emb + (size_t)idb * E, (size_t)E * sizeof(float));
        }
    }
    lstm_forward(&m->w.fwd, st, w->xf, w->gates_f, w->cf, w->hf);
    lstm_forward(&m->w.bwd, st, w->xb, w->gates_b, w->cb, w->hb);
    bilstm_pool_forward(w, H, c->pooling);

    // head: (B,2H) -> dense (B,D) -> relu -> dropout -> dense (B,1) -> sigmoid
    nn_dense_forward(w->z1, w->feat, m->w.W1, m->w.b1, n, 2 * H, D);
    nn_relu_forward(w->a1, w->z1, n * D);
    const float *a = w->a1;
    if (w->train) {
        for (int b = 0; b < n; b++) {
            Rng r;
            rng_seed(&r, key ^ ((uint64_t)idx[w->pos[b]] * 0x9E3779B97F4A7C15ULL));
            float *u = w->mask + (size_t)b * D;
            for (int j = 0; j < D; j++) u[j] = rng_uniform(&r);
            nn_dropout_mask(u, u, D, c->dropout);
        }
        nn_dropout_forward(w->a1d, w->a1, w->mask, n * D);
        a = w->a1d;
    }
    nn_dense_forward(w->logit, a, m->w.W2, m->w.b2, n, D, 1);
    double loss = nn_bce_forward(w->p, w->logit, s->label ? w->y : NULL, n);
    int ok = 0;
    for (int b = 0; b < n; b++) {
        if (p_out) p_out[w->pos[b]] = w->p[b];
        ok += (w->p[b] >= 0.5f) == (w->y[b] == 1);
    }
    if (correct && s->label) *correct += ok;
    return loss;
}

void bilstm_work_backward(const BiLSTM *m, BilstmWork *w, float scale) {
    const BilstmConfig *c = &m->cfg;
    const int H = c->H, D = c->dense, n = w->B;
    if (!w->with_backward) util_die("bilstm_work_backward: work allocated without backward buffers");
    memset(w->grads, 0, (m->nparams - m->tensors[1].offset) * sizeof(float));
    nn_bce_backward(w->dlogit, w->p, w->y, n, scale);
    const float *a = w->train ? w->a1d : w->a1;
    nn_dense_backward(w->da, w->g.W2, w->g.b2, w->dlogit, a, m->w.W2, n, D, 1);
    if (w->train) nn_dropout_backward(w->da, w->da, w->mask, n * D);
    nn_relu_backward(w->da, w->da, w->a1, n * D);
    nn_dense_backward(w->dfeat, w->g.W1, w->g.b1, w->da, w->feat, m->w.W1, n, 2 * H, D);
    bilstm_pool_backward(w, H, c->pooling);
    lstm_backward(&m->w.fwd, &w->g.fwd, &w->steps, w->xf, w->gates_f, w->cf, w->hf, w->dhf, w->dgates, w->dc,
                  w->hprev, w->dxf);
    lstm_backward(&m->w.bwd, &w->g.bwd, &w->steps, w->xb, w->gates_b, w->cb, w->hb, w->dhb, w->dgates, w->dc,
                  w->hprev, w->dxb);
}

void bilstm_work_embedding_backward(const BilstmWork *w, float *demb, int part, int nparts) {
    const LstmSteps *st = &w->steps;
    const int N = st->T > 0 ? st->off[st->T] : 0, E = w->E;
    const int *ids[2] = {w->idf, w->idb};
    const float *dx[2] = {w->dxf, w->dxb};
    for (int d = 0; d < 2; d++) {
        for (int r = 0; r < N; r++) {
            if (ids[d][r] % nparts != part) continue;
            float *g = demb + (size_t)ids[d][r] * E;
            const float *src = dx[d] + (size_t)r * E;
            for (int j = 0; j < E; j++) g[j] += src[j];
        }
    }
}

double bilstm_loss_grad(BiLSTM *m, const SeqSet *s, const int *idx, int n, const float **grads) {
    if (!m->grads) m->grads = mallocCheck(m->nparams * sizeof(float));
    BilstmWork *w = bilstm_work_new(m, n > 0 ? n : 1, 1);
    double loss = bilstm_work_forward(m, w, s, idx, n, 0, 0, NULL, NULL);
    bilstm_work_backward(m, w, n > 0 ? 1.0f / (float)n : 0.0f);
    const size_t demb = m->tensors[1].offset;
    memset(m->grads, 0, demb * sizeof(float));
    memcpy(m->grads + demb, w->grads, (m->nparams - demb) * sizeof(float));
    bilstm_work_embedding_backward(w, m->grads, 0, 1);
    bilstm_work_free(w);
    *grads = m->grads;
    return n > 0 ? loss / n : 0.0;
}

/* ---- prediction ------------------------------------------------------------------ */

typedef struct {
    const BiLSTM *m;
    const SeqSet *s;
    const int *order; /* tweets sorted by length */
    int nbatches;
    atomic_int next; /* next batch to take */
    float *p;        /* (n) or NULL */
    double *loss;    /* (nbatches) */
    int *correct;    /* (nbatches) */
} BilstmScoreJob;

static void *bilstm_score_worker(void *arg) {
    BilstmScoreJob *job = arg;
    BilstmWork *w = bilstm_work_new(job->m, BILSTM_EVAL_BATCH, 0);
    float pb[BILSTM_EVAL_BATCH];
    for (;;) {
        const int b = atomic_fetch_add(&job->next, 1);
        if (b >= job->nbatches) break;
        const int *idx = job->order + (size_t)b * BILSTM_EVAL_BATCH;
        const int n = b + 1 < job->nbatches ? BILSTM_EVAL_BATCH : job->s->n - b * BILSTM_EVAL_BATCH;
        job->correct[b] = 0;
        job->loss[b] = bilstm_work_forward(job->m, w, job->s, idx, n, 0, 0, pb, &job->correct[b]);
        if (job->p)
            for (int k = 0; k < n; k++) job->p[idx[k]] = pb[k];
    }
    bilstm_work_free(w);
    return NULL;
}

/* Runs fn(arg) on `threads` threads (the caller's is one of them); exits if a
 * thread cannot be started. */
static void bilstm_run_threads(void *(*fn)(void *), void *arg, int threads) {
    pthread_t tid[256];
    if (threads > 256) threads = 256;
    for (int k = 1; k < threads; k++)
        if (pthread_create(&tid[k], NULL, fn, arg)) util_die("bilstm: cannot start a thread");
    fn(arg);
    for (int k = 1; k < threads; k++) pthread_join(tid[k], NULL);
}

void bilstm_score(const BiLSTM *m, const SeqSet *s, int threads, float *p_out, double *loss,
                  double *accuracy) {
    char err[256];
    if (bilstm_seqset_check(m, s, loss || accuracy, err, sizeof err)) util_die("%s", err);
    openblas_set_num_threads(1);
    const int n = s->n, T = m->cfg.T;
    // sort by capped length so that each batch holds tweets of similar length
    int *order = mallocCheck((size_t)(n > 0 ? n : 1) * sizeof(int));
    int *start = callocCheck((size_t)T + 2, sizeof(int));
    for (int i = 0; i < n; i++) {
        int64_t L = s->off[i + 1] - s->off[i];
        start[(L < T ? L : T) + 1]++;
    }
    for (int l = 0; l <= T; l++) start[l + 1] += start[l];
    for (int i = 0; i < n; i++) {
        int64_t L = s->off[i + 1] - s->off[i];
        order[start[L < T ? L : T]++] = i;
    }
    free(start);
    BilstmScoreJob job = {.m = m, .s = s, .order = order, .p = p_out};
    job.nbatches = (n + BILSTM_EVAL_BATCH - 1) / BILSTM_EVAL_BATCH;
    atomic_init(&job.next, 0);
    job.loss = callocCheck((size_t)job.nbatches + 1, sizeof(double));
    job.correct = callocCheck((size_t)job.nbatches + 1, sizeof(int));
    if (threads < 1) threads = 1;
    if (threads > job.nbatches) threads = job.nbatches > 0 ? job.nbatches : 1;
    bilstm_run_threads(bilstm_score_worker, &job, threads);
    // sums in batch order: the same whatever thread ran which batch
    double lsum = 0.0;
    long ok = 0;
    for (int b = 0; b < job.nbatches; b++) lsum += job.loss[b], ok += job.correct[b];
    if (loss) *loss = n > 0 ? lsum / n : 0.0;
    if (accuracy) *accuracy = n > 0 ? (double)ok / n : 0.0;
    free(job.loss);
    free(job.correct);
    free(order);
}

void bilstm_predict(const BiLSTM *m, const SeqSet *s, float *p_out, int threads) {
    bilstm_score(m, s, threads, p_out, NULL, NULL);
}
