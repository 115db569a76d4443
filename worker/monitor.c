/* monitor.c — sliding windows in Redis, rule evaluation and alerts raised once across
 * workers (see monitor.h). */
#include "worker/monitor.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/util.h"
#include "worker/log.h"
#include "worker/terms.h"

#define PREFIX_MAX  64
#define KEY_MAX     (PREFIX_MAX + 64)
#define VERSION_MAX 63

enum {
    ARG_MAX = 512,       /* arguments of one batch's two script calls (about 230 used) */
    ARENA_MAX = 16384,   /* numbers formatted for those arguments */
    CHUNK = 256,         /* minutes read per round trip */
    BATCH_TERMS = 32,    /* terms of each kind sent per batch (its most frequent) */
    BATCH_EXAMPLES = 5,  /* example tweet ids sent per batch (the most typical) */
    TERMS_CAP = 500,     /* terms of each kind kept per minute */
    EXAMPLES_CAP = 20,   /* example ids kept per minute */
    ALERT_TERMS = 3,     /* terms of each kind named in a negative_surge alert */
    ALERT_EXAMPLES = 5,  /* example ids in a negative_surge alert */
    TERM_TABLE = 4096,   /* distinct terms counted per batch */
    OUTAGES = 16,        /* outages remembered to keep their minutes out of baselines */
    FINAL_AFTER_MIN = 1, /* a minute is final (cached) once this many full minutes passed */
};

/* Counter fields of the buckets, in AlertCounts order. */
static const char *const count_fields[] = {"n", "neg", "p", "c", "tok", "oov", "err"};
enum { COUNT_FIELDS = 7 };
static const char *const latency_fields[] = {"ln", "lw", "lc"};
static const char *const bin_fields[ALERT_LATENCY_BINS] = {"l0", "l1", "l2",  "l3",  "l4",  "l5",  "l6", "l7",
                                                           "l8", "l9", "l10", "l11", "l12", "l13", "l14"};

/* Arguments of a pipeline: pointers (strings that outlive the call) and numbers
 * formatted into an arena. */
typedef struct {
    const char *argv[ARG_MAX];
    size_t len[ARG_MAX];
    int argc;
    char arena[ARENA_MAX];
    size_t used;
    int overflow;
} Args;

typedef struct {
    _Atomic uint64_t batches, batches_dropped, evaluations, evaluations_failed, suppressed, outages,
        reply_errors;
    _Atomic uint64_t raised[ALERT_TYPE_COUNT];
    _Atomic uint64_t feedback[5];
} Counters;

struct Monitor {
    MonitorConfig cfg;
    char prefix[PREFIX_MAX + 1];
    char version[VERSION_MAX + 1];
    RedisConn *conn;
    MonitorLua lua;
    uint64_t token; /* names this monitor's cool-down claims */
    Counters count;

    /* observe scratch */
    Args args;
    char keys[8][KEY_MAX];
    TermCounter *terms;
    TermCount top[TERM_KINDS][BATCH_TERMS];

    /* evaluation */
    int64_t last_eval_ms;
    int evaluated;
    int warm;               /* baselines hold the warm-up history */
    int64_t folded_through; /* last minute folded into the baselines */
    AlertBaseline hour, day;
    int history;         /* minutes of history the rules read */
    int ring_n;          /* history + margin */
    AlertCounts *ring;   /* minute m at m % ring_n */
    int64_t *ring_min;   /* which minute each slot holds (-1: none) */
    uint8_t *ring_final; /* 1: complete, never read again */
    AlertCounts *hist;   /* the history in order, for the rules */
    Alert fired[ALERT_TYPE_COUNT];

    /* chunked reads */
    AlertCounts *chunk;
    MonitorCall calls[CHUNK + 1];
    const char *call_argv[CHUNK + 1][2];
    size_t call_len[CHUNK + 1][2];
    char chunk_keys[CHUNK][KEY_MAX];
    redisReply *replies[CHUNK + 1];

    /* outages */
    int down;
    int64_t down_since_ms;
    int64_t outage_from[OUTAGES], outage_to[OUTAGES]; /* epoch minutes, inclusive */
    int n_outages, outage_next;
    int64_t last_error_log_ms;
};

#define INC(m, field)   atomic_fetch_add_explicit(&(m)->count.field, 1, memory_order_relaxed)
#define LOADC(m, field) atomic_load_explicit(&(m)->count.field, memory_order_relaxed)

/* ---- configuration ----------------------------------------------------------------- */

void monitor_config_default(MonitorConfig *c) {
    memset(c, 0, sizeof *c);
    c->key_prefix = "bz:";
    alert_rules_default(&c->rules);
    c->eval_interval_ms = 5000;
    c->second_ttl_ms = 900000;
    c->minute_ttl_ms = 48LL * 3600000;
    c->terms_ttl_ms = 3600000;
    c->baseline_warmup_minutes = 1440;
    c->alert_log_ttl_ms = 7LL * 86400000;
    c->feedback_ttl_ms = 90LL * 86400000;
    c->feedback_dedupe_ms = 86400000;
    c->raise_unavailable = 1;
    redis_conn_options_default(&c->conn);
}

typedef enum { KEY_I64, KEY_INT, KEY_DBL } KeyType;
typedef struct {
    const char *name;
    KeyType type;
    size_t off;
} ConfigKey;

#define RULE(field, t)                                                                                       \
    { #field, t, offsetof(MonitorConfig, rules.field) }
#define TOP(field, t)                                                                                        \
    { #field, t, offsetof(MonitorConfig, field) }
static const ConfigKey config_keys[] = {
    RULE(window_ms, KEY_I64),
    RULE(miscls_count, KEY_INT),
    RULE(miscls_window_ms, KEY_I64),
    RULE(surge_min_count, KEY_I64),
    RULE(surge_min_rise, KEY_DBL),
    RULE(surge_z, KEY_DBL),
    RULE(baseline_hour_tau_min, KEY_DBL),
    RULE(baseline_day_tau_min, KEY_DBL),
    RULE(baseline_min_minutes, KEY_I64),
    RULE(skew_share, KEY_DBL),
    RULE(skew_z, KEY_DBL),
    RULE(skew_min_count, KEY_I64),
    RULE(oov_share, KEY_DBL),
    RULE(oov_min_tokens, KEY_I64),
    RULE(confidence_drop, KEY_DBL),
    RULE(length_shift, KEY_DBL),
    RULE(quality_min_count, KEY_I64),
    RULE(latency_crit_ms, KEY_DBL),
    RULE(latency_crit_for_ms, KEY_I64),
    RULE(latency_warn_ms, KEY_DBL),
    RULE(latency_warn_for_ms, KEY_I64),
    RULE(latency_min_per_minute, KEY_I64),
    RULE(error_rate, KEY_DBL),
    RULE(error_window_ms, KEY_I64),
    RULE(error_min_count, KEY_I64),
    TOP(eval_interval_ms, KEY_I64),
    TOP(second_ttl_ms, KEY_I64),
    TOP(minute_ttl_ms, KEY_I64),
    TOP(terms_ttl_ms, KEY_I64),
    TOP(baseline_warmup_minutes, KEY_I64),
    TOP(alert_log_ttl_ms, KEY_I64),
    TOP(feedback_ttl_ms, KEY_I64),
    TOP(feedback_dedupe_ms, KEY_I64),
};

static const char *const config_key_names[] = {"window_ms",
                                               "miscls_count",
                                               "miscls_window_ms",
                                               "surge_min_count",
                                               "surge_min_rise",
                                               "surge_z",
                                               "baseline_hour_tau_min",
                                               "baseline_day_tau_min",
                                               "baseline_min_minutes",
                                               "skew_share",
                                               "skew_z",
                                               "skew_min_count",
                                               "oov_share",
                                               "oov_min_tokens",
                                               "confidence_drop",
                                               "length_shift",
                                               "quality_min_count",
                                               "latency_crit_ms",
                                               "latency_crit_for_ms",
                                               "latency_warn_ms",
                                               "latency_warn_for_ms",
                                               "latency_min_per_minute",
                                               "error_rate",
                                               "error_window_ms",
                                               "error_min_count",
                                               "eval_interval_ms",
                                               "second_ttl_ms",
                                               "minute_ttl_ms",
                                               "terms_ttl_ms",
                                               "baseline_warmup_minutes",
                                               "alert_log_ttl_ms",
                                               "feedback_ttl_ms",
                                               "feedback_dedupe_ms",
                                               "cooldown_ms.<alert type>",
                                               NULL};

const char *const *monitor_config_keys(void) { return config_key_names; }

int monitor_config_set(MonitorConfig *c, const char *key, const char *value, char *err, size_t errlen) {
    char *end;
    errno = 0;
    if (!strncmp(key, "cooldown_ms.", 12)) {
        AlertType t;
        if (alert_type_parse(key + 12, &t) != 0)
            return util_err(err, errlen, "unknown alert type in '%s'", key);
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) goto not_a_number;
        c->rules.cooldown_ms[t] = v;
        return 0;
    }
    for (size_t i = 0; i < sizeof config_keys / sizeof config_keys[0]; i++) {
        const ConfigKey *k = &config_keys[i];
        if (strcmp(key, k->name)) continue;
        void *p = (char *)c + k->off;
        if (k->type == KEY_DBL) {
            double v = strtod(value, &end);
            if (errno || end == value || *end || !isfinite(v)) goto not_a_number;
            *(double *)p = v;
        } else {
            long long v = strtoll(value, &end, 10);
            if (errno || end == value || *end) goto not_a_number;
            if (k->type == KEY_INT) {
                if (v < -2147483647LL || v > 2147483647LL) goto not_a_number;
                *(int *)p = (int)v;
            } else {
                *(int64_t *)p = v;
            }
        }
        return 0;
    }
    return util_err(err, errlen, "unknown monitor setting '%s'", key);
not_a_number:
    return util_err(err, errlen, "monitor setting %s: '%s' is not a valid number", key, value);
}

/* ---- small helpers ------------------------------------------------------------------ */

static int64_t minute_of(int64_t ms) { return ms / 60000; }
static int minutes_ceil(int64_t ms) { return (int)((ms + 59999) / 60000); }

static void args_reset(Args *a) {
    a->argc = 0;
    a->used = 0;
    a->overflow = 0;
}

static void args_add(Args *a, const char *s, size_t len) {
    if (a->argc >= ARG_MAX) {
        a->overflow = 1;
        return;
    }
    a->argv[a->argc] = s;
    a->len[a->argc++] = len;
}

static void args_str(Args *a, const char *s) { args_add(a, s, strlen(s)); }

static void args_fmt_num(Args *a, const char *fmt, int64_t i, double d, int is_double) {
    size_t room = sizeof a->arena - a->used;
    int n = is_double ? snprintf(a->arena + a->used, room, fmt, d)
                      : snprintf(a->arena + a->used, room, fmt, (long long)i);
    if (n < 0 || (size_t)n >= room) {
        a->overflow = 1;
        return;
    }
    args_add(a, a->arena + a->used, (size_t)n);
    a->used += (size_t)n + 1;
}

static void args_int(Args *a, int64_t v) { args_fmt_num(a, "%lld", v, 0, 0); }
static void args_dbl(Args *a, double v) { args_fmt_num(a, "%.6f", 0, v, 1); }

/* prefix + formatted suffix into buf (KEY_MAX). */
static const char *key_fmt(const Monitor *m, char *buf, const char *fmt, long long v) {
    int n = snprintf(buf, KEY_MAX, "%s", m->prefix);
    snprintf(buf + n, (size_t)(KEY_MAX - n), fmt, v);
    return buf;
}

static MonitorCall call_of(int script, int nkeys, const Args *a, int from) {
    return (MonitorCall){script, nkeys, a->argc - from, a->argv + from, a->len + from};
}

static int64_t reply_int(const redisReply *r) {
    if (r->type == REDIS_REPLY_INTEGER) return r->integer;
    if (r->type == REDIS_REPLY_STRING) return strtoll(r->str, NULL, 10);
    return 0;
}

void monitor_replies_free(redisReply **replies, int n) {
    for (int i = 0; i < n; i++) {
        if (replies[i]) freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
}

/* Counts an error reply; logs the first one of each minute. Returns 1 for an error. */
static int check_reply(Monitor *m, const redisReply *r, int64_t now_ms, const char *what) {
    if (r->type != REDIS_REPLY_ERROR) return 0;
    INC(m, reply_errors);
    if (now_ms - m->last_error_log_ms >= 60000) {
        m->last_error_log_ms = now_ms;
        const char *kv[] = {"what", what, NULL};
        log_event(LOG_WARN, "monitor_redis_error", kv, "Redis answered an error to the monitor's %s: %.200s",
                  what, r->str);
    }
    return 1;
}

/* ---- outages -------------------------------------------------------------------------- */

static void outage_begin(Monitor *m, int64_t now_ms) {
    int64_t now_min = minute_of(now_ms);
    if (m->down) { /* still down: the outage covers this minute too */
        int last = (m->outage_next + OUTAGES - 1) % OUTAGES;
        m->outage_to[last] = now_min;
        return;
    }
    m->down = 1;
    m->down_since_ms = now_ms;
    INC(m, outages);
    m->outage_from[m->outage_next] = now_min;
    m->outage_to[m->outage_next] = now_min;
    m->outage_next = (m->outage_next + 1) % OUTAGES;
    if (m->n_outages < OUTAGES) m->n_outages++;
    if (!m->cfg.raise_unavailable) return;

    Alert a;
    alerts_monitor_unavailable(now_ms, redis_conn_url(m->conn), "connection refused, timed out or lost", &a);
    INC(m, raised[ALERT_MONITOR_UNAVAILABLE]);
    const char *kv[] = {"type",  "monitor_unavailable",   "severity", "critical",
                        "redis", redis_conn_url(m->conn), NULL};
    log_event(LOG_ERROR, "monitor_unavailable", kv, "%s", a.message);
    if (m->cfg.on_alert) {
        char *json = alert_to_json(&a, m->version);
        if (json) m->cfg.on_alert(&a, json, m->cfg.on_alert_ctx);
        free(json);
    }
}

static void outage_end(Monitor *m, int64_t now_ms) {
    if (!m->down) return;
    m->down = 0;
    int last = (m->outage_next + OUTAGES - 1) % OUTAGES;
    m->outage_to[last] = minute_of(now_ms);
    const char *kv[] = {"redis", redis_conn_url(m->conn), NULL};
    log_event(LOG_INFO, "monitor_resumed", kv, "Redis reachable again after %.1f s: monitoring resumes",
              (double)(now_ms - m->down_since_ms) / 1000.0);
}

static int in_outage(const Monitor *m, int64_t minute) {
    for (int i = 0; i < m->n_outages; i++)
        if (minute >= m->outage_from[i] && minute <= m->outage_to[i]) return 1;
    return 0;
}

/* One exchange; a batch that may have been applied is not resent unless idempotent. */
static int exchange(Monitor *m, int64_t now_ms, const MonitorCall *calls, int n, redisReply **replies,
                    int idempotent) {
    for (int attempt = 0; attempt < 2; attempt++) {
        int sent = 0;
        if (monitor_lua_run(&m->lua, m->conn, calls, n, replies, &sent) == 0) {
            outage_end(m, now_ms);
            return MONITOR_OK;
        }
        if (sent && !idempotent) break;
    }
    outage_begin(m, now_ms);
    return MONITOR_UNAVAILABLE;
}

int monitor_run(Monitor *m, int64_t now_ms, const MonitorCall *calls, int n, redisReply **replies) {
    return exchange(m, now_ms, calls, n, replies, 1);
}

/* ---- life cycle ----------------------------------------------------------------------- */

Monitor *monitor_new(const MonitorConfig *c, char *err, size_t errlen) {
    const char *prefix = c->key_prefix ? c->key_prefix : "bz:";
    const char *version = c->model_version ? c->model_version : "";
    if (strlen(prefix) > PREFIX_MAX) {
        util_err(err, errlen, "monitor: key prefix longer than %d bytes", PREFIX_MAX);
        return NULL;
    }
    if (strlen(version) > VERSION_MAX) {
        util_err(err, errlen, "monitor: model version longer than %d bytes", VERSION_MAX);
        return NULL;
    }
    if (alert_rules_check(&c->rules, err, errlen) != 0) return NULL;
    int history = alert_rules_history_minutes(&c->rules);
    if (history >= CHUNK) {
        util_err(err, errlen, "monitor: error window and latency durations must be under %d minutes", CHUNK);
        return NULL;
    }
    if (c->eval_interval_ms < 0 || c->second_ttl_ms <= c->rules.window_ms || c->minute_ttl_ms < 3600000 ||
        c->terms_ttl_ms <= c->rules.window_ms || c->baseline_warmup_minutes < 1 || c->alert_log_ttl_ms < 1 ||
        c->feedback_ttl_ms < 1 || c->feedback_dedupe_ms < c->rules.miscls_window_ms) {
        util_err(err, errlen,
                 "monitor: bucket TTLs must outlive the window (minute buckets >= 1 h), the feedback memory "
                 "the misclassification window, and intervals be positive");
        return NULL;
    }
    RedisConn *conn = redis_conn_new(c->url, &c->conn, err, errlen);
    if (!conn) return NULL;

    Monitor *m = callocCheck(1, sizeof *m);
    m->cfg = *c;
    m->conn = conn;
    snprintf(m->prefix, sizeof m->prefix, "%s", prefix);
    snprintf(m->version, sizeof m->version, "%s", version);
    m->cfg.key_prefix = m->prefix;
    m->cfg.model_version = m->version;
    m->cfg.url = redis_conn_url(conn);
    monitor_lua_init(&m->lua);
    Rng rng;
    rng_seed(&rng, (uint64_t)util_wall_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)m);
    m->token = rng_u64(&rng);
    m->terms = terms_new(TERM_TABLE);
    m->history = history;
    m->ring_n = history + 8;
    m->ring = callocCheck((size_t)m->ring_n, sizeof *m->ring);
    m->ring_min = mallocCheck((size_t)m->ring_n * sizeof *m->ring_min);
    for (int i = 0; i < m->ring_n; i++) m->ring_min[i] = -1;
    m->ring_final = callocCheck((size_t)m->ring_n, 1);
    m->hist = callocCheck((size_t)history, sizeof *m->hist);
    m->chunk = callocCheck(CHUNK, sizeof *m->chunk);
    return m;
}

void monitor_free(Monitor *m) {
    if (!m) return;
    redis_conn_free(m->conn);
    terms_free(m->terms);
    free(m->ring);
    free(m->ring_min);
    free(m->ring_final);
    free(m->hist);
    free(m->chunk);
    free(m);
}

const MonitorConfig *monitor_config(const Monitor *m) { return &m->cfg; }
const char *monitor_prefix(const Monitor *m) { return m->prefix; }
RedisConn *monitor_conn(Monitor *m) { return m->conn; }
int monitor_unavailable(const Monitor *m) { return m->down; }

void monitor_baselines(const Monitor *m, AlertBaseline *hour, AlertBaseline *day) {
    if (hour) *hour = m->hour;
    if (day) *day = m->day;
}

void monitor_stats(const Monitor *m, MonitorStats *out) {
    memset(out, 0, sizeof *out);
    out->batches = LOADC(m, batches);
    out->batches_dropped = LOADC(m, batches_dropped);
    out->evaluations = LOADC(m, evaluations);
    out->evaluations_failed = LOADC(m, evaluations_failed);
    out->suppressed = LOADC(m, suppressed);
    out->outages = LOADC(m, outages);
    out->reply_errors = LOADC(m, reply_errors);
    out->noscript = atomic_load_explicit(&m->lua.noscript, memory_order_relaxed);
    for (int i = 0; i < ALERT_TYPE_COUNT; i++) out->raised[i] = LOADC(m, raised[i]);
    for (int i = 0; i < 5; i++) out->feedback[i] = LOADC(m, feedback[i]);
}

void monitor_count_feedback(Monitor *m, int outcome) {
    if (outcome >= 0 && outcome < 5) INC(m, feedback[outcome]);
}

/* ---- observing batches --------------------------------------------------------------- */

/* Adds the OBSERVE_VOLUME call of a batch to m->args. Returns 0 when there is nothing
 * to count. */
static int volume_call(Monitor *m, int64_t now_ms, const MonitorBatch *b, MonitorCall *call) {
    const AlertRules *r = &m->cfg.rules;
    int64_t both[COUNT_FIELDS] = {b->n,
                                  b->n_negative,
                                  llround(b->sum_p_positive * 1e6),
                                  llround(b->sum_confidence * 1e6),
                                  b->n_tokens,
                                  b->n_oov,
                                  b->n_failed};
    int64_t lat[3] = {0}, bins[ALERT_LATENCY_BINS] = {0};
    for (int i = 0; b->latency_ms && i < b->n_latency; i++) {
        double ms = b->latency_ms[i];
        bins[alert_latency_bin(ms)]++;
        lat[0]++;
        lat[1] += ms > r->latency_warn_ms;
        lat[2] += ms > r->latency_crit_ms;
    }
    int nboth = 0, nmin = 0;
    for (int i = 0; i < COUNT_FIELDS; i++) nboth += both[i] != 0;
    for (int i = 0; i < 3; i++) nmin += lat[i] != 0;
    for (int i = 0; i < ALERT_LATENCY_BINS; i++) nmin += bins[i] != 0;
    if (nboth + nmin == 0) return 0;

    Args *a = &m->args;
    int from = a->argc;
    args_str(a, key_fmt(m, m->keys[0], "win:{vol}:s:%lld", now_ms / 1000));
    args_str(a, key_fmt(m, m->keys[1], "win:{vol}:m:%lld", minute_of(now_ms)));
    args_int(a, m->cfg.second_ttl_ms);
    args_int(a, m->cfg.minute_ttl_ms);
    args_int(a, nboth);
    for (int i = 0; i < COUNT_FIELDS; i++)
        if (both[i]) {
            args_str(a, count_fields[i]);
            args_int(a, both[i]);
        }
    for (int i = 0; i < 3; i++)
        if (lat[i]) {
            args_str(a, latency_fields[i]);
            args_int(a, lat[i]);
        }
    for (int i = 0; i < ALERT_LATENCY_BINS; i++)
        if (bins[i]) {
            args_str(a, bin_fields[i]);
            args_int(a, bins[i]);
        }
    *call = call_of(MLUA_OBSERVE_VOLUME, 2, a, from);
    return 1;
}

/* Adds the OBSERVE_NEGATIVES call: the batch's most frequent terms of each kind and its
 * most typical negative tweets as examples. A tweet's typicality is the mean count, among
 * the batch's negative tweets, of its terms' occurrences (how much it says what the others
 * say); its example score is minus that, plus P(positive) / 1000 to prefer the most
 * negative among equals, so the lowest scores are the best examples in every minute. Returns
 * 0 when the batch lists no negative tweet. */
static int negatives_call(Monitor *m, int64_t now_ms, const MonitorBatch *b, MonitorCall *call) {
    if (!b->negatives || b->n_negatives <= 0) return 0;
    terms_reset(m->terms);
    for (int i = 0; i < b->n_negatives; i++)
        if (b->negatives[i].text) terms_add_text(m->terms, b->negatives[i].text, b->negatives[i].text_len);
    int ex[BATCH_EXAMPLES], n_ex = 0; /* indexes of the best examples, best first */
    double score[BATCH_EXAMPLES];
    for (int i = 0; i < b->n_negatives; i++) {
        const MonitorTweet *t = &b->negatives[i];
        if (!t->id || t->id_len == 0 || t->id_len >= ALERT_ID_MAX) continue;
        double typical =
            t->text ? (double)terms_score_text(m->terms, t->text, t->text_len) / b->n_negatives : 0;
        double sc = -typical + t->p_positive / 1000.0;
        int pos = n_ex;
        while (pos > 0 && score[pos - 1] > sc) pos--;
        if (pos >= BATCH_EXAMPLES) continue;
        int last = n_ex < BATCH_EXAMPLES ? n_ex : BATCH_EXAMPLES - 1;
        memmove(&ex[pos + 1], &ex[pos], (size_t)(last - pos) * sizeof *ex);
        memmove(&score[pos + 1], &score[pos], (size_t)(last - pos) * sizeof *score);
        ex[pos] = i;
        score[pos] = sc;
        if (n_ex < BATCH_EXAMPLES) n_ex++;
    }
    static const char *const kind_tag[TERM_KINDS] = {"h", "u", "w"};
    int64_t minute = minute_of(now_ms);
    Args *a = &m->args;
    int from = a->argc;
    for (int k = 0; k < TERM_KINDS; k++) {
        char fmt[32];
        snprintf(fmt, sizeof fmt, "win:{neg}:%s:%%lld", kind_tag[k]);
        args_str(a, key_fmt(m, m->keys[2 + k], fmt, minute));
    }
    args_str(a, key_fmt(m, m->keys[5], "win:{neg}:x:%lld", minute));
    args_int(a, m->cfg.terms_ttl_ms);
    for (int k = 0; k < TERM_KINDS; k++) {
        int n = terms_top(m->terms, (TermKind)k, m->top[k], BATCH_TERMS);
        args_str(a, "i");
        args_int(a, TERMS_CAP);
        args_int(a, n);
        for (int i = 0; i < n; i++) {
            args_str(a, m->top[k][i].term);
            args_int(a, m->top[k][i].count);
        }
    }
    args_str(a, "a");
    args_int(a, EXAMPLES_CAP);
    args_int(a, n_ex);
    for (int i = 0; i < n_ex; i++) {
        const MonitorTweet *t = &b->negatives[ex[i]];
        args_add(a, t->id, t->id_len);
        args_dbl(a, score[i]);
    }
    *call = call_of(MLUA_OBSERVE_NEGATIVES, 4, a, from);
    return 1;
}

int monitor_observe_batch(Monitor *m, int64_t now_ms, const MonitorBatch *b) {
    MonitorCall calls[2];
    redisReply *replies[2];
    args_reset(&m->args);
    int n = volume_call(m, now_ms, b, &calls[0]);
    n += negatives_call(m, now_ms, b, &calls[n]);
    if (m->args.overflow) util_die("monitor: argument buffers too small (a bug)");
    if (n > 0) {
        INC(m, batches);
        if (exchange(m, now_ms, calls, n, replies, 0) != MONITOR_OK) {
            INC(m, batches_dropped);
            return MONITOR_UNAVAILABLE;
        }
        for (int i = 0; i < n; i++) check_reply(m, replies[i], now_ms, monitor_lua_name(calls[i].script));
        monitor_replies_free(replies, n);
    }
    int rc = monitor_tick(m, now_ms);
    return rc == MONITOR_UNAVAILABLE ? MONITOR_UNAVAILABLE : MONITOR_OK;
}

/* ---- reading buckets ------------------------------------------------------------------ */

static void parse_counts(const redisReply *r, AlertCounts *out) {
    memset(out, 0, sizeof *out);
    if (r->type != REDIS_REPLY_ARRAY) return;
    int64_t *dst[COUNT_FIELDS] = {&out->n,      &out->neg, &out->p_micro, &out->c_micro,
                                  &out->tokens, &out->oov, &out->errors};
    int64_t *lat[3] = {&out->lat_n, &out->lat_warn, &out->lat_crit};
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        int64_t x = strtoll(v->str, NULL, 10);
        if (f->str[0] == 'l' && isdigit((unsigned char)f->str[1])) {
            int b = atoi(f->str + 1);
            if (b >= 0 && b < ALERT_LATENCY_BINS) out->lat_bin[b] = x;
            continue;
        }
        for (int k = 0; k < COUNT_FIELDS; k++)
            if (!strcmp(f->str, count_fields[k])) *dst[k] = x;
        for (int k = 0; k < 3; k++)
            if (!strcmp(f->str, latency_fields[k])) *lat[k] = x;
    }
}

/* Sets calls[at] to HGETALL of minute `minute`, its key in chunk_keys[slot]. */
static void minute_call(Monitor *m, int at, int slot, int64_t minute) {
    m->call_argv[at][0] = "HGETALL";
    m->call_len[at][0] = 7;
    m->call_argv[at][1] = key_fmt(m, m->chunk_keys[slot], "win:{vol}:m:%lld", minute);
    m->call_len[at][1] = strlen(m->chunk_keys[slot]);
    m->calls[at] = (MonitorCall){MLUA_PLAIN, 0, 2, m->call_argv[at], m->call_len[at]};
}

int monitor_read_minutes(Monitor *m, int64_t now_ms, int64_t first, int n, AlertCounts *out) {
    for (int base = 0; base < n; base += CHUNK) {
        int k = n - base < CHUNK ? n - base : CHUNK;
        for (int i = 0; i < k; i++) minute_call(m, i, i, first + base + i);
        if (exchange(m, now_ms, m->calls, k, m->replies, 1) != MONITOR_OK) return MONITOR_UNAVAILABLE;
        for (int i = 0; i < k; i++) {
            if (check_reply(m, m->replies[i], now_ms, "minute read"))
                memset(&out[base + i], 0, sizeof out[base + i]);
            else
                parse_counts(m->replies[i], &out[base + i]);
        }
        monitor_replies_free(m->replies, k);
    }
    return MONITOR_OK;
}

static void ring_store(Monitor *m, int64_t minute, const AlertCounts *c, int final) {
    int slot = (int)(minute % m->ring_n);
    m->ring[slot] = *c;
    m->ring_min[slot] = minute;
    m->ring_final[slot] = (uint8_t) final;
}

static const AlertCounts *ring_get(const Monitor *m, int64_t minute, int need_final) {
    int slot = (int)(minute % m->ring_n);
    if (m->ring_min[slot] != minute || (need_final && !m->ring_final[slot])) return NULL;
    return &m->ring[slot];
}

/* Folds the complete minutes older than the recent window into the baselines (at the
 * first evaluation, the warm-up history), skipping minutes of outages. */
static int fold_baselines(Monitor *m, int64_t now_ms) {
    const AlertRules *r = &m->cfg.rules;
    int64_t now_min = minute_of(now_ms);
    int64_t fold_to = now_min - minutes_ceil(r->window_ms) - 1;
    int64_t from = m->warm ? m->folded_through + 1 : fold_to - m->cfg.baseline_warmup_minutes + 1;
    if (fold_to - from + 1 > m->cfg.baseline_warmup_minutes)
        from = fold_to - m->cfg.baseline_warmup_minutes + 1;
    while (from <= fold_to) {
        int k = fold_to - from + 1 < CHUNK ? (int)(fold_to - from + 1) : CHUNK;
        if (monitor_read_minutes(m, now_ms, from, k, m->chunk) != MONITOR_OK) return MONITOR_UNAVAILABLE;
        for (int i = 0; i < k; i++) {
            int64_t minute = from + i;
            if (minute > now_min - m->ring_n) ring_store(m, minute, &m->chunk[i], 1);
            if (in_outage(m, minute)) continue;
            alert_baseline_fold(&m->hour, r->baseline_hour_tau_min, &m->chunk[i]);
            alert_baseline_fold(&m->day, r->baseline_day_tau_min, &m->chunk[i]);
        }
        m->folded_through = from + k - 1;
        m->warm = 1;
        from += k;
    }
    if (!m->warm) { /* nothing to fold yet: start from here */
        m->folded_through = fold_to;
        m->warm = 1;
    }
    return MONITOR_OK;
}

/* Reads the recent window's sums and the history minutes not cached, in one round trip. */
static int read_recent(Monitor *m, int64_t now_ms, AlertCounts *recent) {
    const AlertRules *r = &m->cfg.rules;
    int64_t now_min = minute_of(now_ms), now_s = now_ms / 1000;
    Args *a = &m->args;
    args_reset(a);
    char base[KEY_MAX];
    snprintf(base, sizeof base, "%swin:{vol}", m->prefix);
    args_str(a, base);
    args_int(a, now_s - r->window_ms / 1000 + 1);
    args_int(a, now_s);
    for (int i = 0; i < COUNT_FIELDS; i++) args_str(a, count_fields[i]);
    m->calls[0] = call_of(MLUA_READ_WINDOW, 1, a, 0);

    int64_t need[CHUNK];
    int n = 0;
    for (int64_t minute = now_min - m->history; minute < now_min; minute++)
        if (!ring_get(m, minute, 1)) {
            minute_call(m, 1 + n, n, minute);
            need[n++] = minute;
        }
    if (exchange(m, now_ms, m->calls, 1 + n, m->replies, 1) != MONITOR_OK) return MONITOR_UNAVAILABLE;
    memset(recent, 0, sizeof *recent);
    const redisReply *w = m->replies[0];
    if (!check_reply(m, w, now_ms, "window read") && w->type == REDIS_REPLY_ARRAY &&
        w->elements == COUNT_FIELDS) {
        int64_t *dst[COUNT_FIELDS] = {&recent->n,      &recent->neg, &recent->p_micro, &recent->c_micro,
                                      &recent->tokens, &recent->oov, &recent->errors};
        for (int i = 0; i < COUNT_FIELDS; i++) *dst[i] = reply_int(w->element[i]);
    }
    for (int i = 0; i < n; i++) {
        AlertCounts c;
        if (check_reply(m, m->replies[1 + i], now_ms, "minute read"))
            memset(&c, 0, sizeof c);
        else
            parse_counts(m->replies[1 + i], &c);
        ring_store(m, need[i], &c, need[i] < now_min - FINAL_AFTER_MIN);
    }
    monitor_replies_free(m->replies, 1 + n);
    return MONITOR_OK;
}

int monitor_evaluate(Monitor *m, int64_t now_ms) {
    m->last_eval_ms = now_ms;
    m->evaluated = 1;
    INC(m, evaluations);
    AlertInputs in = {.now_ms = now_ms, .hour = &m->hour, .day = &m->day};
    if (fold_baselines(m, now_ms) != MONITOR_OK || read_recent(m, now_ms, &in.recent) != MONITOR_OK) {
        INC(m, evaluations_failed);
        return MONITOR_UNAVAILABLE;
    }
    int64_t now_min = minute_of(now_ms);
    for (int i = 0; i < m->history; i++) {
        const AlertCounts *c = ring_get(m, now_min - m->history + i, 0);
        if (c)
            m->hist[i] = *c;
        else
            memset(&m->hist[i], 0, sizeof m->hist[i]);
    }
    in.minutes = m->hist;
    in.n_minutes = m->history;
    int k = alerts_evaluate(&m->cfg.rules, &in, m->fired, ALERT_TYPE_COUNT);
    int raised = 0;
    for (int i = 0; i < k; i++) {
        int rc = monitor_raise(m, &m->fired[i]);
        if (rc == MONITOR_UNAVAILABLE) return MONITOR_UNAVAILABLE;
        raised += rc;
    }
    return raised;
}

int monitor_tick(Monitor *m, int64_t now_ms) {
    if (m->evaluated && now_ms - m->last_eval_ms < m->cfg.eval_interval_ms && now_ms >= m->last_eval_ms)
        return 0;
    return monitor_evaluate(m, now_ms);
}

/* ---- raising alerts ------------------------------------------------------------------- */

/* Fills a negative_surge alert with the window's top terms and example ids. */
static void describe_surge(Monitor *m, Alert *a) {
    Args *args = &m->args;
    args_reset(args);
    char base[KEY_MAX];
    snprintf(base, sizeof base, "%swin:{neg}", m->prefix);
    args_str(args, base);
    args_int(args, minute_of(a->at_ms - m->cfg.rules.window_ms + 1));
    args_int(args, minute_of(a->at_ms));
    args_int(args, ALERT_TERMS);
    args_int(args, ALERT_EXAMPLES);
    MonitorCall call = call_of(MLUA_TOP_TERMS, 1, args, 0);
    redisReply *r;
    if (exchange(m, a->at_ms, &call, 1, &r, 1) != MONITOR_OK) return;
    if (!check_reply(m, r, a->at_ms, "top terms") && r->type == REDIS_REPLY_ARRAY && r->elements == 4) {
        TermCount top[TERM_KINDS][ALERT_TERMS];
        int n[TERM_KINDS] = {0};
        for (int k = 0; k < TERM_KINDS; k++) {
            const redisReply *l = r->element[k];
            for (size_t i = 0; l->type == REDIS_REPLY_ARRAY && i + 1 < l->elements && n[k] < ALERT_TERMS;
                 i += 2) {
                const redisReply *t = l->element[i];
                if (t->type != REDIS_REPLY_STRING || t->len >= TERMS_MAX_LEN) continue;
                memcpy(top[k][n[k]].term, t->str, t->len + 1);
                top[k][n[k]].count = reply_int(l->element[i + 1]);
                n[k]++;
            }
        }
        alert_surge_describe(a, top[0], n[0], top[1], n[1], top[2], n[2]);
        const redisReply *x = r->element[3];
        for (size_t i = 0; x->type == REDIS_REPLY_ARRAY && i < x->elements; i++)
            if (x->element[i]->type == REDIS_REPLY_STRING)
                alert_add_example(a, x->element[i]->str, x->element[i]->len);
    }
    monitor_replies_free(&r, 1);
}

/* Appends the alert to the alert log (trimmed to its retention). */
static void log_alert(Monitor *m, const Alert *a, const char *json) {
    char key[KEY_MAX], at[24], cutoff[24], ttl[24];
    snprintf(key, sizeof key, "%salerts:log", m->prefix);
    snprintf(at, sizeof at, "%lld", (long long)a->at_ms);
    snprintf(cutoff, sizeof cutoff, "%lld", (long long)(a->at_ms - m->cfg.alert_log_ttl_ms));
    snprintf(ttl, sizeof ttl, "%lld", (long long)m->cfg.alert_log_ttl_ms);
    const char *zadd[] = {"ZADD", key, at, json}, *trim[] = {"ZREMRANGEBYSCORE", key, "-inf", cutoff},
               *expire[] = {"PEXPIRE", key, ttl};
    size_t zl[4], tl[4], el[3];
    for (int i = 0; i < 4; i++) zl[i] = strlen(zadd[i]), tl[i] = strlen(trim[i]);
    for (int i = 0; i < 3; i++) el[i] = strlen(expire[i]);
    MonitorCall calls[3] = {
        {MLUA_PLAIN, 0, 4, zadd, zl}, {MLUA_PLAIN, 0, 4, trim, tl}, {MLUA_PLAIN, 0, 3, expire, el}};
    redisReply *r[3];
    if (exchange(m, a->at_ms, calls, 3, r, 1) != MONITOR_OK) return;
    for (int i = 0; i < 3; i++) check_reply(m, r[i], a->at_ms, "alert log");
    monitor_replies_free(r, 3);
}

int monitor_raise(Monitor *m, Alert *a) {
    char key[KEY_MAX], token[48], rank[4], now[24], px[24];
    snprintf(key, sizeof key, "%salert:%s", m->prefix, alert_type_name(a->type));
    snprintf(token, sizeof token, "%016llx-%lld", (unsigned long long)m->token, (long long)a->at_ms);
    snprintf(rank, sizeof rank, "%d", a->severity == ALERT_CRITICAL ? 1 : 0);
    snprintf(now, sizeof now, "%lld", (long long)a->at_ms);
    snprintf(px, sizeof px, "%lld", (long long)m->cfg.rules.cooldown_ms[a->type]);
    const char *argv[] = {key, rank, token, now, px};
    size_t len[5];
    for (int i = 0; i < 5; i++) len[i] = strlen(argv[i]);
    MonitorCall call = {MLUA_COOLDOWN, 1, 5, argv, len};
    redisReply *r;
    if (exchange(m, a->at_ms, &call, 1, &r, 1) != MONITOR_OK) return MONITOR_UNAVAILABLE;
    int won = !check_reply(m, r, a->at_ms, "cool-down") && reply_int(r) == 1;
    monitor_replies_free(&r, 1);
    if (!won) {
        INC(m, suppressed);
        const char *kv[] = {"type", alert_type_name(a->type), "severity", alert_severity_name(a->severity),
                            NULL};
        log_event(LOG_DEBUG, "alert_suppressed", kv, "%s fired but is cooling down (raised already)",
                  alert_type_name(a->type));
        return 0;
    }
    if (a->type == ALERT_NEGATIVE_SURGE) describe_surge(m, a);
    INC(m, raised[a->type]);
    char value[32], threshold[32];
    snprintf(value, sizeof value, "%.4g", a->value);
    snprintf(threshold, sizeof threshold, "%.4g", a->threshold);
    const char *kv[] = {"type",      alert_type_name(a->type),
                        "severity",  alert_severity_name(a->severity),
                        "value",     value,
                        "threshold", threshold,
                        NULL};
    log_event(a->severity == ALERT_CRITICAL ? LOG_ERROR : LOG_WARN, "alert_raised", kv, "%s", a->message);
    char *json = alert_to_json(a, m->version);
    if (!json) {
        log_error("alert_encode_failed", "out of memory while encoding a %s alert", alert_type_name(a->type));
        return 1;
    }
    if (m->cfg.on_alert) m->cfg.on_alert(a, json, m->cfg.on_alert_ctx);
    log_alert(m, a, json);
    free(json);
    return 1;
}

int monitor_read_alert_log(Monitor *m, int64_t now_ms, int64_t from_ms, int64_t to_ms,
                           int (*fn)(const char *json, int64_t at_ms, void *ctx), void *ctx) {
    char key[KEY_MAX], from[24], to[24];
    snprintf(key, sizeof key, "%salerts:log", m->prefix);
    snprintf(from, sizeof from, "%lld", (long long)from_ms);
    snprintf(to, sizeof to, "%lld", (long long)to_ms);
    const char *argv[] = {"ZRANGEBYSCORE", key, from, to, "WITHSCORES"};
    size_t len[5];
    for (int i = 0; i < 5; i++) len[i] = strlen(argv[i]);
    MonitorCall call = {MLUA_PLAIN, 0, 5, argv, len};
    redisReply *r;
    if (exchange(m, now_ms, &call, 1, &r, 1) != MONITOR_OK) return MONITOR_UNAVAILABLE;
    int passed = 0;
    if (!check_reply(m, r, now_ms, "alert log") && r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            const redisReply *j = r->element[i], *s = r->element[i + 1];
            if (j->type != REDIS_REPLY_STRING || s->type != REDIS_REPLY_STRING) continue;
            passed++;
            if (fn(j->str, strtoll(s->str, NULL, 10), ctx)) break;
        }
    monitor_replies_free(&r, 1);
    return passed;
}

int monitor_parse_duration(const char *s, int64_t *ms) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v > 0)) return -1;
    double unit = 1000;
    if (!strcmp(end, "") || !strcmp(end, "s"))
        unit = 1000;
    else if (!strcmp(end, "m") || !strcmp(end, "min"))
        unit = 60000;
    else if (!strcmp(end, "h"))
        unit = 3600000;
    else if (!strcmp(end, "d"))
        unit = 86400000;
    else if (!strcmp(end, "w"))
        unit = 7 * 86400000.0;
    else
        return -1;
    if (v * unit > 9e15) return -1;
    *ms = (int64_t)llround(v * unit);
    return 0;
}
