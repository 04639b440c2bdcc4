/* early_stop.h - when training stops: the reference's patience on valid NDCG@10, a relative
 * minimum gain for runs whose curve creeps up for ever, and a short patience for warm starts.
 *
 * Every evaluation's valid NDCG@10 is rounded to 4 decimals (the reference's rule). Two things
 * are tracked:
 *   best      the best rounded value so far: the epoch whose parameters are kept;
 *   progress  an evaluation counts as progress when it beats the value of the last progress by
 *             more than the fraction min_delta (r > mark x (1 + min_delta)); patience counts the
 *             evaluations since then.
 * With min_delta 0 the two are the same and the rule is the reference's: stop after
 * stopping_step + 1 evaluations in a row that do not strictly beat the best, never before
 * min_epochs. A run of 100,000 users gains < 0.1% per epoch for hours after its plateau
 * (docs/scaling.md, section 7): min_delta 0.001 stops it there.
 *
 * A warm start (the previous model's embeddings) is already at its plateau: ML-1M and ML-100K
 * after 1% new rows reached their best at epoch 0 (docs/scaling.md, section 7). With
 * warm_patience P > 0 a warm training stops after P + 1 evaluations in a row without progress,
 * from its first epoch on (min_epochs, meant for a random start, does not apply); P = 0 keeps
 * the cold rule for warm starts too. */
#ifndef NCLREC_EARLY_STOP_H
#define NCLREC_EARLY_STOP_H

#include <stdint.h>

#include "hparams.h"

/* Plain value, no resources: the caller owns it (usually on its stack). */
typedef struct nc_stopper {
    double best;        /* best rounded valid NDCG@10, -1 before the first evaluation */
    double mark;        /* rounded value of the last progress, -1 before the first */
    int32_t best_epoch; /* epoch of best, -1 before the first evaluation */
    int32_t fails;      /* evaluations in a row without progress */
    int32_t patience;   /* stop once fails > patience */
    int32_t min_epochs; /* and at least this many epochs ran */
    double min_delta;   /* relative gain that counts as progress */
} nc_stopper;

/* Sets up the rule for hp (stopping_step, min_epochs, min_delta, warm_patience); warm is
 * non-zero for a training that starts from a previous model. */
void nc_stopper_init(nc_stopper *s, const nc_hparams *hp, int warm);

/* Takes the evaluation after 0-based epoch `epoch`. Sets *improved when it is the new best
 * (keep these parameters). Returns 1 when training should stop now, else 0. */
int nc_stopper_update(nc_stopper *s, int32_t epoch, double ndcg10, int *improved);

#endif
