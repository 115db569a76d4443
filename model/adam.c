/* adam.c — Adam with a lazy row-sparse variant (see adam.h). */
#include "model/adam.h"

#include <math.h>
#include <stdlib.h>

#include "model/util.h"

void adam_init(Adam *a, size_t n, float lr) {
    a->lr = lr;
    a->beta1 = 0.9f;
    a->beta2 = 0.999f;
    a->eps = 1e-8f;
    a->n = n;
    a->m = callocCheck(n, sizeof(float));
    a->v = callocCheck(n, sizeof(float));
    a->t = 0;
    a->bc1 = a->bc2 = 1.0f;
}

void adam_free(Adam *a) {
    free(a->m);
    free(a->v);
    a->m = a->v = NULL;
}

void adam_begin_step(Adam *a) {
    a->t++;
    a->bc1 = 1.0f - powf(a->beta1, (float)a->t);
    a->bc2 = 1.0f - powf(a->beta2, (float)a->t);
}

void adam_update(Adam *a, float *params, const float *grads, size_t off, size_t count, float scale) {
    const float b1 = a->beta1, b2 = a->beta2, lr = scale * a->lr / a->bc1, rs = 1.0f / sqrtf(a->bc2),
                eps = a->eps;
    float *p = params + off, *m = a->m + off, *v = a->v + off;
    const float *g = grads + off;
    for (size_t i = 0; i < count; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= lr * m[i] / (sqrtf(v[i]) * rs + eps);
    }
}

void adam_update_rows(Adam *a, float *params, const float *grads, size_t off, int width, const int *rows,
                      int nrows, float scale) {
    for (int k = 0; k < nrows; k++)
        adam_update(a, params, grads, off + (size_t)rows[k] * width, (size_t)width, scale);
}
