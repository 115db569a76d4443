/* sha1.h — SHA-1 (FIPS 180-4, RFC 3174) for cache keys.
 *
 * Used to name Redis cache entries by the digest of a tweet's normalised text, not
 * for security: SHA-1 is broken against chosen-prefix collisions, which does not
 * matter for a score cache (the worst an attacker gets is a wrong cached score for a
 * text crafted to collide, at a cost far beyond the value of one tweet's score).
 *
 * No allocation, no global state; a Sha1 context may be used by one thread at a time. */
#ifndef BUZZRADAR_SHA1_H
#define BUZZRADAR_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_LEN 20
#define SHA1_HEX_LEN    40 /* characters, without the terminating NUL */

typedef struct {
    uint32_t h[5];
    uint64_t nbytes;   /* message length so far, in bytes */
    uint8_t block[64]; /* the partial block not yet compressed */
    size_t used;       /* bytes in block */
} Sha1;

/* Streaming use: init, any number of updates (len may be 0), final. final writes the
 * 20-byte digest and leaves the context to be re-initialised before reuse. */
void sha1_init(Sha1 *s);
void sha1_update(Sha1 *s, const void *data, size_t len);
void sha1_final(Sha1 *s, uint8_t digest[SHA1_DIGEST_LEN]);

/* One-shot digest of len bytes at data. */
void sha1_digest(const void *data, size_t len, uint8_t digest[SHA1_DIGEST_LEN]);

/* One-shot digest as 40 lowercase hex characters plus a NUL into hex (41 bytes).
 * Returns hex. */
char *sha1_hex(const void *data, size_t len, char hex[SHA1_HEX_LEN + 1]);

#endif
