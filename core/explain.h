/* explain.h - why an item was recommended, from NCL's prototypes: the user's prototype (the
 * k-means cluster of the E-step the model was trained with) and the items nearest to that
 * prototype's centroid. Cheap because training already found the clusters: a lookup and one
 * pass over the item rows. */
#ifndef NCLREC_EXPLAIN_H
#define NCLREC_EXPLAIN_H

#include <stdint.h>

#include "checkpoint.h"

/* The prototype of model user u: its assignment when the checkpoint keeps one, else the
 * centroid nearest (inner product) to the user's E0 row. -1 when the model has no user
 * centroids or u is out of range. c is borrowed. */
int32_t nc_explain_user_cluster(const nc_checkpoint *c, int32_t u);

/* The model ids of the (at most) n items whose E0 rows are nearest by cosine to user centroid
 * k, best first, into ids (caller-allocated, n entries). Returns how many were written (0 for
 * a k out of range). c is borrowed. */
int32_t nc_explain_cluster_items(const nc_checkpoint *c, int32_t k, int32_t n, int32_t *ids);

#endif
