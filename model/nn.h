/* nn.h — the small feed-forward layers of the classifier head, llm.c style: one
 * *_forward / *_backward pair per layer, shapes in the comments, row-major tensors,
 * backward passes that ADD into weight gradients (the caller zeroes them once per
 * batch). None of these functions allocate or fail. */
#ifndef BUZZRADAR_NN_H
#define BUZZRADAR_NN_H

#include <stdint.h>

/* Fully connected layer: out (B,OC) = inp (B,C) · W (C,OC) + bias (OC). */
void nn_dense_forward(float *out, const float *inp, const float *W, const float *bias, int B, int C, int OC);
/* dW (C,OC) += inp^T · dout;  dbias (OC) += column sums of dout;
 * dinp (B,C) = dout · W^T (overwritten; skipped when dinp is NULL). */
void nn_dense_backward(float *dinp, float *dW, float *dbias, const float *dout, const float *inp,
                       const float *W, int B, int C, int OC);

/* out[i] = max(inp[i], 0) for i < n (out may equal inp). */
void nn_relu_forward(float *out, const float *inp, int n);
/* dinp[i] = out[i] > 0 ? dout[i] : 0, with out the forward's output (may alias). */
void nn_relu_backward(float *dinp, const float *dout, const float *out, int n);

/* Inverted dropout: mask[i] = 0 with probability rate, else 1/(1-rate); the forward
 * multiplies by the mask, so evaluation needs no rescaling. u are n uniform [0,1)
 * draws (the caller decides how they are seeded). rate in [0,1). */
void nn_dropout_mask(float *mask, const float *u, int n, float rate);
/* out[i] = inp[i] * mask[i]  (out may equal inp) */
void nn_dropout_forward(float *out, const float *inp, const float *mask, int n);
/* dinp[i] = dout[i] * mask[i]  (dinp may equal dout) */
void nn_dropout_backward(float *dinp, const float *dout, const float *mask, int n);

/* Sigmoid + binary cross-entropy on logits (B): writes p (B) = sigmoid(logit) and
 * returns the sum over the batch of -[y log p + (1-y) log(1-p)], computed from the
 * logit so that it is finite for any logit. y may be NULL (no labels: returns 0). */
double nn_bce_forward(float *p, const float *logit, const uint8_t *y, int B);
/* dlogit[b] = scale * (p[b] - y[b]): the gradient of scale * (sum of losses). */
void nn_bce_backward(float *dlogit, const float *p, const uint8_t *y, int B, float scale);

/* The logistic function, stable for any x (shared with the serving path). */
float nn_sigmoid(float x);

#endif
