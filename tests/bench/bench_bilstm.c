/* bench_bilstm.c — speed of the BiLSTM, printed as Markdown: training throughput
 * with 1 and 2 threads, batched inference on one core, single-tweet latency, and
 * the effective GFLOP/s next to the sgemm GFLOP/s measured in the same run.
 *
 * Synthetic data with realistic shapes: V = 50,000 ids drawn from a Zipf law,
 * tweet lengths log-normal with mean ~13 tokens (capped at T = 64), model
 * E = 100, H = 128, dense 64, batch 128. The text pipeline is not included.
 *
 *   build/bench/bench_bilstm [training tweets (default 16384)] */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/bilstm.h"
#include "model/bilstm_infer.h"
#include "model/bilstm_train.h"
#include "model/util.h"
#include "tests/harness/machine.h"

typedef struct {
    SeqSet s;
    int64_t *off;
    int32_t *ids;
    uint8_t *label;
    int *len;
} Synth;

/* n tweets: log-normal lengths (mean ~13), Zipf(1) ids over 2..V-1, random labels. */
static Synth synth_new(int n, int V, const double *zipf_cdf, Rng *r) {
    Synth t;
    t.off = mallocCheck((size_t)(n + 1) * sizeof(int64_t));
    t.len = mallocCheck((size_t)n * sizeof(int));
    t.label = mallocCheck((size_t)n);
    const double sigma = 0.55, mu = log(13.0) - sigma * sigma / 2;
    t.off[0] = 0;
    for (int i = 0; i < n; i++) {
        int L = (int)lround(exp(mu + sigma * rng_normal(r)));
        t.len[i] = L < 1 ? 1 : (L > 64 ? 64 : L);
        t.off[i + 1] = t.off[i] + t.len[i];
        t.label[i] = (uint8_t)rng_below(r, 2);
    }
    t.ids = mallocCheck((size_t)t.off[n] * sizeof(int32_t));
    for (int64_t k = 0; k < t.off[n]; k++) {
        const double u = rng_uniform(r);
        int lo = 0, hi = V - 3; /* first rank whose cdf >= u */
        while (lo < hi) {
            const int mid = (lo + hi) / 2;
            if (zipf_cdf[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        t.ids[k] = 2 + lo;
    }
    t.s = (SeqSet){n, t.off, t.ids, t.label};
    return t;
}

static void synth_free(Synth *t) {
    free(t->off);
    free(t->ids);
    free(t->label);
    free(t->len);
}

/* CPU time of the process (all threads), to show whether threads got their cores
 * on a shared machine. */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void cpu_name(char *buf, size_t len) {
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            const char *p = strchr(line, ':');
            if (p) snprintf(buf, len, "%s", p + 2);
            buf[strcspn(buf, "\n")] = 0;
            break;
        }
    }
    fclose(f);
}

int main(int argc, char **argv) {
    const int ntrain = argc > 1 ? atoi(argv[1]) : 16384;
    if (ntrain < 256) util_die("bench_bilstm: at least 256 training tweets");
    const int V = 50000, nval = 1024, ninfer = 16384, nlat = 3000;
    Rng r;
    rng_seed(&r, 2024);
    double *cdf = mallocCheck((size_t)V * sizeof(double)), z = 0;
    for (int k = 0; k < V - 2; k++) cdf[k] = (z += 1.0 / (k + 1));
    for (int k = 0; k < V - 2; k++) cdf[k] /= z;
    Synth train = synth_new(ntrain, V, cdf, &r), val = synth_new(nval, V, cdf, &r),
          inf = synth_new(ninfer, V, cdf, &r);
    const double mean_len = (double)train.off[ntrain] / ntrain;

    BilstmConfig cfg = bilstm_config_default(V);
    const double E = cfg.E, H = cfg.H, D = cfg.dense;
    // FLOPs per token and direction: forward input projection + recurrence; the
    // backward costs twice the forward (gradients of the inputs and of the weights)
    const double fwd_tok = 2 * E * 4 * H + 2 * H * 4 * H, head = 2 * 2 * H * D + 2 * D;
    const double train_flops_tweet = 3 * (2 * mean_len * fwd_tok + head);

    char cpuname[128];
    cpu_name(cpuname, sizeof cpuname);
    openblas_set_num_threads(1);
    const double sg_step = machine_sgemm_gflops(256, 4 * cfg.H, cfg.H, 0.3),
                 sg_big = machine_sgemm_gflops(1024, 1024, 1024, 0.3);

    printf("## BiLSTM (V=%d, E=%d, H=%d, dense=%d, T=%d, batch %d)\n\n", V, cfg.E, cfg.H, cfg.dense, cfg.T,
           cfg.batch);
    printf("CPU: %s, OpenBLAS %s. Synthetic tweets, mean %.1f tokens.\n\n", cpuname, openblas_get_config(),
           mean_len);
    printf("| measure | value | GFLOP/s |\n| --- | --- | --- |\n");
    printf("| sgemm (256x128)·(128x512), 1 thread | | %.1f |\n", sg_step);
    printf("| sgemm 1024³, 1 thread | | %.1f |\n", sg_big);
    fflush(stdout);

    cfg.epochs = 2;
    cfg.patience = 2;
    for (int threads = 1; threads <= 2; threads++) {
        cfg.threads = threads;
        BiLSTM *m = bilstm_new(&cfg, NULL);
        BilstmHistory h;
        const BilstmFitOptions opt = {1, NULL};
        const double c0 = cpu_seconds(), w0 = util_now_s();
        bilstm_fit(m, &train.s, &val.s, &opt, &h);
        const double busy = (cpu_seconds() - c0) / (util_now_s() - w0);
        for (int e = 0; e < h.n; e++) {
            const double rate = ntrain / h.epoch[e].train_seconds;
            printf(
                "| training, %d thread%s, epoch %d (%d tweets; %.2f cores busy) | %.0f tweets/s | %.1f |\n",
                threads, threads > 1 ? "s" : "", e + 1, ntrain, busy, rate, rate * train_flops_tweet / 1e9);
        }
        fflush(stdout);
        bilstm_free(m);
    }

    // inference, one core
    cfg.threads = 1;
    BiLSTM *m = bilstm_new(&cfg, NULL);
    double t0 = util_now_s();
    bilstm_infer_prepare(m);
    const double t_prep = util_now_s() - t0;
    BilstmInfer *b256 = bilstm_infer_new(m, 256), *b1 = bilstm_infer_new(m, 1);
    float *p = mallocCheck((size_t)ninfer * sizeof(float));
    const double infer_flops = 2 * (double)inf.off[ninfer] * 2 * H * 4 * H + ninfer * head;
    bilstm_infer_run(b256, inf.ids, inf.len, 2048, p); /* warm-up */
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        t0 = util_now_s();
        bilstm_infer_run(b256, inf.ids, inf.len, ninfer, p);
        const double dt = util_now_s() - t0;
        if (dt < best) best = dt;
    }
    printf("| inference, batches of 256, 1 core (%d tweets, best of 3) | %.0f tweets/s | %.1f |\n", ninfer,
           ninfer / best, infer_flops / best / 1e9);
    // single tweet alone: wall time, and the thread's CPU time (a shared machine
    // preempts us; the CPU time shows the cost of the computation itself)
    double *lat = mallocCheck((size_t)nlat * sizeof(double)),
           *cpu = mallocCheck((size_t)nlat * sizeof(double));
    for (int i = 0; i < nlat; i++) {
        struct timespec c0, c1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        t0 = util_now_s();
        bilstm_infer_run(b1, inf.ids + inf.off[i], inf.len + i, 1, p + i);
        lat[i] = util_now_s() - t0;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        cpu[i] = (double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) * 1e-9;
    }
    qsort(lat, (size_t)nlat, sizeof *lat, cmp_double);
    qsort(cpu, (size_t)nlat, sizeof *cpu, cmp_double);
    printf("| single tweet alone (%d tweets), latency p50 / p99 | %.3f / %.3f ms | |\n", nlat,
           lat[nlat / 2] * 1e3, lat[nlat * 99 / 100] * 1e3);
    printf("| single tweet alone, CPU time p50 / p99 | %.3f / %.3f ms | |\n", cpu[nlat / 2] * 1e3,
           cpu[nlat * 99 / 100] * 1e3);
    printf("| serving tables (2 x V x 4H floats), computed at load | %.2f s, %.0f MB | |\n", t_prep,
           2.0 * V * 4 * H * 4 / 1e6);
    printf("\nGFLOP/s count useful arithmetic: training %.1f MFLOP per tweet (forward x3), inference %.1f "
           "(recurrence + head; the input projections are precomputed).\n",
           train_flops_tweet / 1e6, infer_flops / ninfer / 1e6);
    free(lat);
    free(cpu);
    free(p);
    bilstm_infer_free(b256);
    bilstm_infer_free(b1);
    bilstm_free(m);
    synth_free(&train);
    synth_free(&val);
    synth_free(&inf);
    free(cdf);
    return 0;
}
