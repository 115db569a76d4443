/* http.c — the HTTP server of http.h: the libmicrohttpd daemon, routing, request
 * bodies, rate limiting and the response helpers the routes share. The routes
 * themselves are in http_routes.c. */
#include "worker/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/util.h"
#include "worker/http_internal.h"
#include "worker/http_json.h"
#include "worker/log.h"

void http_config_default(HttpConfig *c) {
    c->listen = HTTP_DEFAULT_LISTEN;
    c->max_body = 64 * 1024;
    c->max_texts = 64;
    c->rate_limit = 100;
    c->rate_slots = 4096;
    c->max_connections = 64;
    c->timeout_s = 10;
}

/* ---- routing -------------------------------------------------------------------- */

typedef enum {
    ROUTE_HEALTH,
    ROUTE_READY,
    ROUTE_METRICS,
    ROUTE_MODEL_INFO,
    ROUTE_PREDICT,
    ROUTE_FEEDBACK
} RouteId;

static const struct {
    const char *path;
    RouteId id;
    int post; /* 1: POST only; 0: GET and HEAD */
} http_routes[] = {
    {"/health", ROUTE_HEALTH, 0},         {"/ready", ROUTE_READY, 0},     {"/metrics", ROUTE_METRICS, 0},
    {"/model/info", ROUTE_MODEL_INFO, 0}, {"/predict", ROUTE_PREDICT, 1}, {"/feedback", ROUTE_FEEDBACK, 1},
};
#define HTTP_NROUTES ((int)(sizeof http_routes / sizeof http_routes[0]))

/* Status codes counted one by one in buzzradar_http_requests_total; others as "other". */
static const unsigned http_codes[] = {200, 202, 400, 404, 405, 413, 429, 500, 503};
static const char *const http_code_names[] = {"200", "202", "400", "404", "405",
                                              "413", "429", "500", "503", "other"};
#define HTTP_NCODES ((int)(sizeof http_code_names / sizeof http_code_names[0]))

/* The state of one POST request between libmicrohttpd's calls. */
typedef struct {
    RouteId route;
    int too_large; /* the body went past max_body: the rest is discarded, 413 at the end */
    size_t len, cap;
    char *body;
} HttpRequest;

/* ---- response helpers ----------------------------------------------------------- */

void http_buf_put(HttpBuf *b, const char *s, size_t n) {
    if (b->overflow || n > b->cap - b->len - 1) {
        b->overflow = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void http_buf_str(HttpBuf *b, const char *s) { http_buf_put(b, s, strlen(s)); }

void http_buf_fmt(HttpBuf *b, const char *fmt, ...) {
    if (b->overflow) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->p[b->len] = '\0';
        b->overflow = 1;
        return;
    }
    b->len += (size_t)n;
}

void http_buf_json(HttpBuf *b, const char *s, size_t n) {
    size_t need = http_json_escaped_len(s, n) + 2;
    if (b->overflow || need > b->cap - b->len - 1) {
        b->overflow = 1;
        return;
    }
    b->p[b->len++] = '"';
    b->len += http_json_escape(s, n, b->p + b->len);
    b->p[b->len++] = '"';
    b->p[b->len] = '\0';
}

static void http_count(HttpServer *s, unsigned status) {
    if (!s->requests) return;
    int i = 0;
    while (i < HTTP_NCODES - 1 && http_codes[i] != status) i++;
    prom_counter_inc(&s->requests[i]);
}

enum MHD_Result http_reply(HttpServer *s, struct MHD_Connection *c, unsigned status, const char *ctype,
                           char *body, size_t len, int own, const char *header, const char *value) {
    struct MHD_Response *r = own ? MHD_create_response_from_buffer_with_free_callback(len, body, &free)
                                 : MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
    if (!r) {
        if (own) free(body);
        return MHD_NO; /* out of memory: libmicrohttpd closes the connection */
    }
    enum MHD_Result ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (ok == MHD_YES) ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (ok == MHD_YES && header) ok = MHD_add_response_header(r, header, value);
    if (ok == MHD_YES) ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    if (ok == MHD_YES) http_count(s, status);
    return ok;
}

enum MHD_Result http_reply_json(HttpServer *s, struct MHD_Connection *c, unsigned status, const char *json,
                                size_t len) {
    return http_reply(s, c, status, "application/json", (char *)json, len, 0, NULL, NULL);
}

/* {"error":"..."} into buf; the message is cut to fit. */
static size_t http_error_body(char *buf, size_t cap, const char *fmt, va_list ap) {
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    HttpBuf b = {buf, cap, 0, 0};
    http_buf_str(&b, "{\"error\":");
    http_buf_json(&b, msg, strlen(msg));
    http_buf_str(&b, "}");
    return b.len;
}

enum MHD_Result http_reply_error(HttpServer *s, struct MHD_Connection *c, unsigned status, const char *fmt,
                                 ...) {
    char buf[1800]; /* 256 bytes escaped at worst 6x, plus the wrapper */
    va_list ap;
    va_start(ap, fmt);
    size_t n = http_error_body(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return http_reply_json(s, c, status, buf, n);
}

/* ---- request intake ------------------------------------------------------------- */

/* The client's address as text (IPv4-mapped IPv6 addresses as plain IPv4). */
static void http_client_ip(struct MHD_Connection *c, char *out, size_t cap) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    snprintf(out, cap, "unknown");
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)cap);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)cap);
        else
            inet_ntop(AF_INET6, a, out, (socklen_t)cap);
    }
}

/* 1 when the request may go on; else queues 429 and returns 0. */
static int http_rate_ok(HttpServer *s, struct MHD_Connection *c, enum MHD_Result *ret) {
    if (s->cfg.rate_limit <= 0) return 1;
    char ip[HTTP_RATELIMIT_IP_MAX];
    http_client_ip(c, ip, sizeof ip);
    int64_t now = s->hooks.now_ms ? s->hooks.now_ms(s->hooks.ctx) : util_wall_ms();
    int retry = 0;
    HttpRateVerdict v = HTTP_RATE_UNKNOWN;
    if (s->hooks.rate_check) v = s->hooks.rate_check(s->hooks.ctx, ip, now, s->cfg.rate_limit, &retry);
    if (v == HTTP_RATE_UNKNOWN && s->hooks.rate_check && s->fallbacks) prom_counter_inc(s->fallbacks);
    if (v == HTTP_RATE_UNKNOWN)
        v = http_ratelimit_check(s->limit, ip, now, s->cfg.rate_limit, &retry) ? HTTP_RATE_ALLOW
                                                                               : HTTP_RATE_LIMITED;
    if (v == HTTP_RATE_ALLOW) return 1;
    if (retry < 1) retry = 1;
    char value[16], body[128];
    snprintf(value, sizeof value, "%d", retry);
    int n = snprintf(body, sizeof body,
                     "{\"error\":\"rate limit of %d requests per minute exceeded\",\"retry_after\":%d}",
                     s->cfg.rate_limit, retry);
    *ret = http_reply(s, c, MHD_HTTP_TOO_MANY_REQUESTS, "application/json", body, (size_t)n, 0,
                      MHD_HTTP_HEADER_RETRY_AFTER, value);
    return 0;
}

/* Requests without a body to keep (GETs, and the ones answered 404/405) carry one of
 * these marks as their state between libmicrohttpd's calls instead of an allocation:
 * mark k < HTTP_NROUTES answers route k, HTTP_NROUTES + k answers 405 for route k,
 * 2 * HTTP_NROUTES answers 404. Only the addresses are used. */
#define HTTP_MARK_NOT_FOUND (2 * HTTP_NROUTES)
static const char http_marks[2 * HTTP_NROUTES + 1];

/* The mark index of a request state, or -1 when it is an HttpRequest. */
static int http_mark_of(const void *state) {
    for (int k = 0; k <= HTTP_MARK_NOT_FOUND; k++)
        if (state == (const void *)&http_marks[k]) return k;
    return -1;
}

static enum MHD_Result http_method_not_allowed(HttpServer *s, struct MHD_Connection *c, const char *method,
                                               int r) {
    char body[160];
    const char *allow = http_routes[r].post ? "POST" : "GET, HEAD";
    int n = snprintf(body, sizeof body, "{\"error\":\"method %.40s not allowed on %s; use %s\"}",
                     strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(method) ? method : "?",
                     http_routes[r].path, allow);
    return http_reply(s, c, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json", body, (size_t)n, 0,
                      MHD_HTTP_HEADER_ALLOW, allow);
}

/* Answers a request carrying mark k, once it has been received whole. */
static enum MHD_Result http_answer_mark(HttpServer *s, struct MHD_Connection *c, const char *url,
                                        const char *method, int k) {
    if (k == HTTP_MARK_NOT_FOUND)
        return http_reply_error(s, c, MHD_HTTP_NOT_FOUND, "no such path: %.200s", url);
    if (k >= HTTP_NROUTES) return http_method_not_allowed(s, c, method, k - HTTP_NROUTES);
    switch (http_routes[k].id) {
    case ROUTE_HEALTH:
        return http_route_health(s, c);
    case ROUTE_READY:
        return http_route_ready(s, c);
    case ROUTE_METRICS:
        return http_route_metrics(s, c);
    case ROUTE_MODEL_INFO:
        return http_route_model_info(s, c);
    case ROUTE_PREDICT:
    case ROUTE_FEEDBACK:
        break;
    }
    return http_reply_error(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "unrouted request");
}

/* The first call of a request (headers read): route it. Most answers wait for the
 * next call, when the request has been read whole (answering now would make
 * libmicrohttpd close the connection); a POST that is over the rate limit or declares
 * a body over the cap is refused now, without reading its body. */
static enum MHD_Result http_begin(HttpServer *s, struct MHD_Connection *c, const char *method,
                                  const char *url, void **con_cls) {
    int r = 0;
    while (r < HTTP_NROUTES && strcmp(http_routes[r].path, url) != 0) r++;
    int is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    int is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    if (r == HTTP_NROUTES) {
        *con_cls = (void *)&http_marks[HTTP_MARK_NOT_FOUND];
        return MHD_YES;
    }
    if (http_routes[r].post ? !is_post : !is_get) {
        *con_cls = (void *)&http_marks[HTTP_NROUTES + r];
        return MHD_YES;
    }
    if (!http_routes[r].post) {
        *con_cls = (void *)&http_marks[r];
        return MHD_YES;
    }

    enum MHD_Result ret = MHD_NO;
    if (!http_rate_ok(s, c, &ret)) return ret;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long declared = 0;
    if (cl) {
        errno = 0;
        declared = strtoull(cl, NULL, 10);
        if (errno || declared > s->cfg.max_body)
            return http_reply_error(s, c, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than %zu bytes",
                                    s->cfg.max_body);
    }
    HttpRequest *req = calloc(1, sizeof *req);
    if (!req) return http_reply_error(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    req->route = http_routes[r].id;
    /* One allocation when the size is declared; else grow from 4 KiB. The +1 keeps a
     * NUL after the body. */
    req->cap = cl ? (size_t)declared : (s->cfg.max_body < 4096 ? s->cfg.max_body : 4096);
    req->body = malloc(req->cap + 1);
    if (!req->body) {
        free(req);
        return http_reply_error(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    }
    *con_cls = req;
    return MHD_YES;
}

/* Appends an upload chunk, or marks the body too large (then only discards). */
static void http_take_body(HttpServer *s, HttpRequest *req, const char *data, size_t n) {
    if (req->too_large) return;
    if (n > s->cfg.max_body - req->len) {
        req->too_large = 1;
        return;
    }
    if (req->len + n > req->cap) {
        size_t cap = req->cap ? req->cap : 4096;
        while (cap < req->len + n) cap *= 2;
        if (cap > s->cfg.max_body) cap = s->cfg.max_body;
        char *p = realloc(req->body, cap + 1);
        if (!p) {
            req->too_large = 1; /* cannot hold it: answered like an oversized body */
            return;
        }
        req->body = p;
        req->cap = cap;
    }
    memcpy(req->body + req->len, data, n);
    req->len += n;
}

static enum MHD_Result http_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                    const char *version, const char *upload_data, size_t *upload_data_size,
                                    void **con_cls) {
    (void)version;
    HttpServer *s = cls;
    if (!*con_cls) return http_begin(s, c, method, url, con_cls);
    int mark = http_mark_of(*con_cls);
    HttpRequest *req = mark < 0 ? *con_cls : NULL;
    if (*upload_data_size > 0) { /* a body: kept for POST routes, discarded otherwise */
        if (req) http_take_body(s, req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!req) return http_answer_mark(s, c, url, method, mark);
    if (req->too_large)
        return http_reply_error(s, c, MHD_HTTP_CONTENT_TOO_LARGE, "request body larger than %zu bytes",
                                s->cfg.max_body);
    req->body[req->len] = '\0';
    return req->route == ROUTE_PREDICT ? http_route_predict(s, c, req->body, req->len)
                                       : http_route_feedback(s, c, req->body, req->len);
}

static void http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                           enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    HttpRequest *req = *con_cls;
    if (!req || http_mark_of(req) >= 0) return;
    free(req->body);
    free(req);
    *con_cls = NULL;
}

static void http_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    log_warn("http_server", "%s", msg);
}

/* ---- server --------------------------------------------------------------------- */

int http_parse_listen(const char *spec, struct sockaddr_storage *out, socklen_t *outlen, char *err,
                      size_t errlen) {
    char host[256];
    const char *port;
    if (!spec || !*spec) {
        snprintf(err, errlen, "empty listen address (want ADDR:PORT)");
        return -1;
    }
    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (!end || end[1] != ':' || (size_t)(end - spec - 1) >= sizeof host) {
            snprintf(err, errlen, "bad listen address '%s' (want [IPV6]:PORT)", spec);
            return -1;
        }
        memcpy(host, spec + 1, (size_t)(end - spec - 1));
        host[end - spec - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon || memchr(spec, ':', (size_t)(colon - spec)) || (size_t)(colon - spec) >= sizeof host) {
            snprintf(err, errlen, "bad listen address '%s' (want ADDR:PORT)", spec);
            return -1;
        }
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
        port = colon + 1;
    }
    size_t nd = strspn(port, "0123456789");
    if (nd == 0 || nd > 5 || port[nd] != '\0' || atol(port) > 65535) {
        snprintf(err, errlen, "bad port in listen address '%s' (want 0..65535)", spec);
        return -1;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "cannot resolve listen address '%s': %s", spec, gai_strerror(rc));
        if (res) freeaddrinfo(res);
        return -1;
    }
    memset(out, 0, sizeof *out);
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *outlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

HttpServer *http_server_start(const HttpConfig *cfg, const HttpHooks *hooks, PromRegistry *metrics, char *err,
                              size_t errlen) {
    HttpConfig c = *cfg;
    if (!c.listen) c.listen = HTTP_DEFAULT_LISTEN;
    if (c.max_texts < 1 || c.max_texts > HTTP_MAX_TEXTS_LIMIT) {
        snprintf(err, errlen, "max_texts must be 1..%d", HTTP_MAX_TEXTS_LIMIT);
        return NULL;
    }
    if (c.max_body < 2) {
        snprintf(err, errlen, "max_body must be at least 2 bytes");
        return NULL;
    }
    struct sockaddr_storage addr;
    socklen_t addrlen;
    if (http_parse_listen(c.listen, &addr, &addrlen, err, errlen) != 0) return NULL;

    HttpServer *s = callocCheck(1, sizeof *s);
    s->cfg = c;
    s->cfg.listen = NULL;
    if (hooks) s->hooks = *hooks;
    s->metrics = metrics;
    if (metrics) {
        s->requests = prom_counter_register(metrics, "buzzradar_http_requests_total",
                                            "HTTP requests answered, by status code.", "code",
                                            http_code_names, HTTP_NCODES);
        if (s->requests)
            s->fallbacks = prom_counter_register(
                metrics, "buzzradar_http_rate_limit_fallbacks_total",
                "Rate-limit decisions taken in memory because the shared (Redis) limiter could not answer.",
                NULL, NULL, 0);
        if (!s->requests || !s->fallbacks) {
            snprintf(err, errlen, "http metrics: %s", prom_registry_error(metrics));
            free(s);
            return NULL;
        }
    }
    s->limit = http_ratelimit_new(c.rate_slots);

    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    /* The logger goes first so that every message of the daemon reaches it. */
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, &http_handler, s,          //
                                 MHD_OPTION_EXTERNAL_LOGGER, &http_log, s,        //
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,  //
                                 MHD_OPTION_CONNECTION_LIMIT, c.max_connections,  //
                                 MHD_OPTION_CONNECTION_TIMEOUT, c.timeout_s,      //
                                 MHD_OPTION_NOTIFY_COMPLETED, &http_completed, s, //
                                 MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "cannot listen on %s (address in use or not available)", c.listen);
        http_ratelimit_free(s->limit);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    char port[16];
    snprintf(port, sizeof port, "%d", s->port);
    const char *kv[] = {"listen", c.listen, "port", port, NULL};
    log_event(LOG_INFO, "http_listening", kv, "HTTP server listening on port %d", s->port);
    return s;
}

int http_server_port(const HttpServer *s) { return s->port; }

void http_server_stop(HttpServer *s) {
    if (!s) return;
    MHD_stop_daemon(s->daemon);
    http_ratelimit_free(s->limit);
    free(s);
}
