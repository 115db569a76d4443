/* train.c — one training run from a data file to a model file (see train.h). */
#include "model/train.h"

#include <cjson/cJSON.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "model/bilstm_train.h"
#include "model/corpus.h"
#include "model/kinds.h"
#include "model/modelfile.h"
#include "model/plot.h"
#include "model/split.h"
#include "model/util.h"
#include "model/vocab.h"

TrainConfig train_config_default(void) {
    TrainConfig c = {0};
    c.format = DATA_FORMAT_AUTO;
    c.kind = "bilstm";
    c.seed = 42;
    c.val_frac = 0.02;
    c.test_frac = 0.02;
    c.text = text_config_default();
    c.min_count = 5;
    c.max_vocab = 50000;
    c.w2v = w2v_config_default();
    c.bilstm = bilstm_config_default(2);
    /* the recipe of the shipped model (docs/model.md, run J): validation loss is lowest
     * after the second pass over 1.5M tweets, so plan 3 epochs with the step decaying
     * to 0 over them, validate and keep a moving average of the weights */
    c.bilstm.epochs = 3;
    c.bilstm.patience = 1;
    c.bilstm.lr_schedule = BILSTM_LR_COSINE;
    c.bilstm.ema = 0.9997f;
    c.bilstm.lr_decay = 0.5f; /* restore the best weights and halve the step on a plateau */
    c.tfidf = tfidf_lr_default_config();
    c.dense = w2v_dense_default_config();
    return c;
}

/* Rounds x to half precision in place, so the model evaluated here is exactly the
 * one a model file stores (embeddings are written as f16). */
static void train_round_f16(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = mf_f16_to_f32(mf_f32_to_f16(x[i]));
}

static long train_peak_rss_kb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* word2vec on the training rows: a (V, D) matrix the caller frees. */
static float *train_word2vec(const TrainConfig *cfg, const SeqSet *train, const Vocab *v, int threads,
                             cJSON *header) {
    W2VConfig wc = cfg->w2v;
    wc.threads = threads;
    wc.seed = cfg->seed;
    wc.progress = !cfg->quiet;
    int V = vocab_size(v);
    float *emb = mallocCheck((size_t)V * (size_t)wc.dim * sizeof(float));
    double t0 = util_now_s();
    if (w2v_train(train, vocab_counts(v), V, &wc, emb)) util_die("word2vec: invalid configuration");
    double secs = util_now_s() - t0;
    cJSON *w = cJSON_AddObjectToObject(header, "word2vec");
    cJSON_AddNumberToObject(w, "dim", wc.dim);
    cJSON_AddNumberToObject(w, "window", wc.window);
    cJSON_AddNumberToObject(w, "negative", wc.negative);
    cJSON_AddNumberToObject(w, "sample", wc.sample);
    cJSON_AddNumberToObject(w, "alpha", wc.alpha);
    cJSON_AddNumberToObject(w, "epochs", wc.epochs);
    cJSON_AddNumberToObject(w, "seconds", secs);
    if (!cfg->quiet) fprintf(stderr, "word2vec: %d words x %d dims in %.1f s\n", V, wc.dim, secs);
    return emb;
}

static void add_epoch(cJSON *history, int epoch, double train_loss, double val_loss, double train_acc,
                      double val_acc, double secs) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "epoch", epoch);
    cJSON_AddNumberToObject(e, "train_loss", train_loss);
    if (val_loss == val_loss) cJSON_AddNumberToObject(e, "val_loss", val_loss);
    if (train_acc >= 0) cJSON_AddNumberToObject(e, "train_acc", train_acc);
    if (val_acc >= 0) cJSON_AddNumberToObject(e, "val_acc", val_acc);
    if (secs >= 0) cJSON_AddNumberToObject(e, "seconds", secs);
    cJSON_AddItemToArray(history, e);
}

/* Fits the configured kind on tr (choosing epochs on va), predicts te into p, and
 * appends the kind's tensors to a writer it returns (NULL + err on failure). The
 * header gets "hyper" and "history". */
static ModelWriter *train_fit(const TrainConfig *cfg, const Corpus *c, const SeqSet *tr, const SeqSet *va,
                              const SeqSet *te, int threads, cJSON *header, float *p, char *err,
                              size_t errlen) {
    int V = vocab_size(c->vocab);
    cJSON *hyper = cJSON_AddObjectToObject(header, "hyper");
    cJSON *history = cJSON_AddArrayToObject(header, "history");
    /* the header is complete only after fitting: tensors are staged in a writer
     * whose header is replaced at the end (see train_run) */
    ModelWriter *w = NULL;
    if (!strcmp(cfg->kind, "tfidf-lr")) {
        TfidfLrConfig tc = cfg->tfidf;
        tc.seed = cfg->seed;
        tc.verbose = !cfg->quiet;
        TfidfLr *m = tfidf_lr_fit(tr, V, &tc, err, errlen);
        if (!m) return NULL;
        tfidf_lr_predict(m, te, p);
        cJSON_AddNumberToObject(hyper, "bigram_bits", m->bigram_bits);
        cJSON_AddNumberToObject(hyper, "sublinear_tf", m->sublinear_tf);
        cJSON_AddNumberToObject(hyper, "c", tc.c);
        cJSON_AddNumberToObject(hyper, "lr", tc.lr);
        cJSON_AddNumberToObject(hyper, "epochs", tc.epochs);
        cJSON_AddNumberToObject(hyper, "batch_size", tc.batch_size);
        for (int e = 0; e < m->epochs_run; e++) add_epoch(history, e + 1, m->train_loss[e], NAN, -1, -1, -1);
        w = modelwriter_new("{}");
        kind_tfidf_lr_save(w, m);
        tfidf_lr_free(m);
    } else if (!strcmp(cfg->kind, "w2v-dense")) {
        float *emb = train_word2vec(cfg, tr, c->vocab, threads, header);
        W2vDenseConfig dc = cfg->dense;
        dc.seed = cfg->seed;
        dc.verbose = !cfg->quiet;
        W2vDense *m = w2v_dense_fit(tr, va, emb, V, cfg->w2v.dim, &dc, err, errlen);
        free(emb);
        if (!m) return NULL;
        train_round_f16(m->embedding, (size_t)V * (size_t)m->dim);
        w2v_dense_predict(m, te, p);
        cJSON_AddNumberToObject(hyper, "dim", m->dim);
        cJSON_AddNumberToObject(hyper, "hidden", m->hidden);
        cJSON_AddNumberToObject(hyper, "lr", dc.lr);
        cJSON_AddNumberToObject(hyper, "batch_size", dc.batch_size);
        cJSON_AddNumberToObject(hyper, "patience", dc.patience);
        cJSON_AddNumberToObject(hyper, "best_epoch", m->best_epoch + 1);
        for (int e = 0; e < m->epochs_run; e++)
            add_epoch(history, e + 1, m->train_loss[e], m->val_loss[e], -1, -1, -1);
        w = modelwriter_new("{}");
        kind_w2v_dense_save(w, m);
        w2v_dense_free(m);
    } else {
        float *emb = train_word2vec(cfg, tr, c->vocab, threads, header);
        BilstmConfig bc = cfg->bilstm;
        bc.V = V;
        bc.E = cfg->w2v.dim;
        bc.T = cfg->text.max_tokens;
        bc.seed = cfg->seed;
        bc.threads = threads;
        if (bilstm_config_check(&bc, err, errlen)) {
            free(emb);
            return NULL;
        }
        BiLSTM *m = bilstm_new(&bc, emb);
        free(emb);
        BilstmFitOptions fo = {.quiet = cfg->quiet, .log = NULL};
        BilstmHistory *hist = callocCheck(1, sizeof *hist);
        bilstm_fit(m, tr, va, &fo, hist);
        size_t count;
        train_round_f16(bilstm_params(m, &count), (size_t)V * (size_t)bc.E);
        bilstm_predict(m, te, p, threads);
        cJSON_AddNumberToObject(hyper, "E", bc.E);
        cJSON_AddNumberToObject(hyper, "H", bc.H);
        cJSON_AddNumberToObject(hyper, "dense", bc.dense);
        cJSON_AddNumberToObject(hyper, "T", bc.T);
        cJSON_AddNumberToObject(hyper, "pooling", bc.pooling);
        cJSON_AddNumberToObject(hyper, "dropout", bc.dropout);
        cJSON_AddNumberToObject(hyper, "lr", bc.lr);
        cJSON_AddNumberToObject(hyper, "batch", bc.batch);
        cJSON_AddNumberToObject(hyper, "epochs", bc.epochs);
        cJSON_AddNumberToObject(hyper, "patience", bc.patience);
        cJSON_AddNumberToObject(hyper, "clip", bc.clip);
        cJSON_AddNumberToObject(hyper, "lr_decay", bc.lr_decay);
        cJSON_AddStringToObject(hyper, "lr_schedule", bilstm_schedule_name(bc.lr_schedule));
        cJSON_AddNumberToObject(hyper, "emb_lr_scale", bc.emb_lr_scale);
        cJSON_AddNumberToObject(hyper, "ema", bc.ema);
        cJSON_AddNumberToObject(hyper, "best_epoch", hist->best + 1);
        cJSON_AddNumberToObject(hyper, "train_tweets_per_s", hist->tweets_per_s);
        for (int e = 0; e < hist->n; e++) {
            const BilstmEpoch *ep = &hist->epoch[e];
            add_epoch(history, e + 1, ep->train_loss, ep->val_loss, ep->train_acc, ep->val_acc, ep->seconds);
        }
        free(hist);
        w = modelwriter_new("{}");
        kind_bilstm_save(w, m);
        bilstm_free(m);
    }
    return w;
}

/* Reads field k of every epoch of the header's history into out (NaN when absent);
 * returns 1 when any epoch has it. */
static int train_history_field(const cJSON *history, const char *k, float *out) {
    int any = 0, i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, history) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, k);
        out[i++] = cJSON_IsNumber(v) ? (float)v->valuedouble : NAN;
        any |= cJSON_IsNumber(v);
    }
    return any;
}

/* Draws the learning curves kept in the header to path (a warning on failure: the
 * model file is what matters). */
static void train_plot_curves(const cJSON *header, const char *kind, int n_train, const char *path,
                              int quiet) {
    const cJSON *history = cJSON_GetObjectItemCaseSensitive(header, "history");
    int n = cJSON_GetArraySize(history);
    if (n < 1) return;
    float *f = mallocCheck(4 * (size_t)n * sizeof(float));
    char title[128], err[256];
    snprintf(title, sizeof title, "%s, %d training tweets", kind, n_train);
    PlotCurves c = {.n_epochs = n, .title = title};
    c.train_loss = train_history_field(history, "train_loss", f) ? f : NULL;
    c.val_loss = train_history_field(history, "val_loss", f + n) ? f + n : NULL;
    c.train_acc = train_history_field(history, "train_acc", f + 2 * n) ? f + 2 * n : NULL;
    c.val_acc = train_history_field(history, "val_acc", f + 3 * n) ? f + 3 * n : NULL;
    c.best_epoch = kind_json_int(cJSON_GetObjectItemCaseSensitive(header, "hyper"), "best_epoch", 0);
    if (plot_learning_curves(path, &c, err, sizeof err))
        fprintf(stderr, "warning: %s\n", err);
    else if (!quiet)
        fprintf(stderr, "learning curves: %s\n", path);
    free(f);
}

int train_run(const TrainConfig *cfg, TrainResult *res, char *err, size_t errlen) {
    memset(res, 0, sizeof *res);
    double t0 = util_now_s();
    if (strcmp(cfg->kind, "bilstm") && strcmp(cfg->kind, "tfidf-lr") && strcmp(cfg->kind, "w2v-dense")) {
        snprintf(err, errlen, "unknown model kind '%s' (bilstm, tfidf-lr, w2v-dense)", cfg->kind);
        return -1;
    }
    int threads = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;

    DatasetOptions dopt = dataset_options_default();
    dopt.format = cfg->format;
    dopt.limit = cfg->limit;
    dopt.seed = cfg->seed;
    dopt.quiet = cfg->quiet;
    Dataset d;
    if (dataset_load(cfg->data, &dopt, &d, err, errlen)) return -1;

    double frac[SPLIT_PARTS] = {1.0 - cfg->val_frac - cfg->test_frac, cfg->val_frac, cfg->test_frac};
    DataSplit sp;
    if (split_make(d.label, NULL, d.n, frac, cfg->seed, 1, &sp, err, errlen)) {
        dataset_free(&d);
        return -1;
    }
    if (sp.n[SPLIT_TRAIN] < 2 || sp.n[SPLIT_VAL] < 1 || sp.n[SPLIT_TEST] < 1) {
        snprintf(err, errlen, "%s: %d rows are too few to split into train/validation/test", cfg->data, d.n);
        split_free(&sp);
        dataset_free(&d);
        return -1;
    }
    Corpus c;
    if (corpus_build(&d, sp.part[SPLIT_TRAIN], sp.n[SPLIT_TRAIN], &cfg->text, cfg->min_count, cfg->max_vocab,
                     cfg->quiet, &c, err, errlen)) {
        split_free(&sp);
        dataset_free(&d);
        return -1;
    }
    CorpusPart tr, va, te;
    corpus_part(&c, &d, sp.part[SPLIT_TRAIN], sp.n[SPLIT_TRAIN], &tr);
    corpus_part(&c, &d, sp.part[SPLIT_VAL], sp.n[SPLIT_VAL], &va);
    corpus_part(&c, &d, sp.part[SPLIT_TEST], sp.n[SPLIT_TEST], &te);
    res->n_train = tr.set.n;
    res->n_val = va.set.n;
    res->n_test = te.set.n;
    res->vocab_size = vocab_size(c.vocab);
    if (!cfg->quiet)
        fprintf(stderr,
                "corpus: %d rows (%d train, %d validation, %d test), %lld tokens, vocabulary %d, "
                "%.2f%% unknown, %.1f s\n",
                d.n, tr.set.n, va.set.n, te.set.n, (long long)c.tokens, res->vocab_size,
                c.tokens ? 100.0 * (double)c.oov / (double)c.tokens : 0.0, c.seconds);

    cJSON *header = cJSON_CreateObject();
    float *p = mallocCheck((size_t)te.set.n * sizeof(float));
    ModelWriter *staged = train_fit(cfg, &c, &tr.set, &va.set, &te.set, threads, header, p, err, errlen);
    int rc = -1;
    if (staged) {
        metrics_compute(te.set.label, p, (size_t)te.set.n, &res->test);
        res->seconds = util_now_s() - t0;
        res->peak_rss_kb = train_peak_rss_kb();

        char stamp[32], version[96];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
        snprintf(version, sizeof version, "%s-%s", cfg->kind, stamp);
        cJSON_AddStringToObject(header, "kind", cfg->kind);
        cJSON_AddStringToObject(header, "version", version);
        char created[40];
        cJSON_AddStringToObject(header, "created_at", util_rfc3339(util_wall_ms(), created, sizeof created));
        cJSON_AddNumberToObject(header, "vocab_size", res->vocab_size);
        cJSON *tok = cJSON_AddObjectToObject(header, "tokenizer");
        cJSON_AddNumberToObject(tok, "pipeline_version", TEXT_PIPELINE_VERSION);
        cJSON_AddNumberToObject(tok, "max_tokens", cfg->text.max_tokens);
        cJSON_AddBoolToObject(tok, "stem", cfg->text.stem);
        cJSON_AddBoolToObject(tok, "fix_mojibake", cfg->text.fix_mojibake);
        cJSON_AddNumberToObject(tok, "min_count", (double)cfg->min_count);
        cJSON_AddNumberToObject(tok, "max_vocab", cfg->max_vocab);
        cJSON *td = cJSON_AddObjectToObject(header, "training");
        char data_copy[4096];
        snprintf(data_copy, sizeof data_copy, "%s", cfg->data);
        cJSON_AddStringToObject(td, "data", basename(data_copy));
        cJSON_AddStringToObject(td, "format", dataset_format_name(d.format));
        cJSON_AddNumberToObject(td, "rows", d.n);
        cJSON_AddNumberToObject(td, "limit", (double)cfg->limit);
        cJSON_AddNumberToObject(td, "train_rows", tr.set.n);
        cJSON_AddNumberToObject(td, "val_rows", va.set.n);
        cJSON_AddNumberToObject(td, "test_rows", te.set.n);
        cJSON_AddNumberToObject(td, "tokens", (double)c.tokens);
        cJSON_AddNumberToObject(td, "seed", (double)cfg->seed);
        cJSON_AddNumberToObject(td, "threads", threads);
        cJSON_AddNumberToObject(td, "seconds", res->seconds);
        cJSON_AddNumberToObject(td, "peak_rss_mb", (double)res->peak_rss_kb / 1024.0);
        char mjson[1024];
        metrics_to_json(&res->test, mjson, sizeof mjson);
        cJSON_AddItemToObject(header, "metrics", cJSON_Parse(mjson));
        char *header_str = cJSON_PrintUnformatted(header);

        /* the final file: this header, the vocabulary, then the staged tensors */
        ModelWriter *w = modelwriter_new(header_str);
        size_t blob_len;
        uint8_t *blob = vocab_serialize(c.vocab, &blob_len);
        int64_t blob_dims[1] = {(int64_t)blob_len};
        modelwriter_add(w, "vocab", MF_U8, 1, blob_dims, blob);
        free(blob);
        modelwriter_append(w, staged);
        const char *out = cfg->out;
        char default_out[64];
        if (!out) {
            snprintf(default_out, sizeof default_out, "%s.model", cfg->kind);
            out = default_out;
        }
        rc = modelwriter_finish(w, out, err, errlen);
        if (!rc && !cfg->quiet) fprintf(stderr, "wrote %s (%s)\n", out, version);
        if (!rc && (!cfg->curves || cfg->curves[0])) {
            char curves[4200];
            snprintf(curves, sizeof curves, "%s", cfg->curves ? cfg->curves : out);
            if (!cfg->curves) strncat(curves, ".png", sizeof curves - strlen(curves) - 1);
            train_plot_curves(header, cfg->kind, tr.set.n, curves, cfg->quiet);
        }
        free(header_str);
    }
    free(p);
    cJSON_Delete(header);
    corpus_part_free(&tr);
    corpus_part_free(&va);
    corpus_part_free(&te);
    corpus_free(&c);
    split_free(&sp);
    dataset_free(&d);
    return rc;
}
