/* ncl.c - the NCL model's math (see ncl.h): the workspace, initialisation, and the float and
 * double instantiations of ncl_tmpl.h (one batch's loss and gradient, the serving embeddings).
 *
 * Workspace buffers (REAL = float or double, N = U + I nodes, L = max(n_layers, 2 hyper_layers),
 * B = batch size, S = max(U, I, clusters) the widest softmax support):
 *   layers  L x N x d   E_1..E_L                 glay  L x N x d  dLoss/dE_1..E_L
 *   mn      N x d       n(E0), every row         nrm0  N          ||E0 row||
 *   dm      N x d       dLoss/d n(E0) (ssl)      blk   blk_cap   softmax block (rows x width)
 *   anc, danc  B x d    anchors and their grads  fg, gfg  3B x d  gathered F and its grad
 *   slot    N int32     -1, or a row's index in the distinct list being built
 * Only with ssl_negatives = N > 0 (the sampled structure term, ssl_sampled_tmpl.h; Ns =
 * min(N, max(U, I))):
 *   sm, dsm  Ns x d     the sample's n(E0) rows and their grads; samp, samp_g  Ns int32
 *   pm       B x d      the anchors' own n(E0) rows; pc, skip  B  positive's coefficient, slot
 *   gmem     N x d      ssl_memory: each row's last sampled gradient; kinv  B  1 / weight
 * With strata (nc_ncl_set_ssl_strata; ssl_strata_tmpl.h), sized when they are set:
 *   sup, dsup  (largest stratum + Ns) x d   a group's support rows and their grads
 *   dag        B x d    a group's anchor grads; order  B, gstart  k + 1  anchors by stratum */
#include "ncl.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ncl_kernels.h"

struct nc_ncl_ws {
    const nc_graph *g;
    nc_hparams hp;
    int is_double;
    int32_t n_user, n_item, n_node, d, L, B, S;
    void *layers, *glay, *mn, *nrm0, *dm, *blk, *anc, *danc, *nrmc, *w, *fg, *gfg, *cent;
    int32_t blk_rows;   /* rows per softmax block chosen by the caller, 0 = automatic */
    size_t blk_cap;     /* elements of blk */
    double *row_loss, *coef;
    int32_t *slot, *du, *mu, *dp, *mp, *da, *iu, *ip, *in, *tgt, *rows3;
    int32_t nu, np, na;
    double t_prop, t_ssl, t_proto, t_bpr;
    double flops;       /* floating-point operations of the matrix products so far */
    /* sampled structure term (ssl_negatives > 0) */
    nc_rng rng;         /* draws the samples; seeded from hp.seed, apart from training's */
    int32_t ns_cap;     /* rows a sample can hold */
    void *sm, *dsm, *pm, *pc;
    int32_t *samp, *samp_g, *skip;
    int32_t *fix[2], fix_n[2]; /* a fixed sample per side (tests), fix_n 0 = draw */
    double width[2];    /* softmax columns per anchor in the last step, for the FLOP count */
    /* stratified structure term (nc_ncl_set_ssl_strata): per side, k strata, of[M] each row's
     * stratum, start[k + 1] / mem[M] the members stratum by stratum, pos[M] a row's index
     * among its stratum's members */
    int32_t strat_k[2], *strat_of[2], *strat_start[2], *strat_mem[2], *strat_pos[2];
    int32_t sup_cap;    /* rows the support buffers hold: largest stratum + sample */
    void *sup, *dsup, *dag;         /* sup_cap x d, sup_cap x d, B x d */
    int32_t *sup_rows, *order, *gstart; /* sup_cap, B, largest k + 1 */
    void *gmem, *kinv;  /* ssl_memory: N x d each row's last sampled gradient; B scratch */
};

/* Ids in range and a batch that fits: checked before any work so bad input never reaches
 * an array index. */
static int check_batch(const nc_ncl_ws *ws, const nc_batch *b, const nc_protos *p, nc_err *e) {
    if (b->n < 1 || b->n > ws->B)
        return nc_fail(e, NC_EINVAL, "batch of %d triples (workspace holds 1..%d)", b->n, ws->B);
    for (int32_t k = 0; k < b->n; k++) {
        if (b->user[k] < 0 || b->user[k] >= ws->n_user)
            return nc_fail(e, NC_EINVAL, "batch row %d: user %d out of range [0, %d)", k,
                           b->user[k], ws->n_user);
        if (b->pos[k] < 0 || b->pos[k] >= ws->n_item || b->neg[k] < 0 || b->neg[k] >= ws->n_item)
            return nc_fail(e, NC_EINVAL, "batch row %d: item out of range [0, %d)", k, ws->n_item);
    }
    if (p && (p->k_user > ws->S || p->k_item > ws->S || p->k_user < 0 || p->k_item < 0))
        return nc_fail(e, NC_EINVAL, "%d / %d centroids: workspace holds at most %d",
                       p->k_user, p->k_item, ws->S);
    if (p && ((p->k_user > 0 && (!p->cent_user || !p->assign_user)) ||
              (p->k_item > 0 && (!p->cent_item || !p->assign_item))))
        return nc_fail(e, NC_EINVAL, "prototypes: %d user / %d item centroids without their "
                       "table or assignments", p->k_user, p->k_item);
    if (p) {
        for (int32_t u = 0; p->k_user > 0 && u < ws->n_user; u++)
            if (p->assign_user[u] < 0 || p->assign_user[u] >= p->k_user)
                return nc_fail(e, NC_EINVAL, "user %d assigned to cluster %d of %d", u,
                               p->assign_user[u], p->k_user);
        for (int32_t i = 0; p->k_item > 0 && i < ws->n_item; i++)
            if (p->assign_item[i] < 0 || p->assign_item[i] >= p->k_item)
                return nc_fail(e, NC_EINVAL, "item %d assigned to cluster %d of %d", i,
                               p->assign_item[i], p->k_item);
    }
    return NC_OK;
}

/* Softmax blocks of about this many bytes: the score block of a few hundred rows stays in
 * the L3 cache between the sgemm that writes it, the softmax, and the two sgemms that read
 * it (measured on ML-1M's shape: 128-256 user rows beat both 64 and the whole batch). */
#define NC_BLOCK_BYTES ((size_t)4 << 20)
#define NC_BLOCK_MIN_ROWS 64 /* fewer rows make sgemm inefficient, whatever the width */

/* Elements of the block buffer: the byte budget, or NC_BLOCK_MIN_ROWS rows of the widest
 * support if that is more, but never more than the whole batch needs. */
static size_t block_capacity(int32_t S, int32_t B, size_t esz) {
    size_t cap = NC_BLOCK_BYTES / esz, min_rows = (size_t)NC_BLOCK_MIN_ROWS * S;
    if (cap < min_rows) cap = min_rows;
    if (cap > (size_t)B * S) cap = (size_t)B * S;
    return cap;
}

/* Rows per block for a softmax over nm columns: the caller's choice or the byte budget,
 * within what the buffer holds. */
static int32_t block_rows(const nc_ncl_ws *ws, int32_t nm) {
    size_t esz = ws->is_double ? sizeof(double) : sizeof(float);
    size_t rows = ws->blk_rows > 0 ? (size_t)ws->blk_rows : NC_BLOCK_BYTES / ((size_t)nm * esz);
    if (ws->blk_rows <= 0 && rows < NC_BLOCK_MIN_ROWS) rows = NC_BLOCK_MIN_ROWS;
    if (rows > ws->blk_cap / (size_t)nm) rows = ws->blk_cap / (size_t)nm;
    if (rows > (size_t)ws->B) rows = (size_t)ws->B;
    return rows < 1 ? 1 : (int32_t)rows;
}

#define REAL float
#define NC_R(f) f##_f
#define NC_K(f) f##_f
#define NC_SPMM nc_graph_spmm
#define NC_GEMM cblas_sgemm
#define NC_EXP(x) nc_expf_fast(x)
#define NC_DOUBLE 0
#include "ncl_tmpl.h"
#undef REAL
#undef NC_R
#undef NC_K
#undef NC_SPMM
#undef NC_GEMM
#undef NC_EXP
#undef NC_DOUBLE

#define REAL double
#define NC_R(f) f##_d
#define NC_K(f) f##_d
#define NC_SPMM nc_graph_spmm_d
#define NC_GEMM cblas_dgemm
#define NC_EXP(x) exp(x)
#define NC_DOUBLE 1
#include "ncl_tmpl.h"
#undef REAL
#undef NC_R
#undef NC_K
#undef NC_SPMM
#undef NC_GEMM
#undef NC_EXP
#undef NC_DOUBLE

/* Forgets one side's strata (that side goes back to the uniform sample). */
static void strata_free(nc_ncl_ws *ws, int side) {
    free(ws->strat_of[side]);
    free(ws->strat_start[side]);
    free(ws->strat_mem[side]);
    free(ws->strat_pos[side]);
    ws->strat_of[side] = ws->strat_start[side] = ws->strat_mem[side] = ws->strat_pos[side] = NULL;
    ws->strat_k[side] = 0;
}

void nc_ncl_ws_free(nc_ncl_ws *ws) {
    if (!ws) return;
    void *bufs[] = {ws->layers, ws->glay, ws->mn,  ws->nrm0, ws->dm,  ws->blk,
                    ws->anc,    ws->danc, ws->nrmc, ws->w,   ws->fg,  ws->gfg,
                    ws->cent,   ws->row_loss, ws->coef, ws->slot, ws->du, ws->mu,
                    ws->dp,     ws->mp,   ws->da,  ws->iu,   ws->ip,  ws->in,
                    ws->tgt,    ws->rows3, ws->sm, ws->dsm, ws->pm, ws->pc,
                    ws->samp,   ws->samp_g, ws->skip, ws->fix[0], ws->fix[1],
                    ws->sup,    ws->dsup, ws->dag, ws->sup_rows, ws->order, ws->gstart,
                    ws->gmem,   ws->kinv};
    for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++) free(bufs[k]);
    for (int s = 0; s < 2; s++) strata_free(ws, s);
    free(ws);
}

/* The sampled structure term's buffers, sized for the largest sample a side can draw. */
static int ws_alloc_sampled(nc_ncl_ws *ws, size_t esz, nc_err *e) {
    const size_t d = (size_t)ws->d, B = (size_t)ws->B;
    int32_t side_max = ws->n_user > ws->n_item ? ws->n_user : ws->n_item;
    ws->ns_cap = ws->hp.ssl_negatives < side_max ? ws->hp.ssl_negatives : side_max;
    const size_t ns = (size_t)ws->ns_cap;
    ws->sm = nc_aligned_alloc(ns * d, esz, e);
    ws->dsm = nc_aligned_alloc(ns * d, esz, e);
    ws->pm = nc_aligned_alloc(B * d, esz, e);
    ws->pc = nc_malloc(B, esz, e);
    ws->samp = nc_malloc(ns, sizeof(int32_t), e);
    ws->samp_g = nc_malloc(ns, sizeof(int32_t), e);
    ws->skip = nc_malloc(B, sizeof(int32_t), e);
    if (!ws->sm || !ws->dsm || !ws->pm || !ws->pc || !ws->samp || !ws->samp_g || !ws->skip)
        return NC_ENOMEM;
    if (ws->hp.ssl_memory) {
        ws->gmem = nc_aligned_alloc((size_t)ws->n_node * d, esz, e);
        ws->kinv = nc_malloc(B, esz, e);
        if (!ws->gmem || !ws->kinv) return NC_ENOMEM;
        memset(ws->gmem, 0, (size_t)ws->n_node * d * esz);
    }
    nc_rng seeded;
    nc_rng_seed(&seeded, ws->hp.seed);
    ws->rng = nc_rng_split(&seeded, 0x551); /* a stream of its own: training's draws unchanged */
    return NC_OK;
}

static int ws_alloc(nc_ncl_ws *ws, size_t esz, nc_err *e) {
    const size_t N = (size_t)ws->n_node, d = (size_t)ws->d, B = (size_t)ws->B, L = (size_t)ws->L;
    ws->blk_cap = block_capacity(ws->S, ws->B, esz);
    ws->layers = nc_aligned_alloc(L * N * d, esz, e);
    ws->glay = nc_aligned_alloc(L * N * d, esz, e);
    ws->mn = nc_aligned_alloc(N * d, esz, e);
    ws->nrm0 = nc_malloc(N, esz, e);
    ws->dm = nc_aligned_alloc(N * d, esz, e);
    ws->blk = nc_aligned_alloc(ws->blk_cap, esz, e);
    ws->anc = nc_aligned_alloc(B * d, esz, e);
    ws->danc = nc_aligned_alloc(B * d, esz, e);
    ws->nrmc = nc_malloc(B, esz, e);
    ws->w = nc_malloc(B, esz, e);
    ws->fg = nc_aligned_alloc(3 * B * d, esz, e);
    ws->gfg = nc_aligned_alloc(3 * B * d, esz, e);
    ws->cent = nc_malloc((size_t)ws->S * d, esz, e);
    ws->row_loss = nc_malloc(B, sizeof(double), e);
    ws->coef = nc_malloc(B, sizeof(double), e);
    ws->slot = nc_malloc(N, sizeof(int32_t), e);
    int32_t **ints[] = {&ws->du, &ws->mu, &ws->dp, &ws->mp, &ws->iu, &ws->ip, &ws->in, &ws->tgt};
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) *ints[k] = nc_malloc(B, 4, e);
    ws->da = nc_malloc(3 * B, sizeof(int32_t), e);
    ws->rows3 = nc_malloc(3 * B, sizeof(int32_t), e);
    if (!ws->layers || !ws->glay || !ws->mn || !ws->nrm0 || !ws->dm || !ws->blk || !ws->anc ||
        !ws->danc || !ws->nrmc || !ws->w || !ws->fg || !ws->gfg || !ws->cent || !ws->row_loss ||
        !ws->coef || !ws->slot || !ws->du || !ws->mu || !ws->dp || !ws->mp || !ws->iu ||
        !ws->ip || !ws->in || !ws->tgt || !ws->da || !ws->rows3)
        return NC_ENOMEM;
    for (size_t r = 0; r < N; r++) ws->slot[r] = -1;
    return ws->hp.ssl_negatives > 0 ? ws_alloc_sampled(ws, esz, e) : NC_OK;
}

static int ws_create(const nc_graph *g, const nc_hparams *hp, int is_double, nc_ncl_ws **out,
                     nc_err *e) {
    *out = NULL;
    int rc = nc_hparams_validate(hp, e);
    if (rc) return rc;
    if (g->n_users < 1 || g->n_items < 1)
        return nc_fail(e, NC_EINVAL, "graph has %d users and %d items", g->n_users, g->n_items);
    nc_ncl_ws *ws = nc_calloc(1, sizeof *ws, e);
    if (!ws) return NC_ENOMEM;
    ws->g = g;
    ws->hp = *hp;
    ws->is_double = is_double;
    ws->n_user = g->n_users;
    ws->n_item = g->n_items;
    ws->n_node = g->n;
    ws->d = hp->embedding_size;
    ws->L = hp->n_layers > 2 * hp->hyper_layers ? hp->n_layers : 2 * hp->hyper_layers;
    ws->B = hp->train_batch_size;
    ws->S = ws->n_user > ws->n_item ? ws->n_user : ws->n_item;
    if (hp->num_clusters > ws->S) ws->S = hp->num_clusters;
    rc = ws_alloc(ws, is_double ? sizeof(double) : sizeof(float), e);
    if (rc) {
        nc_ncl_ws_free(ws);
        return rc;
    }
    *out = ws;
    return NC_OK;
}

int nc_ncl_ws_create(const nc_graph *g, const nc_hparams *hp, nc_ncl_ws **out, nc_err *e) {
    return ws_create(g, hp, 0, out, e);
}

int nc_ncl_ws_create_d(const nc_graph *g, const nc_hparams *hp, nc_ncl_ws **out, nc_err *e) {
    return ws_create(g, hp, 1, out, e);
}

/* The float entry points refuse a double workspace and the other way round: mixing them
 * would read buffers of the wrong element size. */
int nc_ncl_loss_grad(nc_ncl_ws *ws, const float *E0, const nc_batch *b, const nc_protos *p,
                     float *grad, nc_loss *out, nc_err *e) {
    if (ws->is_double) return nc_fail(e, NC_EINTERNAL, "double workspace used for float");
    return loss_grad_f(ws, E0, b, p, grad, out, e);
}

int nc_ncl_loss_grad_d(nc_ncl_ws *ws, const double *E0, const nc_batch *b, const nc_protos *p,
                       double *grad, nc_loss *out, nc_err *e) {
    if (!ws->is_double) return nc_fail(e, NC_EINTERNAL, "float workspace used for double");
    return loss_grad_d(ws, E0, b, p, grad, out, e);
}

int nc_ncl_embed(nc_ncl_ws *ws, const float *E0, float *user_emb, float *item_emb, nc_err *e) {
    if (ws->is_double) return nc_fail(e, NC_EINTERNAL, "double workspace used for float");
    return embed_f(ws, E0, user_emb, item_emb);
}

int nc_ncl_embed_d(nc_ncl_ws *ws, const double *E0, double *user_emb, double *item_emb,
                   nc_err *e) {
    if (!ws->is_double) return nc_fail(e, NC_EINTERNAL, "float workspace used for double");
    return embed_d(ws, E0, user_emb, item_emb);
}

/* torch.nn.init.xavier_uniform_ on each embedding table (fan_in + fan_out = rows + d). */
void nc_ncl_init_params(float *E0, int32_t n_users, int32_t n_items, int32_t d, nc_rng *rng) {
    int32_t rows[2] = {n_users, n_items};
    float *base = E0;
    for (int t = 0; t < 2; t++) {
        double a = sqrt(6.0 / ((double)rows[t] + d));
        for (size_t k = 0; k < (size_t)rows[t] * d; k++)
            base[k] = (float)((2 * nc_rng_uniform(rng) - 1) * a);
        base += (size_t)rows[t] * d;
    }
}

void nc_ncl_timers(const nc_ncl_ws *ws, double *prop, double *ssl, double *proto, double *bpr) {
    if (prop) *prop = ws->t_prop;
    if (ssl) *ssl = ws->t_ssl;
    if (proto) *proto = ws->t_proto;
    if (bpr) *bpr = ws->t_bpr;
}

void nc_ncl_timers_reset(nc_ncl_ws *ws) {
    ws->t_prop = ws->t_ssl = ws->t_proto = ws->t_bpr = 0;
    ws->flops = 0;
}

double nc_ncl_flops(const nc_ncl_ws *ws) { return ws->flops; }

/* Checks one side's fixed sample: 1..cap distinct ids in 0..m-1. */
static int check_fixed(const int32_t *ids, int32_t n, int32_t m, int32_t cap, const char *what,
                       nc_err *e) {
    if (n < 1 || n > cap)
        return nc_fail(e, NC_EINVAL, "fixed %s sample of %d rows: need 1..%d (ssl_negatives "
                       "and the %d %ss)", what, n, cap, m, what);
    for (int32_t k = 0; k < n; k++) {
        if (ids[k] < 0 || ids[k] >= m)
            return nc_fail(e, NC_EINVAL, "fixed %s sample: row %d is %d, out of [0, %d)", what,
                           k, ids[k], m);
        for (int32_t q = 0; q < k; q++)
            if (ids[q] == ids[k])
                return nc_fail(e, NC_EINVAL, "fixed %s sample: %d appears twice", what, ids[k]);
    }
    return NC_OK;
}

/* Forgets the fixed samples: later steps draw again. */
static void unfix(nc_ncl_ws *ws) {
    for (int s = 0; s < 2; s++) {
        free(ws->fix[s]);
        ws->fix[s] = NULL;
        ws->fix_n[s] = 0;
    }
}

int nc_ncl_fix_ssl_sample(nc_ncl_ws *ws, const int32_t *users, int32_t n_users,
                          const int32_t *items, int32_t n_items, nc_err *e) {
    if (ws->hp.ssl_negatives < 1)
        return nc_fail(e, NC_EINVAL, "a fixed structure-term sample needs ssl_negatives > 0");
    if (!users != !items)
        return nc_fail(e, NC_EINVAL, "a fixed sample needs both sides (or neither, to draw)");
    if (!users) {
        unfix(ws);
        return NC_OK;
    }
    int32_t cu = ws->ns_cap < ws->n_user ? ws->ns_cap : ws->n_user;
    int32_t ci = ws->ns_cap < ws->n_item ? ws->ns_cap : ws->n_item;
    int rc = check_fixed(users, n_users, ws->n_user, cu, "user", e);
    if (!rc) rc = check_fixed(items, n_items, ws->n_item, ci, "item", e);
    if (rc) return rc; /* nothing changed */
    const int32_t *ids[2] = {users, items}, n[2] = {n_users, n_items};
    int32_t *copy[2];
    copy[0] = nc_malloc((size_t)n[0], sizeof(int32_t), e);
    copy[1] = nc_malloc((size_t)n[1], sizeof(int32_t), e);
    if (!copy[0] || !copy[1]) {
        free(copy[0]);
        free(copy[1]);
        return NC_ENOMEM;
    }
    unfix(ws);
    for (int s = 0; s < 2; s++) {
        memcpy(copy[s], ids[s], (size_t)n[s] * sizeof(int32_t));
        ws->fix[s] = copy[s];
        ws->fix_n[s] = n[s];
    }
    return NC_OK;
}

/* One side's strata from assign (m rows, ids 0..k-1): the members stratum by stratum and each
 * row's place among them. Returns the largest stratum's size, or -1 without memory. */
static int32_t strata_build(nc_ncl_ws *ws, int side, const int32_t *assign, int32_t m, int32_t k,
                            nc_err *e) {
    int32_t *of = nc_malloc((size_t)m, sizeof *of, e), *mem = nc_malloc((size_t)m, sizeof *mem, e);
    int32_t *pos = nc_malloc((size_t)m, sizeof *pos, e);
    int32_t *start = nc_calloc((size_t)k + 1, sizeof *start, e);
    if (!of || !mem || !pos || !start) {
        free(of);
        free(mem);
        free(pos);
        free(start);
        return -1;
    }
    memcpy(of, assign, (size_t)m * sizeof *of);
    for (int32_t v = 0; v < m; v++) start[of[v] + 1]++;
    int32_t largest = 0;
    for (int32_t g = 0; g < k; g++) {
        if (start[g + 1] > largest) largest = start[g + 1];
        start[g + 1] += start[g];
    }
    for (int32_t v = 0; v < m; v++) mem[start[of[v]]++] = v; /* start[g] ends at g's end */
    for (int32_t g = k; g > 0; g--) start[g] = start[g - 1];
    start[0] = 0;
    for (int32_t g = 0; g < k; g++)
        for (int32_t j = start[g]; j < start[g + 1]; j++) pos[mem[j]] = j - start[g];
    strata_free(ws, side);
    ws->strat_of[side] = of;
    ws->strat_mem[side] = mem;
    ws->strat_pos[side] = pos;
    ws->strat_start[side] = start;
    ws->strat_k[side] = k;
    return largest;
}

/* Support buffers for the largest stratum plus the sample, grown when strata change. */
static int strata_buffers(nc_ncl_ws *ws, int32_t largest, int32_t kmax, nc_err *e) {
    const size_t esz = ws->is_double ? sizeof(double) : sizeof(float), d = (size_t)ws->d;
    const int32_t cap = largest + ws->ns_cap;
    free(ws->gstart);
    ws->gstart = nc_malloc((size_t)kmax + 1, sizeof(int32_t), e);
    if (!ws->gstart) return NC_ENOMEM;
    if (!ws->dag && !(ws->dag = nc_aligned_alloc((size_t)ws->B * d, esz, e))) return NC_ENOMEM;
    if (!ws->order && !(ws->order = nc_malloc((size_t)ws->B, sizeof(int32_t), e)))
        return NC_ENOMEM;
    if (cap <= ws->sup_cap) return NC_OK;
    free(ws->sup);
    free(ws->dsup);
    free(ws->sup_rows);
    ws->sup = nc_aligned_alloc((size_t)cap * d, esz, e);
    ws->dsup = nc_aligned_alloc((size_t)cap * d, esz, e);
    ws->sup_rows = nc_malloc((size_t)cap, sizeof(int32_t), e);
    ws->sup_cap = ws->sup && ws->dsup && ws->sup_rows ? cap : 0;
    return ws->sup_cap ? NC_OK : NC_ENOMEM;
}

/* Checks one side's strata: k in 1..m, every assignment in 0..k-1. */
static int check_strata(const int32_t *assign, int32_t m, int32_t k, const char *what,
                        nc_err *e) {
    if (k < 1 || k > m)
        return nc_fail(e, NC_EINVAL, "%d %s strata: need 1..%d", k, what, m);
    if (!assign) return nc_fail(e, NC_EINVAL, "%d %s strata without assignments", k, what);
    for (int32_t v = 0; v < m; v++)
        if (assign[v] < 0 || assign[v] >= k)
            return nc_fail(e, NC_EINVAL, "%s %d in stratum %d of %d", what, v, assign[v], k);
    return NC_OK;
}

int nc_ncl_set_ssl_strata(nc_ncl_ws *ws, const int32_t *assign_user, int32_t k_user,
                          const int32_t *assign_item, int32_t k_item, nc_err *e) {
    if (ws->hp.ssl_negatives < 1)
        return nc_fail(e, NC_EINVAL, "structure-term strata need ssl_negatives > 0");
    int rc = k_user ? check_strata(assign_user, ws->n_user, k_user, "user", e) : NC_OK;
    if (!rc && k_item) rc = check_strata(assign_item, ws->n_item, k_item, "item", e);
    if (rc) return rc; /* nothing changed */
    const int32_t *as[2] = {assign_user, assign_item}, k[2] = {k_user, k_item};
    const int32_t m[2] = {ws->n_user, ws->n_item};
    int32_t largest = 0;
    for (int s = 0; s < 2; s++) {
        if (!k[s]) {
            strata_free(ws, s);
            continue;
        }
        int32_t l = strata_build(ws, s, as[s], m[s], k[s], e);
        if (l < 0) return NC_ENOMEM;
        if (l > largest) largest = l;
    }
    return strata_buffers(ws, largest, k_user > k_item ? k_user : k_item, e);
}

void nc_ncl_set_block_rows(nc_ncl_ws *ws, int32_t rows) {
    ws->blk_rows = rows > 0 ? rows : 0; /* capped per call by what the buffer holds */
}
