/* test_producer_errors.c — producer_errors() (producers/producer.h), the source of
 * buzzradar_produce_errors_total, against librdkafka's in-process mock cluster: a
 * produce call the client refuses counts, a delivery report with an error counts, a
 * delivered message and a purged one (shutdown) do not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "producers/producer.h"

typedef struct {
    int reports, failed;
    rd_kafka_resp_err_t last;
} Reports;

static void on_delivery(void *ctx, ProducedKind kind, void *opaque, rd_kafka_resp_err_t err) {
    (void)kind;
    (void)opaque;
    Reports *r = ctx;
    r->reports++;
    r->failed += err != RD_KAFKA_RESP_ERR_NO_ERROR;
    r->last = err;
}

static void conf_set(rd_kafka_conf_t *c, const char *k, const char *v) {
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) fail_msg("%s: %s", k, err);
}

static void produce_errors_are_counted(void **state) {
    (void)state;
    /* A one-broker mock cluster, owned by a handle of its own. */
    char err[512];
    rd_kafka_conf_t *mconf = rd_kafka_conf_new();
    conf_set(mconf, "log_level", "0");
    rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, err, sizeof err);
    assert_non_null(owner);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(owner, 1);
    assert_non_null(mc);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc));
    conf_set(conf, "message.max.bytes", "10000");
    conf_set(conf, "message.timeout.ms", "400");
    conf_set(conf, "log_level", "0");
    Reports rep = {0};
    ProducerOptions o = {"scored", "dlq", "alerts", on_delivery, &rep, 10};
    Producer *p = producer_new(conf, &o, err, sizeof err);
    if (!p) fail_msg("producer_new: %s", err);
    assert_int_equal(producer_errors(p), 0);

    /* Delivered: not an error. */
    assert_int_equal(producer_scored(p, "1", 1, "{}", 2, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(producer_flush(p, 10000), 0);
    assert_int_equal(rep.reports, 1);
    assert_int_equal(rep.failed, 0);
    assert_int_equal(producer_errors(p), 0);

    /* Refused by the client at once (no report will come): one error. */
    static char big[20000];
    memset(big, 'x', sizeof big);
    assert_int_equal(producer_send(p, "other", "k", 1, big, sizeof big),
                     RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    assert_int_equal(producer_errors(p), 1);

    /* The broker is gone: the messages time out and their reports carry the error. */
    rd_kafka_mock_broker_set_down(mc, 1);
    assert_int_equal(producer_alert(p, "negative_surge", "{}", 2), RD_KAFKA_RESP_ERR_NO_ERROR);
    DeadLetter d = {"k", 1, "v", 1, "invalid_json", "tweets.raw", 0, 7};
    assert_int_equal(producer_dead_letter(p, &d, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
    producer_flush(p, 10000);
    assert_int_equal(rep.reports, 3);
    assert_int_equal(rep.failed, 2);
    assert_int_equal(rep.last, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT);
    assert_int_equal(producer_errors(p), 3);

    /* Purged at shutdown: reported with a PURGE error, not counted. */
    assert_int_equal(producer_scored(p, "2", 1, "{}", 2, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
    producer_purge(p);
    producer_flush(p, 5000);
    assert_int_equal(rep.reports, 4);
    assert_true(rep.last == RD_KAFKA_RESP_ERR__PURGE_QUEUE || rep.last == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT);
    assert_int_equal(producer_errors(p), 3);

    producer_free(p);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(owner);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(produce_errors_are_counted),
    };
    return cmocka_run_group_tests_name("producer_errors", tests, NULL, NULL);
}
