/* ssl_strata.h - the strata of the stratified structure term (ssl_strata_tmpl.h): each side's
 * rows split by k-means of their L2-normalised E0 rows, so rows that point the same way (where
 * an anchor's softmax mass is) share a stratum. Used by the trainer at the start of every
 * epoch and by bench/ssl_estimator. */
#ifndef NCLREC_SSL_STRATA_H
#define NCLREC_SSL_STRATA_H

#include <stdint.h>

#include "common.h"
#include "hparams.h"

/* Strata of one side with m rows for rows of ~size: ceil(m / size), at most
 * m / NC_KMEANS_MIN_POINTS_PER_CENTROID, at least 1. */
int32_t nc_ssl_strata_count(int32_t m, int32_t size);

/* Assigns the m rows of x (m x d, borrowed) to k strata: assign (m, caller-allocated).
 * scratch (m x d floats) and cent (k x d floats) are caller-allocated work space. k-means
 * uses hp's kmeans_niter, kmeans_seed and kmeans_max_points. Errors as nc_kmeans. */
int nc_ssl_strata_assign(const float *x, int32_t m, int32_t d, int32_t k, const nc_hparams *hp,
                         float *scratch, float *cent, int32_t *assign, nc_err *e);

#endif
