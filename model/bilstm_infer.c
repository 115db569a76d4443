/* bilstm_infer.c — the BiLSTM's serving path (see bilstm_infer.h). */
#include "model/bilstm_infer.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "model/bilstm_internal.h"
#include "model/lstm.h"
#include "model/nn.h"
#include "model/util.h"

struct BilstmInfer {
    const BiLSTM *m;
    int maxB;
    int *order;            /* (maxB) sorted position -> tweet of the chunk */
    int *len;              /* (maxB) capped lengths, longest first */
    const int32_t **tok;   /* (maxB) first token of each sorted tweet */
    const int32_t **start; /* (maxB) first token of each tweet of the chunk, in input order */
    int *count;            /* (T+2) */
    int *steps_n, *steps_off;
    float *gates;      /* (maxB,4H) */
    float *h, *c, *mx; /* (maxB,H) state and running max */
    float *feat;       /* (maxB,2H) */
    float *z1;         /* (maxB,D) */
    float *logit;      /* (maxB) */
};

void bilstm_infer_prepare(BiLSTM *m) {
    const int V = m->cfg.V, E = m->cfg.E, G = 4 * m->cfg.H;
    if (!m->proj) m->proj = mallocCheck((size_t)2 * V * G * sizeof(float));
    const LstmWeights *dirs[2] = {&m->w.fwd, &m->w.bwd};
    for (int d = 0; d < 2; d++) {
        // P (V,4H) = b + embedding (V,E) · W_ih (E,4H), the same arithmetic as lstm_forward
        float *P = m->proj + (size_t)d * V * G;
        for (int v = 0; v < V; v++) memcpy(P + (size_t)v * G, dirs[d]->b, (size_t)G * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, V, G, E, 1.0f, m->w.emb, E, dirs[d]->W_ih, G,
                    1.0f, P, G);
    }
}

BilstmInfer *bilstm_infer_new(const BiLSTM *m, int max_batch) {
    if (!m->proj) util_die("bilstm_infer_new: call bilstm_infer_prepare on the model first");
    if (max_batch < 1) util_die("bilstm_infer_new: max_batch %d < 1", max_batch);
    openblas_set_num_threads(1);
    const size_t B = (size_t)max_batch, T = (size_t)m->cfg.T, H = (size_t)m->cfg.H, D = (size_t)m->cfg.dense;
    BilstmInfer *f = callocCheck(1, sizeof *f);
    f->m = m;
    f->maxB = max_batch;
    f->order = mallocCheck(B * sizeof(int));
    f->len = mallocCheck(B * sizeof(int));
    f->tok = mallocCheck(B * sizeof(*f->tok));
    f->start = mallocCheck(B * sizeof(*f->start));
    f->count = mallocCheck((T + 2) * sizeof(int));
    f->steps_n = mallocCheck(T * sizeof(int));
    f->steps_off = mallocCheck((T + 1) * sizeof(int));
    f->gates = mallocCheck(B * 4 * H * sizeof(float));
    f->h = mallocCheck(B * H * sizeof(float));
    f->c = mallocCheck(B * H * sizeof(float));
    f->mx = mallocCheck(B * H * sizeof(float));
    f->feat = mallocCheck(B * 2 * H * sizeof(float));
    f->z1 = mallocCheck(B * D * sizeof(float));
    f->logit = mallocCheck(B * sizeof(float));
    return f;
}

void bilstm_infer_free(BilstmInfer *f) {
    if (!f) return;
    void *bufs[] = {f->order, f->len, f->tok, f->start, f->count, f->steps_n, f->steps_off,
                    f->gates, f->h,   f->c,   f->mx,    f->feat,  f->z1,      f->logit};
    for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++) free(bufs[k]);
    free(f);
}

/* One direction over the sorted chunk: feat[:, d*H .. d*H+H) = its pooled state. */
static void bilstm_infer_direction(BilstmInfer *f, const LstmSteps *s, int d) {
    const BiLSTM *m = f->m;
    const int H = m->cfg.H, G = 4 * H, V = m->cfg.V, B = s->B, maxpool = m->cfg.pooling == BILSTM_POOL_MAX;
    const LstmWeights *w = d == 0 ? &m->w.fwd : &m->w.bwd;
    const float *P = m->proj + (size_t)d * V * G;
    memset(f->h, 0, (size_t)B * H * sizeof(float));
    memset(f->c, 0, (size_t)B * H * sizeof(float));
    if (maxpool) memset(f->mx, 0, (size_t)B * H * sizeof(float));
    for (int t = 0; t < s->T; t++) {
        const int nt = s->n[t];
        for (int b = 0; b < nt; b++) {
            int32_t id = f->tok[b][d == 0 ? t : f->len[b] - 1 - t];
            if (id < 0 || id >= V) id = 1;
            memcpy(f->gates + (size_t)b * G, P + (size_t)id * G, (size_t)G * sizeof(float));
        }
        // in place: rows that stopped running keep their final state
        lstm_step_forward(w, nt, t > 0 ? f->h : NULL, t > 0 ? f->c : NULL, f->gates, f->c, f->h);
        if (maxpool) {
            for (size_t i = 0; i < (size_t)nt * H; i++)
                if (t == 0 || f->h[i] > f->mx[i]) f->mx[i] = f->h[i];
        }
    }
    const float *out = maxpool ? f->mx : f->h;
    for (int b = 0; b < B; b++)
        memcpy(f->feat + (size_t)b * 2 * H + (size_t)d * H, out + (size_t)b * H, (size_t)H * sizeof(float));
}

/* A chunk of n <= maxB tweets whose token lists start at start[0..n). */
static void bilstm_infer_chunk(BilstmInfer *f, const int *lengths, int n, float *p_out) {
    const BiLSTM *m = f->m;
    const int T = m->cfg.T, H = m->cfg.H, D = m->cfg.dense;
    // counting sort, longest first (stable)
    memset(f->count, 0, (size_t)(T + 2) * sizeof(int));
    for (int i = 0; i < n; i++) f->count[T - (lengths[i] < T ? (lengths[i] > 0 ? lengths[i] : 0) : T)]++;
    for (int l = 0, acc = 0; l <= T; l++) {
        const int c = f->count[l];
        f->count[l] = acc;
        acc += c;
    }
    for (int i = 0; i < n; i++) {
        const int L = lengths[i] < T ? (lengths[i] > 0 ? lengths[i] : 0) : T;
        const int b = f->count[T - L]++;
        f->order[b] = i;
        f->len[b] = L;
        f->tok[b] = f->start[i];
    }
    LstmSteps s = {0, 0, f->steps_n, f->steps_off};
    lstm_steps_build(&s, f->len, n);
    bilstm_infer_direction(f, &s, 0);
    bilstm_infer_direction(f, &s, 1);
    // head, as bilstm_work_forward without dropout
    nn_dense_forward(f->z1, f->feat, m->w.W1, m->w.b1, n, 2 * H, D);
    nn_relu_forward(f->z1, f->z1, n * D);
    nn_dense_forward(f->logit, f->z1, m->w.W2, m->w.b2, n, D, 1);
    for (int b = 0; b < n; b++) p_out[f->order[b]] = nn_sigmoid(f->logit[b]);
}

void bilstm_infer_run(BilstmInfer *f, const int32_t *ids, const int *lengths, int n, float *p_out) {
    const int32_t *next = ids;
    for (int c0 = 0; c0 < n; c0 += f->maxB) {
        const int cn = n - c0 < f->maxB ? n - c0 : f->maxB;
        for (int i = 0; i < cn; i++) {
            f->start[i] = next;
            next += lengths[c0 + i] > 0 ? lengths[c0 + i] : 0;
        }
        bilstm_infer_chunk(f, lengths + c0, cn, p_out + c0);
    }
}
