/* test_http_parts.c — the pieces of the HTTP server that need no socket: the in-place
 * JSON reader and escaping (worker/http_json.h), the fallback rate limiter
 * (worker/http_ratelimit.h) and listen-address parsing. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/util.h"
#include "worker/http.h"
#include "worker/http_json.h"
#include "worker/http_ratelimit.h"

/* Parses text (copied: the reader writes into its buffer) for "text" and "texts". */
typedef struct {
    char buf[4096];
    char *one;
    size_t onelen;
    char *many[8];
    size_t manylen[8];
    HttpJsonField f[2];
    char err[200];
} Parsed;

static int parse(Parsed *p, const char *text, size_t len) {
    memset(p, 0, sizeof *p);
    assert_true(len < sizeof p->buf);
    memcpy(p->buf, text, len);
    HttpJsonField f[2] = {
        {"text", HTTP_JSON_STRING, 1, &p->one, &p->onelen, 0, 0},
        {"texts", HTTP_JSON_STRINGS, 8, p->many, p->manylen, 0, 0},
    };
    memcpy(p->f, f, sizeof f);
    return http_json_read_object(p->buf, len, p->f, 2, p->err, sizeof p->err);
}

static int parse_str(Parsed *p, const char *text) { return parse(p, text, strlen(text)); }

static void json_reads_fields_and_decodes_in_place(void **state) {
    (void)state;
    Parsed p;
    assert_int_equal(parse_str(&p, " {\"text\" : \"I \\\"love\\\" it\\n\"} \r\n"), HTTP_JSON_OK);
    assert_true(p.f[0].present && !p.f[1].present);
    assert_string_equal(p.one, "I \"love\" it\n");
    assert_int_equal(p.onelen, 12);

    assert_int_equal(parse_str(&p,
                               "{\"texts\":[\"a\",\"caf\\u00e9\",\"\\ud83d\\ude00 \\/ \\b\\f\\r\\t\\\\\"],"
                               "\"other\":{\"x\":[1,-2.5e+3,true,false,null,{\"y\":\"z\"}]},\"n\":0}"),
                     HTTP_JSON_OK);
    assert_int_equal(p.f[1].n, 3);
    assert_string_equal(p.many[0], "a");
    assert_string_equal(p.many[1], "caf\xc3\xa9");
    assert_string_equal(p.many[2], "\xf0\x9f\x98\x80 / \b\f\r\t\\");

    /* \u0000 is legal: the length tells. Raw UTF-8 passes through. */
    assert_int_equal(parse_str(&p, "{\"text\":\"a\\u0000b \xe2\x82\xac\"}"), HTTP_JSON_OK);
    assert_int_equal(p.onelen, 7);
    assert_memory_equal(p.one, "a\0b \xe2\x82\xac", 7);

    assert_int_equal(parse_str(&p, "{}"), HTTP_JSON_OK);
    assert_false(p.f[0].present || p.f[1].present);
    assert_int_equal(parse_str(&p, "{\"texts\":[]}"), HTTP_JSON_OK);
    assert_true(p.f[1].present);
    assert_int_equal(p.f[1].n, 0);
    /* A key is matched whole, and with its escapes resolved. */
    assert_int_equal(parse_str(&p, "{\"textx\":1,\"te\\u0078t\":\"k\"}"), HTTP_JSON_OK);
    assert_string_equal(p.one, "k");
}

static void json_rejects_malformed_bodies(void **state) {
    (void)state;
    static const char *const bad[] = {
        "",
        "   ",
        "[]",
        "\"text\"",
        "{",
        "{\"text\"}",
        "{\"text\":}",
        "{\"text\":\"a\",}",
        "{\"text\":\"a\"} x",
        "{\"text\":\"a\"}{}",
        "{text:\"a\"}",
        "{'text':'a'}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":-}",
        "{\"a\":.5}",
        "{\"a\":1e}",
        "{\"a\":+1}",
        "{\"a\":tru}",
        "{\"a\":nul}",
        "{\"a\":[1,]}",
        "{\"a\":[1 2]}",
        "{\"a\":{\"b\" 1}}",
        "{\"text\":\"a\tb\"}",
        "{\"text\":\"\\x\"}",
        "{\"text\":\"\\u12\"}",
        "{\"text\":\"\\u12g4\"}",
        "{\"text\":\"\\ud83d\"}",
        "{\"text\":\"\\ud83d\\u0041\"}",
        "{\"text\":\"\\ude00\"}",
        "{\"text\":\"\xc3(\"}",
        "{\"text\":\"\xc0\xaf\"}",
        "{\"text\":\"\xed\xa0\x80\"}",
        "{\"text\":\"\xf4\x90\x80\x80\"}",
        "{\"text\":\"abc",
        "{\"text\":\"a\",\"text\":\"b\"}",
        "{\"text\":5}",
        "{\"text\":[\"a\"]}",
        "{\"texts\":\"a\"}",
        "{\"texts\":[\"a\",1]}",
        "{\"texts\":[\"a\",{]}",
    };
    Parsed p;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse_str(&p, bad[i]) != HTTP_JSON_INVALID) fail_msg("accepted: %s", bad[i]);
        assert_true(strlen(p.err) > 0);
    }
    assert_int_equal(parse_str(&p, "{\"text\":5}"), HTTP_JSON_INVALID);
    assert_string_equal(p.err, "'text' must be a string");
    assert_int_equal(parse_str(&p, "{\"a\":1,}"), HTTP_JSON_INVALID);
    assert_string_equal(p.err, "invalid JSON at byte 7: expected a string key");

    /* Nesting: deep enough is fine, deeper is an error, never a stack overflow. */
    char deep[200];
    int d = HTTP_JSON_MAX_DEPTH + 5, n = 0;
    n += sprintf(deep + n, "{\"a\":");
    for (int i = 0; i < d; i++) deep[n++] = '[';
    for (int i = 0; i < d; i++) deep[n++] = ']';
    deep[n++] = '}';
    assert_int_equal(parse(&p, deep, (size_t)n), HTTP_JSON_INVALID);
    assert_non_null(strstr(p.err, "nesting"));
    n = sprintf(deep, "{\"a\":[[[[[[[[]]]]]]]]}");
    assert_int_equal(parse(&p, deep, (size_t)n), HTTP_JSON_OK);
}

static void json_counts_too_many_texts(void **state) {
    (void)state;
    Parsed p;
    assert_int_equal(parse_str(&p, "{\"texts\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\"]}"),
                     HTTP_JSON_OK);
    assert_int_equal(p.f[1].n, 8);
    assert_int_equal(parse_str(&p, "{\"texts\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}"),
                     HTTP_JSON_TOO_MANY);
    assert_string_equal(p.err, "'texts' has more than 8 entries");
}

/* Every prefix of a valid document is invalid, and reading it stays in bounds (the
 * prefix is copied into an exact-size heap buffer so ASan sees any overrun). */
static void json_every_truncation_is_rejected(void **state) {
    (void)state;
    const char *doc = "{\"texts\":[\"caf\\u00e9 \\ud83d\\ude00\",\"x\"],\"o\":{\"k\":[1.5e-3,true,null]},"
                      "\"text2\":\"\xe2\x82\xac\"}";
    size_t len = strlen(doc);
    char *one[1] = {NULL}, *many[8] = {NULL};
    size_t onelen[1] = {0}, manylen[8] = {0};
    char err[200];
    for (size_t n = 0; n <= len; n++) {
        char *buf = malloc(n ? n : 1);
        memcpy(buf, doc, n);
        HttpJsonField f[2] = {{"text", HTTP_JSON_STRING, 1, one, onelen, 0, 0},
                              {"texts", HTTP_JSON_STRINGS, 8, many, manylen, 0, 0}};
        int rc = http_json_read_object(buf, n, f, 2, err, sizeof err);
        if (n < len)
            assert_int_equal(rc, HTTP_JSON_INVALID);
        else
            assert_int_equal(rc, HTTP_JSON_OK);
        free(buf);
    }
}

static void json_escape_round_trips(void **state) {
    (void)state;
    const char raw[] = "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f caf\xc3\xa9 \xf0\x9f\x98\x80";
    size_t n = sizeof raw - 1;
    char esc[256];
    size_t elen = http_json_escaped_len(raw, n);
    assert_int_equal(http_json_escape(raw, n, esc), elen);
    esc[elen] = '\0';
    assert_string_equal(esc, "q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f caf\xc3\xa9 \xf0\x9f\x98\x80");

    /* Random bytes below 0x80 plus fixed UTF-8: escape, wrap, read back, compare. */
    Rng r;
    rng_seed(&r, 11);
    for (int round = 0; round < 200; round++) {
        char s[64];
        size_t sn = rng_below(&r, 40);
        for (size_t i = 0; i < sn; i++) s[i] = (char)rng_below(&r, 0x80);
        char doc[600];
        size_t dn = (size_t)sprintf(doc, "{\"text\":\"");
        dn += http_json_escape(s, sn, doc + dn);
        dn += (size_t)sprintf(doc + dn, "\"}");
        Parsed p;
        assert_int_equal(parse(&p, doc, dn), HTTP_JSON_OK);
        assert_int_equal(p.onelen, sn);
        assert_memory_equal(p.one, s, sn);
    }
}

static void ratelimit_fixed_window_per_ip(void **state) {
    (void)state;
    HttpRateLimiter *l = http_ratelimit_new(64);
    const int64_t t0 = 1764050400000LL; /* a minute boundary */
    int retry = -1;
    for (int i = 0; i < 100; i++) assert_true(http_ratelimit_check(l, "10.0.0.1", t0 + i * 10, 100, &retry));
    assert_int_equal(retry, -1);
    assert_false(http_ratelimit_check(l, "10.0.0.1", t0 + 20500, 100, &retry));
    assert_int_equal(retry, 40); /* 39.5 s left, rounded up */
    assert_false(http_ratelimit_check(l, "10.0.0.1", t0 + 59999, 100, &retry));
    assert_int_equal(retry, 1);
    /* Another address has its own count; the next minute starts afresh. */
    assert_true(http_ratelimit_check(l, "10.0.0.2", t0 + 30000, 100, &retry));
    assert_true(http_ratelimit_check(l, "10.0.0.1", t0 + 60000, 100, &retry));
    assert_true(http_ratelimit_check(l, "::1", t0, 1, &retry));
    assert_false(http_ratelimit_check(l, "::1", t0, 1, &retry));
    assert_false(http_ratelimit_check(l, "anything", t0, 0, &retry)); /* limit 0 admits nothing */
    assert_int_equal(http_ratelimit_retry_after(t0), 60);
    assert_int_equal(http_ratelimit_retry_after(t0 + 1), 60);
    assert_int_equal(http_ratelimit_retry_after(t0 + 59001), 1);
    http_ratelimit_free(l);
}

static void ratelimit_table_stays_bounded(void **state) {
    (void)state;
    HttpRateLimiter *l = http_ratelimit_new(16);
    const int64_t t0 = 1764050400000LL;
    int retry;
    /* A heavy user is limited; then a flood of new addresses: each first request of a
     * new address is admitted (the table never blocks a newcomer). */
    for (int i = 0; i < 5; i++) http_ratelimit_check(l, "heavy", t0, 5, &retry);
    assert_false(http_ratelimit_check(l, "heavy", t0, 5, &retry));
    char ip[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(ip, sizeof ip, "192.168.%d.%d", i / 256, i % 256);
        assert_true(http_ratelimit_check(l, ip, t0 + 1, 5, &retry));
    }
    http_ratelimit_free(l);
}

typedef struct {
    HttpRateLimiter *l;
    int allowed;
} RlThread;

static void *rl_worker(void *arg) {
    RlThread *t = arg;
    int retry;
    for (int i = 0; i < 3000; i++)
        t->allowed += http_ratelimit_check(t->l, "10.1.1.1", 1764050400000LL, 5000, &retry);
    return NULL;
}

static void ratelimit_counts_exactly_across_threads(void **state) {
    (void)state;
    HttpRateLimiter *l = http_ratelimit_new(64);
    RlThread t[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (RlThread){l, 0};
        assert_int_equal(pthread_create(&th[i], NULL, rl_worker, &t[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += t[i].allowed;
    }
    assert_int_equal(total, 5000); /* 12000 requests, exactly the limit admitted */
    http_ratelimit_free(l);
}

static void listen_addresses_parse(void **state) {
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    char err[200];
    assert_int_equal(http_parse_listen("127.0.0.1:8080", &ss, &len, err, sizeof err), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)&ss;
    assert_int_equal(ntohs(in4->sin_port), 8080);
    assert_int_equal(ntohl(in4->sin_addr.s_addr), 0x7f000001);
    assert_int_equal(http_parse_listen("0.0.0.0:0", &ss, &len, err, sizeof err), 0);
    assert_int_equal(http_parse_listen(":9000", &ss, &len, err, sizeof err), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(http_parse_listen("[::1]:65535", &ss, &len, err, sizeof err), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port), 65535);
    static const char *const bad[] = {"",          "8080",   "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
                                      "1.2.3.4:x", "::1:80", "[::1]80",   "[::1:80",    "1.2.3.4:123456",
                                      "1.2.3.4:-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (http_parse_listen(bad[i], &ss, &len, err, sizeof err) == 0) fail_msg("accepted '%s'", bad[i]);
        assert_true(strlen(err) > 0);
    }
    assert_int_equal(http_parse_listen(NULL, &ss, &len, err, sizeof err), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_reads_fields_and_decodes_in_place),
        cmocka_unit_test(json_rejects_malformed_bodies),
        cmocka_unit_test(json_counts_too_many_texts),
        cmocka_unit_test(json_every_truncation_is_rejected),
        cmocka_unit_test(json_escape_round_trips),
        cmocka_unit_test(ratelimit_fixed_window_per_ip),
        cmocka_unit_test(ratelimit_table_stays_bounded),
        cmocka_unit_test(ratelimit_counts_exactly_across_threads),
        cmocka_unit_test(listen_addresses_parse),
    };
    return cmocka_run_group_tests_name("http_parts", tests, NULL, NULL);
}
