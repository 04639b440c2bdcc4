/* test_ncl.c - the NCL math against a literal re-statement of NCL.md and against central
 * finite differences, in double precision, on small random graphs.
 *
 * The reference here (ref_loss) is written the slow, obvious way: a dense Â from the pair list,
 * every layer as a dense product, every batch row's terms computed on its own (duplicates and
 * all), sums over ALL users / items in the denominators. The library computes the same loss
 * from distinct rows with multiplicities, sparse products and blocked sgemm; the two must
 * agree to rounding, and the library's gradient must match central differences of the
 * reference, for each term alone and for the whole loss. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "ncl.h"
#include "ncl_kernels.h"
#include "testhelp.h"

typedef struct problem {
    int32_t U, I, N, d, B, K;
    int32_t n_pairs;
    int32_t pu[64], pi[64];        /* training pairs (distinct) */
    int32_t bu[40], bp[40], bn[40]; /* batch */
    double *E0;                     /* N x d */
    float cu[4 * 8], ci[4 * 8];     /* K x d normalised centroids (d <= 8) */
    int32_t au[16], ai[16];         /* assignments */
    nc_hparams hp;
    nc_graph g;
} problem;

/* A graph with isolated nodes (the last user and item have no edges), a batch with repeated
 * users and items, and centroids. */
static void make_problem(problem *p, uint64_t seed, int32_t B) {
    memset(p, 0, sizeof *p);
    nc_rng r;
    nc_rng_seed(&r, seed);
    p->U = 7;
    p->I = 9;
    p->N = p->U + p->I;
    p->d = 5;
    p->B = B;
    p->K = 3;
    char seen[7][9] = {{0}};
    while (p->n_pairs < 26) {
        int32_t u = (int32_t)nc_rng_below(&r, p->U - 1), i = (int32_t)nc_rng_below(&r, p->I - 1);
        if (seen[u][i]) continue;
        seen[u][i] = 1;
        p->pu[p->n_pairs] = u;
        p->pi[p->n_pairs++] = i;
    }
    for (int32_t b = 0; b < B; b++) {
        int32_t k = (int32_t)nc_rng_below(&r, p->n_pairs);
        p->bu[b] = p->pu[k];
        p->bp[b] = p->pi[k];
        p->bn[b] = (int32_t)nc_rng_below(&r, p->I);
    }
    p->E0 = malloc(sizeof(double) * p->N * p->d);
    for (int32_t k = 0; k < p->N * p->d; k++) p->E0[k] = nc_rng_uniform(&r) - 0.5;
    for (int s = 0; s < 2; s++) {
        float *c = s ? p->ci : p->cu;
        for (int32_t k = 0; k < p->K; k++) {
            double nn = 0;
            for (int32_t j = 0; j < p->d; j++) {
                c[k * p->d + j] = (float)(nc_rng_uniform(&r) - 0.5);
                nn += c[k * p->d + j] * c[k * p->d + j];
            }
            for (int32_t j = 0; j < p->d; j++) c[k * p->d + j] /= (float)sqrt(nn);
        }
    }
    for (int32_t u = 0; u < p->U; u++) p->au[u] = (int32_t)nc_rng_below(&r, p->K);
    for (int32_t i = 0; i < p->I; i++) p->ai[i] = (int32_t)nc_rng_below(&r, p->K);
    nc_hparams_default(&p->hp);
    p->hp.embedding_size = p->d;
    p->hp.train_batch_size = 40;
    p->hp.num_clusters = p->K;
    /* weights large enough that every term moves the gradient well above rounding */
    p->hp.reg_weight = 0.3f;
    p->hp.ssl_reg = 0.05f;
    p->hp.alpha = 0.7f;
    p->hp.proto_reg = 0.04f;
    p->hp.ssl_temp = 0.5f;
    nc_err e;
    int rc = nc_graph_build(p->U, p->I, p->pu, p->pi, (size_t)p->n_pairs, &p->g, &e);
    if (rc) fprintf(stderr, "graph: %s\n", e.msg);
}

static void free_problem(problem *p) {
    free(p->E0);
    nc_graph_free(&p->g);
}

/* ---------------- the literal reference ---------------- */

typedef struct terms {
    double bpr, reg, ssl, proto;
} terms;

static double dot(const double *a, const double *b, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) s += a[j] * b[j];
    return s;
}

static void normalise(const double *x, double *z, int d) {
    double n = sqrt(dot(x, x, d));
    if (n < 1e-12) n = 1e-12;
    for (int j = 0; j < d; j++) z[j] = x[j] / n;
}

/* sum_b ( -a_b.m_{t_b}/tau + log sum_v exp(a_b.m_v/tau) ) with a_b, m_v given. */
static double infonce_row(const double *a, const double *M, int nm, int t, int d, double tau) {
    double mx = -1e300, s = 0;
    for (int v = 0; v < nm; v++) mx = fmax(mx, dot(a, M + v * d, d) / tau);
    for (int v = 0; v < nm; v++) s += exp(dot(a, M + v * d, d) / tau - mx);
    return -dot(a, M + t * d, d) / tau + mx + log(s);
}

static terms ref_loss(const problem *p, const double *E0, int with_proto) {
    const int N = p->N, d = p->d, U = p->U, I = p->I, B = p->B;
    const nc_hparams *hp = &p->hp;
    double *A = calloc((size_t)N * N, sizeof(double));
    double deg[64] = {0};
    for (int k = 0; k < p->n_pairs; k++) {
        A[p->pu[k] * N + U + p->pi[k]] = A[(U + p->pi[k]) * N + p->pu[k]] = 1;
        deg[p->pu[k]] += 1;
        deg[U + p->pi[k]] += 1;
    }
    int L = hp->n_layers > 2 * hp->hyper_layers ? hp->n_layers : 2 * hp->hyper_layers;
    double *E = calloc((size_t)(L + 1) * N * d, sizeof(double));
    memcpy(E, E0, sizeof(double) * N * d);
    for (int l = 1; l <= L; l++)
        for (int r = 0; r < N; r++)
            for (int c = 0; c < N; c++) {
                if (!A[r * N + c]) continue;
                double w = 1 / (sqrt(deg[r] + 1e-7) * sqrt(deg[c] + 1e-7));
                for (int j = 0; j < d; j++) E[(l * N + r) * d + j] += w * E[((l - 1) * N + c) * d + j];
            }
    double *F = calloc((size_t)N * d, sizeof(double)), *Mn = calloc((size_t)N * d, sizeof(double));
    for (int r = 0; r < N; r++) {
        for (int l = 0; l <= hp->n_layers; l++)
            for (int j = 0; j < d; j++) F[r * d + j] += E[(l * N + r) * d + j] / (hp->n_layers + 1);
        normalise(E0 + r * d, Mn + r * d, d);
    }
    const double *C = E + (size_t)2 * hp->hyper_layers * N * d;
    terms t = {0};
    double ru = 0, rp = 0, rn = 0, ssl_u = 0, ssl_i = 0, pr_u = 0, pr_i = 0;
    double Cu[8], Cu_n[8], cent[2][4 * 8];
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < p->K * d; k++) cent[s][k] = s ? p->ci[k] : p->cu[k];
    for (int b = 0; b < B; b++) {
        int u = p->bu[b], ip = U + p->bp[b], in = U + p->bn[b];
        double x = dot(F + u * d, F + ip * d, d) - dot(F + u * d, F + in * d, d);
        t.bpr += -log(1e-10 + 1 / (1 + exp(-x))) / B;
        ru += dot(E0 + u * d, E0 + u * d, d);
        rp += dot(E0 + ip * d, E0 + ip * d, d);
        rn += dot(E0 + in * d, E0 + in * d, d);
        memcpy(Cu, C + u * d, sizeof(double) * d);
        normalise(Cu, Cu_n, d);
        ssl_u += infonce_row(Cu_n, Mn, U, u, d, hp->ssl_temp);
        memcpy(Cu, C + ip * d, sizeof(double) * d);
        normalise(Cu, Cu_n, d);
        ssl_i += infonce_row(Cu_n, Mn + U * d, I, ip - U, d, hp->ssl_temp);
        pr_u += infonce_row(Mn + u * d, cent[0], p->K, p->au[u], d, hp->ssl_temp);
        pr_i += infonce_row(Mn + ip * d, cent[1], p->K, p->ai[ip - U], d, hp->ssl_temp);
    }
    t.reg = (sqrt(ru) + sqrt(rp) + sqrt(rn)) / B;
    t.ssl = hp->ssl_reg * (ssl_u + hp->alpha * ssl_i);
    t.proto = with_proto ? hp->proto_reg * (pr_u + pr_i) : 0;
    free(A);
    free(E);
    free(F);
    free(Mn);
    return t;
}

static double ref_total(const problem *p, const double *E0, int with_proto, unsigned mask) {
    terms t = ref_loss(p, E0, with_proto);
    return ((mask & 1) ? t.bpr : 0) + ((mask & 2) ? p->hp.reg_weight * t.reg : 0) +
           ((mask & 4) ? t.ssl : 0) + ((mask & 8) ? t.proto : 0);
}

/* ---------------- the library ---------------- */

static int lib_grad(problem *p, const double *E0, int with_proto, double *grad, nc_loss *l) {
    nc_ncl_ws *ws;
    nc_err e;
    if (nc_ncl_ws_create_d(&p->g, &p->hp, &ws, &e)) {
        fprintf(stderr, "ws: %s\n", e.msg);
        return -1;
    }
    nc_ncl_set_block_rows(ws, 2); /* several softmax blocks even on a tiny graph */
    nc_batch b = {p->B, p->bu, p->bp, p->bn};
    nc_protos pr = {p->K, p->K, p->cu, p->ci, p->au, p->ai};
    int rc = nc_ncl_loss_grad_d(ws, E0, &b, with_proto ? &pr : NULL, grad, l, &e);
    if (rc) fprintf(stderr, "loss_grad: %s\n", e.msg);
    nc_ncl_ws_free(ws);
    return rc;
}

/* Gradient of one term alone: the library gives the gradient of the total, so a term's
 * gradient is the difference between the total with and without it (the others unchanged). */
static int term_grad(problem *p, unsigned term, double *g) {
    size_t n = (size_t)p->N * p->d;
    double *g_without = malloc(sizeof(double) * n);
    nc_loss l;
    nc_hparams saved = p->hp;
    int with_proto = term == 8 || term == 15;
    int rc = lib_grad(p, p->E0, with_proto, g, &l);
    if (term == 15 || term == 1) {
        if (term == 1) { /* bpr alone: switch every other term off */
            p->hp.reg_weight = 0;
            p->hp.ssl_reg = 0;
            rc |= lib_grad(p, p->E0, 0, g, &l);
        }
        p->hp = saved;
        free(g_without);
        return rc;
    }
    if (term == 2) p->hp.reg_weight = 0;
    if (term == 4) p->hp.ssl_reg = 0;
    rc |= lib_grad(p, p->E0, term == 8 ? 0 : with_proto, g_without, &l);
    for (size_t k = 0; k < n; k++) g[k] -= g_without[k];
    p->hp = saved;
    free(g_without);
    return rc;
}

/* Central differences of the reference for the terms in mask against g; prints the worst. */
static void check_fd(problem *p, unsigned mask, const double *g, const char *what) {
    const double h = 1e-6;
    int with_proto = (mask & 8) != 0;
    double worst = 0;
    int worst_k = -1;
    double worst_fd = 0;
    for (int k = 0; k < p->N * p->d; k++) {
        double x = p->E0[k];
        p->E0[k] = x + h;
        double fp = ref_total(p, p->E0, with_proto, mask);
        p->E0[k] = x - h;
        double fm = ref_total(p, p->E0, with_proto, mask);
        p->E0[k] = x;
        double fd = (fp - fm) / (2 * h);
        double err = fabs(fd - g[k]) / (1e-7 + 1e-5 * fabs(fd));
        if (err > worst) {
            worst = err;
            worst_k = k;
            worst_fd = fd;
        }
    }
    CHECK(worst <= 1, "%s: worst entry %d (row %d col %d): analytic %.10g, finite difference "
          "%.10g", what, worst_k, worst_k / p->d, worst_k % p->d, g[worst_k], worst_fd);
}

static void check_term(uint64_t seed, unsigned term, const char *what) {
    problem p;
    make_problem(&p, seed, 37);
    double *g = malloc(sizeof(double) * p.N * p.d);
    CHECK(term_grad(&p, term, g) == 0, "library call failed");
    double gmax = 0;
    for (int k = 0; k < p.N * p.d; k++) gmax = fmax(gmax, fabs(g[k]));
    CHECK(gmax > 1e-4, "%s: gradient is ~0 (%g): the check would prove nothing", what, gmax);
    check_fd(&p, term, g, what);
    free(g);
    free_problem(&p);
}

static void test_bpr_gradient(void) { check_term(11, 1, "bpr"); }
static void test_reg_gradient(void) { check_term(12, 2, "reg"); }
static void test_ssl_gradient(void) { check_term(13, 4, "ssl"); }
static void test_proto_gradient(void) { check_term(14, 8, "proto"); }
static void test_whole_loss_gradient(void) {
    check_term(15, 15, "total");
    check_term(16, 15, "total, other seed");
}

/* The library's loss terms equal the literal per-row reference (multiplicities are exact).
 * Â is stored in float in both the library and the reference implementation, so terms that
 * go through the graph agree to ~1e-9 relative, the others to rounding. */
static void test_loss_matches_literal_reference(void) {
    for (uint64_t seed = 1; seed <= 3; seed++) {
        problem p;
        make_problem(&p, seed, 37);
        double *g = malloc(sizeof(double) * p.N * p.d);
        nc_loss l;
        CHECK(lib_grad(&p, p.E0, 1, g, &l) == 0, "library call failed");
        terms t = ref_loss(&p, p.E0, 1);
        CHECK_CLOSE(l.bpr, t.bpr, 1e-12, 1e-8);
        CHECK_CLOSE(l.reg, t.reg, 1e-14, 1e-12);
        CHECK_CLOSE(l.ssl, t.ssl, 1e-12, 1e-8);
        CHECK_CLOSE(l.proto, t.proto, 1e-14, 1e-12);
        CHECK_CLOSE(l.total, t.bpr + p.hp.reg_weight * t.reg + t.ssl + t.proto, 1e-12, 1e-8);
        free(g);
        free_problem(&p);
    }
}

/* Â as NCL.md defines it: 1/sqrt(deg_r deg_c), deg = distinct neighbours + 1e-7; symmetric. */
static void test_normalised_adjacency(void) {
    problem p;
    make_problem(&p, 21, 10);
    int deg[64] = {0};
    for (int k = 0; k < p.n_pairs; k++) {
        deg[p.pu[k]]++;
        deg[p.U + p.pi[k]]++;
    }
    CHECK(p.g.nnz == 2 * p.n_pairs, "nnz %lld for %d pairs", (long long)p.g.nnz, p.n_pairs);
    for (int r = 0; r < p.N; r++)
        for (int64_t k = p.g.row_ptr[r]; k < p.g.row_ptr[r + 1]; k++) {
            int c = p.g.col[k];
            double want = 1 / (sqrt(deg[r] + 1e-7) * sqrt(deg[c] + 1e-7));
            CHECK_CLOSE(p.g.val[k], want, 0, 1e-6);
        }
    /* <Â x, y> = <x, Â y>: the backward's use of Â for Â^T is sound */
    nc_rng r;
    nc_rng_seed(&r, 5);
    double x[16 * 5], y[16 * 5], ax[16 * 5], ay[16 * 5];
    for (int k = 0; k < p.N * p.d; k++) {
        x[k] = nc_rng_uniform(&r);
        y[k] = nc_rng_uniform(&r);
    }
    nc_graph_spmm_d(&p.g, x, ax, p.d, 0);
    nc_graph_spmm_d(&p.g, y, ay, p.d, 0);
    double l = 0, rr = 0;
    for (int k = 0; k < p.N * p.d; k++) {
        l += ax[k] * y[k];
        rr += x[k] * ay[k];
    }
    CHECK_CLOSE(l, rr, 1e-12, 1e-12);
    /* isolated nodes propagate to zero */
    for (int j = 0; j < p.d; j++) {
        CHECK(ax[(p.U - 1) * p.d + j] == 0, "isolated user row not zero");
        CHECK(ax[(p.N - 1) * p.d + j] == 0, "isolated item row not zero");
    }
    free_problem(&p);
}

/* Propagation: F = mean of layers; the gradient of sum(R * F) reaches E0 through Â^l. */
static void test_propagation_gradient(void) {
    problem p;
    make_problem(&p, 31, 10);
    nc_ncl_ws *ws;
    nc_err e;
    CHECK(nc_ncl_ws_create_d(&p.g, &p.hp, &ws, &e) == 0, "%s", e.msg);
    size_t n = (size_t)p.N * p.d;
    double *R = malloc(sizeof(double) * n), *F = malloc(sizeof(double) * n);
    double *G = calloc(n, sizeof(double)), *T = malloc(sizeof(double) * n);
    nc_rng r;
    nc_rng_seed(&r, 9);
    for (size_t k = 0; k < n; k++) R[k] = nc_rng_uniform(&r) - 0.5;
    /* analytic: dE0 = sum_l Â^l R / (nl + 1) */
    memcpy(T, R, sizeof(double) * n);
    for (int l = 0; l <= p.hp.n_layers; l++) {
        for (size_t k = 0; k < n; k++) G[k] += T[k] / (p.hp.n_layers + 1);
        double *tmp = malloc(sizeof(double) * n);
        nc_graph_spmm_d(&p.g, T, tmp, p.d, 0);
        memcpy(T, tmp, sizeof(double) * n);
        free(tmp);
    }
    double worst = 0;
    for (size_t k = 0; k < n; k++) {
        double x = p.E0[k], f[2];
        for (int s = 0; s < 2; s++) {
            p.E0[k] = x + (s ? -1e-6 : 1e-6);
            nc_ncl_embed_d(ws, p.E0, F, F + (size_t)p.U * p.d, &e);
            f[s] = 0;
            for (size_t j = 0; j < n; j++) f[s] += R[j] * F[j];
        }
        p.E0[k] = x;
        worst = fmax(worst, fabs((f[0] - f[1]) / 2e-6 - G[k]));
    }
    CHECK(worst < 1e-7, "propagation gradient off by %g", worst);
    free(R);
    free(F);
    free(G);
    free(T);
    nc_ncl_ws_free(ws);
    free_problem(&p);
}

/* z = x/||x||: backward against finite differences, and the clamp for tiny rows. */
static void test_normalisation_gradient(void) {
    double x[3 * 4] = {0.3, -1.2, 0.5, 2.0, 1e-14, 0, 0, 0, -0.7, 0.1, 0.2, 0.9};
    double R[12], z[12], nrm[3], dx[12];
    for (int k = 0; k < 12; k++) R[k] = 0.1 * k - 0.4;
    nc_kern_normalize_d(x, 3, 4, z, nrm);
    nc_kern_normalize_bwd_d(z, nrm, R, 3, 4, dx, 0);
    for (int k = 0; k < 12; k++) {
        double h = fabs(x[k]) > 1e-10 ? 1e-6 : 1e-16, f[2];
        double xk = x[k];
        for (int s = 0; s < 2; s++) {
            x[k] = xk + (s ? -h : h);
            double zz[12], nn[3];
            nc_kern_normalize_d(x, 3, 4, zz, nn);
            f[s] = 0;
            for (int j = 0; j < 12; j++) f[s] += R[j] * zz[j];
        }
        x[k] = xk;
        double fd = (f[0] - f[1]) / (2 * h);
        CHECK(fabs(fd - dx[k]) <= 1e-6 * (1 + fabs(fd)), "entry %d: analytic %g, fd %g", k,
              dx[k], fd);
    }
}

/* The float path (what training runs) agrees with the double path. */
static void test_float_matches_double(void) {
    problem p;
    make_problem(&p, 41, 37);
    size_t n = (size_t)p.N * p.d;
    double *gd = malloc(sizeof(double) * n);
    float *E0f = malloc(sizeof(float) * n), *gf = malloc(sizeof(float) * n);
    for (size_t k = 0; k < n; k++) E0f[k] = (float)p.E0[k];
    for (size_t k = 0; k < n; k++) p.E0[k] = E0f[k];
    nc_loss ld, lf;
    CHECK(lib_grad(&p, p.E0, 1, gd, &ld) == 0, "double failed");
    nc_ncl_ws *ws;
    nc_err e;
    CHECK(nc_ncl_ws_create(&p.g, &p.hp, &ws, &e) == 0, "%s", e.msg);
    nc_batch b = {p.B, p.bu, p.bp, p.bn};
    nc_protos pr = {p.K, p.K, p.cu, p.ci, p.au, p.ai};
    CHECK(nc_ncl_loss_grad(ws, E0f, &b, &pr, gf, &lf, &e) == 0, "%s", e.msg);
    CHECK_CLOSE(lf.total, ld.total, 1e-6, 1e-5);
    double worst = 0, gmax = 0;
    for (size_t k = 0; k < n; k++) {
        worst = fmax(worst, fabs(gf[k] - gd[k]));
        gmax = fmax(gmax, fabs(gd[k]));
    }
    CHECK(worst <= 1e-5 * gmax + 1e-7, "float gradient differs by %g (max %g)", worst, gmax);
    /* a bad batch is refused, naming the problem */
    int32_t bad_user[1] = {p.U};
    nc_batch bb = {1, bad_user, p.bp, p.bn};
    CHECK(nc_ncl_loss_grad(ws, E0f, &bb, NULL, gf, &lf, &e) == NC_EINVAL &&
              strstr(e.msg, "user"), "out-of-range user accepted: %s", e.msg);
    nc_ncl_ws_free(ws);
    free(gd);
    free(E0f);
    free(gf);
    free_problem(&p);
}

/* The FLOP count the benchmark divides by the epoch's time: the sparse products over both
 * directions of every pair, and the softmax products over the batch's DISTINCT users and
 * items (counted here by hand from the batch), each alone and together. */
static int32_t count_distinct(const int32_t *x, int32_t n) {
    int32_t c = 0;
    for (int32_t k = 0; k < n; k++) {
        int32_t seen = 0;
        for (int32_t j = 0; j < k && !seen; j++) seen = x[j] == x[k];
        c += !seen;
    }
    return c;
}

static void test_flop_count(void) {
    problem p;
    make_problem(&p, 43, 37);
    size_t n = (size_t)p.N * p.d;
    float *E0 = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n);
    for (size_t k = 0; k < n; k++) E0[k] = (float)p.E0[k];
    const double d = p.d, L = 3, nnz = 2.0 * p.n_pairs; /* n_layers 3 > 2 hyper_layers */
    const double nu = count_distinct(p.bu, p.B), np = count_distinct(p.bp, p.B);
    const double base = 4 * L * nnz * d + 12.0 * p.B * d;
    const double ssl = 6 * nu * p.U * d + 6 * np * p.I * d, proto = 4 * (nu + np) * p.K * d;
    nc_batch b = {p.B, p.bu, p.bp, p.bn};
    nc_protos pr = {p.K, p.K, p.cu, p.ci, p.au, p.ai};
    nc_loss l;
    nc_err e;
    nc_ncl_ws *ws;
    CHECK(nc_ncl_ws_create(&p.g, &p.hp, &ws, &e) == 0, "%s", e.msg);
    CHECK(nc_ncl_flops(ws) == 0, "a new workspace counts %g", nc_ncl_flops(ws));
    CHECK(nc_ncl_loss_grad(ws, E0, &b, NULL, g, &l, &e) == 0, "%s", e.msg);
    CHECK_CLOSE(nc_ncl_flops(ws), base + ssl, 0, 1e-12);
    CHECK(nc_ncl_loss_grad(ws, E0, &b, &pr, g, &l, &e) == 0, "%s", e.msg);
    CHECK_CLOSE(nc_ncl_flops(ws), 2 * (base + ssl) + proto, 0, 1e-12);
    nc_ncl_timers_reset(ws);
    CHECK(nc_ncl_flops(ws) == 0, "reset left %g", nc_ncl_flops(ws));
    nc_ncl_ws_free(ws);
    p.hp.ssl_reg = 0; /* LightGCN + proto: no structure products */
    CHECK(nc_ncl_ws_create(&p.g, &p.hp, &ws, &e) == 0, "%s", e.msg);
    CHECK(nc_ncl_loss_grad(ws, E0, &b, &pr, g, &l, &e) == 0, "%s", e.msg);
    CHECK_CLOSE(nc_ncl_flops(ws), base + proto, 0, 1e-12);
    nc_ncl_ws_free(ws);
    free(E0);
    free(g);
    free_problem(&p);
}

int main(void) {
    nc_set_threads(2);
    RUN(test_normalised_adjacency);
    RUN(test_loss_matches_literal_reference);
    RUN(test_bpr_gradient);
    RUN(test_reg_gradient);
    RUN(test_ssl_gradient);
    RUN(test_proto_gradient);
    RUN(test_whole_loss_gradient);
    RUN(test_propagation_gradient);
    RUN(test_normalisation_gradient);
    RUN(test_float_matches_double);
    RUN(test_flop_count);
    return TEST_REPORT();
}
