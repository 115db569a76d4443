/* test_worker.c — `buzzradar run` as a process, against the project's broker and a
 * real redis-server: every tweet scored exactly once with the probability `buzzradar
 * predict` gives the same text, predictions stored in Redis, malformed messages
 * dead-lettered with their reason while the tweets after them are scored, repeated
 * texts served from the cache, SIGTERM: a clean exit with offsets committed, after
 * which a restart re-scores nothing, and --inference-cpus (thread affinities read in
 * /proc). */
#include <dirent.h>

#include "tests/integration/worker_fixture.h"
#include "worker/cpus.h"

static int setup(void **state) { return wf_setup(state, 1); }
static int teardown(void **state) { return wf_teardown(state); }

static void scores_each_tweet_once_like_predict_and_restart_rescores_nothing(void **state) {
    WorkerFixture *f = *state;
    if (!f->model[0]) skip();
    enum { N = 400 };
    WorkerNames n;
    wf_names(f, "once", &n);
    wf_produce_tweets(f, n.in, "t", 0, N);
    char log[HARNESS_PATH_MAX];
    pid_t w = wf_worker_start(f, &n, "once.log", NULL, log, sizeof log);
    wf_wait_count(f, n.out, N, 60000, log);
    wf_worker_term(w, log);
    wf_wait_log(log, "\"event\":\"pipeline_stopped\"", 1, 1000);

    HarnessMessages msgs = {0};
    wf_read_all(f, n.out, &msgs);
    assert_int_equal(msgs.n, N); /* exactly once: a clean run has no duplicates */
    static char texts[N][160];
    static double want[N];
    for (int i = 0; i < N; i++) wf_tweet_text(i, texts[i], sizeof texts[i]);
    wf_predict_texts(f, texts, N, want);
    static uint8_t seen[N];
    for (size_t k = 0; k < msgs.n; k++) {
        cJSON *o = wf_event(&msgs.items[k]);
        const char *id = cJSON_GetObjectItem(o, "id")->valuestring;
        assert_string_equal(msgs.items[k].key, id);
        int i = atoi(id + 1);
        if (i < 0 || i >= N || seen[i]) fail_msg("unexpected or repeated id %s", id);
        seen[i] = 1;
        assert_string_equal(cJSON_GetObjectItem(o, "text")->valuestring, texts[i]);
        double p = cJSON_GetObjectItem(o, "p_positive")->valuedouble;
        if (p != want[i]) fail_msg("tweet %d: worker %.6f, predict %.6f", i, p, want[i]);
        assert_string_equal(cJSON_GetObjectItem(o, "label")->valuestring, p >= 0.5 ? "positive" : "negative");
        assert_true(cJSON_IsString(cJSON_GetObjectItem(o, "scored_at")));
        cJSON_Delete(o);
    }
    harness_messages_free(&msgs);

    /* the predictions are in Redis for feedback matching */
    redisContext *r = harness_redis_connect(&f->redis);
    assert_non_null(r);
    for (int i = 0; i < N; i++) {
        redisReply *rep = redisCommand(r, "HGET bz:pred:t%d p_positive", i);
        assert_non_null(rep);
        assert_int_equal(rep->type, REDIS_REPLY_STRING);
        assert_true(atof(rep->str) >= 0 && atof(rep->str) <= 1);
        freeReplyObject(rep);
        rep = redisCommand(r, "TTL bz:pred:t%d", i);
        assert_true(rep->integer > 0 && rep->integer <= 86400);
        freeReplyObject(rep);
    }
    redisFree(r);

    /* SIGTERM committed everything: a restart re-scores nothing */
    int64_t committed[WF_PARTITIONS], total = 0;
    wf_committed(f, n.group, n.in, committed);
    for (int p = 0; p < WF_PARTITIONS; p++) total += committed[p] > 0 ? committed[p] : 0;
    assert_int_equal(total, N);
    w = wf_worker_start(f, &n, "once-restart.log", NULL, log, sizeof log);
    wf_wait_assigned(log, WF_PARTITIONS, 30000);
    wf_wait_log(log, "\"event\":\"stats\"", 2, 10000); /* a second or two of reading */
    wf_worker_term(w, log);
    assert_int_equal(wf_topic_count(f, n.out), N);
    assert_int_equal(wf_count_in_file(log, "\"consumed\":\"0\""),
                     wf_count_in_file(log, "\"event\":\"stats\""));
}

static void malformed_messages_go_to_the_dead_letter_topic(void **state) {
    WorkerFixture *f = *state;
    if (!f->model[0]) skip();
    WorkerNames n;
    wf_names(f, "dlq", &n);
    static char big[3000];
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "{\"id\":\"big\",\"text\":\"", 20);
    memcpy(big + sizeof big - 3, "\"}", 3);
    struct {
        const char *value, *reason;
    } bad[] = {{"{\"id\":\"x\",\"text\":", "invalid_json"},
               {"{\"text\":\"who am I\"}", "missing_id"},
               {"{\"id\":\"x2\",\"lang\":\"en\"}", "missing_text"},
               {"{\"id\":\"x3\",\"text\":\" \\n \"}", "empty_text"},
               {big, "too_large"},
               {"{\"id\":\"\xc3\x28\",\"text\":\"x\"}", "invalid_utf8"}};
    enum { NBAD = 6, PER = 20 };
    /* everything pinned to partition 0: each bad message is followed by good ones */
    HarnessRecord recs[NBAD * (PER + 1)];
    static char keys[NBAD * (PER + 1)][32], values[NBAD * (PER + 1)][256];
    int k = 0, good = 0;
    for (int b = 0; b < NBAD; b++) {
        snprintf(keys[k], 32, "bad-%d", b);
        recs[k] = (HarnessRecord){.key = keys[k], .value = bad[b].value, .pinned = true, .partition = 0};
        k++;
        for (int i = 0; i < PER; i++, k++, good++) {
            char text[160];
            wf_tweet_text(good, text, sizeof text);
            snprintf(keys[k], 32, "g%d", good);
            snprintf(values[k], 256, "{\"id\":\"g%d\",\"text\":\"%s\"}", good, text);
            recs[k] = (HarnessRecord){.key = keys[k], .value = values[k], .pinned = true, .partition = 0};
        }
    }
    char err[256];
    assert_int_equal(
        harness_kafka_produce(f->broker.bootstrap, n.in, recs, (size_t)k, NULL, 30000, err, sizeof err), 0);
    char log[HARNESS_PATH_MAX];
    const char *extra[] = {"--max-message-bytes", "2048", NULL};
    pid_t w = wf_worker_start(f, &n, "dlq.log", extra, log, sizeof log);
    wf_wait_count(f, n.out, good, 60000, log);
    wf_wait_count(f, n.dlq, NBAD, 10000, log);
    wf_worker_term(w, log);
    assert_int_equal(wf_topic_count(f, n.out), good);
    assert_int_equal(wf_topic_count(f, n.dlq), NBAD);

    HarnessMessages dl = {0};
    wf_read_all(f, n.dlq, &dl);
    for (int b = 0; b < NBAD; b++) {
        const HarnessMessage *m = NULL;
        for (size_t i = 0; i < dl.n; i++)
            if (dl.items[i].key && !strcmp(dl.items[i].key, keys[b * (PER + 1)])) m = &dl.items[i];
        if (!m) fail_msg("no dead letter for %s", bad[b].reason);
        assert_string_equal(harness_message_header(m, "error"), bad[b].reason);
        char source[160];
        snprintf(source, sizeof source, "%s/0/%d", n.in, b * (PER + 1));
        assert_string_equal(harness_message_header(m, "source"), source);
        assert_int_equal(m->value_len, strlen(bad[b].value)); /* the payload, unchanged */
        assert_memory_equal(m->value, bad[b].value, m->value_len);
    }
    harness_messages_free(&dl);
    /* committed past the dead letters: nothing stalled */
    int64_t committed[WF_PARTITIONS];
    wf_committed(f, n.group, n.in, committed);
    assert_int_equal(committed[0], k);
}

static void repeated_texts_are_served_from_the_cache(void **state) {
    WorkerFixture *f = *state;
    if (!f->model[0]) skip();
    WorkerNames n;
    wf_names(f, "cache", &n);
    redisContext *r = harness_redis_connect(&f->redis); /* earlier tests scored these texts */
    assert_non_null(r);
    freeReplyObject(redisCommand(r, "FLUSHALL"));
    redisFree(r);
    char log[HARNESS_PATH_MAX];
    pid_t w = wf_worker_start(f, &n, "cache.log", NULL, log, sizeof log);
    wf_wait_assigned(log, WF_PARTITIONS, 30000);
    wf_produce_tweets(f, n.in, "first", 0, 7); /* 7 distinct texts */
    wf_wait_count(f, n.out, 7, 30000, log);
    /* the same 7 texts again, 10 times each, as retweets would be */
    for (int r = 0; r < 10; r++) {
        HarnessRecord recs[7];
        char keys[7][32], values[7][256];
        for (int i = 0; i < 7; i++) {
            char text[160];
            wf_tweet_text(i, text, sizeof text);
            snprintf(keys[i], 32, "rt%d-%d", r, i);
            snprintf(values[i], 256, "{\"id\":\"%s\",\"text\":\"%s\"}", keys[i], text);
            recs[i] = (HarnessRecord){.key = keys[i], .value = values[i]};
        }
        char err[256];
        assert_int_equal(
            harness_kafka_produce(f->broker.bootstrap, n.in, recs, 7, NULL, 30000, err, sizeof err), 0);
    }
    wf_wait_count(f, n.out, 77, 30000, log);
    wf_worker_term(w, log);
    /* the last stats line counts the hits: every repeat */
    char *text = harness_read_file(log, NULL);
    const char *last = NULL;
    for (const char *p = text; p && (p = strstr(p, "\"event\":\"stats\"")); p++) last = p;
    assert_non_null(last);
    assert_non_null(strstr(last, "\"cache_hits\":\"70\""));
    free(text);
    /* and the repeats carry the first scores */
    HarnessMessages msgs = {0};
    wf_read_all(f, n.out, &msgs);
    double first[7] = {0};
    for (size_t k = 0; k < msgs.n; k++) {
        cJSON *o = wf_event(&msgs.items[k]);
        const char *id = cJSON_GetObjectItem(o, "id")->valuestring;
        if (!strncmp(id, "first", 5)) first[atoi(id + 5)] = cJSON_GetObjectItem(o, "p_positive")->valuedouble;
        cJSON_Delete(o);
    }
    for (size_t k = 0; k < msgs.n; k++) {
        cJSON *o = wf_event(&msgs.items[k]);
        const char *id = cJSON_GetObjectItem(o, "id")->valuestring;
        if (!strncmp(id, "rt", 2))
            assert_true(cJSON_GetObjectItem(o, "p_positive")->valuedouble ==
                        first[atoi(strchr(id, '-') + 1)]);
        cJSON_Delete(o);
    }
    harness_messages_free(&msgs);
}

/* The CPUs a thread of the worker may run on ("0-1"), and its name, into buf. */
static int thread_cpus(pid_t pid, const char *tid, char *comm, size_t comm_len, char *cpus, size_t cpus_len) {
    char path[384];
    snprintf(path, sizeof path, "/proc/%d/task/%s/comm", (int)pid, tid);
    char *c = harness_read_file(path, NULL);
    snprintf(path, sizeof path, "/proc/%d/task/%s/status", (int)pid, tid);
    char *s = harness_read_file(path, NULL);
    const char *line = s ? strstr(s, "Cpus_allowed_list:") : NULL;
    int ok = c && line;
    if (ok) {
        snprintf(comm, comm_len, "%.*s", (int)strcspn(c, "\n"), c);
        line += strlen("Cpus_allowed_list:");
        line += strspn(line, " \t");
        snprintf(cpus, cpus_len, "%.*s", (int)strcspn(line, "\n"), line);
    }
    free(c);
    free(s);
    return ok;
}

/* --inference-cpus 1: both inference threads run on CPU 1 only, every thread started
 * after start-up (librdkafka's, delivery, services, HTTP) stays off it, and the
 * tweets are scored as usual. */
static void inference_threads_on_their_own_cpus(void **state) {
    WorkerFixture *f = *state;
    if (!f->model[0] || sysconf(_SC_NPROCESSORS_ONLN) < 2) skip();
    WorkerNames n;
    wf_names(f, "cpus", &n);
    char log[HARNESS_PATH_MAX];
    const char *extra[] = {"--inference-cpus", "1", NULL};
    pid_t w = wf_worker_start(f, &n, "cpus.log", extra, log, sizeof log);
    wf_wait_assigned(log, WF_PARTITIONS, 30000);
    wf_produce_tweets(f, n.in, "c", 0, 40);
    wf_wait_count(f, n.out, 40, 30000, log);
    assert_int_equal(wf_count_in_file(log, "\"event\":\"cpus_set\""), 1);

    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)w);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int infer = 0, others = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char comm[64], cpus[64];
        if (!thread_cpus(w, e->d_name, comm, sizeof comm, cpus, sizeof cpus)) continue; /* ended */
        if (!strncmp(comm, "bz:infer", 8)) {
            assert_string_equal(cpus, "1");
            infer++;
        } else if (!strncmp(comm, "rdk:", 4) || !strncmp(comm, "bz:", 3) || !strncmp(comm, "MHD", 3)) {
            CpuList l;
            char err[256];
            assert_int_equal(cpus_parse(cpus, &l, err, sizeof err), 0);
            for (int i = 0; i < l.n; i++)
                if (l.cpu[i] == 1)
                    fail_msg("thread %s may run on CPUs %s, the inference CPU among them", comm, cpus);
            others++;
        }
    }
    closedir(d);
    assert_int_equal(infer, 2);
    assert_true(others >= 5); /* librdkafka's threads, delivery, services, HTTP */
    wf_worker_term(w, log);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scores_each_tweet_once_like_predict_and_restart_rescores_nothing),
        cmocka_unit_test(malformed_messages_go_to_the_dead_letter_topic),
        cmocka_unit_test(repeated_texts_are_served_from_the_cache),
        cmocka_unit_test(inference_threads_on_their_own_cpus),
    };
    if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER")); /* e.g. "*cache*" */
    return cmocka_run_group_tests_name("worker", tests, setup, teardown);
}
