/* word2vec.h — word embeddings by skip-gram with negative sampling (Mikolov et al.
 * 2013, following the reference word2vec.c): unigram^0.75 noise distribution,
 * subsampling of frequent words, linear learning-rate decay, a randomly shrunk
 * window, and Hogwild threads over disjoint slices of the corpus.
 *
 * Each tweet of the SeqSet is one sentence: windows never cross tweets. Ids
 * VOCAB_PAD (0) and VOCAB_UNK (1) are dropped from a tweet before windowing (as
 * word2vec.c drops out-of-vocabulary words). With threads == 1 a run is a pure
 * function of (corpus, counts, config): same seed, same bytes. */
#ifndef BUZZRADAR_WORD2VEC_H
#define BUZZRADAR_WORD2VEC_H

#include <stddef.h>
#include <stdint.h>

#include "model/seqset.h"

typedef struct {
    int dim;       /* embedding size D (default 100) */
    int window;    /* maximum distance to a context word; each centre uses 1..window (default 5) */
    int negative;  /* noise words per (centre, context) pair (default 5) */
    float sample;  /* subsampling threshold t, 0 = off (default 1e-4) */
    float alpha;   /* starting learning rate, decays linearly to alpha * 1e-4 (default 0.025) */
    int epochs;    /* passes over the corpus (default 5) */
    int threads;   /* worker threads, 0 = one per online core (default 0) */
    uint64_t seed; /* initial vectors and every random draw (default 1) */
    int progress;  /* 1: words/s and ETA on stderr (a bar on a terminal, lines otherwise) (default 0) */
} W2VConfig;

/* The defaults above. */
W2VConfig w2v_config_default(void);

/* Checks a configuration (dim, window, negative, epochs >= 1; threads >= 0;
 * sample >= 0; alpha > 0, all finite). Returns 0 when valid, else -1 with a one-line
 * reason in err (errlen bytes, may be 0). */
int w2v_config_check(const W2VConfig *cfg, char *err, size_t errlen);

/* Trains input vectors for a vocabulary of V ids on corpus.
 * counts: V corpus counts indexed by id (e.g. vocab_counts()); they define the noise
 * distribution and the subsampling rates (ids 0 and 1 are never sampled).
 * emb_out: (V, D) floats, row-major, written entirely: rows 0 and 1 are zero, rows of
 * words absent from the corpus keep their small random initial values.
 * Returns 0 on success; -1 without touching emb_out when the configuration is invalid
 * (see w2v_config_check), V < 2, or a corpus id is outside [0, V).
 * Exits on out-of-memory or when a thread cannot be started. */
int w2v_train(const SeqSet *corpus, const int64_t *counts, int V, const W2VConfig *cfg, float *emb_out);

/* ---- pieces of the trainer, exposed for tests ---- */

/* Probability of keeping each id under subsampling with threshold `sample`, the
 * formula of word2vec.c: p = (sqrt(c / (sample*T)) + 1) * (sample*T) / c, capped at 1,
 * where c = counts[id] and T = the sum of counts[2..V). keep_out[0] = keep_out[1] = 0;
 * sample <= 0 keeps every other id (p = 1). keep_out has V entries. */
void w2v_keep_probs(const int64_t *counts, int V, float sample, float *keep_out);

/* Writes to out the ids of ids[0..n) that survive subsampling (ids with keep[id] = 0
 * never do), in order, and returns how many. *rng is any 64-bit state, advanced.
 * out may not alias ids. This is the function the trainer uses. */
int w2v_subsample(const int32_t *ids, int n, const float *keep, uint64_t *rng, int32_t *out);

/* ---- using the vectors ---- */

/* Cosine similarity of two D-vectors (0 when either is zero). */
float w2v_cosine(const float *a, const float *b, int D);

/* The k ids most similar to id by cosine over emb (V, D), best first, skipping id
 * itself, ids 0 and 1 and zero rows; writes ids_out[0..r) and sims_out[0..r) (sims_out
 * may be NULL) and returns r <= k, or -1 when id is out of range or k < 0. */
int w2v_most_similar(const float *emb, int V, int D, int id, int k, int32_t *ids_out, float *sims_out);

#endif
