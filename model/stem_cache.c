/* stem_cache.c — Snowball English stemming behind a bounded open-addressing cache
 * (contract in stem_cache.h).
 *
 * Layout: a power-of-two array of 64-byte entries (one cache line each). A word
 * hashes (FNV-1a) to a home slot and may live in any of the PROBE slots that
 * follow. Entries are never removed, only overwritten, so an empty slot ends a
 * lookup. When the window is full, a round-robin victim in it is replaced. */
#include "model/stem_cache.h"

#include <libstemmer.h>
#include <stdlib.h>
#include <string.h>

#include "model/util.h"

#define PROBE 4

typedef struct {
    uint32_t hash;
    uint8_t klen; /* 0: empty slot */
    uint8_t slen;
    char key[STEM_CACHE_KEY_MAX];
    char stem[STEM_CACHE_KEY_MAX];
} StemEntry;

_Static_assert(sizeof(StemEntry) == 64, "a StemEntry fills one cache line");

struct StemCache {
    struct sb_stemmer *snowball;
    StemEntry *table; /* NULL when the cache is off */
    uint32_t mask;
    uint32_t evict; /* round-robin victim counter */
    uint64_t hits, misses;
};

StemCache *stem_cache_new(int slots) {
    StemCache *sc = callocCheck(1, sizeof *sc);
    sc->snowball = sb_stemmer_new("english", "UTF_8");
    if (!sc->snowball) util_die("libstemmer: cannot create the English stemmer (out of memory?)");
    if (slots > 0) {
        uint32_t n = PROBE;
        while (n < (uint32_t)slots && n < (1u << 30)) n <<= 1;
        sc->table = callocCheck(n, sizeof(StemEntry));
        sc->mask = n - 1;
    }
    return sc;
}

void stem_cache_free(StemCache *sc) {
    if (!sc) return;
    sb_stemmer_delete(sc->snowball);
    free(sc->table);
    free(sc);
}

static uint32_t fnv1a(const char *s, int len) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static const char *snowball(StemCache *sc, const char *word, int len, int *out_len) {
    const sb_symbol *st = sb_stemmer_stem(sc->snowball, (const sb_symbol *)word, len);
    if (!st) {
        *out_len = len;
        return word;
    }
    *out_len = sb_stemmer_length(sc->snowball);
    return (const char *)st;
}

const char *stem_cache_stem(StemCache *sc, const char *word, int len, int *out_len) {
    if (!sc->table || len > STEM_CACHE_KEY_MAX || len <= 0) {
        sc->misses++;
        return snowball(sc, word, len, out_len);
    }
    uint32_t h = fnv1a(word, len);
    StemEntry *slot = NULL;
    for (uint32_t k = 0; k < PROBE; k++) {
        StemEntry *e = &sc->table[(h + k) & sc->mask];
        if (e->klen == 0) {
            slot = e;
            break;
        }
        if (e->hash == h && e->klen == len && !memcmp(e->key, word, (size_t)len)) {
            sc->hits++;
            *out_len = e->slen;
            return e->stem;
        }
    }
    sc->misses++;
    const char *st = snowball(sc, word, len, out_len);
    if (*out_len > STEM_CACHE_KEY_MAX || st == word) return st; /* not cacheable */
    if (!slot) slot = &sc->table[(h + (sc->evict++ % PROBE)) & sc->mask];
    slot->hash = h;
    slot->klen = (uint8_t)len;
    slot->slen = (uint8_t)*out_len;
    memcpy(slot->key, word, (size_t)len);
    memcpy(slot->stem, st, (size_t)*out_len);
    return slot->stem;
}

void stem_cache_stats(const StemCache *sc, uint64_t *hits, uint64_t *misses) {
    if (hits) *hits = sc->hits;
    if (misses) *misses = sc->misses;
}
