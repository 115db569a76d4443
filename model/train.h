/* train.h — the whole training run of one model kind, from a data file to a model
 * file: load, split (train / validation / test, seeded and stratified), tokenise and
 * build the vocabulary on the training rows, word2vec on the training rows (bilstm,
 * w2v-dense), fit with early stopping on the validation rows, evaluate on the test
 * rows (never used for training or model selection), and write the model file with
 * its hyper-parameters, tokenizer, training data, learning curves and held-out
 * metrics in the header. */
#ifndef BUZZRADAR_TRAIN_H
#define BUZZRADAR_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "model/bilstm.h"
#include "model/dataset.h"
#include "model/metrics.h"
#include "model/text.h"
#include "model/tfidf_lr.h"
#include "model/w2v_dense.h"
#include "model/word2vec.h"

typedef struct {
    const char *data;           /* the data file (required) */
    DataFormat format;          /* DATA_FORMAT_AUTO */
    long limit;                 /* > 0: a balanced random sample of this many rows */
    const char *kind;           /* "bilstm" (default), "tfidf-lr", "w2v-dense" */
    const char *out;            /* model file to write (default "<kind>.model") */
    const char *curves;         /* learning-curve PNG (default: out with ".png" appended); "" = none */
    uint64_t seed;              /* split, sample, initialisation, shuffling (42) */
    int threads;                /* 0 = every online core */
    int quiet;                  /* no progress */
    double val_frac, test_frac; /* of the rows (0.02 and 0.02) */
    TextConfig text;            /* tokenizer (defaults of text.h) */
    int64_t min_count;          /* vocabulary: minimum count in the training rows (5) */
    int32_t max_vocab;          /* vocabulary: maximum size including <pad> and <unk> (50000) */
    W2VConfig w2v;              /* word2vec (bilstm and w2v-dense) */
    BilstmConfig bilstm;
    TfidfLrConfig tfidf;
    W2vDenseConfig dense;
} TrainConfig;

/* The defaults above. */
TrainConfig train_config_default(void);

typedef struct {
    Metrics test; /* on the held-out test rows */
    int n_train, n_val, n_test, vocab_size;
    double seconds;   /* the whole run */
    long peak_rss_kb; /* of the process, at the end */
} TrainResult;

/* Runs a training as configured and writes the model file. Progress and a summary go
 * to stderr. Returns 0, or -1 with a one-line reason in err (unreadable data, too few
 * rows, bad configuration, unwritable output). Exits on out-of-memory. */
int train_run(const TrainConfig *cfg, TrainResult *res, char *err, size_t errlen);

#endif
