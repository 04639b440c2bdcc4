/* adam.h - PyTorch's dense Adam (torch.optim.Adam, no weight decay, amsgrad off) over one flat
 * float array: the optimiser NCL.md prescribes, applied to the whole of E0 every step.
 *
 * Matches torch 1.13's _single_tensor_adam operation for operation: moments in float,
 * m = m b1 + (1 - b1) g, v = v b2 + (1 - b2) g g, bias corrections 1 - b^t in double,
 * p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps) with eps added AFTER the
 * correction; every scalar is rounded to float once, where torch rounds it.
 * Ownership: nc_adam owns its moment buffers m and v (nc_adam_init / nc_adam_free).
 * Threads: nc_adam_step runs an OpenMP loop; one optimiser serves one thread at a time. */
#ifndef NCLREC_ADAM_H
#define NCLREC_ADAM_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct nc_adam {
    size_t n;              /* parameters */
    float *m, *v;          /* first and second moments, n each, start at 0 */
    int64_t t;             /* steps taken */
    double lr, beta1, beta2, eps; /* Python floats in torch: kept in double */
} nc_adam;

/* Zeroed moments for n parameters (*a is filled by the callee; free with nc_adam_free, also
 * after a failure), learning rate lr, betas (0.9, 0.999), eps 1e-8. */
int nc_adam_init(nc_adam *a, size_t n, double lr, nc_err *e);
void nc_adam_free(nc_adam *a);
/* One step over param[0..n) with grad[0..n) (both caller-owned, not overlapping). */
void nc_adam_step(nc_adam *a, float *param, const float *grad);

#endif
