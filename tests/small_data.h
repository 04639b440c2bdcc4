/* small_data.h - the small generated data set of the training tests: 600 users x 300 items,
 * ~12 interactions per user (nc_synth), split 80 / 10 / 10 with seed 2020. */
#ifndef NCLREC_TESTS_SMALL_DATA_H
#define NCLREC_TESTS_SMALL_DATA_H

#include "synth.h"

/* Fills *d (initialised here; the caller frees it with nc_dataset_free, also on failure).
 * Returns nc_synth_dataset's code, with the reason in e. */
static inline int small_data(nc_dataset *d, nc_err *e) {
    nc_synth_opts so;
    nc_synth_default(&so);
    so.n_users = 600;
    so.n_items = 300;
    so.mean_per_user = 12;
    nc_dataset_init(d);
    const double ratios[3] = {0.8, 0.1, 0.1};
    return nc_synth_dataset(&so, ratios, 2020, d, e);
}

#endif
