/* stem_cache.h — Snowball English stemming (libstemmer) behind a bounded cache.
 *
 * Snowball costs about a microsecond per word, and tweets repeat the same few
 * thousand words, so each StemCache keeps an open-addressing table of word -> stem
 * with a fixed number of slots (allocated once, never grown, no allocation per
 * word). A full probe window evicts an old entry. The cache is invisible in the
 * results: stem_cache_stem returns exactly what Snowball returns.
 *
 * Not thread-safe: one StemCache per thread (each owns its own Snowball stemmer). */
#ifndef BUZZRADAR_STEM_CACHE_H
#define BUZZRADAR_STEM_CACHE_H

#include <stdint.h>

/* Longest word (in bytes) the cache keeps; longer words are stemmed every time. */
#define STEM_CACHE_KEY_MAX 29

typedef struct StemCache StemCache;

/* A stemmer with a cache of `slots` entries (rounded up to a power of two; 0 turns
 * the cache off; each slot takes 64 bytes). Exits with a message when memory runs
 * out or libstemmer has no English stemmer. */
StemCache *stem_cache_new(int slots);
void stem_cache_free(StemCache *sc); /* NULL is fine */

/* The Snowball English stem of word[0..len) (lowercase UTF-8). Returns a pointer
 * to the stem (not NUL-terminated) and stores its length in *out_len; the pointer
 * is valid until the next call on sc. If libstemmer fails (out of memory) the word
 * itself is returned. */
const char *stem_cache_stem(StemCache *sc, const char *word, int len, int *out_len);

/* Lookups answered from the cache and lookups that ran Snowball, since creation. */
void stem_cache_stats(const StemCache *sc, uint64_t *hits, uint64_t *misses);

#endif
