/* util.c — checked wrappers, clocks and the seeded random generator (see util.h). */
#include "model/util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void util_fail(const char *file, int line, const char *what, const char *detail) {
    fprintf(stderr, "buzzradar: %s failed at %s:%d: %s\n", what, file, line, detail);
    exit(1);
}

void *malloc_check(size_t size, const char *file, int line) {
    void *p = malloc(size ? size : 1);
    if (!p) util_fail(file, line, "malloc", strerror(errno));
    return p;
}

void *calloc_check(size_t n, size_t size, const char *file, int line) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) util_fail(file, line, "calloc", strerror(errno));
    return p;
}

void *realloc_check(void *p, size_t size, const char *file, int line) {
    void *q = realloc(p, size ? size : 1);
    if (!q) util_fail(file, line, "realloc", strerror(errno));
    return q;
}

char *strdup_check(const char *s, const char *file, int line) {
    char *p = strdup(s);
    if (!p) util_fail(file, line, "strdup", strerror(errno));
    return p;
}

FILE *fopen_check(const char *path, const char *mode, const char *file, int line) {
    FILE *f = fopen(path, mode);
    if (!f) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s (mode %s): %s", path, mode, strerror(errno));
        util_fail(file, line, "fopen", detail);
    }
    return f;
}

void fread_check(void *p, size_t size, size_t n, FILE *f, const char *file, int line) {
    if (fread(p, size, n, f) != n)
        util_fail(file, line, "fread", feof(f) ? "unexpected end of file" : strerror(errno));
}

void fwrite_check(const void *p, size_t size, size_t n, FILE *f, const char *file, int line) {
    if (fwrite(p, size, n, f) != n) util_fail(file, line, "fwrite", strerror(errno));
}

void fclose_check(FILE *f, const char *file, int line) {
    if (fclose(f) != 0) util_fail(file, line, "fclose", strerror(errno));
}

void util_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("buzzradar: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

int util_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

double util_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int64_t util_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes v as exactly `width` decimal digits (zero-padded) ending at end[-1]. */
static void put_digits(char *end, unsigned v, int width) {
    for (int i = 0; i < width; i++, v /= 10) *--end = (char)('0' + v % 10);
}

/* Milliseconds of 10000-01-01T00:00:00Z: the fast path below prints 4-digit years. */
#define RFC3339_FAST_END_MS 253402300800000LL

char *util_rfc3339(int64_t ms, char *buf, size_t len) {
    if (ms >= 0 && ms < RFC3339_FAST_END_MS && len >= 25) {
        /* Proleptic Gregorian date of a day count (H. Hinnant's civil_from_days,
         * for days >= 0): the year starts on March 1 so that leap days come last. */
        int64_t days = ms / 86400000;
        unsigned in_day = (unsigned)(ms % 86400000);
        int64_t z = days + 719468; /* days since 0000-03-01 */
        int64_t era = z / 146097;
        unsigned doe = (unsigned)(z - era * 146097);                          /* [0, 146096] */
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
        unsigned mp = (5 * doy + 2) / 153;                                    /* March = 0 */
        unsigned day = doy - (153 * mp + 2) / 5 + 1;
        unsigned month = mp < 10 ? mp + 3 : mp - 9;
        unsigned year = (unsigned)(era * 400) + yoe + (month <= 2);
        memcpy(buf, "0000-00-00T00:00:00.000Z", 25);
        put_digits(buf + 4, year, 4);
        put_digits(buf + 7, month, 2);
        put_digits(buf + 10, day, 2);
        put_digits(buf + 13, in_day / 3600000, 2);
        put_digits(buf + 16, in_day / 60000 % 60, 2);
        put_digits(buf + 19, in_day / 1000 % 60, 2);
        put_digits(buf + 23, in_day % 1000, 3);
        return buf;
    }
    /* before 1970, from year 10000 on, or a short buffer: the C library */
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", base, (int)(ms % 1000));
    return buf;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(Rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_u64(Rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t rng_below(Rng *r, uint32_t n) { return (uint32_t)(((rng_u64(r) >> 32) * (uint64_t)n) >> 32); }

float rng_uniform(Rng *r) { return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

float rng_normal(Rng *r) {
    float u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-7f) u1 = 1e-7f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

void rng_shuffle_int(Rng *r, int *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(r, (uint32_t)i);
        int t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
