/* ssl_estimator.c - bias and spread of the structure term's estimators against the exact term,
 * on real embeddings: the initial E0 and a trained model's.
 *
 * usage: ssl_estimator ALL_FILE MODEL [batches [draws]]   (defaults 4 and 16)
 *   ALL_FILE  the interactions the model was trained on, re-split 0.8/0.1/0.1 with seed 2020
 *             (the leaderboard setting of bench/RESULTS.md); MODEL its checkpoint.
 * For each state (init: xavier with seed 2020; trained: the model's E0) and each estimator,
 * over `batches` batches of 4096 training pairs and `draws` draws of the sample per batch, it
 * prints the structure term's loss (exact, and the estimate's relative bias and spread) and its
 * gradient w.r.t. E0 (the run with the term minus the run without): the relative bias of the
 * mean estimated gradient ||E g~ - g|| / ||g||, the relative error of one draw
 * E ||g~ - g|| / ||g||, and the norm ratio ||E g~|| / ||g||. Estimators with the gradient
 * memory (ssl_memory) first take 32 steps on other batches at the same E0 to fill it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "dataset.h"
#include "graph.h"
#include "ncl.h"
#include "ssl_strata.h"

#define BATCH 4096
#define MEMORY_WARM 32

typedef struct estimator {
    const char *name;
    int32_t negatives, stratum, memory;
} estimator;

static const estimator EST[] = {
    {"uniform N=256", 256, 0, 0},        {"uniform N=1024", 1024, 0, 0},
    {"strata 256/256", 256, 256, 0},     {"strata 1024/512", 1024, 512, 0},
    {"uniform 1024 +memory", 1024, 0, 1}, {"strata 1024/512 +memory", 1024, 512, 1},
    {"strata 256/256 +memory", 256, 256, 1},
    {"uniform N=2048", 2048, 0, 0},      {"uniform N=4096", 4096, 0, 0},
};

typedef struct setup {
    nc_dataset d;
    nc_interactions pairs;
    nc_graph g;
    nc_hparams hp;
    int32_t U, I, dim;
    size_t np;
} setup;

static int die(const char *what, const nc_err *e) {
    fprintf(stderr, "ssl_estimator: %s: %s\n", what, e->msg);
    return 1;
}

/* The leaderboard setting's split and graph, ids numbered as in the model. */
static int load(setup *s, const char *path, const nc_checkpoint *m, nc_err *e) {
    nc_dataset_init(&s->d);
    nc_interactions all;
    nc_inter_init(&all);
    int rc = nc_idmap_copy(&s->d.users, &m->users, e);
    if (!rc) rc = nc_idmap_copy(&s->d.items, &m->items, e);
    if (!rc) rc = nc_load_file(path, NC_FMT_AUTO, &s->d.users, &s->d.items, &all, e);
    if (!rc) nc_inter_dedup(&all, e);
    const double ratios[3] = {0.8, 0.1, 0.1};
    if (!rc) rc = nc_split(&all, s->d.users.n, ratios, 2020, &s->d.train, &s->d.valid,
                           &s->d.test, e);
    nc_inter_free(&all);
    if (!rc) rc = nc_inter_copy(&s->pairs, &s->d.train, e);
    if (rc) return rc;
    nc_inter_dedup(&s->pairs, e);
    s->U = (int32_t)s->d.users.n;
    s->I = (int32_t)s->d.items.n;
    s->dim = m->dim;
    s->np = ((size_t)s->U + s->I) * s->dim;
    s->hp = m->hp;
    s->hp.ssl_negatives = s->hp.ssl_stratum_size = s->hp.ssl_memory = 0;
    s->hp.train_batch_size = BATCH;
    return nc_graph_build(s->U, s->I, s->pairs.user, s->pairs.item, s->pairs.n, &s->g, e);
}

/* Batch k of a fixed sequence: random training pairs, uniform negatives. */
static void make_batch(const setup *s, uint64_t k, int32_t *u, int32_t *p, int32_t *n) {
    nc_rng r;
    nc_rng_seed(&r, 7000 + k);
    for (int32_t b = 0; b < BATCH; b++) {
        size_t j = (size_t)nc_rng_below(&r, s->pairs.n);
        u[b] = s->pairs.user[j];
        p[b] = s->pairs.item[j];
        n[b] = (int32_t)nc_rng_below(&r, (uint64_t)s->I);
    }
}

static double dist(const float *a, const double *b, size_t n) {
    double s = 0;
    for (size_t k = 0; k < n; k++) s += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
    return sqrt(s);
}

/* The estimator's strata for E0 (both sides), given to ws. */
static int give_strata(const setup *s, const float *E0, int32_t size, nc_ncl_ws *ws, nc_err *e) {
    const int32_t m[2] = {s->U, s->I};
    int32_t k[2], *as[2] = {NULL, NULL};
    float *scratch = malloc((size_t)(s->U > s->I ? s->U : s->I) * s->dim * sizeof(float));
    int rc = scratch ? NC_OK : NC_ENOMEM;
    for (int side = 0; side < 2 && !rc; side++) {
        k[side] = nc_ssl_strata_count(m[side], size);
        float *cent = malloc((size_t)k[side] * s->dim * sizeof(float));
        as[side] = malloc((size_t)m[side] * sizeof(int32_t));
        rc = cent && as[side] ? NC_OK : NC_ENOMEM;
        if (!rc) rc = nc_ssl_strata_assign(E0 + (side ? (size_t)s->U * s->dim : 0), m[side],
                                           s->dim, k[side], &s->hp, scratch, cent, as[side], e);
        free(cent);
    }
    if (!rc) rc = nc_ncl_set_ssl_strata(ws, as[0], k[0], as[1], k[1], e);
    free(scratch);
    free(as[0]);
    free(as[1]);
    return rc;
}

typedef struct tally {
    double loss_exact, loss_bias, loss_sd, g_bias, g_err, g_ratio;
} tally;

/* One estimator on one state: averages over batches of the figures in the header. */
static int measure(const setup *s, const float *E0, const estimator *est, int batches,
                   int draws, tally *t, nc_err *e) {
    nc_hparams hx = s->hp, hoff = s->hp, he = s->hp;
    hoff.ssl_reg = 0;
    he.ssl_negatives = est->negatives;
    he.ssl_stratum_size = est->stratum;
    he.ssl_memory = est->memory;
    nc_ncl_ws *wx = NULL, *woff = NULL, *we = NULL;
    float *g = malloc(s->np * sizeof(float)), *tmp = malloc(s->np * sizeof(float));
    double *gx = malloc(s->np * sizeof(double)), *gm = malloc(s->np * sizeof(double));
    int32_t *u = malloc(BATCH * 4), *p = malloc(BATCH * 4), *n = malloc(BATCH * 4);
    int rc = g && tmp && gx && gm && u && p && n ? NC_OK : NC_ENOMEM;
    if (!rc) rc = nc_ncl_ws_create(&s->g, &hx, &wx, e);
    if (!rc) rc = nc_ncl_ws_create(&s->g, &hoff, &woff, e);
    if (!rc) rc = nc_ncl_ws_create(&s->g, &he, &we, e);
    if (!rc && est->stratum) rc = give_strata(s, E0, est->stratum, we, e);
    memset(t, 0, sizeof *t);
    nc_loss l;
    for (int k = 0; !rc && est->memory && k < MEMORY_WARM; k++) {
        make_batch(s, 1000 + k, u, p, n);
        nc_batch b = {BATCH, u, p, n};
        rc = nc_ncl_loss_grad(we, E0, &b, NULL, g, &l, e);
    }
    for (int bi = 0; !rc && bi < batches; bi++) {
        make_batch(s, bi, u, p, n);
        nc_batch b = {BATCH, u, p, n};
        rc = nc_ncl_loss_grad(woff, E0, &b, NULL, tmp, &l, e);
        if (!rc) rc = nc_ncl_loss_grad(wx, E0, &b, NULL, g, &l, e);
        if (rc) break;
        const double lx = l.ssl;
        double nx = 0;
        for (size_t k = 0; k < s->np; k++) {
            gx[k] = (double)g[k] - tmp[k];
            nx += gx[k] * gx[k];
            gm[k] = 0;
        }
        nx = sqrt(nx);
        double ls = 0, lss = 0, err = 0;
        for (int r = 0; r < draws && !rc; r++) {
            rc = nc_ncl_loss_grad(we, E0, &b, NULL, g, &l, e);
            if (rc) break;
            for (size_t k = 0; k < s->np; k++) {
                g[k] -= tmp[k];
                gm[k] += (double)g[k] / draws;
            }
            err += dist(g, gx, s->np) / nx / draws;
            ls += l.ssl;
            lss += l.ssl * l.ssl;
        }
        double mean = ls / draws, sd = sqrt(fmax(lss / draws - mean * mean, 0));
        double bias = 0, nm = 0;
        for (size_t k = 0; k < s->np; k++) {
            bias += (gm[k] - gx[k]) * (gm[k] - gx[k]);
            nm += gm[k] * gm[k];
        }
        t->loss_exact += lx / batches;
        t->loss_bias += (mean - lx) / lx / batches;
        t->loss_sd += sd / lx / batches;
        t->g_bias += sqrt(bias) / nx / batches;
        t->g_err += err / batches;
        t->g_ratio += sqrt(nm) / nx / batches;
    }
    nc_ncl_ws_free(wx);
    nc_ncl_ws_free(woff);
    nc_ncl_ws_free(we);
    void *bufs[] = {g, tmp, gx, gm, u, p, n};
    for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++) free(bufs[k]);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: ssl_estimator ALL_FILE MODEL [batches [draws]]\n");
        return 2;
    }
    int batches = argc > 3 ? atoi(argv[3]) : 4, draws = argc > 4 ? atoi(argv[4]) : 16;
    setenv("OMP_WAIT_POLICY", "passive", 0);
    nc_set_threads(0);
    nc_err e;
    nc_err_clear(&e);
    nc_checkpoint m;
    setup s;
    memset(&s, 0, sizeof s);
    nc_inter_init(&s.pairs);
    if (nc_checkpoint_read(argv[2], &m, &e)) return die(argv[2], &e);
    if (load(&s, argv[1], &m, &e)) return die(argv[1], &e);
    if ((int32_t)m.n_users != s.U || m.n_items != s.I) {
        fprintf(stderr, "ssl_estimator: the model has %d users / %d items, the data %d / %d\n",
                m.n_users, m.n_items, s.U, s.I);
        return 1;
    }
    float *init = malloc(s.np * sizeof(float));
    if (!init) return 1;
    nc_rng r;
    nc_rng_seed(&r, 2020);
    nc_ncl_init_params(init, s.U, s.I, s.dim, &r);
    printf("# %d users, %d items, %zu training pairs; %d batches of %d, %d draws; tau %g\n",
           s.U, s.I, s.pairs.n, batches, BATCH, draws, s.hp.ssl_temp);
    printf("state\testimator\tssl_exact\tloss_bias\tloss_sd\tgrad_bias\tgrad_err\tgrad_ratio\n");
    const float *states[2] = {init, m.E0};
    const char *names[2] = {"init", "trained"};
    for (int st = 0; st < 2; st++)
        for (size_t k = 0; k < sizeof EST / sizeof EST[0]; k++) {
            tally t;
            if (measure(&s, states[st], &EST[k], batches, draws, &t, &e)) return die("step", &e);
            printf("%s\t%s\t%.5g\t%+.4f\t%.4f\t%.4f\t%.4f\t%.4f\n", names[st], EST[k].name,
                   t.loss_exact, t.loss_bias, t.loss_sd, t.g_bias, t.g_err, t.g_ratio);
            fflush(stdout);
        }
    free(init);
    nc_checkpoint_free(&m);
    nc_graph_free(&s.g);
    nc_inter_free(&s.pairs);
    nc_dataset_free(&s.d);
    return 0;
}
