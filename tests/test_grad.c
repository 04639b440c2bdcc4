/* test_grad.c - every backward pass of the NCL math against central finite differences, in
 * double precision (the double build of the very kernels training runs in float).
 *
 * Two levels:
 *   kernels   spmm, L2 normalisation, weighted InfoNCE (dA and dM), BPR, Frobenius norm, each
 *             differentiated numerically on its own, several softmax blocks included;
 *   the step  nc_ncl_loss_grad_d on a small graph with an isolated user and item, a batch
 *             smaller than the workspace's with repeated users / items / whole triples. The
 *             finite differences are taken of a literal per-row re-statement of NCL.md
 *             (dense Â, no de-duplication), one term at a time: bpr, reg, ssl of users, ssl of
 *             items, proto of users, proto of items, and the whole loss.
 * Plus exact properties of multiplicities (a batch repeated three times), workspace reuse,
 * and independence from the softmax block size and from the thread count.
 * On a mismatch the worst entries are printed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "ncl.h"
#include "ncl_kernels.h"
#include "testhelp.h"
#include "tiny_problem.h"

#define FD_H 1e-6

/* ---------------- comparing a gradient with finite differences ---------------- */

/* |g - fd| <= atol + rtol |fd| for every entry, atol scaled by the largest entry. Prints the
 * five worst entries (by how far past the tolerance they are) when any fails. */
static void check_against(const char *what, const double *g, const double *fd, size_t n,
                          double rtol) {
    double gmax = 0;
    for (size_t k = 0; k < n; k++) gmax = fmax(gmax, fabs(fd[k]));
    const double atol = rtol * 1e-2 * (gmax > 1 ? gmax : 1);
    size_t worst[5] = {0};
    double wv[5] = {0};
    for (size_t k = 0; k < n; k++) {
        double r = fabs(g[k] - fd[k]) / (atol + rtol * fabs(fd[k]));
        for (int s = 0; s < 5; s++)
            if (r > wv[s]) {
                memmove(wv + s + 1, wv + s, (4 - s) * sizeof *wv);
                memmove(worst + s + 1, worst + s, (4 - s) * sizeof *worst);
                wv[s] = r;
                worst[s] = k;
                break;
            }
    }
    CHECK(gmax > 1e-6, "%s: the gradient is ~0 (max %g): the check would prove nothing", what,
          gmax);
    CHECK(wv[0] <= 1, "%s: gradient differs from finite differences", what);
    if (wv[0] > 1)
        for (int s = 0; s < 5 && wv[s] > 1; s++)
            fprintf(stderr, "    entry %zu: analytic %.12g, finite difference %.12g\n", worst[s],
                    g[worst[s]], fd[worst[s]]);
}

/* ---------------- kernels ---------------- */

static void fill(double *x, size_t n, nc_rng *r, double scale) {
    for (size_t k = 0; k < n; k++) x[k] = (nc_rng_uniform(r) - 0.5) * scale;
}

/* The InfoNCE kernel's value, for finite differences (the gradients it writes are ignored). */
static double infonce_value(const double *A, const double *w, int nb, const double *M, int nm,
                            const int32_t *t, int d, double inv_tau, int blk_rows) {
    double blk[64 * 16], rl[16], dA[16 * 8];
    return nc_kern_infonce_d(A, w, nb, M, nm, t, d, inv_tau, blk, blk_rows, rl, dA, NULL);
}

/* dA and dM of the weighted InfoNCE, with 2-row blocks (7 rows: three blocks, the last short),
 * weights standing for multiplicities and term weights, repeated targets. dM must be ADDED. */
static void test_infonce_kernel(void) {
    enum { NB = 7, NM = 9, D = 5 };
    nc_rng r;
    nc_rng_seed(&r, 101);
    double A[NB * D], M[NM * D], w[NB] = {1, 3, 0.5, 2, 1, 1, 4}, blk[2 * NM], rl[NB];
    double dA[NB * D], dM[NM * D], base[NM * D], fdA[NB * D], fdM[NM * D];
    int32_t t[NB] = {0, 4, 4, 8, 2, 0, 6};
    const double inv_tau = 1 / 0.3;
    fill(A, NB * D, &r, 2);
    fill(M, NM * D, &r, 2);
    fill(base, NM * D, &r, 1);
    memcpy(dM, base, sizeof dM);
    double loss = nc_kern_infonce_d(A, w, NB, M, NM, t, D, inv_tau, blk, 2, rl, dA, dM);
    for (int k = 0; k < NM * D; k++) dM[k] -= base[k];
    /* the value, literally */
    double want = 0;
    for (int b = 0; b < NB; b++) {
        double s = 0, xt = 0;
        for (int v = 0; v < NM; v++) {
            double x = 0;
            for (int j = 0; j < D; j++) x += A[b * D + j] * M[v * D + j];
            s += exp(x * inv_tau);
            if (v == t[b]) xt = x * inv_tau;
        }
        want += w[b] * (log(s) - xt);
    }
    CHECK_CLOSE(loss, want, 1e-13, 1e-12);
    for (int pass = 0; pass < 2; pass++) {
        double *x = pass ? M : A, *fd = pass ? fdM : fdA;
        int n = pass ? NM * D : NB * D;
        for (int k = 0; k < n; k++) {
            double x0 = x[k];
            x[k] = x0 + FD_H;
            double fp = infonce_value(A, w, NB, M, NM, t, D, inv_tau, 3);
            x[k] = x0 - FD_H;
            double fm = infonce_value(A, w, NB, M, NM, t, D, inv_tau, 3);
            x[k] = x0;
            fd[k] = (fp - fm) / (2 * FD_H);
        }
    }
    check_against("infonce dA", dA, fdA, NB * D, 1e-6);
    check_against("infonce dM", dM, fdM, NM * D, 1e-6);
}

/* BPR over triples that share rows (the gathered rows of a batch with repeats); += into gFg. */
static void test_bpr_kernel(void) {
    enum { R = 6, NT = 9, D = 4 };
    nc_rng r;
    nc_rng_seed(&r, 102);
    double F[R * D], g[R * D], base[R * D], fd[R * D], coef[NT];
    int32_t iu[NT] = {0, 0, 1, 0, 2, 1, 0, 2, 2}, ip[NT] = {3, 4, 3, 3, 5, 4, 3, 3, 5},
            in[NT] = {4, 5, 5, 4, 3, 3, 4, 1, 0};
    fill(F, R * D, &r, 3);
    fill(base, R * D, &r, 1);
    memcpy(g, base, sizeof g);
    double loss = nc_kern_bpr_d(F, NT, iu, ip, in, D, coef, g);
    for (int k = 0; k < R * D; k++) g[k] -= base[k];
    double want = 0;
    for (int b = 0; b < NT; b++) {
        double x = 0;
        for (int j = 0; j < D; j++) x += F[iu[b] * D + j] * (F[ip[b] * D + j] - F[in[b] * D + j]);
        want += -log(1e-10 + 1 / (1 + exp(-x))) / NT;
    }
    CHECK_CLOSE(loss, want, 1e-14, 1e-12);
    double scratch[R * D];
    for (int k = 0; k < R * D; k++) {
        double x0 = F[k];
        F[k] = x0 + FD_H;
        double fp = nc_kern_bpr_d(F, NT, iu, ip, in, D, coef, scratch);
        F[k] = x0 - FD_H;
        double fm = nc_kern_bpr_d(F, NT, iu, ip, in, D, coef, scratch);
        F[k] = x0;
        fd[k] = (fp - fm) / (2 * FD_H);
    }
    check_against("bpr", g, fd, R * D, 1e-6);
}

/* ||E[rows]||_F with repeated rows, scaled gradient added into g. */
static void test_frobenius_kernel(void) {
    enum { R = 5, D = 3, NR = 7 };
    nc_rng r;
    nc_rng_seed(&r, 103);
    double E[R * D], g[R * D] = {0}, fd[R * D];
    int32_t rows[NR] = {1, 3, 1, 1, 4, 0, 3};
    fill(E, R * D, &r, 2);
    const double scale = 0.7;
    double len = nc_kern_frob_d(E, rows, NR, D, scale, g);
    double ss = 0;
    for (int k = 0; k < NR; k++)
        for (int j = 0; j < D; j++) ss += E[rows[k] * D + j] * E[rows[k] * D + j];
    CHECK_CLOSE(len, sqrt(ss), 0, 1e-14);
    for (int k = 0; k < R * D; k++) {
        double x0 = E[k];
        E[k] = x0 + FD_H;
        double fp = scale * nc_kern_frob_d(E, rows, NR, D, 0, NULL);
        E[k] = x0 - FD_H;
        double fm = scale * nc_kern_frob_d(E, rows, NR, D, 0, NULL);
        E[k] = x0;
        fd[k] = (fp - fm) / (2 * FD_H);
    }
    check_against("frobenius", g, fd, R * D, 1e-6);
    double z[R * D] = {0};
    CHECK(nc_kern_frob_d(z, rows, NR, D, 1, g) == 0, "norm of zeros");
}

/* z = x / max(||x||, 1e-12): backward (overwrite and accumulate) against differences, and
 * the clamp below 1e-12 where z = x / 1e-12 is linear. */
static void test_normalisation_kernel(void) {
    enum { R = 4, D = 3 };
    double x[R * D] = {0.3, -1.2, 0.5, 2.0, 1e-3, -4, 3e-13, -2e-13, 1e-13, 0.6, 0.1, -0.2};
    double dz[R * D], z[R * D], nrm[R], dx[R * D], acc[R * D], fd[R * D];
    nc_rng r;
    nc_rng_seed(&r, 104);
    fill(dz, R * D, &r, 2);
    nc_kern_normalize_d(x, R, D, z, nrm);
    nc_kern_normalize_bwd_d(z, nrm, dz, R, D, dx, 0);
    for (int k = 0; k < R * D; k++) acc[k] = 1;
    nc_kern_normalize_bwd_d(z, nrm, dz, R, D, acc, 1);
    for (int k = 0; k < R * D; k++) {
        const int tiny = k / D == 2;
        const double h = tiny ? 1e-15 : FD_H, x0 = x[k];
        double f[2];
        for (int s = 0; s < 2; s++) {
            double zz[R * D], nn[R];
            x[k] = x0 + (s ? -h : h);
            nc_kern_normalize_d(x, R, D, zz, nn);
            f[s] = 0;
            for (int j = 0; j < R * D; j++) f[s] += dz[j] * zz[j];
        }
        x[k] = x0;
        fd[k] = (f[0] - f[1]) / (2 * h);
        CHECK_CLOSE(acc[k], 1 + dx[k], 1e-12, 1e-12);
    }
    /* the clamped row's gradient is ~1e12: compare it relatively, the others as usual */
    for (int j = 0; j < D; j++) CHECK_CLOSE(dx[2 * D + j], fd[2 * D + j], 0, 1e-6);
    for (int j = 0; j < D; j++) fd[2 * D + j] = dx[2 * D + j] = 0;
    check_against("normalisation", dx, fd, R * D, 1e-6);
}

/* ---------------- the step: problem and literal reference ---------------- */

enum { PU = 6, PI = 7, PN = PU + PI, PD = 4, PK = 3, WS_BATCH = 48, MAXB = 48 };

typedef struct problem {
    int32_t n_pairs, nb;
    int32_t pu[32], pi[32];
    int32_t bu[MAXB], bp[MAXB], bn[MAXB];
    double E0[PN * PD];
    float cu[PK * PD], ci[PK * PD];
    int32_t au[PU], ai[PI];
    nc_hparams hp;
    nc_graph g;
} problem;

/* User PU-1 and item PI-1 have no training edges; the batch (13 triples, workspace 48)
 * repeats users, positives, negatives and one whole triple. */
static void make_problem(problem *p, uint64_t seed) {
    memset(p, 0, sizeof *p);
    nc_rng r;
    nc_rng_seed(&r, seed);
    p->n_pairs = 16;
    tiny_pairs(&r, PU, PI, p->n_pairs, p->pu, p->pi);
    p->nb = 13;
    tiny_batch(&r, p->pu, p->pi, p->n_pairs, PI, p->nb, p->bu, p->bp, p->bn);
    p->bu[5] = p->bu[2];
    p->bp[5] = p->bp[2];
    p->bn[5] = p->bn[2];
    fill(p->E0, PN * PD, &r, 1.5);
    for (int s = 0; s < 2; s++) {
        float *c = s ? p->ci : p->cu;
        for (int k = 0; k < PK; k++) {
            double nn = 0;
            for (int j = 0; j < PD; j++) {
                c[k * PD + j] = (float)(nc_rng_uniform(&r) - 0.5);
                nn += (double)c[k * PD + j] * c[k * PD + j];
            }
            for (int j = 0; j < PD; j++) c[k * PD + j] = (float)(c[k * PD + j] / sqrt(nn));
        }
    }
    for (int u = 0; u < PU; u++) p->au[u] = (int32_t)nc_rng_below(&r, PK);
    for (int i = 0; i < PI; i++) p->ai[i] = (int32_t)nc_rng_below(&r, PK);
    nc_hparams_default(&p->hp);
    p->hp.embedding_size = PD;
    p->hp.train_batch_size = WS_BATCH;
    p->hp.num_clusters = PK;
    p->hp.reg_weight = 0.2f;
    p->hp.ssl_reg = 0.05f;
    p->hp.alpha = 0.7f;
    p->hp.proto_reg = 0.04f;
    p->hp.ssl_temp = 0.4f;
    nc_err e;
    if (nc_graph_build(PU, PI, p->pu, p->pi, (size_t)p->n_pairs, &p->g, &e))
        fprintf(stderr, "graph: %s\n", e.msg);
}

/* Unweighted terms of the literal reference. */
typedef struct terms {
    double bpr, reg, ssl_u, ssl_i, proto_u, proto_i;
} terms;

static double dot(const double *a, const double *b) {
    double s = 0;
    for (int j = 0; j < PD; j++) s += a[j] * b[j];
    return s;
}

static void unit(const double *x, double *z) {
    double n = fmax(sqrt(dot(x, x)), 1e-12);
    for (int j = 0; j < PD; j++) z[j] = x[j] / n;
}

/* -a.m_t / tau + log sum_v exp(a.m_v / tau), the obvious way. */
static double nce(const double *a, const double *M, int nm, int t, double tau) {
    double s = 0;
    for (int v = 0; v < nm; v++) s += exp(dot(a, M + v * PD) / tau);
    return -dot(a, M + t * PD) / tau + log(s);
}

/* NCL.md's formulas, per batch row, with Â dense from the pair list (values rounded to float
 * once, as the library stores them). */
static terms reference(const problem *p, const double *E0) {
    static double A[PN][PN], E[9][PN * PD];
    int deg[PN] = {0};
    const nc_hparams *hp = &p->hp;
    memset(A, 0, sizeof A);
    for (int k = 0; k < p->n_pairs; k++) {
        deg[p->pu[k]]++;
        deg[PU + p->pi[k]]++;
    }
    for (int k = 0; k < p->n_pairs; k++) {
        int u = p->pu[k], i = PU + p->pi[k];
        A[u][i] = A[i][u] = (float)(pow(deg[u] + 1e-7, -0.5) * pow(deg[i] + 1e-7, -0.5));
    }
    int L = hp->n_layers > 2 * hp->hyper_layers ? hp->n_layers : 2 * hp->hyper_layers;
    memcpy(E[0], E0, sizeof E[0]);
    for (int l = 1; l <= L; l++)
        for (int r = 0; r < PN; r++)
            for (int j = 0; j < PD; j++) {
                double s = 0;
                for (int c = 0; c < PN; c++) s += A[r][c] * E[l - 1][c * PD + j];
                E[l][r * PD + j] = s;
            }
    double F[PN * PD] = {0}, Mn[PN * PD], cu[PK * PD], ci[PK * PD];
    for (int k = 0; k < PN * PD; k++) {
        for (int l = 0; l <= hp->n_layers; l++) F[k] += E[l][k];
        F[k] /= hp->n_layers + 1;
    }
    for (int r = 0; r < PN; r++) unit(E0 + r * PD, Mn + r * PD);
    for (int k = 0; k < PK * PD; k++) {
        cu[k] = p->cu[k];
        ci[k] = p->ci[k];
    }
    const double *C = E[2 * hp->hyper_layers], tau = hp->ssl_temp;
    terms t = {0};
    double ss[3] = {0}, a[PD];
    for (int b = 0; b < p->nb; b++) {
        int u = p->bu[b], i = PU + p->bp[b], n = PU + p->bn[b];
        double x = dot(F + u * PD, F + i * PD) - dot(F + u * PD, F + n * PD);
        t.bpr += -log(1e-10 + 1 / (1 + exp(-x))) / p->nb;
        ss[0] += dot(E0 + u * PD, E0 + u * PD);
        ss[1] += dot(E0 + i * PD, E0 + i * PD);
        ss[2] += dot(E0 + n * PD, E0 + n * PD);
        unit(C + u * PD, a);
        t.ssl_u += nce(a, Mn, PU, u, tau);
        unit(C + i * PD, a);
        t.ssl_i += nce(a, Mn + PU * PD, PI, i - PU, tau);
        t.proto_u += nce(Mn + u * PD, cu, PK, p->au[u], tau);
        t.proto_i += nce(Mn + i * PD, ci, PK, p->ai[i - PU], tau);
    }
    t.reg = (sqrt(ss[0]) + sqrt(ss[1]) + sqrt(ss[2])) / p->nb;
    return t;
}

/* Which terms a loss holds, with their weights. */
typedef struct weights {
    double bpr, reg, ssl_u, ssl_i, proto_u, proto_i;
} weights;

static double weighted(const problem *p, const double *E0, const weights *w) {
    terms t = reference(p, E0);
    return w->bpr * t.bpr + w->reg * t.reg + w->ssl_u * t.ssl_u + w->ssl_i * t.ssl_i +
           w->proto_u * t.proto_u + w->proto_i * t.proto_i;
}

static void fd_gradient(problem *p, const weights *w, double *fd) {
    for (int k = 0; k < PN * PD; k++) {
        double x0 = p->E0[k];
        p->E0[k] = x0 + FD_H;
        double fp = weighted(p, p->E0, w);
        p->E0[k] = x0 - FD_H;
        double fm = weighted(p, p->E0, w);
        p->E0[k] = x0;
        fd[k] = (fp - fm) / (2 * FD_H);
    }
}

/* The library in double: hp as given, protos per side (k = 0 switches a side off). */
static int lib(const problem *p, const nc_hparams *hp, int proto_u, int proto_i, int blk,
               double *grad, nc_loss *l) {
    nc_ncl_ws *ws;
    nc_err e;
    if (nc_ncl_ws_create_d(&p->g, hp, &ws, &e)) {
        fprintf(stderr, "ws: %s\n", e.msg);
        return -1;
    }
    nc_ncl_set_block_rows(ws, blk);
    nc_batch b = {p->nb, p->bu, p->bp, p->bn};
    nc_protos pr = {proto_u ? PK : 0, proto_i ? PK : 0, p->cu, p->ci, p->au, p->ai};
    int rc = nc_ncl_loss_grad_d(ws, p->E0, &b, proto_u || proto_i ? &pr : NULL, grad, l, &e);
    if (rc) fprintf(stderr, "loss_grad: %s\n", e.msg);
    nc_ncl_ws_free(ws);
    return rc;
}

/* The gradient of one term alone as a difference of two library runs (the loss is a sum, so
 * this is exact), against finite differences of the reference's term. */
static void check_term(const char *what, uint64_t seed, int term) {
    problem p;
    make_problem(&p, seed);
    nc_hparams on = p.hp, off = p.hp;
    int pu_on = 0, pi_on = 0;
    weights w = {0};
    on.reg_weight = off.reg_weight = 0;
    on.ssl_reg = off.ssl_reg = 0;
    switch (term) {
    case 0: w.bpr = 1; break; /* 'off' keeps bpr: compared against a zero gradient below */
    case 1: on.reg_weight = p.hp.reg_weight; w.reg = p.hp.reg_weight; break;
    case 2:
        on.ssl_reg = p.hp.ssl_reg;
        on.alpha = 0;
        w.ssl_u = p.hp.ssl_reg;
        break;
    case 3:
        on.ssl_reg = off.ssl_reg = p.hp.ssl_reg;
        off.alpha = 0;
        w.ssl_i = (double)p.hp.ssl_reg * p.hp.alpha;
        break;
    case 4: pu_on = 1; w.proto_u = p.hp.proto_reg; break;
    case 5: pi_on = 1; w.proto_i = p.hp.proto_reg; break;
    }
    double g_on[PN * PD], g_off[PN * PD], fd[PN * PD];
    nc_loss l;
    CHECK(lib(&p, &on, pu_on, pi_on, 2, g_on, &l) == 0, "%s: library failed", what);
    if (term == 0)
        memset(g_off, 0, sizeof g_off);
    else
        CHECK(lib(&p, &off, 0, 0, 2, g_off, &l) == 0, "%s: library failed", what);
    for (int k = 0; k < PN * PD; k++) g_on[k] -= g_off[k];
    fd_gradient(&p, &w, fd);
    check_against(what, g_on, fd, PN * PD, 1e-6);
    nc_graph_free(&p.g);
}

static void test_bpr_term(void) { check_term("bpr", 201, 0); }
static void test_reg_term(void) { check_term("reg", 202, 1); }
static void test_ssl_user_term(void) { check_term("ssl users", 203, 2); }
static void test_ssl_item_term(void) { check_term("ssl items", 204, 3); }
static void test_proto_user_term(void) { check_term("proto users", 205, 4); }
static void test_proto_item_term(void) { check_term("proto items", 206, 5); }

/* Everything at once, for two layer settings (context inside F; context beyond F's layers),
 * with the loss terms the library reports checked against the reference's. */
static void check_whole(uint64_t seed, int n_layers, int hyper) {
    problem p;
    make_problem(&p, seed);
    p.hp.n_layers = n_layers;
    p.hp.hyper_layers = hyper;
    const nc_hparams *hp = &p.hp;
    weights w = {1, hp->reg_weight, hp->ssl_reg, (double)hp->ssl_reg * hp->alpha, hp->proto_reg,
                 hp->proto_reg};
    double g[PN * PD], fd[PN * PD];
    nc_loss l;
    CHECK(lib(&p, hp, 1, 1, 3, g, &l) == 0, "library failed");
    terms t = reference(&p, p.E0);
    CHECK_CLOSE(l.bpr, t.bpr, 1e-14, 1e-12);
    CHECK_CLOSE(l.reg, t.reg, 1e-14, 1e-12);
    CHECK_CLOSE(l.ssl, w.ssl_u * t.ssl_u + w.ssl_i * t.ssl_i, 1e-14, 1e-12);
    CHECK_CLOSE(l.proto, w.proto_u * t.proto_u + w.proto_i * t.proto_i, 1e-14, 1e-12);
    CHECK_CLOSE(l.total, weighted(&p, p.E0, &w), 1e-14, 1e-12);
    fd_gradient(&p, &w, fd);
    char what[64];
    snprintf(what, sizeof what, "whole loss (n_layers %d, hyper_layers %d)", n_layers, hyper);
    check_against(what, g, fd, PN * PD, 1e-6);
    nc_graph_free(&p.g);
}

static void test_whole_loss(void) {
    check_whole(301, 3, 1);
    check_whole(302, 2, 2);
}

/* The isolated user and item in the batch: their context rows are 0 (normalisation clamp),
 * everything stays finite and still matches the reference. */
static void test_isolated_nodes_in_batch(void) {
    problem p;
    make_problem(&p, 401);
    p.bu[0] = PU - 1; /* no edges: E_l = 0 for l >= 1 */
    p.bp[0] = PI - 1;
    p.bn[1] = PI - 1;
    const nc_hparams *hp = &p.hp;
    weights w = {1, hp->reg_weight, hp->ssl_reg, (double)hp->ssl_reg * hp->alpha, hp->proto_reg,
                 hp->proto_reg};
    double g[PN * PD], fd[PN * PD];
    nc_loss l;
    CHECK(lib(&p, hp, 1, 1, 0, g, &l) == 0, "library failed");
    int finite = isfinite(l.total);
    for (int k = 0; k < PN * PD; k++) finite &= isfinite(g[k]) != 0;
    CHECK(finite, "non-finite loss or gradient");
    CHECK_CLOSE(l.total, weighted(&p, p.E0, &w), 1e-14, 1e-12);
    fd_gradient(&p, &w, fd);
    check_against("isolated nodes in the batch", g, fd, PN * PD, 1e-6);
    nc_graph_free(&p.g);
}

/* ---------------- the propagation ---------------- */

/* <R, Â X> has gradient Â R w.r.t. X (Â symmetric), and accumulate mode adds. */
static void test_spmm(void) {
    problem p;
    make_problem(&p, 501);
    nc_rng r;
    nc_rng_seed(&r, 7);
    double X[PN * PD], R[PN * PD], AR[PN * PD], AX[PN * PD], fd[PN * PD], acc[PN * PD];
    fill(X, PN * PD, &r, 2);
    fill(R, PN * PD, &r, 2);
    nc_graph_spmm_d(&p.g, R, AR, PD, 0);
    for (int k = 0; k < PN * PD; k++) {
        double x0 = X[k], f[2];
        for (int s = 0; s < 2; s++) {
            X[k] = x0 + (s ? -FD_H : FD_H);
            nc_graph_spmm_d(&p.g, X, AX, PD, 0);
            f[s] = 0;
            for (int j = 0; j < PN * PD; j++) f[s] += R[j] * AX[j];
        }
        X[k] = x0;
        fd[k] = (f[0] - f[1]) / (2 * FD_H);
    }
    check_against("spmm", AR, fd, PN * PD, 1e-6);
    for (int k = 0; k < PN * PD; k++) acc[k] = X[k];
    nc_graph_spmm_d(&p.g, R, acc, PD, 1);
    for (int k = 0; k < PN * PD; k++) CHECK_CLOSE(acc[k], X[k] + AR[k], 1e-15, 1e-14);
    for (int j = 0; j < PD; j++)
        CHECK(AR[(PU - 1) * PD + j] == 0 && AR[(PN - 1) * PD + j] == 0, "isolated rows not 0");
    nc_graph_free(&p.g);
}

/* F = mean(E_0..E_n_layers): the gradient of <R, F> is sum_l Â^l R / (n_layers + 1). */
static void test_propagation(void) {
    problem p;
    make_problem(&p, 502);
    nc_ncl_ws *ws;
    nc_err e;
    CHECK(nc_ncl_ws_create_d(&p.g, &p.hp, &ws, &e) == 0, "%s", e.msg);
    nc_rng r;
    nc_rng_seed(&r, 8);
    double R[PN * PD], F[PN * PD], G[PN * PD] = {0}, T[PN * PD], T2[PN * PD], fd[PN * PD];
    fill(R, PN * PD, &r, 2);
    memcpy(T, R, sizeof T);
    for (int l = 0; l <= p.hp.n_layers; l++) {
        for (int k = 0; k < PN * PD; k++) G[k] += T[k] / (p.hp.n_layers + 1);
        nc_graph_spmm_d(&p.g, T, T2, PD, 0);
        memcpy(T, T2, sizeof T);
    }
    for (int k = 0; k < PN * PD; k++) {
        double x0 = p.E0[k], f[2];
        for (int s = 0; s < 2; s++) {
            p.E0[k] = x0 + (s ? -FD_H : FD_H);
            CHECK(nc_ncl_embed_d(ws, p.E0, F, F + PU * PD, &e) == 0, "%s", e.msg);
            f[s] = 0;
            for (int j = 0; j < PN * PD; j++) f[s] += R[j] * F[j];
        }
        p.E0[k] = x0;
        fd[k] = (f[0] - f[1]) / (2 * FD_H);
    }
    check_against("propagation", G, fd, PN * PD, 1e-6);
    nc_ncl_ws_free(ws);
    nc_graph_free(&p.g);
}

/* ---------------- exact properties ---------------- */

/* The batch written three times over: bpr is a mean (same), reg's norms grow by sqrt(3) over
 * 3x the rows, ssl and proto are sums (x3). Multiplicities must make this hold to rounding. */
static void test_repeated_batch(void) {
    problem p, q;
    make_problem(&p, 601);
    q = p;
    for (int c = 1; c < 3; c++)
        for (int b = 0; b < p.nb; b++) {
            q.bu[c * p.nb + b] = p.bu[b];
            q.bp[c * p.nb + b] = p.bp[b];
            q.bn[c * p.nb + b] = p.bn[b];
        }
    q.nb = 3 * p.nb;
    double g1[PN * PD], g3[PN * PD];
    nc_loss l1, l3;
    CHECK(lib(&p, &p.hp, 1, 1, 0, g1, &l1) == 0 && lib(&q, &p.hp, 1, 1, 0, g3, &l3) == 0,
          "library failed");
    CHECK_CLOSE(l3.bpr, l1.bpr, 0, 1e-13);
    CHECK_CLOSE(l3.reg, l1.reg / sqrt(3.0), 0, 1e-13);
    CHECK_CLOSE(l3.ssl, 3 * l1.ssl, 0, 1e-13);
    CHECK_CLOSE(l3.proto, 3 * l1.proto, 0, 1e-13);
    /* gradients: bpr's is the same (a mean); ssl + proto's, the difference between a run with
     * them and a bpr-only run, triples. reg (not linear in the rows) is left out. */
    nc_hparams contrast = p.hp;
    contrast.reg_weight = 0;
    double c1[PN * PD], c3[PN * PD], b1[PN * PD], b3[PN * PD];
    nc_hparams bpr_only = contrast;
    bpr_only.ssl_reg = 0;
    CHECK(lib(&p, &contrast, 1, 1, 0, c1, &l1) == 0 && lib(&q, &contrast, 1, 1, 0, c3, &l3) == 0,
          "library failed");
    CHECK(lib(&p, &bpr_only, 0, 0, 0, b1, &l1) == 0 && lib(&q, &bpr_only, 0, 0, 0, b3, &l3) == 0,
          "library failed");
    double worst = 0, gmax = 0;
    for (int k = 0; k < PN * PD; k++) {
        double s1 = c1[k] - b1[k], s3 = c3[k] - b3[k]; /* ssl + proto */
        worst = fmax(worst, fabs(s3 - 3 * s1));
        worst = fmax(worst, fabs(b3[k] - b1[k]));
        gmax = fmax(gmax, fabs(s3));
    }
    CHECK(gmax > 1e-3 && worst <= 1e-12 * gmax, "repeated batch: off by %g (max %g)", worst, gmax);
    nc_graph_free(&p.g);
}

/* One workspace serving different batches gives what a fresh one gives (nothing of the first
 * batch leaks into the second), whatever the block size. */
static void test_workspace_reuse_and_blocks(void) {
    problem p, q;
    make_problem(&p, 701);
    make_problem(&q, 702);
    nc_graph_free(&q.g); /* q contributes its batch only: same graph as p */
    nc_ncl_ws *ws;
    nc_err e;
    CHECK(nc_ncl_ws_create_d(&p.g, &p.hp, &ws, &e) == 0, "%s", e.msg);
    nc_batch b1 = {p.nb, p.bu, p.bp, p.bn}, b2 = {9, q.bu, q.bp, q.bn};
    nc_protos pr = {PK, PK, p.cu, p.ci, p.au, p.ai};
    double g_a[PN * PD], g_b[PN * PD], g_fresh[PN * PD];
    nc_loss la, lb, lf;
    CHECK(nc_ncl_loss_grad_d(ws, p.E0, &b1, &pr, g_a, &la, &e) == 0, "%s", e.msg);
    CHECK(nc_ncl_loss_grad_d(ws, p.E0, &b2, &pr, g_b, &lb, &e) == 0, "%s", e.msg);
    problem r = p;
    r.nb = 9;
    memcpy(r.bu, q.bu, sizeof r.bu);
    memcpy(r.bp, q.bp, sizeof r.bp);
    memcpy(r.bn, q.bn, sizeof r.bn);
    CHECK(lib(&r, &p.hp, 1, 1, 0, g_fresh, &lf) == 0, "library failed");
    CHECK(memcmp(g_b, g_fresh, sizeof g_b) == 0 && lb.total == lf.total,
          "second batch on a used workspace differs from a fresh workspace");
    for (int blk = 1; blk <= 5; blk += 2) {
        double g_blk[PN * PD];
        CHECK(lib(&r, &p.hp, 1, 1, blk, g_blk, &lf) == 0, "library failed");
        double worst = 0;
        for (int k = 0; k < PN * PD; k++) worst = fmax(worst, fabs(g_blk[k] - g_fresh[k]));
        CHECK(worst <= 1e-14 && fabs(lf.total - lb.total) <= 1e-14,
              "block rows %d: gradient off by %g", blk, worst);
    }
    nc_ncl_ws_free(ws);
    nc_graph_free(&p.g);
}

/* The float path with one thread and with two agrees (rows are split differently), and two
 * runs with the same threads agree to the bit (no sum depends on thread timing). */
static void test_threads_agree(void) {
    problem p;
    make_problem(&p, 801);
    float E0[PN * PD], g1[PN * PD], g2[PN * PD], g3[PN * PD];
    for (int k = 0; k < PN * PD; k++) E0[k] = (float)p.E0[k];
    nc_batch b = {p.nb, p.bu, p.bp, p.bn};
    nc_protos pr = {PK, PK, p.cu, p.ci, p.au, p.ai};
    nc_loss l1, l2, l3;
    nc_err e;
    nc_ncl_ws *ws;
    CHECK(nc_ncl_ws_create(&p.g, &p.hp, &ws, &e) == 0, "%s", e.msg);
    nc_set_threads(1);
    CHECK(nc_ncl_loss_grad(ws, E0, &b, &pr, g1, &l1, &e) == 0, "%s", e.msg);
    nc_set_threads(2);
    CHECK(nc_ncl_loss_grad(ws, E0, &b, &pr, g2, &l2, &e) == 0, "%s", e.msg);
    CHECK(nc_ncl_loss_grad(ws, E0, &b, &pr, g3, &l3, &e) == 0, "%s", e.msg);
    CHECK(memcmp(g2, g3, sizeof g2) == 0 && l2.total == l3.total, "two runs differ");
    double worst = 0, gmax = 0;
    for (int k = 0; k < PN * PD; k++) {
        worst = fmax(worst, fabs((double)g1[k] - g2[k]));
        gmax = fmax(gmax, fabs((double)g1[k]));
    }
    CHECK(worst <= 1e-6 * gmax, "1 vs 2 threads: gradient off by %g (max %g)", worst, gmax);
    CHECK_CLOSE(l1.total, l2.total, 0, 1e-6);
    nc_ncl_ws_free(ws);
    nc_graph_free(&p.g);
}

int main(void) {
    nc_set_threads(2);
    RUN(test_infonce_kernel);
    RUN(test_bpr_kernel);
    RUN(test_frobenius_kernel);
    RUN(test_normalisation_kernel);
    RUN(test_spmm);
    RUN(test_propagation);
    RUN(test_bpr_term);
    RUN(test_reg_term);
    RUN(test_ssl_user_term);
    RUN(test_ssl_item_term);
    RUN(test_proto_user_term);
    RUN(test_proto_item_term);
    RUN(test_whole_loss);
    RUN(test_isolated_nodes_in_batch);
    RUN(test_repeated_batch);
    RUN(test_workspace_reuse_and_blocks);
    RUN(test_threads_agree);
    return TEST_REPORT();
}
