/* kind_tfidf_lr.c — the tfidf-lr model kind in a model file: tensors
 * "tfidf.idf" (F), "tfidf.weights" (F), "tfidf.bias" (1), and header fields
 * hyper.bigram_bits, hyper.sublinear_tf. */
#include <stdlib.h>

#include "model/kinds.h"
#include "model/util.h"

void kind_tfidf_lr_save(ModelWriter *w, const TfidfLr *m) {
    int64_t F = m->num_features, one = 1;
    modelwriter_add(w, "tfidf.idf", MF_F32, 1, &F, m->idf);
    modelwriter_add(w, "tfidf.weights", MF_F32, 1, &F, m->weights);
    modelwriter_add(w, "tfidf.bias", MF_F32, 1, &one, &m->bias);
}

static void *tfidf_load(const ModelFile *mf, const cJSON *header, int V, char *err, size_t errlen) {
    const cJSON *hyper = cJSON_GetObjectItemCaseSensitive(header, "hyper");
    int bits = kind_json_int(hyper, "bigram_bits", -1), sublinear = kind_json_int(hyper, "sublinear_tf", 1);
    if (bits < 0 || bits > 30) {
        snprintf(err, errlen, "tfidf-lr header: bad hyper.bigram_bits %d", bits);
        return NULL;
    }
    int64_t F = tfidf_lr_num_features(V, bits);
    float *idf = mallocCheck((size_t)F * sizeof(float)), *wts = mallocCheck((size_t)F * sizeof(float)), bias;
    TfidfLr *m = NULL;
    if (!modelfile_get_f32(mf, "tfidf.idf", F, idf, err, errlen) &&
        !modelfile_get_f32(mf, "tfidf.weights", F, wts, err, errlen) &&
        !modelfile_get_f32(mf, "tfidf.bias", 1, &bias, err, errlen))
        m = tfidf_lr_from_arrays(V, bits, sublinear, idf, wts, bias, err, errlen);
    free(idf);
    free(wts);
    return m;
}

static void tfidf_free(void *state) { tfidf_lr_free(state); }

static void *tfidf_scratch_new(const void *state, int max_batch, int T) {
    (void)state;
    (void)max_batch;
    return mallocCheck(tfidf_lr_scratch_len(T) * sizeof(int32_t));
}

static void tfidf_score(const void *state, void *scratch, const int32_t *ids, const int *len, int n,
                        float *p) {
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        p[i] = tfidf_lr_predict_one(state, ids + at, len[i], scratch);
        at += (size_t)len[i];
    }
}

const ModelKind kind_tfidf_lr = {
    .name = "tfidf-lr",
    .load = tfidf_load,
    .free = tfidf_free,
    .scratch_new = tfidf_scratch_new,
    .scratch_free = free,
    .score = tfidf_score,
};
