/* redis_conn.h — one Redis connection that never blocks its caller for long: parsed
 * from a URL, short connect and command timeouts, reconnection with exponential
 * back-off, an up/down state and counters for health checks and metrics.
 *
 * The worker's rule is that Redis trouble never blocks scoring. A RedisConn turns
 * "Redis is down" into a fast answer: while down, redis_conn_acquire() returns NULL
 * at once until the next retry is due; a retry costs at most one connect timeout
 * (plus one command timeout for AUTH/SELECT). Failures back off exponentially (with
 * jitter, so that N workers do not reconnect in step) from backoff_initial_ms to
 * backoff_max_ms; the first failure of a connection that was working retries at once
 * (Redis restarted, or closed an idle client), so a single lost connection costs
 * nothing.
 *
 * Use (blocking hiredis context, pipelined):
 *
 *     redisContext *ctx = redis_conn_acquire(c);        // NULL: unavailable now
 *     redisAppendCommand(ctx, ...); ...                 // n commands
 *     if (redis_conn_send(c, n) != 0) -> failed         // one write burst
 *     for n replies: r = redis_conn_read(c); NULL -> failed; freeReplyObject(r);
 *
 * After a failure the connection is already closed and the next acquire() decides
 * when to retry: never call redis_conn_fail() for a failure send()/read() reported.
 * Call it yourself only when the replies make no sense (a protocol surprise), so that
 * the connection is not reused in an unknown state.
 *
 * Threads: a RedisConn belongs to one thread at a time (one per inference thread).
 * redis_conn_state() and redis_conn_stats() may be called from any thread (atomics).
 * SIGPIPE: writes block SIGPIPE in the calling thread and discard one they raise, so
 * a server that went away cannot kill the process even when SIGPIPE is not ignored. */
#ifndef BUZZRADAR_REDIS_CONN_H
#define BUZZRADAR_REDIS_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

typedef enum { REDIS_URL_TCP = 0, REDIS_URL_UNIX = 1 } RedisUrlKind;

/* A parsed Redis URL. Accepted forms:
 *   redis://[[user]:password@]host[:port][/db]     host: name, IPv4 or [IPv6]; port 6379
 *   unix://[[user]:password@]/abs/path.sock[?db=N]
 * db defaults to 0. Passwords are taken literally (no percent-decoding). */
typedef struct {
    RedisUrlKind kind;
    char host[256];     /* TCP only */
    int port;           /* TCP only: 1..65535 */
    char path[108];     /* unix only: absolute socket path (the sun_path limit) */
    int db;             /* 0..INT_MAX; the server checks its own limit at SELECT */
    char user[128];     /* empty: AUTH password alone (or no AUTH) */
    char password[256]; /* empty: no AUTH */
} RedisUrl;

/* Parses url into out. Returns 0, or -1 with a one-line reason naming the URL in err
 * (unknown scheme, empty host, bad port or db, relative or over-long socket path). */
int redis_url_parse(const char *url, RedisUrl *out, char *err, size_t errlen);

/* Writes the URL without its password (for logs): "redis://host:6379/0". Returns buf. */
char *redis_url_display(const RedisUrl *u, char *buf, size_t len);

typedef struct {
    int connect_timeout_ms; /* one connection attempt (default 200) */
    int command_timeout_ms; /* each socket read or write (default 200) */
    int backoff_initial_ms; /* first wait after a failed attempt (default 100) */
    int backoff_max_ms;     /* cap of the doubling wait (default 5000) */
} RedisConnOptions;

/* The defaults above. */
void redis_conn_options_default(RedisConnOptions *o);

typedef enum { REDIS_CONN_DOWN = 0, REDIS_CONN_UP = 1 } RedisConnState;

/* Counters since creation (monotonic). */
typedef struct {
    uint64_t connects;         /* connections established */
    uint64_t connect_failures; /* attempts that failed (refused, timeout, AUTH/SELECT refused) */
    uint64_t io_errors;        /* established connections lost (I/O error, timeout, bad reply) */
    uint64_t unavailable;      /* acquire() calls answered NULL at once, waiting for a retry */
    uint64_t round_trips;      /* pipelines sent by redis_conn_send() */
    uint64_t commands;         /* commands in those pipelines */
} RedisConnStats;

typedef struct RedisConn RedisConn;

/* Parses url and tries to connect once (bounded by the timeouts). opt NULL means the
 * defaults. A server that cannot be reached is not an error: the connection starts
 * DOWN and retries later. Returns NULL only for a bad URL or bad options, with a
 * one-line reason in err. */
RedisConn *redis_conn_new(const char *url, const RedisConnOptions *opt, char *err, size_t errlen);
void redis_conn_free(RedisConn *c); /* NULL is fine */

/* A connected context ready for commands, or NULL when Redis is unavailable: at once
 * while the back-off runs, else after one failed attempt. The context belongs to the
 * RedisConn: never free it, and do not keep it across a failure. */
redisContext *redis_conn_acquire(RedisConn *c);

/* Sends the ncommands commands appended to the acquired context since the last
 * exchange, in one write burst; counts one round trip. Returns 0, or -1 when the
 * write failed (the connection is then closed and DOWN). */
int redis_conn_send(RedisConn *c, int ncommands);

/* The next reply of the pipeline (free it with freeReplyObject; an error reply such as
 * WRONGTYPE is a reply, not a failure), or NULL when the read failed or timed out (the
 * connection is then closed and DOWN: the rest of the pipeline is lost). */
redisReply *redis_conn_read(RedisConn *c);

/* Closes the connection and marks it DOWN with the reason (logged once per up->down
 * transition). Safe to call when already down. */
void redis_conn_fail(RedisConn *c, const char *why);

RedisConnState redis_conn_state(const RedisConn *c);
void redis_conn_stats(const RedisConn *c, RedisConnStats *out);

/* Milliseconds until the next connection attempt while DOWN (0: connected, or the
 * next acquire() tries at once). For the owning thread only (health details, tests). */
int redis_conn_retry_in_ms(const RedisConn *c);

/* The URL without its password (stable for the life of c). */
const char *redis_conn_url(const RedisConn *c);

#endif
