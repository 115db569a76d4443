/* utf8.c — UTF-8 decoding with repair, encoding, validation, latin-1 and
 * Windows-1252 conversion, mojibake repair and simple lowercasing (contracts in
 * utf8.h). */
#include "model/utf8.h"

#include <string.h>

/* Decodes one well-formed sequence at s[0..len). Returns its length (1..4) and the
 * codepoint in *cp, or 0 when the input does not start with a well-formed sequence;
 * then *cp holds the length of the maximal invalid subpart (>= 1). The byte ranges
 * are those of Table 3-7 of the Unicode Standard. */
static size_t decode_strict(const unsigned char *s, size_t len, uint32_t *cp) {
    unsigned char b0 = s[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    size_t need;
    uint32_t c;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
        c = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        c = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0; /* overlong */
        if (b0 == 0xED) hi = 0x9F; /* surrogates */
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        c = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90; /* overlong */
        if (b0 == 0xF4) hi = 0x8F; /* above U+10FFFF */
    } else {
        *cp = 1; /* 0x80-0xC1 or 0xF5-0xFF: never a lead byte */
        return 0;
    }
    for (size_t k = 1; k <= need; k++) {
        if (k >= len) {
            *cp = k; /* truncated at the end of the input */
            return 0;
        }
        unsigned char b = s[k];
        if (b < lo || b > hi) {
            *cp = k; /* the maximal subpart ends before the first misfit */
            return 0;
        }
        lo = 0x80, hi = 0xBF;
        c = (c << 6) | (b & 0x3F);
    }
    *cp = c;
    return need + 1;
}

uint32_t utf8_decode(const unsigned char *s, size_t len, size_t *adv) {
    uint32_t cp;
    size_t n = decode_strict(s, len, &cp);
    if (n) {
        *adv = n;
        return cp;
    }
    *adv = cp;
    return UTF8_REPLACEMENT;
}

int utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = UTF8_REPLACEMENT;
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* 1 when s[0..len) is well-formed UTF-8 (and, when nul_ok is 0, holds no NUL byte).
 * Runs of ASCII go 8 bytes at a time: most text is mostly ASCII. */
static inline int valid(const unsigned char *s, size_t len, int nul_ok) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            /* (v - ones) & ~v & highs is nonzero exactly when v holds a zero byte */
            if (!(v & highs) && (nul_ok || !((v - ones) & ~v & highs))) {
                i += 8;
                continue;
            }
        }
        if (s[i] < 0x80) {
            if (!s[i] && !nul_ok) return 0;
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = decode_strict(s + i, len - i, &cp);
        if (!n) return 0;
        i += n;
    }
    return 1;
}

int utf8_valid(const char *s, size_t len) { return valid((const unsigned char *)s, len, 1); }

int utf8_valid_cstr(const char *s, size_t len) { return valid((const unsigned char *)s, len, 0); }

/* Appends n bytes to out[*w] when they fit before the NUL; returns 0 when full. */
static int put(char *out, size_t cap, size_t *w, const char *b, size_t n) {
    if (*w + n + 1 > cap) return 0;
    memcpy(out + *w, b, n);
    *w += n;
    return 1;
}

/* Appends the UTF-8 form of cp like put(). */
static int put_cp(char *out, size_t cap, size_t *w, uint32_t cp) {
    char enc[4];
    size_t n = (size_t)utf8_encode(cp, enc);
    return put(out, cap, w, enc, n);
}

static void terminate(char *out, size_t cap, size_t w) {
    if (cap) out[w] = '\0';
}

/* utf8_repair; with nul_ok 0 (only used with UTF8_REPAIR_REPLACE) a NUL byte is an
 * invalid unit too. */
static size_t repair(const char *s, size_t len, char *out, size_t cap, Utf8RepairMode mode, int nul_ok,
                     size_t *nbad) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, w = 0, bad = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = decode_strict(u + i, len - i, &cp);
        if (n && (u[i] || nul_ok)) {
            if (!put(out, cap, &w, s + i, n)) break;
            i += n;
            continue;
        }
        const size_t unit = n ? 1 : cp; /* a NUL byte, or a maximal invalid subpart */
        bad++;
        if (mode == UTF8_REPAIR_LATIN1) { /* one byte at a time, as latin-1 */
            if (!put_cp(out, cap, &w, u[i])) break;
            i++;
        } else {
            if (!put_cp(out, cap, &w, UTF8_REPLACEMENT)) break;
            i += unit;
        }
    }
    terminate(out, cap, w);
    if (nbad) *nbad = bad;
    return w;
}

size_t utf8_repair(const char *s, size_t len, char *out, size_t cap, Utf8RepairMode mode, size_t *nbad) {
    return repair(s, len, out, cap, mode, 1, nbad);
}

size_t utf8_repair_cstr(const char *s, size_t len, char *out, size_t cap, size_t *nbad) {
    return repair(s, len, out, cap, UTF8_REPAIR_REPLACE, 0, nbad);
}

size_t utf8_from_latin1(const char *s, size_t len, char *out, size_t cap) {
    const unsigned char *u = (const unsigned char *)s;
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        if (!put_cp(out, cap, &w, u[i])) break;
    }
    terminate(out, cap, w);
    return w;
}

/* Codepoints of bytes 0x80-0x9F in Windows-1252 (unassigned bytes keep their C1 codepoint). */
static const uint16_t cp1252_c1[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

size_t utf8_from_cp1252_cstr(const char *s, size_t len, char *out, size_t cap) {
    const unsigned char *u = (const unsigned char *)s;
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t cp = u[i];
        if (cp == 0)
            cp = UTF8_REPLACEMENT;
        else if (cp >= 0x80 && cp < 0xA0)
            cp = cp1252_c1[cp - 0x80];
        if (!put_cp(out, cap, &w, cp)) break;
    }
    terminate(out, cap, w);
    return w;
}

uint32_t utf8_unmojibake(const unsigned char *s, size_t len, size_t *adv) {
    /* The latin-1 reading of a lead byte L in 0xC2..0xF4 is U+00L, encoded C3 (L-0x40);
     * of a continuation byte B in 0x80..0xBF it is U+00B, encoded C2 B. */
    if (len < 4 || s[0] != 0xC3 || s[1] < 0x82 || s[1] > 0xB4) return 0;
    unsigned char orig[4];
    orig[0] = (unsigned char)(s[1] + 0x40);
    size_t need = orig[0] < 0xE0 ? 1 : orig[0] < 0xF0 ? 2 : 3;
    if (len < 2 + 2 * need) return 0;
    for (size_t k = 1; k <= need; k++) {
        if (s[2 * k] != 0xC2 || s[2 * k + 1] < 0x80 || s[2 * k + 1] > 0xBF) return 0;
        orig[k] = s[2 * k + 1];
    }
    uint32_t cp;
    if (decode_strict(orig, need + 1, &cp) != need + 1) return 0;
    *adv = 2 + 2 * need;
    return cp;
}

size_t utf8_fix_mojibake(const char *s, size_t len, char *out, size_t cap, size_t *nfixed) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, w = 0, fixed = 0;
    while (i < len) {
        size_t adv;
        uint32_t cp = u[i] == 0xC3 ? utf8_unmojibake(u + i, len - i, &adv) : 0;
        if (cp) {
            if (!put_cp(out, cap, &w, cp)) break;
            fixed++;
            i += adv;
            continue;
        }
        /* copy one character (or one stray byte) unchanged */
        size_t n = 1;
        if (u[i] >= 0x80) {
            uint32_t c;
            n = decode_strict(u + i, len - i, &c);
            if (!n) n = 1;
        }
        if (!put(out, cap, &w, s + i, n)) break;
        i += n;
    }
    terminate(out, cap, w);
    if (nfixed) *nfixed = fixed;
    return w;
}

uint32_t utf8_tolower(uint32_t c) {
    if (c < 0x80) return c - 'A' < 26u ? c + 32 : c;
    if (c < 0x100) return c >= 0xC0 && c <= 0xDE && c != 0xD7 ? c + 32 : c;
    if (c < 0x180) { /* Latin Extended-A: pairs, upper case first */
        if (c == 0x130) return 'i';
        if (c == 0x178) return 0xFF;
        if ((c <= 0x137) || (c >= 0x14A && c <= 0x177)) return c | 1;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return c & 1 ? c + 1 : c;
        return c;
    }
    if (c >= 0x370 && c < 0x400) { /* Greek */
        if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;
        if (c == 0x386) return 0x3AC;
        if (c >= 0x388 && c <= 0x38A) return c + 37;
        if (c == 0x38C) return 0x3CC;
        if (c == 0x38E || c == 0x38F) return c + 63;
        return c;
    }
    if (c >= 0x400 && c < 0x530) { /* Cyrillic and its supplement */
        if (c <= 0x40F) return c + 80;
        if (c <= 0x42F) return c + 32;
        if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0)) return c | 1;
        if (c == 0x4C0) return 0x4CF;
        if (c >= 0x4C1 && c <= 0x4CE) return c & 1 ? c + 1 : c;
        return c;
    }
    if (c >= 0x531 && c <= 0x556) return c + 48; /* Armenian */
    if ((c >= 0x1E00 && c <= 0x1E95) || (c >= 0x1EA0 && c <= 0x1EFF)) return c | 1;
    return c;
}
