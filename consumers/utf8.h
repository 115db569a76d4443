/* utf8.h — strict UTF-8 validation and repair for text arriving from Kafka.
 *
 * Strict means RFC 3629: no overlong forms, no surrogates (U+D800..U+DFFF), nothing
 * above U+10FFFF. Repair replaces every byte that does not start or continue a valid
 * sequence with U+FFFD (EF BF BD), so the output is at most 3 times the input. */
#ifndef BUZZRADAR_UTF8_H
#define BUZZRADAR_UTF8_H

#include <stddef.h>

/* Length (1-4) of the valid UTF-8 sequence at s[0..n), or 0 when it is invalid or
 * truncated. n must be >= 1. */
int utf8_sequence(const unsigned char *s, size_t n);

/* 1 when s[0..n) is entirely valid UTF-8, else 0. */
int utf8_valid(const char *s, size_t n);

/* Copies s[0..n) into out, replacing invalid bytes with U+FFFD, and NUL-terminates
 * it. out must hold 3 * n + 1 bytes. Returns the output length (without the NUL);
 * *replaced (when not NULL) receives the number of bytes replaced. */
size_t utf8_repair(const char *s, size_t n, char *out, size_t *replaced);

#endif
