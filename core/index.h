/* index.h - the serving index: exact maximum-inner-product search over item embeddings
 * (faiss IndexFlatIP), with per-query exclusion of items the user already has.
 * Thread-safety: after nc_index_build returns, any number of threads may search concurrently;
 * build and free are single-threaded. */
#ifndef NCLREC_INDEX_H
#define NCLREC_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct nc_index nc_index; /* opaque */

/* Builds an index over n rows of vecs (n x d, copied in: the caller keeps ownership of vecs).
 * *out is owned by the caller and released with nc_index_free. */
int nc_index_build(const float *vecs, int64_t n, int32_t d, nc_index **out, nc_err *e);
void nc_index_free(nc_index *ix); /* NULL is fine */
int64_t nc_index_size(const nc_index *ix);
int32_t nc_index_dim(const nc_index *ix);

/* Top-k rows by inner product with q (length d), best first, skipping every row id listed in
 * exclude (n_exclude ids, any order, duplicates and out-of-range ids ignored). Writes up to k
 * ids and scores into caller-allocated out_ids[k] / out_scores[k]; *out_n receives how many
 * (fewer than k when the catalogue minus exclusions is smaller). Runs on the calling thread
 * only (no OpenMP fan-out per query), so a server thread pool stays in control. */
int nc_index_search(const nc_index *ix, const float *q, int32_t k, const int32_t *exclude,
                    size_t n_exclude, int32_t *out_ids, float *out_scores, int32_t *out_n,
                    nc_err *e);

#endif
