/* classifier.c — loading a model file of any kind and scoring batches of tweets
 * through it (see classifier.h): the shared part (header, tokenizer, vocabulary,
 * batch slots, cache keys) lives here, the kind-specific part behind ModelKind. */
#include "model/classifier.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/kinds.h"
#include "model/modelfile.h"
#include "model/text.h"
#include "model/util.h"
#include "model/vocab.h"

struct Classifier {
    const ModelKind *kind;
    void *state; /* the kind's read-only model */
    Vocab *vocab;
    TextConfig text; /* the tokenizer the model was trained with */
    char *header_json;
    char version[128];
};

struct ClassifierBatch {
    const Classifier *c;
    int max_batch, T, n;
    TextPipeline *tp;
    TextTokens toks;
    int32_t *ids; /* (max_batch, T) */
    int *len, *noov;
    float *p;
    uint8_t *set; /* 1: p came from classifier_batch_set */
    char *keys;   /* (max_batch, key_stride) */
    size_t key_stride;
    size_t *key_len;
    /* the slots to score, gathered contiguously */
    int32_t *g_ids; /* packed: the sequences one after the other */
    int *g_len, *g_slot;
    float *g_p;
    void *kscratch;
};

const ModelKind *kind_find(const char *name) {
    static const ModelKind *const kinds[] = {&kind_bilstm, &kind_tfidf_lr, &kind_w2v_dense};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(kinds[i]->name, name)) return kinds[i];
    return NULL;
}

int kind_json_int(const cJSON *obj, const char *name, int def) {
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return cJSON_IsNumber(v) ? v->valueint : def;
}

/* Reads the tokenizer settings of the header into tc. Returns 0 or -1 with err. */
static int classifier_tokenizer(const cJSON *header, TextConfig *tc, char *err, size_t errlen) {
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(header, "tokenizer");
    *tc = text_config_default();
    int version = kind_json_int(tok, "pipeline_version", -1);
    if (version != TEXT_PIPELINE_VERSION) {
        snprintf(err, errlen,
                 "model was trained with text pipeline version %d, this build has %d: retrain it", version,
                 TEXT_PIPELINE_VERSION);
        return -1;
    }
    tc->max_tokens = kind_json_int(tok, "max_tokens", TEXT_MAX_TOKENS_DEFAULT);
    tc->stem = kind_json_int(tok, "stem", 1);
    tc->fix_mojibake = kind_json_int(tok, "fix_mojibake", 1);
    if (tc->max_tokens < 1 || tc->max_tokens > TEXT_MAX_TOKENS_CAP) {
        snprintf(err, errlen, "model header: bad tokenizer.max_tokens %d", tc->max_tokens);
        return -1;
    }
    return 0;
}

Classifier *classifier_load(const char *path, char *err, size_t errlen) {
    ModelFile mf;
    if (modelfile_read(path, &mf, err, errlen)) return NULL;
    Classifier *c = callocCheck(1, sizeof *c);
    cJSON *header = cJSON_Parse(mf.header_json);
    const cJSON *kind = header ? cJSON_GetObjectItemCaseSensitive(header, "kind") : NULL;
    const cJSON *version = header ? cJSON_GetObjectItemCaseSensitive(header, "version") : NULL;
    const MfTensor *vt = modelfile_find(&mf, "vocab");
    char inner[256] = "";
    if (!header || !cJSON_IsObject(header)) {
        snprintf(inner, sizeof inner, "header is not a JSON object");
    } else if (!cJSON_IsString(kind) || !(c->kind = kind_find(kind->valuestring))) {
        snprintf(inner, sizeof inner, "unknown model kind %s",
                 cJSON_IsString(kind) ? kind->valuestring : "(none)");
    } else if (!vt || vt->dtype != MF_U8) {
        snprintf(inner, sizeof inner, "no vocabulary tensor");
    } else if (!(c->vocab = vocab_deserialize(vt->data, vt->nbytes, inner, sizeof inner))) {
        /* inner says why */
    } else if (vocab_size(c->vocab) != kind_json_int(header, "vocab_size", -1)) {
        snprintf(inner, sizeof inner, "vocabulary has %d words, header says %d", vocab_size(c->vocab),
                 kind_json_int(header, "vocab_size", -1));
    } else if (!classifier_tokenizer(header, &c->text, inner, sizeof inner)) {
        c->state = c->kind->load(&mf, header, vocab_size(c->vocab), inner, sizeof inner);
    }
    if (c->state) {
        c->header_json = strdupCheck(mf.header_json);
        snprintf(c->version, sizeof c->version, "%s",
                 cJSON_IsString(version) ? version->valuestring : "unknown");
    } else {
        snprintf(err, errlen, "%s: %s", path, inner[0] ? inner : "cannot load model");
        vocab_free(c->vocab);
        free(c);
        c = NULL;
    }
    cJSON_Delete(header);
    modelfile_free(&mf);
    return c;
}

void classifier_free(Classifier *c) {
    if (!c) return;
    c->kind->free(c->state);
    vocab_free(c->vocab);
    free(c->header_json);
    free(c);
}

const char *classifier_kind(const Classifier *c) { return c->kind->name; }
const char *classifier_version(const Classifier *c) { return c->version; }
const char *classifier_header_json(const Classifier *c) { return c->header_json; }

ClassifierBatch *classifier_batch_new(const Classifier *c, int max_batch) {
    if (max_batch < 1) max_batch = 1;
    ClassifierBatch *b = callocCheck(1, sizeof *b);
    size_t B = (size_t)max_batch, T = (size_t)c->text.max_tokens;
    b->c = c;
    b->max_batch = max_batch;
    b->T = (int)T;
    b->tp = text_pipeline_new(&c->text);
    b->ids = mallocCheck(B * T * sizeof(int32_t));
    b->len = mallocCheck(B * sizeof(int));
    b->noov = mallocCheck(B * sizeof(int));
    b->p = mallocCheck(B * sizeof(float));
    b->set = mallocCheck(B);
    b->key_stride = T * (TEXT_MAX_TOKEN_BYTES + 1) + 1;
    b->keys = mallocCheck(B * b->key_stride);
    b->key_len = mallocCheck(B * sizeof(size_t));
    b->g_ids = mallocCheck(B * T * sizeof(int32_t));
    b->g_len = mallocCheck(B * sizeof(int));
    b->g_slot = mallocCheck(B * sizeof(int));
    b->g_p = mallocCheck(B * sizeof(float));
    b->kscratch = c->kind->scratch_new(c->state, max_batch, (int)T);
    return b;
}

void classifier_batch_free(ClassifierBatch *b) {
    if (!b) return;
    b->c->kind->scratch_free(b->kscratch);
    text_pipeline_free(b->tp);
    free(b->ids);
    free(b->len);
    free(b->noov);
    free(b->p);
    free(b->set);
    free(b->keys);
    free(b->key_len);
    free(b->g_ids);
    free(b->g_len);
    free(b->g_slot);
    free(b->g_p);
    free(b);
}

void classifier_batch_reset(ClassifierBatch *b) { b->n = 0; }

int classifier_batch_add(ClassifierBatch *b, const char *text, size_t len) {
    if (b->n == b->max_batch) return -1;
    int slot = b->n++;
    int n = text_tokenize(b->tp, text, len, &b->toks);
    b->len[slot] = n;
    b->noov[slot] = vocab_encode(b->c->vocab, b->toks.tok, b->toks.len, n, b->ids + (size_t)slot * b->T);
    b->key_len[slot] = text_tokens_join(&b->toks, b->keys + (size_t)slot * b->key_stride, b->key_stride);
    b->set[slot] = 0;
    b->p[slot] = NAN;
    return slot;
}

int classifier_batch_ntokens(const ClassifierBatch *b, int slot) { return b->len[slot]; }
int classifier_batch_noov(const ClassifierBatch *b, int slot) { return b->noov[slot]; }

const char *classifier_batch_key(const ClassifierBatch *b, int slot, size_t *len) {
    if (len) *len = b->key_len[slot];
    return b->keys + (size_t)slot * b->key_stride;
}

void classifier_batch_set(ClassifierBatch *b, int slot, float p_positive) {
    b->set[slot] = 1;
    b->p[slot] = p_positive;
}

void classifier_batch_score(ClassifierBatch *b) {
    int m = 0;
    size_t T = (size_t)b->T, at = 0;
    for (int s = 0; s < b->n; s++) {
        if (b->set[s]) continue;
        memcpy(b->g_ids + at, b->ids + (size_t)s * T, (size_t)b->len[s] * sizeof(int32_t));
        at += (size_t)b->len[s];
        b->g_len[m] = b->len[s];
        b->g_slot[m] = s;
        m++;
    }
    if (m == 0) return;
    b->c->kind->score(b->c->state, b->kscratch, b->g_ids, b->g_len, m, b->g_p);
    for (int k = 0; k < m; k++) b->p[b->g_slot[k]] = b->g_p[k];
}

float classifier_batch_p(const ClassifierBatch *b, int slot) { return b->p[slot]; }

double classifier_round_p(float p) { return round((double)p * 1e6) / 1e6; }
