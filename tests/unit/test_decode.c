/* test_decode.c — raw tweet decoding: every accepted shape, every reason code, and
 * the UTF-8 rules (repair of the text, refusal of the id). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consumers/tweet.h"
#include "model/utf8.h"

#define MAX_BYTES 4096

static char buf[3 * 70000 + 256];

/* Decodes a NUL-terminated payload. */
static TweetStatus dec(const char *json, Tweet *t) {
    return tweet_decode(json, strlen(json), MAX_BYTES, t, buf, sizeof buf);
}

static void plain_shape(void **state) {
    (void)state;
    Tweet t;
    assert_int_equal(dec("{\"id\":\"1001\",\"text\":\"Flight delayed again\",\"lang\":\"en\","
                         "\"created_at\":\"2026-11-25T06:00:00Z\",\"author_id\":\"7\"}",
                         &t),
                     TWEET_OK);
    assert_string_equal(t.id, "1001");
    assert_int_equal(t.id_len, 4);
    assert_string_equal(t.text, "Flight delayed again");
    assert_int_equal(t.text_len, 20);
    assert_int_equal(t.repaired, 0);
}

static void twitter_v2_envelope(void **state) {
    (void)state;
    Tweet t;
    assert_int_equal(dec(" {\"data\":{\"id\":\"1460323737035677698\",\"text\":\"Love the crew\","
                         "\"edit_history_tweet_ids\":[\"1460323737035677698\"]},"
                         "\"includes\":{\"users\":[{\"id\":\"2244994945\"}]}}\n",
                         &t),
                     TWEET_OK);
    assert_string_equal(t.id, "1460323737035677698");
    assert_string_equal(t.text, "Love the crew");
    /* long posts carry the whole text in note_tweet */
    assert_int_equal(dec("{\"data\":{\"id\":\"5\",\"text\":\"Truncated…\",\"note_tweet\":{\"text\":\"The "
                         "whole long post\"}}}",
                         &t),
                     TWEET_OK);
    assert_string_equal(t.text, "The whole long post");
}

static void twitter_v11_shapes(void **state) {
    (void)state;
    Tweet t;
    /* id_str wins over the numeric id, which is not exact beyond 2^53 */
    assert_int_equal(dec("{\"id\":1460323737035677698,\"id_str\":\"1460323737035677698\","
                         "\"full_text\":\"Full text here\",\"text\":\"short\"}",
                         &t),
                     TWEET_OK);
    assert_string_equal(t.id, "1460323737035677698");
    assert_string_equal(t.text, "Full text here");
    /* streaming API: the full text of a long tweet is in extended_tweet */
    assert_int_equal(dec("{\"id_str\":\"9\",\"text\":\"cut…\",\"truncated\":true,"
                         "\"extended_tweet\":{\"full_text\":\"not cut at all\"}}",
                         &t),
                     TWEET_OK);
    assert_string_equal(t.text, "not cut at all");
    /* a small numeric id is exact */
    assert_int_equal(dec("{\"id\":42,\"text\":\"ok\"}", &t), TWEET_OK);
    assert_string_equal(t.id, "42");
    assert_int_equal(t.id_len, 2);
}

static void escapes_and_bom(void **state) {
    (void)state;
    Tweet t;
    assert_int_equal(dec("{\"id\":\"a\\\"b\",\"text\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\"\\n\"}", &t),
                     TWEET_OK);
    assert_string_equal(t.id, "a\"b");
    assert_string_equal(t.text, "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\"\n");
    assert_int_equal(dec("\xef\xbb\xbf{\"id\":\"1\",\"text\":\"bom\"}", &t), TWEET_OK);
    assert_string_equal(t.text, "bom");
}

static void invalid_json(void **state) {
    (void)state;
    Tweet t;
    const char *bad[] = {"",
                         "   ",
                         "{",
                         "not json",
                         "{\"id\":\"1\",\"text\":\"x\"",
                         "[1,2]",
                         "\"a string\"",
                         "42",
                         "{\"id\":\"1\",\"text\":\"x\"} trailing",
                         "{\"id\":\"1\" \"text\":\"x\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        TweetStatus st = dec(bad[i], &t);
        if (st != TWEET_INVALID_JSON) fail_msg("'%s' gave %s", bad[i], tweet_reason(st));
    }
    assert_int_equal(tweet_decode(NULL, 0, MAX_BYTES, &t, buf, sizeof buf), TWEET_INVALID_JSON);
    assert_string_equal(tweet_reason(TWEET_INVALID_JSON), "invalid_json");
}

static void missing_id(void **state) {
    (void)state;
    Tweet t;
    const char *bad[] = {"{\"text\":\"x\"}",
                         "{\"id\":null,\"text\":\"x\"}",
                         "{\"id\":\"\",\"text\":\"x\"}",
                         "{\"id\":true,\"text\":\"x\"}",
                         "{\"id\":1.5,\"text\":\"x\"}",
                         "{\"id\":-3,\"text\":\"x\"}",
                         "{\"id\":1460323737035677698,\"text\":\"x\"}", /* > 2^53: not exact */
                         "{\"data\":[{\"id\":\"1\",\"text\":\"x\"}]}",
                         "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        TweetStatus st = dec(bad[i], &t);
        if (st != TWEET_MISSING_ID) fail_msg("'%s' gave %s", bad[i], tweet_reason(st));
    }
    assert_string_equal(tweet_reason(TWEET_MISSING_ID), "missing_id");
}

static void missing_and_empty_text(void **state) {
    (void)state;
    Tweet t;
    assert_int_equal(dec("{\"id\":\"1\"}", &t), TWEET_MISSING_TEXT);
    assert_int_equal(dec("{\"id\":\"1\",\"text\":null}", &t), TWEET_MISSING_TEXT);
    assert_int_equal(dec("{\"id\":\"1\",\"text\":12}", &t), TWEET_MISSING_TEXT);
    assert_int_equal(dec("{\"id\":\"1\",\"text\":[\"a\"]}", &t), TWEET_MISSING_TEXT);
    assert_int_equal(dec("{\"data\":{\"id\":\"1\"},\"text\":\"outside the envelope\"}", &t),
                     TWEET_MISSING_TEXT);
    assert_int_equal(dec("{\"id\":\"1\",\"text\":\"\"}", &t), TWEET_EMPTY_TEXT);
    assert_int_equal(dec("{\"id\":\"1\",\"text\":\"  \\n\\t \\r \"}", &t), TWEET_EMPTY_TEXT);
    assert_string_equal(tweet_reason(TWEET_MISSING_TEXT), "missing_text");
    assert_string_equal(tweet_reason(TWEET_EMPTY_TEXT), "empty_text");
}

static void too_large(void **state) {
    (void)state;
    Tweet t;
    static char big[MAX_BYTES + 100];
    int n = snprintf(big, sizeof big, "{\"id\":\"1\",\"text\":\"");
    memset(big + n, 'a', sizeof big - (size_t)n - 3);
    memcpy(big + sizeof big - 3, "\"}", 3);
    size_t len = strlen(big);
    assert_true(len > MAX_BYTES);
    assert_int_equal(tweet_decode(big, len, MAX_BYTES, &t, buf, sizeof buf), TWEET_TOO_LARGE);
    assert_int_equal(tweet_decode(big, len, len, &t, buf, sizeof buf), TWEET_OK); /* within a higher limit */
    assert_int_equal(t.text_len, len - (size_t)n - 2);
    char id[512];
    n = snprintf(id, sizeof id, "{\"id\":\"%0200d\",\"text\":\"x\"}", 7); /* a 200-byte id */
    assert_int_equal(dec(id, &t), TWEET_TOO_LARGE);
    /* a buffer smaller than the bound is refused, never overrun */
    assert_int_equal(tweet_decode("{\"id\":\"1\",\"text\":\"x\"}", 22, MAX_BYTES, &t, buf, 10),
                     TWEET_TOO_LARGE);
    assert_string_equal(tweet_reason(TWEET_TOO_LARGE), "too_large");
}

static void invalid_utf8_only_where_it_cannot_be_repaired(void **state) {
    (void)state;
    Tweet t;
    /* bad bytes in the text are repaired and counted */
    assert_int_equal(dec("{\"id\":\"1\",\"text\":\"bad \xff byte \xc3\"}", &t), TWEET_OK);
    assert_string_equal(t.text, "bad \xef\xbf\xbd byte \xef\xbf\xbd");
    assert_int_equal(t.repaired, 2);
    assert_true(utf8_valid(t.text, t.text_len));
    /* a surrogate's three bytes are three invalid units */
    assert_int_equal(dec("{\"id\":\"1\",\"text\":\"a\xed\xa0\x80z\"}", &t), TWEET_OK);
    assert_string_equal(t.text, "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
    assert_int_equal(t.repaired, 3);
    /* an id cannot be repaired without changing which tweet it names */
    assert_int_equal(dec("{\"id\":\"12\xff\",\"text\":\"x\"}", &t), TWEET_INVALID_UTF8);
    /* UTF-16 with and without a byte-order mark */
    static const char utf16[] = "\xff\xfe{\0\"\0i\0d\0\"\0:\0\"\0\x31\0\"\0}\0";
    assert_int_equal(tweet_decode(utf16, sizeof utf16 - 1, MAX_BYTES, &t, buf, sizeof buf),
                     TWEET_INVALID_UTF8);
    assert_int_equal(tweet_decode(utf16 + 2, sizeof utf16 - 3, MAX_BYTES, &t, buf, sizeof buf),
                     TWEET_INVALID_UTF8);
    assert_string_equal(tweet_reason(TWEET_INVALID_UTF8), "invalid_utf8");
    assert_string_equal(tweet_reason(TWEET_OK), "ok");
    assert_string_equal(tweet_reason((TweetStatus)99), "unknown");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_shape),
        cmocka_unit_test(twitter_v2_envelope),
        cmocka_unit_test(twitter_v11_shapes),
        cmocka_unit_test(escapes_and_bom),
        cmocka_unit_test(invalid_json),
        cmocka_unit_test(missing_id),
        cmocka_unit_test(missing_and_empty_text),
        cmocka_unit_test(too_large),
        cmocka_unit_test(invalid_utf8_only_where_it_cannot_be_repaired),
    };
    return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
