/* ssl_strata_tmpl.h - the structure term's stratified softmax (ssl_negatives = N > 0 and strata
 * set with nc_ncl_set_ssl_strata), compiled for float and double by ncl.c after
 * ssl_sampled_tmpl.h, whose uniform draw it shares.
 *
 * The M rows of a side are split into k strata (the trainer uses k-means of the normalised
 * E0 rows, so a stratum holds rows that point the same way). For an anchor a whose own row t
 * lies in stratum g (members G, |G| = n_g), with S the side's uniform sample of N rows shared
 * by the batch and S_g = S \ G:
 *   l~(a) = log( sum_{v in G} e^(a.m_v/tau) + (M - n_g) / |S_g| sum_{v in S_g} e^(a.m_v/tau) )
 *           - a.m_t / tau.
 * The own stratum, where the rows most like t and most of the denominator's mass are, is summed
 * exactly; the rest is estimated from the sample. S_g given its size is a uniform sample of the
 * other strata's rows, so the weighted sum is an unbiased estimate of their mass and the
 * denominator estimate is unbiased for every anchor; with N >= M it is exact (S_g = every other
 * row, weight 1). When no sampled row falls outside G (tiny sides only), the other strata are
 * left out. Anchors are grouped by stratum: one set of three products per group, on its
 * support (G then S_g). With ssl_memory the sampled rows' gradient goes through the memory
 * of ssl_sampled_tmpl.h (the own stratum's stays direct and exact). Cost per side: 6 sum_g B'_g (n_g + |S_g|) d flops, about
 * 6 B' (M / k + N) d for balanced strata. */
#if !defined(REAL) || !defined(NC_R) || !defined(NC_K) || !defined(NC_GEMM) || !defined(NC_EXP)
#error "define REAL, NC_R, NC_K, NC_GEMM and NC_EXP before including ssl_strata_tmpl.h"
#endif

/* One row of the stratified softmax, in place. x: nl exact scores (the own stratum, the
 * positive at t) then ns - nl sample scores, each standing for e^lk rows. Turns x into
 * dl/dx (w/tau (omega_v e^x_v / Z - [v == t])) and returns w l~. */
static double NC_R(strat_row)(REAL *x, int32_t nl, int32_t ns, int32_t t, REAL lk, REAL w,
                              REAL inv_tau) {
    const REAL xt = x[t];
    REAL mx = x[0];
    for (int32_t v = 0; v < nl; v++) mx = x[v] > mx ? x[v] : mx;
    for (int32_t v = nl; v < ns; v++) mx = x[v] + lk > mx ? x[v] + lk : mx;
    REAL sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int32_t v = 0; v < nl; v++) {
        REAL ev = NC_EXP(x[v] - mx);
        x[v] = ev;
        sum += ev;
    }
    const REAL sh = lk - mx;
#pragma omp simd reduction(+ : sum)
    for (int32_t v = nl; v < ns; v++) {
        REAL ev = NC_EXP(x[v] + sh);
        x[v] = ev;
        sum += ev;
    }
    const REAL scale = w * inv_tau / sum;
#pragma omp simd
    for (int32_t v = 0; v < ns; v++) x[v] *= scale;
    x[t] -= w * inv_tau;
    return (double)w * ((double)mx + log((double)sum) - (double)xt);
}

/* Gradient memory (ssl_sampled_tmpl.h): the sample columns [nl, ns) of the rb x ns block
 * divided by their weight e^lk, so dS holds each sampled row's own gradient estimate. */
static void NC_R(unweight_sample)(REAL *x, int32_t rb, int32_t nl, int32_t ns, REAL lk) {
    const REAL f = (REAL)exp(-(double)lk);
#pragma omp parallel for schedule(static)
    for (int32_t r = 0; r < rb; r++)
        for (int32_t v = nl; v < ns; v++) x[(int64_t)r * ns + v] *= f;
}

/* The support of stratum g: its members, then the sample's rows of other strata, as global
 * rows into ws->sup_rows. Returns the support's width; *nl receives the members' count and
 * *lk the log-weight of each sampled row. */
static int32_t NC_R(strat_support)(nc_ncl_ws *ws, int side, int32_t g, int32_t base, int32_t m,
                                   const int32_t *samp, int32_t ns, int32_t *nl, REAL *lk) {
    const int32_t *mem = ws->strat_mem[side] + ws->strat_start[side][g];
    const int32_t *of = ws->strat_of[side];
    const int32_t n_g = ws->strat_start[side][g + 1] - ws->strat_start[side][g];
    int32_t *sr = ws->sup_rows, n = 0;
    for (int32_t j = 0; j < n_g; j++) sr[n++] = base + mem[j];
    for (int32_t q = 0; q < ns; q++)
        if (of[samp[q]] != g) sr[n++] = base + samp[q];
    *nl = n_g;
    *lk = n > n_g ? (REAL)log((double)(m - n_g) / (n - n_g)) : 0;
    return n;
}

/* The anchors of one stratum (indices idx[0..ng) into A, w, rows): their losses, dA rows and
 * the support's gradient added into ws->dm. Returns the group's weighted loss. */
static double NC_R(strat_group)(nc_ncl_ws *ws, int side, int32_t g, const int32_t *idx,
                                int32_t ng, const REAL *A, const REAL *w, const int32_t *rows,
                                int32_t base, int32_t m, int32_t ns, REAL *dA) {
    const int32_t d = ws->d;
    int32_t nl;
    REAL lk;
    const int32_t nsup = NC_R(strat_support)(ws, side, g, base, m, ws->samp, ns, &nl, &lk);
    REAL *S = ws->sup, *dS = ws->dsup, *Ag = ws->pm, *dAg = ws->dag, *wg = ws->pc;
    int32_t *tg = ws->skip;
    NC_K(nc_kern_gather)(ws->mn, ws->sup_rows, nsup, d, S);
    memset(dS, 0, (size_t)nsup * d * sizeof(REAL));
    for (int32_t j = 0; j < ng; j++) {
        memcpy(Ag + (int64_t)j * d, A + (int64_t)idx[j] * d, (size_t)d * sizeof(REAL));
        wg[j] = w[idx[j]];
        tg[j] = ws->strat_pos[side][rows[idx[j]] - base];
    }
    const REAL inv_tau = (REAL)(1.0 / ws->hp.ssl_temp);
    const int32_t br = block_rows(ws, nsup);
    double *rl = ws->row_loss;
    for (int32_t r0 = 0; r0 < ng; r0 += br) {
        const int32_t rb = ng - r0 < br ? ng - r0 : br;
        const REAL *Ab = Ag + (int64_t)r0 * d;
        NC_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, rb, nsup, d, inv_tau, Ab, d, S, d, 0,
                ws->blk, nsup);
#pragma omp parallel for schedule(static)
        for (int32_t r = 0; r < rb; r++)
            rl[r0 + r] = NC_R(strat_row)((REAL *)ws->blk + (int64_t)r * nsup, nl, nsup,
                                         tg[r0 + r], lk, wg[r0 + r], inv_tau);
        NC_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, rb, d, nsup, 1, ws->blk, nsup, S, d, 0,
                dAg + (int64_t)r0 * d, d);
        if (ws->hp.ssl_memory) NC_R(unweight_sample)(ws->blk, rb, nl, nsup, lk);
        NC_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, nsup, d, rb, 1, ws->blk, nsup, Ab, d, 1,
                dS, d);
    }
    if (ws->hp.ssl_memory) { /* own stratum now, the sampled rows through the memory */
        NC_K(nc_kern_scatter_add)(dS, ws->sup_rows, nl, d, 1, ws->dm);
        NC_K(nc_kern_scatter_add)(dS + (int64_t)nl * d, ws->sup_rows + nl, nsup - nl, d, 1,
                                  ws->gmem);
    } else {
        NC_K(nc_kern_scatter_add)(dS, ws->sup_rows, nsup, d, 1, ws->dm);
    }
    double loss = 0; /* in row order: the same total whatever the thread count */
    for (int32_t j = 0; j < ng; j++) {
        memcpy(dA + (int64_t)idx[j] * d, dAg + (int64_t)j * d, (size_t)d * sizeof(REAL));
        loss += rl[j];
    }
    ws->width[side] += (double)ng * nsup;
    return loss;
}

/* The stratified structure term of one side (the arguments of ssl_sampled): anchors sorted
 * by their own row's stratum (counting sort into ws->order), then one group at a time.
 * Overwrites dA, adds d n(E0) into ws->dm. Returns the weighted loss. */
static double NC_R(ssl_strat)(nc_ncl_ws *ws, int side, const REAL *A, const REAL *w,
                              const int32_t *rows, int32_t nr, int32_t base, int32_t m,
                              REAL *dA) {
    const int32_t k = ws->strat_k[side], *of = ws->strat_of[side];
    const int32_t ns = NC_R(side_sample)(ws, side, base, m);
    int32_t *gs = ws->gstart, *order = ws->order;
    memset(gs, 0, ((size_t)k + 1) * sizeof *gs);
    for (int32_t r = 0; r < nr; r++) gs[of[rows[r] - base] + 1]++;
    for (int32_t g = 0; g < k; g++) gs[g + 1] += gs[g];
    for (int32_t r = 0; r < nr; r++) order[gs[of[rows[r] - base]]++] = r;
    for (int32_t g = k; g > 0; g--) gs[g] = gs[g - 1]; /* back to the groups' starts */
    gs[0] = 0;
    ws->width[side] = 0;
    if (ws->hp.ssl_memory) /* the drawn rows' memory is rebuilt from this step's groups */
        for (int32_t q = 0; q < ns; q++)
            memset((REAL *)ws->gmem + ((int64_t)base + ws->samp[q]) * ws->d, 0,
                   (size_t)ws->d * sizeof(REAL));
    double loss = 0;
    for (int32_t g = 0; g < k; g++)
        if (gs[g + 1] > gs[g])
            loss += NC_R(strat_group)(ws, side, g, order + gs[g], gs[g + 1] - gs[g], A, w, rows,
                                      base, m, ns, dA);
    if (ws->hp.ssl_memory) NC_R(memory_apply)(ws, base, m);
    ws->width[side] /= nr;
    return loss;
}
