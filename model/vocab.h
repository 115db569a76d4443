/* vocab.h — the vocabulary: token strings <-> integer ids, with corpus counts.
 *
 * Two stages:
 *   1. A VocabBuilder interns every token of a corpus (one open-addressing hash table
 *      over one string arena: no allocation per token) and hands back a provisional
 *      id, so the corpus is tokenised once and stored as provisional ids.
 *   2. vocab_builder_finish() freezes a Vocab: final ids ordered by descending count,
 *      ties broken by the token bytes (so ids are stable for the same counts), with
 *      id 0 = VOCAB_PAD ("<pad>") and id 1 = VOCAB_UNK ("<unk>"), and a remap table
 *      provisional -> final id to rewrite the stored corpus.
 *
 * A Vocab is immutable: every vocab_* reader below is thread-safe and allocation-free.
 * Tokens are byte strings (UTF-8 from the text pipeline) given as (pointer, length);
 * they need not be NUL-terminated. */
#ifndef BUZZRADAR_VOCAB_H
#define BUZZRADAR_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#define VOCAB_PAD      0 /* padding id: never produced by lookup or encode */
#define VOCAB_UNK      1 /* unknown (out-of-vocabulary) id */
#define VOCAB_PAD_WORD "<pad>"
#define VOCAB_UNK_WORD "<unk>"

typedef struct VocabBuilder VocabBuilder;
typedef struct Vocab Vocab;

/* ---- building ---- */

/* An empty builder. Exits on out-of-memory (like every builder call). */
VocabBuilder *vocab_builder_new(void);
void vocab_builder_free(VocabBuilder *vb); /* NULL is fine */

/* Counts one occurrence of the token tok[0..len) and returns its provisional id
 * (0, 1, 2... in order of first appearance). Returns -1, counting nothing, when
 * len <= 0. Not thread-safe: one builder per thread. */
int32_t vocab_builder_add(VocabBuilder *vb, const char *tok, int len);

/* Number of distinct tokens added so far (= the next provisional id). */
int32_t vocab_builder_size(const VocabBuilder *vb);

/* Occurrences of provisional id pid so far (0 when pid is out of range). */
int64_t vocab_builder_count(const VocabBuilder *vb, int32_t pid);

/* Freezes the vocabulary. Keeps the tokens seen at least min_count times, the most
 * frequent first, ties broken by bytes (memcmp order, a prefix before its
 * extensions), at most max_size ids in all, the two special ids included
 * (max_size <= 0: no limit; 1 or 2: only the specials). Tokens spelled exactly
 * "<pad>" or "<unk>" are never kept, so they read as unknown.
 * The count of VOCAB_UNK is the total count of the tokens dropped; VOCAB_PAD's is 0.
 * When remap_out is not NULL, *remap_out receives a malloc'ed array of
 * vocab_builder_size(vb) final ids (VOCAB_UNK for dropped tokens), freed by the
 * caller. The builder is left unchanged (free it when done). Exits on out-of-memory. */
Vocab *vocab_builder_finish(const VocabBuilder *vb, int64_t min_count, int32_t max_size, int32_t **remap_out);

/* ---- reading (thread-safe, no allocation) ---- */

void vocab_free(Vocab *v); /* NULL is fine */

/* Number of ids, specials included (>= 2). */
int32_t vocab_size(const Vocab *v);

/* The id of the token tok[0..len), or VOCAB_UNK when it is not in the vocabulary
 * (including len <= 0 and the spelled-out "<pad>"/"<unk>"). Never VOCAB_PAD. */
int32_t vocab_lookup(const Vocab *v, const char *tok, int len);

/* The token of id (NUL-terminated; its byte length in *len when len is not NULL),
 * or NULL when id is out of range. */
const char *vocab_word(const Vocab *v, int32_t id, int *len);

/* The corpus count of id (0 when out of range). */
int64_t vocab_count(const Vocab *v, int32_t id);

/* All counts, indexed by id (vocab_size entries), e.g. for w2v_train. */
const int64_t *vocab_counts(const Vocab *v);

/* Encodes n tokens (tok[i], len[i]) into ids_out[0..n) and returns how many of them
 * are unknown (VOCAB_UNK): the tweet's out-of-vocabulary ratio is that over n. */
int vocab_encode(const Vocab *v, const char *const *tok, const int *len, int n, int32_t *ids_out);

/* ---- serialisation (for the model file) ----
 * Layout, little-endian: "BZVOCAB1", u32 size, u32 flags (0), u64 arena bytes,
 * size x u32 token lengths, size x u64 counts, the token bytes back to back, and
 * a CRC-32 (zlib) of everything before it. */

/* A malloc'ed blob holding v; its length in *len. Exits on out-of-memory. */
uint8_t *vocab_serialize(const Vocab *v, size_t *len);

/* Rebuilds a Vocab from a blob. Every size, offset, the specials, the order of the
 * counts, duplicates and the checksum are validated: on any problem returns NULL
 * and writes a one-line reason into err (errlen bytes, may be 0). Never reads
 * outside blob[0..len). */
Vocab *vocab_deserialize(const uint8_t *blob, size_t len, char *err, size_t errlen);

#endif
