/* kernels_tmpl.h - the loss kernels of NCL, written once and compiled for float and double.
 *
 * Not a normal header: kernels.c includes it once per precision after defining
 *   REAL      the element type (float or double)
 *   NC_R(f)   the name of f for this precision (f##_f or f##_d)
 *   NC_GEMM   cblas_sgemm or cblas_dgemm
 *   NC_EXP    the exponential used by the softmax (a vectorisable one for float)
 * so the code the trainer runs in float is the code the gradient checks run in double.
 * Contracts are in ncl_kernels.h. Shapes: B' distinct batch rows, M rows of the softmax
 * support (all users, all items or the centroids), d the embedding width. */
#if !defined(REAL) || !defined(NC_R) || !defined(NC_GEMM) || !defined(NC_EXP)
#error "define REAL, NC_R, NC_GEMM and NC_EXP before including kernels_tmpl.h"
#endif

/* ---- L2 normalisation: z = x / max(||x||, 1e-12), as torch.nn.functional.normalize ---- */

void NC_R(nc_kern_normalize)(const REAL *x, int64_t n, int32_t d, REAL *z, REAL *nrm) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n; r++) {
        const REAL *xr = x + r * d;
        REAL *zr = z + r * d;
        double ss = 0;
        for (int32_t j = 0; j < d; j++) ss += (double)xr[j] * xr[j];
        REAL len = (REAL)sqrt(ss);
        REAL inv = (REAL)1 / (len > (REAL)NC_NORM_EPS ? len : (REAL)NC_NORM_EPS);
        nrm[r] = len;
        for (int32_t j = 0; j < d; j++) zr[j] = xr[j] * inv;
    }
}

/* dx = (dz - z (z . dz)) / ||x||; below the clamp z = x / eps is linear, so dx = dz / eps. */
void NC_R(nc_kern_normalize_bwd)(const REAL *z, const REAL *nrm, const REAL *dz, int64_t n,
                                 int32_t d, REAL *dx, int accumulate) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n; r++) {
        const REAL *zr = z + r * d, *gr = dz + r * d;
        REAL *o = dx + r * d;
        REAL dot = 0, inv;
        if (nrm[r] > (REAL)NC_NORM_EPS) {
            for (int32_t j = 0; j < d; j++) dot += zr[j] * gr[j];
            inv = (REAL)1 / nrm[r];
        } else {
            inv = (REAL)(1 / NC_NORM_EPS);
        }
        for (int32_t j = 0; j < d; j++) {
            REAL v = (gr[j] - zr[j] * dot) * inv;
            o[j] = accumulate ? o[j] + v : v;
        }
    }
}

void NC_R(nc_kern_gather)(const REAL *src, const int32_t *rows, int32_t n, int32_t d, REAL *dst) {
#pragma omp parallel for schedule(static)
    for (int32_t k = 0; k < n; k++)
        memcpy(dst + (int64_t)k * d, src + (int64_t)rows[k] * d, (size_t)d * sizeof(REAL));
}

void NC_R(nc_kern_scatter_add)(const REAL *src, const int32_t *rows, int32_t n, int32_t d,
                               REAL scale, REAL *dst) {
    /* rows are distinct by contract, so threads never write the same row */
#pragma omp parallel for schedule(static)
    for (int32_t k = 0; k < n; k++) {
        const REAL *s = src + (int64_t)k * d;
        REAL *o = dst + (int64_t)rows[k] * d;
        for (int32_t j = 0; j < d; j++) o[j] += scale * s[j];
    }
}

/* ---- InfoNCE with multiplicities (the structure and prototype terms) ---- */

/* Turns one row of scaled scores x (x_v = a.m_v / tau) into P_v = w/tau (s_v - [v == t]),
 * s = softmax(x), in place, and returns the row's loss w (logsumexp(x) - x_t). The row max is
 * subtracted before exponentiating, so no score can overflow. */
static double NC_R(softmax_row)(REAL *x, int32_t m, int32_t t, REAL w, REAL inv_tau) {
    REAL mx = x[0];
#pragma omp simd reduction(max : mx)
    for (int32_t v = 0; v < m; v++) mx = x[v] > mx ? x[v] : mx;
    const REAL xt = x[t];
    REAL sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int32_t v = 0; v < m; v++) {
        REAL ev = NC_EXP(x[v] - mx);
        x[v] = ev;
        sum += ev;
    }
    const REAL scale = w * inv_tau / sum;
#pragma omp simd
    for (int32_t v = 0; v < m; v++) x[v] *= scale;
    x[t] -= w * inv_tau;
    return (double)w * ((double)mx + log((double)sum) - (double)xt);
}

double NC_R(nc_kern_infonce)(const REAL *A, const REAL *w, int32_t nb, const REAL *M, int32_t nm,
                             const int32_t *target, int32_t d, REAL inv_tau, REAL *blk,
                             int32_t blk_rows, double *row_loss, REAL *dA, REAL *dM) {
    if (blk_rows < 1) blk_rows = 1;
    for (int32_t r0 = 0; r0 < nb; r0 += blk_rows) {
        const int32_t rb = nb - r0 < blk_rows ? nb - r0 : blk_rows;
        const REAL *Ab = A + (int64_t)r0 * d;
        /* X (rb x nm) = A_blk M^T / tau */
        NC_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, rb, nm, d, inv_tau, Ab, d, M, d, 0, blk,
                nm);
#pragma omp parallel for schedule(static)
        for (int32_t r = 0; r < rb; r++)
            row_loss[r0 + r] = NC_R(softmax_row)(blk + (int64_t)r * nm, nm, target[r0 + r],
                                                 w[r0 + r], inv_tau);
        /* dA_blk (rb x d) = P M;  dM (nm x d) += P^T A_blk */
        NC_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, rb, d, nm, 1, blk, nm, M, d, 0,
                dA + (int64_t)r0 * d, d);
        if (dM)
            NC_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, nm, d, rb, 1, blk, nm, Ab, d, 1, dM,
                    d);
    }
    double loss = 0; /* summed in row order: the same total whatever the thread count */
    for (int32_t r = 0; r < nb; r++) loss += row_loss[r];
    return loss;
}

/* ---- BPR on the batch's distinct rows ---- */

double NC_R(nc_kern_bpr)(const REAL *Fg, int32_t n, const int32_t *iu, const int32_t *ip,
                         const int32_t *in, int32_t d, double *coef, REAL *gFg) {
    /* the scores in parallel (coef holds x for now) ... */
#pragma omp parallel for schedule(static)
    for (int32_t b = 0; b < n; b++) {
        const REAL *fu = Fg + (int64_t)iu[b] * d, *fp = Fg + (int64_t)ip[b] * d,
                   *fn = Fg + (int64_t)in[b] * d;
        REAL sp = 0, sn = 0;
        for (int32_t j = 0; j < d; j++) {
            sp += fu[j] * fp[j];
            sn += fu[j] * fn[j];
        }
        coef[b] = (double)sp - (double)sn;
    }
    /* ... the loss in batch order, so it is the same number whatever the thread count */
    double loss = 0;
    for (int32_t b = 0; b < n; b++) {
        /* sigma(x) and sigma(x)(1 - sigma(x)) without cancellation for large |x| */
        double x = coef[b], ex = exp(-fabs(x));
        double sig = x >= 0 ? 1 / (1 + ex) : ex / (1 + ex);
        double dsig = ex / ((1 + ex) * (1 + ex));
        loss += -log(NC_BPR_GAMMA + sig);
        coef[b] = -dsig / (NC_BPR_GAMMA + sig) / n;
    }
    /* scatter in batch order: rows repeat, and the order keeps the sums reproducible */
    for (int32_t b = 0; b < n; b++) {
        const REAL c = (REAL)coef[b];
        const REAL *fu = Fg + (int64_t)iu[b] * d, *fp = Fg + (int64_t)ip[b] * d,
                   *fn = Fg + (int64_t)in[b] * d;
        REAL *gu = gFg + (int64_t)iu[b] * d, *gp = gFg + (int64_t)ip[b] * d,
             *gn = gFg + (int64_t)in[b] * d;
        for (int32_t j = 0; j < d; j++) {
            gu[j] += c * (fp[j] - fn[j]);
            gp[j] += c * fu[j];
            gn[j] -= c * fu[j];
        }
    }
    return loss / n;
}

/* ---- Frobenius norm of gathered rows (RecBole's EmbLoss, one of its three blocks) ---- */

double NC_R(nc_kern_frob)(const REAL *E, const int32_t *rows, int32_t n, int32_t d, REAL scale,
                          REAL *g) {
    double ss = 0;
    for (int32_t k = 0; k < n; k++) {
        const REAL *e = E + (int64_t)rows[k] * d;
        for (int32_t j = 0; j < d; j++) ss += (double)e[j] * e[j];
    }
    double len = sqrt(ss);
    if (g && len > 0) {
        const REAL c = (REAL)(scale / len);
        for (int32_t k = 0; k < n; k++) {
            const REAL *e = E + (int64_t)rows[k] * d;
            REAL *o = g + (int64_t)rows[k] * d;
            for (int32_t j = 0; j < d; j++) o[j] += c * e[j];
        }
    }
    return len;
}
