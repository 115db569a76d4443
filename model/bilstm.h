/* bilstm.h — the BiLSTM sentiment classifier: its configuration, its parameters (one
 * float buffer with named views), the batched forward/backward the training loop
 * builds on, and batched prediction for evaluation.
 *
 * The network, for a tweet of L token ids (L capped at T; ids are vocabulary ids,
 * 0 = padding, 1 = unknown):
 *     x_t = embedding[id_t]                                   x is (L,E)
 *     forward LSTM over x_0..x_{L-1}, backward LSTM over x_{L-1}..x_0   (H each)
 *     feat = [h_fwd final ; h_bwd final]   (pooling "last")   feat is (2H)
 *          or the max over time of each direction's h        (pooling "max")
 *     a = dropout(relu(feat · W1 + b1))                       a is (dense)
 *     p = sigmoid(a · W2 + b2)                                P(positive)
 *     loss = binary cross-entropy, averaged over the batch
 * An empty tweet (L = 0) has zero final states, so feat = 0.
 *
 * Parameters live in ONE float buffer, in this order (the tensor table gives names,
 * shapes and offsets; a saved model is this buffer plus the configuration):
 *     embedding (V,E) · fwd.W_ih (E,4H) · fwd.W_hh (H,4H) · fwd.b (4H) ·
 *     bwd.W_ih (E,4H) · bwd.W_hh (H,4H) · bwd.b (4H) · dense1.W (2H,D) · dense1.b (D) ·
 *     dense2.W (D,1) · dense2.b (1)
 * LSTM gates are ordered i, f, g, o (see lstm.h). Gradients use the same layout.
 *
 * Threads: bilstm_fit, bilstm_score/bilstm_predict and the serving path set OpenBLAS
 * to one thread (process-wide) and parallelise over the batch themselves. */
#ifndef BUZZRADAR_BILSTM_H
#define BUZZRADAR_BILSTM_H

#include <stddef.h>
#include <stdint.h>

#include "model/seqset.h"

#define BILSTM_NTENSORS   11
#define BILSTM_MAX_T      1024 /* largest accepted sequence cap */
#define BILSTM_MAX_EPOCHS 256

typedef enum { BILSTM_POOL_LAST = 0, BILSTM_POOL_MAX = 1 } BilstmPooling;

/* The learning rate over the planned steps (epochs x batches per epoch): constant, or
 * decaying from lr to 0 linearly or along a half cosine, step by step. */
typedef enum { BILSTM_LR_CONSTANT = 0, BILSTM_LR_LINEAR = 1, BILSTM_LR_COSINE = 2 } BilstmSchedule;

/* Hyper-parameters. Architecture: V, E, H, dense, T, pooling (a model file must keep
 * them); training: the rest. */
typedef struct {
    int V;              /* vocabulary size: ids are 0..V-1 */
    int E;              /* embedding width (100) */
    int H;              /* LSTM units per direction (128) */
    int dense;          /* units of the relu layer (64) */
    int T;              /* tokens kept per tweet, the rest is cut (64) */
    int pooling;        /* BilstmPooling (last) */
    float dropout;      /* dropout rate after the relu layer, in [0,1) (0.3) */
    float lr;           /* Adam learning rate (2e-3) */
    int batch;          /* tweets per mini-batch (128) */
    int epochs;         /* maximum epochs (10) */
    int patience;       /* stop after this many epochs without a better validation loss (2) */
    float clip;         /* global gradient-norm clip; 0 = off (5) */
    uint64_t seed;      /* initialisation, shuffling and dropout (42) */
    int threads;        /* training threads (1) */
    float lr_decay;     /* in [0,1): after an epoch without a better validation loss, go back
                           to the best weights and multiply the learning rate by this
                           before the next epoch; 0 = off (0) */
    float ema;          /* in [0,1): decay of an exponential moving average of the weights
                           updated after every step (ema.h); validation, early stopping and
                           the weights kept use the average; 0 = off (0) */
    float emb_lr_scale; /* the embedding's learning rate is lr times this, in [0, 10]; 0
                           freezes the embedding (1) */
    int lr_schedule;    /* BilstmSchedule (constant) */
} BilstmConfig;

/* "constant", "linear", "cosine" for a BilstmSchedule; NULL for another value. */
const char *bilstm_schedule_name(int schedule);
/* The BilstmSchedule named `name`; -1 when the name is none of the above. */
int bilstm_schedule_parse(const char *name);
/* The learning-rate multiplier of a schedule at step `step` (0-based) of `total`
 * planned steps: 1 for constant, 1 - step/total for linear, (1 + cos(pi step/total))/2
 * for cosine; 0 from step total on. */
float bilstm_schedule_factor(int schedule, long step, long total);

/* The defaults above for a vocabulary of V ids. */
BilstmConfig bilstm_config_default(int V);

/* Validates every field (sizes, ranges, that the parameter count fits in memory
 * arithmetic). Returns 0, or -1 with a one-line reason in err. Use it on a
 * configuration read from a file before bilstm_new. */
int bilstm_config_check(const BilstmConfig *cfg, char *err, size_t errlen);

/* A named view into the parameter buffer. */
typedef struct {
    const char *name; /* "embedding", "fwd.W_ih", ... (static strings) */
    int ndim;         /* 1 or 2 */
    int shape[2];     /* shape[1] == 1 when ndim == 1 */
    size_t offset;    /* in floats from the start of the buffer */
    size_t size;      /* floats */
} BilstmTensor;

typedef struct BiLSTM BiLSTM;

/* A new model with initialised parameters: the embedding copied from `embedding`
 * (V,E) when not NULL (a word2vec matrix), else uniform in +-0.05; row 0 (padding)
 * zero; LSTM weights uniform in +-1/sqrt(H), biases 0 but the forget gate's 1;
 * dense layers Glorot-uniform, biases 0. Seeded by cfg->seed. Exits with a message
 * if cfg fails bilstm_config_check or on out-of-memory. */
BiLSTM *bilstm_new(const BilstmConfig *cfg, const float *embedding);
void bilstm_free(BiLSTM *m);

const BilstmConfig *bilstm_config(const BiLSTM *m);
/* Replaces the training hyper-parameters (lr, lr_decay, ema, emb_lr_scale, lr_schedule,
 * batch, epochs, patience, clip, seed, threads, dropout) of m by those of cfg; the
 * architecture fields of cfg must equal m's. Returns 0, or -1 with a reason in err
 * (m unchanged). */
int bilstm_set_training(BiLSTM *m, const BilstmConfig *cfg, char *err, size_t errlen);

/* The parameter buffer (writable: a loader fills it) and its length in floats.
 * After writing to it, call bilstm_infer_prepare again before serving. */
float *bilstm_params(BiLSTM *m, size_t *count);
/* The BILSTM_NTENSORS named views, in buffer order. */
const BilstmTensor *bilstm_tensors(const BiLSTM *m, int *count);

/* Checks that every id of s is in [0, V) and, when need_labels, that labels exist
 * and are 0 or 1. Returns 0, or -1 with the first offending tweet in err. */
int bilstm_seqset_check(const BiLSTM *m, const SeqSet *s, int need_labels, char *err, size_t errlen);

/* P(positive) of every tweet of s into p_out (s->n floats), with the training-time
 * forward (no dropout), batched by length over `threads` threads. Labels are not
 * used. Exits with a message if s fails bilstm_seqset_check. */
void bilstm_predict(const BiLSTM *m, const SeqSet *s, float *p_out, int threads);

/* Like bilstm_predict (p_out may be NULL) and also the mean binary cross-entropy
 * and the accuracy (threshold 0.5) against s's labels. Results do not depend on the
 * number of threads. An empty set gives loss 0 and accuracy 0. */
void bilstm_score(const BiLSTM *m, const SeqSet *s, int threads, float *p_out, double *loss,
                  double *accuracy);

/* ---- batch building blocks (the training loop and the tests) -------------------
 * A BilstmWork holds the activations and gradients of one batch (one per thread):
 * allocated once for up to max_batch tweets of up to T tokens. */
typedef struct BilstmWork BilstmWork;

/* with_backward = 0 allocates the forward only (evaluation). Exits on OOM. */
BilstmWork *bilstm_work_new(const BiLSTM *m, int max_batch, int with_backward);
void bilstm_work_free(BilstmWork *w);

/* Forward over the tweets s[idx[0..n)] (n <= max_batch, ids valid). With train != 0
 * applies dropout, the mask of tweet i drawn from (key, i) alone, so it depends on
 * neither the batch nor the thread that runs it. Writes P(positive) of idx[k] to
 * p_out[k] when p_out is not NULL; adds the number of correct predictions to
 * *correct when correct is not NULL. Returns the SUM of the per-tweet losses (0 when
 * s has no labels). */
double bilstm_work_forward(const BiLSTM *m, BilstmWork *w, const SeqSet *s, const int *idx, int n, int train,
                           uint64_t key, float *p_out, int *correct);

/* Backward of the last forward (needs labels and with_backward): the gradient of
 * scale * (sum of losses) with respect to every parameter but the embedding goes
 * into bilstm_work_grads (overwritten); the embedding's stays inside w until
 * bilstm_work_embedding_backward. */
void bilstm_work_backward(const BiLSTM *m, BilstmWork *w, float scale);

/* The gradients written by bilstm_work_backward: the parameter buffer's layout from
 * fwd.W_ih to the end (count = params - V*E floats). */
float *bilstm_work_grads(BilstmWork *w);

/* Adds the last backward's gradient of the embedding rows the batch used into
 * demb (V,E), token by token in a fixed order, for the rows whose id % nparts ==
 * part only (so that nparts threads can share the work; part 0 of 1 = all rows).
 * Rows not used are not touched. */
void bilstm_work_embedding_backward(const BilstmWork *w, float *demb, int part, int nparts);

/* The mean loss of the tweets s[idx[0..n)] (no dropout) and its full gradient, one
 * thread: the gradient buffer (parallel to the parameters, all of it written, the
 * embedding included) is returned in *grads. For tests and tools, not for speed. */
double bilstm_loss_grad(BiLSTM *m, const SeqSet *s, const int *idx, int n, const float **grads);

#endif
