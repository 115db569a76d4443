/* ratelimit_redis.h — the shared rate limiter of the HTTP API: one fixed one-minute
 * window per client address counted in Redis (DESIGN.md "Redis keys"), so that every
 * worker replica draws on the same budget. It is the worker's HttpHooks.rate_check;
 * when it cannot answer, the HTTP server's in-process limiter (http_ratelimit.h)
 * decides instead.
 *
 * Key: <prefix>rate:<ip>:<minute>, minute = floor(now_ms / 60000) of the caller's
 * clock (so tests inject time). One request is one round trip, a Lua script that
 * INCRs the key and, when it has just been created, PEXPIREs it (ttl_ms, a little
 * over a minute): the count and its expiry are atomic, and a window's key outlives its
 * minute by at most ttl_ms - 60 s whatever the traffic.
 *
 * Connections: libmicrohttpd runs one short-lived thread per HTTP connection, so a
 * Redis connection per thread would mean a Redis connect per client. The limiter
 * keeps a small fixed pool instead (`connections`, default 4), each a RedisConn
 * (redis_conn.h: bounded timeouts, back-off) behind its own mutex. A check takes the
 * first free connection (trylock, starting at a rotating index); when all are busy it
 * waits at most lock_wait_ms for one, then gives up with HTTP_RATE_UNKNOWN. So a check
 * never blocks longer than lock_wait_ms + one connect or command timeout, and while
 * Redis is down (in back-off) it answers UNKNOWN at once.
 *
 * Thread-safe: any number of threads may call ratelimit_redis_check concurrently. */
#ifndef BUZZRADAR_RATELIMIT_REDIS_H
#define BUZZRADAR_RATELIMIT_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "worker/http.h"
#include "worker/redis_conn.h"

#define RATELIMIT_REDIS_MAX_CONNECTIONS 16

typedef struct {
    const char *url;        /* redis://host:port/db or unix:///path (required) */
    const char *key_prefix; /* default "bz:" (NULL); at most 64 bytes */
    int connections;        /* pool size, 1..RATELIMIT_REDIS_MAX_CONNECTIONS (default 4) */
    int ttl_ms;             /* expiry of a window's key from its first request (default 65000, >= 60000) */
    int lock_wait_ms;       /* longest wait for a free pooled connection (default 50) */
    RedisConnOptions conn;  /* default: 100 ms connect and command timeouts, back-off 100 ms .. 5 s */
} RateLimitRedisOptions;

/* Fills o with the defaults above (url NULL). */
void ratelimit_redis_options_default(RateLimitRedisOptions *o);

typedef struct {
    uint64_t checks;       /* calls of ratelimit_redis_check */
    uint64_t allowed;      /* ... answered HTTP_RATE_ALLOW */
    uint64_t limited;      /* ... answered HTTP_RATE_LIMITED */
    uint64_t unavailable;  /* ... answered HTTP_RATE_UNKNOWN: Redis down or the round trip failed */
    uint64_t busy;         /* ... answered HTTP_RATE_UNKNOWN: every connection stayed busy */
    uint64_t reply_errors; /* ... answered HTTP_RATE_UNKNOWN: an error or unexpected reply */
} RateLimitRedisStats;

typedef struct RateLimitRedis RateLimitRedis;

/* Parses the URL and opens the pool (a server that cannot be reached is not an error:
 * the connections start down and retry with back-off). Returns NULL with a one-line
 * reason in err for a bad URL, prefix or option. */
RateLimitRedis *ratelimit_redis_new(const RateLimitRedisOptions *o, char *err, size_t errlen);
void ratelimit_redis_free(RateLimitRedis *l); /* NULL is fine */

/* Counts one request of address ip (at most HTTP_RATELIMIT_IP_MAX-1 bytes are used)
 * at now_ms against `limit` requests per minute. Returns HTTP_RATE_ALLOW while the
 * shared count of this minute is <= limit, HTTP_RATE_LIMITED beyond (with
 * *retry_after_s = the whole seconds to the end of the minute, 1..60), or
 * HTTP_RATE_UNKNOWN when Redis could not tell (unreachable, timed out, error reply,
 * no free connection in time): the caller must then decide by itself. A limit <= 0
 * allows everything without a round trip. The HttpHooks.rate_check signature, with
 * the limiter as ctx. */
HttpRateVerdict ratelimit_redis_check(void *limiter, const char *ip, int64_t now_ms, int limit,
                                      int *retry_after_s);

/* The key of ip's window at now_ms into buf ("bz:rate:127.0.0.1:29400840"). Returns
 * its length, or -1 when it does not fit. */
int ratelimit_redis_key(const RateLimitRedis *l, const char *ip, int64_t now_ms, char *buf, size_t len);

/* Counters since creation (any thread). */
void ratelimit_redis_stats(const RateLimitRedis *l, RateLimitRedisStats *out);

#endif
