/* adam.h — the Adam optimiser (Kingma & Ba) over a flat parameter buffer, with a
 * lazy row-sparse update for embedding tables: rows a batch did not use keep their
 * parameters and moments untouched (as TensorFlow's LazyAdam), so an update costs
 * the rows used, not the whole vocabulary.
 *
 * The moment buffers m, v are parallel to the parameters. One step is
 * adam_begin_step, then any number of adam_update / adam_update_rows on disjoint
 * parts of the buffer with the same bias corrections, each with its own multiple
 * `scale` of the learning rate (a schedule, or a smaller step for the embedding):
 *     m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *     p -= scale * lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) */
#ifndef BUZZRADAR_ADAM_H
#define BUZZRADAR_ADAM_H

#include <stddef.h>

typedef struct {
    float lr, beta1, beta2, eps;
    size_t n;  /* parameters */
    float *m;  /* (n) first moments */
    float *v;  /* (n) second moments */
    long t;    /* steps taken */
    float bc1; /* 1 - beta1^t for the current step */
    float bc2; /* 1 - beta2^t */
} Adam;

/* Moments for n parameters, zeroed; beta1 0.9, beta2 0.999, eps 1e-8. Exits on OOM. */
void adam_init(Adam *a, size_t n, float lr);
void adam_free(Adam *a);

/* Starts step t+1 (computes its bias corrections). */
void adam_begin_step(Adam *a);

/* Updates params[off..off+count) from grads[off..off+count) (both parallel to m, v)
 * with the learning rate scale * a->lr. */
void adam_update(Adam *a, float *params, const float *grads, size_t off, size_t count, float scale);

/* Updates the rows rows[0..nrows) of a (rows x width) table that starts at `off`, with
 * the learning rate scale * a->lr. */
void adam_update_rows(Adam *a, float *params, const float *grads, size_t off, int width, const int *rows,
                      int nrows, float scale);

#endif
