/* ema.c — the moving average of the weights, lazy over one table (see ema.h). */
#include "model/ema.h"

#include <math.h>
#include <stdlib.h>

#include "model/util.h"

void ema_init(Ema *e, size_t n, double decay, size_t table_off, int table_rows, int table_width) {
    if (!(decay > 0.0 && decay < 1.0)) util_die("ema_init: decay %g not in (0, 1)", decay);
    if (table_rows < 0 || table_width < 0 || table_off + (size_t)table_rows * (size_t)table_width > n)
        util_die("ema_init: table of %d x %d at %zu outside %zu parameters", table_rows, table_width,
                 table_off, n);
    e->decay = decay;
    e->n = n;
    e->avg = callocCheck(n, sizeof(float));
    e->t = 0;
    e->table_off = table_off;
    e->table_rows = table_rows;
    e->table_width = table_width;
    e->row_t = callocCheck(table_rows > 0 ? (size_t)table_rows : 1, sizeof(long));
}

void ema_free(Ema *e) {
    free(e->avg);
    free(e->row_t);
    e->avg = NULL;
    e->row_t = NULL;
}

void ema_begin_step(Ema *e) { e->t++; }

void ema_update(Ema *e, const float *params, size_t off, size_t count) {
    const float d = (float)e->decay, w = 1.0f - d;
    float *a = e->avg + off;
    const float *p = params + off;
    for (size_t i = 0; i < count; i++) a[i] = d * a[i] + w * p[i];
}

/* Brings table row r's average from its step to step `to` with its current params. */
static void ema_row_advance(Ema *e, const float *params, int r, long to) {
    const long k = to - e->row_t[r];
    if (k > 0) {
        const float dk = (float)pow(e->decay, (double)k), w = 1.0f - dk;
        const size_t off = e->table_off + (size_t)r * (size_t)e->table_width;
        float *a = e->avg + off;
        const float *p = params + off;
        for (int q = 0; q < e->table_width; q++) a[q] = dk * a[q] + w * p[q];
    }
    e->row_t[r] = to;
}

void ema_rows_catch_up(Ema *e, const float *params, const int *rows, int nrows) {
    for (int k = 0; k < nrows; k++) ema_row_advance(e, params, rows[k], e->t - 1);
}

void ema_rows_update(Ema *e, const float *params, const int *rows, int nrows) {
    const size_t W = (size_t)e->table_width;
    for (int k = 0; k < nrows; k++) {
        ema_update(e, params, e->table_off + (size_t)rows[k] * W, W);
        e->row_t[rows[k]] = e->t;
    }
}

void ema_read(Ema *e, const float *params, float *out) {
    if (e->t == 0) {
        for (size_t i = 0; i < e->n; i++) out[i] = params[i];
        return;
    }
    for (int r = 0; r < e->table_rows; r++) ema_row_advance(e, params, r, e->t);
    const float unbias = (float)(1.0 / (1.0 - pow(e->decay, (double)e->t)));
    for (size_t i = 0; i < e->n; i++) out[i] = e->avg[i] * unbias;
}

void ema_reset(Ema *e, const float *params) {
    const float bias = (float)(1.0 - pow(e->decay, (double)e->t));
    for (size_t i = 0; i < e->n; i++) e->avg[i] = params[i] * bias;
    for (int r = 0; r < e->table_rows; r++) e->row_t[r] = e->t;
}
