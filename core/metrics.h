/* metrics.h - full-ranking evaluation: Recall@K and NDCG@K for K = 10, 20, 50 (NCL.md,
 * "Evaluation"). Scores every item for every evaluated user with sgemm in blocks of users,
 * masks the user's already-known items, keeps the top 50 and counts hits.
 *
 * Two ways in:
 *   nc_evaluate          one call: builds the per-user lists, scores, frees them.
 *   nc_evaluator_*       build the per-user lists once (positives and masks in CSR form) and
 *                        score new embeddings with them every epoch; what the trainer uses.
 *
 * Ranking rules, as RecBole's full sort: a masked item never enters the top list; ties are
 * broken towards the lower item id; a NaN score ranks below every number. Each user's figures
 * are summed in user order after the parallel part, so results do not depend on threads. */
#ifndef NCLREC_METRICS_H
#define NCLREC_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "dataset.h"

#define NC_N_TOPK 3
#define NC_TOPK_MAX 50
extern const int nc_topk_ks[NC_N_TOPK]; /* {10, 20, 50} */

typedef struct nc_metrics {
    double recall[NC_N_TOPK]; /* averaged over evaluated users, equal weight */
    double ndcg[NC_N_TOPK];
    int64_t n_users;          /* users with at least one positive in the split */
} nc_metrics;

/* Per-user lists of one split, built once. Owned by the struct; nc_evaluator_free releases
 * them. Read-only after nc_evaluator_build, so several threads may run it concurrently. */
typedef struct nc_evaluator {
    int32_t n_users, n_items;
    int32_t n_eval;        /* users with at least one positive */
    int32_t *eval_user;    /* n_eval user ids, ascending */
    int64_t *pos_off;      /* n_eval + 1 offsets into pos */
    int32_t *pos;          /* distinct positives of each evaluated user, ascending */
    int64_t *mask_off;     /* n_eval + 1 offsets into mask */
    int32_t *mask;         /* distinct masked items (mask1 or mask2, not positives), ascending */
    int32_t block;         /* users scored per sgemm: set by build for ~32 MiB of scores; a
                              caller may lower it (>= 1) to save memory */
} nc_evaluator;

void nc_evaluator_init(nc_evaluator *ev);
void nc_evaluator_free(nc_evaluator *ev);

/* Builds the lists for `positives` (the valid or test split) with mask1 and mask2 (train, and
 * for test also valid; either may be NULL) over n_users x n_items. Rows of the masks for users
 * without positives are ignored. Ids out of range are NC_EINVAL. ev must be initialised; its old
 * content is freed. Borrowed inputs, nothing kept. */
int nc_evaluator_build(nc_evaluator *ev, int32_t n_users, int32_t n_items,
                       const nc_interactions *positives, const nc_interactions *mask1,
                       const nc_interactions *mask2, nc_err *e);

/* Keeps n of the evaluated users, drawn without replacement from seed (each kept user's lists
 * unchanged, users still ascending), so that every later nc_evaluator_run scores those n and
 * costs n / n_eval of the full ranking: validation at a million users. The metrics are then
 * those of the positives restricted to the kept users. n >= n_eval keeps every user; n < 1 is
 * NC_EINVAL. On an error ev is unchanged. */
int nc_evaluator_sample(nc_evaluator *ev, int32_t n, uint64_t seed, nc_err *e);

/* Scores user_emb (n_users x dim) against item_emb (n_items x dim), row-major, both borrowed:
 * for each evaluated user all items by inner product, masked ones dropped, top 50 kept.
 * Memory: one block of scores of at most ~32 MiB plus per-user results. Uses the OpenMP and
 * OpenBLAS thread settings of the calling thread (core/common.h nc_set_threads). */
int nc_evaluator_run(const nc_evaluator *ev, const float *user_emb, const float *item_emb,
                     int32_t dim, nc_metrics *out, nc_err *e);

/* nc_evaluator_build + nc_evaluator_run + nc_evaluator_free in one call. */
int nc_evaluate(const float *user_emb, const float *item_emb, int32_t n_users, int32_t n_items,
                int32_t dim, const nc_interactions *positives, const nc_interactions *mask1,
                const nc_interactions *mask2, nc_metrics *out, nc_err *e);

/* "recall@10=0.2399 recall@20=... recall@50=... ndcg@10=... ndcg@20=... ndcg@50=..." into buf
 * (caller-owned, cap bytes, always NUL-terminated when cap > 0), 4 decimals. Returns the
 * length of the full text, as snprintf does (>= cap means it was cut). */
size_t nc_metrics_format(const nc_metrics *m, char *buf, size_t cap);

#endif
