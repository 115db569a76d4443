/* terms.h — the hashtags, mentions and words of a set of tweets, counted in a fixed
 * table: what people talk about in the negative tweets of a bad buzz (named in the
 * negative_surge alert).
 *
 * Extraction works on the raw tweet text, for people to read (the model's tokens are
 * normalised and stemmed, which suits the model but not an alert message):
 * - a hashtag is '#' followed by word characters ("#LostLuggage" -> "#lostluggage");
 * - a mention is '@' followed by word characters ("@AirParadis" -> "@airparadis");
 * - a word is a run of word characters of at least TERMS_MIN_WORD bytes that is not
 *   an English stop word, not a number, and not part of a link (http://, https://,
 *   www.): "Delayed" -> "delayed".
 * Word characters are ASCII letters, digits, '_' and every byte >= 0x80 (so UTF-8
 * letters stay inside words); ASCII letters are lower-cased, other bytes are kept.
 * Terms longer than TERMS_MAX_LEN - 1 bytes are cut (at a UTF-8 boundary).
 *
 * Memory: a TermCounter holds at most `capacity` distinct terms in an open-addressing
 * table allocated once by terms_new(); counting allocates nothing. When the table is
 * full, new terms are not counted (terms_dropped() says how many occurrences were
 * lost); terms already present keep counting. One TermCounter belongs to one thread. */
#ifndef BUZZRADAR_TERMS_H
#define BUZZRADAR_TERMS_H

#include <stddef.h>
#include <stdint.h>

enum { TERMS_MAX_LEN = 48, TERMS_MIN_WORD = 3 };

typedef enum { TERM_HASHTAG = 0, TERM_MENTION = 1, TERM_WORD = 2, TERM_KINDS = 3 } TermKind;

/* A term and how often it was seen. term is NUL-terminated; hashtags keep their '#'
 * and mentions their '@'. */
typedef struct {
    char term[TERMS_MAX_LEN];
    int64_t count;
} TermCount;

typedef struct TermCounter TermCounter;

/* A counter for up to `capacity` distinct terms (>= 1; rounded up internally).
 * Exits when memory runs out (mallocCheck). */
TermCounter *terms_new(int capacity);
void terms_free(TermCounter *t); /* NULL is fine */

/* Forgets every term (keeps the memory). */
void terms_reset(TermCounter *t);

/* Extracts the terms of one tweet text (len bytes, any bytes) and counts each
 * occurrence. A term repeated inside one tweet counts once per occurrence. */
void terms_add_text(TermCounter *t, const char *text, size_t len);

/* Adds `count` to one term taken as is (already extracted and lower-cased; its kind is
 * its first byte), cut to TERMS_MAX_LEN - 1 bytes. Used to merge counts read back. */
void terms_add(TermCounter *t, const char *term, size_t len, int64_t count);

/* How typical a text is of what was counted: the sum, over the text's terms (each
 * occurrence), of their counts (0 for terms not in the table). */
int64_t terms_score_text(const TermCounter *t, const char *text, size_t len);

/* The k most frequent terms of a kind, most frequent first (ties: byte order of the
 * term), into out. Returns how many were written (<= k). */
int terms_top(const TermCounter *t, TermKind kind, TermCount *out, int k);

/* Occurrences not counted because the table was full. */
int64_t terms_dropped(const TermCounter *t);

/* The kind of a term from its first byte ('#', '@', else a word). */
TermKind terms_kind_of(const char *term);

/* 1 when w (lower-case ASCII, len bytes) is one of the English stop words skipped as
 * words ("the", "and", "you", "rt", "amp", ...), else 0. */
int terms_is_stopword(const char *w, size_t len);

#endif
