/* tfidf_lr.c — TF-IDF features of token ids (unigrams + hashed bigrams) and a
 * logistic regression trained by lazy mini-batch Adagrad (contracts in tfidf_lr.h). */
#include "model/tfidf_lr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/util.h"

enum { TFIDF_UNK_ID = 1 }; /* the vocabulary's unknown-word id (0 is padding) */
static const float ADAGRAD_EPS = 1e-8f;

TfidfLrConfig tfidf_lr_default_config(void) {
    return (TfidfLrConfig){
        .bigram_bits = 20,
        .sublinear_tf = 1,
        .c = 2.5f,
        .lr = 0.5f,
        .epochs = 8,
        .batch_size = 32,
        .seed = 42,
        .verbose = 0,
    };
}

int64_t tfidf_lr_num_features(int vocab_size, int bigram_bits) {
    return (int64_t)vocab_size + (bigram_bits > 0 ? (int64_t)1 << bigram_bits : 0);
}

uint32_t tfidf_lr_bigram_bucket(int32_t a, int32_t b, int bits) {
    uint64_t z = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (uint32_t)(z >> (64 - bits));
}

/* ---- features -------------------------------------------------------------------- */

/* In-place ascending sort of n ints without allocating: insertion sort for the short
 * rows of tweets, heapsort beyond (no quadratic worst case on long inputs). */
static void sift_down(int32_t *a, size_t root, size_t n) {
    for (;;) {
        size_t c = 2 * root + 1;
        if (c >= n) return;
        if (c + 1 < n && a[c + 1] > a[c]) c++;
        if (a[root] >= a[c]) return;
        int32_t t = a[root];
        a[root] = a[c];
        a[c] = t;
        root = c;
    }
}

static void sort_int32(int32_t *a, size_t n) {
    if (n <= 48) {
        for (size_t i = 1; i < n; i++) {
            int32_t v = a[i];
            size_t j = i;
            for (; j > 0 && a[j - 1] > v; j--) a[j] = a[j - 1];
            a[j] = v;
        }
        return;
    }
    for (size_t i = n / 2; i-- > 0;) sift_down(a, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        int32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

static inline int32_t clamp_id(int32_t id, int vocab_size) {
    return id >= 1 && id < vocab_size ? id : TFIDF_UNK_ID;
}

/* Writes the feature ids of a tweet of n tokens into buf (tfidf_lr_scratch_len(n)
 * slots), sorted ascending with repeats; returns how many. */
static int row_features(const int32_t *ids, int n, int vocab_size, int bits, int32_t *buf) {
    int len = 0;
    for (int i = 0; i < n; i++) buf[len++] = clamp_id(ids[i], vocab_size);
    if (bits > 0)
        for (int i = 0; i + 1 < n; i++)
            buf[len++] =
                vocab_size + (int32_t)tfidf_lr_bigram_bucket(buf[i], clamp_id(ids[i + 1], vocab_size), bits);
    sort_int32(buf, (size_t)len);
    return len;
}

static inline float tf_of(int count, int sublinear) {
    if (count == 1) return 1.0f; /* the common case, and 1 + ln 1 == 1 exactly */
    return sublinear ? 1.0f + logf((float)count) : (float)count;
}

/* Length of the run of equal values starting at buf[i]. */
static inline int run_length(const int32_t *buf, int len, int i) {
    int j = i + 1;
    while (j < len && buf[j] == buf[i]) j++;
    return j - i;
}

static inline float sigmoidf(float z) {
    if (z >= 0) return 1.0f / (1.0f + expf(-z));
    float e = expf(z);
    return e / (1.0f + e);
}

size_t tfidf_lr_scratch_len(int n) { return n > 0 ? 2 * (size_t)n : 1; }

float tfidf_lr_predict_one(const TfidfLr *m, const int32_t *ids, int n, int32_t *scratch) {
    int len = row_features(ids, n, m->vocab_size, m->bigram_bits, scratch);
    /* logit = bias + (w . x) / |x|, with the same float operations, in the same order,
     * as the training rows (csr_build, fit_epoch) */
    float sq = 0.0f, dot = 0.0f;
    for (int i = 0; i < len;) {
        int c = run_length(scratch, len, i);
        float x = tf_of(c, m->sublinear_tf) * m->idf[scratch[i]];
        sq += x * x;
        dot += m->weights[scratch[i]] * x;
        i += c;
    }
    float inv = sq > 0.0f ? 1.0f / sqrtf(sq) : 0.0f;
    return sigmoidf(m->bias + dot * inv);
}

void tfidf_lr_predict(const TfidfLr *m, const SeqSet *s, float *p) {
    int maxlen = 0;
    for (int i = 0; i < s->n; i++) {
        int len = (int)(s->off[i + 1] - s->off[i]);
        if (len > maxlen) maxlen = len;
    }
    int32_t *scratch = mallocCheck(tfidf_lr_scratch_len(maxlen) * sizeof *scratch);
    for (int i = 0; i < s->n; i++)
        p[i] = tfidf_lr_predict_one(m, s->ids + s->off[i], (int)(s->off[i + 1] - s->off[i]), scratch);
    free(scratch);
}

/* ---- training rows (CSR) ---------------------------------------------------------- */

typedef struct {
    int n;
    int64_t *row; /* (n+1) offsets into col/val */
    int32_t *col; /* (nnz) feature ids, ascending within a row */
    float *val;   /* (nnz) tf-idf values */
    float *inv;   /* (n) 1 / L2 norm of each row (0 for an empty row) */
} Csr;

/* Builds the rows of s and the smoothed idf of every feature (idf is (F)). */
static void csr_build(Csr *x, const SeqSet *s, const TfidfLr *m, float *idf) {
    int64_t cap = 0;
    int maxlen = 0;
    for (int i = 0; i < s->n; i++) {
        int len = (int)(s->off[i + 1] - s->off[i]);
        cap += (int64_t)tfidf_lr_scratch_len(len);
        if (len > maxlen) maxlen = len;
    }
    x->n = s->n;
    x->row = mallocCheck(((size_t)s->n + 1) * sizeof *x->row);
    x->col = mallocCheck((size_t)cap * sizeof *x->col);
    x->val = mallocCheck((size_t)cap * sizeof *x->val);
    x->inv = mallocCheck(((size_t)s->n + 1) * sizeof *x->inv);
    int32_t *buf = mallocCheck(tfidf_lr_scratch_len(maxlen) * sizeof *buf);
    int32_t *df = callocCheck((size_t)m->num_features, sizeof *df);

    /* pass 1: unique features and their tf per row, document frequencies */
    int64_t nnz = 0;
    for (int i = 0; i < s->n; i++) {
        x->row[i] = nnz;
        int len = row_features(s->ids + s->off[i], (int)(s->off[i + 1] - s->off[i]), m->vocab_size,
                               m->bigram_bits, buf);
        for (int k = 0; k < len;) {
            int c = run_length(buf, len, k);
            x->col[nnz] = buf[k];
            x->val[nnz++] = tf_of(c, m->sublinear_tf);
            df[buf[k]]++;
            k += c;
        }
    }
    x->row[s->n] = nnz;
    free(buf);
    if (nnz > 0 && nnz < cap) { /* repeated features made rows shorter than the bound */
        x->col = reallocCheck(x->col, (size_t)nnz * sizeof *x->col);
        x->val = reallocCheck(x->val, (size_t)nnz * sizeof *x->val);
    }

    /* scikit-learn's smooth_idf: ln((1 + N) / (1 + df)) + 1 */
    for (int64_t f = 0; f < m->num_features; f++) idf[f] = (float)(log((1.0 + s->n) / (1.0 + df[f])) + 1.0);
    free(df);

    /* pass 2: tf * idf and the inverse row norms (the same operations as predict_one) */
    for (int i = 0; i < s->n; i++) {
        float sq = 0.0f;
        for (int64_t k = x->row[i]; k < x->row[i + 1]; k++) {
            x->val[k] = x->val[k] * idf[x->col[k]];
            sq += x->val[k] * x->val[k];
        }
        x->inv[i] = sq > 0.0f ? 1.0f / sqrtf(sq) : 0.0f;
    }
}

static void csr_free(Csr *x) {
    free(x->row);
    free(x->col);
    free(x->val);
    free(x->inv);
}

/* ---- lazy Adagrad ------------------------------------------------------------------ *
 * The dense algorithm is Adagrad's composite mirror descent (Duchi, Hazan and Singer,
 * 2011) with the L2 term in proximal form; at step t, for every feature f:
 *     G_f += g_f^2;   w_f = (w_f - eta_f g_f) / (1 + eta_f l2),   eta_f = lr / (sqrt(G_f) + eps)
 * where g_f is the batch's mean loss gradient (0 for features absent from the batch).
 * Its fixed point is g_f + l2 w_f = 0, the minimum of the objective, and the proximal
 * form is stable for any l2 (an explicit step w -= eta l2 w diverges once eta l2 > 2).
 * For an absent feature G_f is unchanged, so k missed steps divide w_f by
 * (1 + eta_f l2)^k: we apply that only when f is next used (or at the end of an
 * epoch), and the result is the dense algorithm's up to rounding. */

typedef struct {
    float *w;      /* (F) weights */
    float *G;      /* (F) sum of squared loss gradients */
    float *g;      /* (F) gradient of the current batch (valid for touched features) */
    int64_t *last; /* (F) last step whose shrinkage w_f has received */
    int64_t *seen; /* (F) step in which f was put in the touched list */
    int32_t *touched;
    float lr, l2;
} Adagrad;

/* Applies the shrinkage of steps last[f]+1 .. t to w_f. */
static inline void adagrad_catch_up(Adagrad *a, int32_t f, int64_t t) {
    int64_t k = t - a->last[f];
    if (k > 0 && a->w[f] != 0.0f) {
        float shrink = 1.0f + a->lr / (sqrtf(a->G[f]) + ADAGRAD_EPS) * a->l2;
        a->w[f] /= k == 1 ? shrink : powf(shrink, (float)k);
    }
    a->last[f] = t;
}

static float fit_epoch(Adagrad *a, const Csr *x, const uint8_t *label, const int *order, int batch_size,
                       float *bias, float *Gb, int64_t *step) {
    double loss = 0.0;
    for (int start = 0; start < x->n; start += batch_size) {
        int bsz = x->n - start < batch_size ? x->n - start : batch_size;
        int64_t t = ++*step;
        int ntouched = 0;
        float gb = 0.0f;
        for (int r = start; r < start + bsz; r++) {
            int i = order[r];
            float dot = 0.0f;
            for (int64_t k = x->row[i]; k < x->row[i + 1]; k++) {
                int32_t f = x->col[k];
                if (a->seen[f] != t) { /* first use in this batch: bring w_f to step t-1 */
                    adagrad_catch_up(a, f, t - 1);
                    a->seen[f] = t;
                    a->g[f] = 0.0f;
                    a->touched[ntouched++] = f;
                }
                dot += a->w[f] * x->val[k];
            }
            float p = sigmoidf(*bias + dot * x->inv[i]);
            int y = label[i] != 0;
            loss -= y ? log(fmax(p, 1e-7)) : log(fmax(1.0 - p, 1e-7));
            float d = (p - (float)y) / (float)bsz; /* d loss_mean / d logit */
            float dx = d * x->inv[i];              /* d loss_mean / d (w . x) */
            for (int64_t k = x->row[i]; k < x->row[i + 1]; k++) a->g[x->col[k]] += dx * x->val[k];
            gb += d;
        }
        for (int j = 0; j < ntouched; j++) {
            int32_t f = a->touched[j];
            float g = a->g[f];
            a->G[f] += g * g;
            float eta = a->lr / (sqrtf(a->G[f]) + ADAGRAD_EPS);
            a->w[f] = (a->w[f] - eta * g) / (1.0f + eta * a->l2);
            a->last[f] = t;
        }
        *Gb += gb * gb;
        *bias -= a->lr / (sqrtf(*Gb) + ADAGRAD_EPS) * gb;
    }
    return (float)(loss / (x->n > 0 ? x->n : 1));
}

static int config_check(const TfidfLrConfig *cfg, int vocab_size, char *err, size_t errlen) {
    if (vocab_size < 2) return util_err(err, errlen, "tfidf-lr: vocabulary size %d < 2", vocab_size);
    if (cfg->bigram_bits < 0 || cfg->bigram_bits > TFIDF_LR_MAX_BIGRAM_BITS)
        return util_err(err, errlen, "tfidf-lr: bigram_bits %d outside [0, %d]", cfg->bigram_bits,
                        TFIDF_LR_MAX_BIGRAM_BITS);
    if (tfidf_lr_num_features(vocab_size, cfg->bigram_bits) > INT32_MAX)
        return util_err(err, errlen, "tfidf-lr: %d words + 2^%d buckets do not fit 31-bit feature ids",
                        vocab_size, cfg->bigram_bits);
    if (!(cfg->lr > 0.0f) || !(cfg->c > 0.0f) || cfg->epochs < 1 || cfg->batch_size < 1)
        return util_err(err, errlen, "tfidf-lr: need lr > 0, c > 0, epochs >= 1, batch_size >= 1");
    return 0;
}

static TfidfLr *tfidf_lr_alloc(int vocab_size, int bigram_bits, int sublinear_tf) {
    TfidfLr *m = callocCheck(1, sizeof *m);
    m->vocab_size = vocab_size;
    m->bigram_bits = bigram_bits;
    m->sublinear_tf = sublinear_tf != 0;
    m->num_features = tfidf_lr_num_features(vocab_size, bigram_bits);
    m->idf = mallocCheck((size_t)m->num_features * sizeof *m->idf);
    m->weights = callocCheck((size_t)m->num_features, sizeof *m->weights);
    return m;
}

TfidfLr *tfidf_lr_fit(const SeqSet *train, int vocab_size, const TfidfLrConfig *cfg, char *err,
                      size_t errlen) {
    if (config_check(cfg, vocab_size, err, errlen) != 0) return NULL;
    if (train->n < 1) {
        util_err(err, errlen, "tfidf-lr: empty training set");
        return NULL;
    }
    TfidfLr *m = tfidf_lr_alloc(vocab_size, cfg->bigram_bits, cfg->sublinear_tf);
    Csr x;
    double t0 = util_now_s();
    csr_build(&x, train, m, m->idf);
    if (cfg->verbose)
        fprintf(stderr, "tfidf-lr: %d tweets, %lld features, %lld non-zeros (%.1fs)\n", x.n,
                (long long)m->num_features, (long long)x.row[x.n], util_now_s() - t0);

    size_t F = (size_t)m->num_features;
    /* a batch touches at most batch_size * (longest row) features, and at most F */
    int64_t max_row = 1;
    for (int i = 0; i < x.n; i++)
        if (x.row[i + 1] - x.row[i] > max_row) max_row = x.row[i + 1] - x.row[i];
    size_t touched_cap = (size_t)cfg->batch_size * (size_t)max_row;
    if (touched_cap > F) touched_cap = F;
    Adagrad a = {
        .w = m->weights,
        .G = callocCheck(F, sizeof(float)),
        .g = callocCheck(F, sizeof(float)),
        .last = callocCheck(F, sizeof(int64_t)),
        .seen = callocCheck(F, sizeof(int64_t)),
        .touched = mallocCheck(touched_cap * sizeof(int32_t)),
        .lr = cfg->lr,
        .l2 = (float)(1.0 / ((double)cfg->c * x.n)),
    };
    int *order = mallocCheck((size_t)x.n * sizeof *order);
    for (int i = 0; i < x.n; i++) order[i] = i;
    m->train_loss = mallocCheck((size_t)cfg->epochs * sizeof *m->train_loss);
    Rng rng;
    rng_seed(&rng, cfg->seed);
    float Gb = 0.0f;
    int64_t step = 0;
    for (int e = 0; e < cfg->epochs; e++) {
        rng_shuffle_int(&rng, order, (size_t)x.n);
        float loss = fit_epoch(&a, &x, train->label, order, cfg->batch_size, &m->bias, &Gb, &step);
        for (size_t f = 0; f < F; f++) adagrad_catch_up(&a, (int32_t)f, step);
        m->train_loss[m->epochs_run++] = loss;
        if (cfg->verbose)
            fprintf(stderr, "tfidf-lr: epoch %d/%d  train loss %.4f  (%.1fs)\n", e + 1, cfg->epochs, loss,
                    util_now_s() - t0);
    }
    free(order);
    free(a.G);
    free(a.g);
    free(a.last);
    free(a.seen);
    free(a.touched);
    csr_free(&x);
    return m;
}

TfidfLr *tfidf_lr_from_arrays(int vocab_size, int bigram_bits, int sublinear_tf, const float *idf,
                              const float *weights, float bias, char *err, size_t errlen) {
    TfidfLrConfig cfg = tfidf_lr_default_config();
    cfg.bigram_bits = bigram_bits;
    if (config_check(&cfg, vocab_size, err, errlen) != 0) return NULL;
    if (!isfinite(bias)) {
        util_err(err, errlen, "tfidf-lr: bias is not finite");
        return NULL;
    }
    int64_t F = tfidf_lr_num_features(vocab_size, bigram_bits);
    for (int64_t f = 0; f < F; f++) {
        if (!isfinite(idf[f]) || !(idf[f] > 0.0f)) {
            util_err(err, errlen, "tfidf-lr: idf[%lld] = %g is not a finite positive number", (long long)f,
                     (double)idf[f]);
            return NULL;
        }
        if (!isfinite(weights[f])) {
            util_err(err, errlen, "tfidf-lr: weight[%lld] is not finite", (long long)f);
            return NULL;
        }
    }
    TfidfLr *m = tfidf_lr_alloc(vocab_size, bigram_bits, sublinear_tf);
    memcpy(m->idf, idf, (size_t)F * sizeof *idf);
    memcpy(m->weights, weights, (size_t)F * sizeof *weights);
    m->bias = bias;
    return m;
}

void tfidf_lr_free(TfidfLr *m) {
    if (!m) return;
    free(m->idf);
    free(m->weights);
    free(m->train_loss);
    free(m);
}
