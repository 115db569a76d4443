/* test_resp.c — RESP command encoding: byte-identical to hiredis' own formatting
 * (redisFormatCommandArgv) for empty, binary and long arguments, lengths at the digit
 * boundaries and argument counts of one and two digits, and the length function
 * agrees with what is written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "worker/resp.h"

/* Encodes argv both ways and compares the bytes. */
static void check_like_hiredis(int argc, const char **argv, const size_t *argvlen) {
    char *want = NULL;
    int want_len = redisFormatCommandArgv(&want, argc, argv, argvlen);
    assert_true(want_len > 0);
    size_t len = resp_command_len(argc, argvlen);
    assert_int_equal(len, (size_t)want_len);
    char *got = malloc(len + 1);
    assert_non_null(got);
    got[len] = '#'; /* not overwritten */
    assert_int_equal(resp_command_write(got, argc, (const char *const *)argv, argvlen), len);
    assert_memory_equal(got, want, len);
    assert_int_equal(got[len], '#');
    free(got);
    redisFreeCommand(want);
}

static void simple_commands(void **state) {
    (void)state;
    const char *argv[] = {"SET", "bz:cache:abc", "0.5 v1", "PX", "3600000"};
    size_t len[] = {3, 12, 6, 2, 7};
    check_like_hiredis(5, argv, len);
    check_like_hiredis(1, argv, len);
    char out[64];
    size_t n = resp_command_write(out, 2, (const char *const[]){"GET", "k"}, (const size_t[]){3, 1});
    assert_int_equal(n, 20);
    assert_memory_equal(out, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", n);
}

static void empty_and_binary_arguments(void **state) {
    (void)state;
    const char *argv[] = {"HSET", "k", "text", "", "bin", "a\0b\r\n"};
    size_t len[] = {4, 1, 4, 0, 3, 5};
    check_like_hiredis(6, argv, len);
}

/* Lengths 9, 10, 99, 100, 999, 1000, 12345 and 12 arguments (two-digit count). */
static void digit_boundaries(void **state) {
    (void)state;
    static char big[12345];
    memset(big, 'x', sizeof big);
    const size_t sizes[] = {9, 10, 99, 100, 999, 1000, 12345, 0, 1, 2, 3, 4};
    const char *argv[12];
    size_t len[12];
    for (int i = 0; i < 12; i++) {
        argv[i] = big;
        len[i] = sizes[i];
    }
    for (int argc = 1; argc <= 12; argc++) check_like_hiredis(argc, argv, len);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(simple_commands),
        cmocka_unit_test(empty_and_binary_arguments),
        cmocka_unit_test(digit_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
