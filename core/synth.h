/* synth.h - a synthetic implicit-feedback data set with real-looking structure, for tests and
 * for the daemon's built-in default (no download needed).
 *
 * The generative story:
 *   - items get a random popularity rank r and weight 1 / r^zipf; each item belongs to one of C
 *     communities, (r - 1) mod C, so every community has popular and rare items;
 *   - each user has a home community and a secondary one, and a number of interactions drawn
 *     from a log-normal (heavy tail) with the requested mean, clamped to
 *     [min_per_user, max(min_per_user, n_items / 4)];
 *   - each pick comes from the home community (share affinity * (1 - second_share)), the
 *     secondary one (affinity * second_share) or the whole catalogue (the rest), by popularity
 *     within that pool, without repeating an item for the same user;
 *   - each user starts at a random time within 180 days after t0 and interacts at increasing
 *     times; the rows come out sorted by time (then user, then item).
 * A model that learns the communities beats popularity by a wide margin; popularity still
 * matters, as in real data. External ids are "u<k>" and "i<k>"; they are interned in order, so
 * user "u<k>" has internal id k and item "i<k>" internal id k (items nobody picked stay in the
 * map). Deterministic for a seed on every platform (core/common.h nc_rng, no libc rand). */
#ifndef NCLREC_SYNTH_H
#define NCLREC_SYNTH_H

#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "dataset.h"

typedef struct nc_synth_opts {
    int32_t n_users;        /* >= 1; default 2000 */
    int32_t n_items;        /* >= 2; default 1000 */
    int32_t n_communities;  /* 1 .. n_items; default 20 */
    double zipf;            /* popularity exponent, 0 (flat) .. 3; default 1.0 */
    double mean_per_user;   /* target mean interactions per user, >= 1; default 30 */
    double tail;            /* sigma of the log-normal count, 0 .. 3; default 1.0 */
    int32_t min_per_user;   /* >= 1; default 3 */
    double affinity;        /* share of picks from the user's communities, 0..1; default 0.85 */
    double second_share;    /* of those, share from the secondary community, 0..1; default 0.2 */
    int64_t t0;             /* earliest timestamp (unix seconds); default 1600000000 */
    uint64_t seed;          /* default 2020 */
} nc_synth_opts;

void nc_synth_default(nc_synth_opts *o);
/* Checks every field is in range; the message names the field and its value. */
int nc_synth_validate(const nc_synth_opts *o, nc_err *e);

/* Generates the interactions into out and the ids into users / items. All three must be
 * initialised; their old content is freed. On failure they are left freed. */
int nc_synth_generate(const nc_synth_opts *o, nc_idmap *users, nc_idmap *items,
                      nc_interactions *out, nc_err *e);

/* Generates and splits per user with nc_split(ratios, split_seed) into d (initialised; its old
 * content is freed; on failure it is left freed). */
int nc_synth_dataset(const nc_synth_opts *o, const double ratios[3], uint64_t split_seed,
                     nc_dataset *d, nc_err *e);

/* Generates and writes "user,item,timestamp" CSV (header line first) to f, which the caller
 * owns (nc_inter_write_csv). nc_load_file reads it back to the same rows. */
int nc_synth_write_csv(const nc_synth_opts *o, FILE *f, nc_err *e);

#endif
