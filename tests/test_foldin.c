/* test_foldin.c - the fold-in embedding for users a model has not seen (server/model/foldin.h):
 * the Gram matrix, the exact solution of the ials normal equations, the mean, refusals, and on
 * planted data that both methods rank a user's own cluster first while only ials discounts
 * the direction every item shares. */
#include <math.h>
#include <string.h>

#include "model/foldin.h"
#include "testhelp.h"

#define D 4

/* Items 0-3 lie along e0, items 4-7 along e1, all with a common component along e2 that
 * grows with "popularity"; e3 is small noise. */
static void planted(float *v, int n) {
    nc_rng r;
    nc_rng_seed(&r, 11);
    for (int i = 0; i < n; i++) {
        float *x = v + i * D;
        x[0] = i < n / 2 ? 1.0f : 0.0f;
        x[1] = i < n / 2 ? 0.0f : 1.0f;
        x[2] = 0.5f + 2.0f * (float)(i % (n / 2)) / (float)n; /* shared "popularity" direction */
        x[3] = (float)(nc_rng_uniform(&r) - 0.5) * 0.1f;
    }
}

static void test_gram(void) {
    float v[8 * D];
    double g[D * D];
    planted(v, 8);
    foldin_gram(v, 8, D, g);
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double s = 0;
            for (int i = 0; i < 8; i++) s += (double)v[i * D + a] * v[i * D + b];
            CHECK_CLOSE(g[a * D + b], s, 1e-9, 1e-9);
        }
}

static void test_ials_solves_normal_equations(void) {
    float v[8 * D], u[D];
    double g[D * D];
    planted(v, 8);
    foldin_gram(v, 8, D, g);
    int32_t items[] = {0, 2, 3};
    double alpha = 5, lambda = 0.3;
    nc_err e;
    CHECK(foldin_ials(v, 8, D, g, items, 3, alpha, lambda, u, &e) == NC_OK, "%s", e.msg);
    /* residual of (G + alpha sum v v^T + lambda I) u = (1 + alpha) sum v */
    for (int r = 0; r < D; r++) {
        double lhs = lambda * u[r], rhs = 0;
        for (int c = 0; c < D; c++) lhs += g[r * D + c] * u[c];
        for (int k = 0; k < 3; k++) {
            const float *x = v + items[k] * D;
            double dot = 0;
            for (int c = 0; c < D; c++) dot += (double)x[c] * u[c];
            lhs += alpha * x[r] * dot;
            rhs += (1 + alpha) * x[r];
        }
        CHECK_CLOSE(lhs, rhs, 1e-4, 1e-4);
    }
}

static void test_mean(void) {
    float v[8 * D], u[D];
    planted(v, 8);
    int32_t items[] = {1, 5, 99, -1}; /* 99 and -1 are unknown and skipped */
    nc_err e;
    CHECK(foldin_mean(v, 8, D, items, 4, u, &e) == NC_OK, "%s", e.msg);
    for (int a = 0; a < D; a++) CHECK_CLOSE(u[a], (v[1 * D + a] + v[5 * D + a]) / 2, 1e-6, 1e-6);
}

static void test_refusals(void) {
    float v[8 * D], u[D];
    double g[D * D];
    planted(v, 8);
    foldin_gram(v, 8, D, g);
    int32_t none[] = {8, -3};
    nc_err e;
    CHECK(foldin_mean(v, 8, D, none, 2, u, &e) == NC_EINVAL, "unknown ids must be refused");
    CHECK(foldin_ials(v, 8, D, g, none, 2, 1, 0.1, u, &e) == NC_EINVAL, "unknown ids must be refused");
    CHECK(strstr(e.msg, "none of the user's 2 items") != NULL, "message: %s", e.msg);
    int32_t one[] = {0};
    CHECK(foldin_ials(v, 8, D, g, one, 1, 1, 0, u, &e) == NC_EINVAL, "lambda 0 must be refused");
    foldin_method m;
    CHECK(foldin_parse("ials", &m) == 0 && m == FOLDIN_IALS, "ials");
    CHECK(foldin_parse("mean", &m) == 0 && m == FOLDIN_MEAN, "mean");
    CHECK(foldin_parse("median", &m) == -1, "unknown method");
}

/* Rank of the best-scoring item of the other cluster among all 8 (0 = first). */
static int first_foreign_rank(const float *v, const float *u, int own_lo, int own_hi) {
    float s[8];
    for (int i = 0; i < 8; i++) {
        s[i] = 0;
        for (int a = 0; a < D; a++) s[i] += v[i * D + a] * u[a];
    }
    int best = -1;
    for (int i = 0; i < 8; i++)
        if ((i < own_lo || i >= own_hi) && (best < 0 || s[i] > s[best])) best = i;
    int rank = 0;
    for (int i = 0; i < 8; i++) rank += s[i] > s[best];
    return rank;
}

static void test_planted_clusters(void) {
    float v[8 * D], um[D], ui[D];
    double g[D * D];
    planted(v, 8);
    foldin_gram(v, 8, D, g);
    int32_t items[] = {4, 5}; /* a user of the second cluster */
    nc_err e;
    CHECK(foldin_mean(v, 8, D, items, 2, um, &e) == NC_OK, "%s", e.msg);
    CHECK(foldin_ials(v, 8, D, g, items, 2, 10, 0.1, ui, &e) == NC_OK, "%s", e.msg);
    /* every item of the user's cluster outranks every item of the other one */
    CHECK(first_foreign_rank(v, ui, 4, 8) == 4, "ials: a foreign item ranks %d", first_foreign_rank(v, ui, 4, 8));
    CHECK(first_foreign_rank(v, um, 4, 8) == 4, "mean: a foreign item ranks %d", first_foreign_rank(v, um, 4, 8));
    /* the mean carries the shared direction (e2) along with the taste (e1); the least-squares
     * fit discounts what every item has in common */
    double rm = um[2] / um[1], ri = fabsf(ui[2]) / ui[1];
    CHECK(ui[1] > 0 && ri < 0.9 * rm, "e2/e1: ials %g should be below mean %g", ri, rm);
}

int main(void) {
    RUN(test_gram);
    RUN(test_ials_solves_normal_equations);
    RUN(test_mean);
    RUN(test_refusals);
    RUN(test_planted_clusters);
    return TEST_REPORT();
}
