/* test_json_writer.c — the printf-free number formatting of producers/json_writer.c:
 * jw_format_fixed writes the very bytes of snprintf("%.*f") (checked against glibc
 * for random doubles of every magnitude, every tie k/2^n, carries across powers of
 * ten, signed zeros and subnormals, with every decimals 0..9), jw_number writes what
 * the snprintf-based writer wrote before it, and jw_int what "%" PRId64 writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model/util.h"
#include "producers/json_writer.h"

/* Fails unless jw_format_fixed handles (v, decimals) and writes what printf writes. */
static void check_fixed(double v, int decimals) {
    char want[512], got[JW_FIXED_MAX + 1];
    int n = snprintf(want, sizeof want, "%.*f", decimals, v);
    size_t len = jw_format_fixed(got, v, decimals);
    got[len] = '\0';
    if (len == 0 || (int)len != n || memcmp(got, want, len))
        fail_msg("%a (%.17g) with %d decimals: '%s', printf says '%s'", v, v, decimals, got, want);
}

/* jw_number as it was written before jw_format_fixed existed: the reference for
 * "the output bytes did not change". */
static size_t reference_number(char *out, double v, int decimals) {
    if (!isfinite(v)) {
        memcpy(out, "null", 5);
        return 4;
    }
    if (decimals < 0) decimals = 0;
    if (decimals > 9) decimals = 9;
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
    if (n < 0 || n >= (int)sizeof tmp) {
        n = snprintf(tmp, sizeof tmp, "%.17g", v);
    } else if (decimals > 0) {
        while (n > 0 && tmp[n - 1] == '0') n--;
        if (n > 0 && tmp[n - 1] == '.') n--;
    }
    if (n == 2 && !memcmp(tmp, "-0", 2)) {
        tmp[0] = '0';
        n = 1;
    }
    memcpy(out, tmp, (size_t)n);
    out[n] = '\0';
    return (size_t)n;
}

static void check_number(double v, int decimals) {
    char want[64], got[64];
    JsonWriter w;
    reference_number(want, v, decimals);
    jw_init(&w, got, sizeof got);
    jw_number(&w, v, decimals);
    assert_true(jw_finish(&w) > 0);
    if (strcmp(got, want)) fail_msg("jw_number(%a, %d): '%s', before: '%s'", v, decimals, got, want);
}

static double from_bits(uint64_t bits) {
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static void documented_examples(void **state) {
    (void)state;
    struct {
        double v;
        int decimals;
        const char *want;
    } cases[] = {
        {0.125, 2, "0.12"},
        {0.375, 2, "0.38"},
        {2.675, 2, "2.67"},
        {0.9999996, 6, "1.000000"},
        {9.5, 0, "10"},
        {0.5, 0, "0"},
        {1.5, 0, "2"},
        {2.5, 0, "2"},
        {-0.0, 2, "-0.00"},
        {-0.0001, 3, "-0.000"},
        {0.0, 0, "0"},
        {1e15, 3, "1000000000000000.000"},
        {0.1, 9, "0.100000000"},
        {-2.25, 1, "-2.2"},
        {18446744073709549568.0, 0, "18446744073709549568"},
        {DBL_TRUE_MIN, 9, "0.000000000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got[JW_FIXED_MAX + 1];
        size_t n = jw_format_fixed(got, cases[i].v, cases[i].decimals);
        got[n] = '\0';
        if (strcmp(got, cases[i].want)) fail_msg("case %zu: '%s' != '%s'", i, got, cases[i].want);
        check_fixed(cases[i].v, cases[i].decimals); /* and glibc agrees with the table */
    }
}

static void outside_the_fast_path_nothing_is_written(void **state) {
    (void)state;
    char out[JW_FIXED_MAX] = {'Z'};
    const double big[] = {NAN, INFINITY, -INFINITY, 18446744073709551616.0, -18446744073709551616.0, 1e300};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        assert_int_equal(jw_format_fixed(out, big[i], 3), 0);
    assert_int_equal(jw_format_fixed(out, 1.5, -1), 0);
    assert_int_equal(jw_format_fixed(out, 1.5, 10), 0);
    assert_int_equal(out[0], 'Z');
    /* jw_number still prints them as before (printf's fixed or %.17g notation) */
    const double vals[] = {NAN, INFINITY, 18446744073709551616.0, -3e19, 1e49, 1e51, -1e300, DBL_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        for (int d = -1; d <= 10; d++) check_number(vals[i], d);
}

/* A tie with d decimals is v * 10^d = j + 1/2, v = (2j + 1) / (2^(d+1) 5^d): exact in
 * binary only when 5^d divides 2j + 1, so the ties are the odd multiples of 2^-(d+1).
 * Every multiple of 2^-10 past a few integer parts (small and large), both signs and
 * every decimals covers them all there. */
static void halfway_cases_round_to_even(void **state) {
    (void)state;
    const double bases[] = {0.0, 1.0, 7.0, 1048576.0, 4503599627370496.0 / 4096.0};
    for (int n = 1; n <= 10; n++) {
        double unit = ldexp(1.0, -n);
        for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++)
            for (int k = 0; k < (2 << n); k++) {
                double v = bases[b] + k * unit;
                for (int d = 0; d <= 9; d++) {
                    check_fixed(v, d);
                    check_fixed(-v, d);
                }
            }
    }
}

/* Values a few ulps around 10^k - 0.5 * 10^-d: the last digit either stays or
 * carries all the way into a new integer digit. */
static void carries_across_powers_of_ten(void **state) {
    (void)state;
    double p10 = 1.0;
    for (int k = 0; k <= 18; k++, p10 *= 10.0)
        for (int d = 0; d <= 9; d++) {
            double v = p10 - 0.5 * pow(10.0, -d);
            for (int u = 0; u < 4; u++) v = nextafter(v, 0.0);
            for (int u = 0; u < 9; u++, v = nextafter(v, INFINITY)) {
                check_fixed(v, d);
                check_fixed(-v, d);
                check_number(v, d);
            }
        }
}

/* Random bit patterns of every exponent that the fast path takes (2^-1074 up to
 * 2^64), with both signs and every decimals; and decimal-looking values n/10^k as
 * producers write them (probabilities, ratios, milliseconds). */
static void random_doubles_match_printf(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 20261125);
    for (int i = 0; i < 120000; i++) {
        uint64_t x = rng_u64(&r);
        uint64_t bexp = rng_below(&r, 1023 + 64);
        if (i % 4 == 0) bexp = 1023 - 40 + rng_below(&r, 40 + 64); /* denser where numbers live */
        double v = from_bits((x & (UINT64_C(1) << 63)) | bexp << 52 | (x & ((UINT64_C(1) << 52) - 1)));
        check_fixed(v, i % 10);
    }
    for (int i = 0; i < 60000; i++) {
        uint64_t x = rng_u64(&r);
        int k = (int)rng_below(&r, 11);
        double v = (double)(int64_t)(x % 20000000000ULL - 10000000000ULL) / pow(10.0, k);
        for (int d = 0; d <= 9; d++) check_fixed(v, d);
    }
    for (int i = 0; i < 200000; i++) { /* what the scored events print */
        float p = rng_uniform(&r);
        check_fixed(round((double)p * 1e6) / 1e6, 6);
        check_fixed((double)rng_below(&r, 50) / (1 + rng_below(&r, 60)), 4);
        check_fixed(rng_uniform(&r) * 300.0, 3);
    }
}

/* jw_number over every exponent, NaN and infinities included, with decimals
 * outside 0..9 too: the bytes are those of the snprintf-based version. */
static void jw_number_bytes_unchanged(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < 60000; i++) {
        double v = from_bits(rng_u64(&r));
        check_number(v, (int)rng_below(&r, 12) - 1);
        check_number(ldexp(v, -(int)rng_below(&r, 1000)), (int)rng_below(&r, 10));
    }
    const double specials[] = {0.0,  -0.0, -0.0000001, -0.0000005,   -0.0000006,
                               0.93, 12.0, 1e-300,     -DBL_TRUE_MIN};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++)
        for (int d = -1; d <= 10; d++) check_number(specials[i], d);
}

static void check_int(int64_t v) {
    char want[32], got[32];
    snprintf(want, sizeof want, "%" PRId64, v);
    JsonWriter w;
    jw_init(&w, got, sizeof got);
    jw_int(&w, v);
    assert_int_equal(jw_finish(&w), strlen(want));
    assert_string_equal(got, want);
}

static void ints_match_printf(void **state) {
    (void)state;
    check_int(INT64_MIN);
    check_int(INT64_MIN + 1);
    check_int(INT64_MAX);
    check_int(0);
    for (int64_t p = 1;; p *= 10) { /* 10^k +- 1 up to 10^18 */
        for (int64_t dv = -1; dv <= 1; dv++) {
            check_int(p + dv);
            check_int(-(p + dv));
        }
        if (p > INT64_MAX / 10) break;
    }
    Rng r;
    rng_seed(&r, 3);
    for (int i = 0; i < 100000; i++) {
        uint64_t x = rng_u64(&r);
        check_int((int64_t)(x >> rng_below(&r, 64)) * (x & 1 ? -1 : 1));
    }
    /* a buffer one byte too small overflows instead of truncating */
    char buf[21];
    JsonWriter w;
    jw_init(&w, buf, 20);
    jw_int(&w, INT64_MIN);
    assert_int_equal(jw_finish(&w), 0);
    jw_init(&w, buf, 21);
    jw_int(&w, INT64_MIN);
    assert_int_equal(jw_finish(&w), 20);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(documented_examples),
        cmocka_unit_test(outside_the_fast_path_nothing_is_written),
        cmocka_unit_test(halfway_cases_round_to_even),
        cmocka_unit_test(carries_across_powers_of_ten),
        cmocka_unit_test(random_doubles_match_printf),
        cmocka_unit_test(jw_number_bytes_unchanged),
        cmocka_unit_test(ints_match_printf),
    };
    return cmocka_run_group_tests_name("json_writer", tests, NULL, NULL);
}
