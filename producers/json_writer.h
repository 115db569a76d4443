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

/* Appends an integer in decimal (INT64_MIN included). */
void jw_int(JsonWriter *w, int64_t v);

/* Appends v with at most `decimals` (0..9) digits after the point, trailing zeros
 * dropped ("0.93", "12", "0.000001"); null when v is not finite. The digits are
 * those of printf's "%.*f" (the exact binary value rounded half to even: 0.125 with
 * 2 decimals gives "0.12", 2.675 gives "2.67" because the double is below 2.675);
 * a value that rounds to zero prints "0", never "-0". */
void jw_number(JsonWriter *w, double v, int decimals);

/* Bytes jw_format_fixed may write: a sign, 20 integer digits, the point, 9 decimals. */
#define JW_FIXED_MAX 31

/* The fast path of jw_number, without printf: writes into out exactly the bytes
 * snprintf(out, n, "%.*f", decimals, v) would write in the default rounding mode
 * (no NUL; "-0.00" for a negative value that rounds to zero, like printf) and
 * returns their count, at most JW_FIXED_MAX. Returns 0 and writes nothing when it
 * does not handle the input: v not finite, |v| >= 2^64, decimals outside 0..9, or a
 * compiler without 128-bit integers. */
size_t jw_format_fixed(char *out, double v, int decimals);

/* Worst-case bytes of jw_string for n input bytes (every byte a \u00XX escape). */
size_t jw_string_bound(size_t n);

/* NUL-terminates and returns the length written, or 0 when the buffer was too small
 * (the content is then unusable). */
size_t jw_finish(JsonWriter *w);

#endif
