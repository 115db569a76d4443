/* test_smoke_redis.c — a real redis-server (started by the harness) through hiredis
 * 0.14: a sliding-window Lua script run by SHA like the worker's windows, what RESP2
 * does to Lua values (numbers truncated to integers, false to nil), and pipelining. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness/harness.h"

/* Adds a member at `now` (ms), drops members older than the window, and returns
 * {count, share of the window's capacity as a string, the same share as a number}. */
static const char window_script[] = "local now = tonumber(ARGV[1])\n"
                                    "local window = tonumber(ARGV[2])\n"
                                    "redis.call('ZADD', KEYS[1], now, ARGV[3])\n"
                                    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)\n"
                                    "redis.call('PEXPIRE', KEYS[1], window)\n"
                                    "local n = redis.call('ZCARD', KEYS[1])\n"
                                    "return {n, tostring(n / 4), n / 4}\n";

typedef struct {
    HarnessRedis server;
    redisContext *c;
} RedisFixture;

static int redis_setup(void **state) {
    RedisFixture *f = calloc(1, sizeof *f);
    if (!f || harness_redis_start(&f->server) != 0) {
        free(f);
        return -1;
    }
    f->c = harness_redis_connect(&f->server);
    if (!f->c) {
        harness_redis_stop(&f->server);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int redis_teardown(void **state) {
    RedisFixture *f = *state;
    redisFree(f->c);
    int rc = harness_redis_stop(&f->server);
    free(f);
    return rc;
}

static redisReply *command(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r) fail_msg("redis: %s", c->errstr);
    if (r->type == REDIS_REPLY_ERROR) fail_msg("redis error: %s", r->str);
    return r;
}

static void lua_sliding_window_by_sha(void **state) {
    RedisFixture *f = *state;
    redisReply *r = command(f->c, "SCRIPT LOAD %s", window_script);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_int_equal(r->len, 40);
    char sha[41];
    memcpy(sha, r->str, 41);
    freeReplyObject(r);

    /* Members every second; a 2.5 s window holds at most 3 of them. */
    const long long expect_count[] = {1, 2, 3, 3, 3};
    const char *expect_share[] = {"0.25", "0.5", "0.75", "0.75", "0.75"};
    for (int i = 0; i < 5; i++) {
        char member[16], now[24];
        snprintf(member, sizeof member, "tweet-%d", i);
        snprintf(now, sizeof now, "%d", 1000 * (i + 1));
        r = command(f->c, "EVALSHA %s 1 %s %s %s %s", sha, "bz:win:{smoke}", now, "2500", member);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_int_equal(r->elements, 3);
        assert_int_equal(r->element[0]->type, REDIS_REPLY_INTEGER);
        assert_int_equal(r->element[0]->integer, expect_count[i]);
        assert_int_equal(r->element[1]->type, REDIS_REPLY_STRING);
        assert_string_equal(r->element[1]->str, expect_share[i]);
        /* A Lua number reaches the client truncated to an integer (0.75 -> 0). */
        assert_int_equal(r->element[2]->type, REDIS_REPLY_INTEGER);
        assert_int_equal(r->element[2]->integer, 0);
        freeReplyObject(r);
    }
    r = command(f->c, "ZRANGE %s 0 -1", "bz:win:{smoke}");
    assert_int_equal(r->elements, 3);
    assert_string_equal(r->element[0]->str, "tweet-2");
    assert_string_equal(r->element[2]->str, "tweet-4");
    freeReplyObject(r);
    r = command(f->c, "PTTL %s", "bz:win:{smoke}");
    assert_true(r->integer > 0 && r->integer <= 2500);
    freeReplyObject(r);
}

static void lua_false_is_nil_and_errors_are_replies(void **state) {
    RedisFixture *f = *state;
    redisReply *r = command(f->c, "EVAL %s 0", "return false");
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    r = command(f->c, "EVAL %s 0", "return 7.9");
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 7);
    freeReplyObject(r);
    r = redisCommand(f->c, "EVAL %s 0", "return redis.call('INCR', 'bz:notanumber:{x}', 'extra')");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    /* The connection is still usable after an error reply. */
    r = command(f->c, "PING");
    assert_string_equal(r->str, "PONG");
    freeReplyObject(r);
}

static void pipelined_zadd_then_count(void **state) {
    RedisFixture *f = *state;
    const int n = 500;
    for (int i = 0; i < n; i++)
        assert_int_equal(redisAppendCommand(f->c, "ZADD bz:win:{pipe} %d id-%d", i, i), REDIS_OK);
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        assert_int_equal(redisGetReply(f->c, (void **)&r), REDIS_OK);
        assert_int_equal(r->type, REDIS_REPLY_INTEGER);
        assert_int_equal(r->integer, 1);
        freeReplyObject(r);
    }
    redisReply *r = command(f->c, "ZCOUNT bz:win:{pipe} 100 199");
    assert_int_equal(r->integer, 100);
    freeReplyObject(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lua_sliding_window_by_sha),
        cmocka_unit_test(lua_false_is_nil_and_errors_are_replies),
        cmocka_unit_test(pipelined_zadd_then_count),
    };
    if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER")); /* e.g. "*group*" */
    return cmocka_run_group_tests(tests, redis_setup, redis_teardown);
}
