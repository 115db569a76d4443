/* json_writer.h — a bounded JSON writer into a caller's buffer, for the messages the
 * worker produces (scored events, alerts). Allocates nothing.
 *
 * The caller writes structure with jw_raw ("{\"id\":") and values with the typed
 * functions; the writer escapes strings and formats numbers. Writing past the
 * buffer sets an overflow flag instead: check jw_finish. Strings must be valid UTF-8
 * (they are copied as is, with '"', '\\' and control characters escaped). */
#ifndef BUZZRADAR_JSON_WRITER_H
#define BUZZRADAR_JSON_WRITER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *buf;
    size_t cap, len;
    int overflow;
} JsonWriter;

/* Starts writing into buf[0..cap). */
void jw_init(JsonWriter *w, char *buf, size_t cap);

/* Appends bytes verbatim (structure: braces, keys with their quotes, commas). */
void jw_raw(JsonWriter *w, const char *s);

/* Appends s[0..n) as a quoted, escaped JSON string. */
void jw_string(JsonWriter *w, const char *s, size_t n);

/* Appends an integer. */
void jw_int(JsonWriter *w, int64_t v);

/* Appends v with at most `decimals` (0..9) digits after the point, trailing zeros
 * dropped ("0.93", "12", "0.000001"); null when v is not finite. */
void jw_number(JsonWriter *w, double v, int decimals);

/* Worst-case bytes of jw_string for n input bytes (every byte a \u00XX escape). */
size_t jw_string_bound(size_t n);

/* NUL-terminates and returns the length written, or 0 when the buffer was too small
 * (the content is then unusable). */
size_t jw_finish(JsonWriter *w);

#endif
