/* services.h — what `buzzradar run` runs beside the pipeline: the metrics registry
 * (worker_metrics.h), the HTTP server (http.h), the monitor (monitor.h) and the
 * feedback consumer (feedback.h).
 *
 *   inference threads  services_hooks().after_score -> metric counters, and a per-batch
 *                      summary into a mutex-protected accumulator
 *   services thread    every ~100 ms: pipeline_stats -> counters and gauges; the
 *                      accumulator -> monitor_observe_batch; monitor_tick; the
 *                      feedback topic -> feedback_queue (feedback_queue.h) ->
 *                      feedback_handle (malformed: dead letter)
 *   HTTP threads       status, model info, predict (one ClassifierBatch under a mutex),
 *                      rate_check (ratelimit_redis.h: its own pool of Redis connections,
 *                      shared by the replicas; when it cannot answer, the server's
 *                      in-process limiter decides)
 *
 * The Monitor and the feedback consumer belong to the services thread only. The
 * feedback consumer joins the group "<group>.feedback" (its own group: its joins and
 * leaves never rebalance the input topic's members); its offsets are stored only for
 * messages recorded in Redis (or dead-lettered), as each partition's contiguous low
 * watermark: while Redis is unavailable the messages are held and retried with a
 * back-off (buzzradar_feedback_retries_total), never committed past, and a stop leaves
 * them to be read again. */
#ifndef BUZZRADAR_SERVICES_H
#define BUZZRADAR_SERVICES_H

#include <stddef.h>

#include "model/classifier.h"
#include "worker/config.h"
#include "worker/pipeline.h"
#include "worker/pipeline_store.h"

typedef struct Services Services;

/* Creates the registry and the metric set (model info set from model), and, unless
 * cfg->redis is "none", the monitor. cfg and model must outlive it. Returns NULL with a
 * one-line reason in err (bad Redis URL or monitor settings). */
Services *services_new(const WorkerConfig *cfg, const Classifier *model, char *err, size_t errlen);

/* The per-batch hooks that count scored tweets and feed the monitor (any number of
 * inference threads). */
PipelineHooks services_hooks(Services *s);

/* Starts the HTTP server on cfg->http ("off" or "" disables it; the bound port is
 * logged as "http_listening") and the services thread (feedback consumer on
 * cfg->topic_feedback when Redis is configured). store (may be NULL) reports Redis
 * health; bootstrap is the embedded cluster's address or NULL. Returns 0, or -1 with a
 * reason in err (address in use, librdkafka refused the configuration). */
int services_start(Services *s, Pipeline *p, PipelineStore *store, const char *bootstrap, char *err,
                   size_t errlen);

/* Stops the services thread and the HTTP server (call before pipeline_free). NULL and
 * a Services never started are fine. */
void services_stop(Services *s);

/* Frees everything (after services_stop). NULL is fine. */
void services_free(Services *s);

#endif
