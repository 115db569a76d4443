/* test_util.c — the seeded random generator, the clocks (util_rfc3339 against
 * gmtime_r + strftime) and the error-message helper of model/util.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "model/util.h"

static void rng_same_seed_same_stream(void **state) {
    (void)state;
    Rng a, b, c;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    rng_seed(&c, 43);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = rng_u64(&a);
        assert_int_equal(x, rng_u64(&b));
        differ += x != rng_u64(&c);
    }
    assert_true(differ > 990);
}

static void rng_ranges_and_moments(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 7);
    double sum = 0, sum2 = 0;
    int counts[10] = {0};
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        float u = rng_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        uint32_t k = rng_below(&r, 10);
        assert_true(k < 10);
        counts[k]++;
        float z = rng_normal(&r);
        sum += z;
        sum2 += (double)z * z;
    }
    for (int k = 0; k < 10; k++) assert_true(counts[k] > n / 10 - 1000 && counts[k] < n / 10 + 1000);
    double mean = sum / n, var = sum2 / n - mean * mean;
    assert_true(mean > -0.01 && mean < 0.01);
    assert_true(var > 0.98 && var < 1.02);
}

static void rng_shuffle_is_a_permutation(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 1);
    int a[100], seen[100] = {0};
    for (int i = 0; i < 100; i++) a[i] = i;
    rng_shuffle_int(&r, a, 100);
    int moved = 0;
    for (int i = 0; i < 100; i++) {
        seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < 100; i++) assert_int_equal(seen[i], 1);
    assert_true(moved > 80);
}

static void rfc3339_formats_utc_millis(void **state) {
    (void)state;
    char buf[32];
    assert_string_equal(util_rfc3339(1764050400123LL, buf, sizeof buf), "2025-11-25T06:00:00.123Z");
    assert_string_equal(util_rfc3339(0, buf, sizeof buf), "1970-01-01T00:00:00.000Z");
}

/* util_rfc3339 as it was written with gmtime_r and strftime only: the reference. */
static void rfc3339_reference(int64_t ms, char *buf, size_t len) {
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    assert_true(snprintf(buf, len, "%s.%03dZ", base, (int)(ms % 1000)) > 0);
}

static void rfc3339_check(int64_t ms, size_t len) {
    char got[40], want[40];
    memset(got, 'Z', sizeof got);
    memset(want, 'Z', sizeof want);
    rfc3339_reference(ms, want, len);
    assert_ptr_equal(util_rfc3339(ms, got, len), got);
    if (memcmp(got, want, sizeof got))
        fail_msg("%" PRId64 " ms (len %zu): '%s', gmtime says '%s'", ms, len, got, want);
}

/* Every day boundary around leap days and century years, random instants from 1970
 * to 9999, and the inputs the C library still formats (before 1970, from year 10000
 * on, short buffers): the same bytes as gmtime_r + strftime. */
static void rfc3339_same_as_the_c_library(void **state) {
    (void)state;
    const int64_t day = 86400000;
    const int64_t edges[] = {0,
                             951782400000LL /* 2000-02-29 */,
                             4107542400000LL /* 2100-03-01 */,
                             68169600000LL /* 1972-02-29 */,
                             253402300799999LL /* 9999-12-31 */,
                             253402300800000LL,
                             -1,
                             -1000,
                             -86400001,
                             INT64_C(1) << 50};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        for (int64_t dv = -1; dv <= 1; dv++) rfc3339_check(edges[i] + dv * day - (dv != 0), 32);
    for (int64_t d = 0; d < 366 * 5; d++) { /* 1972..1976: every day, its first and last ms */
        rfc3339_check(63072000000LL + d * day, 32);
        rfc3339_check(63072000000LL + d * day - 1, 32);
    }
    Rng r;
    rng_seed(&r, 11);
    for (int i = 0; i < 200000; i++) rfc3339_check((int64_t)(rng_u64(&r) % 253402300800000ULL), 25);
    for (size_t len = 1; len < 25; len++) rfc3339_check(1764050400123LL, len);
}

static void clocks_move_forward(void **state) {
    (void)state;
    double a = util_now_s();
    double b = util_now_s();
    assert_true(b >= a);
    assert_true(util_wall_ms() > 1700000000000LL);
}

static void util_err_formats_cuts_and_returns_minus_one(void **state) {
    (void)state;
    char err[16];
    memset(err, 'x', sizeof err);
    assert_int_equal(util_err(err, sizeof err, "bad %s %d", "row", 17), -1);
    assert_string_equal(err, "bad row 17");
    assert_int_equal(util_err(err, 8, "%s", "a long message"), -1);
    assert_string_equal(err, "a long "); /* cut to errlen - 1 bytes, NUL-terminated */
    err[0] = 'x';
    assert_int_equal(util_err(err, 0, "ignored"), -1);
    assert_int_equal(err[0], 'x'); /* errlen 0: nothing written */
    assert_int_equal(util_err(NULL, 99, "ignored"), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rng_same_seed_same_stream),
        cmocka_unit_test(rng_ranges_and_moments),
        cmocka_unit_test(rng_shuffle_is_a_permutation),
        cmocka_unit_test(rfc3339_formats_utc_millis),
        cmocka_unit_test(rfc3339_same_as_the_c_library),
        cmocka_unit_test(clocks_move_forward),
        cmocka_unit_test(util_err_formats_cuts_and_returns_minus_one),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
