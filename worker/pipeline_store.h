/* pipeline_store.h — the pipeline's Redis stages (worker/redis_store.h) as pipeline
 * hooks: before the model, the score cache of identical normalised texts for the
 * whole batch in one round trip (hits skip the model); after it, bz:pred:{id} for
 * every tweet (with its raw text, for feedback export) and the cache entry of every
 * text the model scored, in one round trip: sent before the batch's scored events are
 * produced, its replies read with the next batch's (or when the thread goes idle), so
 * Redis runs the writes while the thread works. The writes reach Redis before the
 * events reach Kafka. The next batch's look-up is sent before this batch is scored
 * (the lookahead hook), so that Redis answers it while the model runs.
 *
 * Each inference thread gets two RedisStores (two connections: look-ups, writes),
 * so that neither round trip waits for the other. Redis trouble
 * never blocks scoring: lookups then miss and writes are dropped, counted in the
 * stores' statistics (pipeline_store_stats). */
#ifndef BUZZRADAR_PIPELINE_STORE_H
#define BUZZRADAR_PIPELINE_STORE_H

#include <stddef.h>

#include "worker/pipeline.h"
#include "worker/redis_store.h"

typedef struct PipelineStore PipelineStore;

/* Checks the URL (a bad one is an error here, at start-up); connections are made by
 * each thread. model_version is written with every prediction and cache entry.
 * Returns NULL with a one-line reason in err. */
PipelineStore *pipeline_store_new(const char *url, const char *model_version, int max_batch, char *err,
                                  size_t errlen);
void pipeline_store_free(PipelineStore *s);

/* The hooks to give pipeline_new; s must outlive the pipeline. */
PipelineHooks pipeline_store_hooks(PipelineStore *s);

/* The sum of the counters of every thread's store (any thread). */
void pipeline_store_stats(PipelineStore *s, StoreStats *out);

#endif
