/* worker_metrics.c — registration of the worker's metric set (worker_metrics.h) and
 * the consumer lag read from librdkafka's statistics. */
#include "worker/worker_metrics.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *const wm_labels[WM_LABEL_COUNT] = {"negative", "positive"};
static const char *const wm_dlq_reasons[WM_DLQ_COUNT] = {
    "invalid_json", "missing_id",     "missing_text",  "empty_text", "too_large",
    "invalid_utf8", "produce_failed", "invalid_label", "other",
};
static const char *const wm_feedback_results[WM_FEEDBACK_COUNT] = {"correct", "misclassified", "unknown"};

/* Latency buckets in seconds: 0.5 ms .. 5 s, with edges at the latency alert
 * thresholds (150 ms, 200 ms) so their p95 estimates interpolate inside small buckets. */
static const double wm_latency_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                           0.15,   0.2,   0.25,   0.5,   1.0,  2.5,   5.0};
static const double wm_batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
static const char *const wm_info_labels[] = {"model", "version"};

#define WM_N(a) ((int)(sizeof(a) / sizeof((a)[0])))

int worker_metrics_init(WorkerMetrics *m, PromRegistry *r, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    m->registry = r;
    m->consumed_total = prom_counter_register(r, "buzzradar_consumed_total",
                                              "Messages read from the input topic.", NULL, NULL, 0);
    m->scored_total =
        prom_counter_register(r, "buzzradar_scored_total", "Scored events produced, by predicted label.",
                              "label", wm_labels, WM_LABEL_COUNT);
    m->dlq_total =
        prom_counter_register(r, "buzzradar_dead_letters_total", "Messages sent to the dead-letter topic.",
                              "reason", wm_dlq_reasons, WM_DLQ_COUNT);
    m->produce_errors_total = prom_counter_register(
        r, "buzzradar_produce_errors_total", "Produced messages whose delivery failed.", NULL, NULL, 0);
    m->cache_hits_total = prom_counter_register(r, "buzzradar_cache_hits_total",
                                                "Texts scored from the Redis score cache.", NULL, NULL, 0);
    m->cache_misses_total = prom_counter_register(r, "buzzradar_cache_misses_total",
                                                  "Texts not found in the Redis score cache.", NULL, NULL, 0);
    m->redis_errors_total =
        prom_counter_register(r, "buzzradar_redis_errors_total", "Failed Redis round trips.", NULL, NULL, 0);
    const char *alert_types[WM_ALERT_COUNT]; /* copied by the registry */
    for (int t = 0; t < ALERT_TYPE_COUNT; t++) alert_types[t] = alert_type_name((AlertType)t);
    alert_types[WM_ALERT_OTHER] = "other";
    m->alerts_total =
        prom_counter_register(r, "buzzradar_alerts_total", "Alerts raised by this worker, by type.", "type",
                              alert_types, WM_ALERT_COUNT);
    m->feedback_total = prom_counter_register(r, "buzzradar_feedback_total",
                                              "Human corrections consumed, by comparison result.", "result",
                                              wm_feedback_results, WM_FEEDBACK_COUNT);
    m->inference_seconds =
        prom_histogram_register(r, "buzzradar_inference_seconds",
                                "Duration of one batch from its cache look-up's answer to its scores: the "
                                "forward pass, and the next batch's look-up being sent.",
                                wm_latency_bounds, WM_N(wm_latency_bounds), NULL, NULL, 0);
    m->end_to_end_seconds =
        prom_histogram_register(r, "buzzradar_end_to_end_seconds",
                                "Input message timestamp to scored (before the scored event is produced).",
                                wm_latency_bounds, WM_N(wm_latency_bounds), NULL, NULL, 0);
    m->batch_size = prom_histogram_register(r, "buzzradar_batch_size", "Tweets per inference batch.",
                                            wm_batch_bounds, WM_N(wm_batch_bounds), NULL, NULL, 0);
    m->consumer_lag = prom_gauge_register(
        r, "buzzradar_consumer_lag", "Messages behind the high watermark, summed over assigned partitions.",
        NULL, NULL, 0);
    m->assigned_partitions = prom_gauge_register(r, "buzzradar_assigned_partitions",
                                                 "Input partitions assigned to this worker.", NULL, NULL, 0);
    m->redis_up = prom_gauge_register(r, "buzzradar_redis_up", "1 when Redis answered the last round trip.",
                                      NULL, NULL, 0);
    m->model_info = prom_info_register(r, "buzzradar_model_info", "The model being served.", wm_info_labels,
                                       WM_N(wm_info_labels));

    const void *fields[] = {
        m->consumed_total,   m->scored_total,        m->dlq_total,          m->produce_errors_total,
        m->cache_hits_total, m->cache_misses_total,  m->redis_errors_total, m->alerts_total,
        m->feedback_total,   m->inference_seconds,   m->end_to_end_seconds, m->batch_size,
        m->consumer_lag,     m->assigned_partitions, m->redis_up,           m->model_info};
    for (int i = 0; i < WM_N(fields); i++) {
        if (!fields[i]) {
            snprintf(err, errlen, "worker metrics: %s", prom_registry_error(r));
            return -1;
        }
    }
    m->feedback_retries_total = prom_counter_register(
        r, "buzzradar_feedback_retries_total",
        "Feedback handling attempts that found Redis unavailable (the messages are kept and retried).", NULL,
        NULL, 0);
    m->feedback_waiting =
        prom_gauge_register(r, "buzzradar_feedback_waiting",
                            "Feedback messages read and held until Redis records them.", NULL, NULL, 0);
    if (!m->feedback_retries_total || !m->feedback_waiting) {
        snprintf(err, errlen, "worker metrics: %s", prom_registry_error(r));
        return -1;
    }
    return 0;
}

static int wm_index(const char *const *names, int n, const char *name) {
    for (int i = 0; name && i < n - 1; i++)
        if (strcmp(names[i], name) == 0) return i;
    return n - 1; /* the last entry is "other" */
}

PromCounter *worker_metrics_dlq(WorkerMetrics *m, const char *reason) {
    return &m->dlq_total[wm_index(wm_dlq_reasons, WM_DLQ_COUNT, reason)];
}

PromCounter *worker_metrics_alert(WorkerMetrics *m, const char *type) {
    AlertType t;
    return worker_metrics_alert_type(m, type && alert_type_parse(type, &t) == 0 ? t : ALERT_TYPE_COUNT);
}

PromCounter *worker_metrics_alert_type(WorkerMetrics *m, AlertType t) {
    return &m->alerts_total[(unsigned)t < ALERT_TYPE_COUNT ? (int)t : WM_ALERT_OTHER];
}

void worker_metrics_set_model(WorkerMetrics *m, const char *kind, const char *version) {
    const char *values[] = {kind, version};
    prom_info_set(m->model_info, values);
}

int worker_metrics_consumer_lag(const char *json, size_t len, int64_t *lag, int *npartitions) {
    cJSON *root = cJSON_ParseWithLength(json, len);
    const cJSON *topics = cJSON_GetObjectItemCaseSensitive(root, "topics");
    if (!cJSON_IsObject(topics)) {
        cJSON_Delete(root);
        return -1;
    }
    int64_t sum = 0;
    int n = 0;
    const cJSON *topic;
    cJSON_ArrayForEach(topic, topics) {
        const cJSON *parts = cJSON_GetObjectItemCaseSensitive(topic, "partitions");
        const cJSON *part;
        cJSON_ArrayForEach(part, parts) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(part, "partition");
            const cJSON *l = cJSON_GetObjectItemCaseSensitive(part, "consumer_lag");
            if (!cJSON_IsNumber(id) || id->valuedouble < 0 || !cJSON_IsNumber(l) || l->valuedouble < 0)
                continue;
            sum += (int64_t)l->valuedouble;
            n++;
        }
    }
    cJSON_Delete(root);
    *lag = sum;
    *npartitions = n;
    return 0;
}

int worker_metrics_on_rdkafka_stats(WorkerMetrics *m, const char *json, size_t len) {
    int64_t lag;
    int n;
    if (worker_metrics_consumer_lag(json, len, &lag, &n) != 0) return -1;
    prom_gauge_set(m->consumer_lag, (double)lag);
    return 0;
}
