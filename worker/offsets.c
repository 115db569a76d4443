/* offsets.c — per-partition rings of in-flight offsets and their low watermarks
 * (see offsets.h). */
#include "worker/offsets.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/util.h"

/* One partition: a ring of registered messages in consumption order (so offsets rise
 * from head to tail), each with a done flag. */
typedef struct {
    int64_t *offset; /* (cap) */
    uint8_t *done;   /* (cap) */
    int cap, head, len;
    int64_t last_begun; /* last registered offset, -1 when none */
    int64_t watermark;  /* committable offset, -1 when nothing finished */
    int64_t reported;   /* watermark at the last collect, -1 when none */
} PartitionRing;

struct OffsetTracker {
    pthread_mutex_t mu;
    pthread_cond_t changed; /* broadcast whenever pending messages were passed or forgotten */
    PartitionRing *parts;   /* indexed by partition id, (nparts) */
    int nparts;
    int capacity;          /* initial ring size */
    int64_t pending_total; /* sum of ring lengths */
};

static void ring_reset(PartitionRing *r) {
    r->head = 0;
    r->len = 0;
    r->last_begun = -1;
    r->watermark = -1;
    r->reported = -1;
}

OffsetTracker *offsets_new(int capacity) {
    OffsetTracker *t = callocCheck(1, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->changed, &attr);
    pthread_condattr_destroy(&attr);
    t->capacity = capacity < 1 ? 1 : capacity;
    return t;
}

void offsets_free(OffsetTracker *t) {
    if (!t) return;
    for (int p = 0; p < t->nparts; p++) {
        free(t->parts[p].offset);
        free(t->parts[p].done);
    }
    free(t->parts);
    pthread_cond_destroy(&t->changed);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* The ring of a partition, created (with the table grown) on first use. Lock held. */
static PartitionRing *ring_get(OffsetTracker *t, int32_t partition) {
    if (partition >= t->nparts) {
        int n = t->nparts ? t->nparts : 8;
        while (n <= partition) n *= 2;
        t->parts = reallocCheck(t->parts, (size_t)n * sizeof *t->parts);
        memset(t->parts + t->nparts, 0, (size_t)(n - t->nparts) * sizeof *t->parts);
        for (int p = t->nparts; p < n; p++) ring_reset(&t->parts[p]);
        t->nparts = n;
    }
    PartitionRing *r = &t->parts[partition];
    if (!r->offset) {
        r->cap = t->capacity;
        r->offset = mallocCheck((size_t)r->cap * sizeof *r->offset);
        r->done = mallocCheck((size_t)r->cap);
    }
    return r;
}

/* Doubles a full ring, unrolling it so that head is 0. */
static void ring_grow(PartitionRing *r) {
    int cap = r->cap * 2;
    int64_t *offset = mallocCheck((size_t)cap * sizeof *offset);
    uint8_t *done = mallocCheck((size_t)cap);
    for (int i = 0; i < r->len; i++) {
        int j = (r->head + i) % r->cap;
        offset[i] = r->offset[j];
        done[i] = r->done[j];
    }
    free(r->offset);
    free(r->done);
    r->offset = offset;
    r->done = done;
    r->cap = cap;
    r->head = 0;
}

int offsets_begin(OffsetTracker *t, int32_t partition, int64_t offset) {
    if (partition < 0 || offset < 0) return -1;
    pthread_mutex_lock(&t->mu);
    PartitionRing *r = ring_get(t, partition);
    int rewound = 0;
    if (r->last_begun >= 0 && offset <= r->last_begun) {
        t->pending_total -= r->len;
        ring_reset(r);
        rewound = 1;
    }
    if (r->len == r->cap) ring_grow(r);
    int tail = (r->head + r->len) % r->cap;
    r->offset[tail] = offset;
    r->done[tail] = 0;
    r->len++;
    r->last_begun = offset;
    t->pending_total++;
    pthread_mutex_unlock(&t->mu);
    return rewound;
}

/* Index in the ring (0 = head) of `offset`, or -1. Offsets rise along the ring. */
static int ring_find(const PartitionRing *r, int64_t offset) {
    int lo = 0, hi = r->len - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int64_t v = r->offset[(r->head + mid) % r->cap];
        if (v == offset) return mid;
        if (v < offset)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

int offsets_done(OffsetTracker *t, int32_t partition, int64_t offset) {
    int rc = -1;
    pthread_mutex_lock(&t->mu);
    if (partition >= 0 && partition < t->nparts) {
        PartitionRing *r = &t->parts[partition];
        int i = r->len ? ring_find(r, offset) : -1;
        if (i >= 0 && !r->done[(r->head + i) % r->cap]) {
            r->done[(r->head + i) % r->cap] = 1;
            int passed = 0;
            while (r->len > 0 && r->done[r->head]) {
                r->watermark = r->offset[r->head] + 1;
                r->head = (r->head + 1) % r->cap;
                r->len--;
                passed++;
            }
            t->pending_total -= passed;
            if (passed) pthread_cond_broadcast(&t->changed);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int64_t offsets_pending(OffsetTracker *t, int32_t partition) {
    pthread_mutex_lock(&t->mu);
    int64_t n = partition >= 0 && partition < t->nparts ? t->parts[partition].len : 0;
    pthread_mutex_unlock(&t->mu);
    return n;
}

int64_t offsets_pending_total(OffsetTracker *t) {
    pthread_mutex_lock(&t->mu);
    int64_t n = t->pending_total;
    pthread_mutex_unlock(&t->mu);
    return n;
}

int offsets_collect(OffsetTracker *t, OffsetCommit *out, int max) {
    int n = 0;
    pthread_mutex_lock(&t->mu);
    for (int p = 0; p < t->nparts && n < max; p++) {
        PartitionRing *r = &t->parts[p];
        if (r->watermark >= 0 && r->watermark != r->reported) {
            out[n].partition = p;
            out[n].next = r->watermark;
            r->reported = r->watermark;
            n++;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return n;
}

int64_t offsets_committable(OffsetTracker *t, int32_t partition) {
    pthread_mutex_lock(&t->mu);
    int64_t w = partition >= 0 && partition < t->nparts ? t->parts[partition].watermark : -1;
    pthread_mutex_unlock(&t->mu);
    return w;
}

void offsets_forget(OffsetTracker *t, int32_t partition) {
    pthread_mutex_lock(&t->mu);
    if (partition >= 0 && partition < t->nparts) {
        PartitionRing *r = &t->parts[partition];
        t->pending_total -= r->len;
        ring_reset(r);
        pthread_cond_broadcast(&t->changed);
    }
    pthread_mutex_unlock(&t->mu);
}

/* Now + timeout_ms on the monotonic clock (the clock of the condition variable). */
static struct timespec deadline_in(int timeout_ms) {
    struct timespec d;
    clock_gettime(CLOCK_MONOTONIC, &d);
    d.tv_sec += timeout_ms / 1000;
    d.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (d.tv_nsec >= 1000000000L) {
        d.tv_sec++;
        d.tv_nsec -= 1000000000L;
    }
    return d;
}

int offsets_wait_below(OffsetTracker *t, int64_t limit, int timeout_ms) {
    struct timespec deadline = deadline_in(timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&t->mu);
    while (t->pending_total >= limit)
        if (pthread_cond_timedwait(&t->changed, &t->mu, &deadline) == ETIMEDOUT) {
            rc = t->pending_total >= limit ? -1 : 0;
            break;
        }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

int offsets_wait_drained(OffsetTracker *t, const int32_t *partitions, int n, int timeout_ms) {
    struct timespec deadline = deadline_in(timeout_ms);
    int rc = 0, timed_out = 0;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        int busy = 0;
        for (int i = 0; i < n && !busy; i++) {
            int32_t p = partitions[i];
            busy = p >= 0 && p < t->nparts && t->parts[p].len > 0;
        }
        if (!busy) break;
        if (timed_out) {
            rc = -1;
            break;
        }
        timed_out = pthread_cond_timedwait(&t->changed, &t->mu, &deadline) == ETIMEDOUT;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}
