/* http_ratelimit.h — the in-process rate limiter of the HTTP API: a fixed one-minute
 * window per client IP in a bounded table, used when the worker gives no shared
 * (Redis) limiter or that limiter cannot answer.
 *
 * The table has a fixed number of slots allocated at creation; a check allocates
 * nothing and takes one mutex. An IP is looked up in a short probe sequence; when
 * every probed slot belongs to another IP active in the current minute, the slot with
 * the fewest requests is taken over (so a flood of distinct addresses can make the
 * limiter forget a light user, never block a new one). Time is given by the caller. */
#ifndef BUZZRADAR_HTTP_RATELIMIT_H
#define BUZZRADAR_HTTP_RATELIMIT_H

#include <stdint.h>

#define HTTP_RATELIMIT_WINDOW_MS 60000
#define HTTP_RATELIMIT_IP_MAX    46 /* INET6_ADDRSTRLEN: an address string and its NUL */

typedef struct HttpRateLimiter HttpRateLimiter;

/* A limiter with room for at least `slots` addresses (rounded up to a power of two,
 * minimum 16). Exits on out-of-memory (start-up only). */
HttpRateLimiter *http_ratelimit_new(int slots);
void http_ratelimit_free(HttpRateLimiter *l);

/* Counts one request from ip (truncated to HTTP_RATELIMIT_IP_MAX-1 bytes) at wall
 * time now_ms in the window [floor(now/60 s), +60 s). Returns 1 when the request is
 * within `limit` requests of this window, else 0 with *retry_after_s set to the
 * whole seconds until the window ends (>= 1). Thread-safe. */
int http_ratelimit_check(HttpRateLimiter *l, const char *ip, int64_t now_ms, int limit, int *retry_after_s);

/* Seconds from now_ms to the end of its one-minute window, rounded up (1..60). */
int http_ratelimit_retry_after(int64_t now_ms);

#endif
