/* json_writer.c — bounded JSON writing (see json_writer.h). */
#include "producers/json_writer.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void jw_init(JsonWriter *w, char *buf, size_t cap) {
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->overflow = cap == 0;
}

/* Room for n more bytes and the final NUL? Sets overflow when not. */
static int room(JsonWriter *w, size_t n) {
    if (w->overflow || w->len + n + 1 > w->cap) {
        w->overflow = 1;
        return 0;
    }
    return 1;
}

static void put(JsonWriter *w, const char *s, size_t n) {
    if (!room(w, n)) return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

void jw_raw(JsonWriter *w, const char *s) { put(w, s, strlen(s)); }

size_t jw_string_bound(size_t n) { return 6 * n + 2; }

void jw_string(JsonWriter *w, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    put(w, "\"", 1);
    size_t start = 0; /* runs of plain bytes are copied at once */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put(w, s + start, i - start);
        start = i + 1;
        char esc[6] = {'\\', 0};
        size_t len = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        put(w, esc, len);
    }
    put(w, s + start, n - start);
    put(w, "\"", 1);
}

void jw_int(JsonWriter *w, int64_t v) {
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    put(w, tmp, (size_t)n);
}

void jw_number(JsonWriter *w, double v, int decimals) {
    if (!isfinite(v)) {
        put(w, "null", 4);
        return;
    }
    if (decimals < 0) decimals = 0;
    if (decimals > 9) decimals = 9;
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
    if (n < 0 || n >= (int)sizeof tmp) { /* |v| beyond 1e50: no fixed notation */
        n = snprintf(tmp, sizeof tmp, "%.17g", v);
    } else if (decimals > 0) {
        while (n > 0 && tmp[n - 1] == '0') n--;
        if (n > 0 && tmp[n - 1] == '.') n--;
    }
    if (n == 2 && !memcmp(tmp, "-0", 2)) { /* -0.0000001 rounds to "-0" */
        tmp[0] = '0';
        n = 1;
    }
    put(w, tmp, (size_t)n);
}

size_t jw_finish(JsonWriter *w) {
    if (w->overflow) return 0;
    w->buf[w->len] = '\0';
    return w->len;
}
