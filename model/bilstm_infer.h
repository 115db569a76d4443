/* bilstm_infer.h — the BiLSTM's serving path: batched P(positive) with no
 * allocation per call.
 *
 * bilstm_infer_prepare computes, once per model, every vocabulary word's input
 * projection embedding[id]·W_ih + b for both directions (two (V,4H) tables), so a
 * token costs only the recurrent product h·W_hh. Each serving thread then owns a
 * BilstmInfer: scratch memory for up to max_batch tweets, allocated once. A call
 * sorts its tweets by length (the sequences still running at a step are a prefix
 * of the batch) and runs both directions and the head batched, one sgemm per step.
 * The probabilities equal those of the training-time forward (bilstm_predict) up
 * to float rounding (tested: max abs difference < 1e-5).
 *
 * Memory: the tables take 2*V*4H floats (V = 50,000, H = 128: 205 MB), shared by
 * all threads; a BilstmInfer takes about max_batch * (8H + D) floats. */
#ifndef BUZZRADAR_BILSTM_INFER_H
#define BUZZRADAR_BILSTM_INFER_H

#include <stdint.h>

#include "model/bilstm.h"

/* Computes (or recomputes) m's serving tables from its current parameters. Call
 * after loading or training and before bilstm_infer_new; not thread-safe, and the
 * tables go stale if the parameters change afterwards (bilstm_fit drops them).
 * Exits on out-of-memory. */
void bilstm_infer_prepare(BiLSTM *m);

typedef struct BilstmInfer BilstmInfer;

/* Scratch for batches of up to max_batch (>= 1) tweets on m, which must be prepared
 * and outlive the BilstmInfer. Sets OpenBLAS to one thread (process-wide): the
 * parallelism comes from the callers' threads. Exits with a message if m was not
 * prepared, or on out-of-memory. */
BilstmInfer *bilstm_infer_new(const BiLSTM *m, int max_batch);
void bilstm_infer_free(BilstmInfer *inf);

/* P(positive) of n tweets into p_out[0..n). Tweet i is lengths[i] ids, the tweets
 * stored one after the other in ids. Any n >= 0 works (more than max_batch are run
 * in chunks); only the first T tokens of a tweet are read; an empty tweet has zero
 * final states; ids outside [0, V) are read as unknown (1). Allocates nothing and
 * cannot fail. */
void bilstm_infer_run(BilstmInfer *inf, const int32_t *ids, const int *lengths, int n, float *p_out);

#endif
