/* progress.h — a small progress printer for long jobs (loading data, training
 * epochs, evaluation): done/total, rate and ETA on one line.
 *
 * On a terminal it redraws one line in place (a bar, percent, rate, ETA) at most
 * a few times per second; otherwise (a log file, a pipe, CI) it prints a plain line
 * every few seconds, so logs stay short. A job that ends before the first report
 * prints nothing at all. Nothing is allocated; a Progress lives on the caller's
 * stack and is used by one thread.
 *
 *     Progress p;
 *     progress_start(&p, "loading train.csv.gz", file_size);
 *     p.unit = PROGRESS_BYTES;                  // optional: show MB and MB/s
 *     while (...) progress_update(&p, bytes_done);
 *     progress_finish(&p);
 *
 * A job with more to say sets p.suffix to a buffer of its own and rewrites the text
 * before an update (word2vec shows its epoch and learning rate that way).
 */
#ifndef BUZZRADAR_PROGRESS_H
#define BUZZRADAR_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef enum {
    PROGRESS_COUNT, /* items: "12.3k" and "45.6k/s" */
    PROGRESS_BYTES, /* bytes: "12.3 MB" and "45.6 MB/s" (10^6 bytes) */
} ProgressUnit;

typedef struct {
    /* settings: progress_start fills them with defaults; change them before the first update */
    FILE *out;          /* where to print (stderr) */
    const char *label;  /* what is in progress (not copied: must outlive the Progress) */
    int64_t total;      /* the value of done at the end; <= 0 when unknown (no percent, no ETA) */
    ProgressUnit unit;  /* PROGRESS_COUNT */
    int tty;            /* 1: redraw in place; 0: plain lines (isatty(fileno(out))) */
    int quiet;          /* 1: print nothing */
    double first_s;     /* seconds before the first report (tty 0.5, else 5) */
    double every_s;     /* seconds between reports (tty 0.2, else 5) */
    const char *suffix; /* appended to every report, final one included, after two spaces;
                           NULL or "" for none (NULL). Not copied: the caller may rewrite
                           the text it points to between calls. */
    /* state */
    double t0, t_next; /* start time and next report time (util_now_s) */
    int64_t done;      /* last value given to progress_update */
    int drawn;         /* a report has been printed */
} Progress;

/* Starts timing a job of `total` units whose reports go to stderr. */
void progress_start(Progress *p, const char *label, int64_t total);

/* The same with reports going to `out` (whether it is a terminal decides the style). */
void progress_start_to(Progress *p, FILE *out, const char *label, int64_t total);

/* Records that `done` units are finished and prints a report when one is due.
 * Cheap enough to call for every item (one clock read). */
void progress_update(Progress *p, int64_t done);

/* Ends the job: when any report was printed, prints a final one (elapsed time and
 * mean rate) and ends the terminal line. Idempotent. */
void progress_finish(Progress *p);

/* Formats the report for `done` units after `elapsed` seconds into buf (at most len
 * bytes, always NUL-terminated), e.g.
 *   "loading x.gz [#######.............]  35%  17.5/50.1 MB  41.2 MB/s  ETA 0:01"
 * With final != 0 it reads "loading x.gz  done 50.1 MB in 1.2 s (41.8 MB/s)".
 * A suffix is appended to either: "...  ETA 0:01  epoch 2/5". Returns buf. */
char *progress_format(const Progress *p, int64_t done, double elapsed, int final, char *buf, size_t len);

#endif
