/* test_alerts.c — the monitor's rules without Redis: thresholds of every alert (fires
 * just above, quiet at or below), adaptive baselines, significance gates, latency
 * histogram quantiles, term extraction and top-k, the buzz.alerts JSON, settings by
 * name, durations and the feedback CSV rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "worker/alerts.h"
#include "worker/feedback.h"
#include "worker/monitor.h"
#include "worker/terms.h"

#define NOW 1764050400000LL /* 2025-11-25T06:00:00Z */

/* A baseline of `minutes` identical minutes of n tweets, share neg, mean confidence
 * conf and mean length len, folded with time constant tau. */
static AlertBaseline steady(double tau, int minutes, int64_t n, double share, double conf, double len) {
    AlertBaseline b = {0};
    AlertCounts m = {0};
    m.n = n;
    m.neg = (int64_t)llround(share * (double)n);
    m.c_micro = (int64_t)llround(conf * 1e6 * (double)n);
    m.tokens = (int64_t)llround(len * (double)n);
    for (int i = 0; i < minutes; i++) alert_baseline_fold(&b, tau, &m);
    return b;
}

static AlertCounts window(int64_t n, int64_t neg) {
    AlertCounts w = {0};
    w.n = n;
    w.neg = neg;
    w.c_micro = 850000 * n;
    w.tokens = 14 * n;
    w.oov = w.tokens / 50;
    return w;
}

typedef struct {
    AlertRules rules;
    AlertBaseline hour, day;
    AlertInputs in;
    Alert out[ALERT_TYPE_COUNT];
} Fixture;

/* Rules at their defaults and 2 hours of 100 tweets per minute, 30% negative. */
static void fixture(Fixture *f) {
    memset(f, 0, sizeof *f);
    alert_rules_default(&f->rules);
    f->hour = steady(60, 120, 100, 0.30, 0.85, 14);
    f->day = steady(1440, 120, 100, 0.30, 0.85, 14);
    f->in.now_ms = NOW;
    f->in.hour = &f->hour;
    f->in.day = &f->day;
    f->in.recent = window(500, 150);
}

/* The only alert that fired, or NULL when none did; fails when several did. */
static const Alert *single(Fixture *f) {
    int k = alerts_evaluate(&f->rules, &f->in, f->out, ALERT_TYPE_COUNT);
    if (k > 1)
        fail_msg("%d alerts fired, first %s: %s", k, alert_type_name(f->out[0].type), f->out[0].message);
    return k ? &f->out[0] : NULL;
}

static void names_round_trip(void **state) {
    (void)state;
    for (int i = 0; i < ALERT_TYPE_COUNT; i++) {
        AlertType t;
        assert_int_equal(alert_type_parse(alert_type_name((AlertType)i), &t), 0);
        assert_int_equal(t, i);
    }
    AlertType t = ALERT_ERROR_RATE;
    assert_int_equal(alert_type_parse("bad_buzz", &t), -1);
    assert_int_equal(t, ALERT_ERROR_RATE);
    assert_null(alert_type_name(ALERT_TYPE_COUNT));
    assert_string_equal(alert_type_name(ALERT_NEGATIVE_SURGE), "negative_surge");
    assert_string_equal(alert_severity_name(ALERT_CRITICAL), "critical");
}

static void defaults_are_design_and_checked(void **state) {
    (void)state;
    AlertRules r;
    alert_rules_default(&r);
    assert_int_equal(r.miscls_count, 3);
    assert_int_equal(r.miscls_window_ms, 300000);
    assert_true(r.skew_share == 0.80 && r.oov_share == 0.10 && r.error_rate == 0.05);
    assert_true(r.latency_crit_ms == 200 && r.latency_crit_for_ms == 600000);
    assert_true(r.latency_warn_ms == 150 && r.latency_warn_for_ms == 1800000);
    assert_int_equal(r.error_window_ms, 3600000);
    assert_int_equal(alert_rules_history_minutes(&r), 60);
    char err[128];
    assert_int_equal(alert_rules_check(&r, err, sizeof err), 0);
    r.skew_share = 1.5;
    assert_int_equal(alert_rules_check(&r, err, sizeof err), -1);
    assert_non_null(strstr(err, "shares"));
    alert_rules_default(&r);
    r.latency_crit_ms = 100; /* below the warning */
    assert_int_equal(alert_rules_check(&r, err, sizeof err), -1);
    alert_rules_default(&r);
    r.cooldown_ms[ALERT_LATENCY_P95] = 0;
    assert_int_equal(alert_rules_check(&r, err, sizeof err), -1);
}

static void latency_bins_and_quantiles(void **state) {
    (void)state;
    assert_int_equal(alert_latency_bin(0.2), 0);
    assert_int_equal(alert_latency_bin(1.0), 0);
    assert_int_equal(alert_latency_bin(1.01), 1);
    assert_int_equal(alert_latency_bin(150), 7);
    assert_int_equal(alert_latency_bin(200), 8);
    assert_int_equal(alert_latency_bin(200.5), 9);
    assert_int_equal(alert_latency_bin(1e9), ALERT_LATENCY_BINS - 1);
    assert_int_equal(alert_latency_bin(NAN), 0);
    assert_int_equal(alert_latency_bin(-3), 0);
    for (int i = 0; i + 1 < ALERT_LATENCY_BINS; i++)
        assert_int_equal(alert_latency_bin(alert_latency_edge(i)), i);

    int64_t bins[ALERT_LATENCY_BINS] = {0};
    assert_true(alert_latency_quantile(bins, 0.95) < 0);
    bins[7] = 100; /* 100 latencies in (100, 150] */
    assert_true(fabs(alert_latency_quantile(bins, 0.5) - 125) < 1e-9);
    assert_true(fabs(alert_latency_quantile(bins, 0.95) - 147.5) < 1e-9);
    bins[9] = 100; /* and 100 in (200, 300]: the median is the top of the first bin */
    assert_true(fabs(alert_latency_quantile(bins, 0.5) - 150) < 1e-9);
    assert_true(fabs(alert_latency_quantile(bins, 0.95) - 290) < 1e-9);
    bins[ALERT_LATENCY_BINS - 1] = 1000; /* the open bin answers its lower edge */
    assert_true(fabs(alert_latency_quantile(bins, 0.99) - 5000) < 1e-9);
}

static void significance_scores(void **state) {
    (void)state;
    assert_true(fabs(alert_binomial_z(60, 100, 0.3) - 30 / sqrt(21)) < 1e-12);
    assert_true(alert_binomial_z(30, 100, 0.3) == 0);
    assert_true(alert_binomial_z(5, 0, 0.3) == 0);
    assert_true(isfinite(alert_binomial_z(5, 10, 0.0)) && isfinite(alert_binomial_z(5, 10, 1.0)));
    assert_true(fabs(alert_poisson_z(30, 10) - 20 / sqrt(10)) < 1e-12);
    assert_true(fabs(alert_poisson_z(3, 0) - 2) < 1e-12); /* lambda floored at 1 */
}

static void baselines_adapt(void **state) {
    (void)state;
    AlertBaseline b = {0};
    AlertCounts empty = {0}, m = {0};
    for (int i = 0; i < 50; i++) alert_baseline_fold(&b, 60, &empty);
    assert_int_equal(b.minutes, 0); /* no history is no baseline, not a baseline of zero */
    assert_true(alert_baseline_share(&b) == 0 && alert_baseline_neg_rate(&b) == 0);

    /* bias-corrected: right from the first minute */
    m.n = 200, m.neg = 50, m.c_micro = 200 * 900000LL, m.tokens = 200 * 12;
    alert_baseline_fold(&b, 60, &m);
    assert_true(fabs(alert_baseline_share(&b) - 0.25) < 1e-12);
    assert_true(fabs(alert_baseline_neg_rate(&b) - 50) < 1e-9);
    assert_true(fabs(alert_baseline_confidence(&b) - 0.9) < 1e-9);
    assert_true(fabs(alert_baseline_length(&b) - 12) < 1e-9);

    /* a step from 25% to 50% negative: after one time constant the hour baseline has
     * moved 1 - 1/e of the way, the day one barely */
    AlertBaseline hour = steady(60, 1440, 200, 0.25, 0.9, 12), day = steady(1440, 1440, 200, 0.25, 0.9, 12);
    AlertCounts up = m;
    up.neg = 100;
    for (int i = 0; i < 60; i++) {
        alert_baseline_fold(&hour, 60, &up);
        alert_baseline_fold(&day, 1440, &up);
    }
    double moved_hour = (alert_baseline_share(&hour) - 0.25) / 0.25;
    double moved_day = (alert_baseline_share(&day) - 0.25) / 0.25;
    assert_true(fabs(moved_hour - (1 - exp(-1))) < 0.01);
    assert_true(moved_day > 0.02 && moved_day < 0.08);
    /* an idle minute lowers the rate but not the share */
    double rate = alert_baseline_neg_rate(&hour), share = alert_baseline_share(&hour);
    alert_baseline_fold(&hour, 60, &empty);
    assert_true(alert_baseline_neg_rate(&hour) < rate);
    assert_true(fabs(alert_baseline_share(&hour) - share) < 1e-12);
}

static void normal_traffic_raises_nothing(void **state) {
    (void)state;
    Fixture f;
    fixture(&f);
    assert_null(single(&f));
    f.in.recent = window(0, 0); /* silence too */
    assert_null(single(&f));
}

static void surge_on_share(void **state) {
    (void)state;
    Fixture f;
    fixture(&f);
    f.in.recent = window(500, 350);
    const Alert *a = single(&f);
    assert_non_null(a);
    assert_int_equal(a->type, ALERT_NEGATIVE_SURGE);
    assert_int_equal(a->severity, ALERT_CRITICAL);
    assert_int_equal(a->window_s, 300);
    assert_true(fabs(a->value - 0.70) < 1e-9);
    assert_true(fabs(a->threshold - 0.45) < 1e-6);
    assert_non_null(strstr(a->message, "350 of 500"));
    assert_int_equal(a->at_ms, NOW);

    f.in.recent = window(500, 220); /* 44%: significant but under the required rise */
    assert_null(single(&f));
    /* a quiet stream (10 tweets a minute, 15 negatives in 5 minutes usually) */
    f.hour = steady(60, 120, 10, 0.30, 0.85, 14);
    f.day = steady(1440, 120, 10, 0.30, 0.85, 14);
    f.in.recent = window(70, 32); /* 45.7%: the rise is there, count z = 4.4, but share z = 2.9 */
    assert_null(single(&f));
    f.in.recent = window(40, 32); /* 80%: share z = 6.9 */
    assert_non_null(single(&f));
    f.in.recent = window(29, 29); /* all negative but under the minimum count */
    assert_null(single(&f));
}

static void surge_waits_for_a_warm_baseline(void **state) {
    (void)state;
    Fixture f;
    fixture(&f);
    f.hour = steady(60, 29, 100, 0.30, 0.85, 14);
    f.day = steady(1440, 29, 100, 0.30, 0.85, 14);
    f.in.recent = window(500, 350);
    assert_null(single(&f));
    alert_baseline_fold(&f.hour, 60,
                        &(AlertCounts){.n = 100, .neg = 30, .c_micro = 85000000, .tokens = 1400});
    assert_non_null(single(&f));
}

static void surge_needs_count_and_share(void **state) {
    (void)state;
    Fixture f;
    fixture(&f);
    /* 4x the talk at the usual 30% share (news, or a backlog replayed): not a bad buzz */
    f.in.recent = window(2000, 600);
    assert_null(single(&f));
    /* 70% negative, but of a stream shrunk to a fifth: 70 negatives against 150 usually */
    f.in.recent = window(100, 70);
    assert_null(single(&f));
    /* the same volume with more negatives: share and count both rise */
    f.in.recent = window(500, 240);
    const Alert *a = single(&f);
    assert_non_null(a);
    assert_true(fabs(a->value - 0.48) < 1e-9);
    /* a rise in share at the usual volume, for a brand whose tweets are mostly negative */
    f.hour = steady(60, 120, 100, 0.60, 0.85, 14);
    f.day = steady(1440, 120, 100, 0.60, 0.85, 14);
    f.in.recent = window(500, 380); /* 76%: share z = 7.3, count z = 4.6 */
    assert_non_null(single(&f));
}

static void surge_respects_the_daily_rhythm(void **state) {
    (void)state;
    Fixture f;
    fixture(&f);
    /* evenings are more negative: the hour baseline says 40% while the day says 30% */
    f.hour = steady(60, 120, 100, 0.40, 0.85, 14);
    f.in.recent = window(500, 250); /* 50% against the higher baseline: a rise of 0.10 */
    assert_null(single(&f));
    f.in.recent = window(500, 290); /* 58% */
    assert_non_null(single(&f));
}

static void skew_threshold(void **state) {
    (void)state;
    Fixture f;
    fixture(&f);
    f.day = f.hour = steady(60, 120, 100, 0.85, 0.85, 14); /* keep the surge quiet */
    f.in.recent = window(200, 176);                        /* 88% negative: z = 2.8 against 80% */
    const Alert *a = single(&f);
    assert_non_null(a);
    assert_int_equal(a->type, ALERT_PREDICTION_SKEW);
    assert_int_equal(a->severity, ALERT_WARNING);
    assert_non_null(strstr(a->message, "negative"));
    assert_true(fabs(a->value - 0.88) < 1e-9 && a->threshold == 0.80);
    f.in.recent = window(200, 24); /* 88% positive */
    a = single(&f);
    assert_non_null(a);
    assert_non_null(strstr(a->message, "positive"));
    f.in.recent = window(200, 160); /* exactly 80%: not more than */
    assert_null(single(&f));
    f.in.recent = window(99, 95); /* under the minimum count */
    assert_null(single(&f));
    /* 80.8% of a quiet night's 104 tweets: the noise of a 69%-positive stream (z = 0.2),
     * which a replayed day of real tweets (test_monitor_replay) hit */
    f.in.recent = window(104, 20);
    assert_null(single(&f));
    f.in.recent = window(200, 30); /* 85%: above 80%, but z = 1.8 */
    assert_null(single(&f));
    f.rules.skew_z = 0; /* no significance test: the share alone decides */
    assert_non_null(single(&f));
    f.in.recent = window(104, 20);
    assert_non_null(single(&f));
    f.rules.skew_z = -1;
    char err[128];
    assert_int_equal(alert_rules_check(&f.rules, err, sizeof err), -1);
}

static void vocabulary_drift_threshold(void **state) {
    (void)state;
    Fixture f;
    fixture(&f);
    f.in.recent.tokens = 7000; /* 14 tokens per tweet, as usual */
    f.in.recent.oov = 701;
    const Alert *a = single(&f);
    assert_non_null(a);
    assert_int_equal(a->type, ALERT_VOCABULARY_DRIFT);
    assert_true(fabs(a->value - 701 / 7000.0) < 1e-9);
    f.in.recent.oov = 700; /* exactly 10%: not more than */
    assert_null(single(&f));
    f.in.recent = window(60, 18); /* too few tokens to judge */
    f.in.recent.tokens = 999;
    f.in.recent.oov = 500;
    assert_null(single(&f));
}

static void confidence_and_length(void **state) {
    (void)state;
    Fixture f;
    fixture(&f);
    f.in.recent.c_micro = 700000 * f.in.recent.n; /* 0.70 against 0.85 */
    const Alert *a = single(&f);
    assert_non_null(a);
    assert_int_equal(a->type, ALERT_CONFIDENCE_DROP);
    assert_true(fabs(a->value - 0.70) < 1e-9 && fabs(a->threshold - 0.75) < 1e-6);
    f.in.recent.c_micro = 760000 * f.in.recent.n;
    assert_null(single(&f));

    f.in.recent.tokens = 20 * f.in.recent.n; /* 20 tokens against 14: +43% */
    f.in.recent.oov = 0;
    a = single(&f);
    assert_non_null(a);
    assert_int_equal(a->type, ALERT_LENGTH_SHIFT);
    assert_true(fabs(a->threshold - 14 * 1.3) < 1e-6);
    f.in.recent.tokens = 9 * f.in.recent.n; /* -36% */
    a = single(&f);
    assert_non_null(a);
    assert_true(fabs(a->threshold - 14 * 0.7) < 1e-6);
    f.in.recent.tokens = 16 * f.in.recent.n; /* +14% */
    assert_null(single(&f));
    f.in.recent.n = 99; /* too few tweets to judge */
    f.in.recent.neg = 30;
    f.in.recent.tokens = 30 * 99;
    assert_null(single(&f));
}

/* n minutes of 100 latencies each, `above` of them over both thresholds. */
static void latency_minutes(AlertCounts *m, int n, int64_t above_warn, int64_t above_crit) {
    for (int i = 0; i < n; i++) {
        memset(&m[i], 0, sizeof m[i]);
        m[i].n = 100;
        m[i].lat_n = 100;
        m[i].lat_warn = above_warn;
        m[i].lat_crit = above_crit;
        m[i].lat_bin[5] = 100 - above_warn;
        m[i].lat_bin[8] = above_warn - above_crit;
        m[i].lat_bin[9] = above_crit;
    }
}

static void latency_streaks(void **state) {
    (void)state;
    Fixture f;
    fixture(&f);
    AlertCounts m[60];
    f.in.minutes = m;
    f.in.n_minutes = 60;

    latency_minutes(m, 60, 0, 0);
    latency_minutes(m + 50, 10, 6, 6); /* the last 10 minutes: 6% above 200 ms */
    const Alert *a = single(&f);
    assert_non_null(a);
    assert_int_equal(a->type, ALERT_LATENCY_P95);
    assert_int_equal(a->severity, ALERT_CRITICAL);
    assert_int_equal(a->window_s, 600);
    assert_true(a->value > 200 && a->value <= 300 && a->threshold == 200);

    latency_minutes(m + 50, 1, 0, 0); /* a good minute breaks the streak: 9 left */
    assert_null(single(&f));
    latency_minutes(m + 50, 1, 5, 5); /* exactly 5% above is not a p95 above */
    assert_null(single(&f));
    latency_minutes(m + 50, 1, 6, 6);
    m[55].lat_n = 19; /* too few latencies to judge a minute */
    assert_null(single(&f));

    latency_minutes(m, 60, 0, 0);
    latency_minutes(m + 30, 30, 6, 0); /* 30 minutes above 150 ms, under 200 ms */
    a = single(&f);
    assert_non_null(a);
    assert_int_equal(a->severity, ALERT_WARNING);
    assert_int_equal(a->window_s, 1800);
    assert_true(a->threshold == 150);
    latency_minutes(m + 30, 1, 0, 0);
    assert_null(single(&f));
    latency_minutes(m + 30, 1, 6, 0);
    latency_minutes(m + 50, 10, 6, 6); /* both: the critical one wins */
    a = single(&f);
    assert_int_equal(a->severity, ALERT_CRITICAL);
    f.in.n_minutes = 9; /* not enough history yet */
    f.in.minutes = m + 51;
    assert_null(single(&f));
}

static void error_rate_threshold(void **state) {
    (void)state;
    Fixture f;
    fixture(&f);
    AlertCounts m[70] = {{0}};
    for (int i = 0; i < 70; i++) m[i].n = 100;
    f.in.minutes = m;
    f.in.n_minutes = 70;
    for (int i = 0; i < 10; i++) m[i].errors = 50; /* old errors, outside the hour */
    for (int i = 10; i < 70; i++) m[i].errors = 5; /* 300 of 6300 = 4.8% */
    assert_null(single(&f));
    m[69].errors = 25; /* 320 of 6320 = 5.06% */
    const Alert *a = single(&f);
    assert_non_null(a);
    assert_int_equal(a->type, ALERT_ERROR_RATE);
    assert_int_equal(a->window_s, 3600);
    assert_true(fabs(a->value - 320.0 / 6320.0) < 1e-9);
    AlertCounts few[1] = {{.n = 50, .errors = 49}};
    f.in.minutes = few; /* 99 messages: too few */
    f.in.n_minutes = 1;
    assert_null(single(&f));
}

static void misclassification_threshold(void **state) {
    (void)state;
    AlertRules r;
    alert_rules_default(&r);
    const char *ids[] = {"111", "222", "333", "444"};
    Alert a;
    assert_int_equal(alerts_misclassification(&r, NOW, 2, ids, 2, &a), 0);
    assert_int_equal(alerts_misclassification(&r, NOW, 3, ids, 3, &a), 1);
    assert_int_equal(a.type, ALERT_MISCLASSIFICATION_BURST);
    assert_int_equal(a.severity, ALERT_CRITICAL);
    assert_int_equal(a.n_examples, 3);
    assert_string_equal(a.examples[2], "333");
    assert_int_equal(a.window_s, 300);
    assert_true(a.value == 3 && a.threshold == 3);
    char long_id[ALERT_ID_MAX + 5];
    memset(long_id, '9', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    alert_add_example(&a, long_id, strlen(long_id)); /* does not fit: left out */
    assert_int_equal(a.n_examples, 3);
    for (int i = 0; i < 20; i++) alert_add_example(&a, "5", 1);
    assert_int_equal(a.n_examples, ALERT_MAX_EXAMPLES);
}

static void alert_json_matches_the_contract(void **state) {
    (void)state;
    Alert a;
    AlertRules r;
    alert_rules_default(&r);
    const char *ids[] = {"1001", "1002", "1003"};
    alerts_misclassification(&r, NOW + 123, 3, ids, 3, &a);
    a.value = 0.123456;
    strcpy(a.message, "quote \" backslash \\ newline \n caf\xc3\xa9");
    char *json = alert_to_json(&a, "bilstm-2025-11-20");
    assert_non_null(json);
    cJSON *o = cJSON_Parse(json);
    assert_non_null(o);
    assert_int_equal(cJSON_GetArraySize(o), 9);
    static const char *const keys[] = {"type",      "severity", "message",       "window_s", "value",
                                       "threshold", "examples", "model_version", "at"};
    for (int i = 0; i < 9; i++) assert_string_equal(cJSON_GetArrayItem(o, i)->string, keys[i]);
    assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "misclassification_burst");
    assert_string_equal(cJSON_GetObjectItem(o, "severity")->valuestring, "critical");
    assert_string_equal(cJSON_GetObjectItem(o, "message")->valuestring, a.message);
    assert_true(cJSON_GetObjectItem(o, "window_s")->valuedouble == 300);
    assert_true(cJSON_GetObjectItem(o, "value")->valuedouble == 0.1235);
    assert_true(cJSON_GetObjectItem(o, "threshold")->valuedouble == 3);
    cJSON *ex = cJSON_GetObjectItem(o, "examples");
    assert_true(cJSON_IsArray(ex));
    assert_int_equal(cJSON_GetArraySize(ex), 3);
    assert_string_equal(cJSON_GetArrayItem(ex, 0)->valuestring, "1001");
    assert_string_equal(cJSON_GetObjectItem(o, "model_version")->valuestring, "bilstm-2025-11-20");
    assert_string_equal(cJSON_GetObjectItem(o, "at")->valuestring, "2025-11-25T06:00:00.123Z");
    assert_null(strchr(json, '\n')); /* one line */
    cJSON_Delete(o);
    free(json);

    alerts_monitor_unavailable(NOW, "unix:///tmp/r.sock", "connection refused", &a);
    json = alert_to_json(&a, NULL);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"examples\":[]"));
    assert_non_null(strstr(json, "\"type\":\"monitor_unavailable\""));
    free(json);
}

static void surge_message_names_terms(void **state) {
    (void)state;
    Fixture f;
    fixture(&f);
    f.in.recent = window(500, 350);
    assert_int_equal(alerts_evaluate(&f.rules, &f.in, f.out, 1), 1);
    Alert *a = &f.out[0];
    TermCount tags[2] = {{"#lostluggage", 57}, {"#fail", 12}}, men[1] = {{"@airparadis", 180}},
              words[1] = {{"bags", 80}};
    alert_surge_describe(a, tags, 2, men, 1, words, 1);
    assert_non_null(strstr(a->message,
                           "; hashtags #lostluggage (57), #fail (12); mentions @airparadis (180); "
                           "words bags (80)"));
    /* a flood of long terms: whole items only, never past the buffer */
    TermCount many[40];
    for (int i = 0; i < 40; i++) {
        memset(many[i].term, 'x', TERMS_MAX_LEN - 1);
        many[i].term[TERMS_MAX_LEN - 1] = '\0';
        many[i].count = 40 - i;
    }
    alert_surge_describe(a, many, 40, NULL, 0, NULL, 0);
    size_t len = strlen(a->message);
    assert_true(len < ALERT_MESSAGE_MAX);
    assert_true(a->message[len - 1] == ')');
}

static void terms_from_tweets(void **state) {
    (void)state;
    TermCounter *t = terms_new(256);
    const char *tweets[] = {
        "RT @AirParadis: Lost my bags AGAIN!! #LostLuggage #fail http://t.co/xyz 2 hours delayed, the worst",
        "@airparadis where are my bags?? #lostluggage www.airparadis.com/help me@example.com",
        "Caf\xc3\xa9 closed, flight delayed &amp; bags lost #LOSTLUGGAGE",
    };
    for (int i = 0; i < 3; i++) terms_add_text(t, tweets[i], strlen(tweets[i]));
    TermCount top[8];
    int n = terms_top(t, TERM_HASHTAG, top, 8);
    assert_int_equal(n, 2);
    assert_string_equal(top[0].term, "#lostluggage");
    assert_int_equal(top[0].count, 3);
    assert_string_equal(top[1].term, "#fail");
    n = terms_top(t, TERM_MENTION, top, 8);
    assert_int_equal(n, 1); /* me@example.com is not a mention */
    assert_string_equal(top[0].term, "@airparadis");
    assert_int_equal(top[0].count, 2);
    n = terms_top(t, TERM_WORD, top, 8);
    assert_true(n >= 4);
    assert_string_equal(top[0].term, "bags");
    assert_int_equal(top[0].count, 3);
    assert_string_equal(top[1].term, "delayed"); /* 2, ties broken by byte order */
    assert_string_equal(top[2].term, "lost");
    for (int i = 0; i < n; i++) {
        static const char *const never[] = {"the", "again",  "http",    "xyz",   "www", "airparadis",
                                            "amp", "hours2", "example", "where", "are", "help"};
        for (size_t j = 0; j < sizeof never / sizeof never[0]; j++)
            assert_string_not_equal(top[i].term, never[j]);
        assert_true(strcmp(top[i].term, "2") != 0);
    }
    /* typicality: the buzz tweet shares the most frequent terms */
    int64_t buzz = terms_score_text(t, tweets[0], strlen(tweets[0]));
    int64_t other = terms_score_text(t, "nothing shared here", 19);
    assert_int_equal(other, 0);
    /* @airparadis 2 + lost 2 + bags 3 + #lostluggage 3 + #fail 1 + hours 1 + delayed 2 + worst 1 */
    assert_int_equal(buzz, 15);
    TermCount all[32];
    n = terms_top(t, TERM_WORD, all, 32);
    int cafe = 0;
    for (int i = 0; i < n; i++) cafe |= !strcmp(all[i].term, "caf\xc3\xa9");
    assert_true(cafe);
    terms_free(t);
}

static void terms_table_limits(void **state) {
    (void)state;
    TermCounter *t = terms_new(3);
    terms_add_text(t, "alpha bravo charlie delta alpha", 31);
    assert_int_equal(terms_dropped(t), 1); /* delta did not fit; alpha still counts */
    TermCount top[4];
    assert_int_equal(terms_top(t, TERM_WORD, top, 4), 3);
    assert_string_equal(top[0].term, "alpha");
    assert_int_equal(top[0].count, 2);
    assert_int_equal(terms_top(t, TERM_WORD, top, 1), 1);
    assert_string_equal(top[0].term, "alpha");
    terms_reset(t);
    assert_int_equal(terms_top(t, TERM_WORD, top, 4), 0);
    assert_int_equal(terms_dropped(t), 0);
    /* a long UTF-8 word is cut on a character boundary */
    char word[200] = "";
    for (int i = 0; i < 30; i++) strcat(word, "\xc3\xa9");
    terms_add_text(t, word, strlen(word));
    assert_int_equal(terms_top(t, TERM_WORD, top, 1), 1);
    assert_int_equal(strlen(top[0].term), 46);
    terms_add(t, "#merged", 7, 40);
    assert_int_equal(terms_top(t, TERM_HASHTAG, top, 1), 1);
    assert_int_equal(top[0].count, 40);
    terms_free(t);
    assert_true(terms_is_stopword("the", 3) && terms_is_stopword("yourself", 8) &&
                terms_is_stopword("about", 5));
    assert_false(terms_is_stopword("delayed", 7) || terms_is_stopword("th", 2));
}

static void monitor_settings_by_name(void **state) {
    (void)state;
    MonitorConfig c;
    monitor_config_default(&c);
    char err[160];
    assert_int_equal(monitor_config_set(&c, "surge_z", "5.5", err, sizeof err), 0);
    assert_true(c.rules.surge_z == 5.5);
    assert_int_equal(monitor_config_set(&c, "miscls_count", "4", err, sizeof err), 0);
    assert_int_equal(c.rules.miscls_count, 4);
    assert_int_equal(monitor_config_set(&c, "eval_interval_ms", "1000", err, sizeof err), 0);
    assert_int_equal(c.eval_interval_ms, 1000);
    assert_int_equal(monitor_config_set(&c, "cooldown_ms.latency_p95", "42", err, sizeof err), 0);
    assert_int_equal(c.rules.cooldown_ms[ALERT_LATENCY_P95], 42);
    assert_int_equal(monitor_config_set(&c, "cooldown_ms.bad_buzz", "42", err, sizeof err), -1);
    assert_non_null(strstr(err, "bad_buzz"));
    assert_int_equal(monitor_config_set(&c, "surge_zz", "1", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown monitor setting 'surge_zz'"));
    assert_int_equal(monitor_config_set(&c, "surge_z", "4x", err, sizeof err), -1);
    assert_int_equal(monitor_config_set(&c, "miscls_count", "99999999999", err, sizeof err), -1);
    assert_true(c.rules.surge_z == 5.5 && c.rules.miscls_count == 4); /* untouched by failures */
    /* every listed key is accepted */
    int n = 0;
    for (const char *const *k = monitor_config_keys(); *k; k++, n++)
        if (!strchr(*k, '<')) assert_int_equal(monitor_config_set(&c, *k, "60000", err, sizeof err), 0);
    assert_true(n > 30);

    /* monitor_new refuses bad settings before touching the network */
    monitor_config_default(&c);
    c.url = "redis://127.0.0.1:1/0";
    c.rules.skew_share = 2;
    assert_null(monitor_new(&c, err, sizeof err));
    assert_non_null(strstr(err, "alert rules"));
    monitor_config_default(&c);
    c.url = "redis://127.0.0.1:1/0";
    c.second_ttl_ms = c.rules.window_ms; /* second buckets must outlive the window */
    assert_null(monitor_new(&c, err, sizeof err));
    monitor_config_default(&c);
    c.url = "mysql://x";
    assert_null(monitor_new(&c, err, sizeof err));
}

static void durations_for_people(void **state) {
    (void)state;
    int64_t ms;
    assert_int_equal(monitor_parse_duration("24h", &ms), 0);
    assert_int_equal(ms, 86400000);
    assert_int_equal(monitor_parse_duration("90m", &ms), 0);
    assert_int_equal(ms, 5400000);
    assert_int_equal(monitor_parse_duration("7d", &ms), 0);
    assert_int_equal(ms, 604800000);
    assert_int_equal(monitor_parse_duration("2w", &ms), 0);
    assert_int_equal(ms, 1209600000);
    assert_int_equal(monitor_parse_duration("45", &ms), 0);
    assert_int_equal(ms, 45000);
    assert_int_equal(monitor_parse_duration("1.5h", &ms), 0);
    assert_int_equal(ms, 5400000);
    const char *bad[] = {"", "h", "-1h", "0", "3y", "12hours", "1e300d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(monitor_parse_duration(bad[i], &ms), -1);
}

static void csv_rows_are_rfc4180(void **state) {
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(feedback_csv_row(f, 1, "plain text", 10), 0);
    assert_int_equal(feedback_csv_row(f, 0, "a, b", 4), 0);
    assert_int_equal(feedback_csv_row(f, 0, "say \"hi\"", 8), 0);
    assert_int_equal(feedback_csv_row(f, 5, "two\nlines\r", 10), 0);
    fclose(f);
    assert_string_equal(buf, "1,plain text\n0,\"a, b\"\n0,\"say \"\"hi\"\"\"\n1,\"two\nlines\r\"\n");
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_round_trip),
        cmocka_unit_test(defaults_are_design_and_checked),
        cmocka_unit_test(latency_bins_and_quantiles),
        cmocka_unit_test(significance_scores),
        cmocka_unit_test(baselines_adapt),
        cmocka_unit_test(normal_traffic_raises_nothing),
        cmocka_unit_test(surge_on_share),
        cmocka_unit_test(surge_waits_for_a_warm_baseline),
        cmocka_unit_test(surge_needs_count_and_share),
        cmocka_unit_test(surge_respects_the_daily_rhythm),
        cmocka_unit_test(skew_threshold),
        cmocka_unit_test(vocabulary_drift_threshold),
        cmocka_unit_test(confidence_and_length),
        cmocka_unit_test(latency_streaks),
        cmocka_unit_test(error_rate_threshold),
        cmocka_unit_test(misclassification_threshold),
        cmocka_unit_test(alert_json_matches_the_contract),
        cmocka_unit_test(surge_message_names_terms),
        cmocka_unit_test(terms_from_tweets),
        cmocka_unit_test(terms_table_limits),
        cmocka_unit_test(monitor_settings_by_name),
        cmocka_unit_test(durations_for_people),
        cmocka_unit_test(csv_rows_are_rfc4180),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
