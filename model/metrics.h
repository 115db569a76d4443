/* metrics.h — quality metrics of a binary sentiment classifier: the numbers that
 * `buzzradar evaluate` prints and that the model file keeps for its held-out split.
 *
 * Inputs are true labels (0 negative, 1 positive) and predicted probabilities of the
 * positive class. A tweet is predicted positive when p >= METRICS_THRESHOLD (0.5);
 * every part of buzzradar labels through metrics_is_positive() so they all agree.
 *
 * Degenerate cases (all defined, none crash):
 *   - precision with no predicted positive, recall with no true positive, and an F1
 *     whose precision and recall are both 0 are 0 (scikit-learn's zero_division=0);
 *   - AUC with only one class present is undefined: NaN, written as null in JSON;
 *   - with n == 0, accuracy, AUC and log loss are NaN (null in JSON), counts are 0. */
#ifndef BUZZRADAR_METRICS_H
#define BUZZRADAR_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_THRESHOLD   0.5f
#define METRICS_LOGLOSS_EPS 1e-7 /* probabilities are clipped to [eps, 1 - eps] */

typedef struct {
    int64_t n;
    int64_t tn, fp, fn, tp; /* confusion matrix at METRICS_THRESHOLD */
    double accuracy;        /* (tp + tn) / n */
    double precision;       /* tp / (tp + fp) of the positive class */
    double recall;          /* tp / (tp + fn) of the positive class */
    double f1_positive;     /* 2 tp / (2 tp + fp + fn) */
    double f1_macro;        /* mean of the positive and the negative class's F1 */
    double auc;             /* exact ROC AUC (Mann-Whitney U, ties count one half) */
    double logloss;         /* mean binary cross-entropy, p clipped at METRICS_LOGLOSS_EPS */
} Metrics;

/* 1 when p is a positive prediction (p >= METRICS_THRESHOLD), else 0. */
static inline int metrics_is_positive(float p) { return p >= METRICS_THRESHOLD; }

/* Computes every metric of n predictions in O(n log n). labels[i] must be 0 or 1
 * and p[i] a probability (NaN is not one). Returns 0 on success; on an invalid
 * label or a NaN probability returns -1 and leaves *m as for n == 0. Allocates
 * O(n) scratch for the AUC (exits on out-of-memory). */
int metrics_compute(const uint8_t *labels, const float *p, size_t n, Metrics *m);

/* Exact ROC AUC alone (same definition and cost as in metrics_compute): the
 * probability that a random positive scores above a random negative, ties counting
 * one half. NaN when either class is absent or when a score is NaN. */
double metrics_auc(const uint8_t *labels, const float *p, size_t n);

/* Writes m as one JSON object with the keys of `buzzradar evaluate`, in this order:
 * {"n":..,"accuracy":..,"precision":..,"recall":..,"f1_positive":..,"f1_macro":..,
 *  "auc":..,"logloss":..,"confusion":{"tn":..,"fp":..,"fn":..,"tp":..}}
 * Reals have 6 significant digits; NaN is written as null. Returns what snprintf
 * returns: the length of the whole text (the output is cut when that is >= len). */
int metrics_to_json(const Metrics *m, char *buf, size_t len);

/* The same members without the enclosing braces ("n":..,...,"confusion":{...}), for
 * callers that add their own keys to the object (model, seconds). Same return. */
int metrics_to_json_fields(const Metrics *m, char *buf, size_t len);

#endif
