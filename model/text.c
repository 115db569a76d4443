/* text.c — the tweet text pipeline (rules and contract in text.h).
 *
 * One left-to-right pass over the raw bytes, with no copy of the text: rd() decodes
 * the next character on the fly (UTF-8 with repair, mojibake, HTML references,
 * fullwidth and apostrophe folding), cp_class() sorts it, and the scanner emits
 * tokens into a per-pipeline arena sized for max_tokens tokens, so that memory is
 * bounded by the token cap whatever the length of the input. */
#include "model/text.h"

#include <stdlib.h>
#include <string.h>

#include "model/emoticon.h"
#include "model/html_entity.h"
#include "model/stem_cache.h"
#include "model/utf8.h"
#include "model/util.h"

/* ---- character classes ------------------------------------------------------------ */

enum {
    CL_SEP = 0,    /* punctuation, symbols, anything else: separates words, dropped */
    CL_SPACE = 1,  /* whitespace and controls */
    CL_LETTER = 2, /* letters of any script (and marks that follow them) */
    CL_DIGIT = 3,  /* 0-9 and Arabic-Indic digits */
    CL_IDEO,       /* a CJK ideograph: one token each */
    CL_EMOJI,      /* an emoji that starts a token */
    CL_RI,         /* a regional indicator (two make a flag) */
    CL_IGNORE,     /* invisible: soft hyphen, joiners, variation selectors, skin tones */
};

#define IS_WORD(cl) ((cl) == CL_LETTER || (cl) == CL_DIGIT)

/* ASCII classes, one digit per character: 1 space, 2 letter, 3 digit, 0 other. */
static const char ascii_class[129] = "11111111111111111111111111111111"
                                     "10000000000000003333333333000000"
                                     "02222222222222222222222222200000"
                                     "02222222222222222222222222200001";

typedef struct {
    uint32_t lo, hi;
    uint8_t cl;
} ClassRange;

/* Codepoints from U+0080 up, sorted; gaps are CL_SEP. Coarse on purpose: enough to
 * split words the way a reader would in the scripts tweets use. */
static const ClassRange ranges[] = {
    {0x0080, 0x00A0, CL_SPACE},   {0x00AA, 0x00AA, CL_LETTER},   {0x00AD, 0x00AD, CL_IGNORE},
    {0x00B5, 0x00B5, CL_LETTER},  {0x00BA, 0x00BA, CL_LETTER},   {0x00C0, 0x00D6, CL_LETTER},
    {0x00D8, 0x00F6, CL_LETTER},  {0x00F8, 0x037D, CL_LETTER},   {0x037F, 0x0386, CL_LETTER},
    {0x0388, 0x0482, CL_LETTER},  {0x0483, 0x0559, CL_LETTER},   {0x0560, 0x0588, CL_LETTER},
    {0x0591, 0x05BD, CL_LETTER},  {0x05BF, 0x05BF, CL_LETTER},   {0x05C1, 0x05C2, CL_LETTER},
    {0x05C4, 0x05C5, CL_LETTER},  {0x05C7, 0x05F2, CL_LETTER},   {0x0610, 0x061A, CL_LETTER},
    {0x0620, 0x065F, CL_LETTER},  {0x0660, 0x0669, CL_DIGIT},    {0x066E, 0x06D3, CL_LETTER},
    {0x06D5, 0x06EF, CL_LETTER},  {0x06F0, 0x06F9, CL_DIGIT},    {0x06FA, 0x0963, CL_LETTER},
    {0x0966, 0x0E3E, CL_LETTER},  {0x0E40, 0x167F, CL_LETTER},   {0x1680, 0x1680, CL_SPACE},
    {0x1681, 0x180D, CL_LETTER},  {0x180E, 0x180E, CL_SPACE},    {0x180F, 0x1FFF, CL_LETTER},
    {0x2000, 0x200B, CL_SPACE},   {0x200C, 0x200F, CL_IGNORE},   {0x2028, 0x2029, CL_SPACE},
    {0x202A, 0x202E, CL_IGNORE},  {0x202F, 0x202F, CL_SPACE},    {0x203C, 0x203C, CL_EMOJI},
    {0x2049, 0x2049, CL_EMOJI},   {0x205F, 0x205F, CL_SPACE},    {0x2060, 0x206F, CL_IGNORE},
    {0x20D0, 0x20FF, CL_IGNORE},  {0x231A, 0x231B, CL_EMOJI},    {0x23E9, 0x23F3, CL_EMOJI},
    {0x23F8, 0x23FA, CL_EMOJI},   {0x25AA, 0x25AB, CL_EMOJI},    {0x25B6, 0x25B6, CL_EMOJI},
    {0x25C0, 0x25C0, CL_EMOJI},   {0x25FB, 0x25FE, CL_EMOJI},    {0x2600, 0x27BF, CL_EMOJI},
    {0x2B05, 0x2B07, CL_EMOJI},   {0x2B1B, 0x2B1C, CL_EMOJI},    {0x2B50, 0x2B50, CL_EMOJI},
    {0x2B55, 0x2B55, CL_EMOJI},   {0x2C00, 0x2DFF, CL_LETTER},   {0x2E80, 0x2FDF, CL_IDEO},
    {0x3000, 0x3000, CL_SPACE},   {0x3005, 0x3005, CL_IDEO},     {0x3030, 0x3030, CL_EMOJI},
    {0x303D, 0x303D, CL_EMOJI},   {0x3041, 0x30FA, CL_LETTER},   {0x30FC, 0x31FF, CL_LETTER},
    {0x3297, 0x3297, CL_EMOJI},   {0x3299, 0x3299, CL_EMOJI},    {0x3400, 0x4DBF, CL_IDEO},
    {0x4E00, 0x9FFF, CL_IDEO},    {0xA000, 0xD7FF, CL_LETTER},   {0xF900, 0xFAFF, CL_IDEO},
    {0xFB00, 0xFD3D, CL_LETTER},  {0xFD40, 0xFDFF, CL_LETTER},   {0xFE00, 0xFE0F, CL_IGNORE},
    {0xFE20, 0xFE2F, CL_LETTER},  {0xFE70, 0xFEFE, CL_LETTER},   {0xFEFF, 0xFEFF, CL_IGNORE},
    {0xFF66, 0xFFDC, CL_LETTER},  {0x10000, 0x1EFFF, CL_LETTER}, {0x1F000, 0x1F1E5, CL_EMOJI},
    {0x1F1E6, 0x1F1FF, CL_RI},    {0x1F200, 0x1F3FA, CL_EMOJI},  {0x1F3FB, 0x1F3FF, CL_IGNORE},
    {0x1F400, 0x1FAFF, CL_EMOJI}, {0x20000, 0x3FFFF, CL_IDEO},   {0xE0000, 0xE0FFF, CL_IGNORE},
};

static int cp_class_wide(uint32_t c) {
    size_t lo = 0, hi = sizeof ranges / sizeof ranges[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < ranges[mid].lo)
            hi = mid;
        else if (c > ranges[mid].hi)
            lo = mid + 1;
        else
            return ranges[mid].cl;
    }
    return CL_SEP;
}

static inline int cp_class(uint32_t c) { return c < 0x80 ? ascii_class[c] - '0' : cp_class_wide(c); }

#define CP_ZWJ     0x200Du
#define IS_TAG(c)  ((c) >= 0xE0020u && (c) <= 0xE007Fu)
#define IS_APOS(c) ((c) == '\'' || (c) == UTF8_REPLACEMENT)

/* ---- the pipeline ----------------------------------------------------------------- */

struct TextPipeline {
    TextConfig cfg;
    StemCache *stems; /* NULL when cfg.stem is 0 */
    char *arena;      /* cfg.max_tokens slots of TEXT_MAX_TOKEN_BYTES + 1 bytes */
    size_t arena_used;
    char word[TEXT_MAX_TOKEN_BYTES + 4]; /* the word being scanned */
    TextStats stats;
};

TextConfig text_config_default(void) {
    TextConfig c = {
        .max_tokens = TEXT_MAX_TOKENS_DEFAULT, .stem = 1, .stem_cache_slots = 65536, .fix_mojibake = 1};
    return c;
}

TextPipeline *text_pipeline_new(const TextConfig *cfg) {
    TextConfig c = cfg ? *cfg : text_config_default();
    if (c.max_tokens < 1 || c.max_tokens > TEXT_MAX_TOKENS_CAP)
        util_die("text pipeline: max_tokens %d is out of range 1..%d", c.max_tokens, TEXT_MAX_TOKENS_CAP);
    if (c.stem_cache_slots < 0 || c.stem_cache_slots > (1 << 24))
        util_die("text pipeline: stem_cache_slots %d is out of range 0..%d", c.stem_cache_slots, 1 << 24);
    TextPipeline *tp = callocCheck(1, sizeof *tp);
    tp->cfg = c;
    tp->arena = mallocCheck((size_t)c.max_tokens * (TEXT_MAX_TOKEN_BYTES + 1));
    if (c.stem) tp->stems = stem_cache_new(c.stem_cache_slots);
    return tp;
}

void text_pipeline_free(TextPipeline *tp) {
    if (!tp) return;
    stem_cache_free(tp->stems);
    free(tp->arena);
    free(tp);
}

const TextConfig *text_pipeline_config(const TextPipeline *tp) { return &tp->cfg; }

TextStats text_pipeline_stats(const TextPipeline *tp) {
    TextStats st = tp->stats;
    if (tp->stems) stem_cache_stats(tp->stems, &st.stem_hits, &st.stem_misses);
    return st;
}

/* The state of one text_tokenize call. */
typedef struct {
    TextPipeline *tp;
    const unsigned char *s;
    size_t len;
    TextTokens *out;
    int max;
} Scan;

/* Folds a decoded codepoint: fullwidth ASCII to ASCII, apostrophe look-alikes to '. */
static uint32_t fold(uint32_t c) {
    if (c >= 0xFF01 && c <= 0xFF5E) return c - 0xFEE0;
    if (c == 0x2019 || c == 0x2018 || c == 0x02BC || c == 0x00B4 || c == '`') return '\'';
    return c;
}

/* Decodes the character at s[i] (i < len) and stores in *next where the next one
 * starts: the general case of rd(). */
static uint32_t rd_slow(const Scan *sc, size_t i, size_t *next) {
    unsigned char b = sc->s[i];
    size_t adv;
    uint32_t c;
    if (b < 0x80) {
        if (b == '&' && (c = html_entity_decode((const char *)sc->s + i, sc->len - i, &adv))) {
            *next = i + adv;
            return fold(c);
        }
        *next = i + 1;
        return fold(b);
    }
    if (!(b == 0xC3 && sc->tp->cfg.fix_mojibake && (c = utf8_unmojibake(sc->s + i, sc->len - i, &adv))))
        c = utf8_decode(sc->s + i, sc->len - i, &adv);
    *next = i + adv;
    return fold(c);
}

/* rd_slow with a fast path for plain ASCII (everything but '&' and '`'). */
static inline uint32_t rd(const Scan *sc, size_t i, size_t *next) {
    unsigned char b = sc->s[i];
    if (b < 0x80 && b != '&' && b != '`') {
        *next = i + 1;
        return b;
    }
    return rd_slow(sc, i, next);
}

/* Class of the character at i, or CL_SPACE at the end of the text. */
static int class_at(const Scan *sc, size_t i) {
    size_t nx;
    return i < sc->len ? cp_class(rd(sc, i, &nx)) : CL_SPACE;
}

static int full(const Scan *sc) { return sc->out->n >= sc->max; }

/* Emits a token that lives in static memory (the special tokens). */
static void emit_static(Scan *sc, const char *tok, int len) {
    if (full(sc)) return;
    sc->out->tok[sc->out->n] = tok;
    sc->out->len[sc->out->n] = len;
    sc->out->n++;
}

#define EMIT_SPECIAL(sc, tok) emit_static((sc), tok, (int)sizeof tok - 1)

/* Emits a copy of b[0..len) (len <= TEXT_MAX_TOKEN_BYTES) from the arena. */
static void emit_copy(Scan *sc, const char *b, int len) {
    if (full(sc)) return;
    char *dst = sc->tp->arena + sc->tp->arena_used;
    memcpy(dst, b, (size_t)len);
    dst[len] = '\0';
    sc->tp->arena_used += (size_t)len + 1;
    sc->out->tok[sc->out->n] = dst;
    sc->out->len[sc->out->n] = len;
    sc->out->n++;
}

/* ---- URLs and mentions (ASCII only, on the raw bytes) ------------------------------ */

static int lower_ascii(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int ascii_alnum(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* 1 when s[i..) starts with the lowercase ASCII word w, in any case. */
static int starts_with_ci(const Scan *sc, size_t i, const char *w) {
    for (; *w; w++, i++)
        if (i >= sc->len || lower_ascii(sc->s[i]) != *w) return 0;
    return 1;
}

#define HOST_MAX 253 /* longest DNS name */

/* Top-level domains that make "host.tld/..." a URL without a scheme; the first
 * three also make a bare "host.tld" one. */
static const char *const tlds[] = {"com", "net", "org", "edu", "gov", "info", "biz", "ly", "co", "uk", "us",
                                   "ca",  "de",  "fr",  "io",  "me",  "tv",   "fm",  "gl", "be", "it", "nl",
                                   "au",  "jp",  "in",  "ru",  "es",  "br",   "cc",  "ws", "to"};

static int is_tld(const Scan *sc, size_t a, size_t b, int bare) {
    size_t n = b - a;
    for (size_t k = 0; k < sizeof tlds / sizeof tlds[0]; k++) {
        if (strlen(tlds[k]) != n || !starts_with_ci(sc, a, tlds[k])) continue;
        return !bare || k < 3; /* a bare "host.tld" only for .com .net .org */
    }
    return 0;
}

/* The end of the URL body that starts at i: up to whitespace or <, > or ", without
 * trailing punctuation. */
static size_t url_end(const Scan *sc, size_t i) {
    size_t keep = i;
    while (i < sc->len) {
        size_t nx;
        uint32_t c = rd(sc, i, &nx);
        int cl = cp_class(c);
        if (cl == CL_SPACE || c == '<' || c == '>' || c == '"') break;
        if (!(c < 0x80 && strchr(".,;:!?)]}'", (int)c))) keep = nx;
        i = nx;
    }
    return keep;
}

/* A URL starting at the word start i, or 0. Called only when the word is ASCII and
 * stopped at ':' or '.' (so only for a few words per tweet). */
static size_t match_url(const Scan *sc, size_t i) {
    if (starts_with_ci(sc, i, "http://") || starts_with_ci(sc, i, "https://") ||
        starts_with_ci(sc, i, "ftp://") || starts_with_ci(sc, i, "www."))
        return url_end(sc, i);
    /* host.name.tld followed by '/' (or end of word for .com/.net/.org); host names
     * are at most HOST_MAX bytes, which also keeps this check O(1) per word */
    size_t p = i, label = i, dots = 0;
    while (p < sc->len) {
        if (p - i > HOST_MAX) return 0;
        int c = sc->s[p];
        if (ascii_alnum(c) || c == '-') {
            p++;
        } else if (c == '.' && p > label && p + 1 < sc->len && ascii_alnum(sc->s[p + 1])) {
            label = ++p;
            dots++;
        } else {
            break;
        }
    }
    if (!dots) return 0;
    if (p < sc->len && sc->s[p] == '/') return is_tld(sc, label, p, 0) ? url_end(sc, i) : 0;
    if (p < sc->len && (ascii_alnum(sc->s[p]) || sc->s[p] == '@' || sc->s[p] == '_')) return 0;
    return is_tld(sc, label, p, 1) ? p : 0;
}

static int handle_char(int c) { return ascii_alnum(c) || c == '_'; }

/* "@name" at i (s[i] == '@', not after a letter or digit): its end, or 0. */
static size_t match_mention(const Scan *sc, size_t i) {
    size_t p = i + 1;
    while (p < sc->len && handle_char(sc->s[p])) p++;
    if (p == i + 1) return 0;
    /* possessive 's / ’s */
    size_t nx;
    if (p < sc->len && rd(sc, p, &nx) == '\'' && nx < sc->len && lower_ascii(sc->s[nx]) == 's' &&
        (nx + 1 >= sc->len || !handle_char(sc->s[nx + 1])))
        p = nx + 1;
    return p;
}

/* ---- emoticons -------------------------------------------------------------------- */

static char standin(uint32_t c) {
    if (c < 0x80) return c < 0x20 ? ' ' : (char)c;
    int cl = cp_class(c);
    if (cl == CL_SPACE) return EMOTICON_STANDIN_SPACE;
    if (IS_WORD(cl) || cl == CL_IDEO) return EMOTICON_STANDIN_ALNUM;
    return EMOTICON_STANDIN_OTHER;
}

/* An emoticon at i whose first character is c (next at j): its polarity (and *end),
 * or 0. */
static int match_emoticon(const Scan *sc, size_t i, uint32_t c, size_t j, int prev_cl, size_t *end) {
    if (c >= 0x80 || !emoticon_may_start((unsigned char)c, j < sc->len ? sc->s[j] : 0)) return 0;
    char w[EMOTICON_WINDOW];
    size_t off[EMOTICON_WINDOW + 1];
    int n = 0;
    size_t p = i;
    while (n < EMOTICON_WINDOW && p < sc->len) {
        size_t nx;
        off[n] = p;
        w[n++] = standin(rd(sc, p, &nx));
        p = nx;
    }
    off[n] = p;
    EmoticonLeft left = prev_cl == CL_SPACE                      ? EMOTICON_AFTER_SPACE
                        : IS_WORD(prev_cl) || prev_cl == CL_IDEO ? EMOTICON_AFTER_ALNUM
                                                                 : EMOTICON_AFTER_OTHER;
    int used = 0;
    int pol = emoticon_match(w, n, left, &used);
    if (!pol) return 0;
    p = off[used];
    if (used == EMOTICON_WINDOW) { /* a mouth repeated past the window: ":))))))))))))))" */
        size_t nx;
        while (p < sc->len && rd(sc, p, &nx) == (unsigned char)w[used - 1]) p = nx;
    }
    *end = p;
    return pol;
}

/* ---- words ------------------------------------------------------------------------ */

typedef struct {
    int len;           /* bytes in tp->word */
    int letters;       /* letters seen (0: a number) */
    int ascii_letters; /* ASCII letters seen (0: nothing for Snowball English) */
    int non_ascii;     /* any character >= 0x80 */
} Word;

/* Scans the word that starts at i into tp->word (lowercase, elongations cut) and
 * returns its end. */
static size_t scan_word(Scan *sc, size_t i, Word *wd) {
    char *w = sc->tp->word;
    int wl = 0, run = 0, prev_cl = -1, cut = 0, numsep = 0;
    uint32_t last = 0;
    memset(wd, 0, sizeof *wd);
    size_t p = i;
    while (p < sc->len) {
        size_t nx;
        uint32_t c = rd(sc, p, &nx);
        int cl = cp_class(c);
        if (cl == CL_IGNORE) {
            p = nx;
            continue;
        }
        if (!IS_WORD(cl)) {
            /* an apostrophe between letters, or . , : between digits, stays */
            int inner = (IS_APOS(c) && prev_cl == CL_LETTER)                          ? CL_LETTER
                        : ((c == '.' || c == ',' || c == ':') && prev_cl == CL_DIGIT) ? CL_DIGIT
                                                                                      : -1;
            if (inner < 0 || class_at(sc, nx) != inner) break;
            if (c == UTF8_REPLACEMENT) c = '\'';
            numsep |= inner == CL_DIGIT;
        } else if (cl == CL_LETTER) {
            if (numsep) break; /* "6.20pm": the number ends before the letters */
            c = utf8_tolower(c);
            wd->letters++;
            wd->ascii_letters += c < 0x80;
        }
        if (IS_WORD(cl)) prev_cl = cl;
        p = nx;
        run = c == last ? run + 1 : 1;
        last = c;
        if (run > 2) continue; /* "soooo" -> "soo" */
        char enc[4];
        int n = utf8_encode(c, enc);
        if (cut || wl + n > TEXT_MAX_TOKEN_BYTES) { /* too long: keep the start */
            cut = 1;
            continue;
        }
        memcpy(w + wl, enc, (size_t)n);
        wl += n;
        wd->non_ascii |= c >= 0x80;
    }
    w[wl] = '\0';
    wd->len = wl;
    return p;
}

/* Negations without an apostrophe, and the auxiliary each one stands for. */
typedef struct {
    const char *word, *aux;
} Negation;

static const Negation negations[] = {
    {"dont", "do"},       {"doesnt", "does"}, {"didnt", "did"},     {"cant", "can"},
    {"cannot", "can"},    {"wont", "will"},   {"wouldnt", "would"}, {"shouldnt", "should"},
    {"couldnt", "could"}, {"isnt", "is"},     {"arent", "are"},     {"wasnt", "was"},
    {"werent", "were"},   {"havent", "have"}, {"hasnt", "has"},     {"hadnt", "had"},
    {"aint", "is"},       {"mustnt", "must"}, {"neednt", "need"},   {"shant", "shall"},
    {"mightnt", "might"},
};

/* Auxiliaries whose "n't" form is irregular ("ca" of "can't"). */
static const Negation irregular[] = {{"ca", "can"}, {"wo", "will"}, {"sha", "shall"}, {"ai", "is"}};

/* When the word w (NUL-terminated, len bytes) is a negation, returns its auxiliary (in *aux_len bytes; it may
 * be empty) and 1; else 0. */
static int negation(const char *w, int len, const char **aux, int *aux_len) {
    if (len >= 3 && !memcmp(w + len - 3, "n't", 3)) {
        *aux = w;
        *aux_len = len - 3;
        for (size_t k = 0; k < sizeof irregular / sizeof irregular[0]; k++)
            if (!strncmp(w, irregular[k].word, (size_t)*aux_len) && irregular[k].word[*aux_len] == '\0') {
                *aux = irregular[k].aux;
                *aux_len = (int)strlen(*aux);
            }
        return 1;
    }
    if (len < 4 || len > 8 || (w[len - 1] != 't' && w[len - 1] != 'n')) return 0;
    for (size_t k = 0; k < sizeof negations / sizeof negations[0]; k++)
        if (w[0] == negations[k].word[0] && !strcmp(w, negations[k].word)) {
            *aux = negations[k].aux;
            *aux_len = (int)strlen(*aux);
            return 1;
        }
    return 0;
}

/* Emits a word: stemmed when configured and when Snowball English can change it. */
static void emit_word(Scan *sc, const char *w, int len, int ascii_letters) {
    if (len == 0) return;
    if (sc->tp->stems && ascii_letters) {
        int sl;
        const char *st = stem_cache_stem(sc->tp->stems, w, len, &sl);
        emit_copy(sc, st, sl < TEXT_MAX_TOKEN_BYTES ? sl : TEXT_MAX_TOKEN_BYTES);
        return;
    }
    emit_copy(sc, w, len);
}

static void emit_scanned_word(Scan *sc, const Word *wd) {
    const char *w = sc->tp->word;
    if (!wd->letters) {
        EMIT_SPECIAL(sc, TEXT_TOK_NUM);
        return;
    }
    const char *aux;
    int aux_len;
    if (!wd->non_ascii && negation(w, wd->len, &aux, &aux_len)) {
        emit_word(sc, aux, aux_len, 1);
        EMIT_SPECIAL(sc, TEXT_TOK_NOT);
        return;
    }
    emit_word(sc, w, wd->len, wd->ascii_letters);
}

/* ---- emoji ------------------------------------------------------------------------ */

/* Scans the emoji (sequence) that starts with c at i (next at j) into one token. */
static size_t scan_emoji(Scan *sc, uint32_t c, size_t j) {
    char *w = sc->tp->word;
    int wl = utf8_encode(c, w);
    size_t p = j;
    if (cp_class(c) == CL_RI) { /* a flag is two regional indicators */
        size_t nx;
        if (p < sc->len) {
            uint32_t d = rd(sc, p, &nx);
            if (cp_class(d) == CL_RI) {
                wl += utf8_encode(d, w + wl);
                p = nx;
            }
        }
        emit_copy(sc, w, wl);
        return p;
    }
    while (p < sc->len) {
        size_t nx;
        uint32_t d = rd(sc, p, &nx);
        int cl = cp_class(d);
        if (cl == CL_IGNORE && d != CP_ZWJ && !IS_TAG(d)) { /* skin tone, variation selector */
            p = nx;
            continue;
        }
        if (IS_TAG(d)) { /* subdivision flags (England, Scotland) */
            if (wl + 4 <= TEXT_MAX_TOKEN_BYTES) wl += utf8_encode(d, w + wl);
            p = nx;
            continue;
        }
        if (d != CP_ZWJ || nx >= sc->len) break;
        size_t nx2;
        uint32_t e = rd(sc, nx, &nx2);
        if (cp_class(e) != CL_EMOJI) break;
        if (wl + 7 <= TEXT_MAX_TOKEN_BYTES) {
            wl += utf8_encode(CP_ZWJ, w + wl);
            wl += utf8_encode(e, w + wl);
        }
        p = nx2;
    }
    emit_copy(sc, w, wl);
    return p;
}

/* ---- the scanner ------------------------------------------------------------------ */

int text_tokenize(TextPipeline *tp, const char *s, size_t len, TextTokens *out) {
    Scan sc = {
        .tp = tp, .s = (const unsigned char *)s, .len = s ? len : 0, .out = out, .max = tp->cfg.max_tokens};
    out->n = 0;
    tp->arena_used = 0;
    int prev_cl = CL_SPACE; /* class of the last character read */
    size_t i = 0;
    while (i < sc.len && !full(&sc)) {
        size_t j, end;
        uint32_t c = rd(&sc, i, &j);
        int cl = cp_class(c);
        if (cl == CL_SPACE || cl == CL_IGNORE) {
            if (cl == CL_SPACE) prev_cl = CL_SPACE;
            i = j;
            continue;
        }
        int pol = match_emoticon(&sc, i, c, j, prev_cl, &end);
        if (pol) {
            if (pol > 0)
                EMIT_SPECIAL(&sc, TEXT_TOK_POS_EMO);
            else
                EMIT_SPECIAL(&sc, TEXT_TOK_NEG_EMO);
            prev_cl = CL_SEP;
            i = end;
            continue;
        }
        switch (cl) {
        case CL_LETTER:
        case CL_DIGIT: {
            Word wd;
            end = scan_word(&sc, i, &wd);
            size_t url;
            if (end < sc.len && (sc.s[end] == ':' || sc.s[end] == '.') && !wd.non_ascii &&
                (url = match_url(&sc, i))) {
                EMIT_SPECIAL(&sc, TEXT_TOK_URL);
                prev_cl = CL_SEP;
                i = url;
                continue;
            }
            emit_scanned_word(&sc, &wd);
            prev_cl = cl;
            i = end;
            continue;
        }
        case CL_IDEO: {
            char enc[4];
            int n = utf8_encode(c, enc);
            emit_copy(&sc, enc, n);
            break;
        }
        case CL_EMOJI:
        case CL_RI:
            j = scan_emoji(&sc, c, j);
            break;
        default:
            if (c == '@' && !IS_WORD(prev_cl) && (end = match_mention(&sc, i))) {
                EMIT_SPECIAL(&sc, TEXT_TOK_USER);
                prev_cl = CL_LETTER;
                i = end;
                continue;
            }
            if (c == '!' || c == '?') {
                size_t nx;
                int run = 1;
                while (j < sc.len && rd(&sc, j, &nx) == c) {
                    run++;
                    j = nx;
                }
                const char *tok = c == '!' ? (run > 1 ? "!!" : "!") : (run > 1 ? "??" : "?");
                emit_static(&sc, tok, run > 1 ? 2 : 1);
            }
            break;
        }
        prev_cl = cl;
        i = j;
    }
    tp->stats.texts++;
    tp->stats.tokens += (uint64_t)out->n;
    return out->n;
}

size_t text_tokens_join(const TextTokens *t, char *out, size_t cap) {
    size_t total = 0, w = 0;
    int fits = 1;
    for (int k = 0; k < t->n; k++) {
        size_t need = (size_t)t->len[k] + (k > 0);
        if (fits && w + need + 1 <= cap) {
            if (k > 0) out[w++] = ' ';
            memcpy(out + w, t->tok[k], (size_t)t->len[k]);
            w += (size_t)t->len[k];
        } else {
            fits = 0;
        }
        total += need;
    }
    if (cap) out[w] = '\0';
    return total;
}
