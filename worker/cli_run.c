/* cli_run.c — `buzzradar run`: the stream worker. Parses the configuration, loads
 * the model, starts the embedded cluster when asked, wires the Redis stages and the
 * services (metrics, HTTP, monitor, feedback: services.h) into the pipeline and runs
 * it until SIGTERM or SIGINT.
 *
 * The signal handlers only set a flag (a lock-free atomic, async-signal-safe): the
 * pipeline sees it in its poll loop, drains, commits and leaves the group, and the
 * process exits 0. A second signal while draining changes nothing; the drain is
 * bounded by --drain-timeout-ms. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "model/classifier.h"
#include "worker/cli.h"
#include "worker/config.h"
#include "worker/cpus.h"
#include "worker/embedded.h"
#include "worker/log.h"
#include "worker/model_path.h"
#include "worker/pipeline.h"
#include "worker/pipeline_store.h"
#include "worker/services.h"

extern char **environ;

/* The one process-wide flag a signal handler may touch. */
static atomic_int stop_requested;

static void on_stop_signal(int sig) {
    (void)sig;
    atomic_store(&stop_requested, 1);
}

static void install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* Resolves and loads the model: --model / $BUZZRADAR_MODEL, else the shipped BiLSTM
 * (found from the current directory or from the binary's, see model_path.h). */
static Classifier *load_model(const WorkerConfig *cfg) {
    char path[4096], err[512];
    if (model_path_resolve(cfg->model, "bilstm", path, sizeof path)) {
        const char *kv[] = {"path", path, NULL};
        log_event(LOG_ERROR, "model_missing", kv, "no model file at %s: give --model FILE or BUZZRADAR_MODEL",
                  path);
        return NULL;
    }
    Classifier *model = classifier_load(path, err, sizeof err);
    if (!model) {
        const char *kv[] = {"path", path, NULL};
        log_event(LOG_ERROR, "model_invalid", kv, "%s", err);
        return NULL;
    }
    const char *kv[] = {
        "path", path, "model", classifier_kind(model), "model_version", classifier_version(model), NULL};
    log_event(LOG_INFO, "model_loaded", kv, "model %s (%s) loaded from %s", classifier_kind(model),
              classifier_version(model), path);
    return model;
}

/* Announces the embedded cluster's address: stdout (one line, for people and
 * scripts), the log, and --bootstrap-file. Returns 0, or -1 when the file cannot be
 * written. */
static int announce_bootstrap(const WorkerConfig *cfg, const char *bootstrap) {
    printf("bootstrap: %s\n", bootstrap);
    fflush(stdout);
    const char *kv[] = {"bootstrap", bootstrap, NULL};
    log_event(LOG_INFO, "embedded_cluster", kv, "embedded Kafka cluster listening at %s", bootstrap);
    if (!cfg->bootstrap_file) return 0;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", cfg->bootstrap_file);
    FILE *f = fopen(tmp, "w");
    int ok = f && fprintf(f, "%s\n", bootstrap) > 0;
    if (f && fclose(f)) ok = 0;
    if (!ok || rename(tmp, cfg->bootstrap_file)) { /* atomic: readers never see half a line */
        const char *kv2[] = {"path", cfg->bootstrap_file, NULL};
        log_event(LOG_ERROR, "bootstrap_file_failed", kv2, "cannot write %s", cfg->bootstrap_file);
        return -1;
    }
    return 0;
}

/* With --inference-cpus, restricts this thread, and so every thread started after it
 * (librdkafka's, the delivery, services and HTTP threads, the embedded cluster's),
 * to the other CPUs; the inference threads pin themselves (pipeline.c). Logs what it
 * did; a refusal is a warning, not an error. */
static void keep_off_inference_cpus(const WorkerConfig *cfg) {
    if (!cfg->inference_cpus || !*cfg->inference_cpus) return;
    CpuList cpus;
    char err[256], list[128];
    if (cpus_parse(cfg->inference_cpus, &cpus, err, sizeof err)) return; /* checked by config_parse */
    cpus_format(&cpus, list, sizeof list);
    const char *kv[] = {"inference_cpus", list, NULL};
    int rc = cpus_avoid(&cpus, err, sizeof err);
    if (rc < 0)
        log_event(LOG_WARN, "cpus_not_set", kv, "%s", err);
    else if (rc == 1)
        log_event(LOG_INFO, "cpus_set", kv,
                  "inference threads pinned to CPUs %s, which are all this process may use", list);
    else
        log_event(LOG_INFO, "cpus_set", kv,
                  "inference threads pinned to CPUs %s; the other threads kept off them", list);
}

int cli_run(int argc, char **argv) {
    WorkerConfig cfg;
    char err[512];
    int rc = config_parse(&cfg, argc, argv, environ, err, sizeof err);
    if (rc != 0) {
        if (rc == 1)
            config_usage(stdout);
        else
            fprintf(stderr, "buzzradar run: %s (see buzzradar run --help)\n", err);
        config_free(&cfg);
        return rc == 1 ? 0 : 2;
    }
    log_setup(cfg.log_format, cfg.log_level);
    install_signal_handlers();
    keep_off_inference_cpus(&cfg);

    int status = 1;
    Embedded *embedded = NULL;
    PipelineStore *store = NULL;
    Pipeline *pipeline = NULL;
    Services *services = NULL;
    Classifier *model = load_model(&cfg);
    if (!model) goto done;

    const char *bootstrap = NULL;
    if (cfg.embedded) {
        embedded = embedded_start(&cfg, err, sizeof err);
        if (!embedded) {
            log_event(LOG_ERROR, "embedded_failed", NULL, "%s", err);
            goto done;
        }
        bootstrap = embedded_bootstrap(embedded);
        if (announce_bootstrap(&cfg, bootstrap)) goto done;
    }

    if (strcmp(cfg.redis, "none")) {
        store = pipeline_store_new(cfg.redis, classifier_version(model), cfg.batch_max, err, sizeof err);
        if (!store) {
            log_event(LOG_ERROR, "redis_url_invalid", NULL, "%s", err);
            status = 2;
            goto done;
        }
    }
    services = services_new(&cfg, model, err, sizeof err);
    if (!services) {
        log_event(LOG_ERROR, "services_failed", NULL, "%s", err);
        status = 2;
        goto done;
    }
    PipelineHooks hooks[PIPELINE_MAX_HOOKS];
    int nhooks = 0;
    hooks[nhooks++] = services_hooks(services); /* first: its timer covers the cache lookup */
    if (store) hooks[nhooks++] = pipeline_store_hooks(store);

    pipeline = pipeline_new(&cfg, model, bootstrap, hooks, nhooks, err, sizeof err);
    if (!pipeline) {
        log_event(LOG_ERROR, "pipeline_failed", NULL, "%s", err);
        goto done;
    }
    if (services_start(services, pipeline, store, bootstrap, err, sizeof err)) {
        log_event(LOG_ERROR, "services_failed", NULL, "%s", err);
        goto done;
    }
    status = pipeline_run(pipeline, &stop_requested);

done:
    services_stop(services); /* before the producer it publishes alerts with */
    pipeline_free(pipeline); /* every Kafka client before the embedded cluster */
    pipeline_store_free(store);
    services_free(services);
    embedded_stop(embedded);
    classifier_free(model);
    config_free(&cfg);
    return status;
}
