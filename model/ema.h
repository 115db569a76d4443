/* ema.h — an exponential moving average (Polyak averaging) of a flat parameter
 * buffer, with a lazy row-sparse variant for one embedding table inside it: rows a
 * step did not change are brought up to date only when they are next changed or the
 * average is read, so a step costs the rows used, not the whole vocabulary.
 *
 * After step t (t = 1, 2, ...) with parameters p_t the average is
 *     a_t = d a_{t-1} + (1-d) p_t,   a_0 = 0,   and it is read debiased:
 *     avg_t = a_t / (1 - d^t)
 * i.e. the mean of p_1..p_t weighted by d^(t-s), with no pull towards the initial
 * weights. The lazy rows give the same numbers as updating every row every step (up
 * to float rounding): a row unchanged for k steps catches up with
 *     a = d^k a + (1 - d^k) p.
 *
 * One step is ema_begin_step, then for each part of the buffer either ema_update
 * (after the optimiser changed it) or, for table rows, ema_rows_catch_up BEFORE the
 * optimiser changes them and ema_rows_update after; parts must be disjoint, so
 * threads can share a step. Not thread-safe otherwise. */
#ifndef BUZZRADAR_EMA_H
#define BUZZRADAR_EMA_H

#include <stddef.h>

typedef struct {
    double decay; /* d, in (0,1) */
    size_t n;     /* parameters */
    float *avg;   /* (n) the biased average a_t */
    long t;       /* steps averaged */
    /* the lazy table: rows x width floats starting at table_off */
    size_t table_off;
    int table_rows, table_width;
    long *row_t; /* (table_rows) the step each row's average is current at */
} Ema;

/* An average of n parameters with decay d in (0,1), holding the table of
 * table_rows x table_width floats at table_off lazily (table_rows 0: no table).
 * Exits with a message on a bad argument or out-of-memory. */
void ema_init(Ema *e, size_t n, double decay, size_t table_off, int table_rows, int table_width);
void ema_free(Ema *e);

/* Starts step t+1. */
void ema_begin_step(Ema *e);

/* Averages params[off..off+count) (outside the table) into the current step. */
void ema_update(Ema *e, const float *params, size_t off, size_t count);

/* For each table row in rows[0..nrows): catches its average up to the previous step
 * with its current (not yet updated) parameters. Call before the optimiser step. */
void ema_rows_catch_up(Ema *e, const float *params, const int *rows, int nrows);

/* For each table row in rows[0..nrows) (caught up): averages its new parameters into
 * the current step. Call after the optimiser step. */
void ema_rows_update(Ema *e, const float *params, const int *rows, int nrows);

/* Writes the debiased average of every parameter to out (n floats; may not alias
 * params), catching every table row up first; params are the current parameters.
 * With no step taken yet, out = params. */
void ema_read(Ema *e, const float *params, float *out);

/* Restarts from given weights: the average becomes `params` (as if every step so
 * far had had these parameters); the step count is kept. */
void ema_reset(Ema *e, const float *params);

#endif
