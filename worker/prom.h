/* prom.h — a Prometheus metrics registry: counters, gauges, histograms and info
 * metrics, updated lock-free from any thread and rendered in the Prometheus text
 * exposition format 0.0.4 (what GET /metrics serves).
 *
 * Families are registered once, with their series known up front: either one series
 * (no label) or one series per value of a single label fixed at registration
 * (scored_total{label="negative|positive"}, dead_letters_total{reason=...}).
 * Registration allocates and returns an array of series; updating a series is a
 * relaxed C11 atomic operation on memory that never moves: no lock, no allocation,
 * safe from any thread. A histogram observe is one atomic add on its bucket and one
 * compare-and-swap on its sum; its count is the sum of its buckets, so a rendered
 * histogram always has le="+Inf" equal to _count.
 *
 * Registration and rendering take the registry's mutex (both are rare); updates never
 * do. An info metric (buzzradar_model_info{model="bilstm",version="..."} 1) has
 * labels whose values are set at run time (prom_info_set, also under the mutex).
 *
 * A registry is a value passed around (no globals): create it at start-up, register
 * every family (see worker/worker_metrics.h for the worker's set), share it, free it
 * after every user has stopped. */
#ifndef BUZZRADAR_PROM_H
#define BUZZRADAR_PROM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PROM_MAX_BUCKETS     32  /* finite upper bounds of one histogram */
#define PROM_MAX_SERIES      64  /* label values of one family */
#define PROM_MAX_INFO_LABELS 4   /* labels of an info metric */
#define PROM_INFO_VALUE_MAX  128 /* bytes of one info label value, NUL included */

typedef struct PromRegistry PromRegistry;

/* One counter series: a monotonically increasing integer. */
typedef struct {
    _Atomic uint64_t v;
} PromCounter;

/* One gauge series: a double stored as its bit pattern. */
typedef struct {
    _Atomic uint64_t bits;
} PromGauge;

/* One histogram series. bounds are the family's finite upper bounds (strictly
 * increasing, shared by its series); counts[i] counts observations v <= bounds[i]
 * and > bounds[i-1] (not cumulative); counts[nbounds] counts those above the last
 * bound. sum_bits holds the double sum of observations. */
typedef struct {
    const double *bounds;
    int nbounds;
    _Atomic uint64_t *counts;
    _Atomic uint64_t sum_bits;
} PromHistogram;

/* An info metric: a gauge of value 1 whose labels carry the information. */
typedef struct PromInfo PromInfo;

/* ---- registry ------------------------------------------------------------------- */

/* A new, empty registry. Exits on out-of-memory (start-up only). */
PromRegistry *prom_registry_new(void);
/* Frees the registry and every series it handed out. NULL is a no-op. */
void prom_registry_free(PromRegistry *r);
/* The reason of the last failed registration ("" when none). */
const char *prom_registry_error(const PromRegistry *r);

/* Registers a counter family. `label` is NULL for a single series (nvalues must be
 * 0), or a label name with nvalues >= 1 distinct values, one series each, in that
 * order. Returns the array of max(1, nvalues) series, zeroed, owned by the registry;
 * or NULL (with prom_registry_error set) when a name is invalid (metric names
 * [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* not starting with
 * "__"), the name is already registered, a value repeats, or a limit is exceeded.
 * Strings are copied. Safe against concurrent render and updates. */
PromCounter *prom_counter_register(PromRegistry *r, const char *name, const char *help, const char *label,
                                   const char *const *values, int nvalues);

/* Registers a gauge family; same contract as prom_counter_register. Gauges start at 0. */
PromGauge *prom_gauge_register(PromRegistry *r, const char *name, const char *help, const char *label,
                               const char *const *values, int nvalues);

/* Registers a histogram family with nbounds (1..PROM_MAX_BUCKETS) finite, strictly
 * increasing upper bounds (copied); le="+Inf" is implicit. The label may not be
 * "le". Otherwise the contract of prom_counter_register. */
PromHistogram *prom_histogram_register(PromRegistry *r, const char *name, const char *help,
                                       const double *bounds, int nbounds, const char *label,
                                       const char *const *values, int nvalues);

/* Registers an info metric with nlabels (1..PROM_MAX_INFO_LABELS) label names. It
 * renders # HELP and # TYPE (gauge) but no sample until prom_info_set is called.
 * Returns NULL on the errors listed for prom_counter_register. */
PromInfo *prom_info_register(PromRegistry *r, const char *name, const char *help, const char *const *labels,
                             int nlabels);

/* Sets the label values of an info metric (one per label, NULL counts as ""); each is
 * copied, truncated to PROM_INFO_VALUE_MAX-1 bytes at a UTF-8 character boundary.
 * Thread-safe; allocates nothing. */
void prom_info_set(PromInfo *info, const char *const *values);

/* ---- updates: lock-free, allocation-free, from any thread ----------------------- */

static inline void prom_counter_add(PromCounter *c, uint64_t n) {
    atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}
static inline void prom_counter_inc(PromCounter *c) { prom_counter_add(c, 1); }
static inline uint64_t prom_counter_value(const PromCounter *c) {
    return atomic_load_explicit(&c->v, memory_order_relaxed);
}

static inline uint64_t prom_double_bits(double v) {
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}
static inline double prom_bits_double(uint64_t b) {
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static inline void prom_gauge_set(PromGauge *g, double v) {
    atomic_store_explicit(&g->bits, prom_double_bits(v), memory_order_relaxed);
}
/* Adds d (may be negative) with a compare-and-swap loop. */
static inline void prom_gauge_add(PromGauge *g, double d) {
    uint64_t old = atomic_load_explicit(&g->bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&g->bits, &old, prom_double_bits(prom_bits_double(old) + d),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}
static inline double prom_gauge_value(const PromGauge *g) {
    return prom_bits_double(atomic_load_explicit(&g->bits, memory_order_relaxed));
}

/* Records one observation (NaN is ignored: it would poison the sum). */
void prom_histogram_observe(PromHistogram *h, double v);
/* Observations so far (the sum of the buckets) and their sum. */
uint64_t prom_histogram_count(const PromHistogram *h);
double prom_histogram_sum(const PromHistogram *h);

/* ---- quantiles ------------------------------------------------------------------ */

/* A copy of one histogram's state at one moment, for quantiles over a time window:
 * keep a snapshot, take another later, subtract. */
typedef struct {
    int nbounds;
    double bounds[PROM_MAX_BUCKETS];
    uint64_t counts[PROM_MAX_BUCKETS + 1]; /* not cumulative; last = above the last bound */
    uint64_t count;
    double sum;
} PromSnapshot;

void prom_histogram_snapshot(const PromHistogram *h, PromSnapshot *out);

/* out = now - before, bucket by bucket (before must be an earlier snapshot of the
 * same histogram; a bucket that went down, which cannot happen, counts 0). */
void prom_snapshot_delta(const PromSnapshot *now, const PromSnapshot *before, PromSnapshot *out);

/* Estimates the q-quantile (0 <= q <= 1) like Prometheus' histogram_quantile: find
 * the bucket holding rank q*count and interpolate linearly inside it (the first
 * bucket's lower edge is 0 when its bound is positive). A rank in the +Inf bucket
 * returns the highest finite bound. Returns NaN when there is no observation or q is
 * outside [0, 1]. */
double prom_snapshot_quantile(const PromSnapshot *s, double q);

/* prom_snapshot_quantile over the histogram's whole life. */
double prom_histogram_quantile(const PromHistogram *h, double q);

/* ---- exposition ----------------------------------------------------------------- */

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* An upper bound of the size of prom_render's output, NUL included, given the
 * families registered now (values never make the text longer than this). */
size_t prom_render_bound(PromRegistry *r);

/* Renders every family in registration order in the text format 0.0.4: for each,
 * "# HELP name help" (help escaped: \\ and \n), "# TYPE name counter|gauge|histogram",
 * then its samples, name{label="value"} value, label values escaped (\\, \", \n);
 * histograms as cumulative name_bucket{...,le="..."} lines ending with le="+Inf",
 * then name_sum and name_count. Writes at most cap bytes including a NUL and returns
 * the length of the whole text (like snprintf: a return >= cap means it was cut;
 * with cap >= prom_render_bound(r) it never is). Takes the registry's mutex. */
size_t prom_render(PromRegistry *r, char *buf, size_t cap);

/* Formats a sample value the way the exposition format wants it: the shortest
 * decimal that reads back as v, "+Inf", "-Inf" or "NaN". buf has room for at least
 * PROM_VALUE_MAX bytes. Returns the length written. */
#define PROM_VALUE_MAX 32
int prom_format_double(double v, char *buf);

#endif
