/* kind_w2v_dense.c — the w2v-dense model kind in a model file: tensors
 * "embedding" (V, D) stored as f16 and "dense.params" (w2v_dense_num_params), and
 * header fields hyper.dim, hyper.hidden. */
#include <stdlib.h>

#include "model/kinds.h"
#include "model/util.h"

void kind_w2v_dense_save(ModelWriter *w, const W2vDense *m) {
    int64_t emb_dims[2] = {m->vocab_size, m->dim}, np = (int64_t)m->num_params;
    modelwriter_add(w, "embedding", MF_F16, 2, emb_dims, m->embedding);
    modelwriter_add(w, "dense.params", MF_F32, 1, &np, m->params);
}

static void *w2vd_load(const ModelFile *mf, const cJSON *header, int V, char *err, size_t errlen) {
    const cJSON *hyper = cJSON_GetObjectItemCaseSensitive(header, "hyper");
    int D = kind_json_int(hyper, "dim", -1), H = kind_json_int(hyper, "hidden", -1);
    if (D < 1 || D > 4096 || H < 1 || H > 4096) {
        snprintf(err, errlen, "w2v-dense header: bad hyper.dim %d or hyper.hidden %d", D, H);
        return NULL;
    }
    int64_t np = (int64_t)w2v_dense_num_params(D, H);
    float *emb = mallocCheck((size_t)V * (size_t)D * sizeof(float)),
          *params = mallocCheck((size_t)np * sizeof(float));
    W2vDense *m = NULL;
    if (!modelfile_get_f32(mf, "embedding", (int64_t)V * D, emb, err, errlen) &&
        !modelfile_get_f32(mf, "dense.params", np, params, err, errlen))
        m = w2v_dense_from_arrays(V, D, H, emb, params, err, errlen);
    free(emb);
    free(params);
    return m;
}

static void w2vd_free(void *state) { w2v_dense_free(state); }

static void *w2vd_scratch_new(const void *state, int max_batch, int T) {
    (void)max_batch;
    (void)T;
    return mallocCheck(w2v_dense_scratch_len(state) * sizeof(float));
}

static void w2vd_score(const void *state, void *scratch, const int32_t *ids, const int *len, int n,
                       float *p) {
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        p[i] = w2v_dense_predict_one(state, ids + at, len[i], scratch);
        at += (size_t)len[i];
    }
}

const ModelKind kind_w2v_dense = {
    .name = "w2v-dense",
    .load = w2vd_load,
    .free = w2vd_free,
    .scratch_new = w2vd_scratch_new,
    .scratch_free = free,
    .score = w2vd_score,
};
