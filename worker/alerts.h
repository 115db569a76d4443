/* alerts.h — the monitor's alert rules as pure functions: thresholds (DESIGN.md
 * defaults), adaptive baselines, significance tests, and the alert JSON of the
 * buzz.alerts topic. No Redis here: worker/monitor.c gathers the counters from Redis
 * and calls these rules, so every rule is unit-tested on plain numbers.
 *
 * Counters (AlertCounts) are integers so that Redis can add them exactly with
 * HINCRBY from many workers: probabilities and confidences are summed in millionths.
 *
 * Rules and their defaults (alert_rules_default):
 *   misclassification_burst  critical  >= 3 feedback-confirmed misclassifications in 5 min
 *   negative_surge           critical  over the recent window (5 min): >= 30 negative tweets,
 *                                      a negative share >= 0.15 above its baseline with a
 *                                      binomial z >= 4, AND a negative count above the
 *                                      baseline's expectation with a Poisson z >= 4
 *   prediction_skew          warning   > 80% of >= 100 predictions in one class (5 min), and
 *                                      significantly so: the binomial z of the major class
 *                                      against 80% >= 2 (a 69%-positive stream must not page
 *                                      on the noise of a quiet night's 100 tweets)
 *   vocabulary_drift         warning   > 10% of >= 1000 tokens unknown to the model (5 min)
 *   confidence_drop          warning   mean confidence of >= 100 tweets 0.10 below the day
 *                                      baseline (5 min)
 *   length_shift             warning   mean tokens per tweet of >= 100 tweets 30% away from
 *                                      the day baseline (5 min)
 *   latency_p95              critical  p95 > 200 ms in each of the last 10 minutes;
 *                            warning   p95 > 150 ms in each of the last 30 minutes
 *                                      (minutes with >= 20 latencies; others break a streak)
 *   error_rate               critical  > 5% of >= 100 messages dead-lettered or failed (1 h)
 *   monitor_unavailable      critical  Redis cannot be reached (raised by the monitor)
 *
 * Baselines are exponentially weighted moving averages of per-minute counters over an
 * hour (time constant 60 min) and a day (1440 min), bias-corrected so that they are
 * right from the first minute; they fold only minutes older than the recent window so a
 * surge never hides in its own baseline. Rules that compare with a baseline stay quiet
 * until it holds >= 30 minutes of traffic. The share test compares with the higher of
 * the hour and day baselines (a daily rhythm raises the hour one and nothing fires);
 * the count test compares with the hour baseline (volume follows the time of day).
 * Both must pass: more talk at the usual share (news, or a backlog replayed after
 * downtime, since buckets are by processing time) is not a bad buzz, and neither is a
 * higher share of a shrinking stream. */
#ifndef BUZZRADAR_ALERTS_H
#define BUZZRADAR_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "worker/terms.h"

typedef enum {
    ALERT_MISCLASSIFICATION_BURST = 0,
    ALERT_NEGATIVE_SURGE,
    ALERT_PREDICTION_SKEW,
    ALERT_VOCABULARY_DRIFT,
    ALERT_CONFIDENCE_DROP,
    ALERT_LENGTH_SHIFT,
    ALERT_LATENCY_P95,
    ALERT_ERROR_RATE,
    ALERT_MONITOR_UNAVAILABLE,
    ALERT_TYPE_COUNT
} AlertType;

typedef enum { ALERT_WARNING = 0, ALERT_CRITICAL = 1 } AlertSeverity;

/* "negative_surge"..., the alert's `type` and Kafka key; NULL for an invalid type. */
const char *alert_type_name(AlertType t);
/* Parses a type name. Returns 0, or -1 for an unknown name (out untouched). */
int alert_type_parse(const char *name, AlertType *out);
/* "warning" or "critical". */
const char *alert_severity_name(AlertSeverity s);

/* ---- counters ----------------------------------------------------------------------- */

/* Latency histogram bins (ms): upper edges 1, 2, 5, 10, 20, 50, 100, 150, 200, 300, 500,
 * 1000, 2000, 5000, +inf; bin i counts latencies in (edge[i-1], edge[i]]. */
enum { ALERT_LATENCY_BINS = 15 };
/* The upper edge of bin i in ms (+INFINITY for the last). */
double alert_latency_edge(int i);
/* The bin of a latency (negative and NaN latencies go to bin 0). */
int alert_latency_bin(double ms);
/* The q-quantile (0 < q < 1) of a histogram by linear interpolation inside its bin
 * (the last, open bin answers its lower edge). Returns -1 when the histogram is empty. */
double alert_latency_quantile(const int64_t bins[ALERT_LATENCY_BINS], double q);

/* Counters of one time bucket (a second, a minute) or of a sum of buckets. */
typedef struct {
    int64_t n;        /* tweets scored */
    int64_t neg;      /* ... predicted negative */
    int64_t p_micro;  /* sum of P(positive), in millionths */
    int64_t c_micro;  /* sum of confidence max(p, 1 - p), in millionths */
    int64_t tokens;   /* tokens over all tweets */
    int64_t oov;      /* ... unknown to the model */
    int64_t errors;   /* messages dead-lettered or failed */
    int64_t lat_n;    /* latencies observed (minute buckets only) */
    int64_t lat_warn; /* ... above the warning threshold */
    int64_t lat_crit; /* ... above the critical threshold */
    int64_t lat_bin[ALERT_LATENCY_BINS];
} AlertCounts;

/* a += b, every counter. */
void alert_counts_add(AlertCounts *a, const AlertCounts *b);

/* ---- baselines ---------------------------------------------------------------------- */

/* An exponentially weighted moving average of per-minute counters, bias-corrected:
 * mean = s / w. Zero-initialise, then fold minutes in time order. */
typedef struct {
    double w;                       /* sum of the weights (bias correction) */
    double n, neg, c_micro, tokens; /* weighted sums of the per-minute counters */
    int64_t minutes;                /* minutes folded since the first with traffic */
} AlertBaseline;

/* Folds one minute's counters with time constant tau_minutes (> 0). Minutes before the
 * first one with traffic are ignored (an empty history is not a baseline of zero). */
void alert_baseline_fold(AlertBaseline *b, double tau_minutes, const AlertCounts *minute);
/* Negative share (neg / n), mean confidence (0..1), mean tokens per tweet, and
 * negatives per minute of the baseline; 0 when it holds no traffic. */
double alert_baseline_share(const AlertBaseline *b);
double alert_baseline_confidence(const AlertBaseline *b);
double alert_baseline_length(const AlertBaseline *b);
double alert_baseline_neg_rate(const AlertBaseline *b);

/* ---- significance ------------------------------------------------------------------- */

/* One-sided z-score of k successes in n trials against share p0 (normal approximation
 * of the binomial): (k - n p0) / sqrt(n p0 (1 - p0)). p0 is clamped to [0.01, 0.99] so
 * a baseline of 0 or 1 never divides by zero. 0 when n == 0. */
double alert_binomial_z(double k, double n, double p0);
/* z-score of a count k against a Poisson mean lambda: (k - lambda) / sqrt(lambda);
 * lambda is floored at 1. */
double alert_poisson_z(double k, double lambda);

/* ---- rules -------------------------------------------------------------------------- */

typedef struct {
    int64_t window_ms; /* recent window of surge, skew, drift, confidence, length (300000) */
    /* misclassification_burst */
    int miscls_count;         /* 3 */
    int64_t miscls_window_ms; /* 300000 */
    /* negative_surge */
    int64_t surge_min_count; /* 30 negative tweets in the window */
    double surge_min_rise;   /* 0.15: share above the baseline share */
    double surge_z;          /* 4.0: both the share's and the count's z-scores */
    /* baselines */
    double baseline_hour_tau_min; /* 60 */
    double baseline_day_tau_min;  /* 1440 */
    int64_t baseline_min_minutes; /* 30 minutes of traffic before baseline rules fire */
    /* prediction_skew */
    double skew_share;      /* 0.80 */
    double skew_z;          /* 2.0: binomial z of the major class's count against skew_share (0: none) */
    int64_t skew_min_count; /* 100 */
    /* vocabulary_drift */
    double oov_share;       /* 0.10 */
    int64_t oov_min_tokens; /* 1000 */
    /* confidence_drop and length_shift */
    double confidence_drop;    /* 0.10 */
    double length_shift;       /* 0.30 (relative) */
    int64_t quality_min_count; /* 100 */
    /* latency_p95: "above" means more than 5% of the minute's latencies above */
    double latency_crit_ms;         /* 200 */
    int64_t latency_crit_for_ms;    /* 600000 */
    double latency_warn_ms;         /* 150 */
    int64_t latency_warn_for_ms;    /* 1800000 */
    int64_t latency_min_per_minute; /* 20 */
    /* error_rate */
    double error_rate;       /* 0.05 */
    int64_t error_window_ms; /* 3600000 */
    int64_t error_min_count; /* 100 */
    /* cool-down per type: an alert is raised at most once per period across workers; a
     * condition that lasts is raised again after it */
    int64_t cooldown_ms[ALERT_TYPE_COUNT]; /* 600000 (misclassification_burst 300000, error_rate 3600000) */
} AlertRules;

/* Fills r with the defaults above. */
void alert_rules_default(AlertRules *r);

/* Checks that every threshold makes sense (positive windows, shares in (0,1], ...).
 * Returns 0, or -1 with a one-line reason in err. */
int alert_rules_check(const AlertRules *r, char *err, size_t errlen);

/* Minutes of per-minute history the rules read (error window, latency streaks). */
int alert_rules_history_minutes(const AlertRules *r);

enum { ALERT_MAX_EXAMPLES = 10, ALERT_ID_MAX = 72, ALERT_MESSAGE_MAX = 640 };

/* One alert, as published. */
typedef struct {
    AlertType type;
    AlertSeverity severity;
    char message[ALERT_MESSAGE_MAX];
    int64_t window_s;
    double value, threshold;
    int n_examples;
    char examples[ALERT_MAX_EXAMPLES][ALERT_ID_MAX]; /* tweet ids */
    int64_t at_ms;                                   /* wall-clock ms of the evaluation */
} Alert;

/* What the rules look at. */
typedef struct {
    int64_t now_ms;
    AlertCounts recent;         /* the last window_ms, from per-second buckets */
    const AlertCounts *minutes; /* the last n_minutes complete minutes, oldest first */
    int n_minutes;              /* (minutes[n_minutes - 1] is the minute before now's) */
    const AlertBaseline *hour;  /* baselines (time constants of rules.baseline_*) */
    const AlertBaseline *day;
} AlertInputs;

/* Evaluates every windowed rule (all but misclassification_burst and
 * monitor_unavailable) and writes the alerts that fire into out (at most max, in
 * AlertType order; latency_p95 gives at most one alert: critical before warning).
 * Returns how many fired. Messages are complete except for negative_surge, whose terms
 * and examples the caller adds (alert_surge_describe). Pure: no I/O. */
int alerts_evaluate(const AlertRules *r, const AlertInputs *in, Alert *out, int max);

/* misclassification_burst: fires (returns 1 and fills *out) when count confirmed
 * misclassifications inside the window reach the threshold; ids are the window's
 * tweet ids (up to ALERT_MAX_EXAMPLES used). Returns 0 otherwise. */
int alerts_misclassification(const AlertRules *r, int64_t now_ms, int64_t count, const char *const *ids,
                             int n_ids, Alert *out);

/* monitor_unavailable for a Redis URL (without password) and the reason. */
void alerts_monitor_unavailable(int64_t now_ms, const char *url, const char *why, Alert *out);

/* Appends what the negative tweets talk about to a negative_surge message: the top
 * hashtags, mentions and words (most frequent first; n may be 0), e.g. "; hashtags
 * #lostluggage (57), #fail (12); mentions @airparadis (180); words bags (80)". Items that
 * do not fit in the message are left out whole (never a cut UTF-8 sequence). */
void alert_surge_describe(Alert *a, const TermCount *hashtags, int n_hashtags, const TermCount *mentions,
                          int n_mentions, const TermCount *words, int n_words);

/* Adds a tweet id to the examples (ignored when full or when the id does not fit). */
void alert_add_example(Alert *a, const char *id, size_t len);

/* Encodes the buzz.alerts value (DESIGN.md):
 *   {"type","severity","message","window_s","value","threshold","examples":[ids],
 *    "model_version","at"}
 * with value and threshold rounded to 4 decimals and `at` in RFC 3339 UTC. Returns a
 * malloc'ed NUL-terminated string (free() it), or NULL when memory runs out. */
char *alert_to_json(const Alert *a, const char *model_version);

#endif
