/* spmm_tmpl.h - the body of out (+)= Â in, written once and compiled for float and double.
 *
 * Not a normal header: graph.c includes it once per precision after defining REAL (the element
 * type) and NC_SPMM_FN (the function name), so the product the trainer runs in float is the
 * very code the gradient checks run in double. */
#if !defined(REAL) || !defined(NC_SPMM_FN)
#error "define REAL and NC_SPMM_FN before including spmm_tmpl.h"
#endif

/* Edges ahead whose source rows are prefetched. The rows an edge reads are scattered over a
 * matrix larger than L2, and the hardware prefetcher cannot guess them: fetching them a few
 * edges early makes the product about five times faster. */
#ifndef NC_SPMM_AHEAD
#define NC_SPMM_AHEAD 8
#endif

/* Asks for the cache lines of row col[k + NC_SPMM_AHEAD] of in (when there is one). A macro,
 * not a function: GCC deems a function holding only prefetches free of effects and deletes
 * its calls. Defined once; REAL is expanded where it is used. */
#ifndef NC_SPMM_PREFETCH
#define NC_SPMM_PREFETCH(col, k, nnz, in, d)                                      \
    do {                                                                              \
        if ((k) + NC_SPMM_AHEAD < (nnz)) {                                            \
            const char *pf_ =                                                         \
                (const char *)((in) + (int64_t)(col)[(k) + NC_SPMM_AHEAD] * (d));     \
            for (size_t off_ = 0; off_ < (size_t)(d) * sizeof(*(in)); off_ += 64)     \
                __builtin_prefetch(pf_ + off_);                                       \
        }                                                                             \
    } while (0)
#endif

/* One output row for the embedding width the model uses (d = 64): a fixed trip count lets the
 * compiler keep the whole accumulator in vector registers while it walks the row's edges. */
static inline void NC_CAT(NC_SPMM_FN, _row64)(const int32_t *col, const float *val, int64_t k0,
                                               int64_t k1, int64_t nnz, const REAL *in, REAL *o,
                                               int acc) {
    REAL s[64];
    for (int j = 0; j < 64; j++) s[j] = acc ? o[j] : (REAL)0;
    for (int64_t k = k0; k < k1; k++) {
        NC_SPMM_PREFETCH(col, k, nnz, in, 64);
        const REAL v = (REAL)val[k];
        const REAL *x = in + (int64_t)col[k] * 64;
        for (int j = 0; j < 64; j++) s[j] += v * x[j];
    }
    for (int j = 0; j < 64; j++) o[j] = s[j];
}

/* Any other width: the same sum, accumulated in place in the output row. */
static inline void NC_CAT(NC_SPMM_FN, _rowd)(const int32_t *col, const float *val, int64_t k0,
                                              int64_t k1, int64_t nnz, const REAL *in, REAL *o,
                                              int32_t d, int acc) {
    if (!acc)
        for (int32_t j = 0; j < d; j++) o[j] = 0;
    for (int64_t k = k0; k < k1; k++) {
        NC_SPMM_PREFETCH(col, k, nnz, in, d);
        const REAL v = (REAL)val[k];
        const REAL *x = in + (int64_t)col[k] * d;
        for (int32_t j = 0; j < d; j++) o[j] += v * x[j];
    }
}

/* Each thread takes a contiguous range of rows holding about nnz / threads non-zeros, so one
 * thread never gets all the popular items while the other idles. */
static void NC_SPMM_FN(const nc_graph *g, const REAL *in, REAL *out, int32_t d, int acc) {
    const int64_t *rp = g->row_ptr;
    const int32_t *col = g->col;
    const float *val = g->val;
#pragma omp parallel
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int32_t r0 = row_at_nnz(g, g->nnz * t / nt);
        int32_t r1 = t == nt - 1 ? g->n : row_at_nnz(g, g->nnz * (t + 1) / nt);
        for (int32_t r = r0; r < r1; r++) {
            REAL *o = out + (int64_t)r * d;
            if (d == 64)
                NC_CAT(NC_SPMM_FN, _row64)(col, val, rp[r], rp[r + 1], g->nnz, in, o, acc);
            else
                NC_CAT(NC_SPMM_FN, _rowd)(col, val, rp[r], rp[r + 1], g->nnz, in, o, d, acc);
        }
    }
}
