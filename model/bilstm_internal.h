/* bilstm_internal.h — the BiLSTM's representation, shared by its own files
 * (bilstm.c, bilstm_train.c, bilstm_infer.c) and nothing else. */
#ifndef BUZZRADAR_BILSTM_INTERNAL_H
#define BUZZRADAR_BILSTM_INTERNAL_H

#include "model/bilstm.h"
#include "model/lstm.h"

/* Views of one buffer laid out like the parameters. */
typedef struct {
    float *emb;           /* (V,E); NULL in buffers that leave the embedding out */
    LstmWeights fwd, bwd; /* W_ih (E,4H), W_hh (H,4H), b (4H) */
    float *W1, *b1;       /* (2H,D), (D) */
    float *W2, *b2;       /* (D,1), (1) */
} BilstmViews;

struct BiLSTM {
    BilstmConfig cfg;
    BilstmTensor tensors[BILSTM_NTENSORS];
    size_t nparams;
    float *params; /* all parameters, tensors in table order */
    BilstmViews w; /* views into params */
    float *grads;  /* parallel to params; allocated by the first bilstm_loss_grad or fit */
    float *proj;   /* (2,V,4H) per-word input projections for serving, or NULL */
};

/* Points v at base, a buffer in the parameter layout starting `skip` floats in
 * (0: the full layout; V*E: the layout after the embedding, v->emb = NULL). */
void bilstm_views(const BiLSTM *m, float *base, size_t skip, BilstmViews *v);

#endif
