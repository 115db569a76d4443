/* kind_bilstm.c — the bilstm model kind in a model file: tensors "embedding"
 * (V, E) stored as f16 and "bilstm.params" (every other parameter, f32, in the
 * order of bilstm.h's buffer), and header fields hyper.E, hyper.H, hyper.dense,
 * hyper.T, hyper.pooling. Serving uses the precomputed input projections of
 * bilstm_infer.h. */
#include <stdlib.h>
#include <string.h>

#include "model/bilstm_infer.h"
#include "model/kinds.h"
#include "model/util.h"

void kind_bilstm_save(ModelWriter *w, BiLSTM *m) {
    const BilstmConfig *cfg = bilstm_config(m);
    size_t count;
    float *params = bilstm_params(m, &count);
    size_t n_emb = (size_t)cfg->V * (size_t)cfg->E;
    int64_t emb_dims[2] = {cfg->V, cfg->E}, rest = (int64_t)(count - n_emb);
    modelwriter_add(w, "embedding", MF_F16, 2, emb_dims, params);
    modelwriter_add(w, "bilstm.params", MF_F32, 1, &rest, params + n_emb);
}

static void *bilstm_kind_load(const ModelFile *mf, const cJSON *header, int V, char *err, size_t errlen) {
    const cJSON *hyper = cJSON_GetObjectItemCaseSensitive(header, "hyper");
    BilstmConfig cfg = bilstm_config_default(V);
    cfg.E = kind_json_int(hyper, "E", -1);
    cfg.H = kind_json_int(hyper, "H", -1);
    cfg.dense = kind_json_int(hyper, "dense", -1);
    cfg.T = kind_json_int(hyper, "T", -1);
    cfg.pooling = kind_json_int(hyper, "pooling", BILSTM_POOL_LAST);
    if (bilstm_config_check(&cfg, err, errlen)) return NULL;
    BiLSTM *m = bilstm_new(&cfg, NULL);
    size_t count;
    float *params = bilstm_params(m, &count);
    size_t n_emb = (size_t)V * (size_t)cfg.E;
    if (modelfile_get_f32(mf, "embedding", (int64_t)n_emb, params, err, errlen) ||
        modelfile_get_f32(mf, "bilstm.params", (int64_t)(count - n_emb), params + n_emb, err, errlen)) {
        bilstm_free(m);
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        if (!(params[i] == params[i]) || params[i] > 1e30f || params[i] < -1e30f) {
            snprintf(err, errlen, "bilstm parameter %zu is not a finite number", i);
            bilstm_free(m);
            return NULL;
        }
    bilstm_infer_prepare(m);
    return m;
}

static void bilstm_kind_free(void *state) { bilstm_free(state); }

static void *bilstm_kind_scratch_new(const void *state, int max_batch, int T) {
    (void)T;
    return bilstm_infer_new(state, max_batch);
}

static void bilstm_kind_scratch_free(void *scratch) { bilstm_infer_free(scratch); }

static void bilstm_kind_score(const void *state, void *scratch, const int32_t *ids, const int *len, int n,
                              float *p) {
    (void)state;
    bilstm_infer_run(scratch, ids, len, n, p);
}

const ModelKind kind_bilstm = {
    .name = "bilstm",
    .load = bilstm_kind_load,
    .free = bilstm_kind_free,
    .scratch_new = bilstm_kind_scratch_new,
    .scratch_free = bilstm_kind_scratch_free,
    .score = bilstm_kind_score,
};
