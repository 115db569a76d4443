/* utf8.h — UTF-8 decoding with repair, encoding, validation, latin-1 and
 * Windows-1252 conversion, mojibake repair and simple lowercasing. Plain functions
 * over caller buffers: nothing here allocates, keeps state or fails on bad input.
 *
 * Repair follows the Unicode Standard (ch. 3.9, "U+FFFD substitution of maximal
 * subparts"): each maximal prefix of a would-be-valid sequence (or each single byte
 * that cannot start one: 0x80-0xBF alone, 0xC0, 0xC1, 0xF5-0xFF) counts as one
 * invalid unit. Overlong forms, surrogates (U+D800-U+DFFF), values above U+10FFFF
 * and truncated sequences are all invalid.
 *
 * Output-buffer contract shared by the buffer functions below: `out` receives at
 * most cap-1 bytes followed by a NUL (nothing is written when cap == 0); a
 * character is never split; the return value is the number of bytes written
 * (without the NUL). With cap >= the *_MAX(len) bound nothing is ever truncated.
 * Input may contain NUL bytes (U+0000 is valid UTF-8 and is copied), except for
 * the *_cstr functions: they are for text kept as C strings, where a NUL byte would
 * cut the text short, so there a NUL byte is invalid (and becomes U+FFFD). */
#ifndef BUZZRADAR_UTF8_H
#define BUZZRADAR_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define UTF8_REPLACEMENT 0xFFFDu

/* Buffer sizes (including the NUL) that never truncate, for an input of len bytes. */
#define UTF8_REPAIR_MAX(len)       (3 * (size_t)(len) + 1)
#define UTF8_FROM_LATIN1_MAX(len)  (2 * (size_t)(len) + 1)
#define UTF8_FIX_MOJIBAKE_MAX(len) ((size_t)(len) + 1)
#define UTF8_FROM_CP1252_MAX(len)  (3 * (size_t)(len) + 1)

/* Decodes the codepoint that starts s[0..len) (len >= 1) and stores in *adv the
 * bytes it used (1..4). A maximal invalid subpart decodes as U+FFFD. */
uint32_t utf8_decode(const unsigned char *s, size_t len, size_t *adv);

/* Writes the UTF-8 form of cp into out (room for 4 bytes) and returns its length
 * (1..4). A value that is not a Unicode scalar value (a surrogate or > U+10FFFF)
 * is written as U+FFFD. */
int utf8_encode(uint32_t cp, char *out);

/* 1 when s[0..len) is well-formed UTF-8, else 0. */
int utf8_valid(const char *s, size_t len);

/* 1 when s[0..len) is well-formed UTF-8 without any NUL byte, else 0. */
int utf8_valid_cstr(const char *s, size_t len);

/* What utf8_repair does with an invalid unit. */
typedef enum {
    UTF8_REPAIR_REPLACE, /* write U+FFFD for each maximal invalid subpart */
    UTF8_REPAIR_LATIN1,  /* take each invalid byte as latin-1 (mixed encodings) */
} Utf8RepairMode;

/* Copies s[0..len) to out as well-formed UTF-8, repairing invalid units as mode
 * says. When nbad is not NULL it receives the number of invalid units (of invalid
 * bytes in UTF8_REPAIR_LATIN1 mode), 0 for valid input. Returns the
 * bytes written (see the output-buffer contract; UTF8_REPAIR_MAX never truncates). */
size_t utf8_repair(const char *s, size_t len, char *out, size_t cap, Utf8RepairMode mode, size_t *nbad);

/* utf8_repair in UTF8_REPAIR_REPLACE mode, except that each NUL byte is an invalid
 * unit too: the output holds the whole text as a C string. */
size_t utf8_repair_cstr(const char *s, size_t len, char *out, size_t cap, size_t *nbad);

/* Converts latin-1 (ISO 8859-1) bytes to UTF-8: bytes below 0x80 are copied, the
 * others become two bytes (U+0080-U+00FF). Returns the bytes written
 * (UTF8_FROM_LATIN1_MAX never truncates). */
size_t utf8_from_latin1(const char *s, size_t len, char *out, size_t cap);

/* Converts Windows-1252 bytes to UTF-8 for text kept as a C string. It is
 * utf8_from_latin1 except that bytes 0x80-0x9F are Windows-1252 characters (0x80 is
 * €, 0x92 is ’: "latin-1" text from the web is Windows-1252 in practice, and the
 * WHATWG Encoding Standard decodes the label "iso-8859-1" so; the five bytes that
 * Windows-1252 leaves unassigned, 0x81 0x8D 0x8F 0x90 0x9D, keep their C1 codepoint)
 * and that a NUL byte becomes U+FFFD. Returns the bytes written
 * (UTF8_FROM_CP1252_MAX never truncates). */
size_t utf8_from_cp1252_cstr(const char *s, size_t len, char *out, size_t cap);

/* Mojibake: UTF-8 text that was once decoded as latin-1 and encoded again, so that
 * "é" reads "Ã©" and "’" reads "â\u0080\u0099" (as in sentiment140-train.csv.gz).
 *
 * utf8_unmojibake looks at s[0..len): when it starts with the UTF-8 form of the
 * latin-1 reading of one valid UTF-8 multi-byte character (a lead U+00C2-U+00F4
 * followed by the right number of U+0080-U+00BF), it returns that character and
 * stores in *adv the bytes it covers (4, 6 or 8). Otherwise it returns 0. */
uint32_t utf8_unmojibake(const unsigned char *s, size_t len, size_t *adv);

/* Copies s[0..len) to out, undoing mojibake character by character (other bytes
 * are copied unchanged; the output is never longer than the input). When nfixed is
 * not NULL it receives the number of characters repaired. Returns the bytes written
 * (UTF8_FIX_MOJIBAKE_MAX never truncates). Input that is not valid UTF-8 is copied
 * as is: repair it first if needed. */
size_t utf8_fix_mojibake(const char *s, size_t len, char *out, size_t cap, size_t *nfixed);

/* Simple (one-to-one) lowercase of cp for ASCII, Latin-1 Supplement, Latin
 * Extended-A, Latin Extended Additional (Vietnamese), Greek, Cyrillic and
 * Armenian; other codepoints are returned unchanged. */
uint32_t utf8_tolower(uint32_t cp);

#endif
