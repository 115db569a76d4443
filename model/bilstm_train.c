/* bilstm_train.c — the BiLSTM's training loop (see bilstm_train.h). */
#include "model/bilstm_train.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/adam.h"
#include "model/bilstm_internal.h"
#include "model/util.h"

#define FIT_CHUNK_BATCHES 32 /* tweets are sorted by length within chunks of this many batches */

/* ---- progress: a live bar on a terminal, plain lines elsewhere ----------------------
 * (minimal and private; a shared progress module may replace it) */
typedef struct {
    FILE *out;
    int tty, quiet;
    long total, done;
    double start, last;
    int last_decile;
    char label[32];
} FitProgress;

static void fit_progress_begin(FitProgress *p, FILE *out, int quiet, long total, const char *label) {
    p->out = out;
    p->quiet = quiet;
    p->tty = isatty(fileno(out));
    p->total = total;
    p->done = 0;
    p->start = p->last = util_now_s();
    p->last_decile = 0;
    snprintf(p->label, sizeof p->label, "%s", label);
}

static void fit_progress_update(FitProgress *p, long done) {
    p->done = done;
    if (p->quiet) return;
    const double now = util_now_s(), el = now - p->start;
    const double rate = el > 0 ? done / el : 0, eta = rate > 0 ? (p->total - done) / rate : 0;
    if (p->tty) {
        if (now - p->last < 0.2 && done < p->total) return;
        const int width = 30, fill = (int)((double)width * done / (p->total > 0 ? p->total : 1));
        char bar[64];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(p->out, "\r%s [%s] %3d%% %ld/%ld  %.0f tweets/s  ETA %d:%02d ", p->label, bar,
                (int)(100.0 * done / (p->total > 0 ? p->total : 1)), done, p->total, rate, (int)eta / 60,
                (int)eta % 60);
        fflush(p->out);
    } else {
        const int decile = (int)(10.0 * done / (p->total > 0 ? p->total : 1));
        if (decile <= p->last_decile || decile >= 10) return;
        p->last_decile = decile;
        fprintf(p->out, "%s %d%% %ld/%ld  %.0f tweets/s  ETA %d:%02d\n", p->label, decile * 10, done,
                p->total, rate, (int)eta / 60, (int)eta % 60);
    }
    p->last = now;
}

static void fit_progress_end(FitProgress *p) {
    if (!p->quiet && p->tty) fprintf(p->out, "\r\033[K");
}

/* ---- batches bucketed by length ------------------------------------------------------ */

typedef struct {
    int len, idx;
} FitKey;

static int fit_key_cmp(const void *a, const void *b) {
    const FitKey *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Shuffles the tweets, sorts them by length within chunks, cuts the chunks into
 * batches (start offsets into order; batch k is order[start[k] .. start[k+1]) ) and
 * shuffles the batches. Returns the number of batches. */
static int fit_make_batches(Rng *r, const SeqSet *s, int T, int batch, int *order, FitKey *keys, int *start,
                            int *perm, int *bstart) {
    const int n = s->n;
    for (int i = 0; i < n; i++) order[i] = i;
    rng_shuffle_int(r, order, (size_t)n);
    const int chunk = batch * FIT_CHUNK_BATCHES;
    int nb = 0;
    for (int c0 = 0; c0 < n; c0 += chunk) {
        const int cn = n - c0 < chunk ? n - c0 : chunk;
        for (int k = 0; k < cn; k++) {
            const int i = order[c0 + k];
            const int64_t L = s->off[i + 1] - s->off[i];
            keys[k] = (FitKey){L < T ? (int)L : T, i};
        }
        qsort(keys, (size_t)cn, sizeof *keys, fit_key_cmp);
        for (int k = 0; k < cn; k++) order[c0 + k] = keys[k].idx;
        for (int b0 = 0; b0 < cn; b0 += batch) start[nb++] = c0 + b0;
    }
    start[nb] = n;
    // shuffle the batch order: bstart[k] / bstart[k]+len via perm
    for (int k = 0; k < nb; k++) perm[k] = k;
    rng_shuffle_int(r, perm, (size_t)nb);
    for (int k = 0; k < nb; k++) {
        bstart[2 * k] = start[perm[k]];
        bstart[2 * k + 1] = start[perm[k] + 1] - start[perm[k]];
    }
    return nb;
}

/* ---- data-parallel threads: a fixed crew that meets at two barriers per batch ------ */

typedef struct FitCrew FitCrew;
typedef struct {
    FitCrew *crew;
    int k; /* slice number */
    BilstmWork *work;
    double loss;
    int correct;
} FitWorker;

struct FitCrew {
    const BiLSTM *m;
    const SeqSet *s;
    int threads, slice;
    pthread_barrier_t go, done;
    int stop;
    /* the current batch */
    const int *idx;
    int n;
    uint64_t key;
    FitWorker *w;
    pthread_t *tid;
};

static void fit_slice(FitWorker *w) {
    FitCrew *c = w->crew;
    const int lo = w->k * c->slice, hi = lo + c->slice < c->n ? lo + c->slice : c->n;
    w->loss = 0.0;
    w->correct = 0;
    if (hi <= lo) {
        memset(bilstm_work_grads(w->work), 0, (c->m->nparams - c->m->tensors[1].offset) * sizeof(float));
        bilstm_work_forward(c->m, w->work, c->s, c->idx, 0, 1, c->key, NULL,
                            NULL); /* empty: resets the work */
        return;
    }
    w->loss = bilstm_work_forward(c->m, w->work, c->s, c->idx + lo, hi - lo, 1, c->key, NULL, &w->correct);
    bilstm_work_backward(c->m, w->work, 1.0f / (float)c->n);
}

static void *fit_worker_main(void *arg) {
    FitWorker *w = arg;
    for (;;) {
        pthread_barrier_wait(&w->crew->go);
        if (w->crew->stop) return NULL;
        fit_slice(w);
        pthread_barrier_wait(&w->crew->done);
    }
}

static void fit_crew_start(FitCrew *c, const BiLSTM *m, const SeqSet *s, int threads, int batch) {
    memset(c, 0, sizeof *c);
    c->m = m;
    c->s = s;
    c->threads = threads;
    c->slice = (batch + threads - 1) / threads;
    c->w = callocCheck((size_t)threads, sizeof *c->w);
    c->tid = callocCheck((size_t)threads, sizeof *c->tid);
    if (pthread_barrier_init(&c->go, NULL, (unsigned)threads) ||
        pthread_barrier_init(&c->done, NULL, (unsigned)threads))
        util_die("bilstm_fit: cannot create barriers");
    for (int k = 0; k < threads; k++) {
        c->w[k] = (FitWorker){c, k, bilstm_work_new(m, c->slice, 1), 0.0, 0};
        if (k > 0 && pthread_create(&c->tid[k], NULL, fit_worker_main, &c->w[k]))
            util_die("bilstm_fit: cannot start thread %d", k);
    }
}

/* Forward + backward of one batch over the crew (the caller runs slice 0). */
static void fit_crew_run(FitCrew *c, const int *idx, int n, uint64_t key) {
    c->idx = idx;
    c->n = n;
    c->key = key;
    if (c->threads > 1) pthread_barrier_wait(&c->go);
    fit_slice(&c->w[0]);
    if (c->threads > 1) pthread_barrier_wait(&c->done);
}

static void fit_crew_stop(FitCrew *c) {
    c->stop = 1;
    if (c->threads > 1) pthread_barrier_wait(&c->go);
    for (int k = 1; k < c->threads; k++) pthread_join(c->tid[k], NULL);
    for (int k = 0; k < c->threads; k++) bilstm_work_free(c->w[k].work);
    pthread_barrier_destroy(&c->go);
    pthread_barrier_destroy(&c->done);
    free(c->w);
    free(c->tid);
}

/* ---- the loop ----------------------------------------------------------------------- */

static uint64_t fit_mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

void bilstm_fit(BiLSTM *m, const SeqSet *train, const SeqSet *val, const BilstmFitOptions *opt,
                BilstmHistory *hist) {
    char err[256];
    if (bilstm_seqset_check(m, train, 1, err, sizeof err)) util_die("bilstm_fit: training set: %s", err);
    if (bilstm_seqset_check(m, val, 1, err, sizeof err)) util_die("bilstm_fit: validation set: %s", err);
    if (train->n < 1 || val->n < 1)
        util_die("bilstm_fit: the training and validation sets must not be empty");
    const BilstmConfig cfg = m->cfg;
    const int n = train->n, T = cfg.T, E = cfg.E;
    const int batch = cfg.batch < n ? cfg.batch : n;
    const int threads = cfg.threads < batch ? cfg.threads : batch;
    FILE *log = opt && opt->log ? opt->log : stderr;
    const int quiet = opt && opt->quiet;
    free(m->proj); /* serving tables would be stale */
    m->proj = NULL;
    openblas_set_num_threads(1);

    const size_t nparams = m->nparams, demb = m->tensors[1].offset, ndense = nparams - demb;
    if (!m->grads) m->grads = mallocCheck(nparams * sizeof(float));
    float *grads = m->grads, *best = mallocCheck(nparams * sizeof(float));
    Adam adam;
    adam_init(&adam, nparams, cfg.lr);
    int *order = mallocCheck((size_t)n * sizeof(int));
    FitKey *keys = mallocCheck((size_t)batch * FIT_CHUNK_BATCHES * sizeof(FitKey));
    const int maxb = n / batch + n / (batch * FIT_CHUNK_BATCHES) + 2;
    int *start = mallocCheck((size_t)(maxb + 1) * sizeof(int)),
        *perm = mallocCheck((size_t)maxb * sizeof(int));
    int *bstart = mallocCheck((size_t)maxb * 2 * sizeof(int));
    uint8_t *mark = callocCheck((size_t)cfg.V, 1);
    int *rows = mallocCheck((size_t)batch * T * sizeof(int));
    FitCrew crew;
    fit_crew_start(&crew, m, train, threads, batch);
    Rng rng;
    rng_seed(&rng, fit_mix(cfg.seed ^ 0x5EED5EED5EEDULL));

    BilstmHistory local;
    BilstmHistory *h = hist ? hist : &local;
    memset(h, 0, sizeof *h);
    const double t_fit = util_now_s();
    double best_loss = INFINITY, t_train = 0.0;
    long trained = 0, step = 0;
    int wait = 0;
    if (!quiet)
        fprintf(log, "bilstm: %d tweets, %d validation, %d threads, batch %d, %zu parameters\n", n, val->n,
                threads, batch, nparams);
    for (int ep = 0; ep < cfg.epochs; ep++) {
        const double t_ep = util_now_s();
        const int nb = fit_make_batches(&rng, train, T, batch, order, keys, start, perm, bstart);
        char label[32];
        snprintf(label, sizeof label, "epoch %d/%d", ep + 1, cfg.epochs);
        FitProgress prog;
        fit_progress_begin(&prog, log, quiet, n, label);
        double loss_sum = 0.0;
        long correct = 0, done = 0;
        for (int b = 0; b < nb; b++) {
            const int *idx = order + bstart[2 * b], bn = bstart[2 * b + 1];
            fit_crew_run(&crew, idx, bn, fit_mix(cfg.seed + 0x9E3779B97F4A7C15ULL * (uint64_t)++step));
            // dense gradients: the slices summed in a fixed order
            memcpy(grads + demb, bilstm_work_grads(crew.w[0].work), ndense * sizeof(float));
            for (int k = 1; k < threads; k++) {
                const float *g = bilstm_work_grads(crew.w[k].work);
                for (size_t i = 0; i < ndense; i++) grads[demb + i] += g[i];
            }
            // embedding: zero the rows this batch used, then add each slice's tokens
            int nrows = 0;
            for (int k = 0; k < bn; k++) {
                const int i = idx[k];
                const int64_t L = train->off[i + 1] - train->off[i];
                for (int64_t q = 0; q < (L < T ? L : T); q++) {
                    const int id = train->ids[train->off[i] + q];
                    if (mark[id]) continue;
                    mark[id] = 1;
                    rows[nrows++] = id;
                    memset(grads + (size_t)id * E, 0, (size_t)E * sizeof(float));
                }
            }
            for (int k = 0; k < threads; k++) bilstm_work_embedding_backward(crew.w[k].work, grads);
            // global-norm clipping over everything this step updates
            if (cfg.clip > 0.0f) {
                double norm2 = 0.0;
                for (size_t i = demb; i < nparams; i++) norm2 += (double)grads[i] * grads[i];
                for (int r = 0; r < nrows; r++) {
                    const float *g = grads + (size_t)rows[r] * E;
                    for (int j = 0; j < E; j++) norm2 += (double)g[j] * g[j];
                }
                const double norm = sqrt(norm2);
                if (norm > cfg.clip) {
                    const float sc = (float)(cfg.clip / norm);
                    for (size_t i = demb; i < nparams; i++) grads[i] *= sc;
                    for (int r = 0; r < nrows; r++)
                        for (int j = 0; j < E; j++) grads[(size_t)rows[r] * E + j] *= sc;
                }
            }
            adam_begin_step(&adam);
            adam_update(&adam, m->params, grads, demb, ndense);
            adam_update_rows(&adam, m->params, grads, 0, E, rows, nrows);
            for (int r = 0; r < nrows; r++) mark[rows[r]] = 0;
            for (int k = 0; k < threads; k++) loss_sum += crew.w[k].loss, correct += crew.w[k].correct;
            done += bn;
            fit_progress_update(&prog, done);
        }
        fit_progress_end(&prog);
        const double ep_train_s = util_now_s() - t_ep;
        t_train += ep_train_s;
        trained += n;
        double vl, va;
        bilstm_score(m, val, threads, NULL, &vl, &va);
        BilstmEpoch *e = &h->epoch[h->n++];
        e->train_loss = (float)(loss_sum / n);
        e->train_acc = (float)((double)correct / n);
        e->val_loss = (float)vl;
        e->val_acc = (float)va;
        e->seconds = (float)(util_now_s() - t_ep);
        const int better = vl < best_loss;
        if (better) {
            best_loss = vl;
            h->best = ep;
            memcpy(best, m->params, nparams * sizeof(float));
            wait = 0;
        }
        if (!quiet)
            fprintf(
                log,
                "epoch %d/%d  train loss %.4f acc %.4f  val loss %.4f acc %.4f  %.1f s  %.0f tweets/s%s\n",
                ep + 1, cfg.epochs, e->train_loss, e->train_acc, e->val_loss, e->val_acc, e->seconds,
                ep_train_s > 0 ? n / ep_train_s : 0.0, better ? "  *" : "");
        if (!better && ++wait >= cfg.patience) {
            h->stopped_early = ep + 1 < cfg.epochs;
            break;
        }
    }
    memcpy(m->params, best, nparams * sizeof(float));
    h->seconds = util_now_s() - t_fit;
    h->tweets_per_s = t_train > 0 ? trained / t_train : 0.0;
    if (!quiet)
        fprintf(log, "bilstm: kept epoch %d (val loss %.4f)%s, %.1f s\n", h->best + 1, best_loss,
                h->stopped_early ? ", stopped early" : "", h->seconds);

    fit_crew_stop(&crew);
    adam_free(&adam);
    free(best);
    free(order);
    free(keys);
    free(start);
    free(perm);
    free(bstart);
    free(mark);
    free(rows);
}
