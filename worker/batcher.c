/* batcher.c — a ring buffer under one mutex with a condition variable for consumers
 * (see batcher.h). */
#include "worker/batcher.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "model/util.h"

struct Batcher {
    pthread_mutex_t mu;
    pthread_cond_t ready; /* an item arrived, or the queue closed */
    void **items;         /* (capacity) ring */
    double *pushed_s;     /* (capacity) push times */
    int capacity, head, len;
    int flushed; /* the first `flushed` queued items are ready (batcher_flush) */
    int max_batch;
    double max_wait_s;
    int closed;
};

Batcher *batcher_new(int capacity, int max_batch, int max_wait_ms) {
    Batcher *b = callocCheck(1, sizeof *b);
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* the clock of util_now_s */
    pthread_cond_init(&b->ready, &attr);
    pthread_condattr_destroy(&attr);
    b->capacity = capacity < 1 ? 1 : capacity;
    b->items = mallocCheck((size_t)b->capacity * sizeof *b->items);
    b->pushed_s = mallocCheck((size_t)b->capacity * sizeof *b->pushed_s);
    b->max_batch = max_batch < 1 ? 1 : max_batch;
    b->max_wait_s = (max_wait_ms < 0 ? 0 : max_wait_ms) / 1000.0;
    return b;
}

void batcher_free(Batcher *b) {
    if (!b) return;
    pthread_cond_destroy(&b->ready);
    pthread_mutex_destroy(&b->mu);
    free(b->items);
    free(b->pushed_s);
    free(b);
}

int batcher_push(Batcher *b, void *item) {
    double now = util_now_s();
    pthread_mutex_lock(&b->mu);
    if (b->closed || b->len == b->capacity) {
        pthread_mutex_unlock(&b->mu);
        return -1;
    }
    int tail = (b->head + b->len) % b->capacity;
    b->items[tail] = item;
    b->pushed_s[tail] = now;
    b->len++;
    /* Wake a consumer when a batch is complete, or when this is the first item (it
     * starts the clock of its batch); in between, consumers are waiting on a deadline. */
    if (b->len == 1 || b->len == b->max_batch) pthread_cond_signal(&b->ready);
    pthread_mutex_unlock(&b->mu);
    return 0;
}

static struct timespec to_timespec(double s) {
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Whether a batch of up to max items may be taken now (b->mu held). */
static int ready_now(const Batcher *b, int max) {
    if (b->len == 0) return 0;
    return b->len >= max || b->flushed > 0 || b->closed ||
           util_now_s() >= b->pushed_s[b->head] + b->max_wait_s;
}

/* Moves up to max ready items out (b->mu held, released here); returns how many. */
static int take(Batcher *b, void **items, double *pushed_s, int max) {
    int n = b->len < max ? b->len : max;
    for (int i = 0; i < n; i++) {
        int j = (b->head + i) % b->capacity;
        items[i] = b->items[j];
        if (pushed_s) pushed_s[i] = b->pushed_s[j];
    }
    b->head = (b->head + n) % b->capacity;
    b->len -= n;
    b->flushed = b->flushed > n ? b->flushed - n : 0;
    /* Another full batch, or a partial one whose clock runs, may be waiting. */
    if (b->len > 0) pthread_cond_signal(&b->ready);
    pthread_mutex_unlock(&b->mu);
    return n;
}

int batcher_pop(Batcher *b, void **items, double *pushed_s, int max) {
    if (max > b->max_batch) max = b->max_batch;
    pthread_mutex_lock(&b->mu);
    while (!ready_now(b, max)) {
        if (b->closed) { /* and empty */
            pthread_mutex_unlock(&b->mu);
            return 0;
        }
        if (b->len == 0) {
            pthread_cond_wait(&b->ready, &b->mu);
            continue;
        }
        struct timespec ts = to_timespec(b->pushed_s[b->head] + b->max_wait_s);
        pthread_cond_timedwait(&b->ready, &b->mu, &ts);
    }
    return take(b, items, pushed_s, max);
}

int batcher_pop_ready(Batcher *b, void **items, double *pushed_s, int max) {
    if (max > b->max_batch) max = b->max_batch;
    pthread_mutex_lock(&b->mu);
    if (!ready_now(b, max)) {
        pthread_mutex_unlock(&b->mu);
        return 0;
    }
    return take(b, items, pushed_s, max);
}

void batcher_flush(Batcher *b) {
    pthread_mutex_lock(&b->mu);
    /* Consumers waiting on a deadline hold no items yet: one wakes and takes a batch,
     * and wakes the next if ready items remain (batcher_pop). */
    if (b->len > b->flushed) {
        b->flushed = b->len;
        pthread_cond_signal(&b->ready);
    }
    pthread_mutex_unlock(&b->mu);
}

void batcher_close(Batcher *b) {
    pthread_mutex_lock(&b->mu);
    b->closed = 1;
    pthread_cond_broadcast(&b->ready);
    pthread_mutex_unlock(&b->mu);
}

int batcher_len(Batcher *b) {
    pthread_mutex_lock(&b->mu);
    int n = b->len;
    pthread_mutex_unlock(&b->mu);
    return n;
}
