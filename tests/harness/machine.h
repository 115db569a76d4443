/* machine.h — what this machine can do now, for benchmarks to report their
 * throughput next to: OpenBLAS sgemm GFLOP/s on one thread. On a shared machine the
 * number also says how much of a core the process gets at the moment. */
#ifndef BUZZRADAR_MACHINE_H
#define BUZZRADAR_MACHINE_H

/* GFLOP/s of a row-major (m,k)x(k,n) sgemm on one OpenBLAS thread (it sets OpenBLAS
 * to one thread), the best of 3 runs of `seconds` each. Exits on out-of-memory. */
double machine_sgemm_gflops(int m, int n, int k, double seconds);

#endif
