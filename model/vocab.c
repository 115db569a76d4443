/* vocab.c — the vocabulary (see vocab.h): one open-addressing hash table (linear
 * probing, power-of-two capacity, at most half full) over one string arena, shared
 * by the builder and the frozen Vocab, plus ordering, remapping and (de)serialisation. */
#include "model/vocab.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "model/util.h"

/* ---- the interning table ------------------------------------------------------ */

typedef struct {
    uint32_t hash; /* 32-bit hash of the token; the slot index is hash & mask */
    int32_t id;    /* -1 when the slot is empty */
} VocabSlot;

/* Token id i has bytes arena[off[i] .. off[i]+len[i]), followed by a NUL. */
typedef struct {
    char *arena;
    int64_t arena_len, arena_cap;
    int64_t *off;
    int32_t *len;
    int64_t *count;
    int32_t n, cap; /* ids in use, ids allocated */
    VocabSlot *slots;
    uint32_t mask; /* slots has mask + 1 entries */
} VocabTable;

struct VocabBuilder {
    VocabTable t;
};

struct Vocab {
    VocabTable t;
};

/* Hashes 8 bytes at a time, then a 64-bit finaliser (murmur3's fmix64) folded to 32. */
static uint32_t vocab_hash(const char *s, int len) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)len;
    int i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, s + i, (size_t)(len - i));
    h = (h ^ w) * 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (uint32_t)(h ^ (h >> 32));
}

static void table_init(VocabTable *t, int32_t ids_hint, int64_t arena_hint) {
    memset(t, 0, sizeof *t);
    t->cap = ids_hint > 16 ? ids_hint : 16;
    t->arena_cap = arena_hint > 256 ? arena_hint : 256;
    t->arena = mallocCheck((size_t)t->arena_cap);
    t->off = mallocCheck((size_t)t->cap * sizeof *t->off);
    t->len = mallocCheck((size_t)t->cap * sizeof *t->len);
    t->count = mallocCheck((size_t)t->cap * sizeof *t->count);
    uint32_t nslots = 32;
    while (nslots < 2u * (uint32_t)t->cap && nslots < (1u << 31)) nslots <<= 1;
    t->mask = nslots - 1;
    t->slots = mallocCheck((size_t)nslots * sizeof *t->slots);
    for (uint32_t i = 0; i < nslots; i++) t->slots[i].id = -1;
}

static void table_free(VocabTable *t) {
    free(t->arena);
    free(t->off);
    free(t->len);
    free(t->count);
    free(t->slots);
}

/* The slot holding tok, or the empty slot where it would go. */
static VocabSlot *table_probe(const VocabTable *t, const char *tok, int len, uint32_t h) {
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        VocabSlot *s = &t->slots[i];
        if (s->id < 0) return s;
        if (s->hash == h && t->len[s->id] == len && memcmp(t->arena + t->off[s->id], tok, (size_t)len) == 0)
            return s;
    }
}

/* Doubles the slot array (called when it would become more than half full). */
static void table_grow_slots(VocabTable *t) {
    uint32_t nslots = (t->mask + 1) * 2;
    VocabSlot *old = t->slots;
    uint32_t old_n = t->mask + 1;
    t->slots = mallocCheck((size_t)nslots * sizeof *t->slots);
    t->mask = nslots - 1;
    for (uint32_t i = 0; i < nslots; i++) t->slots[i].id = -1;
    for (uint32_t i = 0; i < old_n; i++) {
        if (old[i].id < 0) continue;
        uint32_t j = old[i].hash & t->mask;
        while (t->slots[j].id >= 0) j = (j + 1) & t->mask;
        t->slots[j] = old[i];
    }
    free(old);
}

/* Appends a new token (not yet present; s is its empty slot from table_probe) and
 * returns its id. */
static int32_t table_append(VocabTable *t, VocabSlot *s, const char *tok, int len, uint32_t h,
                            int64_t count) {
    if (t->arena_len + len + 1 > t->arena_cap) {
        while (t->arena_len + len + 1 > t->arena_cap) t->arena_cap *= 2;
        t->arena = reallocCheck(t->arena, (size_t)t->arena_cap);
    }
    if (t->n == t->cap) {
        t->cap *= 2;
        t->off = reallocCheck(t->off, (size_t)t->cap * sizeof *t->off);
        t->len = reallocCheck(t->len, (size_t)t->cap * sizeof *t->len);
        t->count = reallocCheck(t->count, (size_t)t->cap * sizeof *t->count);
    }
    int32_t id = t->n++;
    memcpy(t->arena + t->arena_len, tok, (size_t)len);
    t->arena[t->arena_len + len] = '\0';
    t->off[id] = t->arena_len;
    t->len[id] = len;
    t->count[id] = count;
    t->arena_len += len + 1;
    if (s) {
        s->hash = h;
        s->id = id;
        if ((uint32_t)t->n > (t->mask + 1) / 2) table_grow_slots(t);
    }
    return id;
}

/* ---- builder ------------------------------------------------------------------ */

VocabBuilder *vocab_builder_new(void) {
    VocabBuilder *vb = mallocCheck(sizeof *vb);
    table_init(&vb->t, 1 << 14, 1 << 17);
    return vb;
}

void vocab_builder_free(VocabBuilder *vb) {
    if (!vb) return;
    table_free(&vb->t);
    free(vb);
}

int32_t vocab_builder_add(VocabBuilder *vb, const char *tok, int len) {
    if (len <= 0) return -1;
    uint32_t h = vocab_hash(tok, len);
    VocabSlot *s = table_probe(&vb->t, tok, len, h);
    if (s->id >= 0) {
        vb->t.count[s->id]++;
        return s->id;
    }
    return table_append(&vb->t, s, tok, len, h, 1);
}

int32_t vocab_builder_size(const VocabBuilder *vb) { return vb->t.n; }

int64_t vocab_builder_count(const VocabBuilder *vb, int32_t pid) {
    return pid >= 0 && pid < vb->t.n ? vb->t.count[pid] : 0;
}

static int is_special(const char *tok, int len) {
    return (len == 5 && (memcmp(tok, VOCAB_PAD_WORD, 5) == 0 || memcmp(tok, VOCAB_UNK_WORD, 5) == 0));
}

/* memcmp order on the bytes; a prefix sorts before its extensions. */
static int bytes_cmp(const char *a, int alen, const char *b, int blen) {
    int c = memcmp(a, b, (size_t)(alen < blen ? alen : blen));
    if (c) return c;
    return (alen > blen) - (alen < blen);
}

/* Descending count, then ascending bytes: a total order over distinct tokens. */
static int builder_order(const void *pa, const void *pb, void *ctx) {
    const VocabTable *t = ctx;
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    if (t->count[a] != t->count[b]) return t->count[a] > t->count[b] ? -1 : 1;
    return bytes_cmp(t->arena + t->off[a], t->len[a], t->arena + t->off[b], t->len[b]);
}

/* A Vocab holding the specials, with room for n_words more tokens of arena_bytes bytes. */
static Vocab *vocab_alloc(int32_t n_words, int64_t arena_bytes) {
    Vocab *v = mallocCheck(sizeof *v);
    table_init(&v->t, n_words + 2, arena_bytes + n_words + 12);
    table_append(&v->t, NULL, VOCAB_PAD_WORD, 5, 0, 0);
    table_append(&v->t, NULL, VOCAB_UNK_WORD, 5, 0, 0);
    return v;
}

Vocab *vocab_builder_finish(const VocabBuilder *vb, int64_t min_count, int32_t max_size,
                            int32_t **remap_out) {
    const VocabTable *bt = &vb->t;
    int32_t *order = mallocCheck((size_t)(bt->n ? bt->n : 1) * sizeof *order);
    int32_t n_cand = 0;
    for (int32_t i = 0; i < bt->n; i++)
        if (bt->count[i] >= min_count && !is_special(bt->arena + bt->off[i], bt->len[i])) order[n_cand++] = i;
    qsort_r(order, (size_t)n_cand, sizeof *order, builder_order, (void *)bt);
    int32_t n_keep = n_cand;
    if (max_size > 0) {
        int32_t room = max_size > 2 ? max_size - 2 : 0;
        if (n_keep > room) n_keep = room;
    }

    int64_t arena_bytes = 0;
    for (int32_t k = 0; k < n_keep; k++) arena_bytes += bt->len[order[k]];
    Vocab *v = vocab_alloc(n_keep, arena_bytes);
    int32_t *remap = mallocCheck((size_t)(bt->n ? bt->n : 1) * sizeof *remap);
    for (int32_t i = 0; i < bt->n; i++) remap[i] = VOCAB_UNK;
    for (int32_t k = 0; k < n_keep; k++) {
        int32_t p = order[k];
        const char *tok = bt->arena + bt->off[p];
        uint32_t h = vocab_hash(tok, bt->len[p]);
        VocabSlot *s = table_probe(&v->t, tok, bt->len[p], h);
        remap[p] = table_append(&v->t, s, tok, bt->len[p], h, bt->count[p]);
    }
    int64_t dropped = 0;
    for (int32_t i = 0; i < bt->n; i++)
        if (remap[i] == VOCAB_UNK) dropped += bt->count[i];
    v->t.count[VOCAB_UNK] = dropped;
    free(order);
    if (remap_out)
        *remap_out = remap;
    else
        free(remap);
    return v;
}

/* ---- reading ------------------------------------------------------------------ */

void vocab_free(Vocab *v) {
    if (!v) return;
    table_free(&v->t);
    free(v);
}

int32_t vocab_size(const Vocab *v) { return v->t.n; }

int32_t vocab_lookup(const Vocab *v, const char *tok, int len) {
    if (len <= 0) return VOCAB_UNK;
    const VocabSlot *s = table_probe(&v->t, tok, len, vocab_hash(tok, len));
    return s->id >= 0 ? s->id : VOCAB_UNK;
}

const char *vocab_word(const Vocab *v, int32_t id, int *len) {
    if (id < 0 || id >= v->t.n) return NULL;
    if (len) *len = v->t.len[id];
    return v->t.arena + v->t.off[id];
}

int64_t vocab_count(const Vocab *v, int32_t id) { return id >= 0 && id < v->t.n ? v->t.count[id] : 0; }

const int64_t *vocab_counts(const Vocab *v) { return v->t.count; }

int vocab_encode(const Vocab *v, const char *const *tok, const int *len, int n, int32_t *ids_out) {
    int unknown = 0;
    for (int i = 0; i < n; i++) {
        ids_out[i] = vocab_lookup(v, tok[i], len[i]);
        unknown += ids_out[i] == VOCAB_UNK;
    }
    return unknown;
}

/* ---- serialisation ------------------------------------------------------------ */

#define VOCAB_MAGIC     "BZVOCAB1"
#define VOCAB_HEADER    24 /* magic 8 + size 4 + flags 4 + arena bytes 8 */
#define VOCAB_CRC_BYTES 4

static void put_u32(uint8_t *p, uint32_t x) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(x >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t x) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(x >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) x |= (uint32_t)p[i] << (8 * i);
    return x;
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) x |= (uint64_t)p[i] << (8 * i);
    return x;
}

/* zlib's crc32 takes a uInt length: feed it in chunks. */
static uint32_t vocab_crc(const uint8_t *p, size_t n) {
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)crc;
}

uint8_t *vocab_serialize(const Vocab *v, size_t *len) {
    const VocabTable *t = &v->t;
    uint64_t arena = 0;
    for (int32_t i = 0; i < t->n; i++) arena += (uint64_t)t->len[i];
    size_t total = VOCAB_HEADER + (size_t)t->n * 12 + (size_t)arena + VOCAB_CRC_BYTES;
    uint8_t *blob = mallocCheck(total);
    memcpy(blob, VOCAB_MAGIC, 8);
    put_u32(blob + 8, (uint32_t)t->n);
    put_u32(blob + 12, 0);
    put_u64(blob + 16, arena);
    uint8_t *p = blob + VOCAB_HEADER;
    for (int32_t i = 0; i < t->n; i++, p += 4) put_u32(p, (uint32_t)t->len[i]);
    for (int32_t i = 0; i < t->n; i++, p += 8) put_u64(p, (uint64_t)t->count[i]);
    for (int32_t i = 0; i < t->n; i++) {
        memcpy(p, t->arena + t->off[i], (size_t)t->len[i]);
        p += t->len[i];
    }
    put_u32(p, vocab_crc(blob, (size_t)(p - blob)));
    *len = total;
    return blob;
}

static Vocab *vocab_fail(Vocab *v, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static Vocab *vocab_fail(Vocab *v, char *err, size_t errlen, const char *fmt, ...) {
    vocab_free(v);
    if (errlen > 0) {
        int k = snprintf(err, errlen, "vocabulary: ");
        if (k >= 0 && (size_t)k < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return NULL;
}

Vocab *vocab_deserialize(const uint8_t *blob, size_t len, char *err, size_t errlen) {
    if (!blob || len < VOCAB_HEADER + VOCAB_CRC_BYTES)
        return vocab_fail(NULL, err, errlen, "truncated: %zu bytes, the header alone needs %d", len,
                          VOCAB_HEADER + VOCAB_CRC_BYTES);
    if (memcmp(blob, VOCAB_MAGIC, 8) != 0)
        return vocab_fail(NULL, err, errlen, "bad magic (not a vocabulary)");
    uint64_t n = get_u32(blob + 8), flags = get_u32(blob + 12), arena = get_u64(blob + 16);
    if (flags != 0) return vocab_fail(NULL, err, errlen, "unknown flags 0x%llx", (unsigned long long)flags);
    if (n < 2 || n > INT32_MAX) return vocab_fail(NULL, err, errlen, "bad size %llu", (unsigned long long)n);
    uint64_t body = len - VOCAB_HEADER - VOCAB_CRC_BYTES;
    if (n * 12 > body || arena != body - n * 12)
        return vocab_fail(NULL, err, errlen,
                          "sizes do not match the blob: %llu words and %llu token bytes need %llu bytes, "
                          "got %zu",
                          (unsigned long long)n, (unsigned long long)arena,
                          (unsigned long long)(VOCAB_HEADER + n * 12 + arena + VOCAB_CRC_BYTES), len);
    uint32_t crc = get_u32(blob + len - VOCAB_CRC_BYTES);
    if (crc != vocab_crc(blob, len - VOCAB_CRC_BYTES))
        return vocab_fail(NULL, err, errlen, "checksum mismatch (corrupted)");

    const uint8_t *lens = blob + VOCAB_HEADER, *counts = lens + n * 4;
    const char *bytes = (const char *)(counts + n * 8);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t l = get_u32(lens + 4 * i);
        if (l == 0 || l > INT32_MAX || (get_u64(counts + 8 * i) >> 63))
            return vocab_fail(NULL, err, errlen, "bad length or count of word %llu", (unsigned long long)i);
        sum += l;
    }
    if (sum != arena)
        return vocab_fail(NULL, err, errlen, "token lengths add up to %llu bytes, header says %llu",
                          (unsigned long long)sum, (unsigned long long)arena);

    Vocab *v = vocab_alloc((int32_t)n - 2, (int64_t)arena);
    const char *tok = bytes;
    for (uint64_t i = 0; i < n; i++) {
        int l = (int)get_u32(lens + 4 * i);
        int64_t c = (int64_t)get_u64(counts + 8 * i);
        if (i < 2) {
            const char *want = i == VOCAB_PAD ? VOCAB_PAD_WORD : VOCAB_UNK_WORD;
            if (l != 5 || memcmp(tok, want, 5) != 0)
                return vocab_fail(v, err, errlen, "word %llu must be %s", (unsigned long long)i, want);
            v->t.count[i] = c;
        } else {
            if (is_special(tok, l))
                return vocab_fail(v, err, errlen, "special token repeated as word %llu",
                                  (unsigned long long)i);
            if (i > 2) {
                int32_t p = (int32_t)i - 1;
                int64_t pc = v->t.count[p];
                if (pc < c || (pc == c && bytes_cmp(v->t.arena + v->t.off[p], v->t.len[p], tok, l) >= 0))
                    return vocab_fail(v, err, errlen, "words %d and %llu are out of order", p,
                                      (unsigned long long)i);
            }
            uint32_t h = vocab_hash(tok, l);
            VocabSlot *s = table_probe(&v->t, tok, l, h);
            if (s->id >= 0)
                return vocab_fail(v, err, errlen, "word %llu repeats word %d", (unsigned long long)i, s->id);
            table_append(&v->t, s, tok, l, h, c);
        }
        tok += l;
    }
    return v;
}
