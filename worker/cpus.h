/* cpus.h — CPU lists ("0-3,6") and pinning threads to CPUs, so that the worker can
 * keep its inference threads on CPUs of their own (--inference-cpus) and its other
 * threads (polling, librdkafka, delivery, HTTP, monitor) off them: an inference
 * thread then never waits behind the work its own produce calls wake up.
 *
 * Linux only (sched_setaffinity). Nothing here allocates. */
#ifndef BUZZRADAR_CPUS_H
#define BUZZRADAR_CPUS_H

#include <pthread.h>
#include <stddef.h>

#define CPUS_MAX 1024 /* CPU numbers are 0..CPUS_MAX-1 (glibc's CPU_SETSIZE) */

/* CPUs in the order given, each once. */
typedef struct {
    int n;
    short cpu[CPUS_MAX];
} CpuList;

/* Parses a list of CPU numbers and ranges, "1", "0-3", "2-5,7": numbers in
 * 0..CPUS_MAX-1, ranges ascending, no repeats. Returns 0, or -1 with a one-line
 * reason quoting the list in err (empty list, not a number, "3-1", a repeat). */
int cpus_parse(const char *text, CpuList *out, char *err, size_t errlen);

/* Writes the list as ranges ("0-3,6") into buf (cut to len); returns buf. */
char *cpus_format(const CpuList *l, char *buf, size_t len);

/* Pins thread t to one CPU. Returns 0, or -1 with a reason in err (e.g. the CPU is
 * offline or outside the process's cpuset): the thread then keeps its CPUs. */
int cpus_pin(pthread_t t, int cpu, char *err, size_t errlen);

/* Restricts the calling thread (and so every thread it creates later) to the CPUs
 * it may run on now minus those of l. Returns 0; 1 when that would leave no CPU
 * (nothing changed: l covers them all); -1 with a reason in err when the kernel
 * refuses. */
int cpus_avoid(const CpuList *l, char *err, size_t errlen);

#endif
