/* ncl.h - the NCL model's math: initialisation, LightGCN propagation, the serving embeddings,
 * and the loss of one mini-batch with the gradient of E0 (NCL.md, "One mini-batch").
 *
 *   E0       N x d parameters (users rows 0..U-1, items rows U..N-1), owned by the caller
 *   E_l      = Â^l E0 for l = 1..Lmax, Lmax = max(n_layers, 2 * hyper_layers)
 *   F        = mean(E_0..E_{n_layers}), the serving embeddings
 *   C        = E_{2 * hyper_layers}, the context layer of the structure-contrastive term
 *   loss     = bpr + reg_weight * reg + ssl + proto
 *
 * Every repeated user / item of a batch is computed once with its multiplicity as a weight,
 * which gives exactly the loss and gradient of the per-row formulas. The structure term's
 * softmax over all users (items) is done in blocks of rows with sgemm; no N x N matrix exists.
 * With ssl_negatives = N > 0 (off by default) the structure term's softmax runs over the
 * positive and N rows per side drawn uniformly per batch instead: an approximation of NCL.md,
 * stated exactly in ssl_sampled_tmpl.h, for catalogues where the full softmax is too dear;
 * ssl_memory and strata (nc_ncl_set_ssl_strata, ssl_strata_tmpl.h) refine it.
 *
 * Ownership: the workspace (nc_ncl_ws) is created and freed by the caller with the functions
 * below; it borrows the graph, which must outlive it. It holds every buffer a batch needs,
 * so a step allocates nothing.
 * Threads: a workspace serves one thread at a time; calls run OpenMP loops and multi-threaded
 * BLAS (threads from nc_set_threads) and must not be made from inside an OpenMP region.
 * The two kinds of threads take turns many times per step, so idle threads of either kind
 * must not spin: run with OMP_WAIT_POLICY=passive (libgomp spins by default; a step is then
 * several times slower on a busy machine). */
#ifndef NCLREC_NCL_H
#define NCLREC_NCL_H

#include <stdint.h>

#include "common.h"
#include "graph.h"
#include "hparams.h"

/* One mini-batch of n training triples, internal ids: user in 0..U-1, items in 0..I-1 (item i
 * is row U + i of E0). Borrowed for the call. n may be smaller than the batch size the
 * workspace was made for (the last batch of an epoch): bpr and reg divide by n. */
typedef struct nc_batch {
    int32_t n;
    const int32_t *user, *pos, *neg;
} nc_batch;

/* The E-step's prototypes, constants for an epoch. Borrowed for the call.
 * cent_user: k_user x d, cent_item: k_item x d, each row L2-normalised.
 * assign_user (U) / assign_item (I): the cluster of every user / item.
 * A side with k == 0 has no prototype term (its pointers are not read); k > 0 needs both. */
typedef struct nc_protos {
    int32_t k_user, k_item;
    const float *cent_user, *cent_item;
    const int32_t *assign_user, *assign_item;
} nc_protos;

/* Loss terms of one batch. bpr, ssl and proto are the terms as they enter the loss (ssl and
 * proto already multiplied by ssl_reg / proto_reg, and alpha); reg is RecBole's EmbLoss
 * BEFORE reg_weight; total = bpr + reg_weight * reg + ssl + proto. */
typedef struct nc_loss {
    double bpr, reg, ssl, proto, total;
} nc_loss;

typedef struct nc_ncl_ws nc_ncl_ws;

/* Creates a workspace for graph g (borrowed), the model shape and weights in hp (copied:
 * embedding_size, n_layers, hyper_layers, reg_weight, ssl_temp, ssl_reg, alpha, proto_reg,
 * ssl_negatives; seed seeds the sampled structure term's own generator),
 * batches of up to hp->train_batch_size triples and hp->num_clusters centroids per side.
 * *out receives the workspace (caller frees with nc_ncl_ws_free). */
int nc_ncl_ws_create(const nc_graph *g, const nc_hparams *hp, nc_ncl_ws **out, nc_err *e);
void nc_ncl_ws_free(nc_ncl_ws *ws);

/* Xavier-uniform initialisation per table, as torch's xavier_uniform_ on each Embedding:
 * U(-a, a), a = sqrt(6 / (rows + d)), rows = n_users for the user table, n_items for the item
 * table. Fills E0 ((n_users + n_items) x d, caller-allocated) row by row from rng. */
void nc_ncl_init_params(float *E0, int32_t n_users, int32_t n_items, int32_t d, nc_rng *rng);

/* Loss of batch b and its gradient w.r.t. E0. grad (N x d, caller-allocated) is overwritten.
 * p == NULL: no prototype term (epochs before warm_up_step). ssl_reg == 0 skips the structure
 * term, alpha == 0 its item side. *out receives the terms. Fails with NC_EINVAL when the
 * batch is empty or larger than the workspace's, holds an id out of range, or the prototypes
 * have more than max(U, I, num_clusters) centroids or an assignment out of range (naming
 * what is wrong); nothing is computed then. */
int nc_ncl_loss_grad(nc_ncl_ws *ws, const float *E0, const nc_batch *b, const nc_protos *p,
                     float *grad, nc_loss *out, nc_err *e);

/* Serving embeddings: F = mean(E_0..E_{n_layers}), split into user_emb (U x d) and item_emb
 * (I x d), both caller-allocated. Uses the workspace's layer buffers. */
int nc_ncl_embed(nc_ncl_ws *ws, const float *E0, float *user_emb, float *item_emb, nc_err *e);

/* Seconds spent so far by this workspace in each phase: propagation (forward and backward
 * sparse products), ssl (structure term with the normalisations), proto, bpr (with reg).
 * Any pointer may be NULL. nc_ncl_timers_reset sets them back to 0. */
void nc_ncl_timers(const nc_ncl_ws *ws, double *prop, double *ssl, double *proto, double *bpr);
void nc_ncl_timers_reset(nc_ncl_ws *ws);

/* Floating-point operations of the matrix products this workspace has run since it was made
 * or its timers were reset (see step_flops in ncl_tmpl.h for what is counted). */
double nc_ncl_flops(const nc_ncl_ws *ws);

/* Sampled structure term only (ssl_negatives > 0): makes every later step use these samples
 * instead of drawing, so finite differences see one fixed loss. users (n_users ids in
 * 0..U-1) and items (n_items ids in 0..I-1) must be distinct, 1..min(ssl_negatives, U or I)
 * of them; they are copied. users == items == NULL goes back to drawing. NC_EINVAL (naming
 * the problem) otherwise, or when ssl_negatives is 0; on any failure nothing changes. */
int nc_ncl_fix_ssl_sample(nc_ncl_ws *ws, const int32_t *users, int32_t n_users,
                          const int32_t *items, int32_t n_items, nc_err *e);

/* Stratified structure term (ssl_negatives > 0; ssl_strata_tmpl.h): from the next step on, an
 * anchor's own stratum is summed exactly and the other strata are estimated from the uniform
 * sample. assign_user (U ids in 0..k_user-1) and assign_item (I ids in 0..k_item-1) are
 * copied; a side with k == 0 goes back to the uniform sample alone (its pointer is not read).
 * NC_EINVAL (naming the problem) when ssl_negatives is 0, k exceeds the side's rows or an id
 * is out of range, and nothing changes then; NC_ENOMEM without memory. */
int nc_ncl_set_ssl_strata(nc_ncl_ws *ws, const int32_t *assign_user, int32_t k_user,
                          const int32_t *assign_item, int32_t k_item, nc_err *e);

/* Rows of the softmax handled per block (0 = automatic, sized to stay in cache). Exposed so
 * tests can force several blocks on small graphs and the benchmark can tune it. */
void nc_ncl_set_block_rows(nc_ncl_ws *ws, int32_t rows);

/* ---- The same computation in double precision, for the gradient checks ---- */

/* A workspace whose buffers hold doubles; use it only with the _d functions below. */
int nc_ncl_ws_create_d(const nc_graph *g, const nc_hparams *hp, nc_ncl_ws **out, nc_err *e);
/* As nc_ncl_loss_grad, with E0 and grad in double (centroids are converted from float). */
int nc_ncl_loss_grad_d(nc_ncl_ws *ws, const double *E0, const nc_batch *b, const nc_protos *p,
                       double *grad, nc_loss *out, nc_err *e);
/* As nc_ncl_embed, in double. */
int nc_ncl_embed_d(nc_ncl_ws *ws, const double *E0, double *user_emb, double *item_emb,
                   nc_err *e);

#endif
