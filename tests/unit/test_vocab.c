/* test_vocab.c — the vocabulary of model/vocab.c: interning, ordering and ties,
 * min_count/max_size, remapping, lookups of unknown tokens, encoding, and the
 * serialised form (round trip, and rejection of truncated or corrupted blobs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "model/util.h"
#include "model/vocab.h"

static int32_t add_str(VocabBuilder *vb, const char *s) { return vocab_builder_add(vb, s, (int)strlen(s)); }

static int32_t lookup_str(const Vocab *v, const char *s) { return vocab_lookup(v, s, (int)strlen(s)); }

/* Adds word `times` times. */
static void add_times(VocabBuilder *vb, const char *word, int times) {
    for (int i = 0; i < times; i++) add_str(vb, word);
}

/* b x3, a x3, ab x3, c x5, d x1, in an order that is not the final one. */
static VocabBuilder *sample_builder(void) {
    VocabBuilder *vb = vocab_builder_new();
    add_times(vb, "b", 3);
    add_times(vb, "d", 1);
    add_times(vb, "ab", 3);
    add_times(vb, "c", 5);
    add_times(vb, "a", 3);
    return vb;
}

static void builder_interns_and_counts(void **state) {
    (void)state;
    VocabBuilder *vb = vocab_builder_new();
    assert_int_equal(add_str(vb, "hello"), 0);
    assert_int_equal(add_str(vb, "world"), 1);
    assert_int_equal(add_str(vb, "hello"), 0);
    /* a token inside a longer buffer: only len bytes count */
    assert_int_equal(vocab_builder_add(vb, "worldwide", 5), 1);
    assert_int_equal(vocab_builder_add(vb, "", 0), -1);
    assert_int_equal(vocab_builder_add(vb, "x", -3), -1);
    assert_int_equal(vocab_builder_size(vb), 2);
    assert_int_equal(vocab_builder_count(vb, 0), 2);
    assert_int_equal(vocab_builder_count(vb, 1), 2);
    assert_int_equal(vocab_builder_count(vb, 2), 0);
    assert_int_equal(vocab_builder_count(vb, -1), 0);
    vocab_builder_free(vb);
    vocab_builder_free(NULL);
}

static void finish_orders_by_count_then_bytes(void **state) {
    (void)state;
    VocabBuilder *vb = sample_builder();
    int32_t *remap = NULL;
    Vocab *v = vocab_builder_finish(vb, 1, 0, &remap);
    const char *want[] = {"<pad>", "<unk>", "c", "a", "ab", "b", "d"};
    const int64_t want_count[] = {0, 0, 5, 3, 3, 3, 1};
    assert_int_equal(vocab_size(v), 7);
    for (int i = 0; i < 7; i++) {
        int len = -1;
        assert_string_equal(vocab_word(v, i, &len), want[i]);
        assert_int_equal(len, (int)strlen(want[i]));
        assert_int_equal(vocab_count(v, i), want_count[i]);
        assert_int_equal(vocab_counts(v)[i], want_count[i]);
    }
    assert_null(vocab_word(v, 7, NULL));
    assert_null(vocab_word(v, -1, NULL));
    assert_int_equal(vocab_count(v, 7), 0);
    /* provisional ids were b=0 d=1 ab=2 c=3 a=4 */
    const int32_t want_remap[] = {5, 6, 4, 2, 3};
    for (int p = 0; p < 5; p++) assert_int_equal(remap[p], want_remap[p]);
    free(remap);
    vocab_free(v);
    vocab_builder_free(vb);
}

static void ids_do_not_depend_on_insertion_order(void **state) {
    (void)state;
    VocabBuilder *x = sample_builder(), *y = vocab_builder_new();
    add_times(y, "a", 3);
    add_times(y, "d", 1);
    add_times(y, "c", 5);
    add_times(y, "b", 3);
    add_times(y, "ab", 3);
    Vocab *vx = vocab_builder_finish(x, 1, 0, NULL), *vy = vocab_builder_finish(y, 1, 0, NULL);
    size_t lx, ly;
    uint8_t *bx = vocab_serialize(vx, &lx), *by = vocab_serialize(vy, &ly);
    assert_int_equal(lx, ly);
    assert_memory_equal(bx, by, lx);
    free(bx);
    free(by);
    vocab_free(vx);
    vocab_free(vy);
    vocab_builder_free(x);
    vocab_builder_free(y);
}

static void min_count_and_max_size_drop_to_unknown(void **state) {
    (void)state;
    VocabBuilder *vb = sample_builder();
    int32_t *remap;
    Vocab *v = vocab_builder_finish(vb, 3, 0, &remap);
    assert_int_equal(vocab_size(v), 6);
    assert_int_equal(remap[1], VOCAB_UNK); /* d */
    assert_int_equal(vocab_count(v, VOCAB_UNK), 1);
    assert_int_equal(lookup_str(v, "d"), VOCAB_UNK);
    free(remap);
    vocab_free(v);

    v = vocab_builder_finish(vb, 1, 4, &remap); /* pad, unk, c, a */
    assert_int_equal(vocab_size(v), 4);
    assert_string_equal(vocab_word(v, 3, NULL), "a");
    assert_int_equal(remap[0], VOCAB_UNK); /* b */
    assert_int_equal(remap[2], VOCAB_UNK); /* ab */
    assert_int_equal(remap[3], 2);         /* c */
    assert_int_equal(remap[4], 3);         /* a */
    assert_int_equal(vocab_count(v, VOCAB_UNK), 3 + 1 + 3);
    free(remap);
    vocab_free(v);

    for (int32_t m = 1; m <= 2; m++) {
        v = vocab_builder_finish(vb, 0, m, NULL);
        assert_int_equal(vocab_size(v), 2);
        assert_int_equal(vocab_count(v, VOCAB_UNK), 15);
        assert_int_equal(lookup_str(v, "c"), VOCAB_UNK);
        vocab_free(v);
    }
    vocab_builder_free(vb);

    vb = vocab_builder_new(); /* an empty corpus still has the specials */
    v = vocab_builder_finish(vb, 1, 0, &remap);
    assert_int_equal(vocab_size(v), 2);
    free(remap);
    vocab_free(v);
    vocab_builder_free(vb);
}

static void lookup_of_unknowns_and_specials(void **state) {
    (void)state;
    VocabBuilder *vb = sample_builder();
    add_times(vb, "<pad>", 10);
    add_times(vb, "<unk>", 10);
    Vocab *v = vocab_builder_finish(vb, 1, 0, NULL);
    assert_int_equal(vocab_size(v), 7); /* spelled-out specials are not words */
    assert_int_equal(vocab_count(v, VOCAB_UNK), 20);
    assert_int_equal(lookup_str(v, "<pad>"), VOCAB_UNK);
    assert_int_equal(lookup_str(v, "<unk>"), VOCAB_UNK);
    assert_int_equal(lookup_str(v, "zzz"), VOCAB_UNK);
    assert_int_equal(lookup_str(v, "A"), VOCAB_UNK);
    assert_int_equal(vocab_lookup(v, "ab", 0), VOCAB_UNK);
    assert_int_equal(vocab_lookup(v, "ab", -1), VOCAB_UNK);
    assert_int_equal(vocab_lookup(v, "abc", 1), lookup_str(v, "a"));
    assert_int_equal(vocab_lookup(v, "abc", 2), 4);
    assert_int_equal(lookup_str(v, "abc"), VOCAB_UNK);
    for (int i = 2; i < vocab_size(v); i++) {
        int len;
        const char *w = vocab_word(v, i, &len);
        assert_int_equal(vocab_lookup(v, w, len), i);
    }
    vocab_free(v);
    vocab_builder_free(vb);
}

static void encode_counts_unknowns(void **state) {
    (void)state;
    VocabBuilder *vb = sample_builder();
    Vocab *v = vocab_builder_finish(vb, 1, 0, NULL);
    const char *tok[] = {"c", "what", "ab", "<pad>", "b"};
    int len[5];
    for (int i = 0; i < 5; i++) len[i] = (int)strlen(tok[i]);
    int32_t ids[5];
    assert_int_equal(vocab_encode(v, tok, len, 5, ids), 2);
    const int32_t want[] = {2, VOCAB_UNK, 4, VOCAB_UNK, 5};
    for (int i = 0; i < 5; i++) assert_int_equal(ids[i], want[i]);
    assert_int_equal(vocab_encode(v, tok, len, 0, ids), 0);
    vocab_free(v);
    vocab_builder_free(vb);
}

/* 200,000 distinct tokens (the table and arena grow many times), word i seen
 * (i % 7) + 1 times: every id survives finish, in order, and is found again. */
static void many_tokens(void **state) {
    (void)state;
    enum { N = 200000 };
    VocabBuilder *vb = vocab_builder_new();
    char buf[32];
    for (int rep = 0; rep < 7; rep++)
        for (int i = 0; i < N; i++) {
            if (i % 7 < rep) continue;
            int len = snprintf(buf, sizeof buf, "tok%d", i);
            int32_t pid = vocab_builder_add(vb, buf, len);
            if (pid != i) fail_msg("token %d got provisional id %d", i, pid);
        }
    assert_int_equal(vocab_builder_size(vb), N);
    int32_t *remap;
    Vocab *v = vocab_builder_finish(vb, 1, 0, &remap);
    assert_int_equal(vocab_size(v), N + 2);
    for (int i = 0; i < N; i++) {
        int len = snprintf(buf, sizeof buf, "tok%d", i);
        int32_t id = vocab_lookup(v, buf, len);
        if (id != remap[i] || id < 2) fail_msg("tok%d: lookup %d, remap %d", i, id, remap[i]);
        if (vocab_count(v, id) != i % 7 + 1) fail_msg("tok%d: count %lld", i, (long long)vocab_count(v, id));
    }
    for (int id = 3; id < N + 2; id++) assert_true(vocab_count(v, id - 1) >= vocab_count(v, id));
    free(remap);
    vocab_free(v);
    vocab_builder_free(vb);
}

static Vocab *sample_vocab(void) {
    VocabBuilder *vb = sample_builder();
    add_str(vb, "caf\xc3\xa9"); /* UTF-8 bytes */
    Vocab *v = vocab_builder_finish(vb, 1, 0, NULL);
    vocab_builder_free(vb);
    return v;
}

static void serialize_round_trip(void **state) {
    (void)state;
    Vocab *v = sample_vocab();
    size_t len;
    uint8_t *blob = vocab_serialize(v, &len);
    char err[256] = "";
    Vocab *w = vocab_deserialize(blob, len, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(vocab_size(w), vocab_size(v));
    for (int i = 0; i < vocab_size(v); i++) {
        assert_string_equal(vocab_word(w, i, NULL), vocab_word(v, i, NULL));
        assert_int_equal(vocab_count(w, i), vocab_count(v, i));
    }
    assert_int_equal(lookup_str(w, "caf\xc3\xa9"), lookup_str(v, "caf\xc3\xa9"));
    assert_int_equal(lookup_str(w, "nope"), VOCAB_UNK);
    size_t len2;
    uint8_t *blob2 = vocab_serialize(w, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(blob2, blob, len);
    free(blob);
    free(blob2);
    vocab_free(v);
    vocab_free(w);
}

static void deserialize_rejects_truncation_and_flipped_bytes(void **state) {
    (void)state;
    Vocab *v = sample_vocab();
    size_t len;
    uint8_t *blob = vocab_serialize(v, &len);
    char err[256];
    for (size_t cut = 0; cut < len; cut++) {
        /* a copy of exactly cut bytes, so ASan catches any read past it */
        uint8_t *part = mallocCheck(cut ? cut : 1);
        memcpy(part, blob, cut);
        err[0] = '\0';
        Vocab *w = vocab_deserialize(part, cut, err, sizeof err);
        if (w) fail_msg("accepted a blob cut to %zu of %zu bytes", cut, len);
        assert_true(strlen(err) > 0);
        free(part);
    }
    uint8_t *copy = mallocCheck(len);
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, blob, len);
            copy[i] ^= (uint8_t)(1u << bit);
            err[0] = '\0';
            Vocab *w = vocab_deserialize(copy, len, err, sizeof err);
            if (w) fail_msg("accepted a blob with bit %d of byte %zu flipped", bit, i);
            assert_true(strncmp(err, "vocabulary: ", 12) == 0);
        }
    assert_null(vocab_deserialize(NULL, 0, err, sizeof err));
    assert_null(vocab_deserialize(blob, len - 1, NULL, 0)); /* no room for a message is fine */
    free(copy);
    free(blob);
    vocab_free(v);
}

/* Rewrites the trailing CRC so that only the structural checks can catch a change. */
static void reseal(uint8_t *blob, size_t len) {
    uint32_t crc = (uint32_t)crc32(0L, blob, (uInt)(len - 4));
    for (int i = 0; i < 4; i++) blob[len - 4 + i] = (uint8_t)(crc >> (8 * i));
}

static void expect_rejected(uint8_t *blob, size_t len, const char *needle) {
    reseal(blob, len);
    char err[256] = "";
    Vocab *w = vocab_deserialize(blob, len, err, sizeof err);
    if (w) fail_msg("accepted a blob that should fail with '%s'", needle);
    if (!strstr(err, needle)) fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void deserialize_checks_structure_behind_a_valid_checksum(void **state) {
    (void)state;
    Vocab *v = sample_vocab(); /* <pad> <unk> c a ab b caf\xc3\xa9 d */
    size_t len;
    uint8_t *blob = vocab_serialize(v, &len);
    const int n = vocab_size(v);
    const size_t lens = 24, counts = lens + 4 * (size_t)n, bytes = counts + 8 * (size_t)n;
    uint8_t *b = mallocCheck(len);

    memcpy(b, blob, len); /* counts out of order: a (3) raised above c (5) */
    b[counts + 8 * 3] = 9;
    expect_rejected(b, len, "out of order");

    memcpy(b, blob, len); /* a tie broken the wrong way: "b" -> "a" after "ab" (both counted 3) */
    size_t off_b = bytes + 5 + 5 + 1 + 1 + 2;
    assert_int_equal(b[off_b], 'b');
    b[off_b] = 'a';
    expect_rejected(b, len, "out of order");

    memcpy(b, blob, len); /* specials */
    b[bytes + 1] = 'P';
    expect_rejected(b, len, "must be <pad>");

    memcpy(b, blob, len); /* lengths that do not add up */
    b[lens + 4 * 2] = 2;
    expect_rejected(b, len, "add up");

    memcpy(b, blob, len); /* a zero-length word */
    b[lens + 4 * 2] = 0;
    expect_rejected(b, len, "bad length");

    memcpy(b, blob, len); /* a negative count */
    b[counts + 8 * 2 + 7] = 0x80;
    expect_rejected(b, len, "bad length or count");

    memcpy(b, blob, len); /* a word count that does not fit the blob */
    b[8] = 0xff;
    b[9] = 0xff;
    expect_rejected(b, len, "sizes do not match");

    memcpy(b, blob, len); /* fewer than two words */
    memset(b + 8, 0, 4);
    b[8] = 1;
    expect_rejected(b, len, "bad size");

    memcpy(b, blob, len);
    b[12] = 1;
    expect_rejected(b, len, "flags");

    memcpy(b, blob, len);
    b[0] = 'X';
    expect_rejected(b, len, "magic");

    free(b);
    free(blob);
    vocab_free(v);
}

/* Duplicate words in valid order can only be caught by the hash check: build
 * "<pad> <unk> x x" by hand. */
static void deserialize_rejects_duplicates(void **state) {
    (void)state;
    uint8_t b[24 + 4 * 4 + 8 * 4 + 12 + 4] = {0};
    memcpy(b, "BZVOCAB1", 8);
    b[8] = 4;
    b[16] = 12;
    const uint32_t lens[] = {5, 5, 1, 1};
    for (int i = 0; i < 4; i++) b[24 + 4 * i] = (uint8_t)lens[i];
    b[24 + 16 + 8 * 2] = 2; /* counts 0 0 2 1: in order */
    b[24 + 16 + 8 * 3] = 1;
    memcpy(b + 24 + 16 + 32, "<pad><unk>xx", 12);
    expect_rejected(b, sizeof b, "repeats word 2");
    b[24 + 16 + 32 + 11] = 'y'; /* "<pad> <unk> x y" is fine */
    reseal(b, sizeof b);
    char err[128];
    Vocab *v = vocab_deserialize(b, sizeof b, err, sizeof err);
    assert_non_null(v);
    assert_int_equal(lookup_str(v, "y"), 3);
    vocab_free(v);
}

static void deserialize_survives_random_garbage(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 99);
    Vocab *v = sample_vocab();
    size_t len;
    uint8_t *blob = vocab_serialize(v, &len);
    char err[128];
    for (int trial = 0; trial < 2000; trial++) {
        size_t n = rng_below(&r, (uint32_t)len * 2) + 1;
        uint8_t *g = mallocCheck(n);
        for (size_t i = 0; i < n; i++) g[i] = i < len && rng_below(&r, 4) ? blob[i] : (uint8_t)rng_u64(&r);
        if (trial % 2) memcpy(g, "BZVOCAB1", n < 8 ? n : 8);
        Vocab *w = vocab_deserialize(g, n, err, sizeof err);
        if (w) { /* only possible when the garbage happens to equal the blob */
            assert_int_equal(n, len);
            assert_memory_equal(g, blob, len);
            vocab_free(w);
        }
        free(g);
    }
    free(blob);
    vocab_free(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builder_interns_and_counts),
        cmocka_unit_test(finish_orders_by_count_then_bytes),
        cmocka_unit_test(ids_do_not_depend_on_insertion_order),
        cmocka_unit_test(min_count_and_max_size_drop_to_unknown),
        cmocka_unit_test(lookup_of_unknowns_and_specials),
        cmocka_unit_test(encode_counts_unknowns),
        cmocka_unit_test(many_tokens),
        cmocka_unit_test(serialize_round_trip),
        cmocka_unit_test(deserialize_rejects_truncation_and_flipped_bytes),
        cmocka_unit_test(deserialize_checks_structure_behind_a_valid_checksum),
        cmocka_unit_test(deserialize_rejects_duplicates),
        cmocka_unit_test(deserialize_survives_random_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
