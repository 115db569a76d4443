/* cli_evaluate.c — `buzzradar evaluate`: scores every row of a data file through the
 * serving path (model/classifier.h, exactly what the worker runs) and prints the
 * metrics as ONE JSON line on stdout; progress and logs go to stderr. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/classifier.h"
#include "model/dataset.h"
#include "model/metrics.h"
#include "model/util.h"
#include "worker/cli.h"
#include "worker/model_path.h"

#define EVAL_BATCH 256

static void evaluate_usage(FILE *out) {
    fprintf(out,
            "usage: buzzradar evaluate [--model FILE] --data PATH [--limit N] [--data-format F]\n"
            "                          [--threads N] [--seed N] [--quiet]\n"
            "Scores every row of a labelled data file and prints one JSON line:\n"
            "{\"n\",\"accuracy\",\"precision\",\"recall\",\"f1_positive\",\"f1_macro\",\"auc\",\"logloss\",\n"
            " \"confusion\",\"model\",\"seconds\"}.\n"
            "  --model FILE   model file (default: $BUZZRADAR_MODEL, else the shipped BiLSTM)\n"
            "  --limit N      a balanced random sample of N rows (seeded by --seed, 42)\n"
            "  --threads N    scoring threads (default: all cores)\n");
}

typedef struct {
    const Classifier *model;
    const Dataset *d;
    int from, to; /* rows [from, to) */
    float *p;     /* (d->n) */
} EvalSlice;

static void *evaluate_slice(void *arg) {
    EvalSlice *s = arg;
    ClassifierBatch *b = classifier_batch_new(s->model, EVAL_BATCH);
    for (int i = s->from; i < s->to; i += EVAL_BATCH) {
        int n = s->to - i < EVAL_BATCH ? s->to - i : EVAL_BATCH;
        classifier_batch_reset(b);
        for (int k = 0; k < n; k++)
            classifier_batch_add(b, dataset_text(s->d, i + k), dataset_len(s->d, i + k));
        classifier_batch_score(b);
        for (int k = 0; k < n; k++) s->p[i + k] = classifier_batch_p(b, k);
    }
    classifier_batch_free(b);
    return NULL;
}

int cli_evaluate(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},
        {"data", required_argument, 0, 'd'},
        {"limit", required_argument, 0, 'l'},
        {"data-format", required_argument, 0, 'f'},
        {"threads", required_argument, 0, 't'},
        {"seed", required_argument, 0, 's'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0},
    };
    const char *model_arg = NULL, *data = NULL;
    DatasetOptions dopt = dataset_options_default();
    int threads = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model_arg = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        case 'l':
            dopt.limit = atol(optarg);
            break;
        case 'f':
            if (dataset_format_parse(optarg, &dopt.format)) {
                fprintf(stderr, "buzzradar evaluate: unknown --data-format '%s'\n", optarg);
                return 2;
            }
            break;
        case 't':
            threads = atoi(optarg);
            break;
        case 's':
            dopt.seed = strtoull(optarg, NULL, 10);
            break;
        case 'q':
            dopt.quiet = 1;
            break;
        case 'h':
            evaluate_usage(stdout);
            return 0;
        default:
            evaluate_usage(stderr);
            return 2;
        }
    }
    if (!data || optind < argc) {
        fprintf(stderr, "buzzradar evaluate: %s\n", data ? "unexpected argument" : "--data PATH is required");
        evaluate_usage(stderr);
        return 2;
    }
    char path[4096], err[1024];
    if (model_path_resolve(model_arg, "bilstm", path, sizeof path)) {
        fprintf(stderr, "buzzradar evaluate: no model file at %s: give --model FILE\n", path);
        return 1;
    }
    double t0 = util_now_s();
    Classifier *model = classifier_load(path, err, sizeof err);
    if (!model) {
        fprintf(stderr, "buzzradar evaluate: %s\n", err);
        return 1;
    }
    Dataset d;
    if (dataset_load(data, &dopt, &d, err, sizeof err)) {
        fprintf(stderr, "buzzradar evaluate: %s\n", err);
        classifier_free(model);
        return 1;
    }
    if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    float *p = mallocCheck((size_t)d.n * sizeof(float));
    EvalSlice slices[64];
    pthread_t tids[64];
    for (int t = 0; t < threads; t++) {
        slices[t] = (EvalSlice){model, &d, (int)((int64_t)d.n * t / threads),
                                (int)((int64_t)d.n * (t + 1) / threads), p};
        if (pthread_create(&tids[t], NULL, evaluate_slice, &slices[t])) util_die("cannot start a thread");
    }
    for (int t = 0; t < threads; t++) pthread_join(tids[t], NULL);
    Metrics m;
    metrics_compute(d.label, p, (size_t)d.n, &m);
    char fields[1024];
    metrics_to_json_fields(&m, fields, sizeof fields);
    printf("{%s,\"model\":\"%s\",\"model_version\":\"%s\",\"seconds\":%.2f}\n", fields,
           classifier_kind(model), classifier_version(model), util_now_s() - t0);
    free(p);
    dataset_free(&d);
    classifier_free(model);
    return 0;
}
