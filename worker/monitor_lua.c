/* monitor_lua.c — the monitor's Lua scripts and their runner (see monitor_lua.h). */
#include "worker/monitor_lua.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/util.h"
#include "worker/sha1.h"

/* KEYS[1] the second bucket, KEYS[2] the minute bucket (hashes of counters).
 * ARGV[1] TTL of the second bucket (ms), ARGV[2] TTL of the minute bucket (ms),
 * ARGV[3] how many field/increment pairs go to both buckets; those pairs follow, then
 * the pairs for the minute bucket only (latency counters). Returns 1. */
static const char observe_volume[] = "local nboth = tonumber(ARGV[3])\n"
                                     "local i = 4\n"
                                     "for _ = 1, nboth do\n"
                                     "  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])\n"
                                     "  redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1])\n"
                                     "  i = i + 2\n"
                                     "end\n"
                                     "while i < #ARGV do\n"
                                     "  redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1])\n"
                                     "  i = i + 2\n"
                                     "end\n"
                                     "if nboth > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end\n"
                                     "redis.call('PEXPIRE', KEYS[2], ARGV[2])\n"
                                     "return 1\n";

/* KEYS: sorted sets of one minute (hashtags, mentions, words, examples...).
 * ARGV[1] their TTL (ms); then for each key in order: a mode ('i': ZINCRBY member by
 * count and keep the `cap` highest; 'a': ZADD member with score and keep the `cap`
 * lowest), cap, the number of pairs, and that many member, number pairs. Returns 1. */
static const char observe_negatives[] =
    "local i = 2\n"
    "for k = 1, #KEYS do\n"
    "  local mode, cap, n = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])\n"
    "  i = i + 3\n"
    "  for _ = 1, n do\n"
    "    if mode == 'i' then\n"
    "      redis.call('ZINCRBY', KEYS[k], ARGV[i + 1], ARGV[i])\n"
    "    else\n"
    "      redis.call('ZADD', KEYS[k], ARGV[i + 1], ARGV[i])\n"
    "    end\n"
    "    i = i + 2\n"
    "  end\n"
    "  if n > 0 then\n"
    "    local card = redis.call('ZCARD', KEYS[k])\n"
    "    if card > cap then\n"
    "      if mode == 'i' then\n"
    "        redis.call('ZREMRANGEBYRANK', KEYS[k], 0, card - cap - 1)\n"
    "      else\n"
    "        redis.call('ZREMRANGEBYRANK', KEYS[k], cap, -1)\n"
    "      end\n"
    "    end\n"
    "    redis.call('PEXPIRE', KEYS[k], ARGV[1])\n"
    "  end\n"
    "end\n"
    "return 1\n";

/* KEYS[1] the window's base name: its buckets are KEYS[1]:s:<epoch second>.
 * ARGV[1] first second, ARGV[2] last second (inclusive), then the counter fields.
 * Returns the sum of each field over the buckets that exist. */
static const char read_window[] = "local f = {}\n"
                                  "for j = 3, #ARGV do f[#f + 1] = ARGV[j] end\n"
                                  "local sum = {}\n"
                                  "for j = 1, #f do sum[j] = 0 end\n"
                                  "for s = tonumber(ARGV[1]), tonumber(ARGV[2]) do\n"
                                  "  local v = redis.call('HMGET', KEYS[1] .. ':s:' .. s, unpack(f))\n"
                                  "  for j = 1, #f do\n"
                                  "    if v[j] then sum[j] = sum[j] + tonumber(v[j]) end\n"
                                  "  end\n"
                                  "end\n"
                                  "return sum\n";

/* KEYS[1] the base name of the negative-tweet sets: KEYS[1]:<kind>:<epoch minute>, kinds
 * h (hashtags), u (mentions), w (words) counted by ZINCRBY, and x (example ids, lower
 * scores better). ARGV[1] first minute, ARGV[2] last minute, ARGV[3] terms per kind,
 * ARGV[4] examples. Returns {hashtags, mentions, words} as flat member, count lists
 * (most frequent first) and the example ids (best first). KEYS[1]:tmp is a
 * scratch key, deleted before returning. */
static const char top_terms[] = "local tmp = KEYS[1] .. ':tmp'\n"
                                "local out = {}\n"
                                "for _, kind in ipairs({'h', 'u', 'w', 'x'}) do\n"
                                "  local args = {tmp, 0}\n"
                                "  for m = tonumber(ARGV[1]), tonumber(ARGV[2]) do\n"
                                "    args[#args + 1] = KEYS[1] .. ':' .. kind .. ':' .. m\n"
                                "  end\n"
                                "  args[2] = #args - 2\n"
                                "  if kind == 'x' then\n"
                                "    args[#args + 1] = 'AGGREGATE'\n"
                                "    args[#args + 1] = 'MIN'\n"
                                "  end\n"
                                "  redis.call('ZUNIONSTORE', unpack(args))\n"
                                "  if kind == 'x' then\n"
                                "    out[#out + 1] = redis.call('ZRANGE', tmp, 0, tonumber(ARGV[4]) - 1)\n"
                                "  else\n"
                                "    out[#out + 1] = redis.call('ZREVRANGE', tmp, 0, tonumber(ARGV[3]) - 1,\n"
                                "                                'WITHSCORES')\n"
                                "  end\n"
                                "end\n"
                                "redis.call('DEL', tmp)\n"
                                "return out\n";

/* KEYS[1] the misclassification window (zset tweet id -> ms), KEYS[2] the feedback ids
 * already counted (zset id -> ms), KEYS[3] this minute's feedback counters (hash).
 * ARGV[1] now (ms), ARGV[2] window (ms), ARGV[3] how long an id is remembered (ms),
 * ARGV[4] TTL of the counters (ms), ARGV[5] tweet id, ARGV[6] outcome counter
 * ('ok', 'bad' or 'unk'), ARGV[7] most ids returned.
 * A feedback id seen within ARGV[3] is not counted again. Returns {1 when counted now,
 * misclassifications inside the window, their ids (oldest first)}. */
static const char feedback[] =
    "local now = tonumber(ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[3]))\n"
    "local fresh = redis.call('ZADD', KEYS[2], 'NX', now, ARGV[5])\n"
    "redis.call('PEXPIRE', KEYS[2], ARGV[3])\n"
    "if fresh == 1 then\n"
    "  redis.call('HINCRBY', KEYS[3], 'fb', 1)\n"
    "  redis.call('HINCRBY', KEYS[3], ARGV[6], 1)\n"
    "  redis.call('PEXPIRE', KEYS[3], ARGV[4])\n"
    "  if ARGV[6] == 'bad' then\n"
    "    redis.call('ZADD', KEYS[1], now, ARGV[5])\n"
    "    redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "  end\n"
    "end\n"
    "local from = now - tonumber(ARGV[2])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', from)\n"
    "local count = redis.call('ZCOUNT', KEYS[1], '(' .. from, '+inf')\n"
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. from, '+inf', 'LIMIT', 0, tonumber(ARGV[7]))\n"
    "return {fresh, count, ids}\n";

/* KEYS[1] the alert's cool-down key, holding "<rank> <until ms> <token>". ARGV[1]
 * severity rank (0 warning, 1 critical), ARGV[2] a token naming this raise, ARGV[3] now
 * (ms), ARGV[4] cool-down (ms). Returns 1 when the alert is ours to raise: no cool-down
 * running at `now`, or a lower-severity one, or our own claim seen again (a reply lost
 * and the call resent); else 0. The cool-down is judged on the callers' clock (time is
 * injected); the key's PX only cleans up. */
static const char cooldown[] =
    "local now, rank = tonumber(ARGV[3]), tonumber(ARGV[1])\n"
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur then\n"
    "  local r, untl, tok = string.match(cur, '^(%d) (%-?%d+) (.*)$')\n"
    "  if tok == ARGV[2] and tonumber(r) == rank then return 1 end\n"
    "  if r and tonumber(untl) > now and tonumber(r) >= rank then return 0 end\n"
    "end\n"
    "local until_ms = now + tonumber(ARGV[4])\n"
    "redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. until_ms .. ' ' .. ARGV[2], 'PX', ARGV[4])\n"
    "return 1\n";

static const char *const sources[MLUA_COUNT] = {observe_volume, observe_negatives, read_window,
                                                top_terms,      feedback,          cooldown};
static const char *const names[MLUA_COUNT] = {"observe_volume", "observe_negatives", "read_window",
                                              "top_terms",      "feedback",          "cooldown"};

const char *monitor_lua_source(MonitorScript s) { return (unsigned)s < MLUA_COUNT ? sources[s] : NULL; }
const char *monitor_lua_name(MonitorScript s) { return (unsigned)s < MLUA_COUNT ? names[s] : NULL; }

void monitor_lua_init(MonitorLua *l) {
    memset(l->sha, 0, sizeof l->sha);
    l->loaded_on = 0;
    atomic_init(&l->noscript, 0);
    for (int s = 0; s < MLUA_COUNT; s++) sha1_hex(sources[s], strlen(sources[s]), l->sha[s]);
}

enum { MLUA_MAX_ARGV = 1024 };

/* Appends one call: EVALSHA (use_sha) or EVAL for a script, or the plain command. */
static int append_call(const MonitorLua *l, redisContext *ctx, const MonitorCall *call, int use_sha) {
    if (call->script == MLUA_PLAIN)
        return redisAppendCommandArgv(ctx, call->argc, (const char **)call->argv, call->argvlen);
    if (call->argc + 3 > MLUA_MAX_ARGV) return REDIS_ERR;
    const char *argv[MLUA_MAX_ARGV];
    size_t len[MLUA_MAX_ARGV];
    char nkeys[16];
    argv[0] = use_sha ? "EVALSHA" : "EVAL";
    len[0] = strlen(argv[0]);
    argv[1] = use_sha ? l->sha[call->script] : sources[call->script];
    len[1] = strlen(argv[1]);
    len[2] = (size_t)snprintf(nkeys, sizeof nkeys, "%d", call->nkeys);
    argv[2] = nkeys;
    memcpy(argv + 3, call->argv, (size_t)call->argc * sizeof *argv);
    memcpy(len + 3, call->argvlen, (size_t)call->argc * sizeof *len);
    return redisAppendCommandArgv(ctx, call->argc + 3, argv, len);
}

static int is_noscript(const redisReply *r) {
    return r->type == REDIS_REPLY_ERROR && r->len >= 8 && !memcmp(r->str, "NOSCRIPT", 8);
}

static void free_replies(redisReply **replies, int n) {
    for (int i = 0; i < n; i++) {
        if (replies[i]) freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
}

int monitor_lua_run(MonitorLua *l, RedisConn *c, const MonitorCall *calls, int n, redisReply **replies,
                    int *sent) {
    for (int i = 0; i < n; i++) replies[i] = NULL;
    if (sent) *sent = 0;
    redisContext *ctx = redis_conn_acquire(c);
    if (!ctx) return -1;
    RedisConnStats st;
    redis_conn_stats(c, &st);
    int nload = 0;
    if (l->loaded_on != st.connects) /* a new connection, maybe a new server: load first */
        for (int s = 0; s < MLUA_COUNT; s++, nload++)
            if (redisAppendCommand(ctx, "SCRIPT LOAD %s", sources[s]) != REDIS_OK) goto oom;
    for (int i = 0; i < n; i++)
        if (append_call(l, ctx, &calls[i], 1) != REDIS_OK) goto oom;
    if (redis_conn_send(c, nload + n) != 0) return -1;
    if (sent) *sent = 1;
    for (int s = 0; s < nload; s++) {
        redisReply *r = redis_conn_read(c);
        if (!r) return -1;
        if (r->type == REDIS_REPLY_STRING && r->len == SHA1_HEX_LEN)
            memcpy(l->sha[s], r->str, SHA1_HEX_LEN + 1);
        freeReplyObject(r);
    }
    if (nload) l->loaded_on = st.connects;
    int retry = 0;
    for (int i = 0; i < n; i++) {
        replies[i] = redis_conn_read(c);
        if (!replies[i]) {
            free_replies(replies, i);
            return -1;
        }
        retry += is_noscript(replies[i]);
    }
    if (!retry) return 0;

    /* The server lost its scripts (restart, SCRIPT FLUSH) on this same connection:
     * EVAL carries the source and caches it again. */
    ctx = redis_conn_acquire(c);
    if (!ctx) goto lost;
    for (int i = 0; i < n; i++)
        if (is_noscript(replies[i]) && append_call(l, ctx, &calls[i], 0) != REDIS_OK) {
            redis_conn_fail(c, "out of memory while building a pipeline");
            goto lost;
        }
    if (redis_conn_send(c, retry) != 0) goto lost;
    for (int i = 0; i < n; i++) {
        if (!is_noscript(replies[i])) continue;
        redisReply *r = redis_conn_read(c);
        if (!r) goto lost;
        freeReplyObject(replies[i]);
        replies[i] = r;
        atomic_fetch_add_explicit(&l->noscript, 1, memory_order_relaxed);
    }
    return 0;
lost:
    free_replies(replies, n);
    return -1;
oom:
    redis_conn_fail(c, "out of memory while building a pipeline");
    return -1;
}
