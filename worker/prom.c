/* prom.c — the Prometheus registry of prom.h: registration, lock-free updates of
 * histograms, quantile estimates and the text exposition format 0.0.4. */
#include "worker/prom.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/utf8.h"
#include "model/util.h"

typedef enum { PROM_COUNTER, PROM_GAUGE, PROM_HISTOGRAM, PROM_INFO } PromKind;

static const char *const prom_kind_name[] = {"counter", "gauge", "histogram", "gauge"};

struct PromInfo {
    PromRegistry *r;
    int nlabels;
    char *labels[PROM_MAX_INFO_LABELS];
    char values[PROM_MAX_INFO_LABELS][PROM_INFO_VALUE_MAX]; /* guarded by r->mu */
    int set;                                                /* guarded by r->mu */
};

typedef struct {
    PromKind kind;
    char *name;
    char *help;
    char *label;   /* NULL: a single series */
    char **values; /* nseries label values, or NULL */
    int nseries;
    void *series; /* PromCounter[] / PromGauge[] / PromHistogram[] / PromInfo */
    double bounds[PROM_MAX_BUCKETS];
    int nbounds;
    _Atomic uint64_t *counts; /* histograms: nseries * (nbounds + 1) buckets */
} PromFamily;

struct PromRegistry {
    pthread_mutex_t mu;
    PromFamily **fam; /* each family allocated once: its address is stable */
    int nfam, capfam;
    char err[192];
};

/* ---- registry ------------------------------------------------------------------- */

PromRegistry *prom_registry_new(void) {
    PromRegistry *r = callocCheck(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    return r;
}

static void prom_family_free(PromFamily *f) {
    free(f->name);
    free(f->help);
    free(f->label);
    for (int i = 0; f->values && i < f->nseries; i++) free(f->values[i]);
    free(f->values);
    if (f->kind == PROM_INFO) {
        PromInfo *info = f->series;
        for (int i = 0; i < info->nlabels; i++) free(info->labels[i]);
    }
    free(f->series);
    free(f->counts);
}

void prom_registry_free(PromRegistry *r) {
    if (!r) return;
    for (int i = 0; i < r->nfam; i++) {
        prom_family_free(r->fam[i]);
        free(r->fam[i]);
    }
    free(r->fam);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

const char *prom_registry_error(const PromRegistry *r) { return r->err; }

static void *prom_fail(PromRegistry *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void *prom_fail(PromRegistry *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    return NULL;
}

static int prom_valid_metric_name(const char *s) {
    if (!s || !*s) return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(p > s && c >= '0' && c <= '9')) return 0;
    }
    return 1;
}

static int prom_valid_label_name(const char *s) {
    if (!s || !*s || (s[0] == '_' && s[1] == '_')) return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(p > s && c >= '0' && c <= '9')) return 0;
    }
    return 1;
}

/* 1 when `name` equals `base` followed by one of the histogram suffixes. */
static int prom_is_derived(const char *name, const char *base) {
    static const char *const suffix[] = {"_bucket", "_sum", "_count"};
    size_t n = strlen(base);
    if (strncmp(name, base, n) != 0) return 0;
    for (int i = 0; i < 3; i++)
        if (strcmp(name + n, suffix[i]) == 0) return 1;
    return 0;
}

/* Checks what every family shares and appends a family (fields copied) under the
 * caller's lock. Returns the new family, or NULL with r->err set. */
static PromFamily *prom_add_family(PromRegistry *r, PromKind kind, const char *name, const char *help,
                                   const char *label, const char *const *values, int nvalues) {
    if (!prom_valid_metric_name(name))
        return prom_fail(r, "invalid metric name '%s'", name ? name : "(null)");
    for (int i = 0; i < r->nfam; i++) {
        const PromFamily *f = r->fam[i];
        if (strcmp(f->name, name) == 0 || (f->kind == PROM_HISTOGRAM && prom_is_derived(name, f->name)) ||
            (kind == PROM_HISTOGRAM && prom_is_derived(f->name, name)))
            return prom_fail(r, "metric '%s' clashes with registered '%s'", name, f->name);
    }
    if (label) {
        if (!prom_valid_label_name(label)) return prom_fail(r, "%s: invalid label name '%s'", name, label);
        if (kind == PROM_HISTOGRAM && strcmp(label, "le") == 0)
            return prom_fail(r, "%s: a histogram cannot have a label named 'le'", name);
        if (nvalues < 1 || nvalues > PROM_MAX_SERIES)
            return prom_fail(r, "%s: %d label values (1..%d allowed)", name, nvalues, PROM_MAX_SERIES);
        for (int i = 0; i < nvalues; i++) {
            if (!values || !values[i] || !utf8_valid(values[i], strlen(values[i])))
                return prom_fail(r, "%s: label value %d is missing or not UTF-8", name, i);
            for (int j = 0; j < i; j++)
                if (strcmp(values[i], values[j]) == 0)
                    return prom_fail(r, "%s: label value '%s' repeats", name, values[i]);
        }
    } else if (nvalues != 0) {
        return prom_fail(r, "%s: label values given without a label name", name);
    }
    if (r->nfam == r->capfam) {
        r->capfam = r->capfam ? 2 * r->capfam : 16;
        r->fam = reallocCheck(r->fam, (size_t)r->capfam * sizeof *r->fam);
    }
    PromFamily *f = callocCheck(1, sizeof *f); /* never moves: series point into it */
    r->fam[r->nfam++] = f;
    f->kind = kind;
    f->name = strdupCheck(name);
    f->help = strdupCheck(help ? help : "");
    f->nseries = label ? nvalues : 1;
    if (label) {
        f->label = strdupCheck(label);
        f->values = callocCheck((size_t)nvalues, sizeof *f->values);
        for (int i = 0; i < nvalues; i++) f->values[i] = strdupCheck(values[i]);
    }
    return f;
}

static int prom_increasing(const double *b, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(b[i]) || (i > 0 && !(b[i] > b[i - 1]))) return 0;
    return 1;
}

/* 0 when the info label names are valid and distinct, else -1 with r->err set. */
static int prom_check_info_labels(PromRegistry *r, const char *name, const char *const *labels, int n) {
    for (int i = 0; i < n; i++) {
        if (!prom_valid_label_name(labels[i])) {
            prom_fail(r, "%s: invalid label name '%s'", name, labels[i] ? labels[i] : "(null)");
            return -1;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(labels[i], labels[j]) == 0) {
                prom_fail(r, "%s: label '%s' repeats", name, labels[i]);
                return -1;
            }
    }
    return 0;
}

PromCounter *prom_counter_register(PromRegistry *r, const char *name, const char *help, const char *label,
                                   const char *const *values, int nvalues) {
    pthread_mutex_lock(&r->mu);
    PromFamily *f = prom_add_family(r, PROM_COUNTER, name, help, label, values, nvalues);
    if (f) f->series = callocCheck((size_t)f->nseries, sizeof(PromCounter));
    pthread_mutex_unlock(&r->mu);
    return f ? f->series : NULL;
}

PromGauge *prom_gauge_register(PromRegistry *r, const char *name, const char *help, const char *label,
                               const char *const *values, int nvalues) {
    pthread_mutex_lock(&r->mu);
    PromFamily *f = prom_add_family(r, PROM_GAUGE, name, help, label, values, nvalues);
    if (f) {
        PromGauge *g = callocCheck((size_t)f->nseries, sizeof *g);
        for (int i = 0; i < f->nseries; i++) atomic_init(&g[i].bits, prom_double_bits(0.0));
        f->series = g;
    }
    pthread_mutex_unlock(&r->mu);
    return f ? f->series : NULL;
}

PromHistogram *prom_histogram_register(PromRegistry *r, const char *name, const char *help,
                                       const double *bounds, int nbounds, const char *label,
                                       const char *const *values, int nvalues) {
    pthread_mutex_lock(&r->mu);
    PromFamily *f = NULL;
    if (!bounds || nbounds < 1 || nbounds > PROM_MAX_BUCKETS)
        prom_fail(r, "%s: %d bucket bounds (1..%d allowed)", name ? name : "(null)", nbounds,
                  PROM_MAX_BUCKETS);
    else if (!prom_increasing(bounds, nbounds))
        prom_fail(r, "%s: bucket bounds must be finite and strictly increasing", name ? name : "(null)");
    else
        f = prom_add_family(r, PROM_HISTOGRAM, name, help, label, values, nvalues);
    if (f) {
        memcpy(f->bounds, bounds, (size_t)nbounds * sizeof *bounds);
        f->nbounds = nbounds;
        size_t per = (size_t)nbounds + 1;
        f->counts = callocCheck((size_t)f->nseries * per, sizeof *f->counts);
        PromHistogram *h = callocCheck((size_t)f->nseries, sizeof *h);
        for (int i = 0; i < f->nseries; i++) {
            h[i].bounds = f->bounds;
            h[i].nbounds = nbounds;
            h[i].counts = f->counts + (size_t)i * per;
            atomic_init(&h[i].sum_bits, prom_double_bits(0.0));
        }
        f->series = h;
    }
    pthread_mutex_unlock(&r->mu);
    return f ? f->series : NULL;
}

PromInfo *prom_info_register(PromRegistry *r, const char *name, const char *help, const char *const *labels,
                             int nlabels) {
    pthread_mutex_lock(&r->mu);
    PromFamily *f = NULL;
    if (!labels || nlabels < 1 || nlabels > PROM_MAX_INFO_LABELS)
        prom_fail(r, "%s: %d info labels (1..%d allowed)", name ? name : "(null)", nlabels,
                  PROM_MAX_INFO_LABELS);
    else if (prom_check_info_labels(r, name ? name : "(null)", labels, nlabels) == 0)
        f = prom_add_family(r, PROM_INFO, name, help, NULL, NULL, 0);
    if (f) {
        PromInfo *info = callocCheck(1, sizeof *info);
        info->r = r;
        info->nlabels = nlabels;
        for (int i = 0; i < nlabels; i++) info->labels[i] = strdupCheck(labels[i]);
        f->series = info;
    }
    pthread_mutex_unlock(&r->mu);
    return f ? f->series : NULL;
}

void prom_info_set(PromInfo *info, const char *const *values) {
    pthread_mutex_lock(&info->r->mu);
    for (int i = 0; i < info->nlabels; i++) {
        const char *v = values && values[i] ? values[i] : "";
        utf8_repair(v, strlen(v), info->values[i], PROM_INFO_VALUE_MAX, UTF8_REPAIR_REPLACE, NULL);
    }
    info->set = 1;
    pthread_mutex_unlock(&info->r->mu);
}

/* ---- histograms ----------------------------------------------------------------- */

void prom_histogram_observe(PromHistogram *h, double v) {
    if (isnan(v)) return;
    int lo = 0, hi = h->nbounds; /* first i with v <= bounds[i], or nbounds */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (v <= h->bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&h->counts[lo], 1, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(&h->sum_bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&h->sum_bits, &old,
                                                  prom_double_bits(prom_bits_double(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

uint64_t prom_histogram_count(const PromHistogram *h) {
    uint64_t n = 0;
    for (int i = 0; i <= h->nbounds; i++) n += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    return n;
}

double prom_histogram_sum(const PromHistogram *h) {
    return prom_bits_double(atomic_load_explicit(&h->sum_bits, memory_order_relaxed));
}

void prom_histogram_snapshot(const PromHistogram *h, PromSnapshot *out) {
    out->nbounds = h->nbounds;
    out->count = 0;
    for (int i = 0; i < h->nbounds; i++) out->bounds[i] = h->bounds[i];
    for (int i = 0; i <= h->nbounds; i++) {
        out->counts[i] = atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        out->count += out->counts[i];
    }
    out->sum = prom_histogram_sum(h);
}

void prom_snapshot_delta(const PromSnapshot *now, const PromSnapshot *before, PromSnapshot *out) {
    PromSnapshot d = *now; /* now and out may alias */
    d.count = 0;
    for (int i = 0; i <= d.nbounds; i++) {
        uint64_t b = i <= before->nbounds ? before->counts[i] : 0;
        d.counts[i] = now->counts[i] >= b ? now->counts[i] - b : 0;
        d.count += d.counts[i];
    }
    d.sum = now->sum - before->sum;
    *out = d;
}

double prom_snapshot_quantile(const PromSnapshot *s, double q) {
    if (s->count == 0 || !(q >= 0.0 && q <= 1.0)) return NAN;
    double rank = q * (double)s->count;
    uint64_t below = 0; /* observations in the buckets before i */
    for (int i = 0; i <= s->nbounds; i++) {
        uint64_t c = s->counts[i];
        if (c > 0 && (double)(below + c) >= rank) {
            if (i == s->nbounds) return s->bounds[s->nbounds - 1];
            double upper = s->bounds[i];
            double lower = i > 0 ? s->bounds[i - 1] : (upper > 0 ? 0.0 : upper);
            double frac = (rank - (double)below) / (double)c;
            if (frac < 0) frac = 0;
            return lower + (upper - lower) * frac;
        }
        below += c;
    }
    return s->bounds[s->nbounds - 1]; /* not reached: the last non-empty bucket holds rank */
}

double prom_histogram_quantile(const PromHistogram *h, double q) {
    PromSnapshot s;
    prom_histogram_snapshot(h, &s);
    return prom_snapshot_quantile(&s, q);
}

/* ---- exposition ----------------------------------------------------------------- */

int prom_format_double(double v, char *buf) {
    if (isnan(v)) return snprintf(buf, PROM_VALUE_MAX, "NaN");
    if (isinf(v)) return snprintf(buf, PROM_VALUE_MAX, v > 0 ? "+Inf" : "-Inf");
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(buf, PROM_VALUE_MAX, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return n;
}

/* A bounded text writer: counts every byte asked for, stores what fits. */
typedef struct {
    char *buf;
    size_t cap; /* bytes available for text, the NUL excluded */
    size_t len; /* bytes asked for so far */
} PromWriter;

static void pw_put(PromWriter *w, const char *s, size_t n) {
    if (w->len < w->cap) memcpy(w->buf + w->len, s, n <= w->cap - w->len ? n : w->cap - w->len);
    w->len += n;
}
static void pw_str(PromWriter *w, const char *s) { pw_put(w, s, strlen(s)); }
static void pw_char(PromWriter *w, char c) { pw_put(w, &c, 1); }

/* Escapes for HELP text (\\ and \n) or, with quotes, for label values (also \"). */
static void pw_escaped(PromWriter *w, const char *s, int quotes) {
    for (; *s; s++) {
        if (*s == '\\')
            pw_put(w, "\\\\", 2);
        else if (*s == '\n')
            pw_put(w, "\\n", 2);
        else if (*s == '"' && quotes)
            pw_put(w, "\\\"", 2);
        else
            pw_char(w, *s);
    }
}

static void pw_double(PromWriter *w, double v) {
    char b[PROM_VALUE_MAX];
    pw_put(w, b, (size_t)prom_format_double(v, b));
}

static void pw_u64(PromWriter *w, uint64_t v) {
    char b[24];
    pw_put(w, b, (size_t)snprintf(b, sizeof b, "%" PRIu64, v));
}

/* name[suffix]{label="value"[,le="bound"]} — the braces only when there is a label. */
static void pw_series(PromWriter *w, const PromFamily *f, int i, const char *suffix, const char *le) {
    pw_str(w, f->name);
    pw_str(w, suffix);
    if (!f->label && !le) return;
    pw_char(w, '{');
    if (f->label) {
        pw_str(w, f->label);
        pw_str(w, "=\"");
        pw_escaped(w, f->values[i], 1);
        pw_char(w, '"');
    }
    if (le) {
        pw_str(w, f->label ? ",le=\"" : "le=\"");
        pw_str(w, le);
        pw_char(w, '"');
    }
    pw_char(w, '}');
}

static void pw_histogram(PromWriter *w, const PromFamily *f, int i) {
    const PromHistogram *h = (const PromHistogram *)f->series + i;
    /* One pass of loads: the +Inf bucket and _count are the same number. */
    uint64_t cum = 0;
    char le[PROM_VALUE_MAX];
    for (int b = 0; b <= h->nbounds; b++) {
        cum += atomic_load_explicit(&h->counts[b], memory_order_relaxed);
        if (b < h->nbounds) prom_format_double(h->bounds[b], le);
        pw_series(w, f, i, "_bucket", b < h->nbounds ? le : "+Inf");
        pw_char(w, ' ');
        pw_u64(w, cum);
        pw_char(w, '\n');
    }
    pw_series(w, f, i, "_sum", NULL);
    pw_char(w, ' ');
    pw_double(w, prom_histogram_sum(h));
    pw_char(w, '\n');
    pw_series(w, f, i, "_count", NULL);
    pw_char(w, ' ');
    pw_u64(w, cum);
    pw_char(w, '\n');
}

static void pw_info(PromWriter *w, const PromFamily *f) {
    const PromInfo *info = f->series;
    if (!info->set) return;
    pw_str(w, f->name);
    pw_char(w, '{');
    for (int i = 0; i < info->nlabels; i++) {
        if (i) pw_char(w, ',');
        pw_str(w, info->labels[i]);
        pw_str(w, "=\"");
        pw_escaped(w, info->values[i], 1);
        pw_char(w, '"');
    }
    pw_str(w, "} 1\n");
}

static void pw_family(PromWriter *w, const PromFamily *f) {
    pw_str(w, "# HELP ");
    pw_str(w, f->name);
    pw_char(w, ' ');
    pw_escaped(w, f->help, 0);
    pw_str(w, "\n# TYPE ");
    pw_str(w, f->name);
    pw_char(w, ' ');
    pw_str(w, prom_kind_name[f->kind]);
    pw_char(w, '\n');
    for (int i = 0; i < f->nseries; i++) {
        switch (f->kind) {
        case PROM_COUNTER:
            pw_series(w, f, i, "", NULL);
            pw_char(w, ' ');
            pw_u64(w, prom_counter_value((const PromCounter *)f->series + i));
            pw_char(w, '\n');
            break;
        case PROM_GAUGE:
            pw_series(w, f, i, "", NULL);
            pw_char(w, ' ');
            pw_double(w, prom_gauge_value((const PromGauge *)f->series + i));
            pw_char(w, '\n');
            break;
        case PROM_HISTOGRAM:
            pw_histogram(w, f, i);
            break;
        case PROM_INFO:
            pw_info(w, f);
            break;
        }
    }
}

size_t prom_render(PromRegistry *r, char *buf, size_t cap) {
    PromWriter w = {buf, cap ? cap - 1 : 0, 0};
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->nfam; i++) pw_family(&w, r->fam[i]);
    pthread_mutex_unlock(&r->mu);
    if (cap) buf[w.len < w.cap ? w.len : w.cap] = '\0';
    return w.len;
}

size_t prom_render_bound(PromRegistry *r) {
    /* Per sample line: name, the longest suffix, braces, quotes, separators, the label
     * (escaped: at most twice as long), le="bound" and a value of <= PROM_VALUE_MAX. */
    const size_t line_extra = 7 /* _bucket */ + 8 /* {="",} */ + 6 /* le="" */ + 2 * PROM_VALUE_MAX + 2;
    size_t total = 1;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->nfam; i++) {
        const PromFamily *f = r->fam[i];
        size_t name = strlen(f->name);
        total += 2 * name + 2 * strlen(f->help) + 32; /* # HELP and # TYPE lines */
        size_t lines = f->kind == PROM_HISTOGRAM ? (size_t)f->nbounds + 3 : 1;
        for (int s = 0; s < f->nseries; s++) {
            size_t label = f->label ? strlen(f->label) + 2 * strlen(f->values[s]) : 0;
            if (f->kind == PROM_INFO) {
                const PromInfo *info = f->series;
                for (int k = 0; k < info->nlabels; k++)
                    label += strlen(info->labels[k]) + 2 * PROM_INFO_VALUE_MAX + 4;
            }
            total += lines * (name + label + line_extra);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return total;
}
