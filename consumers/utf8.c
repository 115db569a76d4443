/* utf8.c — strict UTF-8 validation and U+FFFD repair (see utf8.h). */
#include "consumers/utf8.h"

#include <string.h>

int utf8_sequence(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    int len;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0; /* overlong */
        if (c == 0xED) hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90; /* overlong */
        if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
    } else
        return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
    if (n < (size_t)len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

int utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        int k = utf8_sequence(p + i, n - i);
        if (!k) return 0;
        i += (size_t)k;
    }
    return 1;
}

size_t utf8_repair(const char *s, size_t n, char *out, size_t *replaced) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0, bad = 0;
    while (i < n) {
        int k = p[i] < 0x80 ? 1 : utf8_sequence(p + i, n - i);
        if (k) {
            memcpy(out + o, p + i, (size_t)k);
            o += (size_t)k;
            i += (size_t)k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
            bad++;
        }
    }
    out[o] = '\0';
    if (replaced) *replaced = bad;
    return o;
}
