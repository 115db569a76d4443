/* tweet.c — raw tweet decoding and validation with cJSON (see tweet.h). */
#include "consumers/tweet.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "model/utf8.h"

static const char *const reasons[] = {
    [TWEET_OK] = "ok",
    [TWEET_TOO_LARGE] = "too_large",
    [TWEET_INVALID_JSON] = "invalid_json",
    [TWEET_MISSING_ID] = "missing_id",
    [TWEET_MISSING_TEXT] = "missing_text",
    [TWEET_EMPTY_TEXT] = "empty_text",
    [TWEET_INVALID_UTF8] = "invalid_utf8",
};

const char *tweet_reason(TweetStatus s) {
    return (unsigned)s < sizeof reasons / sizeof reasons[0] ? reasons[s] : "unknown";
}

/* id (<= TWEET_ID_MAX) + NUL + repaired text with its NUL */
size_t tweet_decode_bound(size_t len) { return TWEET_ID_MAX + 1 + UTF8_REPAIR_MAX(len); }

static int is_json_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* A UTF-16 or UTF-32 payload: a byte-order mark, or NUL bytes (never valid in JSON). */
static int looks_utf16_or_32(const unsigned char *p, size_t n) {
    if (n >= 2 && ((p[0] == 0xFF && p[1] == 0xFE) || (p[0] == 0xFE && p[1] == 0xFF))) return 1;
    return memchr(p, 0, n) != NULL;
}

/* The string member `name` of obj, or NULL. */
static const cJSON *string_member(const cJSON *obj, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) && v->valuestring ? v : NULL;
}

/* Writes the tweet's id into buf (NUL-terminated). Returns TWEET_OK or the reason. */
static TweetStatus decode_id(const cJSON *tw, char *buf, size_t *len) {
    const cJSON *v = string_member(tw, "id_str");
    if (!v) v = string_member(tw, "id");
    if (v) {
        size_t n = strlen(v->valuestring);
        if (n == 0) return TWEET_MISSING_ID;
        if (n > TWEET_ID_MAX) return TWEET_TOO_LARGE;
        if (!utf8_valid(v->valuestring, n)) return TWEET_INVALID_UTF8;
        memcpy(buf, v->valuestring, n + 1);
        *len = n;
        return TWEET_OK;
    }
    v = cJSON_GetObjectItemCaseSensitive(tw, "id");
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d < 0 || d > 9007199254740992.0 || d != floor(d)) return TWEET_MISSING_ID;
        *len = (size_t)snprintf(buf, TWEET_ID_MAX + 1, "%.0f", d);
        return TWEET_OK;
    }
    return TWEET_MISSING_ID;
}

/* The text member by preference (see tweet.h), or NULL. */
static const cJSON *find_text(const cJSON *tw) {
    const cJSON *v = string_member(cJSON_GetObjectItemCaseSensitive(tw, "note_tweet"), "text");
    if (!v) v = string_member(cJSON_GetObjectItemCaseSensitive(tw, "extended_tweet"), "full_text");
    if (!v) v = string_member(tw, "full_text");
    if (!v) v = string_member(tw, "text");
    return v;
}

TweetStatus tweet_decode(const void *payload, size_t len, size_t max_bytes, Tweet *out, char *buf,
                         size_t cap) {
    if (len > max_bytes || cap < tweet_decode_bound(len)) return TWEET_TOO_LARGE;
    const unsigned char *p = payload;
    if (len == 0 || !p) return TWEET_INVALID_JSON;
    if (looks_utf16_or_32(p, len)) return TWEET_INVALID_UTF8;
    if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) { /* UTF-8 BOM */
        p += 3;
        len -= 3;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)p, len, &end, 0);
    if (!root) return TWEET_INVALID_JSON;
    TweetStatus st = TWEET_OK;
    for (const char *q = end; q < (const char *)p + len; q++)
        if (!is_json_space((unsigned char)*q)) st = TWEET_INVALID_JSON;
    const cJSON *tw = root;
    if (st == TWEET_OK && !cJSON_IsObject(root)) st = TWEET_INVALID_JSON;
    if (st == TWEET_OK) {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
        if (cJSON_IsObject(data)) tw = data;
        st = decode_id(tw, buf, &out->id_len);
    }
    const cJSON *text = st == TWEET_OK ? find_text(tw) : NULL;
    if (st == TWEET_OK && !text) st = TWEET_MISSING_TEXT;
    if (st == TWEET_OK) {
        const char *s = text->valuestring;
        size_t n = strlen(s), i = 0;
        while (i < n && (is_json_space((unsigned char)s[i]) || s[i] == '\f' || s[i] == '\v')) i++;
        if (i == n)
            st = TWEET_EMPTY_TEXT;
        else {
            out->id = buf;
            char *t = buf + out->id_len + 1;
            out->text = t;
            out->text_len = utf8_repair(s, n, t, UTF8_REPAIR_MAX(n), UTF8_REPAIR_REPLACE, &out->repaired);
        }
    }
    cJSON_Delete(root);
    return st;
}
