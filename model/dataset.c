/* dataset.c — loads Sentiment140 and `label,text` CSV files (see dataset.h).
 *
 * Records come from csv.c; each kept row's text is converted straight into the
 * arena (one memcpy for the usual valid UTF-8 text) by the *_cstr functions of
 * utf8.h: texts are C strings, so a NUL byte counts as invalid and becomes U+FFFD. */
#include "model/dataset.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include "model/csv.h"
#include "model/progress.h"
#include "model/split.h"
#include "model/utf8.h"
#include "model/util.h"

enum {
    DATASET_PROGRESS_EVERY = 4096, /* rows between progress updates */
    DATASET_BYTES_PER_ROW = 128,   /* to guess the row count from the data size (a tweet row: ~70-150) */
};

/* ---- memory ------------------------------------------------------------------------ */

/* realloc that exits when memory runs out and asks the kernel to back big arrays
 * with transparent huge pages: filling 128 MB of fresh 4 KB pages costs about 0.4 s
 * of page faults on a virtual machine, with 2 MB pages about 0.02 s. Only a hint: it
 * changes nothing but speed, and nothing when huge pages are off. */
static void *dataset_grow(void *p, size_t bytes) {
    p = reallocCheck(p, bytes);
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), e = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (e > a) madvise((void *)a, e - a, MADV_HUGEPAGE);
#endif
    return p;
}

/* ---- the loader ---------------------------------------------------------------------- */

typedef struct {
    const char *path;
    const DatasetOptions *opt;
    FILE *log;
    Dataset *d;
    int rows_cap;    /* room in label and off (off has one more) */
    size_t text_cap; /* room in the arena */
    int ncols;       /* columns a data row must have */
    int label_col;   /* where the label and the text are */
    int text_col;
    long warned;   /* bad rows printed so far */
    char bad[256]; /* the reason of the current bad row */
} Loader;

typedef enum { ROW_KEPT, ROW_NEUTRAL, ROW_BAD } RowResult;

static RowResult dataset_bad(Loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static RowResult dataset_bad(Loader *L, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->bad, sizeof L->bad, fmt, ap);
    va_end(ap);
    return ROW_BAD;
}

/* A field for a message: at most 24 printable ASCII bytes, others as '?'. */
static const char *dataset_show(const char *s, size_t len, char *buf, size_t cap) {
    size_t n = len < 24 ? len : 24, w = 0;
    for (size_t i = 0; i < n && w + 4 < cap; i++) buf[w++] = isprint((unsigned char)s[i]) ? s[i] : '?';
    if (n < len && w + 4 < cap) w += (size_t)snprintf(buf + w, cap - w, "...");
    buf[w] = '\0';
    return buf;
}

/* s[0, len) without surrounding ASCII blanks equals word, ignoring case. */
static int dataset_word_is(const char *s, size_t len, const char *word) {
    while (len && isspace((unsigned char)*s)) s++, len--;
    while (len && isspace((unsigned char)s[len - 1])) len--;
    size_t wl = strlen(word);
    return len == wl && !strncasecmp(s, word, wl);
}

/* The first record is a header when it names a label and a text column. */
static int dataset_find_header(const CsvRecord *rec, int *label_col, int *text_col) {
    *label_col = *text_col = -1;
    for (int k = 0; k < rec->nfields && k < CSV_MAX_FIELDS; k++) {
        if (*label_col < 0 && dataset_word_is(rec->field[k], rec->len[k], "label"))
            *label_col = k;
        else if (*text_col < 0 && dataset_word_is(rec->field[k], rec->len[k], "text"))
            *text_col = k;
    }
    return *label_col >= 0 && *text_col >= 0;
}

/* A Sentiment140 row: 6 fields, the first one 0, 2 or 4. */
static int dataset_looks_sentiment140(const CsvRecord *rec) {
    return rec->nfields == 6 && (dataset_word_is(rec->field[0], rec->len[0], "0") ||
                                 dataset_word_is(rec->field[0], rec->len[0], "2") ||
                                 dataset_word_is(rec->field[0], rec->len[0], "4"));
}

/* Appends one row (its text converted to UTF-8) to the dataset. */
static void dataset_append(Loader *L, int label, const char *text, size_t len, int latin1) {
    Dataset *d = L->d;
    if (d->n == L->rows_cap) {
        L->rows_cap *= 2;
        d->label = dataset_grow(d->label, (size_t)L->rows_cap);
        d->off = dataset_grow(d->off, ((size_t)L->rows_cap + 1) * sizeof *d->off);
    }
    size_t used = (size_t)d->off[d->n];
    size_t need = used + (latin1 ? UTF8_FROM_CP1252_MAX(len) : UTF8_REPAIR_MAX(len)); /* the worst case */
    if (need > L->text_cap) {
        while (L->text_cap < need) L->text_cap *= 2;
        d->text = dataset_grow(d->text, L->text_cap);
    }
    char *dst = d->text + used;
    const size_t cap = L->text_cap - used;
    size_t w;
    if (utf8_valid_cstr(text, len)) {
        memcpy(dst, text, len);
        w = len;
        dst[w] = '\0';
    } else if (latin1) {
        w = utf8_from_cp1252_cstr(text, len, dst, cap);
        d->latin1_rows++;
    } else {
        w = utf8_repair_cstr(text, len, dst, cap, NULL);
        d->repaired_utf8++;
    }
    d->label[d->n] = (uint8_t)label;
    d->off[d->n + 1] = (int64_t)(used + w + 1);
    d->count[label]++;
    d->n++;
}

static RowResult dataset_row(Loader *L, const CsvRecord *rec) {
    char shown[64];
    if (rec->malformed) return dataset_bad(L, "%s", rec->malformed);
    if (rec->nfields != L->ncols)
        return dataset_bad(L, "expected %d columns, found %d", L->ncols, rec->nfields);
    const char *lf = rec->field[L->label_col];
    size_t ll = rec->len[L->label_col];
    int label;
    if (L->d->format == DATA_FORMAT_SENTIMENT140) {
        if (dataset_word_is(lf, ll, "0"))
            label = 0;
        else if (dataset_word_is(lf, ll, "4"))
            label = 1;
        else if (dataset_word_is(lf, ll, "2"))
            return ROW_NEUTRAL;
        else
            return dataset_bad(L, "target must be 0, 2 or 4, found \"%s\"",
                               dataset_show(lf, ll, shown, sizeof shown));
    } else {
        if (dataset_word_is(lf, ll, "0") || dataset_word_is(lf, ll, "negative"))
            label = 0;
        else if (dataset_word_is(lf, ll, "1") || dataset_word_is(lf, ll, "positive"))
            label = 1;
        else if (dataset_word_is(lf, ll, "neutral"))
            return ROW_NEUTRAL;
        else
            return dataset_bad(L, "label must be 0, 1, negative or positive, found \"%s\"",
                               dataset_show(lf, ll, shown, sizeof shown));
    }
    dataset_append(L, label, rec->field[L->text_col], rec->len[L->text_col],
                   L->d->format == DATA_FORMAT_SENTIMENT140);
    return ROW_KEPT;
}

/* Decides the format from the first record; a header is consumed. Returns 1 when
 * the first record is a data row to load, 0 when it was a header, -1 on error. */
static int dataset_detect(Loader *L, const CsvRecord *rec, char *err, size_t errlen) {
    Dataset *d = L->d;
    int label_col, text_col;
    int header = dataset_find_header(rec, &label_col, &text_col);
    DataFormat f = L->opt->format;
    if (f == DATA_FORMAT_AUTO) {
        if (header)
            f = DATA_FORMAT_CSV;
        else if (dataset_looks_sentiment140(rec))
            f = DATA_FORMAT_SENTIMENT140;
        else {
            snprintf(err, errlen,
                     "%s:%ld: cannot detect the format: the first line is neither a CSV header with label "
                     "and text columns nor a Sentiment140 row (6 columns, target 0, 2 or 4); force one with "
                     "--data-format",
                     L->path, rec->line);
            return -1;
        }
    }
    d->format = f;
    if (f == DATA_FORMAT_SENTIMENT140) {
        L->ncols = 6, L->label_col = 0, L->text_col = 5;
        return 1;
    }
    if (!header) {
        snprintf(err, errlen, "%s:%ld: expected a CSV header naming a label and a text column", L->path,
                 rec->line);
        return -1;
    }
    L->ncols = rec->nfields, L->label_col = label_col, L->text_col = text_col;
    return 0;
}

/* Keeps a balanced random sample of opt->limit rows, in file order. */
static void dataset_sample(Loader *L) {
    Dataset *d = L->d;
    int *keep = mallocCheck((size_t)d->n * sizeof *keep);
    int m = split_sample_balanced(d->label, NULL, d->n, L->opt->limit, L->opt->seed, keep);
    size_t bytes = 0;
    for (int k = 0; k < m; k++) bytes += (size_t)(d->off[keep[k] + 1] - d->off[keep[k]]);
    uint8_t *label = mallocCheck((size_t)m);
    int64_t *off = mallocCheck(((size_t)m + 1) * sizeof *off);
    char *text = mallocCheck(bytes);
    off[0] = 0;
    d->count[0] = d->count[1] = 0;
    for (int k = 0; k < m; k++) {
        int i = keep[k];
        size_t len = (size_t)(d->off[i + 1] - d->off[i]);
        memcpy(text + off[k], d->text + d->off[i], len);
        off[k + 1] = off[k] + (int64_t)len;
        label[k] = d->label[i];
        d->count[label[k]]++;
    }
    free(keep);
    free(d->label), free(d->off), free(d->text);
    d->sampled_out = d->n - m;
    d->n = m, d->label = label, d->off = off, d->text = text;
}

DatasetOptions dataset_options_default(void) {
    DatasetOptions o = {
        .format = DATA_FORMAT_AUTO, .on_bad = DATA_BAD_SKIP, .limit = 0, .seed = 42, .quiet = 0};
    return o;
}

int dataset_load(const char *path, const DatasetOptions *opt, Dataset *out, char *err, size_t errlen) {
    DatasetOptions defaults = dataset_options_default();
    if (!opt) opt = &defaults;
    memset(out, 0, sizeof *out);
    double t0 = util_now_s();
    CsvReader *r = csv_open(path, err, errlen);
    if (!r) return -1;

    Loader L = {.path = path, .opt = opt, .log = opt->log ? opt->log : stderr, .d = out};
    /* size the arrays once from the expected data size: no copying while loading */
    int64_t hint = csv_data_size_hint(r);
    L.text_cap = hint > 0 && hint < ((int64_t)1 << 40) ? (size_t)hint + (size_t)hint / 16 : (size_t)1 << 22;
    L.rows_cap = 1 << 16;
    while ((size_t)L.rows_cap < L.text_cap / DATASET_BYTES_PER_ROW && L.rows_cap < (1 << 30)) L.rows_cap *= 2;
    out->label = dataset_grow(NULL, (size_t)L.rows_cap);
    out->off = dataset_grow(NULL, ((size_t)L.rows_cap + 1) * sizeof *out->off);
    out->text = dataset_grow(NULL, L.text_cap);
    out->off[0] = 0;
    out->bytes = csv_size(r);

    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char label[256];
    snprintf(label, sizeof label, "loading %s", base);
    Progress p;
    progress_start_to(&p, L.log, label, csv_size(r));
    p.unit = PROGRESS_BYTES;
    p.quiet = opt->quiet;

    CsvRecord rec;
    int got = csv_read(r, &rec), status = 0;
    if (got == 0) {
        snprintf(err, errlen, "%s: empty file", path);
        status = -1;
    } else if (got > 0) {
        int first = dataset_detect(&L, &rec, err, errlen);
        if (first < 0)
            status = -1;
        else if (first == 0)
            got = csv_read(r, &rec);
    }
    for (; status == 0 && got > 0; got = csv_read(r, &rec)) {
        out->rows++;
        RowResult res = dataset_row(&L, &rec);
        if (res == ROW_NEUTRAL) {
            out->neutral_skipped++;
        } else if (res == ROW_BAD) {
            if (opt->on_bad == DATA_BAD_STOP) {
                snprintf(err, errlen, "%s:%ld: %s", path, rec.line, L.bad);
                status = -1;
                break;
            }
            if (!out->bad_rows) out->first_bad_line = rec.line;
            out->bad_rows++;
            if (L.warned++ < DATASET_MAX_WARNINGS) {
                if (p.tty && p.drawn) fputc('\n', L.log);
                fprintf(L.log, "buzzradar: warning: %s:%ld: %s (row skipped)\n", path, rec.line, L.bad);
            }
        }
        if (out->rows % DATASET_PROGRESS_EVERY == 0) progress_update(&p, csv_offset(r));
    }
    if (status == 0 && got < 0) {
        snprintf(err, errlen, "%s", csv_error(r));
        status = -1;
    }
    if (status == 0) progress_update(&p, csv_offset(r));
    progress_finish(&p);
    csv_close(r);

    if (out->bad_rows)
        fprintf(L.log, "buzzradar: %s: skipped %ld bad row%s (first at line %ld)\n", path, out->bad_rows,
                out->bad_rows == 1 ? "" : "s", out->first_bad_line);
    if (status == 0 && out->n == 0) {
        if (out->rows == 0)
            snprintf(err, errlen, "%s: no data rows after the header", path);
        else
            snprintf(err, errlen, "%s: no labelled rows (%ld neutral, %ld bad rows skipped)", path,
                     out->neutral_skipped, out->bad_rows);
        status = -1;
    }
    if (status != 0) {
        dataset_free(out);
        return -1;
    }
    if (opt->limit > 0 && opt->limit < out->n)
        dataset_sample(&L);
    else
        out->text = reallocCheck(out->text, (size_t)out->off[out->n]); /* give back the slack */
    out->seconds = util_now_s() - t0;
    if (!opt->quiet) {
        fprintf(L.log, "buzzradar: loaded %d rows from %s in %.1f s (%s; %ld negative, %ld positive", out->n,
                path, out->seconds, dataset_format_name(out->format), out->count[0], out->count[1]);
        if (out->sampled_out) fprintf(L.log, "; %ld left out by --limit", out->sampled_out);
        if (out->neutral_skipped) fprintf(L.log, "; %ld neutral skipped", out->neutral_skipped);
        if (out->latin1_rows) fprintf(L.log, "; %ld read as latin-1", out->latin1_rows);
        if (out->repaired_utf8) fprintf(L.log, "; %ld with invalid UTF-8 repaired", out->repaired_utf8);
        fprintf(L.log, ")\n");
    }
    return 0;
}

void dataset_free(Dataset *d) {
    free(d->label);
    free(d->off);
    free(d->text);
    memset(d, 0, sizeof *d);
}

const char *dataset_format_name(DataFormat f) {
    switch (f) {
    case DATA_FORMAT_SENTIMENT140:
        return "sentiment140";
    case DATA_FORMAT_CSV:
        return "csv";
    default:
        return "auto";
    }
}

int dataset_format_parse(const char *name, DataFormat *out) {
    if (!strcmp(name, "auto"))
        *out = DATA_FORMAT_AUTO;
    else if (!strcmp(name, "sentiment140"))
        *out = DATA_FORMAT_SENTIMENT140;
    else if (!strcmp(name, "csv"))
        *out = DATA_FORMAT_CSV;
    else
        return -1;
    return 0;
}
