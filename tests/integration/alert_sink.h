/* alert_sink.h — an alert sink for monitor tests: a MonitorConfig.on_alert callback
 * (sink_fn, ctx = a Sink) that keeps each alert's type, severity, time and JSON, and
 * helpers to count, find, print and clear them. Header-only (static inline): each
 * test program includes it once. */
#ifndef BUZZRADAR_TEST_ALERT_SINK_H
#define BUZZRADAR_TEST_ALERT_SINK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/util.h"
#include "worker/alerts.h"

enum { SINK_MAX = 256 }; /* alerts kept; later ones are ignored */

typedef struct {
    int n;
    AlertType type[SINK_MAX];
    AlertSeverity severity[SINK_MAX];
    int64_t at[SINK_MAX];
    char *json[SINK_MAX]; /* owned: sink_clear frees them */
} Sink;

/* The on_alert callback: appends the alert to the Sink ctx (exits on out-of-memory). */
static inline void sink_fn(const Alert *a, const char *json, void *ctx) {
    Sink *s = ctx;
    if (s->n >= SINK_MAX) return;
    s->type[s->n] = a->type;
    s->severity[s->n] = a->severity;
    s->at[s->n] = a->at_ms;
    s->json[s->n] = strdupCheck(json);
    s->n++;
}

/* Frees the kept JSON texts and empties the sink. */
static inline void sink_clear(Sink *s) {
    for (int i = 0; i < s->n; i++) free(s->json[i]);
    memset(s, 0, sizeof *s);
}

/* How many alerts of type t were kept. */
static inline int sink_count(const Sink *s, AlertType t) {
    int k = 0;
    for (int i = 0; i < s->n; i++) k += s->type[i] == t;
    return k;
}

/* The JSON of the first alert of type t, or NULL. */
static inline const char *sink_find(const Sink *s, AlertType t) {
    for (int i = 0; i < s->n; i++)
        if (s->type[i] == t) return s->json[i];
    return NULL;
}

/* Every kept alert's JSON on stderr (for a failing test's message). */
static inline void sink_print(const Sink *s) {
    for (int i = 0; i < s->n; i++) fprintf(stderr, "  alert %d: %s\n", i, s->json[i]);
}

#endif
