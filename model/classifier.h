/* classifier.h — a loaded sentiment model of any kind (bilstm, tfidf-lr, w2v-dense)
 * behind one interface, for serving (predict, evaluate, the stream worker).
 *
 * A Classifier is immutable once loaded and shared read-only by every thread. Each
 * thread owns a ClassifierBatch: the scratch memory for up to max_batch tweets,
 * allocated once, so scoring allocates nothing. Use:
 *
 *     classifier_batch_reset(b);
 *     for each tweet: slot = classifier_batch_add(b, text, len);   // tokenise + encode
 *     (optionally look up a cache by classifier_batch_key(b, slot) and
 *      classifier_batch_set(b, slot, p_cached) to skip the model for that slot)
 *     classifier_batch_score(b);                                   // one batched forward
 *     p = classifier_batch_p(b, slot);
 *
 * The probabilities equal those of the training-time forward on the same text. */
#ifndef BUZZRADAR_CLASSIFIER_H
#define BUZZRADAR_CLASSIFIER_H

#include <stddef.h>

typedef struct Classifier Classifier;
typedef struct ClassifierBatch ClassifierBatch;

/* Loads a model file of any kind. On failure returns NULL and writes a one-line
 * reason into err (a truncated or corrupted file is an error, never a crash). */
Classifier *classifier_load(const char *path, char *err, size_t errlen);
void classifier_free(Classifier *c);

const char *classifier_kind(const Classifier *c);        /* "bilstm", "tfidf-lr", "w2v-dense" */
const char *classifier_version(const Classifier *c);     /* stable id of this model file */
const char *classifier_header_json(const Classifier *c); /* the model file's JSON header */

/* Scratch for up to max_batch tweets (max_batch >= 1). Exits on out-of-memory. */
ClassifierBatch *classifier_batch_new(const Classifier *c, int max_batch);
void classifier_batch_free(ClassifierBatch *b);

/* Empties the batch (no allocation). */
void classifier_batch_reset(ClassifierBatch *b);

/* Tokenises and encodes one tweet (any bytes: invalid UTF-8 is repaired) into the
 * next slot. Returns the slot index, or -1 when the batch is full. */
int classifier_batch_add(ClassifierBatch *b, const char *text, size_t len);

/* After add: the number of tokens the model sees for the slot, and how many of them
 * are unknown to the model's vocabulary (for the drift monitor). */
int classifier_batch_ntokens(const ClassifierBatch *b, int slot);
int classifier_batch_noov(const ClassifierBatch *b, int slot);

/* After add: the normalised text of the slot (its tokens joined by single spaces):
 * two tweets with the same key get the same score, so it keys a score cache.
 * The pointer stays valid until the next reset. */
const char *classifier_batch_key(const ClassifierBatch *b, int slot, size_t *len);

/* Gives the slot a probability from elsewhere (a cache hit): score() skips it. */
void classifier_batch_set(ClassifierBatch *b, int slot, float p_positive);

/* Scores every slot not set by classifier_batch_set, in one batched forward pass. */
void classifier_batch_score(ClassifierBatch *b);

/* After score: P(positive) of the slot, in [0, 1]. */
float classifier_batch_p(const ClassifierBatch *b, int slot);

/* p rounded to 6 decimals: the value every output (predict, scored events, HTTP)
 * prints, so that the same text shows the same probability everywhere. */
double classifier_round_p(float p);

#endif
