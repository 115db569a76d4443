/* feedback_queue.c — feedback messages held until recorded in Redis, retried with a
 * back-off, with commit-safe offsets (see feedback_queue.h). */
#include "worker/feedback_queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/util.h"

/* One message read and not yet handled. */
typedef struct {
    int32_t partition;
    int64_t offset;
    FeedbackItem item; /* id and text point into buf */
    char *buf;         /* owned: id, NUL, text, NUL */
} Held;

struct FeedbackQueue {
    Monitor *monitor;
    RedisStore *store;
    FeedbackQueueConfig cfg;
    OffsetTracker *offsets;
    Held *held; /* oldest first */
    int n, cap;
    int64_t retry_at_ms; /* 0: not backing off */
    int backoff_ms;      /* the next wait after a failed attempt */
    FeedbackQueueStats st;
};

void feedback_queue_config_default(FeedbackQueueConfig *c) {
    *c = (FeedbackQueueConfig){
        .capacity = 1024, .max_per_run = 256, .backoff_min_ms = 100, .backoff_max_ms = 5000};
}

FeedbackQueue *feedback_queue_new(Monitor *m, RedisStore *store, const FeedbackQueueConfig *cfg, char *err,
                                  size_t errlen) {
    if (cfg->capacity < 1 || cfg->max_per_run < 1 || cfg->backoff_min_ms < 1 ||
        cfg->backoff_max_ms < cfg->backoff_min_ms) {
        snprintf(err, errlen,
                 "feedback queue: capacity, max_per_run and back-offs must be >= 1, and "
                 "backoff_min_ms <= backoff_max_ms");
        return NULL;
    }
    FeedbackQueue *q = callocCheck(1, sizeof *q);
    q->monitor = m;
    q->store = store;
    q->cfg = *cfg;
    q->offsets = offsets_new(64);
    q->cap = 64;
    q->held = mallocCheck((size_t)q->cap * sizeof *q->held);
    q->backoff_ms = cfg->backoff_min_ms;
    return q;
}

void feedback_queue_free(FeedbackQueue *q) {
    if (!q) return;
    for (int i = 0; i < q->n; i++) free(q->held[i].buf);
    free(q->held);
    offsets_free(q->offsets);
    free(q);
}

int feedback_queue_decode(const char *json, size_t len, cJSON **doc, FeedbackItem *it, const char **reason) {
    *doc = cJSON_ParseWithLength(json, len);
    const cJSON *j = *doc;
    if (!cJSON_IsObject(j)) return *reason = "invalid_json", -1;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(j, "label");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
    if (!cJSON_IsString(id) || !id->valuestring[0]) return *reason = "missing_id", -1;
    if (cJSON_IsString(label) && !strcmp(label->valuestring, "positive"))
        it->positive = 1;
    else if (cJSON_IsString(label) && !strcmp(label->valuestring, "negative"))
        it->positive = 0;
    else if (cJSON_IsNumber(label) && (label->valuedouble == 0 || label->valuedouble == 1))
        it->positive = label->valuedouble == 1;
    else
        return *reason = "invalid_label", -1;
    it->id = id->valuestring;
    it->id_len = strlen(id->valuestring);
    it->text = cJSON_IsString(text) ? text->valuestring : NULL;
    it->text_len = it->text ? strlen(it->text) : 0;
    return 0;
}

/* Removes the held messages for which drop(h, arg) is true, keeping the order. Returns
 * how many were removed. */
static int remove_if(FeedbackQueue *q, int (*drop)(const Held *h, const void *arg), const void *arg) {
    int k = 0;
    for (int i = 0; i < q->n; i++) {
        if (drop(&q->held[i], arg)) {
            free(q->held[i].buf);
            continue;
        }
        q->held[k++] = q->held[i];
    }
    int removed = q->n - k;
    q->n = k;
    return removed;
}

static int from_offset(const Held *h, const void *arg) {
    const Held *at = arg;
    return h->partition == at->partition && h->offset >= at->offset;
}

static int in_partition(const Held *h, const void *arg) { return h->partition == *(const int32_t *)arg; }

static int is_done(const Held *h, const void *arg) {
    (void)arg;
    return h->buf == NULL;
}

int feedback_queue_push(FeedbackQueue *q, int32_t partition, int64_t offset, const void *payload, size_t len,
                        const char **reason) {
    int rc = offsets_begin(q->offsets, partition, offset);
    if (rc < 0) return -1;
    if (rc == 1) { /* rewound: what was held from there on comes again */
        Held at = {.partition = partition, .offset = offset};
        q->st.dropped += (uint64_t)remove_if(q, from_offset, &at);
    }
    q->st.received++;
    cJSON *doc;
    FeedbackItem it;
    if (feedback_queue_decode(payload, len, &doc, &it, reason) != 0) {
        cJSON_Delete(doc);
        q->st.malformed++;
        offsets_done(q->offsets, partition, offset);
        return 1;
    }
    Held h = {.partition = partition, .offset = offset};
    h.buf = mallocCheck(it.id_len + it.text_len + 2);
    memcpy(h.buf, it.id, it.id_len + 1);
    h.item = (FeedbackItem){h.buf, it.id_len, it.positive, NULL, 0};
    if (it.text) {
        h.item.text = h.buf + it.id_len + 1;
        h.item.text_len = it.text_len;
        memcpy(h.buf + it.id_len + 1, it.text, it.text_len + 1);
    }
    cJSON_Delete(doc);
    if (q->n == q->cap) {
        q->cap *= 2;
        q->held = reallocCheck(q->held, (size_t)q->cap * sizeof *q->held);
    }
    q->held[q->n++] = h;
    return 0;
}

int feedback_queue_run(FeedbackQueue *q, int64_t now_ms) {
    if (q->n == 0 || (q->retry_at_ms && now_ms < q->retry_at_ms)) return 0;
    FeedbackItem items[FEEDBACK_CHUNK];
    FeedbackOutcome out[FEEDBACK_CHUNK];
    int handled = 0, unavailable = 0;
    int limit = q->n < q->cfg.max_per_run ? q->n : q->cfg.max_per_run;
    for (int base = 0; base < limit && !unavailable; base += FEEDBACK_CHUNK) {
        int k = limit - base < FEEDBACK_CHUNK ? limit - base : FEEDBACK_CHUNK;
        for (int i = 0; i < k; i++) items[i] = q->held[base + i].item;
        unavailable = feedback_handle(q->monitor, q->store, items, k, now_ms, out) == MONITOR_UNAVAILABLE;
        for (int i = 0; i < k; i++) {
            if (out[i] == FEEDBACK_UNAVAILABLE) continue;
            Held *h = &q->held[base + i];
            offsets_done(q->offsets, h->partition, h->offset);
            free(h->buf);
            h->buf = NULL; /* done: removed below */
            q->st.outcomes[out[i]]++;
            handled++;
        }
    }
    remove_if(q, is_done, NULL);
    q->st.handled += (uint64_t)handled;
    if (!unavailable) {
        q->retry_at_ms = 0;
        q->backoff_ms = q->cfg.backoff_min_ms;
        return handled;
    }
    q->st.attempts_failed++;
    q->retry_at_ms = now_ms + q->backoff_ms;
    q->backoff_ms = q->backoff_ms > q->cfg.backoff_max_ms / 2 ? q->cfg.backoff_max_ms : 2 * q->backoff_ms;
    return MONITOR_UNAVAILABLE;
}

int64_t feedback_queue_retry_at(const FeedbackQueue *q) { return q->retry_at_ms; }

int feedback_queue_waiting(const FeedbackQueue *q) { return q->n; }

int feedback_queue_room(const FeedbackQueue *q) {
    return q->n < q->cfg.capacity ? q->cfg.capacity - q->n : 0;
}

int feedback_queue_collect(FeedbackQueue *q, OffsetCommit *out, int max) {
    return offsets_collect(q->offsets, out, max);
}

void feedback_queue_forget(FeedbackQueue *q, int32_t partition) {
    q->st.dropped += (uint64_t)remove_if(q, in_partition, &partition);
    offsets_forget(q->offsets, partition);
}

void feedback_queue_stats(const FeedbackQueue *q, FeedbackQueueStats *out) {
    *out = q->st;
    out->waiting = q->n;
}
