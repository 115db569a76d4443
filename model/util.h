/* util.h — checked wrappers, clocks and a seeded random generator shared by every
 * module of buzzradar.
 *
 * The *Check wrappers follow llm.c: on failure they print the call site (file and
 * line) and the reason on stderr and exit(1). Use them where failure can only mean
 * the machine is broken (out of memory) or the user gave a path that cannot be
 * used at start-up; never in code that must survive bad input (message decoding,
 * model loading from a possibly corrupted file report errors instead). */
#ifndef BUZZRADAR_UTIL_H
#define BUZZRADAR_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- checked allocation and I/O (exit(1) with file:line on failure) ---- */
void *malloc_check(size_t size, const char *file, int line);
void *calloc_check(size_t n, size_t size, const char *file, int line);
void *realloc_check(void *p, size_t size, const char *file, int line);
char *strdup_check(const char *s, const char *file, int line);
FILE *fopen_check(const char *path, const char *mode, const char *file, int line);
void fread_check(void *p, size_t size, size_t n, FILE *f, const char *file, int line);
void fwrite_check(const void *p, size_t size, size_t n, FILE *f, const char *file, int line);
void fclose_check(FILE *f, const char *file, int line);

#define mallocCheck(size)          malloc_check((size), __FILE__, __LINE__)
#define callocCheck(n, size)       calloc_check((n), (size), __FILE__, __LINE__)
#define reallocCheck(p, size)      realloc_check((p), (size), __FILE__, __LINE__)
#define strdupCheck(s)             strdup_check((s), __FILE__, __LINE__)
#define fopenCheck(path, mode)     fopen_check((path), (mode), __FILE__, __LINE__)
#define freadCheck(p, size, n, f)  fread_check((p), (size), (n), (f), __FILE__, __LINE__)
#define fwriteCheck(p, size, n, f) fwrite_check((p), (size), (n), (f), __FILE__, __LINE__)
#define fcloseCheck(f)             fclose_check((f), __FILE__, __LINE__)

/* Prints "buzzradar: <message>" on stderr and exits with status 1. */
void util_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* For functions that report failure through an (err, errlen) pair: formats the
 * message into err (cut to errlen - 1 bytes, NUL-terminated); writes nothing when
 * err is NULL or errlen is 0. Returns -1, so that such a function can end with
 * `return util_err(err, errlen, "...", ...);`. */
int util_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- clocks ---- */
double util_now_s(void);    /* monotonic seconds (CLOCK_MONOTONIC) */
int64_t util_wall_ms(void); /* wall clock, milliseconds since the Unix epoch */
/* Writes the wall-clock time `ms` as RFC 3339 UTC with milliseconds
 * ("2026-11-25T06:00:00.123Z") into buf (at least 25 bytes). Returns buf. */
char *util_rfc3339(int64_t ms, char *buf, size_t len);

/* ---- seeded random numbers (splitmix64-seeded xoshiro256**; not thread-safe:
 *      one Rng per thread) ---- */
typedef struct {
    uint64_t s[4];
} Rng;
void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_u64(Rng *r);
uint32_t rng_below(Rng *r, uint32_t n); /* uniform in [0, n), n > 0 */
float rng_uniform(Rng *r);              /* uniform in [0, 1) */
float rng_normal(Rng *r);               /* standard normal (Box–Muller) */
/* Fisher–Yates shuffle of n ints in place. */
void rng_shuffle_int(Rng *r, int *a, size_t n);

#endif
