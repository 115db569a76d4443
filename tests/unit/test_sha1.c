/* test_sha1.c — SHA-1 against the FIPS 180 / RFC 3174 test vectors, the padding
 * boundaries, and streaming in arbitrary pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "worker/sha1.h"

static void hex_of(const uint8_t d[SHA1_DIGEST_LEN], char out[SHA1_HEX_LEN + 1]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SHA1_DIGEST_LEN; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[SHA1_HEX_LEN] = '\0';
}

static void fips_and_rfc3174_vectors(void **state) {
    (void)state;
    static const struct {
        const char *msg;
        int repeat;
        const char *hex;
    } v[] = {
        {"abc", 1, "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"", 1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmno"
         "p"
         "qrstnopqrstu",
         1, "a49b2446a02c645bf419f995b67091253a04a259"},
        {"a", 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"},              /* RFC 3174 #3 */
        {"0123456701234567012345670123456701234567012345670123456701234567", 10, /* RFC 3174 #4 */
         "dea356a2cddd90c7a7ecedc5ebb563934f460452"},
        {"The quick brown fox jumps over the lazy dog", 1, "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        Sha1 s;
        uint8_t d[SHA1_DIGEST_LEN];
        char hex[SHA1_HEX_LEN + 1];
        sha1_init(&s);
        for (int r = 0; r < v[i].repeat; r++) sha1_update(&s, v[i].msg, strlen(v[i].msg));
        sha1_final(&s, d);
        hex_of(d, hex);
        assert_string_equal(hex, v[i].hex);
    }
}

/* Lengths around the 55/56/64-byte padding edges (reference digests: coreutils sha1sum). */
static void padding_boundaries(void **state) {
    (void)state;
    static const struct {
        size_t n;
        const char *hex;
    } v[] = {
        {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},  {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
        {63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},  {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
        {65, "11655326c708d70319be2610e8a57d9a5b959d3b"},  {119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"},
        {120, "f34c1488385346a55709ba056ddd08280dd4c6d6"},
    };
    char buf[128];
    memset(buf, 'a', sizeof buf);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char hex[SHA1_HEX_LEN + 1];
        assert_ptr_equal(sha1_hex(buf, v[i].n, hex), hex);
        assert_string_equal(hex, v[i].hex);
    }
}

/* Feeding the same bytes in pieces of every size from 1 to 130 gives the one-shot digest. */
static void streaming_in_pieces_matches_one_shot(void **state) {
    (void)state;
    uint8_t msg[1000];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 131 + 7);
    uint8_t want[SHA1_DIGEST_LEN];
    sha1_digest(msg, sizeof msg, want);
    for (size_t piece = 1; piece <= 130; piece++) {
        Sha1 s;
        uint8_t got[SHA1_DIGEST_LEN];
        sha1_init(&s);
        for (size_t off = 0; off < sizeof msg; off += piece)
            sha1_update(&s, msg + off, off + piece <= sizeof msg ? piece : sizeof msg - off);
        sha1_update(&s, msg, 0);
        sha1_final(&s, got);
        assert_memory_equal(got, want, SHA1_DIGEST_LEN);
    }
    /* one byte changed -> a different digest */
    msg[500] ^= 1;
    uint8_t other[SHA1_DIGEST_LEN];
    sha1_digest(msg, sizeof msg, other);
    assert_memory_not_equal(other, want, SHA1_DIGEST_LEN);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fips_and_rfc3174_vectors),
        cmocka_unit_test(padding_boundaries),
        cmocka_unit_test(streaming_in_pieces_matches_one_shot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
