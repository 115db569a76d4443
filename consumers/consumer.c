/* consumer.c — group membership, rebalances and the message queue of the input
 * topic (see consumer.h). */
#include "consumers/consumer.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/util.h"
#include "worker/log.h"

struct Consumer {
    rd_kafka_t *rk;
    rd_kafka_queue_t *msgq; /* messages of the assigned partitions */
    char *topic;
    ConsumerHooks hooks;
    int cooperative;     /* the assignment strategy is cooperative-sticky (incremental) */
    atomic_int assigned; /* partitions in the assignment */
    int closed;
    int fatal;
};

/* "tweets.raw[0,1,3]" for logs. */
static void describe(const rd_kafka_topic_partition_list_t *parts, char *buf, size_t len) {
    size_t pos = 0;
    buf[0] = '\0';
    for (int i = 0; i < parts->cnt && pos + 16 < len; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int first = i == 0 || strcmp(tp->topic, parts->elems[i - 1].topic);
        if (!first)
            pos += (size_t)snprintf(buf + pos, len - pos, ",%" PRId32, tp->partition);
        else
            pos += (size_t)snprintf(buf + pos, len - pos, "%s%s[%" PRId32, i ? "] " : "", tp->topic,
                                    tp->partition);
    }
    if (parts->cnt && pos + 2 < len) snprintf(buf + pos, len - pos, "]");
}

static void log_rebalance(const char *event, const rd_kafka_topic_partition_list_t *parts, int total) {
    char list[1024], n[16], t[16];
    describe(parts, list, sizeof list);
    snprintf(n, sizeof n, "%d", parts->cnt);
    snprintf(t, sizeof t, "%d", total);
    const char *kv[] = {"partitions", list, "count", n, "assigned", t, NULL};
    log_event(LOG_INFO, event, kv, "%s: %s", event, list);
}

static void assign(Consumer *c, rd_kafka_topic_partition_list_t *parts) {
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (c->cooperative)
        error = rd_kafka_incremental_assign(c->rk, parts);
    else
        err = rd_kafka_assign(c->rk, parts);
    if (error) {
        err = rd_kafka_error_code(error);
        rd_kafka_error_destroy(error);
    }
    if (err) {
        const char *kv[] = {"error", rd_kafka_err2name(err), NULL};
        log_event(LOG_ERROR, "assign_failed", kv, "assign failed: %s", rd_kafka_err2str(err));
        return;
    }
    /* Redirect each partition's messages to msgq, away from the event queue. */
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_queue_t *q =
            rd_kafka_queue_get_partition(c->rk, parts->elems[i].topic, parts->elems[i].partition);
        if (!q) continue;
        rd_kafka_queue_forward(q, c->msgq);
        rd_kafka_queue_destroy(q);
    }
    atomic_store(&c->assigned, c->cooperative ? atomic_load(&c->assigned) + parts->cnt : parts->cnt);
    log_rebalance("partitions_assigned", parts, atomic_load(&c->assigned));
    if (c->hooks.on_assign) c->hooks.on_assign(c->hooks.ctx, parts);
}

static void revoke(Consumer *c, rd_kafka_topic_partition_list_t *parts) {
    int lost = rd_kafka_assignment_lost(c->rk);
    if (c->hooks.on_revoke) c->hooks.on_revoke(c->hooks.ctx, parts, lost);
    /* Closing: the caller committed just before, and close commits what is stored. */
    if (!lost && !c->closed) consumer_commit(c);
    if (c->cooperative) {
        rd_kafka_error_t *error = rd_kafka_incremental_unassign(c->rk, parts);
        if (error) rd_kafka_error_destroy(error);
        atomic_store(&c->assigned, atomic_load(&c->assigned) - parts->cnt);
    } else {
        rd_kafka_assign(c->rk, NULL);
        atomic_store(&c->assigned, 0);
    }
    log_rebalance(lost ? "partitions_lost" : "partitions_revoked", parts, atomic_load(&c->assigned));
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    (void)rk;
    Consumer *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        assign(c, parts);
    else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        revoke(c, parts);
    else {
        const char *kv[] = {"error", rd_kafka_err2name(err), NULL};
        log_event(LOG_ERROR, "rebalance_failed", kv, "rebalance error: %s", rd_kafka_err2str(err));
        revoke(c, parts);
    }
}

static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    (void)rk;
    Consumer *c = opaque;
    c->hooks.on_stats(c->hooks.ctx, json, len);
    return 0; /* librdkafka frees json */
}

Consumer *consumer_new(rd_kafka_conf_t *conf, const char *topic, const ConsumerHooks *hooks, char *err,
                       size_t errlen) {
    Consumer *c = callocCheck(1, sizeof *c);
    if (hooks) c->hooks = *hooks;
    c->topic = strdupCheck(topic);
    /* The protocol follows from the strategy (librdkafka refuses to mix the two kinds).
     * Decided here: rd_kafka_rebalance_protocol() inside a rebalance callback can
     * deadlock against rd_kafka_consumer_close in librdkafka 2.0.2. */
    char strategy[256] = "";
    size_t len = sizeof strategy;
    if (rd_kafka_conf_get(conf, "partition.assignment.strategy", strategy, &len) == RD_KAFKA_CONF_OK)
        c->cooperative = strstr(strategy, "cooperative") != NULL;
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    if (c->hooks.on_stats) rd_kafka_conf_set_stats_cb(conf, on_stats);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (!c->rk) {
        rd_kafka_conf_destroy(conf);
        free(c->topic);
        free(c);
        return NULL;
    }
    rd_kafka_poll_set_consumer(c->rk);
    c->msgq = rd_kafka_queue_new(c->rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        snprintf(err, errlen, "cannot subscribe to %s: %s", topic, rd_kafka_err2str(e));
        c->closed = 1; /* never joined */
        consumer_free(c);
        return NULL;
    }
    return c;
}

/* Logs an error event; remembers fatal ones. */
static void handle_error(Consumer *c, const rd_kafka_message_t *m) {
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
        char reason[512];
        rd_kafka_fatal_error(c->rk, reason, sizeof reason);
        c->fatal = 1;
        const char *kv[] = {"error", reason, NULL};
        log_event(LOG_ERROR, "consumer_fatal", kv, "fatal consumer error: %s", reason);
        return;
    }
    char where[256] = "";
    if (m->rkt) snprintf(where, sizeof where, "%s[%" PRId32 "]", rd_kafka_topic_name(m->rkt), m->partition);
    const char *kv[] = {"error", rd_kafka_err2name(m->err), "where", where, NULL};
    log_event(LOG_WARN, "consumer_error", kv, "consumer: %s", rd_kafka_message_errstr(m));
}

rd_kafka_message_t *consumer_poll(Consumer *c, int want_messages, int timeout_ms) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, want_messages ? 0 : timeout_ms);
    if (m && m->err) {
        handle_error(c, m);
        rd_kafka_message_destroy(m);
        m = NULL;
    }
    if (m || !want_messages) return m;
    m = rd_kafka_consume_queue(c->msgq, timeout_ms);
    if (m && m->err) {
        handle_error(c, m);
        rd_kafka_message_destroy(m);
        m = NULL;
    }
    return m;
}

int consumer_store(Consumer *c, int32_t partition, int64_t next) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, c->topic, partition)->offset = next;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(c->rk, l);
    if (!err) err = l->elems[0].err;
    rd_kafka_topic_partition_list_destroy(l);
    return err ? -1 : 0;
}

int consumer_commit(Consumer *c) {
    rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, NULL, 0);
    if (!err || err == RD_KAFKA_RESP_ERR__NO_OFFSET) return 0;
    const char *kv[] = {"error", rd_kafka_err2name(err), NULL};
    log_event(LOG_WARN, "commit_failed", kv, "offset commit failed: %s", rd_kafka_err2str(err));
    return -1;
}

int consumer_assigned(const Consumer *c) { return atomic_load(&c->assigned); }

int consumer_fatal(Consumer *c, char *buf, size_t len) {
    if (!c->fatal) return 0;
    rd_kafka_fatal_error(c->rk, buf, len);
    return 1;
}

int consumer_close(Consumer *c) {
    if (c->closed) return 0;
    c->closed = 1;
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(c->rk);
    if (!err) return 0;
    const char *kv[] = {"error", rd_kafka_err2name(err), NULL};
    log_event(LOG_WARN, "consumer_close_failed", kv, "consumer close: %s", rd_kafka_err2str(err));
    return -1;
}

void consumer_free(Consumer *c) {
    if (!c) return;
    consumer_close(c);
    rd_kafka_queue_destroy(c->msgq);
    rd_kafka_destroy(c->rk);
    free(c->topic);
    free(c);
}
