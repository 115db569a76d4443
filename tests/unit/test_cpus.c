/* test_cpus.c — CPU lists (parsing, errors, formatting) and thread affinity: a thread
 * pinned to one CPU runs only there, and cpus_avoid keeps the calling thread and the
 * threads it starts later off the listed CPUs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "worker/cpus.h"

static void lists_parse_and_format(void **state) {
    (void)state;
    CpuList l;
    char err[256], buf[64];
    assert_int_equal(cpus_parse("1", &l, err, sizeof err), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.cpu[0], 1);
    assert_int_equal(cpus_parse("2-5,7,0", &l, err, sizeof err), 0);
    assert_int_equal(l.n, 6);
    const short want[] = {2, 3, 4, 5, 7, 0};
    for (int i = 0; i < 6; i++) assert_int_equal(l.cpu[i], want[i]); /* in the order given */
    assert_string_equal(cpus_format(&l, buf, sizeof buf), "2-5,7,0");
    assert_int_equal(cpus_parse("1023", &l, err, sizeof err), 0);
    assert_int_equal(cpus_parse("0-1023", &l, err, sizeof err), 0);
    assert_int_equal(l.n, CPUS_MAX);
    assert_string_equal(cpus_format(&l, buf, sizeof buf), "0-1023");
    assert_string_equal(cpus_format(&l, buf, 4), "0-1"); /* cut, still terminated */
}

static void bad_lists_say_why(void **state) {
    (void)state;
    CpuList l;
    char err[256];
    const struct {
        const char *text, *says;
    } bad[] = {
        {"", "empty"},
        {"a", "expected"},
        {"1,", "expected"},
        {",1", "expected"},
        {"1,,2", "expected"},
        {"-1", "expected"},
        {"3-1", "goes down"},
        {"1-", "expected"},
        {"1024", "expected"},
        {"1,1", "given twice"},
        {"0-3,2", "given twice"},
        {"1 2", "unexpected ' '"},
        {"1;2", "unexpected ';'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (cpus_parse(bad[i].text, &l, err, sizeof err) != -1) fail_msg("'%s' was accepted", bad[i].text);
        if (!strstr(err, bad[i].says))
            fail_msg("'%s': \"%s\" does not say \"%s\"", bad[i].text, err, bad[i].says);
    }
    assert_int_equal(cpus_parse(NULL, &l, err, sizeof err), -1);
}

/* The CPUs this thread may use, as a list. */
static void allowed_now(CpuList *out) {
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    out->n = 0;
    for (int c = 0; c < CPUS_MAX; c++)
        if (CPU_ISSET(c, &set)) out->cpu[out->n++] = (short)c;
}

static void *report_cpus(void *arg) {
    allowed_now(arg);
    return NULL;
}

/* Changes this thread's CPUs, and gives them back at the end (the last test). */
static void pinning_and_avoiding(void **state) {
    (void)state;
    cpu_set_t original;
    assert_int_equal(sched_getaffinity(0, sizeof original, &original), 0);
    CpuList all, now;
    char err[256];
    allowed_now(&all);
    if (all.n < 2) skip(); /* a machine (or cpuset) of one CPU: nothing to split */
    int first = all.cpu[0], last = all.cpu[all.n - 1];

    CpuList avoid = {.n = 1, .cpu = {(short)last}};
    assert_int_equal(cpus_avoid(&avoid, err, sizeof err), 0);
    allowed_now(&now);
    assert_int_equal(now.n, all.n - 1);
    for (int i = 0; i < now.n; i++) assert_int_not_equal(now.cpu[i], last);
    pthread_t child; /* started after: inherits the restriction */
    CpuList seen;
    assert_int_equal(pthread_create(&child, NULL, report_cpus, &seen), 0);
    pthread_join(child, NULL);
    assert_int_equal(seen.n, all.n - 1);

    assert_int_equal(cpus_avoid(&now, err, sizeof err), 1); /* would leave none: unchanged */
    allowed_now(&seen);
    assert_int_equal(seen.n, now.n);

    assert_int_equal(cpus_pin(pthread_self(), first, err, sizeof err), 0);
    allowed_now(&now);
    assert_int_equal(now.n, 1);
    assert_int_equal(now.cpu[0], first);
    assert_int_equal(sched_getcpu(), first);
    assert_int_equal(cpus_pin(pthread_self(), CPUS_MAX - 1, err, sizeof err) == 0, CPUS_MAX - 1 <= last);
    if (CPUS_MAX - 1 > last) assert_non_null(strstr(err, "cannot pin"));
    assert_int_equal(sched_setaffinity(0, sizeof original, &original), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lists_parse_and_format),
        cmocka_unit_test(bad_lists_say_why),
        cmocka_unit_test(pinning_and_avoiding),
    };
    return cmocka_run_group_tests_name("cpus", tests, NULL, NULL);
}
