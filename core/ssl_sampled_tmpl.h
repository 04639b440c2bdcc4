/* ssl_sampled_tmpl.h - the structure term's sampled softmax (hparams ssl_negatives = N > 0),
 * written once and compiled for float and double by ncl.c next to ncl_tmpl.h. Not a normal
 * header: define REAL, NC_R, NC_K, NC_GEMM and NC_EXP first (see ncl.c).
 *
 * NCL.md's structure term for an anchor a = n(C[t]) of one side (M users or M items) is
 *   l(a) = log sum_{v in all M rows} exp(a.m_v / tau) - a.m_t / tau,   m_v = n(E0[v]).
 * The sampled mode replaces the sum with the positive plus a sample S of N rows drawn
 * uniformly without replacement per batch side, shared by all the batch's anchors of that
 * side; the anchor's own row is left out of its negatives (S_t = S \ {t}), and each negative
 * stands for (M - 1) / |S_t| rows:
 *   l~(a) = log(exp(a.m_t / tau) + (M - 1) / |S_t| sum_{v in S_t} exp(a.m_v / tau)) - a.m_t / tau.
 * The weighted sum is an unbiased estimate of the exact denominator's negatives, so the loss
 * keeps the exact one's scale whatever N is, and N >= M gives S_t = all other rows, weight 1:
 * the exact loss. For N < M it is an approximation (log of an unbiased estimate), off by
 * default. Cost per side: 6 B' (N + 1) d flops instead of 6 B' M d.
 *
 * Shapes: B' distinct anchors of the side, ns = |S|, d the embedding width. */
#if !defined(REAL) || !defined(NC_R) || !defined(NC_K) || !defined(NC_GEMM) || !defined(NC_EXP)
#error "define REAL, NC_R, NC_K, NC_GEMM and NC_EXP before including ssl_sampled_tmpl.h"
#endif

/* n distinct rows of 0..m-1, uniform over all n-subsets (Floyd's algorithm: n draws, no
 * m-sized shuffle). mark is an array of -1 over the side's rows (a slice of ws->slot), left
 * as it was found. */
static void NC_R(draw_sample)(nc_rng *rng, int32_t m, int32_t n, int32_t *mark, int32_t *out) {
    if (n >= m) {
        for (int32_t v = 0; v < m; v++) out[v] = v;
        return;
    }
    int32_t k = 0;
    for (int32_t j = m - n; j < m; j++) {
        int32_t t = (int32_t)nc_rng_below(rng, (uint64_t)j + 1);
        int32_t pick = mark[t] < 0 ? t : j; /* j is new: only 0..j-1 were drawn before */
        mark[pick] = k;
        out[k++] = pick;
    }
    for (int32_t q = 0; q < n; q++) mark[out[q]] = -1;
}

/* One row of the sampled softmax, in place. x: the ns scores a.s_v / tau; xt: a.m_t / tau;
 * skip: the index of the anchor's own row in S, or -1; lk = log((M - 1) / |S_t|). Turns x
 * into dl/dx_v (w/tau q_v, 0 at skip), stores the positive's dl/dx_t (w/tau (q_t - 1)) in
 * *pc and returns w l~. The max is subtracted before exponentiating, so nothing overflows. */
static double NC_R(sampled_row)(REAL *x, int32_t ns, REAL xt, int32_t skip, REAL lk, REAL w,
                                REAL inv_tau, REAL *pc) {
    if (skip >= 0) x[skip] = -INFINITY; /* exp gives 0: the positive is counted once, below */
    REAL mx = xt - lk;
#pragma omp simd reduction(max : mx)
    for (int32_t v = 0; v < ns; v++) mx = x[v] > mx ? x[v] : mx;
    const REAL et = NC_EXP(xt - lk - mx); /* the sum is scaled by 1 / K = exp(-lk) */
    REAL sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int32_t v = 0; v < ns; v++) {
        REAL ev = NC_EXP(x[v] - mx);
        x[v] = ev;
        sum += ev;
    }
    sum += et;
    const REAL scale = w * inv_tau / sum;
#pragma omp simd
    for (int32_t v = 0; v < ns; v++) x[v] *= scale;
    *pc = et * scale - w * inv_tau;
    /* log(e^xt + K sum_v e^xv) - xt = lk + log(e^(xt - lk) + sum_v e^xv) - xt */
    return (double)w * ((double)mx + log((double)sum) - ((double)xt - (double)lk));
}

/* Row r of the rb x n matrix x times f[r]. */
static void NC_R(scale_rows)(REAL *x, int32_t rb, int32_t n, const REAL *f) {
#pragma omp parallel for schedule(static)
    for (int32_t r = 0; r < rb; r++)
        for (int32_t v = 0; v < n; v++) x[(int64_t)r * n + v] *= f[r];
}

/* Gradient memory (ssl_memory = 1). A row's share of the denominators' gradient, sum_b
 * s_bv a_b / tau, is what the exact term gives EVERY row at every step; the sampled term gives
 * it K-fold to the rows it draws and nothing to the others, which is unbiased but spiky, and
 * Adam (per-coordinate steps scaled by the gradient's running RMS) moves a row hit once in K
 * steps by about 1 / sqrt(K) of what a steady gradient moves it. With the memory, each drawn
 * row's own estimate (not K-fold) is stored in ws->gmem and every row of the side receives its
 * stored value at every step: steady, stale by up to the steps since the row was last drawn,
 * and exact when every row is drawn each step (N >= M). */
static void NC_R(memory_store)(nc_ncl_ws *ws, const REAL *dS, const int32_t *rows, int32_t n) {
    const int32_t d = ws->d;
    REAL *gm = ws->gmem;
#pragma omp parallel for schedule(static) /* rows are distinct */
    for (int32_t k = 0; k < n; k++)
        memcpy(gm + (int64_t)rows[k] * d, dS + (int64_t)k * d, (size_t)d * sizeof(REAL));
}

/* dm += the memory, over the side's rows [base, base + m). */
static void NC_R(memory_apply)(nc_ncl_ws *ws, int32_t base, int32_t m) {
    const int64_t d = ws->d;
    REAL *dm = (REAL *)ws->dm + base * d;
    const REAL *gm = (const REAL *)ws->gmem + base * d;
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < (int64_t)m * d; j++) dm[j] += gm[j];
}

/* Sampled InfoNCE over anchors A (nb x d) with weights w, positives P (nb x d, row r is the
 * anchor's own m_t), sample rows S (ns x d) and skip[r] (own row's index in S or -1); m is the
 * side's row count M. Overwrites dA (nb x d), ADDS the sample's gradient into dS (ns x d) and
 * writes pc[r], the coefficient of the positive: dl/dP_r = pc[r] A_r, and dA_r includes
 * pc[r] P_r. blk holds blk_rows x ns scores; row_loss nb doubles. With kinv (nb scratch, or
 * NULL) each anchor's part of dS is divided by its weight K = (M - 1) / |S_t|: dS is then
 * the estimate of each sample row's own gradient of the exact term, not K times it (the
 * gradient memory's input, see ssl_sampled). */
static double NC_R(infonce_sampled)(const REAL *A, const REAL *w, int32_t nb, const REAL *P,
                                    const int32_t *skip, int32_t m, const REAL *S, int32_t ns,
                                    int32_t d, REAL inv_tau, REAL *blk, int32_t blk_rows,
                                    double *row_loss, REAL *pc, REAL *kinv, REAL *dA,
                                    REAL *dS) {
    for (int32_t r0 = 0; r0 < nb; r0 += blk_rows) {
        const int32_t rb = nb - r0 < blk_rows ? nb - r0 : blk_rows;
        const REAL *Ab = A + (int64_t)r0 * d;
        /* X (rb x ns) = A_blk S^T / tau */
        NC_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, rb, ns, d, inv_tau, Ab, d, S, d, 0, blk,
                ns);
#pragma omp parallel for schedule(static)
        for (int32_t r = r0; r < r0 + rb; r++) {
            const REAL *a = A + (int64_t)r * d, *p = P + (int64_t)r * d;
            REAL dot = 0;
            for (int32_t j = 0; j < d; j++) dot += a[j] * p[j];
            const int32_t neg = ns - (skip[r] >= 0);
            if (kinv) kinv[r] = neg ? (REAL)neg / (REAL)(m - 1) : 0;
            if (neg == 0) { /* no negatives at all (M == 1): l = log e^xt - xt = 0 */
                pc[r] = 0;
                row_loss[r] = 0;
                continue;
            }
            const REAL lk = (REAL)log((double)(m - 1) / neg);
            row_loss[r] = NC_R(sampled_row)(blk + (int64_t)(r - r0) * ns, ns, dot * inv_tau,
                                            skip[r], lk, w[r], inv_tau, pc + r);
        }
        /* dA_blk = Q S (+ pc P below);  dS += Q^T A_blk */
        NC_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, rb, d, ns, 1, blk, ns, S, d, 0,
                dA + (int64_t)r0 * d, d);
        if (kinv) NC_R(scale_rows)(blk, rb, ns, kinv + r0);
        NC_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, ns, d, rb, 1, blk, ns, Ab, d, 1, dS, d);
    }
#pragma omp parallel for schedule(static)
    for (int32_t r = 0; r < nb; r++)
        for (int32_t j = 0; j < d; j++) dA[(int64_t)r * d + j] += pc[r] * P[(int64_t)r * d + j];
    double loss = 0; /* in row order: the same total whatever the thread count */
    for (int32_t r = 0; r < nb; r++) loss += row_loss[r];
    return loss;
}

/* The side's sample: the caller's fixed one (tests), else N rows drawn from the workspace's
 * generator. Returns its size. */
static int32_t NC_R(side_sample)(nc_ncl_ws *ws, int side, int32_t base, int32_t m) {
    int32_t *out = ws->samp;
    if (ws->fix_n[side] > 0) {
        memcpy(out, ws->fix[side], (size_t)ws->fix_n[side] * sizeof *out);
        return ws->fix_n[side];
    }
    int32_t n = ws->hp.ssl_negatives < m ? ws->hp.ssl_negatives : m;
    NC_R(draw_sample)(&ws->rng, m, n, ws->slot + base, out);
    return n;
}

/* The sampled structure term of one side: anchors A (nr x d, normalised C rows of `rows`, the
 * global rows of the side's distinct batch rows) with weights w. Overwrites dA, adds d n(E0)
 * of the sample and of the positives into ws->dm. Returns the weighted loss. */
static double NC_R(ssl_sampled)(nc_ncl_ws *ws, int side, const REAL *A, const REAL *w,
                                const int32_t *rows, int32_t nr, int32_t base, int32_t m,
                                REAL *dA) {
    const int32_t d = ws->d;
    const int32_t ns = NC_R(side_sample)(ws, side, base, m);
    int32_t *sg = ws->samp_g, *skip = ws->skip;
    for (int32_t k = 0; k < ns; k++) {
        sg[k] = base + ws->samp[k];
        ws->slot[sg[k]] = k;
    }
    for (int32_t r = 0; r < nr; r++) skip[r] = ws->slot[rows[r]];
    NC_R(reset_slots)(ws->slot, sg, ns);
    REAL *S = ws->sm, *dS = ws->dsm, *P = ws->pm, *pc = ws->pc;
    NC_K(nc_kern_gather)(ws->mn, sg, ns, d, S);
    NC_K(nc_kern_gather)(ws->mn, rows, nr, d, P);
    memset(dS, 0, (size_t)ns * d * sizeof(REAL));
    const int memory = ws->hp.ssl_memory;
    double loss = NC_R(infonce_sampled)(A, w, nr, P, skip, m, S, ns, d,
                                        (REAL)(1.0 / ws->hp.ssl_temp), ws->blk,
                                        block_rows(ws, ns), ws->row_loss, pc,
                                        memory ? ws->kinv : NULL, dA, dS);
    REAL *dm = ws->dm;
    if (memory) {
        NC_R(memory_store)(ws, dS, sg, ns);
        NC_R(memory_apply)(ws, base, m);
    } else {
        NC_K(nc_kern_scatter_add)(dS, sg, ns, d, 1, dm);
    }
#pragma omp parallel for schedule(static) /* rows are distinct: no two threads share a row */
    for (int32_t r = 0; r < nr; r++)
        for (int32_t j = 0; j < d; j++)
            dm[(int64_t)rows[r] * d + j] += pc[r] * A[(int64_t)r * d + j];
    ws->width[side] = ns + 1.0;
    return loss;
}
