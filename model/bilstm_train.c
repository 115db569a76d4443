/* bilstm_train.c — the BiLSTM's training loop (see bilstm_train.h). */
#include "model/bilstm_train.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "model/adam.h"
#include "model/bilstm_internal.h"
#include "model/ema.h"
#include "model/progress.h"
#include "model/util.h"

#define FIT_CHUNK_BATCHES 32 /* tweets are sorted by length within chunks of this many batches */

/* ---- batches bucketed by length ------------------------------------------------------ */

typedef struct {
    int len, idx;
} FitKey;

static int fit_key_cmp(const void *a, const void *b) {
    const FitKey *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* One epoch's batches: the k-th batch to train on is order[first[j] .. first[j] +
 * size[j]) with j = shuffle[k]. */
typedef struct {
    int nb;
    int *order;   /* (n) the tweets */
    int *first;   /* (max batches) */
    int *size;    /* (max batches) */
    int *shuffle; /* (max batches) */
    FitKey *keys; /* (chunk) scratch */
} FitBatches;

static void fit_batches_init(FitBatches *fb, int n, int batch) {
    const int maxb = n / batch + n / (batch * FIT_CHUNK_BATCHES) + 2;
    fb->nb = 0;
    fb->order = mallocCheck((size_t)n * sizeof(int));
    fb->first = mallocCheck((size_t)maxb * sizeof(int));
    fb->size = mallocCheck((size_t)maxb * sizeof(int));
    fb->shuffle = mallocCheck((size_t)maxb * sizeof(int));
    fb->keys = mallocCheck((size_t)batch * FIT_CHUNK_BATCHES * sizeof(FitKey));
}

static void fit_batches_free(FitBatches *fb) {
    free(fb->order);
    free(fb->first);
    free(fb->size);
    free(fb->shuffle);
    free(fb->keys);
}

/* Shuffles the tweets, sorts them by length within chunks of FIT_CHUNK_BATCHES
 * batches (so that a batch holds tweets of similar length and its steps stay
 * full), cuts the chunks into batches and shuffles the batches. */
static void fit_batches_make(FitBatches *fb, Rng *r, const SeqSet *s, int T, int batch) {
    const int n = s->n, chunk = batch * FIT_CHUNK_BATCHES;
    for (int i = 0; i < n; i++) fb->order[i] = i;
    rng_shuffle_int(r, fb->order, (size_t)n);
    int nb = 0;
    for (int c0 = 0; c0 < n; c0 += chunk) {
        const int cn = n - c0 < chunk ? n - c0 : chunk;
        for (int k = 0; k < cn; k++) {
            const int i = fb->order[c0 + k];
            const int64_t L = s->off[i + 1] - s->off[i];
            fb->keys[k] = (FitKey){L < T ? (int)L : T, i};
        }
        qsort(fb->keys, (size_t)cn, sizeof *fb->keys, fit_key_cmp);
        for (int k = 0; k < cn; k++) fb->order[c0 + k] = fb->keys[k].idx;
        for (int b0 = 0; b0 < cn; b0 += batch) {
            fb->first[nb] = c0 + b0;
            fb->size[nb++] = cn - b0 < batch ? cn - b0 : batch;
        }
    }
    for (int k = 0; k < nb; k++) fb->shuffle[k] = k;
    rng_shuffle_int(r, fb->shuffle, (size_t)nb);
    fb->nb = nb;
}

/* The number of batches fit_batches_make cuts n tweets into. */
static long fit_batches_count(int n, int batch) {
    const int chunk = batch * FIT_CHUNK_BATCHES;
    long nb = 0;
    for (int c0 = 0; c0 < n; c0 += chunk) {
        const int cn = n - c0 < chunk ? n - c0 : chunk;
        nb += (cn + batch - 1) / batch;
    }
    return nb;
}

/* ---- data-parallel threads -----------------------------------------------------------
 * A fixed crew, each thread with its own BilstmWork; the caller is thread 0. One
 * training step is three phases, each opened and closed by a barrier:
 *   FIT_GRAD    thread k: forward + backward of slice k of the batch;
 *   FIT_REDUCE  thread k: over its share of the dense parameters and the embedding
 *               rows it owns (id % threads == k), sums the slices' gradients in
 *               slice order, and the squared norm of the result;
 *   FIT_UPDATE  thread k: clipping, Adam and the moving average (if any) on the
 *               same share.
 * Every sum runs in an order fixed by the data, never by the scheduling. */

typedef enum { FIT_GRAD, FIT_REDUCE, FIT_UPDATE, FIT_STOP } FitPhase;

typedef struct FitCrew FitCrew;
typedef struct {
    FitCrew *crew;
    int k;
    BilstmWork *work;
    double loss;  /* FIT_GRAD: sum of the slice's losses */
    int correct;  /* FIT_GRAD: correct predictions in the slice */
    double norm2; /* FIT_REDUCE: squared norm of the share's gradient */
    int *rows;    /* embedding rows owned in this step */
    int nrows;
} FitWorker;

struct FitCrew {
    BiLSTM *m;
    const SeqSet *s;
    Adam *adam;
    Ema *ema; /* the moving average of the weights, or NULL */
    int threads, slice;
    size_t demb, ndense; /* the dense parameters: [demb, demb + ndense) */
    pthread_barrier_t go, done;
    FitPhase phase;
    /* the current step */
    const int *idx; /* the batch */
    int n;
    uint64_t key;
    const int *rows; /* embedding rows the batch uses */
    int nrows;
    float scale;  /* clipping factor */
    float lr_mul; /* the learning-rate schedule's factor at this step */
    FitWorker *w;
    pthread_t *tid;
};

static void fit_grad(FitWorker *w) {
    FitCrew *c = w->crew;
    const int lo = w->k * c->slice, hi = lo + c->slice < c->n ? lo + c->slice : c->n;
    w->loss = 0.0;
    w->correct = 0;
    if (hi <= lo) {
        memset(bilstm_work_grads(w->work), 0, c->ndense * sizeof(float));
        bilstm_work_forward(c->m, w->work, c->s, c->idx, 0, 1, c->key, NULL, NULL); /* empty: no tokens */
        return;
    }
    w->loss = bilstm_work_forward(c->m, w->work, c->s, c->idx + lo, hi - lo, 1, c->key, NULL, &w->correct);
    bilstm_work_backward(c->m, w->work, 1.0f / (float)c->n);
}

/* Thread k's share of the dense parameters. */
static void fit_share(const FitCrew *c, int k, size_t *lo, size_t *hi) {
    *lo = c->demb + c->ndense * (size_t)k / (size_t)c->threads;
    *hi = c->demb + c->ndense * (size_t)(k + 1) / (size_t)c->threads;
}

static void fit_reduce(FitWorker *w) {
    FitCrew *c = w->crew;
    float *grads = c->m->grads;
    const int E = c->m->cfg.E;
    size_t lo, hi;
    fit_share(c, w->k, &lo, &hi);
    memcpy(grads + lo, bilstm_work_grads(c->w[0].work) + (lo - c->demb), (hi - lo) * sizeof(float));
    for (int j = 1; j < c->threads; j++) {
        const float *g = bilstm_work_grads(c->w[j].work) - c->demb;
        for (size_t i = lo; i < hi; i++) grads[i] += g[i];
    }
    double norm2 = 0.0;
    for (size_t i = lo; i < hi; i++) norm2 += (double)grads[i] * grads[i];
    w->nrows = 0;
    for (int r = 0; r < c->nrows; r++) {
        if (c->rows[r] % c->threads != w->k) continue;
        w->rows[w->nrows++] = c->rows[r];
        memset(grads + (size_t)c->rows[r] * E, 0, (size_t)E * sizeof(float));
    }
    for (int j = 0; j < c->threads; j++)
        bilstm_work_embedding_backward(c->w[j].work, grads, w->k, c->threads);
    for (int r = 0; r < w->nrows; r++) {
        const float *g = grads + (size_t)w->rows[r] * E;
        for (int q = 0; q < E; q++) norm2 += (double)g[q] * g[q];
    }
    w->norm2 = norm2;
}

static void fit_update(FitWorker *w) {
    FitCrew *c = w->crew;
    float *grads = c->m->grads, *params = c->m->params;
    const int E = c->m->cfg.E;
    size_t lo, hi;
    fit_share(c, w->k, &lo, &hi);
    if (c->scale != 1.0f) {
        for (size_t i = lo; i < hi; i++) grads[i] *= c->scale;
        for (int r = 0; r < w->nrows; r++)
            for (int q = 0; q < E; q++) grads[(size_t)w->rows[r] * E + q] *= c->scale;
    }
    adam_update(c->adam, params, grads, lo, hi - lo, c->lr_mul);
    if (c->ema) ema_update(c->ema, params, lo, hi - lo);
    const float emb_mul = c->lr_mul * c->m->cfg.emb_lr_scale;
    if (emb_mul > 0.0f) { /* 0: a frozen embedding, its rows and their average stay */
        if (c->ema) ema_rows_catch_up(c->ema, params, w->rows, w->nrows);
        adam_update_rows(c->adam, params, grads, 0, E, w->rows, w->nrows, emb_mul);
        if (c->ema) ema_rows_update(c->ema, params, w->rows, w->nrows);
    }
}

static void fit_phase_run(FitWorker *w, FitPhase phase) {
    if (phase == FIT_GRAD)
        fit_grad(w);
    else if (phase == FIT_REDUCE)
        fit_reduce(w);
    else if (phase == FIT_UPDATE)
        fit_update(w);
}

static void *fit_worker_main(void *arg) {
    FitWorker *w = arg;
    for (;;) {
        pthread_barrier_wait(&w->crew->go);
        const FitPhase phase = w->crew->phase;
        if (phase == FIT_STOP) return NULL;
        fit_phase_run(w, phase);
        pthread_barrier_wait(&w->crew->done);
    }
}

/* Runs one phase on every thread of the crew and returns when all are done. */
static void fit_crew_phase(FitCrew *c, FitPhase phase) {
    c->phase = phase;
    if (c->threads > 1) pthread_barrier_wait(&c->go);
    fit_phase_run(&c->w[0], phase);
    if (c->threads > 1) pthread_barrier_wait(&c->done);
}

static void fit_crew_start(FitCrew *c, BiLSTM *m, const SeqSet *s, Adam *adam, Ema *ema, int threads,
                           int batch) {
    memset(c, 0, sizeof *c);
    c->m = m;
    c->s = s;
    c->adam = adam;
    c->ema = ema;
    c->threads = threads;
    c->slice = (batch + threads - 1) / threads;
    c->demb = m->tensors[1].offset;
    c->ndense = m->nparams - c->demb;
    c->w = callocCheck((size_t)threads, sizeof *c->w);
    c->tid = callocCheck((size_t)threads, sizeof *c->tid);
    if (pthread_barrier_init(&c->go, NULL, (unsigned)threads) ||
        pthread_barrier_init(&c->done, NULL, (unsigned)threads))
        util_die("bilstm_fit: cannot create barriers");
    for (int k = 0; k < threads; k++) {
        c->w[k] = (FitWorker){.crew = c, .k = k, .work = bilstm_work_new(m, c->slice, 1)};
        c->w[k].rows = mallocCheck((size_t)batch * m->cfg.T * sizeof(int));
    }
    for (int k = 1; k < threads; k++)
        if (pthread_create(&c->tid[k], NULL, fit_worker_main, &c->w[k]))
            util_die("bilstm_fit: cannot start thread %d", k);
}

static void fit_crew_stop(FitCrew *c) {
    c->phase = FIT_STOP;
    if (c->threads > 1) pthread_barrier_wait(&c->go);
    for (int k = 1; k < c->threads; k++) pthread_join(c->tid[k], NULL);
    for (int k = 0; k < c->threads; k++) {
        bilstm_work_free(c->w[k].work);
        free(c->w[k].rows);
    }
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

/* Everything a fit owns besides the model. */
typedef struct {
    BiLSTM *m;
    const SeqSet *train;
    BilstmConfig cfg;
    int batch, threads;
    Adam adam;
    Ema ema;          /* used when cfg.ema > 0 */
    long total_steps; /* planned: epochs x batches per epoch (the schedule's length) */
    FitBatches fb;
    FitCrew crew;
    Rng rng;
    uint8_t *mark; /* (V) rows already listed for the current batch */
    int *rows;     /* (batch*T) embedding rows of the current batch */
    long step;     /* optimiser steps taken */
} Fit;

/* One optimiser step on the tweets idx[0..n): adds their losses and correct
 * predictions to *loss and *correct. */
static void fit_step(Fit *f, const int *idx, int n, double *loss, long *correct) {
    FitCrew *c = &f->crew;
    const SeqSet *s = f->train;
    const int T = f->cfg.T;
    c->idx = idx;
    c->n = n;
    c->key = fit_mix(f->cfg.seed + 0x9E3779B97F4A7C15ULL * (uint64_t)++f->step);
    fit_crew_phase(c, FIT_GRAD);
    // the embedding rows this batch uses, each once
    int nrows = 0;
    for (int k = 0; k < n; k++) {
        const int64_t o = s->off[idx[k]], L = s->off[idx[k] + 1] - o;
        for (int64_t q = 0; q < (L < T ? L : T); q++) {
            const int id = s->ids[o + q];
            if (!f->mark[id]) f->mark[id] = 1, f->rows[nrows++] = id;
        }
    }
    c->rows = f->rows;
    c->nrows = nrows;
    fit_crew_phase(c, FIT_REDUCE);
    // global-norm clipping over everything this step updates
    double norm2 = 0.0;
    for (int k = 0; k < f->threads; k++) norm2 += c->w[k].norm2;
    const double norm = sqrt(norm2);
    c->scale = f->cfg.clip > 0.0f && norm > f->cfg.clip ? (float)(f->cfg.clip / norm) : 1.0f;
    c->lr_mul = bilstm_schedule_factor(f->cfg.lr_schedule, f->step - 1, f->total_steps);
    adam_begin_step(&f->adam);
    if (c->ema) ema_begin_step(c->ema);
    fit_crew_phase(c, FIT_UPDATE);
    for (int r = 0; r < nrows; r++) f->mark[f->rows[r]] = 0;
    for (int k = 0; k < f->threads; k++) *loss += c->w[k].loss, *correct += c->w[k].correct;
}

/* One pass over the training set; fills the training half of *e. */
static void fit_epoch(Fit *f, int ep, FILE *log, int quiet, BilstmEpoch *e) {
    const int n = f->train->n;
    const double t0 = util_now_s();
    fit_batches_make(&f->fb, &f->rng, f->train, f->cfg.T, f->batch);
    char label[32];
    snprintf(label, sizeof label, "epoch %d/%d", ep + 1, f->cfg.epochs);
    Progress prog;
    progress_start_to(&prog, log, label, n);
    prog.quiet = quiet;
    double loss = 0.0;
    long correct = 0, done = 0;
    for (int k = 0; k < f->fb.nb; k++) {
        const int j = f->fb.shuffle[k];
        fit_step(f, f->fb.order + f->fb.first[j], f->fb.size[j], &loss, &correct);
        done += f->fb.size[j];
        progress_update(&prog, done);
    }
    progress_finish(&prog);
    e->train_loss = (float)(loss / n);
    e->train_acc = (float)((double)correct / n);
    e->train_seconds = (float)(util_now_s() - t0);
}

void bilstm_fit(BiLSTM *m, const SeqSet *train, const SeqSet *val, const BilstmFitOptions *opt,
                BilstmHistory *hist) {
    char err[256];
    if (bilstm_seqset_check(m, train, 1, err, sizeof err)) util_die("bilstm_fit: training set: %s", err);
    if (bilstm_seqset_check(m, val, 1, err, sizeof err)) util_die("bilstm_fit: validation set: %s", err);
    if (train->n < 1 || val->n < 1)
        util_die("bilstm_fit: the training and validation sets must not be empty");
    FILE *log = opt && opt->log ? opt->log : stderr;
    const int quiet = opt && opt->quiet;
    free(m->proj); /* serving tables would be stale */
    m->proj = NULL;
    openblas_set_num_threads(1);

    Fit f = {.m = m, .train = train, .cfg = m->cfg};
    const int n = train->n;
    f.batch = f.cfg.batch < n ? f.cfg.batch : n;
    f.threads = f.cfg.threads < f.batch ? f.cfg.threads : f.batch;
    const size_t nparams = m->nparams;
    if (!m->grads) m->grads = mallocCheck(nparams * sizeof(float));
    adam_init(&f.adam, nparams, f.cfg.lr);
    const int use_ema = f.cfg.ema > 0.0f;
    if (use_ema) ema_init(&f.ema, nparams, f.cfg.ema, 0, f.cfg.V, f.cfg.E);
    f.total_steps = fit_batches_count(n, f.batch) * f.cfg.epochs;
    fit_batches_init(&f.fb, n, f.batch);
    fit_crew_start(&f.crew, m, train, &f.adam, use_ema ? &f.ema : NULL, f.threads, f.batch);
    rng_seed(&f.rng, fit_mix(f.cfg.seed ^ 0x5EED5EED5EEDULL));
    f.mark = callocCheck((size_t)f.cfg.V, 1);
    f.rows = mallocCheck((size_t)f.batch * f.cfg.T * sizeof(int));
    // the best weights so far (the initial ones until an epoch has a finite val loss)
    float *best = mallocCheck(nparams * sizeof(float));
    memcpy(best, m->params, nparams * sizeof(float));
    // with the moving average, the trained weights while the average is scored
    float *live = use_ema ? mallocCheck(nparams * sizeof(float)) : NULL;

    BilstmHistory local = {0};
    BilstmHistory *h = hist ? hist : &local;
    memset(h, 0, sizeof *h);
    h->best = -1;
    const double t_fit = util_now_s();
    double best_loss = INFINITY, t_train = 0.0;
    int wait = 0;
    if (!quiet)
        fprintf(log,
                "bilstm: %d tweets, %d validation, %d threads, batch %d, %zu parameters, lr %.3g (%s, "
                "embedding x%.3g), ema %.6g\n",
                n, val->n, f.threads, f.batch, nparams, f.cfg.lr, bilstm_schedule_name(f.cfg.lr_schedule),
                f.cfg.emb_lr_scale, f.cfg.ema);
    for (int ep = 0; ep < f.cfg.epochs; ep++) {
        const double t_ep = util_now_s();
        BilstmEpoch *e = &h->epoch[h->n++];
        fit_epoch(&f, ep, log, quiet, e);
        t_train += e->train_seconds;
        if (use_ema) { /* score (and keep) the average */
            memcpy(live, m->params, nparams * sizeof(float));
            ema_read(&f.ema, live, m->params);
        }
        double vl, va;
        bilstm_score(m, val, f.threads, NULL, &vl, &va);
        e->val_loss = (float)vl;
        e->val_acc = (float)va;
        e->seconds = (float)(util_now_s() - t_ep);
        const int better = vl < best_loss; /* false for NaN */
        if (better) {
            best_loss = vl;
            h->best = ep;
            memcpy(best, m->params, nparams * sizeof(float));
            wait = 0;
        }
        if (use_ema) memcpy(m->params, live, nparams * sizeof(float));
        if (!quiet)
            fprintf(
                log,
                "epoch %d/%d  train loss %.4f acc %.4f  val loss %.4f acc %.4f  %.1f s  %.0f tweets/s%s\n",
                ep + 1, f.cfg.epochs, e->train_loss, e->train_acc, e->val_loss, e->val_acc, e->seconds,
                e->train_seconds > 0 ? n / e->train_seconds : 0.0, better ? "  *" : "");
        if (!better && ++wait >= f.cfg.patience) {
            h->stopped_early = ep + 1 < f.cfg.epochs;
            break;
        }
        if (!better && f.cfg.lr_decay > 0.0f && h->best >= 0) {
            /* a plateau: resume from the best weights with a smaller step */
            memcpy(m->params, best, nparams * sizeof(float));
            if (use_ema) ema_reset(&f.ema, best);
            f.adam.lr *= f.cfg.lr_decay;
            if (!quiet)
                fprintf(log, "bilstm: back to epoch %d, learning rate %.3g\n", h->best + 1, f.adam.lr);
        }
    }
    memcpy(m->params, best, nparams * sizeof(float));
    h->seconds = util_now_s() - t_fit;
    h->tweets_per_s = t_train > 0 ? (double)n * h->n / t_train : 0.0;
    if (!quiet)
        fprintf(log, "bilstm: kept epoch %d (val loss %.4f)%s, %.1f s\n", h->best + 1, best_loss,
                h->stopped_early ? ", stopped early" : "", h->seconds);

    fit_crew_stop(&f.crew);
    fit_batches_free(&f.fb);
    adam_free(&f.adam);
    if (use_ema) ema_free(&f.ema);
    free(live);
    free(f.mark);
    free(f.rows);
    free(best);
}
