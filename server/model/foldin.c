/* foldin.c - see foldin.h. */
#include "foldin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int foldin_parse(const char *s, foldin_method *out) {
    if (!strcmp(s, "ials")) return *out = FOLDIN_IALS, 0;
    if (!strcmp(s, "mean")) return *out = FOLDIN_MEAN, 0;
    return -1;
}

void foldin_gram(const float *item_emb, int64_t n, int32_t d, double *gram) {
    memset(gram, 0, sizeof(double) * (size_t)d * (size_t)d);
    for (int64_t i = 0; i < n; i++) {
        const float *v = item_emb + i * d;
        for (int32_t a = 0; a < d; a++)
            for (int32_t b = a; b < d; b++) gram[a * d + b] += (double)v[a] * v[b];
    }
    for (int32_t a = 0; a < d; a++)
        for (int32_t b = 0; b < a; b++) gram[a * d + b] = gram[b * d + a];
}

int foldin_mean(const float *item_emb, int64_t n_items, int32_t d, const int32_t *items, size_t n,
                float *out, nc_err *e) {
    double acc[d];
    memset(acc, 0, sizeof acc);
    size_t used = 0;
    for (size_t k = 0; k < n; k++) {
        if (items[k] < 0 || items[k] >= n_items) continue;
        const float *v = item_emb + (int64_t)items[k] * d;
        for (int32_t a = 0; a < d; a++) acc[a] += v[a];
        used++;
    }
    if (!used) return nc_fail(e, NC_EINVAL, "fold-in: none of the user's %zu items is known to the model", n);
    for (int32_t a = 0; a < d; a++) out[a] = (float)(acc[a] / (double)used);
    return NC_OK;
}

/* In-place Cholesky A = L L^T (lower triangle of a, d x d); then solves L L^T x = b into b.
 * Returns -1 when A is not positive definite (cannot happen with lambda > 0 barring NaNs). */
static int cholesky_solve(double *a, int32_t d, double *b) {
    for (int32_t j = 0; j < d; j++) {
        double s = a[j * d + j];
        for (int32_t k = 0; k < j; k++) s -= a[j * d + k] * a[j * d + k];
        if (!(s > 0)) return -1;
        double l = sqrt(s);
        a[j * d + j] = l;
        for (int32_t i = j + 1; i < d; i++) {
            double t = a[i * d + j];
            for (int32_t k = 0; k < j; k++) t -= a[i * d + k] * a[j * d + k];
            a[i * d + j] = t / l;
        }
    }
    for (int32_t i = 0; i < d; i++) { /* L y = b */
        double t = b[i];
        for (int32_t k = 0; k < i; k++) t -= a[i * d + k] * b[k];
        b[i] = t / a[i * d + i];
    }
    for (int32_t i = d - 1; i >= 0; i--) { /* L^T x = y */
        double t = b[i];
        for (int32_t k = i + 1; k < d; k++) t -= a[k * d + i] * b[k];
        b[i] = t / a[i * d + i];
    }
    return 0;
}

int foldin_ials(const float *item_emb, int64_t n_items, int32_t d, const double *gram,
                const int32_t *items, size_t n, double alpha, double lambda, float *out, nc_err *e) {
    if (!(lambda > 0)) return nc_fail(e, NC_EINVAL, "fold-in: lambda must be positive, got %g", lambda);
    double *a = malloc(sizeof(double) * (size_t)d * (size_t)d);
    double *b = calloc((size_t)d, sizeof(double));
    if (!a || !b) {
        free(a);
        free(b);
        return nc_fail(e, NC_ENOMEM, "fold-in: out of memory for a %d x %d system", d, d);
    }
    memcpy(a, gram, sizeof(double) * (size_t)d * (size_t)d);
    size_t used = 0;
    for (size_t k = 0; k < n; k++) {
        if (items[k] < 0 || items[k] >= n_items) continue;
        const float *v = item_emb + (int64_t)items[k] * d;
        for (int32_t r = 0; r < d; r++) {
            b[r] += (1.0 + alpha) * v[r];
            for (int32_t c = 0; c <= r; c++) a[r * d + c] += alpha * (double)v[r] * v[c];
        }
        used++;
    }
    int rc = NC_OK;
    if (!used) {
        rc = nc_fail(e, NC_EINVAL, "fold-in: none of the user's %zu items is known to the model", n);
    } else {
        for (int32_t r = 0; r < d; r++) a[r * d + r] += lambda;
        if (cholesky_solve(a, d, b) != 0)
            rc = nc_fail(e, NC_EINTERNAL, "fold-in: the %d x %d system is not positive definite", d, d);
        else
            for (int32_t r = 0; r < d; r++) out[r] = (float)b[r];
    }
    free(a);
    free(b);
    return rc;
}
