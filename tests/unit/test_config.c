/* test_config.c — `buzzradar run` configuration: defaults, environment, flags (in
 * that order of precedence), -X pass-through to librdkafka, monitor settings
 * (--monitor, BUZZRADAR_MONITOR), and usage errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "worker/config.h"

#define ARGV(...) ((char *[]){"run", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"run", __VA_ARGS__}) / sizeof(char *)))

/* Parses argv/envp, expecting `want`; returns the error text in err. */
static int parse(WorkerConfig *c, int argc, char **argv, char *const *envp, char *err) {
    err[0] = '\0';
    return config_parse(c, argc, argv, envp, err, 256);
}

static void defaults(void **state) {
    (void)state;
    WorkerConfig c;
    char err[256];
    assert_int_equal(parse(&c, ARGC("--brokers", "k:9092"), ARGV("--brokers", "k:9092"), NULL, err), 0);
    assert_string_equal(c.brokers, "k:9092");
    assert_string_equal(c.group, "buzzradar");
    assert_string_equal(c.topic_in, "tweets.raw");
    assert_string_equal(c.topic_out, "tweets.scored");
    assert_string_equal(c.topic_feedback, "tweets.feedback");
    assert_string_equal(c.topic_alerts, "buzz.alerts");
    assert_string_equal(c.topic_dlq, "tweets.dlq");
    assert_null(c.model); /* resolved later: $BUZZRADAR_MODEL or the shipped model */
    assert_string_equal(c.http, "127.0.0.1:8080");
    assert_true(c.threads >= 1 && c.threads <= 8);
    assert_int_equal(c.batch_max, 64);
    assert_int_equal(c.batch_wait_ms, 5);
    assert_int_equal(c.http_rate_limit, 100);
    assert_null(c.inference_cpus); /* not pinned */
    assert_int_equal(c.log_format, LOG_FORMAT_JSON);
    assert_int_equal(c.log_level, LOG_INFO);
    assert_int_equal(c.embedded, 0);
    assert_int_equal(c.nkafka, 0);
    config_free(&c);
    assert_null(c.group);
}

static void environment_beats_defaults_and_flags_beat_environment(void **state) {
    (void)state;
    char *env[] = {"HOME=/root",
                   "BUZZRADAR_BROKERS=env:1",
                   "BUZZRADAR_GROUP=env-group",
                   "BUZZRADAR_THREADS=3",
                   "BUZZRADAR_TOPIC_IN=env.in",
                   "BUZZRADAR_MODEL=/models/env.model",
                   "BUZZRADAR_REDIS=unix:///tmp/r.sock",
                   "BUZZRADAR_LOG_FORMAT=text",
                   "BUZZRADAR_HTTP=", /* empty: unset */
                   "BUZZRADAR_BATCH_MAX_X=7",
                   "BUZZRADAR_HTTP_RATE_LIMIT=0",
                   "BUZZRADAR_INFERENCE_CPUS=2-3",
                   NULL};
    WorkerConfig c;
    char err[256];
    assert_int_equal(parse(&c, 1, ARGV(NULL), env, err), 0);
    assert_string_equal(c.brokers, "env:1");
    assert_string_equal(c.group, "env-group");
    assert_int_equal(c.threads, 3);
    assert_string_equal(c.topic_in, "env.in");
    assert_string_equal(c.model, "/models/env.model");
    assert_string_equal(c.redis, "unix:///tmp/r.sock");
    assert_int_equal(c.log_format, LOG_FORMAT_TEXT);
    assert_string_equal(c.http, "127.0.0.1:8080");
    assert_int_equal(c.batch_max, 64); /* a longer name is another variable */
    assert_int_equal(c.http_rate_limit, 0);
    assert_string_equal(c.inference_cpus, "2-3");
    config_free(&c);

    assert_int_equal(parse(&c,
                           ARGC("--brokers=flag:2", "--group", "flag-group", "--threads", "5", "--log-format",
                                "json", "--topic-dlq", "dead"),
                           ARGV("--brokers=flag:2", "--group", "flag-group", "--threads", "5", "--log-format",
                                "json", "--topic-dlq", "dead"),
                           env, err),
                     0);
    assert_string_equal(c.brokers, "flag:2");
    assert_string_equal(c.group, "flag-group");
    assert_int_equal(c.threads, 5);
    assert_int_equal(c.log_format, LOG_FORMAT_JSON);
    assert_string_equal(c.topic_in, "env.in"); /* not on the command line: environment */
    assert_string_equal(c.topic_dlq, "dead");
    config_free(&c);
}

static void kafka_properties_pass_through(void **state) {
    (void)state;
    WorkerConfig c;
    char err[256];
    assert_int_equal(
        parse(&c,
              ARGC("--brokers", "b:1", "-X", "security.protocol=SASL_SSL", "-Xsasl.mechanism=PLAIN", "-X",
                   "producer.linger.ms=20", "-X", "consumer.fetch.wait.max.ms=50"),
              ARGV("--brokers", "b:1", "-X", "security.protocol=SASL_SSL", "-Xsasl.mechanism=PLAIN", "-X",
                   "producer.linger.ms=20", "-X", "consumer.fetch.wait.max.ms=50"),
              NULL, err),
        0);
    assert_int_equal(c.nkafka, 4);
    assert_string_equal(c.kafka[1].key, "sasl.mechanism");
    assert_string_equal(c.kafka[1].value, "PLAIN");
    assert_int_equal(c.kafka[2].scope, KAFKA_PRODUCER);
    assert_string_equal(c.kafka[2].key, "linger.ms");
    assert_int_equal(c.kafka[3].scope, KAFKA_CONSUMER);

    rd_kafka_conf_t *p = config_kafka_conf(&c, KAFKA_PRODUCER, NULL, err, sizeof err);
    assert_non_null(p);
    char v[128];
    size_t n = sizeof v;
    assert_int_equal(rd_kafka_conf_get(p, "bootstrap.servers", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "b:1");
    n = sizeof v;
    assert_int_equal(rd_kafka_conf_get(p, "security.protocol", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "sasl_ssl");
    n = sizeof v;
    assert_int_equal(rd_kafka_conf_get(p, "linger.ms", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "20");
    n = sizeof v;
    assert_int_equal(rd_kafka_conf_get(p, "fetch.wait.max.ms", v, &n), RD_KAFKA_CONF_OK);
    assert_string_not_equal(v, "50"); /* a consumer property: not given to the producer */
    n = sizeof v;
    assert_int_equal(rd_kafka_conf_get(p, "enable.idempotence", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "true");
    rd_kafka_conf_destroy(p);
    config_free(&c);

    /* the delivery guarantees win over -X; other defaults can be changed */
    assert_int_equal(
        parse(&c,
              ARGC("--brokers", "b:1", "--group", "g1", "-X", "acks=1", "-X", "group.id=other", "-X",
                   "enable.auto.offset.store=true", "-X", "consumer.auto.offset.reset=latest"),
              ARGV("--brokers", "b:1", "--group", "g1", "-X", "acks=1", "-X", "group.id=other", "-X",
                   "enable.auto.offset.store=true", "-X", "consumer.auto.offset.reset=latest"),
              NULL, err),
        0);
    p = config_kafka_conf(&c, KAFKA_PRODUCER, NULL, err, sizeof err);
    n = sizeof v;
    assert_int_equal(rd_kafka_conf_get(p, "acks", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "-1");
    n = sizeof v;
    assert_int_equal(rd_kafka_conf_get(p, "message.timeout.ms", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "0"); /* retried until delivered */
    rd_kafka_conf_destroy(p);
    rd_kafka_conf_t *k = config_kafka_conf(&c, KAFKA_CONSUMER, NULL, err, sizeof err);
    assert_non_null(k);
    n = sizeof v;
    assert_int_equal(rd_kafka_conf_get(k, "group.id", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "g1");
    n = sizeof v;
    assert_int_equal(rd_kafka_conf_get(k, "enable.auto.offset.store", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "false");
    n = sizeof v;
    assert_int_equal(rd_kafka_conf_get(k, "auto.offset.reset", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "largest"); /* librdkafka's name for latest */
    n = sizeof v;
    assert_int_equal(rd_kafka_conf_get(k, "auto.commit.interval.ms", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "1000"); /* a crash re-scores about a second of work, not 5 s */
    rd_kafka_conf_destroy(k);
    config_free(&c);

    /* librdkafka refuses an unknown property: the error names it */
    assert_int_equal(parse(&c, ARGC("--brokers", "b:1", "-X", "no.such.property=1"),
                           ARGV("--brokers", "b:1", "-X", "no.such.property=1"), NULL, err),
                     0);
    assert_null(config_kafka_conf(&c, KAFKA_CONSUMER, NULL, err, sizeof err));
    assert_non_null(strstr(err, "no.such.property"));
    config_free(&c);
}

static void embedded_mode(void **state) {
    (void)state;
    WorkerConfig c;
    char err[256];
    char *env[] = {"BUZZRADAR_BROKERS=env:1", NULL};
    assert_int_equal(parse(&c, ARGC("--embedded"), ARGV("--embedded"), env, err), 0);
    assert_int_equal(c.embedded, 1);
    assert_null(c.brokers); /* the flag beats the variable */
    rd_kafka_conf_t *k = config_kafka_conf(&c, KAFKA_CONSUMER, "127.0.0.1:1234", err, sizeof err);
    char v[128];
    size_t n = sizeof v;
    assert_int_equal(rd_kafka_conf_get(k, "bootstrap.servers", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "127.0.0.1:1234");
    n = sizeof v; /* the mock cluster holds empty fetches: a short wait there */
    assert_int_equal(rd_kafka_conf_get(k, "fetch.wait.max.ms", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "2");
    rd_kafka_conf_destroy(k);
    config_free(&c);
    assert_int_equal(parse(&c, ARGC("--embedded", "-X", "consumer.fetch.wait.max.ms=7"),
                           ARGV("--embedded", "-X", "consumer.fetch.wait.max.ms=7"), NULL, err),
                     0);
    k = config_kafka_conf(&c, KAFKA_CONSUMER, "127.0.0.1:1234", err, sizeof err);
    n = sizeof v; /* -X still wins */
    assert_int_equal(rd_kafka_conf_get(k, "fetch.wait.max.ms", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "7");
    rd_kafka_conf_destroy(k);
    config_free(&c);
    assert_int_equal(parse(&c, ARGC("--brokers", "b:1"), ARGV("--brokers", "b:1"), NULL, err), 0);
    k = config_kafka_conf(&c, KAFKA_CONSUMER, NULL, err, sizeof err);
    n = sizeof v; /* a real cluster answers a waiting fetch at once: the default stands */
    assert_int_equal(rd_kafka_conf_get(k, "fetch.wait.max.ms", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "10");
    rd_kafka_conf_destroy(k);
    config_free(&c);
    assert_int_equal(
        parse(&c, ARGC("--embedded", "--brokers", "x:1"), ARGV("--embedded", "--brokers", "x:1"), NULL, err),
        -1);
    assert_non_null(strstr(err, "--brokers"));
    config_free(&c);
}

static void usage_errors(void **state) {
    (void)state;
    struct {
        char *argv[8];
        const char *needle;
    } cases[] = {
        {{"run", NULL}, "no Kafka brokers"},
        {{"run", "--brokers", "b", "--threads", "zero", NULL}, "--threads"},
        {{"run", "--brokers", "b", "--threads", "0", NULL}, "[1, 256]"},
        {{"run", "--brokers", "b", "--threads", "4x", NULL}, "'4x'"},
        {{"run", "--brokers", "b", "--frobnicate", NULL}, "unknown option '--frobnicate'"},
        {{"run", "--brokers", "b", "-X", "novalue", NULL}, "key=value"},
        {{"run", "--brokers", "b", "-X", NULL}, "-X needs"},
        {{"run", "--brokers", "b", "--log-format", "xml", NULL}, "xml"},
        {{"run", "--brokers", "b", "stray", NULL}, "unexpected argument 'stray'"},
        {{"run", "--brokers", NULL}, "--brokers needs a value"},
        {{"run", "--brokers", "b", "--embedded=1", NULL}, "--embedded takes no value"},
        {{"run", "--brokers", "b", "--batch-max", "100", "--max-inflight", "10", NULL}, "--max-inflight"},
        {{"run", "--brokers", "b", "--inference-cpus", "3-1", NULL}, "--inference-cpus: CPU list '3-1'"},
        {{"run", "--brokers", "b", "--inference-cpus", "x", NULL}, "--inference-cpus"},
        {{"run", "--brokers", "b", "--http-rate-limit", "-1", NULL}, "--http-rate-limit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int argc = 0;
        while (argc < 8 && cases[i].argv[argc]) argc++;
        WorkerConfig c;
        char err[256];
        char *args[9] = {0};
        memcpy(args, cases[i].argv, sizeof cases[i].argv);
        int rc = parse(&c, argc, args, NULL, err);
        if (rc != -1 || !strstr(err, cases[i].needle))
            fail_msg("case %zu: rc %d, err '%s' (wanted '%s')", i, rc, err, cases[i].needle);
        config_free(&c);
    }
    char *env[] = {"BUZZRADAR_THREADS=many", NULL};
    WorkerConfig c;
    char err[256];
    assert_int_equal(parse(&c, ARGC("--brokers", "b"), ARGV("--brokers", "b"), env, err), -1);
    assert_non_null(strstr(err, "BUZZRADAR_THREADS"));
    config_free(&c);
}

static void monitor_settings_pass_through(void **state) {
    (void)state;
    char *env[] = {"BUZZRADAR_MONITOR=surge_min_count=10,,eval_interval_ms=1000", NULL};
    WorkerConfig c;
    char err[256];
    assert_int_equal(parse(&c,
                           ARGC("--brokers", "b", "--monitor", "surge_z=5.5", "--monitor",
                                "cooldown_ms.negative_surge=60000"),
                           ARGV("--brokers", "b", "--monitor", "surge_z=5.5", "--monitor",
                                "cooldown_ms.negative_surge=60000"),
                           env, err),
                     0);
    const char *want[][2] = {{"surge_min_count", "10"},
                             {"eval_interval_ms", "1000"},
                             {"surge_z", "5.5"},
                             {"cooldown_ms.negative_surge", "60000"}};
    assert_int_equal(c.nmonitor, 4); /* the variable's first, then the flags', in order */
    for (int i = 0; i < 4; i++) {
        assert_string_equal(c.monitor[i].key, want[i][0]);
        assert_string_equal(c.monitor[i].value, want[i][1]);
    }
    config_free(&c);
    assert_null(c.monitor);

    struct {
        char *argv[6];
        char *env;
        const char *needle;
    } bad[] = {
        {{"run", "--brokers", "b", "--monitor", "surge_zz=1", NULL},
         NULL,
         "unknown monitor setting 'surge_zz'"},
        {{"run", "--brokers", "b", "--monitor", "surge_z=4x", NULL}, NULL, "'4x' is not a valid number"},
        {{"run", "--brokers", "b", "--monitor", "surge_z", NULL}, NULL, "expected key=value"},
        {{"run", "--brokers", "b", "--monitor", NULL}, NULL, "--monitor needs key=value"},
        {{"run", "--brokers", "b", NULL},
         "BUZZRADAR_MONITOR=surge_z=1,cooldown_ms.bad_buzz=1",
         "BUZZRADAR_MONITOR: unknown alert type"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int argc = 0;
        while (argc < 6 && bad[i].argv[argc]) argc++;
        char *benv[] = {bad[i].env, NULL};
        int rc = parse(&c, argc, bad[i].argv, benv, err);
        if (rc != -1 || !strstr(err, bad[i].needle))
            fail_msg("case %zu: rc %d, err '%s' (wanted '%s')", i, rc, err, bad[i].needle);
        config_free(&c);
    }
}

static void help(void **state) {
    (void)state;
    WorkerConfig c;
    char err[256];
    assert_int_equal(parse(&c, ARGC("--help"), ARGV("--help"), NULL, err), 1);
    config_free(&c);
    char text[8192] = {0};
    FILE *f = fmemopen(text, sizeof text - 1, "w");
    config_usage(f);
    fclose(f);
    const char *needles[] = {"--brokers LIST",      "BUZZRADAR_BROKERS", "--embedded",      "--topic-dlq",
                             "tweets.dlq",          "-X key=value",      "BUZZRADAR_MODEL", "--log-format",
                             "--monitor key=value", "BUZZRADAR_MONITOR"};
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++)
        if (!strstr(text, needles[i])) fail_msg("usage lacks '%s'", needles[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(environment_beats_defaults_and_flags_beat_environment),
        cmocka_unit_test(kafka_properties_pass_through),
        cmocka_unit_test(embedded_mode),
        cmocka_unit_test(usage_errors),
        cmocka_unit_test(monitor_settings_pass_through),
        cmocka_unit_test(help),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
