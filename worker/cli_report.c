/* cli_report.c — `buzzradar report`: what the monitor saw over the last hours, for
 * people (or as one JSON object with --json), read from the windows the workers keep in
 * Redis: tweets scored, negative share over time with bars and a sparkline, error rate,
 * latency percentiles, model confidence and vocabulary, feedback accuracy, and the
 * alerts raised. Per-minute buckets live minute_ttl_ms (48 h by default): that is how
 * far back a report reaches. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "model/util.h"
#include "worker/cli.h"
#include "worker/feedback.h"
#include "worker/log.h"
#include "worker/monitor.h"

typedef struct {
    const char *redis;
    const char *prefix;
    int64_t since_ms;
    int json;
} ReportArgs;

/* One row of the negative-share table. */
typedef struct {
    int64_t start_min;
    AlertCounts c;
} ReportBucket;

/* Alerts read from the log, kept for printing. */
typedef struct {
    cJSON *list; /* array of the alert objects */
} ReportAlerts;

static void report_usage(FILE *out) {
    fprintf(out,
            "usage: buzzradar report [--since DURATION] [--redis URL] [--prefix P] [--json]\n"
            "\n"
            "Summary of what the workers saw, read from Redis: tweets scored, negative share over time,\n"
            "dead letters, latency percentiles, feedback accuracy and the alerts raised.\n"
            "\n"
            "  --since DURATION  how far back: 90m, 24h, 2d... (default 24h; buckets are kept 48 h)\n"
            "  --redis URL       redis://host:port/db or unix:///path (env BUZZRADAR_REDIS,\n"
            "                    default redis://127.0.0.1:6379/0)\n"
            "  --prefix P        key prefix of the workers (env BUZZRADAR_REDIS_PREFIX, default bz:)\n"
            "  --json            one JSON object instead of the text report\n"
            "  -h, --help        this help\n");
}

/* Returns 0, 1 for --help (printed), 2 on a usage error (printed). */
static int report_parse(int argc, char **argv, ReportArgs *a) {
    static const struct option longopts[] = {
        {"since", required_argument, NULL, 's'},  {"redis", required_argument, NULL, 'r'},
        {"prefix", required_argument, NULL, 'p'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    a->redis = getenv("BUZZRADAR_REDIS");
    if (!a->redis || !*a->redis) a->redis = "redis://127.0.0.1:6379/0";
    a->prefix = getenv("BUZZRADAR_REDIS_PREFIX");
    if (!a->prefix || !*a->prefix) a->prefix = "bz:";
    a->since_ms = 24 * 3600000LL;
    a->json = 0;
    optind = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (monitor_parse_duration(optarg, &a->since_ms) != 0) {
                fprintf(stderr, "buzzradar report: --since: '%s' is not a duration (90m, 24h, 2d)\n", optarg);
                return 2;
            }
            break;
        case 'r':
            a->redis = optarg;
            break;
        case 'p':
            a->prefix = optarg;
            break;
        case 'j':
            a->json = 1;
            break;
        case 'h':
            report_usage(stdout);
            return 1;
        case ':':
            fprintf(stderr, "buzzradar report: %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "buzzradar report: unknown option '%s'\n\n", argv[optind - 1]);
            report_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "buzzradar report: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return 0;
}

/* Bucket size in minutes: the smallest "round" size giving at most 36 rows. */
static int64_t report_bucket_minutes(int64_t range_min) {
    static const int64_t sizes[] = {5, 10, 15, 30, 60, 120, 180, 360, 720, 1440};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (range_min / sizes[i] <= 36) return sizes[i];
    return 1440 * ((range_min / 1440 + 35) / 36);
}

static int collect_alert(const char *json, int64_t at_ms, void *ctx) {
    (void)at_ms;
    ReportAlerts *ra = ctx;
    cJSON *o = cJSON_Parse(json);
    if (o) cJSON_AddItemToArray(ra->list, o);
    return 0;
}

static const char *jstr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItem(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* "1,234,567" */
static const char *thousands(int64_t v, char *buf, size_t len) {
    char raw[32];
    int n = snprintf(raw, sizeof raw, "%lld", (long long)(v < 0 ? -v : v));
    size_t o = 0;
    if (v < 0 && o + 1 < len) buf[o++] = '-';
    for (int i = 0; i < n && o + 2 < len; i++) {
        buf[o++] = raw[i];
        if ((n - i - 1) % 3 == 0 && i < n - 1) buf[o++] = ',';
    }
    buf[o] = '\0';
    return buf;
}

/* "2025-11-25 06:00" from epoch minutes (UTC). */
static const char *minute_label(int64_t minute, char *buf, size_t len) {
    char iso[32];
    util_rfc3339(minute * 60000, iso, sizeof iso);
    snprintf(buf, len, "%.10s %.5s", iso, iso + 11);
    return buf;
}

static double share_of(int64_t part, int64_t whole) { return whole > 0 ? (double)part / (double)whole : NAN; }

static void print_text(const ReportArgs *a, const char *url, int64_t now_ms, const AlertCounts *total,
                       const ReportBucket *b, int nb, int64_t bucket_min, const FeedbackCounts *fb,
                       const ReportAlerts *ra) {
    char t1[32], t2[32], n1[32], n2[32];
    int64_t from_min = (now_ms - a->since_ms) / 60000, now_min = now_ms / 60000;
    printf("buzzradar report: %s to %s UTC (redis %s, prefix %s)\n\n", minute_label(from_min, t1, sizeof t1),
           minute_label(now_min, t2, sizeof t2), url, a->prefix);
    if (total->n == 0 && total->errors == 0) printf("no tweets scored in this period.\n");
    printf("tweets scored      %-12s negative %.1f%%, mean P(positive) %.3f\n",
           thousands(total->n, n1, sizeof n1), 100 * share_of(total->neg, total->n),
           share_of(total->p_micro, total->n) / 1e6);
    printf("dead letters       %-12s error rate %.2f%% of %s messages\n",
           thousands(total->errors, n1, sizeof n1), 100 * share_of(total->errors, total->n + total->errors),
           thousands(total->n + total->errors, n2, sizeof n2));
    if (total->lat_n > 0)
        printf("latency            p50 %.0f ms, p95 %.0f ms, p99 %.0f ms (end to end, %s tweets)\n",
               alert_latency_quantile(total->lat_bin, 0.50), alert_latency_quantile(total->lat_bin, 0.95),
               alert_latency_quantile(total->lat_bin, 0.99), thousands(total->lat_n, n1, sizeof n1));
    else
        printf("latency            p95 unknown (no latencies recorded)\n");
    printf("model              mean confidence %.3f, %.1f tokens per tweet, %.1f%% unknown tokens\n",
           share_of(total->c_micro, total->n) / 1e6, share_of(total->tokens, total->n),
           100 * share_of(total->oov, total->tokens));

    /* negative share per bucket: a bar each, and a sparkline of the whole */
    printf("\nnegative share per %lld min\n", (long long)bucket_min);
    static const char *const spark[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                        "\u2585", "\u2586", "\u2587", "\u2588"};
    char line[4096] = "";
    size_t pos = 0;
    for (int i = 0; i < nb; i++) {
        const AlertCounts *c = &b[i].c;
        char lbl[32];
        minute_label(b[i].start_min, lbl, sizeof lbl);
        if (c->n == 0) {
            printf("  %s  %-20s      -  %9s\n", lbl, "", "0");
            pos += (size_t)snprintf(line + pos, sizeof line - pos, " ");
            continue;
        }
        double s = share_of(c->neg, c->n);
        int full = (int)lround(s * 20);
        char bar[128] = "";
        for (int k = 0; k < 20; k++) strcat(bar, k < full ? "\u2588" : "\u2591");
        printf("  %s  %s  %5.1f%%  %9s\n", lbl, bar, 100 * s, thousands(c->n, n1, sizeof n1));
        int level = (int)(s * 8);
        if (level > 7) level = 7;
        if (pos + 4 < sizeof line) pos += (size_t)snprintf(line + pos, sizeof line - pos, "%s", spark[level]);
    }
    printf("  trend  %s\n", line);

    printf("\nfeedback           ");
    if (fb->total == 0)
        printf("none\n");
    else {
        int64_t judged = fb->confirmed + fb->misclassified;
        printf("%lld corrections: %lld misclassified, %lld confirmed, %lld unknown to the store",
               (long long)fb->total, (long long)fb->misclassified, (long long)fb->confirmed,
               (long long)fb->unknown);
        if (judged > 0)
            printf(" -> accuracy %.1f%% (%lld of %lld)\n", 100.0 * (double)fb->confirmed / (double)judged,
                   (long long)fb->confirmed, (long long)judged);
        else
            printf("\n");
    }

    int na = cJSON_GetArraySize(ra->list);
    printf("\nalerts             %d raised\n", na);
    for (int i = 0; i < na; i++) {
        const cJSON *o = cJSON_GetArrayItem(ra->list, i);
        printf("  %.19s  %-8s  %-23s  %s\n", jstr(o, "at"), jstr(o, "severity"), jstr(o, "type"),
               jstr(o, "message"));
    }
}

static void print_json(const ReportArgs *a, int64_t now_ms, const AlertCounts *total, const ReportBucket *b,
                       int nb, int64_t bucket_min, const FeedbackCounts *fb, ReportAlerts *ra) {
    char iso[32];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "since_s", (double)(a->since_ms / 1000));
    cJSON_AddStringToObject(o, "from", util_rfc3339(now_ms - a->since_ms, iso, sizeof iso));
    cJSON_AddStringToObject(o, "to", util_rfc3339(now_ms, iso, sizeof iso));
    cJSON_AddNumberToObject(o, "tweets_scored", (double)total->n);
    cJSON_AddNumberToObject(o, "negative", (double)total->neg);
    cJSON_AddNumberToObject(o, "negative_share", total->n ? share_of(total->neg, total->n) : 0);
    cJSON_AddNumberToObject(o, "dead_letters", (double)total->errors);
    cJSON_AddNumberToObject(o, "error_rate",
                            total->n + total->errors ? share_of(total->errors, total->n + total->errors) : 0);
    cJSON *lat = cJSON_AddObjectToObject(o, "latency_ms");
    if (total->lat_n > 0) {
        cJSON_AddNumberToObject(lat, "p50", alert_latency_quantile(total->lat_bin, 0.50));
        cJSON_AddNumberToObject(lat, "p95", alert_latency_quantile(total->lat_bin, 0.95));
        cJSON_AddNumberToObject(lat, "p99", alert_latency_quantile(total->lat_bin, 0.99));
    }
    cJSON_AddNumberToObject(o, "bucket_s", (double)(bucket_min * 60));
    cJSON *rows = cJSON_AddArrayToObject(o, "buckets");
    for (int i = 0; i < nb; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "start", util_rfc3339(b[i].start_min * 60000, iso, sizeof iso));
        cJSON_AddNumberToObject(r, "tweets", (double)b[i].c.n);
        cJSON_AddNumberToObject(r, "negative", (double)b[i].c.neg);
        cJSON_AddItemToArray(rows, r);
    }
    cJSON *f = cJSON_AddObjectToObject(o, "feedback");
    cJSON_AddNumberToObject(f, "total", (double)fb->total);
    cJSON_AddNumberToObject(f, "confirmed", (double)fb->confirmed);
    cJSON_AddNumberToObject(f, "misclassified", (double)fb->misclassified);
    cJSON_AddNumberToObject(f, "unknown", (double)fb->unknown);
    int64_t judged = fb->confirmed + fb->misclassified;
    if (judged)
        cJSON_AddNumberToObject(f, "accuracy", (double)fb->confirmed / (double)judged);
    else
        cJSON_AddNullToObject(f, "accuracy");
    cJSON_AddItemToObject(o, "alerts", ra->list);
    ra->list = NULL; /* now owned by o */
    char *s = cJSON_PrintUnformatted(o);
    if (s) printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
}

int cli_report(int argc, char **argv) {
    ReportArgs a;
    int rc = report_parse(argc, argv, &a);
    if (rc) return rc == 1 ? 0 : 2;
    log_setup(LOG_FORMAT_TEXT, LOG_ERROR); /* Redis trouble is reported below, once */

    MonitorConfig cfg;
    monitor_config_default(&cfg);
    cfg.url = a.redis;
    cfg.key_prefix = a.prefix;
    cfg.raise_unavailable = 0;
    cfg.conn.connect_timeout_ms = 1000; /* a person waits; a slow link gets a chance */
    cfg.conn.command_timeout_ms = 2000;
    char err[256];
    Monitor *m = monitor_new(&cfg, err, sizeof err);
    if (!m) {
        fprintf(stderr, "buzzradar report: %s\n", err);
        return 2;
    }
    if (a.since_ms > cfg.minute_ttl_ms)
        fprintf(stderr, "buzzradar report: note: per-minute buckets are kept %lld h; older ones are gone\n",
                (long long)(cfg.minute_ttl_ms / 3600000));

    int64_t now_ms = util_wall_ms(), now_min = now_ms / 60000;
    int64_t from_min = (now_ms - a.since_ms) / 60000;
    int n = (int)(now_min - from_min + 1);
    AlertCounts *minutes = callocCheck((size_t)n, sizeof *minutes);
    FeedbackCounts *fbm = callocCheck((size_t)n, sizeof *fbm);
    ReportAlerts ra = {cJSON_CreateArray()};
    int status = 0;
    if (monitor_read_minutes(m, now_ms, from_min, n, minutes) != MONITOR_OK ||
        feedback_read_counts(m, now_ms, from_min, n, fbm) != MONITOR_OK ||
        monitor_read_alert_log(m, now_ms, now_ms - a.since_ms, now_ms, collect_alert, &ra) ==
            MONITOR_UNAVAILABLE) {
        fprintf(stderr,
                "buzzradar report: cannot reach Redis at %s (connection refused, timed out or lost)\n",
                redis_conn_url(monitor_conn(m)));
        status = 1;
    } else {
        AlertCounts total = {0};
        FeedbackCounts fb = {0};
        int64_t bucket_min = report_bucket_minutes(n);
        int nb = (int)((now_min / bucket_min) - (from_min / bucket_min) + 1);
        ReportBucket *b = callocCheck((size_t)nb, sizeof *b);
        for (int i = 0; i < nb; i++) b[i].start_min = (from_min / bucket_min + i) * bucket_min;
        for (int i = 0; i < n; i++) {
            alert_counts_add(&total, &minutes[i]);
            alert_counts_add(&b[(from_min + i) / bucket_min - from_min / bucket_min].c, &minutes[i]);
            fb.total += fbm[i].total;
            fb.confirmed += fbm[i].confirmed;
            fb.misclassified += fbm[i].misclassified;
            fb.unknown += fbm[i].unknown;
        }
        if (a.json)
            print_json(&a, now_ms, &total, b, nb, bucket_min, &fb, &ra);
        else
            print_text(&a, redis_conn_url(monitor_conn(m)), now_ms, &total, b, nb, bucket_min, &fb, &ra);
        free(b);
        if (fflush(stdout) != 0) status = 1;
    }
    cJSON_Delete(ra.list);
    free(minutes);
    free(fbm);
    monitor_free(m);
    return status;
}
