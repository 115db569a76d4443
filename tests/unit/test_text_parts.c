/* test_text_parts.c — the building blocks of the text pipeline: UTF-8 decoding and
 * repair (every invalid pattern), the C-string variants the dataset loader uses
 * (NUL as invalid, Windows-1252), latin-1 and mojibake conversion, lowercasing,
 * HTML character references, the emoticon matcher and the cached stemmer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "model/emoticon.h"
#include "model/html_entity.h"
#include "model/stem_cache.h"
#include "model/utf8.h"

/* ---- utf8_decode ---- */

typedef struct {
    const char *bytes;
    size_t len;
    uint32_t cp; /* expected codepoint */
    size_t adv;  /* expected bytes used */
} DecodeCase;

static void utf8_decode_valid_and_every_invalid_pattern(void **state) {
    (void)state;
    static const DecodeCase cases[] = {
        {"A", 1, 'A', 1},
        {"\xC3\xA9", 2, 0xE9, 2},             /* é */
        {"\xE2\x82\xAC", 3, 0x20AC, 3},       /* € */
        {"\xF0\x9F\x98\x80", 4, 0x1F600, 4},  /* 😀 */
        {"\xF4\x8F\xBF\xBF", 4, 0x10FFFF, 4}, /* the last codepoint */
        {"\xED\x9F\xBF", 3, 0xD7FF, 3},       /* just below the surrogates */
        {"\x80", 1, UTF8_REPLACEMENT, 1},     /* lone continuation byte */
        {"\xBF", 1, UTF8_REPLACEMENT, 1},
        {"\xC0\xAF", 2, UTF8_REPLACEMENT, 1}, /* overlong '/': C0 is never valid */
        {"\xC1\xBF", 2, UTF8_REPLACEMENT, 1},
        {"\xE0\x80\xAF", 3, UTF8_REPLACEMENT, 1},     /* overlong 3-byte: E0 needs A0..BF */
        {"\xF0\x80\x80\xAF", 4, UTF8_REPLACEMENT, 1}, /* overlong 4-byte */
        {"\xED\xA0\x80", 3, UTF8_REPLACEMENT, 1},     /* surrogate U+D800 */
        {"\xED\xBF\xBF", 3, UTF8_REPLACEMENT, 1},     /* surrogate U+DFFF */
        {"\xF4\x90\x80\x80", 4, UTF8_REPLACEMENT, 1}, /* U+110000 */
        {"\xF5\x80\x80\x80", 4, UTF8_REPLACEMENT, 1}, /* F5..FF never valid */
        {"\xFE", 1, UTF8_REPLACEMENT, 1},
        {"\xFF", 1, UTF8_REPLACEMENT, 1},
        {"\xE2\x82", 2, UTF8_REPLACEMENT, 2}, /* truncated at the end: one unit */
        {"\xF0\x9F\x98", 3, UTF8_REPLACEMENT, 3},
        {"\xE2\x82"
         "A",
         3, UTF8_REPLACEMENT, 2}, /* truncated before an ASCII byte */
        {"\xC3"
         "A",
         2, UTF8_REPLACEMENT, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t adv = 99;
        uint32_t cp = utf8_decode((const unsigned char *)cases[k].bytes, cases[k].len, &adv);
        assert_int_equal(cp, cases[k].cp);
        assert_int_equal(adv, cases[k].adv);
        assert_int_equal(utf8_valid(cases[k].bytes, cases[k].len), cases[k].cp != UTF8_REPLACEMENT);
    }
}

static void utf8_encode_round_trips(void **state) {
    (void)state;
    static const uint32_t cps[] = {0, 'a', 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x1F600, 0x10FFFF};
    for (size_t k = 0; k < sizeof cps / sizeof cps[0]; k++) {
        char buf[4];
        int n = utf8_encode(cps[k], buf);
        size_t adv;
        assert_int_equal(utf8_decode((const unsigned char *)buf, (size_t)n, &adv), cps[k]);
        assert_int_equal(adv, (size_t)n);
    }
    char buf[4];
    assert_int_equal(utf8_encode(0xD800, buf), 3); /* not a scalar value: U+FFFD */
    assert_memory_equal(buf, "\xEF\xBF\xBD", 3);
    assert_int_equal(utf8_encode(0x110000, buf), 3);
}

static void utf8_repair_replaces_or_reads_latin1(void **state) {
    (void)state;
    const char in[] = "ok \xC3\xA9 \xFF \xE2\x82 \xED\xA0\x80 end";
    char out[UTF8_REPAIR_MAX(sizeof in)];
    size_t bad = 0;
    size_t n = utf8_repair(in, sizeof in - 1, out, sizeof out, UTF8_REPAIR_REPLACE, &bad);
    assert_string_equal(out,
                        "ok \xC3\xA9 \xEF\xBF\xBD \xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD end");
    assert_int_equal(n, strlen(out));
    assert_int_equal(bad, 5); /* FF; E2 82; then ED, A0, 80 each alone */
    assert_true(utf8_valid(out, n));

    n = utf8_repair(in, sizeof in - 1, out, sizeof out, UTF8_REPAIR_LATIN1, &bad);
    assert_string_equal(out, "ok \xC3\xA9 \xC3\xBF \xC3\xA2\xC2\x82 \xC3\xAD\xC2\xA0\xC2\x80 end");
    assert_true(utf8_valid(out, n));

    /* a small buffer truncates at a character boundary and stays NUL-terminated */
    char small[6];
    n = utf8_repair("ab\xC3\xA9\xC3\xA9", 6, small, sizeof small, UTF8_REPAIR_REPLACE, NULL);
    assert_int_equal(n, 4);
    assert_string_equal(small, "ab\xC3\xA9");
    assert_int_equal(utf8_repair("abc", 3, small, 0, UTF8_REPAIR_REPLACE, NULL), 0);
}

static void utf8_from_latin1_converts_every_byte(void **state) {
    (void)state;
    /* a real Sentiment140 row fragment in latin-1: "k\xF6szi" is "köszi" */
    char out[UTF8_FROM_LATIN1_MAX(16)];
    size_t n = utf8_from_latin1("k\xF6szi \xE9\xFF\x80", 10, out, sizeof out);
    assert_string_equal(out, "k\xC3\xB6szi \xC3\xA9\xC3\xBF\xC2\x80");
    assert_int_equal(n, 14);
    char all[256], conv[UTF8_FROM_LATIN1_MAX(256)];
    for (int b = 0; b < 256; b++) all[b] = (char)b;
    n = utf8_from_latin1(all, 256, conv, sizeof conv);
    assert_int_equal(n, 128 + 2 * 128);
    assert_true(utf8_valid(conv, n));
}

/* ---- the *_cstr functions: text kept as C strings ---- */

static void utf8_valid_cstr_rejects_nul_and_agrees_with_utf8_valid(void **state) {
    (void)state;
    /* one odd byte at every offset of a 24-byte ASCII run: the 8-byte fast path and
     * the byte-by-byte tail must both see it */
    for (size_t at = 0; at < 24; at++) {
        char s[24];
        memset(s, 'a', sizeof s);
        assert_true(utf8_valid(s, sizeof s));
        assert_true(utf8_valid_cstr(s, sizeof s));
        s[at] = '\0';
        assert_true(utf8_valid(s, sizeof s)); /* U+0000 is well-formed */
        assert_false(utf8_valid_cstr(s, sizeof s));
        s[at] = (char)0xFF;
        assert_false(utf8_valid(s, sizeof s));
        assert_false(utf8_valid_cstr(s, sizeof s));
        s[at] = (char)0xC3; /* a 2-byte character split by the fast path's words is fine */
        if (at + 1 < sizeof s) {
            s[at + 1] = (char)0xA9;
            assert_true(utf8_valid(s, sizeof s));
            assert_true(utf8_valid_cstr(s, sizeof s));
        } else {
            assert_false(utf8_valid_cstr(s, sizeof s)); /* truncated at the end */
        }
    }
    assert_true(utf8_valid_cstr("", 0));
    assert_false(utf8_valid_cstr("\xED\xA0\x80", 3)); /* the usual rules still hold */
}

static void utf8_repair_cstr_replaces_nul_too(void **state) {
    (void)state;
    const char in[] = "a\0b \xE2\x82 \xC0\xAF";
    char out[UTF8_REPAIR_MAX(sizeof in)];
    size_t bad = 0;
    size_t n = utf8_repair_cstr(in, sizeof in - 1, out, sizeof out, &bad);
    assert_string_equal(out, "a\xEF\xBF\xBD"
                             "b \xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD");
    assert_int_equal(n, strlen(out)); /* no NUL inside: the whole text reads as a C string */
    assert_int_equal(bad, 4);         /* NUL; E2 82 (one maximal subpart); C0; AF */
    assert_true(utf8_valid_cstr(out, n));
    /* utf8_repair keeps the NUL */
    n = utf8_repair(in, sizeof in - 1, out, sizeof out, UTF8_REPAIR_REPLACE, &bad);
    assert_int_equal(bad, 3);
    assert_memory_equal(out, "a\0b", 3);
    assert_int_equal(n, 2 + strlen(out + 2)); /* "a", NUL, then a C string */
    /* valid input is copied as is; a small buffer ends at a character boundary */
    n = utf8_repair_cstr("caf\xC3\xA9", 5, out, sizeof out, &bad);
    assert_string_equal(out, "caf\xC3\xA9");
    assert_int_equal(n, 5);
    assert_int_equal(bad, 0);
    char small[6];
    n = utf8_repair_cstr("ab\0\0", 4, small, sizeof small, NULL);
    assert_int_equal(n, 5);
    assert_string_equal(small, "ab\xEF\xBF\xBD");
}

static void utf8_from_cp1252_cstr_converts_every_byte(void **state) {
    (void)state;
    /* the C1 range as Windows-1252: € ’ Š Ÿ, unassigned 0x81 stays U+0081 */
    char out[UTF8_FROM_CP1252_MAX(16)];
    size_t n = utf8_from_cp1252_cstr("\x80 \x92 \x8A \x9F \x81 \xE9", 11, out, sizeof out);
    assert_string_equal(out, "\xE2\x82\xAC \xE2\x80\x99 \xC5\xA0 \xC5\xB8 \xC2\x81 \xC3\xA9");
    assert_int_equal(n, strlen(out));
    /* every byte: one well-formed character each (2-byte forms below U+0800, never
     * overlong), NUL as U+FFFD, the rest as in latin-1 */
    static const uint32_t c1[32] = {0x20AC, 0x81,   0x201A, 0x192,  0x201E, 0x2026, 0x2020, 0x2021,
                                    0x2C6,  0x2030, 0x160,  0x2039, 0x152,  0x8D,   0x17D,  0x8F,
                                    0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                    0x2DC,  0x2122, 0x161,  0x203A, 0x153,  0x9D,   0x17E,  0x178};
    char all[256], conv[UTF8_FROM_CP1252_MAX(256)];
    for (int b = 0; b < 256; b++) all[b] = (char)b;
    n = utf8_from_cp1252_cstr(all, 256, conv, sizeof conv);
    assert_int_equal(strlen(conv), n);
    assert_true(utf8_valid_cstr(conv, n));
    size_t i = 0;
    for (int b = 0; b < 256; b++) {
        size_t adv;
        uint32_t cp = utf8_decode((const unsigned char *)conv + i, n - i, &adv);
        uint32_t want = b == 0 ? UTF8_REPLACEMENT : b >= 0x80 && b < 0xA0 ? c1[b - 0x80] : (uint32_t)b;
        assert_int_equal(cp, want);
        char enc[4];
        assert_int_equal(adv, (size_t)utf8_encode(want, enc)); /* the shortest form */
        i += adv;
    }
    assert_int_equal(i, n);
    /* a small buffer ends at a character boundary */
    char small[5];
    assert_int_equal(utf8_from_cp1252_cstr("a\x80\x80", 3, small, sizeof small), 4);
    assert_string_equal(small, "a\xE2\x82\xAC");
}

static void utf8_mojibake_is_undone(void **state) {
    (void)state;
    /* "é", "’" and U+FFFD, each misread as latin-1 and encoded again */
    const char in[] = "caf\xC3\x83\xC2\xA9 it\xC3\xA2\xC2\x80\xC2\x99s I\xC3\xAF\xC2\xBF\xC2\xBDm \xC3\x83 x";
    char out[UTF8_FIX_MOJIBAKE_MAX(sizeof in)];
    size_t fixed = 0;
    utf8_fix_mojibake(in, sizeof in - 1, out, sizeof out, &fixed);
    assert_string_equal(out, "caf\xC3\xA9 it\xE2\x80\x99s I\xEF\xBF\xBDm \xC3\x83 x"); /* a lone Ã stays */
    assert_int_equal(fixed, 3);
    size_t adv;
    assert_int_equal(utf8_unmojibake((const unsigned char *)"\xC3\xA2\xC2\x80\xC2\x99", 6, &adv), 0x2019);
    assert_int_equal(adv, 6);
    /* an invalid original (E2 followed by a non-continuation) is not mojibake */
    assert_int_equal(utf8_unmojibake((const unsigned char *)"\xC3\xA2\xC2\x80\x41\x42", 6, &adv), 0);
    /* an overlong original (C1 BF) is not either */
    assert_int_equal(utf8_unmojibake((const unsigned char *)"\xC3\x81\xC2\xBF", 4, &adv), 0);
}

static void utf8_tolower_common_scripts(void **state) {
    (void)state;
    assert_int_equal(utf8_tolower('A'), 'a');
    assert_int_equal(utf8_tolower('z'), 'z');
    assert_int_equal(utf8_tolower('@'), '@');
    assert_int_equal(utf8_tolower(0xC9), 0xE9);     /* É */
    assert_int_equal(utf8_tolower(0xD7), 0xD7);     /* × */
    assert_int_equal(utf8_tolower(0xDE), 0xFE);     /* Þ */
    assert_int_equal(utf8_tolower(0xDF), 0xDF);     /* ß */
    assert_int_equal(utf8_tolower(0x152), 0x153);   /* Œ */
    assert_int_equal(utf8_tolower(0x141), 0x142);   /* Ł */
    assert_int_equal(utf8_tolower(0x178), 0xFF);    /* Ÿ */
    assert_int_equal(utf8_tolower(0x130), 'i');     /* İ */
    assert_int_equal(utf8_tolower(0x391), 0x3B1);   /* Α */
    assert_int_equal(utf8_tolower(0x3A3), 0x3C3);   /* Σ */
    assert_int_equal(utf8_tolower(0x410), 0x430);   /* А */
    assert_int_equal(utf8_tolower(0x401), 0x451);   /* Ё */
    assert_int_equal(utf8_tolower(0x1EA0), 0x1EA1); /* Ạ */
    assert_int_equal(utf8_tolower(0x65E5), 0x65E5); /* 日 */
}

/* ---- html_entity_decode ---- */

static void html_entities_named_numeric_and_not(void **state) {
    (void)state;
    static const struct {
        const char *s;
        uint32_t cp;
        size_t adv;
    } cases[] = {
        {"&amp;", '&', 5},
        {"&lt;3", '<', 4},
        {"&gt;", '>', 4},
        {"&quot;x", '"', 6},
        {"&#39;", '\'', 5},
        {"&#x27;", '\'', 6},
        {"&#X27;", '\'', 6},
        {"&#128512;", 0x1F600, 9},
        {"&#x1F600;", 0x1F600, 9},
        {"&hellip;", 0x2026, 8},
        {"&nbsp;", 0xA0, 6},
        {"&hearts;", 0x2665, 8},
        {"&amp", 0, 0},
        {"&AMP;", 0, 0},
        {"&bogus;", 0, 0},
        {"&#;", 0, 0},
        {"&#x;", 0, 0},
        {"&#0;", 0, 0},
        {"&#xD800;", 0, 0},
        {"&#x110000;", 0, 0},
        {"&#12a;", 0, 0},
        {"& amp;", 0, 0},
        {"&", 0, 0},
        {"&#99999999999;", 0, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t adv = 0;
        uint32_t cp = html_entity_decode(cases[k].s, strlen(cases[k].s), &adv);
        assert_int_equal(cp, cases[k].cp);
        assert_int_equal(adv, cases[k].adv);
    }
}

/* ---- emoticon_match ---- */

static int emo(const char *w, EmoticonLeft left, int *used) {
    int n = (int)strlen(w);
    *used = -1;
    if (!emoticon_may_start((unsigned char)w[0], n > 1 ? (unsigned char)w[1] : 0)) return 0;
    return emoticon_match(w, n < EMOTICON_WINDOW ? n : EMOTICON_WINDOW, left, used);
}

static void emoticons_each_class(void **state) {
    (void)state;
    static const char *const pos[] = {":)", ":-)", ": )", ":D", ":-D", ":d", ":P",  ":p",   ":-P",
                                      "=)", "=D",  ":]",  ":}", ":>",  ":3", ":*",  ";)",   ";-)",
                                      ";D", ";P",  ":')", "XD", "xD",  "xd", "<3",  "<333", "^_^",
                                      "^^", "^.^", "^-^", "(:", "(-:", "(;", ">:)", ":))))"};
    static const char *const neg[] = {":(",  ":-(", ": (", ":'(",  ":/",  ":-/", ":\\", ":|",
                                      ":S",  ":@",  ":[",  ":{",   ":<",  "=(",  "=/",  ";(",
                                      ">:(", "</3", "-_-", "-__-", "-.-", "T_T", "T.T", ";_;",
                                      ">_<", ">.<", "u_u", "=_=",  "._.", "):",  ")-:", ":((("};
    int used;
    for (size_t k = 0; k < sizeof pos / sizeof pos[0]; k++) {
        assert_int_equal(emo(pos[k], EMOTICON_AFTER_SPACE, &used), 1);
        assert_int_equal(used, (int)strlen(pos[k]));
    }
    for (size_t k = 0; k < sizeof neg / sizeof neg[0]; k++) {
        assert_int_equal(emo(neg[k], EMOTICON_AFTER_SPACE, &used), -1);
        assert_int_equal(used, (int)strlen(neg[k]));
    }
}

static void emoticons_boundaries(void **state) {
    (void)state;
    int used;
    /* after a word: western faces yes, letter-eyed and eastern faces no */
    assert_int_equal(emo(":)", EMOTICON_AFTER_ALNUM, &used), 1);
    assert_int_equal(emo("XD", EMOTICON_AFTER_ALNUM, &used), 0);
    assert_int_equal(emo("^_^", EMOTICON_AFTER_ALNUM, &used), 0);
    /* a letter mouth must end there */
    assert_int_equal(emo(":Dave", EMOTICON_AFTER_SPACE, &used), 0);
    assert_int_equal(emo(":P!", EMOTICON_AFTER_SPACE, &used), 1);
    assert_int_equal(used, 2);
    assert_int_equal(emo("XDDD", EMOTICON_AFTER_SPACE, &used), 1);
    assert_int_equal(used, 4);
    assert_int_equal(emo("XDA", EMOTICON_AFTER_SPACE, &used), 0);
    /* "://" is not ":/"; ": (a)" is not ": (" */
    assert_int_equal(emo("://x", EMOTICON_AFTER_ALNUM, &used), 0);
    assert_int_equal(emo(": (a)", EMOTICON_AFTER_ALNUM, &used), 0);
    assert_int_equal(emo(": ( ", EMOTICON_AFTER_ALNUM, &used), -1);
    assert_int_equal(used, 3);
    /* hearts: "<30" is "less than 30" */
    assert_int_equal(emo("<30", EMOTICON_AFTER_SPACE, &used), 0);
    assert_int_equal(emo("<3!", EMOTICON_AFTER_SPACE, &used), 1);
    /* reversed faces only between spaces */
    assert_int_equal(emo("(:", EMOTICON_AFTER_OTHER, &used), 0);
    assert_int_equal(emo("):x", EMOTICON_AFTER_SPACE, &used), 0);
    /* neutral or ambiguous faces are not emoticons */
    assert_int_equal(emo(":o", EMOTICON_AFTER_SPACE, &used), 0);
    assert_int_equal(emo("XP", EMOTICON_AFTER_SPACE, &used), 0);
    assert_int_equal(emo(":'D", EMOTICON_AFTER_SPACE, &used), 0);
    assert_int_equal(emo("T_Tx", EMOTICON_AFTER_SPACE, &used), 0);
    /* the stand-in for a non-ASCII letter blocks a letter mouth like an ASCII one */
    char w[] = {':', 'D', EMOTICON_STANDIN_ALNUM, 0};
    assert_int_equal(emo(w, EMOTICON_AFTER_SPACE, &used), 0);
    char w2[] = {':', ')', EMOTICON_STANDIN_OTHER, 0};
    assert_int_equal(emo(w2, EMOTICON_AFTER_SPACE, &used), 1);
    assert_int_equal(used, 2);
    /* a window full of mouths matches to its end */
    assert_int_equal(emoticon_match(":)))))))))))))))))))", EMOTICON_WINDOW, EMOTICON_AFTER_SPACE, &used), 1);
    assert_int_equal(used, EMOTICON_WINDOW);
}

/* ---- stem_cache ---- */

static void stem_cache_gives_snowball_stems_and_counts_hits(void **state) {
    (void)state;
    static const char *const words[][2] = {
        {"loving", "love"}, {"happiness", "happi"}, {"running", "run"},  {"it's", "it"},   {"cats", "cat"},
        {"not", "not"},     {"never", "never"},     {"nothing", "noth"}, {"dying", "die"}, {"a", "a"},
    };
    static const int sizes[] = {0, 4, 1024};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        StemCache *sc = stem_cache_new(sizes[s]);
        for (int pass = 0; pass < 3; pass++)
            for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
                int len;
                const char *st = stem_cache_stem(sc, words[k][0], (int)strlen(words[k][0]), &len);
                assert_int_equal(len, (int)strlen(words[k][1]));
                assert_memory_equal(st, words[k][1], (size_t)len);
            }
        uint64_t hits, misses;
        stem_cache_stats(sc, &hits, &misses);
        assert_int_equal(hits + misses, 30);
        if (sizes[s] == 0) assert_int_equal(hits, 0);
        if (sizes[s] == 1024) assert_int_equal(misses, 10); /* each word stemmed once */
        if (sizes[s] == 4) assert_true(misses > 10);        /* 4 slots: evictions */
        stem_cache_free(sc);
    }
    /* a word longer than the cache key is stemmed every time */
    StemCache *sc = stem_cache_new(64);
    const char *longw = "internationalizationsinternationalizations";
    for (int k = 0; k < 2; k++) {
        int len;
        stem_cache_stem(sc, longw, (int)strlen(longw), &len);
        assert_true(len > 0 && len <= (int)strlen(longw));
    }
    uint64_t hits, misses;
    stem_cache_stats(sc, &hits, &misses);
    assert_int_equal(hits, 0);
    assert_int_equal(misses, 2);
    stem_cache_free(sc);
    stem_cache_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_decode_valid_and_every_invalid_pattern),
        cmocka_unit_test(utf8_encode_round_trips),
        cmocka_unit_test(utf8_repair_replaces_or_reads_latin1),
        cmocka_unit_test(utf8_from_latin1_converts_every_byte),
        cmocka_unit_test(utf8_valid_cstr_rejects_nul_and_agrees_with_utf8_valid),
        cmocka_unit_test(utf8_repair_cstr_replaces_nul_too),
        cmocka_unit_test(utf8_from_cp1252_cstr_converts_every_byte),
        cmocka_unit_test(utf8_mojibake_is_undone),
        cmocka_unit_test(utf8_tolower_common_scripts),
        cmocka_unit_test(html_entities_named_numeric_and_not),
        cmocka_unit_test(emoticons_each_class),
        cmocka_unit_test(emoticons_boundaries),
        cmocka_unit_test(stem_cache_gives_snowball_stems_and_counts_hits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
