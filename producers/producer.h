/* producer.h — the worker's Kafka producer: scored events, dead letters and alerts,
 * each to its topic, with one delivery-report callback.
 *
 * Delivery semantics are the caller's: every scored event and dead letter carries an
 * opaque pointer (the pipeline passes the input message) that comes back in the
 * delivery report, once, with the broker's verdict. Reports are served on the thread
 * that calls producer_poll or producer_flush.
 *
 * The configuration must come from config_kafka_conf(KAFKA_PRODUCER): idempotence on,
 * acks=all, and by default message.timeout.ms=0 (a message is retried until the
 * broker takes it, so a failed report means a permanent error).
 *
 * Thread-safety: the produce functions may be called from any thread. */
#ifndef BUZZRADAR_PRODUCER_H
#define BUZZRADAR_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

typedef enum {
    PRODUCED_SCORED = 0,
    PRODUCED_DEAD_LETTER = 1,
    PRODUCED_ALERT = 2,
    PRODUCED_OTHER = 3 /* producer_send */
} ProducedKind;

/* One delivery report: err is RD_KAFKA_RESP_ERR_NO_ERROR when the broker
 * acknowledged the message; RD_KAFKA_RESP_ERR__PURGE_QUEUE/_INFLIGHT after
 * producer_purge. */
typedef void (*ProducerDeliveryFn)(void *ctx, ProducedKind kind, void *opaque, rd_kafka_resp_err_t err);

typedef struct {
    const char *topic_scored, *topic_dlq, *topic_alerts;
    ProducerDeliveryFn on_delivery; /* may be NULL */
    void *ctx;
    int queue_full_wait_ms; /* longest wait in a produce call while the local queue is full */
} ProducerOptions;

/* A message for the dead-letter topic: the original key and payload, unchanged, and
 * where they came from. */
typedef struct {
    const void *key;
    size_t key_len;
    const void *value; /* NULL for a null value */
    size_t value_len;
    const char *reason; /* header `error` */
    const char *topic;  /* header `source` = "topic/partition/offset" */
    int32_t partition;
    int64_t offset;
} DeadLetter;

typedef struct Producer Producer;

/* Creates the producer; takes ownership of conf (also on failure). Returns NULL with
 * a one-line reason in err. */
Producer *producer_new(rd_kafka_conf_t *conf, const ProducerOptions *o, char *err, size_t errlen);

/* Flushes nothing: call producer_flush (or producer_purge) first, then serve the
 * reports, then free. */
void producer_free(Producer *p);

/* Enqueues a scored event (value copied) keyed by the tweet id. Returns
 * RD_KAFKA_RESP_ERR_NO_ERROR, or the error when it could not be enqueued (no report
 * will come for it): the local queue stayed full for queue_full_wait_ms, or a local
 * refusal such as MSG_SIZE_TOO_LARGE. */
rd_kafka_resp_err_t producer_scored(Producer *p, const char *id, size_t id_len, const char *json, size_t len,
                                    void *opaque);

/* Enqueues a dead letter (copied), with headers `error` and `source`. Errors as for
 * producer_scored. */
rd_kafka_resp_err_t producer_dead_letter(Producer *p, const DeadLetter *d, void *opaque);

/* Enqueues an alert keyed by its type. Errors as for producer_scored; its report
 * comes with kind PRODUCED_ALERT and a NULL opaque. */
rd_kafka_resp_err_t producer_alert(Producer *p, const char *type, const char *json, size_t len);

/* Enqueues a message (copied) to any topic, such as the feedback topic. Errors as
 * for producer_scored; its report comes with kind PRODUCED_OTHER and a NULL opaque. */
rd_kafka_resp_err_t producer_send(Producer *p, const char *topic, const char *key, size_t key_len,
                                  const char *value, size_t len);

/* Serves delivery reports (and errors) for up to timeout_ms. Returns how many events
 * were served. */
int producer_poll(Producer *p, int timeout_ms);

/* Waits up to timeout_ms for every queued message to be delivered, serving reports.
 * Returns 0 when none is left, -1 otherwise. */
int producer_flush(Producer *p, int timeout_ms);

/* Drops every message not yet delivered: their reports come (at the next poll) with
 * a PURGE error. */
void producer_purge(Producer *p);

/* Messages and requests not yet acknowledged. */
int producer_outstanding(Producer *p);

/* Messages that failed since creation: refused by a produce call (no report comes for
 * them) plus delivery reports with an error other than a purge. Any thread. */
uint64_t producer_errors(const Producer *p);

/* Non-zero once librdkafka raised a fatal error (the idempotent producer can no
 * longer guarantee ordering or no-duplicates); its reason is copied into buf. */
int producer_fatal(Producer *p, char *buf, size_t len);

#endif
