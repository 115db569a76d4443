/* test_progress.c — the progress printer of model/progress.c: report text (percent,
 * rate, ETA, units, the caller's suffix), when reports are printed, quiet mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/progress.h"

static void report_with_known_total(void **state) {
    (void)state;
    Progress p;
    char buf[256];
    progress_start_to(&p, stderr, "job", 1000);
    assert_string_equal(progress_format(&p, 500, 2.0, 0, buf, sizeof buf),
                        "job [##########..........]  50%  500/1000  250/s  ETA 0:02");
    assert_string_equal(progress_format(&p, 1000, 4.0, 1, buf, sizeof buf),
                        "job  done 1000 in 4.0 s (250/s)");
    progress_start_to(&p, stderr, "big", 3000000);
    assert_string_equal(progress_format(&p, 20000, 1.0, 0, buf, sizeof buf),
                        "big [....................]   0%  20.0k/3.00M  20.0k/s  ETA 2:29");
    assert_string_equal(progress_format(&p, 20000, 0.0, 0, buf, sizeof buf),
                        "big [....................]   0%  20.0k/3.00M  0/s  ETA ?");
}

static void report_in_bytes_and_long_eta(void **state) {
    (void)state;
    Progress p;
    char buf[256];
    progress_start_to(&p, stderr, "loading x.gz", 50100000);
    p.unit = PROGRESS_BYTES;
    assert_string_equal(progress_format(&p, 17500000, 0.5, 0, buf, sizeof buf),
                        "loading x.gz [######..............]  34%  17.5/50.1 MB  35.0 MB/s  ETA 0:01");
    assert_string_equal(progress_format(&p, 500, 1.0, 0, buf, sizeof buf),
                        "loading x.gz [....................]   0%  0.5 kB/50.1 MB  0.5 kB/s  ETA 27:49:59");
}

static void report_with_unknown_total(void **state) {
    (void)state;
    Progress p;
    char buf[256];
    progress_start_to(&p, stderr, "reading stdin", 0);
    assert_string_equal(progress_format(&p, 500, 2.0, 0, buf, sizeof buf), "reading stdin  500  250/s");
}

static void suffix_is_appended_as_it_reads_now(void **state) {
    (void)state;
    Progress p;
    char buf[256], extra[32] = "epoch 1/5";
    progress_start_to(&p, stderr, "w2v", 1000);
    assert_null(p.suffix);
    p.suffix = extra;
    assert_string_equal(progress_format(&p, 500, 2.0, 0, buf, sizeof buf),
                        "w2v [##########..........]  50%  500/1000  250/s  ETA 0:02  epoch 1/5");
    snprintf(extra, sizeof extra, "epoch 2/5"); /* not copied: the new text shows */
    assert_string_equal(progress_format(&p, 500, 2.0, 0, buf, sizeof buf),
                        "w2v [##########..........]  50%  500/1000  250/s  ETA 0:02  epoch 2/5");
    snprintf(extra, sizeof extra, "2 threads");
    assert_string_equal(progress_format(&p, 1000, 4.0, 1, buf, sizeof buf),
                        "w2v  done 1000 in 4.0 s (250/s)  2 threads");
    extra[0] = '\0'; /* an empty suffix adds nothing, not even the spaces */
    assert_string_equal(progress_format(&p, 1000, 4.0, 1, buf, sizeof buf),
                        "w2v  done 1000 in 4.0 s (250/s)");
    /* a short buffer is cut and stays NUL-terminated; an empty one is left alone */
    snprintf(extra, sizeof extra, "alpha 0.025");
    assert_string_equal(progress_format(&p, 1000, 4.0, 1, buf, 30), "w2v  done 1000 in 4.0 s (250/");
    buf[0] = 'x';
    assert_ptr_equal(progress_format(&p, 1000, 4.0, 1, buf, 0), buf);
    assert_int_equal(buf[0], 'x');
}

/* Reads back what was printed to f. */
static const char *contents(FILE *f, char *buf, size_t len) {
    fflush(f);
    rewind(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    return buf;
}

static void plain_lines_when_due_and_nothing_for_short_jobs(void **state) {
    (void)state;
    FILE *f = tmpfile();
    char buf[1024];
    Progress p;
    progress_start_to(&p, f, "short", 10);
    assert_int_equal(p.tty, 0);
    for (int i = 1; i <= 10; i++) progress_update(&p, i);
    progress_finish(&p);
    assert_string_equal(contents(f, buf, sizeof buf), ""); /* ended before the first report */

    progress_start_to(&p, f, "due", 10);
    p.first_s = p.every_s = 0; /* a report at every update */
    progress_update(&p, 4);
    progress_update(&p, 10);
    progress_finish(&p);
    progress_finish(&p); /* idempotent */
    contents(f, buf, sizeof buf);
    assert_non_null(strstr(buf, "due [########............]  40%  4/10"));
    assert_non_null(strstr(buf, "due [####################] 100%  10/10"));
    assert_non_null(strstr(buf, "due  done 10 in "));
    int lines = 0;
    for (const char *c = buf; *c; c++) lines += *c == '\n';
    assert_int_equal(lines, 3);
    assert_null(strchr(buf, '\r')); /* no terminal control in a log file */

    /* a suffix reaches the printed lines, the final one included */
    rewind(f);
    assert_int_equal(ftruncate(fileno(f), 0), 0);
    progress_start_to(&p, f, "sfx", 10);
    p.first_s = p.every_s = 0;
    p.suffix = "alpha 0.025";
    progress_update(&p, 5);
    progress_finish(&p);
    assert_non_null(strstr(contents(f, buf, sizeof buf), "sfx [##########..........]  50%  5/10"));
    assert_non_null(strstr(buf, "ETA 0:00  alpha 0.025\n"));
    assert_non_null(strstr(buf, "sfx  done 5 in "));
    assert_non_null(strstr(buf, "/s)  alpha 0.025\n"));
    fclose(f);
}

static void quiet_prints_nothing(void **state) {
    (void)state;
    FILE *f = tmpfile();
    char buf[256];
    Progress p;
    progress_start_to(&p, f, "quiet", 10);
    p.quiet = 1;
    p.first_s = p.every_s = 0;
    progress_update(&p, 5);
    progress_finish(&p);
    assert_int_equal(p.done, 5);
    assert_string_equal(contents(f, buf, sizeof buf), "");
    fclose(f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(report_with_known_total),
        cmocka_unit_test(report_in_bytes_and_long_eta),
        cmocka_unit_test(report_with_unknown_total),
        cmocka_unit_test(suffix_is_appended_as_it_reads_now),
        cmocka_unit_test(plain_lines_when_due_and_nothing_for_short_jobs),
        cmocka_unit_test(quiet_prints_nothing),
    };
    return cmocka_run_group_tests_name("progress", tests, NULL, NULL);
}
