/* corpus.h — a loaded dataset turned into what learners eat: every row tokenised by
 * the text pipeline and encoded with a vocabulary built on the training rows only.
 *
 * The vocabulary counts only the training rows (validation and test rows never
 * influence it): training rows are tokenised once and interned, the vocabulary is
 * fixed (min_count, max_size), then the other rows are tokenised and looked up, so
 * their unknown words become VOCAB_UNK exactly as at serving time. */
#ifndef BUZZRADAR_CORPUS_H
#define BUZZRADAR_CORPUS_H

#include <stdint.h>

#include "model/dataset.h"
#include "model/seqset.h"
#include "model/text.h"
#include "model/vocab.h"

typedef struct {
    Vocab *vocab;   /* built on the training rows */
    int n;          /* rows, as in the dataset */
    int64_t *off;   /* (n+1) offsets into ids */
    int32_t *ids;   /* every row's token ids (final vocabulary ids) */
    int64_t tokens; /* tokens of all rows */
    int64_t oov;    /* of which unknown to the vocabulary */
    double seconds; /* time taken */
} Corpus;

/* Tokenises and encodes every row of d. train/n_train name the training rows (the
 * only ones counted for the vocabulary). Shows progress on stderr unless quiet.
 * Returns 0, or -1 with a reason in err (no training row). Exits on out-of-memory. */
int corpus_build(const Dataset *d, const int *train, int n_train, const TextConfig *tc, int64_t min_count,
                 int32_t max_vocab, int quiet, Corpus *out, char *err, size_t errlen);

void corpus_free(Corpus *c); /* zeroed after; a zeroed Corpus is fine */

/* A SeqSet that owns gathered copies of some rows of a corpus (in idx order). */
typedef struct {
    SeqSet set; /* the view learners read */
    int64_t *off;
    int32_t *ids;
    uint8_t *label;
} CorpusPart;

/* Gathers rows idx[0..n) of c (labels from d) into part. Exits on out-of-memory. */
void corpus_part(const Corpus *c, const Dataset *d, const int *idx, int n, CorpusPart *part);
void corpus_part_free(CorpusPart *part);

#endif
