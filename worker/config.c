/* config.c — flags, environment and defaults of `buzzradar run` (see config.h).
 *
 * One table describes every setting (flag, variable, kind, range, help); parsing
 * the environment and the command line, and the usage text, all walk it. */
#include "worker/config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/util.h"
#include "worker/cpus.h"
#include "worker/monitor.h"

typedef enum { OPT_STR, OPT_INT, OPT_FLAG, OPT_LOG_FORMAT, OPT_LOG_LEVEL } OptKind;

typedef struct {
    const char *flag; /* long flag without "--" */
    const char *env;
    OptKind kind;
    size_t field; /* offsetof in WorkerConfig */
    int min, max; /* OPT_INT range */
    const char *arg, *help;
} Option;

#define F(name) offsetof(WorkerConfig, name)
static const Option options[] = {
    {"brokers", "BUZZRADAR_BROKERS", OPT_STR, F(brokers), 0, 0, "LIST",
     "Kafka bootstrap servers, host:port,..."},
    {"embedded", "BUZZRADAR_EMBEDDED", OPT_FLAG, F(embedded), 0, 0, NULL,
     "run an in-process Kafka-protocol cluster (no --brokers)"},
    {"embedded-partitions", "BUZZRADAR_EMBEDDED_PARTITIONS", OPT_INT, F(embedded_partitions), 1, 1000, "N",
     "partitions per topic of the embedded cluster"},
    {"bootstrap-file", "BUZZRADAR_BOOTSTRAP_FILE", OPT_STR, F(bootstrap_file), 0, 0, "FILE",
     "with --embedded, also write the bootstrap address to FILE"},
    {"group", "BUZZRADAR_GROUP", OPT_STR, F(group), 0, 0, "ID", "consumer group"},
    {"topic-in", "BUZZRADAR_TOPIC_IN", OPT_STR, F(topic_in), 0, 0, "NAME", "raw tweets in"},
    {"topic-out", "BUZZRADAR_TOPIC_OUT", OPT_STR, F(topic_out), 0, 0, "NAME", "scored events out"},
    {"topic-feedback", "BUZZRADAR_TOPIC_FEEDBACK", OPT_STR, F(topic_feedback), 0, 0, "NAME", "feedback in"},
    {"topic-alerts", "BUZZRADAR_TOPIC_ALERTS", OPT_STR, F(topic_alerts), 0, 0, "NAME", "alerts out"},
    {"topic-dlq", "BUZZRADAR_TOPIC_DLQ", OPT_STR, F(topic_dlq), 0, 0, "NAME", "dead letters out"},
    {"model", "BUZZRADAR_MODEL", OPT_STR, F(model), 0, 0, "FILE",
     "model file (default model/pretrained/bilstm.model)"},
    {"threads", "BUZZRADAR_THREADS", OPT_INT, F(threads), 1, 256, "N", "inference threads"},
    {"inference-cpus", "BUZZRADAR_INFERENCE_CPUS", OPT_STR, F(inference_cpus), 0, 0, "LIST",
     "pin inference thread i to the i-th CPU of LIST (e.g. 1 or 2-7; round robin) and keep the worker's "
     "other threads off those CPUs"},
    {"batch-max", "BUZZRADAR_BATCH_MAX", OPT_INT, F(batch_max), 1, 4096, "N", "tweets per model batch"},
    {"batch-wait-ms", "BUZZRADAR_BATCH_WAIT_MS", OPT_INT, F(batch_wait_ms), 0, 10000, "MS",
     "longest wait for a batch to fill"},
    {"max-inflight", "BUZZRADAR_MAX_INFLIGHT", OPT_INT, F(max_inflight), 1, 10000000, "N",
     "tweets consumed and not yet acknowledged before reading pauses"},
    {"max-message-bytes", "BUZZRADAR_MAX_MESSAGE_BYTES", OPT_INT, F(max_message_bytes), 64, 16 << 20, "N",
     "larger input messages are dead-lettered (too_large)"},
    {"redis", "BUZZRADAR_REDIS", OPT_STR, F(redis), 0, 0, "URL",
     "redis://host:port/db or unix:///path; none disables Redis"},
    {"http", "BUZZRADAR_HTTP", OPT_STR, F(http), 0, 0, "ADDR:PORT", "HTTP health, metrics and predict"},
    {"http-rate-limit", "BUZZRADAR_HTTP_RATE_LIMIT", OPT_INT, F(http_rate_limit), 0, 1000000, "N",
     "requests per minute per client IP on /predict and /feedback, shared by the replicas through Redis; "
     "0: no limit"},
    {"log-format", "BUZZRADAR_LOG_FORMAT", OPT_LOG_FORMAT, F(log_format), 0, 0, "json|text",
     "log lines on stderr"},
    {"log-level", "BUZZRADAR_LOG_LEVEL", OPT_LOG_LEVEL, F(log_level), 0, 0, "LEVEL",
     "debug, info, warn or error"},
    {"stats-interval", "BUZZRADAR_STATS_INTERVAL", OPT_INT, F(stats_interval_s), 0, 86400, "S",
     "seconds between stats log lines; 0: none"},
    {"drain-timeout-ms", "BUZZRADAR_DRAIN_TIMEOUT_MS", OPT_INT, F(drain_timeout_ms), 0, 3600000, "MS",
     "at shutdown, longest wait for in-flight tweets"},
    {"revoke-timeout-ms", "BUZZRADAR_REVOKE_TIMEOUT_MS", OPT_INT, F(revoke_timeout_ms), 0, 600000, "MS",
     "at a rebalance, longest wait before in-flight tweets are abandoned"},
};
#undef F
#define NOPTIONS ((int)(sizeof options / sizeof options[0]))

static int default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 8 ? 8 : (int)n;
}

static void set_defaults(WorkerConfig *c) {
    memset(c, 0, sizeof *c);
    c->embedded_partitions = 4;
    c->group = strdupCheck("buzzradar");
    c->topic_in = strdupCheck("tweets.raw");
    c->topic_out = strdupCheck("tweets.scored");
    c->topic_feedback = strdupCheck("tweets.feedback");
    c->topic_alerts = strdupCheck("buzz.alerts");
    c->topic_dlq = strdupCheck("tweets.dlq");
    c->threads = default_threads();
    c->batch_max = 64;
    c->batch_wait_ms = 5;
    c->max_inflight = 10000;
    c->max_message_bytes = 65536;
    c->redis = strdupCheck("redis://127.0.0.1:6379/0");
    c->http = strdupCheck("127.0.0.1:8080");
    c->http_rate_limit = 100;
    c->log_format = LOG_FORMAT_JSON;
    c->log_level = LOG_INFO;
    c->stats_interval_s = 10;
    c->drain_timeout_ms = 30000;
    c->revoke_timeout_ms = 10000;
}

static void errorf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errorf(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Stores `value` (from `source`, for messages) into the option's field. */
static int set_option(WorkerConfig *c, const Option *o, const char *value, const char *source, char *err,
                      size_t errlen) {
    char *field = (char *)c + o->field;
    switch (o->kind) {
    case OPT_STR: {
        char **s = (char **)field;
        free(*s);
        *s = strdupCheck(value);
        return 0;
    }
    case OPT_FLAG: {
        int *b = (int *)field;
        if (!value || !strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes"))
            *b = 1;
        else if (!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no"))
            *b = 0;
        else {
            errorf(err, errlen, "%s: '%s' is not a boolean (1/0, true/false, yes/no)", source, value);
            return -1;
        }
        return 0;
    }
    case OPT_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end || v < o->min || v > o->max) {
            errorf(err, errlen, "%s: '%s' is not an integer in [%d, %d]", source, value, o->min, o->max);
            return -1;
        }
        *(int *)field = (int)v;
        return 0;
    }
    case OPT_LOG_FORMAT:
        if (log_parse_format(value, (LogFormat *)field) == 0) return 0;
        errorf(err, errlen, "%s: unknown log format '%s' (json or text)", source, value);
        return -1;
    case OPT_LOG_LEVEL:
        if (log_parse_level(value, (LogLevel *)field) == 0) return 0;
        errorf(err, errlen, "%s: unknown log level '%s' (debug, info, warn, error)", source, value);
        return -1;
    }
    return -1;
}

/* The value of NAME in envp, or NULL (also for an empty value). */
static const char *env_lookup(char *const *envp, const char *name) {
    size_t n = strlen(name);
    for (; envp && *envp; envp++)
        if (!strncmp(*envp, name, n) && (*envp)[n] == '=') return (*envp)[n + 1] ? *envp + n + 1 : NULL;
    return NULL;
}

static int add_kafka_prop(WorkerConfig *c, const char *kv, char *err, size_t errlen) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        errorf(err, errlen, "-X '%s': expected key=value", kv);
        return -1;
    }
    KafkaScope scope = KAFKA_BOTH;
    size_t skip = 0;
    if (!strncmp(kv, "consumer.", 9)) {
        scope = KAFKA_CONSUMER;
        skip = 9;
    } else if (!strncmp(kv, "producer.", 9)) {
        scope = KAFKA_PRODUCER;
        skip = 9;
    }
    if (kv + skip == eq) {
        errorf(err, errlen, "-X '%s': empty property name", kv);
        return -1;
    }
    c->kafka = reallocCheck(c->kafka, (size_t)(c->nkafka + 1) * sizeof *c->kafka);
    KafkaProp *p = &c->kafka[c->nkafka++];
    p->key = strndup(kv + skip, (size_t)(eq - kv) - skip);
    if (!p->key) util_die("out of memory");
    p->value = strdupCheck(eq + 1);
    p->scope = scope;
    return 0;
}

/* Adds one "key=value" monitor setting (from `source`, for messages) after checking
 * that monitor_config_set takes it. */
static int add_monitor_prop(WorkerConfig *c, const char *kv, size_t len, const char *source, char *err,
                            size_t errlen) {
    const char *eq = memchr(kv, '=', len);
    if (!eq || eq == kv) {
        errorf(err, errlen, "%s '%.*s': expected key=value", source, (int)len, kv);
        return -1;
    }
    char *key = strndup(kv, (size_t)(eq - kv)), *value = strndup(eq + 1, len - (size_t)(eq - kv) - 1);
    if (!key || !value) util_die("out of memory");
    MonitorConfig scratch;
    monitor_config_default(&scratch);
    char why[200];
    if (monitor_config_set(&scratch, key, value, why, sizeof why)) {
        errorf(err, errlen, "%s: %s", source, why);
        free(key);
        free(value);
        return -1;
    }
    c->monitor = reallocCheck(c->monitor, (size_t)(c->nmonitor + 1) * sizeof *c->monitor);
    c->monitor[c->nmonitor++] = (MonitorProp){key, value};
    return 0;
}

int config_parse(WorkerConfig *c, int argc, char **argv, char *const *envp, char *err, size_t errlen) {
    set_defaults(c);
    int brokers_from_flag = 0;
    char source[96];
    for (int i = 0; i < NOPTIONS; i++) {
        const char *v = env_lookup(envp, options[i].env);
        snprintf(source, sizeof source, "%s", options[i].env);
        if (v && set_option(c, &options[i], v, source, err, errlen)) return -1;
    }
    const char *mon = env_lookup(envp, "BUZZRADAR_MONITOR");
    while (mon && *mon) { /* "key=value,key=value" */
        size_t len = strcspn(mon, ",");
        if (len && add_monitor_prop(c, mon, len, "BUZZRADAR_MONITOR", err, errlen)) return -1;
        mon += len + (mon[len] == ',');
    }

    struct option longopts[NOPTIONS + 3];
    for (int i = 0; i < NOPTIONS; i++)
        longopts[i] = (struct option){
            options[i].flag, options[i].kind == OPT_FLAG ? no_argument : required_argument, NULL, 256 + i};
    longopts[NOPTIONS] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[NOPTIONS + 1] = (struct option){"monitor", required_argument, NULL, 'M'};
    longopts[NOPTIONS + 2] = (struct option){NULL, 0, NULL, 0};
    optind = 0; /* glibc: full re-initialisation, so that config_parse can run again */
    opterr = 0;
    for (;;) {
        int longindex = -1;
        int ch = getopt_long(argc, argv, "+hX:", longopts, &longindex);
        if (ch == -1) break;
        if (ch == 'h') return 1;
        if (ch == 'X') {
            if (add_kafka_prop(c, optarg, err, errlen)) return -1;
        } else if (ch == 'M') {
            if (add_monitor_prop(c, optarg, strlen(optarg), "--monitor", err, errlen)) return -1;
        } else if (ch >= 256) {
            const Option *o = &options[ch - 256];
            snprintf(source, sizeof source, "--%s", o->flag);
            if (set_option(c, o, optarg, source, err, errlen)) return -1;
            if (o->field == offsetof(WorkerConfig, brokers)) brokers_from_flag = 1;
        } else if (optopt == 'X') {
            errorf(err, errlen, "-X needs key=value");
            return -1;
        } else if (optopt == 'M') {
            errorf(err, errlen, "--monitor needs key=value");
            return -1;
        } else if (optopt >= 256) {
            const Option *o = &options[optopt - 256];
            errorf(err, errlen, o->kind == OPT_FLAG ? "--%s takes no value" : "--%s needs a value", o->flag);
            return -1;
        } else {
            errorf(err, errlen, "unknown option '%s'", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        errorf(err, errlen, "unexpected argument '%s'", argv[optind]);
        return -1;
    }

    if (c->embedded && c->brokers) {
        if (brokers_from_flag) {
            errorf(err, errlen, "--embedded runs its own cluster: do not give --brokers too");
            return -1;
        }
        free(c->brokers); /* the flag beats BUZZRADAR_BROKERS */
        c->brokers = NULL;
    }
    if (!c->embedded && !c->brokers) {
        errorf(err, errlen, "no Kafka brokers: give --brokers LIST (or BUZZRADAR_BROKERS), or --embedded");
        return -1;
    }
    if (c->inference_cpus && *c->inference_cpus) {
        CpuList cpus;
        char why[256];
        if (cpus_parse(c->inference_cpus, &cpus, why, sizeof why)) {
            errorf(err, errlen, "--inference-cpus: %s", why);
            return -1;
        }
    }
    if (c->max_inflight < c->batch_max) {
        errorf(err, errlen, "--max-inflight (%d) must be at least --batch-max (%d)", c->max_inflight,
               c->batch_max);
        return -1;
    }
    const char *topics[] = {c->topic_in, c->topic_out, c->topic_feedback, c->topic_alerts, c->topic_dlq};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
        if (!*topics[i]) {
            errorf(err, errlen, "topic names cannot be empty");
            return -1;
        }
    return 0;
}

void config_free(WorkerConfig *c) {
    for (int i = 0; i < NOPTIONS; i++)
        if (options[i].kind == OPT_STR) free(*(char **)((char *)c + options[i].field));
    for (int i = 0; i < c->nkafka; i++) {
        free(c->kafka[i].key);
        free(c->kafka[i].value);
    }
    free(c->kafka);
    for (int i = 0; i < c->nmonitor; i++) {
        free(c->monitor[i].key);
        free(c->monitor[i].value);
    }
    free(c->monitor);
    memset(c, 0, sizeof *c);
}

void config_usage(FILE *out) {
    WorkerConfig d;
    set_defaults(&d);
    fprintf(out, "usage: buzzradar run [--brokers LIST | --embedded] [flags] [-X key=value ...]\n\n"
                 "The stream worker: raw tweets in, scored events, dead letters and alerts out.\n"
                 "Each flag has an environment variable; flags win over variables, variables over\n"
                 "defaults.\n\n");
    for (int i = 0; i < NOPTIONS; i++) {
        const Option *o = &options[i];
        char left[64], def[64] = "";
        snprintf(left, sizeof left, "--%s%s%s", o->flag, o->arg ? " " : "", o->arg ? o->arg : "");
        const char *field = (const char *)&d + o->field;
        if (o->kind == OPT_STR && *(char *const *)field)
            snprintf(def, sizeof def, " (default %s)", *(char *const *)field);
        else if (o->kind == OPT_INT)
            snprintf(def, sizeof def, " (default %d)", *(const int *)field);
        else if (o->kind == OPT_LOG_FORMAT)
            snprintf(def, sizeof def, " (default json)");
        else if (o->kind == OPT_LOG_LEVEL)
            snprintf(def, sizeof def, " (default info)");
        fprintf(out, "  %-32s %s%s\n  %-32s [%s]\n", left, o->help, def, "", o->env);
    }
    fprintf(out, "  %-32s %s\n", "-X key=value",
            "any librdkafka property, for both clients; prefix consumer. or producer. for one");
    fprintf(out, "  %-32s %s\n  %-32s [%s]\n", "--monitor key=value",
            "a monitor threshold or setting (docs/alerts.md), e.g. surge_min_count=30; repeatable", "",
            "BUZZRADAR_MONITOR: key=value,key=value");
    fprintf(out, "  %-32s %s\n", "-h, --help", "this text");
    config_free(&d);
}

/* librdkafka properties: defaults (a -X property may change them) and requirements of
 * the delivery guarantees (a -X property may not), per client. */
typedef struct {
    KafkaScope scope;
    const char *key, *value;
} KafkaDefault;

static const KafkaDefault kafka_defaults[] = {
    {KAFKA_CONSUMER, "auto.offset.reset", "earliest"}, /* a new group reads what is already there */
    {KAFKA_CONSUMER, "enable.partition.eof", "false"},
    {KAFKA_CONSUMER, "enable.auto.commit", "true"}, /* commits what the pipeline stored */
    /* after a crash, what was scored since the last commit is scored again: 1 s of
     * work rather than librdkafka's 5 s */
    {KAFKA_CONSUMER, "auto.commit.interval.ms", "1000"},
    {KAFKA_CONSUMER, "fetch.wait.max.ms", "10"}, /* a quiet stream is not held back 500 ms */
    {KAFKA_PRODUCER, "message.timeout.ms", "0"}, /* retry until delivered: no loss */
    {KAFKA_PRODUCER, "linger.ms", "1"},
};

static const KafkaDefault kafka_required[] = {
    {KAFKA_CONSUMER, "enable.auto.offset.store", "false"}, /* only acknowledged work is stored */
    {KAFKA_PRODUCER, "enable.idempotence", "true"},
    {KAFKA_PRODUCER, "acks", "all"},
};

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, const char *what, char *err,
                    size_t errlen) {
    char rkerr[256];
    if (rd_kafka_conf_set(conf, key, value, rkerr, sizeof rkerr) == RD_KAFKA_CONF_OK) return 0;
    errorf(err, errlen, "%s%s=%s: %s", what, key, value, rkerr);
    return -1;
}

/* librdkafka's own log lines, as structured log events (syslog levels). */
static void kafka_log(const rd_kafka_t *rk, int level, const char *facility, const char *message) {
    LogLevel l = level <= 3 ? LOG_ERROR : level == 4 ? LOG_WARN : level <= 6 ? LOG_INFO : LOG_DEBUG;
    const char *kv[] = {"client", rd_kafka_name(rk), "facility", facility, NULL};
    log_event(l, "kafka_log", kv, "%s", message);
}

rd_kafka_conf_t *config_kafka_conf(const WorkerConfig *c, KafkaScope scope, const char *bootstrap, char *err,
                                   size_t errlen) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, kafka_log);
    const char *servers = c->brokers ? c->brokers : bootstrap;
    if ((servers && conf_set(conf, "bootstrap.servers", servers, "", err, errlen)) ||
        conf_set(conf, "client.id", "buzzradar", "", err, errlen))
        goto fail;
    for (size_t i = 0; i < sizeof kafka_defaults / sizeof kafka_defaults[0]; i++)
        if (kafka_defaults[i].scope == scope &&
            conf_set(conf, kafka_defaults[i].key, kafka_defaults[i].value, "", err, errlen))
            goto fail;
    /* The embedded cluster (librdkafka's mock) holds an empty fetch for the whole
     * fetch.wait.max.ms even when a message arrives meanwhile; in the process, a short
     * wait costs nothing but a few hundred fetches per second of a quiet stream. */
    if (c->embedded && scope == KAFKA_CONSUMER && conf_set(conf, "fetch.wait.max.ms", "2", "", err, errlen))
        goto fail;
    for (int i = 0; i < c->nkafka; i++) {
        const KafkaProp *p = &c->kafka[i];
        if (p->scope != KAFKA_BOTH && p->scope != scope) continue;
        int required = scope == KAFKA_CONSUMER && !strcmp(p->key, "group.id");
        for (size_t k = 0; k < sizeof kafka_required / sizeof kafka_required[0]; k++)
            required |= kafka_required[k].scope == scope && !strcmp(kafka_required[k].key, p->key);
        if (required) {
            const char *kv[] = {"property", p->key, "given", p->value, NULL};
            log_event(LOG_WARN, "config_ignored", kv, "-X %s=%s ignored: the delivery guarantees set it",
                      p->key, p->value);
            continue;
        }
        if (conf_set(conf, p->key, p->value, "-X ", err, errlen)) goto fail;
    }
    for (size_t i = 0; i < sizeof kafka_required / sizeof kafka_required[0]; i++)
        if (kafka_required[i].scope == scope &&
            conf_set(conf, kafka_required[i].key, kafka_required[i].value, "", err, errlen))
            goto fail;
    if (scope == KAFKA_CONSUMER && conf_set(conf, "group.id", c->group, "", err, errlen)) goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}
