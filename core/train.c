/* train.c - the NCL epoch loop (see train.h).
 *
 * Per epoch:   E-step (k-means of E0's user and item rows, only once the proto term is on)
 *              shuffle the distinct training pairs
 *              for each batch: draw negatives, loss + gradient (core/ncl.c), Adam step
 *              evaluate on valid (every eval_step epochs), keep the best E0
 * At the end:  restore the best E0, compute the serving embeddings, evaluate valid and test,
 *              cluster the best E0 once more for the checkpoint's centroids.
 *
 * Exactness notes against the reference (NCL.md):
 * - The E-step before warm_up_step influences nothing (the proto term is off and faiss's
 *   k-means uses its own seed), so it is skipped there; from warm_up_step on it runs at the
 *   start of every epoch as in the reference.
 * - Repeated (user, item) rows are merged before batching (the graph uses distinct pairs in
 *   both implementations; the reference would also batch the repeats).
 *
 * Weights (feedback types, core/feedback.h) are repeated positives: a distinct pair of weight
 * w enters each epoch's shuffled batches w times, while the graph, the negatives' mask and the
 * evaluation masks keep the distinct pairs. This is what the reference does when handed
 * repeated rows (its sampler batches every row, its adjacency sets each edge to 1), so the
 * graph's normalisation, on which the structure-contrastive term rests, is unchanged, and no
 * kernel (nor its gradient check) gains a weighted variant. Weighted edges would instead make
 * heavy users' neighbourhoods dominate the propagation and change every layer's scale. With
 * every weight 1 the batches are the distinct pairs themselves: the numbers are those of the
 * unweighted trainer bit for bit (tests/test_train_weights.c). */
#include "train.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adam.h"
#include "early_stop.h"
#include "graph.h"
#include "kmeans.h"
#include "ncl.h"
#include "scale_rule.h"
#include "ssl_strata.h"

/* Per-user sorted training items, for rejecting negatives a user already has. */
typedef struct user_items {
    int64_t *start; /* n_users + 1 offsets into items */
    int32_t *items; /* sorted within each user */
} user_items;

/* Everything one training run allocates, freed in one place. */
typedef struct trainer {
    const nc_dataset *d;
    const nc_train_opts *o;
    nc_hparams hp;
    int32_t U, I, dim;
    size_t n_params;
    nc_interactions pairs; /* distinct training pairs, with their weights */
    nc_interactions reps;  /* weighted runs: each pair repeated by its weight */
    nc_interactions *batches; /* what the epochs shuffle and cut: &reps, or &pairs when every
                                 weight is 1 */
    user_items seen;
    nc_graph graph;
    nc_ncl_ws *ws;
    nc_adam adam;
    nc_evaluator ev_valid; /* valid positives and train masks, built once, run every epoch */
    float *E0, *best_E0, *grad;
    float *user_emb, *item_emb;
    int32_t *neg;
    int32_t k_user, k_item; /* clamped cluster counts */
    float *cent_user, *cent_item;
    int32_t *assign_user, *assign_item;
    /* stratified structure term (ssl_stratum_size > 0): strata per side, from k-means of the
     * normalised E0 rows at the start of every epoch */
    int32_t strat_k[2];
    float *strat_x, *strat_cent; /* max(U, I) x d rows, max k x d centroids */
    int32_t *strat_assign[2];
    nc_rng rng;
    int32_t warm_rows; /* rows of E0 the warm model gave (0: a random start) */
    double t0;
} trainer;

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* CSR of each user's training items, sorted, so a negative draw is a binary search. */
static int user_items_build(user_items *s, const nc_interactions *x, int32_t U, nc_err *e) {
    s->start = nc_calloc((size_t)U + 1, sizeof *s->start, e);
    s->items = nc_malloc(x->n ? x->n : 1, sizeof *s->items, e);
    if (!s->start || !s->items) return NC_ENOMEM;
    for (size_t k = 0; k < x->n; k++) s->start[x->user[k] + 1]++;
    for (int32_t u = 0; u < U; u++) s->start[u + 1] += s->start[u];
    int64_t *fill = nc_malloc((size_t)U + 1, sizeof *fill, e);
    if (!fill) return NC_ENOMEM;
    memcpy(fill, s->start, ((size_t)U + 1) * sizeof *fill);
    for (size_t k = 0; k < x->n; k++) s->items[fill[x->user[k]]++] = x->item[k];
    free(fill);
    for (int32_t u = 0; u < U; u++)
        qsort(s->items + s->start[u], (size_t)(s->start[u + 1] - s->start[u]), sizeof(int32_t),
              cmp_i32);
    return NC_OK;
}

static int user_has(const user_items *s, int32_t u, int32_t item) {
    int64_t lo = s->start[u], hi = s->start[u + 1];
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (s->items[mid] < item) lo = mid + 1;
        else hi = mid;
    }
    return lo < s->start[u + 1] && s->items[lo] == item;
}

/* Uniform negative over items the user has not trained on (NCL.md). A user who has every item
 * gets a uniform item: there is nothing else to draw, and the loss stays finite. */
static int32_t draw_negative(const user_items *s, int32_t u, int32_t I, nc_rng *rng) {
    if (s->start[u + 1] - s->start[u] >= I) return (int32_t)nc_rng_below(rng, (uint64_t)I);
    for (;;) {
        int32_t j = (int32_t)nc_rng_below(rng, (uint64_t)I);
        if (!user_has(s, u, j)) return j;
    }
}

/* Fisher-Yates over the parallel pair arrays. */
static void shuffle_pairs(nc_interactions *p, nc_rng *rng) {
    for (size_t k = p->n; k > 1; k--) {
        size_t j = (size_t)nc_rng_below(rng, k);
        int32_t tu = p->user[k - 1], ti = p->item[k - 1];
        p->user[k - 1] = p->user[j];
        p->item[k - 1] = p->item[j];
        p->user[j] = tu;
        p->item[j] = ti;
    }
}

/* Reports a note through the progress callback (the library never prints). */
static void report_note(trainer *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report_note(trainer *t, const char *fmt, ...) {
    if (!t->o->progress) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    nc_progress p = {.phase = NC_PHASE_LOG, .message = buf, .valid_ndcg10 = -1,
                     .best_ndcg10 = -1, .best_epoch = -1, .seconds = nc_now() - t->t0};
    t->o->progress(&p, t->o->progress_ctx);
}

/* k larger than a third of the rows leaves too few points per centroid for k-means to mean
 * anything (and the reference crashes once k > rows): clamp it and say so. */
static int32_t clamp_clusters(trainer *t, int32_t k, int32_t rows, const char *what) {
    int32_t cap = rows / 3 > 0 ? rows / 3 : 1;
    if (k <= cap) return k;
    report_note(t, "num_clusters %d is too many for %d %s: using %d", k, rows, what, cap);
    return cap;
}

/* Copies E0 rows of ids the warm model knows (matched by external id) over the random init. */
static int32_t warm_start(trainer *t, const nc_checkpoint *w) {
    if (!w || w->dim != t->dim || !w->E0) return 0;
    int32_t copied = 0;
    for (int32_t u = 0; u < t->U; u++) {
        const char *id = t->d->users.ids[u];
        int32_t j = nc_idmap_find(&w->users, id, strlen(id));
        if (j < 0) continue;
        memcpy(t->E0 + (size_t)u * t->dim, w->E0 + (size_t)j * w->dim, sizeof(float) * t->dim);
        copied++;
    }
    for (int32_t i = 0; i < t->I; i++) {
        const char *id = t->d->items.ids[i];
        int32_t j = nc_idmap_find(&w->items, id, strlen(id));
        if (j < 0) continue;
        memcpy(t->E0 + ((size_t)t->U + i) * t->dim, w->E0 + ((size_t)w->n_users + j) * w->dim,
               sizeof(float) * t->dim);
        copied++;
    }
    return copied;
}

/* The E-step: cluster user rows and item rows of E0, L2-normalise the centroids, keep the
 * assignment to the nearest UNnormalised centroid (NCL.md). */
static int estep(trainer *t, const float *E0, nc_err *e) {
    const nc_hparams *hp = &t->hp;
    int rc = nc_kmeans(E0, t->U, t->dim, t->k_user, hp->kmeans_niter, hp->kmeans_seed,
                       hp->kmeans_max_points, t->cent_user, t->assign_user, e);
    if (rc) return rc;
    rc = nc_kmeans(E0 + (size_t)t->U * t->dim, t->I, t->dim, t->k_item, hp->kmeans_niter,
                   hp->kmeans_seed, hp->kmeans_max_points, t->cent_item, t->assign_item, e);
    if (rc) return rc;
    float *c[2] = {t->cent_user, t->cent_item};
    int32_t k[2] = {t->k_user, t->k_item};
    for (int s = 0; s < 2; s++)
        for (int32_t r = 0; r < k[s]; r++) {
            float *row = c[s] + (size_t)r * t->dim;
            double nn = 0;
            for (int32_t j = 0; j < t->dim; j++) nn += (double)row[j] * row[j];
            float inv = (float)(1.0 / fmax(sqrt(nn), 1e-12));
            for (int32_t j = 0; j < t->dim; j++) row[j] *= inv;
        }
    return NC_OK;
}

static void trainer_free(trainer *t) {
    nc_inter_free(&t->pairs);
    nc_inter_free(&t->reps);
    free(t->seen.start);
    free(t->seen.items);
    nc_graph_free(&t->graph);
    nc_ncl_ws_free(t->ws);
    nc_adam_free(&t->adam);
    nc_evaluator_free(&t->ev_valid);
    free(t->E0);
    free(t->best_E0);
    free(t->grad);
    free(t->user_emb);
    free(t->item_emb);
    free(t->neg);
    free(t->cent_user);
    free(t->cent_item);
    free(t->assign_user);
    free(t->assign_item);
    free(t->strat_x);
    free(t->strat_cent);
    free(t->strat_assign[0]);
    free(t->strat_assign[1]);
}

/* Drops the pairs of weight 0 (kept as seen by the daemon, no positive here) in place. */
static size_t drop_weightless(nc_interactions *p) {
    if (!p->w) return 0;
    size_t w = 0;
    for (size_t k = 0; k < p->n; k++) {
        if (!p->w[k]) continue;
        p->user[w] = p->user[k];
        p->item[w] = p->item[k];
        p->w[w] = p->w[k];
        w++;
    }
    size_t gone = p->n - w;
    p->n = w;
    return gone;
}

/* The repeated positives: each distinct pair as many times as its weight. */
static int repeat_pairs(trainer *t, nc_err *e) {
    size_t n = 0;
    for (size_t k = 0; k < t->pairs.n; k++) n += t->pairs.w[k];
    nc_inter_init(&t->reps);
    int rc = nc_inter_reserve(&t->reps, n, e);
    if (rc) return rc;
    for (size_t k = 0; k < t->pairs.n; k++)
        for (uint8_t r = 0; r < t->pairs.w[k]; r++)
            if ((rc = nc_inter_push(&t->reps, t->pairs.user[k], t->pairs.item[k], 0, e)))
                return rc;
    report_note(t, "weighted positives: %zu distinct pairs sampled as %zu per epoch",
                t->pairs.n, t->reps.n);
    return NC_OK;
}

/* Copies the distinct training pairs (each with the largest weight of its rows) and, when a
 * weight is not 1, the repeated positives the batches are drawn from. */
static int copy_pairs(trainer *t, nc_err *e) {
    const nc_interactions *src = &t->d->train;
    nc_inter_init(&t->pairs);
    for (size_t k = 0; k < src->n; k++) {
        int rc = nc_inter_push_w(&t->pairs, src->user[k], src->item[k], 0,
                                 nc_inter_weight(src, k), e);
        if (rc) return rc;
    }
    size_t dropped = nc_inter_dedup(&t->pairs, e);
    if (e->code) return e->code;
    if (dropped) report_note(t, "merged %zu repeated training pairs", dropped);
    size_t weightless = drop_weightless(&t->pairs);
    if (weightless) report_note(t, "left out %zu training pairs of weight 0", weightless);
    t->batches = &t->pairs;
    for (size_t k = 0; t->pairs.w && k < t->pairs.n; k++)
        if (t->pairs.w[k] != 1) {
            t->batches = &t->reps;
            return repeat_pairs(t, e);
        }
    free(t->pairs.w); /* every weight 1: the unweighted path, whose shuffle ignores weights */
    t->pairs.w = NULL;
    return NC_OK;
}

/* Buffers of the stratified structure term (core/ssl_strata.h sizes the strata). */
static int strata_setup(trainer *t, nc_err *e) {
    const int32_t m[2] = {t->U, t->I};
    int32_t kmax = 1;
    for (int s = 0; s < 2; s++) {
        t->strat_k[s] = nc_ssl_strata_count(m[s], t->hp.ssl_stratum_size);
        if (t->strat_k[s] > kmax) kmax = t->strat_k[s];
        t->strat_assign[s] = nc_malloc((size_t)m[s], sizeof(int32_t), e);
        if (!t->strat_assign[s]) return NC_ENOMEM;
    }
    t->strat_x = nc_malloc((size_t)(t->U > t->I ? t->U : t->I) * t->dim, sizeof(float), e);
    t->strat_cent = nc_malloc((size_t)kmax * t->dim, sizeof(float), e);
    return t->strat_x && t->strat_cent ? NC_OK : NC_ENOMEM;
}

/* This epoch's strata, from the current E0, handed to the workspace. */
static int strata_update(trainer *t, nc_err *e) {
    const int32_t m[2] = {t->U, t->I};
    for (int s = 0; s < 2; s++) {
        const float *src = t->E0 + (s ? (size_t)t->U * t->dim : 0);
        int rc = nc_ssl_strata_assign(src, m[s], t->dim, t->strat_k[s], &t->hp, t->strat_x,
                                      t->strat_cent, t->strat_assign[s], e);
        if (rc) return rc;
    }
    return nc_ncl_set_ssl_strata(t->ws, t->strat_assign[0], t->strat_k[0], t->strat_assign[1],
                                 t->strat_k[1], e);
}

/* eval_users: validation on a fixed sample of the valid users, the same users every epoch,
 * so that ranking every user against every item each epoch does not outgrow the epoch at a
 * million users (metrics.h, nc_evaluator_sample). The test metrics stay on all users. */
static int valid_sample(trainer *t, nc_err *e) {
    const int32_t all = t->ev_valid.n_eval;
    if (!t->d->valid.n || t->hp.eval_users < 1) return NC_OK;
    int rc = nc_evaluator_sample(&t->ev_valid, t->hp.eval_users, t->hp.seed ^ 0x76616c6964ULL, e);
    if (!rc && t->ev_valid.n_eval < all)
        report_note(t, "validation on %d of %d users (eval_users); test metrics on all",
                    t->ev_valid.n_eval, all);
    return rc;
}

/* The distinct training pairs, then the size rule on their count: both nc_train and
 * nc_train_settings resolve the settings here, so that the two cannot disagree. */
static int setup_pairs(trainer *t, char *why, size_t cap, nc_err *e) {
    t->U = (int32_t)t->d->users.n;
    t->I = (int32_t)t->d->items.n;
    if (t->d->train.n == 0) return nc_fail(e, NC_EINVAL, "no training interactions");
    if (t->U < 1 || t->I < 2) return nc_fail(e, NC_EINVAL, "need at least 1 user and 2 items");
    int rc = copy_pairs(t, e);
    if (rc) return rc;
    if (t->pairs.n == 0)
        return nc_fail(e, NC_EINVAL, "no training interactions of a weight above 0");
    nc_scale_rule(&t->hp, (int64_t)t->pairs.n, t->U, t->I, why, cap);
    if ((t->hp.ssl_stratum_size > 0 || t->hp.ssl_memory) && t->hp.ssl_negatives < 1)
        return nc_fail(e, NC_EINVAL, "ssl_stratum_size / ssl_memory need ssl_negatives > 0 "
                       "(the sampled structure term they refine)");
    return NC_OK;
}

static int trainer_setup(trainer *t, nc_err *e) {
    const nc_hparams *hp = &t->hp;
    char why[512];
    int rc = setup_pairs(t, why, sizeof why, e);
    if (rc) return rc;
    t->dim = hp->embedding_size;
    t->n_params = ((size_t)t->U + t->I) * t->dim;
    report_note(t, "%s", why);
    if ((rc = user_items_build(&t->seen, &t->pairs, t->U, e))) return rc;
    rc = nc_graph_build(t->U, t->I, t->pairs.user, t->pairs.item, t->pairs.n, &t->graph, e);
    if (rc) return rc;
    if ((rc = nc_ncl_ws_create(&t->graph, hp, &t->ws, e))) return rc;
    if (hp->ssl_stratum_size > 0 && hp->ssl_reg > 0 && (rc = strata_setup(t, e))) return rc;
    if ((rc = nc_adam_init(&t->adam, t->n_params, hp->learning_rate, e))) return rc;
    nc_evaluator_init(&t->ev_valid);
    if (t->d->valid.n &&
        (rc = nc_evaluator_build(&t->ev_valid, t->U, t->I, &t->d->valid, &t->pairs, NULL, e)))
        return rc;
    if ((rc = valid_sample(t, e))) return rc;
    t->E0 = nc_aligned_alloc(t->n_params, sizeof(float), e);
    t->best_E0 = nc_aligned_alloc(t->n_params, sizeof(float), e);
    t->grad = nc_aligned_alloc(t->n_params, sizeof(float), e);
    t->user_emb = nc_aligned_alloc((size_t)t->U * t->dim, sizeof(float), e);
    t->item_emb = nc_aligned_alloc((size_t)t->I * t->dim, sizeof(float), e);
    t->neg = nc_malloc((size_t)hp->train_batch_size, sizeof(int32_t), e);
    if (!t->E0 || !t->best_E0 || !t->grad || !t->user_emb || !t->item_emb || !t->neg)
        return NC_ENOMEM;
    t->k_user = clamp_clusters(t, hp->num_clusters, t->U, "users");
    t->k_item = clamp_clusters(t, hp->num_clusters, t->I, "items");
    t->cent_user = nc_malloc((size_t)t->k_user * t->dim, sizeof(float), e);
    t->cent_item = nc_malloc((size_t)t->k_item * t->dim, sizeof(float), e);
    t->assign_user = nc_malloc((size_t)t->U, sizeof(int32_t), e);
    t->assign_item = nc_malloc((size_t)t->I, sizeof(int32_t), e);
    if (!t->cent_user || !t->cent_item || !t->assign_user || !t->assign_item) return NC_ENOMEM;
    nc_rng_seed(&t->rng, hp->seed);
    nc_ncl_init_params(t->E0, t->U, t->I, t->dim, &t->rng);
    t->warm_rows = warm_start(t, t->o->warm);
    if (t->o->warm) report_note(t, "warm start: %d of %d rows from the previous model",
                                t->warm_rows, t->U + t->I);
    memcpy(t->best_E0, t->E0, t->n_params * sizeof(float));
    return NC_OK;
}

static int cancelled(const trainer *t) { return t->o->cancel && atomic_load(t->o->cancel); }

/* Sums of loss terms over an epoch's batches, and what the callback is told. */
typedef struct epoch_acc {
    double bpr, reg, ssl, proto;
    int32_t batches;
} epoch_acc;

static void fill_progress(const trainer *t, nc_progress *p, nc_phase ph, int32_t epoch,
                          const epoch_acc *a, int32_t n_batches) {
    double n = a->batches ? a->batches : 1;
    p->phase = ph;
    p->epoch = epoch;
    p->n_epochs = t->hp.epochs;
    p->batch = a->batches;
    p->n_batches = n_batches;
    p->bpr = a->bpr / n;
    p->reg = a->reg / n;
    p->ssl = a->ssl / n;
    p->proto = a->proto / n;
    p->seconds = nc_now() - t->t0;
    p->message = NULL;
}

/* One pass over the shuffled pairs (repeated by weight). Returns NC_ECANCEL when asked to
 * stop. */
static int run_epoch(trainer *t, int32_t epoch, const nc_protos *protos, nc_progress *p,
                     nc_err *e) {
    const nc_hparams *hp = &t->hp;
    const nc_interactions *bp = t->batches;
    int32_t B = hp->train_batch_size;
    int32_t n_batches = (int32_t)((bp->n + (size_t)B - 1) / (size_t)B);
    epoch_acc acc = {0};
    double ts = nc_now();
    shuffle_pairs(t->batches, &t->rng);
    p->t_sample += nc_now() - ts;
    for (int32_t b = 0; b < n_batches; b++) {
        if (cancelled(t)) return nc_fail(e, NC_ECANCEL, "training cancelled");
        size_t off = (size_t)b * B;
        int32_t n = (int32_t)((bp->n - off) < (size_t)B ? bp->n - off : (size_t)B);
        ts = nc_now();
        for (int32_t k = 0; k < n; k++)
            t->neg[k] = draw_negative(&t->seen, bp->user[off + k], t->I, &t->rng);
        p->t_sample += nc_now() - ts;
        nc_batch batch = {n, bp->user + off, bp->item + off, t->neg};
        nc_loss l;
        int rc = nc_ncl_loss_grad(t->ws, t->E0, &batch, protos, t->grad, &l, e);
        if (rc) return rc;
        if (!isfinite(l.total))
            return nc_fail(e, NC_EINVAL, "loss is not finite at epoch %d batch %d "
                           "(learning rate too high?)", epoch, b);
        ts = nc_now();
        nc_adam_step(&t->adam, t->E0, t->grad);
        p->t_adam += nc_now() - ts;
        acc.bpr += l.bpr;
        acc.reg += l.reg;
        acc.ssl += l.ssl;
        acc.proto += l.proto;
        acc.batches++;
        if (t->o->progress && t->o->progress_every_batch) {
            fill_progress(t, p, NC_PHASE_BATCH, epoch, &acc, n_batches);
            if (t->o->progress(p, t->o->progress_ctx))
                return nc_fail(e, NC_ECANCEL, "training stopped by the caller");
        }
    }
    fill_progress(t, p, NC_PHASE_EPOCH_END, epoch, &acc, n_batches);
    return NC_OK;
}

/* Serving embeddings F of E0, then metrics on `split` masking `m1`, `m2`. */
static int evaluate_on(trainer *t, const float *E0, const nc_interactions *split,
                       const nc_interactions *m1, const nc_interactions *m2, nc_metrics *out,
                       nc_err *e) {
    int rc = nc_ncl_embed(t->ws, E0, t->user_emb, t->item_emb, e);
    if (rc) return rc;
    return nc_evaluate(t->user_emb, t->item_emb, t->U, t->I, t->dim, split, m1, m2, out, e);
}

/* Moves the trained state into the checkpoint (arrays change hands; the trainer forgets
 * them). */
static int fill_checkpoint(trainer *t, nc_checkpoint *c, const nc_stopper *s,
                           int32_t epochs_run, nc_err *e) {
    c->hp = t->hp;
    c->n_users = t->U;
    c->n_items = t->I;
    c->dim = t->dim;
    int rc = nc_idmap_copy(&c->users, &t->d->users, e);
    if (!rc) rc = nc_idmap_copy(&c->items, &t->d->items, e);
    if (rc) return rc;
    c->E0 = t->best_E0;
    t->best_E0 = NULL;
    c->user_emb = t->user_emb;
    t->user_emb = NULL;
    c->item_emb = t->item_emb;
    t->item_emb = NULL;
    c->k_user = t->k_user;
    c->k_item = t->k_item;
    c->cent_user = t->cent_user;
    t->cent_user = NULL;
    c->cent_item = t->cent_item;
    t->cent_item = NULL;
    c->assign_user = t->assign_user;
    t->assign_user = NULL;
    c->assign_item = t->assign_item;
    t->assign_item = NULL;
    c->meta.trained_at = nc_wall_time();
    c->meta.train_seconds = nc_now() - t->t0;
    c->meta.data_watermark = -1;
    c->meta.epochs_run = epochs_run;
    c->meta.best_epoch = s->best_epoch;
    c->meta.n_train = (int64_t)t->pairs.n;
    c->meta.n_valid = (int64_t)t->d->valid.n;
    c->meta.n_test = (int64_t)t->d->test.n;
    return NC_OK;
}

/* Best E0 back in place: serving embeddings, final metrics, and centroids for the record. */
static int finish(trainer *t, const nc_stopper *s, int32_t epochs_run, nc_checkpoint *out,
                  nc_err *e) {
    const nc_dataset *d = t->d;
    nc_metrics valid = {0}, test = {0};
    int rc = NC_OK;
    if (d->valid.n) rc = evaluate_on(t, t->best_E0, &d->valid, &t->pairs, NULL, &valid, e);
    if (!rc && d->test.n)
        rc = evaluate_on(t, t->best_E0, &d->test, &t->pairs, d->valid.n ? &d->valid : NULL,
                         &test, e);
    if (!rc) rc = nc_ncl_embed(t->ws, t->best_E0, t->user_emb, t->item_emb, e);
    if (!rc && t->hp.proto_reg > 0) rc = estep(t, t->best_E0, e);
    if (rc) return rc;
    if (t->hp.proto_reg <= 0) { /* LightGCN: no clusters to record */
        free(t->cent_user);
        free(t->cent_item);
        free(t->assign_user);
        free(t->assign_item);
        t->cent_user = t->cent_item = NULL;
        t->assign_user = t->assign_item = NULL;
        t->k_user = t->k_item = 0;
    }
    nc_checkpoint_init(out);
    out->valid = valid;
    out->test = test;
    rc = fill_checkpoint(t, out, s, epochs_run, e);
    if (rc) nc_checkpoint_free(out);
    return rc;
}

/* The loop over epochs; returns the number of epochs run through *epochs_run. */
static int train_loop(trainer *t, nc_stopper *s, int32_t *epochs_run, nc_err *e) {
    const nc_hparams *hp = &t->hp;
    int use_proto = hp->proto_reg > 0;
    nc_protos protos = {t->k_user, t->k_item, t->cent_user, t->cent_item,
                        t->assign_user, t->assign_item};
    double prev[5] = {0};
    for (int32_t epoch = 0; epoch < hp->epochs; epoch++) {
        double te = nc_now();
        nc_progress p = {0};
        p.valid_ndcg10 = -1;
        if (t->strat_x) {
            double tk = nc_now();
            int rc = strata_update(t, e);
            if (rc) return rc;
            p.t_kmeans += nc_now() - tk;
        }
        if (use_proto && epoch >= hp->warm_up_step) {
            double tk = nc_now();
            int rc = estep(t, t->E0, e);
            if (rc) return rc;
            p.t_kmeans += nc_now() - tk;
        }
        int on = use_proto && epoch >= hp->warm_up_step;
        int rc = run_epoch(t, epoch, on ? &protos : NULL, &p, e);
        if (rc) return rc;
        *epochs_run = epoch + 1;
        double cur[5];
        nc_ncl_timers(t->ws, &cur[0], &cur[1], &cur[2], &cur[3]);
        cur[4] = nc_ncl_flops(t->ws);
        p.flops = cur[4] - prev[4];
        p.t_prop = cur[0] - prev[0];
        p.t_ssl = cur[1] - prev[1];
        p.t_proto = cur[2] - prev[2];
        p.t_bpr = cur[3] - prev[3];
        memcpy(prev, cur, sizeof prev);
        int stop = 0;
        if (t->d->valid.n && (epoch + 1) % hp->eval_step == 0) {
            double tv = nc_now();
            nc_metrics m;
            if ((rc = nc_ncl_embed(t->ws, t->E0, t->user_emb, t->item_emb, e)) ||
                (rc = nc_evaluator_run(&t->ev_valid, t->user_emb, t->item_emb, t->dim, &m, e)))
                return rc;
            int improved;
            stop = nc_stopper_update(s, epoch, m.ndcg[0], &improved);
            if (improved) memcpy(t->best_E0, t->E0, t->n_params * sizeof(float));
            p.valid_ndcg10 = m.ndcg[0];
            p.t_eval = nc_now() - tv;
        } else if (!t->d->valid.n) {
            memcpy(t->best_E0, t->E0, t->n_params * sizeof(float));
            s->best_epoch = epoch;
        }
        p.best_ndcg10 = s->best;
        p.best_epoch = s->best_epoch;
        p.epoch_seconds = nc_now() - te;
        p.seconds = nc_now() - t->t0;
        if (t->o->progress && t->o->progress(&p, t->o->progress_ctx))
            return nc_fail(e, NC_ECANCEL, "training stopped by the caller");
        if (stop) break;
        if (hp->max_seconds > 0 && p.seconds >= hp->max_seconds && epoch + 1 < hp->epochs) {
            report_note(t, "time budget: %.0f s >= max_seconds %g after epoch %d: stopping",
                        p.seconds, hp->max_seconds, epoch);
            break;
        }
    }
    return NC_OK;
}

int nc_train_settings(const nc_dataset *d, nc_hparams *hp, char *why, size_t cap, nc_err *e) {
    nc_train_opts o = {.hp = *hp};
    trainer t;
    memset(&t, 0, sizeof t);
    t.d = d;
    t.o = &o;
    t.hp = *hp;
    char line[512];
    int rc = nc_hparams_validate(&t.hp, e);
    if (!rc) rc = setup_pairs(&t, line, sizeof line, e);
    if (!rc) *hp = t.hp;
    if (!rc && why && cap) snprintf(why, cap, "%s", line);
    trainer_free(&t);
    return rc;
}

int nc_train(const nc_dataset *d, const nc_train_opts *o, nc_checkpoint *out, nc_err *e) {
    trainer t;
    memset(&t, 0, sizeof t);
    t.d = d;
    t.o = o;
    t.hp = o->hp;
    t.t0 = nc_now();
    nc_checkpoint_init(out);
    int rc = nc_hparams_validate(&t.hp, e);
    if (rc) return rc;
    nc_set_threads(t.hp.threads);
    nc_stopper s;
    int32_t epochs_run = 0;
    rc = trainer_setup(&t, e);
    nc_stopper_init(&s, &t.hp, t.warm_rows > 0);
    if (!rc)
        report_note(&t, "early stop: after %d + 1 evaluations without progress (min_delta %g), "
                    "not before epoch %d%s", s.patience, s.min_delta, s.min_epochs,
                    t.warm_rows > 0 && t.hp.warm_patience > 0 ? " (warm start)" : "");
    if (!rc) rc = train_loop(&t, &s, &epochs_run, e);
    if (!rc) rc = finish(&t, &s, epochs_run, out, e);
    trainer_free(&t);
    return rc;
}
