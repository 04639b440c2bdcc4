/* kmeans.c - see kmeans.h. Argument checks and the int64 -> int32 narrowing of faiss's labels;
 * the clustering itself is faiss's (faiss_shim.cpp). */
#include "kmeans.h"

#include <math.h>
#include <stdlib.h>

#include "faiss_shim.h"

/* faiss would throw a generic "input contains NaN's or Inf's"; saying where helps more. */
static int check_finite(const float *x, int64_t n, int32_t d, nc_err *e) {
    for (int64_t i = 0; i < n; i++)
        for (int32_t j = 0; j < d; j++)
            if (!isfinite(x[i * d + j]))
                return nc_fail(e, NC_EINVAL, "k-means: input row %lld column %d is %g",
                               (long long)i, (int)j, (double)x[i * d + j]);
    return NC_OK;
}

/* Each setting is checked here so the message names it, rather than relying on a faiss
 * assertion deep inside Clustering::train. */
static int check_args(const float *x, int64_t n, int32_t d, int32_t k, int32_t niter,
                      int32_t max_points, const float *centroids, const int32_t *assign,
                      nc_err *e) {
    if (d < 1) return nc_fail(e, NC_EINVAL, "k-means: dimension d = %d, must be >= 1", (int)d);
    if (k < 1) return nc_fail(e, NC_EINVAL, "k-means: k = %d clusters, must be >= 1", (int)k);
    if (niter < 1)
        return nc_fail(e, NC_EINVAL, "k-means: niter = %d, must be >= 1", (int)niter);
    if (max_points < 1)
        return nc_fail(e, NC_EINVAL, "k-means: max_points_per_centroid = %d, must be >= 1",
                       (int)max_points);
    if (n < k)
        return nc_fail(e, NC_EINVAL,
                       "k-means: %lld rows is fewer than k = %d clusters (lower num_clusters)",
                       (long long)n, (int)k);
    if (n > INT32_MAX)
        return nc_fail(e, NC_EINVAL, "k-means: %lld rows, at most %d supported", (long long)n,
                       (int)INT32_MAX);
    if (!x || !centroids || !assign)
        return nc_fail(e, NC_EINVAL, "k-means: NULL input or output array");
    return check_finite(x, n, d, e);
}

int nc_kmeans(const float *x, int64_t n, int32_t d, int32_t k, int32_t niter, int32_t seed,
              int32_t max_points_per_centroid, float *centroids, int32_t *assign, nc_err *e) {
    int rc = check_args(x, n, d, k, niter, max_points_per_centroid, centroids, assign, e);
    if (rc) return rc;
    int64_t *labels = nc_malloc((size_t)n, sizeof *labels, e);
    if (!labels) return NC_ENOMEM;
    rc = ncf_kmeans(x, n, d, k, niter, seed, max_points_per_centroid, centroids, labels, e);
    for (int64_t i = 0; rc == NC_OK && i < n; i++) {
        if (labels[i] < 0 || labels[i] >= k)
            rc = nc_fail(e, NC_EINTERNAL, "k-means: row %lld assigned to centroid %lld of %d",
                         (long long)i, (long long)labels[i], (int)k);
        else
            assign[i] = (int32_t)labels[i];
    }
    free(labels);
    return rc;
}
