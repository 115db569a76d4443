/* w2v_dense.h — the `w2v-dense` baseline: the mean of a tweet's word2vec embeddings
 * fed to a small dense network.
 *
 *   x = mean of emb[t] over the tweet's tokens t in [2, V) (the unknown id 1, padding
 *       0 and ids outside the vocabulary are skipped; a tweet with none gives x = 0)
 *   h = relu(x W1 + b1)            x is (D), W1 (D, H), h (H)
 *   p = sigmoid(w2 . h + b2)       w2 (H), b2 (1)
 *
 * The embedding is fixed (not fine-tuned); the model keeps its own copy. Training
 * minimises the mean binary cross-entropy with Adam over seeded shuffled
 * mini-batches; with a validation set it keeps the weights of the epoch with the
 * lowest validation loss and stops after `patience` epochs without a better one.
 * Same data, config and seed -> the same model bytes. */
#ifndef BUZZRADAR_W2V_DENSE_H
#define BUZZRADAR_W2V_DENSE_H

#include <stddef.h>
#include <stdint.h>

#include "model/seqset.h"

typedef struct {
    int hidden;     /* H, units of the relu layer (default 64) */
    float lr;       /* Adam learning rate (default 2e-3; betas 0.9, 0.999, eps 1e-8) */
    int epochs;     /* maximum number of epochs (default 20) */
    int batch_size; /* tweets per step (default 64) */
    int patience;   /* with validation: stop after this many epochs without a better
                       validation loss (default 3) */
    uint64_t seed;  /* initialisation and shuffling seed (default 42) */
    int verbose;    /* 1: one line per epoch on stderr */
} W2vDenseConfig;

/* Views of the parameter tensors inside W2vDense.params, in this order. */
typedef struct {
    float *w1; /* (D, H) */
    float *b1; /* (H) */
    float *w2; /* (H) */
    float *b2; /* (1) */
} W2vDenseParams;

/* A trained or loaded model; read-only for users. params (num_params floats, the
 * tensors of W2vDenseParams back to back) and embedding are what a model file stores. */
typedef struct {
    int vocab_size;    /* V */
    int dim;           /* D, embedding width */
    int hidden;        /* H */
    float *embedding;  /* (V, D), the model's own copy */
    float *params;     /* (num_params) all parameters in one buffer */
    size_t num_params; /* w2v_dense_num_params(D, H) */
    W2vDenseParams p;  /* views into params */
    /* learning curve of the fit (epochs_run == 0 and NULL for a loaded model) */
    int epochs_run;
    int best_epoch;    /* 0-based epoch whose weights were kept */
    float *train_loss; /* (epochs_run) mean training loss seen during each epoch */
    float *val_loss;   /* (epochs_run) validation loss after each epoch; NaN without one */
} W2vDense;

/* Scratch of one batch forward/backward (activations for up to max_batch tweets). */
typedef struct W2vDenseWork W2vDenseWork;

/* The defaults documented in W2vDenseConfig. */
W2vDenseConfig w2v_dense_default_config(void);

/* H*D + H + H + 1. */
size_t w2v_dense_num_params(int dim, int hidden);

/* Fits a model on train, with early stopping on val when val is not NULL (val may
 * have n == 0: then it is ignored). embedding is (V, D), copied. Returns NULL with a
 * reason in err on an invalid config, size, empty training set or non-finite
 * embedding. Exits on out-of-memory. */
W2vDense *w2v_dense_fit(const SeqSet *train, const SeqSet *val, const float *embedding, int vocab_size,
                        int dim, const W2vDenseConfig *cfg, char *err, size_t errlen);

/* Builds a model from saved arrays (copied), for loading a model file: embedding is
 * (V, D), params is w2v_dense_num_params(D, H) floats. Returns NULL with a reason in
 * err when a size is invalid or a value is not finite. */
W2vDense *w2v_dense_from_arrays(int vocab_size, int dim, int hidden, const float *embedding,
                                const float *params, char *err, size_t errlen);

void w2v_dense_free(W2vDense *m);

/* Number of float scratch slots w2v_dense_predict_one needs (D + H). */
size_t w2v_dense_scratch_len(const W2vDense *m);

/* P(positive) of one tweet of n token ids, with the caller's scratch of
 * w2v_dense_scratch_len(m) floats (one per thread); allocates nothing; thread-safe
 * on a shared model. Bit-identical to the training-time forward. */
float w2v_dense_predict_one(const W2vDense *m, const int32_t *ids, int n, float *scratch);

/* P(positive) of every tweet of s into p (s->n floats), by batched forward passes. */
void w2v_dense_predict(const W2vDense *m, const SeqSet *s, float *p);

/* Scratch for batches of up to max_batch tweets (exits on out-of-memory). */
W2vDenseWork *w2v_dense_work_new(const W2vDense *m, int max_batch);
void w2v_dense_work_free(W2vDenseWork *w);

/* Mean binary cross-entropy of the tweets idx[0 .. B) of s (B <= the work's
 * max_batch) under m's current params. When grads is not NULL it also runs the
 * backward pass and writes d loss / d params there (num_params floats, laid out as
 * params). When probs is not NULL it receives the B probabilities. */
float w2v_dense_batch_loss(const W2vDense *m, const SeqSet *s, const int *idx, int B, W2vDenseWork *w,
                           float *grads, float *probs);

#endif
