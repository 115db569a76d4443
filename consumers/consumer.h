/* consumer.h — the worker's Kafka consumer: a member of a consumer group on the
 * input topic, with a rebalance protocol that lets the pipeline finish its work
 * before partitions move, and reading that can stop without pausing partitions.
 *
 * Rebalancing: whatever partition.assignment.strategy says (default range,roundrobin:
 * the EAGER protocol; -X partition.assignment.strategy=cooperative-sticky selects
 * the incremental protocol, handled too). Before
 * partitions are given up, on_revoke runs on the polling thread: the pipeline
 * finishes (or, past its timeout, abandons) the in-flight work of those partitions
 * and stores the offsets of what was acknowledged; the consumer then commits
 * synchronously and only then lets the rebalance proceed. Eager is the default
 * because a revocation is rare and short here (in-flight work drains in
 * milliseconds) and one rebalance round costs less than cooperative's two on
 * brokers that delay each join (see DESIGN.md on the mock cluster).
 *
 * Backpressure: the messages of assigned partitions are forwarded to a queue of
 * their own, separate from the consumer's events (rebalances, errors). When the
 * pipeline is full, consumer_poll is called without taking messages: events are
 * still served (the group membership and max.poll.interval.ms stay healthy), while
 * librdkafka stops fetching once its prefetch limit (queued.max.messages.kbytes) is
 * reached. Partitions are never paused: in librdkafka 2.0.2 a paused partition makes
 * rd_kafka_destroy hang (a leaked toppar reference, librdkafka issue #4486).
 *
 * Offsets: enable.auto.offset.store=false (config_kafka_conf); the caller stores only
 * what it has finished (consumer_store) and auto-commit commits what was stored.
 *
 * Threads: every function but consumer_assigned runs on one thread (the poll loop),
 * and the hooks run on it too, inside consumer_poll or consumer_close. The rebalance
 * callback makes no synchronous request to librdkafka's main thread but the revoke
 * commit (rd_kafka_assignment or rd_kafka_rebalance_protocol there can deadlock
 * against rd_kafka_consumer_close in 2.0.2). */
#ifndef BUZZRADAR_CONSUMER_H
#define BUZZRADAR_CONSUMER_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

typedef struct {
    void *ctx;
    /* Partitions were added to the assignment; none of their messages was returned yet. */
    void (*on_assign)(void *ctx, const rd_kafka_topic_partition_list_t *parts);
    /* Partitions are about to be given up: finish or abandon their work and store
     * their offsets. lost: they already belong to another member (their offsets cannot
     * be committed any more). */
    void (*on_revoke)(void *ctx, const rd_kafka_topic_partition_list_t *parts, int lost);
    /* librdkafka's statistics JSON (len bytes, valid during the call), every
     * statistics.interval.ms, on a librdkafka thread. May be NULL: no stats_cb. */
    void (*on_stats)(void *ctx, const char *json, size_t len);
} ConsumerHooks;

typedef struct Consumer Consumer;

/* Creates the consumer from a configuration made by config_kafka_conf(KAFKA_CONSUMER)
 * (ownership taken, also on failure) and subscribes to `topic`. hooks may be NULL.
 * Returns NULL with a one-line reason in err. */
Consumer *consumer_new(rd_kafka_conf_t *conf, const char *topic, const ConsumerHooks *hooks, char *err,
                       size_t errlen);

/* Serves the consumer's events (rebalances, errors) and, when want_messages, returns
 * the next message of an assigned partition, waiting up to timeout_ms. Without
 * want_messages it waits up to timeout_ms for events only; it may still return a
 * message that reached the event queue before its partition's queue was redirected:
 * the caller must take it. Error events are logged, not returned. The caller
 * destroys the message (rd_kafka_message_destroy) before consumer_free. */
rd_kafka_message_t *consumer_poll(Consumer *c, int want_messages, int timeout_ms);

/* Stores `next` (the offset of the next message to read) for a partition of the
 * input topic, for the next commit. Returns 0, or -1 when librdkafka refused it
 * (e.g. the partition is no longer assigned). */
int consumer_store(Consumer *c, int32_t partition, int64_t next);

/* Commits the stored offsets now and waits for the broker's answer. Returns 0, or -1
 * (logged) when the commit failed; nothing stored is also success. */
int consumer_commit(Consumer *c);

/* Partitions assigned now (any thread). */
int consumer_assigned(const Consumer *c);

/* Non-zero once librdkafka raised a fatal consumer error; its reason in buf. */
int consumer_fatal(Consumer *c, char *buf, size_t len);

/* Leaves the group: on_revoke runs for the assignment, stored offsets are committed.
 * Returns 0, or -1 (logged). */
int consumer_close(Consumer *c);

/* Frees the consumer (closing it first when consumer_close was not called). Every
 * message it returned must have been destroyed. */
void consumer_free(Consumer *c);

#endif
