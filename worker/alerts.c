/* alerts.c — alert rules, baselines, significance tests and alert JSON (see alerts.h). */
#include "worker/alerts.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "model/util.h"

static const char *const type_names[ALERT_TYPE_COUNT] = {
    "misclassification_burst", "negative_surge", "prediction_skew", "vocabulary_drift",
    "confidence_drop",         "length_shift",   "latency_p95",     "error_rate",
    "monitor_unavailable",
};

const char *alert_type_name(AlertType t) { return (unsigned)t < ALERT_TYPE_COUNT ? type_names[t] : NULL; }

int alert_type_parse(const char *name, AlertType *out) {
    for (int i = 0; i < ALERT_TYPE_COUNT; i++)
        if (!strcmp(name, type_names[i])) {
            *out = (AlertType)i;
            return 0;
        }
    return -1;
}

const char *alert_severity_name(AlertSeverity s) { return s == ALERT_CRITICAL ? "critical" : "warning"; }

/* ---- counters ----------------------------------------------------------------------- */

static const double latency_edges[ALERT_LATENCY_BINS] = {1,   2,   5,   10,   20,   50,   100,     150,
                                                         200, 300, 500, 1000, 2000, 5000, INFINITY};

double alert_latency_edge(int i) { return latency_edges[i]; }

int alert_latency_bin(double ms) {
    if (!(ms > latency_edges[0])) return 0;  /* also NaN */
    int lo = 1, hi = ALERT_LATENCY_BINS - 1; /* first edge >= ms */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (latency_edges[mid] >= ms)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

double alert_latency_quantile(const int64_t bins[ALERT_LATENCY_BINS], double q) {
    int64_t total = 0;
    for (int i = 0; i < ALERT_LATENCY_BINS; i++) total += bins[i];
    if (total <= 0) return -1;
    double rank = q * (double)total, seen = 0;
    for (int i = 0; i < ALERT_LATENCY_BINS; i++) {
        if (bins[i] == 0) continue;
        if (seen + (double)bins[i] >= rank) {
            double lo = i == 0 ? 0 : latency_edges[i - 1];
            if (i == ALERT_LATENCY_BINS - 1) return lo;
            return lo + (latency_edges[i] - lo) * ((rank - seen) / (double)bins[i]);
        }
        seen += (double)bins[i];
    }
    return latency_edges[ALERT_LATENCY_BINS - 2];
}

void alert_counts_add(AlertCounts *a, const AlertCounts *b) {
    a->n += b->n;
    a->neg += b->neg;
    a->p_micro += b->p_micro;
    a->c_micro += b->c_micro;
    a->tokens += b->tokens;
    a->oov += b->oov;
    a->errors += b->errors;
    a->lat_n += b->lat_n;
    a->lat_warn += b->lat_warn;
    a->lat_crit += b->lat_crit;
    for (int i = 0; i < ALERT_LATENCY_BINS; i++) a->lat_bin[i] += b->lat_bin[i];
}

/* ---- baselines ---------------------------------------------------------------------- */

void alert_baseline_fold(AlertBaseline *b, double tau_minutes, const AlertCounts *m) {
    if (b->minutes == 0 && m->n == 0) return;
    double a = 1.0 - exp(-1.0 / tau_minutes), d = 1.0 - a;
    b->w = d * b->w + a;
    b->n = d * b->n + a * (double)m->n;
    b->neg = d * b->neg + a * (double)m->neg;
    b->c_micro = d * b->c_micro + a * (double)m->c_micro;
    b->tokens = d * b->tokens + a * (double)m->tokens;
    b->minutes++;
}

double alert_baseline_share(const AlertBaseline *b) { return b->n > 0 ? b->neg / b->n : 0; }
double alert_baseline_confidence(const AlertBaseline *b) { return b->n > 0 ? b->c_micro / 1e6 / b->n : 0; }
double alert_baseline_length(const AlertBaseline *b) { return b->n > 0 ? b->tokens / b->n : 0; }
double alert_baseline_neg_rate(const AlertBaseline *b) { return b->w > 0 ? b->neg / b->w : 0; }

/* ---- significance ------------------------------------------------------------------- */

double alert_binomial_z(double k, double n, double p0) {
    if (n <= 0) return 0;
    if (p0 < 0.01) p0 = 0.01;
    if (p0 > 0.99) p0 = 0.99;
    return (k - n * p0) / sqrt(n * p0 * (1 - p0));
}

double alert_poisson_z(double k, double lambda) {
    if (lambda < 1) lambda = 1;
    return (k - lambda) / sqrt(lambda);
}

/* ---- rules -------------------------------------------------------------------------- */

void alert_rules_default(AlertRules *r) {
    memset(r, 0, sizeof *r);
    r->window_ms = 300000;
    r->miscls_count = 3;
    r->miscls_window_ms = 300000;
    r->surge_min_count = 30;
    r->surge_min_rise = 0.15;
    r->surge_z = 4.0;
    r->baseline_hour_tau_min = 60;
    r->baseline_day_tau_min = 1440;
    r->baseline_min_minutes = 30;
    r->skew_share = 0.80;
    r->skew_z = 2.0;
    r->skew_min_count = 100;
    r->oov_share = 0.10;
    r->oov_min_tokens = 1000;
    r->confidence_drop = 0.10;
    r->length_shift = 0.30;
    r->quality_min_count = 100;
    r->latency_crit_ms = 200;
    r->latency_crit_for_ms = 600000;
    r->latency_warn_ms = 150;
    r->latency_warn_for_ms = 1800000;
    r->latency_min_per_minute = 20;
    r->error_rate = 0.05;
    r->error_window_ms = 3600000;
    r->error_min_count = 100;
    for (int i = 0; i < ALERT_TYPE_COUNT; i++) r->cooldown_ms[i] = 600000;
    r->cooldown_ms[ALERT_MISCLASSIFICATION_BURST] = 300000;
    r->cooldown_ms[ALERT_ERROR_RATE] = 3600000; /* its window: a new alert means new errors */
}

int alert_rules_check(const AlertRules *r, char *err, size_t errlen) {
    const char *bad = NULL;
    if (r->window_ms < 1000 || r->miscls_window_ms < 1000 || r->error_window_ms < 60000)
        bad = "windows must be >= 1 s (the error window >= 1 min)";
    else if (r->latency_crit_for_ms < 60000 || r->latency_warn_for_ms < 60000)
        bad = "latency durations must be >= 1 min";
    else if (r->miscls_count < 1 || r->surge_min_count < 1 || r->skew_min_count < 1 ||
             r->oov_min_tokens < 1 || r->quality_min_count < 1 || r->error_min_count < 1 ||
             r->latency_min_per_minute < 1)
        bad = "minimum counts must be >= 1";
    else if (!(r->skew_share > 0.5 && r->skew_share <= 1) || !(r->oov_share > 0 && r->oov_share <= 1) ||
             !(r->error_rate > 0 && r->error_rate <= 1) || !(r->surge_min_rise >= 0 && r->surge_min_rise < 1))
        bad = "shares must be in (0, 1] (skew above 0.5)";
    else if (!(r->surge_z > 0) || !(r->skew_z >= 0) || !(r->confidence_drop > 0) || !(r->length_shift > 0))
        bad = "z, confidence drop and length shift must be positive (skew_z may be 0)";
    else if (!(r->baseline_hour_tau_min > 0) || !(r->baseline_day_tau_min > 0) || r->baseline_min_minutes < 1)
        bad = "baseline time constants must be positive";
    else if (!(r->latency_warn_ms > 0) || !(r->latency_crit_ms >= r->latency_warn_ms))
        bad = "latency thresholds must be positive, critical >= warning";
    else
        for (int i = 0; i < ALERT_TYPE_COUNT; i++)
            if (r->cooldown_ms[i] < 1) bad = "cool-downs must be >= 1 ms";
    return bad ? util_err(err, errlen, "alert rules: %s", bad) : 0;
}

static int minutes_ceil(int64_t ms) { return (int)((ms + 59999) / 60000); }

int alert_rules_history_minutes(const AlertRules *r) {
    int m = minutes_ceil(r->error_window_ms);
    if (minutes_ceil(r->latency_crit_for_ms) > m) m = minutes_ceil(r->latency_crit_for_ms);
    if (minutes_ceil(r->latency_warn_for_ms) > m) m = minutes_ceil(r->latency_warn_for_ms);
    return m;
}

static Alert *alert_begin(Alert *a, AlertType type, AlertSeverity sev, int64_t now_ms, int64_t window_ms) {
    memset(a, 0, sizeof *a);
    a->type = type;
    a->severity = sev;
    a->at_ms = now_ms;
    a->window_s = window_ms / 1000;
    return a;
}

/* "5 min", "1 h", "90 s": a window for people. */
static const char *window_words(int64_t ms, char *buf, size_t len) {
    if (ms % 3600000 == 0)
        snprintf(buf, len, "%lld h", (long long)(ms / 3600000));
    else if (ms % 60000 == 0)
        snprintf(buf, len, "%lld min", (long long)(ms / 60000));
    else
        snprintf(buf, len, "%lld s", (long long)(ms / 1000));
    return buf;
}

static int surge_rule(const AlertRules *r, const AlertInputs *in, Alert *out) {
    const AlertCounts *w = &in->recent;
    if (!in->hour || !in->day || in->hour->minutes < r->baseline_min_minutes) return 0;
    if (w->neg < r->surge_min_count || w->n <= 0) return 0;
    double p_hour = alert_baseline_share(in->hour), p_day = alert_baseline_share(in->day);
    double p0 = p_hour > p_day ? p_hour : p_day;
    double share = (double)w->neg / (double)w->n;
    double z_share = alert_binomial_z((double)w->neg, (double)w->n, p0);
    int share_fires = share >= p0 + r->surge_min_rise && z_share >= r->surge_z;
    double lambda = alert_baseline_neg_rate(in->hour) * ((double)r->window_ms / 60000.0);
    double z_count = alert_poisson_z((double)w->neg, lambda);
    if (!share_fires || !(z_count >= r->surge_z)) return 0;

    char win[32];
    alert_begin(out, ALERT_NEGATIVE_SURGE, ALERT_CRITICAL, in->now_ms, r->window_ms);
    window_words(r->window_ms, win, sizeof win);
    out->value = share;
    out->threshold = p0 + r->surge_min_rise;
    snprintf(out->message, sizeof out->message,
             "negative tweets surging: %lld of %lld tweets negative (%.1f%%) over the last %s, baseline "
             "%.1f%% (hour %.1f%%, day %.1f%%), share z = %.1f; %.1fx the usual %.1f negative tweets "
             "(count z = %.1f)",
             (long long)w->neg, (long long)w->n, 100 * share, win, 100 * p0, 100 * p_hour, 100 * p_day,
             z_share, lambda > 0 ? (double)w->neg / lambda : 0.0, lambda, z_count);
    return 1;
}

static int skew_rule(const AlertRules *r, const AlertInputs *in, Alert *out) {
    const AlertCounts *w = &in->recent;
    if (w->n < r->skew_min_count) return 0;
    int64_t major = w->neg * 2 >= w->n ? w->neg : w->n - w->neg;
    double share = (double)major / (double)w->n;
    if (!(share > r->skew_share)) return 0;
    /* the share's noise alone exceeds the threshold now and then on a small window */
    if (alert_binomial_z((double)major, (double)w->n, r->skew_share) < r->skew_z) return 0;
    char win[32];
    alert_begin(out, ALERT_PREDICTION_SKEW, ALERT_WARNING, in->now_ms, r->window_ms);
    out->value = share;
    out->threshold = r->skew_share;
    snprintf(out->message, sizeof out->message,
             "prediction skew: %.1f%% of the %lld predictions over the last %s are %s (threshold %.0f%%)",
             100 * share, (long long)w->n, window_words(r->window_ms, win, sizeof win),
             major == w->neg ? "negative" : "positive", 100 * r->skew_share);
    return 1;
}

static int drift_rule(const AlertRules *r, const AlertInputs *in, Alert *out) {
    const AlertCounts *w = &in->recent;
    if (w->tokens < r->oov_min_tokens) return 0;
    double share = (double)w->oov / (double)w->tokens;
    if (!(share > r->oov_share)) return 0;
    char win[32];
    alert_begin(out, ALERT_VOCABULARY_DRIFT, ALERT_WARNING, in->now_ms, r->window_ms);
    out->value = share;
    out->threshold = r->oov_share;
    snprintf(out->message, sizeof out->message,
             "vocabulary drift: %.1f%% of the %lld tokens over the last %s are unknown to the model "
             "(threshold %.0f%%)",
             100 * share, (long long)w->tokens, window_words(r->window_ms, win, sizeof win),
             100 * r->oov_share);
    return 1;
}

static int confidence_rule(const AlertRules *r, const AlertInputs *in, Alert *out) {
    const AlertCounts *w = &in->recent;
    if (!in->day || in->day->minutes < r->baseline_min_minutes || w->n < r->quality_min_count) return 0;
    double mean = (double)w->c_micro / 1e6 / (double)w->n, base = alert_baseline_confidence(in->day);
    if (!(base - mean >= r->confidence_drop)) return 0;
    char win[32];
    alert_begin(out, ALERT_CONFIDENCE_DROP, ALERT_WARNING, in->now_ms, r->window_ms);
    out->value = mean;
    out->threshold = base - r->confidence_drop;
    snprintf(out->message, sizeof out->message,
             "confidence drop: mean confidence %.3f over the last %s (%lld tweets) against %.3f usually "
             "(drop %.3f, threshold %.2f)",
             mean, window_words(r->window_ms, win, sizeof win), (long long)w->n, base, base - mean,
             r->confidence_drop);
    return 1;
}

static int length_rule(const AlertRules *r, const AlertInputs *in, Alert *out) {
    const AlertCounts *w = &in->recent;
    if (!in->day || in->day->minutes < r->baseline_min_minutes || w->n < r->quality_min_count) return 0;
    double mean = (double)w->tokens / (double)w->n, base = alert_baseline_length(in->day);
    if (!(base > 0) || !(fabs(mean - base) >= r->length_shift * base)) return 0;
    char win[32];
    alert_begin(out, ALERT_LENGTH_SHIFT, ALERT_WARNING, in->now_ms, r->window_ms);
    out->value = mean;
    out->threshold = mean > base ? base * (1 + r->length_shift) : base * (1 - r->length_shift);
    snprintf(out->message, sizeof out->message,
             "tweet length shift: %.1f tokens per tweet over the last %s (%lld tweets) against %.1f usually "
             "(%+.0f%%, threshold %.0f%%)",
             mean, window_words(r->window_ms, win, sizeof win), (long long)w->n, base,
             100 * (mean - base) / base, 100 * r->length_shift);
    return 1;
}

/* Complete minutes at the end of in->minutes whose share of latencies above the
 * threshold (counted in `crit` or warn) is over 5%, with enough latencies. */
static int latency_streak(const AlertRules *r, const AlertInputs *in, int crit) {
    int s = 0;
    for (int i = in->n_minutes - 1; i >= 0; i--) {
        const AlertCounts *m = &in->minutes[i];
        int64_t above = crit ? m->lat_crit : m->lat_warn;
        if (m->lat_n < r->latency_min_per_minute || above * 20 <= m->lat_n) break;
        s++;
    }
    return s;
}

static int latency_rule(const AlertRules *r, const AlertInputs *in, Alert *out) {
    int need_crit = minutes_ceil(r->latency_crit_for_ms), need_warn = minutes_ceil(r->latency_warn_for_ms);
    int crit = latency_streak(r, in, 1) >= need_crit;
    if (!crit && latency_streak(r, in, 0) < need_warn) return 0;
    int need = crit ? need_crit : need_warn;
    int64_t for_ms = crit ? r->latency_crit_for_ms : r->latency_warn_for_ms;
    double limit = crit ? r->latency_crit_ms : r->latency_warn_ms;
    AlertCounts sum = {0};
    for (int i = in->n_minutes - need; i < in->n_minutes; i++) alert_counts_add(&sum, &in->minutes[i]);
    double p95 = alert_latency_quantile(sum.lat_bin, 0.95);
    char win[32];
    alert_begin(out, ALERT_LATENCY_P95, crit ? ALERT_CRITICAL : ALERT_WARNING, in->now_ms, for_ms);
    out->value = p95;
    out->threshold = limit;
    snprintf(out->message, sizeof out->message,
             "latency: p95 end-to-end latency above %.0f ms in each of the last %s (p95 %.0f ms over %lld "
             "tweets)",
             limit, window_words(for_ms, win, sizeof win), p95, (long long)sum.lat_n);
    return 1;
}

static int error_rule(const AlertRules *r, const AlertInputs *in, Alert *out) {
    int need = minutes_ceil(r->error_window_ms);
    AlertCounts sum = {0};
    for (int i = in->n_minutes - need < 0 ? 0 : in->n_minutes - need; i < in->n_minutes; i++)
        alert_counts_add(&sum, &in->minutes[i]);
    int64_t total = sum.n + sum.errors;
    if (total < r->error_min_count) return 0;
    double rate = (double)sum.errors / (double)total;
    if (!(rate > r->error_rate)) return 0;
    char win[32];
    alert_begin(out, ALERT_ERROR_RATE, ALERT_CRITICAL, in->now_ms, r->error_window_ms);
    out->value = rate;
    out->threshold = r->error_rate;
    snprintf(
        out->message, sizeof out->message,
        "error rate: %.1f%% of %lld messages dead-lettered or failed over the last %s (threshold %.0f%%)",
        100 * rate, (long long)total, window_words(r->error_window_ms, win, sizeof win), 100 * r->error_rate);
    return 1;
}

int alerts_evaluate(const AlertRules *r, const AlertInputs *in, Alert *out, int max) {
    typedef int (*Rule)(const AlertRules *, const AlertInputs *, Alert *);
    static const Rule rules[] = {surge_rule,  skew_rule,    drift_rule, confidence_rule,
                                 length_rule, latency_rule, error_rule};
    int k = 0;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0] && k < max; i++) k += rules[i](r, in, &out[k]);
    return k;
}

int alerts_misclassification(const AlertRules *r, int64_t now_ms, int64_t count, const char *const *ids,
                             int n_ids, Alert *out) {
    if (count < r->miscls_count) return 0;
    char win[32];
    alert_begin(out, ALERT_MISCLASSIFICATION_BURST, ALERT_CRITICAL, now_ms, r->miscls_window_ms);
    out->value = (double)count;
    out->threshold = r->miscls_count;
    snprintf(out->message, sizeof out->message,
             "misclassification burst: %lld predictions confirmed wrong by feedback within %s (threshold %d)",
             (long long)count, window_words(r->miscls_window_ms, win, sizeof win), r->miscls_count);
    for (int i = 0; i < n_ids; i++) alert_add_example(out, ids[i], strlen(ids[i]));
    return 1;
}

void alerts_monitor_unavailable(int64_t now_ms, const char *url, const char *why, Alert *out) {
    alert_begin(out, ALERT_MONITOR_UNAVAILABLE, ALERT_CRITICAL, now_ms, 0);
    out->value = 1;
    out->threshold = 1;
    snprintf(out->message, sizeof out->message,
             "monitor unavailable: Redis at %s cannot be reached (%s); scoring continues, windows and alerts "
             "are paused",
             url, why);
}

void alert_add_example(Alert *a, const char *id, size_t len) {
    if (a->n_examples >= ALERT_MAX_EXAMPLES || len >= ALERT_ID_MAX) return;
    memcpy(a->examples[a->n_examples], id, len);
    a->examples[a->n_examples][len] = '\0';
    a->n_examples++;
}

/* Appends "; LABEL a (n), b (m)" to the message, item by item while they fit whole. */
static void describe_list(Alert *a, const char *label, const TermCount *t, int n) {
    size_t pos = strlen(a->message), cap = sizeof a->message;
    char item[TERMS_MAX_LEN + 40];
    for (int i = 0; i < n; i++) {
        int len = snprintf(item, sizeof item, "%s%s%s (%lld)", i ? ", " : "; ", i ? "" : label, t[i].term,
                           (long long)t[i].count);
        if (len < 0 || pos + (size_t)len + 1 > cap) return;
        memcpy(a->message + pos, item, (size_t)len + 1);
        pos += (size_t)len;
    }
}

void alert_surge_describe(Alert *a, const TermCount *hashtags, int n_hashtags, const TermCount *mentions,
                          int n_mentions, const TermCount *words, int n_words) {
    describe_list(a, "hashtags ", hashtags, n_hashtags);
    describe_list(a, "mentions ", mentions, n_mentions);
    describe_list(a, "words ", words, n_words);
}

static double round4(double x) { return isfinite(x) ? round(x * 1e4) / 1e4 : 0; }

char *alert_to_json(const Alert *a, const char *model_version) {
    char at[32];
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON *ex = cJSON_CreateArray();
    if (ex) {
        for (int i = 0; i < a->n_examples; i++) cJSON_AddItemToArray(ex, cJSON_CreateString(a->examples[i]));
    }
    cJSON_AddStringToObject(o, "type", alert_type_name(a->type));
    cJSON_AddStringToObject(o, "severity", alert_severity_name(a->severity));
    cJSON_AddStringToObject(o, "message", a->message);
    cJSON_AddNumberToObject(o, "window_s", (double)a->window_s);
    cJSON_AddNumberToObject(o, "value", round4(a->value));
    cJSON_AddNumberToObject(o, "threshold", round4(a->threshold));
    if (ex) cJSON_AddItemToObject(o, "examples", ex);
    cJSON_AddStringToObject(o, "model_version", model_version ? model_version : "");
    cJSON_AddStringToObject(o, "at", util_rfc3339(a->at_ms, at, sizeof at));
    /* every member present, every example kept: else memory ran out somewhere above */
    int complete = ex && cJSON_GetArraySize(o) == 9 && cJSON_GetArraySize(ex) == a->n_examples;
    char *json = complete ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return json;
}
