/* test_torch.c - the NCL math against PyTorch: tests/fixtures/torch_ncl.txt holds what the
 * reference model code (tools/torch_reference.py, written as RecBole's NCL is) computes on a
 * small fixed graph: the normalised adjacency, the four losses and the gradient of E0 for
 * several settings, in float32 and in float64, and five steps of torch.optim.Adam.
 *
 * Every loss term, the total and every gradient entry is compared:
 *   double path (nc_ncl_loss_grad_d) with torch float64   to 1e-12 relative: the same function,
 *                                                           not merely a close one;
 *   float path (nc_ncl_loss_grad)    with torch float64   to 1e-4 relative;
 *                                    with torch float32   to 1e-5 relative (same rounding level).
 * A gradient entry's relative tolerance has a floor of 1e-6 x the largest entry (1e-14 in
 * double): an entry that is a sum of cancelling terms has no relative precision of its own.
 * torch is not needed to run this test, only to regenerate the fixture:
 *     /usr/bin/python3 tools/torch_reference.py > tests/fixtures/torch_ncl.txt
 *
 * usage: test_torch [fixture]   (default tests/fixtures/torch_ncl.txt, from the repository) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "graph.h"
#include "ncl.h"
#include "testhelp.h"

#define MAX_CASES 8
#define N_WORST 5

typedef struct fx_case {
    char name[64];
    nc_hparams hp;
    int use_protos;
    double loss[2][5]; /* [float32, float64][bpr reg ssl proto total] */
    double *grad[2];   /* N x d each */
} fx_case;

typedef struct fixture {
    int32_t U, I, N, d, ws_batch;
    int32_t n_pairs, n_batch;
    int32_t *pu, *pi, *bu, *bp, *bn;
    float *e0;                     /* N x d */
    int32_t k[2];                  /* centroids per side: user, item */
    float *cent[2];
    int32_t *assign[2];
    float *adj;                    /* N x N, as torch stores it */
    int n_cases;
    fx_case cases[MAX_CASES];
    int32_t adam_n, adam_steps;
    double adam_lr;
    float *adam_p0, *adam_g, *adam_p; /* n; steps x n; steps x n */
} fixture;

static const char *fixture_path = "tests/fixtures/torch_ncl.txt";

/* ================ reading the fixture ================ */

/* Reading state: the first problem is kept (with its line) and reported once; after it every
 * read returns 0 and nothing more is written. */
typedef struct reader {
    FILE *f;
    const char *path;
    int line; /* 1-based line of the last character read */
    char err[512];
} reader;

static void fail_at(reader *r, const char *what, const char *found) {
    if (!r->err[0])
        snprintf(r->err, sizeof r->err, "%s:%d: %s (found '%s')", r->path, r->line, what, found);
}

static int getc_counted(reader *r) {
    int c = fgetc(r->f);
    if (c == '\n') r->line++;
    return c;
}

/* Next whitespace-separated token, skipping '#' comments to the end of the line. */
static int next_token(reader *r, char *buf, size_t cap) {
    int c;
    for (;;) {
        while ((c = getc_counted(r)) != EOF && (c == ' ' || c == '\n' || c == '\t' || c == '\r')) {}
        if (c == EOF) return 0;
        if (c != '#') break;
        while ((c = getc_counted(r)) != EOF && c != '\n') {}
    }
    size_t n = 0;
    do {
        if (n + 1 < cap) buf[n++] = (char)c;
    } while ((c = fgetc(r->f)) != EOF && c != ' ' && c != '\n' && c != '\t' && c != '\r');
    if (c == '\n') ungetc(c, r->f); /* counted when the next token is looked for */
    buf[n] = '\0';
    return 1;
}

static void expect(reader *r, const char *tag) {
    char t[64] = "end of file";
    if (r->err[0]) return;
    if (!next_token(r, t, sizeof t) || strcmp(t, tag) != 0) {
        char what[96];
        snprintf(what, sizeof what, "expected '%s'", tag);
        fail_at(r, what, t);
    }
}

static double num(reader *r) {
    char t[64] = "end of file", *end;
    if (r->err[0]) return 0;
    if (!next_token(r, t, sizeof t)) {
        fail_at(r, "expected a number", t);
        return 0;
    }
    double v = strtod(t, &end);
    if (*end || !isfinite(v)) fail_at(r, "expected a finite number", t);
    return v;
}

/* An integer in lo..hi; what names it in the error. */
static int32_t id_in(reader *r, int32_t lo, int32_t hi, const char *what) {
    double v = num(r);
    if (r->err[0]) return 0;
    if (v != floor(v) || v < lo || v > hi) {
        char msg[128], found[32];
        snprintf(msg, sizeof msg, "%s must be an integer in %d..%d", what, lo, hi);
        snprintf(found, sizeof found, "%.17g", v);
        fail_at(r, msg, found);
        return 0;
    }
    return (int32_t)v;
}

/* Zeroed memory, or an error in r (and NULL) when out of memory or after an earlier error. */
static void *alloc(reader *r, size_t n, size_t size) {
    if (r->err[0]) return NULL;
    void *p = calloc(n ? n : 1, size);
    if (!p) snprintf(r->err, sizeof r->err, "%s: out of memory (%zu x %zu bytes)", r->path, n, size);
    return p;
}

/* rows lines "r v v ..." of cols numbers each, into float and/or double arrays. */
static void matrix(reader *r, int32_t rows, int32_t cols, float *fo, double *dout) {
    for (int32_t i = 0; i < rows && !r->err[0]; i++) {
        expect(r, "r");
        for (int32_t j = 0; j < cols && !r->err[0]; j++) {
            double v = num(r);
            if (fo) fo[(size_t)i * cols + j] = (float)v;
            if (dout) dout[(size_t)i * cols + j] = v;
        }
    }
}

static void read_case(reader *r, fixture *fx, fx_case *c) {
    char t[64] = "end of file";
    if (r->err[0]) return;
    if (!next_token(r, t, sizeof t)) fail_at(r, "expected a case name", t);
    snprintf(c->name, sizeof c->name, "%s", t);
    nc_hparams_default(&c->hp);
    c->hp.embedding_size = fx->d;
    c->hp.train_batch_size = fx->ws_batch;
    c->hp.num_clusters = fx->k[0] > fx->k[1] ? fx->k[0] : fx->k[1];
    c->hp.n_layers = id_in(r, 1, 16, "n_layers");
    c->hp.hyper_layers = id_in(r, 1, 8, "hyper_layers");
    c->hp.reg_weight = (float)num(r);
    c->hp.ssl_temp = (float)num(r);
    c->hp.ssl_reg = (float)num(r);
    c->hp.alpha = (float)num(r);
    c->hp.proto_reg = (float)num(r);
    c->use_protos = id_in(r, 0, 1, "use_protos");
    for (int p = 0; p < 2; p++) {
        expect(r, p ? "loss64" : "loss32");
        for (int k = 0; k < 5; k++) c->loss[p][k] = num(r);
        expect(r, p ? "grad64" : "grad32");
        c->grad[p] = alloc(r, (size_t)fx->N * fx->d, sizeof(double));
        matrix(r, fx->N, fx->d, NULL, c->grad[p]);
    }
}

static void read_adam(reader *r, fixture *fx) {
    expect(r, "adam");
    fx->adam_n = id_in(r, 1, 1 << 20, "adam parameter count");
    fx->adam_steps = id_in(r, 1, 1000, "adam step count");
    fx->adam_lr = num(r);
    size_t n = (size_t)fx->adam_n, s = (size_t)fx->adam_steps;
    fx->adam_p0 = alloc(r, n, sizeof(float));
    fx->adam_g = alloc(r, n * s, sizeof(float));
    fx->adam_p = alloc(r, n * s, sizeof(float));
    expect(r, "p0");
    for (size_t k = 0; k < n && !r->err[0]; k++) fx->adam_p0[k] = (float)num(r);
    for (size_t t = 0; t < s && !r->err[0]; t++) {
        expect(r, "g");
        for (size_t k = 0; k < n && !r->err[0]; k++) fx->adam_g[t * n + k] = (float)num(r);
        expect(r, "p");
        for (size_t k = 0; k < n && !r->err[0]; k++) fx->adam_p[t * n + k] = (float)num(r);
    }
}

/* dims, training pairs, batch, E0 and the prototypes: the inputs of every case. */
static void read_inputs(reader *r, fixture *fx) {
    expect(r, "nclrec-torch-fixture");
    expect(r, "1");
    expect(r, "dims");
    fx->U = id_in(r, 1, 100000, "number of users");
    fx->I = id_in(r, 1, 100000, "number of items");
    fx->d = id_in(r, 1, 1024, "embedding size");
    fx->ws_batch = id_in(r, 1, 100000, "workspace batch size");
    fx->N = fx->U + fx->I;
    expect(r, "pairs");
    fx->n_pairs = id_in(r, 1, 100000, "pair count");
    fx->pu = alloc(r, (size_t)fx->n_pairs, sizeof(int32_t));
    fx->pi = alloc(r, (size_t)fx->n_pairs, sizeof(int32_t));
    for (int32_t k = 0; k < fx->n_pairs && !r->err[0]; k++) {
        fx->pu[k] = id_in(r, 0, fx->U - 1, "pair user");
        fx->pi[k] = id_in(r, 0, fx->I - 1, "pair item");
    }
    expect(r, "batch");
    fx->n_batch = id_in(r, 1, fx->ws_batch, "batch size");
    fx->bu = alloc(r, (size_t)fx->n_batch, sizeof(int32_t));
    fx->bp = alloc(r, (size_t)fx->n_batch, sizeof(int32_t));
    fx->bn = alloc(r, (size_t)fx->n_batch, sizeof(int32_t));
    for (int32_t k = 0; k < fx->n_batch && !r->err[0]; k++) {
        fx->bu[k] = id_in(r, 0, fx->U - 1, "batch user");
        fx->bp[k] = id_in(r, 0, fx->I - 1, "batch positive item");
        fx->bn[k] = id_in(r, 0, fx->I - 1, "batch negative item");
    }
    expect(r, "e0");
    fx->e0 = alloc(r, (size_t)fx->N * fx->d, sizeof(float));
    matrix(r, fx->N, fx->d, fx->e0, NULL);
    for (int s = 0; s < 2 && !r->err[0]; s++) {
        expect(r, "protos");
        expect(r, s ? "item" : "user");
        fx->k[s] = id_in(r, 1, 1000, "centroid count");
        fx->cent[s] = alloc(r, (size_t)fx->k[s] * fx->d, sizeof(float));
        matrix(r, fx->k[s], fx->d, fx->cent[s], NULL);
        int32_t n = s ? fx->I : fx->U;
        fx->assign[s] = alloc(r, (size_t)n, sizeof(int32_t));
        expect(r, "assign");
        for (int32_t k = 0; k < n && !r->err[0]; k++)
            fx->assign[s][k] = id_in(r, 0, fx->k[s] - 1, "cluster");
    }
}

/* Parses the whole file; returns 0 on success, else prints why (file:line and what). */
static int load_fixture(const char *path, fixture *fx) {
    memset(fx, 0, sizeof *fx);
    reader r = {fopen(path, "r"), path, 1, ""};
    if (!r.f) {
        fprintf(stderr, "cannot open the fixture %s: run from the repository root, or "
                "regenerate it there with /usr/bin/python3 tools/torch_reference.py > "
                "tests/fixtures/torch_ncl.txt\n", path);
        return -1;
    }
    read_inputs(&r, fx);
    expect(&r, "adjacency");
    fx->adj = alloc(&r, (size_t)fx->N * fx->N, sizeof(float));
    matrix(&r, fx->N, fx->N, fx->adj, NULL);
    expect(&r, "cases");
    fx->n_cases = id_in(&r, 1, MAX_CASES, "case count");
    for (int c = 0; !r.err[0] && c < fx->n_cases; c++) {
        expect(&r, "case");
        read_case(&r, fx, &fx->cases[c]);
    }
    read_adam(&r, fx);
    expect(&r, "end");
    fclose(r.f);
    if (r.err[0]) fprintf(stderr, "malformed fixture: %s\n", r.err);
    return r.err[0] ? -1 : 0;
}

static void free_fixture(fixture *fx) {
    void *p[] = {fx->pu, fx->pi, fx->bu, fx->bp, fx->bn, fx->e0, fx->cent[0], fx->cent[1],
                 fx->assign[0], fx->assign[1], fx->adj, fx->adam_p0, fx->adam_g, fx->adam_p};
    for (size_t k = 0; k < sizeof p / sizeof p[0]; k++) free(p[k]);
    for (int c = 0; c < MAX_CASES; c++) {
        free(fx->cases[c].grad[0]);
        free(fx->cases[c].grad[1]);
    }
}

/* ================ comparisons ================ */

static fixture FX;
static int fx_ok;

/* A tolerance: |ours - torch| <= rtol |torch| + floor x (largest |torch| of the array). */
typedef struct tol {
    double rtol, floor;
} tol;

/* Every gradient entry within t of torch's. Prints the N_WORST entries furthest outside (or
 * closest to) their tolerance when any fails, and returns the worst error / tolerance. */
static double check_grad(const char *cs, const double *want, const double *got, size_t n,
                         tol t) {
    double gmax = 0;
    for (size_t k = 0; k < n; k++) gmax = fmax(gmax, fabs(want[k]));
    size_t worst[N_WORST];
    double ratio[N_WORST];
    int nw = 0;
    for (size_t k = 0; k < n; k++) {
        double q = fabs(got[k] - want[k]) / (t.rtol * fabs(want[k]) + t.floor * gmax);
        if (isnan(q)) q = INFINITY;
        if (nw < N_WORST) /* insertion into the top list, sorted by decreasing q */
            nw++;
        else if (q <= ratio[N_WORST - 1])
            continue;
        int at = nw - 1;
        while (at > 0 && ratio[at - 1] < q) {
            ratio[at] = ratio[at - 1];
            worst[at] = worst[at - 1];
            at--;
        }
        ratio[at] = q;
        worst[at] = k;
    }
    CHECK(gmax > 0, "%s: torch's gradient is all zero (fixture?)", cs);
    CHECK(ratio[0] <= 1, "%s: gradient differs from torch's (rtol %g, floor %g x max %.3g)", cs,
          t.rtol, t.floor, gmax);
    if (ratio[0] > 1)
        for (int w = 0; w < nw; w++)
            fprintf(stderr, "    E0[%zu][%zu]: ours %.17g, torch %.17g, %.3g x tolerance\n",
                    worst[w] / (size_t)FX.d, worst[w] % (size_t)FX.d, got[worst[w]],
                    want[worst[w]], ratio[w]);
    return ratio[0];
}

/* The four terms and the total within rtol of torch's; atol only keeps a term that torch has
 * at exactly 0 (proto without prototypes) from dividing by 0: ours must be 0 too. */
static double check_losses(const char *cs, const nc_loss *l, const double *want, double rtol,
                           double atol) {
    const double got[5] = {l->bpr, l->reg, l->ssl, l->proto, l->total};
    const char *names[5] = {"bpr", "reg (before reg_weight)", "ssl", "proto", "total"};
    double worst = 0;
    for (int k = 0; k < 5; k++) {
        double q = fabs(got[k] - want[k]) / (atol + rtol * fabs(want[k]));
        worst = fmax(worst, isnan(q) ? INFINITY : q);
        CHECK(q <= 1, "%s: %s = %.17g, torch %.17g (rtol %g)", cs, names[k], got[k], want[k],
              rtol);
    }
    return worst;
}

/* ================ tests ================ */

static void test_fixture_loads(void) {
    CHECK(fx_ok, "fixture %s missing or malformed (see above)", fixture_path);
}

/* Our Â equals the reference's get_norm_adj_mat entry for entry (both round d_r d_c once). */
static void test_adjacency_matches(void) {
    CHECK(fx_ok, "no fixture");
    if (!fx_ok) return;
    nc_graph g;
    nc_err e;
    int rc = nc_graph_build(FX.U, FX.I, FX.pu, FX.pi, (size_t)FX.n_pairs, &g, &e);
    CHECK(rc == 0, "%s", e.msg);
    float *dense = calloc((size_t)FX.N * FX.N, sizeof(float));
    CHECK(dense != NULL, "out of memory");
    if (rc == 0 && dense) {
        for (int32_t r = 0; r < g.n; r++)
            for (int64_t k = g.row_ptr[r]; k < g.row_ptr[r + 1]; k++)
                dense[(size_t)r * FX.N + g.col[k]] = g.val[k];
        int bad = 0;
        for (size_t k = 0; k < (size_t)FX.N * FX.N && bad < N_WORST; k++)
            if (dense[k] != FX.adj[k]) {
                bad++;
                CHECK(0, "Â[%zu][%zu] = %.9g, torch %.9g", k / FX.N, k % FX.N, dense[k],
                      FX.adj[k]);
            }
    }
    free(dense);
    nc_graph_free(&g);
}

/* Runs one case through the double path (dbl) or the float path; the gradient comes back in
 * double either way (grad, N x d, caller-allocated). Returns 0, or -1 after a failed CHECK. */
static int run_path(const fx_case *c, int dbl, double *grad, nc_loss *l) {
    nc_graph g;
    nc_err e;
    nc_ncl_ws *ws = NULL;
    const size_t n = (size_t)FX.N * FX.d;
    int rc = nc_graph_build(FX.U, FX.I, FX.pu, FX.pi, (size_t)FX.n_pairs, &g, &e);
    if (rc == 0)
        rc = dbl ? nc_ncl_ws_create_d(&g, &c->hp, &ws, &e) : nc_ncl_ws_create(&g, &c->hp, &ws, &e);
    float *gf = malloc(n * sizeof(float));
    double *e0d = malloc(n * sizeof(double));
    CHECK(rc == 0, "%s: setup: %s", c->name, e.msg);
    CHECK(gf && e0d, "out of memory");
    if (rc == 0 && gf && e0d) {
        nc_ncl_set_block_rows(ws, 4); /* several softmax blocks on this small graph */
        nc_batch b = {FX.n_batch, FX.bu, FX.bp, FX.bn};
        nc_protos p = {FX.k[0], FX.k[1], FX.cent[0], FX.cent[1], FX.assign[0], FX.assign[1]};
        const nc_protos *pp = c->use_protos ? &p : NULL;
        for (size_t k = 0; k < n; k++) e0d[k] = FX.e0[k];
        rc = dbl ? nc_ncl_loss_grad_d(ws, e0d, &b, pp, grad, l, &e)
                 : nc_ncl_loss_grad(ws, FX.e0, &b, pp, gf, l, &e);
        CHECK(rc == 0, "%s (%s): %s", c->name, dbl ? "double" : "float", e.msg);
        if (rc == 0 && !dbl)
            for (size_t k = 0; k < n; k++) grad[k] = gf[k];
    }
    int ok = rc == 0 && gf && e0d;
    free(gf);
    free(e0d);
    nc_ncl_ws_free(ws);
    nc_graph_free(&g);
    return ok ? 0 : -1;
}

/* One case through one path against one of torch's precisions (ref: 0 float32, 1 float64). */
static void compare_case(const fx_case *c, int dbl, int ref, double loss_rtol, tol gt) {
    const size_t n = (size_t)FX.N * FX.d;
    double *grad = malloc(n * sizeof(double));
    nc_loss l;
    char cs[128];
    snprintf(cs, sizeof cs, "%s (%s vs torch float%d)", c->name, dbl ? "double" : "float",
             ref ? 64 : 32);
    CHECK(grad != NULL, "out of memory");
    if (grad && run_path(c, dbl, grad, &l) == 0) {
        double ql = check_losses(cs, &l, c->loss[ref], loss_rtol, 1e-300);
        double qg = check_grad(cs, c->grad[ref], grad, n, gt);
        printf("  %-48s losses at %.2g, gradient at %.2g of their tolerance\n", cs, ql, qg);
    }
    free(grad);
}

/* The training path: 1e-4 against the float64 answer, 1e-5 against torch's own float32. */
static void test_float_path_matches_torch(void) {
    CHECK(fx_ok && FX.n_cases >= 1, "no cases");
    for (int c = 0; fx_ok && c < FX.n_cases; c++) {
        compare_case(&FX.cases[c], 0, 1, 1e-4, (tol){1e-4, 1e-6});
        compare_case(&FX.cases[c], 0, 0, 1e-5, (tol){1e-5, 1e-6});
    }
}

/* The double path: the same math, so agreement to rounding (losses to about 1e-16 relative,
 * gradient entries to about 1e-14 here). */
static void test_double_path_matches_torch(void) {
    CHECK(fx_ok && FX.n_cases >= 1, "no cases");
    for (int c = 0; fx_ok && c < FX.n_cases; c++)
        compare_case(&FX.cases[c], 1, 1, 1e-12, (tol){1e-12, 1e-14});
}

/* Five Adam steps from torch's start: parameters within an ulp or two after every step. */
static void test_adam_matches_torch(void) {
    CHECK(fx_ok, "no fixture");
    if (!fx_ok) return;
    nc_adam a;
    nc_err e;
    const size_t n = (size_t)FX.adam_n;
    int rc = nc_adam_init(&a, n, FX.adam_lr, &e);
    CHECK(rc == 0, "%s", e.msg);
    float *p = malloc(n * sizeof(float));
    CHECK(p != NULL, "out of memory");
    if (rc == 0 && p) {
        memcpy(p, FX.adam_p0, n * sizeof(float));
        for (int32_t t = 0; t < FX.adam_steps; t++) {
            nc_adam_step(&a, p, FX.adam_g + (size_t)t * n);
            for (size_t k = 0; k < n; k++) {
                float want = FX.adam_p[(size_t)t * n + k];
                CHECK(fabsf(p[k] - want) <= 3e-7f * fabsf(want) + 1e-12f,
                      "step %d, parameter %zu: %.9g, torch %.9g", t + 1, k, p[k], want);
            }
        }
    }
    free(p);
    nc_adam_free(&a);
}

int main(int argc, char **argv) {
    if (argc > 1) fixture_path = argv[1];
    nc_set_threads(2);
    fx_ok = load_fixture(fixture_path, &FX) == 0;
    RUN(test_fixture_loads);
    RUN(test_adjacency_matches);
    RUN(test_float_path_matches_torch);
    RUN(test_double_path_matches_torch);
    RUN(test_adam_matches_torch);
    free_fixture(&FX);
    return TEST_REPORT();
}
