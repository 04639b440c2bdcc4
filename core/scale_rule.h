/* scale_rule.h - the size rule: which structure term a training of a given size runs.
 *
 * The exact structure term costs about 6 d R (U + I) flops per epoch (docs/scaling.md,
 * section 1): cheap at MovieLens sizes, a day per retrain at 100,000 users. When the caller
 * chose no approximation (ssl_negatives, ssl_stratum_size and ssl_memory all 0) and
 * R x (U + I) > exact_limit (default 1e10: ML-1M is 6e9, 20,000 users x 10,000 items 2e10),
 * the rule picks the fast path: the sampled structure term with NC_FAST_NEGATIVES = 4096
 * uniform rows per side. On ML-1M's leaderboard setting (45 epochs, seed 2020) 4096 rows cost
 * -0.3% test Recall@20 and -0.1% NDCG@20 against the exact term, 1024 rows -4.5% / -3.6%; the
 * strata (ssl_stratum_size) and the gradient memory (ssl_memory) estimate each step's gradient
 * better but ended lower (docs/scaling.md, sections 3 and 7). On ML-1M 4096 rows are all of its
 * 3,628 items and 68% of its 6,039 users; at 100,000 x 50,000 they are 4% and 8% of the sides,
 * so there each step's estimate is noisier than on ML-1M (its quality against exact at that
 * size is not measured: the exact term would take a day).
 *
 * The fast path is the setting measured at 100,000 users (docs/scaling.md, section 7), so the
 * rule sets the rest of it too, each relative to the caller's value:
 *   - the batch grows by f, the largest power of two with f x batch <= NC_FAST_BATCH (32,768)
 *     that leaves NC_FAST_MIN_BATCHES (64) batches per epoch: every batch propagates the whole
 *     graph, which at 4,096 rows was 324 of an epoch's 493 s there; learning_rate x sqrt(f),
 *     ssl_reg / f and proto_reg / f (those two terms are sums over the batch's rows while BPR is
 *     a mean);
 *   - the stop: min_delta at least NC_FAST_MIN_DELTA (0.001), stopping_step at most
 *     NC_FAST_PATIENCE (2) and min_epochs 0, so a cold training stops at its plateau (43 min
 *     at 100,000 users) instead of after min_epochs' 60 epochs of ~2 minutes.
 * A caller's batch already at 32,768, min_delta above 0.001 or patience below 2 stay as set.
 * The caller keeps control: an explicit --ssl-negatives / --ssl-stratum-size / --ssl-memory is
 * used as given with every other setting untouched (`--ssl-negatives 4096` is the fast term
 * with one's own batch and stop), and exact_limit 0 keeps the exact term at any size. The
 * resolved settings are what the model records, and the line in why lists them;
 * nc_train_settings (train.h) resolves them for a data set without training. */
#ifndef NCLREC_SCALE_RULE_H
#define NCLREC_SCALE_RULE_H

#include <stddef.h>
#include <stdint.h>

#include "hparams.h"

#define NC_FAST_NEGATIVES 4096
#define NC_FAST_BATCH 32768
#define NC_FAST_MIN_BATCHES 64
#define NC_FAST_MIN_DELTA 0.001f
#define NC_FAST_PATIENCE 2

/* Applies the rule to hp for n_pairs distinct training pairs, n_users and n_items. Returns 1
 * when it switched hp to the fast path (the settings above), else 0 (hp unchanged). why (cap
 * bytes, may be NULL) receives one line saying what was chosen and why, for the training log. */
int nc_scale_rule(nc_hparams *hp, int64_t n_pairs, int32_t n_users, int32_t n_items, char *why,
                  size_t cap);

#endif
