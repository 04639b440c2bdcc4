/* bench_step.c - time of one NCL training step (nc_ncl_loss_grad + Adam) on a random graph of
 * ML-1M's shape, to estimate an epoch (164 batches of 4096) without the data set.
 *
 * The graph: 6,039 users, 3,628 items, ~590k distinct pairs; users' degrees and items'
 * popularity both follow power laws, as in MovieLens. Batches are random training pairs with
 * uniform negatives. Prints ms per batch, by phase, without and with 1000 prototypes per side.
 *
 * usage: bench_step [batches [threads [block_rows]]]   (defaults: 12, all cores, automatic)
 * Like the daemon, it runs with OMP_WAIT_POLICY=passive unless the caller chose a policy:
 * OpenMP threads spinning between loops take the cores from OpenBLAS's threads (5x slower
 * steps on a busy machine). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adam.h"
#include "common.h"
#include "graph.h"
#include "hparams.h"
#include "ncl.h"

#define N_USERS 6039
#define N_ITEMS 3628
#define N_PAIRS 590000
#define BATCH 4096
#define EPOCH_BATCHES 164

typedef struct pairs {
    int32_t *u, *i;
    size_t n;
} pairs;

/* Index drawn from cumulative weights cdf[0..n) (cdf[n-1] = total) by bisection. */
static int32_t draw(const double *cdf, int32_t n, nc_rng *r) {
    double x = nc_rng_uniform(r) * cdf[n - 1];
    int32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int32_t mid = (lo + hi) / 2;
        if (cdf[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Distinct random pairs: user and item both drawn from power laws (weights (rank + 10)^-0.9
 * and (rank + 5)^-1.1), items shuffled so popularity is not ordered by id. */
static int make_pairs(pairs *p, nc_rng *r, nc_err *e) {
    double *cu = nc_malloc(N_USERS, sizeof *cu, e), *ci = nc_malloc(N_ITEMS, sizeof *ci, e);
    int32_t *perm = nc_malloc(N_ITEMS, sizeof *perm, e);
    uint8_t *seen = nc_calloc((size_t)N_USERS * N_ITEMS, 1, e);
    p->u = nc_malloc(N_PAIRS, sizeof *p->u, e);
    p->i = nc_malloc(N_PAIRS, sizeof *p->i, e);
    if (!cu || !ci || !perm || !seen || !p->u || !p->i) return NC_ENOMEM;
    for (int32_t k = 0; k < N_USERS; k++) cu[k] = (k ? cu[k - 1] : 0) + pow(k + 10.0, -0.9);
    for (int32_t k = 0; k < N_ITEMS; k++) ci[k] = (k ? ci[k - 1] : 0) + pow(k + 5.0, -1.1);
    for (int32_t k = 0; k < N_ITEMS; k++) perm[k] = k;
    for (int32_t k = N_ITEMS - 1; k > 0; k--) {
        int32_t j = (int32_t)nc_rng_below(r, (uint64_t)k + 1), t = perm[k];
        perm[k] = perm[j];
        perm[j] = t;
    }
    p->n = 0;
    while (p->n < N_PAIRS) {
        int32_t u = draw(cu, N_USERS, r), i = perm[draw(ci, N_ITEMS, r)];
        if (seen[(size_t)u * N_ITEMS + i]) continue;
        seen[(size_t)u * N_ITEMS + i] = 1;
        p->u[p->n] = u;
        p->i[p->n++] = i;
    }
    free(cu);
    free(ci);
    free(perm);
    free(seen);
    return NC_OK;
}

/* Random unit centroids and assignments for one side. */
static void make_protos(float *c, int32_t *assign, int32_t k, int32_t n, int32_t d, nc_rng *r) {
    for (int32_t j = 0; j < k; j++) {
        double s = 0;
        for (int32_t t = 0; t < d; t++) {
            c[j * d + t] = (float)(nc_rng_uniform(r) - 0.5);
            s += (double)c[j * d + t] * c[j * d + t];
        }
        for (int32_t t = 0; t < d; t++) c[j * d + t] /= (float)sqrt(s);
    }
    for (int32_t v = 0; v < n; v++) assign[v] = (int32_t)nc_rng_below(r, (uint64_t)k);
}

/* Processor seconds of the whole process: on a shared machine, wall time of a step swings
 * with the neighbours' load, while the work done (cpu / threads) stays put. */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct run_ctx {
    nc_ncl_ws *ws;
    nc_adam adam;
    float *E0, *grad;
    const pairs *pr;
    int32_t bu[BATCH], bp[BATCH], bn[BATCH];
} run_ctx;

/* Times `batches` steps (after one warm-up step) and prints the per-phase breakdown. */
static int run(run_ctx *c, const nc_protos *protos, int batches, nc_rng *r, const char *label,
               nc_err *e) {
    double t_step = 0, t_adam = 0, total = 0, cpu0 = 0;
    nc_loss l;
    for (int b = -1; b < batches; b++) {
        for (int k = 0; k < BATCH; k++) {
            size_t j = nc_rng_below(r, c->pr->n);
            c->bu[k] = c->pr->u[j];
            c->bp[k] = c->pr->i[j];
            c->bn[k] = (int32_t)nc_rng_below(r, N_ITEMS);
        }
        nc_batch bt = {BATCH, c->bu, c->bp, c->bn};
        if (b == 0) {
            nc_ncl_timers_reset(c->ws);
            cpu0 = cpu_seconds();
        }
        double t0 = nc_now();
        int rc = nc_ncl_loss_grad(c->ws, c->E0, &bt, protos, c->grad, &l, e);
        if (rc) return rc;
        double t1 = nc_now();
        nc_adam_step(&c->adam, c->E0, c->grad);
        double t2 = nc_now();
        if (b >= 0) {
            t_step += t1 - t0;
            t_adam += t2 - t1;
            total += l.total;
        }
    }
    double cpu = cpu_seconds() - cpu0, prop, ssl, proto, bpr;
    nc_ncl_timers(c->ws, &prop, &ssl, &proto, &bpr);
    double ms = 1e3 / batches;
    printf("%-10s step %7.1f ms/batch (prop %.1f, ssl %.1f, proto %.1f, bpr+reg %.1f, "
           "other %.1f) + adam %.2f  => epoch ~%.1f s; cpu %.1f ms/batch [loss %.4f]\n",
           label, t_step * ms, prop * ms, ssl * ms, proto * ms, bpr * ms,
           (t_step - prop - ssl - proto - bpr) * ms, t_adam * ms,
           (t_step + t_adam) / batches * EPOCH_BATCHES, cpu * ms, total / batches);
    return NC_OK;
}

char *openblas_get_corename(void);

int main(int argc, char **argv) {
    /* libgomp reads the policy before main: set it and start again */
    if (!getenv("OMP_WAIT_POLICY") && setenv("OMP_WAIT_POLICY", "passive", 1) == 0) {
        execv("/proc/self/exe", argv);
        perror("bench_step: re-exec with OMP_WAIT_POLICY=passive failed, going on");
    }
    int batches = argc > 1 ? atoi(argv[1]) : 12;
    nc_set_threads(argc > 2 ? atoi(argv[2]) : 0);
    int32_t blk = argc > 3 ? atoi(argv[3]) : 0;
    if (batches < 1) batches = 1;
    nc_err e;
    nc_rng r;
    nc_rng_seed(&r, 2020);
    pairs pr;
    nc_graph g;
    nc_hparams hp;
    nc_hparams_default(&hp);
    run_ctx *c = nc_calloc(1, sizeof *c, &e);
    if (!c || make_pairs(&pr, &r, &e) ||
        nc_graph_build(N_USERS, N_ITEMS, pr.u, pr.i, pr.n, &g, &e) ||
        nc_ncl_ws_create(&g, &hp, &c->ws, &e)) {
        fprintf(stderr, "bench_step: %s\n", e.msg);
        return 1;
    }
    const int32_t d = hp.embedding_size, N = g.n, K = hp.num_clusters;
    c->pr = &pr;
    c->E0 = nc_aligned_alloc((size_t)N * d, sizeof(float), &e);
    c->grad = nc_aligned_alloc((size_t)N * d, sizeof(float), &e);
    float *cu = nc_malloc((size_t)K * d, sizeof(float), &e);
    float *ci = nc_malloc((size_t)K * d, sizeof(float), &e);
    int32_t *au = nc_malloc(N_USERS, sizeof(int32_t), &e), *ai = nc_malloc(N_ITEMS, 4, &e);
    if (!c->E0 || !c->grad || !cu || !ci || !au || !ai ||
        nc_adam_init(&c->adam, (size_t)N * d, hp.learning_rate, &e)) {
        fprintf(stderr, "bench_step: %s\n", e.msg);
        return 1;
    }
    nc_ncl_set_block_rows(c->ws, blk);
    nc_ncl_init_params(c->E0, N_USERS, N_ITEMS, d, &r);
    make_protos(cu, au, K, N_USERS, d, &r);
    make_protos(ci, ai, K, N_ITEMS, d, &r);
    nc_protos protos = {K, K, cu, ci, au, ai};
    printf("graph: %d users, %d items, %lld non-zeros; batch %d; %d threads; OpenBLAS %s; "
           "OMP_WAIT_POLICY=%s\n", N_USERS, N_ITEMS, (long long)g.nnz, BATCH, nc_get_threads(),
           openblas_get_corename(), getenv("OMP_WAIT_POLICY"));
    if (run(c, NULL, batches, &r, "no protos", &e) || run(c, &protos, batches, &r, "k=1000", &e)) {
        fprintf(stderr, "bench_step: %s\n", e.msg);
        return 1;
    }
    nc_adam_free(&c->adam);
    nc_ncl_ws_free(c->ws);
    nc_graph_free(&g);
    free(c->E0);
    free(c->grad);
    free(cu);
    free(ci);
    free(au);
    free(ai);
    free(pr.u);
    free(pr.i);
    free(c);
    return 0;
}
