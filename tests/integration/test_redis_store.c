/* test_redis_store.c — the prediction store and score cache against a real
 * redis-server (started by the harness on a unix socket): values and TTLs, key
 * prefix, one round trip per batch (measured on the server), reply errors, a server
 * stopped, hung and restarted under a live client, TCP and unix URLs, databases,
 * AUTH, and bad URLs; the raw text kept with each prediction (byte-exact, cut at
 * STORE_TEXT_MAX on a character boundary, optional for older predictions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "model/util.h"
#include "tests/harness/harness.h"
#include "worker/redis_store.h"
#include "worker/sha1.h"

#define VERSION "bilstm-test-1"

static HarnessRedis server; /* shared by the tests that do not stop it */

/* ---- helpers ----------------------------------------------------------------------- */

static redisContext *raw_connect(const HarnessRedis *r) {
    redisContext *c = harness_redis_connect(r);
    assert_non_null(c);
    return c;
}

static redisReply *raw(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    return r;
}

static long long raw_int(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static void raw_ok(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    assert_non_null(r);
    if (r->type == REDIS_REPLY_ERROR) fail_msg("redis: %s", r->str);
    freeReplyObject(r);
}

/* A field of INFO (section) as a number. */
static long long info_field(redisContext *c, const char *section, const char *field) {
    redisReply *r = raw(c, "INFO %s", section);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    char pat[128];
    snprintf(pat, sizeof pat, "\n%s:", field);
    const char *p = strstr(r->str, pat);
    long long v = p ? strtoll(p + strlen(pat), NULL, 10) : -1;
    freeReplyObject(r);
    if (v < 0) fail_msg("INFO %s has no %s", section, field);
    return v;
}

/* calls=N of one command in INFO commandstats (0 when never called). */
static long long command_calls(redisContext *c, const char *cmd) {
    redisReply *r = raw(c, "INFO commandstats");
    char pat[64];
    snprintf(pat, sizeof pat, "cmdstat_%s:calls=", cmd);
    const char *p = strstr(r->str, pat);
    long long v = p ? strtoll(p + strlen(pat), NULL, 10) : 0;
    freeReplyObject(r);
    return v;
}

static RedisStore *open_store(const char *url, const char *prefix, int max_batch) {
    StoreOptions o;
    store_options_default(&o);
    o.url = url;
    o.model_version = VERSION;
    if (prefix) o.key_prefix = prefix;
    if (max_batch) o.max_batch = max_batch;
    o.conn.backoff_initial_ms = 20; /* tests wait for retries: keep them short */
    o.conn.backoff_max_ms = 100;
    char err[256];
    RedisStore *s = store_new(&o, err, sizeof err);
    if (!s) fail_msg("store_new(%s): %s", url, err);
    return s;
}

typedef struct {
    char ids[300][24];
    char texts[300][64];
    const char *text_ptr[300];
    size_t text_len[300];
    StoreRecord recs[300];
} Batch;

/* n records "tweet-<seed>-<i>" with texts "text <seed> <i>" and varied probabilities. */
static void batch_fill(Batch *b, int n, int seed) {
    for (int i = 0; i < n; i++) {
        snprintf(b->ids[i], sizeof b->ids[i], "tweet-%d-%d", seed, i);
        snprintf(b->texts[i], sizeof b->texts[i], "text %d %d", seed, i);
        b->text_ptr[i] = b->texts[i];
        b->text_len[i] = strlen(b->texts[i]);
        float p = (float)((i * 37 + seed) % 1000) / 999.0f;
        b->recs[i] = (StoreRecord){.id = b->ids[i],
                                   .id_len = strlen(b->ids[i]),
                                   .norm_text = b->texts[i],
                                   .norm_len = b->text_len[i],
                                   .p_positive = p,
                                   .positive = p >= 0.5f,
                                   .scored_at_ms = 1764050400123LL + i};
    }
}

static double elapsed_since(double t0) { return util_now_s() - t0; }

/* ---- set-up ------------------------------------------------------------------------- */

static int group_setup(void **state) {
    (void)state;
    signal(SIGPIPE, SIG_DFL); /* the store must survive broken sockets by itself */
    return harness_redis_start(&server) == 0 ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    return harness_redis_stop(&server) == 0 ? 0 : -1;
}

static int flush_all(void **state) {
    (void)state;
    redisContext *c = harness_redis_connect(&server);
    if (!c) return -1;
    redisReply *r = redisCommand(c, "FLUSHALL");
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (r) freeReplyObject(r);
    redisFree(c);
    return ok ? 0 : -1;
}

/* ---- tests -------------------------------------------------------------------------- */

/* Written predictions and cache entries have the documented shape, values and TTLs,
 * and read back bit-identical through the store. */
static void put_then_read_back_with_ttls(void **state) {
    (void)state;
    static Batch b;
    batch_fill(&b, 50, 1);
    b.recs[7].norm_text = NULL; /* a cache hit: not rewritten */
    RedisStore *s = open_store(server.url, NULL, 64);
    assert_int_equal(store_state(s), REDIS_CONN_UP);
    assert_int_equal(store_put(s, b.recs, 50), STORE_OK);

    redisContext *c = raw_connect(&server);
    redisReply *h = raw(c, "HGETALL bz:pred:tweet-1-3");
    assert_int_equal(h->type, REDIS_REPLY_ARRAY);
    assert_int_equal(h->elements, 8);
    const char *want[][2] = {{"label", b.recs[3].positive ? "positive" : "negative"},
                             {"model_version", VERSION},
                             {"scored_at", "2025-11-25T06:00:00.126Z"}};
    for (size_t w = 0; w < 3; w++) {
        int seen = 0;
        for (size_t e = 0; e + 1 < h->elements; e += 2)
            if (!strcmp(h->element[e]->str, want[w][0])) {
                assert_string_equal(h->element[e + 1]->str, want[w][1]);
                seen = 1;
            }
        assert_true(seen);
    }
    freeReplyObject(h);
    long long ttl = raw_int(c, "TTL bz:pred:tweet-1-3");
    assert_true(ttl > 86390 && ttl <= 86400);

    char key[128];
    assert_true(store_cache_key(s, b.texts[3], b.text_len[3], key, sizeof key) > 0);
    char hex[SHA1_HEX_LEN + 1];
    char expect_key[128];
    snprintf(expect_key, sizeof expect_key, "bz:cache:%s", sha1_hex(b.texts[3], b.text_len[3], hex));
    assert_string_equal(key, expect_key);
    long long pttl = raw_int(c, "PTTL %s", key);
    assert_true(pttl > 3590000 && pttl <= 3600000);
    assert_int_equal(raw_int(c, "EXISTS bz:cache:%s", sha1_hex(b.texts[7], b.text_len[7], hex)), 0);
    assert_int_equal(raw_int(c, "DBSIZE"), 50 + 49);
    redisFree(c);

    /* the cache: 49 hits (bit-exact), the unwritten one and a new text miss */
    float p[52];
    uint8_t hit[52];
    memset(p, 0, sizeof p);
    const char *texts[52];
    size_t lens[52];
    for (int i = 0; i < 50; i++) texts[i] = b.texts[i], lens[i] = b.text_len[i];
    texts[50] = "never seen", lens[50] = 10;
    texts[51] = b.texts[0], lens[51] = b.text_len[0]; /* the same text twice in a batch */
    assert_int_equal(store_cache_get(s, texts, lens, 52, p, hit), 50);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(hit[i], i != 7);
        if (i != 7) assert_memory_equal(&p[i], &b.recs[i].p_positive, sizeof(float));
    }
    assert_int_equal(hit[50], 0);
    assert_int_equal(hit[51], 1);

    /* the prediction store, for feedback matching */
    const char *ids[3] = {b.ids[3], "no-such-tweet", b.ids[49]};
    size_t id_lens[3] = {strlen(ids[0]), strlen(ids[1]), strlen(ids[2])};
    StorePrediction pred[3];
    uint8_t found[3];
    assert_int_equal(store_pred_get(s, ids, id_lens, 3, pred, found), 2);
    assert_int_equal(found[0], 1);
    assert_int_equal(found[1], 0);
    assert_int_equal(found[2], 1);
    assert_memory_equal(&pred[0].p_positive, &b.recs[3].p_positive, sizeof(float));
    assert_int_equal(pred[0].positive, b.recs[3].positive);
    assert_string_equal(pred[2].model_version, VERSION);
    assert_string_equal(pred[2].scored_at, "2025-11-25T06:00:00.172Z");

    StoreStats st;
    store_stats(s, &st);
    assert_int_equal(st.preds_written, 50);
    assert_int_equal(st.cache_writes, 49);
    assert_int_equal(st.cache_lookups, 52);
    assert_int_equal(st.cache_hits, 50);
    assert_int_equal(st.preds_dropped, 0);
    assert_int_equal(st.reply_errors, 0);
    store_free(s);
}

/* bz:pred keeps the raw text for feedback export: byte-exact (quotes, commas, line
 * breaks, multi-byte UTF-8), cut on a character boundary past STORE_TEXT_MAX, absent
 * when the record has none; the TTL is unchanged; a prediction written without a text
 * field (an older worker) still reads back, with an empty text. */
static void prediction_keeps_the_raw_text(void **state) {
    (void)state;
    RedisStore *s = open_store(server.url, NULL, 0);
    static char longtext[STORE_TEXT_MAX + 64];
    /* "x" then "é" (2 bytes) repeated: STORE_TEXT_MAX falls inside a character */
    size_t ll = 0;
    longtext[ll++] = 'x';
    while (ll + 2 < sizeof longtext) longtext[ll++] = '\xc3', longtext[ll++] = '\xa9';
    assert_int_equal(STORE_TEXT_MAX % 2, 0); /* so the cut at STORE_TEXT_MAX splits an é */
    const char *texts[] = {"Lost my bags, again. \"Thanks\" @AirParadis\nnever again",
                           "caf\xc3\xa9 \xe2\x9c\x88 \xf0\x9f\x98\xa1", longtext, NULL};
    const size_t lens[] = {strlen(texts[0]), strlen(texts[1]), ll, 0};
    const char *ids[] = {"t-quote", "t-utf8", "t-long", "t-none"};
    StoreRecord rec[4];
    for (int i = 0; i < 4; i++)
        rec[i] = (StoreRecord){.id = ids[i],
                               .id_len = strlen(ids[i]),
                               .p_positive = 0.25f,
                               .scored_at_ms = 1764050400123LL,
                               .text = texts[i],
                               .text_len = lens[i]};
    assert_int_equal(store_put(s, rec, 4), STORE_OK);

    redisContext *c = raw_connect(&server);
    raw_ok(c, "HSET bz:pred:t-old label positive p_positive 0.75 model_version old scored_at x");
    for (int i = 0; i < 4; i++) {
        long long ttl = raw_int(c, "TTL bz:pred:%s", ids[i]);
        assert_true(ttl > 86400 - 5 && ttl <= 86400);
    }
    assert_int_equal(raw_int(c, "HEXISTS bz:pred:t-none text"), 0);
    assert_int_equal(raw_int(c, "HSTRLEN bz:pred:t-long text"), STORE_TEXT_MAX - 1);

    const char *q[] = {ids[0], ids[1], ids[2], ids[3], "t-old"};
    size_t ql[5];
    for (int i = 0; i < 5; i++) ql[i] = strlen(q[i]);
    StorePrediction *p = calloc(5, sizeof *p);
    uint8_t found[5];
    assert_int_equal(store_pred_get(s, q, ql, 5, p, found), 5);
    assert_int_equal(p[0].text_len, lens[0]);
    assert_memory_equal(p[0].text, texts[0], lens[0]);
    assert_string_equal(p[1].text, texts[1]);
    assert_int_equal(p[2].text_len, STORE_TEXT_MAX - 1); /* the split é left out whole */
    assert_memory_equal(p[2].text, longtext, STORE_TEXT_MAX - 1);
    assert_int_equal(p[2].text[STORE_TEXT_MAX - 1], '\0');
    assert_int_equal(p[3].text_len, 0);
    assert_string_equal(p[3].text, "");
    assert_int_equal(p[4].positive, 1);
    assert_int_equal(p[4].text_len, 0);

    /* a text field that is not a string makes the record malformed, not found */
    raw_ok(c, "DEL bz:pred:t-old");
    raw_ok(c, "HSET bz:pred:t-old text orphan");
    assert_int_equal(store_pred_get(s, q + 4, ql + 4, 1, p, found), 0);
    free(p);
    redisFree(c);

    /* the cut itself */
    assert_int_equal(store_text_len("abc", 3), 3);
    assert_int_equal(store_text_len(longtext, STORE_TEXT_MAX), STORE_TEXT_MAX);
    assert_int_equal(store_text_len(longtext, STORE_TEXT_MAX + 1), STORE_TEXT_MAX - 1);
    memset(longtext, 'a', sizeof longtext);
    assert_int_equal(store_text_len(longtext, sizeof longtext), STORE_TEXT_MAX);
    memset(longtext, '\x80', sizeof longtext); /* invalid: cut where it falls */
    assert_int_equal(store_text_len(longtext, sizeof longtext), STORE_TEXT_MAX);
    store_free(s);
}

/* Every key is under the configured prefix; ids with spaces and binary bytes survive. */
static void prefix_is_configurable(void **state) {
    (void)state;
    RedisStore *s = open_store(server.url, "airparadis:bz:", 0);
    const char id[] = "id with space\0and nul";
    StoreRecord r = {.id = id,
                     .id_len = sizeof id - 1,
                     .norm_text = "bag lost",
                     .norm_len = 8,
                     .p_positive = 0.03f,
                     .positive = 0,
                     .scored_at_ms = 0};
    assert_int_equal(store_put(s, &r, 1), STORE_OK);
    redisContext *c = raw_connect(&server);
    redisReply *k = raw(c, "KEYS *");
    assert_int_equal(k->elements, 2);
    for (size_t i = 0; i < k->elements; i++) assert_memory_equal(k->element[i]->str, "airparadis:bz:", 14);
    freeReplyObject(k);
    assert_int_equal(raw_int(c, "EXISTS airparadis:bz:pred:%b", id, sizeof id - 1), 1);
    redisFree(c);

    const char *ids[1] = {id};
    size_t lens[1] = {sizeof id - 1};
    StorePrediction p;
    uint8_t found;
    assert_int_equal(store_pred_get(s, ids, lens, 1, &p, &found), 1);
    assert_float_equal(p.p_positive, 0.03f, 0);

    /* a store with the default prefix does not see it */
    RedisStore *d = open_store(server.url, NULL, 0);
    assert_int_equal(store_pred_get(d, ids, lens, 1, &p, &found), 0);
    store_free(d);
    store_free(s);
}

/* Ids longer than any before (the key buffer grows) are written whole, with their
 * TTL, in the same batch as short ones. */
static void long_ids_are_written_whole(void **state) {
    (void)state;
    RedisStore *s = open_store(server.url, NULL, 0);
    static char longer[5000], shorter[1000];
    memset(longer, 'x', sizeof longer);
    memset(shorter, 'y', sizeof shorter);
    const char *ids[3] = {shorter, longer, "short"};
    size_t lens[3] = {sizeof shorter, sizeof longer, 5};
    StoreRecord r[3];
    for (int i = 0; i < 3; i++)
        r[i] = (StoreRecord){.id = ids[i],
                             .id_len = lens[i],
                             .p_positive = 0.5f + 0.1f * (float)i,
                             .positive = 1,
                             .scored_at_ms = 1764050400123LL};
    assert_int_equal(store_put(s, r, 3), STORE_OK);
    redisContext *c = raw_connect(&server);
    for (int i = 0; i < 3; i++) {
        long long ttl = raw_int(c, "TTL bz:pred:%b", ids[i], lens[i]);
        assert_true(ttl > 24 * 3600 - 60 && ttl <= 24 * 3600);
    }
    assert_int_equal(raw_int(c, "DBSIZE"), 3); /* no cache entries: no normalised texts */
    redisFree(c);
    StorePrediction p[3];
    uint8_t found[3];
    assert_int_equal(store_pred_get(s, ids, lens, 3, p, found), 3);
    for (int i = 0; i < 3; i++) assert_float_equal(p[i].p_positive, 0.5f + 0.1f * (float)i, 1e-6);
    store_free(s);
}

/* A cache entry written by another model version is a miss, counted as stale. */
static void other_model_version_is_a_miss(void **state) {
    (void)state;
    RedisStore *s = open_store(server.url, NULL, 0);
    StoreRecord r = {.id = "1", .id_len = 1, .norm_text = "great flight", .norm_len = 12, .p_positive = 0.9f};
    assert_int_equal(store_put(s, &r, 1), STORE_OK);

    StoreOptions o;
    store_options_default(&o);
    o.url = server.url;
    o.model_version = "bilstm-test-2";
    char err[256];
    RedisStore *s2 = store_new(&o, err, sizeof err);
    assert_non_null(s2);
    const char *t[1] = {"great flight"};
    size_t l[1] = {12};
    float p = -1;
    uint8_t hit = 9;
    assert_int_equal(store_cache_get(s2, t, l, 1, &p, &hit), 0);
    assert_int_equal(hit, 0);
    assert_float_equal(p, -1, 0);
    StoreStats st;
    store_stats(s2, &st);
    assert_int_equal(st.cache_stale, 1);
    assert_int_equal(store_cache_get(s, t, l, 1, &p, &hit), 1);
    assert_float_equal(p, 0.9f, 0);
    store_free(s2);
    store_free(s);
}

/* Keys made once by the caller (store_cache_key, as the pipeline does before the model)
 * and handed to store_cache_get_keys and StoreRecord.cache_key name the same entries
 * as the texts hashed inside the store: entries written either way are found either
 * way, under bz:cache:<sha1 of the text>, with the longest prefix too, and in batches
 * larger than max_batch. A buffer too small for a key is refused. */
static void cache_keys_made_once_match(void **state) {
    (void)state;
    char prefix[65];
    memset(prefix, 'p', 64);
    prefix[64] = '\0';
    const char *prefixes[2] = {NULL, prefix};
    for (int v = 0; v < 2; v++) {
        RedisStore *s = open_store(server.url, prefixes[v], 8);
        static Batch b;
        batch_fill(&b, 20, 40 + v);
        char keys[20][STORE_CACHE_KEY_MAX + 1];
        const char *key_ptr[20];
        size_t key_len[20];
        for (int i = 0; i < 20; i++) {
            int n = store_cache_key(s, b.texts[i], b.text_len[i], keys[i], sizeof keys[i]);
            assert_int_equal(n, (v ? 64 : 3) + 6 + SHA1_HEX_LEN);
            char hex[SHA1_HEX_LEN + 1], want[STORE_CACHE_KEY_MAX + 1];
            snprintf(want, sizeof want, "%scache:%s",
                     v ? prefix : "bz:", sha1_hex(b.texts[i], b.text_len[i], hex));
            assert_string_equal(keys[i], want);
            key_ptr[i] = keys[i];
            key_len[i] = (size_t)n;
            if (i % 2 == 0) { /* even records give their key, odd ones are hashed in store_put */
                b.recs[i].cache_key = keys[i];
                b.recs[i].cache_key_len = key_len[i];
            }
        }
        char small[SHA1_HEX_LEN + 6];
        assert_int_equal(store_cache_key(s, "x", 1, small, sizeof small), -1);

        assert_int_equal(store_put(s, b.recs, 20), STORE_OK);
        redisContext *c = raw_connect(&server);
        for (int i = 0; i < 20; i++) assert_int_equal(raw_int(c, "EXISTS %b", keys[i], key_len[i]), 1);
        redisFree(c);

        float p_keys[20], p_texts[20];
        uint8_t hit_keys[20], hit_texts[20];
        assert_int_equal(store_cache_get_keys(s, key_ptr, key_len, 20, p_keys, hit_keys), 20);
        assert_int_equal(store_cache_get(s, b.text_ptr, b.text_len, 20, p_texts, hit_texts), 20);
        for (int i = 0; i < 20; i++) {
            assert_int_equal(hit_keys[i], 1);
            assert_int_equal(hit_texts[i], 1);
            assert_memory_equal(&p_keys[i], &b.recs[i].p_positive, sizeof(float));
            assert_memory_equal(&p_texts[i], &b.recs[i].p_positive, sizeof(float));
        }
        const char *unseen[1] = {"bz:cache:0000000000000000000000000000000000000000"};
        size_t unseen_len[1] = {strlen(unseen[0])};
        float p = -1;
        uint8_t hit = 9;
        assert_int_equal(store_cache_get_keys(s, unseen, unseen_len, 1, &p, &hit), 0);
        assert_int_equal(hit, 0);
        StoreStats st;
        store_stats(s, &st);
        assert_int_equal(st.cache_writes, 20);
        assert_int_equal(st.cache_lookups, 41);
        assert_int_equal(st.cache_hits, 40);
        store_free(s);
    }
}

/* store_put in two halves: nothing is counted until the finish, which returns what
 * store_put would; a lookup or a second start while a write is in flight finishes it
 * first (the replies come in order on the one connection), and a finish without a
 * start is a no-op. */
static void put_in_two_halves(void **state) {
    (void)state;
    RedisStore *s = open_store(server.url, NULL, 16);
    static Batch a, b;
    batch_fill(&a, 10, 60);
    batch_fill(&b, 12, 61);
    assert_int_equal(store_put_finish(s), STORE_OK);
    assert_int_equal(store_put_start(s, a.recs, 10), STORE_OK);
    StoreStats st;
    store_stats(s, &st);
    assert_int_equal(st.preds_written, 0);
    assert_int_equal(store_put_finish(s), STORE_OK);
    store_stats(s, &st);
    assert_int_equal(st.preds_written, 10);
    assert_int_equal(st.cache_writes, 10);

    assert_int_equal(store_put_start(s, b.recs, 6), STORE_OK);
    assert_int_equal(store_put_start(s, b.recs + 6, 6), STORE_OK); /* finishes the first */
    store_stats(s, &st);
    assert_int_equal(st.preds_written, 16);
    float p[12];
    uint8_t hit[12];
    assert_int_equal(store_cache_get(s, b.text_ptr, b.text_len, 12, p, hit), 12); /* finishes the second */
    for (int i = 0; i < 12; i++) assert_memory_equal(&p[i], &b.recs[i].p_positive, sizeof(float));
    store_stats(s, &st);
    assert_int_equal(st.preds_written, 22);
    assert_int_equal(st.preds_dropped, 0);
    assert_int_equal(st.batches_failed, 0);

    assert_int_equal(store_put_start(s, a.recs, 3), STORE_OK);
    store_free(s); /* finishes it too */
    redisContext *c = raw_connect(&server);
    assert_int_equal(raw_int(c, "DBSIZE"), 2 * 22);
    redisFree(c);
}

/* The pipelined order of the worker: batch k+1's look-up is started, batch k is
 * written, then k+1's results are taken. Each start finishes the exchange in flight
 * first, the results and counters come out right, and a _finish whose exchange was
 * already finished returns its result. */
static void lookup_and_write_interleaved(void **state) {
    (void)state;
    RedisStore *s = open_store(server.url, NULL, 16);
    static Batch a, b, m;
    batch_fill(&a, 10, 80);
    batch_fill(&b, 10, 81);
    batch_fill(&m, 10, 82); /* never written */
    assert_int_equal(store_put(s, a.recs, 10), STORE_OK);
    char keys[10][STORE_CACHE_KEY_MAX + 1];
    const char *key_ptr[10];
    size_t key_len[10];
    for (int i = 0; i < 10; i++) { /* even: a's texts (hits), odd: m's (misses) */
        const char *text = i % 2 ? m.texts[i] : a.texts[i];
        key_len[i] = (size_t)store_cache_key(s, text, strlen(text), keys[i], sizeof keys[i]);
        key_ptr[i] = keys[i];
    }
    float p[10];
    uint8_t hit[10];
    memset(hit, 7, sizeof hit);

    assert_int_equal(store_put_start(s, b.recs, 4), STORE_OK);
    store_cache_get_start(s, key_ptr, key_len, 10, p, hit); /* finishes the write */
    for (int i = 0; i < 10; i++) assert_int_equal(hit[i], 0);
    StoreStats st;
    store_stats(s, &st);
    assert_int_equal(st.preds_written, 14);
    assert_int_equal(st.cache_lookups, 10);
    assert_int_equal(st.cache_hits, 0);                            /* not read yet */
    assert_int_equal(store_put_start(s, b.recs + 4, 6), STORE_OK); /* reads the look-up first */
    store_stats(s, &st);
    assert_int_equal(st.cache_hits, 5);
    assert_int_equal(store_cache_get_finish(s), 5); /* already finished: its result */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(hit[i], i % 2 == 0);
        if (i % 2 == 0) assert_memory_equal(&p[i], &a.recs[i].p_positive, sizeof(float));
    }
    assert_int_equal(store_put_finish(s), STORE_OK);
    store_stats(s, &st);
    assert_int_equal(st.preds_written, 20);
    assert_int_equal(st.batches_failed, 0);
    for (int i = 1; i < 10; i += 2) { /* b's texts, cached now */
        key_len[i] = (size_t)store_cache_key(s, b.texts[i], b.text_len[i], keys[i], sizeof keys[i]);
    }
    store_cache_get_start(s, key_ptr, key_len, 10, p, hit);
    store_flush(s);
    assert_int_equal(store_cache_get_finish(s), 10);
    store_free(s);
}

/* A write whose connection is lost before Redis ran it is sent again from the bytes
 * encoded at the start: the caller may reuse its records' memory once
 * store_put_start has returned (the worker decodes the next batch there). Redis is
 * paused for writes, so the first attempt is never run; the store's connection is
 * killed; the retry must write the original ids and texts. A look-up whose
 * connection is killed after it was sent still gives its results (read before the
 * close, or sent again). */
static void exchange_in_flight_survives_a_lost_connection(void **state) {
    (void)state;
    RedisStore *s = open_store(server.url, NULL, 16);
    static Batch b;
    batch_fill(&b, 8, 90);
    for (int i = 0; i < 8; i++) {
        b.recs[i].text = b.texts[i];
        b.recs[i].text_len = b.text_len[i];
    }
    float p[1];
    uint8_t hit[1];
    assert_int_equal(store_cache_get(s, b.text_ptr, b.text_len, 1, p, hit), 0); /* a working connection */
    StoreStats st;
    redisContext *c = raw_connect(&server);
    raw_ok(c, "CLIENT PAUSE 5000 WRITE");
    assert_int_equal(store_put_start(s, b.recs, 8), STORE_OK);
    for (int tries = 0; tries < 200; tries++) { /* the server holds the HSETs */
        redisReply *r = raw(c, "CLIENT LIST");
        int held = strstr(r->str, "cmd=hset") != NULL;
        freeReplyObject(r);
        if (held) break;
        harness_sleep_ms(5);
    }
    long long killed = raw_int(c, "CLIENT KILL TYPE normal SKIPME yes");
    raw_ok(c, "CLIENT UNPAUSE");
    assert_true(killed >= 1);
    assert_int_equal(raw_int(c, "EXISTS bz:pred:tweet-90-0"), 0); /* never run */
    for (int i = 0; i < 8; i++) {                                 /* the caller reuses the memory */
        memset(b.ids[i], 'X', b.recs[i].id_len);
        memset(b.texts[i], 'Y', b.text_len[i]);
    }
    assert_int_equal(store_put_finish(s), STORE_OK);
    store_stats(s, &st);
    assert_int_equal(st.preds_written, 8);
    assert_int_equal(st.batches_failed, 0);
    for (int i = 0; i < 8; i++) {
        redisReply *r = raw(c, "HGET bz:pred:tweet-90-%d text", i);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        char want[64];
        snprintf(want, sizeof want, "text 90 %d", i);
        assert_string_equal(r->str, want);
        freeReplyObject(r);
    }
    assert_int_equal(raw_int(c, "DBSIZE"), 2 * 8);

    char key[STORE_CACHE_KEY_MAX + 1];
    const char *key_ptr[1] = {key};
    size_t key_len[1] = {(size_t)store_cache_key(s, "text 90 3", 9, key, sizeof key)};
    store_cache_get_start(s, key_ptr, key_len, 1, p, hit);
    assert_true(raw_int(c, "CLIENT KILL TYPE normal SKIPME yes") >= 1);
    assert_int_equal(store_cache_get_finish(s), 1);
    assert_memory_equal(&p[0], &b.recs[3].p_positive, sizeof(float));
    redisFree(c);
    store_free(s);
}

/* One batch is one round trip: the server reads each pipeline in a handful of socket
 * reads (a command-by-command client would cost one read per command), and runs every
 * command. Also for a batch larger than max_batch. */
static void one_round_trip_per_batch(void **state) {
    (void)state;
    static Batch b;
    batch_fill(&b, 64, 2);
    RedisStore *s = open_store(server.url, NULL, 16); /* the lookup is 4 MGETs of 16 keys */
    redisContext *c = raw_connect(&server);

    long long idle0 = info_field(c, "stats", "total_reads_processed");
    long long idle1 = info_field(c, "stats", "total_reads_processed");
    long long per_info = idle1 - idle0; /* the INFO command's own read */

    long long hset0 = command_calls(c, "hset"), expire0 = command_calls(c, "expire"),
              set0 = command_calls(c, "set"), mget0 = command_calls(c, "mget");
    StoreStats before, after;
    store_stats(s, &before);
    long long r0 = info_field(c, "stats", "total_reads_processed");
    assert_int_equal(store_put(s, b.recs, 64), STORE_OK);
    long long r1 = info_field(c, "stats", "total_reads_processed");
    float p[64];
    uint8_t hit[64];
    assert_int_equal(store_cache_get(s, b.text_ptr, b.text_len, 64, p, hit), 64);
    long long r2 = info_field(c, "stats", "total_reads_processed");
    store_stats(s, &after);

    long long put_reads = r1 - r0 - per_info, get_reads = r2 - r1 - per_info;
    print_message("server reads: put of 192 commands %lld, lookup of 64 keys %lld\n", put_reads, get_reads);
    assert_true(put_reads >= 1 && put_reads <= 3);
    assert_true(get_reads >= 1 && get_reads <= 2);
    assert_int_equal(after.conn.round_trips - before.conn.round_trips, 2);
    assert_int_equal(after.conn.commands - before.conn.commands, 64 * 3 + 4);
    assert_int_equal(command_calls(c, "hset") - hset0, 64);
    assert_int_equal(command_calls(c, "expire") - expire0, 64);
    assert_int_equal(command_calls(c, "set") - set0, 64);
    assert_int_equal(command_calls(c, "mget") - mget0, 4);
    redisFree(c);
    store_free(s);
}

/* An error reply for one command (a key of the wrong type, a garbage cache value)
 * is counted and does not fail the rest of the batch. */
static void reply_errors_are_counted_not_fatal(void **state) {
    (void)state;
    redisContext *c = raw_connect(&server);
    raw_ok(c, "SET bz:pred:tweet-3-1 not-a-hash");
    RedisStore *s = open_store(server.url, NULL, 0);
    char key[128];
    assert_true(store_cache_key(s, "text 3 2", 8, key, sizeof key) > 0);

    static Batch b;
    batch_fill(&b, 4, 3);
    assert_int_equal(store_put(s, b.recs, 4), STORE_OK);
    assert_int_equal(raw_int(c, "EXISTS bz:pred:tweet-3-0 bz:pred:tweet-3-2 bz:pred:tweet-3-3"), 3);
    raw_ok(c, "SET %s garbage", key); /* overwrite the entry the put just wrote */
    StoreStats st;
    store_stats(s, &st);
    assert_int_equal(st.preds_written, 3);
    assert_int_equal(st.preds_dropped, 1);
    assert_int_equal(st.reply_errors, 1); /* HSET on a string... */
    redisReply *v = raw(c, "GET bz:pred:tweet-3-1");
    assert_string_equal(v->str, "not-a-hash");
    freeReplyObject(v);

    float p[4];
    uint8_t hit[4];
    assert_int_equal(store_cache_get(s, b.text_ptr, b.text_len, 4, p, hit), 3);
    assert_int_equal(hit[2], 0);
    store_stats(s, &st);
    assert_int_equal(st.reply_errors, 2); /* ...and the garbage cache value */
    assert_int_equal(store_state(s), REDIS_CONN_UP);
    redisFree(c);
    store_free(s);
}

/* Stopping redis-server under a live store: every call returns "unavailable" in well
 * under a second and counts what it dropped; restarting it at the same address: the
 * store reconnects by itself and works again. The URL is a symbolic link to the
 * server's socket so that a fresh server can take its place. */
static void stopped_then_restarted(void **state) {
    (void)state;
    HarnessRedis r1, r2;
    assert_int_equal(harness_redis_start(&r1), 0);
    char dir[HARNESS_PATH_MAX], link[HARNESS_PATH_MAX + 32], url[HARNESS_PATH_MAX + 48];
    assert_int_equal(harness_tmpdir_create("redis-link", dir, sizeof dir), 0);
    snprintf(link, sizeof link, "%s/redis.sock", dir);
    snprintf(url, sizeof url, "unix://%s", link);
    assert_int_equal(symlink(r1.socket_path, link), 0);

    static Batch b;
    batch_fill(&b, 32, 4);
    RedisStore *s = open_store(url, NULL, 0);
    assert_int_equal(store_put(s, b.recs, 32), STORE_OK);

    assert_int_equal(harness_redis_stop(&r1), 0);
    float p[32];
    uint8_t hit[32];
    for (int round = 0; round < 20; round++) {
        double t0 = util_now_s();
        memset(hit, 7, sizeof hit);
        assert_int_equal(store_cache_get(s, b.text_ptr, b.text_len, 32, p, hit), STORE_UNAVAILABLE);
        for (int i = 0; i < 32; i++) assert_int_equal(hit[i], 0);
        assert_int_equal(store_put(s, b.recs, 32), STORE_UNAVAILABLE);
        double dt = elapsed_since(t0);
        assert_true(dt < 1.0);
        assert_int_equal(store_state(s), REDIS_CONN_DOWN);
        harness_sleep_ms(10);
    }
    StoreStats st;
    store_stats(s, &st);
    assert_int_equal(st.preds_written, 32);
    assert_int_equal(st.preds_dropped, 20 * 32);
    assert_int_equal(st.cache_skipped, 20 * 32);
    assert_int_equal(st.batches_failed, 40);
    assert_true(st.conn.io_errors >= 1);
    assert_true(st.conn.connect_failures >= 1);
    assert_true(st.conn.unavailable >= 1); /* answered at once during the back-off */

    assert_int_equal(harness_redis_start(&r2), 0);
    assert_int_equal(unlink(link), 0);
    assert_int_equal(symlink(r2.socket_path, link), 0);
    int rc = STORE_UNAVAILABLE;
    for (int i = 0; i < 100 && rc != STORE_OK; i++) { /* the back-off is capped at 100 ms */
        rc = store_put(s, b.recs, 32);
        if (rc != STORE_OK) harness_sleep_ms(20);
    }
    assert_int_equal(rc, STORE_OK);
    assert_int_equal(store_state(s), REDIS_CONN_UP);
    assert_int_equal(store_cache_get(s, b.text_ptr, b.text_len, 32, p, hit), 32);
    store_stats(s, &st);
    assert_int_equal(st.preds_written, 64);
    assert_true(st.conn.connects >= 2);

    store_free(s);
    assert_int_equal(harness_redis_stop(&r2), 0);
    harness_tmpdir_remove(dir);
}

/* A server that stops answering (SIGSTOP) costs a bounded wait (the command timeouts),
 * never a hang; as it keeps accepting connections without answering, the back-off still
 * grows; when it answers again the store uses it again. */
static void hung_server_costs_bounded_time(void **state) {
    (void)state;
    HarnessRedis r;
    assert_int_equal(harness_redis_start(&r), 0);
    StoreOptions o;
    store_options_default(&o);
    o.url = r.url;
    o.model_version = VERSION;
    o.conn.command_timeout_ms = 100;
    o.conn.backoff_initial_ms = 100;
    o.conn.backoff_max_ms = 1000;
    char err[256];
    RedisStore *s = store_new(&o, err, sizeof err);
    assert_non_null(s);
    RedisConn *conn = store_conn(s);
    static Batch b;
    batch_fill(&b, 8, 5);
    assert_int_equal(store_put(s, b.recs, 8), STORE_OK);

    assert_int_equal(harness_signal(r.pid, SIGSTOP), 0);
    double worst = 0;
    for (int i = 0; i < 3; i++) {
        harness_sleep_ms(redis_conn_retry_in_ms(conn) + 5); /* the next attempt is due */
        double t0 = util_now_s();
        assert_int_equal(store_put(s, b.recs, 8), STORE_UNAVAILABLE);
        double dt = elapsed_since(t0);
        if (dt > worst) worst = dt;
        assert_int_equal(store_state(s), REDIS_CONN_DOWN);
    }
    print_message("worst call against a stopped server: %.0f ms\n", worst * 1000);
    assert_true(worst < 1.0);
    /* the connection was working: its first failure retried at once (inside the first
       call); then two connections that never answered: the wait has doubled twice, to
       400 ms with a jitter in [0.5, 1], which is more than the initial 100 ms */
    assert_true(redis_conn_retry_in_ms(conn) > 100);
    /* meanwhile, calls are answered at once */
    double t0 = util_now_s();
    assert_int_equal(store_put(s, b.recs, 8), STORE_UNAVAILABLE);
    assert_true(elapsed_since(t0) < 0.05);
    assert_int_equal(harness_signal(r.pid, SIGCONT), 0);

    int rc = STORE_UNAVAILABLE;
    for (int i = 0; i < 100 && rc != STORE_OK; i++) {
        rc = store_put(s, b.recs, 8);
        if (rc != STORE_OK) harness_sleep_ms(20);
    }
    assert_int_equal(rc, STORE_OK);
    assert_int_equal(redis_conn_retry_in_ms(conn), 0);
    store_free(s);
    assert_int_equal(harness_redis_stop(&r), 0);
}

/* A free TCP port on 127.0.0.1 (bind to port 0, then release it). */
static int free_tcp_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* redis://host:port/db over TCP (the harness server is given a TCP listener at run
 * time) and unix://...?db=N both reach the right database. */
static void tcp_url_and_databases(void **state) {
    (void)state;
    redisContext *c = raw_connect(&server);
    int port = 0;
    for (int attempt = 0; attempt < 5 && !port; attempt++) { /* another process may take the port */
        int p = free_tcp_port();
        raw_ok(c, "CONFIG SET bind 127.0.0.1");
        redisReply *r = raw(c, "CONFIG SET port %d", p);
        if (r->type != REDIS_REPLY_ERROR) port = p;
        freeReplyObject(r);
    }
    assert_true(port > 0);

    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/3", port);
    RedisStore *s = open_store(url, NULL, 0);
    assert_int_equal(store_state(s), REDIS_CONN_UP);
    StoreRecord rec = {.id = "tcp", .id_len = 3, .p_positive = 0.5f, .positive = 1};
    assert_int_equal(store_put(s, &rec, 1), STORE_OK);
    store_free(s);

    char unix_url[HARNESS_PATH_MAX + 16];
    snprintf(unix_url, sizeof unix_url, "%s?db=5", server.url);
    s = open_store(unix_url, NULL, 0);
    rec.id = "unix";
    rec.id_len = 4;
    assert_int_equal(store_put(s, &rec, 1), STORE_OK);
    store_free(s);

    assert_int_equal(raw_int(c, "EXISTS bz:pred:tcp"), 0); /* db 0 */
    raw_ok(c, "SELECT 3");
    assert_int_equal(raw_int(c, "EXISTS bz:pred:tcp"), 1);
    raw_ok(c, "SELECT 5");
    assert_int_equal(raw_int(c, "EXISTS bz:pred:unix"), 1);
    raw_ok(c, "FLUSHALL");
    raw_ok(c, "CONFIG SET port 0");
    redisFree(c);
}

/* A password in the URL is sent with AUTH; a wrong one keeps the store down with
 * connect failures counted, answering "unavailable". */
static void auth_from_url(void **state) {
    (void)state;
    redisContext *c = raw_connect(&server);
    raw_ok(c, "CONFIG SET requirepass s3cret");
    char url[HARNESS_PATH_MAX + 32];
    snprintf(url, sizeof url, "unix://:s3cret@%s", server.socket_path);
    RedisStore *s = open_store(url, NULL, 0);
    StoreRecord rec = {.id = "a", .id_len = 1, .p_positive = 0.25f};
    assert_int_equal(store_put(s, &rec, 1), STORE_OK);
    assert_null(strstr(redis_conn_url(store_conn(s)), "s3cret")); /* never logged */
    store_free(s);

    snprintf(url, sizeof url, "unix://:wrong@%s", server.socket_path);
    s = open_store(url, NULL, 0);
    assert_int_equal(store_state(s), REDIS_CONN_DOWN);
    assert_int_equal(store_put(s, &rec, 1), STORE_UNAVAILABLE);
    StoreStats st;
    store_stats(s, &st);
    assert_true(st.conn.connect_failures >= 1);
    assert_int_equal(st.conn.connects, 0);
    store_free(s);

    raw_ok(c, "AUTH s3cret");
    raw_ok(c, "CONFIG SET requirepass %s", "");
    redisFree(c);
}

/* Nothing listening: the store is created DOWN and answers at once. */
static void unreachable_server_answers_fast(void **state) {
    (void)state;
    const char *urls[] = {"redis://127.0.0.1:1/0", "unix:///nonexistent/dir/redis.sock"};
    for (int u = 0; u < 2; u++) {
        double t0 = util_now_s();
        RedisStore *s = open_store(urls[u], NULL, 0);
        assert_int_equal(store_state(s), REDIS_CONN_DOWN);
        const char *t[1] = {"x"};
        size_t l[1] = {1};
        float p;
        uint8_t hit = 1;
        for (int i = 0; i < 50; i++)
            assert_int_equal(store_cache_get(s, t, l, 1, &p, &hit), STORE_UNAVAILABLE);
        assert_int_equal(hit, 0);
        assert_true(elapsed_since(t0) < 1.0);
        store_free(s);
    }
}

/* Bad URLs and options are refused at creation with a reason naming the problem. */
static void bad_urls_are_clear_errors(void **state) {
    (void)state;
    static const struct {
        const char *url, *reason;
    } bad[] = {
        {"", "empty redis URL"},
        {"localhost:6379", "unknown scheme"},
        {"http://localhost", "unknown scheme"},
        {"rediss://host:6380", "TLS"},
        {"redis://", "no host"},
        {"redis://host:0", "1..65535"},
        {"redis://host:65536", "1..65535"},
        {"redis://host:abc/0", "port 'abc'"},
        {"redis://host:6379/x", "database 'x'"},
        {"redis://host:6379/0/extra", "database '0/extra'"},
        {"redis://pass@host", "[user]:password@"},
        {"unix://relative.sock", "absolute"},
        {"unix://", "absolute"},
        {"unix:///tmp/r.sock?database=1", "only ?db=N"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        StoreOptions o;
        store_options_default(&o);
        o.url = bad[i].url;
        o.model_version = VERSION;
        char err[256] = "";
        RedisStore *s = store_new(&o, err, sizeof err);
        if (s || !strstr(err, bad[i].reason))
            fail_msg("url '%s': store %p, error '%s' (expected '%s')", bad[i].url, (void *)s, err,
                     bad[i].reason);
        if (bad[i].url[0]) assert_non_null(strstr(err, bad[i].url)); /* the message names the URL */
    }
    StoreOptions o;
    store_options_default(&o);
    o.url = server.url;
    char err[256];
    assert_null(store_new(&o, err, sizeof err)); /* no model version */
    assert_non_null(strstr(err, "model version"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(put_then_read_back_with_ttls, flush_all),
        cmocka_unit_test_setup(prediction_keeps_the_raw_text, flush_all),
        cmocka_unit_test_setup(prefix_is_configurable, flush_all),
        cmocka_unit_test_setup(long_ids_are_written_whole, flush_all),
        cmocka_unit_test_setup(other_model_version_is_a_miss, flush_all),
        cmocka_unit_test_setup(cache_keys_made_once_match, flush_all),
        cmocka_unit_test_setup(put_in_two_halves, flush_all),
        cmocka_unit_test_setup(lookup_and_write_interleaved, flush_all),
        cmocka_unit_test_setup(exchange_in_flight_survives_a_lost_connection, flush_all),
        cmocka_unit_test_setup(one_round_trip_per_batch, flush_all),
        cmocka_unit_test_setup(reply_errors_are_counted_not_fatal, flush_all),
        cmocka_unit_test(stopped_then_restarted),
        cmocka_unit_test(hung_server_costs_bounded_time),
        cmocka_unit_test_setup(tcp_url_and_databases, flush_all),
        cmocka_unit_test_setup(auth_from_url, flush_all),
        cmocka_unit_test(unreachable_server_answers_fast),
        cmocka_unit_test(bad_urls_are_clear_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
