/* test_http.c — the worker's HTTP server (worker/http.h) on 127.0.0.1 with a port
 * picked by the kernel, driven by curl (spawned with fork/exec) and by raw sockets
 * for requests curl would not send: every endpoint and status code, the JSON shapes,
 * /metrics checked against the exposition rules, the rate limits (fallback and hook),
 * malformed and hostile requests, concurrent clients; and the worker's Redis limiter
 * (worker/ratelimit_redis.h) behind two servers standing for two replicas, against a
 * real redis-server: one shared budget, 429 with Retry-After, IPv6 clients, and the
 * in-process fallback when Redis is gone.
 *
 * The hooks are test doubles written here: fake_score derives a probability from the
 * bytes of a text so the HTTP layer can be checked end to end; it is not the model. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "model/classifier.h"
#include "model/util.h"
#include "tests/harness/harness.h"
#include "tests/unit/promtext_check.h"
#include "worker/http.h"
#include "worker/ratelimit_redis.h"
#include "worker/worker_metrics.h"

/* ---- the test doubles of the worker's hooks ---------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    int model_loaded, partitions, redis_up;
    char version[64];
    int predict_fail;      /* 1: the hook fails; 2: it returns NaN */
    int feedback_fail;     /* 1: the hook fails */
    char feedback_id[256]; /* the last feedback handed over */
    int feedback_positive;
    int feedback_calls;
    HttpRateVerdict verdict; /* what rate_check answers */
    int rate_calls;
    int rate_limit_seen;
    char rate_ip[64];
    _Atomic int64_t now_ms;     /* 0: the real clock */
    RateLimitRedis *redis_rate; /* the limiter fake_rate_redis hands over to (HOOKS_REDIS) */
} Fake;

/* A probability derived from the text's bytes (a stand-in for the classifier). */
static float fake_score(const char *t, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)t[i]) * 16777619u;
    return (float)(h % 1001u) / 1000.0f;
}

static void fake_status(void *ctx, HttpStatus *out) {
    Fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    out->model_loaded = f->model_loaded;
    out->assigned_partitions = f->partitions;
    out->redis_up = f->redis_up;
    snprintf(out->model_version, sizeof out->model_version, "%s", f->version);
    pthread_mutex_unlock(&f->mu);
}

static const char fake_header[] = "{\"kind\":\"bilstm\",\"vocab_size\":20000,\"metrics\":{\"f1_macro\":0.8}}";
static const char *fake_model_info(void *ctx) {
    (void)ctx;
    return fake_header;
}

static int fake_predict(void *ctx, const char *const *texts, const size_t *lens, int n, float *p, char *err,
                        size_t errlen) {
    Fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    int mode = f->predict_fail;
    pthread_mutex_unlock(&f->mu);
    if (mode == 1) {
        snprintf(err, errlen, "model busy");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (texts[i][lens[i]] !=
            '\0') { /* the contract: NUL-terminated (no cmocka asserts off the main thread) */
            snprintf(err, errlen, "text %d is not NUL-terminated", i);
            return -1;
        }
        p[i] = mode == 2 ? NAN : fake_score(texts[i], lens[i]);
    }
    return 0;
}

static int fake_feedback(void *ctx, const char *id, size_t id_len, int positive, char *err, size_t errlen) {
    Fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    int fail = f->feedback_fail;
    if (!fail) {
        snprintf(f->feedback_id, sizeof f->feedback_id, "%.*s", (int)id_len, id);
        f->feedback_positive = positive;
        f->feedback_calls++;
    }
    pthread_mutex_unlock(&f->mu);
    if (fail) snprintf(err, errlen, "broker unreachable");
    return fail ? -1 : 0;
}

static HttpRateVerdict fake_rate(void *ctx, const char *ip, int64_t now_ms, int limit, int *retry_after_s) {
    (void)now_ms;
    Fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->rate_calls++;
    f->rate_limit_seen = limit;
    snprintf(f->rate_ip, sizeof f->rate_ip, "%s", ip);
    HttpRateVerdict v = f->verdict;
    pthread_mutex_unlock(&f->mu);
    if (v == HTTP_RATE_LIMITED) *retry_after_s = 17;
    return v;
}

/* The worker's real shared limiter behind the hook (set before the server starts). */
static HttpRateVerdict fake_rate_redis(void *ctx, const char *ip, int64_t now_ms, int limit,
                                       int *retry_after_s) {
    return ratelimit_redis_check(((Fake *)ctx)->redis_rate, ip, now_ms, limit, retry_after_s);
}

static int64_t fake_now(void *ctx) {
    Fake *f = ctx;
    int64_t t = atomic_load(&f->now_ms);
    return t ? t : util_wall_ms();
}

/* ---- fixture: a registry with the worker's metrics and a server on port 0 ----------- */

typedef struct {
    Fake fake;
    PromRegistry *reg;
    WorkerMetrics wm;
    HttpServer *srv;
    int port;
} Fx;

enum { HOOKS_ALL, HOOKS_ALL_RATE, HOOKS_REDIS, HOOKS_NONE };

/* A server on listen (port 0) with the given hooks; HOOKS_REDIS uses redis_rate. */
static Fx *fx_start_at(const HttpConfig *cfg_in, int hooks_kind, const char *listen,
                       RateLimitRedis *redis_rate) {
    Fx *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    pthread_mutex_init(&fx->fake.mu, NULL);
    fx->fake.partitions = -1;
    fx->fake.verdict = HTTP_RATE_UNKNOWN;
    fx->fake.redis_rate = redis_rate;
    fx->reg = prom_registry_new();
    char err[256];
    assert_int_equal(worker_metrics_init(&fx->wm, fx->reg, err, sizeof err), 0);
    HttpConfig cfg;
    if (cfg_in)
        cfg = *cfg_in;
    else
        http_config_default(&cfg);
    cfg.listen = listen;
    HttpHooks hooks = {0};
    if (hooks_kind != HOOKS_NONE) {
        hooks =
            (HttpHooks){&fx->fake, fake_status, fake_model_info, fake_predict, fake_feedback, NULL, fake_now};
        if (hooks_kind == HOOKS_ALL_RATE) hooks.rate_check = fake_rate;
        if (hooks_kind == HOOKS_REDIS) hooks.rate_check = fake_rate_redis;
    }
    fx->srv = http_server_start(&cfg, &hooks, fx->reg, err, sizeof err);
    if (!fx->srv) fail_msg("server did not start on %s: %s", listen, err);
    fx->port = http_server_port(fx->srv);
    assert_true(fx->port > 0 && fx->port < 65536);
    return fx;
}

static Fx *fx_start(const HttpConfig *cfg_in, int hooks_kind) {
    return fx_start_at(cfg_in, hooks_kind, "127.0.0.1:0", NULL);
}

static void fx_stop(Fx *fx) {
    http_server_stop(fx->srv);
    prom_registry_free(fx->reg);
    pthread_mutex_destroy(&fx->fake.mu);
    free(fx);
}

/* ---- curl ---------------------------------------------------------------------------- */

typedef struct {
    int status;
    char head[8192]; /* the final response's header lines */
    char *body;      /* NUL-terminated; points into raw */
    size_t body_len;
    char *raw;
} Resp;

/* Runs argv, returns its exit status and its stdout in *out (malloc'd, NUL-terminated). */
static int run_capture(char *const argv[], char **out, size_t *outlen) {
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    size_t cap = 1 << 16, len = 0;
    char *buf = mallocCheck(cap + 1);
    for (;;) {
        if (len == cap) buf = reallocCheck(buf, (cap *= 2) + 1);
        ssize_t n = read(fd[0], buf + len, cap - len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(fd[0]);
    buf[len] = '\0';
    int st;
    waitpid(pid, &st, 0);
    *out = buf;
    *outlen = len;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Splits curl -i output: skips interim 1xx blocks, keeps the last status and headers. */
static void resp_parse(Resp *r, size_t len) {
    char *p = r->raw, *end = r->raw + len;
    r->status = 0;
    for (;;) {
        char *sep = strstr(p, "\r\n\r\n");
        assert_non_null(sep);
        assert_int_equal(sscanf(p, "HTTP/%*s %d", &r->status), 1);
        size_t hl = (size_t)(sep - p);
        assert_true(hl < sizeof r->head);
        memcpy(r->head, p, hl);
        r->head[hl] = '\0';
        p = sep + 4;
        if (r->status >= 200 || p >= end) break;
    }
    r->body = p;
    r->body_len = (size_t)(end - p);
}

/* curl [-X method] [--data-binary data] [-H header] http://host:port/path */
static void curl_call_at(Resp *r, const char *host, int port, const char *method, const char *path,
                         const char *data, const char *header) {
    char url[256];
    snprintf(url, sizeof url, "http://%s:%d%s", host, port, path);
    char *argv[20];
    int a = 0;
    argv[a++] = "curl";
    argv[a++] = "-s";
    argv[a++] = "-i";
    argv[a++] = "-g"; /* [::1] is an address, not a glob */
    argv[a++] = "--noproxy";
    argv[a++] = "*";
    argv[a++] = "--max-time";
    argv[a++] = "20";
    if (strcmp(method, "HEAD") == 0) {
        argv[a++] = "-I";
    } else {
        argv[a++] = "-X";
        argv[a++] = (char *)method;
    }
    if (data) {
        argv[a++] = "--data-binary";
        argv[a++] = (char *)data;
        argv[a++] = "-H";
        argv[a++] = "Content-Type: application/json";
    }
    if (header) {
        argv[a++] = "-H";
        argv[a++] = (char *)header;
    }
    argv[a++] = url;
    argv[a] = NULL;
    size_t len;
    int rc = run_capture(argv, &r->raw, &len);
    if (rc != 0) fail_msg("curl %s %s exited %d: %s", method, path, rc, r->raw);
    resp_parse(r, len);
}

static void curl_call(Resp *r, int port, const char *method, const char *path, const char *data,
                      const char *header) {
    curl_call_at(r, "127.0.0.1", port, method, path, data, header);
}

static void resp_free(Resp *r) { free(r->raw); }

/* The value of a response header (case-insensitive name), or NULL. */
static const char *resp_header(const Resp *r, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    for (const char *p = r->head; p; p = strstr(p, "\r\n"), p = p ? p + 2 : NULL) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ') v++;
            size_t n = strcspn(v, "\r\n");
            snprintf(out, cap, "%.*s", (int)n, v);
            return out;
        }
    }
    return NULL;
}

/* Asserts the status, a JSON content type and a JSON body; returns the parsed body. */
static cJSON *expect_json(const Resp *r, int status) {
    if (r->status != status) fail_msg("status %d, want %d; body: %s", r->status, status, r->body);
    char ct[128];
    assert_non_null(resp_header(r, "Content-Type", ct, sizeof ct));
    assert_string_equal(ct, "application/json");
    cJSON *j = cJSON_ParseWithLength(r->body, r->body_len);
    if (!j) fail_msg("body is not JSON: %s", r->body);
    return j;
}

/* Asserts an {"error":"..."} body with the status; the message must contain `part`. */
static void expect_error(const Resp *r, int status, const char *part) {
    cJSON *j = expect_json(r, status);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    assert_true(cJSON_IsString(e));
    if (part && !strstr(e->valuestring, part)) fail_msg("error '%s' lacks '%s'", e->valuestring, part);
    cJSON_Delete(j);
}

/* One call, checked to fail with status and a message containing part. */
static void call_error(int port, const char *method, const char *path, const char *data, int status,
                       const char *part) {
    Resp r;
    curl_call(&r, port, method, path, data, NULL);
    expect_error(&r, status, part);
    resp_free(&r);
}

/* ---- raw sockets --------------------------------------------------------------------- */

static int raw_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void raw_send(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* the server may close early: what it answered is checked */
        c += w;
        n -= (size_t)w;
    }
}

/* Reads until the server closes (or 10 s pass); returns the bytes read. */
static size_t raw_read_all(int fd, char *out, size_t cap) {
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        len += (size_t)n;
    }
    out[len] = '\0';
    return len;
}

/* Sends one request on a fresh connection and returns the status of the answer
 * (0 when the server closed without one); the answer goes to out. */
static int raw_request(int port, const char *req, size_t len, char *out, size_t cap) {
    int fd = raw_connect(port);
    raw_send(fd, req, len);
    raw_read_all(fd, out, cap);
    close(fd);
    int status = 0;
    if (sscanf(out, "HTTP/1.%*d %d", &status) != 1) status = 0;
    return status;
}

static void expect_alive(int port) {
    Resp r;
    curl_call(&r, port, "GET", "/health", NULL, NULL);
    cJSON_Delete(expect_json(&r, 200));
    resp_free(&r);
}

/* The value of one series on GET /metrics. */
static double metric_of(int port, const char *series) {
    Resp m;
    curl_call(&m, port, "GET", "/metrics", NULL, NULL);
    double v = -1;
    if (promtext_value(m.body, series, &v) != 0) fail_msg("no %s in /metrics", series);
    resp_free(&m);
    return v;
}

/* ---- tests --------------------------------------------------------------------------- */

static void health_answers_ok(void **state) {
    (void)state;
    Fx *fx = fx_start(NULL, HOOKS_ALL);
    Resp r;
    curl_call(&r, fx->port, "GET", "/health", NULL, NULL);
    cJSON_Delete(expect_json(&r, 200));
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    char v[64];
    assert_string_equal(resp_header(&r, "Cache-Control", v, sizeof v), "no-store");
    assert_null(resp_header(&r, "Connection", v, sizeof v)); /* kept alive for the next request */
    resp_free(&r);
    curl_call(&r, fx->port, "HEAD", "/health", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    resp_free(&r);
    fx_stop(fx);
}

static void ready_follows_the_worker(void **state) {
    (void)state;
    Fx *fx = fx_start(NULL, HOOKS_ALL);
    Resp r;
    curl_call(&r, fx->port, "GET", "/ready", NULL, NULL);
    cJSON_Delete(expect_json(&r, 503));
    assert_string_equal(r.body, "{\"ready\":false,\"model_loaded\":false,\"assigned_partitions\":null,"
                                "\"redis\":\"down\",\"model_version\":null}");
    resp_free(&r);

    pthread_mutex_lock(&fx->fake.mu);
    fx->fake.model_loaded = 1;
    snprintf(fx->fake.version, sizeof fx->fake.version, "bilstm-\"7\"");
    pthread_mutex_unlock(&fx->fake.mu);
    curl_call(&r, fx->port, "GET", "/ready", NULL, NULL); /* model, but no assignment yet */
    cJSON_Delete(expect_json(&r, 503));
    resp_free(&r);

    pthread_mutex_lock(&fx->fake.mu);
    fx->fake.partitions = 4;
    fx->fake.redis_up = 1;
    pthread_mutex_unlock(&fx->fake.mu);
    curl_call(&r, fx->port, "GET", "/ready", NULL, NULL);
    cJSON_Delete(expect_json(&r, 200));
    assert_string_equal(r.body, "{\"ready\":true,\"model_loaded\":true,\"assigned_partitions\":4,"
                                "\"redis\":\"up\",\"model_version\":\"bilstm-\\\"7\\\"\"}");
    resp_free(&r);

    /* Zero partitions (more replicas than partitions) is a known assignment: ready; a
     * Redis outage does not make the worker unready (it scores without Redis). */
    pthread_mutex_lock(&fx->fake.mu);
    fx->fake.partitions = 0;
    fx->fake.redis_up = 0;
    pthread_mutex_unlock(&fx->fake.mu);
    curl_call(&r, fx->port, "GET", "/ready", NULL, NULL);
    cJSON *j = expect_json(&r, 200);
    assert_string_equal(cJSON_GetObjectItem(j, "redis")->valuestring, "down");
    cJSON_Delete(j);
    resp_free(&r);
    fx_stop(fx);

    fx = fx_start(NULL, HOOKS_NONE); /* no status hook: never ready */
    curl_call(&r, fx->port, "GET", "/ready", NULL, NULL);
    cJSON_Delete(expect_json(&r, 503));
    resp_free(&r);
    fx_stop(fx);
}

static void metrics_follow_the_exposition_format(void **state) {
    (void)state;
    Fx *fx = fx_start(NULL, HOOKS_ALL);
    prom_counter_add(fx->wm.consumed_total, 3);
    prom_counter_inc(&fx->wm.scored_total[WM_NEGATIVE]);
    prom_counter_inc(worker_metrics_dlq(&fx->wm, "too_large"));
    prom_histogram_observe(fx->wm.inference_seconds, 0.004);
    prom_gauge_set(fx->wm.assigned_partitions, 4);
    worker_metrics_set_model(&fx->wm, "bilstm", "v\"1\"");
    expect_alive(fx->port);
    expect_alive(fx->port);
    call_error(fx->port, "GET", "/nope", NULL, 404, "no such path");

    Resp r;
    curl_call(&r, fx->port, "GET", "/metrics", NULL, NULL);
    assert_int_equal(r.status, 200);
    char ct[128];
    assert_string_equal(resp_header(&r, "Content-Type", ct, sizeof ct),
                        "text/plain; version=0.0.4; charset=utf-8");
    char err[256];
    int nsamples = 0;
    if (promtext_check(r.body, r.body_len, &nsamples, err, sizeof err) != 0)
        fail_msg("/metrics breaks the format: %s\n%s", err, r.body);
    assert_true(nsamples > 50);
    struct {
        const char *series;
        double want;
    } expect[] = {
        {"buzzradar_consumed_total", 3},
        {"buzzradar_scored_total{label=\"negative\"}", 1},
        {"buzzradar_dead_letters_total{reason=\"too_large\"}", 1},
        {"buzzradar_inference_seconds_bucket{le=\"0.0025\"}", 0},
        {"buzzradar_inference_seconds_bucket{le=\"0.005\"}", 1},
        {"buzzradar_inference_seconds_count", 1},
        {"buzzradar_assigned_partitions", 4},
        {"buzzradar_model_info{model=\"bilstm\",version=\"v\\\"1\\\"\"}", 1},
        {"buzzradar_http_requests_total{code=\"200\"}", 2}, /* this request is counted after rendering */
        {"buzzradar_http_requests_total{code=\"404\"}", 1},
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        double v;
        if (promtext_value(r.body, expect[i].series, &v) != 0) fail_msg("missing %s", expect[i].series);
        if (v != expect[i].want) fail_msg("%s = %g, want %g", expect[i].series, v, expect[i].want);
    }
    resp_free(&r);
    fx_stop(fx);

    /* Without a registry /metrics is unavailable, not a crash. */
    HttpConfig cfg;
    http_config_default(&cfg);
    cfg.listen = "127.0.0.1:0";
    char e2[256];
    HttpServer *s = http_server_start(&cfg, NULL, NULL, e2, sizeof e2);
    assert_non_null(s);
    call_error(http_server_port(s), "GET", "/metrics", NULL, 503, "registry");
    http_server_stop(s);
}

static void model_info_serves_the_header(void **state) {
    (void)state;
    Fx *fx = fx_start(NULL, HOOKS_ALL);
    Resp r;
    curl_call(&r, fx->port, "GET", "/model/info", NULL, NULL);
    cJSON_Delete(expect_json(&r, 200));
    assert_string_equal(r.body, fake_header);
    resp_free(&r);
    fx_stop(fx);
    fx = fx_start(NULL, HOOKS_NONE);
    call_error(fx->port, "GET", "/model/info", NULL, 503, "no model");
    fx_stop(fx);
}

/* Checks one prediction object against the test double. */
static void expect_prediction(const cJSON *p, const char *text, size_t len) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "text");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(p, "label");
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(p, "p_positive");
    assert_true(cJSON_IsString(t) && cJSON_IsString(l) && cJSON_IsNumber(pp));
    assert_int_equal(strlen(t->valuestring), len);
    assert_memory_equal(t->valuestring, text, len);
    float want = fake_score(text, len);
    assert_true(pp->valuedouble == classifier_round_p(want)); /* 6 decimals, as `buzzradar predict` */
    assert_string_equal(l->valuestring, want >= 0.5f ? "positive" : "negative");
}

static void predict_scores_through_the_hook(void **state) {
    (void)state;
    Fx *fx = fx_start(NULL, HOOKS_ALL);
    Resp r;
    curl_call(&r, fx->port, "POST", "/predict", "{\"text\":\"@AirParadis lost my bag again \\ud83d\\ude21\"}",
              NULL);
    cJSON *j = expect_json(&r, 200);
    const cJSON *preds = cJSON_GetObjectItemCaseSensitive(j, "predictions");
    assert_int_equal(cJSON_GetArraySize(preds), 1);
    const char *t0 = "@AirParadis lost my bag again \xf0\x9f\x98\xa1";
    expect_prediction(cJSON_GetArrayItem(preds, 0), t0, strlen(t0));
    cJSON_Delete(j);
    resp_free(&r);

    /* A batch, in order, with characters that must be escaped on the way back. */
    const char *texts[] = {"great crew, thanks!", "quote \" backslash \\ tab \t newline \n ctl \x01",
                           "caf\xc3\xa9 \xe2\x9c\x88"};
    const char *body = "{\"texts\":[\"great crew, thanks!\","
                       "\"quote \\\" backslash \\\\ tab \\t newline \\n ctl \\u0001\","
                       "\"caf\\u00e9 \xe2\x9c\x88\"],\"extra\":{\"ignored\":[1,2]}}";
    curl_call(&r, fx->port, "POST", "/predict", body, NULL);
    j = expect_json(&r, 200);
    preds = cJSON_GetObjectItemCaseSensitive(j, "predictions");
    assert_int_equal(cJSON_GetArraySize(preds), 3);
    for (int i = 0; i < 3; i++) expect_prediction(cJSON_GetArrayItem(preds, i), texts[i], strlen(texts[i]));
    cJSON_Delete(j);
    resp_free(&r);
    fx_stop(fx);
}

static void predict_rejects_bad_requests(void **state) {
    (void)state;
    HttpConfig cfg;
    http_config_default(&cfg);
    cfg.max_texts = 4;
    cfg.rate_limit = 0; /* this test sends many requests */
    Fx *fx = fx_start(&cfg, HOOKS_ALL);
    int port = fx->port;
    call_error(port, "POST", "/predict", "{\"text\":", 400, "invalid JSON");
    call_error(port, "POST", "/predict", "not json", 400, "invalid JSON");
    call_error(port, "POST", "/predict", "", 400, "empty body");
    call_error(port, "POST", "/predict", "{\"text\":\"\\ud800\"}", 400, "surrogate");
    call_error(port, "POST", "/predict", "{\"text\":\"\xff\"}", 400, "UTF-8");
    call_error(port, "POST", "/predict", "{\"text\":\"a\",\"texts\":[\"b\"]}", 400, "exactly one");
    call_error(port, "POST", "/predict", "{\"id\":\"1\"}", 400, "exactly one");
    call_error(port, "POST", "/predict", "{\"texts\":[]}", 400, "empty");
    call_error(port, "POST", "/predict", "{\"text\":\"\"}", 400, "empty");
    call_error(port, "POST", "/predict", "{\"texts\":[\"a\",7]}", 400, "array of strings");
    call_error(port, "POST", "/predict", "{\"text\":[\"a\"]}", 400, "must be a string");
    call_error(port, "POST", "/predict", "{\"texts\":[\"1\",\"2\",\"3\",\"4\",\"5\"]}", 413, "at most 4");
    call_error(port, "GET", "/predict", NULL, 405, "not allowed");
    call_error(port, "PUT", "/predict", "{}", 405, "not allowed");
    call_error(port, "DELETE", "/feedback", NULL, 405, "not allowed");
    call_error(port, "POST", "/health", "{}", 405, "not allowed");
    call_error(port, "GET", "/predict/", NULL, 404, "no such path");
    call_error(port, "GET", "/", NULL, 404, "no such path");

    Resp r;
    curl_call(&r, port, "GET", "/predict", NULL, NULL);
    char allow[64];
    assert_string_equal(resp_header(&r, "Allow", allow, sizeof allow), "POST");
    resp_free(&r);
    curl_call(&r, port, "POST", "/metrics", "{}", NULL);
    assert_string_equal(resp_header(&r, "Allow", allow, sizeof allow), "GET, HEAD");
    resp_free(&r);

    /* The body cap: 64 KiB passes the cap (then fails as JSON), one byte more is 413,
     * whether curl waits for 100-continue or sends at once. */
    char path[] = "/tmp/buzzradar-http-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char *big = malloc(64 * 1024 + 1);
    memset(big, ' ', 64 * 1024 + 1);
    big[0] = '{';
    big[64 * 1024 - 1] = '}';
    assert_int_equal(write(fd, big, 64 * 1024), 64 * 1024);
    close(fd);
    char at[64];
    snprintf(at, sizeof at, "@%s", path);
    curl_call(&r, port, "POST", "/predict", at, NULL);
    expect_error(&r, 400, "exactly one"); /* {  ...  } is a valid empty object */
    resp_free(&r);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, big, 64 * 1024 + 1), 64 * 1024 + 1);
    close(fd);
    curl_call(&r, port, "POST", "/predict", at, "Expect: 100-continue");
    expect_error(&r, 413, "larger than 65536");
    resp_free(&r);
    curl_call(&r, port, "POST", "/predict", at, "Expect:");
    expect_error(&r, 413, "larger than 65536");
    resp_free(&r);
    unlink(path);
    free(big);

    /* Hook failures. */
    pthread_mutex_lock(&fx->fake.mu);
    fx->fake.predict_fail = 1;
    pthread_mutex_unlock(&fx->fake.mu);
    call_error(port, "POST", "/predict", "{\"text\":\"x\"}", 503, "model busy");
    pthread_mutex_lock(&fx->fake.mu);
    fx->fake.predict_fail = 2;
    pthread_mutex_unlock(&fx->fake.mu);
    call_error(port, "POST", "/predict", "{\"text\":\"x\"}", 500, "invalid probability");
    fx_stop(fx);

    fx = fx_start(NULL, HOOKS_NONE);
    call_error(fx->port, "POST", "/predict", "{\"text\":\"x\"}", 503, "no model");
    call_error(fx->port, "POST", "/feedback", "{\"id\":\"1\",\"label\":\"negative\"}", 503, "not available");
    fx_stop(fx);
}

static void feedback_is_validated_and_handed_over(void **state) {
    (void)state;
    Fx *fx = fx_start(NULL, HOOKS_ALL);
    int port = fx->port;
    Resp r;
    curl_call(&r, port, "POST", "/feedback", "{\"id\":\"1897\\\"5\",\"label\":\"positive\",\"note\":null}",
              NULL);
    cJSON *j = expect_json(&r, 202);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "accepted")));
    assert_string_equal(cJSON_GetObjectItem(j, "id")->valuestring, "1897\"5");
    cJSON_Delete(j);
    resp_free(&r);
    pthread_mutex_lock(&fx->fake.mu);
    assert_string_equal(fx->fake.feedback_id, "1897\"5");
    assert_int_equal(fx->fake.feedback_positive, 1);
    pthread_mutex_unlock(&fx->fake.mu);

    curl_call(&r, port, "POST", "/feedback", "{\"label\":\"negative\",\"id\":\"42\"}", NULL);
    cJSON_Delete(expect_json(&r, 202));
    resp_free(&r);
    pthread_mutex_lock(&fx->fake.mu);
    assert_string_equal(fx->fake.feedback_id, "42");
    assert_int_equal(fx->fake.feedback_positive, 0);
    assert_int_equal(fx->fake.feedback_calls, 2);
    pthread_mutex_unlock(&fx->fake.mu);

    char longid[300];
    snprintf(longid, sizeof longid, "{\"id\":\"%0129d\",\"label\":\"negative\"}", 7);
    call_error(port, "POST", "/feedback", "{\"id\":\"1\",\"label\":\"neutral\"}", 400, "label");
    call_error(port, "POST", "/feedback", "{\"id\":\"1\",\"label\":\"Positive\"}", 400, "label");
    call_error(port, "POST", "/feedback", "{\"id\":\"1\",\"label\":1}", 400, "must be a string");
    call_error(port, "POST", "/feedback", "{\"id\":\"1\"}", 400, "label");
    call_error(port, "POST", "/feedback", "{\"label\":\"negative\"}", 400, "missing \"id\"");
    call_error(port, "POST", "/feedback", "{\"id\":\"\",\"label\":\"negative\"}", 400, "missing \"id\"");
    call_error(port, "POST", "/feedback", "{\"id\":42,\"label\":\"negative\"}", 400, "must be a string");
    call_error(port, "POST", "/feedback", "{\"id\":\"a\\nb\",\"label\":\"negative\"}", 400, "control");
    call_error(port, "POST", "/feedback", longid, 400, "longer than 128");
    call_error(port, "POST", "/feedback", "[\"1\",\"negative\"]", 400, "invalid JSON");
    call_error(port, "GET", "/feedback", NULL, 405, "not allowed");
    pthread_mutex_lock(&fx->fake.mu);
    assert_int_equal(fx->fake.feedback_calls, 2); /* nothing invalid reached the worker */
    fx->fake.feedback_fail = 1;
    pthread_mutex_unlock(&fx->fake.mu);
    call_error(port, "POST", "/feedback", "{\"id\":\"1\",\"label\":\"negative\"}", 503, "broker unreachable");
    fx_stop(fx);
}

/* A POST on a raw connection, for many requests without spawning curl. */
static int raw_post(int port, const char *path, const char *json) {
    char req[1024], out[4096];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     path, strlen(json), json);
    return raw_request(port, req, (size_t)n, out, sizeof out);
}

static void rate_limit_falls_back_in_process(void **state) {
    (void)state;
    Fx *fx = fx_start(NULL, HOOKS_ALL); /* default: 100 per minute, no rate hook */
    const int64_t t0 = 1764050400000LL;
    atomic_store(&fx->fake.now_ms, t0 + 20500);
    /* /predict and /feedback share the budget of one address. */
    for (int i = 0; i < 100; i++) {
        int st = i % 2 ? raw_post(fx->port, "/predict", "{\"text\":\"hello\"}")
                       : raw_post(fx->port, "/feedback", "{\"id\":\"1\",\"label\":\"negative\"}");
        if (st != (i % 2 ? 200 : 202)) fail_msg("request %d got %d", i, st);
    }
    Resp r;
    curl_call(&r, fx->port, "POST", "/predict", "{\"text\":\"hello\"}", NULL);
    expect_error(&r, 429, "100 requests per minute");
    char v[32];
    assert_string_equal(resp_header(&r, "Retry-After", v, sizeof v), "40");
    resp_free(&r);
    call_error(fx->port, "POST", "/feedback", "{\"id\":\"1\",\"label\":\"negative\"}", 429, "rate limit");
    /* Bad requests count too, and the limit is checked before the body is read. */
    call_error(fx->port, "POST", "/predict", "not json", 429, "rate limit");
    /* Other endpoints are never limited. */
    expect_alive(fx->port);
    Resp m;
    curl_call(&m, fx->port, "GET", "/metrics", NULL, NULL);
    double v429;
    assert_int_equal(promtext_value(m.body, "buzzradar_http_requests_total{code=\"429\"}", &v429), 0);
    assert_true(v429 == 3);
    resp_free(&m);
    /* The next minute has a fresh budget. */
    atomic_store(&fx->fake.now_ms, t0 + 60000);
    curl_call(&r, fx->port, "POST", "/predict", "{\"text\":\"hello\"}", NULL);
    cJSON_Delete(expect_json(&r, 200));
    resp_free(&r);
    fx_stop(fx);
}

static void rate_limit_asks_the_hook_first(void **state) {
    (void)state;
    HttpConfig cfg;
    http_config_default(&cfg);
    cfg.rate_limit = 2;
    Fx *fx = fx_start(&cfg, HOOKS_ALL_RATE);
    const char *body = "{\"text\":\"x\"}";

    pthread_mutex_lock(&fx->fake.mu);
    fx->fake.verdict = HTTP_RATE_LIMITED;
    pthread_mutex_unlock(&fx->fake.mu);
    Resp r;
    curl_call(&r, fx->port, "POST", "/predict", body, NULL);
    expect_error(&r, 429, "2 requests per minute");
    char v[32];
    assert_string_equal(resp_header(&r, "Retry-After", v, sizeof v), "17");
    resp_free(&r);
    pthread_mutex_lock(&fx->fake.mu);
    assert_string_equal(fx->fake.rate_ip, "127.0.0.1");
    assert_int_equal(fx->fake.rate_limit_seen, 2);
    fx->fake.verdict = HTTP_RATE_ALLOW; /* the shared limiter admits: the fallback is not used */
    pthread_mutex_unlock(&fx->fake.mu);
    for (int i = 0; i < 5; i++) assert_int_equal(raw_post(fx->port, "/predict", body), 200);

    pthread_mutex_lock(&fx->fake.mu);
    fx->fake.verdict = HTTP_RATE_UNKNOWN; /* Redis down: the in-process limiter decides */
    pthread_mutex_unlock(&fx->fake.mu);
    assert_int_equal(raw_post(fx->port, "/predict", body), 200);
    assert_int_equal(raw_post(fx->port, "/predict", body), 200);
    assert_int_equal(raw_post(fx->port, "/predict", body), 429);
    pthread_mutex_lock(&fx->fake.mu);
    assert_int_equal(fx->fake.rate_calls, 9);
    pthread_mutex_unlock(&fx->fake.mu);
    /* Only the UNKNOWN answers were decided in memory, and counted so. */
    assert_true(metric_of(fx->port, "buzzradar_http_rate_limit_fallbacks_total") == 3);
    fx_stop(fx);
}

/* GET key from the test's redis-server as a string ("" when missing), into buf. */
static const char *redis_get(const HarnessRedis *redis, const char *key, char *buf, size_t len) {
    redisContext *c = harness_redis_connect(redis);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "GET %s", key);
    assert_non_null(r);
    snprintf(buf, len, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    redisFree(c);
    return buf;
}

static RateLimitRedis *redis_limiter(const HarnessRedis *redis) {
    RateLimitRedisOptions o;
    ratelimit_redis_options_default(&o);
    o.url = redis->url;
    char err[256];
    RateLimitRedis *l = ratelimit_redis_new(&o, err, sizeof err);
    if (!l) fail_msg("ratelimit_redis_new: %s", err);
    return l;
}

static void rate_limit_is_shared_through_redis(void **state) {
    (void)state;
    HarnessRedis redis;
    assert_int_equal(harness_redis_start(&redis), 0);
    /* Two servers with limiters of their own, as two worker replicas, one Redis. */
    RateLimitRedis *la = redis_limiter(&redis), *lb = redis_limiter(&redis);
    Fx *a = fx_start_at(NULL, HOOKS_REDIS, "127.0.0.1:0", la);
    Fx *b = fx_start_at(NULL, HOOKS_REDIS, "127.0.0.1:0", lb);
    const int64_t t0 = 1764050400000LL; /* a minute boundary */
    atomic_store(&a->fake.now_ms, t0 + 20500);
    atomic_store(&b->fake.now_ms, t0 + 20500);
    const char *body = "{\"text\":\"hello\"}";
    for (int i = 0; i < 100; i++) {
        int st = raw_post(i % 2 ? a->port : b->port, "/predict", body);
        if (st != 200) fail_msg("request %d got %d", i, st);
    }
    /* The 101st request across both replicas is refused, on either. */
    Resp r;
    char v[32];
    curl_call(&r, b->port, "POST", "/predict", body, NULL);
    expect_error(&r, 429, "100 requests per minute");
    assert_string_equal(resp_header(&r, "Retry-After", v, sizeof v), "40");
    resp_free(&r);
    curl_call(&r, a->port, "POST", "/feedback", "{\"id\":\"1\",\"label\":\"negative\"}", NULL);
    expect_error(&r, 429, "rate limit");
    assert_string_equal(resp_header(&r, "Retry-After", v, sizeof v), "40");
    resp_free(&r);
    /* Redis holds the count; no decision fell back to memory. */
    assert_string_equal(redis_get(&redis, "bz:rate:127.0.0.1:29400840", v, sizeof v), "102");
    assert_true(metric_of(a->port, "buzzradar_http_rate_limit_fallbacks_total") == 0);
    assert_true(metric_of(b->port, "buzzradar_http_requests_total{code=\"429\"}") == 1);
    /* The next minute has a fresh budget. */
    atomic_store(&a->fake.now_ms, t0 + 60000);
    atomic_store(&b->fake.now_ms, t0 + 60000);
    assert_int_equal(raw_post(a->port, "/predict", body), 200);
    assert_int_equal(raw_post(b->port, "/predict", body), 200);

    /* Redis gone: each replica limits in memory, and no request waits for Redis. */
    assert_int_equal(harness_redis_stop(&redis), 0);
    atomic_store(&a->fake.now_ms, t0 + 120000);
    atomic_store(&b->fake.now_ms, t0 + 120000);
    double start = util_now_s(), slowest = 0;
    for (int i = 0; i < 100; i++) {
        double t = util_now_s();
        int st = raw_post(a->port, "/predict", body);
        if (st != 200) fail_msg("request %d without Redis got %d", i, st);
        if (util_now_s() - t > slowest) slowest = util_now_s() - t;
    }
    assert_int_equal(raw_post(a->port, "/predict", body), 429);
    if (slowest > 1.0) fail_msg("a request took %.3f s without Redis", slowest);
    assert_true(util_now_s() - start < 10.0);
    assert_true(metric_of(a->port, "buzzradar_http_rate_limit_fallbacks_total") == 101);
    assert_int_equal(raw_post(b->port, "/predict", body), 200); /* b counts its own */
    fx_stop(a);
    fx_stop(b);
    ratelimit_redis_free(la);
    ratelimit_redis_free(lb);
}

static void rate_limit_counts_ipv6_clients_in_redis(void **state) {
    (void)state;
    HarnessRedis redis;
    assert_int_equal(harness_redis_start(&redis), 0);
    RateLimitRedis *l = redis_limiter(&redis);
    HttpConfig cfg;
    http_config_default(&cfg);
    cfg.rate_limit = 2;
    Fx *fx = fx_start_at(&cfg, HOOKS_REDIS, "[::1]:0", l);
    atomic_store(&fx->fake.now_ms, 1764050400000LL + 1000);
    Resp r;
    for (int i = 0; i < 2; i++) {
        curl_call_at(&r, "[::1]", fx->port, "POST", "/predict", "{\"text\":\"x\"}", NULL);
        cJSON_Delete(expect_json(&r, 200));
        resp_free(&r);
    }
    curl_call_at(&r, "[::1]", fx->port, "POST", "/predict", "{\"text\":\"x\"}", NULL);
    expect_error(&r, 429, "2 requests per minute");
    char v[32];
    assert_string_equal(resp_header(&r, "Retry-After", v, sizeof v), "59");
    resp_free(&r);
    assert_string_equal(redis_get(&redis, "bz:rate:::1:29400840", v, sizeof v), "3");
    fx_stop(fx);
    ratelimit_redis_free(l);
    assert_int_equal(harness_redis_stop(&redis), 0);
}

static void survives_malformed_requests(void **state) {
    (void)state;
    HttpConfig cfg;
    http_config_default(&cfg);
    cfg.rate_limit = 0;
    cfg.timeout_s = 2;
    Fx *fx = fx_start(&cfg, HOOKS_ALL);
    int port = fx->port;
    char out[16384];

    /* Not HTTP at all: libmicrohttpd answers 400 or closes. */
    const char *garbage = "GARBAGE\r\n\r\n";
    int st = raw_request(port, garbage, strlen(garbage), out, sizeof out);
    assert_true(st == 400 || st == 0);

    /* HTTP/1.0 and pipelined requests on one connection. */
    const char *h10 = "GET /health HTTP/1.0\r\n\r\n";
    assert_int_equal(raw_request(port, h10, strlen(h10), out, sizeof out), 200);
    const char *two =
        "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_int_equal(raw_request(port, two, strlen(two), out, sizeof out), 200);
    if (!strstr(out, "HTTP/1.1 503")) fail_msg("second pipelined answer missing:\n%s", out);

    /* A declared body far over the cap: 413 before any byte of it is sent. */
    const char *huge = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n";
    assert_int_equal(raw_request(port, huge, strlen(huge), out, sizeof out), 413);
    assert_non_null(strstr(out, "application/json"));

    /* A chunked body that grows past the cap: 413 once it ends. */
    int fd = raw_connect(port);
    const char *hdr =
        "POST /predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
    raw_send(fd, hdr, strlen(hdr));
    char chunk[8192 + 16];
    int cl = snprintf(chunk, sizeof chunk, "2000\r\n");
    memset(chunk + cl, 'a', 8192);
    memcpy(chunk + cl + 8192, "\r\n", 2);
    for (int i = 0; i < 10; i++) raw_send(fd, chunk, (size_t)cl + 8192 + 2);
    raw_send(fd, "0\r\n\r\n", 5);
    raw_read_all(fd, out, sizeof out);
    close(fd);
    assert_int_equal(atoi(out + 9), 413);

    /* A body shorter than declared, then the client goes away. */
    fd = raw_connect(port);
    const char *partial = "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"text\":\"ab";
    raw_send(fd, partial, strlen(partial));
    close(fd);

    /* A client that stops sending: the idle timeout closes it. */
    fd = raw_connect(port);
    raw_send(fd, "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{", 56);
    double t = util_now_s();
    raw_read_all(fd, out, sizeof out);
    close(fd);
    assert_true(util_now_s() - t < 8);

    /* Broken chunk framing, NUL bytes in JSON, a bad Content-Length. */
    const char *badchunk =
        "POST /predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
        "zz\r\nabc\r\n0\r\n\r\n";
    st = raw_request(port, badchunk, strlen(badchunk), out, sizeof out);
    assert_true(st == 400 || st == 0);
    const char nul[] = "POST /predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 14\r\n\r\n"
                       "{\"text\":\"a\0b\"}";
    assert_int_equal(raw_request(port, nul, sizeof nul - 1, out, sizeof out), 400);
    assert_non_null(strstr(out, "control character"));
    const char *badlen =
        "POST /predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: abc\r\n\r\n";
    st = raw_request(port, badlen, strlen(badlen), out, sizeof out);
    assert_true(st == 400 || st == 413 || st == 0);

    /* Headers far larger than a connection's memory. */
    size_t hn = 200000;
    char *hbig = malloc(hn + 64);
    int k = snprintf(hbig, 64, "GET /health HTTP/1.1\r\nX-Big: ");
    memset(hbig + k, 'h', hn);
    memcpy(hbig + k + hn, "\r\n\r\n", 4);
    st = raw_request(port, hbig, (size_t)k + hn + 4, out, sizeof out);
    assert_true(st == 0 || st >= 400);
    free(hbig);

    /* Binary noise. */
    Rng rng;
    rng_seed(&rng, 5);
    for (int round = 0; round < 20; round++) {
        char noise[512];
        for (size_t i = 0; i < sizeof noise; i++) noise[i] = (char)rng_below(&rng, 256);
        fd = raw_connect(port);
        raw_send(fd, noise, sizeof noise);
        close(fd);
    }
    expect_alive(port);
    fx_stop(fx);
}

typedef struct {
    int port;
    int ok;
} Client;

static void *client_thread(void *arg) {
    Client *c = arg;
    char out[65536];
    const char *get = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for (int i = 0; i < 25; i++) {
        c->ok += raw_post(c->port, "/predict", "{\"texts\":[\"one\",\"two\"]}") == 200;
        c->ok += raw_request(c->port, get, strlen(get), out, sizeof out) == 200;
    }
    return NULL;
}

static void serves_concurrent_clients(void **state) {
    (void)state;
    HttpConfig cfg;
    http_config_default(&cfg);
    cfg.rate_limit = 0;
    Fx *fx = fx_start(&cfg, HOOKS_ALL);
    enum { T = 6 };
    Client c[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        c[i] = (Client){fx->port, 0};
        assert_int_equal(pthread_create(&th[i], NULL, client_thread, &c[i]), 0);
    }
    /* Meanwhile the "pipeline" updates metrics. */
    for (int i = 0; i < 100000; i++) prom_counter_inc(fx->wm.consumed_total);
    int ok = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        ok += c[i].ok;
    }
    assert_int_equal(ok, T * 50);
    Resp r;
    curl_call(&r, fx->port, "GET", "/metrics", NULL, NULL);
    char err[256];
    if (promtext_check(r.body, r.body_len, NULL, err, sizeof err) != 0) fail_msg("%s\n%s", err, r.body);
    double v;
    assert_int_equal(promtext_value(r.body, "buzzradar_http_requests_total{code=\"200\"}", &v), 0);
    assert_true(v == T * 50);
    assert_int_equal(promtext_value(r.body, "buzzradar_consumed_total", &v), 0);
    assert_true(v == 100000);
    resp_free(&r);
    fx_stop(fx);
}

static void binds_and_reports_errors(void **state) {
    (void)state;
    Fx *fx = fx_start(NULL, HOOKS_ALL);
    HttpConfig cfg;
    http_config_default(&cfg);
    char listen[64], err[256];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", fx->port);
    cfg.listen = listen;
    assert_null(http_server_start(&cfg, NULL, NULL, err, sizeof err)); /* port taken */
    assert_non_null(strstr(err, "cannot listen"));
    cfg.listen = "127.0.0.1:99999";
    assert_null(http_server_start(&cfg, NULL, NULL, err, sizeof err));
    assert_non_null(strstr(err, "port"));
    cfg.listen = "127.0.0.1:0";
    cfg.max_texts = HTTP_MAX_TEXTS_LIMIT + 1;
    assert_null(http_server_start(&cfg, NULL, NULL, err, sizeof err));
    /* A second server cannot register its counters in a registry that has them. */
    http_config_default(&cfg);
    cfg.listen = "127.0.0.1:0";
    assert_null(http_server_start(&cfg, NULL, fx->reg, err, sizeof err));
    assert_non_null(strstr(err, "buzzradar_http_requests_total"));

    /* Stopping with an idle client connected returns promptly. */
    int fd = raw_connect(fx->port);
    raw_send(fd, "GET /hea", 8);
    double t = util_now_s();
    fx_stop(fx);
    assert_true(util_now_s() - t < 5);
    close(fd);
}

int main(void) {
    if (access("/usr/bin/curl", X_OK) != 0) {
        fprintf(stderr, "test_http: curl is missing: run make deps\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(health_answers_ok),
        cmocka_unit_test(ready_follows_the_worker),
        cmocka_unit_test(metrics_follow_the_exposition_format),
        cmocka_unit_test(model_info_serves_the_header),
        cmocka_unit_test(predict_scores_through_the_hook),
        cmocka_unit_test(predict_rejects_bad_requests),
        cmocka_unit_test(feedback_is_validated_and_handed_over),
        cmocka_unit_test(rate_limit_falls_back_in_process),
        cmocka_unit_test(rate_limit_asks_the_hook_first),
        cmocka_unit_test(rate_limit_is_shared_through_redis),
        cmocka_unit_test(rate_limit_counts_ipv6_clients_in_redis),
        cmocka_unit_test(survives_malformed_requests),
        cmocka_unit_test(serves_concurrent_clients),
        cmocka_unit_test(binds_and_reports_errors),
    };
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
