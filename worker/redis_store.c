/* redis_store.c — prediction store and score cache in Redis, one pipelined round trip
 * per batch (see redis_store.h). */
#include "worker/redis_store.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/util.h"
#include "worker/resp.h"
#include "worker/sha1.h"

#define PREFIX_MAX  64
#define VERSION_MAX 63
/* prefix + "cache:" + 40 hex + NUL */
#define CACHE_KEY_CAP (PREFIX_MAX + 6 + SHA1_HEX_LEN + 1)
_Static_assert(CACHE_KEY_CAP == STORE_CACHE_KEY_MAX + 1, "STORE_CACHE_KEY_MAX is out of date");

/* One batch of writes (store_put_start .. store_put_finish). */
typedef struct {
    const StoreRecord *recs;
    int n;
    size_t used; /* the batch's RESP bytes in the store's cmdbuf, once encoded */
    int ncmd;
    int written, dropped, cache_writes, errors;
} Put;

/* One cache look-up (store_cache_get*, or store_cache_get_start .. _finish). */
typedef struct {
    const char *const *texts; /* hashed into keys here, or */
    const size_t *lens;
    const char *const *keys; /* the keys, made by the caller */
    const size_t *key_lens;
    int n;
    float *p_out;
    uint8_t *hit_out;
    int hits, stale, errors;
} CacheGet;

/* What was sent and whose replies are still unread: at most one exchange at a time,
 * so replies are always read in the order their commands were sent. */
typedef enum { PENDING_NONE, PENDING_PUT, PENDING_GET } Pending;

struct RedisStore {
    RedisConn *conn;
    char prefix[PREFIX_MAX + 1];
    size_t prefix_len;
    char version[VERSION_MAX + 1];
    size_t version_len;
    int max_batch;
    int pred_ttl_s;
    int cache_ttl_ms;
    /* preallocated for one MGET of max_batch keys */
    char *keybuf;      /* max_batch * CACHE_KEY_CAP */
    const char **argv; /* max_batch + 1 */
    size_t *argvlen;   /* max_batch + 1 */
    /* the key prefix + "pred:" + id of one write; grows for a longer id than any before */
    char *predkey;
    size_t predkey_cap;
    /* the RESP bytes of one batch of writes; grows for a larger batch than any before */
    char *cmdbuf;
    size_t cmdbuf_cap;
    /* the exchange in flight (store_put_start, store_cache_get_start): its replies are
     * read by the next call on the store; the results wait in put_rc and get_rc */
    Pending pending;
    int pending_sent; /* exchange_send's answer when it was sent */
    Put put;
    CacheGet get;
    int put_rc, get_rc;
    _Atomic uint64_t cache_lookups, cache_hits, cache_stale, cache_skipped, preds_written, preds_dropped,
        cache_writes, pred_lookups, reply_errors, batches_failed;
};

#define ADD(s, field, n) atomic_fetch_add_explicit(&(s)->field, (uint64_t)(n), memory_order_relaxed)
#define LOAD(s, field)   atomic_load_explicit(&(s)->field, memory_order_relaxed)

void store_options_default(StoreOptions *o) {
    memset(o, 0, sizeof *o);
    o->key_prefix = "bz:";
    o->max_batch = 256;
    o->pred_ttl_s = 24 * 3600;
    o->cache_ttl_ms = 3600 * 1000;
    redis_conn_options_default(&o->conn);
}

RedisStore *store_new(const StoreOptions *opt, char *err, size_t errlen) {
    const char *prefix = opt->key_prefix ? opt->key_prefix : "bz:";
    if (strlen(prefix) > PREFIX_MAX) {
        snprintf(err, errlen, "redis key prefix longer than %d bytes", PREFIX_MAX);
        return NULL;
    }
    if (!opt->model_version || !opt->model_version[0] || strlen(opt->model_version) > VERSION_MAX) {
        snprintf(err, errlen, "redis store: model version must be 1..%d bytes", VERSION_MAX);
        return NULL;
    }
    if (opt->max_batch < 1 || opt->pred_ttl_s < 1 || opt->cache_ttl_ms < 1) {
        snprintf(err, errlen, "redis store: max_batch and TTLs must be >= 1");
        return NULL;
    }
    RedisConn *conn = redis_conn_new(opt->url, &opt->conn, err, errlen);
    if (!conn) return NULL;

    RedisStore *s = callocCheck(1, sizeof *s);
    s->conn = conn;
    snprintf(s->prefix, sizeof s->prefix, "%s", prefix);
    s->prefix_len = strlen(s->prefix);
    snprintf(s->version, sizeof s->version, "%s", opt->model_version);
    s->version_len = strlen(s->version);
    s->max_batch = opt->max_batch;
    s->pred_ttl_s = opt->pred_ttl_s;
    s->cache_ttl_ms = opt->cache_ttl_ms;
    s->keybuf = mallocCheck((size_t)opt->max_batch * CACHE_KEY_CAP);
    s->argv = mallocCheck((size_t)(opt->max_batch + 1) * sizeof *s->argv);
    s->argvlen = mallocCheck((size_t)(opt->max_batch + 1) * sizeof *s->argvlen);
    s->predkey_cap = PREFIX_MAX + 5 + 256;
    s->predkey = mallocCheck(s->predkey_cap);
    s->cmdbuf_cap = (size_t)opt->max_batch * 512; /* a tweet of ~100 bytes needs ~400 */
    s->cmdbuf = mallocCheck(s->cmdbuf_cap);
    return s;
}

void store_free(RedisStore *s) {
    if (!s) return;
    store_flush(s);
    redis_conn_free(s->conn);
    free(s->keybuf);
    free(s->predkey);
    free(s->cmdbuf);
    free(s->argv);
    free(s->argvlen);
    free(s);
}

size_t store_text_len(const char *text, size_t len) {
    if (len <= STORE_TEXT_MAX) return len;
    size_t cut = STORE_TEXT_MAX;
    /* text[cut] is the first byte left out: back up while it continues a sequence (at
     * most 3 bytes for valid UTF-8; invalid bytes are cut where they fall). */
    for (int k = 0; k < 3 && cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80; k++) cut--;
    return ((unsigned char)text[cut] & 0xC0) == 0x80 ? STORE_TEXT_MAX : cut;
}

int store_cache_key(const RedisStore *s, const char *text, size_t len, char *buf, size_t buflen) {
    size_t n = s->prefix_len + 6 + SHA1_HEX_LEN;
    if (n >= buflen) return -1;
    memcpy(buf, s->prefix, s->prefix_len);
    memcpy(buf + s->prefix_len, "cache:", 6);
    sha1_hex(text, len, buf + s->prefix_len + 6); /* writes the 40 digits and the NUL */
    return (int)n;
}

/* ---- one exchange with one retry ---------------------------------------------------
 * An operation appends its commands (append) and reads their replies (consume). When
 * the connection breaks, redis_conn decides whether a retry is due at once (a
 * connection that was working) or later (back-off); all our commands are idempotent,
 * so the whole batch is simply sent again once. consume() keeps its results local
 * until it has read every reply, so a retried attempt counts nothing twice. */

typedef struct {
    int (*append)(RedisStore *s, redisContext *ctx, void *arg); /* returns #commands, or -1 */
    int (*consume)(RedisStore *s, void *arg);                   /* 0, or -1: connection lost */
} Exchange;

/* Appends and sends the commands. Returns 0 when sent, 1 when the connection broke
 * while sending (a retry may be due), -1 when there is no connection or no memory. */
static int exchange_send(RedisStore *s, const Exchange *x, void *arg) {
    redisContext *ctx = redis_conn_acquire(s->conn);
    if (!ctx) return -1;
    int ncmd = x->append(s, ctx, arg);
    if (ncmd < 0) {
        redis_conn_fail(s->conn, "out of memory while building a pipeline");
        return -1;
    }
    return redis_conn_send(s->conn, ncmd) == 0 ? 0 : 1;
}

/* Reads the replies of an exchange whose first send returned sent; a connection lost
 * on the way is retried once, the whole exchange again. */
static int exchange_finish(RedisStore *s, const Exchange *x, void *arg, int sent) {
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = attempt == 0 ? sent : exchange_send(s, x, arg);
        if (rc < 0) break;
        if (rc == 0 && x->consume(s, arg) == 0) return STORE_OK;
    }
    ADD(s, batches_failed, 1);
    return STORE_UNAVAILABLE;
}

/* A whole exchange, after the replies of the one in flight (they come first). */
static int exchange_run(RedisStore *s, const Exchange *x, void *arg) {
    store_flush(s);
    return exchange_finish(s, x, arg, exchange_send(s, x, arg));
}

/* ---- cache lookup: MGET in chunks of max_batch keys ------------------------------- */

static int cache_get_append(RedisStore *s, redisContext *ctx, void *arg) {
    CacheGet *g = arg;
    int ncmd = 0;
    for (int base = 0; base < g->n; base += s->max_batch) {
        int k = g->n - base < s->max_batch ? g->n - base : s->max_batch;
        s->argv[0] = "MGET";
        s->argvlen[0] = 4;
        for (int i = 0; i < k; i++) {
            if (g->keys) {
                s->argv[i + 1] = g->keys[base + i];
                s->argvlen[i + 1] = g->key_lens[base + i];
                continue;
            }
            char *key = s->keybuf + (size_t)i * CACHE_KEY_CAP;
            int len = store_cache_key(s, g->texts[base + i], g->lens[base + i], key, CACHE_KEY_CAP);
            s->argv[i + 1] = key;
            s->argvlen[i + 1] = (size_t)len;
        }
        if (redisAppendCommandArgv(ctx, k + 1, s->argv, s->argvlen) != REDIS_OK) return -1;
        ncmd++;
    }
    return ncmd;
}

// Parses "<p> <version>" of a cache entry. Returns 1 hit, 0 stale, -1 malformed.
static int cache_value_parse(const RedisStore *s, const char *v, size_t len, float *p) {
    char buf[128];
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    char *end;
    float x = strtof(buf, &end);
    if (end == buf || *end != ' ' || !(x >= 0.0f && x <= 1.0f)) return -1;
    const char *ver = end + 1;
    if (strlen(ver) != s->version_len || memcmp(ver, s->version, s->version_len) != 0) return 0;
    *p = x;
    return 1;
}

static int cache_get_consume(RedisStore *s, void *arg) {
    CacheGet *g = arg;
    g->hits = g->stale = g->errors = 0;
    memset(g->hit_out, 0, (size_t)g->n);
    for (int base = 0; base < g->n; base += s->max_batch) {
        int k = g->n - base < s->max_batch ? g->n - base : s->max_batch;
        redisReply *r = redis_conn_read(s->conn);
        if (!r) return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)k) {
            g->errors++; // an error reply (e.g. OOM): these texts are misses
            freeReplyObject(r);
            continue;
        }
        for (int i = 0; i < k; i++) {
            const redisReply *e = r->element[i];
            if (e->type == REDIS_REPLY_NIL) continue;
            float p;
            int rc = e->type == REDIS_REPLY_STRING ? cache_value_parse(s, e->str, e->len, &p) : -1;
            if (rc == 1) {
                g->p_out[base + i] = p;
                g->hit_out[base + i] = 1;
                g->hits++;
            } else if (rc == 0) {
                g->stale++;
            } else {
                g->errors++;
            }
        }
        freeReplyObject(r);
    }
    return 0;
}

static const Exchange cache_get_exchange = {cache_get_append, cache_get_consume};

/* Counts a lookup's outcome (rc: the exchange's) and returns store_cache_get's answer. */
static int cache_get_done(RedisStore *s, CacheGet *g, int rc) {
    if (rc != STORE_OK) {
        memset(g->hit_out, 0, (size_t)g->n);
        ADD(s, cache_skipped, g->n);
        return STORE_UNAVAILABLE;
    }
    ADD(s, cache_hits, g->hits);
    ADD(s, cache_stale, g->stale);
    ADD(s, reply_errors, g->errors);
    return g->hits;
}

/* The lookup for g (texts or keys set, n, p_out, hit_out): store_cache_get's contract. */
static int cache_get_run(RedisStore *s, CacheGet *g) {
    if (g->n <= 0) return 0;
    memset(g->hit_out, 0, (size_t)g->n);
    ADD(s, cache_lookups, g->n);
    return cache_get_done(s, g, exchange_run(s, &cache_get_exchange, g));
}

int store_cache_get(RedisStore *s, const char *const *texts, const size_t *lens, int n, float *p_out,
                    uint8_t *hit_out) {
    CacheGet g = {.texts = texts, .lens = lens, .n = n, .p_out = p_out, .hit_out = hit_out};
    return cache_get_run(s, &g);
}

int store_cache_get_keys(RedisStore *s, const char *const *keys, const size_t *key_lens, int n, float *p_out,
                         uint8_t *hit_out) {
    CacheGet g = {.keys = keys, .key_lens = key_lens, .n = n, .p_out = p_out, .hit_out = hit_out};
    return cache_get_run(s, &g);
}

void store_cache_get_start(RedisStore *s, const char *const *keys, const size_t *key_lens, int n,
                           float *p_out, uint8_t *hit_out) {
    store_flush(s);
    s->get = (CacheGet){.keys = keys, .key_lens = key_lens, .n = n, .p_out = p_out, .hit_out = hit_out};
    s->get_rc = 0;
    if (n <= 0) return;
    memset(hit_out, 0, (size_t)n);
    ADD(s, cache_lookups, n);
    s->pending_sent = exchange_send(s, &cache_get_exchange, &s->get);
    s->pending = PENDING_GET;
}

int store_cache_get_finish(RedisStore *s) {
    if (s->pending == PENDING_GET) store_flush(s);
    return s->get_rc;
}

/* ---- writes: HSET + EXPIRE per prediction, SET PX per cache entry ---------------- */

/* prefix + "pred:" + id into s->predkey (grown when the id is longer than any before);
 * returns the key's length. */
static size_t pred_key(RedisStore *s, const char *id, size_t id_len) {
    size_t plen = strlen(s->prefix), len = plen + 5 + id_len;
    if (len > s->predkey_cap) {
        s->predkey_cap = len + 64;
        s->predkey = reallocCheck(s->predkey, s->predkey_cap);
    }
    memcpy(s->predkey, s->prefix, plen);
    memcpy(s->predkey + plen, "pred:", 5);
    memcpy(s->predkey + plen + 5, id, id_len);
    return len;
}

/* Encodes one command at s->cmdbuf + used (growing it when needed); returns the new
 * used length. */
static size_t cmd_add(RedisStore *s, size_t used, int argc, const char *const *argv, const size_t *argvlen) {
    size_t need = used + resp_command_len(argc, argvlen);
    if (need > s->cmdbuf_cap) {
        s->cmdbuf_cap = need > 2 * s->cmdbuf_cap ? need : 2 * s->cmdbuf_cap;
        s->cmdbuf = reallocCheck(s->cmdbuf, s->cmdbuf_cap);
    }
    return used + resp_command_write(s->cmdbuf + used, argc, argv, argvlen);
}

/* The batch's commands are encoded from argument vectors into one preallocated
 * buffer (worker/resp.h) and handed to hiredis at once, rather than built by hiredis
 * command by command (an allocation and a printf-style format each) or from format
 * strings: this runs on the inference thread for every tweet. The bytes stay in cmdbuf
 * until the next write: a retry sends them again without reading the records, whose
 * texts the caller may have reused once store_put_start returned. Returns -1 for a
 * key that cannot be made, else 0. */
static int put_encode(RedisStore *s, Put *p) {
    char ttl_s[16], ttl_ms[16], at[32] = "";
    size_t ttl_s_len = (size_t)snprintf(ttl_s, sizeof ttl_s, "%d", s->pred_ttl_s);
    size_t ttl_ms_len = (size_t)snprintf(ttl_ms, sizeof ttl_ms, "%d", s->cache_ttl_ms);
    int64_t at_ms = INT64_MIN; /* the records of a batch share their scoring time */
    size_t at_len = 0;
    int ncmd = 0;
    size_t used = 0;
    for (int i = 0; i < p->n; i++) {
        const StoreRecord *r = &p->recs[i];
        /* "<p> <version>", the cache entry's value; its first prob_len bytes are the
         * p_positive field of the prediction */
        char value[32 + VERSION_MAX + 2];
        const char *prob = value;
        size_t prob_len = (size_t)snprintf(value, 32, "%.9g", (double)r->p_positive);
        value[prob_len] = ' ';
        memcpy(value + prob_len + 1, s->version, s->version_len);
        size_t value_len = prob_len + 1 + s->version_len;
        if (r->scored_at_ms != at_ms) {
            at_ms = r->scored_at_ms;
            util_rfc3339(at_ms, at, sizeof at);
            at_len = strlen(at);
        }
        size_t key_len = pred_key(s, r->id, r->id_len);
        const char *label = r->positive ? "positive" : "negative";
        const char *hset[] = {"HSET",          s->predkey, "label",     label, "p_positive", prob,
                              "model_version", s->version, "scored_at", at,    "text",       r->text};
        const size_t hset_len[] = {4,  key_len,  5,  8,
                                   10, prob_len, 13, s->version_len,
                                   9,  at_len,   4,  r->text ? store_text_len(r->text, r->text_len) : 0};
        const char *expire[] = {"EXPIRE", s->predkey, ttl_s};
        const size_t expire_len[] = {6, key_len, ttl_s_len};
        used = cmd_add(s, used, r->text ? 12 : 10, hset, hset_len);
        used = cmd_add(s, used, 3, expire, expire_len);
        ncmd += 2;
        if (r->norm_text) {
            char own[CACHE_KEY_CAP];
            const char *key = r->cache_key;
            int klen = (int)r->cache_key_len;
            if (!key) {
                klen = store_cache_key(s, r->norm_text, r->norm_len, own, sizeof own);
                key = own;
            }
            const char *set[] = {"SET", key, value, "PX", ttl_ms};
            const size_t set_len[] = {3, (size_t)klen, value_len, 2, ttl_ms_len};
            if (klen < 0) return -1;
            used = cmd_add(s, used, 5, set, set_len);
            ncmd++;
        }
    }
    p->used = used;
    p->ncmd = ncmd;
    return 0;
}

static int put_append(RedisStore *s, redisContext *ctx, void *arg) {
    Put *p = arg;
    if (!p->used && put_encode(s, p) < 0) return -1;
    if (p->used && redisAppendFormattedCommand(ctx, s->cmdbuf, p->used) != REDIS_OK) return -1;
    return p->ncmd;
}

// Reads one reply; returns 1 when it is a success, 0 for an error reply, -1 lost.
static int read_ok(RedisStore *s) {
    redisReply *r = redis_conn_read(s->conn);
    if (!r) return -1;
    int ok = r->type != REDIS_REPLY_ERROR;
    freeReplyObject(r);
    return ok;
}

static int put_consume(RedisStore *s, void *arg) {
    Put *p = arg;
    p->written = p->dropped = p->cache_writes = p->errors = 0;
    for (int i = 0; i < p->n; i++) {
        int ok = 1;
        int ncmd = p->recs[i].norm_text ? 3 : 2;
        for (int c = 0; c < ncmd; c++) {
            int rc = read_ok(s);
            if (rc < 0) return -1;
            if (rc == 0) {
                ok = 0;
                p->errors++;
            } else if (c == 2) {
                p->cache_writes++;
            }
        }
        if (ok)
            p->written++;
        else
            p->dropped++;
    }
    return 0;
}

static const Exchange put_exchange = {put_append, put_consume};

/* Counts a write's outcome (rc: the exchange's) and returns store_put's answer. */
static int put_done(RedisStore *s, Put *p, int rc) {
    if (rc != STORE_OK) {
        ADD(s, preds_dropped, p->n);
        return STORE_UNAVAILABLE;
    }
    ADD(s, preds_written, p->written);
    ADD(s, preds_dropped, p->dropped);
    ADD(s, cache_writes, p->cache_writes);
    ADD(s, reply_errors, p->errors);
    return STORE_OK;
}

int store_put_start(RedisStore *s, const StoreRecord *recs, int n) {
    store_flush(s); /* one exchange in flight at a time */
    s->put = (Put){.recs = recs, .n = n};
    s->put_rc = STORE_OK;
    if (n <= 0) return STORE_OK;
    s->pending_sent = exchange_send(s, &put_exchange, &s->put);
    s->pending = PENDING_PUT;
    return s->pending_sent < 0 ? STORE_UNAVAILABLE : STORE_OK;
}

int store_put_finish(RedisStore *s) {
    if (s->pending == PENDING_PUT) store_flush(s);
    return s->put_rc;
}

void store_flush(RedisStore *s) {
    Pending what = s->pending;
    s->pending = PENDING_NONE;
    if (what == PENDING_PUT)
        s->put_rc = put_done(s, &s->put, exchange_finish(s, &put_exchange, &s->put, s->pending_sent));
    else if (what == PENDING_GET)
        s->get_rc =
            cache_get_done(s, &s->get, exchange_finish(s, &cache_get_exchange, &s->get, s->pending_sent));
}

int store_put(RedisStore *s, const StoreRecord *recs, int n) {
    store_put_start(s, recs, n);
    return store_put_finish(s);
}

/* ---- prediction look-up: HMGET per id ---------------------------------------------- */

typedef struct {
    const char *const *ids;
    const size_t *id_lens;
    int n;
    StorePrediction *out;
    uint8_t *found_out;
    int found, errors;
} PredGet;

static int pred_get_append(RedisStore *s, redisContext *ctx, void *arg) {
    const PredGet *g = arg;
    for (int i = 0; i < g->n; i++)
        if (redisAppendCommand(ctx, "HMGET %spred:%b label p_positive model_version scored_at text",
                               s->prefix, g->ids[i], g->id_lens[i]) != REDIS_OK)
            return -1;
    return g->n;
}

static void copy_reply_str(char *dst, size_t cap, const redisReply *e) {
    size_t n = e->len < cap - 1 ? e->len : cap - 1;
    memcpy(dst, e->str, n);
    dst[n] = '\0';
}

// Parses an HMGET reply (label, p_positive, model_version, scored_at, text). The first
// four fields are required, the text is optional. Returns 1 found, 0 absent (all nil),
// -1 malformed.
static int pred_parse(const redisReply *r, StorePrediction *out) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 5) return -1;
    const redisReply *text = r->element[4];
    if (text->type != REDIS_REPLY_NIL && text->type != REDIS_REPLY_STRING) return -1;
    int nil = 0;
    for (int f = 0; f < 4; f++) nil += r->element[f]->type == REDIS_REPLY_NIL;
    if (nil == 4) return text->type == REDIS_REPLY_NIL ? 0 : -1;
    if (nil > 0) return -1;
    for (int f = 0; f < 4; f++)
        if (r->element[f]->type != REDIS_REPLY_STRING) return -1;
    const redisReply *label = r->element[0];
    if (label->len == 8 && !memcmp(label->str, "positive", 8))
        out->positive = 1;
    else if (label->len == 8 && !memcmp(label->str, "negative", 8))
        out->positive = 0;
    else
        return -1;
    char num[32], *end;
    copy_reply_str(num, sizeof num, r->element[1]);
    out->p_positive = strtof(num, &end);
    if (end == num || *end != '\0') return -1;
    copy_reply_str(out->model_version, sizeof out->model_version, r->element[2]);
    copy_reply_str(out->scored_at, sizeof out->scored_at, r->element[3]);
    if (text->type == REDIS_REPLY_STRING) {
        out->text_len = store_text_len(text->str, text->len);
        memcpy(out->text, text->str, out->text_len);
    } else {
        out->text_len = 0;
    }
    out->text[out->text_len] = '\0';
    return 1;
}

static int pred_get_consume(RedisStore *s, void *arg) {
    PredGet *g = arg;
    g->found = g->errors = 0;
    memset(g->found_out, 0, (size_t)g->n);
    for (int i = 0; i < g->n; i++) {
        redisReply *r = redis_conn_read(s->conn);
        if (!r) return -1;
        int rc = pred_parse(r, &g->out[i]);
        freeReplyObject(r);
        if (rc == 1) {
            g->found_out[i] = 1;
            g->found++;
        } else if (rc < 0) {
            g->errors++;
        }
    }
    return 0;
}

int store_pred_get(RedisStore *s, const char *const *ids, const size_t *id_lens, int n, StorePrediction *out,
                   uint8_t *found_out) {
    if (n <= 0) return 0;
    memset(found_out, 0, (size_t)n);
    ADD(s, pred_lookups, n);
    PredGet g = {.ids = ids, .id_lens = id_lens, .n = n, .out = out, .found_out = found_out};
    static const Exchange x = {pred_get_append, pred_get_consume};
    if (exchange_run(s, &x, &g) != STORE_OK) {
        memset(found_out, 0, (size_t)n);
        return STORE_UNAVAILABLE;
    }
    ADD(s, reply_errors, g.errors);
    return g.found;
}

/* ---- state and counters ------------------------------------------------------------ */

RedisConnState store_state(const RedisStore *s) { return redis_conn_state(s->conn); }

void store_stats(const RedisStore *s, StoreStats *out) {
    out->cache_lookups = LOAD(s, cache_lookups);
    out->cache_hits = LOAD(s, cache_hits);
    out->cache_stale = LOAD(s, cache_stale);
    out->cache_skipped = LOAD(s, cache_skipped);
    out->preds_written = LOAD(s, preds_written);
    out->preds_dropped = LOAD(s, preds_dropped);
    out->cache_writes = LOAD(s, cache_writes);
    out->pred_lookups = LOAD(s, pred_lookups);
    out->reply_errors = LOAD(s, reply_errors);
    out->batches_failed = LOAD(s, batches_failed);
    redis_conn_stats(s->conn, &out->conn);
}

RedisConn *store_conn(RedisStore *s) { return s->conn; }
