/* cpus.c — CPU lists and thread affinity (see cpus.h). */
#include "worker/cpus.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a CPU number at *p (advancing it); -1 when there is none or it is too large. */
static int read_cpu(const char **p) {
    if (**p < '0' || **p > '9') return -1;
    long v = 0;
    while (**p >= '0' && **p <= '9') {
        v = v * 10 + (**p - '0');
        if (v >= CPUS_MAX) return -1;
        (*p)++;
    }
    return (int)v;
}

int cpus_parse(const char *text, CpuList *out, char *err, size_t errlen) {
    unsigned char seen[CPUS_MAX] = {0};
    out->n = 0;
    const char *p = text ? text : "";
    if (!*p) {
        snprintf(err, errlen, "empty CPU list");
        return -1;
    }
    for (;;) {
        int lo = read_cpu(&p), hi = lo;
        if (lo >= 0 && *p == '-') {
            p++;
            hi = read_cpu(&p);
        }
        if (lo < 0 || hi < 0) {
            snprintf(err, errlen, "CPU list '%s': expected CPU numbers 0..%d or ranges such as 2-5", text,
                     CPUS_MAX - 1);
            return -1;
        }
        if (hi < lo) {
            snprintf(err, errlen, "CPU list '%s': range %d-%d goes down", text, lo, hi);
            return -1;
        }
        for (int c = lo; c <= hi; c++) {
            if (seen[c]) {
                snprintf(err, errlen, "CPU list '%s': CPU %d given twice", text, c);
                return -1;
            }
            seen[c] = 1;
            out->cpu[out->n++] = (short)c;
        }
        if (*p == '\0') return 0;
        if (*p != ',') {
            snprintf(err, errlen, "CPU list '%s': unexpected '%c'", text, *p);
            return -1;
        }
        p++;
    }
}

char *cpus_format(const CpuList *l, char *buf, size_t len) {
    size_t used = 0;
    if (len) buf[0] = '\0';
    for (int i = 0; i < l->n && used < len; i++) {
        int j = i;
        while (j + 1 < l->n && l->cpu[j + 1] == l->cpu[j] + 1) j++;
        int w = j > i ? snprintf(buf + used, len - used, "%s%d-%d", i ? "," : "", l->cpu[i], l->cpu[j])
                      : snprintf(buf + used, len - used, "%s%d", i ? "," : "", l->cpu[i]);
        used += w > 0 ? (size_t)w : 0;
        i = j;
    }
    return buf;
}

int cpus_pin(pthread_t t, int cpu, char *err, size_t errlen) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int rc = pthread_setaffinity_np(t, sizeof set, &set);
    if (rc) {
        snprintf(err, errlen, "cannot pin a thread to CPU %d: %s", cpu, strerror(rc));
        return -1;
    }
    return 0;
}

int cpus_avoid(const CpuList *l, char *err, size_t errlen) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set)) {
        snprintf(err, errlen, "cannot read the CPU affinity: %s", strerror(errno));
        return -1;
    }
    for (int i = 0; i < l->n; i++) CPU_CLR(l->cpu[i], &set);
    if (CPU_COUNT(&set) == 0) return 1;
    if (sched_setaffinity(0, sizeof set, &set)) {
        snprintf(err, errlen, "cannot restrict the CPU affinity: %s", strerror(errno));
        return -1;
    }
    return 0;
}
