/* explain.c - see explain.h. */
#include "explain.h"

#include <math.h>
#include <stdlib.h>

static float dot(const float *x, const float *y, int32_t d) {
    float s = 0;
    for (int32_t j = 0; j < d; j++) s += x[j] * y[j];
    return s;
}

/* The assignment is what the prototype term trained on; the nearest centroid stands in for
 * checkpoints that kept centroids only. */
int32_t nc_explain_user_cluster(const nc_checkpoint *c, int32_t u) {
    if (c->k_user <= 0 || !c->cent_user || u < 0 || u >= c->n_users) return -1;
    if (c->assign_user && c->assign_user[u] >= 0 && c->assign_user[u] < c->k_user) return c->assign_user[u];
    const float *q = c->E0 + (size_t)u * c->dim;
    int32_t best = 0;
    float bs = -INFINITY;
    for (int32_t k = 0; k < c->k_user; k++) {
        float s = dot(q, c->cent_user + (size_t)k * c->dim, c->dim);
        if (s > bs) bs = s, best = k;
    }
    return best;
}

/* Insertion into a best-first list of n: n is small (a page's worth), so no heap. */
static void keep_best(int32_t *ids, float *sc, int32_t *got, int32_t n, int32_t id, float s) {
    if (*got == n && s <= sc[n - 1]) return;
    int32_t i = *got < n ? (*got)++ : n - 1;
    while (i > 0 && sc[i - 1] < s) {
        ids[i] = ids[i - 1];
        sc[i] = sc[i - 1];
        i--;
    }
    ids[i] = id;
    sc[i] = s;
}

/* Cosine, so that the most popular items (the longest rows) do not fill every cluster. */
int32_t nc_explain_cluster_items(const nc_checkpoint *c, int32_t k, int32_t n, int32_t *ids) {
    if (k < 0 || k >= c->k_user || !c->cent_user || n <= 0) return 0;
    float *sc = malloc(sizeof *sc * (size_t)n);
    if (!sc) return 0;
    const float *cent = c->cent_user + (size_t)k * c->dim;
    int32_t got = 0;
    for (int32_t i = 0; i < c->n_items; i++) {
        const float *row = c->E0 + ((size_t)c->n_users + (size_t)i) * c->dim;
        float norm = sqrtf(dot(row, row, c->dim));
        if (norm > 0) keep_best(ids, sc, &got, n, i, dot(row, cent, c->dim) / norm);
    }
    free(sc);
    return got;
}
