/* config.h — the configuration of `buzzradar run`: one struct, filled from flags,
 * environment variables and defaults, in that order of precedence.
 *
 * Every setting has a flag and an environment variable (`--threads N` and
 * BUZZRADAR_THREADS); an empty variable counts as unset. Any librdkafka property
 * passes through with `-X key=value` (as kcat does), to the consumer and the producer
 * both, or to one of them with the prefix `consumer.` or `producer.`
 * (`-X producer.linger.ms=20`). Any monitor threshold or setting (worker/monitor.h,
 * docs/alerts.md) passes through with `--monitor key=value` (repeatable), or in
 * BUZZRADAR_MONITOR as a comma-separated list ("surge_min_count=10,eval_interval_ms=1000");
 * flags are applied after the variable. `buzzradar run --help` lists everything. */
#ifndef BUZZRADAR_CONFIG_H
#define BUZZRADAR_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

#include "worker/log.h"

/* Which client a -X property is for. */
typedef enum { KAFKA_BOTH = 0, KAFKA_CONSUMER = 1, KAFKA_PRODUCER = 2 } KafkaScope;

typedef struct {
    char *key, *value;
    KafkaScope scope;
} KafkaProp;

/* A monitor setting (monitor_config_set): "surge_z" = "5". */
typedef struct {
    char *key, *value;
} MonitorProp;

typedef struct {
    /* Kafka */
    char *brokers;           /* bootstrap servers; NULL when embedded */
    int embedded;            /* run an in-process mock cluster (librdkafka's) */
    int embedded_partitions; /* partitions of each topic it creates */
    char *bootstrap_file;    /* embedded: also write the bootstrap address there */
    char *group;
    char *topic_in, *topic_out, *topic_feedback, *topic_alerts, *topic_dlq;
    KafkaProp *kafka; /* -X properties, in command-line order (nkafka) */
    int nkafka;
    /* model and pipeline */
    char *model;           /* NULL: $BUZZRADAR_MODEL, else the shipped model */
    int threads;           /* inference threads */
    char *inference_cpus;  /* NULL or "": no pinning; else a CPU list (worker/cpus.h): inference
                              thread i on its i-th CPU, round robin */
    int batch_max;         /* tweets per model batch */
    int batch_wait_ms;     /* longest wait for a batch to fill */
    int max_inflight;      /* consumed and not yet acknowledged; beyond it, reading stops */
    int max_message_bytes; /* larger input messages are dead-lettered as too_large */
    /* side services */
    char *redis;          /* redis://host:port/db or unix:///path; "none" disables Redis */
    char *http;           /* ADDR:PORT of the HTTP endpoints */
    int http_rate_limit;  /* requests per minute per client IP on /predict and /feedback; 0: none */
    MonitorProp *monitor; /* --monitor settings: BUZZRADAR_MONITOR's, then the flags' (nmonitor) */
    int nmonitor;
    /* process */
    LogFormat log_format;
    LogLevel log_level;
    int stats_interval_s;  /* periodic stats log line; 0 disables it */
    int drain_timeout_ms;  /* at shutdown: longest wait for in-flight work */
    int revoke_timeout_ms; /* at revocation: longest wait before abandoning work */
} WorkerConfig;

/* Fills *c from defaults, then `envp` (a NULL-terminated "NAME=value" array, such as
 * environ; NULL for none), then the command line argv[1..argc) (argv[0] is the
 * subcommand name). Returns 0 on success; 1 when --help was given (print
 * config_usage); -1 on a usage error, with a one-line message in err (also for a
 * monitor setting that monitor_config_set refuses: unknown key, not a number; the
 * values as a whole are checked when the monitor starts). *c must be
 * released with config_free in every case. */
int config_parse(WorkerConfig *c, int argc, char **argv, char *const *envp, char *err, size_t errlen);

/* Frees the strings of *c (and zeroes it). */
void config_free(WorkerConfig *c);

/* Prints the flags, their environment variables and defaults. */
void config_usage(FILE *out);

/* A new librdkafka configuration for one client, in this order: bootstrap.servers
 * (c->brokers, or `bootstrap` when embedded), client.id and the project's defaults
 * for this client (see the table in config.c; when embedded, the consumer's
 * fetch.wait.max.ms is 2), the -X properties of this scope, and
 * last the properties the delivery guarantees need (the consumer's group.id from
 * --group and enable.auto.offset.store=false; the producer's enable.idempotence=true
 * and acks=all): a -X property that tries to change one of those is ignored with a
 * warning in the log. librdkafka's own log lines become log events ("kafka_log").
 * Returns NULL with a message naming the property when
 * librdkafka refuses one. */
rd_kafka_conf_t *config_kafka_conf(const WorkerConfig *c, KafkaScope scope, const char *bootstrap, char *err,
                                   size_t errlen);

#endif
