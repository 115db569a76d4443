/* embedded.c — the in-process mock cluster of `run --embedded` (see embedded.h). */
#include "worker/embedded.h"

#include <stdio.h>
#include <stdlib.h>

#include <librdkafka/rdkafka_mock.h>

#include "model/util.h"

struct Embedded {
    rd_kafka_t *host; /* the handle whose threads run the cluster */
    rd_kafka_mock_cluster_t *cluster;
};

Embedded *embedded_start(const WorkerConfig *cfg, char *err, size_t errlen) {
    Embedded *e = callocCheck(1, sizeof *e);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The host handle talks to no broker: silence its "no bootstrap.servers" notice. */
    rd_kafka_conf_set(conf, "log_level", "4", NULL, 0);
    rd_kafka_conf_set(conf, "client.id", "buzzradar-embedded", NULL, 0);
    e->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
    if (!e->host) {
        rd_kafka_conf_destroy(conf);
        free(e);
        return NULL;
    }
    e->cluster = rd_kafka_mock_cluster_new(e->host, 1);
    if (!e->cluster) {
        snprintf(err, errlen, "cannot start the embedded Kafka cluster");
        embedded_stop(e);
        return NULL;
    }
    const char *topics[] = {cfg->topic_in, cfg->topic_out, cfg->topic_feedback, cfg->topic_alerts,
                            cfg->topic_dlq};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        rd_kafka_resp_err_t rc =
            rd_kafka_mock_topic_create(e->cluster, topics[i], cfg->embedded_partitions, 1);
        if (rc && rc != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) { /* the same name given twice */
            snprintf(err, errlen, "cannot create topic %s: %s", topics[i], rd_kafka_err2str(rc));
            embedded_stop(e);
            return NULL;
        }
    }
    return e;
}

const char *embedded_bootstrap(const Embedded *e) { return rd_kafka_mock_cluster_bootstraps(e->cluster); }

void embedded_stop(Embedded *e) {
    if (!e) return;
    if (e->cluster) rd_kafka_mock_cluster_destroy(e->cluster); /* before its host handle */
    rd_kafka_destroy(e->host);
    free(e);
}
