/* test_ratelimit_redis.c — the shared HTTP rate limiter (worker/ratelimit_redis.h)
 * against a real redis-server (started by the harness on a unix socket): two limiter
 * instances standing for two worker replicas share one budget per address and minute
 * (also under concurrent callers), the window rolls over with injected time, keys and
 * their TTL are as documented, IPv4 and IPv6 addresses have their own budgets, error
 * replies and a stopped or hung server answer HTTP_RATE_UNKNOWN within a bounded
 * time, and bad options are refused. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/util.h"
#include "tests/harness/harness.h"
#include "worker/ratelimit_redis.h"

static HarnessRedis server; /* shared by the tests that do not stop it */

/* 2025-11-25 06:00:00 UTC: a minute boundary. */
static const int64_t T0 = 1764050400000LL;

/* ---- helpers ----------------------------------------------------------------------- */

static long long raw_int(const char *fmt, ...) {
    redisContext *c = harness_redis_connect(&server);
    assert_non_null(c);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_INTEGER) fail_msg("reply type %d, want an integer", r->type);
    long long v = r->integer;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

/* GET key as a string ("" when the key does not exist), into buf. */
static const char *raw_get(const char *key, char *buf, size_t len) {
    redisContext *c = harness_redis_connect(&server);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "GET %s", key);
    assert_non_null(r);
    assert_true(r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL);
    snprintf(buf, len, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    redisFree(c);
    return buf;
}

static void raw_do(const char *fmt, ...) {
    redisContext *c = harness_redis_connect(&server);
    assert_non_null(c);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    redisFree(c);
}

static RateLimitRedis *limiter_for(const char *url) {
    RateLimitRedisOptions o;
    ratelimit_redis_options_default(&o);
    o.url = url;
    char err[256];
    RateLimitRedis *l = ratelimit_redis_new(&o, err, sizeof err);
    if (!l) fail_msg("ratelimit_redis_new: %s", err);
    return l;
}

static int group_setup(void **state) {
    (void)state;
    signal(SIGPIPE, SIG_DFL); /* the limiter must survive broken sockets by itself */
    return harness_redis_start(&server) == 0 ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    return harness_redis_stop(&server) == 0 ? 0 : -1;
}

static int flush_all(void **state) {
    (void)state;
    raw_do("FLUSHALL");
    return 0;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void two_replicas_share_one_budget(void **state) {
    (void)state;
    RateLimitRedis *a = limiter_for(server.url), *b = limiter_for(server.url);
    const int64_t now = T0 + 20500;
    for (int i = 0; i < 100; i++) {
        int retry = -1;
        HttpRateVerdict v = ratelimit_redis_check(i % 2 ? a : b, "192.0.2.7", now + i, 100, &retry);
        if (v != HTTP_RATE_ALLOW) fail_msg("request %d: verdict %d", i, v);
        assert_int_equal(retry, -1); /* untouched when allowed */
    }
    /* The 101st request, on either replica, is refused until the minute ends. */
    int retry = 0;
    assert_int_equal(ratelimit_redis_check(a, "192.0.2.7", now + 100, 100, &retry), HTTP_RATE_LIMITED);
    assert_int_equal(retry, 40);
    assert_int_equal(ratelimit_redis_check(b, "192.0.2.7", now + 101, 100, &retry), HTTP_RATE_LIMITED);
    assert_int_equal(retry, 40);

    /* One key per address and minute, counting every request, expiring a little
     * after its minute. */
    char key[128];
    assert_true(ratelimit_redis_key(a, "192.0.2.7", now, key, sizeof key) > 0);
    assert_string_equal(key, "bz:rate:192.0.2.7:29400840");
    char v[32];
    assert_string_equal(raw_get(key, v, sizeof v), "102"); /* every request counted */
    long long ttl = raw_int("PTTL %s", key);
    assert_true(ttl > 60000 && ttl <= 65000);

    /* Other addresses, IPv6 ones included, have budgets of their own. */
    assert_int_equal(ratelimit_redis_check(b, "2001:db8::1", now, 100, &retry), HTTP_RATE_ALLOW);
    assert_int_equal(ratelimit_redis_check(a, "192.0.2.8", now, 100, &retry), HTTP_RATE_ALLOW);
    assert_true(ratelimit_redis_key(a, "2001:db8::1", now, key, sizeof key) > 0);
    assert_string_equal(key, "bz:rate:2001:db8::1:29400840");
    assert_int_equal(raw_int("EXISTS %s", key), 1);

    RateLimitRedisStats sa, sb;
    ratelimit_redis_stats(a, &sa);
    ratelimit_redis_stats(b, &sb);
    assert_int_equal(sa.allowed + sb.allowed, 102);
    assert_int_equal(sa.limited + sb.limited, 2);
    assert_int_equal(sa.unavailable + sb.unavailable + sa.reply_errors + sb.reply_errors + sa.busy + sb.busy,
                     0);
    ratelimit_redis_free(a);
    ratelimit_redis_free(b);
}

static void the_window_rolls_over_each_minute(void **state) {
    (void)state;
    RateLimitRedis *a = limiter_for(server.url), *b = limiter_for(server.url);
    int retry = 0;
    for (int i = 0; i < 3; i++) assert_int_equal(ratelimit_redis_check(a, "::1", T0 + i, 3, &retry), 0);
    assert_int_equal(ratelimit_redis_check(b, "::1", T0 + 59900, 3, &retry), HTTP_RATE_LIMITED);
    assert_int_equal(retry, 1); /* 100 ms left, rounded up */
    assert_int_equal(ratelimit_redis_check(a, "::1", T0, 3, &retry), HTTP_RATE_LIMITED);
    assert_int_equal(retry, 60);
    /* The next minute starts afresh, on both replicas. */
    assert_int_equal(ratelimit_redis_check(b, "::1", T0 + 60000, 3, &retry), HTTP_RATE_ALLOW);
    assert_int_equal(ratelimit_redis_check(a, "::1", T0 + 60001, 3, &retry), HTTP_RATE_ALLOW);
    assert_int_equal(ratelimit_redis_check(a, "::1", T0 + 119999, 3, &retry), HTTP_RATE_ALLOW);
    assert_int_equal(ratelimit_redis_check(b, "::1", T0 + 119999, 3, &retry), HTTP_RATE_LIMITED);
    assert_int_equal(retry, 1);
    /* Two keys now, one per minute. */
    char k0[128], k1[128];
    ratelimit_redis_key(a, "::1", T0, k0, sizeof k0);
    ratelimit_redis_key(a, "::1", T0 + 60000, k1, sizeof k1);
    char v[32];
    assert_string_equal(raw_get(k0, v, sizeof v), "5");
    assert_string_equal(raw_get(k1, v, sizeof v), "4");
    /* A limit of 0 disables limiting without touching Redis. */
    RateLimitRedisStats before, after;
    ratelimit_redis_stats(a, &before);
    for (int i = 0; i < 5; i++) assert_int_equal(ratelimit_redis_check(a, "::1", T0, 0, &retry), 0);
    ratelimit_redis_stats(a, &after);
    assert_int_equal(after.allowed - before.allowed, 5);
    assert_int_equal(raw_int("DBSIZE"), 2);
    ratelimit_redis_free(a);
    ratelimit_redis_free(b);
}

typedef struct {
    RateLimitRedis *l;
    int allowed, limited, other;
} Caller;

static void *caller_main(void *arg) {
    Caller *c = arg;
    for (int i = 0; i < 60; i++) {
        int retry;
        HttpRateVerdict v = ratelimit_redis_check(c->l, "198.51.100.1", T0 + 1000, 100, &retry);
        c->allowed += v == HTTP_RATE_ALLOW;
        c->limited += v == HTTP_RATE_LIMITED;
        c->other += v == HTTP_RATE_UNKNOWN;
    }
    return NULL;
}

static void concurrent_callers_never_overshoot(void **state) {
    (void)state;
    /* Eight threads on two replicas (pools of 2 connections, so the threads contend
     * for them) send 480 requests in one minute: exactly 100 pass. */
    RateLimitRedisOptions o;
    ratelimit_redis_options_default(&o);
    o.url = server.url;
    o.connections = 2;
    o.lock_wait_ms = 5000; /* a loaded machine must not turn contention into UNKNOWN here */
    char err[256];
    RateLimitRedis *l[2];
    for (int i = 0; i < 2; i++) assert_non_null(l[i] = ratelimit_redis_new(&o, err, sizeof err));
    Caller c[8] = {0};
    pthread_t t[8];
    for (int i = 0; i < 8; i++) {
        c[i].l = l[i % 2];
        assert_int_equal(pthread_create(&t[i], NULL, caller_main, &c[i]), 0);
    }
    int allowed = 0, limited = 0, other = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        allowed += c[i].allowed;
        limited += c[i].limited;
        other += c[i].other;
    }
    assert_int_equal(other, 0);
    assert_int_equal(allowed, 100);
    assert_int_equal(limited, 380);
    for (int i = 0; i < 2; i++) ratelimit_redis_free(l[i]);
}

static void error_replies_answer_unknown(void **state) {
    (void)state;
    RateLimitRedis *a = limiter_for(server.url);
    char key[128];
    ratelimit_redis_key(a, "203.0.113.9", T0, key, sizeof key);
    raw_do("SET %s not-a-number", key);
    int retry = 0;
    assert_int_equal(ratelimit_redis_check(a, "203.0.113.9", T0, 100, &retry), HTTP_RATE_UNKNOWN);
    raw_do("DEL %s", key);
    raw_do("HSET %s a 1", key);
    assert_int_equal(ratelimit_redis_check(a, "203.0.113.9", T0, 100, &retry), HTTP_RATE_UNKNOWN);
    /* The connection stays usable: the next address is counted. */
    assert_int_equal(ratelimit_redis_check(a, "203.0.113.10", T0, 100, &retry), HTTP_RATE_ALLOW);
    RateLimitRedisStats s;
    ratelimit_redis_stats(a, &s);
    assert_int_equal(s.reply_errors, 2);
    assert_int_equal(s.unavailable, 0);
    assert_int_equal(s.checks, 3);
    ratelimit_redis_free(a);
}

/* Calls check n times; asserts each answers UNKNOWN within max_ms. */
static void expect_unknown_fast(RateLimitRedis *l, int n, double max_ms) {
    for (int i = 0; i < n; i++) {
        int retry = 0;
        double t = util_now_s();
        HttpRateVerdict v = ratelimit_redis_check(l, "192.0.2.1", T0, 100, &retry);
        double ms = (util_now_s() - t) * 1000.0;
        if (v != HTTP_RATE_UNKNOWN) fail_msg("call %d: verdict %d with Redis away", i, v);
        if (ms > max_ms) fail_msg("call %d took %.0f ms (bound %.0f)", i, ms, max_ms);
    }
}

static void a_stopped_or_hung_server_never_blocks(void **state) {
    (void)state;
    HarnessRedis r;
    assert_int_equal(harness_redis_start(&r), 0);
    RateLimitRedis *l = limiter_for(r.url);
    int retry = 0;
    assert_int_equal(ratelimit_redis_check(l, "192.0.2.1", T0, 100, &retry), HTTP_RATE_ALLOW);

    /* Hung (SIGSTOP): a call costs at most one command timeout (100 ms) per pooled
     * connection that was up, then the back-off answers at once. */
    assert_int_equal(kill(r.pid, SIGSTOP), 0);
    double t = util_now_s();
    expect_unknown_fast(l, 200, 100 + 400); /* one timeout, with room for a loaded machine */
    assert_true(util_now_s() - t < 4 * 0.5 + 1.0);
    assert_int_equal(kill(r.pid, SIGCONT), 0);

    /* Stopped: refused connections, UNKNOWN at once. */
    assert_int_equal(harness_redis_stop(&r), 0);
    t = util_now_s();
    expect_unknown_fast(l, 200, 400);
    assert_true(util_now_s() - t < 2.0);
    RateLimitRedisStats s;
    ratelimit_redis_stats(l, &s);
    assert_int_equal(s.checks, 401);
    assert_int_equal(s.unavailable, 400);
    ratelimit_redis_free(l);

    /* A limiter created while Redis is down starts (down) and answers UNKNOWN. */
    RateLimitRedis *late = limiter_for(r.url);
    expect_unknown_fast(late, 10, 400);
    ratelimit_redis_free(late);
}

static void bad_options_are_refused(void **state) {
    (void)state;
    RateLimitRedisOptions o;
    ratelimit_redis_options_default(&o);
    char err[256];
    assert_null(ratelimit_redis_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "no Redis URL"));
    o.url = "http://localhost:6379";
    assert_null(ratelimit_redis_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "http://localhost:6379"));
    o.url = server.url;
    o.connections = 0;
    assert_null(ratelimit_redis_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "connections"));
    o.connections = 1;
    o.ttl_ms = 30000;
    assert_null(ratelimit_redis_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "ttl_ms"));
    o.ttl_ms = 65000;
    o.key_prefix = "a-prefix-that-is-much-longer-than-sixty-four-bytes-which-is-the-limit-here";
    assert_null(ratelimit_redis_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "prefix"));
    o.key_prefix = "other:";
    RateLimitRedis *l = ratelimit_redis_new(&o, err, sizeof err);
    assert_non_null(l);
    char key[128];
    assert_int_equal(ratelimit_redis_key(l, "10.0.0.1", -1, key, sizeof key),
                     (int)strlen("other:rate:10.0.0.1:-1"));
    assert_string_equal(key, "other:rate:10.0.0.1:-1");
    assert_int_equal(ratelimit_redis_key(l, "10.0.0.1", 0, key, 8), -1);
    ratelimit_redis_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(two_replicas_share_one_budget, flush_all),
        cmocka_unit_test_setup(the_window_rolls_over_each_minute, flush_all),
        cmocka_unit_test_setup(concurrent_callers_never_overshoot, flush_all),
        cmocka_unit_test_setup(error_replies_answer_unknown, flush_all),
        cmocka_unit_test(a_stopped_or_hung_server_never_blocks),
        cmocka_unit_test(bad_options_are_refused),
    };
    return cmocka_run_group_tests_name("ratelimit_redis", tests, group_setup, group_teardown);
}
