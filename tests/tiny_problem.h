/* tiny_problem.h - the random miniature training problem that test_grad.c and
 * test_ssl_sampled.c check gradients on: distinct (user, item) training pairs that leave the
 * last user and the last item without an edge, and a batch of (user, positive, negative)
 * triples drawn from them. Header-only, for tests; the caller owns every array. */
#ifndef NCLREC_TINY_PROBLEM_H
#define NCLREC_TINY_PROBLEM_H

#include <stdint.h>
#include <stdlib.h>

#include "common.h"

/* n distinct pairs (pu[k], pi[k]) with pu < n_users - 1 and pi < n_items - 1, drawn from r.
 * n must be at most (n_users - 1) x (n_items - 1). */
static void tiny_pairs(nc_rng *r, int32_t n_users, int32_t n_items, int32_t n, int32_t *pu, int32_t *pi) {
    char *seen = calloc((size_t)n_users * (size_t)n_items, 1);
    if (!seen) abort();
    for (int32_t got = 0; got < n;) {
        int32_t u = (int32_t)nc_rng_below(r, (uint64_t)(n_users - 1)), i = (int32_t)nc_rng_below(r, (uint64_t)(n_items - 1));
        if (seen[(size_t)u * (size_t)n_items + (size_t)i]) continue;
        seen[(size_t)u * (size_t)n_items + (size_t)i] = 1;
        pu[got] = u;
        pi[got++] = i;
    }
    free(seen);
}

/* nb triples: a pair drawn from the n_pairs, and a negative item drawn from all n_items. */
static void tiny_batch(nc_rng *r, const int32_t *pu, const int32_t *pi, int32_t n_pairs, int32_t n_items, int32_t nb,
                       int32_t *bu, int32_t *bp, int32_t *bn) {
    for (int32_t b = 0; b < nb; b++) {
        int32_t k = (int32_t)nc_rng_below(r, (uint64_t)n_pairs);
        bu[b] = pu[k];
        bp[b] = pi[k];
        bn[b] = (int32_t)nc_rng_below(r, (uint64_t)n_items);
    }
}

#endif
