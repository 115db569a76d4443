/* http.h — the worker's HTTP server (libmicrohttpd): health, readiness, Prometheus
 * metrics, model information, on-demand prediction and human feedback.
 *
 *   GET  /health      200 {"status":"ok"} while the process serves
 *   GET  /ready       200 when a model is loaded and the partition assignment is known,
 *                     else 503; {"ready":b,"assigned_partitions":N|null,"redis":"up|down",
 *                     "model_version":"..."|null}
 *   GET  /metrics     the registry in the Prometheus text format 0.0.4
 *   GET  /model/info  the model file's JSON header (503 without a model)
 *   POST /predict     {"text":"..."} or {"texts":["...",...]} ->
 *                     {"predictions":[{"text":"...","label":"negative|positive","p_positive":0.93},...]}
 *                     (p_positive rounded by classifier_round_p, like every other output)
 *   POST /feedback    {"id":"...","label":"negative|positive"} -> 202 {"accepted":true,"id":"..."}
 *
 * Every response is JSON (Content-Type application/json, errors {"error":"..."}) except
 * /metrics. Status codes: 400 bad JSON or fields, 404 unknown path, 405 wrong method
 * (with Allow), 413 body over max_body or more than max_texts texts, 429 over the rate
 * limit (with Retry-After), 503 when the worker cannot serve the request (no model, no
 * feedback producer, a hook failure). Requests that libmicrohttpd itself rejects
 * before they reach the handler (a malformed request line, headers too large) get
 * its own short HTML error.
 *
 * The server knows nothing of Kafka, Redis or the model: the worker plugs them in
 * through HttpHooks. Hooks are called from the server's connection threads, possibly
 * concurrently, and must be thread-safe. Per request, the server allocates at most the
 * request's body buffer (<= max_body) and one response buffer of bounded size, beside
 * what libmicrohttpd allocates. */
#ifndef BUZZRADAR_HTTP_H
#define BUZZRADAR_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "worker/prom.h"

#define HTTP_DEFAULT_LISTEN  "127.0.0.1:8080"
#define HTTP_MAX_TEXTS_LIMIT 256 /* hard ceiling of HttpConfig.max_texts */

typedef struct {
    const char *listen;       /* "ADDR:PORT" or "[IPV6]:PORT"; port 0 picks a free port */
    size_t max_body;          /* request bodies above this get 413 (default 64 KiB) */
    int max_texts;            /* texts per /predict request (default 64, <= HTTP_MAX_TEXTS_LIMIT) */
    int rate_limit;           /* requests per minute per client IP on /predict and /feedback
                                 (default 100; 0 disables limiting) */
    int rate_slots;           /* addresses the in-process fallback limiter tracks (default 4096) */
    unsigned max_connections; /* concurrent connections (default 64) */
    unsigned timeout_s;       /* idle connection timeout in seconds (default 10) */
} HttpConfig;

/* Fills c with the defaults above. */
void http_config_default(HttpConfig *c);

/* What GET /ready reports, filled by HttpHooks.status. */
typedef struct {
    int model_loaded;        /* a model is loaded and scoring */
    int assigned_partitions; /* input partitions assigned now; -1 while not known yet */
    int redis_up;            /* the last Redis round trip worked (reported, not required) */
    char model_version[128]; /* "" when unknown */
} HttpStatus;

typedef enum {
    HTTP_RATE_ALLOW,   /* within the limit */
    HTTP_RATE_LIMITED, /* over the limit: 429 with *retry_after_s */
    HTTP_RATE_UNKNOWN, /* the shared limiter cannot tell (Redis down): use the in-process one */
} HttpRateVerdict;

/* The worker's side. Any hook may be NULL; ctx is passed to each. */
typedef struct {
    void *ctx;

    /* Fills *out (pre-zeroed, assigned_partitions preset to -1). NULL: never ready. */
    void (*status)(void *ctx, HttpStatus *out);

    /* The loaded model's JSON header (classifier_header_json), valid while the server
     * runs; NULL when no model is loaded (503). */
    const char *(*model_info)(void *ctx);

    /* Scores n (1..max_texts) texts: texts[i] is lens[i] bytes of valid UTF-8 (also
     * NUL-terminated); writes P(positive) in [0, 1] to p_positive[i]. Returns 0, or -1
     * with a reason in err (the client gets 503). The label is metrics_is_positive(p). */
    int (*predict)(void *ctx, const char *const *texts, const size_t *lens, int n, float *p_positive,
                   char *err, size_t errlen);

    /* Hands one validated correction on (to the feedback topic): id is id_len bytes
     * of UTF-8 without control characters, positive is 1 for "positive". Returns 0
     * (the client gets 202), or -1 with a reason in err (503). */
    int (*feedback)(void *ctx, const char *id, size_t id_len, int positive, char *err, size_t errlen);

    /* Counts one request of client address ip at now_ms against limit requests per
     * minute (bz:rate:{ip}:{minute}); sets *retry_after_s when it returns LIMITED.
     * NULL or HTTP_RATE_UNKNOWN: the in-process limiter decides. */
    HttpRateVerdict (*rate_check)(void *ctx, const char *ip, int64_t now_ms, int limit, int *retry_after_s);

    /* Wall clock in ms for rate limiting; NULL: util_wall_ms. Tests inject time here. */
    int64_t (*now_ms)(void *ctx);
} HttpHooks;

typedef struct HttpServer HttpServer;

/* Parses "ADDR:PORT" ("127.0.0.1:8080", "0.0.0.0:0", "[::1]:8080", "localhost:9000")
 * into a socket address. Returns 0, or -1 with a reason in err. */
int http_parse_listen(const char *spec, struct sockaddr_storage *out, socklen_t *outlen, char *err,
                      size_t errlen);

/* Starts serving on cfg->listen in background threads. metrics may be NULL (GET
 * /metrics then answers 503); when given, the server registers
 * buzzradar_http_requests_total{code} and buzzradar_http_rate_limit_fallbacks_total
 * (requests rate_check answered HTTP_RATE_UNKNOWN for) in it (so one registry hosts
 * one server) and
 * must outlive the server. hooks is copied. Returns the server, or NULL with a reason
 * in err (bad address, port in use, registration clash; after a failed bind the
 * counter family stays registered, at zero). */
HttpServer *http_server_start(const HttpConfig *cfg, const HttpHooks *hooks, PromRegistry *metrics, char *err,
                              size_t errlen);

/* The port actually bound (the chosen one when cfg->listen asked for port 0). */
int http_server_port(const HttpServer *s);

/* Stops accepting, waits for the connection threads to finish, frees everything.
 * NULL is a no-op. */
void http_server_stop(HttpServer *s);

#endif
