/* metrics.c — confusion matrix, F1, exact ROC AUC and log loss of binary predictions
 * (contracts in metrics.h). */
#include "model/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/util.h"

typedef struct {
    float score;
    uint8_t label;
} ScoredLabel;

static int scored_label_cmp(const void *a, const void *b) {
    float x = ((const ScoredLabel *)a)->score, y = ((const ScoredLabel *)b)->score;
    return (x > y) - (x < y);
}

double metrics_auc(const uint8_t *labels, const float *p, size_t n) {
    int64_t npos = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(p[i])) return NAN;
        npos += labels[i] != 0;
    }
    int64_t nneg = (int64_t)n - npos;
    if (npos == 0 || nneg == 0) return NAN;

    ScoredLabel *s = mallocCheck(n * sizeof *s);
    for (size_t i = 0; i < n; i++) s[i] = (ScoredLabel){p[i], labels[i] != 0};
    qsort(s, n, sizeof *s, scored_label_cmp);

    /* Mann-Whitney: rank the scores ascending (1-based), tied scores sharing the
     * mean of their ranks; U = (sum of the positives' ranks) - npos (npos + 1) / 2
     * and AUC = U / (npos nneg). A tie group at 0-based positions [i, j) has ranks
     * i+1 .. j, mean (i + 1 + j) / 2, so twice the rank sum stays an exact integer. */
    int64_t twice_rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        int64_t pos_in_group = 0;
        while (j < n && s[j].score == s[i].score) pos_in_group += s[j++].label;
        twice_rank_sum += pos_in_group * (int64_t)(i + 1 + j);
        i = j;
    }
    free(s);
    int64_t twice_u = twice_rank_sum - npos * (npos + 1);
    return (double)twice_u / (2.0 * (double)npos * (double)nneg);
}

/* 2 tp / (2 tp + fp + fn), which is 2 P R / (P + R), and 0 when that is 0/0. */
static double f1_of(int64_t tp, int64_t fp, int64_t fn) {
    int64_t den = 2 * tp + fp + fn;
    return den > 0 ? 2.0 * (double)tp / (double)den : 0.0;
}

static void metrics_empty(Metrics *m) { *m = (Metrics){.accuracy = NAN, .auc = NAN, .logloss = NAN}; }

int metrics_compute(const uint8_t *labels, const float *p, size_t n, Metrics *m) {
    metrics_empty(m);
    for (size_t i = 0; i < n; i++)
        if (labels[i] > 1 || isnan(p[i])) return -1;
    if (n == 0) return 0;

    double ll = 0.0;
    for (size_t i = 0; i < n; i++) {
        int y = labels[i], yhat = metrics_is_positive(p[i]);
        m->tp += y && yhat;
        m->fp += !y && yhat;
        m->fn += y && !yhat;
        m->tn += !y && !yhat;
        double q = fmin(fmax((double)p[i], METRICS_LOGLOSS_EPS), 1.0 - METRICS_LOGLOSS_EPS);
        ll -= y ? log(q) : log1p(-q);
    }
    m->n = (int64_t)n;
    m->accuracy = (double)(m->tp + m->tn) / (double)n;
    m->precision = m->tp + m->fp > 0 ? (double)m->tp / (double)(m->tp + m->fp) : 0.0;
    m->recall = m->tp + m->fn > 0 ? (double)m->tp / (double)(m->tp + m->fn) : 0.0;
    m->f1_positive = f1_of(m->tp, m->fp, m->fn);
    /* the negative class's F1: its true positives are tn, its false positives fn */
    m->f1_macro = 0.5 * (m->f1_positive + f1_of(m->tn, m->fn, m->fp));
    m->auc = metrics_auc(labels, p, n);
    m->logloss = ll / (double)n;
    return 0;
}

/* A bounded text being built with snprintf's contract: at counts every byte the
 * whole text needs, buf holds what fits and stays NUL-terminated. */
typedef struct {
    char *buf;
    size_t len;
    size_t at;
} JsonOut;

static void json_printf(JsonOut *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void json_printf(JsonOut *o, const char *fmt, ...) {
    char *dst = o->at < o->len ? o->buf + o->at : NULL;
    size_t room = o->at < o->len ? o->len - o->at : 0;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (w > 0) o->at += (size_t)w;
}

static void json_real(JsonOut *o, const char *key, double v) {
    if (isfinite(v))
        json_printf(o, "\"%s\":%.6g,", key, v);
    else
        json_printf(o, "\"%s\":null,", key);
}

static void json_fields(JsonOut *o, const Metrics *m) {
    json_printf(o, "\"n\":%lld,", (long long)m->n);
    json_real(o, "accuracy", m->accuracy);
    json_real(o, "precision", m->precision);
    json_real(o, "recall", m->recall);
    json_real(o, "f1_positive", m->f1_positive);
    json_real(o, "f1_macro", m->f1_macro);
    json_real(o, "auc", m->auc);
    json_real(o, "logloss", m->logloss);
    json_printf(o, "\"confusion\":{\"tn\":%lld,\"fp\":%lld,\"fn\":%lld,\"tp\":%lld}", (long long)m->tn,
                (long long)m->fp, (long long)m->fn, (long long)m->tp);
}

int metrics_to_json_fields(const Metrics *m, char *buf, size_t len) {
    JsonOut o = {buf, len, 0};
    if (len > 0) buf[0] = '\0';
    json_fields(&o, m);
    return (int)o.at;
}

int metrics_to_json(const Metrics *m, char *buf, size_t len) {
    JsonOut o = {buf, len, 0};
    if (len > 0) buf[0] = '\0';
    json_printf(&o, "{");
    json_fields(&o, m);
    json_printf(&o, "}");
    return (int)o.at;
}
