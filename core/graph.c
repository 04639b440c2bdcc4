/* graph.c - see graph.h. Building sorts the pairs by user with a counting sort, removes repeats
 * per user, and writes the user rows and (by transposition, which keeps columns ascending) the
 * item rows of one CSR. The product lives in spmm_tmpl.h, compiled here for float and double. */
#include "graph.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define NC_CAT_(a, b) a##b
#define NC_CAT(a, b) NC_CAT_(a, b)

void nc_graph_free(nc_graph *g) {
    if (!g) return;
    free(g->row_ptr);
    free(g->col);
    free(g->val);
    memset(g, 0, sizeof *g);
}

/* qsort order for the item ids of one user. */
static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Checks every pair before anything is allocated, so a bad file line is reported as such. */
static int check_pairs(int32_t nu, int32_t ni, const int32_t *user, const int32_t *item,
                       size_t n, nc_err *e) {
    if (nu < 0 || ni < 0 || (int64_t)nu + ni > INT32_MAX)
        return nc_fail(e, NC_EINVAL, "graph: bad size %d users + %d items", nu, ni);
    for (size_t k = 0; k < n; k++)
        if (user[k] < 0 || user[k] >= nu || item[k] < 0 || item[k] >= ni)
            return nc_fail(e, NC_EINVAL,
                           "graph: pair %zu (user %d, item %d) out of range (%d users, %d items)",
                           k, user[k], item[k], nu, ni);
    return NC_OK;
}

/* Groups the pairs by user (counting sort) and drops repeated items per user. Fills uptr
 * (nu + 1) and uitem (owned by the caller); returns the number of distinct pairs in *n_out. */
static int user_lists(int32_t nu, const int32_t *user, const int32_t *item, size_t n,
                      int64_t *uptr, int32_t **uitem_out, int64_t *n_out, nc_err *e) {
    int32_t *uitem = nc_malloc(n, sizeof *uitem, e);
    int64_t *fill = nc_calloc((size_t)nu + 1, sizeof *fill, e);
    if (!uitem || !fill) {
        free(uitem);
        free(fill);
        return NC_ENOMEM;
    }
    memset(uptr, 0, ((size_t)nu + 1) * sizeof *uptr);
    for (size_t k = 0; k < n; k++) uptr[user[k] + 1]++;
    for (int32_t u = 0; u < nu; u++) uptr[u + 1] += uptr[u];
    for (size_t k = 0; k < n; k++) uitem[uptr[user[k]] + fill[user[k]]++] = item[k];
    /* sort and de-duplicate each user's list, compacting towards the front */
    int64_t w = 0;
    for (int32_t u = 0; u < nu; u++) {
        int64_t a = uptr[u], b = uptr[u + 1];
        qsort(uitem + a, (size_t)(b - a), sizeof *uitem, cmp_i32);
        uptr[u] = w;
        for (int64_t k = a; k < b; k++)
            if (k == a || uitem[k] != uitem[k - 1]) uitem[w++] = uitem[k];
    }
    uptr[nu] = w;
    free(fill);
    *uitem_out = uitem;
    *n_out = w;
    return NC_OK;
}

/* Writes the CSR of Â from the per-user item lists: user rows first, then item rows by
 * transposition. Values are d_r * d_c with d = (deg + 1e-7)^-1/2 in double, rounded once. */
static void fill_csr(nc_graph *g, const int64_t *uptr, const int32_t *uitem, double *dinv) {
    int32_t nu = g->n_users, n = g->n;
    int64_t *rp = g->row_ptr;
    memset(rp, 0, ((size_t)n + 1) * sizeof *rp);
    for (int32_t u = 0; u < nu; u++) rp[u + 1] = uptr[u + 1] - uptr[u];
    for (int64_t k = 0; k < uptr[nu]; k++) rp[nu + uitem[k] + 1]++;
    for (int32_t r = 0; r < n; r++) {
        dinv[r] = pow((double)rp[r + 1] + 1e-7, -0.5);
        rp[r + 1] += rp[r];
    }
    int64_t *next = g->row_ptr; /* reuse: item row cursors are advanced below, then restored */
    for (int32_t u = 0; u < nu; u++)
        for (int64_t k = uptr[u]; k < uptr[u + 1]; k++) {
            int32_t c = nu + uitem[k];
            g->col[rp[u] + (k - uptr[u])] = c;
            g->col[next[c]++] = u; /* users visited in order: columns stay ascending */
        }
    /* next[c] now equals the old rp[c + 1] for item rows: shift back */
    for (int32_t r = n - 1; r >= nu; r--) rp[r + 1] = rp[r];
    rp[nu] = uptr[nu];
    for (int32_t r = 0; r < n; r++)
        for (int64_t k = rp[r]; k < rp[r + 1]; k++)
            g->val[k] = (float)(dinv[r] * dinv[g->col[k]]);
}

int nc_graph_build(int32_t n_users, int32_t n_items, const int32_t *user, const int32_t *item,
                   size_t n_pairs, nc_graph *g, nc_err *e) {
    memset(g, 0, sizeof *g);
    int rc = check_pairs(n_users, n_items, user, item, n_pairs, e);
    if (rc) return rc;
    g->n_users = n_users;
    g->n_items = n_items;
    g->n = n_users + n_items;
    int64_t *uptr = nc_malloc((size_t)n_users + 1, sizeof *uptr, e);
    double *dinv = nc_malloc((size_t)g->n + 1, sizeof *dinv, e);
    int32_t *uitem = NULL;
    int64_t nd = 0;
    rc = uptr && dinv ? user_lists(n_users, user, item, n_pairs, uptr, &uitem, &nd, e)
                      : NC_ENOMEM;
    if (!rc) {
        g->nnz = 2 * nd;
        g->row_ptr = nc_malloc((size_t)g->n + 1, sizeof *g->row_ptr, e);
        g->col = nc_malloc((size_t)g->nnz, sizeof *g->col, e);
        g->val = nc_malloc((size_t)g->nnz, sizeof *g->val, e);
        if (g->row_ptr && g->col && g->val)
            fill_csr(g, uptr, uitem, dinv);
        else
            rc = NC_ENOMEM;
    }
    free(uptr);
    free(dinv);
    free(uitem);
    if (rc) nc_graph_free(g);
    return rc;
}

/* First row whose non-zeros start at or after nnz position k (rows are split by this). */
static int32_t row_at_nnz(const nc_graph *g, int64_t k) {
    int32_t lo = 0, hi = g->n;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (g->row_ptr[mid] < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

#define REAL float
#define NC_SPMM_FN spmm_f
#include "spmm_tmpl.h"
#undef REAL
#undef NC_SPMM_FN

#define REAL double
#define NC_SPMM_FN spmm_d
#include "spmm_tmpl.h"
#undef REAL
#undef NC_SPMM_FN

void nc_graph_spmm(const nc_graph *g, const float *in, float *out, int32_t d, int accumulate) {
    spmm_f(g, in, out, d, accumulate);
}

void nc_graph_spmm_d(const nc_graph *g, const double *in, double *out, int32_t d,
                     int accumulate) {
    spmm_d(g, in, out, d, accumulate);
}
