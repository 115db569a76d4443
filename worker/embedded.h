/* embedded.h — `buzzradar run --embedded`: a Kafka-protocol cluster inside the worker
 * process (librdkafka's mock cluster), with the worker's five topics created up
 * front, so that the worker, kcat and `buzzradar tail` can be tried without Kafka.
 *
 * The cluster listens on random localhost ports (librdkafka 2.0.2 cannot fix them):
 * its bootstrap address is what other clients need. It keeps its data in memory and
 * loses it when the process exits; see DESIGN.md for what the mock does not do
 * (transactions, retention beyond about 5 MiB per partition). */
#ifndef BUZZRADAR_EMBEDDED_H
#define BUZZRADAR_EMBEDDED_H

#include "worker/config.h"

typedef struct Embedded Embedded;

/* Starts a one-broker cluster and creates cfg's input, output, feedback, alerts and
 * dead-letter topics with cfg->embedded_partitions partitions each. Returns NULL
 * with a one-line reason in err. */
Embedded *embedded_start(const WorkerConfig *cfg, char *err, size_t errlen);

/* The bootstrap address ("127.0.0.1:PORT"), valid until embedded_stop. */
const char *embedded_bootstrap(const Embedded *e);

/* Stops the cluster (after every client of it in this process was destroyed). */
void embedded_stop(Embedded *e);

#endif
