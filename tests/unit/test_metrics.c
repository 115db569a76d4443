/* test_metrics.c — model/metrics.c against values computed by hand, the exact AUC
 * against a brute-force pair count, log-loss clipping, degenerate inputs and JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "model/metrics.h"
#include "model/util.h"

#define EPS 1e-9

/* cmocka has no double comparison: |a - b| <= eps, or fail with both values. */
#define assert_double_equal(a, b, eps) assert_near((a), (b), (eps), #a, __FILE__, __LINE__)
static void assert_near(double a, double b, double eps, const char *what, const char *file, int line) {
    if (!(fabs(a - b) <= eps))
        fail_msg("%s:%d: %s = %.12g, expected %.12g (+- %g)", file, line, what, a, b, eps);
}

/* The hand example used by several tests:
 *   i      0    1    2    3    4    5    6    7
 *   label  1    1    1    0    0    0    1    0
 *   p     .9   .8   .3   .6   .2   .1   .7   .55
 *   pred   1    1    0    1    0    0    1    1      (p >= 0.5)
 * tp = {0,1,6} = 3, fn = {2} = 1, fp = {3,7} = 2, tn = {4,5} = 2, n = 8. */
static const uint8_t HAND_Y[8] = {1, 1, 1, 0, 0, 0, 1, 0};
static const float HAND_P[8] = {0.9f, 0.8f, 0.3f, 0.6f, 0.2f, 0.1f, 0.7f, 0.55f};

static void hand_example_counts_and_ratios(void **state) {
    (void)state;
    Metrics m;
    assert_int_equal(metrics_compute(HAND_Y, HAND_P, 8, &m), 0);
    assert_int_equal(m.n, 8);
    assert_int_equal(m.tp, 3);
    assert_int_equal(m.fn, 1);
    assert_int_equal(m.fp, 2);
    assert_int_equal(m.tn, 2);
    /* accuracy = (3 + 2) / 8 = 0.625; precision = 3 / (3 + 2) = 0.6;
     * recall = 3 / (3 + 1) = 0.75; F1+ = 2*3 / (2*3 + 2 + 1) = 6/9 = 2/3 */
    assert_double_equal(m.accuracy, 0.625, EPS);
    assert_double_equal(m.precision, 0.6, EPS);
    assert_double_equal(m.recall, 0.75, EPS);
    assert_double_equal(m.f1_positive, 2.0 / 3.0, EPS);
    /* negative class: tp' = tn = 2, fp' = fn = 1, fn' = fp = 2:
     * F1- = 2*2 / (2*2 + 1 + 2) = 4/7; macro = (2/3 + 4/7) / 2 = (14 + 12) / 42 = 13/21 */
    assert_double_equal(m.f1_macro, 13.0 / 21.0, EPS);
}

static void hand_example_auc_and_logloss(void **state) {
    (void)state;
    Metrics m;
    assert_int_equal(metrics_compute(HAND_Y, HAND_P, 8, &m), 0);
    /* positives {.9 .8 .3 .7}, negatives {.6 .2 .1 .55}: .9, .8 and .7 beat all 4
     * negatives (12 pairs), .3 beats .2 and .1 (2 pairs): AUC = 14 / 16 = 0.875 */
    assert_double_equal(m.auc, 0.875, EPS);
    /* logloss = -(ln .9 + ln .8 + ln .3 + ln(1-.6) + ln(1-.2) + ln(1-.1) + ln .7 + ln(1-.55)) / 8
     *         = -(-0.1053605 - 0.2231436 - 1.2039728 - 0.9162907 - 0.2231436
     *             - 0.1053605 - 0.3566749 - 0.7985077) / 8 = 3.9324543 / 8 = 0.4915568 */
    assert_double_equal(m.logloss, 0.4915568, 1e-6);
}

static void auc_with_ties_by_hand(void **state) {
    (void)state;
    /* positives {.5 .8}, negatives {.5 .2}: (.5,.5) tie = 1/2, (.5,.2) = 1,
     * (.8,.5) = 1, (.8,.2) = 1 -> 3.5 / 4 = 0.875 */
    const uint8_t y[4] = {1, 0, 1, 0};
    const float p[4] = {0.5f, 0.5f, 0.8f, 0.2f};
    assert_double_equal(metrics_auc(y, p, 4), 0.875, EPS);
    /* every score equal: every pair is a tie -> 0.5 */
    const float same[4] = {0.3f, 0.3f, 0.3f, 0.3f};
    assert_double_equal(metrics_auc(y, same, 4), 0.5, EPS);
    /* perfectly inverted ranking -> 0 ; perfect ranking -> 1 */
    const float inv[4] = {0.1f, 0.9f, 0.2f, 0.8f};
    assert_double_equal(metrics_auc(y, inv, 4), 0.0, EPS);
    const float perfect[4] = {0.9f, 0.1f, 0.8f, 0.2f};
    assert_double_equal(metrics_auc(y, perfect, 4), 1.0, EPS);
}

/* O(n^2) definition: P(score of a positive > score of a negative) + 1/2 P(tie). */
static double auc_brute_force(const uint8_t *y, const float *p, int n) {
    double wins = 0;
    long pairs = 0;
    for (int i = 0; i < n; i++) {
        if (!y[i]) continue;
        for (int j = 0; j < n; j++) {
            if (y[j]) continue;
            pairs++;
            wins += p[i] > p[j] ? 1.0 : p[i] == p[j] ? 0.5 : 0.0;
        }
    }
    return wins / (double)pairs;
}

static void auc_matches_brute_force_on_random_data(void **state) {
    (void)state;
    enum { N = 700 };
    uint8_t y[N];
    float p[N];
    Rng r;
    rng_seed(&r, 2024);
    for (int trial = 0; trial < 20; trial++) {
        /* few distinct levels make many ties; labels correlate with the score */
        uint32_t levels = 2 + rng_below(&r, 30);
        for (int i = 0; i < N; i++) {
            p[i] = (float)rng_below(&r, levels) / (float)levels;
            y[i] = rng_uniform(&r) < 0.2f + 0.6f * p[i];
        }
        assert_double_equal(metrics_auc(y, p, N), auc_brute_force(y, p, N), 1e-12);
    }
    /* continuous scores (almost no ties) */
    for (int i = 0; i < N; i++) {
        p[i] = rng_uniform(&r);
        y[i] = rng_uniform(&r) < p[i];
    }
    assert_double_equal(metrics_auc(y, p, N), auc_brute_force(y, p, N), 1e-12);
}

static void logloss_is_clipped(void **state) {
    (void)state;
    /* a confident wrong answer costs -ln(1e-7) = 16.1180957, not infinity */
    const uint8_t y[2] = {1, 0};
    const float p[2] = {0.0f, 1.0f};
    Metrics m;
    assert_int_equal(metrics_compute(y, p, 2, &m), 0);
    assert_true(isfinite(m.logloss));
    assert_double_equal(m.logloss, 16.1180957, 1e-5);
    /* a confident right answer costs -ln(1 - 1e-7) = 1e-7, not exactly 0 */
    const float q[2] = {1.0f, 0.0f};
    assert_int_equal(metrics_compute(y, q, 2, &m), 0);
    assert_double_equal(m.logloss, 1e-7, 1e-12);
    assert_double_equal(m.accuracy, 1.0, EPS);
}

static void threshold_is_inclusive(void **state) {
    (void)state;
    assert_true(metrics_is_positive(0.5f));
    assert_false(metrics_is_positive(0.49999997f));
    const uint8_t y[2] = {1, 0};
    const float p[2] = {0.5f, 0.4999f};
    Metrics m;
    assert_int_equal(metrics_compute(y, p, 2, &m), 0);
    assert_int_equal(m.tp, 1);
    assert_int_equal(m.tn, 1);
}

static void one_class_only_has_no_auc(void **state) {
    (void)state;
    /* all positive, p = {.9 .2 .6}: tp = 2, fn = 1, no negatives:
     * accuracy 2/3, precision 2/2 = 1, recall 2/3, F1+ = 4/5; F1- = 0/(0+1+0) = 0,
     * macro = 0.4; AUC has no (positive, negative) pair: NaN -> null in JSON */
    const uint8_t y[3] = {1, 1, 1};
    const float p[3] = {0.9f, 0.2f, 0.6f};
    Metrics m;
    assert_int_equal(metrics_compute(y, p, 3, &m), 0);
    assert_double_equal(m.accuracy, 2.0 / 3.0, EPS);
    assert_double_equal(m.precision, 1.0, EPS);
    assert_double_equal(m.recall, 2.0 / 3.0, EPS);
    assert_double_equal(m.f1_positive, 0.8, EPS);
    assert_double_equal(m.f1_macro, 0.4, EPS);
    assert_true(isnan(m.auc));
    char buf[512];
    metrics_to_json(&m, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"auc\":null,"));
}

static void no_predicted_positive_gives_zero_precision(void **state) {
    (void)state;
    /* every p < 0.5: tp = fp = 0 -> precision 0/0 := 0, recall 0/2 = 0, F1+ = 0;
     * negative class: tn = 2, fn = 2, fp = 0 -> F1- = 4 / (4 + 2) = 2/3, macro 1/3 */
    const uint8_t y[4] = {1, 1, 0, 0};
    const float p[4] = {0.4f, 0.3f, 0.2f, 0.1f};
    Metrics m;
    assert_int_equal(metrics_compute(y, p, 4, &m), 0);
    assert_int_equal(m.tp + m.fp, 0);
    assert_double_equal(m.precision, 0.0, EPS);
    assert_double_equal(m.recall, 0.0, EPS);
    assert_double_equal(m.f1_positive, 0.0, EPS);
    assert_double_equal(m.f1_macro, 1.0 / 3.0, EPS);
    assert_double_equal(m.auc, 1.0, EPS); /* the ranking is still perfect */
}

static void empty_and_invalid_inputs(void **state) {
    (void)state;
    Metrics m;
    assert_int_equal(metrics_compute(NULL, NULL, 0, &m), 0);
    assert_int_equal(m.n, 0);
    assert_true(isnan(m.accuracy) && isnan(m.auc) && isnan(m.logloss));
    assert_double_equal(m.precision, 0.0, EPS);

    const uint8_t bad_label[2] = {1, 2};
    const float p[2] = {0.5f, 0.5f};
    assert_int_equal(metrics_compute(bad_label, p, 2, &m), -1);
    assert_int_equal(m.n, 0);
    const uint8_t y[2] = {1, 0};
    const float nan_p[2] = {0.5f, NAN};
    assert_int_equal(metrics_compute(y, nan_p, 2, &m), -1);
    assert_true(isnan(metrics_auc(y, nan_p, 2)));
}

static void json_has_the_evaluate_keys(void **state) {
    (void)state;
    Metrics m;
    assert_int_equal(metrics_compute(HAND_Y, HAND_P, 8, &m), 0);
    char buf[512];
    int len = metrics_to_json(&m, buf, sizeof buf);
    const char *want = "{\"n\":8,\"accuracy\":0.625,\"precision\":0.6,\"recall\":0.75,"
                       "\"f1_positive\":0.666667,\"f1_macro\":0.619048,\"auc\":0.875,"
                       "\"logloss\":0.491557,\"confusion\":{\"tn\":2,\"fp\":2,\"fn\":1,\"tp\":3}}";
    assert_string_equal(buf, want);
    assert_int_equal(len, (int)strlen(want));

    /* the fields alone are the object without its braces */
    char fields[512];
    int flen = metrics_to_json_fields(&m, fields, sizeof fields);
    assert_int_equal(flen, len - 2);
    assert_memory_equal(fields, want + 1, (size_t)flen);

    /* a short buffer: cut, NUL-terminated, and the full length is still returned */
    char small[20];
    assert_int_equal(metrics_to_json(&m, small, sizeof small), len);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, want, sizeof small - 1);
    assert_int_equal(metrics_to_json(&m, NULL, 0), len);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hand_example_counts_and_ratios),
        cmocka_unit_test(hand_example_auc_and_logloss),
        cmocka_unit_test(auc_with_ties_by_hand),
        cmocka_unit_test(auc_matches_brute_force_on_random_data),
        cmocka_unit_test(logloss_is_clipped),
        cmocka_unit_test(threshold_is_inclusive),
        cmocka_unit_test(one_class_only_has_no_auc),
        cmocka_unit_test(no_predicted_positive_gives_zero_precision),
        cmocka_unit_test(empty_and_invalid_inputs),
        cmocka_unit_test(json_has_the_evaluate_keys),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
