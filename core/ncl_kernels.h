/* ncl_kernels.h - the building blocks of the NCL loss, each a forward with its backward, in
 * float (suffix _f, what training runs) and double (suffix _d, the same source compiled again
 * for the finite-difference checks). Used by ncl.c and the tests; not a service API.
 *
 * Shapes: matrices are row-major; B' = distinct rows of a batch, M = rows of a softmax's
 * support, d = embedding width. All pointers are caller-owned; nothing is allocated here.
 * Threads: loops use OpenMP; the InfoNCE kernel also calls BLAS, so call these from outside any
 * OpenMP parallel region. Gradient outputs say whether they overwrite or add (+=). */
#ifndef NCLREC_NCL_KERNELS_H
#define NCLREC_NCL_KERNELS_H

#include <stdint.h>

#define NC_NORM_EPS 1e-12  /* torch.nn.functional.normalize's eps */
#define NC_BPR_GAMMA 1e-10 /* RecBole's BPRLoss: -log(gamma + sigmoid(x)) */

/* exp(x) in single precision, vectorisable; ~1 ulp for x in [-87, 88], 0 below. */
float nc_expf_fast(float x);

#define NC_KERNEL_DECLS(REAL, S)                                                               \
    /* z = x / max(||x||, 1e-12) per row, nrm = ||x|| (n rows). z may be x. */                 \
    void nc_kern_normalize##S(const REAL *x, int64_t n, int32_t d, REAL *z, REAL *nrm);        \
    /* dx = (or +=) the gradient through the normalisation, from z, nrm and dz. */             \
    void nc_kern_normalize_bwd##S(const REAL *z, const REAL *nrm, const REAL *dz, int64_t n,   \
                                  int32_t d, REAL *dx, int accumulate);                        \
    /* dst[k] = src[rows[k]] for k < n. */                                                     \
    void nc_kern_gather##S(const REAL *src, const int32_t *rows, int32_t n, int32_t d,         \
                           REAL *dst);                                                         \
    /* dst[rows[k]] += scale src[k]; rows must be distinct. */                                 \
    void nc_kern_scatter_add##S(const REAL *src, const int32_t *rows, int32_t n, int32_t d,    \
                                REAL scale, REAL *dst);                                        \
    /* Weighted InfoNCE: returns sum_b w_b (logsumexp_v(A_b.M_v tau^-1) - A_b.M_{t_b} tau^-1). \
     * A (nb x d) anchors, w (nb) weights (multiplicity x term weight), M (nm x d), target    \
     * (nb) indices into M. Writes dA (nb x d, overwritten) and, when dM is not NULL, adds    \
     * the gradient w.r.t. M into dM (nm x d). blk: scratch of blk_rows x nm; rows are done   \
     * blk_rows at a time. row_loss: scratch of nb. */                                        \
    double nc_kern_infonce##S(const REAL *A, const REAL *w, int32_t nb, const REAL *M,         \
                              int32_t nm, const int32_t *target, int32_t d, REAL inv_tau,      \
                              REAL *blk, int32_t blk_rows, double *row_loss, REAL *dA,         \
                              REAL *dM);                                                       \
    /* BPR over n triples given as indices (iu, ip, in) into the gathered rows Fg:            \
     * returns mean_b -log(1e-10 + sigmoid(F_u.F_p - F_u.F_n)) and adds its gradient into     \
     * gFg (same shape as Fg). coef: scratch of n. */                                          \
    double nc_kern_bpr##S(const REAL *Fg, int32_t n, const int32_t *iu, const int32_t *ip,     \
                          const int32_t *in, int32_t d, double *coef, REAL *gFg);              \
    /* Returns ||E[rows]||_F over the n gathered rows (repeats included) and, when g is not   \
     * NULL, adds scale x its gradient into g (same shape as E; 0 when the norm is 0). */     \
    double nc_kern_frob##S(const REAL *E, const int32_t *rows, int32_t n, int32_t d,           \
                           REAL scale, REAL *g);

NC_KERNEL_DECLS(float, _f)
NC_KERNEL_DECLS(double, _d)
#undef NC_KERNEL_DECLS

#endif
