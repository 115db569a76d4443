/* cli_feedback.c — `buzzradar feedback export`: the corrections people sent on
 * tweets.feedback, kept in Redis by the workers (worker/feedback.h), written as a
 * `label,text` CSV (labels 0/1, RFC 4180 quoting) that `buzzradar train --data` reads,
 * so that the model can be retrained on what it got wrong. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/util.h"
#include "worker/cli.h"
#include "worker/feedback.h"
#include "worker/log.h"
#include "worker/monitor.h"

typedef struct {
    const char *redis;
    const char *prefix;
    int64_t since_ms; /* 0: everything kept */
    const char *out;  /* NULL: stdout */
    int only_misclassified;
} FeedbackArgs;

static void feedback_usage(FILE *out) {
    fprintf(out,
            "usage: buzzradar feedback export [--since DURATION] [--out FILE] [--misclassified-only]\n"
            "                                 [--redis URL] [--prefix P]\n"
            "\n"
            "Writes the tweets people labelled (tweets.feedback) as a label,text CSV for `train --data`.\n"
            "Corrections are kept 90 days with the feedback message's text, else the text the worker\n"
            "scored (kept 24 h with the prediction); corrections with neither are skipped (counted).\n"
            "\n"
            "  --since DURATION      only feedback from the last 7d, 24h... (default: all kept)\n"
            "  --out FILE            write FILE (atomically, through FILE.tmp) instead of stdout\n"
            "  --misclassified-only  only the tweets the model got wrong\n"
            "  --redis URL           redis://host:port/db or unix:///path (env BUZZRADAR_REDIS,\n"
            "                        default redis://127.0.0.1:6379/0)\n"
            "  --prefix P            key prefix of the workers (env BUZZRADAR_REDIS_PREFIX, default bz:)\n"
            "  -h, --help            this help\n");
}

/* Returns 0, 1 for --help (printed), 2 on a usage error (printed). */
static int feedback_parse(int argc, char **argv, FeedbackArgs *a) {
    static const struct option longopts[] = {{"since", required_argument, NULL, 's'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"misclassified-only", no_argument, NULL, 'w'},
                                             {"redis", required_argument, NULL, 'r'},
                                             {"prefix", required_argument, NULL, 'p'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    a->redis = getenv("BUZZRADAR_REDIS");
    if (!a->redis || !*a->redis) a->redis = "redis://127.0.0.1:6379/0";
    a->prefix = getenv("BUZZRADAR_REDIS_PREFIX");
    if (!a->prefix || !*a->prefix) a->prefix = "bz:";
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        feedback_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 1;
    }
    if (strcmp(argv[1], "export") != 0) {
        fprintf(stderr, "buzzradar feedback: unknown action '%s' (only 'export')\n", argv[1]);
        return 2;
    }
    optind = 2;
    int opt;
    while ((opt = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (monitor_parse_duration(optarg, &a->since_ms) != 0) {
                fprintf(stderr, "buzzradar feedback: --since: '%s' is not a duration (24h, 7d, 2w)\n",
                        optarg);
                return 2;
            }
            break;
        case 'o':
            a->out = optarg;
            break;
        case 'w':
            a->only_misclassified = 1;
            break;
        case 'r':
            a->redis = optarg;
            break;
        case 'p':
            a->prefix = optarg;
            break;
        case 'h':
            feedback_usage(stdout);
            return 1;
        case ':':
            fprintf(stderr, "buzzradar feedback: %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "buzzradar feedback: unknown option '%s'\n\n", argv[optind - 1]);
            feedback_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "buzzradar feedback: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return 0;
}

int cli_feedback(int argc, char **argv) {
    FeedbackArgs a;
    int rc = feedback_parse(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : 2;
    log_setup(LOG_FORMAT_TEXT, LOG_ERROR);

    MonitorConfig cfg;
    monitor_config_default(&cfg);
    cfg.url = a.redis;
    cfg.key_prefix = a.prefix;
    cfg.raise_unavailable = 0;
    cfg.conn.connect_timeout_ms = 1000;
    cfg.conn.command_timeout_ms = 2000;
    char err[256];
    Monitor *m = monitor_new(&cfg, err, sizeof err);
    if (!m) {
        fprintf(stderr, "buzzradar feedback: %s\n", err);
        return 2;
    }

    char *tmp = NULL;
    FILE *out = stdout;
    if (a.out) {
        size_t len = strlen(a.out) + 5;
        tmp = mallocCheck(len);
        snprintf(tmp, len, "%s.tmp", a.out);
        out = fopen(tmp, "w");
        if (!out) {
            fprintf(stderr, "buzzradar feedback: cannot write %s: %s\n", tmp, strerror(errno));
            free(tmp);
            monitor_free(m);
            return 1;
        }
    }
    int64_t now_ms = util_wall_ms();
    FeedbackExportStats st;
    int status = 0;
    if (feedback_export(m, now_ms, a.since_ms ? now_ms - a.since_ms : 0, a.only_misclassified, out, &st) !=
        MONITOR_OK) {
        fprintf(stderr,
                "buzzradar feedback: cannot reach Redis at %s (connection refused, timed out or lost)\n",
                redis_conn_url(monitor_conn(m)));
        status = 1;
    }
    if (fflush(out) != 0 || ferror(out)) {
        fprintf(stderr, "buzzradar feedback: write error on %s\n", a.out ? tmp : "stdout");
        status = 1;
    }
    if (a.out) {
        if (fclose(out) != 0 && status == 0) {
            fprintf(stderr, "buzzradar feedback: write error on %s\n", tmp);
            status = 1;
        }
        if (status == 0 && rename(tmp, a.out) != 0) {
            fprintf(stderr, "buzzradar feedback: cannot rename %s to %s: %s\n", tmp, a.out, strerror(errno));
            status = 1;
        }
        if (status != 0) remove(tmp);
    }
    if (status == 0)
        fprintf(
            stderr,
            "buzzradar feedback: exported %lld corrections to %s (%lld without text skipped, %lld filtered, "
            "%lld expired)\n",
            (long long)st.rows, a.out ? a.out : "stdout", (long long)st.without_text, (long long)st.filtered,
            (long long)st.expired);
    free(tmp);
    monitor_free(m);
    return status;
}
