/* seqset.h — a set of labelled, encoded tweets: the hand-off between the text
 * pipeline + vocabulary (which produce it) and the learners (word2vec, BiLSTM,
 * baselines, which consume it).
 *
 * Tweet i has tokens ids[off[i] .. off[i+1]) (vocabulary ids, never padding) and
 * label[i] (0 negative, 1 positive). All arrays are owned by whoever filled the
 * struct; learners only read them. An empty tweet has off[i] == off[i+1]. */
#ifndef BUZZRADAR_SEQSET_H
#define BUZZRADAR_SEQSET_H

#include <stdint.h>

typedef struct {
    int n;                /* number of tweets */
    const int64_t *off;   /* (n+1) offsets into ids */
    const int32_t *ids;   /* off[n] token ids */
    const uint8_t *label; /* n labels, 0 or 1 */
} SeqSet;

#endif
