/* test_ssl_sampled.c - the sampled structure term (hparams ssl_negatives = N > 0), in double.
 *
 *   gradient   with a fixed sample per side, the library's loss and gradient of the structure
 *              term against a literal per-row statement of the sampled loss (dense Â, no
 *              de-duplication) and its central finite differences; the sample holds some of
 *              the batch's own rows (left out of their own negatives) and some other rows;
 *   N >= M     drawing every row gives the exact structure term (loss and gradient);
 *   estimator  with drawn samples, the mean of the sampled denominator's negatives over many
 *              draws is the exact one: the draws are uniform and the weight (M - 1) / |S_t|
 *              is right (a wrong weight or a non-uniform draw is off by > 8% here);
 *   flops      the step's FLOP count uses the sample's width instead of the catalogue's;
 *   contract   bad fixed samples are refused with a message, and two workspaces with one
 *              seed draw the same samples;
 *   strata     the stratified term (nc_ncl_set_ssl_strata): with a fixed sample, loss and
 *              gradient against a literal per-row statement and its finite differences; with
 *              N >= M it is the exact term; over draws its denominator is unbiased for every
 *              anchor; bad strata are refused;
 *   memory     the gradient memory (ssl_memory): N >= M is exact; a first step's gradient is
 *              the literal loss's with each sampled row's part divided by its weight K,
 *              against finite differences. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "ncl.h"
#include "testhelp.h"
#include "tiny_problem.h"

#define FD_H 1e-6

enum { PU = 6, PI = 7, PN = PU + PI, PD = 4, NB = 11, NS = 3 };

typedef struct problem {
    int32_t n_pairs;
    int32_t pu[24], pi[24];
    int32_t bu[NB], bp[NB], bn[NB];
    int32_t su[NS], si[NS]; /* the fixed samples: side-local ids */
    int32_t ku, ki, stu[PU], sti[PI]; /* strata (0 strata: the uniform sample alone) */
    double E0[PN * PD];
    nc_hparams hp;
    nc_graph g;
} problem;

/* User PU-1 and item PI-1 have no edges. The batch repeats users and positives; the user
 * sample {0, 2, 5} holds batch users 0 and 2 (if drawn) and the isolated user; the item
 * sample likewise mixes batch items and others. */
static void make_problem(problem *p, uint64_t seed) {
    memset(p, 0, sizeof *p);
    nc_rng r;
    nc_rng_seed(&r, seed);
    p->n_pairs = 18;
    tiny_pairs(&r, PU, PI, p->n_pairs, p->pu, p->pi);
    tiny_batch(&r, p->pu, p->pi, p->n_pairs, PI, NB, p->bu, p->bp, p->bn);
    p->bu[0] = 0; /* make sure the samples hold batch rows */
    p->bu[1] = 2;
    p->bp[0] = p->pi[0];
    int32_t su[NS] = {0, 2, 5}, si[NS] = {p->pi[0], (p->pi[0] + 3) % PI, PI - 1};
    memcpy(p->su, su, sizeof su);
    memcpy(p->si, si, sizeof si);
    /* 2 user strata: sample rows 0, 2 in user 0's, 5 in the other; 3 item strata */
    int32_t stu[PU] = {0, 1, 0, 1, 1, 1};
    memcpy(p->stu, stu, sizeof stu);
    for (int i = 0; i < PI; i++) p->sti[i] = i % 3;
    for (int k = 0; k < PN * PD; k++) p->E0[k] = (nc_rng_uniform(&r) - 0.5) * 1.5;
    nc_hparams_default(&p->hp);
    p->hp.embedding_size = PD;
    p->hp.train_batch_size = 16;
    p->hp.num_clusters = 2;
    p->hp.reg_weight = 0;
    p->hp.ssl_reg = 0.05f;
    p->hp.alpha = 0.7f;
    p->hp.ssl_temp = 0.4f;
    p->hp.ssl_negatives = NS;
    nc_err e;
    if (nc_graph_build(PU, PI, p->pu, p->pi, (size_t)p->n_pairs, &p->g, &e))
        fprintf(stderr, "graph: %s\n", e.msg);
}

static double dot(const double *a, const double *b) {
    double s = 0;
    for (int j = 0; j < PD; j++) s += a[j] * b[j];
    return s;
}

static void unit(const double *x, double *z) {
    double n = fmax(sqrt(dot(x, x)), 1e-12);
    for (int j = 0; j < PD; j++) z[j] = x[j] / n;
}

/* The sampled loss as ssl_sampled_tmpl.h states it, for one anchor a with own row t among M
 * rows, and sample S (ns rows): log(e^(a.m_t/tau) + (M-1)/|S \ t| sum_{S \ t} e^(a.m_v/tau))
 * - a.m_t/tau. The positive's rows come from Mn, the sampled ones from Ms (the same table but
 * in the gradient-memory check, which perturbs them apart); *K receives the weight. */
static double sampled_nce(const double *a, const double *Mn, const double *Ms, int m, int t,
                          const int32_t *S, int ns, double tau, double *K) {
    double neg = 0;
    int k = 0;
    for (int q = 0; q < ns; q++)
        if (S[q] != t) {
            neg += exp(dot(a, Ms + S[q] * PD) / tau);
            k++;
        }
    double xt = dot(a, Mn + t * PD) / tau;
    *K = k ? (double)(m - 1) / k : 1;
    return log(exp(xt) + (k ? *K * neg : 0)) - xt;
}

/* The stratified loss as ssl_strata_tmpl.h states it: the anchor's own stratum (of t, in of)
 * exactly, from Mn; the sample's rows of other strata, from Ms, each standing for
 * K = (M - n_g) / |S_g| rows. */
static double strata_nce(const double *a, const double *Mn, const double *Ms, int m, int t,
                         const int32_t *S, int ns, const int32_t *of, double tau, double *K) {
    double own = 0, other = 0;
    int n_g = 0, k = 0;
    for (int v = 0; v < m; v++)
        if (of[v] == of[t]) {
            own += exp(dot(a, Mn + v * PD) / tau);
            n_g++;
        }
    for (int q = 0; q < ns; q++)
        if (of[S[q]] != of[t]) {
            other += exp(dot(a, Ms + S[q] * PD) / tau);
            k++;
        }
    *K = k ? (double)(m - n_g) / k : 1;
    return log(own + (k ? *K * other : 0)) - dot(a, Mn + t * PD) / tau;
}

/* One anchor's loss: stratified when the problem has strata for that side, else sampled. */
static double anchor_nce(const problem *p, const double *a, const double *Mn, const double *Ms,
                         int side, int t, double *K) {
    const double tau = p->hp.ssl_temp;
    if (side == 0)
        return p->ku ? strata_nce(a, Mn, Ms, PU, t, p->su, NS, p->stu, tau, K)
                     : sampled_nce(a, Mn, Ms, PU, t, p->su, NS, tau, K);
    return p->ki ? strata_nce(a, Mn, Ms, PI, t, p->si, NS, p->sti, tau, K)
                 : sampled_nce(a, Mn, Ms, PI, t, p->si, NS, tau, K);
}

/* ssl_reg sum_b l~(users) + ssl_reg alpha sum_b l~(items), per batch row, with the context
 * layer C = Â^2 E0 from a dense Â (values rounded to float once, as the library stores
 * them); the sampled rows' normalised rows from E0s. per_k: each anchor's loss divided by its
 * weight K (the gradient memory's rate, see test_memory_gradient). */
static double reference_split(const problem *p, const double *E0, const double *E0s, int per_k) {
    static double A[PN][PN], E1[PN * PD], C[PN * PD];
    int deg[PN] = {0};
    memset(A, 0, sizeof A);
    for (int k = 0; k < p->n_pairs; k++) {
        deg[p->pu[k]]++;
        deg[PU + p->pi[k]]++;
    }
    for (int k = 0; k < p->n_pairs; k++) {
        int u = p->pu[k], i = PU + p->pi[k];
        A[u][i] = A[i][u] = (float)(pow(deg[u] + 1e-7, -0.5) * pow(deg[i] + 1e-7, -0.5));
    }
    for (int pass = 0; pass < 2; pass++) {
        const double *in = pass ? E1 : E0;
        double *out = pass ? C : E1;
        for (int r = 0; r < PN; r++)
            for (int j = 0; j < PD; j++) {
                double s = 0;
                for (int c = 0; c < PN; c++) s += A[r][c] * in[c * PD + j];
                out[r * PD + j] = s;
            }
    }
    double Mn[PN * PD], Ms[PN * PD], a[PD], lu = 0, li = 0, K;
    for (int r = 0; r < PN; r++) {
        unit(E0 + r * PD, Mn + r * PD);
        unit(E0s + r * PD, Ms + r * PD);
    }
    for (int b = 0; b < NB; b++) {
        unit(C + p->bu[b] * PD, a);
        double l = anchor_nce(p, a, Mn, Ms, 0, p->bu[b], &K);
        lu += per_k ? l / K : l;
        unit(C + (PU + p->bp[b]) * PD, a);
        l = anchor_nce(p, a, Mn + PU * PD, Ms + PU * PD, 1, p->bp[b], &K);
        li += per_k ? l / K : l;
    }
    return (double)p->hp.ssl_reg * lu + (double)p->hp.ssl_reg * p->hp.alpha * li;
}

static double reference(const problem *p, const double *E0) {
    return reference_split(p, E0, E0, 0);
}

/* The library in double with hp; fixed samples when fixed != 0. */
static int lib(const problem *p, const nc_hparams *hp, int fixed, double *grad, nc_loss *l) {
    nc_ncl_ws *ws;
    nc_err e;
    if (nc_ncl_ws_create_d(&p->g, hp, &ws, &e)) {
        fprintf(stderr, "ws: %s\n", e.msg);
        return -1;
    }
    nc_ncl_set_block_rows(ws, 2); /* several softmax blocks */
    int rc = fixed ? nc_ncl_fix_ssl_sample(ws, p->su, NS, p->si, NS, &e) : NC_OK;
    if (!rc && hp->ssl_negatives > 0 && (p->ku || p->ki))
        rc = nc_ncl_set_ssl_strata(ws, p->stu, p->ku, p->sti, p->ki, &e);
    nc_batch b = {NB, p->bu, p->bp, p->bn};
    if (!rc) rc = nc_ncl_loss_grad_d(ws, p->E0, &b, NULL, grad, l, &e);
    if (rc) fprintf(stderr, "library: %s\n", e.msg);
    nc_ncl_ws_free(ws);
    return rc;
}

/* |g - fd| <= 1e-6 (1e-2 max|fd| + |fd|) for every entry; prints the worst on failure. */
static void check_against(const char *what, const double *g, const double *fd, int n) {
    double gmax = 0, worst = 0;
    int at = 0;
    for (int k = 0; k < n; k++) gmax = fmax(gmax, fabs(fd[k]));
    for (int k = 0; k < n; k++) {
        double r = fabs(g[k] - fd[k]) / (1e-8 * fmax(gmax, 1) + 1e-6 * fabs(fd[k]));
        if (r > worst) {
            worst = r;
            at = k;
        }
    }
    CHECK(gmax > 1e-6, "%s: the gradient is ~0 (max %g): the check would prove nothing", what,
          gmax);
    CHECK(worst <= 1, "%s: entry %d analytic %.12g, finite difference %.12g", what, at, g[at],
          fd[at]);
}

/* The structure term's gradient alone (a run with it minus one without: the loss is a sum)
 * against finite differences of the literal loss of p (sampled or stratified), and its
 * reported value; the exact term must be a different number. */
static void check_fixed_sample_gradient(const problem *src, const char *what) {
    problem p = *src; /* E0 is perturbed in the copy; the graph is shared, not freed here */
    nc_hparams off = p.hp;
    off.ssl_reg = 0;
    double g_on[PN * PD], g_off[PN * PD], fd[PN * PD];
    nc_loss l;
    CHECK(lib(&p, &off, 0, g_off, &l) == 0, "library failed (ssl off)");
    CHECK(lib(&p, &p.hp, 1, g_on, &l) == 0, "library failed");
    CHECK_CLOSE(l.ssl, reference(&p, p.E0), 1e-14, 1e-12);
    for (int k = 0; k < PN * PD; k++) {
        g_on[k] -= g_off[k];
        double x0 = p.E0[k];
        p.E0[k] = x0 + FD_H;
        double fp = reference(&p, p.E0);
        p.E0[k] = x0 - FD_H;
        double fm = reference(&p, p.E0);
        p.E0[k] = x0;
        fd[k] = (fp - fm) / (2 * FD_H);
    }
    check_against(what, g_on, fd, PN * PD);
    /* the sample matters: the exact term is a different number */
    nc_hparams exact = p.hp;
    exact.ssl_negatives = 0;
    nc_loss le;
    CHECK(lib(&p, &exact, 0, g_off, &le) == 0, "library failed (exact)");
    CHECK(fabs(le.ssl - l.ssl) > 1e-3 * fabs(le.ssl), "%s %.10g equals exact %.10g", what,
          l.ssl, le.ssl);
}

static void test_gradient_fixed_sample(void) {
    problem p;
    make_problem(&p, 11);
    check_fixed_sample_gradient(&p, "sampled structure term");
    nc_graph_free(&p.g);
}

/* Both sides stratified, then users alone (items on the uniform sample). */
static void test_strata_gradient(void) {
    problem p;
    make_problem(&p, 16);
    p.ku = 2;
    p.ki = 3;
    check_fixed_sample_gradient(&p, "stratified structure term");
    p.ki = 0;
    check_fixed_sample_gradient(&p, "stratified users, sampled items");
    nc_graph_free(&p.g);
}

/* N >= M: every row is drawn, each negative weighs (M - 1) / (M - 1) = 1: the exact term.
 * With strata (ku, ki) the own stratum is exact and every other row weighs 1: exact too. */
static void check_full_sample_is_exact(uint64_t seed, int32_t ku, int32_t ki, int memory) {
    problem p;
    make_problem(&p, seed);
    p.ku = ku;
    p.ki = ki;
    nc_hparams all = p.hp, exact = p.hp;
    all.ssl_negatives = 64;
    all.ssl_memory = memory;
    exact.ssl_negatives = 0;
    double ga[PN * PD], ge[PN * PD];
    nc_loss la, le;
    CHECK(lib(&p, &all, 0, ga, &la) == 0 && lib(&p, &exact, 0, ge, &le) == 0, "library failed");
    CHECK_CLOSE(la.ssl, le.ssl, 1e-14, 1e-12);
    CHECK_CLOSE(la.total, le.total, 1e-14, 1e-12);
    double worst = 0, gmax = 0;
    for (int k = 0; k < PN * PD; k++) {
        worst = fmax(worst, fabs(ga[k] - ge[k]));
        gmax = fmax(gmax, fabs(ge[k]));
    }
    CHECK(gmax > 1e-3 && worst <= 1e-12 * gmax, "gradient off by %g (max %g)", worst, gmax);
    nc_graph_free(&p.g);
}

static void test_full_sample_is_exact(void) { check_full_sample_is_exact(12, 0, 0, 0); }
static void test_strata_full_sample_is_exact(void) { check_full_sample_is_exact(17, 2, 3, 0); }

/* With the gradient memory every row is drawn every step at N >= M: exact again. */
static void test_memory_full_sample_is_exact(void) {
    check_full_sample_is_exact(19, 0, 0, 1);
    check_full_sample_is_exact(20, 2, 3, 1);
}

/* The memory's first step from a fresh workspace (nothing stored yet) with a fixed sample:
 * the anchors, positives and own strata get the literal loss's gradient, each sampled row
 * its gradient divided by the anchor's weight K. The reference perturbs the sampled rows
 * (E0s) apart from the rest (E0): fd = dR/dE0 + d(sum_b l_b / K_b)/dE0s. */
static void check_memory_gradient(int32_t ku, int32_t ki, const char *what) {
    problem p;
    make_problem(&p, 21);
    p.ku = ku;
    p.ki = ki;
    nc_hparams on = p.hp, off = p.hp;
    on.ssl_memory = 1;
    off.ssl_reg = 0;
    double g_on[PN * PD], g_off[PN * PD], fd[PN * PD], Es[PN * PD];
    nc_loss l;
    CHECK(lib(&p, &off, 0, g_off, &l) == 0 && lib(&p, &on, 1, g_on, &l) == 0, "library failed");
    CHECK_CLOSE(l.ssl, reference(&p, p.E0), 1e-14, 1e-12);
    memcpy(Es, p.E0, sizeof Es);
    for (int k = 0; k < PN * PD; k++) {
        g_on[k] -= g_off[k];
        double x0 = p.E0[k];
        p.E0[k] = x0 + FD_H;
        double fp = reference_split(&p, p.E0, Es, 0);
        p.E0[k] = x0 - FD_H;
        double fm = reference_split(&p, p.E0, Es, 0);
        p.E0[k] = x0;
        Es[k] = x0 + FD_H;
        double sp = reference_split(&p, p.E0, Es, 1);
        Es[k] = x0 - FD_H;
        double sm = reference_split(&p, p.E0, Es, 1);
        Es[k] = x0;
        fd[k] = (fp - fm + sp - sm) / (2 * FD_H);
    }
    check_against(what, g_on, fd, PN * PD);
    nc_graph_free(&p.g);
}

static void test_memory_gradient(void) {
    check_memory_gradient(0, 0, "memory, uniform sample");
    check_memory_gradient(2, 3, "memory, strata");
}

/* One anchor (user 1, item side off, ssl_reg 1): exp(l~) - 1 = K sum_{S\t} e^(x_v - x_t), so
 * its mean over draws estimates exp(l) - 1 of the exact term. 12 users, 3 drawn: the weight
 * 11/3 against a wrong 12/3 or 11/2 is 9% or more apart; the estimate's spread over 4000
 * draws is under 2%. With strata (k > 0, user 1 in a stratum of 4), the own stratum is exact
 * and the others' weight is 8 / |S_g|: a wrong 12 / |S_g| or 11 / |S_g| is 20% or more off. */
static void check_unbiased(const int32_t *strata, int32_t k, const char *what) {
    enum { U = 12, I = 5 };
    int32_t pu[U * 2], pi[U * 2];
    for (int q = 0; q < U * 2; q++) {
        pu[q] = q % U;
        pi[q] = (q + q / U) % I;
    }
    nc_graph g;
    nc_err e;
    CHECK(nc_graph_build(U, I, pu, pi, U * 2, &g, &e) == 0, "%s", e.msg);
    nc_hparams hp;
    nc_hparams_default(&hp);
    hp.embedding_size = PD;
    hp.train_batch_size = 4;
    hp.num_clusters = 2;
    hp.alpha = 0;
    hp.ssl_reg = 1;
    hp.ssl_temp = 0.5f;
    double E0[(U + I) * PD], grad[(U + I) * PD];
    nc_rng r;
    nc_rng_seed(&r, 13);
    for (int q = 0; q < (U + I) * PD; q++) E0[q] = nc_rng_uniform(&r) - 0.5;
    int32_t bu[1] = {1}, bp[1] = {pi[1]}, bn[1] = {0};
    nc_batch b = {1, bu, bp, bn};
    nc_ncl_ws *ws;
    nc_loss l;
    CHECK(nc_ncl_ws_create_d(&g, &hp, &ws, &e) == 0, "%s", e.msg);
    CHECK(nc_ncl_loss_grad_d(ws, E0, &b, NULL, grad, &l, &e) == 0, "%s", e.msg);
    nc_ncl_ws_free(ws);
    const double exact = exp(l.ssl) - 1;
    hp.ssl_negatives = 3;
    CHECK(nc_ncl_ws_create_d(&g, &hp, &ws, &e) == 0, "%s", e.msg);
    CHECK(!k || nc_ncl_set_ssl_strata(ws, strata, k, NULL, 0, &e) == 0, "%s", e.msg);
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    const int draws = 4000;
    for (int q = 0; q < draws; q++) {
        CHECK(nc_ncl_loss_grad_d(ws, E0, &b, NULL, grad, &l, &e) == 0, "%s", e.msg);
        sum += exp(l.ssl) - 1;
        lo = fmin(lo, l.ssl);
        hi = fmax(hi, l.ssl);
    }
    nc_ncl_ws_free(ws);
    CHECK(hi - lo > 1e-3, "%s: every draw gave the same loss (%g..%g): no sampling", what, lo,
          hi);
    CHECK_CLOSE(sum / draws, exact, 0, 0.03);
    nc_graph_free(&g);
}

static void test_estimator_unbiased(void) { check_unbiased(NULL, 0, "uniform"); }

static void test_strata_unbiased(void) {
    const int32_t strata[12] = {2, 0, 1, 2, 0, 1, 2, 0, 1, 0, 2, 1}; /* user 1 in stratum 0 */
    check_unbiased(strata, 3, "stratified");
}

/* Strata are checked before anything changes; the exact term refuses them. */
static void test_strata_contract(void) {
    problem p;
    make_problem(&p, 18);
    nc_ncl_ws *ws;
    nc_err e;
    CHECK(nc_ncl_ws_create_d(&p.g, &p.hp, &ws, &e) == 0, "%s", e.msg);
    int32_t bad[PU] = {0, 1, 2, 0, 1, 0};
    CHECK(nc_ncl_set_ssl_strata(ws, bad, 2, NULL, 0, &e) == NC_EINVAL &&
              strstr(e.msg, "stratum 2 of 2"), "id out of range: %s", e.msg);
    CHECK(nc_ncl_set_ssl_strata(ws, p.stu, PU + 1, NULL, 0, &e) == NC_EINVAL &&
              strstr(e.msg, "need 1.."), "too many strata: %s", e.msg);
    CHECK(nc_ncl_set_ssl_strata(ws, NULL, 2, NULL, 0, &e) == NC_EINVAL, "no assignments");
    CHECK(nc_ncl_set_ssl_strata(ws, p.stu, 2, p.sti, 3, &e) == NC_OK, "%s", e.msg);
    nc_ncl_ws_free(ws);
    nc_hparams exact = p.hp;
    exact.ssl_negatives = 0;
    CHECK(nc_ncl_ws_create_d(&p.g, &exact, &ws, &e) == 0, "%s", e.msg);
    CHECK(nc_ncl_set_ssl_strata(ws, p.stu, 2, p.sti, 3, &e) == NC_EINVAL, "exact mode");
    nc_ncl_ws_free(ws);
    nc_graph_free(&p.g);
}

/* Distinct users / items of the batch, as the step counts them. */
static int distinct(const int32_t *x, int n) {
    int m = 0;
    for (int k = 0; k < n; k++) {
        int seen = 0;
        for (int q = 0; q < k; q++) seen |= x[q] == x[k];
        m += !seen;
    }
    return m;
}

/* The exact step counts 6 B' M d flops per side, the sampled one 6 B' (ns + 1) d. */
static void test_flops(void) {
    problem p;
    make_problem(&p, 14);
    nc_hparams exact = p.hp;
    exact.ssl_negatives = 0;
    nc_ncl_ws *we, *wsm;
    nc_err e;
    nc_loss l;
    double g[PN * PD];
    nc_batch b = {NB, p.bu, p.bp, p.bn};
    CHECK(nc_ncl_ws_create_d(&p.g, &exact, &we, &e) == 0, "%s", e.msg);
    CHECK(nc_ncl_ws_create_d(&p.g, &p.hp, &wsm, &e) == 0, "%s", e.msg);
    CHECK(nc_ncl_loss_grad_d(we, p.E0, &b, NULL, g, &l, &e) == 0, "%s", e.msg);
    CHECK(nc_ncl_loss_grad_d(wsm, p.E0, &b, NULL, g, &l, &e) == 0, "%s", e.msg);
    double nu = distinct(p.bu, NB), np = distinct(p.bp, NB);
    double want = 6.0 * PD * (nu * (PU - NS - 1) + np * (PI - NS - 1));
    CHECK_CLOSE(nc_ncl_flops(we) - nc_ncl_flops(wsm), want, 1e-6, 1e-12);
    nc_ncl_ws_free(we);
    nc_ncl_ws_free(wsm);
    nc_graph_free(&p.g);
}

/* Fixed samples are checked; a workspace's draws depend on the seed only. */
static void test_contract(void) {
    problem p;
    make_problem(&p, 15);
    nc_ncl_ws *ws, *w2;
    nc_err e;
    CHECK(nc_ncl_ws_create_d(&p.g, &p.hp, &ws, &e) == 0, "%s", e.msg);
    int32_t dup[NS] = {1, 1, 2}, big[NS] = {0, 1, PU}, four[4] = {0, 1, 2, 3};
    CHECK(nc_ncl_fix_ssl_sample(ws, dup, NS, p.si, NS, &e) == NC_EINVAL &&
              strstr(e.msg, "twice"), "duplicate: %s", e.msg);
    CHECK(nc_ncl_fix_ssl_sample(ws, big, NS, p.si, NS, &e) == NC_EINVAL &&
              strstr(e.msg, "out of"), "out of range: %s", e.msg);
    CHECK(nc_ncl_fix_ssl_sample(ws, four, 4, p.si, NS, &e) == NC_EINVAL, "more than N rows");
    CHECK(nc_ncl_fix_ssl_sample(ws, p.su, NS, NULL, 0, &e) == NC_EINVAL, "one side only");
    CHECK(nc_ncl_fix_ssl_sample(ws, NULL, 0, NULL, 0, &e) == NC_OK, "%s", e.msg);
    nc_hparams exact = p.hp;
    exact.ssl_negatives = 0;
    CHECK(nc_ncl_ws_create_d(&p.g, &exact, &w2, &e) == 0, "%s", e.msg);
    CHECK(nc_ncl_fix_ssl_sample(w2, p.su, NS, p.si, NS, &e) == NC_EINVAL, "exact mode: %s",
          e.msg);
    nc_ncl_ws_free(w2);
    CHECK(nc_ncl_ws_create_d(&p.g, &p.hp, &w2, &e) == 0, "%s", e.msg);
    nc_batch b = {NB, p.bu, p.bp, p.bn};
    double g1[PN * PD], g2[PN * PD];
    nc_loss l1, l2;
    int same = 1;
    for (int k = 0; k < 5; k++) {
        CHECK(nc_ncl_loss_grad_d(ws, p.E0, &b, NULL, g1, &l1, &e) == 0, "%s", e.msg);
        CHECK(nc_ncl_loss_grad_d(w2, p.E0, &b, NULL, g2, &l2, &e) == 0, "%s", e.msg);
        same &= l1.ssl == l2.ssl && memcmp(g1, g2, sizeof g1) == 0;
    }
    CHECK(same, "two workspaces with one seed drew different samples");
    nc_ncl_ws_free(ws);
    nc_ncl_ws_free(w2);
    nc_graph_free(&p.g);
}

int main(void) {
    nc_set_threads(2);
    RUN(test_gradient_fixed_sample);
    RUN(test_full_sample_is_exact);
    RUN(test_estimator_unbiased);
    RUN(test_flops);
    RUN(test_contract);
    RUN(test_strata_gradient);
    RUN(test_strata_full_sample_is_exact);
    RUN(test_strata_unbiased);
    RUN(test_strata_contract);
    RUN(test_memory_full_sample_is_exact);
    RUN(test_memory_gradient);
    return TEST_REPORT();
}
