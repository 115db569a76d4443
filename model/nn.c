/* nn.c — dense, relu, dropout and sigmoid-BCE layers (see nn.h). */
#include "model/nn.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

void nn_dense_forward(float *out, const float *inp, const float *W, const float *bias, int B, int C, int OC) {
    if (B <= 0) return;
    for (int b = 0; b < B; b++) memcpy(out + (size_t)b * OC, bias, (size_t)OC * sizeof(float));
    // out (B,OC) += inp (B,C) · W (C,OC)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, OC, C, 1.0f, inp, C, W, OC, 1.0f, out, OC);
}

void nn_dense_backward(float *dinp, float *dW, float *dbias, const float *dout, const float *inp,
                       const float *W, int B, int C, int OC) {
    if (B <= 0) return;
    // dW (C,OC) += inp^T (C,B) · dout (B,OC)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, OC, B, 1.0f, inp, C, dout, OC, 1.0f, dW, OC);
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OC; o++) dbias[o] += dout[(size_t)b * OC + o];
    // dinp (B,C) = dout (B,OC) · W^T (OC,C)
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, C, OC, 1.0f, dout, OC, W, OC, 0.0f, dinp, C);
}

void nn_relu_forward(float *out, const float *inp, int n) {
    for (int i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void nn_relu_backward(float *dinp, const float *dout, const float *out, int n) {
    for (int i = 0; i < n; i++) dinp[i] = out[i] > 0.0f ? dout[i] : 0.0f;
}

void nn_dropout_mask(float *mask, const float *u, int n, float rate) {
    const float keep = 1.0f / (1.0f - rate);
    for (int i = 0; i < n; i++) mask[i] = u[i] < rate ? 0.0f : keep;
}

void nn_dropout_forward(float *out, const float *inp, const float *mask, int n) {
    for (int i = 0; i < n; i++) out[i] = inp[i] * mask[i];
}

void nn_dropout_backward(float *dinp, const float *dout, const float *mask, int n) {
    for (int i = 0; i < n; i++) dinp[i] = dout[i] * mask[i];
}

float nn_sigmoid(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

double nn_bce_forward(float *p, const float *logit, const uint8_t *y, int B) {
    double sum = 0.0;
    for (int b = 0; b < B; b++) {
        const double z = logit[b];
        p[b] = nn_sigmoid(logit[b]);
        // -log sigmoid(z) for y=1 and -log(1-sigmoid(z)) for y=0, i.e. softplus(z) - y z
        if (y) sum += fmax(z, 0.0) - z * (y[b] ? 1.0 : 0.0) + log1p(exp(-fabs(z)));
    }
    return sum;
}

void nn_bce_backward(float *dlogit, const float *p, const uint8_t *y, int B, float scale) {
    for (int b = 0; b < B; b++) dlogit[b] = scale * (p[b] - (y[b] ? 1.0f : 0.0f));
}
