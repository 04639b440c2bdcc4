/* adam.c - see adam.h. */
#include "adam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int nc_adam_init(nc_adam *a, size_t n, double lr, nc_err *e) {
    memset(a, 0, sizeof *a);
    a->m = nc_aligned_alloc(n, sizeof(float), e);
    a->v = nc_aligned_alloc(n, sizeof(float), e);
    if (!a->m || !a->v) {
        nc_adam_free(a);
        return NC_ENOMEM;
    }
    memset(a->m, 0, n * sizeof(float));
    memset(a->v, 0, n * sizeof(float));
    a->n = n;
    a->lr = lr;
    a->beta1 = 0.9;
    a->beta2 = 0.999;
    a->eps = 1e-8;
    return NC_OK;
}

void nc_adam_free(nc_adam *a) {
    free(a->m);
    free(a->v);
    a->m = a->v = NULL;
    a->n = 0;
}

/* torch computes the scalars in Python (double) and the element loop in float, rounding each
 * scalar to float where it meets a tensor: b1, 1 - b1, b2, 1 - b2, sqrt(1 - b2^t), eps and
 * lr / (1 - b1^t). The same roundings here keep us within an ulp or two of torch. */
void nc_adam_step(nc_adam *a, float *param, const float *grad) {
    a->t++;
    const double bc1 = 1.0 - pow(a->beta1, (double)a->t);
    const double bc2 = 1.0 - pow(a->beta2, (double)a->t);
    const float step = (float)(a->lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    const float b1 = (float)a->beta1, c1 = (float)(1.0 - a->beta1);
    const float b2 = (float)a->beta2, c2 = (float)(1.0 - a->beta2), eps = (float)a->eps;
    float *m = a->m, *v = a->v;
    const int64_t n = (int64_t)a->n;
#pragma omp parallel for simd schedule(static)
    for (int64_t k = 0; k < n; k++) {
        float g = grad[k];
        m[k] = m[k] * b1 + c1 * g;
        v[k] = v[k] * b2 + c2 * g * g;
        param[k] -= step * m[k] / (sqrtf(v[k]) / bc2_sqrt + eps);
    }
}
