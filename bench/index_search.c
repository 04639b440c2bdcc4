/* index_search.c - CPU time of one nc_index_search on a catalogue of the ML-1M model's shape
 * (3,628 items, d = 64, k = 10, 140 excluded ids: about an average user's history), so the
 * index's share of a /recommend request can be read without the HTTP stack. Random vectors; the
 * time is the process's CPU time (CLOCK_PROCESS_CPUTIME_ID), which other processes on a shared
 * machine disturb less than wall time.
 *
 *   $(BUILD)/bench/index_search [N_ITEMS [DIM [QUERIES]]]
 * Prints one line: "index_search items=... dim=... queries=... us_per_query=...". */
#include "index.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* CPU seconds used by this process so far. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 3628, d = argc > 2 ? atoi(argv[2]) : 64;
    int reps = argc > 3 ? atoi(argv[3]) : 20000;
    if (n < 1 || d < 1 || reps < 1) {
        fprintf(stderr, "usage: %s [N_ITEMS >= 1 [DIM >= 1 [QUERIES >= 1]]]\n", argv[0]);
        return 2;
    }
    float *x = malloc(sizeof(float) * (size_t)n * (size_t)d);
    if (!x) return 1;
    nc_rng r;
    nc_rng_seed(&r, 42);
    for (size_t i = 0; i < (size_t)n * (size_t)d; i++) x[i] = (float)(nc_rng_uniform(&r) - 0.5);
    nc_index *ix = NULL;
    nc_err e;
    if (nc_index_build(x, n, d, &ix, &e) != NC_OK) {
        fprintf(stderr, "index_search: %s\n", e.msg);
        return 1;
    }
    int32_t ex[140], ids[10], got = 0;
    float sc[10];
    for (int i = 0; i < 140; i++) ex[i] = (int32_t)((i * 25) % n);
    double t0 = cpu_now();
    for (int q = 0; q < reps; q++)
        if (nc_index_search(ix, x + (size_t)(q % n) * (size_t)d, 10, ex, 140, ids, sc, &got, &e) != NC_OK) {
            fprintf(stderr, "index_search: %s\n", e.msg);
            return 1;
        }
    double us = (cpu_now() - t0) / reps * 1e6;
    printf("index_search items=%d dim=%d queries=%d us_per_query=%.2f\n", n, d, reps, us);
    nc_index_free(ix);
    free(x);
    return 0;
}
