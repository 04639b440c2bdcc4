/* graph.h - the normalised user-item graph of LightGCN/NCL and its sparse x dense product.
 *
 * The graph has N = U + I nodes: users are rows 0..U-1, items rows U..N-1. A is the symmetric
 * 0/1 adjacency of the bipartite graph built from the DISTINCT training pairs (a pair given
 * twice is one edge), deg(n) = distinct neighbours + 1e-7, and Â = D^-1/2 A D^-1/2 is stored
 * in CSR with float values rounded once from double, as the reference builds it. Users and
 * items without edges keep an empty row. Â is symmetric, so Â is its own transpose and the
 * same product serves the forward pass and the backward pass.
 *
 * Ownership: nc_graph owns its arrays; nc_graph_free releases them and zeroes the struct.
 * Threads: the products run an OpenMP parallel loop (threads from nc_set_threads), with rows
 * split so that each thread gets about the same number of non-zeros. A built graph is
 * read-only, so any number of threads may use it at once. */
#ifndef NCLREC_GRAPH_H
#define NCLREC_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct nc_graph {
    int32_t n_users, n_items, n; /* n = n_users + n_items */
    int64_t nnz;                 /* 2 x distinct pairs */
    int64_t *row_ptr;            /* n + 1 offsets into col/val */
    int32_t *col;                /* nnz node ids, ascending within each row */
    float *val;                  /* nnz values of Â */
} nc_graph;

/* Builds Â from n_pairs (user[k], item[k]) pairs: user ids in 0..n_users-1, item ids in
 * 0..n_items-1 (item i is node n_users + i). Repeated pairs count once. *g is filled by the
 * callee (caller frees with nc_graph_free, also after a failure). Fails with NC_EINVAL naming
 * the first out-of-range pair, NC_ENOMEM when out of memory. */
int nc_graph_build(int32_t n_users, int32_t n_items, const int32_t *user, const int32_t *item,
                   size_t n_pairs, nc_graph *g, nc_err *e);

/* Releases g's arrays; g may be zeroed or partly built. */
void nc_graph_free(nc_graph *g);

/* out = Â in (accumulate == 0) or out += Â in (accumulate != 0), for n x d row-major
 * matrices. in and out must not overlap. Every row of out is written, rows of isolated nodes
 * included. Call it outside any OpenMP parallel region. */
void nc_graph_spmm(const nc_graph *g, const float *in, float *out, int32_t d, int accumulate);

/* The same product in double precision (same code), used by the gradient checks. */
void nc_graph_spmm_d(const nc_graph *g, const double *in, double *out, int32_t d,
                     int accumulate);

#endif
