/* bench_e2e.c — end-to-end benchmark of `buzzradar run`: real tweets through a
 * Kafka-protocol broker, the worker (shipped BiLSTM) and Redis, measured from the
 * outside by a producer and a consumer in this process. Printed as Markdown.
 *
 *   bench_e2e [throughput] [latency] [cache] [--tweets N] [--half-rate N] [-X key=value]...
 *                        (env: BUZZRADAR_SHARED_DATA, BUZZRADAR_BIN, BUZZRADAR_TOOLS)
 *
 * With no section named, all three run (`make bench`). --tweets N: the burst length
 * (default: 8 s at the model-only rate, 5,000 to 50,000). --half-rate N: the second
 * latency load when the throughput is not measured in the same run (else half the
 * best steady rate). -X: a librdkafka property for every worker started (as
 * `buzzradar run -X`), to compare settings.
 *
 * Servers: build/tools/mockbroker (librdkafka's mock cluster in its own process) and
 * a redis-server on a unix socket, started through tests/harness and stopped by PID
 * at the end; every worker is started and stopped (SIGTERM, drain) by PID too.
 * Every run gets fresh topics (4 partitions each) and a fresh group, and Redis is
 * flushed before it, so no run sees another's cache.
 *
 * Tweets: the first texts of $BUZZRADAR_SHARED_DATA/sentiment140-train.csv.gz (a
 * skipped line without it), encoded as DESIGN.md's input JSON {"id","text","lang"}
 * with the id as the message key.
 *
 * Measurements:
 *  1. model-only throughput in this process (model/classifier.h, one thread, batches
 *     of 64 like the worker's --batch-max);
 *  2. throughput of a burst pre-produced into the input topic, with --threads 1 and
 *     2, and 1 pinned: --inference-cpus C (C = the last CPU this process may run on)
 *     with every thread of the broker, redis-server and this process kept off C for
 *     that run (one CPU for inference, the rest for everything else; skipped with
 *     fewer than 2 CPUs): from the first to the last scored event seen (steady) and
 *     from the worker's start (includes model load and group join); done when every
 *     id was seen; and where the CPU went meanwhile: the worker's threads by name, the
 *     broker, redis-server, this process, the idle time (/proc);
 *  3. latency at a fixed offered load (1,000 tweets/s, and half the measured maximum):
 *     produce call (the message's CreateTime is taken there too) -> arrival of the
 *     scored event at this consumer, on one monotonic clock, split into three hops
 *     (to the worker, in the worker = its own latency_ms field, to the bench) with
 *     the Kafka timestamps; each load once with the worker's defaults and once with
 *     -X consumer.fetch.wait.max.ms=1. The bench's own clients add as little as they
 *     can: its producer sends at once (linger.ms 0) and its consumer waits at most
 *     1 ms per fetch (the mock broker holds an empty fetch for the whole wait);
 *  4. cache effect: a stream where 30% of the texts repeat earlier ones, against the
 *     same length of unique texts; hits from the worker's final stats line and
 *     Redis INFO keyspace_hits. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <cjson/cJSON.h>

#include "model/classifier.h"
#include "model/dataset.h"
#include "model/util.h"
#include "tests/harness/harness.h"
#include "tests/harness/machine.h"

#define PARTITIONS   4
#define MODEL_BATCH  64    /* the worker's default --batch-max */
#define MODEL_ROWS   10000 /* the first estimate, which sizes the burst */
#define BURST_MAX    50000
#define BURST_MIN    5000
#define BURST_SECS   8.0 /* burst length aimed at, from the model-only rate */
#define CACHE_ROWS   20000
#define REPEAT_SHARE 0.30
#define LAT_RATE     1000
#define LAT_SECS     10
#define WAIT_MS      120000 /* longest wait for a run's last scored event */
#define BENCH_MAX_X  16     /* -X properties on the bench's command line */
/* The latency runs' producer (the stream's source) and consumer (the measuring end). */
#define BENCH_LINGER_MS    "0"
#define SINK_FETCH_WAIT_MS "1"

typedef struct {
    HarnessBroker broker;
    HarnessRedis redis;
    char dir[HARNESS_PATH_MAX];
    const char *bin;
    const char *model;
    int run; /* runs so far: names the topics and logs */
    char in[96], out[96], group[96];
    char log_path[HARNESS_PATH_MAX];
    const char *x[BENCH_MAX_X]; /* -X properties for every worker (the bench's command line) */
    int nx;
} Bench;

/* The input stream of one run: n messages, id i is the decimal string of i. */
typedef struct {
    char **json;
    size_t n;
} Stream;

/* What the bench consumer saw of one run's output topic. */
typedef struct {
    rd_kafka_t *c;
    size_t n;                /* ids 0..n-1 are measured */
    uint8_t *seen;           /* n flags */
    int64_t *arrive_us;      /* first arrival of each id (monotonic us) */
    double *field_ms;        /* the event's latency_ms */
    int64_t *out_ts_ms;      /* the scored event's Kafka timestamp: the worker's produce call (wall ms) */
    int64_t *arrive_wall_us; /* first arrival of each id (wall clock us) */
    size_t distinct, others;
    int64_t first_us, last_us;
} Sink;

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- the input stream ---------------------------------------------------------------- */

/* Encodes row `row` of d as message `i` of s. */
static void stream_set(Stream *s, size_t i, const Dataset *d, int row) {
    char id[24];
    snprintf(id, sizeof id, "%zu", i);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "text", dataset_text(d, row));
    cJSON_AddStringToObject(o, "lang", "en");
    s->json[i] = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s->json[i]) util_die("bench_e2e: out of memory encoding a tweet");
}

/* rows[i] is the dataset row of message i. */
static Stream stream_new(const Dataset *d, const int *rows, size_t n) {
    Stream s = {callocCheck(n, sizeof(char *)), n};
    for (size_t i = 0; i < n; i++) stream_set(&s, i, d, rows[i]);
    return s;
}

static void stream_free(Stream *s) {
    for (size_t i = 0; i < s->n; i++) cJSON_free(s->json[i]);
    free(s->json);
    s->json = NULL;
    s->n = 0;
}

/* ---- servers, topics, the worker --------------------------------------------------- */

/* Fresh topics and group for the next run; Redis flushed and its counters reset. */
static int bench_next_run(Bench *b) {
    b->run++;
    const char *kinds[] = {"in", "out", "dlq", "fb", "al"};
    char names[5][96];
    for (int k = 0; k < 5; k++) {
        snprintf(names[k], sizeof names[k], "e2e%d-%s", b->run, kinds[k]);
        if (harness_broker_command(&b->broker, NULL, 0, "topic %s %d", names[k], PARTITIONS)) {
            fprintf(stderr, "bench_e2e: the broker did not create topic %s\n", names[k]);
            return -1;
        }
    }
    snprintf(b->in, sizeof b->in, "%s", names[0]);
    snprintf(b->out, sizeof b->out, "%s", names[1]);
    snprintf(b->group, sizeof b->group, "e2e%d-g", b->run);
    redisContext *r = harness_redis_connect(&b->redis);
    if (!r) {
        fprintf(stderr, "bench_e2e: cannot connect to redis-server\n");
        return -1;
    }
    redisReply *a = redisCommand(r, "FLUSHALL"), *c = redisCommand(r, "CONFIG RESETSTAT");
    int ok = a && c && a->type != REDIS_REPLY_ERROR && c->type != REDIS_REPLY_ERROR;
    if (a) freeReplyObject(a);
    if (c) freeReplyObject(c);
    redisFree(r);
    if (!ok) fprintf(stderr, "bench_e2e: redis FLUSHALL / CONFIG RESETSTAT failed\n");
    return ok ? 0 : -1;
}

/* Starts the worker on the current run's topics, with every -X property of the bench's
 * command line and then xprop (NULL or one more); with infer_cpu >= 0, also
 * --inference-cpus infer_cpu. */
static pid_t bench_worker_start(Bench *b, int threads, const char *xprop, int infer_cpu) {
    char th[16], cpu[16], dlq[96], fb[96], al[96];
    snprintf(th, sizeof th, "%d", threads);
    snprintf(cpu, sizeof cpu, "%d", infer_cpu);
    snprintf(dlq, sizeof dlq, "e2e%d-dlq", b->run);
    snprintf(fb, sizeof fb, "e2e%d-fb", b->run);
    snprintf(al, sizeof al, "e2e%d-al", b->run);
    const char *fixed[] = {b->bin,           "run",        "--brokers",        b->broker.bootstrap,
                           "--redis",        b->redis.url, "--group",          b->group,
                           "--topic-in",     b->in,        "--topic-out",      b->out,
                           "--topic-dlq",    dlq,          "--topic-feedback", fb,
                           "--topic-alerts", al,           "--model",          b->model,
                           "--threads",      th,           "--stats-interval", "1",
                           "--http",         "127.0.0.1:0" /* a free port: 8080 may be taken */};
    const size_t nfixed = sizeof fixed / sizeof fixed[0];
    const char *argv[sizeof fixed / sizeof fixed[0] + 2 * (BENCH_MAX_X + 2) + 1];
    size_t argc = 0;
    for (size_t i = 0; i < nfixed; i++) argv[argc++] = fixed[i];
    for (int i = 0; i < b->nx; i++) {
        argv[argc++] = "-X";
        argv[argc++] = b->x[i];
    }
    if (xprop) {
        argv[argc++] = "-X";
        argv[argc++] = xprop;
    }
    if (infer_cpu >= 0) {
        argv[argc++] = "--inference-cpus";
        argv[argc++] = cpu;
    }
    argv[argc] = NULL;
    char name[64];
    snprintf(name, sizeof name, "worker-%d.log", b->run);
    harness_path_join(b->log_path, sizeof b->log_path, b->dir, name);
    HarnessSpawnOptions o = {.stderr_path = b->log_path, .stdout_path = "/dev/null"};
    return harness_spawn(argv, &o);
}

/* The last value of a numeric field of the worker's `stats` log lines (-1 when none). */
static double log_last_number(const char *log, const char *field) {
    char key[64];
    snprintf(key, sizeof key, "\"%s\":", field);
    double v = -1;
    for (const char *p = log; p && (p = strstr(p, key)); p += strlen(key)) {
        const char *s = p + strlen(key);
        if (*s == '"') s++;
        v = strtod(s, NULL);
    }
    return v;
}

/* What the worker's final stats line said. */
typedef struct {
    long cache_hits;   /* -1 when no stats line was logged */
    double mean_batch; /* tweets per model batch over the run */
} WorkerStats;

/* Stops the worker (SIGTERM: drain, commit, final stats line) and reads that line. */
static WorkerStats bench_worker_stop(Bench *b, pid_t pid) {
    int st = harness_stop(pid, 30000);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        printf("- warning: worker %d of run %d did not exit cleanly (status %d)\n", (int)pid, b->run, st);
        harness_print_tail("worker log", b->log_path);
    }
    char *log = harness_read_file(b->log_path, NULL);
    WorkerStats w = {(long)log_last_number(log, "cache_hits"), log_last_number(log, "mean_batch")};
    free(log);
    return w;
}

/* Redis INFO stats keyspace_hits (-1 when unavailable). */
static long bench_redis_hits(Bench *b) {
    redisContext *r = harness_redis_connect(&b->redis);
    if (!r) return -1;
    redisReply *rep = redisCommand(r, "INFO stats");
    long hits = -1;
    if (rep && rep->type == REDIS_REPLY_STRING) {
        const char *p = strstr(rep->str, "keyspace_hits:");
        if (p) hits = strtol(p + strlen("keyspace_hits:"), NULL, 10);
    }
    if (rep) freeReplyObject(rep);
    redisFree(r);
    return hits;
}

/* ---- producer and consumer ---------------------------------------------------------- */

static rd_kafka_t *bench_producer(Bench *b, const char *linger) {
    const char *conf[] = {"linger.ms", linger, "queue.buffering.max.messages", "200000", NULL};
    char err[512];
    rd_kafka_t *p = harness_kafka_producer(b->broker.bootstrap, conf, NULL, err, sizeof err);
    if (!p) fprintf(stderr, "bench_e2e: producer: %s\n", err);
    return p;
}

static int bench_send(rd_kafka_t *p, const char *topic, const char *key, const char *value) {
    HarnessRecord rec = {.key = key, .value = value};
    rd_kafka_resp_err_t e = harness_kafka_send(p, topic, &rec, 10000);
    if (e) fprintf(stderr, "bench_e2e: produce: %s\n", rd_kafka_err2str(e));
    return e ? -1 : 0;
}

/* Pre-produces the whole stream and waits for every acknowledgement. */
static int bench_produce_all(Bench *b, const Stream *s) {
    rd_kafka_t *p = bench_producer(b, "20");
    if (!p) return -1;
    int rc = 0;
    char id[24];
    for (size_t i = 0; i < s->n && !rc; i++) {
        snprintf(id, sizeof id, "%zu", i);
        rc = bench_send(p, b->in, id, s->json[i]);
    }
    if (!rc && rd_kafka_flush(p, 60000)) {
        fprintf(stderr, "bench_e2e: %d messages not acknowledged after 60 s\n", rd_kafka_outq_len(p));
        rc = -1;
    }
    rd_kafka_destroy(p);
    return rc;
}

/* A consumer assigned to every partition of the output topic from the beginning. */
static int sink_open(Sink *k, Bench *b, size_t n) {
    memset(k, 0, sizeof *k);
    char err[512];
    const char *conf[] = {"fetch.wait.max.ms", SINK_FETCH_WAIT_MS, "enable.auto.commit", "false", NULL};
    k->c = harness_kafka_group_consumer(b->broker.bootstrap, "e2e-bench-reader", conf, err, sizeof err);
    if (!k->c) {
        fprintf(stderr, "bench_e2e: consumer: %s\n", err);
        return -1;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTITIONS);
    for (int p = 0; p < PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(l, b->out, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(k->c, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        fprintf(stderr, "bench_e2e: assign: %s\n", rd_kafka_err2str(e));
        return -1;
    }
    k->n = n;
    k->seen = callocCheck(n, 1);
    k->arrive_us = callocCheck(n, sizeof(int64_t));
    k->field_ms = callocCheck(n, sizeof(double));
    k->out_ts_ms = callocCheck(n, sizeof(int64_t));
    k->arrive_wall_us = callocCheck(n, sizeof(int64_t));
    return 0;
}

/* Reads what is there (waiting up to timeout_ms for the first message). */
static void sink_poll(Sink *k, int timeout_ms) {
    rd_kafka_message_t *m;
    while ((m = rd_kafka_consumer_poll(k->c, timeout_ms))) {
        timeout_ms = 0;
        int64_t t = now_us(), tw = wall_us();
        if (!m->err && m->key && m->key_len > 0 && m->key_len < 24) {
            char key[24];
            memcpy(key, m->key, m->key_len);
            key[m->key_len] = '\0';
            char *end;
            unsigned long long i = strtoull(key, &end, 10);
            if (*end == '\0' && i < k->n) {
                if (!k->seen[i]) {
                    k->seen[i] = 1;
                    k->distinct++;
                    k->arrive_us[i] = t;
                    k->arrive_wall_us[i] = tw;
                    k->out_ts_ms[i] = rd_kafka_message_timestamp(m, NULL);
                    if (!k->first_us) k->first_us = t;
                    k->last_us = t;
                    const char *f = m->payload ? memmem(m->payload, m->len, "\"latency_ms\":", 13) : NULL;
                    k->field_ms[i] = f ? atof(f + 13) : -1;
                }
            } else {
                k->others++;
            }
        }
        rd_kafka_message_destroy(m);
    }
}

static void sink_close(Sink *k) {
    if (k->c) {
        rd_kafka_consumer_close(k->c);
        rd_kafka_destroy(k->c);
    }
    free(k->seen);
    free(k->arrive_us);
    free(k->field_ms);
    free(k->out_ts_ms);
    free(k->arrive_wall_us);
    memset(k, 0, sizeof *k);
}

/* ---- measurements --------------------------------------------------------------------- */

/* This thread's CPU time, seconds. */
static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- where the CPU goes ---------------------------------------------------------------- */

/* Reads a /proc stat file (of a process or a thread): its command name (between the
 * parentheses, at most 15 characters) into comm when not NULL, and its CPU time (user +
 * system) in clock ticks into *ticks. Returns 0, or -1 when unreadable (it has ended). */
static int stat_read(const char *path, char *comm, size_t comm_len, unsigned long long *ticks) {
    char *st = harness_read_file(path, NULL);
    const char *open = st ? strchr(st, '(') : NULL;
    const char *close = st ? strrchr(st, ')') : NULL; /* the command name may hold spaces and ')' */
    unsigned long long ut = 0, stime = 0;
    int ok = open && close > open &&
             sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stime) == 2;
    if (ok && comm) snprintf(comm, comm_len, "%.*s", (int)(close - open - 1), open + 1);
    free(st);
    *ticks = ut + stime;
    return ok ? 0 : -1;
}

/* CPU ticks so far of process pid (0 when unreadable). */
static unsigned long long proc_ticks(pid_t pid) {
    char path[64];
    unsigned long long t;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return stat_read(path, NULL, 0, &t) ? 0 : t;
}

/* The machine's idle + iowait ticks so far, summed over its cores (/proc/stat). */
static unsigned long long machine_idle_ticks(void) {
    char *st = harness_read_file("/proc/stat", NULL);
    unsigned long long idle = 0, iowait = 0;
    if (st) sscanf(st, "cpu %*u %*u %*u %llu %llu", &idle, &iowait);
    free(st);
    return idle + iowait;
}

/* The worker's thread groups, by the names it gives its threads. */
typedef enum { GROUP_INFER, GROUP_POLL, GROUP_RDK, GROUP_OTHER, GROUPS } ThreadGroup;

#define SNAP_THREADS 256

/* CPU ticks (user + system) so far of every process of a run, at one instant. */
typedef struct {
    int64_t t_us;
    unsigned long long worker, broker, redis, bench; /* whole processes */
    unsigned long long idle;                         /* the machine's (machine_idle_ticks) */
    struct {
        pid_t tid;
        ThreadGroup group;
        unsigned long long ticks;
    } threads[SNAP_THREADS]; /* the worker's threads alive at that instant */
    int nthreads;
} CpuSnap;

/* Where the CPU of a run's window went, seconds. */
typedef struct {
    double window_s;
    double group_s[GROUPS]; /* GROUP_OTHER: the worker's total minus the named groups */
    int group_threads[GROUPS];
    double worker_s, broker_s, redis_s, bench_s, idle_s;
} CpuSplit;

static ThreadGroup thread_group(pid_t pid, pid_t tid, const char *comm) {
    if (tid == pid) return GROUP_POLL; /* the main thread keeps the process name */
    if (!strncmp(comm, "bz:infer", 8)) return GROUP_INFER;
    if (!strncmp(comm, "rdk:", 4)) return GROUP_RDK;
    return GROUP_OTHER;
}

/* Reads the ticks of the worker (every thread in /proc/PID/task), the broker, redis-server,
 * this process and the machine's idle time into *s. */
static void cpu_snap(const Bench *b, pid_t worker, CpuSnap *s) {
    s->t_us = now_us();
    s->worker = proc_ticks(worker);
    s->broker = proc_ticks(b->broker.pid);
    s->redis = proc_ticks(b->redis.pid);
    s->bench = proc_ticks(getpid());
    s->idle = machine_idle_ticks();
    s->nthreads = 0;
    char path[300], comm[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)worker);
    DIR *dir = opendir(path);
    for (struct dirent *e; dir && (e = readdir(dir)) && s->nthreads < SNAP_THREADS;) {
        pid_t tid = (pid_t)atoi(e->d_name);
        unsigned long long t;
        if (tid <= 0) continue; /* "." and ".." */
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)worker, (int)tid);
        if (stat_read(path, comm, sizeof comm, &t)) continue; /* ended meanwhile */
        s->threads[s->nthreads].tid = tid;
        s->threads[s->nthreads].group = thread_group(worker, tid, comm);
        s->threads[s->nthreads].ticks = t;
        s->nthreads++;
    }
    if (dir) closedir(dir);
}

/* Seconds between two tick counts (0 when the second is not later: the process ended). */
static double ticks_s(unsigned long long from, unsigned long long to) {
    return to > from ? (double)(to - from) / (double)sysconf(_SC_CLK_TCK) : 0;
}

/* The CPU used between snapshots a and b. A thread counts from a (or from its start) to b;
 * a thread that ended in between is in GROUP_OTHER through the worker's total. */
static CpuSplit cpu_split(const CpuSnap *a, const CpuSnap *b) {
    CpuSplit s = {.window_s = (b->t_us - a->t_us) / 1e6,
                  .worker_s = ticks_s(a->worker, b->worker),
                  .broker_s = ticks_s(a->broker, b->broker),
                  .redis_s = ticks_s(a->redis, b->redis),
                  .bench_s = ticks_s(a->bench, b->bench),
                  .idle_s = ticks_s(a->idle, b->idle)};
    double named = 0;
    for (int i = 0; i < b->nthreads; i++) {
        unsigned long long t0 = 0;
        for (int j = 0; j < a->nthreads; j++)
            if (a->threads[j].tid == b->threads[i].tid) t0 = a->threads[j].ticks;
        ThreadGroup g = b->threads[i].group;
        s.group_threads[g]++;
        if (g != GROUP_OTHER) {
            s.group_s[g] += ticks_s(t0, b->threads[i].ticks);
            named += ticks_s(t0, b->threads[i].ticks);
        }
    }
    s.group_s[GROUP_OTHER] = s.worker_s - named;
    return s;
}

/* Model-only tweets/s on one thread, batches of MODEL_BATCH, over d's first n rows (the
 * tweets of the burst, in its order: the reference must score the same texts, since a
 * smaller set runs faster from warmer caches); the same per CPU-second of the thread
 * into *per_cpu_s (steadier on a shared machine). A first pass warms up, the best of
 * the next `passes` counts. */
static double bench_model_only(const char *path, const Dataset *d, int n, int passes, double *per_cpu_s) {
    char err[512];
    *per_cpu_s = 0;
    Classifier *c = classifier_load(path, err, sizeof err);
    if (!c) {
        printf("- model-only: skipped (%s)\n", err);
        return 0;
    }
    openblas_set_num_threads(1);
    ClassifierBatch *b = classifier_batch_new(c, MODEL_BATCH);
    if (n > d->n) n = d->n;
    double best = 1e30, best_cpu = 1e30;
    for (int pass = 0; pass <= passes; pass++) { /* pass 0 warms caches; best of the others */
        double t0 = util_now_s(), c0 = thread_cpu_s();
        for (int i = 0; i < n; i += MODEL_BATCH) {
            int m = n - i < MODEL_BATCH ? n - i : MODEL_BATCH;
            classifier_batch_reset(b);
            for (int k = 0; k < m; k++)
                classifier_batch_add(b, dataset_text(d, i + k), dataset_len(d, i + k));
            classifier_batch_score(b);
        }
        double t = util_now_s() - t0, tc = thread_cpu_s() - c0;
        if (pass > 0 && t < best) best = t;
        if (pass > 0 && tc < best_cpu) best_cpu = tc;
    }
    classifier_batch_free(b);
    classifier_free(c);
    *per_cpu_s = n / best_cpu;
    return n / best;
}

/* ---- one CPU for inference, the rest for everything else --------------------------------- */

/* The pinned run's inference CPU: the last CPU this process may run on; -1 when it may
 * run on fewer than 2 (none would be left for the rest). */
static int bench_last_cpu(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) || CPU_COUNT(&set) < 2) return -1;
    int last = -1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) last = c;
    return last;
}

/* Sets the CPU mask of every thread of process pid (/proc/PID/task). Returns 0, or -1
 * when a thread refused (one that ended meanwhile does not count). */
static int proc_set_cpus(pid_t pid, const cpu_set_t *set) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path);
    int rc = dir ? 0 : -1;
    for (struct dirent *e; dir && (e = readdir(dir));) {
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid > 0 && sched_setaffinity(tid, sizeof *set, set) && errno != ESRCH) rc = -1;
    }
    if (dir) closedir(dir);
    return rc;
}

/* The processes of the bench beside the worker, with their CPU masks from before. */
#define OTHERS 3
typedef struct {
    pid_t pid[OTHERS]; /* the mock broker, redis-server, this process */
    cpu_set_t saved[OTHERS];
} BenchOthers;

/* Keeps every thread of the broker, redis-server and this process off CPU cpu, after
 * saving each one's mask (its main thread's) into *o. Returns 0, or -1 with the reason
 * on stderr (bench_others_restore undoes what was done). */
static int bench_others_avoid(const Bench *b, int cpu, BenchOthers *o) {
    *o = (BenchOthers){.pid = {b->broker.pid, b->redis.pid, getpid()}};
    for (int i = 0; i < OTHERS; i++)
        if (sched_getaffinity(o->pid[i], sizeof o->saved[i], &o->saved[i])) {
            fprintf(stderr, "bench_e2e: CPU mask of %d: %s\n", (int)o->pid[i], strerror(errno));
            memset(o->pid, 0, sizeof o->pid); /* nothing changed, nothing to restore */
            return -1;
        }
    int rc = 0;
    for (int i = 0; i < OTHERS; i++) {
        cpu_set_t set = o->saved[i];
        CPU_CLR(cpu, &set);
        if (proc_set_cpus(o->pid[i], &set)) {
            fprintf(stderr, "bench_e2e: cannot keep process %d off CPU %d\n", (int)o->pid[i], cpu);
            rc = -1;
        }
    }
    return rc;
}

/* Gives every thread of the processes of o its process's saved mask back. */
static void bench_others_restore(const BenchOthers *o) {
    for (int i = 0; i < OTHERS; i++)
        if (o->pid[i] > 0 && proc_set_cpus(o->pid[i], &o->saved[i]))
            fprintf(stderr, "bench_e2e: cannot restore the CPU mask of process %d\n", (int)o->pid[i]);
}

typedef struct {
    size_t seen;
    double steady_tps, wall_tps, wall_s;
    double cpu_s, cpu_tps; /* the worker's CPU time in the steady part, and tweets per CPU-second */
    size_t window_seen;    /* ids first seen in the steady part (the CPU window) */
    CpuSplit cpu;          /* where the CPU of the steady part went */
    long cache_hits, redis_hits;
} BurstResult;

/* Pre-produces s into a fresh input topic, then starts the worker and times it until
 * every id is on the output topic. With infer_cpu >= 0 (the pinned run), the worker
 * gets --inference-cpus infer_cpu and, until it has stopped, every thread of the
 * broker, redis-server and this process is kept off that CPU (their masks restored
 * after). Returns 0, or -1 when the run could not be made. */
static int bench_burst(Bench *b, const Stream *s, int threads, int infer_cpu, BurstResult *r) {
    memset(r, 0, sizeof *r);
    Sink k;
    if (bench_next_run(b) || bench_produce_all(b, s) || sink_open(&k, b, s->n)) return -1;
    int64_t t0 = now_us();
    pid_t pid = bench_worker_start(b, threads, NULL, infer_cpu);
    if (pid <= 0) {
        sink_close(&k);
        return -1;
    }
    BenchOthers others = {.pid = {0}}; /* nothing to restore */
    if (infer_cpu >= 0 && bench_others_avoid(b, infer_cpu, &others))
        printf("- warning: run %d: the other processes are not all kept off CPU %d (see stderr)\n", b->run,
               infer_cpu);
    CpuSnap snap0, snap1;
    size_t seen0 = 0;
    int64_t wait_us = (WAIT_MS + (int64_t)s->n) * 1000; /* + 1 ms a tweet for long runs */
    while (k.distinct < s->n && now_us() - t0 < wait_us) {
        sink_poll(&k, 100);
        if (!seen0 && k.distinct > 0) { /* the first scored events: model loaded, group joined */
            cpu_snap(b, pid, &snap0);
            seen0 = k.distinct;
        }
    }
    if (seen0) {
        cpu_snap(b, pid, &snap1);
        r->cpu = cpu_split(&snap0, &snap1);
        r->cpu_s = r->cpu.worker_s;
        r->window_seen = k.distinct - seen0;
        if (r->cpu_s > 0) r->cpu_tps = r->window_seen / r->cpu_s;
    }
    r->seen = k.distinct;
    r->wall_s = (k.last_us - t0) / 1e6;
    r->wall_tps = k.distinct / r->wall_s;
    r->steady_tps = k.distinct > 1 ? (k.distinct - 1) / ((k.last_us - k.first_us) / 1e6) : 0;
    r->cache_hits = bench_worker_stop(b, pid).cache_hits;
    bench_others_restore(&others);
    r->redis_hits = bench_redis_hits(b);
    sink_close(&k);
    if (r->seen < s->n) printf("- warning: run %d saw %zu of %zu ids\n", b->run, r->seen, s->n);
    return 0;
}

/* Percentiles of one latency sample, ms. */
typedef struct {
    double p50, p95, p99, max;
} Percentiles;

/* Sorts v[0..n) (n >= 1) and reads its percentiles. */
static Percentiles percentiles(double *v, size_t n) {
    qsort(v, n, sizeof(double), cmp_double);
    return (Percentiles){v[n / 2], v[(size_t)(n * 0.95)], v[(size_t)(n * 0.99)], v[n - 1]};
}

typedef struct {
    double offered, achieved;
    size_t sent, seen;
    Percentiles e2e;   /* produce call -> arrival at the bench consumer */
    Percentiles field; /* the event's latency_ms: in the worker, consumption -> produce call */
    Percentiles in;    /* produce call -> the worker's consumption (wall clocks, ms resolution) */
    Percentiles out;   /* the worker's produce call -> arrival at the bench consumer (idem) */
    double mean_batch; /* the worker's tweets per model batch */
} LatencyResult;

/* Starts a worker, warms it up (every partition assigned and scoring), then offers
 * `rate` tweets/s of s for `secs` seconds and measures each tweet's latency. */
static int bench_latency(Bench *b, const Stream *s, int threads, double rate, double secs, const char *xprop,
                         LatencyResult *r) {
    memset(r, 0, sizeof *r);
    size_t n = (size_t)(rate * secs), warm = 200;
    if (n + warm > s->n) n = s->n - warm;
    Sink k;
    if (bench_next_run(b) || sink_open(&k, b, n + warm)) return -1;
    rd_kafka_t *p = bench_producer(b, BENCH_LINGER_MS);
    pid_t pid = p ? bench_worker_start(b, threads, xprop, -1) : -1;
    if (pid <= 0) {
        if (p) rd_kafka_destroy(p);
        sink_close(&k);
        return -1;
    }
    char id[24];
    int64_t *sent_us = callocCheck(n + warm, sizeof(int64_t)),
            *sent_wall_us = callocCheck(n + warm, sizeof(int64_t));
    int rc = 0;
    /* warm-up: ids n..n+warm-1, until all are scored */
    for (size_t i = n; i < n + warm && !rc; i++) {
        snprintf(id, sizeof id, "%zu", i);
        rc = bench_send(p, b->in, id, s->json[i]);
    }
    int64_t t0 = now_us();
    while (!rc && k.distinct < warm && now_us() - t0 < 60000000LL) {
        rd_kafka_poll(p, 0);
        sink_poll(&k, 50);
    }
    if (k.distinct < warm) rc = -1;
    /* the paced load */
    t0 = now_us();
    size_t i = 0;
    while (!rc && i < n) {
        int64_t t = now_us();
        while (i < n && t0 + (int64_t)(i * 1e6 / rate) <= t) {
            snprintf(id, sizeof id, "%zu", i);
            sent_us[i] = now_us();
            sent_wall_us[i] = wall_us();
            if (bench_send(p, b->in, id, s->json[i])) rc = -1;
            i++;
        }
        rd_kafka_poll(p, 0);
        sink_poll(&k, 1);
    }
    r->achieved = i / ((now_us() - t0) / 1e6);
    int64_t tend = now_us();
    while (!rc && k.distinct < n + warm && now_us() - tend < 30000000LL) {
        rd_kafka_poll(p, 0);
        sink_poll(&k, 50);
    }
    r->mean_batch = bench_worker_stop(b, pid).mean_batch;
    rd_kafka_flush(p, 5000);
    rd_kafka_destroy(p);
    r->offered = rate;
    r->sent = i;
    double *lat = mallocCheck((n + 1) * sizeof(double)), *fld = mallocCheck((n + 1) * sizeof(double));
    double *hin = mallocCheck((n + 1) * sizeof(double)), *hout = mallocCheck((n + 1) * sizeof(double));
    size_t m = 0;
    for (size_t j = 0; j < n; j++)
        if (k.seen[j] && sent_us[j]) {
            lat[m] = (k.arrive_us[j] - sent_us[j]) / 1000.0;
            fld[m] = k.field_ms[j];
            double produced_ms = k.out_ts_ms[j] > 0 ? (double)k.out_ts_ms[j] : k.arrive_wall_us[j] / 1000.0;
            hin[m] = produced_ms - fld[m] - sent_wall_us[j] / 1000.0;
            hout[m] = k.arrive_wall_us[j] / 1000.0 - produced_ms;
            m++;
        }
    r->seen = m;
    if (m > 0) {
        r->e2e = percentiles(lat, m);
        r->field = percentiles(fld, m);
        r->in = percentiles(hin, m);
        r->out = percentiles(hout, m);
    }
    free(lat);
    free(fld);
    free(hin);
    free(hout);
    free(sent_wall_us);
    free(sent_us);
    sink_close(&k);
    return rc || m == 0 ? -1 : 0;
}

/* Prints the 1/5/15-minute load averages and the sgemm rate: the machine may be shared. */
static void print_load(const char *when) {
    char *l = harness_read_file("/proc/loadavg", NULL);
    double a = 0, b = 0, c = 0;
    if (l) sscanf(l, "%lf %lf %lf", &a, &b, &c);
    free(l);
    printf("- load average %s: %.2f %.2f %.2f; sgemm 256x512x128 on one thread: %.1f GFLOP/s\n", when, a, b,
           c, machine_sgemm_gflops(256, 512, 128, 0.2));
}

/* BUILD of this program (BUILD/bench/bench_e2e) into out, or "build". */
static void bench_build_dir(char *out, size_t len) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    snprintf(out, len, "build");
    if (n <= 0) return;
    exe[n] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash) return;
        *slash = '\0';
    }
    snprintf(out, len, "%s", exe);
}

/* ---- main ----------------------------------------------------------------------------- */

static void print_p(const Percentiles *p) { printf(" %.1f / %.1f / %.1f |", p->p50, p->p95, p->p99); }

static void print_latency(const LatencyResult *l, int threads, const char *xprop) {
    printf("| %d | %s | %.0f | %.0f | %zu / %zu | %.1f | %.1f | %.1f | %.1f |", threads,
           xprop ? xprop : "(none)", l->offered, l->achieved, l->seen, l->sent, l->e2e.p50, l->e2e.p95,
           l->e2e.p99, l->e2e.max);
    print_p(&l->in);
    print_p(&l->field);
    print_p(&l->out);
    printf(" %.1f |\n", l->mean_batch);
}

/* One row of a CPU split: threads (0: a process, no busy column), CPU-s, cores used,
 * busy = CPU-s / (threads x window), share of every core over the window. */
static void print_cpu_row(const char *where, int threads, double cpu_s, const CpuSplit *c, long cores) {
    printf("| %s | ", where);
    if (threads > 0)
        printf("%d | %.2f | %.2f | %.0f%% |", threads, cpu_s, cpu_s / c->window_s,
               100.0 * cpu_s / (threads * c->window_s));
    else
        printf("- | %.2f | %.2f | - |", cpu_s, cpu_s / c->window_s);
    printf(" %.0f%% |\n", 100.0 * cpu_s / (cores * c->window_s));
}

/* The CPU split table of one throughput run (`run` names it): every thread group of the
 * worker, the servers, the bench, and what is left of the machine's cores over the window. */
static void print_cpu_split(const BurstResult *r, const char *run) {
    const CpuSplit *c = &r->cpu;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf(
        "#### CPU split, %s: steady part of %.2f s, %zu tweets scored in it (%.0f tweets/s)\n\n"
        "From the first scored event seen to the last: /proc/PID/task/*/stat of the worker (threads "
        "grouped by name), /proc/PID/stat of the other processes, /proc/stat for the idle time. Other "
        "worker threads = the worker's total minus the named groups (bz:delivery, bz:services, unnamed "
        "ones such as the HTTP server's, and threads that ended meanwhile). Threads: alive at the end.\n\n"
        "| where | threads | CPU-s | cores (CPU-s / window) | busy (CPU-s / (threads x window)) | share of "
        "%ld cores x window |\n| --- | ---: | ---: | ---: | ---: | ---: |\n",
        run, c->window_s, r->window_seen, r->window_seen / c->window_s, cores);
    const char *groups[GROUPS] = {"inference (bz:infer*)", "poll loop (main thread)", "librdkafka (rdk:*)",
                                  "other worker threads"};
    for (int g = 0; g < GROUPS; g++) print_cpu_row(groups[g], c->group_threads[g], c->group_s[g], c, cores);
    print_cpu_row("worker, all threads (the four above)", 0, c->worker_s, c, cores);
    print_cpu_row("mock broker", 0, c->broker_s, c, cores);
    print_cpu_row("redis-server", 0, c->redis_s, c, cores);
    print_cpu_row("bench (consumer; the burst was produced before)", 0, c->bench_s, c, cores);
    double rest = cores * c->window_s - (c->worker_s + c->broker_s + c->redis_s + c->bench_s);
    print_cpu_row("idle or other processes = cores x window - the above", 0, rest, c, cores);
    print_cpu_row("... of it really idle (/proc/stat idle + iowait)", 0, c->idle_s, c, cores);
    print_cpu_row("... of it other processes on the machine", 0, rest - c->idle_s, c, cores);
    printf("\n");
}

/* What to run (the bench's command line). */
typedef struct {
    int throughput, latency, cache;
    double half_rate; /* the second latency load when the throughput is not measured (0: none) */
    size_t tweets;    /* the burst length (0: BURST_SECS at the model-only rate, BURST_MIN..BURST_MAX) */
} BenchPlan;

static int bench_main(Bench *b, const Dataset *d, const BenchPlan *plan) {
    print_load("at start");
    printf("\n");
    double model_cpu_tps;
    double model_tps = bench_model_only(b->model, d, MODEL_ROWS, 3, &model_cpu_tps);
    if (model_tps <= 0) return 1;
    size_t burst = plan->tweets;
    if (!burst) {
        burst = (size_t)(model_tps * BURST_SECS);
        if (burst < BURST_MIN) burst = BURST_MIN;
        if (burst > BURST_MAX) burst = BURST_MAX;
    }
    if (burst > (size_t)d->n) burst = (size_t)d->n;
    int *rows = mallocCheck((size_t)d->n * sizeof(int));
    for (int i = 0; i < d->n; i++) rows[i] = i;
    Stream plain = stream_new(d, rows, burst);

    printf("Worker: `%s run --threads N --stats-interval 1", b->bin);
    for (int i = 0; i < b->nx; i++) printf(" -X %s", b->x[i]);
    printf("` (defaults otherwise: --batch-max 64, --batch-wait-ms 5, producer linger.ms 1, consumer "
           "fetch.wait.max.ms 10, acks=all, idempotent), model %s; broker: mockbroker (1 broker, librdkafka "
           "mock cluster in its own process), "
           "topics of %d partitions; redis-server on a unix socket. All on this machine (the load generator "
           "too).\n\n",
           b->model, PARTITIONS);

    double best = plan->half_rate * 2;
    if (plan->throughput) {
        /* --threads 1, 2, and 1 with its inference thread alone on the last CPU */
        enum { RUNS = 3 };
        const int run_threads[RUNS] = {1, 2, 1};
        const int run_cpu[RUNS] = {-1, -1, bench_last_cpu()}; /* --inference-cpus (-1: none) */
        const char *run_label[RUNS] = {"1", "2", "1, pinned"};
        const char *run_failed[RUNS] = {NULL}; /* why a run has no row */
        char split_title[RUNS][160];
        BurstResult runs[RUNS];
        model_tps = bench_model_only(b->model, d, (int)burst, 2, &model_cpu_tps); /* the burst's tweets */
        for (int i = 0; i < RUNS; i++) {
            snprintf(split_title[i], sizeof split_title[i], "--threads %d", run_threads[i]);
            if (i == RUNS - 1 && run_cpu[i] < 0)
                run_failed[i] = "skipped: this process may run on fewer than 2 CPUs";
            else if (bench_burst(b, &plain, run_threads[i], run_cpu[i], &runs[i]))
                run_failed[i] = "run failed";
        }
        if (run_cpu[RUNS - 1] >= 0)
            snprintf(split_title[RUNS - 1], sizeof split_title[RUNS - 1],
                     "--threads 1 --inference-cpus %d, the broker, redis-server and the bench off CPU %d",
                     run_cpu[RUNS - 1], run_cpu[RUNS - 1]);
        /* the machine is shared: the model-only rate again after the runs, the higher one is the reference */
        double model_cpu_after;
        double model_after = bench_model_only(b->model, d, (int)burst, 2, &model_cpu_after);
        double model_before = model_tps;
        if (model_after > model_tps) model_tps = model_after;
        if (model_cpu_after > model_cpu_tps) model_cpu_tps = model_cpu_after;
        printf("### Throughput (burst of %zu tweets pre-produced, then the worker started)\n\n", burst);
        printf(
            "Model only: %.0f tweets/s (this process, model/classifier.h, one thread, batches of %d, the "
            "%zu tweets of the burst, best of 2 passes after one to warm up, measured before and after the "
            "runs: %.0f and %.0f; the higher is the reference); %.0f tweets per CPU-second of its "
            "thread. Steady = distinct ids / time from the "
            "first to the last scored event at the bench consumer; from start = from spawning the worker "
            "(model load, group join) to the last one. Per worker CPU-second = the ids scored in the steady "
            "part / the CPU time the whole worker process (every thread) used meanwhile "
            "(/proc/PID/stat): what the pipeline costs beside the model, whatever share of the cores it "
            "got. Model-only at the inference CPU = model-only tweets per CPU-second x the CPU-s of the "
            "inference threads in the steady part / its length: what they would have scored at the model's "
            "own speed with the CPU they got; steady well below it = they spend CPU beside the model, steady "
            "near it but below model-only x threads = they did not get the cores (see the CPU split).\n\n",
            model_tps, MODEL_BATCH, burst, model_before, model_after, model_cpu_tps);
        printf(
            "Threads 1, pinned = `--threads 1 --inference-cpus C`, C = the last CPU this process may run on: "
            "one CPU for inference, the rest for everything else. The worker pins its inference thread to "
            "C and keeps its own other threads off it; for that run only (from the worker's start to its "
            "exit), every thread of the mock broker, redis-server and this process (/proc/PID/task, "
            "sched_setaffinity) is kept off C too, and their masks are restored after. Other people's "
            "processes on the machine may still run on C.\n\n");
        printf(
            "| threads | tweets | scored seen | steady tweets/s | from start tweets/s (s) | model-only x "
            "threads | ratio | model-only at the inference CPU | worker CPU-s | per worker CPU-second | vs "
            "model-only per CPU-second |\n"
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        best = 0;
        for (int i = 0; i < RUNS; i++) {
            const BurstResult r = runs[i];
            if (run_failed[i]) {
                printf("| %s | %s |\n", run_label[i], run_failed[i]);
                continue;
            }
            double at_infer_cpu =
                r.cpu.window_s > 0 ? model_cpu_tps * r.cpu.group_s[GROUP_INFER] / r.cpu.window_s : 0;
            printf(
                "| %s | %zu | %zu | %.0f | %.0f (%.1f s) | %.0f | %.0f%% | %.0f | %.2f | %.0f | %.0f%% |\n",
                run_label[i], plain.n, r.seen, r.steady_tps, r.wall_tps, r.wall_s, model_tps * run_threads[i],
                100.0 * r.steady_tps / (model_tps * run_threads[i]), at_infer_cpu, r.cpu_s, r.cpu_tps,
                100.0 * r.cpu_tps / model_cpu_tps);
            fflush(stdout);
            if (r.steady_tps > best) best = r.steady_tps;
        }
        printf("\n");
        for (int i = 0; i < RUNS; i++)
            if (!run_failed[i] && runs[i].cpu.window_s > 0) print_cpu_split(&runs[i], split_title[i]);
    }

    if (plan->latency) {
        printf(
            "### Latency at a fixed offered load (--threads 2)\n\n"
            "End to end = the bench's produce call (where the message's CreateTime is set; producer "
            "linger.ms %s) -> the scored event's arrival at the bench consumer (fetch.wait.max.ms %s), one "
            "monotonic clock, ms. After a warm-up of 200 tweets. The three hops, p50 / p95 / p99: "
            "to the worker = produce call -> the worker's consumption, and to the bench = the worker's "
            "produce call (the scored event's CreateTime) -> arrival, both on the wall clock with the "
            "millisecond resolution of Kafka timestamps; in the worker = the event's `latency_ms` (the "
            "worker's own measure: consumption -> produce call). The mock broker holds an empty fetch for "
            "the whole fetch.wait.max.ms even when a message arrives meanwhile (a Kafka broker answers at "
            "once): the rows with consumer.fetch.wait.max.ms=1 show the worker without most of that wait. "
            "Mean batch: tweets per model batch in the worker (its final stats line, warm-up included).\n\n",
            BENCH_LINGER_MS, SINK_FETCH_WAIT_MS);
        printf(
            "| threads | worker -X | offered/s | achieved/s | seen / sent | p50 | p95 | p99 | max | to the "
            "worker | in the worker | to the bench | mean batch |\n| ---: | --- | ---: | ---: | ---: | ---: "
            "| ---: | "
            "---: | ---: | ---: | ---: | ---: | ---: |\n");
        /* the worker's defaults, then a 1 ms consumer fetch wait: the mock broker holds an
         * empty fetch for the whole fetch.wait.max.ms even when a message arrives meanwhile
         * (a Kafka broker answers at once), so the first rows pay up to 10 ms at that hop */
        const char *fetch1 = "consumer.fetch.wait.max.ms=1";
        double rates[4] = {LAT_RATE, best / 2, LAT_RATE, best / 2};
        double secs[4] = {LAT_SECS, 6, LAT_SECS, 6};
        const char *xprops[4] = {NULL, NULL, fetch1, fetch1};
        for (int k = 0; k < 4; k++) {
            if (rates[k] < 10) continue;
            LatencyResult l;
            if (bench_latency(b, &plain, 2, rates[k], secs[k], xprops[k], &l))
                printf("| 2 | %s | %.0f | run failed |\n", xprops[k] ? xprops[k] : "(none)", rates[k]);
            else
                print_latency(&l, 2, xprops[k]);
            fflush(stdout);
        }
        printf("\n");
    }

    if (!plan->cache) {
        print_load("at the end");
        stream_free(&plain);
        free(rows);
        return 0;
    }
    /* the cache stream: message i repeats an earlier message's text with p = REPEAT_SHARE */
    size_t cn = CACHE_ROWS < burst ? CACHE_ROWS : burst;
    int *crows = mallocCheck(cn * sizeof(int));
    uint64_t x = 0x9E3779B97F4A7C15ull;
    size_t fresh = 0, repeats = 0;
    for (size_t i = 0; i < cn; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (i > 0 && (double)(x >> 11) / 9007199254740992.0 < REPEAT_SHARE) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            crows[i] = crows[x % i];
            repeats++;
        } else {
            crows[i] = (int)fresh++;
        }
    }
    Stream cached = stream_new(d, crows, cn), unique = stream_new(d, rows, cn);
    printf("### Cache effect (--threads 2, %zu tweets; %zu (%.0f%%) repeat an earlier text of the stream)\n\n"
           "Hits: the worker's final `stats` line (`cache_hits`) and Redis `INFO stats` keyspace_hits "
           "(every read that found its key). A repeat can miss when its original is still in flight.\n\n",
           cn, repeats, 100.0 * repeats / cn);
    printf(
        "| stream | tweets | steady tweets/s | from start tweets/s | worker cache_hits | redis keyspace_hits "
        "|\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
    const Stream *streams[2] = {&unique, &cached};
    const char *names[2] = {"unique texts", "30% repeats"};
    for (int k = 0; k < 2; k++) {
        BurstResult r;
        if (bench_burst(b, streams[k], 2, -1, &r)) {
            printf("| %s | run failed |\n", names[k]);
            continue;
        }
        printf("| %s | %zu | %.0f | %.0f | %ld | %ld |\n", names[k], streams[k]->n, r.steady_tps, r.wall_tps,
               r.cache_hits, r.redis_hits);
        fflush(stdout);
    }
    printf("\n");
    print_load("at the end");
    stream_free(&cached);
    stream_free(&unique);
    stream_free(&plain);
    free(crows);
    free(rows);
    return 0;
}

int main(int argc, char **argv) {
    BenchPlan plan = {0};
    Bench b = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "throughput") || !strcmp(a, "latency") || !strcmp(a, "cache")) {
            plan.throughput |= !strcmp(a, "throughput");
            plan.latency |= !strcmp(a, "latency");
            plan.cache |= !strcmp(a, "cache");
        } else if (!strcmp(a, "--half-rate") && v) {
            plan.half_rate = atof(v);
            i++;
        } else if (!strcmp(a, "--tweets") && v && atol(v) > 0) {
            plan.tweets = (size_t)atol(v);
            i++;
        } else if (!strcmp(a, "-X") && v && b.nx < BENCH_MAX_X) {
            b.x[b.nx++] = v;
            i++;
        } else {
            fprintf(stderr,
                    "usage: bench_e2e [throughput] [latency] [cache] [--tweets N] [--half-rate N] [-X "
                    "key=value]...\n");
            return 2;
        }
    }
    if (!plan.throughput && !plan.latency && !plan.cache) plan.throughput = plan.latency = plan.cache = 1;
    const char *dir = getenv("BUZZRADAR_SHARED_DATA");
    if (!dir) {
        printf("- bench_e2e: skipped (BUZZRADAR_SHARED_DATA is not set)\n");
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/sentiment140-train.csv.gz", dir);
    DatasetOptions opt = dataset_options_default();
    opt.quiet = 1;
    Dataset d;
    if (dataset_load(path, &opt, &d, err, sizeof err)) {
        printf("- bench_e2e: skipped (%s)\n", err);
        return 0;
    }
    size_t rows_max = (plan.tweets > BURST_MAX ? plan.tweets : BURST_MAX) + 1000;
    if ((size_t)d.n > rows_max) d.n = (int)rows_max; /* a prefix view of the same arrays */
    char build[4096], tools[4200], bin[4200], model[4200];
    bench_build_dir(build, sizeof build);
    snprintf(tools, sizeof tools, "%s/tools", build);
    snprintf(bin, sizeof bin, "%s/buzzradar", build);
    const char *root = getenv("BUZZRADAR_ROOT");
    snprintf(model, sizeof model, "%s/model/pretrained/bilstm.model", root ? root : ".");
    if (!getenv("BUZZRADAR_TOOLS")) setenv("BUZZRADAR_TOOLS", tools, 1);
    b.bin = getenv("BUZZRADAR_BIN");
    b.model = model;
    if (!b.bin) b.bin = bin;
    int status = 1;
    if (harness_broker_start(&b.broker, 1, NULL) == 0 && harness_redis_start(&b.redis) == 0 &&
        harness_tmpdir_create("e2e", b.dir, sizeof b.dir) == 0)
        status = bench_main(&b, &d, &plan);
    else
        printf("- bench_e2e: failed (could not start the broker or redis-server)\n");
    harness_broker_stop(&b.broker);
    harness_redis_stop(&b.redis);
    if (b.dir[0]) harness_tmpdir_remove(b.dir);
    dataset_free(&d);
    return status;
}
