/* kafka.c — small Kafka clients for test assertions (see harness.h): produce and wait
 * for delivery, read a topic from the beginning with assign(), group consumers with
 * short session timeouts, and owned copies of consumed messages. */
#include "tests/harness/harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KAFKA_POLL_MS 100

static void harness_errf(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void harness_errf(char *err, size_t err_len, const char *fmt, ...) {
    if (!err || !err_len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* Sets the defaults (NULL-terminated pairs), then the caller's pairs. Returns 0, or -1
 * with the reason in err (conf is left to the caller to destroy). */
static int harness_conf_apply(rd_kafka_conf_t *conf, const char *const *defaults, const char *const *user,
                              char *err, size_t err_len) {
    const char *const *lists[2] = {defaults, user};
    char errstr[512];
    for (int l = 0; l < 2; l++) {
        for (const char *const *kv = lists[l]; kv && kv[0]; kv += 2) {
            if (!kv[1]) {
                harness_errf(err, err_len, "property %s has no value", kv[0]);
                return -1;
            }
            if (rd_kafka_conf_set(conf, kv[0], kv[1], errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
                harness_errf(err, err_len, "%s", errstr);
                return -1;
            }
        }
    }
    return 0;
}

static rd_kafka_t *harness_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *const *defaults,
                                     const char *const *user, char *err, size_t err_len) {
    if (harness_conf_apply(conf, defaults, user, err, err_len)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk) {
        harness_errf(err, err_len, "rd_kafka_new: %s", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* ---- producing ---------------------------------------------------------------------- */

static void harness_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    HarnessDelivery *d = opaque;
    if (!d) return;
    if (m->err) {
        if (!d->failed++) d->first_error = m->err;
    } else {
        d->delivered++;
    }
}

static rd_kafka_t *harness_producer_new(const char *bootstrap, const char *const *conf_pairs,
                                        HarnessDelivery *delivery, char *err, size_t err_len) {
    const char *const defaults[] = {
        "bootstrap.servers", bootstrap, "acks", "all", "enable.idempotence", "true", "linger.ms", "5", NULL};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_dr_msg_cb(conf, harness_on_delivery);
    rd_kafka_conf_set_opaque(conf, delivery);
    return harness_kafka_new(RD_KAFKA_PRODUCER, conf, defaults, conf_pairs, err, err_len);
}

rd_kafka_t *harness_kafka_producer(const char *bootstrap, const char *const *conf, HarnessDelivery *delivery,
                                   char *err, size_t err_len) {
    return harness_producer_new(bootstrap, conf, delivery, err, err_len);
}

rd_kafka_resp_err_t harness_kafka_send(rd_kafka_t *rk, const char *topic, const HarnessRecord *rec,
                                       int timeout_ms) {
    int64_t deadline = harness_now_ms() + timeout_ms;
    for (;;) {
        rd_kafka_headers_t *hdrs = NULL;
        if (rec->headers) {
            size_t n = 0;
            while (rec->headers[n]) n += 2;
            hdrs = rd_kafka_headers_new(n / 2);
            for (size_t i = 0; i < n; i += 2)
                rd_kafka_header_add(hdrs, rec->headers[i], -1, rec->headers[i + 1],
                                    rec->headers[i + 1] ? -1 : 0);
        }
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic),
            RD_KAFKA_V_PARTITION(rec->pinned ? rec->partition : RD_KAFKA_PARTITION_UA),
            RD_KAFKA_V_KEY(rec->key, rec->key ? strlen(rec->key) : 0),
            RD_KAFKA_V_VALUE((void *)rec->value, rec->value ? strlen(rec->value) : 0),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return e; /* the headers belong to the message now */
        if (hdrs) rd_kafka_headers_destroy(hdrs);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || harness_now_ms() > deadline) return e;
        rd_kafka_poll(rk, 10);
    }
}

int harness_kafka_produce(const char *bootstrap, const char *topic, const HarnessRecord *records, size_t n,
                          const char *const *conf, int timeout_ms, char *err, size_t err_len) {
    HarnessDelivery d = {0, 0, RD_KAFKA_RESP_ERR_NO_ERROR};
    rd_kafka_t *rk = harness_producer_new(bootstrap, conf, &d, err, err_len);
    if (!rk) return -1;
    int64_t deadline = harness_now_ms() + timeout_ms;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t left = deadline - harness_now_ms();
        rd_kafka_resp_err_t e = harness_kafka_send(rk, topic, &records[i], left > 0 ? (int)left : 0);
        if (e) {
            harness_errf(err, err_len, "produce #%zu to %s: %s", i, topic, rd_kafka_err2str(e));
            rc = -1;
            break;
        }
    }
    int64_t left = deadline - harness_now_ms();
    rd_kafka_flush(rk, left > 0 ? (int)left : 0);
    if (rc == 0 && d.delivered != n) {
        harness_errf(err, err_len, "%zu of %zu messages to %s delivered, %zu failed (first: %s), %zu pending",
                     d.delivered, n, topic, d.failed, rd_kafka_err2str(d.first_error),
                     n - d.delivered - d.failed);
        rc = -1;
    }
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(rk, 0);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- consuming ---------------------------------------------------------------------- */

/* A NUL-terminated heap copy of len bytes (p may be NULL: returns NULL). */
static char *harness_copy_bytes(const void *p, size_t len) {
    if (!p) return NULL;
    char *s = malloc(len + 1);
    if (!s) return NULL;
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

int harness_messages_append(HarnessMessages *out, const rd_kafka_message_t *m) {
    if (m->err) return -1;
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 64;
        HarnessMessage *items = realloc(out->items, cap * sizeof *items);
        if (!items) return -1;
        out->items = items, out->cap = cap;
    }
    HarnessMessage *h = &out->items[out->n++];
    memset(h, 0, sizeof *h);
    h->key = harness_copy_bytes(m->key, m->key_len);
    h->key_len = m->key ? m->key_len : 0;
    h->value = harness_copy_bytes(m->payload, m->len);
    h->value_len = m->payload ? m->len : 0;
    h->partition = m->partition;
    h->offset = m->offset;
    rd_kafka_headers_t *hdrs;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        size_t cnt = rd_kafka_header_cnt(hdrs);
        h->headers = calloc(cnt ? cnt : 1, sizeof *h->headers);
        const char *name;
        const void *val;
        size_t size;
        for (size_t i = 0; h->headers && i < cnt && !rd_kafka_header_get_all(hdrs, i, &name, &val, &size);
             i++) {
            h->headers[i].name = harness_copy_bytes(name, strlen(name));
            h->headers[i].value = harness_copy_bytes(val, size);
            h->headers[i].value_len = val ? size : 0;
            h->n_headers++;
        }
    }
    return 0;
}

const char *harness_message_header(const HarnessMessage *m, const char *name) {
    for (size_t i = 0; i < m->n_headers; i++)
        if (m->headers[i].name && !strcmp(m->headers[i].name, name)) return m->headers[i].value;
    return NULL;
}

void harness_messages_free(HarnessMessages *m) {
    for (size_t i = 0; i < m->n; i++) {
        HarnessMessage *h = &m->items[i];
        for (size_t k = 0; k < h->n_headers; k++) free(h->headers[k].name), free(h->headers[k].value);
        free(h->headers);
        free(h->key);
        free(h->value);
    }
    free(m->items);
    memset(m, 0, sizeof *m);
}

/* Partition count of topic, retrying until the deadline (a topic being auto-created
 * has no leaders for a moment). Returns the count, or -1. */
static int harness_partition_count(rd_kafka_t *rk, const char *topic, int64_t deadline, char *err,
                                   size_t err_len) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (!rkt) {
        harness_errf(err, err_len, "topic handle %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    int count = -1;
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        int64_t left = deadline - harness_now_ms();
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, left > 100 ? (int)left : 100);
        if (!e && md->topic_cnt == 1 && !md->topics[0].err && md->topics[0].partition_cnt > 0)
            count = md->topics[0].partition_cnt;
        else
            harness_errf(err, err_len, "metadata for %s: %s", topic,
                         rd_kafka_err2str(e               ? e
                                          : md->topic_cnt ? md->topics[0].err
                                                          : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        if (md) rd_kafka_metadata_destroy(md);
        if (count > 0 || harness_now_ms() > deadline) break;
        harness_sleep_ms(50);
    }
    rd_kafka_topic_destroy(rkt);
    return count;
}

int harness_kafka_consume(const char *bootstrap, const char *topic, size_t count, int timeout_ms,
                          const char *const *conf_pairs, HarnessMessages *out, char *err, size_t err_len) {
    char group[96]; /* librdkafka 2.0.2 wants a group.id even for assign(); never joined */
    harness_unique_name("harness-reader", group, sizeof group);
    const char *const defaults[] = {"bootstrap.servers",
                                    bootstrap,
                                    "group.id",
                                    group,
                                    "enable.partition.eof",
                                    "true",
                                    "enable.auto.commit",
                                    "false",
                                    "auto.offset.reset",
                                    "earliest",
                                    "fetch.wait.max.ms",
                                    "50",
                                    NULL};
    rd_kafka_t *rk =
        harness_kafka_new(RD_KAFKA_CONSUMER, rd_kafka_conf_new(), defaults, conf_pairs, err, err_len);
    if (!rk) return -1;
    int64_t deadline = harness_now_ms() + timeout_ms;
    int rc = -1;
    bool *at_end = NULL;
    int partitions = harness_partition_count(rk, topic, deadline, err, err_len);
    if (partitions <= 0) goto done;
    at_end = calloc((size_t)partitions, sizeof *at_end);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e || !at_end) {
        harness_errf(err, err_len, "assign %s: %s", topic, e ? rd_kafka_err2str(e) : "out of memory");
        goto done;
    }
    size_t read = 0;
    int ended = 0;
    char last_error[256] = "";
    while (rc != 0) {
        int64_t left = deadline - harness_now_ms();
        if (left <= 0) {
            harness_errf(err, err_len,
                         "timeout reading %s: %zu messages read, %d of %d partitions at end%s%s", topic, read,
                         ended, partitions, last_error[0] ? "; last error: " : "", last_error);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, left < KAFKA_POLL_MS ? (int)left : KAFKA_POLL_MS);
        if (!m) continue;
        bool valid_partition = m->partition >= 0 && m->partition < partitions;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (valid_partition && !at_end[m->partition]) at_end[m->partition] = true, ended++;
            if (count == 0 && ended == partitions) rc = 0;
        } else if (m->err) {
            snprintf(last_error, sizeof last_error, "%s", rd_kafka_message_errstr(m));
        } else {
            if (valid_partition && at_end[m->partition]) at_end[m->partition] = false, ended--;
            if (harness_messages_append(out, m) == 0) read++;
            if (count > 0 && read >= count) rc = 0;
        }
        rd_kafka_message_destroy(m);
    }
done:
    free(at_end);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

rd_kafka_t *harness_kafka_group_consumer(const char *bootstrap, const char *group, const char *const *conf,
                                         char *err, size_t err_len) {
    const char *const defaults[] = {"bootstrap.servers",
                                    bootstrap,
                                    "group.id",
                                    group,
                                    "session.timeout.ms",
                                    "6000",
                                    "heartbeat.interval.ms",
                                    "500",
                                    "auto.offset.reset",
                                    "earliest",
                                    "fetch.wait.max.ms",
                                    "50",
                                    NULL};
    rd_kafka_t *rk = harness_kafka_new(RD_KAFKA_CONSUMER, rd_kafka_conf_new(), defaults, conf, err, err_len);
    if (rk) rd_kafka_poll_set_consumer(rk);
    return rk;
}

int harness_kafka_wait_assignment(rd_kafka_t *c, int partitions, int timeout_ms, HarnessMessages *collect) {
    int64_t deadline = harness_now_ms() + timeout_ms;
    int have = -1;
    for (;;) {
        rd_kafka_topic_partition_list_t *list = NULL;
        if (rd_kafka_assignment(c, &list) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            have = list->cnt;
            rd_kafka_topic_partition_list_destroy(list);
            if (have == partitions) return 0;
        }
        int64_t left = deadline - harness_now_ms();
        if (left <= 0) break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, left < KAFKA_POLL_MS ? (int)left : KAFKA_POLL_MS);
        if (m) {
            if (collect && !m->err) harness_messages_append(collect, m);
            rd_kafka_message_destroy(m);
        }
    }
    fprintf(stderr, "harness: assignment has %d partitions after %d ms, not %d\n", have, timeout_ms,
            partitions);
    return -1;
}
