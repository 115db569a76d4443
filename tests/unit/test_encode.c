/* test_encode.c — the JSON the worker produces: the bounded writer (escapes,
 * numbers, overflow) and the scored event of DESIGN.md, read back with cJSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "model/classifier.h"
#include "producers/json_writer.h"
#include "producers/scored_event.h"

static void strings_are_escaped(void **state) {
    (void)state;
    char buf[256];
    JsonWriter w;
    jw_init(&w, buf, sizeof buf);
    const char s[] = "a\"b\\c\nd\te\x01 caf\xc3\xa9 \xf0\x9f\x98\x80";
    jw_string(&w, s, sizeof s - 1);
    size_t n = jw_finish(&w);
    assert_int_equal(n, strlen(buf));
    assert_string_equal(buf, "\"a\\\"b\\\\c\\nd\\te\\u0001 caf\xc3\xa9 \xf0\x9f\x98\x80\"");
    cJSON *back = cJSON_Parse(buf);
    assert_non_null(back);
    assert_string_equal(back->valuestring, s);
    cJSON_Delete(back);
    /* a NUL inside the input is data, not an end */
    jw_init(&w, buf, sizeof buf);
    jw_string(&w, "x\0y", 3);
    jw_finish(&w);
    assert_string_equal(buf, "\"x\\u0000y\"");
    /* the bound holds for the worst input */
    char ctl[40];
    memset(ctl, 0x1f, sizeof ctl);
    jw_init(&w, buf, jw_string_bound(sizeof ctl) + 1);
    jw_string(&w, ctl, sizeof ctl);
    assert_int_equal(jw_finish(&w), jw_string_bound(sizeof ctl));
}

static void numbers(void **state) {
    (void)state;
    struct {
        double v;
        int decimals;
        const char *want;
    } cases[] = {
        {0.93, 6, "0.93"}, {12.0, 3, "12"},     {0.0000012, 6, "0.000001"}, {-0.0000001, 6, "0"},
        {1.5, 0, "2"},     {-2.25, 2, "-2.25"}, {1.0 / 0.0, 3, "null"},     {0.0 / 0.0, 3, "null"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        JsonWriter w;
        jw_init(&w, buf, sizeof buf);
        jw_number(&w, cases[i].v, cases[i].decimals);
        jw_finish(&w);
        if (strcmp(buf, cases[i].want)) fail_msg("case %zu: '%s' != '%s'", i, buf, cases[i].want);
    }
    char buf[32];
    JsonWriter w;
    jw_init(&w, buf, sizeof buf);
    jw_int(&w, INT64_MIN);
    jw_finish(&w);
    assert_string_equal(buf, "-9223372036854775808");
}

static void overflow_is_reported_never_overrun(void **state) {
    (void)state;
    char buf[16];
    memset(buf, 'Z', sizeof buf);
    JsonWriter w;
    jw_init(&w, buf, 8);
    jw_raw(&w, "{\"id\":");
    jw_string(&w, "long value", 10);
    assert_int_equal(jw_finish(&w), 0);
    for (int i = 8; i < 16; i++) assert_int_equal(buf[i], 'Z');
}

static ScoredEvent sample(void) {
    return (ScoredEvent){"1460323737035677698",
                         19,
                         "Lost my \"bags\" again\n#AirParadis",
                         32,
                         0.0734567f,
                         "bilstm",
                         "bilstm-20261125",
                         12,
                         3,
                         1764050400123LL,
                         1.23456,
                         "tweets.raw",
                         3,
                         1234};
}

static void scored_event_has_the_design_shape(void **state) {
    (void)state;
    ScoredEvent e = sample();
    char buf[1024];
    size_t n = scored_event_encode(&e, buf, sizeof buf);
    assert_true(n > 0 && n == strlen(buf));
    assert_true(n <= scored_event_bound(&e));
    cJSON *o = cJSON_Parse(buf);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "id")->valuestring, "1460323737035677698");
    assert_string_equal(cJSON_GetObjectItem(o, "text")->valuestring, "Lost my \"bags\" again\n#AirParadis");
    assert_string_equal(cJSON_GetObjectItem(o, "label")->valuestring, "negative");
    assert_true(cJSON_GetObjectItem(o, "p_positive")->valuedouble == classifier_round_p(0.0734567f));
    assert_string_equal(cJSON_GetObjectItem(o, "model")->valuestring, "bilstm");
    assert_string_equal(cJSON_GetObjectItem(o, "model_version")->valuestring, "bilstm-20261125");
    assert_true(cJSON_GetObjectItem(o, "oov_ratio")->valuedouble == 0.25);
    assert_int_equal(cJSON_GetObjectItem(o, "tokens")->valueint, 12);
    assert_string_equal(cJSON_GetObjectItem(o, "scored_at")->valuestring, "2025-11-25T06:00:00.123Z");
    assert_true(cJSON_GetObjectItem(o, "latency_ms")->valuedouble == 1.235);
    cJSON *src = cJSON_GetObjectItem(o, "source");
    assert_string_equal(cJSON_GetObjectItem(src, "topic")->valuestring, "tweets.raw");
    assert_int_equal(cJSON_GetObjectItem(src, "partition")->valueint, 3);
    assert_int_equal(cJSON_GetObjectItem(src, "offset")->valueint, 1234);
    assert_int_equal(cJSON_GetArraySize(o), 11); /* exactly the documented fields */
    cJSON_Delete(o);

    e.p_positive = 0.5f; /* the threshold is positive, as in predict */
    e.tokens = 0;        /* no tokens: no division by zero */
    scored_event_encode(&e, buf, sizeof buf);
    o = cJSON_Parse(buf);
    assert_string_equal(cJSON_GetObjectItem(o, "label")->valuestring, "positive");
    assert_true(cJSON_GetObjectItem(o, "oov_ratio")->valuedouble == 0.0);
    cJSON_Delete(o);
}

static void scored_event_too_small_a_buffer(void **state) {
    (void)state;
    ScoredEvent e = sample();
    char buf[64];
    assert_int_equal(scored_event_encode(&e, buf, sizeof buf), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strings_are_escaped),
        cmocka_unit_test(numbers),
        cmocka_unit_test(overflow_is_reported_never_overrun),
        cmocka_unit_test(scored_event_has_the_design_shape),
        cmocka_unit_test(scored_event_too_small_a_buffer),
    };
    return cmocka_run_group_tests_name("encode", tests, NULL, NULL);
}
