/* tweet.h — decoding and validation of one raw tweet message from the input topic.
 *
 * Accepted shapes (JSON objects, UTF-8):
 *   {"id":"...","text":"...", ...}                   the project's own shape
 *   {"data":{"id":"...","text":"...", ...}, ...}     Twitter API v2 envelope
 *   {"id_str":"...","full_text":"...", ...}          Twitter API v1.1 (extended mode)
 * The id is taken from id_str, else id (a string, or an integer up to 2^53 — larger
 * numeric ids are not exact in JSON: send id_str). The text is taken from the first
 * string among note_tweet.text (v2 long posts), extended_tweet.full_text (v1.1
 * streaming), full_text, text.
 *
 * A message that cannot be scored gets a reason code, the dead-letter `error`
 * header of DESIGN.md:
 *   too_large     payload longer than the configured maximum, or id over 128 bytes
 *   invalid_json  not a JSON object (empty, malformed, trailing garbage, an array)
 *   missing_id    no usable id (absent, null, empty, not a string or an exact integer)
 *   missing_text  no text string
 *   empty_text    text of whitespace only
 *   invalid_utf8  what cannot be repaired: an id that is not valid UTF-8, or a payload
 *                 in UTF-16/UTF-32 (a UTF-16/32 byte-order mark or NUL bytes)
 * Invalid UTF-8 inside the text is repaired (each maximal invalid subpart becomes
 * U+FFFD, see model/utf8.h) and counted, not rejected. A UTF-8 byte-order mark is skipped. */
#ifndef BUZZRADAR_TWEET_H
#define BUZZRADAR_TWEET_H

#include <stddef.h>

typedef enum {
    TWEET_OK = 0,
    TWEET_TOO_LARGE,
    TWEET_INVALID_JSON,
    TWEET_MISSING_ID,
    TWEET_MISSING_TEXT,
    TWEET_EMPTY_TEXT,
    TWEET_INVALID_UTF8,
} TweetStatus;

#define TWEET_ID_MAX 128 /* bytes */

/* A decoded tweet. id and text point into the caller's buffer, NUL-terminated, and
 * are valid UTF-8. */
typedef struct {
    const char *id;
    size_t id_len;
    const char *text;
    size_t text_len;
    size_t repaired; /* invalid units of the text replaced by U+FFFD */
} Tweet;

/* The reason code of a status ("too_large", ...; "ok" for TWEET_OK). */
const char *tweet_reason(TweetStatus s);

/* Buffer size tweet_decode needs for a payload of `len` bytes. */
size_t tweet_decode_bound(size_t len);

/* Decodes payload[0..len) (not NUL-terminated; NULL with len 0 is an empty message)
 * into *out, copying id and text into buf, which must hold tweet_decode_bound(len)
 * bytes. Payloads longer than max_bytes are refused unread. Returns TWEET_OK or the
 * reason the message cannot be scored (out is then unspecified). Never fails
 * otherwise; allocates only inside cJSON's parser, freed before returning. */
TweetStatus tweet_decode(const void *payload, size_t len, size_t max_bytes, Tweet *out, char *buf,
                         size_t cap);

#endif
