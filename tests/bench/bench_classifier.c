/* bench_classifier.c — serving speed of the shipped models through model/classifier.h,
 * exactly the path `predict` and the stream worker run: text pipeline, vocabulary,
 * batched forward. One thread (one core), printed as Markdown:
 *
 *   bench_classifier [MODEL...]   (default: model/pretrained/bilstm.model and
 *                                  model/pretrained/tfidf-lr.model)
 *
 * Tweets: the first 20,000 of $BUZZRADAR_SHARED_DATA/sentiment140-train.csv.gz (a
 * skipped line without it). Measures batched throughput (batches of 256) after a
 * warm-up pass, single-tweet latency (p50/p99 over 5,000 tweets scored alone), and
 * the effective GFLOP/s of the BiLSTM next to the sgemm GFLOP/s of this machine
 * measured in the same run. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/classifier.h"
#include "model/dataset.h"
#include "model/util.h"
#include "tests/harness/machine.h"

#define BATCH 256
#define ROWS  20000

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Forward FLOPs of the BiLSTM per token with precomputed input projections: the
 * recurrent product h·W_hh (2·H·4H multiply-adds) in each of the two directions. */
static double bilstm_flops_per_token(const char *header_json) {
    const char *h = strstr(header_json, "\"H\":");
    int H = h ? atoi(h + 4) : 0;
    return 2.0 * 2.0 * H * 4.0 * H;
}

static void bench_model(const char *path, const Dataset *d, double sgemm) {
    char err[512];
    Classifier *c = classifier_load(path, err, sizeof err);
    if (!c) {
        printf("- %s: skipped (%s)\n", path, err);
        return;
    }
    ClassifierBatch *b = classifier_batch_new(c, BATCH);
    int n = d->n;
    long tokens = 0;
    double best = 1e30;
    for (int pass = 0; pass < 3; pass++) { /* pass 0 warms caches; best of the others */
        double t0 = util_now_s();
        tokens = 0;
        for (int i = 0; i < n; i += BATCH) {
            int m = n - i < BATCH ? n - i : BATCH;
            classifier_batch_reset(b);
            for (int k = 0; k < m; k++) {
                int s = classifier_batch_add(b, dataset_text(d, i + k), dataset_len(d, i + k));
                tokens += classifier_batch_ntokens(b, s);
            }
            classifier_batch_score(b);
        }
        double t = util_now_s() - t0;
        if (pass > 0 && t < best) best = t;
    }
    int lat_n = n < 5000 ? n : 5000;
    double *lat = mallocCheck((size_t)lat_n * sizeof(double));
    for (int i = 0; i < lat_n; i++) {
        double t0 = util_now_s();
        classifier_batch_reset(b);
        classifier_batch_add(b, dataset_text(d, i), dataset_len(d, i));
        classifier_batch_score(b);
        lat[i] = (util_now_s() - t0) * 1e3;
    }
    qsort(lat, (size_t)lat_n, sizeof(double), cmp_double);
    double tps = n / best;
    printf("| %s | %s | %.0f | %.0f | %.3f | %.3f |", classifier_kind(c), classifier_version(c), tps,
           tokens / best, lat[lat_n / 2], lat[(int)(lat_n * 0.99)]);
    if (!strcmp(classifier_kind(c), "bilstm")) {
        double gflops = tokens / best * bilstm_flops_per_token(classifier_header_json(c)) / 1e9;
        printf(" %.1f (sgemm %.1f) |\n", gflops, sgemm);
    } else {
        printf(" - |\n");
    }
    free(lat);
    classifier_batch_free(b);
    classifier_free(c);
}

int main(int argc, char **argv) {
    const char *dir = getenv("BUZZRADAR_SHARED_DATA");
    if (!dir) {
        printf("- bench_classifier: skipped (BUZZRADAR_SHARED_DATA is not set)\n");
        return 0;
    }
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/sentiment140-train.csv.gz", dir);
    DatasetOptions opt = dataset_options_default();
    opt.quiet = 1;
    Dataset all;
    if (dataset_load(path, &opt, &all, err, sizeof err)) {
        printf("- bench_classifier: skipped (%s)\n", err);
        return 0;
    }
    Dataset d = all; /* the first ROWS rows: a prefix view of the same arrays */
    if (d.n > ROWS) d.n = ROWS;
    openblas_set_num_threads(1);
    double sgemm = machine_sgemm_gflops(256, 512, 128, 0.3);
    printf(
        "Serving on one thread through model/classifier.h (text pipeline included), %d tweets,\n"
        "batches of %d; latency = one tweet scored alone. sgemm 256x512x128 on one thread: %.1f GFLOP/s.\n\n",
        d.n, BATCH, sgemm);
    printf(
        "| model | version | tweets/s | tokens/s | p50 ms (alone) | p99 ms (alone) | effective GFLOP/s |\n");
    printf("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    static const char *const defaults[] = {"model/pretrained/bilstm.model",
                                           "model/pretrained/tfidf-lr.model"};
    if (argc > 1)
        for (int i = 1; i < argc; i++) bench_model(argv[i], &d, sgemm);
    else
        for (int i = 0; i < 2; i++) bench_model(defaults[i], &d, sgemm);
    dataset_free(&all);
    return 0;
}
