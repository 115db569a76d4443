/* worker_metrics.h — the stream worker's metric set, defined in one place: every
 * counter, gauge and histogram that `buzzradar run` exports on GET /metrics, as named
 * fields the pipeline, the monitor and the HTTP server update directly.
 *
 *     WorkerMetrics m;
 *     worker_metrics_init(&m, registry, err, sizeof err);
 *     prom_counter_inc(m.consumed_total);
 *     prom_counter_inc(&m.scored_total[metrics_is_positive(p)]);   // WM_NEGATIVE / WM_POSITIVE
 *     prom_counter_inc(worker_metrics_dlq(&m, "invalid_json"));
 *     prom_histogram_observe(m.inference_seconds, seconds);
 *
 * Updates are lock-free and allocation-free (worker/prom.h). Labelled families are
 * arrays indexed by the enums below, in the order of their label values. */
#ifndef BUZZRADAR_WORKER_METRICS_H
#define BUZZRADAR_WORKER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "worker/alerts.h"
#include "worker/prom.h"

/* scored_total{label}: index by metrics_is_positive(p). */
enum { WM_NEGATIVE = 0, WM_POSITIVE = 1, WM_LABEL_COUNT };

/* dead_letters_total{reason}: DESIGN.md's reason codes (every tweet_reason), the
 * pipeline's "produce_failed", the feedback consumer's "invalid_label", then "other". */
enum {
    WM_DLQ_INVALID_JSON,
    WM_DLQ_MISSING_ID,
    WM_DLQ_MISSING_TEXT,
    WM_DLQ_EMPTY_TEXT,
    WM_DLQ_TOO_LARGE,
    WM_DLQ_INVALID_UTF8,
    WM_DLQ_PRODUCE_FAILED,
    WM_DLQ_INVALID_LABEL,
    WM_DLQ_OTHER,
    WM_DLQ_COUNT
};

/* alerts_total{type}: one series per AlertType (worker/alerts.h), in its order and
 * named by alert_type_name, so that a new alert type is counted without a change
 * here; then "other". */
#define WM_ALERT_OTHER ALERT_TYPE_COUNT
#define WM_ALERT_COUNT (ALERT_TYPE_COUNT + 1)

/* feedback_total{result}: the correction agreed with the stored prediction, contradicted
 * it, or found no prediction (expired or never scored). */
enum { WM_FEEDBACK_CORRECT, WM_FEEDBACK_MISCLASSIFIED, WM_FEEDBACK_UNKNOWN, WM_FEEDBACK_COUNT };

typedef struct {
    PromRegistry *registry; /* not owned */

    PromCounter *consumed_total;       /* messages read from the input topic */
    PromCounter *scored_total;         /* [WM_LABEL_COUNT] scored events produced, by label */
    PromCounter *dlq_total;            /* [WM_DLQ_COUNT] messages dead-lettered, by reason */
    PromCounter *produce_errors_total; /* produce calls refused and delivery reports with an error */
    PromCounter *cache_hits_total;     /* texts scored from the Redis cache */
    PromCounter *cache_misses_total;   /* texts the cache did not know */
    PromCounter *redis_errors_total;   /* failed Redis round trips */
    PromCounter *alerts_total;         /* [WM_ALERT_COUNT] alerts raised, by type */
    PromCounter *feedback_total;       /* [WM_FEEDBACK_COUNT] corrections consumed, by result */

    PromHistogram *inference_seconds;  /* one batched forward pass */
    PromHistogram *end_to_end_seconds; /* input message timestamp -> scored (before producing its event) */
    PromHistogram *batch_size;         /* tweets per inference batch */

    PromGauge *consumer_lag;        /* messages behind the high watermark, summed over partitions */
    PromGauge *assigned_partitions; /* partitions of the input topic assigned to this worker */
    PromGauge *redis_up;            /* 1 when the last Redis round trip worked, else 0 */

    PromInfo *model_info; /* buzzradar_model_info{model,version} 1 */

    PromCounter *feedback_retries_total; /* feedback attempts that found Redis unavailable (kept, retried) */
    PromGauge *feedback_waiting;         /* feedback messages held until Redis records them */
} WorkerMetrics;

/* Registers the whole set into r (which must not already hold it) and points m's
 * fields at the series. Returns 0, or -1 with the reason in err (a name clash). */
int worker_metrics_init(WorkerMetrics *m, PromRegistry *r, char *err, size_t errlen);

/* The dead_letters_total series of a reason code ("invalid_json", ...); unknown codes
 * (and NULL) count as "other". Never NULL. */
PromCounter *worker_metrics_dlq(WorkerMetrics *m, const char *reason);

/* The alerts_total series of an alert type ("negative_surge", ...); unknown types
 * (and NULL) count as "other". Never NULL. */
PromCounter *worker_metrics_alert(WorkerMetrics *m, const char *type);

/* The alerts_total series of t; an invalid t counts as "other". Never NULL. */
PromCounter *worker_metrics_alert_type(WorkerMetrics *m, AlertType t);

/* Sets buzzradar_model_info{model=kind,version=version} 1 (call after loading a model). */
void worker_metrics_set_model(WorkerMetrics *m, const char *kind, const char *version);

/* Parses a librdkafka statistics JSON document (the stats_cb payload) and sums
 * consumer_lag over every partition of every topic whose lag is known (>= 0; the
 * internal partition -1 and partitions not fetched report -1 and are skipped).
 * Returns 0 with *lag and *npartitions (partitions summed) set, or -1 when the text
 * is not JSON or has no "topics" object (outputs untouched). */
int worker_metrics_consumer_lag(const char *json, size_t len, int64_t *lag, int *npartitions);

/* worker_metrics_consumer_lag, then sets the consumer_lag gauge. For rd_kafka's
 * stats_cb (any thread). Returns 0, or -1 when the document is unusable (gauge kept). */
int worker_metrics_on_rdkafka_stats(WorkerMetrics *m, const char *json, size_t len);

#endif
