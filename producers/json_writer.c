/* json_writer.c — bounded JSON writing (see json_writer.h). */
#include "producers/json_writer.h"

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

/* Writes the decimal digits of u backwards, the last one at end[-1]; returns a
 * pointer to the first. */
static char *digits_u64(char *end, uint64_t u) {
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    return end;
}

void jw_int(JsonWriter *w, int64_t v) {
    char tmp[20]; /* "-9223372036854775808" */
    char *end = tmp + sizeof tmp;
    char *p = digits_u64(end, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    if (v < 0) *--p = '-';
    put(w, p, (size_t)(end - p));
}

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 u128;

/* Exact fixed notation. A finite double is m * 2^e with an integer m < 2^53. With
 * |v| < 2^64 its integer part `ip` fits a uint64_t, and its fraction is f / 2^s
 * (s = -e > 0, f < 2^s). The printed decimals are f * 10^d / 2^s rounded half to
 * even, computed exactly in 128 bits: f < 2^53 and 10^d < 2^30 once the integer
 * part is split off, so f * 10^d < 2^83. A fraction that rounds to 10^d carries into
 * the integer part; that happens only below 2^53, where ip + 1 cannot overflow.
 * Nothing else rounds: the integer part is exact. */
size_t jw_format_fixed(char *out, double v, int decimals) {
    static const uint64_t pow10[10] = {1,      10,      100,      1000,      10000,
                                       100000, 1000000, 10000000, 100000000, 1000000000};
    if (decimals < 0 || decimals > 9) return 0;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int neg = (int)(bits >> 63);
    int bexp = (int)(bits >> 52 & 0x7ff);
    uint64_t m = bits & ((UINT64_C(1) << 52) - 1);
    if (bexp >= 1023 + 64) return 0; /* |v| >= 2^64, inf, NaN */
    int e = bexp ? bexp - 1075 : -1074;
    if (bexp) m |= UINT64_C(1) << 52;

    uint64_t ip, frac = 0; /* frac: the printed decimals, < 10^decimals */
    if (e >= 0) {
        ip = m << e; /* an integer; e <= 11 here, so no bit is lost */
    } else {
        int s = -e;
        uint64_t f = m;
        ip = 0;
        if (s < 64) {
            ip = m >> s;
            f = m & ((UINT64_C(1) << s) - 1);
        }
        if (s < 120) { /* else f * 10^d < 2^83 is below half a unit: rounds to 0 */
            u128 p = (u128)f * pow10[decimals];
            u128 q = p >> s, r = p - (q << s), half = (u128)1 << (s - 1);
            /* the last printed digit is q's, or ip's when there are no decimals */
            uint64_t odd = decimals ? (uint64_t)q & 1 : ip & 1;
            if (r > half || (r == half && odd)) q++;
            frac = (uint64_t)q;
            if (frac == pow10[decimals]) { /* 0.9999996 -> 1.000000 */
                frac = 0;
                ip++;
            }
        }
    }

    char tmp[JW_FIXED_MAX];
    char *end = tmp + sizeof tmp;
    char *p = end;
    if (decimals > 0) {
        for (int i = 0; i < decimals; i++) {
            *--p = (char)('0' + frac % 10);
            frac /= 10;
        }
        *--p = '.';
    }
    p = digits_u64(p, ip);
    if (neg) *--p = '-';
    size_t n = (size_t)(end - p);
    memcpy(out, p, n);
    return n;
}
#else
size_t jw_format_fixed(char *out, double v, int decimals) {
    (void)out, (void)v, (void)decimals;
    return 0;
}
#endif

void jw_number(JsonWriter *w, double v, int decimals) {
    if (!isfinite(v)) {
        put(w, "null", 4);
        return;
    }
    if (decimals < 0) decimals = 0;
    if (decimals > 9) decimals = 9;
    char tmp[64];
    int n = (int)jw_format_fixed(tmp, v, decimals);
    if (n == 0) n = snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
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
