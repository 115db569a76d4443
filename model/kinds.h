/* kinds.h — the model kinds a model file can hold (bilstm, tfidf-lr, w2v-dense),
 * each behind one small table of functions that classifier.c dispatches to, and
 * each with a save function that the trainer calls.
 *
 * A kind's tensors sit beside the shared ones in the model file: the JSON header
 * (kind, version, tokenizer, vocab_size, ...) and the tensor "vocab" (the
 * serialised vocabulary) are written by the trainer and read by classifier.c. */
#ifndef BUZZRADAR_KINDS_H
#define BUZZRADAR_KINDS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "model/modelfile.h"
#include "model/bilstm.h"
#include "model/tfidf_lr.h"
#include "model/w2v_dense.h"

typedef struct {
    const char *name; /* as in the header's "kind" */
    /* Builds the kind's read-only state from the file. header is the parsed JSON
     * header, V the vocabulary size. NULL with a reason in err on any problem. */
    void *(*load)(const ModelFile *mf, const cJSON *header, int V, char *err, size_t errlen);
    void (*free)(void *state);
    /* Per-thread scratch to score up to max_batch sequences of up to T tokens. */
    void *(*scratch_new)(const void *state, int max_batch, int T);
    void (*scratch_free)(void *scratch);
    /* p[i] = P(positive) of sequence i; the n sequences are packed one after the
     * other in ids, len[i] tokens each (0 allowed, at most T). Allocates nothing. */
    void (*score)(const void *state, void *scratch, const int32_t *ids, const int *len, int n, float *p);
} ModelKind;

extern const ModelKind kind_tfidf_lr;
extern const ModelKind kind_w2v_dense;
extern const ModelKind kind_bilstm;

/* The kind called name, or NULL. */
const ModelKind *kind_find(const char *name);

/* Writers of each kind's tensors (the caller adds header and vocab). */
void kind_tfidf_lr_save(ModelWriter *w, const TfidfLr *m);
void kind_w2v_dense_save(ModelWriter *w, const W2vDense *m);
void kind_bilstm_save(ModelWriter *w, BiLSTM *m);

/* Reads an integer field of a JSON object (nested "a.b" not supported); returns
 * def when absent or not a number. */
int kind_json_int(const cJSON *obj, const char *name, int def);

#endif
