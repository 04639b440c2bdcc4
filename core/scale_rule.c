/* scale_rule.c - see scale_rule.h. */
#include "scale_rule.h"

#include <stdio.h>

int nc_scale_rule(nc_hparams *hp, int64_t n_pairs, int32_t n_users, int32_t n_items, char *why,
                  size_t cap) {
    const double work = (double)n_pairs * ((double)n_users + n_items);
    const int chosen = hp->ssl_negatives > 0 || hp->ssl_stratum_size > 0 || hp->ssl_memory > 0;
    const int fast = !chosen && hp->exact_limit > 0 && work > hp->exact_limit;
    if (fast) hp->ssl_negatives = NC_FAST_NEGATIVES;
    if (why && cap) {
        if (chosen)
            snprintf(why, cap, "structure term as set: ssl_negatives=%d ssl_stratum_size=%d "
                     "ssl_memory=%d", hp->ssl_negatives, hp->ssl_stratum_size, hp->ssl_memory);
        else if (fast)
            snprintf(why, cap, "size rule: pairs x (users + items) = %.3g > exact_limit %.3g: fast path "
                     "(ssl_negatives=%d)", work, (double)hp->exact_limit, hp->ssl_negatives);
        else
            snprintf(why, cap, "size rule: pairs x (users + items) = %.3g <= exact_limit %.3g: exact "
                     "structure term", work, (double)hp->exact_limit);
    }
    return fast;
}
