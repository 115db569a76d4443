/* worker_fixture.h — what the stream worker's integration tests share: a broker
 * (mockbroker, its own process) and a redis-server started once per test program,
 * fresh topic and group names per test, `buzzradar run` started as a child process
 * through the harness, and assertions on topics, committed offsets and logs.
 *
 * Included by tests/integration/test_worker*.c only (static inline: each program
 * uses what it needs). Every helper fails the current cmocka test with a message
 * (and the worker's log tail) instead of returning an error. */
#ifndef BUZZRADAR_WORKER_FIXTURE_H
#define BUZZRADAR_WORKER_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tests/harness/harness.h"

#define WF_PARTITIONS 4
#define WF_NAME       96

typedef struct {
    HarnessBroker broker;
    HarnessRedis redis;
    char dir[HARNESS_PATH_MAX]; /* logs and inputs of this program */
    char model[1024];           /* the model file the worker and predict use */
    const char *bin;
} WorkerFixture;

/* Names of one test's topics and group. */
typedef struct {
    char in[WF_NAME], out[WF_NAME], dlq[WF_NAME], feedback[WF_NAME], alerts[WF_NAME], group[WF_NAME];
} WorkerNames;

/* Group setup: `brokers` brokers, a redis-server, a temporary directory, the model. */
static inline int wf_setup(void **state, int brokers) {
    WorkerFixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    const char *root = getenv("BUZZRADAR_ROOT");
    const char *kinds[] = {"bilstm", "tfidf-lr"};
    for (int i = 0; i < 2 && !f->model[0]; i++) {
        snprintf(f->model, sizeof f->model, "%s/model/pretrained/%s.model", root ? root : ".", kinds[i]);
        if (access(f->model, R_OK)) f->model[0] = '\0';
    }
    f->bin = getenv("BUZZRADAR_BIN");
    if (!f->bin) f->bin = "build/buzzradar";
    if (harness_broker_start(&f->broker, brokers, NULL) || harness_redis_start(&f->redis) ||
        harness_tmpdir_create("worker", f->dir, sizeof f->dir)) {
        harness_broker_stop(&f->broker);
        harness_redis_stop(&f->redis);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static inline int wf_teardown(void **state) {
    WorkerFixture *f = *state;
    harness_broker_stop(&f->broker);
    harness_redis_stop(&f->redis);
    harness_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* Fresh names and topics (WF_PARTITIONS partitions each) for one test. */
static inline void wf_names(WorkerFixture *f, const char *prefix, WorkerNames *n) {
    char p[64];
    snprintf(p, sizeof p, "%s-in", prefix);
    harness_unique_name(p, n->in, WF_NAME);
    snprintf(p, sizeof p, "%s-out", prefix);
    harness_unique_name(p, n->out, WF_NAME);
    snprintf(p, sizeof p, "%s-dlq", prefix);
    harness_unique_name(p, n->dlq, WF_NAME);
    snprintf(p, sizeof p, "%s-fb", prefix);
    harness_unique_name(p, n->feedback, WF_NAME);
    snprintf(p, sizeof p, "%s-al", prefix);
    harness_unique_name(p, n->alerts, WF_NAME);
    snprintf(p, sizeof p, "%s-g", prefix);
    harness_unique_name(p, n->group, WF_NAME);
    const char *topics[] = {n->in, n->out, n->dlq, n->feedback, n->alerts};
    for (int i = 0; i < 5; i++)
        assert_int_equal(harness_broker_command(&f->broker, NULL, 0, "topic %s %d", topics[i], WF_PARTITIONS),
                         0);
}

/* Starts `buzzradar run` on the names, logging (JSON) to DIR/<log>; `extra` is a
 * NULL-terminated list of more arguments (or NULL). Returns its PID. */
static inline pid_t wf_worker_start(WorkerFixture *f, const WorkerNames *n, const char *log,
                                    const char *const *extra, char *log_path, size_t log_len) {
    const char *argv[64] = {f->bin,
                            "run",
                            "--brokers",
                            f->broker.bootstrap,
                            "--redis",
                            f->redis.url,
                            "--group",
                            n->group,
                            "--topic-in",
                            n->in,
                            "--topic-out",
                            n->out,
                            "--topic-dlq",
                            n->dlq,
                            "--topic-feedback",
                            n->feedback,
                            "--topic-alerts",
                            n->alerts,
                            "--model",
                            f->model,
                            "--threads",
                            "2",
                            "--stats-interval",
                            "1",
                            "--http",
                            "127.0.0.1:0",
                            "-X",
                            "consumer.session.timeout.ms=3000",
                            "-X",
                            "consumer.heartbeat.interval.ms=300",
                            "-X",
                            "consumer.auto.commit.interval.ms=200"};
    int argc = 0;
    while (argv[argc]) argc++;
    for (int i = 0; extra && extra[i] && argc < 62; i++) argv[argc++] = extra[i];
    argv[argc] = NULL;
    harness_path_join(log_path, log_len, f->dir, log);
    HarnessSpawnOptions o = {.stderr_path = log_path, .stdout_path = "/dev/null"};
    pid_t pid = harness_spawn(argv, &o);
    assert_true(pid > 0);
    return pid;
}

/* Occurrences of needle in a file (0 when unreadable). */
static inline int wf_count_in_file(const char *path, const char *needle) {
    char *text = harness_read_file(path, NULL);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle)) n++;
    free(text);
    return n;
}

/* Waits until needle occurs `count` times in the log; fails the test otherwise. */
static inline void wf_wait_log(const char *log, const char *needle, int count, int timeout_ms) {
    int64_t deadline = harness_now_ms() + timeout_ms;
    while (wf_count_in_file(log, needle) < count) {
        if (harness_now_ms() > deadline) {
            harness_print_tail("worker log", log);
            fail_msg("'%s' not seen %d times in %s within %d ms", needle, count, log, timeout_ms);
        }
        harness_sleep_ms(50);
    }
}

/* Waits until the worker has exactly `partitions` partitions after its latest
 * rebalance (its log's last partitions_assigned/revoked line says so). */
static inline void wf_wait_assigned(const char *log, int partitions, int timeout_ms) {
    char needle[48];
    snprintf(needle, sizeof needle, "\"assigned\":\"%d\"", partitions);
    int64_t deadline = harness_now_ms() + timeout_ms;
    for (;;) {
        char *text = harness_read_file(log, NULL);
        const char *last = NULL;
        for (const char *p = text; p && (p = strstr(p, "\"event\":\"partitions_")); p++) last = p;
        const char *eol = last ? strchr(last, '\n') : NULL;
        int ok = last && eol && memmem(last, (size_t)(eol - last), needle, strlen(needle));
        free(text);
        if (ok) return;
        if (harness_now_ms() > deadline) {
            harness_print_tail("worker log", log);
            fail_msg("worker did not settle on %d partitions within %d ms", partitions, timeout_ms);
        }
        harness_sleep_ms(50);
    }
}

/* Stops a worker with SIGTERM and asserts a clean exit (status 0) within 30 s. */
static inline void wf_worker_term(pid_t pid, const char *log) {
    assert_int_equal(harness_signal(pid, SIGTERM), 0);
    int status = 0;
    if (harness_wait(pid, 30000, &status) != 0) {
        harness_print_tail("worker log", log);
        harness_stop(pid, 1000);
        fail_msg("worker did not exit within 30 s of SIGTERM");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        harness_print_tail("worker log", log);
        fail_msg("worker exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
    }
}

/* Kills a worker with SIGKILL and reaps it. */
static inline void wf_worker_kill(pid_t pid) {
    assert_int_equal(harness_signal(pid, SIGKILL), 0);
    assert_int_equal(harness_wait(pid, 10000, NULL), 0);
}

/* The text of tweet i (varied, so that the model's scores vary). */
static inline void wf_tweet_text(int i, char *buf, size_t len) {
    static const char *const phrases[] = {"I love flying with Air Paradis, the crew was wonderful",
                                          "Worst flight ever, they lost my bags and nobody cares",
                                          "delayed again... three hours on the tarmac #fail",
                                          "Great seats and a smooth landing, thank you!",
                                          "meh, the food was ok I guess",
                                          "@AirParadis refund my ticket now, this is a scam",
                                          "Best airline in Europe, friendly staff and on time"};
    snprintf(buf, len, "%s (%d)", phrases[i % 7], i);
}

/* Produces tweets with ids "<prefix><i>" for i in [first, first + n), keyed by id,
 * with the texts text(i) writes (at most 160 bytes, no character JSON must escape). */
static inline void wf_produce_texts(WorkerFixture *f, const char *topic, const char *prefix, int first, int n,
                                    void (*text_of)(int i, char *buf, size_t len)) {
    HarnessRecord *recs = calloc((size_t)n, sizeof *recs);
    char(*keys)[32] = calloc((size_t)n, 32);
    char(*values)[256] = calloc((size_t)n, 256);
    for (int i = 0; i < n; i++) {
        char text[160];
        text_of(first + i, text, sizeof text);
        snprintf(keys[i], 32, "%s%d", prefix, first + i);
        snprintf(values[i], 256, "{\"id\":\"%s\",\"text\":\"%s\",\"lang\":\"en\"}", keys[i], text);
        recs[i] = (HarnessRecord){.key = keys[i], .value = values[i]};
    }
    char err[256];
    if (harness_kafka_produce(f->broker.bootstrap, topic, recs, (size_t)n, NULL, 30000, err, sizeof err))
        fail_msg("produce: %s", err);
    free(recs);
    free(keys);
    free(values);
}

/* wf_produce_texts with the varied texts of wf_tweet_text. */
static inline void wf_produce_tweets(WorkerFixture *f, const char *topic, const char *prefix, int first,
                                     int n) {
    wf_produce_texts(f, topic, prefix, first, n, wf_tweet_text);
}

/* Messages in a topic now (the sum of its partitions' high watermarks). */
static inline int64_t wf_topic_count(WorkerFixture *f, const char *topic) {
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", f->broker.bootstrap, err, sizeof err);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    assert_non_null(c);
    int64_t sum = 0;
    for (int p = 0; p < WF_PARTITIONS; p++) {
        int64_t lo, hi;
        assert_int_equal(rd_kafka_query_watermark_offsets(c, topic, p, &lo, &hi, 10000),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        sum += hi - lo;
    }
    rd_kafka_destroy(c);
    return sum;
}

/* Waits until a topic holds at least n messages; returns how many it holds. */
static inline int64_t wf_wait_count(WorkerFixture *f, const char *topic, int64_t n, int timeout_ms,
                                    const char *log) {
    int64_t deadline = harness_now_ms() + timeout_ms, c;
    while ((c = wf_topic_count(f, topic)) < n) {
        if (harness_now_ms() > deadline) {
            if (log) harness_print_tail("worker log", log);
            fail_msg("%s holds %lld messages, not %lld, after %d ms", topic, (long long)c, (long long)n,
                     timeout_ms);
        }
        harness_sleep_ms(100);
    }
    return c;
}

/* The group's committed offsets of a topic's partitions (-1 when none). */
static inline void wf_committed(WorkerFixture *f, const char *group, const char *topic, int64_t *out) {
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", f->broker.bootstrap, err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    assert_non_null(c);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(WF_PARTITIONS);
    for (int p = 0; p < WF_PARTITIONS; p++) rd_kafka_topic_partition_list_add(l, topic, p);
    assert_int_equal(rd_kafka_committed(c, l, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int p = 0; p < WF_PARTITIONS; p++) out[p] = l->elems[p].offset >= 0 ? l->elems[p].offset : -1;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(c);
}

/* Reads a whole topic (every message now in it). */
static inline void wf_read_all(WorkerFixture *f, const char *topic, HarnessMessages *out) {
    int64_t n = wf_topic_count(f, topic);
    char err[256];
    if (harness_kafka_consume(f->broker.bootstrap, topic, (size_t)n, 30000, NULL, out, err, sizeof err))
        fail_msg("consume %s: %s", topic, err);
}

/* Parses a scored event; fails the test when it is not one. */
static inline cJSON *wf_event(const HarnessMessage *m) {
    cJSON *o = cJSON_Parse(m->value);
    if (!o || !cJSON_IsString(cJSON_GetObjectItem(o, "id")) ||
        !cJSON_IsString(cJSON_GetObjectItem(o, "text")) ||
        !cJSON_IsNumber(cJSON_GetObjectItem(o, "p_positive")))
        fail_msg("not a scored event: %s", m->value);
    return o;
}

/* The partition and offset of a scored event's source. */
static inline void wf_event_source(const cJSON *o, int *partition, int64_t *offset) {
    const cJSON *src = cJSON_GetObjectItem(o, "source");
    *partition = cJSON_GetObjectItem(src, "partition")->valueint;
    *offset = (int64_t)cJSON_GetObjectItem(src, "offset")->valuedouble;
}

/* The P(positive) `buzzradar predict` prints for each of n texts, in order. */
static inline void wf_predict_texts(WorkerFixture *f, char (*texts)[160], int n, double *p) {
    char in[HARNESS_PATH_MAX], out[HARNESS_PATH_MAX];
    harness_path_join(in, sizeof in, f->dir, "predict.in");
    harness_path_join(out, sizeof out, f->dir, "predict.out");
    FILE *fp = fopen(in, "w");
    assert_non_null(fp);
    for (int i = 0; i < n; i++) fprintf(fp, "%s\n", texts[i]);
    fclose(fp);
    const char *argv[] = {f->bin, "predict", "--model", f->model, NULL};
    HarnessSpawnOptions o = {.stdin_path = in, .stdout_path = out};
    pid_t pid = harness_spawn(argv, &o);
    int status;
    assert_int_equal(harness_wait(pid, 60000, &status), 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *text = harness_read_file(out, NULL);
    assert_non_null(text);
    int i = 0;
    for (char *line = strtok(text, "\n"); line && i < n; line = strtok(NULL, "\n"), i++) {
        cJSON *o2 = cJSON_Parse(line);
        assert_non_null(o2);
        assert_string_equal(cJSON_GetObjectItem(o2, "text")->valuestring, texts[i]);
        p[i] = cJSON_GetObjectItem(o2, "p_positive")->valuedouble;
        cJSON_Delete(o2);
    }
    assert_int_equal(i, n);
    free(text);
}

/* ---- the worker's HTTP server and alerts topic ---------------------------------------- */

/* The port of the worker's HTTP server, from its "http_listening" log line (waits up
 * to 30 s for it). */
static inline int wf_http_port(const char *log) {
    wf_wait_log(log, "\"event\":\"http_listening\"", 1, 30000);
    char *text = harness_read_file(log, NULL);
    const char *line = strstr(text, "\"event\":\"http_listening\"");
    const char *p = strstr(line, "\"port\":\"");
    assert_non_null(p);
    int port = atoi(p + 8);
    free(text);
    assert_true(port > 0 && port < 65536);
    return port;
}

/* An HTTP answer: its status and body (free() it). */
typedef struct {
    int status;
    char *body;
} WfReply;

/* curl -s [-X POST --data-binary data] http://127.0.0.1:port/path (a POST of JSON when
 * data is not NULL) into *r; fails the test when curl fails. `name` names the body's
 * file in the fixture's directory (distinct per caller that may overlap). */
static inline void wf_http_call(WorkerFixture *f, int port, const char *path, const char *data,
                                const char *name, WfReply *r) {
    char url[256], body[HARNESS_PATH_MAX], code[HARNESS_PATH_MAX], code_name[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    snprintf(code_name, sizeof code_name, "%s.code", name);
    harness_path_join(body, sizeof body, f->dir, name);
    harness_path_join(code, sizeof code, f->dir, code_name);
    const char *argv[20] = {"curl", "-s", "-S", "--max-time", "10", "-o", body, "-w", "%{http_code}"};
    int a = 9;
    if (data) {
        argv[a++] = "-X";
        argv[a++] = "POST";
        argv[a++] = "-H";
        argv[a++] = "Content-Type: application/json";
        argv[a++] = "--data-binary";
        argv[a++] = data;
    }
    argv[a++] = url;
    argv[a] = NULL;
    HarnessSpawnOptions o = {.stdout_path = code};
    pid_t pid = harness_spawn(argv, &o);
    assert_true(pid > 0);
    int status;
    assert_int_equal(harness_wait(pid, 20000, &status), 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) fail_msg("curl %s failed", url);
    char *c = harness_read_file(code, NULL);
    assert_non_null(c);
    r->status = atoi(c);
    free(c);
    r->body = harness_read_file(body, NULL);
    assert_non_null(r->body);
}

/* GET http://127.0.0.1:port/path; returns the body (free() it) of a 200 answer, and
 * fails the test otherwise. */
static inline char *wf_http_get(WorkerFixture *f, int port, const char *path, const char *name) {
    WfReply r;
    wf_http_call(f, port, path, NULL, name, &r);
    if (r.status != 200) fail_msg("GET %s: status %d", path, r.status);
    return r.body;
}

/* The sum of a metric family's samples ("name{..} v" and "name v" lines) in a
 * Prometheus text. */
static inline double wf_metric_sum(const char *text, const char *name) {
    double sum = 0;
    size_t n = strlen(name);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, name, n) && (l[n] == '{' || l[n] == ' ')) sum += atof(strchr(l, ' ') + 1);
    return sum;
}

/* wf_metric_sum of the worker's /metrics now. */
static inline double wf_metric(WorkerFixture *f, int port, const char *name) {
    char *text = wf_http_get(f, port, "/metrics", "metrics.body");
    double sum = wf_metric_sum(text, name);
    free(text);
    return sum;
}

/* Waits until the metric's sum is at least `min`; returns it (fails the test after
 * timeout_ms). */
static inline double wf_wait_metric(WorkerFixture *f, int port, const char *name, double min, int timeout_ms,
                                    const char *log) {
    int64_t deadline = harness_now_ms() + timeout_ms;
    double v;
    while ((v = wf_metric(f, port, name)) < min) {
        if (harness_now_ms() > deadline) {
            harness_print_tail("worker log", log);
            fail_msg("%s is %g, not at least %g, after %d ms", name, v, min, timeout_ms);
        }
        harness_sleep_ms(100);
    }
    return v;
}

/* The alerts on a topic now: how many have key `type` (all of them when type is NULL).
 * Each one's value must be an alert whose "type" is its key; the last one of `type` is
 * parsed into *last when last is not NULL (cJSON_Delete it; NULL when none). */
static inline int wf_alerts(WorkerFixture *f, const char *topic, const char *type, cJSON **last) {
    HarnessMessages msgs = {0};
    wf_read_all(f, topic, &msgs);
    int count = 0;
    if (last) *last = NULL;
    for (size_t k = 0; k < msgs.n; k++) {
        const HarnessMessage *m = &msgs.items[k];
        cJSON *a = m->value ? cJSON_Parse(m->value) : NULL;
        const cJSON *t = cJSON_GetObjectItem(a, "type");
        if (!m->key || !cJSON_IsString(t) || strcmp(t->valuestring, m->key))
            fail_msg("not an alert keyed by its type: %s", m->value ? m->value : "(null)");
        if (type && strcmp(m->key, type)) {
            cJSON_Delete(a);
            continue;
        }
        count++;
        if (last) {
            cJSON_Delete(*last);
            *last = a;
        } else {
            cJSON_Delete(a);
        }
    }
    harness_messages_free(&msgs);
    return count;
}

#endif
