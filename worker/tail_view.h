/* tail_view.h — the lines `buzzradar tail` prints: one per scored tweet (time, label
 * coloured red/green, P(positive) as a small bar, the text cut to the terminal width)
 * and a highlighted banner per alert.
 *
 * Pure formatting, no I/O: each function writes into a caller's buffer and never
 * fails on bad input (a message that is not what it should be gives a dim
 * "unreadable" line). Text from tweets is made safe for a terminal: control
 * characters (newlines, tabs, escape sequences, C1 controls) become spaces and invalid
 * UTF-8 becomes U+FFFD, so a tweet cannot move the cursor or change colours. Display
 * widths follow a small table (wide East Asian and emoji count 2 columns, combining
 * marks and variation selectors 0), close to what common terminals do. */
#ifndef BUZZRADAR_TAIL_VIEW_H
#define BUZZRADAR_TAIL_VIEW_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int color; /* 1: ANSI colours and Unicode bar; 0: plain ASCII (pipes, NO_COLOR) */
    int width; /* terminal columns; <= 0: no truncation */
} TailStyle;

/* Formats the JSON value of a tweets.scored event as one '\n'-terminated line into
 * out (cap bytes, at least 64). Returns the line length. Times are shown in local time
 * (the TZ environment). *label (when not NULL) gets 1 positive, 0 negative, -1 when
 * the message is unreadable. */
size_t tail_format_scored(const TailStyle *st, const char *json, size_t len, char *out, size_t cap,
                          int *label);

/* Formats the JSON value of a buzz.alerts message as a banner of two lines (type,
 * severity and time; the message with value, threshold and window) into out. Returns
 * the length. *ok (when not NULL) gets 1, or 0 when the message is unreadable (one
 * dim line). */
size_t tail_format_alert(const TailStyle *st, const char *json, size_t len, char *out, size_t cap, int *ok);

/* Copies len bytes of UTF-8 text into out (cap bytes, NUL-terminated), made safe for a
 * terminal (see above) and cut to at most max_cols display columns, ending with "…"
 * (or "..." when ascii_only) when cut; max_cols <= 0: no cut. Runs of white space
 * collapse to one space. Returns the number of display columns written. */
int tail_clip_text(const char *text, size_t len, int max_cols, int ascii_only, char *out, size_t cap);

/* Display columns of one code point in a terminal: 0, 1 or 2. */
int tail_char_width(uint32_t cp);

#endif
