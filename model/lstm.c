/* lstm.c — one LSTM direction over a packed, length-sorted batch (see lstm.h). */
#include "model/lstm.h"

#include <cblas.h>
#include <stdint.h>
#include <string.h>

#include "model/util.h"

/* The pointwise kernels use GCC vector extensions (8 floats, one AVX register) and
 * are compiled twice, for AVX2 and for baseline x86-64, picked at load time. Every
 * lane does the same IEEE operations as the scalar code would (no FMA contraction
 * in ISO C mode), so both versions give bit-identical results. The helpers take
 * vectors by pointer: passing them by value would tie them to a vector ABI.
 * Sanitizer builds use the baseline version only: the clones' ifunc resolvers run
 * before the sanitizer runtimes start. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) &&     \
    !defined(__SANITIZE_THREAD__)
#define LSTM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LSTM_CLONES
#endif
#define LSTM_INLINE static inline __attribute__((always_inline))

/* Below this many rows a recurrent product is done row by row with sgemv: OpenBLAS's
 * sgemm repacks W_hh on every call, which dominates for a handful of rows. */
#define LSTM_GEMV_MAX_ROWS 3

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

/* *v = p[0..m) for m <= 8, the other lanes zero. */
LSTM_INLINE void v8_load(v8f *v, const float *p, int m) {
    if (m == 8) {
        memcpy(v, p, sizeof *v);
    } else {
        *v = (v8f){0};
        memcpy(v, p, (size_t)m * sizeof(float));
    }
}

/* p[0..m) = the first m lanes of *v. */
LSTM_INLINE void v8_store(float *p, const v8f *v, int m) {
    if (m == 8)
        memcpy(p, v, sizeof *v);
    else
        memcpy(p, v, (size_t)m * sizeof(float));
}

/* *x = tanh(*x), as a rational function (odd degree 13 over even degree 6) of the
 * input clamped to +-7.9053 (beyond which tanh rounds to +-1 in float); max error
 * about 4e-7. Branch-free so that it vectorises. */
LSTM_INLINE void v8_tanh(v8f *px) {
    const v8f hi = (v8f){0} + 7.90531110763549805f, lo = -hi;
    v8f x = *px;
    const v8i above = x > hi, below = x < lo;
    x = (v8f)(((v8i)x & ~above) | ((v8i)hi & above));
    x = (v8f)(((v8i)x & ~below) | ((v8i)lo & below));
    const v8f x2 = x * x;
    v8f p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
    p = x2 * p + -8.60467152213735e-11f;
    p = x2 * p + 5.12229709037114e-08f;
    p = x2 * p + 1.48572235717979e-05f;
    p = x2 * p + 6.37261928875436e-04f;
    p = x2 * p + 4.89352455891786e-03f;
    p = x * p;
    v8f q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
    q = x2 * q + 2.26843463243900e-03f;
    q = x2 * q + 4.89352518554385e-03f;
    *px = p / q;
}

/* *x = sigmoid(*x) = (1 + tanh(x/2)) / 2 */
LSTM_INLINE void v8_sigmoid(v8f *x) {
    *x = 0.5f * *x;
    v8_tanh(x);
    *x = 0.5f * *x + 0.5f;
}

LSTM_CLONES void lstm_tanh(float *x, int n) {
    for (int j = 0; j < n; j += 8) {
        const int m = n - j < 8 ? n - j : 8;
        v8f v;
        v8_load(&v, x + j, m);
        v8_tanh(&v);
        v8_store(x + j, &v, m);
    }
}

LSTM_CLONES void lstm_sigmoid(float *x, int n) {
    for (int j = 0; j < n; j += 8) {
        const int m = n - j < 8 ? n - j : 8;
        v8f v;
        v8_load(&v, x + j, m);
        v8_sigmoid(&v);
        v8_store(x + j, &v, m);
    }
}

/* The cell for rows 0..n-1: gates (n,4H) pre-activations in, activations out;
 * c_prev (n,H) or NULL; writes c and h (n,H). c_prev may alias c. */
LSTM_CLONES static void lstm_cell_forward(int n, int H, float *gates, const float *c_prev, float *c,
                                          float *h) {
    for (int r = 0; r < n; r++) {
        float *gi = gates + (size_t)r * 4 * H, *gf = gi + H, *gg = gi + 2 * H, *go = gi + 3 * H;
        const float *cp = c_prev ? c_prev + (size_t)r * H : NULL;
        float *cr = c + (size_t)r * H, *hr = h + (size_t)r * H;
        for (int j = 0; j < H; j += 8) {
            const int m = H - j < 8 ? H - j : 8;
            v8f i, f, g, o, cn, th;
            v8_load(&i, gi + j, m);
            v8_load(&f, gf + j, m);
            v8_load(&g, gg + j, m);
            v8_load(&o, go + j, m);
            v8_sigmoid(&i);
            v8_sigmoid(&f);
            v8_tanh(&g);
            v8_sigmoid(&o);
            cn = i * g; // c = f * c_prev + i * g
            if (cp) {
                v8f cpv;
                v8_load(&cpv, cp + j, m);
                cn = f * cpv + cn;
            }
            th = cn;
            v8_tanh(&th);
            th = o * th; // h = o * tanh(c)
            v8_store(gi + j, &i, m);
            v8_store(gf + j, &f, m);
            v8_store(gg + j, &g, m);
            v8_store(go + j, &o, m);
            v8_store(cr + j, &cn, m);
            v8_store(hr + j, &th, m);
        }
    }
}

/* The cell's backward for rows 0..n-1 of one step.
 * gates (n,4H) activations, c_prev (n,H) or NULL, c (n,H), dh (n,H) = dLoss/dh_t;
 * dc (n,H) in: dLoss/dc_t from step t+1, out: dLoss/dc_{t-1}; writes dgates (n,4H)
 * = dLoss/d(pre-activations). */
LSTM_CLONES static void lstm_cell_backward(int n, int H, const float *gates, const float *c_prev,
                                           const float *c, const float *dh, float *dc, float *dgates) {
    for (int r = 0; r < n; r++) {
        const float *gi = gates + (size_t)r * 4 * H, *gf = gi + H, *gg = gi + 2 * H, *go = gi + 3 * H;
        const float *cp = c_prev ? c_prev + (size_t)r * H : NULL;
        const float *cr = c + (size_t)r * H, *dhr = dh + (size_t)r * H;
        float *dcr = dc + (size_t)r * H;
        float *di = dgates + (size_t)r * 4 * H, *df = di + H, *dg = di + 2 * H, *dO = di + 3 * H;
        for (int j = 0; j < H; j += 8) {
            const int m = H - j < 8 ? H - j : 8;
            v8f i, f, g, o, dhv, tc, dcv, out;
            v8_load(&i, gi + j, m);
            v8_load(&f, gf + j, m);
            v8_load(&g, gg + j, m);
            v8_load(&o, go + j, m);
            v8_load(&dhv, dhr + j, m);
            v8_load(&tc, cr + j, m);
            v8_tanh(&tc);
            v8_load(&dcv, dcr + j, m);
            dcv = dcv + dhv * o * (1.0f - tc * tc); // dc_t: from step t+1 and through h_t
            out = dhv * tc * o * (1.0f - o);        // do, through the sigmoid
            v8_store(dO + j, &out, m);
            out = dcv * g * i * (1.0f - i); // di
            v8_store(di + j, &out, m);
            out = dcv * i * (1.0f - g * g); // dg, through the tanh
            v8_store(dg + j, &out, m);
            out = (v8f){0}; // df = dc * c_prev, zero at the first step
            if (cp) {
                v8f cpv;
                v8_load(&cpv, cp + j, m);
                out = dcv * cpv * f * (1.0f - f);
            }
            v8_store(df + j, &out, m);
            out = dcv * f; // dc_{t-1}
            v8_store(dcr + j, &out, m);
        }
    }
}

/* dst[j] += sum over rows r < n of src[r*w + j], for j < w. */
LSTM_CLONES static void lstm_add_rows(int n, int w, const float *src, float *dst) {
    for (int r = 0; r < n; r++) {
        const float *s = src + (size_t)r * w;
        for (int j = 0; j < w; j += 8) {
            const int m = w - j < 8 ? w - j : 8;
            v8f a, b;
            v8_load(&a, dst + j, m);
            v8_load(&b, s + j, m);
            a = a + b;
            v8_store(dst + j, &a, m);
        }
    }
}

void lstm_steps_build(LstmSteps *s, const int *len, int B) {
    s->B = B;
    s->T = B > 0 ? len[0] : 0;
    for (int b = 1; b < B; b++)
        if (len[b] > len[b - 1] || len[b] < 0) util_die("lstm_steps_build: lengths not sorted longest first");
    if (B > 0 && len[B - 1] < 0) util_die("lstm_steps_build: negative length");
    /* n[t] = #{b : len[b] > t}; walk b downwards as t grows */
    int b = B;
    s->off[0] = 0;
    for (int t = 0; t < s->T; t++) {
        while (b > 0 && len[b - 1] <= t) b--;
        s->n[t] = b;
        s->off[t + 1] = s->off[t] + b;
    }
}

/* gates (n,4H) += h_prev (n,H) · W_hh (H,4H) */
static void lstm_recurrent(const LstmWeights *w, int n, const float *h_prev, float *gates) {
    const int H = w->H, G = 4 * H;
    if (n <= LSTM_GEMV_MAX_ROWS) {
        for (int r = 0; r < n; r++)
            cblas_sgemv(CblasRowMajor, CblasTrans, H, G, 1.0f, w->W_hh, G, h_prev + (size_t)r * H, 1, 1.0f,
                        gates + (size_t)r * G, 1);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, G, H, 1.0f, h_prev, H, w->W_hh, G, 1.0f,
                    gates, G);
    }
}

void lstm_step_forward(const LstmWeights *w, int n, const float *h_prev, const float *c_prev, float *gates,
                       float *c, float *h) {
    if (n <= 0) return;
    if (h_prev) lstm_recurrent(w, n, h_prev, gates);
    lstm_cell_forward(n, w->H, gates, c_prev, c, h);
}

void lstm_forward(const LstmWeights *w, const LstmSteps *s, const float *x, float *gates, float *c,
                  float *h) {
    const int E = w->E, H = w->H, G = 4 * H, N = s->T > 0 ? s->off[s->T] : 0;
    if (N == 0) return;
    // gates (N,4H) = b + x (N,E) · W_ih (E,4H): the input projection of every token at once
    for (int r = 0; r < N; r++) memcpy(gates + (size_t)r * G, w->b, (size_t)G * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, G, E, 1.0f, x, E, w->W_ih, G, 1.0f, gates, G);
    for (int t = 0; t < s->T; t++) {
        size_t row = (size_t)s->off[t], prev = t > 0 ? (size_t)s->off[t - 1] : 0;
        lstm_step_forward(w, s->n[t], t > 0 ? h + prev * H : NULL, t > 0 ? c + prev * H : NULL,
                          gates + row * G, c + row * H, h + row * H);
    }
}

void lstm_backward(const LstmWeights *w, const LstmWeights *g, const LstmSteps *s, const float *x,
                   const float *gates, const float *c, const float *h, float *dh, float *dgates, float *dc,
                   float *hprev, float *dx) {
    const int E = w->E, H = w->H, G = 4 * H, T = s->T, N = T > 0 ? s->off[T] : 0;
    if (N == 0) return;
    for (int t = T - 1; t >= 0; t--) {
        const int n = s->n[t], n1 = t + 1 < T ? s->n[t + 1] : 0;
        const size_t row = (size_t)s->off[t];
        // rows n1..n-1 end at this step: nothing flows into their cell from the future
        memset(dc + (size_t)n1 * H, 0, (size_t)(n - n1) * H * sizeof(float));
        if (n1 > 0) {
            // dh_t (n1,H) += dgates_{t+1} (n1,4H) · W_hh^T (4H,H)
            const float *dgn = dgates + (size_t)s->off[t + 1] * G;
            if (n1 <= LSTM_GEMV_MAX_ROWS) {
                for (int r = 0; r < n1; r++)
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, H, G, 1.0f, w->W_hh, G, dgn + (size_t)r * G, 1,
                                1.0f, dh + (row + r) * H, 1);
            } else {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n1, H, G, 1.0f, dgn, G, w->W_hh, G, 1.0f,
                            dh + row * H, H);
            }
        }
        const float *c_prev = t > 0 ? c + (size_t)s->off[t - 1] * H : NULL;
        lstm_cell_backward(n, H, gates + row * G, c_prev, c + row * H, dh + row * H, dc, dgates + row * G);
    }
    // dW_ih (E,4H) += x^T (E,N) · dgates (N,4H);  db += column sums of dgates
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, E, G, N, 1.0f, x, E, dgates, G, 1.0f, g->W_ih, G);
    lstm_add_rows(N, G, dgates, g->b);
    // dW_hh (H,4H) += hprev^T · dgates over the steps t >= 1, where hprev holds h_{t-1}
    // in the packed layout of step t (rows off[1]..N)
    const int N1 = N - s->off[1];
    if (N1 > 0) {
        for (int t = 1; t < T; t++)
            memcpy(hprev + (size_t)(s->off[t] - s->off[1]) * H, h + (size_t)s->off[t - 1] * H,
                   (size_t)s->n[t] * H * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, G, N1, 1.0f, hprev, H,
                    dgates + (size_t)s->off[1] * G, G, 1.0f, g->W_hh, G);
    }
    // dx (N,E) = dgates (N,4H) · W_ih^T (4H,E)
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, E, G, 1.0f, dgates, G, w->W_ih, G, 0.0f, dx,
                    E);
}
