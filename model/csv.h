/* csv.h — an RFC 4180 record reader over zlib, for `.csv` and `.csv.gz` alike.
 *
 * The file is read through gzopen/gzread, which read plain files transparently, in
 * big chunks into one buffer; a record's fields are unescaped in place inside that
 * buffer, so reading allocates nothing per record or field.
 *
 * Dialect (RFC 4180, lenient where common files are):
 * - fields are separated by ',' and records by "\n", "\r\n" or a lone "\r";
 * - a field that starts with '"' is quoted: it may hold ',', line breaks and '""'
 *   (one quote), and ends at the next lone '"'; a quote inside an unquoted field is
 *   kept as a literal character;
 * - a UTF-8 byte order mark at the very start is skipped; blank lines are skipped
 *   (they still count as lines); the last record may lack its line break;
 * - bytes are passed through unchanged (no encoding is assumed; a field may contain
 *   NUL bytes: use its length).
 * Quoting errors do not stop the reader: the record is still delimited (so the next
 * one is read correctly) and marked malformed with a reason; the caller decides.
 * Only I/O errors, a truncated or corrupted gzip stream and a record longer than the
 * maximum are fatal. */
#ifndef BUZZRADAR_CSV_H
#define BUZZRADAR_CSV_H

#include <stddef.h>
#include <stdint.h>

enum { CSV_MAX_FIELDS = 64 }; /* fields stored per record; more are counted only */

typedef struct {
    int nfields;                       /* fields in the record (may exceed CSV_MAX_FIELDS) */
    const char *field[CSV_MAX_FIELDS]; /* unescaped and NUL-terminated; valid until the next read */
    size_t len[CSV_MAX_FIELDS];        /* byte length of each field */
    long line;                         /* physical line (1-based) where the record starts */
    const char *malformed;             /* NULL, or why the record's quoting is invalid */
} CsvRecord;

typedef struct {
    size_t buffer;     /* read chunk and initial record buffer (default 1 MiB) */
    size_t max_record; /* longest record accepted, in bytes (default 16 MiB) */
} CsvOptions;

typedef struct CsvReader CsvReader;

/* Opens path (plain or gzip) with default options. On failure (missing or
 * unreadable file) returns NULL and writes "PATH: reason" into err. */
CsvReader *csv_open(const char *path, char *err, size_t errlen);

/* The same with explicit options (a zero member means its default). */
CsvReader *csv_open_opts(const char *path, const CsvOptions *opt, char *err, size_t errlen);

/* Reads the next record into rec. Returns 1 for a record, 0 at the end of the file,
 * -1 on a fatal error (csv_error() tells which; every later call returns -1). */
int csv_read(CsvReader *r, CsvRecord *rec);

/* The last fatal error, "PATH:LINE: reason" (e.g. "x.csv.gz:1234: truncated gzip
 * file (unexpected end of compressed data)"), or "" when there was none. */
const char *csv_error(const CsvReader *r);

/* Bytes of the file consumed so far (compressed bytes for a gzip file) and the file's
 * size (-1 when unknown, e.g. a pipe): together they measure progress. */
int64_t csv_offset(const CsvReader *r);
int64_t csv_size(const CsvReader *r);

/* The expected number of uncompressed bytes, for sizing buffers: the file size of a
 * plain file, the size recorded in a gzip file's trailer (exact for the usual
 * single-member file under 4 GiB), or -1 when unknown. Only a hint. */
int64_t csv_data_size_hint(const CsvReader *r);

/* 1 when the file is gzip-compressed, 0 when it is read as plain bytes. */
int csv_is_gzip(const CsvReader *r);

/* Closes the file and frees the reader (NULL is fine). */
void csv_close(CsvReader *r);

#endif
