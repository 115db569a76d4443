/* scored_event.h — the JSON value of a scored event on the output topic (DESIGN.md,
 * "Messages"):
 *
 *   {"id":"...","text":"...","label":"negative|positive","p_positive":0.93,
 *    "model":"bilstm","model_version":"...","oov_ratio":0.05,"tokens":12,
 *    "scored_at":"2026-11-25T06:00:00.123Z","latency_ms":1.2,
 *    "source":{"topic":"tweets.raw","partition":3,"offset":1234}}
 *
 * label is positive when p_positive >= 0.5; p_positive is printed rounded to 6
 * decimals (classifier_round_p), the value `buzzradar predict` prints for the same
 * text. latency_ms is the time the tweet spent in the worker, from consumption to
 * scoring. */
#ifndef BUZZRADAR_SCORED_EVENT_H
#define BUZZRADAR_SCORED_EVENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *id; /* valid UTF-8, id_len bytes */
    size_t id_len;
    const char *text; /* valid UTF-8, text_len bytes */
    size_t text_len;
    float p_positive;
    const char *model, *model_version;
    int tokens, oov; /* tokens the model saw, and how many it did not know */
    int64_t scored_at_ms;
    double latency_ms;
    const char *topic; /* where the tweet came from */
    int32_t partition;
    int64_t offset;
} ScoredEvent;

/* Bytes scored_event_encode may need, at most, for these lengths (model names and
 * topic included). */
size_t scored_event_bound(const ScoredEvent *e);

/* Writes the event's JSON into buf (NUL-terminated). Returns its length, or 0 when
 * cap is too small. Allocates nothing. */
size_t scored_event_encode(const ScoredEvent *e, char *buf, size_t cap);

#endif
