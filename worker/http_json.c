/* http_json.c — the allocation-free JSON reader and string escaping of http_json.h. */
#include "worker/http_json.h"

#include <stdio.h>
#include <string.h>

#include "model/utf8.h"

typedef struct {
    char *buf;
    size_t len;
    size_t pos;
    char *err;
    size_t errlen;
} JsonIn;

static int jr_fail(JsonIn *in, const char *what) {
    if (in->pos >= in->len)
        snprintf(in->err, in->errlen, "invalid JSON: %s at the end of the body", what);
    else
        snprintf(in->err, in->errlen, "invalid JSON at byte %zu: %s", in->pos, what);
    return HTTP_JSON_INVALID;
}

static void jr_ws(JsonIn *in) {
    while (in->pos < in->len) {
        char c = in->buf[in->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        in->pos++;
    }
}

/* 1 when the next byte is c (without consuming it). */
static int jr_at(const JsonIn *in, char c) { return in->pos < in->len && in->buf[in->pos] == c; }

static int jr_hex4(JsonIn *in, unsigned *out) {
    if (in->len - in->pos < 4) return jr_fail(in, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = in->buf[in->pos + (size_t)i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return jr_fail(in, "invalid hex digit in \\u escape");
        v = v * 16 + d;
    }
    in->pos += 4;
    *out = v;
    return HTTP_JSON_OK;
}

/* Decodes the \uXXXX escape whose 'u' was just consumed (a surrogate pair takes two
 * escapes) into a code point. */
static int jr_unicode(JsonIn *in, unsigned *cp) {
    unsigned hi, lo;
    if (jr_hex4(in, &hi) != HTTP_JSON_OK) return HTTP_JSON_INVALID;
    if (hi >= 0xDC00 && hi <= 0xDFFF) return jr_fail(in, "lone low surrogate in \\u escape");
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp = hi;
        return HTTP_JSON_OK;
    }
    if (in->len - in->pos < 2 || in->buf[in->pos] != '\\' || in->buf[in->pos + 1] != 'u')
        return jr_fail(in, "lone high surrogate in \\u escape");
    in->pos += 2;
    if (jr_hex4(in, &lo) != HTTP_JSON_OK) return HTTP_JSON_INVALID;
    if (lo < 0xDC00 || lo > 0xDFFF) return jr_fail(in, "high surrogate not followed by a low one");
    *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    return HTTP_JSON_OK;
}

/* Reads the string starting at the current '"' and decodes it in place: the decoded
 * bytes never outrun the bytes read, so they overwrite only consumed input. */
static int jr_string(JsonIn *in, char **out, size_t *outlen) {
    size_t start = ++in->pos, w = start;
    for (;;) {
        if (in->pos >= in->len) return jr_fail(in, "unterminated string");
        unsigned char c = (unsigned char)in->buf[in->pos];
        if (c == '"') break;
        if (c < 0x20) return jr_fail(in, "control character in a string");
        if (c != '\\') {
            in->buf[w++] = (char)c;
            in->pos++;
            continue;
        }
        if (in->pos + 1 >= in->len) return jr_fail(in, "unterminated string");
        char e = in->buf[in->pos + 1], d;
        in->pos += 2;
        switch (e) {
        case '"':
            d = '"';
            break;
        case '\\':
            d = '\\';
            break;
        case '/':
            d = '/';
            break;
        case 'b':
            d = '\b';
            break;
        case 'f':
            d = '\f';
            break;
        case 'n':
            d = '\n';
            break;
        case 'r':
            d = '\r';
            break;
        case 't':
            d = '\t';
            break;
        case 'u': {
            unsigned cp;
            if (jr_unicode(in, &cp) != HTTP_JSON_OK) return HTTP_JSON_INVALID;
            char tmp[4];
            int n = utf8_encode(cp, tmp);
            memcpy(in->buf + w, tmp, (size_t)n);
            w += (size_t)n;
            continue;
        }
        default:
            in->pos -= 1;
            return jr_fail(in, "invalid escape");
        }
        in->buf[w++] = d;
    }
    in->buf[w] = '\0'; /* w <= the closing quote's index */
    if (!utf8_valid(in->buf + start, w - start)) {
        in->pos = start;
        return jr_fail(in, "string is not valid UTF-8");
    }
    in->pos++;
    if (out) *out = in->buf + start;
    if (outlen) *outlen = w - start;
    return HTTP_JSON_OK;
}

static int jr_digits(JsonIn *in) {
    size_t s = in->pos;
    while (in->pos < in->len && in->buf[in->pos] >= '0' && in->buf[in->pos] <= '9') in->pos++;
    return in->pos > s;
}

static int jr_number(JsonIn *in) {
    if (jr_at(in, '-')) in->pos++;
    if (jr_at(in, '0'))
        in->pos++;
    else if (!jr_digits(in))
        return jr_fail(in, "invalid number");
    if (jr_at(in, '.')) {
        in->pos++;
        if (!jr_digits(in)) return jr_fail(in, "invalid number");
    }
    if (jr_at(in, 'e') || jr_at(in, 'E')) {
        in->pos++;
        if (jr_at(in, '+') || jr_at(in, '-')) in->pos++;
        if (!jr_digits(in)) return jr_fail(in, "invalid number");
    }
    return HTTP_JSON_OK;
}

static int jr_literal(JsonIn *in, const char *word) {
    size_t n = strlen(word);
    if (in->len - in->pos < n || memcmp(in->buf + in->pos, word, n) != 0)
        return jr_fail(in, "invalid literal");
    in->pos += n;
    return HTTP_JSON_OK;
}

static int jr_skip_value(JsonIn *in, int depth);

/* Skips the elements of an array or the members of an object whose opening bracket
 * is at the current position. */
static int jr_skip_container(JsonIn *in, int depth, char close) {
    in->pos++;
    jr_ws(in);
    if (jr_at(in, close)) {
        in->pos++;
        return HTTP_JSON_OK;
    }
    for (;;) {
        jr_ws(in);
        if (close == '}') {
            if (!jr_at(in, '"')) return jr_fail(in, "expected a string key");
            if (jr_string(in, NULL, NULL) != HTTP_JSON_OK) return HTTP_JSON_INVALID;
            jr_ws(in);
            if (!jr_at(in, ':')) return jr_fail(in, "expected ':'");
            in->pos++;
            jr_ws(in);
        }
        if (jr_skip_value(in, depth + 1) != HTTP_JSON_OK) return HTTP_JSON_INVALID;
        jr_ws(in);
        if (jr_at(in, ',')) {
            in->pos++;
            continue;
        }
        if (jr_at(in, close)) {
            in->pos++;
            return HTTP_JSON_OK;
        }
        return jr_fail(in, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int jr_skip_value(JsonIn *in, int depth) {
    if (depth > HTTP_JSON_MAX_DEPTH) return jr_fail(in, "nesting too deep");
    if (in->pos >= in->len) return jr_fail(in, "expected a value");
    switch (in->buf[in->pos]) {
    case '{':
        return jr_skip_container(in, depth, '}');
    case '[':
        return jr_skip_container(in, depth, ']');
    case '"':
        return jr_string(in, NULL, NULL);
    case 't':
        return jr_literal(in, "true");
    case 'f':
        return jr_literal(in, "false");
    case 'n':
        return jr_literal(in, "null");
    default:
        if (in->buf[in->pos] == '-' || (in->buf[in->pos] >= '0' && in->buf[in->pos] <= '9'))
            return jr_number(in);
        return jr_fail(in, "expected a value");
    }
}

static int jr_type_error(JsonIn *in, const HttpJsonField *f) {
    snprintf(in->err, in->errlen, "'%s' must be %s", f->key,
             f->kind == HTTP_JSON_STRING ? "a string" : "an array of strings");
    return HTTP_JSON_INVALID;
}

static int jr_field(JsonIn *in, HttpJsonField *f) {
    if (f->present) {
        snprintf(in->err, in->errlen, "field '%s' appears twice", f->key);
        return HTTP_JSON_INVALID;
    }
    f->present = 1;
    if (!jr_at(in, f->kind == HTTP_JSON_STRING ? '"' : '[')) {
        /* Tell a malformed document from a well-formed one of the wrong type. */
        if (jr_skip_value(in, 1) != HTTP_JSON_OK) return HTTP_JSON_INVALID;
        return jr_type_error(in, f);
    }
    if (f->kind == HTTP_JSON_STRING) {
        f->n = 1;
        return jr_string(in, &f->str[0], &f->len[0]);
    }
    in->pos++;
    jr_ws(in);
    if (jr_at(in, ']')) {
        in->pos++;
        return HTTP_JSON_OK;
    }
    for (;;) {
        jr_ws(in);
        if (!jr_at(in, '"')) {
            /* Tell a malformed document from a well-formed one of the wrong type. */
            if (jr_skip_value(in, 2) != HTTP_JSON_OK) return HTTP_JSON_INVALID;
            return jr_type_error(in, f);
        }
        if (f->n == f->max) {
            snprintf(in->err, in->errlen, "'%s' has more than %d entries", f->key, f->max);
            return HTTP_JSON_TOO_MANY;
        }
        if (jr_string(in, &f->str[f->n], &f->len[f->n]) != HTTP_JSON_OK) return HTTP_JSON_INVALID;
        f->n++;
        jr_ws(in);
        if (jr_at(in, ',')) {
            in->pos++;
            continue;
        }
        if (jr_at(in, ']')) {
            in->pos++;
            return HTTP_JSON_OK;
        }
        return jr_fail(in, "expected ',' or ']'");
    }
}

static HttpJsonField *jr_lookup(HttpJsonField *fields, int n, const char *key, size_t keylen) {
    for (int i = 0; i < n; i++)
        if (strlen(fields[i].key) == keylen && memcmp(fields[i].key, key, keylen) == 0) return &fields[i];
    return NULL;
}

int http_json_read_object(char *buf, size_t len, HttpJsonField *fields, int nfields, char *err,
                          size_t errlen) {
    JsonIn in = {buf, len, 0, err, errlen};
    for (int i = 0; i < nfields; i++) fields[i].present = fields[i].n = 0;
    jr_ws(&in);
    if (in.pos >= in.len) {
        snprintf(err, errlen, "empty body: expected a JSON object");
        return HTTP_JSON_INVALID;
    }
    if (!jr_at(&in, '{')) return jr_fail(&in, "expected a JSON object");
    in.pos++;
    jr_ws(&in);
    if (jr_at(&in, '}')) {
        in.pos++;
    } else {
        for (;;) {
            jr_ws(&in);
            if (!jr_at(&in, '"')) return jr_fail(&in, "expected a string key");
            char *key;
            size_t keylen;
            if (jr_string(&in, &key, &keylen) != HTTP_JSON_OK) return HTTP_JSON_INVALID;
            jr_ws(&in);
            if (!jr_at(&in, ':')) return jr_fail(&in, "expected ':'");
            in.pos++;
            jr_ws(&in);
            HttpJsonField *f = jr_lookup(fields, nfields, key, keylen);
            int rc = f ? jr_field(&in, f) : jr_skip_value(&in, 1);
            if (rc != HTTP_JSON_OK) return rc;
            jr_ws(&in);
            if (jr_at(&in, ',')) {
                in.pos++;
                continue;
            }
            if (jr_at(&in, '}')) {
                in.pos++;
                break;
            }
            return jr_fail(&in, "expected ',' or '}'");
        }
    }
    jr_ws(&in);
    if (in.pos != in.len) return jr_fail(&in, "unexpected data after the object");
    return HTTP_JSON_OK;
}

/* The escape of byte c, or NULL when c is written as is ("\\u00XX" for other controls). */
static const char *json_short_escape(unsigned char c) {
    switch (c) {
    case '"':
        return "\\\"";
    case '\\':
        return "\\\\";
    case '\b':
        return "\\b";
    case '\f':
        return "\\f";
    case '\n':
        return "\\n";
    case '\r':
        return "\\r";
    case '\t':
        return "\\t";
    default:
        return NULL;
    }
}

size_t http_json_escaped_len(const char *s, size_t n) {
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (json_short_escape(c))
            out += 2;
        else if (c < 0x20)
            out += 6;
        else
            out += 1;
    }
    return out;
}

size_t http_json_escape(const char *s, size_t n, char *out) {
    static const char hex[] = "0123456789abcdef";
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *e = json_short_escape(c);
        if (e) {
            out[w++] = e[0];
            out[w++] = e[1];
        } else if (c < 0x20) {
            memcpy(out + w, "\\u00", 4);
            out[w + 4] = hex[c >> 4];
            out[w + 5] = hex[c & 15];
            w += 6;
        } else {
            out[w++] = (char)c;
        }
    }
    return w;
}
