/* http_routes.c — the endpoints of the HTTP server (the table is in http.h): each
 * validates its input, asks the worker through HttpHooks and writes a JSON answer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/classifier.h"
#include "model/metrics.h"
#include "model/utf8.h"
#include "worker/http_internal.h"
#include "worker/http_json.h"
#include "worker/log.h"

#define HTTP_FEEDBACK_ID_MAX 128 /* bytes of a feedback tweet id */

enum MHD_Result http_route_health(HttpServer *s, struct MHD_Connection *c) {
    static const char ok[] = "{\"status\":\"ok\"}";
    return http_reply_json(s, c, MHD_HTTP_OK, ok, sizeof ok - 1);
}

enum MHD_Result http_route_ready(HttpServer *s, struct MHD_Connection *c) {
    HttpStatus st;
    memset(&st, 0, sizeof st);
    st.assigned_partitions = -1;
    if (s->hooks.status) s->hooks.status(s->hooks.ctx, &st);
    st.model_version[sizeof st.model_version - 1] = '\0';
    int ready = s->hooks.status && st.model_loaded && st.assigned_partitions >= 0;

    char version[UTF8_REPAIR_MAX(sizeof st.model_version)];
    size_t vlen = utf8_repair(st.model_version, strlen(st.model_version), version, sizeof version,
                              UTF8_REPAIR_REPLACE, NULL);
    char buf[1536];
    HttpBuf b = {buf, sizeof buf, 0, 0};
    http_buf_fmt(&b, "{\"ready\":%s,\"model_loaded\":%s,\"assigned_partitions\":", ready ? "true" : "false",
                 st.model_loaded ? "true" : "false");
    if (st.assigned_partitions >= 0)
        http_buf_fmt(&b, "%d", st.assigned_partitions);
    else
        http_buf_str(&b, "null");
    http_buf_fmt(&b, ",\"redis\":\"%s\",\"model_version\":", st.redis_up ? "up" : "down");
    if (vlen)
        http_buf_json(&b, version, vlen);
    else
        http_buf_str(&b, "null");
    http_buf_str(&b, "}");
    return http_reply_json(s, c, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, buf, b.len);
}

enum MHD_Result http_route_metrics(HttpServer *s, struct MHD_Connection *c) {
    if (!s->metrics) return http_reply_error(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "no metrics registry");
    size_t cap = prom_render_bound(s->metrics);
    char *text = malloc(cap);
    if (!text) return http_reply_error(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    size_t n = prom_render(s->metrics, text, cap);
    if (n >= cap) { /* families registered between the bound and the render */
        free(text);
        return http_reply_error(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "metrics changed while rendering; retry");
    }
    return http_reply(s, c, MHD_HTTP_OK, PROM_CONTENT_TYPE, text, n, 1, NULL, NULL);
}

enum MHD_Result http_route_model_info(HttpServer *s, struct MHD_Connection *c) {
    const char *json = s->hooks.model_info ? s->hooks.model_info(s->hooks.ctx) : NULL;
    if (!json) return http_reply_error(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "no model loaded");
    return http_reply_json(s, c, MHD_HTTP_OK, json, strlen(json));
}

enum MHD_Result http_route_predict(HttpServer *s, struct MHD_Connection *c, char *body, size_t len) {
    char *texts[HTTP_MAX_TEXTS_LIMIT];
    size_t lens[HTTP_MAX_TEXTS_LIMIT];
    float p[HTTP_MAX_TEXTS_LIMIT];
    char *one = NULL;
    size_t onelen = 0;
    HttpJsonField f[2] = {
        {"text", HTTP_JSON_STRING, 1, &one, &onelen, 0, 0},
        {"texts", HTTP_JSON_STRINGS, s->cfg.max_texts, texts, lens, 0, 0},
    };
    char err[200];
    int rc = http_json_read_object(body, len, f, 2, err, sizeof err);
    if (rc == HTTP_JSON_TOO_MANY)
        return http_reply_error(s, c, MHD_HTTP_CONTENT_TOO_LARGE, "too many texts: at most %d per request",
                                s->cfg.max_texts);
    if (rc != HTTP_JSON_OK) return http_reply_error(s, c, MHD_HTTP_BAD_REQUEST, "%s", err);
    if (f[0].present == f[1].present)
        return http_reply_error(s, c, MHD_HTTP_BAD_REQUEST, "give exactly one of \"text\" or \"texts\"");
    int n = f[0].present ? 1 : f[1].n;
    if (f[0].present) {
        texts[0] = one;
        lens[0] = onelen;
    }
    if (n == 0) return http_reply_error(s, c, MHD_HTTP_BAD_REQUEST, "\"texts\" is empty");
    for (int i = 0; i < n; i++)
        if (lens[i] == 0) return http_reply_error(s, c, MHD_HTTP_BAD_REQUEST, "text %d is empty", i);
    if (!s->hooks.predict) return http_reply_error(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "no model loaded");

    char herr[200] = "";
    if (s->hooks.predict(s->hooks.ctx, (const char *const *)texts, lens, n, p, herr, sizeof herr) != 0) {
        log_warn("http_predict_failed", "predict hook failed: %s", herr[0] ? herr : "no reason given");
        return http_reply_error(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "prediction failed: %s",
                                herr[0] ? herr : "no reason given");
    }
    size_t cap = 32;
    for (int i = 0; i < n; i++) {
        if (!(p[i] >= 0.0f && p[i] <= 1.0f))
            return http_reply_error(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                    "the model gave an invalid probability");
        cap += http_json_escaped_len(texts[i], lens[i]) + 64;
    }
    char *out = malloc(cap);
    if (!out) return http_reply_error(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
    HttpBuf b = {out, cap, 0, 0};
    http_buf_str(&b, "{\"predictions\":[");
    for (int i = 0; i < n; i++) {
        http_buf_str(&b, i ? ",{\"text\":" : "{\"text\":");
        http_buf_json(&b, texts[i], lens[i]);
        http_buf_fmt(&b, ",\"label\":\"%s\",\"p_positive\":%.15g}",
                     metrics_is_positive(p[i]) ? "positive" : "negative", classifier_round_p(p[i]));
    }
    http_buf_str(&b, "]}");
    if (b.overflow) { /* the size above is an upper bound: cannot happen */
        free(out);
        return http_reply_error(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "response too large");
    }
    return http_reply(s, c, MHD_HTTP_OK, "application/json", out, b.len, 1, NULL, NULL);
}

enum MHD_Result http_route_feedback(HttpServer *s, struct MHD_Connection *c, char *body, size_t len) {
    char *id = NULL, *label = NULL;
    size_t idlen = 0, labellen = 0;
    HttpJsonField f[2] = {
        {"id", HTTP_JSON_STRING, 1, &id, &idlen, 0, 0},
        {"label", HTTP_JSON_STRING, 1, &label, &labellen, 0, 0},
    };
    char err[200];
    if (http_json_read_object(body, len, f, 2, err, sizeof err) != HTTP_JSON_OK)
        return http_reply_error(s, c, MHD_HTTP_BAD_REQUEST, "%s", err);
    if (!f[0].present || idlen == 0) return http_reply_error(s, c, MHD_HTTP_BAD_REQUEST, "missing \"id\"");
    if (idlen > HTTP_FEEDBACK_ID_MAX)
        return http_reply_error(s, c, MHD_HTTP_BAD_REQUEST, "\"id\" is longer than %d bytes",
                                HTTP_FEEDBACK_ID_MAX);
    for (size_t i = 0; i < idlen; i++)
        if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
            return http_reply_error(s, c, MHD_HTTP_BAD_REQUEST, "\"id\" contains a control character");
    int positive;
    if (f[1].present && labellen == 8 && memcmp(label, "positive", 8) == 0)
        positive = 1;
    else if (f[1].present && labellen == 8 && memcmp(label, "negative", 8) == 0)
        positive = 0;
    else
        return http_reply_error(s, c, MHD_HTTP_BAD_REQUEST, "\"label\" must be \"negative\" or \"positive\"");
    if (!s->hooks.feedback)
        return http_reply_error(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "feedback is not available");

    char herr[200] = "";
    if (s->hooks.feedback(s->hooks.ctx, id, idlen, positive, herr, sizeof herr) != 0) {
        log_warn("http_feedback_failed", "feedback hook failed: %s", herr[0] ? herr : "no reason given");
        return http_reply_error(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, "feedback not accepted: %s",
                                herr[0] ? herr : "no reason given");
    }
    char buf[64 + 6 * HTTP_FEEDBACK_ID_MAX];
    HttpBuf b = {buf, sizeof buf, 0, 0};
    http_buf_str(&b, "{\"accepted\":true,\"id\":");
    http_buf_json(&b, id, idlen);
    http_buf_str(&b, "}");
    return http_reply_json(s, c, MHD_HTTP_ACCEPTED, buf, b.len);
}
