/* redis_conn.c — a Redis connection with bounded blocking, back-off and counters
 * (see redis_conn.h). */
#include "worker/redis_conn.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "model/util.h"
#include "worker/log.h"

struct RedisConn {
    RedisUrl url;
    char display[400]; /* the URL without its password */
    RedisConnOptions opt;
    redisContext *ctx; /* NULL while down */
    int healthy;       /* a reply has been read on ctx since it connected */
    int failures;      /* consecutive failures: attempts, and connections that never answered */
    double retry_at;   /* monotonic seconds: no attempt before this */
    double down_since; /* monotonic seconds, for the "up again" log line */
    int logged_down;   /* the current outage has been logged */
    Rng rng;           /* jitter of the back-off */
    _Atomic int state;
    _Atomic uint64_t connects, connect_failures, io_errors, unavailable, round_trips, commands;
};

#define COUNT(c, field) atomic_fetch_add_explicit(&(c)->field, 1, memory_order_relaxed)

/* ---- URL parsing --------------------------------------------------------------- */

// Parses exactly n decimal digits (n >= 1) into [0, max]. Returns 0 or -1.
static int parse_decimal(const char *s, size_t n, long max, long *out) {
    if (n == 0 || n > 10) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max) return -1;
    *out = v;
    return 0;
}

// Copies n bytes of s into dst[cap] with a NUL. Returns 0, or -1 when it does not fit.
static int copy_field(char *dst, size_t cap, const char *s, size_t n) {
    if (n >= cap) return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

#define URL_FAIL(...)                                                                                        \
    do {                                                                                                     \
        char reason_[256];                                                                                   \
        snprintf(reason_, sizeof reason_, __VA_ARGS__);                                                      \
        snprintf(err, errlen, "redis URL '%s': %s", url, reason_);                                           \
        return -1;                                                                                           \
    } while (0)

// Parses "[user]:password" (the part before '@').
static int parse_userinfo(const char *url, const char *s, size_t n, RedisUrl *out, char *err, size_t errlen) {
    const char *colon = memchr(s, ':', n);
    if (!colon) URL_FAIL("credentials must be written [user]:password@");
    size_t ulen = (size_t)(colon - s), plen = n - ulen - 1;
    if (copy_field(out->user, sizeof out->user, s, ulen) != 0) URL_FAIL("user name too long");
    if (copy_field(out->password, sizeof out->password, colon + 1, plen) != 0) URL_FAIL("password too long");
    if (plen == 0) URL_FAIL("empty password after ':'");
    return 0;
}

static int parse_tcp(const char *url, const char *rest, RedisUrl *out, char *err, size_t errlen) {
    const char *at = strrchr(rest, '@');
    if (at) {
        if (parse_userinfo(url, rest, (size_t)(at - rest), out, err, errlen) != 0) return -1;
        rest = at + 1;
    }
    const char *p = rest, *host_end;
    if (*p == '[') { // [IPv6]
        host_end = strchr(p, ']');
        if (!host_end) URL_FAIL("missing ']' after the IPv6 address");
        if (copy_field(out->host, sizeof out->host, p + 1, (size_t)(host_end - p - 1)) != 0)
            URL_FAIL("host too long");
        p = host_end + 1;
    } else {
        size_t n = strcspn(p, ":/");
        if (copy_field(out->host, sizeof out->host, p, n) != 0) URL_FAIL("host too long");
        p += n;
    }
    if (out->host[0] == '\0') URL_FAIL("no host (expected redis://host:port/db)");
    if (*p == ':') {
        p++;
        size_t n = strcspn(p, "/");
        long port;
        if (parse_decimal(p, n, 65535, &port) != 0 || port == 0)
            URL_FAIL("port '%.*s' is not a number in 1..65535", (int)n, p);
        out->port = (int)port;
        p += n;
    }
    if (*p == '/') {
        p++;
        size_t n = strlen(p);
        long db;
        if (n > 0 && parse_decimal(p, n, INT_MAX, &db) != 0)
            URL_FAIL("database '%s' is not a non-negative number", p);
        if (n > 0) out->db = (int)db;
        p += n;
    }
    if (*p != '\0') URL_FAIL("unexpected '%s' (expected redis://host:port/db)", p);
    return 0;
}

static int parse_unix(const char *url, const char *rest, RedisUrl *out, char *err, size_t errlen) {
    if (*rest != '/') { // credentials: the last '@' followed by the absolute path
        const char *at = NULL;
        for (const char *q = strchr(rest, '@'); q; q = strchr(q + 1, '@'))
            if (q[1] == '/') at = q;
        if (!at) URL_FAIL("the socket path must be absolute (unix:///path/to/redis.sock)");
        if (parse_userinfo(url, rest, (size_t)(at - rest), out, err, errlen) != 0) return -1;
        rest = at + 1;
    }
    size_t n = strcspn(rest, "?");
    if (n <= 1) URL_FAIL("no socket path (expected unix:///path/to/redis.sock)");
    if (copy_field(out->path, sizeof out->path, rest, n) != 0)
        URL_FAIL("socket path longer than %zu bytes", sizeof out->path - 1);
    const char *q = rest + n;
    if (*q == '?') {
        q++;
        long db;
        if (strncmp(q, "db=", 3) != 0 || parse_decimal(q + 3, strlen(q + 3), INT_MAX, &db) != 0)
            URL_FAIL("unknown query '%s' (only ?db=N)", q);
        out->db = (int)db;
    }
    return 0;
}

int redis_url_parse(const char *url, RedisUrl *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (!url || !*url) {
        snprintf(err, errlen, "empty redis URL (expected redis://host:port/db or unix:///path)");
        return -1;
    }
    if (!strncmp(url, "redis://", 8)) {
        out->kind = REDIS_URL_TCP;
        return parse_tcp(url, url + 8, out, err, errlen);
    }
    if (!strncmp(url, "unix://", 7)) {
        out->kind = REDIS_URL_UNIX;
        return parse_unix(url, url + 7, out, err, errlen);
    }
    if (!strncmp(url, "rediss://", 9)) URL_FAIL("TLS (rediss://) is not supported by this hiredis");
    URL_FAIL("unknown scheme (expected redis://host:port/db or unix:///path/to/redis.sock)");
}

char *redis_url_display(const RedisUrl *u, char *buf, size_t len) {
    const char *cred = u->password[0] ? "***@" : "";
    if (u->kind == REDIS_URL_UNIX)
        snprintf(buf, len, "unix://%s%s?db=%d", cred, u->path, u->db);
    else if (strchr(u->host, ':'))
        snprintf(buf, len, "redis://%s[%s]:%d/%d", cred, u->host, u->port, u->db);
    else
        snprintf(buf, len, "redis://%s%s:%d/%d", cred, u->host, u->port, u->db);
    return buf;
}

/* ---- socket I/O ---------------------------------------------------------------- */

static struct timeval ms_to_timeval(int ms) {
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

// Writes ctx's output buffer completely. SIGPIPE is blocked in this thread for the
// duration, and one raised by the write is consumed (unless one was already pending).
static int flush_ctx(redisContext *ctx) {
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);

    int done = 0, rc = REDIS_OK;
    while (!done && rc == REDIS_OK) rc = redisBufferWrite(ctx, &done);

    if (!was_pending) {
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) {
            const struct timespec zero = {0, 0};
            int saved = errno;
            sigtimedwait(&pipe_set, NULL, &zero);
            errno = saved;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == REDIS_OK ? 0 : -1;
}

// Reads one reply. Returns it, or NULL with ctx->errstr set.
static redisReply *read_ctx(redisContext *ctx) {
    void *r = NULL;
    if (redisGetReply(ctx, &r) != REDIS_OK || r == NULL) {
        if (ctx->err == 0) snprintf(ctx->errstr, sizeof ctx->errstr, "no reply");
        if (r) freeReplyObject(r);
        return NULL;
    }
    return r;
}

// Describes a failed I/O on ctx ("timed out" rather than EAGAIN's wording).
static void describe_io_error(const RedisConn *c, const char *what, char *buf, size_t len) {
    const redisContext *ctx = c->ctx;
    if (ctx && ctx->err == REDIS_ERR_IO && strstr(ctx->errstr, "temporarily unavailable"))
        snprintf(buf, len, "%s: timed out after %d ms", what, c->opt.command_timeout_ms);
    else if (ctx && ctx->err == REDIS_ERR_EOF)
        snprintf(buf, len, "%s: server closed the connection", what);
    else
        snprintf(buf, len, "%s: %s", what, ctx ? ctx->errstr : "not connected");
}

/* ---- connecting and back-off --------------------------------------------------- */

// Opens c->ctx, authenticates and selects the database. Returns 0, or -1 with the
// reason in why (c->ctx left NULL).
static int connect_once(RedisConn *c, char *why, size_t whylen) {
    struct timeval tv = ms_to_timeval(c->opt.connect_timeout_ms);
    redisContext *ctx = c->url.kind == REDIS_URL_UNIX ? redisConnectUnixWithTimeout(c->url.path, tv)
                                                      : redisConnectWithTimeout(c->url.host, c->url.port, tv);
    if (!ctx) {
        snprintf(why, whylen, "connect: out of memory");
        return -1;
    }
    if (ctx->err) {
        snprintf(why, whylen, "connect: %s", ctx->errstr);
        redisFree(ctx);
        return -1;
    }
    if (redisSetTimeout(ctx, ms_to_timeval(c->opt.command_timeout_ms)) != REDIS_OK) {
        snprintf(why, whylen, "set timeout: %s", ctx->errstr);
        redisFree(ctx);
        return -1;
    }
    if (c->url.kind == REDIS_URL_TCP) redisEnableKeepAlive(ctx);

    int n = 0;
    if (c->url.password[0]) {
        if (c->url.user[0])
            redisAppendCommand(ctx, "AUTH %s %s", c->url.user, c->url.password);
        else
            redisAppendCommand(ctx, "AUTH %s", c->url.password);
        n++;
    }
    if (c->url.db != 0) {
        redisAppendCommand(ctx, "SELECT %d", c->url.db);
        n++;
    }
    if (n > 0 && flush_ctx(ctx) != 0) {
        snprintf(why, whylen, "handshake: %s", ctx->errstr);
        redisFree(ctx);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        redisReply *r = read_ctx(ctx);
        const char *cmd = (i == 0 && c->url.password[0]) ? "AUTH" : "SELECT";
        if (!r) {
            snprintf(why, whylen, "%s: %s", cmd, ctx->errstr);
            redisFree(ctx);
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(why, whylen, "%s refused: %.*s", cmd, (int)r->len, r->str);
            freeReplyObject(r);
            redisFree(ctx);
            return -1;
        }
        freeReplyObject(r);
    }
    c->ctx = ctx;
    return 0;
}

// Schedules the next attempt after the failures-th consecutive failure (failures >= 1):
// initial * 2^(failures-1), capped, times a jitter in [0.5, 1].
static void schedule_retry(RedisConn *c, double now) {
    double delay_ms = c->opt.backoff_initial_ms;
    for (int i = 1; i < c->failures && delay_ms < c->opt.backoff_max_ms; i++) delay_ms *= 2;
    if (delay_ms > c->opt.backoff_max_ms) delay_ms = c->opt.backoff_max_ms;
    delay_ms *= 0.5 + 0.5 * rng_uniform(&c->rng);
    c->retry_at = now + delay_ms / 1000.0;
}

// Logs the start of an outage once: a server that accepts connections but never
// answers (hung) does not flap the log with every reconnection.
static void mark_down(RedisConn *c, const char *why, double now) {
    if (!c->logged_down) {
        const char *kv[] = {"redis", c->display, "reason", why, NULL};
        log_event(LOG_WARN, "redis_down", kv, "Redis unavailable (%s): scoring goes on without it", why);
        c->down_since = now;
        c->logged_down = 1;
    }
    atomic_store_explicit(&c->state, REDIS_CONN_DOWN, memory_order_relaxed);
}

// One connection attempt now. Returns 0 when connected.
static int attempt(RedisConn *c) {
    char why[256];
    double now = util_now_s();
    if (connect_once(c, why, sizeof why) == 0) {
        COUNT(c, connects);
        c->healthy = 0; /* failures is reset by the first reply: a server that accepts
                           connections but never answers keeps backing off */
        atomic_store_explicit(&c->state, REDIS_CONN_UP, memory_order_relaxed);
        return 0;
    }
    COUNT(c, connect_failures);
    c->failures++;
    schedule_retry(c, now);
    if (c->logged_down) {
        const char *kv[] = {"redis", c->display, "reason", why, NULL};
        log_event(LOG_DEBUG, "redis_retry_failed", kv, "Redis still unavailable (%s)", why);
    }
    mark_down(c, why, now);
    return -1;
}

/* ---- public API ---------------------------------------------------------------- */

void redis_conn_options_default(RedisConnOptions *o) {
    o->connect_timeout_ms = 200;
    o->command_timeout_ms = 200;
    o->backoff_initial_ms = 100;
    o->backoff_max_ms = 5000;
}

RedisConn *redis_conn_new(const char *url, const RedisConnOptions *opt, char *err, size_t errlen) {
    RedisConnOptions o;
    if (opt)
        o = *opt;
    else
        redis_conn_options_default(&o);
    if (o.connect_timeout_ms <= 0 || o.command_timeout_ms <= 0 || o.backoff_initial_ms <= 0 ||
        o.backoff_max_ms < o.backoff_initial_ms) {
        snprintf(err, errlen, "redis options: timeouts and back-off must be > 0 and max >= initial");
        return NULL;
    }
    RedisUrl u;
    if (redis_url_parse(url, &u, err, errlen) != 0) return NULL;

    RedisConn *c = callocCheck(1, sizeof *c);
    c->url = u;
    c->opt = o;
    redis_url_display(&u, c->display, sizeof c->display);
    rng_seed(&c->rng, (uint64_t)(uintptr_t)c ^ (uint64_t)util_wall_ms());
    atomic_init(&c->state, REDIS_CONN_DOWN);
    attempt(c);
    return c;
}

void redis_conn_free(RedisConn *c) {
    if (!c) return;
    if (c->ctx) redisFree(c->ctx);
    free(c);
}

redisContext *redis_conn_acquire(RedisConn *c) {
    if (c->ctx) return c->ctx;
    if (util_now_s() < c->retry_at) {
        COUNT(c, unavailable);
        return NULL;
    }
    return attempt(c) == 0 ? c->ctx : NULL;
}

int redis_conn_send(RedisConn *c, int ncommands) {
    if (!c->ctx) return -1;
    COUNT(c, round_trips);
    atomic_fetch_add_explicit(&c->commands, (uint64_t)ncommands, memory_order_relaxed);
    if (flush_ctx(c->ctx) != 0) {
        char why[256];
        describe_io_error(c, "write", why, sizeof why);
        redis_conn_fail(c, why);
        return -1;
    }
    return 0;
}

redisReply *redis_conn_read(RedisConn *c) {
    if (!c->ctx) return NULL;
    redisReply *r = read_ctx(c->ctx);
    if (!r) {
        char why[256];
        describe_io_error(c, "read", why, sizeof why);
        redis_conn_fail(c, why);
        return NULL;
    }
    if (!c->healthy) {
        c->healthy = 1;
        c->failures = 0;
        if (c->logged_down) { // the end of an outage: the server answers again
            char secs[32];
            snprintf(secs, sizeof secs, "%.1f", util_now_s() - c->down_since);
            const char *kv[] = {"redis", c->display, "down_s", secs, NULL};
            log_event(LOG_INFO, "redis_up", kv, "Redis answering again after %s s", secs);
            c->logged_down = 0;
        }
    }
    return r;
}

void redis_conn_fail(RedisConn *c, const char *why) {
    double now = util_now_s();
    if (c->ctx) {
        redisFree(c->ctx);
        c->ctx = NULL;
        COUNT(c, io_errors);
        if (c->healthy) {
            // A working connection broke (server restarted, idle client closed): retry
            // at once; only repeated failures back off.
            c->failures = 0;
            c->retry_at = now;
        } else {
            c->failures++;
            schedule_retry(c, now);
        }
    }
    mark_down(c, why, now);
}

RedisConnState redis_conn_state(const RedisConn *c) {
    return (RedisConnState)atomic_load_explicit(&c->state, memory_order_relaxed);
}

void redis_conn_stats(const RedisConn *c, RedisConnStats *out) {
    out->connects = atomic_load_explicit(&c->connects, memory_order_relaxed);
    out->connect_failures = atomic_load_explicit(&c->connect_failures, memory_order_relaxed);
    out->io_errors = atomic_load_explicit(&c->io_errors, memory_order_relaxed);
    out->unavailable = atomic_load_explicit(&c->unavailable, memory_order_relaxed);
    out->round_trips = atomic_load_explicit(&c->round_trips, memory_order_relaxed);
    out->commands = atomic_load_explicit(&c->commands, memory_order_relaxed);
}

const char *redis_conn_url(const RedisConn *c) { return c->display; }

int redis_conn_retry_in_ms(const RedisConn *c) {
    if (c->ctx) return 0;
    double left = c->retry_at - util_now_s();
    return left > 0 ? (int)(left * 1000.0 + 0.5) : 0;
}
