/* feedback.h — the feedback loop: people tell the true label of tweets
 * (tweets.feedback, {"id","label"}); each is matched with the prediction stored in
 * bz:pred:<id>, counted once per tweet id, added to the misclassification window when
 * the model was wrong (3 within 5 minutes raise misclassification_burst with the ids),
 * and kept as a correction for retraining (`buzzradar feedback export`).
 *
 * Keys (prefix configurable, default "bz:"; see also monitor.h):
 *   bz:win:{misclassified}          zset  tweet id -> ms of confirmed misclassifications
 *   bz:win:{misclassified}:seen     zset  feedback ids already counted (feedback_dedupe_ms)
 *   bz:win:{misclassified}:m:<min>  hash  fb (feedback counted), ok (prediction confirmed),
 *                                         bad (misclassified), unk (no prediction found)
 *   bz:fb:<id>                      hash  label (true label 0/1), text (when known), pred
 *                                         (predicted label 0/1), p_positive, model_version,
 *                                         at (ms of the latest feedback)   TTL feedback_ttl_ms
 *   bz:fb:index                     zset  tweet id -> ms of its first feedback (same TTL)
 * A correction's text is the feedback message's own ({"id","label","text"}) when it has
 * one, else the raw text the prediction store kept with the prediction (redis_store.h),
 * so every correction of a tweet scored in the last 24 h has a text; export skips (and
 * counts) the others (never scored, or scored by a worker that did not keep texts).
 *
 * Every write is idempotent per tweet id, so a message handled again (a replay, or a
 * retry after Redis was unavailable) changes nothing but the correction's latest label. */
#ifndef BUZZRADAR_FEEDBACK_H
#define BUZZRADAR_FEEDBACK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "worker/monitor.h"
#include "worker/redis_store.h"

typedef enum {
    FEEDBACK_CONFIRMED = 0, /* the prediction was right */
    FEEDBACK_MISCLASSIFIED, /* the prediction was wrong: added to the misclassification window */
    FEEDBACK_UNKNOWN,       /* no prediction stored for the id (expired, never scored): counted */
    FEEDBACK_REPLAYED,      /* this id's feedback was counted before: not counted again */
    FEEDBACK_UNAVAILABLE,   /* Redis unavailable: nothing recorded, safe to handle again later */
    FEEDBACK_OUTCOMES
} FeedbackOutcome;

/* "confirmed", "misclassified", "unknown", "replayed", "unavailable". */
const char *feedback_outcome_name(FeedbackOutcome o);

/* One decoded feedback message. */
typedef struct {
    const char *id; /* tweet id, id_len bytes (at most FEEDBACK_ID_MAX) */
    size_t id_len;
    uint8_t positive; /* the true label: 1 positive, 0 negative */
    const char *text; /* the tweet's text when the message has one, else NULL */
    size_t text_len;
} FeedbackItem;

enum { FEEDBACK_ID_MAX = 200, FEEDBACK_CHUNK = 32 };

/* Handles n feedback messages at time now_ms: looks their predictions up through store
 * (one round trip per FEEDBACK_CHUNK messages), records each through the monitor (one
 * more round trip: counters, window, correction), and raises misclassification_burst
 * when the window reaches its threshold. out[i] gets each message's outcome (an id
 * longer than FEEDBACK_ID_MAX is UNKNOWN and not stored). Returns the number of alerts
 * raised (>= 0), or MONITOR_UNAVAILABLE when Redis could not be reached (the messages
 * not recorded have FEEDBACK_UNAVAILABLE). */
int feedback_handle(Monitor *m, RedisStore *store, const FeedbackItem *items, int n, int64_t now_ms,
                    FeedbackOutcome *out);

/* Feedback counters of one minute or a sum of minutes. */
typedef struct {
    int64_t total;         /* feedback messages counted (replays excluded) */
    int64_t confirmed;     /* ok */
    int64_t misclassified; /* bad */
    int64_t unknown;       /* unk */
} FeedbackCounts;

/* Reads the counters of minutes [first, first + n) into out[0..n) in round trips of up
 * to 256 minutes. Returns MONITOR_OK or MONITOR_UNAVAILABLE. */
int feedback_read_counts(Monitor *m, int64_t now_ms, int64_t first, int n, FeedbackCounts *out);

typedef struct {
    int64_t rows;         /* rows written */
    int64_t without_text; /* corrections skipped: no text known */
    int64_t filtered;     /* corrections skipped by only_misclassified */
    int64_t expired;      /* ids in the index whose record has expired or is malformed */
} FeedbackExportStats;

/* Writes the corrections whose first feedback falls in [since_ms, now_ms] as a CSV
 * (header "label,text", label 0/1, RFC 4180 quoting) that `train --data` reads; with
 * only_misclassified, only those the model got wrong. Oldest first, in pages of 256.
 * Returns MONITOR_OK (check ferror(out) for write errors) or MONITOR_UNAVAILABLE. */
int feedback_export(Monitor *m, int64_t now_ms, int64_t since_ms, int only_misclassified, FILE *out,
                    FeedbackExportStats *st);

/* Writes one CSV row "<label>,<text>\n", the text quoted (its double quotes doubled)
 * when it holds a comma, a double quote or a line break (RFC 4180). Returns 0, or -1 on
 * a write error. */
int feedback_csv_row(FILE *out, int label, const char *text, size_t len);

#endif
