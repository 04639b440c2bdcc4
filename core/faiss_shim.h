/* faiss_shim.h - the few faiss calls core/ needs, as plain C over Debian's C++-only libfaiss.
 *
 * This is the project's only C++ boundary (faiss_shim.cpp). Every function catches every C++
 * exception and turns it into NC_EFAISS with faiss's own message in e (std::bad_alloc becomes
 * NC_ENOMEM), so no exception ever unwinds through C frames. Arguments are not validated here
 * beyond what faiss itself checks: the C callers (kmeans.c, index.c) own validation.
 *
 * ids are int64_t here because faiss's idx_t is; the C callers narrow them to int32_t. */
#ifndef NCLREC_FAISS_SHIM_H
#define NCLREC_FAISS_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* k-means exactly as faiss's Python `Kmeans(d, k, niter=, seed=, max_points_per_centroid=)`
 * trains it: faiss::Clustering with nredo 1, verbose and spherical off, on an IndexFlatL2,
 * then every row of x assigned by searching that same trained index (nearest centroid in L2).
 * x: n x d, borrowed. centroids: caller-allocated k x d. assign: caller-allocated n.
 * faiss's "please provide at least 39 points per centroid" stderr warning is switched off
 * (min_points_per_centroid only controls that message); callers warn on their own. */
int ncf_kmeans(const float *x, int64_t n, int32_t d, int32_t k, int32_t niter, int32_t seed,
               int32_t max_points_per_centroid, float *centroids, int64_t *assign, nc_err *e);

/* An exact inner-product index (faiss::IndexFlatIP). Opaque; created by ncf_flat_ip_new,
 * released by ncf_flat_free (NULL is fine). Adding is single-threaded; after that, any number
 * of threads may call the const functions below at once. */
typedef struct ncf_flat ncf_flat;

int ncf_flat_ip_new(int32_t d, ncf_flat **out, nc_err *e);
void ncf_flat_free(ncf_flat *f);
/* Appends n rows (n x d, copied in). */
int ncf_flat_add(ncf_flat *f, int64_t n, const float *x, nc_err *e);
int64_t ncf_flat_ntotal(const ncf_flat *f);
/* The stored rows, ntotal x d, owned by f and valid until the next add or free. */
const float *ncf_flat_data(const ncf_flat *f);

/* faiss's IndexFlatIP::search: for each of the nq queries (nq x d), the k best rows by inner
 * product, best first, into caller-allocated scores[nq*k] / ids[nq*k]; missing results are id
 * -1. Runs OpenMP across queries (and BLAS for nq >= 20) with the calling thread's setting. */
int ncf_flat_search(const ncf_flat *f, int64_t nq, const float *q, int64_t k, float *scores,
                    int64_t *ids, nc_err *e);

/* ip[j] = <x, y_j> for the ny contiguous rows y (ny x d): faiss's SIMD inner-product kernel,
 * a plain loop on the calling thread (no OpenMP region, no BLAS). */
int ncf_inner_products(float *ip, const float *x, const float *y, size_t d, size_t ny,
                       nc_err *e);

#ifdef __cplusplus
}
#endif

#endif
