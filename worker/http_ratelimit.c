/* http_ratelimit.c — the bounded fixed-window limiter of http_ratelimit.h. */
#include "worker/http_ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "model/util.h"

#define RL_PROBES 16

typedef struct {
    char ip[HTTP_RATELIMIT_IP_MAX]; /* "" when the slot was never used */
    int64_t window;                 /* now_ms / HTTP_RATELIMIT_WINDOW_MS of the count */
    uint32_t count;
} RlSlot;

struct HttpRateLimiter {
    pthread_mutex_t mu;
    uint32_t mask; /* slots - 1 */
    RlSlot *slot;
};

HttpRateLimiter *http_ratelimit_new(int slots) {
    uint32_t n = 16;
    while (n < (uint32_t)(slots > 0 ? slots : 0) && n < (1u << 24)) n <<= 1;
    HttpRateLimiter *l = callocCheck(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    l->mask = n - 1;
    l->slot = callocCheck(n, sizeof *l->slot);
    return l;
}

void http_ratelimit_free(HttpRateLimiter *l) {
    if (!l) return;
    pthread_mutex_destroy(&l->mu);
    free(l->slot);
    free(l);
}

int http_ratelimit_retry_after(int64_t now_ms) {
    int64_t ms = HTTP_RATELIMIT_WINDOW_MS -
                 ((now_ms % HTTP_RATELIMIT_WINDOW_MS) + HTTP_RATELIMIT_WINDOW_MS) % HTTP_RATELIMIT_WINDOW_MS;
    return (int)((ms + 999) / 1000);
}

static uint32_t rl_hash(const char *s) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int http_ratelimit_check(HttpRateLimiter *l, const char *ip, int64_t now_ms, int limit, int *retry_after_s) {
    char key[HTTP_RATELIMIT_IP_MAX];
    size_t n = strnlen(ip, sizeof key - 1);
    memcpy(key, ip, n);
    key[n] = '\0';
    int64_t window =
        now_ms >= 0 ? now_ms / HTTP_RATELIMIT_WINDOW_MS : -1 - (-1 - now_ms) / HTTP_RATELIMIT_WINDOW_MS;

    pthread_mutex_lock(&l->mu);
    uint32_t h = rl_hash(key);
    RlSlot *use = NULL, *stale = NULL, *lightest = NULL;
    for (uint32_t i = 0; i < RL_PROBES && i <= l->mask; i++) {
        RlSlot *s = &l->slot[(h + i) & l->mask];
        if (strcmp(s->ip, key) == 0 && s->ip[0]) {
            use = s;
            break;
        }
        if (!stale && (s->ip[0] == '\0' || s->window != window)) stale = s;
        if (!lightest || s->count < lightest->count) lightest = s;
    }
    if (!use) {
        use = stale ? stale : lightest;
        memcpy(use->ip, key, n + 1);
        use->count = 0;
        use->window = window;
    }
    if (use->window != window) {
        use->window = window;
        use->count = 0;
    }
    if (use->count < UINT32_MAX) use->count++;
    int ok = use->count <= (uint32_t)(limit > 0 ? limit : 0);
    pthread_mutex_unlock(&l->mu);
    if (!ok && retry_after_s) *retry_after_s = http_ratelimit_retry_after(now_ms);
    return ok;
}
