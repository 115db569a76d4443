/* test_dataset.c — the dataset loaders (model/dataset.c) and the sample/split
 * functions (model/split.c) on small files written into a temporary directory,
 * plus the real 53k Sentiment140 sample when $BUZZRADAR_SHARED_DATA is set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/dataset.h"
#include "model/split.h"
#include "model/util.h"
#include "tests/unit/test_support.h"

typedef struct {
    char dir[64];
    char path[128];
    FILE *log; /* what the loader printed */
    char logbuf[8192];
} Fixture;

static int setup(void **state) {
    Fixture *f = calloc(1, sizeof *f);
    if (!f || test_tmpdir_make(f->dir, sizeof f->dir, "test_dataset") != 0) {
        free(f);
        return -1;
    }
    f->log = tmpfile();
    *state = f;
    return 0;
}

static int teardown(void **state) {
    Fixture *f = *state;
    test_tmpdir_remove(f->dir);
    fclose(f->log);
    free(f);
    return 0;
}

/* Writes len bytes to dir/name, as they are (raw) or gzip-compressed when the name
 * ends with ".gz", and returns the path. */
static const char *write_file(Fixture *f, const char *name, const void *data, size_t len, int raw) {
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    size_t n = strlen(name);
    test_write_file(f->path, data, len, !raw && n > 3 && !strcmp(name + n - 3, ".gz"));
    return f->path;
}

static const char *write_bytes(Fixture *f, const char *name, const void *data, size_t len) {
    return write_file(f, name, data, len, 0);
}

/* Writes a string literal (which may hold NUL bytes) to dir/name. */
#define WRITE(f, name, lit) write_bytes((f), (name), (lit), sizeof(lit) - 1)

/* Everything the loader printed to the fixture's log so far. */
static const char *logged(Fixture *f) {
    fflush(f->log);
    rewind(f->log);
    size_t n = fread(f->logbuf, 1, sizeof f->logbuf - 1, f->log);
    f->logbuf[n] = '\0';
    return f->logbuf;
}

static DatasetOptions opts(Fixture *f) {
    DatasetOptions o = dataset_options_default();
    o.log = f->log;
    return o;
}

/* Loads path with o; fails the test when the load fails. */
static void load_ok(const char *path, const DatasetOptions *o, Dataset *d) {
    char err[512] = "";
    int rc = dataset_load(path, o, d, err, sizeof err);
    if (rc != 0) fail_msg("dataset_load: %s", err);
}

/* Loads path with o, expects a failure, and returns the message. */
static const char *load_fails(const char *path, const DatasetOptions *o, char *err, size_t errlen) {
    Dataset d;
    memset(&d, 0x5a, sizeof d);
    assert_int_equal(dataset_load(path, o, &d, err, errlen), -1);
    assert_int_equal(d.n, 0); /* zeroed on failure */
    assert_null(d.text);
    return err;
}

#define S140(target, id, text)                                                                               \
    "\"" #target "\",\"" #id "\",\"Mon Apr 06 22:19:45 PDT 2009\",\"NO_QUERY\",\"user\",\"" text "\"\n"

static const char s140_file[] = S140(0, 1, "is upset &amp; sad") S140(4, 2, "love it!")
    S140(2, 3, "meh, neutral") S140(4, 4, "a \"\"quoted\"\" word") S140(0, 5, "");

static void check_s140(const Dataset *d) {
    assert_int_equal(d->format, DATA_FORMAT_SENTIMENT140);
    assert_int_equal(d->n, 4);
    assert_int_equal(d->rows, 5);
    assert_int_equal(d->neutral_skipped, 1);
    assert_int_equal(d->bad_rows, 0);
    assert_int_equal(d->count[0], 2);
    assert_int_equal(d->count[1], 2);
    const uint8_t labels[] = {0, 1, 1, 0};
    const char *texts[] = {"is upset &amp; sad", "love it!", "a \"quoted\" word", ""};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(d->label[i], labels[i]);
        assert_string_equal(dataset_text(d, i), texts[i]);
        assert_int_equal(dataset_len(d, i), strlen(texts[i]));
    }
}

static void sentiment140_plain_and_gzip(void **state) {
    Fixture *f = *state;
    DatasetOptions o = opts(f);
    Dataset d;
    load_ok(WRITE(f, "s.csv", s140_file), &o, &d);
    check_s140(&d);
    assert_non_null(strstr(logged(f), "loaded 4 rows from"));
    assert_non_null(strstr(logged(f), "(sentiment140; 2 negative, 2 positive; 1 neutral skipped)"));
    dataset_free(&d);
    assert_null(d.text); /* zeroed */
    load_ok(WRITE(f, "s.csv.gz", s140_file), &o, &d);
    check_s140(&d);
    dataset_free(&d);
}

static const char csv_file[] = "label,text\n"
                               "0,plain negative\n"
                               "positive,\"with, a comma\"\n"
                               "NEGATIVE,\"two\nlines &quot;kept&quot;\"\n"
                               " 1 ,\"\"\"quoted\"\"\"\n"
                               "neutral,skipped\n"
                               "Positive,last line without newline";

static void check_csv(const Dataset *d) {
    assert_int_equal(d->format, DATA_FORMAT_CSV);
    assert_int_equal(d->n, 5);
    assert_int_equal(d->rows, 6);
    assert_int_equal(d->neutral_skipped, 1);
    const uint8_t labels[] = {0, 1, 0, 1, 1};
    const char *texts[] = {"plain negative", "with, a comma", "two\nlines &quot;kept&quot;", "\"quoted\"",
                           "last line without newline"};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(d->label[i], labels[i]);
        assert_string_equal(dataset_text(d, i), texts[i]);
    }
}

static void label_text_csv_plain_and_gzip(void **state) {
    Fixture *f = *state;
    DatasetOptions o = opts(f);
    Dataset d;
    load_ok(WRITE(f, "c.csv", csv_file), &o, &d);
    check_csv(&d);
    dataset_free(&d);
    load_ok(WRITE(f, "c.csv.gz", csv_file), &o, &d);
    check_csv(&d);
    dataset_free(&d);
}

static void header_columns_in_any_order_crlf_and_bom(void **state) {
    Fixture *f = *state;
    DatasetOptions o = opts(f);
    Dataset d;
    load_ok(WRITE(f, "o.csv", "\xEF\xBB\xBFid,Text,LABEL\r\n7,\"hello, world\",1\r\n8,bye,0\r\n"), &o, &d);
    assert_int_equal(d.format, DATA_FORMAT_CSV);
    assert_int_equal(d.n, 2);
    assert_string_equal(dataset_text(&d, 0), "hello, world");
    assert_int_equal(d.label[0], 1);
    assert_string_equal(dataset_text(&d, 1), "bye");
    assert_int_equal(d.label[1], 0);
    dataset_free(&d);
}

static void latin1_is_converted_and_utf8_kept(void **state) {
    Fixture *f = *state;
    DatasetOptions o = opts(f);
    Dataset d;
    load_ok(WRITE(f, "l.csv",
                  S140(0, 1,
                       "caf\xE9 \xA3"
                       "5 K\xE4se") S140(4, 2, "I \xE2\x99\xA5 it") S140(4, 3,
                                                                         "it\x92s \x80"
                                                                         "5 \x81")),
            &o, &d);
    assert_int_equal(d.n, 3);
    assert_string_equal(dataset_text(&d, 0), "café £5 Käse");
    assert_string_equal(dataset_text(&d, 1), "I ♥ it");           /* valid UTF-8 stays */
    assert_string_equal(dataset_text(&d, 2), "it’s €5 \xC2\x81"); /* windows-1252 0x80-0x9F */
    assert_int_equal(d.latin1_rows, 2);
    assert_int_equal(d.repaired_utf8, 0);
    assert_non_null(strstr(logged(f), "; 2 read as latin-1"));
    dataset_free(&d);
}

static void invalid_utf8_is_repaired_and_counted(void **state) {
    Fixture *f = *state;
    DatasetOptions o = opts(f);
    Dataset d;
    load_ok(WRITE(f, "u.csv",
                  "label,text\n"
                  "0,ok \xFF end\n"
                  "1,cut \xE2\x82\n"
                  "0,surrogate \xED\xA0\x80!\n"
                  "1,overlong \xC0\xAF.\n"
                  "0,nul \"\0\" byte\n"
                  "1,fine \xC3\xA9\xF0\x9F\x98\x80\n"),
            &o, &d);
    assert_int_equal(d.n, 6);
    assert_string_equal(dataset_text(&d, 0), "ok \xEF\xBF\xBD end");
    assert_string_equal(dataset_text(&d, 1), "cut \xEF\xBF\xBD"); /* one U+FFFD per maximal subpart */
    assert_string_equal(dataset_text(&d, 2), "surrogate \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD!");
    assert_string_equal(dataset_text(&d, 3), "overlong \xEF\xBF\xBD\xEF\xBF\xBD.");
    assert_string_equal(dataset_text(&d, 4), "nul \"\xEF\xBF\xBD\" byte");
    assert_string_equal(dataset_text(&d, 5), "fine é😀");
    assert_int_equal(d.repaired_utf8, 5);
    assert_int_equal(d.latin1_rows, 0);
    dataset_free(&d);
}

/* Bad rows on lines 4 (after a record spanning lines 2-3), 6 and 8. */
static const char bad_file[] =
    S140(4, 0, "zero") S140(0, 1, "first\nsecond line") "\"0\",\"2\",\"only three\"\n" S140(
        4, 3,
        "good") "\"7\",\"4\",\"d\",\"q\",\"u\",\"bad target\"\n" S140(4, 5,
                                                                      "good again") "\"0\",\"6\",\"d\",\"q\","
                                                                                    "\"u\","
                                                                                    "\"broken\"quote\"\n";

static void bad_rows_skipped_with_line_numbers(void **state) {
    Fixture *f = *state;
    DatasetOptions o = opts(f);
    Dataset d;
    const char *path = WRITE(f, "bad.csv", bad_file);
    load_ok(path, &o, &d);
    assert_int_equal(d.n, 4);
    assert_int_equal(d.bad_rows, 3);
    assert_int_equal(d.first_bad_line, 4);
    assert_int_equal(d.rows, 7);
    assert_string_equal(dataset_text(&d, 1), "first\nsecond line");
    assert_string_equal(dataset_text(&d, 3), "good again");
    char want[512];
    const char *log = logged(f);
    snprintf(want, sizeof want, "buzzradar: warning: %s:4: expected 6 columns, found 3 (row skipped)\n",
             path);
    assert_non_null(strstr(log, want));
    snprintf(want, sizeof want,
             "buzzradar: warning: %s:6: target must be 0, 2 or 4, found \"7\" (row skipped)\n", path);
    assert_non_null(strstr(log, want));
    snprintf(want, sizeof want,
             "buzzradar: warning: %s:8: unexpected character after a closing quote (row skipped)\n", path);
    assert_non_null(strstr(log, want));
    snprintf(want, sizeof want, "buzzradar: %s: skipped 3 bad rows (first at line 4)\n", path);
    assert_non_null(strstr(log, want));
    dataset_free(&d);
}

static void bad_rows_are_reported_even_when_quiet(void **state) {
    Fixture *f = *state;
    DatasetOptions o = opts(f);
    o.quiet = 1;
    char data[4096];
    size_t n = (size_t)snprintf(data, sizeof data, "label,text\n");
    for (int i = 0; i < 12; i++)
        n += (size_t)snprintf(data + n, sizeof data - n, "%s,row %d\n", i % 2 ? "x" : "1", i);
    Dataset d;
    const char *path = write_bytes(f, "many.csv", data, n);
    load_ok(path, &o, &d);
    assert_int_equal(d.n, 6);
    assert_int_equal(d.bad_rows, 6);
    const char *log = logged(f);
    int warnings = 0;
    for (const char *p = log; (p = strstr(p, "warning:")); p++) warnings++;
    assert_int_equal(warnings, DATASET_MAX_WARNINGS);
    char want[512];
    snprintf(want, sizeof want, "%s:3: label must be 0, 1, negative or positive, found \"x\"", path);
    assert_non_null(strstr(log, want));
    assert_non_null(strstr(log, "skipped 6 bad rows (first at line 3)"));
    assert_null(strstr(log, "loaded")); /* quiet: no summary of the load itself */
    dataset_free(&d);
}

static void bad_row_stops_the_load_in_stop_mode(void **state) {
    Fixture *f = *state;
    DatasetOptions o = opts(f);
    o.on_bad = DATA_BAD_STOP;
    char err[512], want[512];
    const char *path = WRITE(f, "bad.csv", bad_file);
    load_fails(path, &o, err, sizeof err);
    snprintf(want, sizeof want, "%s:4: expected 6 columns, found 3", path);
    assert_string_equal(err, want);
    path = WRITE(f, "bad2.csv", "label,text\n1,a\n\"0\",\"b\"x\n");
    load_fails(path, &o, err, sizeof err);
    snprintf(want, sizeof want, "%s:3: unexpected character after a closing quote", path);
    assert_string_equal(err, want);
}

static void unusable_files_are_clear_errors(void **state) {
    Fixture *f = *state;
    DatasetOptions o = opts(f);
    char err[512], want[512];
    const char *path = WRITE(f, "empty.csv", "");
    snprintf(want, sizeof want, "%s: empty file", path);
    assert_string_equal(load_fails(path, &o, err, sizeof err), want);

    path = WRITE(f, "header.csv", "label,text\n");
    snprintf(want, sizeof want, "%s: no data rows after the header", path);
    assert_string_equal(load_fails(path, &o, err, sizeof err), want);

    path = WRITE(f, "neutral.csv", S140(2, 1, "meh") S140(2, 2, "so-so"));
    snprintf(want, sizeof want, "%s: no labelled rows (2 neutral, 0 bad rows skipped)", path);
    assert_string_equal(load_fails(path, &o, err, sizeof err), want);

    snprintf(want, sizeof want, "%s/missing.csv", f->dir);
    load_fails(want, &o, err, sizeof err);
    assert_non_null(strstr(err, "missing.csv: No such file or directory"));

    path = WRITE(f, "what.csv", "a,b,c\n1,2,3\n");
    load_fails(path, &o, err, sizeof err);
    snprintf(want, sizeof want, "%s:1: cannot detect the format", path);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "--data-format"));
}

static void truncated_gzip_fails_cleanly(void **state) {
    Fixture *f = *state;
    char data[60000];
    size_t n = (size_t)snprintf(data, sizeof data, "label,text\n");
    unsigned x = 1;
    while (n < sizeof data - 100) {
        x = x * 1103515245u + 12345u;
        n += (size_t)snprintf(data + n, sizeof data - n, "%u,tweet %u %u\n", x >> 31, x, x * 7u);
    }
    const char *path = write_bytes(f, "t.csv.gz", data, n);
    FILE *fp = fopen(path, "rb");
    static char gz[70000];
    size_t gzlen = fread(gz, 1, sizeof gz, fp);
    fclose(fp);
    path = write_file(f, "t.csv.gz", gz, gzlen - gzlen / 3, 1);
    DatasetOptions o = opts(f);
    char err[512], want[512];
    load_fails(path, &o, err, sizeof err);
    snprintf(want, sizeof want, "%s:", path);
    assert_non_null(strstr(err, want));
    if (!strstr(err, "truncated gzip file")) fail_msg("unexpected message: %s", err);
}

static void forced_formats(void **state) {
    Fixture *f = *state;
    DatasetOptions o = opts(f);
    char err[512];
    Dataset d;
    o.format = DATA_FORMAT_CSV;
    load_fails(WRITE(f, "s.csv", s140_file), &o, err, sizeof err);
    assert_non_null(strstr(err, "s.csv:1: expected a CSV header naming a label and a text column"));

    /* a headerless file that auto-detection cannot place, forced to Sentiment140 */
    o.format = DATA_FORMAT_SENTIMENT140;
    load_ok(WRITE(f, "odd.csv", "\"x\",\"1\",\"d\",\"q\",\"u\",\"odd first\"\n" S140(4, 2, "fine")), &o, &d);
    assert_int_equal(d.format, DATA_FORMAT_SENTIMENT140);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.bad_rows, 1);
    assert_int_equal(d.first_bad_line, 1);
    dataset_free(&d);

    DataFormat fmt;
    assert_int_equal(dataset_format_parse("sentiment140", &fmt), 0);
    assert_int_equal(fmt, DATA_FORMAT_SENTIMENT140);
    assert_int_equal(dataset_format_parse("csv", &fmt), 0);
    assert_int_equal(fmt, DATA_FORMAT_CSV);
    assert_int_equal(dataset_format_parse("auto", &fmt), 0);
    assert_int_equal(fmt, DATA_FORMAT_AUTO);
    assert_int_equal(dataset_format_parse("tsv", &fmt), -1);
    assert_string_equal(dataset_format_name(DATA_FORMAT_SENTIMENT140), "sentiment140");
    assert_string_equal(dataset_format_name(DATA_FORMAT_CSV), "csv");
}

/* A label,text file of n0 negative then n1 positive rows whose text is "row I". */
static const char *write_rows(Fixture *f, const char *name, int n0, int n1) {
    size_t cap = (size_t)(n0 + n1) * 16 + 32, n = 0;
    char *data = mallocCheck(cap);
    n += (size_t)snprintf(data + n, cap - n, "label,text\n");
    for (int i = 0; i < n0 + n1; i++) n += (size_t)snprintf(data + n, cap - n, "%d,row %d\n", i >= n0, i);
    const char *path = write_bytes(f, name, data, n);
    free(data);
    return path;
}

static void limit_is_a_balanced_seeded_sample(void **state) {
    Fixture *f = *state;
    const char *path = write_rows(f, "r.csv", 100, 300);
    DatasetOptions o = opts(f);
    o.limit = 50;
    o.seed = 7;
    Dataset a, b, c;
    load_ok(path, &o, &a);
    assert_int_equal(a.n, 50);
    assert_int_equal(a.count[0], 25);
    assert_int_equal(a.count[1], 25);
    assert_int_equal(a.sampled_out, 350);
    int last = -1, n0 = 0;
    for (int i = 0; i < a.n; i++) {
        int row = atoi(dataset_text(&a, i) + 4);
        assert_true(row > last); /* file order kept */
        last = row;
        assert_int_equal(a.label[i], row >= 100); /* label still matches its text */
        n0 += a.label[i] == 0;
    }
    assert_int_equal(n0, 25);
    load_ok(path, &o, &b);
    for (int i = 0; i < a.n; i++) assert_string_equal(dataset_text(&a, i), dataset_text(&b, i));
    o.seed = 8;
    load_ok(path, &o, &c);
    int same = 0;
    for (int i = 0; i < a.n; i++) same += !strcmp(dataset_text(&a, i), dataset_text(&c, i));
    assert_true(same < a.n / 2);
    dataset_free(&a), dataset_free(&b), dataset_free(&c);

    o.limit = 1000; /* more than there is: everything */
    load_ok(path, &o, &a);
    assert_int_equal(a.n, 400);
    assert_int_equal(a.sampled_out, 0);
    dataset_free(&a);
}

static void sample_fills_from_the_larger_class(void **state) {
    (void)state;
    enum { N = 310 };
    uint8_t label[N];
    for (int i = 0; i < N; i++) label[i] = i >= 10; /* 10 negative, 300 positive */
    int out[N];
    assert_int_equal(split_sample_balanced(label, NULL, N, 100, 1, out), 100);
    int n0 = 0;
    for (int i = 0; i < 100; i++) {
        n0 += label[out[i]] == 0;
        if (i) assert_true(out[i] > out[i - 1]);
    }
    assert_int_equal(n0, 10);
    /* over a subset of row ids: only those rows are drawn */
    int idx[N / 2];
    for (int i = 0; i < N / 2; i++) idx[i] = 2 * i;
    int m = split_sample_balanced(label, idx, N / 2, 40, 1, out);
    assert_int_equal(m, 40);
    n0 = 0;
    for (int i = 0; i < m; i++) {
        assert_int_equal(out[i] % 2, 0);
        n0 += label[out[i]] == 0;
    }
    assert_int_equal(n0, 5); /* the 5 even negatives, then 35 positives */
    assert_int_equal(split_sample_balanced(label, NULL, N, 0, 1, out), N);
    assert_int_equal(out[N - 1], N - 1);
}

static void check_split(const DataSplit *s, const uint8_t *label, int n, const double frac[3], int stratify) {
    int *seen = calloc((size_t)n, sizeof *seen);
    int total = 0;
    for (int p = 0; p < SPLIT_PARTS; p++) {
        int pos = 0;
        for (int i = 0; i < s->n[p]; i++) {
            assert_true(s->part[p][i] >= 0 && s->part[p][i] < n);
            seen[s->part[p][i]]++;
            pos += label[s->part[p][i]];
        }
        total += s->n[p];
        assert_true(abs(s->n[p] - (int)(frac[p] * n + 0.5)) <= 1);
        if (stratify && s->n[p] > 0) {
            double share = (double)pos / s->n[p];
            assert_true(share > 0.29 && share < 0.31); /* 30% positive everywhere */
        }
    }
    assert_int_equal(total, n);
    for (int i = 0; i < n; i++) assert_int_equal(seen[i], 1); /* disjoint and complete */
    free(seen);
}

static void split_is_reproducible_disjoint_and_stratified(void **state) {
    (void)state;
    enum { N = 1000 };
    uint8_t label[N];
    for (int i = 0; i < N; i++) label[i] = i % 10 < 3; /* 30% positive */
    const double frac[3] = {0.8, 0.1, 0.1};
    char err[256];
    DataSplit a, b, c, u;
    assert_int_equal(split_make(label, NULL, N, frac, 42, 1, &a, err, sizeof err), 0);
    assert_int_equal(split_make(label, NULL, N, frac, 42, 1, &b, err, sizeof err), 0);
    assert_int_equal(split_make(label, NULL, N, frac, 43, 1, &c, err, sizeof err), 0);
    check_split(&a, label, N, frac, 1);
    check_split(&c, label, N, frac, 1);
    for (int p = 0; p < SPLIT_PARTS; p++) {
        assert_int_equal(a.n[p], b.n[p]);
        assert_memory_equal(a.part[p], b.part[p], (size_t)a.n[p] * sizeof(int));
    }
    assert_memory_not_equal(a.part[SPLIT_TEST], c.part[SPLIT_TEST], (size_t)a.n[SPLIT_TEST] * sizeof(int));
    /* parts are shuffled, not sorted */
    int ascending = 1;
    for (int i = 1; i < a.n[SPLIT_TRAIN]; i++)
        ascending &= a.part[SPLIT_TRAIN][i] > a.part[SPLIT_TRAIN][i - 1];
    assert_false(ascending);
    assert_int_equal(split_make(label, NULL, N, frac, 42, 0, &u, err, sizeof err), 0);
    check_split(&u, label, N, frac, 0);
    split_free(&a), split_free(&b), split_free(&c), split_free(&u);
    assert_null(a.ids);

    const double bad[3] = {0.8, 0.1, 0.2}, neg[3] = {1.1, -0.1, 0};
    assert_int_equal(split_make(label, NULL, N, bad, 1, 1, &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "add up to 1"));
    assert_int_equal(split_make(label, NULL, N, neg, 1, 1, &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "[0, 1]"));
}

static void split_over_a_subset_and_tiny_sets(void **state) {
    (void)state;
    enum { N = 200 };
    uint8_t label[N];
    int idx[N / 2];
    for (int i = 0; i < N; i++) label[i] = i % 2;
    for (int i = 0; i < N / 2; i++) idx[i] = i * 2 + (i % 4 == 0); /* a mix of both labels */
    const double frac[3] = {0.5, 0.25, 0.25};
    char err[256];
    DataSplit s;
    assert_int_equal(split_make(label, idx, N / 2, frac, 3, 1, &s, err, sizeof err), 0);
    int total = 0;
    for (int p = 0; p < SPLIT_PARTS; p++) {
        for (int i = 0; i < s.n[p]; i++) {
            int row = s.part[p][i], found = 0;
            for (int k = 0; k < N / 2; k++) found |= idx[k] == row;
            assert_true(found);
        }
        total += s.n[p];
    }
    assert_int_equal(total, N / 2);
    split_free(&s);
    assert_int_equal(split_make(label, NULL, 1, frac, 3, 1, &s, err, sizeof err), 0);
    assert_int_equal(s.n[0] + s.n[1] + s.n[2], 1);
    split_free(&s);
    assert_int_equal(split_make(label, NULL, 0, frac, 3, 1, &s, err, sizeof err), 0);
    assert_int_equal(s.n[0] + s.n[1] + s.n[2], 0);
    split_free(&s);
}

/* 1 when s is valid UTF-8 (an independent, plain decoder: no overlongs, no
 * surrogates, nothing above U+10FFFF). */
static int valid_utf8(const unsigned char *s) {
    while (*s) {
        unsigned c = *s, n = c < 0x80 ? 0 : c >> 5 == 6 ? 1 : c >> 4 == 14 ? 2 : c >> 3 == 30 ? 3 : 9;
        if (n == 9) return 0;
        uint32_t cp = n == 0 ? c : c & (0x3F >> n);
        for (unsigned k = 1; k <= n; k++) {
            if ((s[k] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[k] & 0x3F);
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        s += n + 1;
    }
    return 1;
}

/* Appends to data (room for cap bytes) a random text field: bytes rich in quotes,
 * commas, line breaks and high bytes, usually quoted properly, sometimes not. */
static size_t random_field(Rng *rng, char *data, size_t n, size_t cap) {
    static const char alphabet[] = "\",\n\r024 ab\xE9\xFF\xC3\xA9\xE2\x82\xAC\xED\xF0";
    int quoted = rng_below(rng, 20) < 19, len = (int)rng_below(rng, 24);
    if (quoted && n < cap) data[n++] = '"';
    for (int k = 0; k < len && n + 2 < cap; k++) {
        char c = alphabet[rng_below(rng, sizeof alphabet - 1)];
        data[n++] = c;
        if (quoted && c == '"' && rng_below(rng, 20) < 19) data[n++] = '"'; /* usually escaped */
    }
    if (quoted && n < cap) data[n++] = '"';
    return n;
}

/* Random files in both formats and both modes, read plain and gzipped: every load
 * ends cleanly, its counts add up, and every text is valid UTF-8 of the stated length. */
static void random_files_never_break_the_loader(void **state) {
    Fixture *f = *state;
    /* per format: four good labels, then a neutral one and a bad one */
    static const char *labels[2][6] = {{"0", "4", "\"0\"", "\"4\"", "2", "1"},
                                       {"0", "1", "negative", "positive", "neutral", "4"}};
    Rng rng;
    rng_seed(&rng, 2024);
    char data[4096];
    int loaded = 0, failed = 0;
    long rows = 0, bad = 0, converted = 0;
    for (int round = 0; round < 300; round++) {
        int csv = round % 2;
        size_t n = csv ? (size_t)snprintf(data, sizeof data, "label,text\n") : 0;
        int nrows = (int)rng_below(&rng, 40);
        for (int r = 0; r < nrows && n + 300 < sizeof data; r++) {
            uint32_t pick = rng_below(&rng, 20);
            n += (size_t)snprintf(data + n, sizeof data - n, "%s",
                                  labels[csv][pick < 18 ? pick % 4 : pick - 14]);
            int cols = csv ? 1 : 5;
            if (rng_below(&rng, 20) == 0) cols += (int)rng_below(&rng, 3) - 1; /* a wrong column count */
            for (int k = 0; k < cols; k++) {
                data[n++] = ',';
                n = random_field(&rng, data, n, sizeof data - 1);
            }
            n += (size_t)snprintf(data + n, sizeof data - n, "%s", rng_below(&rng, 4) ? "\n" : "\r\n");
        }
        const char *path = write_bytes(f, round % 3 ? "r.csv" : "r.csv.gz", data, n);
        DatasetOptions o = opts(f);
        o.quiet = 1;
        o.on_bad = round % 4 == 3 ? DATA_BAD_STOP : DATA_BAD_SKIP;
        Dataset d;
        char err[512];
        if (dataset_load(path, &o, &d, err, sizeof err) != 0) {
            assert_non_null(strstr(err, path)); /* every message names the file */
            failed++;
            continue;
        }
        loaded++, rows += d.n, bad += d.bad_rows, converted += d.repaired_utf8 + d.latin1_rows;
        assert_int_equal(d.count[0] + d.count[1], d.n);
        assert_int_equal(d.rows, d.n + d.neutral_skipped + d.bad_rows);
        for (int i = 0; i < d.n; i++) {
            assert_true(d.label[i] <= 1);
            assert_int_equal(strlen(dataset_text(&d, i)), dataset_len(&d, i));
            assert_true(valid_utf8((const unsigned char *)dataset_text(&d, i)));
        }
        dataset_free(&d);
        rewind(f->log); /* keep the log small */
    }
    print_message("random files: %d loaded (%ld rows kept, %ld bad, %ld converted), %d failed\n", loaded,
                  rows, bad, converted, failed);
    /* the generator reaches every outcome */
    assert_true(loaded > 100 && failed > 20 && rows > 1000 && bad > 300 && converted > 300);
}

/* The real 53k Sentiment140 sample: the counts of ../shared/data/README.md. */
static void real_sentiment140_sample(void **state) {
    (void)state;
    const char *dir = getenv("BUZZRADAR_SHARED_DATA");
    if (!dir || !*dir) {
        print_message("BUZZRADAR_SHARED_DATA is not set: skipping the test on the real 53k sample\n");
        skip();
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/sentiment140-sample-53k.csv", dir);
    DatasetOptions o = dataset_options_default();
    o.quiet = 1;
    o.on_bad = DATA_BAD_STOP;
    Dataset d;
    load_ok(path, &o, &d);
    assert_int_equal(d.format, DATA_FORMAT_SENTIMENT140);
    assert_int_equal(d.rows, 53834);
    assert_int_equal(d.n, 53834);
    assert_int_equal(d.count[0], 25330);
    assert_int_equal(d.count[1], 28504);
    assert_int_equal(d.neutral_skipped, 0);
    assert_int_equal(d.bad_rows, 0);
    assert_int_equal(d.latin1_rows, 33); /* the rest of the non-ASCII rows are UTF-8 already */
    assert_int_equal(d.label[0], 0);
    assert_string_equal(dataset_text(&d, 0),
                        "@switchfoot http://twitpic.com/2y1zl - Awww, that's a bummer.  You "
                        "shoulda got David Carr of Third Day to do it. ;D");
    long amp = 0, heart = 0;
    for (int i = 0; i < d.n; i++) {
        amp += strstr(dataset_text(&d, i), "&amp;") != NULL;
        heart += strstr(dataset_text(&d, i), "♥") != NULL;
    }
    assert_true(amp > 100); /* entities are left for the text pipeline */
    assert_true(heart > 10);
    dataset_free(&d);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(sentiment140_plain_and_gzip),
        T(label_text_csv_plain_and_gzip),
        T(header_columns_in_any_order_crlf_and_bom),
        T(latin1_is_converted_and_utf8_kept),
        T(invalid_utf8_is_repaired_and_counted),
        T(bad_rows_skipped_with_line_numbers),
        T(bad_rows_are_reported_even_when_quiet),
        T(bad_row_stops_the_load_in_stop_mode),
        T(unusable_files_are_clear_errors),
        T(truncated_gzip_fails_cleanly),
        T(forced_formats),
        T(limit_is_a_balanced_seeded_sample),
        cmocka_unit_test(sample_fills_from_the_larger_class),
        cmocka_unit_test(split_is_reproducible_disjoint_and_stratified),
        cmocka_unit_test(split_over_a_subset_and_tiny_sets),
        T(random_files_never_break_the_loader),
        cmocka_unit_test(real_sentiment140_sample),
    };
    return cmocka_run_group_tests_name("dataset", tests, NULL, NULL);
}
