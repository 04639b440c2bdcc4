/* scale_rule.c - see scale_rule.h. */
#include "scale_rule.h"

#include <math.h>
#include <stdio.h>

/* The batch factor f of the fast path: the largest power of two with f x batch <= NC_FAST_BATCH
 * that still leaves NC_FAST_MIN_BATCHES batches per epoch. 1 when the batch is already that
 * large or the data too small for a larger one. */
static int32_t batch_factor(int32_t batch, int64_t n_pairs) {
    int32_t f = 1;
    while ((int64_t)batch * f * 2 <= NC_FAST_BATCH &&
           n_pairs >= (int64_t)NC_FAST_MIN_BATCHES * batch * f * 2)
        f *= 2;
    return f;
}

/* The fast path's settings on top of the caller's (scale_rule.h says why each). */
static void apply_fast(nc_hparams *hp, int64_t n_pairs) {
    const int32_t f = batch_factor(hp->train_batch_size, n_pairs);
    hp->ssl_negatives = NC_FAST_NEGATIVES;
    hp->train_batch_size *= f;
    hp->learning_rate *= sqrtf((float)f);
    hp->ssl_reg /= (float)f;
    hp->proto_reg /= (float)f;
    if (hp->min_delta < NC_FAST_MIN_DELTA) hp->min_delta = NC_FAST_MIN_DELTA;
    if (hp->stopping_step > NC_FAST_PATIENCE) hp->stopping_step = NC_FAST_PATIENCE;
    hp->min_epochs = 0;
}

int nc_scale_rule(nc_hparams *hp, int64_t n_pairs, int32_t n_users, int32_t n_items, char *why,
                  size_t cap) {
    const double work = (double)n_pairs * ((double)n_users + n_items);
    const int chosen = hp->ssl_negatives > 0 || hp->ssl_stratum_size > 0 || hp->ssl_memory > 0;
    const int fast = !chosen && hp->exact_limit > 0 && work > hp->exact_limit;
    if (fast) apply_fast(hp, n_pairs);
    if (!why || !cap) return fast;
    if (chosen)
        snprintf(why, cap, "structure term as set: ssl_negatives=%d ssl_stratum_size=%d "
                 "ssl_memory=%d", hp->ssl_negatives, hp->ssl_stratum_size, hp->ssl_memory);
    else if (fast)
        snprintf(why, cap, "size rule: pairs x (users + items) = %.3g > exact_limit %.3g: fast "
                 "path (ssl_negatives=%d train_batch_size=%d learning_rate=%.4g ssl_reg=%.4g "
                 "proto_reg=%.4g min_delta=%g stopping_step=%d min_epochs=%d)", work,
                 (double)hp->exact_limit, hp->ssl_negatives, hp->train_batch_size,
                 hp->learning_rate, hp->ssl_reg, hp->proto_reg, hp->min_delta,
                 hp->stopping_step, hp->min_epochs);
    else if (hp->exact_limit <= 0)
        snprintf(why, cap, "size rule off (exact_limit 0): exact structure term at pairs x "
                 "(users + items) = %.3g", work);
    else
        snprintf(why, cap, "size rule: pairs x (users + items) = %.3g <= exact_limit %.3g: exact "
                 "structure term", work, (double)hp->exact_limit);
    return fast;
}
