/* bilstm_train.h — training the BiLSTM: mini-batches bucketed by length, Adam with a
 * lazy row-sparse update of the embedding (optionally a smaller step for it,
 * emb_lr_scale), a per-step learning-rate schedule (lr_schedule), global-norm
 * gradient clipping, dropout, an optional moving average of the weights (ema:
 * validated and kept instead of the raw weights), data-parallel threads, early
 * stopping on the validation loss that keeps the best weights, and a per-epoch
 * history (it goes into the model file).
 *
 * Reproducibility: the same model, data and configuration with threads = 1 give
 * bit-identical parameters. With more threads each thread computes the gradient
 * of a slice of the batch and the slices are summed in a fixed order, so results
 * do not depend on scheduling; they differ from the one-thread run only by float
 * rounding (metrics agree to ~1e-3). */
#ifndef BUZZRADAR_BILSTM_TRAIN_H
#define BUZZRADAR_BILSTM_TRAIN_H

#include <stdio.h>

#include "model/bilstm.h"
#include "model/seqset.h"

typedef struct {
    float train_loss, train_acc; /* over the epoch's batches, as trained (with dropout) */
    float val_loss, val_acc;     /* on the validation set after the epoch (no dropout) */
    float seconds;               /* wall time of the epoch, validation included */
    float train_seconds;         /* of which in training batches */
} BilstmEpoch;

typedef struct {
    int n;               /* epochs run */
    int best;            /* index of the epoch whose weights the model keeps */
    int stopped_early;   /* 1 when patience ran out before cfg.epochs */
    double seconds;      /* wall time of the whole fit */
    double tweets_per_s; /* training throughput (tweets trained / time in training batches) */
    BilstmEpoch epoch[BILSTM_MAX_EPOCHS];
} BilstmHistory;

typedef struct {
    int quiet; /* no progress bar and no per-epoch lines */
    FILE *log; /* where they go; NULL = stderr. A terminal gets a live bar with rate
                  and ETA, anything else plain lines */
} BilstmFitOptions;

/* Trains m in place with the hyper-parameters of its configuration (lr, lr_decay,
 * lr_schedule, emb_lr_scale, ema, batch, epochs, patience, clip, seed, threads,
 * dropout; see bilstm_set_training), on
 * `train`, choosing the epoch by the loss on `val`. Both sets need labels and
 * valid ids (bilstm_seqset_check) and at least one tweet; otherwise exits with a
 * message, as on out-of-memory. opt may be NULL (progress on stderr). Fills hist
 * when not NULL. On return m holds the weights of the best epoch; serving tables
 * made by bilstm_infer_prepare before the fit are dropped (free every BilstmInfer
 * of m before fitting; prepare again after). */
void bilstm_fit(BiLSTM *m, const SeqSet *train, const SeqSet *val, const BilstmFitOptions *opt,
                BilstmHistory *hist);

#endif
