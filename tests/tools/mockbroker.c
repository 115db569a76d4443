/* mockbroker.c — a Kafka-protocol broker for tests, built on librdkafka's mock cluster
 * (rdkafka_mock.h) and run as its own process, so that clients in other processes
 * (the worker, kcat, the tests) talk to it over TCP like to a real cluster.
 *
 *   mockbroker [--brokers N] [--topic NAME:PARTITIONS]... [--bootstrap-file PATH]
 *              [--control PATH] [-X key=value]...
 *   mockbroker --send PATH COMMAND...      send one control command, print the reply
 *
 * Start-up: the cluster is created, the topics are created, the control socket is
 * listening, and only then is the bootstrap address written to --bootstrap-file
 * (atomically: a temporary file renamed over PATH) and printed as one line on stdout.
 * A reader that sees the file can use the broker at once.
 *
 * Control: --control PATH is a unix stream socket. Each line a client writes is one
 * command; each command is answered by exactly one line, "ok[ DETAIL]" or
 * "err MESSAGE", after the command has taken effect (the mock cluster's calls are
 * synchronous). Commands (broker ids are 1..N):
 *   ping                              ok
 *   bootstrap                         ok HOST:PORT,...
 *   down ID | up ID                   broker unreachable / reachable again
 *   rtt ID MS                         delay every response of broker ID by MS
 *   error API COUNT ERR               the next COUNT requests of API (name such as
 *                                     Produce, or number) fail with ERR (name such as
 *                                     NOT_LEADER_FOR_PARTITION or _TRANSPORT, or number)
 *   clear API                         drop the errors still queued for API
 *   topic NAME PARTITIONS             create a topic
 *   leader TOPIC PARTITION ID         move a partition's leader to broker ID
 *
 * SIGTERM or SIGINT stops it cleanly (exit 0): control socket and bootstrap file are
 * removed, the mock cluster is destroyed before its rd_kafka_t. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MB_MAX_TOPICS  64
#define MB_MAX_CONF    64
#define MB_MAX_CLIENTS 8
#define MB_LINE_MAX    1024
#define MB_MAX_ARGS    8

static volatile sig_atomic_t mb_run = 1;

static void mb_on_signal(int sig) {
    (void)sig;
    mb_run = 0;
}

/* Kafka protocol request types by name (the subset a test may want to fail). */
typedef struct {
    const char *name;
    int16_t key;
} MbApiKey;

static const MbApiKey mb_api_keys[] = {
    {"Produce", 0},
    {"Fetch", 1},
    {"ListOffsets", 2},
    {"Metadata", 3},
    {"OffsetCommit", 8},
    {"OffsetFetch", 9},
    {"FindCoordinator", 10},
    {"JoinGroup", 11},
    {"Heartbeat", 12},
    {"LeaveGroup", 13},
    {"SyncGroup", 14},
    {"DescribeGroups", 15},
    {"ListGroups", 16},
    {"SaslHandshake", 17},
    {"ApiVersions", 18},
    {"CreateTopics", 19},
    {"DeleteTopics", 20},
    {"DeleteRecords", 21},
    {"InitProducerId", 22},
    {"OffsetForLeaderEpoch", 23},
    {"AddPartitionsToTxn", 24},
    {"AddOffsetsToTxn", 25},
    {"EndTxn", 26},
    {"TxnOffsetCommit", 28},
    {"DescribeConfigs", 32},
    {"AlterConfigs", 33},
    {"SaslAuthenticate", 36},
    {"CreatePartitions", 37},
    {"DeleteGroups", 42},
    {"OffsetDelete", 47},
};

typedef struct {
    char name[256];
    int partitions;
} MbTopic;

typedef struct {
    int brokers;
    MbTopic topics[MB_MAX_TOPICS];
    int n_topics;
    const char *conf[MB_MAX_CONF]; /* "key=value" strings from -X */
    int n_conf;
    const char *bootstrap_file;
    const char *control_path;
} MbOptions;

typedef struct {
    int fd; /* -1 when the slot is free */
    char buf[MB_LINE_MAX];
    size_t len;
} MbClient;

static void mb_usage(FILE *out) {
    fprintf(out, "usage: mockbroker [--brokers N] [--topic NAME:PARTITIONS]... [--bootstrap-file PATH]\n"
                 "                  [--control PATH] [-X key=value]...\n"
                 "       mockbroker --send PATH COMMAND...\n\n"
                 "A Kafka-protocol broker for tests (librdkafka's mock cluster) in its own process.\n"
                 "Prints the bootstrap address on stdout once ready and writes it atomically to\n"
                 "--bootstrap-file. Stops cleanly on SIGTERM/SIGINT.\n\n"
                 "  --brokers N             number of brokers, ids 1..N (default 3)\n"
                 "  --topic NAME:P          create topic NAME with P partitions up front (repeatable)\n"
                 "  --bootstrap-file PATH   write the bootstrap address there once ready\n"
                 "  --control PATH          unix socket taking one command per line, one reply line\n"
                 "                          each (\"ok[ DETAIL]\" or \"err MESSAGE\")\n"
                 "  -X key=value            librdkafka property for the cluster's own client handle\n"
                 "  --send PATH COMMAND...  client mode: send COMMAND to the control socket PATH,\n"
                 "                          print the reply, exit 0 on ok, 1 otherwise\n\n"
                 "control commands (broker ids 1..N):\n"
                 "  ping | bootstrap | down ID | up ID | rtt ID MS | error API COUNT ERR | clear API\n"
                 "  topic NAME PARTITIONS | leader TOPIC PARTITION ID\n"
                 "  API is a request name (Produce, Fetch, Metadata, OffsetCommit, JoinGroup, ...) or\n"
                 "  number; ERR an error name (NOT_LEADER_FOR_PARTITION, _TRANSPORT, ...) or number.\n");
}

/* Parses a whole base-10 integer in [lo, hi]. Returns 0, or -1 when s is not one. */
static int mb_parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int mb_parse_api_key(const char *s, int16_t *out) {
    long v;
    if (mb_parse_long(s, 0, INT16_MAX, &v) == 0) {
        *out = (int16_t)v;
        return 0;
    }
    for (size_t i = 0; i < sizeof mb_api_keys / sizeof mb_api_keys[0]; i++) {
        if (!strcasecmp(s, mb_api_keys[i].name)) {
            *out = mb_api_keys[i].key;
            return 0;
        }
    }
    return -1;
}

/* Error codes by number or by librdkafka name, with or without "RD_KAFKA_RESP_ERR_". */
static int mb_parse_error(const char *s, rd_kafka_resp_err_t *out) {
    long v;
    if (mb_parse_long(s, INT16_MIN, INT16_MAX, &v) == 0) {
        *out = (rd_kafka_resp_err_t)v;
        return 0;
    }
    if (!strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18)) s += 18;
    const struct rd_kafka_err_desc *descs;
    size_t n;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++) {
        if (descs[i].name && !strcasecmp(s, descs[i].name)) {
            *out = descs[i].code;
            return 0;
        }
    }
    return -1;
}

static void mb_reply_status(char *reply, size_t len, rd_kafka_resp_err_t err) {
    if (err)
        snprintf(reply, len, "err %s: %s", rd_kafka_err2name(err), rd_kafka_err2str(err));
    else
        snprintf(reply, len, "ok");
}

/* Executes one command line against the cluster and writes the one-line reply. */
static void mb_execute(rd_kafka_mock_cluster_t *mc, int brokers, char *line, char *reply, size_t len) {
    char *argv[MB_MAX_ARGS];
    int argc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save)) {
        if (argc == MB_MAX_ARGS) {
            snprintf(reply, len, "err too many arguments");
            return;
        }
        argv[argc++] = tok;
    }
    if (argc == 0) {
        snprintf(reply, len, "err empty command");
        return;
    }
    const char *cmd = argv[0];
    long id = 0, v = 0, v2 = 0;
    if (!strcmp(cmd, "ping") && argc == 1) {
        snprintf(reply, len, "ok");
    } else if (!strcmp(cmd, "bootstrap") && argc == 1) {
        snprintf(reply, len, "ok %s", rd_kafka_mock_cluster_bootstraps(mc));
    } else if ((!strcmp(cmd, "down") || !strcmp(cmd, "up")) && argc == 2) {
        if (mb_parse_long(argv[1], 1, brokers, &id)) {
            snprintf(reply, len, "err broker id must be 1..%d", brokers);
            return;
        }
        mb_reply_status(reply, len,
                        cmd[0] == 'd' ? rd_kafka_mock_broker_set_down(mc, (int32_t)id)
                                      : rd_kafka_mock_broker_set_up(mc, (int32_t)id));
    } else if (!strcmp(cmd, "rtt") && argc == 3) {
        if (mb_parse_long(argv[1], 1, brokers, &id) || mb_parse_long(argv[2], 0, 3600000, &v)) {
            snprintf(reply, len, "err usage: rtt ID(1..%d) MS(0..3600000)", brokers);
            return;
        }
        mb_reply_status(reply, len, rd_kafka_mock_broker_set_rtt(mc, (int32_t)id, (int)v));
    } else if (!strcmp(cmd, "error") && argc == 4) {
        int16_t api;
        rd_kafka_resp_err_t err;
        if (mb_parse_api_key(argv[1], &api)) {
            snprintf(reply, len, "err unknown request type '%s'", argv[1]);
        } else if (mb_parse_long(argv[2], 1, 100000, &v)) {
            snprintf(reply, len, "err count must be 1..100000");
        } else if (mb_parse_error(argv[3], &err)) {
            snprintf(reply, len, "err unknown error code '%s'", argv[3]);
        } else {
            rd_kafka_resp_err_t *errs = malloc((size_t)v * sizeof *errs);
            if (!errs) {
                snprintf(reply, len, "err out of memory");
                return;
            }
            for (long i = 0; i < v; i++) errs[i] = err;
            rd_kafka_mock_push_request_errors_array(mc, api, (size_t)v, errs);
            free(errs);
            snprintf(reply, len, "ok %ld x %s on request type %d", v, rd_kafka_err2name(err), api);
        }
    } else if (!strcmp(cmd, "clear") && argc == 2) {
        int16_t api;
        if (mb_parse_api_key(argv[1], &api)) {
            snprintf(reply, len, "err unknown request type '%s'", argv[1]);
            return;
        }
        rd_kafka_mock_clear_request_errors(mc, api);
        snprintf(reply, len, "ok");
    } else if (!strcmp(cmd, "topic") && argc == 3) {
        if (mb_parse_long(argv[2], 1, 100000, &v)) {
            snprintf(reply, len, "err partitions must be 1..100000");
            return;
        }
        int replication = brokers < 3 ? brokers : 3;
        mb_reply_status(reply, len, rd_kafka_mock_topic_create(mc, argv[1], (int)v, replication));
    } else if (!strcmp(cmd, "leader") && argc == 4) {
        if (mb_parse_long(argv[2], 0, INT32_MAX, &v) || mb_parse_long(argv[3], 1, brokers, &v2)) {
            snprintf(reply, len, "err usage: leader TOPIC PARTITION ID(1..%d)", brokers);
            return;
        }
        mb_reply_status(reply, len, rd_kafka_mock_partition_set_leader(mc, argv[1], (int32_t)v, (int32_t)v2));
    } else {
        snprintf(reply, len, "err unknown command or wrong arguments: %s (see --help)", cmd);
    }
}

/* Writes `text` to `path` atomically: PATH.tmp.PID written, then renamed over PATH. */
static int mb_write_atomic(const char *path, const char *text) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        fprintf(stderr, "mockbroker: path too long: %s\n", path);
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "mockbroker: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    int bad = fprintf(f, "%s\n", text) < 0;
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "mockbroker: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int mb_fill_sockaddr(const char *path, struct sockaddr_un *sa) {
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path) {
        fprintf(stderr, "mockbroker: control socket path too long (max %zu bytes): %s\n",
                sizeof sa->sun_path - 1, path);
        return -1;
    }
    strcpy(sa->sun_path, path);
    return 0;
}

/* Binds and listens on the control socket; a stale socket file at PATH is replaced,
 * any other kind of file is an error. Returns the listening fd or -1. */
static int mb_control_listen(const char *path) {
    struct sockaddr_un sa;
    if (mb_fill_sockaddr(path, &sa)) return -1;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            fprintf(stderr, "mockbroker: %s exists and is not a socket\n", path);
            return -1;
        }
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0) {
        fprintf(stderr, "mockbroker: control socket %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static void mb_client_close(MbClient *c) {
    close(c->fd);
    c->fd = -1;
    c->len = 0;
}

static void mb_client_reply(MbClient *c, const char *reply) {
    char out[MB_LINE_MAX + 2];
    int n = snprintf(out, sizeof out, "%s\n", reply);
    if (n >= (int)sizeof out) n = (int)sizeof out - 1, out[n - 1] = '\n';
    if (send(c->fd, out, (size_t)n, MSG_NOSIGNAL) != n) mb_client_close(c);
}

/* Reads what a client sent and answers every complete line. A line longer than the
 * buffer gets an error reply and the connection is closed. At end of stream, a last
 * line without a newline is still executed. */
static void mb_client_read(MbClient *c, rd_kafka_mock_cluster_t *mc, int brokers) {
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    int eof = n <= 0;
    if (n > 0) c->len += (size_t)n;
    c->buf[c->len] = '\0';
    char reply[MB_LINE_MAX] = "";
    char *start = c->buf;
    for (char *nl; c->fd >= 0 && (nl = strchr(start, '\n'));) {
        *nl = '\0';
        fprintf(stderr, "mockbroker: command: %s\n", start);
        mb_execute(mc, brokers, start, reply, sizeof reply);
        fprintf(stderr, "mockbroker: reply: %s\n", reply);
        mb_client_reply(c, reply);
        start = nl + 1;
    }
    if (c->fd < 0) return;
    c->len = strlen(start);
    memmove(c->buf, start, c->len + 1);
    if (eof && c->len > 0) {
        mb_execute(mc, brokers, c->buf, reply, sizeof reply);
        mb_client_reply(c, reply);
    } else if (c->len == sizeof c->buf - 1) {
        mb_client_reply(c, "err line too long");
    } else if (!eof) {
        return;
    }
    if (c->fd >= 0) mb_client_close(c);
}

/* Serves the control socket (if any) until SIGTERM/SIGINT. The signals are blocked
 * outside ppoll so that a signal can never be missed between the check and the wait. */
static void mb_serve(rd_kafka_mock_cluster_t *mc, int brokers, int listen_fd, const sigset_t *waitmask) {
    MbClient clients[MB_MAX_CLIENTS];
    for (int i = 0; i < MB_MAX_CLIENTS; i++) clients[i].fd = -1, clients[i].len = 0;
    while (mb_run) {
        struct pollfd pfd[MB_MAX_CLIENTS + 1];
        int idx[MB_MAX_CLIENTS + 1];
        nfds_t n = 0;
        if (listen_fd >= 0) pfd[n].fd = listen_fd, pfd[n].events = POLLIN, idx[n++] = -1;
        for (int i = 0; i < MB_MAX_CLIENTS; i++)
            if (clients[i].fd >= 0) pfd[n].fd = clients[i].fd, pfd[n].events = POLLIN, idx[n++] = i;
        int r = ppoll(pfd, n, NULL, waitmask);
        if (r < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "mockbroker: ppoll: %s\n", strerror(errno));
            break;
        }
        for (nfds_t k = 0; k < n; k++) {
            if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            if (idx[k] >= 0) {
                mb_client_read(&clients[idx[k]], mc, brokers);
                continue;
            }
            int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0) continue;
            int slot = -1;
            for (int i = 0; i < MB_MAX_CLIENTS && slot < 0; i++)
                if (clients[i].fd < 0) slot = i;
            if (slot < 0) {
                MbClient refused = {.fd = fd};
                mb_client_reply(&refused, "err too many control connections");
                if (refused.fd >= 0) close(fd);
                continue;
            }
            struct timeval tv = {.tv_sec = 1}; /* a client that never reads cannot stall us */
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            clients[slot].fd = fd;
            clients[slot].len = 0;
        }
    }
    for (int i = 0; i < MB_MAX_CLIENTS; i++)
        if (clients[i].fd >= 0) mb_client_close(&clients[i]);
}

/* Client mode: one command, one reply line on stdout; exit status 0 on "ok". */
static int mb_send(const char *path, int argc, char **argv) {
    char line[MB_LINE_MAX];
    size_t len = 0;
    for (int i = 0; i < argc; i++) {
        int n = snprintf(line + len, sizeof line - len, "%s%s", i ? " " : "", argv[i]);
        if (n < 0 || (size_t)n >= sizeof line - len - 1) {
            fprintf(stderr, "mockbroker: command too long\n");
            return 2;
        }
        len += (size_t)n;
    }
    line[len++] = '\n';
    struct sockaddr_un sa;
    if (mb_fill_sockaddr(path, &sa)) return 2;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {.tv_sec = 10};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len) {
        fprintf(stderr, "mockbroker: %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        return 2;
    }
    char reply[MB_LINE_MAX] = "";
    size_t got = 0;
    while (got < sizeof reply - 1 && !memchr(reply, '\n', got)) {
        ssize_t n = recv(fd, reply + got, sizeof reply - 1 - got, 0);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    reply[got] = '\0';
    if (!memchr(reply, '\n', got)) {
        fprintf(stderr, "mockbroker: no reply from %s\n", path);
        return 2;
    }
    fputs(reply, stdout);
    return strncmp(reply, "ok", 2) == 0 && (reply[2] == '\n' || reply[2] == ' ') ? 0 : 1;
}

/* Parses the command line into opt. Returns -1 (after printing why) on a bad flag. */
static int mb_parse_args(int argc, char **argv, MbOptions *opt) {
    opt->brokers = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        long v;
        if (!strcmp(a, "--brokers") && val) {
            if (mb_parse_long(val, 1, 64, &v)) {
                fprintf(stderr, "mockbroker: --brokers must be 1..64, not '%s'\n", val);
                return -1;
            }
            opt->brokers = (int)v;
        } else if (!strcmp(a, "--topic") && val) {
            const char *colon = strrchr(val, ':');
            if (opt->n_topics == MB_MAX_TOPICS) {
                fprintf(stderr, "mockbroker: at most %d --topic flags\n", MB_MAX_TOPICS);
                return -1;
            }
            MbTopic *t = &opt->topics[opt->n_topics];
            size_t name_len = colon ? (size_t)(colon - val) : 0;
            if (!colon || name_len == 0 || name_len >= sizeof t->name ||
                mb_parse_long(colon + 1, 1, 100000, &v)) {
                fprintf(stderr, "mockbroker: --topic wants NAME:PARTITIONS, not '%s'\n", val);
                return -1;
            }
            memcpy(t->name, val, name_len);
            t->name[name_len] = '\0';
            t->partitions = (int)v;
            opt->n_topics++;
        } else if (!strcmp(a, "--bootstrap-file") && val) {
            opt->bootstrap_file = val;
        } else if (!strcmp(a, "--control") && val) {
            opt->control_path = val;
        } else if (!strcmp(a, "-X") && val) {
            if (!strchr(val, '=') || opt->n_conf == MB_MAX_CONF) {
                fprintf(stderr, "mockbroker: -X wants key=value, not '%s'\n", val);
                return -1;
            }
            opt->conf[opt->n_conf++] = val;
        } else {
            fprintf(stderr, "mockbroker: unknown flag or missing value: %s (see --help)\n", a);
            return -1;
        }
        i++;
    }
    return 0;
}

static rd_kafka_t *mb_client_new(const MbOptions *opt) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "client.id", "mockbroker", errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        goto fail;
    for (int i = 0; i < opt->n_conf; i++) {
        char kv[1024];
        snprintf(kv, sizeof kv, "%s", opt->conf[i]);
        char *eq = strchr(kv, '=');
        *eq = '\0';
        if (rd_kafka_conf_set(conf, kv, eq + 1, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) goto fail;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (rk) return rk; /* conf is owned by rk now */
    fprintf(stderr, "mockbroker: rd_kafka_new: %s\n", errstr);
    return NULL;
fail:
    fprintf(stderr, "mockbroker: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return NULL;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            mb_usage(stdout);
            return 0;
        }
    }
    if (argc >= 2 && !strcmp(argv[1], "--send")) {
        if (argc < 4) {
            fprintf(stderr, "mockbroker: usage: mockbroker --send PATH COMMAND...\n");
            return 2;
        }
        return mb_send(argv[2], argc - 3, argv + 3);
    }
    MbOptions opt;
    memset(&opt, 0, sizeof opt);
    if (mb_parse_args(argc, argv, &opt)) return 2;

    /* Block the stop signals before librdkafka starts its threads (they inherit the
     * mask), so they are only ever delivered inside ppoll on this thread. */
    sigset_t stopset, waitmask;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGTERM);
    sigaddset(&stopset, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stopset, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = mb_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int status = 1, listen_fd = -1;
    rd_kafka_t *rk = mb_client_new(&opt);
    if (!rk) return 1;
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, opt.brokers);
    if (!mc) {
        fprintf(stderr, "mockbroker: rd_kafka_mock_cluster_new failed\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    int replication = opt.brokers < 3 ? opt.brokers : 3;
    for (int i = 0; i < opt.n_topics; i++) {
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(mc, opt.topics[i].name, opt.topics[i].partitions, replication);
        if (err) {
            fprintf(stderr, "mockbroker: cannot create topic %s: %s\n", opt.topics[i].name,
                    rd_kafka_err2str(err));
            goto done;
        }
    }
    if (opt.control_path && (listen_fd = mb_control_listen(opt.control_path)) < 0) goto done;
    const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
    if (opt.bootstrap_file && mb_write_atomic(opt.bootstrap_file, bootstrap)) goto done;
    printf("%s\n", bootstrap);
    fflush(stdout);
    fprintf(stderr, "mockbroker: ready: %d brokers, %d topics, bootstrap %s%s%s\n", opt.brokers, opt.n_topics,
            bootstrap, opt.control_path ? ", control " : "", opt.control_path ? opt.control_path : "");

    mb_serve(mc, opt.brokers, listen_fd, &waitmask);
    fprintf(stderr, "mockbroker: stopping\n");
    status = 0;
done:
    if (listen_fd >= 0) {
        close(listen_fd);
        unlink(opt.control_path);
    }
    if (status == 0 && opt.bootstrap_file) unlink(opt.bootstrap_file);
    rd_kafka_mock_cluster_destroy(mc); /* before its rd_kafka_t */
    rd_kafka_destroy(rk);
    return status;
}
