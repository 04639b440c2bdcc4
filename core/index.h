/* index.h - the serving index: exact maximum-inner-product search over item embeddings, held
 * in a faiss IndexFlatIP, with per-query exclusion of items the user already has.
 *
 * Two search paths over the same faiss-owned vectors:
 *  - nc_index_search, one query (a request): a vectorised dot product of its own (16 partial
 *    sums combined in a fixed order, so a score never depends on the thread or on the row's
 *    position) over the stored rows, then an exact top-k selection in C that skips the
 *    excluded ids. It runs entirely on the calling thread: no OpenMP region and no BLAS call, so a server's request threads never
 *    fan out into (or queue on) OpenMP/OpenBLAS worker pools, whatever nc_set_threads says.
 *  - nc_index_search_batch, many queries (similar-items tables, exports, benchmarks): faiss's
 *    IndexFlatIP::search, parallel across queries with OpenMP (BLAS for >= 20 queries).
 * Order: best score first; equal scores by lower id first. nc_index_search applies that rule
 * over the whole catalogue. In nc_index_search_batch faiss picks which of several rows tied at
 * the k-th score make the cut (its heap keeps the higher id), and scores may differ from the
 * single-query path in the last bits (BLAS sums in another order); the rows returned are then
 * ordered by the same rule. A NaN score ranks below every number.
 *
 * Thread-safety: after nc_index_build returns, any number of threads may search concurrently;
 * build and free are single-threaded. */
#ifndef NCLREC_INDEX_H
#define NCLREC_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct nc_index nc_index; /* opaque */

/* Builds an index over n rows of vecs (n x d, copied in: the caller keeps ownership of vecs).
 * n may be 0 (every search then returns nothing); n <= INT32_MAX, d >= 1.
 * *out is owned by the caller and released with nc_index_free; NULL on failure. */
int nc_index_build(const float *vecs, int64_t n, int32_t d, nc_index **out, nc_err *e);
void nc_index_free(nc_index *ix); /* NULL is fine */
int64_t nc_index_size(const nc_index *ix);
int32_t nc_index_dim(const nc_index *ix);
/* Row id's stored vector (d floats, owned by ix, valid until nc_index_free), or NULL when id
 * is out of range: the query for "items like item id". */
const float *nc_index_row(const nc_index *ix, int32_t id);

/* Top-k rows by inner product with q (length d), best first, skipping every row id listed in
 * exclude (n_exclude ids, any order, duplicates and out-of-range ids ignored; exclude may be
 * NULL when n_exclude is 0). Writes up to k ids and scores into caller-allocated
 * out_ids[k] / out_scores[k]; *out_n receives how many (fewer than k when the catalogue minus
 * exclusions is smaller). k = 0 is valid and returns nothing. Runs on the calling thread only
 * (see above). Allocates O(k) scratch per call, plus one bit per row when
 * n_exclude > 0. */
int nc_index_search(const nc_index *ix, const float *q, int32_t k, const int32_t *exclude,
                    size_t n_exclude, int32_t *out_ids, float *out_scores, int32_t *out_n,
                    nc_err *e);

/* nq queries at once (q: nq x d) through faiss's IndexFlatIP::search. Query i skips the ids
 * excl_ids[excl_off[i] .. excl_off[i+1]) (excl_off has nq + 1 non-decreasing entries; both
 * may be NULL for no exclusions; same rules as above). Row i of the caller-allocated
 * out_ids / out_scores (nq x k each) receives out_n[i] results (out_n: caller-allocated nq),
 * the rest of the row is padded with id -1 and score -INFINITY. Uses OpenMP and BLAS with the
 * calling thread's setting; memory is bounded by working in blocks of queries. */
int nc_index_search_batch(const nc_index *ix, const float *q, int64_t nq, int32_t k,
                          const int64_t *excl_off, const int32_t *excl_ids, int32_t *out_ids,
                          float *out_scores, int32_t *out_n, nc_err *e);

#endif
