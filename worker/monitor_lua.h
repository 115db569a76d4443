/* monitor_lua.h — the monitor's Lua scripts (C string constants) and the runner that
 * sends them to Redis: SCRIPT LOAD once per connection, EVALSHA afterwards, EVAL when
 * the server answers NOSCRIPT (a restart or SCRIPT FLUSH emptied its script cache).
 *
 * Each script touches keys of one hash tag only, so it runs on one slot of a cluster
 * too. What each one does (keys and arguments are documented in monitor_lua.c):
 *   MLUA_OBSERVE_VOLUME     add a batch's counters to its second and minute buckets
 *   MLUA_OBSERVE_NEGATIVES  add the terms and example ids of a batch's negative tweets
 *   MLUA_READ_WINDOW        sum the per-second buckets of a window
 *   MLUA_TOP_TERMS          the top terms and example tweet ids of a window
 *   MLUA_FEEDBACK           count one feedback once per tweet id; add a misclassified
 *                           tweet to the 5-minute window; the window's count and ids
 *   MLUA_COOLDOWN           claim an alert's cool-down (SET NX PX semantics, judged on the
 *                           callers' injected clock; a critical alert may replace a warning
 *                           of the same type; one's own claim resent after a lost reply is
 *                           answered "claimed" again)
 *
 * Redis' Lua returns numbers to the client as integers, so every script keeps its
 * numbers integral (fractions are counted in millionths by the callers). */
#ifndef BUZZRADAR_MONITOR_LUA_H
#define BUZZRADAR_MONITOR_LUA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "worker/redis_conn.h"

typedef enum {
    MLUA_OBSERVE_VOLUME = 0,
    MLUA_OBSERVE_NEGATIVES,
    MLUA_READ_WINDOW,
    MLUA_TOP_TERMS,
    MLUA_FEEDBACK,
    MLUA_COOLDOWN,
    MLUA_COUNT
} MonitorScript;

/* The Lua source and a short name ("observe_volume") of a script. */
const char *monitor_lua_source(MonitorScript s);
const char *monitor_lua_name(MonitorScript s);

/* One command of a pipeline: a script call (script >= 0: nkeys keys then the
 * arguments, in argv) or a plain command (script = MLUA_PLAIN: argv is the whole
 * command). argv entries are binary-safe (argvlen). */
#define MLUA_PLAIN (-1)
typedef struct {
    int script;
    int nkeys;
    int argc;
    const char *const *argv;
    const size_t *argvlen;
} MonitorCall;

/* Script SHA-1s and the connection generation they were loaded on. */
typedef struct {
    char sha[MLUA_COUNT][41];
    uint64_t loaded_on;        /* RedisConnStats.connects when SCRIPT LOAD last ran; 0: never */
    _Atomic uint64_t noscript; /* NOSCRIPT replies answered with EVAL (readable from any thread) */
} MonitorLua;

/* Computes the SHA-1 of every script (no I/O). */
void monitor_lua_init(MonitorLua *l);

/* Runs n calls in one pipelined round trip on c and stores their n replies in
 * replies[] (free each with freeReplyObject; an error reply such as WRONGTYPE is a
 * reply). On a connection that has not seen SCRIPT LOAD yet, the loads go first in
 * the same pipeline. Calls answered NOSCRIPT are sent again with EVAL in a second
 * round trip. Returns 0, or -1 when Redis is unavailable or the connection broke (every
 * replies[i] is then NULL; the connection is DOWN and backs off, see redis_conn.h).
 * `sent` (may be NULL) is set to 1 once the pipeline was written: a failure after that
 * may have applied some calls, so callers must not blindly resend non-idempotent work. */
int monitor_lua_run(MonitorLua *l, RedisConn *c, const MonitorCall *calls, int n, redisReply **replies,
                    int *sent);

#endif
