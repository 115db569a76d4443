/* test_tail_view.c — the lines of `buzzradar tail`: exact plain layouts, colours,
 * cutting to the terminal width by display columns, terminal-safe tweet text, and
 * unreadable messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "worker/tail_view.h"

#define SCORED(text, label, p)                                                                               \
    "{\"id\":\"42\",\"text\":\"" text "\",\"label\":\"" label "\",\"p_positive\":" p                         \
    ",\"model\":\"bilstm\",\"model_version\":\"v1\",\"scored_at\":\"2026-03-14T12:34:56.789Z\",\"latency_"   \
    "ms\":1.5}"

static size_t fmt_scored(int color, int width, const char *json, char *out, size_t cap) {
    TailStyle st = {.color = color, .width = width};
    return tail_format_scored(&st, json, strlen(json), out, cap, NULL);
}

/* Display columns of a line: ANSI sequences skipped, UTF-8 decoded, widths summed. */
static int display_cols(const char *s) {
    int cols = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && *p != '\n';) {
        if (*p == 0x1b) {
            while (*p && *p != 'm') p++;
            if (*p) p++;
            continue;
        }
        uint32_t cp = *p;
        int n = 1;
        if (*p >= 0xf0)
            cp = *p & 7, n = 4;
        else if (*p >= 0xe0)
            cp = *p & 15, n = 3;
        else if (*p >= 0xc0)
            cp = *p & 31, n = 2;
        for (int i = 1; i < n; i++) cp = cp << 6 | (p[i] & 0x3f);
        cols += tail_char_width(cp);
        p += n;
    }
    return cols;
}

static int setup_utc(void **state) {
    (void)state;
    setenv("TZ", "UTC", 1);
    tzset();
    return 0;
}

static void plain_lines_are_exact(void **state) {
    (void)state;
    char out[512];
    TailStyle st = {0, 0};
    const char *neg = SCORED("no", "negative", "0.3"), *pos = SCORED("yes", "positive", "0.7");
    int label = 9;
    tail_format_scored(&st, neg, strlen(neg), out, sizeof out, &label);
    assert_int_equal(label, 0);
    tail_format_scored(&st, pos, strlen(pos), out, sizeof out, &label);
    assert_int_equal(label, 1);
    size_t n =
        fmt_scored(0, 0, SCORED("@AirParadis lost my bag in CDG again", "negative", "0.07"), out, sizeof out);
    assert_string_equal(out, "12:34:56  NEG [#.........] 0.07  @AirParadis lost my bag in CDG again\n");
    assert_int_equal(n, strlen(out));
    fmt_scored(0, 0, SCORED("Smooth flight, thanks crew!", "positive", "0.962"), out, sizeof out);
    assert_string_equal(out, "12:34:56  POS [##########] 0.96  Smooth flight, thanks crew!\n");
    fmt_scored(0, 0, SCORED("meh", "positive", "0.55"), out, sizeof out);
    assert_string_equal(out, "12:34:56  POS [######....] 0.55  meh\n");
}

static void colours_mark_the_label(void **state) {
    (void)state;
    char out[512];
    fmt_scored(1, 0, SCORED("cancelled again", "negative", "0.02"), out, sizeof out);
    assert_non_null(strstr(out, "\033[1;31mNEG"));
    assert_non_null(strstr(out, "\xe2\x96\x91")); /* the empty part of the bar */
    assert_null(strstr(out, "[#"));
    fmt_scored(1, 0, SCORED("lovely crew", "positive", "0.91"), out, sizeof out);
    assert_non_null(strstr(out, "\033[1;32mPOS"));
    assert_true(strlen(out) > 0 && out[strlen(out) - 1] == '\n');
}

static void text_is_cut_to_the_terminal_width(void **state) {
    (void)state;
    const char *json = SCORED("Day 3 without my suitcase \xf0\x9f\x98\xa1\xf0\x9f\x98\xa1 @AirParadis "
                              "nobody answers the phone, nobody answers DMs, this is the worst airline ever",
                              "negative", "0.01");
    char out[1024];
    for (int color = 0; color <= 1; color++)
        for (int width = 45; width <= 125; width += 7) { /* from 41 columns the text has >= 8 */
            fmt_scored(color, width, json, out, sizeof out);
            int cols = display_cols(out);
            assert_true(cols <= width);
            assert_true(cols >= width - 2); /* a wide emoji may leave one column */
            assert_non_null(strstr(out, color ? "\xe2\x80\xa6\n" : "...\n")); /* not the bar's dots */
        }
    fmt_scored(0, 200, json, out, sizeof out); /* room enough: whole text, no ellipsis */
    assert_null(strstr(out, "...\n"));
    assert_non_null(strstr(out, "worst airline ever\n"));
}

static void tweet_text_cannot_drive_the_terminal(void **state) {
    (void)state;
    char out[512];
    /* newline, tab, ESC [2J (clear screen), a C1 CSI, DEL, bad UTF-8 */
    fmt_scored(0, 0, SCORED("line1\\nline2\\t\\u001b[2J\\u009b31m\\u007fok \xff end", "negative", "0.2"), out,
               sizeof out);
    for (const unsigned char *p = (const unsigned char *)out; *p; p++)
        if (*p != '\n') assert_true(*p >= 0x20 && *p != 0x7f);
    assert_null(strstr(out, "\xc2\x9b"));
    assert_non_null(strstr(out, "line1 line2 [2J 31m ok \xef\xbf\xbd end\n"));
}

static void clip_counts_columns_not_bytes(void **state) {
    (void)state;
    char out[128];
    assert_int_equal(tail_clip_text("h\xc3\xa9llo", 6, 0, 0, out, sizeof out), 5);     /* é: 1 column */
    assert_int_equal(tail_clip_text("\xf0\x9f\x98\x80", 4, 0, 0, out, sizeof out), 2); /* 😀: 2 */
    assert_int_equal(tail_clip_text("e\xcc\x81", 3, 0, 0, out, sizeof out), 1); /* e + combining acute */
    assert_int_equal(tail_clip_text("\xe6\x97\xa5\xe6\x9c\xac", 6, 0, 0, out, sizeof out), 4); /* 日本 */
    assert_int_equal(tail_clip_text("abcdefghij", 10, 5, 0, out, sizeof out), 5);
    assert_string_equal(out, "abcd\xe2\x80\xa6");
    assert_int_equal(tail_clip_text("abcdefghij", 10, 10, 1, out, sizeof out), 10); /* fits exactly */
    assert_string_equal(out, "abcdefghij");
    assert_int_equal(tail_clip_text("  spaced \n\n out  ", 17, 0, 1, out, sizeof out), 10);
    assert_string_equal(out, "spaced out");
}

static void alerts_are_banners(void **state) {
    (void)state;
    const char *json =
        "{\"type\":\"negative_surge\",\"severity\":\"critical\",\"message\":\"Negative tweets at "
        "71% over 5 min (baseline 18%): #lostluggage @AirParadis\",\"window_s\":300,\"value\":0.71,"
        "\"threshold\":0.4,\"examples\":[\"1\",\"2\",\"3\"],\"model_version\":\"v1\","
        "\"at\":\"2026-03-14T13:02:11+01:00\"}";
    char out[1024];
    TailStyle plain = {0, 0};
    tail_format_alert(&plain, json, strlen(json), out, sizeof out, NULL);
    assert_string_equal(out, " *** ALERT  negative_surge  critical  12:02:11 ***\n"
                             "    Negative tweets at 71% over 5 min (baseline 18%): #lostluggage @AirParadis"
                             " (value 0.71, threshold 0.4, window 300 s, 3 examples)\n");
    TailStyle color = {1, 80};
    tail_format_alert(&color, json, strlen(json), out, sizeof out, NULL);
    assert_memory_equal(out, "\033[1;97;41m", 10); /* white on red for critical */
    char *second = strchr(out, '\n') + 1;
    assert_int_equal(display_cols(out), 80); /* the banner spans the terminal */
    assert_true(display_cols(second) <= 80);
    const char *warn = "{\"type\":\"prediction_skew\",\"severity\":\"warning\",\"message\":\"84% negative\"}";
    tail_format_alert(&color, warn, strlen(warn), out, sizeof out, NULL);
    assert_memory_equal(out, "\033[1;30;43m", 10);
}

static void unreadable_messages_are_shown_not_fatal(void **state) {
    (void)state;
    char out[256];
    const char *bad[] = {"not json", "{\"text\":\"no label\"}", SCORED("x", "neutral", "0.5"),
                         SCORED("x", "negative", "7")};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fmt_scored(0, 80, bad[i], out, sizeof out);
        assert_non_null(strstr(out, "unreadable scored event"));
    }
    TailStyle st = {0, 80};
    int ok = 1, label = 1;
    tail_format_alert(&st, "[]", 2, out, sizeof out, &ok);
    assert_non_null(strstr(out, "unreadable alert (2 bytes)"));
    assert_int_equal(ok, 0);
    tail_format_scored(&st, "{", 1, out, sizeof out, &label);
    assert_int_equal(label, -1);
    char tiny[64]; /* a small buffer still ends with a newline */
    size_t n = fmt_scored(
        0, 0, SCORED("a long text that does not fit in sixty-four bytes at all", "negative", "0.1"), tiny,
        sizeof tiny);
    assert_int_equal(n, strlen(tiny));
    assert_true(n < sizeof tiny && tiny[n - 1] == '\n');
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_lines_are_exact),
        cmocka_unit_test(colours_mark_the_label),
        cmocka_unit_test(text_is_cut_to_the_terminal_width),
        cmocka_unit_test(tweet_text_cannot_drive_the_terminal),
        cmocka_unit_test(clip_counts_columns_not_bytes),
        cmocka_unit_test(alerts_are_banners),
        cmocka_unit_test(unreadable_messages_are_shown_not_fatal),
    };
    return cmocka_run_group_tests(tests, setup_utc, NULL);
}
