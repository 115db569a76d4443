/* cli_tail.c — `buzzradar tail`: a live, coloured view of the scored tweets and the
 * alerts, for people watching the stream (and the demo).
 *
 * It reads both topics with assign() — no consumer group, nothing committed, so it
 * never disturbs the worker's group — from their end (or the beginning), and prints
 * one line per scored tweet and a banner per alert (worker/tail_view.h). Colours only
 * when stdout is a terminal and NO_COLOR is unset (or --color always). SIGINT/SIGTERM
 * stop it cleanly; a closed stdout (`| head`) ends it quietly. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "model/util.h"
#include "worker/cli.h"
#include "worker/tail_view.h"

#define TAIL_MAX_X    64
#define TAIL_LINE_CAP 8192

typedef struct {
    const char *brokers;
    const char *topic_out;
    const char *topic_alerts;
    int from_beginning;
    long count;     /* stop after this many messages; 0: never */
    int color_mode; /* -1 auto, 0 never, 1 always */
    const char *x[TAIL_MAX_X];
    int nx;
} TailArgs;

typedef struct {
    long scored, negative, alerts, unreadable;
} TailCounts;

/* Set by SIGINT/SIGTERM: the only state shared with the signal handler. */
static volatile sig_atomic_t tail_stop;

static void tail_on_signal(int sig) {
    (void)sig;
    tail_stop = 1;
}

static void tail_usage(FILE *out) {
    fprintf(out,
            "usage: buzzradar tail --brokers LIST [options]\n"
            "\n"
            "Live view of the scored tweets and the alerts: one line per tweet (time, label, P(positive)\n"
            "as a bar, the text cut to the terminal width) and a banner per alert.\n"
            "\n"
            "  --brokers LIST        bootstrap servers (env BUZZRADAR_BROKERS)\n"
            "  --topic-out NAME      scored tweets topic (env BUZZRADAR_TOPIC_OUT, default tweets.scored)\n"
            "  --topic-alerts NAME   alerts topic (env BUZZRADAR_TOPIC_ALERTS, default buzz.alerts)\n"
            "  --from-beginning      start at the oldest messages instead of the newest\n"
            "  -c, --count N         exit after N messages\n"
            "  --color WHEN          auto (default: colours on a terminal unless NO_COLOR is set),\n"
            "                        always or never\n"
            "  -X key=value          any librdkafka consumer property (SASL, TLS, ...)\n"
            "  -h, --help            this help\n"
            "\n"
            "Ctrl-C stops it. Nothing is committed: it never moves any consumer group.\n");
}

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

// Parses argv into a. Returns 0, 1 for --help (printed), 2 on a usage error (printed).
static int tail_parse_args(int argc, char **argv, TailArgs *a) {
    enum { OPT_TOPIC_OUT = 256, OPT_TOPIC_ALERTS, OPT_FROM_BEGINNING, OPT_COLOR, OPT_BROKERS };
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, OPT_BROKERS},
        {"topic-out", required_argument, NULL, OPT_TOPIC_OUT},
        {"topic-alerts", required_argument, NULL, OPT_TOPIC_ALERTS},
        {"from-beginning", no_argument, NULL, OPT_FROM_BEGINNING},
        {"count", required_argument, NULL, 'c'},
        {"color", required_argument, NULL, OPT_COLOR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->brokers = env_or("BUZZRADAR_BROKERS", NULL);
    a->topic_out = env_or("BUZZRADAR_TOPIC_OUT", "tweets.scored");
    a->topic_alerts = env_or("BUZZRADAR_TOPIC_ALERTS", "buzz.alerts");
    a->color_mode = -1;
    optind = 0; /* GNU getopt: full re-initialisation */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":c:X:h", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_BROKERS:
            a->brokers = optarg;
            break;
        case OPT_TOPIC_OUT:
            a->topic_out = optarg;
            break;
        case OPT_TOPIC_ALERTS:
            a->topic_alerts = optarg;
            break;
        case OPT_FROM_BEGINNING:
            a->from_beginning = 1;
            break;
        case 'c': {
            char *end;
            errno = 0;
            a->count = strtol(optarg, &end, 10);
            if (errno || *end || a->count < 1) {
                fprintf(stderr, "buzzradar tail: --count needs a positive number, not '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case OPT_COLOR:
            if (!strcmp(optarg, "auto"))
                a->color_mode = -1;
            else if (!strcmp(optarg, "always"))
                a->color_mode = 1;
            else if (!strcmp(optarg, "never"))
                a->color_mode = 0;
            else {
                fprintf(stderr, "buzzradar tail: --color is auto, always or never, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'X':
            if (!strchr(optarg, '=') || a->nx == TAIL_MAX_X) {
                fprintf(stderr, "buzzradar tail: -X takes key=value (at most %d)\n", TAIL_MAX_X);
                return 2;
            }
            a->x[a->nx++] = optarg;
            break;
        case 'h':
            tail_usage(stdout);
            return 1;
        case ':':
            fprintf(stderr, "buzzradar tail: %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "buzzradar tail: unknown option '%s'\n\n", argv[optind - 1]);
            tail_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "buzzradar tail: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!a->brokers) {
        fprintf(stderr, "buzzradar tail: --brokers is required (or BUZZRADAR_BROKERS)\n");
        return 2;
    }
    return 0;
}

static rd_kafka_t *tail_consumer_new(const TailArgs *a) {
    char err[512], group[64];
    // assign() needs a group id for its bookkeeping; no group is ever joined or committed
    snprintf(group, sizeof group, "buzzradar-tail-%ld", (long)getpid());
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *defaults[][2] = {
        {"bootstrap.servers", a->brokers},
        {"group.id", group},
        {"client.id", "buzzradar-tail"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "false"},
        {"log_level", "3"}, /* connection chatter would scroll through the view */
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], err, sizeof err) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "buzzradar tail: %s\n", err);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    for (int i = 0; i < a->nx; i++) {
        char key[256];
        const char *eq = strchr(a->x[i], '=');
        snprintf(key, sizeof key, "%.*s", (int)(eq - a->x[i]), a->x[i]);
        if (rd_kafka_conf_set(conf, key, eq + 1, err, sizeof err) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "buzzradar tail: -X %s: %s\n", a->x[i], err);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "buzzradar tail: cannot create a Kafka consumer: %s\n", err);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

// The number of partitions of topic (> 0), 0 while it does not exist, -1 on error.
static int tail_partition_count(rd_kafka_t *rk, const char *topic) {
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 2000);
    rd_kafka_topic_destroy(rkt);
    if (err) return -1;
    int n = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
    return n;
}

// Assigns every partition of both topics at the start offset, waiting for topics that
// do not exist yet. Returns 0, or -1 when stopped or on error.
static int tail_assign(rd_kafka_t *rk, const TailArgs *a) {
    const char *topics[2] = {a->topic_out, a->topic_alerts};
    int parts[2] = {0, 0};
    int said_waiting = 0;
    double last_error = -1e9;
    while (!tail_stop && (parts[0] <= 0 || parts[1] <= 0)) {
        for (int t = 0; t < 2; t++)
            if (parts[t] <= 0) parts[t] = tail_partition_count(rk, topics[t]);
        if (parts[0] > 0 && parts[1] > 0) break;
        if ((parts[0] < 0 || parts[1] < 0) && util_now_s() - last_error > 5) {
            fprintf(stderr, "buzzradar tail: no answer from %s yet, retrying\n", a->brokers);
            last_error = util_now_s();
        } else if (parts[0] == 0 && parts[1] == 0 && !said_waiting) {
            fprintf(stderr, "buzzradar tail: waiting for the topics to exist\n");
            said_waiting = 1;
        }
        for (int i = 0; i < 5 && !tail_stop; i++) usleep(100000);
    }
    if (tail_stop) return -1;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(parts[0] + parts[1]);
    int64_t start = a->from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
    for (int t = 0; t < 2; t++)
        for (int p = 0; p < parts[t]; p++)
            rd_kafka_topic_partition_list_add(list, topics[t], p)->offset = start;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        fprintf(stderr, "buzzradar tail: assign: %s\n", rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

// Terminal columns of stdout, $COLUMNS when it is not a terminal, else 0 (no cut).
static int tail_width(int is_tty) {
    struct winsize ws;
    if (is_tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *c = getenv("COLUMNS");
    return c ? atoi(c) : 0;
}

// Formats and writes one message into line (cap bytes). Returns 0, or -1 when stdout
// is gone.
static int tail_show(const TailArgs *a, const rd_kafka_message_t *m, TailStyle *st, int is_tty, char *line,
                     size_t cap, TailCounts *n) {
    const char *topic = rd_kafka_topic_name(m->rkt);
    const char *payload = m->payload ? (const char *)m->payload : "";
    st->width = tail_width(is_tty);
    size_t len;
    if (!strcmp(topic, a->topic_alerts)) {
        int ok;
        len = tail_format_alert(st, payload, m->len, line, cap, &ok);
        n->alerts += ok;
        n->unreadable += !ok;
    } else {
        int label;
        len = tail_format_scored(st, payload, m->len, line, cap, &label);
        n->scored += label >= 0;
        n->negative += label == 0;
        n->unreadable += label < 0;
    }
    if (fwrite(line, 1, len, stdout) != len || fflush(stdout) != 0) return -1;
    return 0;
}

int cli_tail(int argc, char **argv) {
    TailArgs a;
    int rc = tail_parse_args(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : rc;

    int is_tty = isatty(STDOUT_FILENO);
    const char *no_color = getenv("NO_COLOR"), *term = getenv("TERM");
    TailStyle st = {.color = a.color_mode >= 0
                                 ? a.color_mode
                                 : is_tty && !(no_color && *no_color) && !(term && !strcmp(term, "dumb")),
                    .width = 0};

    struct sigaction sa = {.sa_handler = tail_on_signal}, old_int, old_term, ign = {.sa_handler = SIG_IGN},
                     old_pipe;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&ign.sa_mask);
    tail_stop = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGPIPE, &ign, &old_pipe); /* a closed stdout is a write error, not a kill */

    rd_kafka_t *rk = tail_consumer_new(&a);
    if (!rk) {
        rc = 1;
        goto out;
    }
    fprintf(stderr, "buzzradar tail: %s and %s on %s, from the %s (Ctrl-C to stop)\n", a.topic_out,
            a.topic_alerts, a.brokers, a.from_beginning ? "beginning" : "end");

    TailCounts n = {0};
    char *line = mallocCheck(TAIL_LINE_CAP);
    double last_error = -1e9;
    rc = 0;
    if (tail_assign(rk, &a) != 0) {
        rc = tail_stop ? 0 : 1;
    } else {
        while (!tail_stop && (a.count == 0 || n.scored + n.alerts + n.unreadable < a.count)) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
            if (!m) continue;
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && util_now_s() - last_error > 5) {
                    fprintf(stderr, "buzzradar tail: %s\n", rd_kafka_message_errstr(m));
                    last_error = util_now_s();
                }
            } else if (tail_show(&a, m, &st, is_tty, line, TAIL_LINE_CAP, &n) != 0) {
                tail_stop = 1; /* stdout closed: nobody is watching */
            }
            rd_kafka_message_destroy(m);
        }
    }
    free(line);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    fprintf(stderr, "buzzradar tail: %ld scored tweets (%ld negative), %ld alerts", n.scored, n.negative,
            n.alerts);
    if (n.unreadable) fprintf(stderr, ", %ld unreadable", n.unreadable);
    fprintf(stderr, "\n");
out:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    return rc;
}
