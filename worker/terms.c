/* terms.c — hashtags, mentions and words of tweets counted in a fixed table (see terms.h). */
#include "worker/terms.h"

#include <stdlib.h>
#include <string.h>

#include "model/util.h"

typedef struct {
    char term[TERMS_MAX_LEN];
    uint8_t len; /* 0: empty slot */
    uint32_t hash;
    int64_t count;
} TermSlot;

struct TermCounter {
    TermSlot *slots;
    uint32_t mask;   /* slots - 1 (a power of two) */
    int capacity;    /* distinct terms accepted (at most half the slots) */
    int used;        /* distinct terms held */
    int64_t dropped; /* occurrences lost to a full table */
};

/* English stop words skipped as words, sorted for bsearch (lower case, >= 3 bytes:
 * shorter words are skipped by length anyway). Apostrophe-less forms ("dont") are
 * here because tweets drop apostrophes; "don", "didn"... are what "don't" leaves. */
static const char *const stopwords[] = {
    "about",   "after",   "again",  "all",   "also",   "amp",    "and",      "any",    "are",     "aren",
    "because", "been",    "before", "being", "both",   "but",    "can",      "cant",   "com",     "could",
    "couldn",  "couldnt", "did",    "didn",  "didnt",  "does",   "doesn",    "doesnt", "doing",   "don",
    "dont",    "down",    "each",   "even",  "for",    "from",   "get",      "got",    "had",     "hadn",
    "has",     "hasn",    "have",   "haven", "having", "her",    "here",     "hers",   "herself", "him",
    "himself", "his",     "how",    "into",  "isn",    "isnt",   "its",      "itself", "ive",     "just",
    "let",     "like",    "more",   "most",  "much",   "myself", "not",      "now",    "off",     "once",
    "only",    "other",   "our",    "ours",  "out",    "over",   "own",      "quot",   "same",    "she",
    "should",  "shouldn", "some",   "such",  "than",   "that",   "thats",    "the",    "their",   "theirs",
    "them",    "then",    "there",  "these", "they",   "theyre", "this",     "those",  "through", "too",
    "under",   "until",   "very",   "via",   "was",    "wasn",   "were",     "weren",  "what",    "when",
    "where",   "which",   "while",  "who",   "whom",   "why",    "will",     "with",   "won",     "wont",
    "would",   "wouldn",  "you",    "your",  "youre",  "yours",  "yourself",
};

typedef struct {
    const char *s;
    size_t len;
} Span;

static int span_cmp(const void *key, const void *elem) {
    const Span *k = key;
    const char *w = *(const char *const *)elem;
    size_t wl = strlen(w), n = k->len < wl ? k->len : wl;
    int c = memcmp(k->s, w, n);
    if (c) return c;
    return (k->len > wl) - (k->len < wl);
}

int terms_is_stopword(const char *w, size_t len) {
    Span key = {w, len};
    return bsearch(&key, stopwords, sizeof stopwords / sizeof stopwords[0], sizeof stopwords[0], span_cmp) !=
           NULL;
}

TermKind terms_kind_of(const char *term) {
    if (term[0] == '#') return TERM_HASHTAG;
    if (term[0] == '@') return TERM_MENTION;
    return TERM_WORD;
}

TermCounter *terms_new(int capacity) {
    if (capacity < 1) capacity = 1;
    uint32_t slots = 16;
    while (slots < 2u * (uint32_t)capacity) slots <<= 1;
    TermCounter *t = callocCheck(1, sizeof *t);
    t->slots = callocCheck(slots, sizeof *t->slots);
    t->mask = slots - 1;
    t->capacity = capacity;
    return t;
}

void terms_free(TermCounter *t) {
    if (!t) return;
    free(t->slots);
    free(t);
}

void terms_reset(TermCounter *t) {
    memset(t->slots, 0, ((size_t)t->mask + 1) * sizeof *t->slots);
    t->used = 0;
    t->dropped = 0;
}

int64_t terms_dropped(const TermCounter *t) { return t->dropped; }

/* FNV-1a, 32 bits. */
static uint32_t term_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* Length of s[0..n) cut to at most max bytes, never splitting a UTF-8 sequence. */
static size_t cut_utf8(const char *s, size_t n, size_t max) {
    if (n <= max) return n;
    n = max;
    while (n > 0 && ((uint8_t)s[n] & 0xC0) == 0x80) n--;
    return n;
}

static void count_term(TermCounter *t, const char *s, size_t n, int64_t count) {
    n = cut_utf8(s, n, TERMS_MAX_LEN - 1);
    if (n == 0) return;
    uint32_t h = term_hash(s, n);
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        TermSlot *e = &t->slots[i];
        if (!e->len) {
            if (t->used >= t->capacity) {
                t->dropped += count;
                return;
            }
            memcpy(e->term, s, n);
            e->term[n] = '\0';
            e->len = (uint8_t)n;
            e->hash = h;
            e->count = count;
            t->used++;
            return;
        }
        if (e->hash == h && e->len == n && !memcmp(e->term, s, n)) {
            e->count += count;
            return;
        }
    }
}

void terms_add(TermCounter *t, const char *term, size_t len, int64_t count) {
    count_term(t, term, len, count);
}

static int is_word_byte(uint8_t c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c >= 0x80;
}

/* Lower-cases the ASCII letters of s[0..n) into buf (after `lead` bytes already there). */
static size_t lower_into(char *buf, size_t lead, const char *s, size_t n) {
    n = cut_utf8(s, n, TERMS_MAX_LEN - 1 - lead);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        buf[lead + i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    return lead + n;
}

static int all_digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

static int starts_with_ci(const char *s, size_t n, const char *prefix) {
    size_t k = strlen(prefix);
    if (n < k) return 0;
    for (size_t i = 0; i < k; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != prefix[i]) return 0;
    }
    return 1;
}

/* Calls fn for every term of a text (lower-cased, cut), see terms.h for what counts. */
static void scan_text(const char *text, size_t len, void (*fn)(const char *term, size_t n, void *ctx),
                      void *ctx) {
    char buf[TERMS_MAX_LEN + 1];
    size_t i = 0;
    while (i < len) {
        uint8_t c = (uint8_t)text[i];
        /* links: skip to the next space */
        if ((i == 0 || !is_word_byte((uint8_t)text[i - 1])) &&
            (starts_with_ci(text + i, len - i, "http://") || starts_with_ci(text + i, len - i, "https://") ||
             starts_with_ci(text + i, len - i, "www."))) {
            while (i < len && text[i] != ' ' && text[i] != '\n' && text[i] != '\t') i++;
            continue;
        }
        int prev_word = i > 0 && is_word_byte((uint8_t)text[i - 1]);
        if ((c == '#' || c == '@') && prev_word) { /* an e-mail address or "a#b": skip what follows */
            i++;
            while (i < len && is_word_byte((uint8_t)text[i])) i++;
            continue;
        }
        if ((c == '#' || c == '@') && i + 1 < len && is_word_byte((uint8_t)text[i + 1])) {
            size_t j = i + 1;
            while (j < len && is_word_byte((uint8_t)text[j])) j++;
            buf[0] = (char)c;
            size_t n = lower_into(buf, 1, text + i + 1, j - i - 1);
            fn(buf, n, ctx);
            i = j;
            continue;
        }
        if (is_word_byte(c) && !prev_word) {
            size_t j = i;
            while (j < len && is_word_byte((uint8_t)text[j])) j++;
            size_t n = j - i;
            if (n >= TERMS_MIN_WORD && !all_digits(text + i, n)) {
                size_t m = lower_into(buf, 0, text + i, n);
                if (!terms_is_stopword(buf, m)) fn(buf, m, ctx);
            }
            i = j;
            continue;
        }
        i++;
    }
}

static void add_one(const char *term, size_t n, void *ctx) { count_term(ctx, term, n, 1); }

void terms_add_text(TermCounter *t, const char *text, size_t len) { scan_text(text, len, add_one, t); }

typedef struct {
    const TermCounter *t;
    int64_t sum;
} ScoreCtx;

static void score_one(const char *term, size_t n, void *ctx) {
    ScoreCtx *c = ctx;
    n = cut_utf8(term, n, TERMS_MAX_LEN - 1);
    uint32_t h = term_hash(term, n);
    for (uint32_t i = h & c->t->mask;; i = (i + 1) & c->t->mask) {
        const TermSlot *e = &c->t->slots[i];
        if (!e->len) return;
        if (e->hash == h && e->len == n && !memcmp(e->term, term, n)) {
            c->sum += e->count;
            return;
        }
    }
}

int64_t terms_score_text(const TermCounter *t, const char *text, size_t len) {
    ScoreCtx c = {t, 0};
    scan_text(text, len, score_one, &c);
    return c.sum;
}

int terms_top(const TermCounter *t, TermKind kind, TermCount *out, int k) {
    int have = 0;
    for (uint32_t s = 0; s <= t->mask && k > 0; s++) {
        const TermSlot *e = &t->slots[s];
        if (!e->len || terms_kind_of(e->term) != kind) continue;
        /* insertion into the sorted top-k: count descending, then term ascending */
        int pos = have;
        while (pos > 0 && (out[pos - 1].count < e->count ||
                           (out[pos - 1].count == e->count && strcmp(out[pos - 1].term, e->term) > 0)))
            pos--;
        if (pos >= k) continue;
        int last = have < k ? have : k - 1;
        memmove(&out[pos + 1], &out[pos], (size_t)(last - pos) * sizeof *out);
        memcpy(out[pos].term, e->term, (size_t)e->len + 1);
        out[pos].count = e->count;
        if (have < k) have++;
    }
    return have;
}
