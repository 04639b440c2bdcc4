/* test_kmeans.c - nc_kmeans: finds well-separated blobs, assigns every row to its nearest
 * unnormalised centroid (also when faiss subsamples), is deterministic for a seed and a thread
 * count, and refuses bad arguments with messages that name them. */
#include "kmeans.h"
#include "testhelp.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* Normal-ish noise from the project RNG (sum of uniforms; exact shape does not matter). */
static float noise(nc_rng *r, float sigma) {
    double s = 0;
    for (int i = 0; i < 4; i++) s += nc_rng_uniform(r) - 0.5;
    return (float)(s * sigma);
}

/* Squared L2 distance in double, the reference for faiss's float computation. */
static double l2(const float *a, const float *b, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
    return s;
}

/* Index of the nearest row of c (k x d) to x in L2, in double. */
static int nearest(const float *x, const float *c, int k, int d) {
    int best = 0;
    double bd = DBL_MAX;
    for (int j = 0; j < k; j++) {
        double dj = l2(x, c + (size_t)j * d, d);
        if (dj < bd) bd = dj, best = j;
    }
    return best;
}

/* Random rows with a per-row offset, so centroids end up with very different norms and the
 * nearest normalised centroid is often not the nearest unnormalised one. */
static void random_rows(float *x, int n, int d, uint64_t seed) {
    nc_rng r;
    nc_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        float scale = (float)(0.2 + 3 * nc_rng_uniform(&r));
        for (int j = 0; j < d; j++) x[(size_t)i * d + j] = scale * (float)nc_rng_uniform(&r);
    }
}

static void test_blobs_are_found(void) {
    enum { B = 3, PER = 60, D = 8, N = B * PER };
    static float x[N * D], cent[B * D], centers[B * D];
    int32_t assign[N], blob[N];
    nc_rng r;
    nc_rng_seed(&r, 7);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < D; j++) centers[b * D + j] = (float)(20.0 * nc_rng_uniform(&r) - 10);
    for (int i = 0; i < N; i++) { /* interleaved so blobs are not contiguous runs */
        blob[i] = i % B;
        for (int j = 0; j < D; j++) x[i * D + j] = centers[blob[i] * D + j] + noise(&r, 0.2f);
    }
    nc_err e;
    int rc = nc_kmeans(x, N, D, B, 25, 1234, 256, cent, assign, &e);
    CHECK(rc == NC_OK, "rc %d: %s", rc, e.msg);
    if (rc) return;
    int label_of_blob[B] = {-1, -1, -1};
    for (int i = 0; i < N; i++) {
        if (label_of_blob[blob[i]] < 0) label_of_blob[blob[i]] = assign[i];
        CHECK(assign[i] == label_of_blob[blob[i]], "row %d of blob %d got label %d, not %d", i,
              blob[i], assign[i], label_of_blob[blob[i]]);
    }
    for (int a = 0; a < B; a++)
        for (int b = a + 1; b < B; b++)
            CHECK(label_of_blob[a] != label_of_blob[b], "blobs %d and %d merged", a, b);
    for (int b = 0; b < B; b++) {
        int c = label_of_blob[b];
        if (c < 0 || c >= B) continue;
        double dist = sqrt(l2(cent + c * D, centers + b * D, D));
        CHECK(dist < 0.2, "centroid %d is %g from blob %d's centre", c, dist, b);
    }
}

/* Checks assign against a double-precision nearest-centroid search; faiss computes
 * ||x||^2 + ||c||^2 - 2 x.c in float, so a near-tie may go either way by a rounding error. */
static void check_nearest_unnormalised(const float *x, int n, int d, const float *cent, int k,
                                       const int32_t *assign) {
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * d;
        int best = nearest(xi, cent, k, d);
        double got = l2(xi, cent + (size_t)assign[i] * d, d);
        double want = l2(xi, cent + (size_t)best * d, d);
        if (assign[i] != best && got > want + 1e-5 * (1 + want)) bad++;
    }
    CHECK(bad == 0, "%d of %d rows not at their nearest unnormalised centroid", bad, n);
}

static void test_assignment_is_nearest_unnormalised_centroid(void) {
    enum { N = 500, D = 6, K = 10 };
    static float x[N * D], cent[K * D], unit[K * D];
    int32_t assign[N];
    random_rows(x, N, D, 11);
    nc_err e;
    int rc = nc_kmeans(x, N, D, K, 25, 1234, 256, cent, assign, &e);
    CHECK(rc == NC_OK, "rc %d: %s", rc, e.msg);
    if (rc) return;
    check_nearest_unnormalised(x, N, D, cent, K, assign);
    /* the check has teeth: normalised centroids would put some rows elsewhere */
    memcpy(unit, cent, sizeof unit);
    for (int c = 0; c < K; c++) {
        double nrm = sqrt(l2(unit + c * D, (const float[D]){0}, D));
        for (int j = 0; j < D; j++) unit[c * D + j] = (float)(unit[c * D + j] / nrm);
    }
    int moved = 0;
    for (int i = 0; i < N; i++) moved += nearest(x + i * D, unit, K, D) != assign[i];
    CHECK(moved > 0, "no row would move under normalised centroids: test data too easy");
}

static void test_subsampled_training_still_assigns_all_rows(void) {
    enum { N = 600, D = 4, K = 4, MAXP = 16 }; /* faiss trains on 64 of the 600 rows */
    static float x[N * D], cent[K * D];
    int32_t assign[N];
    random_rows(x, N, D, 5);
    for (int i = 0; i < N; i++) assign[i] = -7;
    nc_err e;
    int rc = nc_kmeans(x, N, D, K, 10, 1234, MAXP, cent, assign, &e);
    CHECK(rc == NC_OK, "rc %d: %s", rc, e.msg);
    if (rc) return;
    int out_of_range = 0;
    for (int i = 0; i < N; i++) out_of_range += assign[i] < 0 || assign[i] >= K;
    CHECK(out_of_range == 0, "%d rows without a valid cluster", out_of_range);
    check_nearest_unnormalised(x, N, D, cent, K, assign);
}

static void test_deterministic_for_a_seed(void) {
    enum { N = 400, D = 5, K = 8 };
    static float x[N * D], c1[K * D], c2[K * D], c3[K * D], c4[K * D];
    int32_t a1[N], a2[N], a3[N], a4[N];
    random_rows(x, N, D, 3);
    nc_err e;
    int saved = nc_get_threads();
    nc_set_threads(1);
    int rc = nc_kmeans(x, N, D, K, 25, 1234, 256, c1, a1, &e);
    rc |= nc_kmeans(x, N, D, K, 25, 1234, 256, c2, a2, &e);
    nc_set_threads(2);
    rc |= nc_kmeans(x, N, D, K, 25, 1234, 256, c3, a3, &e);
    rc |= nc_kmeans(x, N, D, K, 25, 99, 256, c4, a4, &e);
    nc_set_threads(saved);
    CHECK(rc == NC_OK, "rc %d: %s", rc, e.msg);
    CHECK(!memcmp(c1, c2, sizeof c1) && !memcmp(a1, a2, sizeof a1), "same seed, other result");
    CHECK(!memcmp(c1, c3, sizeof c1) && !memcmp(a1, a3, sizeof a1),
          "result depends on the thread count");
    CHECK(memcmp(c1, c4, sizeof c1) != 0, "seed 99 gave the same centroids as seed 1234");
}

static void test_refuses_bad_arguments(void) {
    float x[10 * 2] = {0}, cent[16 * 2];
    int32_t assign[10];
    nc_err e;
    for (int i = 0; i < 20; i++) x[i] = (float)i;
    int rc = nc_kmeans(x, 5, 2, 10, 25, 1234, 256, cent, assign, &e);
    CHECK(rc == NC_EINVAL && strstr(e.msg, "fewer than k"), "n < k: rc %d %s", rc, e.msg);
    CHECK(strstr(e.msg, "5 rows") && strstr(e.msg, "k = 10"), "message names n and k: %s",
          e.msg);
    rc = nc_kmeans(x, 10, 0, 2, 25, 1234, 256, cent, assign, &e);
    CHECK(rc == NC_EINVAL && strstr(e.msg, "d = 0"), "d = 0: rc %d %s", rc, e.msg);
    rc = nc_kmeans(x, 10, 2, 0, 25, 1234, 256, cent, assign, &e);
    CHECK(rc == NC_EINVAL && strstr(e.msg, "k = 0"), "k = 0: rc %d %s", rc, e.msg);
    rc = nc_kmeans(x, 10, 2, -3, 25, 1234, 256, cent, assign, &e);
    CHECK(rc == NC_EINVAL && strstr(e.msg, "k = -3"), "k < 0: rc %d %s", rc, e.msg);
    rc = nc_kmeans(x, 10, 2, 2, 0, 1234, 256, cent, assign, &e);
    CHECK(rc == NC_EINVAL && strstr(e.msg, "niter"), "niter = 0: rc %d %s", rc, e.msg);
    rc = nc_kmeans(x, 10, 2, 2, 25, 1234, 0, cent, assign, &e);
    CHECK(rc == NC_EINVAL && strstr(e.msg, "max_points"), "max points 0: rc %d %s", rc, e.msg);
    x[7] = NAN;
    rc = nc_kmeans(x, 10, 2, 2, 25, 1234, 256, cent, assign, &e);
    CHECK(rc == NC_EINVAL && strstr(e.msg, "row 3 column 1"), "NaN: rc %d %s", rc, e.msg);
    x[7] = 7;
    rc = nc_kmeans(x, 10, 2, 10, 25, 1234, 256, cent, assign, &e); /* n == k is fine */
    CHECK(rc == NC_OK, "n == k: rc %d %s", rc, e.msg);
}

int main(void) {
    RUN(test_blobs_are_found);
    RUN(test_assignment_is_nearest_unnormalised_centroid);
    RUN(test_subsampled_training_still_assigns_all_rows);
    RUN(test_deterministic_for_a_seed);
    RUN(test_refuses_bad_arguments);
    return TEST_REPORT();
}
