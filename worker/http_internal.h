/* http_internal.h — what the HTTP server's files share (not for users of http.h):
 * the server object, the response helpers of http.c and the route handlers of
 * http_routes.c. */
#ifndef BUZZRADAR_HTTP_INTERNAL_H
#define BUZZRADAR_HTTP_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include <microhttpd.h>

#include "worker/http.h"
#include "worker/http_ratelimit.h"

struct HttpServer {
    struct MHD_Daemon *daemon;
    HttpConfig cfg; /* cfg.listen is not kept */
    HttpHooks hooks;
    PromRegistry *metrics;  /* may be NULL */
    PromCounter *requests;  /* buzzradar_http_requests_total{code}, or NULL */
    PromCounter *fallbacks; /* buzzradar_http_rate_limit_fallbacks_total, or NULL */
    HttpRateLimiter *limit; /* the in-process fallback */
    int port;
};

/* A bounded text builder over a caller buffer: writes what fits, remembers overflow. */
typedef struct {
    char *p;
    size_t cap;
    size_t len;
    int overflow;
} HttpBuf;

void http_buf_put(HttpBuf *b, const char *s, size_t n);
void http_buf_str(HttpBuf *b, const char *s);
void http_buf_fmt(HttpBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s[0..n) as a quoted, escaped JSON string. */
void http_buf_json(HttpBuf *b, const char *s, size_t n);

/* Queues a response: body[0..len) with content type ctype. With own != 0 the body was
 * malloc'd and is handed to libmicrohttpd (freed by it, or here on failure); else it
 * is copied. header/value: one extra header or NULL. Counts the status code. */
enum MHD_Result http_reply(HttpServer *s, struct MHD_Connection *c, unsigned status, const char *ctype,
                           char *body, size_t len, int own, const char *header, const char *value);

/* A JSON body (copied). */
enum MHD_Result http_reply_json(HttpServer *s, struct MHD_Connection *c, unsigned status, const char *json,
                                size_t len);

/* {"error":"<formatted message>"} with the given status. */
enum MHD_Result http_reply_error(HttpServer *s, struct MHD_Connection *c, unsigned status, const char *fmt,
                                 ...) __attribute__((format(printf, 4, 5)));

/* The route handlers (http_routes.c). The POST ones get the complete body, which
 * they may modify (it is parsed in place). */
enum MHD_Result http_route_health(HttpServer *s, struct MHD_Connection *c);
enum MHD_Result http_route_ready(HttpServer *s, struct MHD_Connection *c);
enum MHD_Result http_route_metrics(HttpServer *s, struct MHD_Connection *c);
enum MHD_Result http_route_model_info(HttpServer *s, struct MHD_Connection *c);
enum MHD_Result http_route_predict(HttpServer *s, struct MHD_Connection *c, char *body, size_t len);
enum MHD_Result http_route_feedback(HttpServer *s, struct MHD_Connection *c, char *body, size_t len);

#endif
