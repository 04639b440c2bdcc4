/* metrics.h - full-ranking evaluation: Recall@K and NDCG@K for K = 10, 20, 50 (NCL.md,
 * "Evaluation"). Scores every item for every evaluated user with sgemm in blocks of users,
 * masks the user's already-known items, keeps the top 50 and counts hits. */
#ifndef NCLREC_METRICS_H
#define NCLREC_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "dataset.h"

#define NC_N_TOPK 3
extern const int nc_topk_ks[NC_N_TOPK]; /* {10, 20, 50} */

typedef struct nc_metrics {
    double recall[NC_N_TOPK]; /* averaged over evaluated users, equal weight */
    double ndcg[NC_N_TOPK];
    int64_t n_users;          /* users with at least one positive in the split */
} nc_metrics;

/* Evaluates embeddings on `positives` (the valid or test split). For each user with at least
 * one positive: score all n_items items (user_emb[u] . item_emb[i]), drop items in mask1 and
 * mask2 (train, and for test also valid; either may be NULL) that are not positives of this
 * user, take the top 50. Borrowed inputs, nothing kept. Uses the OpenMP/BLAS thread setting. */
int nc_evaluate(const float *user_emb, const float *item_emb, int32_t n_users, int32_t n_items,
                int32_t dim, const nc_interactions *positives, const nc_interactions *mask1,
                const nc_interactions *mask2, nc_metrics *out, nc_err *e);

/* "recall@10=0.2399 recall@20=... ndcg@50=..." into buf, 4 decimals. */
size_t nc_metrics_format(const nc_metrics *m, char *buf, size_t cap);

#endif
