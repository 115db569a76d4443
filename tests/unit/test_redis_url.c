/* test_redis_url.c — the Redis URL forms the worker accepts (redis_url_parse) and
 * their password-free display form. Refused URLs are covered, with their messages, by
 * tests/integration/test_redis_store.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "worker/redis_conn.h"

static RedisUrl parse_ok(const char *url) {
    RedisUrl u;
    char err[256] = "";
    if (redis_url_parse(url, &u, err, sizeof err) != 0) fail_msg("'%s' refused: %s", url, err);
    return u;
}

static void tcp_forms(void **state) {
    (void)state;
    RedisUrl u = parse_ok("redis://cache.internal:6380/2");
    assert_int_equal(u.kind, REDIS_URL_TCP);
    assert_string_equal(u.host, "cache.internal");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 2);
    assert_string_equal(u.password, "");

    u = parse_ok("redis://localhost");
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);

    u = parse_ok("redis://10.0.0.7/");
    assert_string_equal(u.host, "10.0.0.7");
    assert_int_equal(u.db, 0);

    u = parse_ok("redis://[::1]:7000/15");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 15);

    u = parse_ok("redis://worker:p@ss:w0rd@redis:6379/1"); /* the last '@' ends the credentials */
    assert_string_equal(u.user, "worker");
    assert_string_equal(u.password, "p@ss:w0rd");
    assert_string_equal(u.host, "redis");

    u = parse_ok("redis://:secret@redis");
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "secret");
}

static void unix_forms(void **state) {
    (void)state;
    RedisUrl u = parse_ok("unix:///run/redis/redis.sock");
    assert_int_equal(u.kind, REDIS_URL_UNIX);
    assert_string_equal(u.path, "/run/redis/redis.sock");
    assert_int_equal(u.db, 0);

    u = parse_ok("unix:///tmp/r.sock?db=4");
    assert_string_equal(u.path, "/tmp/r.sock");
    assert_int_equal(u.db, 4);

    u = parse_ok("unix://:pw@/tmp/r.sock");
    assert_string_equal(u.password, "pw");
    assert_string_equal(u.path, "/tmp/r.sock");

    char longpath[200] = "unix:///";
    memset(longpath + 8, 'x', 150);
    longpath[158] = '\0';
    RedisUrl v;
    char err[256];
    assert_int_equal(redis_url_parse(longpath, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer than 107"));
}

static void display_hides_the_password(void **state) {
    (void)state;
    char buf[512];
    RedisUrl u = parse_ok("redis://app:hunter2@redis:6379/3");
    assert_string_equal(redis_url_display(&u, buf, sizeof buf), "redis://***@redis:6379/3");
    u = parse_ok("redis://[::1]:7000");
    assert_string_equal(redis_url_display(&u, buf, sizeof buf), "redis://[::1]:7000/0");
    u = parse_ok("unix:///tmp/r.sock?db=2");
    assert_string_equal(redis_url_display(&u, buf, sizeof buf), "unix:///tmp/r.sock?db=2");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tcp_forms),
        cmocka_unit_test(unix_forms),
        cmocka_unit_test(display_hides_the_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
