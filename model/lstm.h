/* lstm.h — one direction of an LSTM over a batch of variable-length sequences:
 * forward, backward through time (BPTT), and the single step the serving path uses.
 *
 * Padding is never computed. The sequences of a batch are sorted longest first, so
 * the sequences still running at step t are a prefix 0..n[t]-1 of the batch, and
 * all per-token tensors are stored *packed*: the row of (step t, sequence b) is
 * off[t] + b, valid for b < n[t], and N = off[T] is the number of real tokens. A
 * sequence of length L runs exactly L steps and its final state is at row
 * off[L-1] + b. (The backward direction of a BiLSTM is this same layer fed with each
 * sequence reversed, so it starts at the sequence's last real token.)
 *
 * Gates are stored in the order i, f, g, o, each H wide: a gate row is (4H). With
 * x_t the input and h, c the state:
 *     [i f g o] = x_t·W_ih + b + h_{t-1}·W_hh,  i,f,o = sigmoid, g = tanh
 *     c_t = f*c_{t-1} + i*g,  h_t = o*tanh(c_t),  h_{-1} = c_{-1} = 0.
 * Matrix products go through OpenBLAS (cblas_sgemm): one big product for the input
 * projection of a whole batch, one product per step for the recurrence. The
 * pointwise cell is vectorised; sigmoid and tanh are a rational approximation of
 * tanh accurate to ~4e-7 absolute, shared by training and serving so both compute
 * the same numbers. */
#ifndef BUZZRADAR_LSTM_H
#define BUZZRADAR_LSTM_H

/* Weights of one direction, views into a parameter (or gradient) buffer. */
typedef struct {
    int E, H;    /* input width, hidden units */
    float *W_ih; /* (E,4H) */
    float *W_hh; /* (H,4H) */
    float *b;    /* (4H) */
} LstmWeights;

/* The step schedule of a batch sorted by length, longest first. */
typedef struct {
    int B;    /* sequences in the batch */
    int T;    /* steps = length of the longest sequence (0 when all are empty) */
    int *n;   /* (T) n[t] = sequences still running at step t (non-increasing) */
    int *off; /* (T+1) off[t] = packed row of (step t, sequence 0); off[T] = N tokens */
} LstmSteps;

/* Fills s from the lengths len[0..B) (non-increasing, >= 0). s->n and s->off must
 * hold at least len[0] and len[0]+1 ints. Exits if the lengths are not sorted. */
void lstm_steps_build(LstmSteps *s, const int *len, int B);

/* Forward over the packed batch.
 * x is (N,E); writes gates (N,4H) as activations i,f,g,o (kept for the backward),
 * c (N,H) and h (N,H). Cannot fail. */
void lstm_forward(const LstmWeights *w, const LstmSteps *s, const float *x, float *gates, float *c, float *h);

/* Backward through time, after lstm_forward on the same inputs.
 * dh is (N,H): in, dLoss/dh_t from the layers above (zero where h_t is unused); it
 * is used as the accumulator of the recurrent gradient, so it is overwritten.
 * Scratch: dgates (N,4H), dc (B,H), hprev (N,H). Adds the weight gradients into g
 * (same shapes as w) and, when dx is not NULL, writes dLoss/dx (N,E) into dx. */
void lstm_backward(const LstmWeights *w, const LstmWeights *g, const LstmSteps *s, const float *x,
                   const float *gates, const float *c, const float *h, float *dh, float *dgates, float *dc,
                   float *hprev, float *dx);

/* One recurrent step for rows 0..n-1, the part of lstm_forward after the input
 * projection: gates (n,4H) holds x_t·W_ih + b on entry; adds h_prev·W_hh (h_prev
 * (n,H), or NULL at the first step) and applies the cell: gates become
 * activations, c (n,H) and h (n,H) are written. c_prev (n,H) may be NULL (zero
 * state) or equal to c, and h may equal h_prev (in-place update, as the serving
 * path does). */
void lstm_step_forward(const LstmWeights *w, int n, const float *h_prev, const float *c_prev, float *gates,
                       float *c, float *h);

/* The approximations used for the gates, exposed for tests: tanh and the logistic
 * sigmoid of x[0..n) in place. */
void lstm_tanh(float *x, int n);
void lstm_sigmoid(float *x, int n);

#endif
