/* http_json.h — the JSON of the HTTP API without allocation: an in-place reader for
 * request bodies (one object whose interesting fields are strings or arrays of
 * strings) and the string escaping of responses.
 *
 * The reader validates the whole body against RFC 8259 (any other field is parsed
 * and skipped, nesting up to HTTP_JSON_MAX_DEPTH), decodes the strings it hands out
 * in place inside the caller's buffer (escapes resolved, \u surrogate pairs joined,
 * each string NUL-terminated; lengths are authoritative since \u0000 is legal), and
 * rejects invalid UTF-8, lone surrogates and raw control characters. */
#ifndef BUZZRADAR_HTTP_JSON_H
#define BUZZRADAR_HTTP_JSON_H

#include <stddef.h>

#define HTTP_JSON_MAX_DEPTH 32

typedef enum {
    HTTP_JSON_STRING,  /* the value must be a string */
    HTTP_JSON_STRINGS, /* the value must be an array of strings */
} HttpJsonKind;

/* One field the caller wants. In: key, kind, max (capacity of str/len: 1 for a
 * string), str and len (caller arrays of max entries). Out: present (0/1) and n
 * (strings stored). */
typedef struct {
    const char *key;
    HttpJsonKind kind;
    int max;
    char **str;
    size_t *len;
    int present;
    int n;
} HttpJsonField;

enum {
    HTTP_JSON_OK = 0,
    HTTP_JSON_INVALID = -1,  /* not JSON, not an object, a field of the wrong type, a repeated field */
    HTTP_JSON_TOO_MANY = -2, /* an array field has more than max strings */
};

/* Parses buf[0..len) as one JSON object, filling the fields asked for. Modifies buf
 * (strings are decoded in place). Returns HTTP_JSON_OK, or an error code with a
 * one-line reason in err ("invalid JSON at byte 12: expected ':'"). Never reads
 * outside buf, never allocates, bounded recursion. */
int http_json_read_object(char *buf, size_t len, HttpJsonField *fields, int nfields, char *err,
                          size_t errlen);

/* The length of s[0..n) escaped as the inside of a JSON string (no quotes added):
 * \" \\ \b \f \n \r \t, other bytes below 0x20 as \u00XX, everything else as is. */
size_t http_json_escaped_len(const char *s, size_t n);

/* Writes the escaped form of s[0..n) to out, which has room for
 * http_json_escaped_len(s, n) bytes (no NUL is added). Returns the bytes written. */
size_t http_json_escape(const char *s, size_t n, char *out);

#endif
