/* producer.c — one librdkafka producer for the three output topics (see producer.h). */
#include "producers/producer.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/util.h"
#include "worker/log.h"

struct Producer {
    rd_kafka_t *rk;
    rd_kafka_topic_t *scored, *dlq, *alerts;
    ProducerOptions o;
    atomic_int fatal;
    atomic_ullong errors; /* producer_errors */
};

/* A delivery report's error that counts as a failed produce (purges are requested). */
static int producer_is_failure(rd_kafka_resp_err_t err) {
    return err && err != RD_KAFKA_RESP_ERR__PURGE_QUEUE && err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    Producer *p = opaque;
    ProducedKind kind = m->rkt == p->scored   ? PRODUCED_SCORED
                        : m->rkt == p->dlq    ? PRODUCED_DEAD_LETTER
                        : m->rkt == p->alerts ? PRODUCED_ALERT
                                              : PRODUCED_OTHER;
    if (producer_is_failure(m->err)) atomic_fetch_add_explicit(&p->errors, 1, memory_order_relaxed);
    if (p->o.on_delivery) p->o.on_delivery(p->o.ctx, kind, m->_private, m->err);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    Producer *p = opaque;
    char buf[512];
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(rk, buf, sizeof buf);
        atomic_store(&p->fatal, 1);
        const char *kv[] = {"error", buf, NULL};
        log_event(LOG_ERROR, "producer_fatal", kv, "fatal producer error: %s", buf);
        return;
    }
    const char *kv[] = {"error", rd_kafka_err2name(err), NULL};
    log_event(LOG_WARN, "producer_error", kv, "producer: %s", reason);
}

Producer *producer_new(rd_kafka_conf_t *conf, const ProducerOptions *o, char *err, size_t errlen) {
    Producer *p = callocCheck(1, sizeof *p);
    p->o = *o;
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
    if (!p->rk) { /* conf is still ours on failure */
        rd_kafka_conf_destroy(conf);
        free(p);
        return NULL;
    }
    p->scored = rd_kafka_topic_new(p->rk, o->topic_scored, NULL);
    p->dlq = rd_kafka_topic_new(p->rk, o->topic_dlq, NULL);
    p->alerts = rd_kafka_topic_new(p->rk, o->topic_alerts, NULL);
    if (!p->scored || !p->dlq || !p->alerts) {
        snprintf(err, errlen, "cannot create output topic handles: %s",
                 rd_kafka_err2str(rd_kafka_last_error()));
        producer_free(p);
        return NULL;
    }
    return p;
}

void producer_free(Producer *p) {
    if (!p) return;
    if (p->scored) rd_kafka_topic_destroy(p->scored);
    if (p->dlq) rd_kafka_topic_destroy(p->dlq);
    if (p->alerts) rd_kafka_topic_destroy(p->alerts);
    rd_kafka_destroy(p->rk);
    free(p);
}

/* Produces one message described by vus[0..n), waiting (in 1 ms steps) while the
 * local queue is full: another thread serves the delivery reports that make room. */
static rd_kafka_resp_err_t produce_waiting(Producer *p, const rd_kafka_vu_t *vus, size_t n) {
    for (int waited = 0;; waited++) {
        rd_kafka_error_t *error = rd_kafka_produceva(p->rk, vus, n);
        if (!error) return RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_resp_err_t err = rd_kafka_error_code(error);
        rd_kafka_error_destroy(error);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || waited >= p->o.queue_full_wait_ms) {
            atomic_fetch_add_explicit(&p->errors, 1, memory_order_relaxed);
            return err;
        }
        nanosleep(&(struct timespec){0, 1000000L}, NULL);
    }
}

#define VU_RKT(t)                                                                                            \
    { .vtype = RD_KAFKA_VTYPE_RKT, .u.rkt = (t) }
#define VU_MEM(type, ptr_, len_)                                                                             \
    {                                                                                                        \
        .vtype = (type), .u.mem = {(void *)(ptr_), (len_) }                                                  \
    }
#define VU_HEADER(n, v)                                                                                      \
    {                                                                                                        \
        .vtype = RD_KAFKA_VTYPE_HEADER, .u.header = {(n), (v), -1 }                                          \
    }
#define VU_COPY                                                                                              \
    { .vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY }
#define VU_OPAQUE(o)                                                                                         \
    { .vtype = RD_KAFKA_VTYPE_OPAQUE, .u.ptr = (o) }

rd_kafka_resp_err_t producer_scored(Producer *p, const char *id, size_t id_len, const char *json, size_t len,
                                    void *opaque) {
    const rd_kafka_vu_t vus[] = {VU_RKT(p->scored), VU_MEM(RD_KAFKA_VTYPE_KEY, id, id_len),
                                 VU_MEM(RD_KAFKA_VTYPE_VALUE, json, len), VU_COPY, VU_OPAQUE(opaque)};
    return produce_waiting(p, vus, sizeof vus / sizeof vus[0]);
}

rd_kafka_resp_err_t producer_dead_letter(Producer *p, const DeadLetter *d, void *opaque) {
    char source[512];
    snprintf(source, sizeof source, "%s/%" PRId32 "/%" PRId64, d->topic, d->partition, d->offset);
    const rd_kafka_vu_t vus[] = {VU_RKT(p->dlq),
                                 VU_MEM(RD_KAFKA_VTYPE_KEY, d->key, d->key_len),
                                 VU_MEM(RD_KAFKA_VTYPE_VALUE, d->value, d->value_len),
                                 VU_HEADER("error", d->reason),
                                 VU_HEADER("source", source),
                                 VU_COPY,
                                 VU_OPAQUE(opaque)};
    return produce_waiting(p, vus, sizeof vus / sizeof vus[0]);
}

rd_kafka_resp_err_t producer_alert(Producer *p, const char *type, const char *json, size_t len) {
    const rd_kafka_vu_t vus[] = {VU_RKT(p->alerts), VU_MEM(RD_KAFKA_VTYPE_KEY, type, strlen(type)),
                                 VU_MEM(RD_KAFKA_VTYPE_VALUE, json, len), VU_COPY, VU_OPAQUE(NULL)};
    return produce_waiting(p, vus, sizeof vus / sizeof vus[0]);
}

rd_kafka_resp_err_t producer_send(Producer *p, const char *topic, const char *key, size_t key_len,
                                  const char *value, size_t len) {
    const rd_kafka_vu_t vus[] = {{.vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = topic},
                                 VU_MEM(RD_KAFKA_VTYPE_KEY, key, key_len),
                                 VU_MEM(RD_KAFKA_VTYPE_VALUE, value, len),
                                 VU_COPY,
                                 VU_OPAQUE(NULL)};
    return produce_waiting(p, vus, sizeof vus / sizeof vus[0]);
}

int producer_poll(Producer *p, int timeout_ms) { return rd_kafka_poll(p->rk, timeout_ms); }

int producer_flush(Producer *p, int timeout_ms) {
    return rd_kafka_flush(p->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

void producer_purge(Producer *p) {
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
}

int producer_outstanding(Producer *p) { return rd_kafka_outq_len(p->rk); }

uint64_t producer_errors(const Producer *p) { return atomic_load_explicit(&p->errors, memory_order_relaxed); }

int producer_fatal(Producer *p, char *buf, size_t len) {
    if (!atomic_load(&p->fatal)) return 0;
    rd_kafka_fatal_error(p->rk, buf, len);
    return 1;
}
