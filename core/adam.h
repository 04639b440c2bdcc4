/* adam.h - PyTorch's dense Adam (torch.optim.Adam, no weight decay, amsgrad off) over one flat
 * float array: the optimiser NCL.md prescribes, applied to the whole of E0 every step.
 * Ownership: nc_adam owns its moment buffers m and v (nc_adam_init / nc_adam_free). */
#ifndef NCLREC_ADAM_H
#define NCLREC_ADAM_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct nc_adam {
    size_t n;              /* parameters */
    float *m, *v;          /* first and second moments, n each, start at 0 */
    int64_t t;             /* steps taken */
    float lr, beta1, beta2, eps;
} nc_adam;

/* Zeroed moments for n parameters, lr given, betas (0.9, 0.999), eps 1e-8. */
int nc_adam_init(nc_adam *a, size_t n, float lr, nc_err *e);
void nc_adam_free(nc_adam *a);
/* One step: param -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), as torch. */
void nc_adam_step(nc_adam *a, float *param, const float *grad);

#endif
