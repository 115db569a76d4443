/* machine.c — sgemm GFLOP/s on one thread (see machine.h). */
#include "tests/harness/machine.h"

#include <cblas.h>
#include <stdlib.h>

#include "model/util.h"

double machine_sgemm_gflops(int m, int n, int k, double seconds) {
    float *a = mallocCheck((size_t)m * k * sizeof(float)), *b = mallocCheck((size_t)k * n * sizeof(float)),
          *c = callocCheck((size_t)m * n, sizeof(float));
    for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)k * n; i++) b[i] = (float)(i % 5) * 0.1f;
    openblas_set_num_threads(1);
    double best = 0;
    for (int run = 0; run < 3; run++) {
        long calls = 0;
        double t0 = util_now_s(), t;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
            calls++;
        } while ((t = util_now_s() - t0) < seconds);
        double g = 2.0 * m * n * k * (double)calls / t / 1e9;
        if (g > best) best = g;
    }
    free(a);
    free(b);
    free(c);
    return best;
}
