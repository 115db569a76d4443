/* services.c — the metrics, HTTP, monitor and feedback services of `buzzradar run`
 * (see services.h). */
#include "worker/services.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "consumers/consumer.h"
#include "model/metrics.h"
#include "model/util.h"
#include "worker/feedback.h"
#include "worker/feedback_queue.h"
#include "worker/http.h"
#include "worker/log.h"
#include "worker/monitor.h"
#include "worker/ratelimit_redis.h"
#include "worker/redis_store.h"
#include "worker/worker_metrics.h"

#define ACC_LATENCY_MAX  1024 /* latencies kept per flush; more are dropped */
#define ACC_NEG_MAX      64   /* negative tweets kept per flush, for the surge's terms */
#define ACC_ID_MAX       128
#define ACC_TEXT_MAX     600
#define SERVICES_TICK_MS 100

/* What the inference threads saw since the last flush to the monitor. */
typedef struct {
    int64_t n, n_negative, n_tokens, n_oov;
    double sum_p_positive, sum_confidence;
    float latency_ms[ACC_LATENCY_MAX];
    int n_latency;
    MonitorTweet negatives[ACC_NEG_MAX];
    char neg_id[ACC_NEG_MAX][ACC_ID_MAX];
    char neg_text[ACC_NEG_MAX][ACC_TEXT_MAX];
    int n_negatives;
} Accumulator;

struct Services {
    const WorkerConfig *cfg;
    const Classifier *model;
    PromRegistry *registry;
    WorkerMetrics metrics;
    Monitor *monitor;           /* services thread only; NULL without Redis */
    RedisStore *feedback_store; /* services thread only: predictions for feedback */
    Pipeline *pipeline;
    PipelineStore *store;
    HttpServer *http;
    RateLimitRedis *rate; /* the HTTP limiter shared by the replicas; NULL without Redis */
    Consumer *feedback;
    FeedbackQueue *feedback_queue; /* services thread: feedback held until recorded */
    FeedbackQueueStats last_feedback;
    int feedback_deferred; /* 1 while feedback waits for Redis (logged once per outage) */

    pthread_mutex_t acc_mu;
    Accumulator acc;   /* filled by the inference threads under acc_mu */
    Accumulator flush; /* the services thread's copy */

    pthread_mutex_t predict_mu;
    ClassifierBatch *predict_batch; /* under predict_mu */

    pthread_t thread;
    int thread_started;
    atomic_int stop;
    atomic_int redis_up;
    PipelineStats last; /* services thread: the previous pipeline_stats */
    StoreStats last_store;
    uint64_t last_produce_errors, last_other_redis_errors; /* services thread */
};

/* ---- inference threads --------------------------------------------------------------- */

typedef struct {
    double before_s;
} HookState;

static void *hook_thread_init(void *ctx, int thread_index) {
    (void)ctx;
    (void)thread_index;
    return callocCheck(1, sizeof(HookState));
}

static void hook_thread_free(void *ctx, void *state) {
    (void)ctx;
    free(state);
}

static void hook_before(void *ctx, void *state, PipelineTweet *tweets, int n) {
    (void)ctx;
    (void)tweets;
    (void)n;
    ((HookState *)state)->before_s = util_now_s();
}

static void copy_trunc(char *dst, size_t cap, const char *src, size_t len, size_t *out_len) {
    if (len >= cap) len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    *out_len = len;
}

static void hook_after(void *ctx, void *state, const PipelineTweet *tweets, int n) {
    Services *s = ctx;
    WorkerMetrics *m = &s->metrics;
    prom_histogram_observe(m->inference_seconds, util_now_s() - ((HookState *)state)->before_s);
    prom_histogram_observe(m->batch_size, n);
    for (int i = 0; i < n; i++) {
        prom_counter_inc(&m->scored_total[metrics_is_positive(tweets[i].p_positive)]);
        if (tweets[i].timestamp_ms > 0 && tweets[i].scored_at_ms >= tweets[i].timestamp_ms)
            prom_histogram_observe(m->end_to_end_seconds,
                                   (double)(tweets[i].scored_at_ms - tweets[i].timestamp_ms) / 1000.0);
    }
    if (!s->monitor) return;
    pthread_mutex_lock(&s->acc_mu);
    Accumulator *a = &s->acc;
    for (int i = 0; i < n; i++) {
        const PipelineTweet *t = &tweets[i];
        float p = t->p_positive;
        a->n++;
        a->sum_p_positive += p;
        a->sum_confidence += p > 0.5f ? p : 1.0f - p;
        a->n_tokens += t->tokens;
        a->n_oov += t->oov;
        if (t->timestamp_ms > 0 && a->n_latency < ACC_LATENCY_MAX)
            a->latency_ms[a->n_latency++] = (float)(t->scored_at_ms - t->timestamp_ms);
        if (metrics_is_positive(p)) continue;
        a->n_negative++;
        if (a->n_negatives == ACC_NEG_MAX) continue;
        int k = a->n_negatives++;
        MonitorTweet *mt = &a->negatives[k];
        copy_trunc(a->neg_id[k], ACC_ID_MAX, t->id, t->id_len, &mt->id_len);
        copy_trunc(a->neg_text[k], ACC_TEXT_MAX, t->text, t->text_len, &mt->text_len);
        mt->p_positive = p;
    }
    pthread_mutex_unlock(&s->acc_mu);
}

static void hook_kafka_stats(void *ctx, const char *json, size_t len) {
    worker_metrics_on_rdkafka_stats(&((Services *)ctx)->metrics, json, len);
}

PipelineHooks services_hooks(Services *s) {
    return (PipelineHooks){.ctx = s,
                           .thread_init = hook_thread_init,
                           .thread_free = hook_thread_free,
                           .before_score = hook_before,
                           .after_score = hook_after,
                           .kafka_stats = hook_kafka_stats};
}

/* ---- HTTP hooks (connection threads) ------------------------------------------------- */

static void http_status(void *ctx, HttpStatus *out) {
    Services *s = ctx;
    PipelineStats st;
    pipeline_stats(s->pipeline, &st);
    out->model_loaded = 1;
    out->assigned_partitions = st.assigned > 0 ? st.assigned : -1;
    out->redis_up = atomic_load(&s->redis_up);
    snprintf(out->model_version, sizeof out->model_version, "%s", classifier_version(s->model));
}

static HttpRateVerdict http_rate_check(void *ctx, const char *ip, int64_t now_ms, int limit,
                                       int *retry_after_s) {
    return ratelimit_redis_check(((Services *)ctx)->rate, ip, now_ms, limit, retry_after_s);
}

static const char *http_model_info(void *ctx) { return classifier_header_json(((Services *)ctx)->model); }

static int http_predict(void *ctx, const char *const *texts, const size_t *lens, int n, float *p_positive,
                        char *err, size_t errlen) {
    Services *s = ctx;
    int rc = 0;
    pthread_mutex_lock(&s->predict_mu);
    classifier_batch_reset(s->predict_batch);
    for (int i = 0; i < n && !rc; i++)
        if (classifier_batch_add(s->predict_batch, texts[i], lens[i]) < 0) {
            snprintf(err, errlen, "more texts than the prediction batch holds");
            rc = -1;
        }
    if (!rc) {
        classifier_batch_score(s->predict_batch);
        for (int i = 0; i < n; i++) p_positive[i] = classifier_batch_p(s->predict_batch, i);
    }
    pthread_mutex_unlock(&s->predict_mu);
    return rc;
}

static int http_feedback(void *ctx, const char *id, size_t id_len, int positive, char *err, size_t errlen) {
    Services *s = ctx;
    cJSON *o = cJSON_CreateObject();
    char *idz = strndup(id, id_len);
    char *json = NULL;
    if (o && idz && cJSON_AddStringToObject(o, "id", idz) &&
        cJSON_AddStringToObject(o, "label", positive ? "positive" : "negative"))
        json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    free(idz);
    if (!json) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    rd_kafka_resp_err_t e =
        producer_send(pipeline_producer(s->pipeline), s->cfg->topic_feedback, id, id_len, json, strlen(json));
    free(json);
    if (e) {
        snprintf(err, errlen, "cannot enqueue the feedback: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/* ---- the services thread ------------------------------------------------------------- */

static void on_alert(const Alert *alert, const char *json, void *ctx) {
    Services *s = ctx;
    const char *type = alert_type_name(alert->type);
    prom_counter_inc(worker_metrics_alert_type(&s->metrics, alert->type));
    rd_kafka_resp_err_t err = producer_alert(pipeline_producer(s->pipeline), type, json, strlen(json));
    const char *kv[] = {"type", type, "topic", s->cfg->topic_alerts, NULL};
    if (err)
        log_event(LOG_ERROR, "alert_publish_failed", kv, "cannot publish %s: %s", type,
                  rd_kafka_err2str(err));
    else
        log_event(LOG_INFO, "alert_published", kv, "%s published to %s", type, s->cfg->topic_alerts);
}

/* Failed Redis calls and error replies of the monitor, the feedback store and the
 * HTTP rate limiter, since they were created. */
static uint64_t other_redis_errors(Services *s) {
    uint64_t n = 0;
    if (s->monitor) {
        MonitorStats ms;
        monitor_stats(s->monitor, &ms);
        n += ms.batches_dropped + ms.evaluations_failed + ms.reply_errors;
    }
    if (s->feedback_store) {
        StoreStats fs;
        store_stats(s->feedback_store, &fs);
        n += fs.batches_failed + fs.reply_errors;
    }
    if (s->rate) {
        RateLimitRedisStats rs;
        ratelimit_redis_stats(s->rate, &rs);
        n += rs.unavailable + rs.reply_errors;
    }
    return n;
}

/* pipeline_stats, the producer's and the Redis clients' counters -> metrics (deltas
 * since the last call). */
static void sync_stats(Services *s, int64_t *failed) {
    WorkerMetrics *m = &s->metrics;
    PipelineStats st;
    pipeline_stats(s->pipeline, &st);
    prom_counter_add(m->consumed_total, st.consumed - s->last.consumed);
    *failed = 0;
    for (int r = 0; r <= PIPELINE_PRODUCE_FAILED; r++) {
        uint64_t d = st.dead_letters[r] - s->last.dead_letters[r];
        if (!d) continue;
        const char *reason = r == PIPELINE_PRODUCE_FAILED ? "produce_failed" : tweet_reason((TweetStatus)r);
        prom_counter_add(worker_metrics_dlq(m, reason), d);
        *failed += (int64_t)d;
    }
    prom_gauge_set(m->assigned_partitions, st.assigned);
    s->last = st;
    uint64_t perr = producer_errors(pipeline_producer(s->pipeline));
    prom_counter_add(m->produce_errors_total, perr - s->last_produce_errors);
    s->last_produce_errors = perr;
    uint64_t rerr = other_redis_errors(s);
    prom_counter_add(m->redis_errors_total, rerr - s->last_other_redis_errors);
    s->last_other_redis_errors = rerr;
    if (!s->store) return;
    StoreStats ss;
    pipeline_store_stats(s->store, &ss);
    uint64_t hits = ss.cache_hits - s->last_store.cache_hits;
    prom_counter_add(m->cache_hits_total, hits);
    prom_counter_add(m->cache_misses_total, ss.cache_lookups - s->last_store.cache_lookups - hits);
    prom_counter_add(m->redis_errors_total, (ss.batches_failed - s->last_store.batches_failed) +
                                                (ss.reply_errors - s->last_store.reply_errors));
    s->last_store = ss;
}

/* The accumulator -> monitor_observe_batch (when anything happened), then monitor_tick. */
static void flush_monitor(Services *s, int64_t failed) {
    pthread_mutex_lock(&s->acc_mu);
    Accumulator *f = &s->flush, *a = &s->acc;
    f->n = a->n;
    f->n_negative = a->n_negative;
    f->n_tokens = a->n_tokens;
    f->n_oov = a->n_oov;
    f->sum_p_positive = a->sum_p_positive;
    f->sum_confidence = a->sum_confidence;
    f->n_latency = a->n_latency;
    memcpy(f->latency_ms, a->latency_ms, (size_t)a->n_latency * sizeof *a->latency_ms);
    f->n_negatives = a->n_negatives;
    for (int i = 0; i < a->n_negatives; i++) {
        f->negatives[i] = a->negatives[i];
        memcpy(f->neg_id[i], a->neg_id[i], a->negatives[i].id_len + 1);
        memcpy(f->neg_text[i], a->neg_text[i], a->negatives[i].text_len + 1);
        f->negatives[i].id = f->neg_id[i];
        f->negatives[i].text = f->neg_text[i];
    }
    a->n = a->n_negative = a->n_tokens = a->n_oov = 0;
    a->sum_p_positive = a->sum_confidence = 0;
    a->n_latency = a->n_negatives = 0;
    pthread_mutex_unlock(&s->acc_mu);

    int64_t now = util_wall_ms();
    if (f->n || failed) {
        MonitorBatch b = {f->n,          f->n_negative, f->sum_p_positive, f->sum_confidence, f->n_tokens,
                          f->n_oov,      failed,        f->latency_ms,     f->n_latency,      f->negatives,
                          f->n_negatives};
        monitor_observe_batch(s->monitor, now, &b);
    }
    monitor_tick(s->monitor, now);
}

static const int feedback_metric[FEEDBACK_OUTCOMES] = {WM_FEEDBACK_CORRECT, WM_FEEDBACK_MISCLASSIFIED,
                                                       WM_FEEDBACK_UNKNOWN, -1, -1};

/* Stores the feedback offsets that became committable (the queue's low watermarks). */
static void store_feedback_offsets(Services *s) {
    OffsetCommit oc[64];
    int k;
    while ((k = feedback_queue_collect(s->feedback_queue, oc, 64)) > 0)
        for (int i = 0; i < k; i++) consumer_store(s->feedback, oc[i].partition, oc[i].next);
}

/* The feedback consumer's on_revoke (inside consumer_poll or consumer_close, on the
 * services thread): store what was recorded, then give up what is held. */
static void feedback_on_revoke(void *ctx, const rd_kafka_topic_partition_list_t *parts, int lost) {
    Services *s = ctx;
    if (!lost) store_feedback_offsets(s);
    for (int i = 0; i < parts->cnt; i++) feedback_queue_forget(s->feedback_queue, parts->elems[i].partition);
}

/* The queue's counters -> metrics (deltas since the last call), and its outage logs. */
static void sync_feedback(Services *s, int rc) {
    FeedbackQueueStats st;
    feedback_queue_stats(s->feedback_queue, &st);
    for (int o = 0; o < FEEDBACK_OUTCOMES; o++)
        if (feedback_metric[o] >= 0)
            prom_counter_add(&s->metrics.feedback_total[feedback_metric[o]],
                             st.outcomes[o] - s->last_feedback.outcomes[o]);
    prom_counter_add(s->metrics.feedback_retries_total,
                     st.attempts_failed - s->last_feedback.attempts_failed);
    prom_gauge_set(s->metrics.feedback_waiting, st.waiting);
    s->last_feedback = st;
    char n[24];
    snprintf(n, sizeof n, "%d", st.waiting);
    const char *kv[] = {"waiting", n, NULL};
    if (rc == MONITOR_UNAVAILABLE && !s->feedback_deferred) {
        s->feedback_deferred = 1;
        log_event(LOG_WARN, "feedback_deferred", kv,
                  "Redis unavailable: %d feedback messages kept, not committed, retried with back-off",
                  st.waiting);
    } else if (s->feedback_deferred && rc > 0) {
        s->feedback_deferred = 0;
        log_event(LOG_INFO, "feedback_resumed", kv, "Redis back: held feedback recorded (%d still waiting)",
                  st.waiting);
    }
}

/* Reads up to FEEDBACK_CHUNK feedback messages while the queue has room (waiting up to
 * SERVICES_TICK_MS for the first; only serving the consumer's events when it has none),
 * dead-letters the malformed ones, records what the back-off allows, and stores the
 * offsets of what is done. */
static void poll_feedback(Services *s) {
    int room = feedback_queue_room(s->feedback_queue);
    int want = room < FEEDBACK_CHUNK ? room : FEEDBACK_CHUNK;
    for (int n = 0; n < (want ? want : 1); n++) {
        rd_kafka_message_t *m = consumer_poll(s->feedback, want > 0, n ? 0 : SERVICES_TICK_MS);
        if (!m) break;
        const char *reason = NULL;
        if (!m->err && feedback_queue_push(s->feedback_queue, m->partition, m->offset, m->payload, m->len,
                                           &reason) == 1) {
            DeadLetter d = {m->key,       m->key_len, m->payload, m->len, reason, rd_kafka_topic_name(m->rkt),
                            m->partition, m->offset};
            rd_kafka_resp_err_t err = producer_dead_letter(pipeline_producer(s->pipeline), &d, NULL);
            if (!err) prom_counter_inc(worker_metrics_dlq(&s->metrics, reason));
            const char *kv[] = {"reason", reason, NULL};
            log_event(err ? LOG_ERROR : LOG_WARN, "feedback_invalid", kv,
                      "malformed feedback dead-lettered (%s)%s", reason,
                      err ? ": cannot enqueue the dead letter" : "");
        }
        rd_kafka_message_destroy(m);
    }
    int rc = feedback_queue_run(s->feedback_queue, util_wall_ms());
    sync_feedback(s, rc);
    store_feedback_offsets(s);
}

static void *services_main(void *arg) {
    Services *s = arg;
    while (!atomic_load(&s->stop)) {
        int64_t failed;
        sync_stats(s, &failed);
        if (s->monitor) {
            flush_monitor(s, failed);
            int up = !monitor_unavailable(s->monitor);
            atomic_store(&s->redis_up, up);
            prom_gauge_set(s->metrics.redis_up, up);
        }
        if (s->feedback)
            poll_feedback(s);
        else
            usleep(SERVICES_TICK_MS * 1000);
    }
    int64_t failed;
    sync_stats(s, &failed);
    if (s->monitor) flush_monitor(s, failed);
    return NULL;
}

/* ---- life cycle ---------------------------------------------------------------------- */

Services *services_new(const WorkerConfig *cfg, const Classifier *model, char *err, size_t errlen) {
    Services *s = callocCheck(1, sizeof *s);
    s->cfg = cfg;
    s->model = model;
    pthread_mutex_init(&s->acc_mu, NULL);
    pthread_mutex_init(&s->predict_mu, NULL);
    s->registry = prom_registry_new();
    if (worker_metrics_init(&s->metrics, s->registry, err, errlen)) goto fail;
    worker_metrics_set_model(&s->metrics, classifier_kind(model), classifier_version(model));
    if (strcmp(cfg->redis, "none")) {
        MonitorConfig mc;
        monitor_config_default(&mc);
        mc.url = cfg->redis;
        mc.model_version = classifier_version(model);
        mc.on_alert = on_alert;
        mc.on_alert_ctx = s;
        for (int i = 0; i < cfg->nmonitor; i++)
            if (monitor_config_set(&mc, cfg->monitor[i].key, cfg->monitor[i].value, err, errlen)) goto fail;
        s->monitor = monitor_new(&mc, err, errlen);
        if (!s->monitor) goto fail;
        StoreOptions so;
        store_options_default(&so);
        so.url = cfg->redis;
        so.model_version = classifier_version(model);
        so.max_batch = FEEDBACK_CHUNK;
        s->feedback_store = store_new(&so, err, errlen);
        if (!s->feedback_store) goto fail;
        FeedbackQueueConfig fq;
        feedback_queue_config_default(&fq);
        s->feedback_queue = feedback_queue_new(s->monitor, s->feedback_store, &fq, err, errlen);
        if (!s->feedback_queue) goto fail;
    }
    return s;
fail:
    services_free(s);
    return NULL;
}

int services_start(Services *s, Pipeline *p, PipelineStore *store, const char *bootstrap, char *err,
                   size_t errlen) {
    s->pipeline = p;
    s->store = store;
    atomic_store(&s->redis_up, store != NULL);
    const char *listen = s->cfg->http;
    if (listen && listen[0] && strcmp(listen, "off")) {
        HttpConfig hc;
        http_config_default(&hc);
        hc.listen = listen;
        hc.rate_limit = s->cfg->http_rate_limit;
        s->predict_batch = classifier_batch_new(s->model, hc.max_texts);
        if (strcmp(s->cfg->redis, "none")) {
            RateLimitRedisOptions ro;
            ratelimit_redis_options_default(&ro);
            ro.url = s->cfg->redis;
            s->rate = ratelimit_redis_new(&ro, err, errlen);
            if (!s->rate) return -1;
        }
        HttpHooks hh = {.ctx = s,
                        .status = http_status,
                        .model_info = http_model_info,
                        .predict = http_predict,
                        .feedback = http_feedback,
                        .rate_check = s->rate ? http_rate_check : NULL};
        s->http = http_server_start(&hc, &hh, s->registry, err, errlen);
        if (!s->http) return -1;
        char port[16];
        snprintf(port, sizeof port, "%d", http_server_port(s->http));
        const char *kv[] = {"listen", listen, "port", port, NULL};
        log_event(LOG_INFO, "http_listening", kv, "HTTP server listening on %s (port %s)", listen, port);
    }
    if (s->monitor) {
        rd_kafka_conf_t *conf = config_kafka_conf(s->cfg, KAFKA_CONSUMER, bootstrap, err, errlen);
        if (!conf) return -1;
        char group[512];
        snprintf(group, sizeof group, "%s.feedback", s->cfg->group);
        char e2[256];
        if (rd_kafka_conf_set(conf, "group.id", group, e2, sizeof e2) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "feedback consumer: %s", e2);
            rd_kafka_conf_destroy(conf);
            return -1;
        }
        ConsumerHooks ch = {.ctx = s, .on_revoke = feedback_on_revoke};
        s->feedback = consumer_new(conf, s->cfg->topic_feedback, &ch, err, errlen);
        if (!s->feedback) return -1;
    }
    if (pthread_create(&s->thread, NULL, services_main, s)) {
        snprintf(err, errlen, "cannot start the services thread");
        return -1;
    }
    s->thread_started = 1;
    pthread_setname_np(s->thread, "bz:services");
    return 0;
}

void services_stop(Services *s) {
    if (!s) return;
    atomic_store(&s->stop, 1);
    if (s->thread_started) pthread_join(s->thread, NULL);
    s->thread_started = 0;
    if (s->feedback) consumer_close(s->feedback);
    consumer_free(s->feedback);
    s->feedback = NULL;
    http_server_stop(s->http);
    s->http = NULL;
}

void services_free(Services *s) {
    if (!s) return;
    services_stop(s);
    feedback_queue_free(s->feedback_queue); /* held feedback is read again by the next worker */
    monitor_free(s->monitor);
    store_free(s->feedback_store);
    ratelimit_redis_free(s->rate);
    if (s->predict_batch) classifier_batch_free(s->predict_batch);
    prom_registry_free(s->registry);
    pthread_mutex_destroy(&s->acc_mu);
    pthread_mutex_destroy(&s->predict_mu);
    free(s);
}
