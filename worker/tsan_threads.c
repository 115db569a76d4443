/* tsan_threads.c — C11 <threads.h> for ThreadSanitizer builds (make SANITIZE=thread).
 *
 * librdkafka 2.0.2 (Debian) creates its threads with C11 thrd_create and locks with
 * mtx_lock/cnd_wait from glibc, which GCC 12's ThreadSanitizer does not intercept:
 * its threads then run without sanitizer state and crash on their first malloc, and
 * its locking is invisible to the race detector. Under -fsanitize=thread this file
 * defines those functions over the pthread functions ThreadSanitizer does intercept
 * (glibc's C11 types are the pthread types underneath), and the Makefile links it
 * into every program of that build (-Wl,--undefined=thrd_create). In other builds it
 * is empty.
 *
 * librdkafka itself is not instrumented: its reference counts and queues use atomics
 * the detector cannot see, so races reported inside it (a buffer freed by one of its
 * threads after the application read it through a reference it held) are false
 * positives. __tsan_default_suppressions silences reports with a librdkafka frame;
 * races between the project's own threads are still all reported. */
#if defined(__SANITIZE_THREAD__)
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

typedef struct {
    thrd_start_t func;
    void *arg;
} Start;

static void *start(void *p) {
    Start s = *(Start *)p;
    free(p);
    return (void *)(intptr_t)s.func(s.arg); /* thrd_join reads it back as an int */
}

int thrd_create(thrd_t *thr, thrd_start_t func, void *arg) {
    Start *s = malloc(sizeof *s);
    if (!s) return thrd_nomem;
    s->func = func;
    s->arg = arg;
    if (pthread_create(thr, NULL, start, s)) {
        free(s);
        return thrd_error;
    }
    return thrd_success;
}

int thrd_join(thrd_t thr, int *res) {
    void *r;
    if (pthread_join(thr, &r)) return thrd_error;
    if (res) *res = (int)(intptr_t)r;
    return thrd_success;
}

int mtx_init(mtx_t *m, int type) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    if (type & mtx_recursive) pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    int rc = pthread_mutex_init((pthread_mutex_t *)m, &a);
    pthread_mutexattr_destroy(&a);
    return rc ? thrd_error : thrd_success;
}
int mtx_lock(mtx_t *m) { return pthread_mutex_lock((pthread_mutex_t *)m) ? thrd_error : thrd_success; }
int mtx_unlock(mtx_t *m) { return pthread_mutex_unlock((pthread_mutex_t *)m) ? thrd_error : thrd_success; }
void mtx_destroy(mtx_t *m) { pthread_mutex_destroy((pthread_mutex_t *)m); }

int cnd_init(cnd_t *c) { return pthread_cond_init((pthread_cond_t *)c, NULL) ? thrd_error : thrd_success; }
int cnd_signal(cnd_t *c) { return pthread_cond_signal((pthread_cond_t *)c) ? thrd_error : thrd_success; }
int cnd_broadcast(cnd_t *c) {
    return pthread_cond_broadcast((pthread_cond_t *)c) ? thrd_error : thrd_success;
}
int cnd_wait(cnd_t *c, mtx_t *m) {
    return pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m) ? thrd_error : thrd_success;
}
int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict at) {
    int rc = pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, at);
    return rc == 0 ? thrd_success : rc == ETIMEDOUT ? thrd_timedout : thrd_error;
}
void cnd_destroy(cnd_t *c) { pthread_cond_destroy((pthread_cond_t *)c); }

void call_once(once_flag *flag, void (*func)(void)) { pthread_once((pthread_once_t *)flag, func); }

const char *__tsan_default_suppressions(void); /* read by the ThreadSanitizer runtime */
const char *__tsan_default_suppressions(void) { return "race:librdkafka.so\n"; }
#else
typedef int tsan_threads_unused; /* an empty translation unit is not ISO C */
#endif
