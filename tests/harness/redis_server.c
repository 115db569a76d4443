/* redis_server.c — a throw-away redis-server for one test program (see harness.h):
 * unix socket only, persistence off, in its own temporary directory. */
#include "tests/harness/harness.h"

#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>

#define REDIS_READY_MS 10000
#define REDIS_STOP_MS  5000

/* Connects and checks PING; 0 when the server answered PONG. */
static int harness_redis_ping(const char *socket_path) {
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    redisContext *c = redisConnectUnixWithTimeout(socket_path, tv);
    int ok = -1;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "PING");
        if (r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG")) ok = 0;
        if (r) freeReplyObject(r);
    }
    if (c) redisFree(c);
    return ok;
}

/* Starts redis-server on r's socket path and log and waits until it answers PING.
 * Returns 0, or -1 (nothing left running, the log's tail on stderr; r->dir is kept). */
static int harness_redis_spawn(HarnessRedis *r) {
    const char *server = getenv("BUZZRADAR_REDIS_SERVER");
    if (!server || !*server) server = "redis-server";
    const char *argv[] = {server, "--port", "0",    "--unixsocket", r->socket_path, "--unixsocketperm",
                          "700",  "--save", "",     "--appendonly", "no",           "--daemonize",
                          "no",   "--dir",  r->dir, "--logfile",    r->log_path,    NULL};
    HarnessSpawnOptions opts = {.stdout_path = r->log_path};
    r->pid = harness_spawn(argv, &opts);
    if (r->pid < 0) {
        r->pid = 0;
        return -1;
    }
    int64_t deadline = harness_now_ms() + REDIS_READY_MS;
    while (harness_redis_ping(r->socket_path) != 0) {
        int status;
        if (harness_wait(r->pid, 0, &status) == 0) {
            fprintf(stderr, "harness: redis-server exited at start-up (status 0x%x)\n", status);
            r->pid = 0;
            harness_print_tail("redis-server log", r->log_path);
            return -1;
        }
        if (harness_now_ms() > deadline) {
            fprintf(stderr, "harness: redis-server did not answer PING within %d ms\n", REDIS_READY_MS);
            harness_print_tail("redis-server log", r->log_path);
            harness_stop(r->pid, REDIS_STOP_MS);
            r->pid = 0;
            return -1;
        }
        harness_sleep_ms(10);
    }
    return 0;
}

/* Removes the server's directory (once) and forgets it. */
static void harness_redis_forget_dir(HarnessRedis *r) {
    if (!r->dir[0]) return;
    harness_tmpdir_remove(r->dir);
    r->dir[0] = '\0';
}

int harness_redis_start(HarnessRedis *r) {
    memset(r, 0, sizeof *r);
    if (harness_tmpdir_create("redis", r->dir, sizeof r->dir)) return -1;
    if (harness_path_join(r->socket_path, 108 /* sun_path */, r->dir, "redis.sock") ||
        harness_path_join(r->log_path, sizeof r->log_path, r->dir, "redis.log")) {
        fprintf(stderr, "harness: temporary directory path too long for a unix socket: %s\n", r->dir);
        harness_redis_forget_dir(r);
        return -1;
    }
    memcpy(r->url, "unix://", 7);
    memcpy(r->url + 7, r->socket_path, strlen(r->socket_path) + 1);
    if (harness_redis_spawn(r)) {
        harness_redis_forget_dir(r);
        return -1;
    }
    return 0;
}

redisContext *harness_redis_connect(const HarnessRedis *r) {
    struct timeval tv = {.tv_sec = 1};
    redisContext *c = redisConnectUnixWithTimeout(r->socket_path, tv);
    if (!c || c->err) {
        fprintf(stderr, "harness: connect to redis at %s: %s\n", r->socket_path,
                c ? c->errstr : "out of memory");
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    return c;
}

int harness_redis_flushall(const HarnessRedis *r) {
    redisContext *c = harness_redis_connect(r);
    if (!c) return -1;
    redisReply *reply = redisCommand(c, "FLUSHALL");
    int ok = reply && reply->type == REDIS_REPLY_STATUS;
    if (!ok) fprintf(stderr, "harness: FLUSHALL failed: %s\n", reply ? "unexpected reply" : c->errstr);
    if (reply) freeReplyObject(reply);
    redisFree(c);
    return ok ? 0 : -1;
}

long long harness_redis_int(redisContext *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    redisReply *reply = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!reply) {
        fprintf(stderr, "harness: redis: %s\n", c->errstr);
        return HARNESS_REDIS_NO_INT;
    }
    long long v = reply->type == REDIS_REPLY_INTEGER  ? reply->integer
                  : reply->type == REDIS_REPLY_STRING ? atoll(reply->str)
                                                      : HARNESS_REDIS_NO_INT;
    freeReplyObject(reply);
    return v;
}

int harness_redis_stop(HarnessRedis *r) {
    if (r->pid <= 0) { /* never started, stopped already, or halted */
        harness_redis_forget_dir(r);
        return 0;
    }
    int status = harness_stop(r->pid, REDIS_STOP_MS);
    r->pid = 0;
    bool clean = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!clean) {
        fprintf(stderr, "harness: redis-server did not exit cleanly (status 0x%x)\n", status);
        harness_print_tail("redis-server log", r->log_path);
    }
    harness_redis_forget_dir(r);
    return clean ? 0 : -1;
}

int harness_redis_halt(HarnessRedis *r, int sig) {
    if (r->pid <= 0) {
        fprintf(stderr, "harness: redis-server is not running\n");
        return -1;
    }
    if (harness_signal(r->pid, sig) || harness_wait(r->pid, REDIS_STOP_MS, NULL) != 0) {
        fprintf(stderr, "harness: redis-server (pid %d) did not exit within %d ms of signal %d\n",
                (int)r->pid, REDIS_STOP_MS, sig);
        harness_stop(r->pid, 0);
        r->pid = 0;
        return -1;
    }
    r->pid = 0;
    return 0;
}

int harness_redis_restart(HarnessRedis *r) {
    if (r->pid > 0 || !r->dir[0]) {
        fprintf(stderr, "harness: redis-server restart needs a halted server\n");
        return -1;
    }
    return harness_redis_spawn(r);
}
