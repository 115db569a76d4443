/* corpus.c — tokenising and encoding a dataset against a training-rows vocabulary
 * (see corpus.h). */
#include "model/corpus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/progress.h"
#include "model/util.h"

int corpus_build(const Dataset *d, const int *train, int n_train, const TextConfig *tc, int64_t min_count,
                 int32_t max_vocab, int quiet, Corpus *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    if (n_train <= 0) {
        snprintf(err, errlen, "no training rows to build a vocabulary from");
        return -1;
    }
    double t0 = util_now_s();
    TextPipeline *tp = text_pipeline_new(tc);
    TextTokens toks;
    uint8_t *is_train = callocCheck((size_t)d->n, 1);
    for (int i = 0; i < n_train; i++) is_train[train[i]] = 1;

    /* pass 1: training rows, interned (counted) into provisional ids, in row order */
    int64_t *ntok = callocCheck((size_t)d->n, sizeof(int64_t));
    size_t cap = (size_t)n_train * 16 + 1024, used = 0;
    int32_t *prov = mallocCheck(cap * sizeof(int32_t));
    VocabBuilder *vb = vocab_builder_new();
    Progress p;
    progress_start(&p, "tokenising", d->n);
    p.quiet = quiet;
    for (int i = 0; i < d->n; i++) {
        if (!is_train[i]) continue;
        int n = text_tokenize(tp, dataset_text(d, i), dataset_len(d, i), &toks);
        if (used + (size_t)n > cap) {
            cap *= 2;
            prov = reallocCheck(prov, cap * sizeof(int32_t));
        }
        for (int k = 0; k < n; k++) prov[used++] = vocab_builder_add(vb, toks.tok[k], toks.len[k]);
        ntok[i] = n;
        if ((i & 4095) == 0) progress_update(&p, i);
    }
    int32_t *remap = NULL;
    out->vocab = vocab_builder_finish(vb, min_count, max_vocab, &remap);
    vocab_builder_free(vb);

    /* pass 2: the other rows are looked up; all rows land in row order */
    out->n = d->n;
    out->off = mallocCheck(((size_t)d->n + 1) * sizeof(int64_t));
    size_t cap2 = used + (size_t)(d->n - n_train) * 24 + 1024;
    out->ids = mallocCheck(cap2 * sizeof(int32_t));
    size_t at = 0, from = 0;
    for (int i = 0; i < d->n; i++) {
        out->off[i] = (int64_t)at;
        if (is_train[i]) {
            for (int64_t k = 0; k < ntok[i]; k++) out->ids[at++] = remap[prov[from++]];
        } else {
            int n = text_tokenize(tp, dataset_text(d, i), dataset_len(d, i), &toks);
            if (at + (size_t)n > cap2) {
                cap2 *= 2;
                out->ids = reallocCheck(out->ids, cap2 * sizeof(int32_t));
            }
            vocab_encode(out->vocab, toks.tok, toks.len, n, out->ids + at);
            at += (size_t)n;
        }
        if ((i & 4095) == 0) progress_update(&p, i);
    }
    out->off[d->n] = (int64_t)at;
    progress_update(&p, d->n);
    progress_finish(&p);
    out->tokens = (int64_t)at;
    for (size_t k = 0; k < at; k++) out->oov += out->ids[k] == VOCAB_UNK;
    out->seconds = util_now_s() - t0;
    free(remap);
    free(prov);
    free(ntok);
    free(is_train);
    text_pipeline_free(tp);
    return 0;
}

void corpus_free(Corpus *c) {
    vocab_free(c->vocab);
    free(c->off);
    free(c->ids);
    memset(c, 0, sizeof *c);
}

void corpus_part(const Corpus *c, const Dataset *d, const int *idx, int n, CorpusPart *part) {
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += c->off[idx[i] + 1] - c->off[idx[i]];
    part->off = mallocCheck(((size_t)n + 1) * sizeof(int64_t));
    part->ids = mallocCheck((size_t)(total ? total : 1) * sizeof(int32_t));
    part->label = mallocCheck((size_t)(n ? n : 1));
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        int r = idx[i];
        int64_t len = c->off[r + 1] - c->off[r];
        part->off[i] = at;
        memcpy(part->ids + at, c->ids + c->off[r], (size_t)len * sizeof(int32_t));
        at += len;
        part->label[i] = d->label[r];
    }
    part->off[n] = at;
    part->set = (SeqSet){.n = n, .off = part->off, .ids = part->ids, .label = part->label};
}

void corpus_part_free(CorpusPart *part) {
    free(part->off);
    free(part->ids);
    free(part->label);
    memset(part, 0, sizeof *part);
}
