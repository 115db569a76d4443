/* monitor.h — the worker's monitor: sliding windows in Redis shared by every worker
 * replica, alert evaluation, and alerts raised once across all workers.
 *
 * Every worker adds its scored batches to per-second and per-minute bucket counters in
 * Redis (one pipelined round trip per batch, never one entry per tweet); every worker
 * evaluates the rules of alerts.h on the shared buckets from time to time; an alert
 * that fires is claimed through its cool-down key (SET NX PX semantics, in Lua), so N
 * workers raise it once. The winner hands it to the on_alert callback (the pipeline
 * publishes it to the alerts topic, key = alert type), logs it, and appends it to the
 * alert log read by `buzzradar report`.
 *
 * Keys (prefix configurable, default "bz:"; the {tag} keeps one window on one slot):
 *   bz:win:{vol}:s:<epoch s>       hash   counters of one second           TTL second_ttl_ms
 *   bz:win:{vol}:m:<epoch min>     hash   counters + latency histogram     TTL minute_ttl_ms
 *   bz:win:{neg}:h|u|w:<min>       zset   hashtags|mentions|words of the negative tweets
 *   bz:win:{neg}:x:<min>           zset   example ids: the most typical negative tweets
 *                                         (score -typicality, monitor.c; lowest kept)
 *   bz:win:{misclassified}         zset   tweet id -> ms, confirmed misclassifications
 *   bz:win:{misclassified}:seen    zset   feedback ids counted (replays count once)
 *   bz:win:{misclassified}:m:<min> hash   feedback counters: fb, ok, bad, unk
 *   bz:alert:<type>                string cool-down of an alert type
 *   bz:alerts:log                  zset   alert JSON -> ms, for reports       kept alert_log_ttl_ms
 *   bz:fb:<id>, bz:fb:index        hash, zset  corrections for retraining (feedback.h)
 * Hash fields of the buckets: n, neg, p, c (sums of P(positive) and confidence in
 * millionths), tok, oov, err; minute buckets also ln, lw, lc (latencies, above the
 * warning and the critical threshold) and l0..l14 (histogram, alerts.h bins).
 *
 * Time is injected: every call takes now_ms (wall-clock ms since the epoch), so tests
 * replay hours in milliseconds. Buckets are by processing time.
 *
 * Redis trouble never blocks the caller for long (worker/redis_conn.h: bounded
 * timeouts, back-off during which calls fail at once). When Redis cannot be reached,
 * calls return MONITOR_UNAVAILABLE, their data is dropped (counted), and the monitor
 * raises monitor_unavailable once per outage and per Monitor (the cool-down key lives
 * in the Redis that is gone): to the callback and the log. The next call that reaches
 * Redis logs "monitor_resumed" and monitoring goes on; minutes of an outage are left
 * out of the baselines.
 *
 * Threads: a Monitor (and its connection) belongs to one thread at a time. Workers and
 * threads coordinate through Redis only: give each thread that observes its own
 * Monitor, or (better, fewer connections) observe from one thread. monitor_stats() may
 * be called from any thread. */
#ifndef BUZZRADAR_MONITOR_H
#define BUZZRADAR_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include "worker/alerts.h"
#include "worker/monitor_lua.h"
#include "worker/redis_conn.h"

#define MONITOR_OK          0
#define MONITOR_UNAVAILABLE (-1)

/* Called with each alert this worker raises, on the thread calling the monitor. json is
 * the buzz.alerts value (NUL-terminated, valid during the call); publish it with key
 * alert_type_name(alert->type). */
typedef void (*MonitorAlertFn)(const Alert *alert, const char *json, void *ctx);

typedef struct {
    const char *url;                 /* redis://host:port/db or unix:///path (required) */
    const char *key_prefix;          /* "bz:" (NULL: default); at most 64 bytes */
    const char *model_version;       /* written into each alert (NULL: "") */
    AlertRules rules;                /* thresholds (alert_rules_default) */
    int64_t eval_interval_ms;        /* rules evaluated at most this often per Monitor (5000) */
    int64_t second_ttl_ms;           /* TTL of per-second buckets, > rules.window_ms (900000) */
    int64_t minute_ttl_ms;           /* TTL of per-minute buckets: the reach of `report` (48 h) */
    int64_t terms_ttl_ms;            /* TTL of the negative tweets' terms and ids (3600000) */
    int64_t baseline_warmup_minutes; /* history read into the baselines at start (1440) */
    int64_t alert_log_ttl_ms;        /* alerts kept in the alert log (7 days) */
    int64_t feedback_ttl_ms;         /* corrections kept for retraining (90 days, feedback.h) */
    int64_t feedback_dedupe_ms;      /* a feedback id seen within this counts once (24 h) */
    int raise_unavailable;           /* 1: raise monitor_unavailable on outages (default); 0: CLIs */
    RedisConnOptions conn;           /* timeouts and back-off (redis_conn_options_default) */
    MonitorAlertFn on_alert;         /* NULL: alerts are only logged */
    void *on_alert_ctx;
} MonitorConfig;

/* Fills c with the defaults above (url NULL: set it). */
void monitor_config_default(MonitorConfig *c);

/* Sets one threshold or setting by name, as flags and environment variables give them:
 * "window_ms", "surge_min_count", "surge_z", "skew_share", "latency_crit_ms",
 * "cooldown_ms.negative_surge", "eval_interval_ms"... (the list: monitor_config_keys and
 * docs/alerts.md). Returns 0, or -1 with a one-line reason in err (unknown key, value
 * not a number). Values are checked as a whole by monitor_new(). */
int monitor_config_set(MonitorConfig *c, const char *key, const char *value, char *err, size_t errlen);
/* The accepted keys, NULL-terminated. */
const char *const *monitor_config_keys(void);

typedef struct Monitor Monitor;

/* Creates a monitor and tries to connect once (an unreachable Redis is not an error:
 * calls answer MONITOR_UNAVAILABLE until it can be reached). Returns NULL with a
 * one-line reason in err for a bad URL, prefix or rules. */
Monitor *monitor_new(const MonitorConfig *c, char *err, size_t errlen);
void monitor_free(Monitor *m); /* NULL is fine */

/* One negative tweet of a batch, for the hashtags/mentions/words of a surge. */
typedef struct {
    const char *id; /* tweet id, id_len bytes */
    size_t id_len;
    const char *text; /* the raw text, text_len bytes (NULL: no terms) */
    size_t text_len;
    float p_positive;
} MonitorTweet;

/* What the pipeline saw in one scored batch (or since its last call). */
typedef struct {
    int64_t n;               /* tweets scored */
    int64_t n_negative;      /* ... predicted negative */
    double sum_p_positive;   /* sum of P(positive) */
    double sum_confidence;   /* sum of max(p, 1 - p) */
    int64_t n_tokens;        /* tokens of all the tweets (tweet length) */
    int64_t n_oov;           /* ... unknown to the model */
    int64_t n_failed;        /* messages dead-lettered or failed */
    const float *latency_ms; /* end-to-end latencies (n_latency of them; may be NULL) */
    int n_latency;
    const MonitorTweet *negatives; /* the negative tweets (may be NULL: no terms, no examples) */
    int n_negatives;
} MonitorBatch;

/* Adds a batch to the windows in one pipelined round trip (two Lua calls: counters, and
 * the negatives' terms and most typical ids), then evaluates the rules when
 * eval_interval_ms has passed (monitor_tick). Returns MONITOR_OK, or MONITOR_UNAVAILABLE
 * (the batch is dropped and counted). Allocates nothing. */
int monitor_observe_batch(Monitor *m, int64_t now_ms, const MonitorBatch *b);

/* Evaluates the rules when eval_interval_ms has passed since the last evaluation (call
 * it regularly, e.g. from the poll loop, so that quiet periods are judged too). Returns
 * the number of alerts this monitor raised (0 when not due), or MONITOR_UNAVAILABLE. */
int monitor_tick(Monitor *m, int64_t now_ms);

/* Evaluates the rules now: reads the recent window and the minutes not cached yet (at
 * the first call, baseline_warmup_minutes of history), folds complete minutes older
 * than the window into the baselines, and raises what fires. Returns the number of
 * alerts raised by this monitor, or MONITOR_UNAVAILABLE. */
int monitor_evaluate(Monitor *m, int64_t now_ms);

typedef struct {
    uint64_t batches, batches_dropped; /* observed; dropped while Redis was unavailable */
    uint64_t evaluations, evaluations_failed;
    uint64_t raised[ALERT_TYPE_COUNT]; /* alerts raised by this monitor, per type */
    uint64_t suppressed;               /* alerts that fired but were in cool-down */
    uint64_t outages;                  /* available -> unavailable transitions */
    uint64_t reply_errors;             /* error replies from Redis (counted, not fatal) */
    uint64_t noscript;                 /* scripts re-sent with EVAL */
    uint64_t feedback[5];              /* by FeedbackOutcome (feedback.h) */
} MonitorStats;

void monitor_stats(const Monitor *m, MonitorStats *out);

/* 1 while the last exchange with Redis failed (an outage), else 0. */
int monitor_unavailable(const Monitor *m);

/* The baselines as folded so far (for tests and health details). */
void monitor_baselines(const Monitor *m, AlertBaseline *hour, AlertBaseline *day);

/* ---- services for the other monitor modules (feedback.c, the report) -------------- */

const MonitorConfig *monitor_config(const Monitor *m); /* strings valid for m's life */
const char *monitor_prefix(const Monitor *m);
RedisConn *monitor_conn(Monitor *m);

/* Counts one handled feedback message by outcome (FeedbackOutcome, feedback.h). */
void monitor_count_feedback(Monitor *m, int outcome);

/* Runs calls in one round trip (monitor_lua_run) with outage bookkeeping: a failure
 * marks the outage (and raises monitor_unavailable once), a success ends it. The calls
 * must be idempotent: when a connection that was working breaks, they are sent again
 * once. Returns 0 with n replies (free them with monitor_replies_free), or
 * MONITOR_UNAVAILABLE. */
int monitor_run(Monitor *m, int64_t now_ms, const MonitorCall *calls, int n, redisReply **replies);
void monitor_replies_free(redisReply **replies, int n);

/* Raises a fired alert: claims its cool-down across workers (a critical alert may
 * replace a warning of its type), then callback, log and alert log. Returns 1 raised,
 * 0 in cool-down (counted as suppressed), or MONITOR_UNAVAILABLE. */
int monitor_raise(Monitor *m, Alert *a);

/* Reads the per-minute buckets of minutes [first, first + n) (epoch minutes) into
 * out[0..n) (zeros for minutes without traffic), in round trips of up to 256 minutes.
 * Returns MONITOR_OK or MONITOR_UNAVAILABLE. */
int monitor_read_minutes(Monitor *m, int64_t now_ms, int64_t first, int n, AlertCounts *out);

/* Calls fn for each alert logged in [from_ms, to_ms], oldest first, with its JSON and
 * time; stops early when fn returns non-zero. Returns the number of alerts passed to
 * fn, or MONITOR_UNAVAILABLE. */
int monitor_read_alert_log(Monitor *m, int64_t now_ms, int64_t from_ms, int64_t to_ms,
                           int (*fn)(const char *json, int64_t at_ms, void *ctx), void *ctx);

/* Parses a duration for people: "90s", "30m", "24h", "7d", "2w" (a bare number is
 * seconds). Returns 0 with milliseconds in *ms, or -1 (not a positive duration). */
int monitor_parse_duration(const char *s, int64_t *ms);

#endif
