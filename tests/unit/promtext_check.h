/* promtext_check.h — a checker of the Prometheus text exposition format 0.0.4, shared
 * by the registry's unit test and the HTTP integration test (header-only: each test
 * program includes it once).
 *
 * promtext_check() parses every line and enforces:
 *   - the text ends with a newline; no empty lines;
 *   - "# HELP name text" and "# TYPE name counter|gauge|histogram|summary|untyped"
 *     with valid names, at most one of each per family, TYPE before the samples;
 *   - sample lines  name{label="value",...} value  with valid metric and label names,
 *     label values using only the escapes \\ \" \n, no repeated label, a float value
 *     (or +Inf, -Inf, NaN), an optional integer timestamp;
 *   - every sample belongs to a family declared by TYPE, and a family's lines are
 *     contiguous (a family never comes back after another one started);
 *   - counters are >= 0; histogram series (one per label set without le) have
 *     _bucket lines with strictly increasing le, non-decreasing cumulative counts,
 *     ending with le="+Inf", then _sum and a _count equal to the +Inf bucket.
 * It returns 0, or -1 with "line N: reason" in err. */
#ifndef BUZZRADAR_PROMTEXT_CHECK_H
#define BUZZRADAR_PROMTEXT_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PC_MAX_FAMILIES 256
#define PC_MAX_KEYS     64
#define PC_NAME_MAX     200
#define PC_KEY_MAX      2048

typedef struct {
    char name[PC_NAME_MAX];
    char type[16];
    int help, closed;
} PcFamily;

typedef struct {
    char key[PC_KEY_MAX]; /* the label set without le, canonical text */
    double last_le, inf_count, last_cum;
    int nbuckets, inf_seen, sum_seen, count_seen;
} PcSeries;

typedef struct {
    PcFamily fam[PC_MAX_FAMILIES];
    int nfam;
    int current; /* index of the family whose lines are being read, -1 before any */
    PcSeries ser[PC_MAX_KEYS];
    int nser;
    int nsamples;
    char *err;
    size_t errlen;
    int line;
} PcState;

static int pc_fail(PcState *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int pc_fail(PcState *st, const char *fmt, ...) {
    int n = snprintf(st->err, st->errlen, "line %d: ", st->line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < st->errlen) vsnprintf(st->err + n, st->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int pc_name_char(char c, int first, int colon) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
           (!first && c >= '0' && c <= '9');
}

/* Length of the metric (colon=1) or label (colon=0) name at s, 0 when none. */
static size_t pc_name_len(const char *s, int colon) {
    size_t n = 0;
    while (pc_name_char(s[n], n == 0, colon)) n++;
    return n;
}

/* Parses a sample value ("+Inf", "-Inf", "NaN" or a Go-style float); 0 on success. */
static int pc_value(const char *s, size_t n, double *v) {
    char buf[64];
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (strcmp(buf, "+Inf") == 0)
        *v = INFINITY;
    else if (strcmp(buf, "-Inf") == 0)
        *v = -INFINITY;
    else if (strcmp(buf, "NaN") == 0)
        *v = NAN;
    else {
        for (size_t i = 0; i < n; i++)
            if (!strchr("0123456789+-.eE", buf[i])) return -1;
        char *end;
        *v = strtod(buf, &end);
        if (*end) return -1;
    }
    return 0;
}

static PcFamily *pc_family(PcState *st, const char *name, size_t n, int create) {
    for (int i = 0; i < st->nfam; i++)
        if (strlen(st->fam[i].name) == n && memcmp(st->fam[i].name, name, n) == 0) return &st->fam[i];
    if (!create || st->nfam == PC_MAX_FAMILIES || n >= PC_NAME_MAX) return NULL;
    PcFamily *f = &st->fam[st->nfam++];
    memset(f, 0, sizeof *f);
    memcpy(f->name, name, n);
    return f;
}

/* Checks that every histogram series of the family being left was complete. */
static int pc_close_histograms(PcState *st) {
    if (st->current < 0 || strcmp(st->fam[st->current].type, "histogram") != 0) return 0;
    for (int i = 0; i < st->nser; i++)
        if (!st->ser[i].sum_seen || !st->ser[i].count_seen)
            return pc_fail(st, "histogram %s{%s} lacks _sum or _count", st->fam[st->current].name,
                           st->ser[i].key);
    return 0;
}

/* Makes f the family being read; a family that was left may not come back. */
static int pc_enter(PcState *st, PcFamily *f) {
    int idx = (int)(f - st->fam);
    if (st->current == idx) return 0;
    if (f->closed) return pc_fail(st, "family %s appears again after other families", f->name);
    if (pc_close_histograms(st) != 0) return -1;
    if (st->current >= 0) st->fam[st->current].closed = 1;
    st->current = idx;
    st->nser = 0;
    return 0;
}

static int pc_comment(PcState *st, const char *s, size_t n) {
    int help = n >= 7 && memcmp(s, "# HELP ", 7) == 0;
    int type = n >= 7 && memcmp(s, "# TYPE ", 7) == 0;
    if (!help && !type) return 0; /* another comment: ignored, as the format says */
    const char *name = s + 7;
    size_t nl = pc_name_len(name, 1);
    if (nl == 0 || (7 + nl < n && name[nl] != ' '))
        return pc_fail(st, "invalid metric name after # HELP/# TYPE");
    PcFamily *f = pc_family(st, name, nl, 1);
    if (!f) return pc_fail(st, "too many families");
    if (pc_enter(st, f) != 0) return -1;
    const char *rest = name + nl + (7 + nl < n ? 1 : 0);
    size_t rn = n - (size_t)(rest - s);
    if (help) {
        if (f->help++) return pc_fail(st, "second # HELP for %s", f->name);
        for (size_t i = 0; i < rn; i++) {
            if (rest[i] != '\\') continue;
            if (i + 1 == rn || (rest[i + 1] != '\\' && rest[i + 1] != 'n'))
                return pc_fail(st, "invalid escape in HELP of %s", f->name);
            i++;
        }
        return 0;
    }
    if (f->type[0]) return pc_fail(st, "second # TYPE for %s", f->name);
    static const char *const types[] = {"counter", "gauge", "histogram", "summary", "untyped"};
    for (int i = 0; i < 5; i++)
        if (strlen(types[i]) == rn && memcmp(rest, types[i], rn) == 0) {
            snprintf(f->type, sizeof f->type, "%s", types[i]);
            return 0;
        }
    return pc_fail(st, "unknown type '%.*s'", (int)rn, rest);
}

/* Parses {a="x",b="y"} at s (n bytes available); writes the label set without le,
 * canonically, into key and le's value (if any) into le/has_le. Returns the bytes
 * used or -1. */
static long pc_labels(PcState *st, const char *s, size_t n, char *key, size_t keycap, double *le,
                      int *has_le) {
    size_t i = 1, k = 0;
    char names[16][64];
    int nnames = 0;
    *has_le = 0;
    key[0] = '\0';
    for (;;) {
        if (i < n && s[i] == '}') return (long)i + 1;
        size_t ln = pc_name_len(s + i, 0);
        if (ln == 0 || ln >= 64) return pc_fail(st, "invalid label name");
        if (ln >= 2 && s[i] == '_' && s[i + 1] == '_') return pc_fail(st, "reserved label name");
        for (int j = 0; j < nnames; j++)
            if (strlen(names[j]) == ln && memcmp(names[j], s + i, ln) == 0)
                return pc_fail(st, "label %.*s repeats", (int)ln, s + i);
        if (nnames == 16) return pc_fail(st, "too many labels");
        memcpy(names[nnames], s + i, ln);
        names[nnames++][ln] = '\0';
        int is_le = ln == 2 && memcmp(s + i, "le", 2) == 0;
        const char *lname = s + i;
        i += ln;
        if (i + 1 >= n || s[i] != '=' || s[i + 1] != '"')
            return pc_fail(st, "expected =\" after a label name");
        i += 2;
        size_t vstart = i;
        while (i < n && s[i] != '"') {
            if (s[i] == '\\') {
                if (i + 1 >= n || (s[i + 1] != '\\' && s[i + 1] != '"' && s[i + 1] != 'n'))
                    return pc_fail(st, "invalid escape in a label value");
                i++;
            }
            i++;
        }
        if (i >= n) return pc_fail(st, "unterminated label value");
        if (is_le) {
            *has_le = 1;
            if (pc_value(s + vstart, i - vstart, le) != 0) return pc_fail(st, "invalid le value");
        } else {
            int w =
                snprintf(key + k, keycap - k, "%.*s=%.*s;", (int)ln, lname, (int)(i - vstart), s + vstart);
            if (w < 0 || (size_t)w >= keycap - k) return pc_fail(st, "label set too long");
            k += (size_t)w;
        }
        i++; /* closing quote */
        if (i < n && s[i] == ',') {
            i++;
            if (i < n && s[i] == '}') return (long)i + 1; /* a trailing comma is allowed */
            continue;
        }
        if (i < n && s[i] == '}') return (long)i + 1;
        return pc_fail(st, "expected , or } after a label value");
    }
}

static PcSeries *pc_series(PcState *st, const char *key) {
    for (int i = 0; i < st->nser; i++)
        if (strcmp(st->ser[i].key, key) == 0) return &st->ser[i];
    if (st->nser == PC_MAX_KEYS) return NULL;
    PcSeries *s = &st->ser[st->nser++];
    memset(s, 0, sizeof *s);
    snprintf(s->key, sizeof s->key, "%s", key);
    s->last_le = -INFINITY;
    return s;
}

static int pc_histogram_sample(PcState *st, const char *suffix, const char *key, int has_le, double le,
                               double v) {
    PcSeries *s = pc_series(st, key);
    if (!s) return pc_fail(st, "too many histogram series");
    if (strcmp(suffix, "_bucket") == 0) {
        if (!has_le) return pc_fail(st, "_bucket without le");
        if (s->inf_seen) return pc_fail(st, "bucket after le=\"+Inf\"");
        if (!(le > s->last_le)) return pc_fail(st, "le not increasing");
        if (s->nbuckets && v < s->last_cum) return pc_fail(st, "cumulative bucket count decreases");
        if (v < 0 || v != floor(v)) return pc_fail(st, "bucket count is not a non-negative integer");
        s->last_le = le;
        s->last_cum = v;
        s->nbuckets++;
        if (isinf(le)) {
            s->inf_seen = 1;
            s->inf_count = v;
        }
        return 0;
    }
    if (has_le) return pc_fail(st, "le on %s", suffix);
    if (!s->inf_seen) return pc_fail(st, "%s before the le=\"+Inf\" bucket", suffix);
    if (strcmp(suffix, "_sum") == 0) {
        if (s->sum_seen++) return pc_fail(st, "second _sum");
        return 0;
    }
    if (s->count_seen++) return pc_fail(st, "second _count");
    if (v != s->inf_count)
        return pc_fail(st, "_count %.17g differs from the +Inf bucket %.17g", v, s->inf_count);
    return 0;
}

static int pc_sample(PcState *st, const char *s, size_t n) {
    size_t nl = pc_name_len(s, 1);
    if (nl == 0) return pc_fail(st, "a sample line must start with a metric name");
    /* The family: the name itself, or a histogram's name with its suffix removed. */
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    PcFamily *f = pc_family(st, s, nl, 0);
    const char *suffix = "";
    if (!f || strcmp(f->type, "histogram") == 0) {
        for (int i = 0; i < 3 && !(f && *suffix); i++) {
            size_t sl = strlen(suffixes[i]);
            if (nl > sl && memcmp(s + nl - sl, suffixes[i], sl) == 0) {
                PcFamily *h = pc_family(st, s, nl - sl, 0);
                if (h && strcmp(h->type, "histogram") == 0) {
                    f = h;
                    suffix = suffixes[i];
                }
            }
        }
    }
    if (!f || !f->type[0]) return pc_fail(st, "sample %.*s has no # TYPE", (int)nl, s);
    if (strcmp(f->type, "histogram") == 0 && !*suffix)
        return pc_fail(st, "histogram sample without a suffix");
    if (pc_enter(st, f) != 0) return -1;
    size_t i = nl;
    char key[PC_KEY_MAX];
    double le = 0;
    int has_le = 0;
    key[0] = '\0';
    if (i < n && s[i] == '{') {
        long used = pc_labels(st, s + i, n - i, key, sizeof key, &le, &has_le);
        if (used < 0) return -1;
        i += (size_t)used;
    }
    if (i >= n || s[i] != ' ') return pc_fail(st, "expected a space before the value");
    i++;
    size_t vs = i;
    while (i < n && s[i] != ' ') i++;
    double v;
    if (pc_value(s + vs, i - vs, &v) != 0) return pc_fail(st, "invalid value '%.*s'", (int)(i - vs), s + vs);
    if (i < n) { /* a timestamp: an integer */
        i++;
        size_t ts = i;
        if (i < n && s[i] == '-') i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == ts || i != n) return pc_fail(st, "invalid timestamp");
    }
    if (has_le && strcmp(f->type, "histogram") != 0) return pc_fail(st, "le label outside a histogram");
    if (strcmp(f->type, "counter") == 0 && !(v >= 0))
        return pc_fail(st, "counter %s is negative or NaN", f->name);
    st->nsamples++;
    if (strcmp(f->type, "histogram") == 0) return pc_histogram_sample(st, suffix, key, has_le, le, v);
    return 0;
}

/* Checks text[0..len); on success returns 0 and the sample count in *nsamples (may
 * be NULL). */
static int promtext_check(const char *text, size_t len, int *nsamples, char *err, size_t errlen) {
    static PcState st; /* large: kept off the stack; tests call this from one thread */
    memset(&st, 0, sizeof st);
    st.current = -1;
    st.err = err;
    st.errlen = errlen;
    if (len == 0 || text[len - 1] != '\n') return pc_fail(&st, "the text must end with a newline");
    size_t pos = 0;
    while (pos < len) {
        const char *nlp = memchr(text + pos, '\n', len - pos);
        size_t n = (size_t)(nlp - (text + pos));
        st.line++;
        const char *s = text + pos;
        if (n == 0) return pc_fail(&st, "empty line");
        if (s[0] == '#') {
            if (pc_comment(&st, s, n) != 0) return -1;
        } else if (pc_sample(&st, s, n) != 0) {
            return -1;
        }
        pos += n + 1;
    }
    if (pc_close_histograms(&st) != 0) return -1;
    if (nsamples) *nsamples = st.nsamples;
    return 0;
}

/* The value of the sample whose name and labels are exactly `series` (e.g.
 * "buzzradar_scored_total{label=\"positive\"}"); 0 when found, -1 otherwise. */
static int promtext_value(const char *text, const char *series, double *v) {
    size_t sl = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, series, sl) == 0 && p[sl] == ' ') {
            const char *e = strchr(p + sl + 1, '\n');
            size_t n = e ? (size_t)(e - (p + sl + 1)) : strlen(p + sl + 1);
            return pc_value(p + sl + 1, n, v);
        }
    }
    return -1;
}

#endif
