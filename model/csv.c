/* csv.c — RFC 4180 record reader over a zlib gzFile (see csv.h).
 *
 * One buffer holds the bytes read ahead. A record is parsed by a four-state
 * machine that unescapes each field in place (the write cursor never passes the
 * read cursor) and NUL-terminates it where its delimiter was. When the parse reaches
 * the end of the buffer in the middle of a record, the partial record is moved to
 * the front (grown when it fills the buffer), more bytes are read, and the parse
 * goes on where it stopped: the state machine's positions are kept relative to the
 * record start, so nothing is parsed twice. */
#include "model/csv.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "model/util.h"

enum {
    CSV_DEFAULT_BUFFER = 1 << 20,
    CSV_DEFAULT_MAX_RECORD = 16 << 20,
    CSV_GZ_BUFFER = 256 << 10, /* zlib's own input buffer */
};

struct CsvReader {
    gzFile gz;
    char *path;
    char *buf;         /* cap + 1 bytes: room for the NUL after a last field at EOF */
    size_t cap;        /* current capacity (grows up to max_record) */
    size_t max_record; /* largest record accepted */
    size_t beg, end;   /* unread bytes are buf[beg, end) */
    int64_t base;      /* stream offset of buf[0] */
    int64_t cr_at;     /* stream offset of the last '\r' seen: a '\n' right after it is no new line */
    long line;         /* physical line of the next unread byte (1-based) */
    int eof;           /* the stream has ended */
    int failed;        /* a fatal error happened: see err */
    int64_t size;      /* file size, -1 when unknown */
    int64_t data_hint; /* expected uncompressed size, -1 when unknown */
    char err[512];
};

typedef enum { CSV_FIELD_START, CSV_UNQUOTED, CSV_QUOTED, CSV_QUOTE_END } CsvState;

static int csv_fail(CsvReader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int csv_fail(CsvReader *r, const char *fmt, ...) {
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(r->err, sizeof r->err, "%s:%ld: %s", r->path, r->line, msg);
    r->failed = 1;
    return -1;
}

/* Drops buf[0, keep) (the caller shifts its indices down by keep), grows the buffer
 * when the kept bytes fill it, and reads more. Returns 1 when bytes were added, 0 at
 * the end of the stream, -1 on a fatal error. */
static int csv_fill(CsvReader *r, size_t keep) {
    if (keep > 0) {
        memmove(r->buf, r->buf + keep, r->end - keep);
        r->end -= keep;
        r->beg = r->beg > keep ? r->beg - keep : 0;
        r->base += (int64_t)keep;
    }
    if (r->eof) return 0;
    if (r->end == r->cap) {
        if (r->cap >= r->max_record)
            return csv_fail(r, "record longer than %zu bytes (an unterminated quote?)", r->max_record);
        r->cap = r->cap * 2 < r->max_record ? r->cap * 2 : r->max_record;
        r->buf = reallocCheck(r->buf, r->cap + 1);
    }
    size_t want = r->cap - r->end;
    if (want > INT_MAX) want = INT_MAX;
    int n = gzread(r->gz, r->buf + r->end, (unsigned)want);
    int errnum = Z_OK;
    const char *zmsg = gzerror(r->gz, &errnum);
    if (n < 0 || (errnum != Z_OK && errnum != Z_BUF_ERROR)) {
        if (errnum == Z_ERRNO) return csv_fail(r, "read error: %s", strerror(errno));
        return csv_fail(r, "corrupted gzip data (%s)", zmsg);
    }
    if (n == 0) {
        r->eof = 1;
        if (errnum == Z_BUF_ERROR)
            return csv_fail(r, "truncated gzip file (unexpected end of compressed data)");
        return 0;
    }
    r->end += (size_t)n;
    return 1;
}

/* The uncompressed size a gzip file announces in its last 4 bytes (ISIZE, modulo
 * 2^32), or -1. Deflate never grows data by more than a few bytes per 16 KB, so a
 * value well below the compressed size cannot be the whole stream's (a file over
 * 4 GiB, or several members): then a typical 4x ratio is assumed. */
static int64_t csv_gzip_isize(const char *path, int64_t size) {
    if (size < 18) return -1; /* smaller than an empty gzip member */
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    unsigned char t[4];
    int ok = fseeko(f, -4, SEEK_END) == 0 && fread(t, 1, 4, f) == 4;
    fclose(f);
    if (!ok) return -1;
    int64_t isize = (int64_t)t[0] | (int64_t)t[1] << 8 | (int64_t)t[2] << 16 | (int64_t)t[3] << 24;
    return isize + isize / 64 + 64 >= size ? isize : 4 * size;
}

CsvReader *csv_open_opts(const char *path, const CsvOptions *opt, char *err, size_t errlen) {
    size_t buffer = opt && opt->buffer ? opt->buffer : CSV_DEFAULT_BUFFER;
    size_t max_record = opt && opt->max_record ? opt->max_record : CSV_DEFAULT_MAX_RECORD;
    if (max_record < buffer) max_record = buffer;
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: is a directory", path);
        return NULL;
    }
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        snprintf(err, errlen, "%s: %s", path, errno ? strerror(errno) : "cannot open");
        return NULL;
    }
    gzbuffer(gz, CSV_GZ_BUFFER);
    CsvReader *r = callocCheck(1, sizeof *r);
    r->gz = gz;
    r->path = strdupCheck(path);
    r->cap = buffer;
    r->max_record = max_record;
    r->buf = mallocCheck(r->cap + 1);
    r->cr_at = -2;
    r->line = 1;
    r->size = S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
    /* read the first chunk now, to skip a byte order mark */
    while (r->end < 3 && !r->eof && !r->failed) csv_fill(r, 0);
    if (r->end >= 3 && !memcmp(r->buf, "\xEF\xBB\xBF", 3)) r->beg = 3;
    r->data_hint = csv_is_gzip(r) ? (r->size >= 0 ? csv_gzip_isize(path, r->size) : -1) : r->size;
    return r;
}

CsvReader *csv_open(const char *path, char *err, size_t errlen) {
    return csv_open_opts(path, NULL, err, errlen);
}

/* Counts the line break at buf[i] (c is '\n' or '\r'): "\r\n" is one break. */
static inline void csv_count_break(CsvReader *r, size_t i, unsigned char c) {
    int64_t at = r->base + (int64_t)i;
    if (c == '\r') {
        r->cr_at = at;
        r->line++;
    } else if (r->cr_at != at - 1) {
        r->line++;
    }
}

int csv_read(CsvReader *r, CsvRecord *rec) {
    if (r->failed) return -1;
    /* skip blank lines (and the '\n' of a "\r\n" that ended the previous record) */
    for (;;) {
        if (r->beg == r->end) {
            int f = csv_fill(r, r->end);
            if (f <= 0) return f;
            continue;
        }
        unsigned char c = (unsigned char)r->buf[r->beg];
        if (c != '\n' && c != '\r') break;
        csv_count_break(r, r->beg, c);
        r->beg++;
    }
    rec->line = r->line;
    rec->malformed = NULL;

    char *buf = r->buf;
    size_t rs = r->beg, i = rs, w = rs, fs = rs; /* record start, read, write, field start */
    size_t off[CSV_MAX_FIELDS];                  /* field starts, relative to rs */
    int nf = 0;
    CsvState state = CSV_FIELD_START;
#define CSV_END_FIELD()                                                                                      \
    do {                                                                                                     \
        if (nf < CSV_MAX_FIELDS) {                                                                           \
            off[nf] = fs - rs;                                                                               \
            rec->len[nf] = w - fs;                                                                           \
        }                                                                                                    \
        nf++;                                                                                                \
        buf[w++] = '\0';                                                                                     \
        fs = w;                                                                                              \
    } while (0)

    for (;;) {
        if (i == r->end) {
            size_t shift = rs;
            int f = csv_fill(r, shift);
            if (f < 0) return -1;
            buf = r->buf;
            rs -= shift, i -= shift, w -= shift, fs -= shift;
            if (f == 0) { /* the last record has no line break */
                if (state == CSV_QUOTED) rec->malformed = "unterminated quoted field";
                CSV_END_FIELD();
                break;
            }
            continue;
        }
        unsigned char c = (unsigned char)buf[i++];
        switch (state) {
        case CSV_FIELD_START:
            if (c == '"') {
                state = CSV_QUOTED;
                continue;
            }
            state = CSV_UNQUOTED;
            /* fall through */
        case CSV_UNQUOTED:
            if (c == ',') {
                CSV_END_FIELD();
                state = CSV_FIELD_START;
            } else if (c == '\n' || c == '\r') {
                csv_count_break(r, i - 1, c);
                CSV_END_FIELD();
                goto done;
            } else {
                buf[w++] = (char)c;
            }
            break;
        case CSV_QUOTED:
            if (c == '"') {
                state = CSV_QUOTE_END;
            } else {
                if (c == '\n' || c == '\r') csv_count_break(r, i - 1, c);
                buf[w++] = (char)c;
            }
            break;
        case CSV_QUOTE_END:
            if (c == '"') {
                buf[w++] = '"';
                state = CSV_QUOTED;
            } else if (c == ',') {
                CSV_END_FIELD();
                state = CSV_FIELD_START;
            } else if (c == '\n' || c == '\r') {
                csv_count_break(r, i - 1, c);
                CSV_END_FIELD();
                goto done;
            } else {
                if (!rec->malformed) rec->malformed = "unexpected character after a closing quote";
                buf[w++] = (char)c;
                state = CSV_UNQUOTED;
            }
            break;
        }
    }
#undef CSV_END_FIELD
done:
    r->beg = i;
    rec->nfields = nf;
    for (int k = 0; k < nf && k < CSV_MAX_FIELDS; k++) rec->field[k] = buf + rs + off[k];
    return 1;
}

const char *csv_error(const CsvReader *r) { return r->err; }

int64_t csv_offset(const CsvReader *r) { return (int64_t)gzoffset(r->gz); }

int64_t csv_size(const CsvReader *r) { return r->size; }

int64_t csv_data_size_hint(const CsvReader *r) { return r->data_hint; }

int csv_is_gzip(const CsvReader *r) { return !gzdirect(r->gz); }

void csv_close(CsvReader *r) {
    if (!r) return;
    gzclose_r(r->gz);
    free(r->buf);
    free(r->path);
    free(r);
}
