/* bench_sgemm.c — OpenBLAS sgemm throughput (GFLOP/s) on one thread and on all
 * cores, at the shapes the BiLSTM uses and at a large square one.
 *
 *   bench_sgemm [SECONDS]   (time spent per measurement, default 0.3)
 *
 * C = A·B with A (M,K), B (K,N), C (M,N), row-major, single precision; one call
 * costs 2·M·N·K floating-point operations. Each measurement repeats the call until
 * SECONDS of wall time have passed, after one warm-up call, and reports the best
 * of 3 such runs. Prints Markdown on stdout. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "model/util.h"

typedef struct {
    int m, n, k;
    const char *what;
} Shape;

static const Shape shapes[] = {
    {32, 512, 128, "serving batch 32 x input -> 4 gates of H=128"},
    {256, 512, 128, "training batch 256 x input -> 4 gates of H=128"},
    {256, 1024, 256, "batch 256, H=256"},
    {128, 512, 4096, "weight gradient: X^T (E, B*T) x dGates (B*T, 4H), B*T=4096"},
    {1024, 1024, 1024, "large square"},
};

/* Best GFLOP/s of 3 runs of `seconds` each. */
static double measure(const Shape *s, const float *a, const float *b, float *c, double seconds, double *ms) {
    double flops = 2.0 * s->m * s->n * s->k, best = 0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->m, s->n, s->k, 1.0f, a, s->k, b, s->n, 0.0f, c,
                s->n);
    for (int run = 0; run < 3; run++) {
        long calls = 0;
        double t0 = util_now_s(), t;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->m, s->n, s->k, 1.0f, a, s->k, b, s->n,
                        0.0f, c, s->n);
            calls++;
        } while ((t = util_now_s() - t0) < seconds);
        double g = flops * calls / t / 1e9;
        if (g > best) {
            best = g;
            *ms = 1e3 * t / calls;
        }
    }
    return best;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 0.3;
    if (seconds <= 0) seconds = 0.3;
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;

    size_t max_a = 0, max_b = 0, max_c = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const Shape *s = &shapes[i];
        if ((size_t)s->m * s->k > max_a) max_a = (size_t)s->m * s->k;
        if ((size_t)s->k * s->n > max_b) max_b = (size_t)s->k * s->n;
        if ((size_t)s->m * s->n > max_c) max_c = (size_t)s->m * s->n;
    }
    float *a = mallocCheck(max_a * sizeof *a), *b = mallocCheck(max_b * sizeof *b),
          *c = mallocCheck(max_c * sizeof *c);
    Rng r;
    rng_seed(&r, 1);
    for (size_t i = 0; i < max_a; i++) a[i] = rng_uniform(&r) - 0.5f;
    for (size_t i = 0; i < max_b; i++) b[i] = rng_uniform(&r) - 0.5f;

    printf("### OpenBLAS sgemm (%s; core %s)\n\n", openblas_get_config(), openblas_get_corename());
    printf("Row-major C = A*B, best of 3 runs of %.1f s each.\n\n", seconds);
    printf("| M x N x K | use | threads | GFLOP/s | ms/call |\n");
    printf("| --- | --- | ---: | ---: | ---: |\n");
    int threads[2] = {1, cores};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        for (int t = 0; t < (cores > 1 ? 2 : 1); t++) {
            openblas_set_num_threads(threads[t]);
            int used = openblas_get_num_threads();
            double ms = 0;
            double g = measure(&shapes[i], a, b, c, seconds, &ms);
            printf("| %dx%dx%d | %s | %d | %.1f | %.3f |\n", shapes[i].m, shapes[i].n, shapes[i].k,
                   shapes[i].what, used, g, ms);
            fflush(stdout);
        }
    }
    printf("\n");
    free(a);
    free(b);
    free(c);
    return 0;
}
