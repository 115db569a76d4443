/* sha1.c — SHA-1 as specified by FIPS 180-4 section 6.1 (see sha1.h). */
#include "worker/sha1.h"

#include <string.h>

static inline uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static uint32_t load_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t x) {
    p[0] = (uint8_t)(x >> 24);
    p[1] = (uint8_t)(x >> 16);
    p[2] = (uint8_t)(x >> 8);
    p[3] = (uint8_t)x;
}

// Compresses one 64-byte block into the state h (FIPS 180-4, 6.1.2).
static void sha1_compress(uint32_t h[5], const uint8_t block[64]) {
    uint32_t w[80];
    for (int t = 0; t < 16; t++) w[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 80; t++) w[t] = rol32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);

    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
        uint32_t f, k;
        if (t < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999u;
        } else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1u;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdcu;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6u;
        }
        uint32_t tmp = rol32(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rol32(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void sha1_init(Sha1 *s) {
    static const uint32_t h0[5] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u};
    memcpy(s->h, h0, sizeof h0);
    s->nbytes = 0;
    s->used = 0;
}

void sha1_update(Sha1 *s, const void *data, size_t len) {
    const uint8_t *p = data;
    s->nbytes += len;
    if (s->used > 0) {
        size_t take = 64 - s->used < len ? 64 - s->used : len;
        memcpy(s->block + s->used, p, take);
        s->used += take;
        p += take;
        len -= take;
        if (s->used < 64) return;
        sha1_compress(s->h, s->block);
        s->used = 0;
    }
    for (; len >= 64; p += 64, len -= 64) sha1_compress(s->h, p);
    memcpy(s->block, p, len);
    s->used = len;
}

void sha1_final(Sha1 *s, uint8_t digest[SHA1_DIGEST_LEN]) {
    uint64_t nbits = s->nbytes * 8;
    // Padding: one 0x80 byte, zeros up to 56 mod 64, then the 64-bit big-endian length.
    s->block[s->used++] = 0x80;
    if (s->used > 56) {
        memset(s->block + s->used, 0, 64 - s->used);
        sha1_compress(s->h, s->block);
        s->used = 0;
    }
    memset(s->block + s->used, 0, 56 - s->used);
    store_be32(s->block + 56, (uint32_t)(nbits >> 32));
    store_be32(s->block + 60, (uint32_t)nbits);
    sha1_compress(s->h, s->block);
    for (int i = 0; i < 5; i++) store_be32(digest + 4 * i, s->h[i]);
    memset(s, 0, sizeof *s);
}

void sha1_digest(const void *data, size_t len, uint8_t digest[SHA1_DIGEST_LEN]) {
    Sha1 s;
    sha1_init(&s);
    sha1_update(&s, data, len);
    sha1_final(&s, digest);
}

char *sha1_hex(const void *data, size_t len, char hex[SHA1_HEX_LEN + 1]) {
    static const char digits[] = "0123456789abcdef";
    uint8_t d[SHA1_DIGEST_LEN];
    sha1_digest(data, len, d);
    for (int i = 0; i < SHA1_DIGEST_LEN; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[SHA1_HEX_LEN] = '\0';
    return hex;
}
