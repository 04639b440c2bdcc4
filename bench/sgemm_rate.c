/* sgemm_rate.c - the machine's single-precision matrix-multiply rate for the shape that
 * dominates an NCL batch (distinct batch rows x all users x d), so an epoch's FLOP rate can be
 * put next to what the hardware does in the same run.
 * usage: sgemm_rate [M N K [threads]]   prints "sgemm_gflops=<rate> shape=MxNxK" */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

int main(int argc, char **argv) {
    int M = argc > 3 ? atoi(argv[1]) : 4096, N = argc > 3 ? atoi(argv[2]) : 6040;
    int K = argc > 3 ? atoi(argv[3]) : 64;
    nc_set_threads(argc > 4 ? atoi(argv[4]) : 0);
    nc_err e;
    float *a = nc_aligned_alloc((size_t)M * K, sizeof(float), &e);
    float *b = nc_aligned_alloc((size_t)N * K, sizeof(float), &e);
    float *c = nc_aligned_alloc((size_t)M * N, sizeof(float), &e);
    if (!a || !b || !c) return 1;
    nc_rng r;
    nc_rng_seed(&r, 1);
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)nc_rng_uniform(&r) - 0.5f;
    for (size_t i = 0; i < (size_t)N * K; i++) b[i] = (float)nc_rng_uniform(&r) - 0.5f;
    /* scores = A B^T, the same transpose pattern as the contrastive term */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K, 0, c, N);
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t = nc_now();
        for (int k = 0; k < 4; k++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K, 0, c, N);
        double g = 4 * 2.0 * M * N * K / (nc_now() - t) / 1e9;
        if (g > best) best = g;
    }
    printf("sgemm_gflops=%.1f shape=%dx%dx%d threads=%d\n", best, M, N, K, nc_get_threads());
    free(a);
    free(b);
    free(c);
    return 0;
}
