/* ssl_strata.c - see ssl_strata.h. */
#include "ssl_strata.h"

#include <math.h>
#include <string.h>

#include "kmeans.h"

int32_t nc_ssl_strata_count(int32_t m, int32_t size) {
    int32_t k = (int32_t)(((int64_t)m + size - 1) / size);
    int32_t cap = m / NC_KMEANS_MIN_POINTS_PER_CENTROID;
    return k < cap ? k : cap > 1 ? cap : 1;
}

int nc_ssl_strata_assign(const float *x, int32_t m, int32_t d, int32_t k, const nc_hparams *hp,
                         float *scratch, float *cent, int32_t *assign, nc_err *e) {
    if (k <= 1) {
        memset(assign, 0, (size_t)m * sizeof *assign);
        return NC_OK;
    }
    for (int32_t r = 0; r < m; r++) {
        const float *xr = x + (size_t)r * d;
        float *z = scratch + (size_t)r * d;
        double nn = 0;
        for (int32_t j = 0; j < d; j++) nn += (double)xr[j] * xr[j];
        float inv = (float)(1.0 / fmax(sqrt(nn), 1e-12));
        for (int32_t j = 0; j < d; j++) z[j] = xr[j] * inv;
    }
    return nc_kmeans(scratch, m, d, k, hp->kmeans_niter, hp->kmeans_seed, hp->kmeans_max_points,
                     cent, assign, e);
}
