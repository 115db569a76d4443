/* test_csv.c — the RFC 4180 record reader of model/csv.c on small files written
 * into a temporary directory: quoting, line endings, line numbers, buffer
 * boundaries, gzip (whole, truncated, corrupted) and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/csv.h"
#include "model/util.h"
#include "tests/unit/test_support.h"

typedef struct {
    char dir[64];
    char path[128];
} Fixture;

static int setup(void **state) {
    Fixture *f = calloc(1, sizeof *f);
    if (!f || test_tmpdir_make(f->dir, sizeof f->dir, "test_csv") != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    Fixture *f = *state;
    test_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* Writes len bytes to dir/name (gzip-compressed when gz) and returns the path. */
static const char *write_file(Fixture *f, const char *name, const void *data, size_t len, int gz) {
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    test_write_file(f->path, data, len, gz);
    return f->path;
}

/* Reads every record of path and renders them as "LINE:field|field|...\n" lines
 * (control bytes shown as \n, \r, \0; a malformed record gets a leading '!').
 * Returns the rendering (caller frees), and the reader's last status in *status. */
static char *render(const char *path, const CsvOptions *opt, int *status) {
    char err[256];
    CsvReader *r = csv_open_opts(path, opt, err, sizeof err);
    assert_non_null(r);
    size_t cap = 1 << 16, n = 0;
    char *out = mallocCheck(cap);
    CsvRecord rec;
    int got;
    while ((got = csv_read(r, &rec)) > 0) {
        if (n + 64 > cap) out = reallocCheck(out, cap *= 2);
        n += (size_t)snprintf(out + n, cap - n, "%s%ld:", rec.malformed ? "!" : "", rec.line);
        for (int k = 0; k < rec.nfields && k < CSV_MAX_FIELDS; k++) {
            for (size_t i = 0; i < rec.len[k]; i++) {
                if (n + 64 > cap) out = reallocCheck(out, cap *= 2);
                char c = rec.field[k][i];
                if (c == '\n')
                    n += (size_t)snprintf(out + n, cap - n, "\\n");
                else if (c == '\r')
                    n += (size_t)snprintf(out + n, cap - n, "\\r");
                else if (c == '\0')
                    n += (size_t)snprintf(out + n, cap - n, "\\0");
                else
                    out[n++] = c;
            }
            assert_int_equal(rec.field[k][rec.len[k]], '\0'); /* every field is NUL-terminated */
            if (n + 64 > cap) out = reallocCheck(out, cap *= 2);
            out[n++] = k + 1 < rec.nfields ? '|' : '\n';
        }
    }
    out[n] = '\0';
    *status = got;
    csv_close(r);
    return out;
}

static void assert_renders(Fixture *f, const char *content, size_t len, const char *expected) {
    int status;
    char *got = render(write_file(f, "t.csv", content, len, 0), NULL, &status);
    assert_int_equal(status, 0);
    assert_string_equal(got, expected);
    free(got);
}
#define RENDERS(f, lit, expected) assert_renders((f), (lit), sizeof(lit) - 1, (expected))

static void plain_fields_and_line_numbers(void **state) {
    RENDERS(*state, "a,b,c\n1,2,3\n,,\nx\n", "1:a|b|c\n2:1|2|3\n3:||\n4:x\n");
}

static void quoted_fields_commas_quotes_newlines(void **state) {
    RENDERS(*state,
            "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\n"
            "\"\",\"\"\"\"\n"
            "next,\"x\"\n",
            "1:a,b|say \"hi\"|two\\nlines\n3:|\"\n4:next|x\n");
}

static void crlf_and_lone_cr_line_endings(void **state) {
    RENDERS(*state, "a,b\r\nc,d\r\n\"x\r\ny\",z\r\nlast\r\n", "1:a|b\n2:c|d\n3:x\\r\\ny|z\n5:last\n");
    RENDERS(*state, "a\rb\r\rc\r", "1:a\n2:b\n4:c\n");
}

static void last_line_without_newline(void **state) {
    RENDERS(*state, "a,b\nc,d", "1:a|b\n2:c|d\n");
    RENDERS(*state, "a,b\n\"quoted end\"", "1:a|b\n2:quoted end\n");
    RENDERS(*state, "a,b,", "1:a|b|\n");
}

static void bom_and_blank_lines_skipped(void **state) {
    RENDERS(*state, "\xEF\xBB\xBFlabel,text\n\n0,x\n\r\n\n1,y\n\n", "1:label|text\n3:0|x\n6:1|y\n");
    /* a BOM elsewhere is data */
    RENDERS(*state,
            "a\n\xEF\xBB\xBF"
            "b\n",
            "1:a\n2:\xEF\xBB\xBF"
            "b\n");
}

static void quote_inside_unquoted_field_is_literal(void **state) {
    RENDERS(*state, "0,he said \"hi\" twice\n", "1:0|he said \"hi\" twice\n");
}

static void malformed_quoting_is_flagged_and_delimited(void **state) {
    RENDERS(*state, "\"abc\"x,1\nnext,2\n", "!1:abcx|1\n2:next|2\n");
    RENDERS(*state, "ok,1\na,\"never\nclosed\n", "1:ok|1\n!2:a|never\\nclosed\\n\n");
    int status;
    char err[256];
    CsvReader *r = csv_open(write_file(*state, "m.csv", "\"abc\"x,1\n", 9, 0), err, sizeof err);
    CsvRecord rec;
    assert_int_equal(csv_read(r, &rec), 1);
    assert_string_equal(rec.malformed, "unexpected character after a closing quote");
    csv_close(r);
    (void)status;
}

static void embedded_nul_bytes_keep_their_length(void **state) {
    static const char data[] = "a\0b,c\n";
    assert_renders(*state, data, sizeof data - 1, "1:a\\0b|c\n");
}

static void many_fields_are_counted(void **state) {
    Fixture *f = *state;
    char line[1024];
    size_t n = 0;
    for (int k = 0; k < 100; k++) n += (size_t)snprintf(line + n, sizeof line - n, "%s%d", k ? "," : "", k);
    line[n++] = '\n';
    char err[256];
    CsvReader *r = csv_open(write_file(f, "wide.csv", line, n, 0), err, sizeof err);
    CsvRecord rec;
    assert_int_equal(csv_read(r, &rec), 1);
    assert_int_equal(rec.nfields, 100);
    assert_string_equal(rec.field[0], "0");
    assert_string_equal(rec.field[CSV_MAX_FIELDS - 1], "63");
    assert_int_equal(csv_read(r, &rec), 0);
    csv_close(r);
}

/* A file with every construct, read with buffers of 1..40 bytes, gives the same
 * records as with the default buffer: partial records survive every refill. */
static void every_buffer_boundary_gives_the_same_records(void **state) {
    Fixture *f = *state;
    static const char data[] = "\xEF\xBB\xBF"
                               "label,text\r\n"
                               "0,\"a \"\"quoted\"\" word, and a comma\"\r\n"
                               "1,\"line one\r\nline two\"\r\n\r\n"
                               "\"4\",plain text here\r"
                               "0,\"x\"y\n"
                               "1,\"\"\n"
                               "0,,\n"
                               "1,\"last without newline\"";
    const char *path = write_file(f, "b.csv", data, sizeof data - 1, 0);
    int status;
    char *want = render(path, NULL, &status);
    assert_int_equal(status, 0);
    assert_string_equal(want, "1:label|text\n"
                              "2:0|a \"quoted\" word, and a comma\n"
                              "3:1|line one\\r\\nline two\n"
                              "6:4|plain text here\n"
                              "!7:0|xy\n"
                              "8:1|\n"
                              "9:0||\n"
                              "10:1|last without newline\n");
    for (size_t size = 1; size <= 40; size++) {
        CsvOptions opt = {.buffer = size, .max_record = 1 << 20};
        char *got = render(path, &opt, &status);
        assert_int_equal(status, 0);
        assert_string_equal(got, want);
        free(got);
    }
    free(want);
}

static void record_longer_than_the_maximum_is_an_error(void **state) {
    Fixture *f = *state;
    char data[300];
    memset(data, 'x', sizeof data);
    data[0] = '"'; /* an unterminated quote swallows the whole file */
    CsvOptions opt = {.buffer = 16, .max_record = 64};
    char err[256];
    CsvReader *r = csv_open_opts(write_file(f, "long.csv", data, sizeof data, 0), &opt, err, sizeof err);
    CsvRecord rec;
    assert_int_equal(csv_read(r, &rec), -1);
    assert_non_null(strstr(csv_error(r), "long.csv:1: record longer than 64 bytes"));
    assert_int_equal(csv_read(r, &rec), -1); /* stays failed */
    csv_close(r);
}

static void gzip_reads_like_plain(void **state) {
    Fixture *f = *state;
    static const char data[] = "a,\"b\nc\"\r\nd,e\n";
    int status;
    char *plain = render(write_file(f, "p.csv", data, sizeof data - 1, 0), NULL, &status);
    char *gz = render(write_file(f, "p.csv.gz", data, sizeof data - 1, 1), NULL, &status);
    assert_int_equal(status, 0);
    assert_string_equal(plain, "1:a|b\\nc\n3:d|e\n");
    assert_string_equal(gz, plain);
    free(plain);
    free(gz);
    char err[256];
    CsvReader *r = csv_open(f->path, err, sizeof err);
    assert_int_equal(csv_is_gzip(r), 1);
    assert_int_equal(csv_data_size_hint(r), sizeof data - 1);
    assert_true(csv_size(r) > 0);
    csv_close(r);
    r = csv_open(write_file(f, "p.csv", data, sizeof data - 1, 0), err, sizeof err);
    assert_int_equal(csv_is_gzip(r), 0);
    assert_int_equal(csv_data_size_hint(r), sizeof data - 1);
    assert_int_equal(csv_size(r), sizeof data - 1);
    csv_close(r);
}

/* ~200 KB of records that compress poorly (pseudo-random digits). */
static char *make_records(size_t *len) {
    size_t cap = 220000, n = 0;
    char *data = mallocCheck(cap);
    uint32_t x = 12345;
    for (int i = 0; n + 40 < cap - 40 && i < 100000; i++) {
        x = x * 1103515245u + 12345u;
        n += (size_t)snprintf(data + n, cap - n, "%d,\"%u %u\"\n", i, x, x ^ 0x5bd1e995u);
    }
    *len = n;
    return data;
}

static void truncated_gzip_is_a_clear_error(void **state) {
    Fixture *f = *state;
    size_t len;
    char *data = make_records(&len);
    const char *path = write_file(f, "t.csv.gz", data, len, 1);
    FILE *fp = fopen(path, "rb");
    char *gz = mallocCheck(len + 1024);
    size_t gzlen = fread(gz, 1, len + 1024, fp);
    fclose(fp);
    path = write_file(f, "t.csv.gz", gz, gzlen / 2, 0);
    char err[256];
    CsvReader *r = csv_open(path, err, sizeof err);
    assert_non_null(r);
    CsvRecord rec;
    int got;
    long records = 0;
    while ((got = csv_read(r, &rec)) > 0) records++;
    assert_int_equal(got, -1);
    assert_true(records > 1000); /* what came before the cut was read */
    assert_non_null(strstr(csv_error(r), "t.csv.gz:"));
    assert_non_null(strstr(csv_error(r), "truncated gzip file"));
    csv_close(r);

    /* damage in the middle of the stream: a data or checksum error, never a crash */
    for (size_t i = gzlen / 2; i < gzlen / 2 + 64; i++) gz[i] ^= 0x55;
    path = write_file(f, "c.csv.gz", gz, gzlen, 0);
    r = csv_open(path, err, sizeof err);
    while ((got = csv_read(r, &rec)) > 0) {
    }
    assert_int_equal(got, -1);
    assert_non_null(strstr(csv_error(r), "c.csv.gz:"));
    csv_close(r);
    free(gz);
    free(data);
}

static void missing_file_and_directory_are_errors(void **state) {
    Fixture *f = *state;
    char err[256], path[160];
    snprintf(path, sizeof path, "%s/nope.csv", f->dir);
    assert_null(csv_open(path, err, sizeof err));
    assert_non_null(strstr(err, "nope.csv: No such file or directory"));
    assert_null(csv_open(f->dir, err, sizeof err));
    assert_non_null(strstr(err, "is a directory"));
}

static void empty_file_has_no_records(void **state) {
    char err[256];
    CsvReader *r = csv_open(write_file(*state, "e.csv", "", 0, 0), err, sizeof err);
    CsvRecord rec;
    assert_int_equal(csv_read(r, &rec), 0);
    assert_int_equal(csv_read(r, &rec), 0);
    assert_string_equal(csv_error(r), "");
    csv_close(r);
    r = csv_open(write_file(*state, "e.csv.gz", "", 0, 1), err, sizeof err);
    assert_int_equal(csv_read(r, &rec), 0);
    csv_close(r);
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(plain_fields_and_line_numbers),
        T(quoted_fields_commas_quotes_newlines),
        T(crlf_and_lone_cr_line_endings),
        T(last_line_without_newline),
        T(bom_and_blank_lines_skipped),
        T(quote_inside_unquoted_field_is_literal),
        T(malformed_quoting_is_flagged_and_delimited),
        T(embedded_nul_bytes_keep_their_length),
        T(many_fields_are_counted),
        T(every_buffer_boundary_gives_the_same_records),
        T(record_longer_than_the_maximum_is_an_error),
        T(gzip_reads_like_plain),
        T(truncated_gzip_is_a_clear_error),
        T(missing_file_and_directory_are_errors),
        T(empty_file_has_no_records),
    };
    return cmocka_run_group_tests_name("csv", tests, NULL, NULL);
}
