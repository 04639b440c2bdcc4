/* kmeans.h - the E-step's k-means, faiss's Clustering called as faiss's Python `Kmeans` does
 * (NCL.md, "E-step"): L2, niter, seed, nredo 1, max_points_per_centroid, spherical = false. */
#ifndef NCLREC_KMEANS_H
#define NCLREC_KMEANS_H

#include <stdint.h>

#include "common.h"

/* Clusters the n rows of x (n x d, float32, row-major) into k centroids.
 * centroids: caller-allocated k x d, receives faiss's (UNnormalised) centroids.
 * assign:    caller-allocated n, receives the nearest centroid in L2 of every row.
 * Fails with NC_EINVAL when n < k (the caller clamps k first if it wants to). faiss
 * exceptions become NC_EFAISS with faiss's message. Uses the calling thread's OpenMP setting. */
int nc_kmeans(const float *x, int64_t n, int32_t d, int32_t k, int32_t niter, int32_t seed,
              int32_t max_points_per_centroid, float *centroids, int32_t *assign, nc_err *e);

#endif
