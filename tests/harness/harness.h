/* harness.h — real servers and child processes for the integration tests: a
 * redis-server on a unix socket, the project's Kafka-protocol broker
 * (build/tools/mockbroker, librdkafka's mock cluster in its own process), programs
 * run as children (the worker, kcat), and small Kafka client helpers for asserting
 * on topics.
 *
 * Nothing outlives a test program. Every child started here gets
 * prctl(PR_SET_PDEATHSIG, SIGKILL), so it dies with the test even when the test is
 * SIGKILLed or crashes; a normal exit (also after failed cmocka assertions) stops every
 * child still running through an atexit handler, by PID, and removes the temporary
 * directories. Processes are only ever signalled by the PIDs started here, never by
 * name. PDEATHSIG belongs to the thread that forked: start children from the test's
 * main thread (cmocka runs tests there), not from a short-lived thread.
 *
 * Process-wide state: a registry of the children and temporary directories this
 * process created (guarded by a mutex; a forked child never touches its parent's
 * entries).
 *
 * Environment: BUZZRADAR_TOOLS (directory of mockbroker; default: the tools/ folder of
 * the build tree the test binary lives in), BUZZRADAR_REDIS_SERVER (default
 * "redis-server" from PATH), BUZZRADAR_KEEP_TMP=1 keeps temporary directories (and
 * server logs) for debugging.
 *
 * Errors: functions return -1 (or NULL) after printing the reason on stderr, prefixed
 * with "harness:", so a test can assert on the result and the log says why. */
#ifndef BUZZRADAR_HARNESS_H
#define BUZZRADAR_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#define HARNESS_PATH_MAX 256

/* ---- child processes (proc.c) ------------------------------------------------------ */

typedef struct {
    const char *const *env;  /* NULL or NULL-terminated "KEY=VALUE" entries added to the
                                inherited environment (replacing a same-named variable) */
    const char *stdin_path;  /* NULL: /dev/null */
    const char *stdout_path; /* created or truncated; NULL: inherited */
    const char *stderr_path; /* created or truncated; NULL: inherited */
    const char *cwd;         /* NULL: the current directory */
} HarnessSpawnOptions;

/* Starts argv[0] (a path, or a name looked up in PATH) with arguments argv (NULL-
 * terminated) as a registered child: PDEATHSIG SIGKILL, default signal dispositions
 * and an empty signal mask, same process group. opts may be NULL. Returns the PID
 * once the program has been exec'ed, or -1 when it could not be (missing program,
 * unopenable redirection...), with the reason on stderr. */
pid_t harness_spawn(const char *const argv[], const HarnessSpawnOptions *opts);

/* Sends sig to a child started by harness_spawn and not yet reaped. Returns 0, or -1
 * when pid is not such a child (nothing is sent). */
int harness_signal(pid_t pid, int sig);

/* Waits up to timeout_ms (0: just check) for a registered child to end. Returns 0
 * when it ended (its wait status in *status when status is not NULL; the child is
 * reaped and unregistered), 1 when it is still running after timeout_ms, -1 when pid
 * is not a registered child. */
int harness_wait(pid_t pid, int timeout_ms, int *status);

/* Stops a registered child: SIGTERM, up to grace_ms for it to exit, then SIGKILL.
 * Returns its wait status (use WIFEXITED/WTERMSIG), or -1 when pid is not a
 * registered child. */
int harness_stop(pid_t pid, int grace_ms);

/* Stops every child this process started and still running (SIGTERM, a shared grace
 * of 3 s, then SIGKILL) and removes every temporary directory it created. Runs at
 * exit by itself; safe to call more than once. */
void harness_stop_all(void);

/* ---- files and names (proc.c) -------------------------------------------------------- */

/* Creates a fresh private directory under $TMPDIR (default /tmp) named
 * "bz-PREFIX-XXXXXX", registered for removal at exit. dir gets the path (at least
 * HARNESS_PATH_MAX bytes). Returns 0, or -1. */
int harness_tmpdir_create(const char *prefix, char *dir, size_t len);

/* Removes a directory made by harness_tmpdir_create with everything in it (unless
 * BUZZRADAR_KEEP_TMP=1) and unregisters it. Returns 0, or -1. */
int harness_tmpdir_remove(const char *dir);

/* Writes "DIR/NAME" into out (len bytes). Returns 0, or -1 when it does not fit. */
int harness_path_join(char *out, size_t len, const char *dir, const char *name);

/* Reads a whole file into a NUL-terminated heap buffer (free() it); *len gets its
 * size when len is not NULL. Returns NULL when the file cannot be read (no message:
 * "not there yet" is a normal answer while polling). */
char *harness_read_file(const char *path, size_t *len);

/* Prints the last lines (about 2 KB) of a file on stderr under a "label" banner: a
 * server's or the worker's log when a test fails. Prints nothing when unreadable. */
void harness_print_tail(const char *label, const char *path);

/* Number of '\n'-terminated lines in a file; 0 when it cannot be read. */
size_t harness_count_lines(const char *path);

/* Writes "PREFIX-PID-N-RANDOM" into buf: a topic or group name no other test on the
 * same broker uses (the mock cannot delete topics; groups pay for every rejoin). */
void harness_unique_name(const char *prefix, char *buf, size_t len);

/* Milliseconds on the monotonic clock, and a sleep that resumes after signals. */
int64_t harness_now_ms(void);
void harness_sleep_ms(int ms);

/* ---- redis-server (redis_server.c) --------------------------------------------------- */

typedef struct {
    pid_t pid; /* 0 when not running */
    char dir[HARNESS_PATH_MAX];
    char socket_path[HARNESS_PATH_MAX]; /* DIR/redis.sock */
    char url[HARNESS_PATH_MAX + 8];     /* "unix://DIR/redis.sock", as BUZZRADAR_REDIS takes */
    char log_path[HARNESS_PATH_MAX];    /* DIR/redis.log */
} HarnessRedis;

/* Starts redis-server in a new temporary directory, listening only on a unix socket
 * (no TCP port), persistence off (no RDB, no AOF), and waits (up to 10 s) until it
 * answers PING. Returns 0, or -1 (nothing left running, the log's tail on stderr). */
int harness_redis_start(HarnessRedis *r);

/* A new hiredis connection to the server (1 s connect and command timeouts), or NULL
 * with the reason on stderr. redisFree() it. */
redisContext *harness_redis_connect(const HarnessRedis *r);

/* Empties every database of the server (FLUSHALL) over a new connection. Returns 0,
 * or -1 with the reason on stderr. */
int harness_redis_flushall(const HarnessRedis *r);

/* Runs one command (hiredis format) on c and returns its integer reply, or a bulk
 * string reply read as an integer (HGET); HARNESS_REDIS_NO_INT for no reply (the
 * reason on stderr), a nil or any other type. */
#define HARNESS_REDIS_NO_INT (-999LL)
long long harness_redis_int(redisContext *c, const char *fmt, ...);

/* Stops the server (SIGTERM, up to 5 s, then SIGKILL) and removes its directory.
 * Returns 0 when it exited cleanly, -1 otherwise; when not running it only removes the
 * directory of a halted server (harness_redis_halt) and returns 0. */
int harness_redis_stop(HarnessRedis *r);

/* Ends a running server with signal sig (SIGTERM: a clean shutdown that closes every
 * client connection; SIGKILL: a crash, its socket file left behind) and reaps it, up
 * to 5 s (then SIGKILL). Keeps its directory, socket path and URL for
 * harness_redis_restart; clients meanwhile get refused connections. Returns 0, or -1
 * when it was not running or did not end in time. */
int harness_redis_halt(HarnessRedis *r, int sig);

/* Starts a fresh, empty redis-server on the same socket path (and URL) as a server
 * ended by harness_redis_halt, and waits (up to 10 s) until it answers PING. Returns 0,
 * or -1 (nothing left running; harness_redis_stop still cleans up). */
int harness_redis_restart(HarnessRedis *r);

/* ---- the Kafka-protocol broker (broker.c) -------------------------------------------- */

typedef struct {
    pid_t pid; /* 0 when not running */
    int brokers;
    char dir[HARNESS_PATH_MAX];
    char bootstrap[1024];                  /* "127.0.0.1:PORT,..." */
    char bootstrap_file[HARNESS_PATH_MAX]; /* DIR/bootstrap */
    char control_path[HARNESS_PATH_MAX];   /* DIR/control (unix socket) */
    char log_path[HARNESS_PATH_MAX];       /* DIR/mockbroker.log */
} HarnessBroker;

/* Starts $BUZZRADAR_TOOLS/mockbroker with `brokers` brokers (ids 1..brokers) and the
 * topics of the NULL-terminated list `topics` ("name:partitions" each; NULL: none)
 * in a new temporary directory, and waits (up to 10 s) for its bootstrap file.
 * Returns 0 with b->bootstrap set, or -1 (nothing left running). */
int harness_broker_start(HarnessBroker *b, int brokers, const char *const topics[]);

/* Sends one control command (printf-style, e.g. "down %d", see mockbroker --help) and
 * waits (up to 10 s) for its reply, which is copied into reply when not NULL. The
 * command has taken effect when this returns. Returns 0 on an "ok" reply, 1 on an
 * "err" reply, -1 when the broker could not be reached. */
int harness_broker_command(const HarnessBroker *b, char *reply, size_t reply_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Stops the broker (SIGTERM, up to 5 s, then SIGKILL) and removes its directory.
 * Returns 0 when it exited cleanly, -1 otherwise; does nothing when not running. */
int harness_broker_stop(HarnessBroker *b);

/* ---- Kafka clients for assertions (kafka.c) ------------------------------------------
 * `conf` arguments are NULL or a NULL-terminated list of librdkafka property pairs
 * ("key", "value", ...) applied after the defaults named below. */

typedef struct {
    const char *key;            /* NULL: no key */
    const char *value;          /* NULL: a null value */
    const char *const *headers; /* NULL or NULL-terminated "name", "value", ... pairs */
    bool pinned;                /* true: write to `partition`; false: partitioned by key */
    int32_t partition;
} HarnessRecord;

typedef struct {
    char *name;
    char *value; /* NUL-terminated copy; NULL for a null header value */
    size_t value_len;
} HarnessHeader;

typedef struct {
    char *key; /* NUL-terminated copy; NULL when the message has no key */
    size_t key_len;
    char *value; /* NUL-terminated copy; NULL for a null value */
    size_t value_len;
    HarnessHeader *headers;
    size_t n_headers;
    int32_t partition;
    int64_t offset;
} HarnessMessage;

typedef struct {
    HarnessMessage *items;
    size_t n, cap;
} HarnessMessages;

/* Delivery reports counted by a producer from harness_kafka_producer (updated inside
 * rd_kafka_poll/rd_kafka_flush on the calling thread). */
typedef struct {
    size_t delivered, failed;
    rd_kafka_resp_err_t first_error; /* of the first failed delivery */
} HarnessDelivery;

/* Creates a producer (defaults: acks=all, enable.idempotence=true, linger.ms=5) whose
 * delivery reports are counted in *delivery (may be NULL: not counted; must outlive
 * the producer). Returns NULL with the reason in err. */
rd_kafka_t *harness_kafka_producer(const char *bootstrap, const char *const *conf, HarnessDelivery *delivery,
                                   char *err, size_t err_len);

/* Enqueues one record on a producer, serving delivery reports and waiting up to
 * timeout_ms while the local queue is full. Returns RD_KAFKA_RESP_ERR_NO_ERROR or
 * the error (nothing enqueued). */
rd_kafka_resp_err_t harness_kafka_send(rd_kafka_t *producer, const char *topic, const HarnessRecord *rec,
                                       int timeout_ms);

/* Produces n records to topic with a producer of its own and waits (up to
 * timeout_ms) for every delivery report. Returns 0 when all n were acknowledged, -1
 * otherwise (err says how many failed and the first error). */
int harness_kafka_produce(const char *bootstrap, const char *topic, const HarnessRecord *records, size_t n,
                          const char *const *conf, int timeout_ms, char *err, size_t err_len);

/* Reads topic from the beginning of all its partitions with assign() (a throw-away
 * group.id that never joins nor commits) and appends the messages to out in arrival order. Stops when `count`
 * messages have been read, or with count == 0 when every partition has been read to
 * its end. Returns 0 when the stop condition was met, -1 on timeout or error (out
 * keeps what was read; err says why). */
int harness_kafka_consume(const char *bootstrap, const char *topic, size_t count, int timeout_ms,
                          const char *const *conf, HarnessMessages *out, char *err, size_t err_len);

/* Creates a group consumer, not yet subscribed, with test-friendly settings:
 * session.timeout.ms=6000, heartbeat.interval.ms=500, auto.offset.reset=earliest,
 * rd_kafka_poll_set_consumer done. Returns NULL with the reason in err. Close it with
 * rd_kafka_consumer_close() then rd_kafka_destroy(). */
rd_kafka_t *harness_kafka_group_consumer(const char *bootstrap, const char *group, const char *const *conf,
                                         char *err, size_t err_len);

/* Polls consumer c until its assignment holds exactly `partitions` partitions, up to
 * timeout_ms. Messages polled meanwhile are appended to collect (dropped when NULL).
 * Returns 0, or -1 on timeout (the assignment size is on stderr). */
int harness_kafka_wait_assignment(rd_kafka_t *c, int partitions, int timeout_ms, HarnessMessages *collect);

/* Appends a copy of a consumed message to out. Returns 0, or -1 on an error message
 * (not appended). */
int harness_messages_append(HarnessMessages *out, const rd_kafka_message_t *m);

/* The value of the first header called name, or NULL. */
const char *harness_message_header(const HarnessMessage *m, const char *name);

/* Frees every message and resets *m to empty. */
void harness_messages_free(HarnessMessages *m);

#endif
