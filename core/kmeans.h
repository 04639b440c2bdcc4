/* kmeans.h - the E-step's k-means, faiss's Clustering called as faiss's Python `Kmeans` does
 * (NCL.md, "E-step"): L2, niter, seed, nredo 1, max_points_per_centroid, spherical = false.
 * The same float32 input and parameters give the same centroids and assignments as
 * `faiss.Kmeans(d, k, niter=niter, seed=seed, max_points_per_centroid=m)` on Debian's faiss
 * 1.7.3 followed by `kmeans.index.search(x, 1)`. */
#ifndef NCLREC_KMEANS_H
#define NCLREC_KMEANS_H

#include <stdint.h>

#include "common.h"

/* faiss prints "please provide at least k * 39 training points" below this many rows per
 * centroid. nc_kmeans stays quiet; a caller that wants the warning compares n with
 * NC_KMEANS_MIN_POINTS_PER_CENTROID * k and logs it itself. */
#define NC_KMEANS_MIN_POINTS_PER_CENTROID 39

/* Clusters the n rows of x (n x d, float32, row-major, borrowed) into k centroids.
 * centroids: caller-allocated k x d, receives faiss's (UNnormalised) centroids.
 * assign:    caller-allocated n, receives the nearest centroid in L2 of every row, found by
 *            searching the IndexFlatL2 that k-means trained (so over the unnormalised centroids).
 * Above k * max_points_per_centroid rows, faiss trains on a seeded subsample (all rows are
 * still assigned). Fails with NC_EINVAL when n < k (the caller clamps k first if it wants to),
 * when d, k, niter or max_points_per_centroid is < 1, when n > INT32_MAX, or when x holds a
 * NaN or infinity (the message names the row and column). faiss exceptions become NC_EFAISS
 * with faiss's message. Uses the calling thread's OpenMP/OpenBLAS setting; no state is kept,
 * so concurrent calls on different data are fine. */
int nc_kmeans(const float *x, int64_t n, int32_t d, int32_t k, int32_t niter, int32_t seed,
              int32_t max_points_per_centroid, float *centroids, int32_t *assign, nc_err *e);

#endif
