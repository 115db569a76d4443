/* ratelimit_redis.c — the Redis-backed per-address minute limiter of
 * ratelimit_redis.h: a pool of mutex-guarded RedisConns and one Lua round trip per
 * request. */
#include "worker/ratelimit_redis.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/util.h"
#include "worker/http_ratelimit.h"

#define PREFIX_MAX 64
#define KEY_MAX    (PREFIX_MAX + 5 + HTTP_RATELIMIT_IP_MAX + 24)

/* INCR the window's counter; a new key gets its expiry in the same atomic step.
 * KEYS[1] the window's key, ARGV[1] its TTL in ms. Returns the count. */
static const char rl_script[] = "local n = redis.call('INCR', KEYS[1]) "
                                "if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end "
                                "return n";

typedef struct {
    pthread_mutex_t mu;
    RedisConn *conn; /* under mu */
} RlConn;

struct RateLimitRedis {
    char prefix[PREFIX_MAX + 1];
    int ttl_ms, lock_wait_ms, nconn;
    RlConn conn[RATELIMIT_REDIS_MAX_CONNECTIONS];
    atomic_uint next; /* where the next check starts looking for a free connection */
    _Atomic uint64_t checks, allowed, limited, unavailable, busy, reply_errors;
};

#define COUNT(l, field) atomic_fetch_add_explicit(&(l)->field, 1, memory_order_relaxed)

void ratelimit_redis_options_default(RateLimitRedisOptions *o) {
    memset(o, 0, sizeof *o);
    o->key_prefix = "bz:";
    o->connections = 4;
    o->ttl_ms = 65000;
    o->lock_wait_ms = 50;
    redis_conn_options_default(&o->conn);
    o->conn.connect_timeout_ms = 100;
    o->conn.command_timeout_ms = 100;
}

RateLimitRedis *ratelimit_redis_new(const RateLimitRedisOptions *o, char *err, size_t errlen) {
    const char *prefix = o->key_prefix ? o->key_prefix : "bz:";
    if (!o->url) {
        snprintf(err, errlen, "rate limiter: no Redis URL");
        return NULL;
    }
    if (strlen(prefix) > PREFIX_MAX) {
        snprintf(err, errlen, "rate limiter: redis key prefix longer than %d bytes", PREFIX_MAX);
        return NULL;
    }
    if (o->connections < 1 || o->connections > RATELIMIT_REDIS_MAX_CONNECTIONS) {
        snprintf(err, errlen, "rate limiter: connections must be 1..%d", RATELIMIT_REDIS_MAX_CONNECTIONS);
        return NULL;
    }
    if (o->ttl_ms < HTTP_RATELIMIT_WINDOW_MS || o->lock_wait_ms < 0) {
        snprintf(err, errlen, "rate limiter: ttl_ms must be >= %d and lock_wait_ms >= 0",
                 HTTP_RATELIMIT_WINDOW_MS);
        return NULL;
    }
    RateLimitRedis *l = callocCheck(1, sizeof *l);
    snprintf(l->prefix, sizeof l->prefix, "%s", prefix);
    l->ttl_ms = o->ttl_ms;
    l->lock_wait_ms = o->lock_wait_ms;
    for (int i = 0; i < o->connections; i++) {
        l->conn[i].conn = redis_conn_new(o->url, &o->conn, err, errlen);
        if (!l->conn[i].conn) {
            ratelimit_redis_free(l);
            return NULL;
        }
        pthread_mutex_init(&l->conn[i].mu, NULL);
        l->nconn = i + 1;
    }
    return l;
}

void ratelimit_redis_free(RateLimitRedis *l) {
    if (!l) return;
    for (int i = 0; i < l->nconn; i++) {
        redis_conn_free(l->conn[i].conn);
        pthread_mutex_destroy(&l->conn[i].mu);
    }
    free(l);
}

static int64_t rl_minute(int64_t now_ms) {
    return now_ms >= 0 ? now_ms / HTTP_RATELIMIT_WINDOW_MS : -1 - (-1 - now_ms) / HTTP_RATELIMIT_WINDOW_MS;
}

int ratelimit_redis_key(const RateLimitRedis *l, const char *ip, int64_t now_ms, char *buf, size_t len) {
    int n = snprintf(buf, len, "%srate:%.*s:%lld", l->prefix, HTTP_RATELIMIT_IP_MAX - 1, ip,
                     (long long)rl_minute(now_ms));
    return n < 0 || (size_t)n >= len ? -1 : n;
}

/* A pooled connection, locked: the first free one from a rotating start, else the
 * start one within lock_wait_ms. NULL when none could be had in time. */
static RlConn *rl_take(RateLimitRedis *l) {
    unsigned start = atomic_fetch_add_explicit(&l->next, 1, memory_order_relaxed) % (unsigned)l->nconn;
    for (int i = 0; i < l->nconn; i++) {
        RlConn *c = &l->conn[(start + (unsigned)i) % (unsigned)l->nconn];
        if (pthread_mutex_trylock(&c->mu) == 0) return c;
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    int64_t ns = until.tv_nsec + (int64_t)l->lock_wait_ms * 1000000;
    until.tv_sec += (time_t)(ns / 1000000000);
    until.tv_nsec = (long)(ns % 1000000000);
    RlConn *c = &l->conn[start];
    return pthread_mutex_clocklock(&c->mu, CLOCK_MONOTONIC, &until) == 0 ? c : NULL;
}

HttpRateVerdict ratelimit_redis_check(void *limiter, const char *ip, int64_t now_ms, int limit,
                                      int *retry_after_s) {
    RateLimitRedis *l = limiter;
    COUNT(l, checks);
    if (limit <= 0) {
        COUNT(l, allowed);
        return HTTP_RATE_ALLOW;
    }
    char key[KEY_MAX], ttl[16];
    int klen = ratelimit_redis_key(l, ip, now_ms, key, sizeof key);
    snprintf(ttl, sizeof ttl, "%d", l->ttl_ms);
    RlConn *c = klen > 0 ? rl_take(l) : NULL;
    if (!c) {
        COUNT(l, busy);
        return HTTP_RATE_UNKNOWN;
    }
    long long count = -1;
    int reply_error = 0;
    redisContext *ctx = redis_conn_acquire(c->conn);
    if (ctx && redisAppendCommand(ctx, "EVAL %s 1 %b %s", rl_script, key, (size_t)klen, ttl) == REDIS_OK &&
        redis_conn_send(c->conn, 1) == 0) {
        redisReply *r = redis_conn_read(c->conn);
        if (r && r->type == REDIS_REPLY_INTEGER && r->integer >= 0)
            count = r->integer;
        else if (r)
            reply_error = 1; /* an error reply (WRONGTYPE, OOM, scripting off): the link is fine */
        freeReplyObject(r);
    }
    pthread_mutex_unlock(&c->mu);
    if (count < 0) {
        if (reply_error)
            COUNT(l, reply_errors);
        else
            COUNT(l, unavailable);
        return HTTP_RATE_UNKNOWN;
    }
    if (count <= limit) {
        COUNT(l, allowed);
        return HTTP_RATE_ALLOW;
    }
    COUNT(l, limited);
    if (retry_after_s) *retry_after_s = http_ratelimit_retry_after(now_ms);
    return HTTP_RATE_LIMITED;
}

void ratelimit_redis_stats(const RateLimitRedis *l, RateLimitRedisStats *out) {
    out->checks = atomic_load(&l->checks);
    out->allowed = atomic_load(&l->allowed);
    out->limited = atomic_load(&l->limited);
    out->unavailable = atomic_load(&l->unavailable);
    out->busy = atomic_load(&l->busy);
    out->reply_errors = atomic_load(&l->reply_errors);
}
