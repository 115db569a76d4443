/* word2vec.c — skip-gram with negative sampling (see word2vec.h).
 *
 * The training step is word2vec.c's: for a centre word w and each context word c in
 * its (randomly shrunk) window, the input vector syn0[c] is pushed towards the output
 * vector syn1[w] and away from `negative` noise words drawn from unigram^0.75:
 *     g = (label - sigmoid(syn0[c] . syn1[t])) * alpha
 *     neu1e += g * syn1[t];   syn1[t] += g * syn0[c];      for t in {w, noise...}
 *     syn0[c] += neu1e
 * Noise words come from an alias table (exact, O(1), V entries that stay in cache,
 * instead of word2vec.c's 10^8-entry table). Rows are contiguous D-float vectors;
 * the dot/axpy kernels use 8-float GCC vectors, compiled twice on x86-64 (AVX2 and
 * baseline, picked at load time) with identical arithmetic, so results do not depend
 * on the CPU. Threads update the shared matrices without locks (Hogwild). */
#include "model/word2vec.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/progress.h"
#include "model/util.h"

#define W2V_EXP_TABLE  1000 /* sigmoid table resolution over [-MAX_EXP, MAX_EXP] */
#define W2V_MAX_EXP    6
#define W2V_SYNC_WORDS 10000 /* words between updates of the shared progress / learning rate */
#define W2V_POLL_S     0.1   /* seconds between looks at the progress while waiting */

/* Sanitizer builds use the baseline version only: the clones' ifunc resolvers run
 * before the sanitizer runtimes start (see lstm.c). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) &&     \
    !defined(__SANITIZE_THREAD__)
#define W2V_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define W2V_CLONES
#endif

typedef float w2v_v8 __attribute__((vector_size(32)));

/* One entry of the noise alias table: draw a bucket j uniformly, keep j when a
 * uniform 32-bit coin is below prob, else take alias. */
typedef struct {
    uint32_t prob;
    int32_t alias;
} W2VAlias;

typedef struct {
    const SeqSet *corpus;
    W2VConfig cfg;
    int V, D, threads;
    int max_len;          /* longest tweet, in tokens */
    int64_t epoch_words;  /* tokens per pass over the corpus */
    float *syn0, *syn1;   /* (V, D) input vectors (the output), (V, D) output vectors */
    float *keep;          /* (V) subsampling keep probabilities */
    W2VAlias *noise;      /* (V) noise distribution */
    float *sigmoid;       /* (W2V_EXP_TABLE + 1) sigmoid over [-MAX_EXP, MAX_EXP] */
    _Atomic int64_t done; /* tokens processed, all threads and epochs */
    pthread_mutex_t mu;   /* guards finished */
    pthread_cond_t cv;    /* signalled when a worker finishes */
    int finished;
} W2VTrainer;

typedef struct {
    W2VTrainer *tr;
    int lo, hi; /* tweets [lo, hi) */
    uint64_t rng;
} W2VWorker;

/* ---- configuration ------------------------------------------------------------ */

W2VConfig w2v_config_default(void) {
    return (W2VConfig){
        .dim = 100,
        .window = 5,
        .negative = 5,
        .sample = 1e-4f,
        .alpha = 0.025f,
        .epochs = 5,
        .threads = 0,
        .seed = 1,
        .progress = 0,
    };
}

int w2v_config_check(const W2VConfig *cfg, char *err, size_t errlen) {
    const char *why = NULL;
    if (cfg->dim < 1)
        why = "dim must be >= 1";
    else if (cfg->window < 1)
        why = "window must be >= 1";
    else if (cfg->negative < 1)
        why = "negative must be >= 1";
    else if (cfg->epochs < 1)
        why = "epochs must be >= 1";
    else if (cfg->threads < 0 || cfg->threads > 1024)
        why = "threads must be in [0, 1024]";
    else if (!isfinite(cfg->sample) || cfg->sample < 0)
        why = "sample must be a finite number >= 0";
    else if (!isfinite(cfg->alpha) || cfg->alpha <= 0)
        why = "alpha must be a finite number > 0";
    if (!why) return 0;
    if (errlen > 0) snprintf(err, errlen, "word2vec: %s", why);
    return -1;
}

/* ---- random numbers (xorshift64*, inlined in the hot loop) --------------------- */

static inline uint64_t w2v_rand(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static inline uint32_t w2v_below(uint64_t *s, uint32_t n) {
    return (uint32_t)(((w2v_rand(s) >> 32) * (uint64_t)n) >> 32);
}

static inline float w2v_uniform(uint64_t *s) { return (float)(w2v_rand(s) >> 40) * (1.0f / 16777216.0f); }

/* ---- subsampling and noise ----------------------------------------------------- */

void w2v_keep_probs(const int64_t *counts, int V, float sample, float *keep_out) {
    double total = 0;
    for (int i = 2; i < V; i++) total += (double)counts[i];
    for (int i = 0; i < V && i < 2; i++) keep_out[i] = 0.0f;
    for (int i = 2; i < V; i++) {
        double c = (double)counts[i], st = (double)sample * total, p = 1.0;
        if (sample > 0 && c > 0) p = (sqrt(c / st) + 1.0) * st / c;
        keep_out[i] = p < 1.0 ? (float)p : 1.0f;
    }
}

int w2v_subsample(const int32_t *ids, int n, const float *keep, uint64_t *rng, int32_t *out) {
    int m = 0;
    for (int i = 0; i < n; i++) {
        float p = keep[ids[i]];
        if (p >= 1.0f || (p > 0.0f && w2v_uniform(rng) < p)) out[m++] = ids[i];
    }
    return m;
}

/* Vose's alias method over weights counts[i]^0.75 (ids 0 and 1 weigh nothing).
 * Returns 0 when every weight is zero (nothing to sample). */
static int w2v_build_noise(const int64_t *counts, int V, W2VAlias *table) {
    double *p = mallocCheck((size_t)V * sizeof *p), total = 0;
    int32_t *small = mallocCheck((size_t)V * sizeof *small), *large = mallocCheck((size_t)V * sizeof *large);
    for (int i = 0; i < V; i++) {
        p[i] = i >= 2 && counts[i] > 0 ? pow((double)counts[i], 0.75) : 0.0;
        total += p[i];
    }
    int ns = 0, nl = 0;
    for (int i = 0; i < V; i++) {
        p[i] = total > 0 ? p[i] * V / total : 0.0;
        table[i].alias = i;
        if (p[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
        int32_t s = small[--ns], l = large[nl - 1];
        table[s].prob = p[s] > 0 ? (uint32_t)(p[s] * 4294967296.0) : 0; /* p[s] in [0, 1) up to rounding */
        table[s].alias = l;
        p[l] -= 1.0 - p[s];
        if (p[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    /* What is left has probability 1 up to rounding: always itself. */
    while (nl > 0) table[large[--nl]].prob = UINT32_MAX;
    while (ns > 0) table[small[--ns]].prob = UINT32_MAX;
    free(p);
    free(small);
    free(large);
    return total > 0;
}

static inline int32_t w2v_noise(const W2VAlias *table, uint32_t V, uint64_t *rng) {
    uint64_t r = w2v_rand(rng);
    uint32_t j = (uint32_t)(((r >> 32) * (uint64_t)V) >> 32);
    return (uint32_t)r < table[j].prob ? (int32_t)j : table[j].alias;
}

/* ---- the training step ---------------------------------------------------------- */

static inline float w2v_dot(const float *restrict a, const float *restrict b, int D) {
    w2v_v8 acc0 = {0}, acc1 = {0};
    int d = 0;
    for (; d + 16 <= D; d += 16) {
        w2v_v8 x0, y0, x1, y1;
        memcpy(&x0, a + d, sizeof x0);
        memcpy(&y0, b + d, sizeof y0);
        memcpy(&x1, a + d + 8, sizeof x1);
        memcpy(&y1, b + d + 8, sizeof y1);
        acc0 += x0 * y0;
        acc1 += x1 * y1;
    }
    for (; d + 8 <= D; d += 8) {
        w2v_v8 x, y;
        memcpy(&x, a + d, sizeof x);
        memcpy(&y, b + d, sizeof y);
        acc0 += x * y;
    }
    acc0 += acc1;
    float s = ((acc0[0] + acc0[4]) + (acc0[1] + acc0[5])) + ((acc0[2] + acc0[6]) + (acc0[3] + acc0[7]));
    for (; d < D; d++) s += a[d] * b[d];
    return s;
}

/* y += g * x */
static inline void w2v_axpy(float *restrict y, float g, const float *restrict x, int D) {
    w2v_v8 gv = {g, g, g, g, g, g, g, g};
    int d = 0;
    for (; d + 8 <= D; d += 8) {
        w2v_v8 xv, yv;
        memcpy(&xv, x + d, sizeof xv);
        memcpy(&yv, y + d, sizeof yv);
        yv += gv * xv;
        memcpy(y + d, &yv, sizeof yv);
    }
    for (; d < D; d++) y[d] += g * x[d];
}

/* Asks the cache for the D floats at row (a miss on a random row is the main cost). */
static inline void w2v_prefetch(const float *row, int D) {
    for (int d = 0; d < D; d += 16) __builtin_prefetch(row + d, 1, 3);
    __builtin_prefetch(row + D - 1, 1, 3);
}

/* Trains on one subsampled sentence sen[0..n). Scratch: neu1e is (D), targets is
 * (negative + 1). Random rows of syn1 are the main cost: the rows of the tweet are
 * prefetched first, and for each (centre, context) pair the noise words are drawn
 * before any is used so that their rows are fetched from memory together. */
W2V_CLONES static void w2v_sentence(const W2VTrainer *tr, const int32_t *sen, int n, float alpha,
                                    uint64_t *rng, float *restrict neu1e, int32_t *restrict targets) {
    const int D = tr->D, window = tr->cfg.window, negative = tr->cfg.negative;
    const uint32_t V = (uint32_t)tr->V;
    float *syn0 = tr->syn0, *syn1 = tr->syn1;
    const float *sigmoid = tr->sigmoid;
    const W2VAlias *noise = tr->noise;
    for (int pos = 0; pos < n; pos++) { // the rows every pair of the tweet uses
        w2v_prefetch(syn0 + (size_t)sen[pos] * D, D);
        w2v_prefetch(syn1 + (size_t)sen[pos] * D, D);
    }
    for (int pos = 0; pos < n; pos++) {
        const int32_t word = sen[pos];
        const int span = window - (int)w2v_below(rng, (uint32_t)window); /* 1..window */
        const int lo = pos - span < 0 ? 0 : pos - span, hi = pos + span >= n ? n - 1 : pos + span;
        for (int c = lo; c <= hi; c++) {
            if (c == pos) continue;
            float *restrict l1 = syn0 + (size_t)sen[c] * D;
            // targets[0] is the centre word (label 1), then the noise words (label 0)
            int nt = 1;
            targets[0] = word;
            for (int k = 0; k < negative; k++) {
                const int32_t t = w2v_noise(noise, V, rng);
                if (t == word) continue;
                targets[nt++] = t;
                w2v_prefetch(syn1 + (size_t)t * D, D);
            }
            memset(neu1e, 0, (size_t)D * sizeof *neu1e);
            for (int k = 0; k < nt; k++) {
                const float label = k == 0 ? 1.0f : 0.0f;
                float *restrict l2 = syn1 + (size_t)targets[k] * D;
                const float f = w2v_dot(l1, l2, D);
                float g;
                if (f > W2V_MAX_EXP)
                    g = (label - 1.0f) * alpha;
                else if (f < -W2V_MAX_EXP)
                    g = label * alpha;
                else
                    g = (label - sigmoid[(int)((f + W2V_MAX_EXP) * (W2V_EXP_TABLE / W2V_MAX_EXP / 2))]) *
                        alpha;
                w2v_axpy(neu1e, g, l2, D);
                w2v_axpy(l2, g, l1, D);
            }
            w2v_axpy(l1, 1.0f, neu1e, D);
        }
    }
}

static float w2v_alpha(const W2VTrainer *tr, int64_t done) {
    const float a0 = tr->cfg.alpha;
    float a = a0 * (float)(1.0 - (double)done / ((double)tr->cfg.epochs * (double)tr->epoch_words + 1.0));
    return a < a0 * 1e-4f ? a0 * 1e-4f : a;
}

static void *w2v_worker(void *arg) {
    W2VWorker *w = arg;
    W2VTrainer *tr = w->tr;
    const SeqSet *cs = tr->corpus;
    int32_t *sen = mallocCheck((size_t)(tr->max_len > 0 ? tr->max_len : 1) * sizeof *sen);
    float *neu1e = mallocCheck((size_t)tr->D * sizeof *neu1e);
    int32_t *targets = mallocCheck((size_t)(tr->cfg.negative + 1) * sizeof *targets);
    int64_t local = 0, synced = 0;
    float alpha = tr->cfg.alpha;
    for (int epoch = 0; epoch < tr->cfg.epochs; epoch++) {
        for (int i = w->lo; i < w->hi; i++) {
            const int len = (int)(cs->off[i + 1] - cs->off[i]);
            local += len;
            if (local - synced >= W2V_SYNC_WORDS) {
                int64_t done = atomic_fetch_add(&tr->done, local - synced) + (local - synced);
                synced = local;
                alpha = w2v_alpha(tr, done);
            }
            int n = w2v_subsample(cs->ids + cs->off[i], len, tr->keep, &w->rng, sen);
            if (n >= 2) w2v_sentence(tr, sen, n, alpha, &w->rng, neu1e, targets);
        }
    }
    atomic_fetch_add(&tr->done, local - synced);
    free(sen);
    free(neu1e);
    free(targets);
    pthread_mutex_lock(&tr->mu);
    tr->finished++;
    pthread_cond_signal(&tr->cv);
    pthread_mutex_unlock(&tr->mu);
    return NULL;
}

/* ---- waiting and progress -------------------------------------------------------- */

/* Hands the token count to p, with the epoch and learning rate in its suffix. */
static void w2v_progress(const W2VTrainer *tr, Progress *p, char *suffix, size_t len) {
    const int64_t done = atomic_load(&tr->done);
    int epoch = tr->epoch_words > 0 ? (int)(done / tr->epoch_words) + 1 : 1;
    if (epoch > tr->cfg.epochs) epoch = tr->cfg.epochs;
    snprintf(suffix, len, "epoch %d/%d  alpha %.5f", epoch, tr->cfg.epochs, (double)w2v_alpha(tr, done));
    progress_update(p, done);
}

/* Waits for every worker. With cfg.progress it wakes every W2V_POLL_S seconds to
 * hand the token count to a Progress on stderr, which decides when to print
 * (tokens done, tokens/s, ETA, epoch and learning rate). */
static void w2v_wait(W2VTrainer *tr) {
    Progress p;
    char suffix[64] = "";
    progress_start(&p, "word2vec", tr->epoch_words * tr->cfg.epochs);
    p.quiet = !tr->cfg.progress;
    p.suffix = suffix;
    pthread_mutex_lock(&tr->mu);
    while (tr->finished < tr->threads) {
        if (p.quiet) {
            pthread_cond_wait(&tr->cv, &tr->mu);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(W2V_POLL_S * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&tr->cv, &tr->mu, &ts);
        pthread_mutex_unlock(&tr->mu);
        w2v_progress(tr, &p, suffix, sizeof suffix);
        pthread_mutex_lock(&tr->mu);
    }
    pthread_mutex_unlock(&tr->mu);
    w2v_progress(tr, &p, suffix, sizeof suffix); /* the final count */
    snprintf(suffix, sizeof suffix, "%d thread%s", tr->threads, tr->threads > 1 ? "s" : "");
    progress_finish(&p);
}

/* ---- training ------------------------------------------------------------------ */

int w2v_train(const SeqSet *corpus, const int64_t *counts, int V, const W2VConfig *cfg, float *emb_out) {
    if (w2v_config_check(cfg, NULL, 0) != 0 || V < 2 || !counts || !corpus || corpus->n < 0) return -1;
    int max_len = 0;
    for (int i = 0; i < corpus->n; i++) {
        int64_t len = corpus->off[i + 1] - corpus->off[i];
        if (len < 0 || len > INT32_MAX) return -1;
        if (len > max_len) max_len = (int)len;
    }
    const int64_t ntok = corpus->n > 0 ? corpus->off[corpus->n] - corpus->off[0] : 0;
    for (int64_t j = 0; j < ntok; j++) {
        int32_t id = corpus->ids[corpus->off[0] + j];
        if (id < 0 || id >= V) return -1;
    }

    W2VTrainer tr = {
        .corpus = corpus, .cfg = *cfg, .V = V, .D = cfg->dim, .max_len = max_len, .epoch_words = ntok};
    const int D = cfg->dim;
    tr.threads = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (tr.threads < 1) tr.threads = 1;
    if (tr.threads > corpus->n) tr.threads = corpus->n > 0 ? corpus->n : 1;

    // syn0 is (V, D): uniform in [-0.5/D, 0.5/D) as word2vec.c, pad and unk rows zero
    Rng rng;
    rng_seed(&rng, cfg->seed);
    tr.syn0 = emb_out;
    for (size_t i = 0; i < (size_t)V * D; i++) emb_out[i] = (rng_uniform(&rng) - 0.5f) / (float)D;
    memset(emb_out, 0, 2 * (size_t)D * sizeof *emb_out);
    tr.syn1 = callocCheck((size_t)V * D, sizeof *tr.syn1); // (V, D)
    tr.keep = mallocCheck((size_t)V * sizeof *tr.keep);
    tr.noise = mallocCheck((size_t)V * sizeof *tr.noise);
    tr.sigmoid = mallocCheck((W2V_EXP_TABLE + 1) * sizeof *tr.sigmoid);
    for (int i = 0; i <= W2V_EXP_TABLE; i++) {
        double e = exp(((double)i / W2V_EXP_TABLE * 2 - 1) * W2V_MAX_EXP);
        tr.sigmoid[i] = (float)(e / (e + 1));
    }
    w2v_keep_probs(counts, V, cfg->sample, tr.keep);
    const int trainable = w2v_build_noise(counts, V, tr.noise) && ntok > 0;

    if (trainable) {
        atomic_init(&tr.done, 0);
        pthread_mutex_init(&tr.mu, NULL);
        pthread_cond_init(&tr.cv, NULL);
        W2VWorker *workers = mallocCheck((size_t)tr.threads * sizeof *workers);
        pthread_t *tids = mallocCheck((size_t)tr.threads * sizeof *tids);
        // thread t takes the tweets starting in its share [t, t+1) * ntok / threads of the tokens
        int lo = 0;
        for (int t = 0; t < tr.threads; t++) {
            int hi = lo;
            const int64_t end = corpus->off[0] + ntok * (t + 1) / tr.threads;
            while (hi < corpus->n && (t == tr.threads - 1 || corpus->off[hi] < end)) hi++;
            workers[t] = (W2VWorker){.tr = &tr, .lo = lo, .hi = hi, .rng = rng_u64(&rng) | 1};
            lo = hi;
        }
        for (int t = 0; t < tr.threads; t++) {
            int rc = pthread_create(&tids[t], NULL, w2v_worker, &workers[t]);
            if (rc != 0) util_die("word2vec: cannot start thread %d: %s", t, strerror(rc));
        }
        w2v_wait(&tr);
        for (int t = 0; t < tr.threads; t++) pthread_join(tids[t], NULL);
        pthread_cond_destroy(&tr.cv);
        pthread_mutex_destroy(&tr.mu);
        free(workers);
        free(tids);
    }
    free(tr.syn1);
    free(tr.keep);
    free(tr.noise);
    free(tr.sigmoid);
    return 0;
}

/* ---- similarity ----------------------------------------------------------------- */

float w2v_cosine(const float *a, const float *b, int D) {
    double ab = 0, aa = 0, bb = 0;
    for (int d = 0; d < D; d++) {
        ab += (double)a[d] * b[d];
        aa += (double)a[d] * a[d];
        bb += (double)b[d] * b[d];
    }
    return aa > 0 && bb > 0 ? (float)(ab / sqrt(aa * bb)) : 0.0f;
}

int w2v_most_similar(const float *emb, int V, int D, int id, int k, int32_t *ids_out, float *sims_out) {
    if (id < 0 || id >= V || k < 0) return -1;
    if (k == 0) return 0;
    float *sims = sims_out ? sims_out : mallocCheck((size_t)k * sizeof *sims);
    const float *q = emb + (size_t)id * D;
    int r = 0;
    for (int i = 2; i < V; i++) {
        if (i == id) continue;
        const float *row = emb + (size_t)i * D;
        int nonzero = 0;
        for (int d = 0; d < D && !nonzero; d++) nonzero = row[d] != 0.0f;
        if (!nonzero) continue;
        const float s = w2v_cosine(q, row, D);
        if (r == k && s <= sims[k - 1]) continue;
        // insertion into the sorted top list (on ties the lower id stays first)
        int j = r < k ? r++ : k - 1;
        for (; j > 0 && sims[j - 1] < s; j--) {
            ids_out[j] = ids_out[j - 1];
            sims[j] = sims[j - 1];
        }
        ids_out[j] = i;
        sims[j] = s;
    }
    if (!sims_out) free(sims);
    return r;
}
