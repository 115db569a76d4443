/* dataset.h — labelled tweets loaded from a data file (`--data`), in memory.
 *
 * Two formats, detected from the first record (or forced):
 * - Sentiment140's original layout: no header, 6 quoted columns
 *   target,id,date,query,user,text; target 0 -> label 0, 4 -> label 1, 2 (neutral)
 *   is skipped and counted. The bytes are latin-1, except that the original file
 *   also holds tweets already encoded in UTF-8 (in the 53k sample, 513 of the 546
 *   non-ASCII tweets: ♥, ♫, …): a text that is valid UTF-8 is kept as is, any other
 *   is converted from latin-1, read as Windows-1252 like web browsers do (and
 *   counted in latin1_rows; see utf8_from_cp1252_cstr).
 * - CSV (RFC 4180) with a header naming a `label` and a `text` column (in any order,
 *   other columns ignored); label 0/1 or negative/positive (case-insensitive;
 *   `neutral` is skipped and counted like target 2); UTF-8. Invalid UTF-8 is repaired
 *   (each maximal invalid sequence, and any NUL byte, becomes U+FFFD) and counted.
 * Plain and gzip files are read alike (see csv.h). Texts are otherwise kept as they
 * are: HTML entities, mentions and links are the text pipeline's business.
 *
 * Memory: one arena of NUL-terminated UTF-8 texts, int64 offsets and uint8 labels
 * (the 1.58M-row training file takes about 130 MB).
 *
 * Bad rows (wrong column count, unknown label, broken quoting) are reported as
 * "PATH:LINE: reason", LINE being the physical line where the record starts. With
 * DATA_BAD_STOP the first one fails the load; with DATA_BAD_SKIP each is skipped and
 * counted, the first few are printed as warnings, and a summary line follows
 * ("skipped 3 bad rows (first at line 17)"). Bad rows are never skipped silently:
 * warnings and the summary are printed even with quiet = 1. */
#ifndef BUZZRADAR_DATASET_H
#define BUZZRADAR_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { DATA_FORMAT_AUTO, DATA_FORMAT_SENTIMENT140, DATA_FORMAT_CSV } DataFormat;
typedef enum { DATA_BAD_SKIP, DATA_BAD_STOP } DataBadRows;

typedef struct {
    DataFormat format;  /* DATA_FORMAT_AUTO: detect from the first record */
    DataBadRows on_bad; /* DATA_BAD_SKIP */
    long limit;         /* > 0: keep a balanced random sample of this many rows (split.h) */
    uint64_t seed;      /* seed of that sample */
    int quiet;          /* 1: no progress and no summary line (bad-row warnings still print) */
    FILE *log;          /* where progress, warnings and summaries go (NULL: stderr) */
} DatasetOptions;

/* Defaults: auto format, skip bad rows, no limit, seed 42, not quiet, stderr. */
DatasetOptions dataset_options_default(void);

enum { DATASET_MAX_WARNINGS = 5 }; /* bad rows printed one by one before the summary */

typedef struct {
    int n;          /* rows kept */
    uint8_t *label; /* n labels: 0 negative, 1 positive */
    int64_t *off;   /* n + 1 offsets into text: row i is text + off[i], off[i+1] - off[i] - 1 bytes */
    char *text;     /* the arena: n NUL-terminated UTF-8 strings */
    /* what the load saw */
    DataFormat format;    /* the format read (never AUTO after a load) */
    long rows;            /* data records read (not counting a header) */
    long count[2];        /* rows kept per label */
    long neutral_skipped; /* neutral rows (target 2, label neutral) skipped */
    long bad_rows;        /* bad rows skipped (DATA_BAD_SKIP) */
    long first_bad_line;  /* line of the first bad row, 0 when none */
    long repaired_utf8;   /* rows whose invalid UTF-8 was repaired */
    long latin1_rows;     /* Sentiment140 rows converted from latin-1 */
    long sampled_out;     /* rows dropped by the limit */
    int64_t bytes;        /* size of the file read (compressed size for gzip) */
    double seconds;       /* time the load took */
} Dataset;

/* Loads path into out (which the caller then frees with dataset_free). Returns 0 on
 * success, or -1 with a one-line message in err ("data.csv:1234: expected 6
 * columns, found 3", "x.csv.gz:80: truncated gzip file ...") and out zeroed: a
 * missing file, an empty file, an undetectable format, a fatal read error, a bad
 * row under DATA_BAD_STOP, and a file without any labelled row are all errors.
 * Exits only when memory runs out. Safe to call from several threads at once. */
int dataset_load(const char *path, const DatasetOptions *opt, Dataset *out, char *err, size_t errlen);

/* Row i's text (0 <= i < n), NUL-terminated UTF-8, and its length in bytes. */
static inline const char *dataset_text(const Dataset *d, int i) { return d->text + d->off[i]; }
static inline size_t dataset_len(const Dataset *d, int i) { return (size_t)(d->off[i + 1] - d->off[i] - 1); }

/* Frees the arrays and zeroes *d (a zeroed Dataset is fine). */
void dataset_free(Dataset *d);

/* "sentiment140", "csv" or "auto", and back: parse returns 0, or -1 for an unknown name. */
const char *dataset_format_name(DataFormat f);
int dataset_format_parse(const char *name, DataFormat *out);

#endif
