/* ncl_tmpl.h - one NCL mini-batch, forward and backward, written once and compiled for float
 * (training) and double (gradient checks) by ncl.c. Not a normal header: define
 *   REAL   element type          NC_R(f)  name for this precision (f##_f or f##_d)
 *   NC_K(f) kernel name (f##_f / f##_d)    NC_SPMM  nc_graph_spmm or nc_graph_spmm_d
 *   NC_GEMM, NC_EXP  cblas gemm and exp     NC_DOUBLE 0 or 1
 *   (the last two for the sampled structure term, ssl_sampled_tmpl.h, included below)
 *
 * The batch, drawn as B triples (u, i+, i-), is first reduced to its distinct rows:
 *   du[nu]  distinct users (rows of E0) with multiplicity mu[]     -> ssl_u, proto_u
 *   dp[np]  distinct positive items (rows U+i)     with mp[]       -> ssl_i, proto_i
 *   da[na]  distinct users and items of all three columns, and per triple the indices
 *           iu/ip/in into da                                         -> bpr
 * Each distinct row's loss term is computed once and weighted by its multiplicity, which is
 * exactly the sum over the B repeated rows.
 *
 * Gradients are collected per layer: gl[l] (N x d, dense) is dLoss/dE_l with E_l taken as an
 * independent input; then dE0 = gl[0] + Â(gl[1] + Â(gl[2] + ... Â gl[L])) (Â symmetric). */
#if !defined(REAL) || !defined(NC_R) || !defined(NC_K) || !defined(NC_SPMM) || !defined(NC_DOUBLE)
#error "define REAL, NC_R, NC_K, NC_SPMM and NC_DOUBLE before including ncl_tmpl.h"
#endif

/* Distinct rows of rows[0..n) (offset added), multiplicities, and each element's index. slot
 * is an N-array of -1 on entry and on return. */
static int32_t NC_R(distinct)(const int32_t *rows, int32_t n, int32_t offset, int32_t *slot,
                              int32_t *out, int32_t *mult, int32_t *index, int32_t count0) {
    int32_t m = count0;
    for (int32_t b = 0; b < n; b++) {
        int32_t r = rows[b] + offset;
        if (slot[r] < 0) {
            slot[r] = m;
            out[m] = r;
            if (mult) mult[m] = 0;
            m++;
        }
        if (mult) mult[slot[r]]++;
        if (index) index[b] = slot[r];
    }
    return m;
}

static void NC_R(reset_slots)(int32_t *slot, const int32_t *rows, int32_t n) {
    for (int32_t k = 0; k < n; k++) slot[rows[k]] = -1;
}

/* E_1..E_L from E0 (forward propagation), L <= ws->L. */
static void NC_R(propagate)(nc_ncl_ws *ws, const REAL *E0, int32_t L) {
    const size_t nd = (size_t)ws->n_node * ws->d;
    REAL *lay = ws->layers;
    for (int32_t l = 1; l <= L; l++)
        NC_SPMM(ws->g, l == 1 ? E0 : lay + (l - 2) * nd, lay + (l - 1) * nd, ws->d, 0);
}

/* E_l for l = 0..L: the caller's E0 or one of the workspace's layer buffers. */
static const REAL *NC_R(layer)(const nc_ncl_ws *ws, const REAL *E0, int32_t l) {
    return l == 0 ? E0 : (const REAL *)ws->layers + (size_t)(l - 1) * ws->n_node * ws->d;
}

/* Gradient buffer of layer l: grad itself for l = 0. */
static REAL *NC_R(glayer)(nc_ncl_ws *ws, REAL *grad, int32_t l) {
    return l == 0 ? grad : (REAL *)ws->glay + (size_t)(l - 1) * ws->n_node * ws->d;
}

/* BPR on F = mean(E_0..E_nl) at the batch's distinct rows; dF spread over the layers. */
static double NC_R(bpr_term)(nc_ncl_ws *ws, const REAL *E0, const nc_batch *b, REAL *grad) {
    const int32_t d = ws->d, nl = ws->hp.n_layers, na = ws->na;
    REAL *Fg = ws->fg, *gF = ws->gfg;
    const REAL inv = (REAL)1 / (REAL)(nl + 1);
#pragma omp parallel for schedule(static)
    for (int32_t k = 0; k < na; k++) {
        REAL *f = Fg + (size_t)k * d;
        for (int32_t j = 0; j < d; j++) f[j] = 0;
        for (int32_t l = 0; l <= nl; l++) {
            const REAL *e = NC_R(layer)(ws, E0, l) + (size_t)ws->da[k] * d;
            for (int32_t j = 0; j < d; j++) f[j] += e[j];
        }
        for (int32_t j = 0; j < d; j++) f[j] *= inv;
    }
    memset(gF, 0, (size_t)na * d * sizeof(REAL));
    double loss = NC_K(nc_kern_bpr)(Fg, b->n, ws->iu, ws->ip, ws->in, d, ws->coef, gF);
    for (int32_t l = 0; l <= nl; l++)
        NC_K(nc_kern_scatter_add)(gF, ws->da, na, d, inv, NC_R(glayer)(ws, grad, l));
    return loss;
}

/* RecBole's EmbLoss: sum of the Frobenius norms of the three gathered blocks, / n. */
static double NC_R(reg_term)(nc_ncl_ws *ws, const REAL *E0, const nc_batch *b, REAL *grad) {
    const int32_t n = b->n, U = ws->n_user;
    for (int32_t k = 0; k < n; k++) {
        ws->rows3[k] = b->user[k];
        ws->rows3[n + k] = U + b->pos[k];
        ws->rows3[2 * n + k] = U + b->neg[k];
    }
    const REAL scale = (REAL)((double)ws->hp.reg_weight / n);
    double s = 0;
    for (int c = 0; c < 3; c++)
        s += NC_K(nc_kern_frob)(E0, ws->rows3 + (size_t)c * n, n, ws->d, scale, grad);
    return s / n;
}

#include "ssl_sampled_tmpl.h"
#include "ssl_strata_tmpl.h"

/* One side of the structure term: anchors n(C[rows]), support n(E0[side]) (all users or all
 * items; with ssl_negatives > 0 the positive and a sample of them), target = the row itself.
 * Adds dC into gl[2h] and d n(E0[side]) into ws->dm. side: 0 users, 1 items. */
static double NC_R(ssl_side)(nc_ncl_ws *ws, const REAL *E0, int side, const int32_t *rows,
                             const int32_t *mult, int32_t nr, int32_t base, int32_t nm,
                             double weight, REAL *grad) {
    const int32_t d = ws->d;
    const REAL *C = NC_R(layer)(ws, E0, 2 * ws->hp.hyper_layers);
    REAL *A = ws->anc, *dA = ws->danc, *w = ws->w, *nrm = ws->nrmc;
    NC_K(nc_kern_gather)(C, rows, nr, d, A);
    NC_K(nc_kern_normalize)(A, nr, d, A, nrm);
    for (int32_t k = 0; k < nr; k++) {
        w[k] = (REAL)(weight * mult[k]);
        ws->tgt[k] = rows[k] - base;
    }
    const REAL *M = (const REAL *)ws->mn + (size_t)base * d;
    REAL *dM = (REAL *)ws->dm + (size_t)base * d;
    double loss = ws->hp.ssl_negatives > 0 && ws->strat_k[side] > 0
                      ? NC_R(ssl_strat)(ws, side, A, w, rows, nr, base, nm, dA)
                  : ws->hp.ssl_negatives > 0
                      ? NC_R(ssl_sampled)(ws, side, A, w, rows, nr, base, nm, dA)
                      : NC_K(nc_kern_infonce)(A, w, nr, M, nm, ws->tgt, d,
                                              (REAL)(1.0 / ws->hp.ssl_temp), ws->blk,
                                              block_rows(ws, nm), ws->row_loss, dA, dM);
    NC_K(nc_kern_normalize_bwd)(A, nrm, dA, nr, d, dA, 0);
    NC_K(nc_kern_scatter_add)(dA, rows, nr, d, 1, NC_R(glayer)(ws, grad, 2 * ws->hp.hyper_layers));
    return loss;
}

/* One side of the prototype term: anchors n(E0[rows]) against the normalised centroids. */
static double NC_R(proto_side)(nc_ncl_ws *ws, const int32_t *rows, const int32_t *mult,
                               int32_t nr, int32_t base, const float *cent, int32_t k,
                               const int32_t *assign, REAL *grad) {
    const int32_t d = ws->d;
    REAL *A = ws->anc, *dA = ws->danc, *w = ws->w, *nrm = ws->nrmc;
    const REAL *mn = ws->mn, *nrm0 = ws->nrm0;
    for (int32_t r = 0; r < nr; r++) {
        memcpy(A + (size_t)r * d, mn + (size_t)rows[r] * d, (size_t)d * sizeof(REAL));
        nrm[r] = nrm0[rows[r]];
        w[r] = (REAL)((double)ws->hp.proto_reg * mult[r]);
        ws->tgt[r] = assign[rows[r] - base];
    }
#if NC_DOUBLE
    REAL *M = ws->cent;
    for (size_t j = 0; j < (size_t)k * d; j++) M[j] = cent[j];
#else
    const REAL *M = cent;
#endif
    double loss = NC_K(nc_kern_infonce)(A, w, nr, M, k, ws->tgt, d,
                                        (REAL)(1.0 / ws->hp.ssl_temp), ws->blk, block_rows(ws, k),
                                        ws->row_loss, dA, NULL);
    NC_K(nc_kern_normalize_bwd)(A, nrm, dA, nr, d, dA, 0);
    NC_K(nc_kern_scatter_add)(dA, rows, nr, d, 1, grad);
    return loss;
}

/* Distinct rows of the batch into du/dp/da, multiplicities and BPR indices. */
static void NC_R(index_batch)(nc_ncl_ws *ws, const nc_batch *b) {
    const int32_t n = b->n, U = ws->n_user;
    ws->nu = NC_R(distinct)(b->user, n, 0, ws->slot, ws->du, ws->mu, NULL, 0);
    NC_R(reset_slots)(ws->slot, ws->du, ws->nu);
    ws->np = NC_R(distinct)(b->pos, n, U, ws->slot, ws->dp, ws->mp, NULL, 0);
    NC_R(reset_slots)(ws->slot, ws->dp, ws->np);
    int32_t m = NC_R(distinct)(b->user, n, 0, ws->slot, ws->da, NULL, ws->iu, 0);
    m = NC_R(distinct)(b->pos, n, U, ws->slot, ws->da, NULL, ws->ip, m);
    ws->na = NC_R(distinct)(b->neg, n, U, ws->slot, ws->da, NULL, ws->in, m);
    NC_R(reset_slots)(ws->slot, ws->da, ws->na);
}

/* dE0 = gl[0] + Â(gl[1] + Â(... + Â gl[L])), in place in the gl buffers; grad is gl[0]. */
static void NC_R(backprop)(nc_ncl_ws *ws, REAL *grad) {
    for (int32_t l = ws->L - 1; l >= 0; l--)
        NC_SPMM(ws->g, NC_R(glayer)(ws, grad, l + 1), NC_R(glayer)(ws, grad, l), ws->d, 1);
}

/* Floating-point operations of the step's matrix products (multiply and add counted apart),
 * so a benchmark can set the step's rate against the machine's sgemm rate. Counted: the 2L
 * sparse products (L forward, L backward: 2 nnz d each), the structure term's three products
 * per side (scores, dA, dM: 2 rows width d each; sampled: the ns sample rows plus the
 * positive's three dot-product-sized ones; stratified: the mean support width per anchor), the prototype term's two per side (the centroids
 * are constants) and bpr's dot products and their gradients. Not counted: the softmax
 * exponentials, the normalisations and the gathers, which are memory-bound. */
static double NC_R(step_flops)(const nc_ncl_ws *ws, int32_t n, int use_ssl, const nc_protos *p) {
    const double d = ws->d, L = ws->L;
    const int sampled = ws->hp.ssl_negatives > 0;
    const double wu = sampled ? ws->width[0] : ws->n_user;
    const double wi = sampled ? ws->width[1] : ws->n_item;
    double f = 2 * L * 2 * (double)ws->g->nnz * d + 12.0 * n * d;
    if (use_ssl) {
        f += 6.0 * ws->nu * wu * d;
        if (ws->hp.alpha > 0) f += 6.0 * ws->np * wi * d;
    }
    if (p) f += 4.0 * (p->k_user > 0 ? ws->nu * (double)p->k_user : 0) * d +
                4.0 * (p->k_item > 0 ? ws->np * (double)p->k_item : 0) * d;
    return f;
}

/* The whole step, in the order the backward needs: forward, distinct rows, bpr and reg (into
 * gl[0..n_layers]), ssl (into gl[2 hyper_layers] and, through n(E0), gl[0]), proto (gl[0]),
 * then back through the layers. Each phase's time is added to the workspace's timers. */
static int NC_R(loss_grad)(nc_ncl_ws *ws, const REAL *E0, const nc_batch *b,
                           const nc_protos *p, REAL *grad, nc_loss *out, nc_err *e) {
    int rc = check_batch(ws, b, p, e);
    if (rc) return rc;
    const nc_hparams *hp = &ws->hp;
    const size_t nd = (size_t)ws->n_node * ws->d;
    const int use_ssl = hp->ssl_reg > 0;
    const int use_proto = p && hp->proto_reg > 0 && (p->k_user > 0 || p->k_item > 0);
    double t = nc_now();
    NC_R(propagate)(ws, E0, ws->L);
    memset(grad, 0, nd * sizeof(REAL));
    memset(ws->glay, 0, (size_t)ws->L * nd * sizeof(REAL));
    NC_R(index_batch)(ws, b);
    double t1 = nc_now();
    ws->t_prop += t1 - t;
    memset(out, 0, sizeof *out);
    out->bpr = NC_R(bpr_term)(ws, E0, b, grad);
    out->reg = NC_R(reg_term)(ws, E0, b, grad);
    double t2 = nc_now();
    ws->t_bpr += t2 - t1;
    if (use_ssl || use_proto) NC_K(nc_kern_normalize)(E0, ws->n_node, ws->d, ws->mn, ws->nrm0);
    if (use_ssl) {
        memset(ws->dm, 0, nd * sizeof(REAL));
        out->ssl = NC_R(ssl_side)(ws, E0, 0, ws->du, ws->mu, ws->nu, 0, ws->n_user, hp->ssl_reg,
                                  grad);
        if (hp->alpha > 0)
            out->ssl += NC_R(ssl_side)(ws, E0, 1, ws->dp, ws->mp, ws->np, ws->n_user, ws->n_item,
                                       (double)hp->ssl_reg * hp->alpha, grad);
        NC_K(nc_kern_normalize_bwd)(ws->mn, ws->nrm0, ws->dm, ws->n_node, ws->d, grad, 1);
    }
    double t3 = nc_now();
    ws->t_ssl += t3 - t2;
    if (use_proto) {
        if (p->k_user > 0)
            out->proto += NC_R(proto_side)(ws, ws->du, ws->mu, ws->nu, 0, p->cent_user,
                                           p->k_user, p->assign_user, grad);
        if (p->k_item > 0)
            out->proto += NC_R(proto_side)(ws, ws->dp, ws->mp, ws->np, ws->n_user, p->cent_item,
                                           p->k_item, p->assign_item, grad);
    }
    double t4 = nc_now();
    ws->t_proto += t4 - t3;
    NC_R(backprop)(ws, grad);
    ws->t_prop += nc_now() - t4;
    ws->flops += NC_R(step_flops)(ws, b->n, use_ssl, use_proto ? p : NULL);
    out->total = out->bpr + hp->reg_weight * out->reg + out->ssl + out->proto;
    return NC_OK;
}

/* F = mean(E_0..E_n_layers) for every node, written into the user and item tables. */
static int NC_R(embed)(nc_ncl_ws *ws, const REAL *E0, REAL *user_emb, REAL *item_emb) {
    const int32_t d = ws->d, nl = ws->hp.n_layers;
    NC_R(propagate)(ws, E0, nl); /* F needs no layer beyond n_layers */
    const REAL inv = (REAL)1 / (REAL)(nl + 1);
#pragma omp parallel for schedule(static)
    for (int32_t r = 0; r < ws->n_node; r++) {
        REAL *o = r < ws->n_user ? user_emb + (size_t)r * d
                                 : item_emb + (size_t)(r - ws->n_user) * d;
        for (int32_t j = 0; j < d; j++) o[j] = 0;
        for (int32_t l = 0; l <= nl; l++) {
            const REAL *x = NC_R(layer)(ws, E0, l) + (size_t)r * d;
            for (int32_t j = 0; j < d; j++) o[j] += x[j];
        }
        for (int32_t j = 0; j < d; j++) o[j] *= inv;
    }
    return NC_OK;
}
