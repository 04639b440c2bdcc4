/* metrics.c - see metrics.h.
 *
 * Design: nc_evaluator_build turns the split into CSR lists per evaluated user (sorted,
 * distinct positives; sorted, distinct masked items minus positives). nc_evaluator_run gathers
 * a block of evaluated users' embeddings, computes the block's scores against every item with
 * one sgemm (outside any OpenMP region), then in an OpenMP loop over the block's users walks the
 * score row once, skipping masked items by merging with the sorted mask list, and keeps the
 * best 50 in a small min-heap. Figures per user go into an array summed in user order. */
#include "metrics.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const int nc_topk_ks[NC_N_TOPK] = {10, 20, 50};

#define BLOCK_FLOATS ((size_t)8 << 20) /* scores per block: 32 MiB */

void nc_evaluator_init(nc_evaluator *ev) { memset(ev, 0, sizeof *ev); }

void nc_evaluator_free(nc_evaluator *ev) {
    free(ev->eval_user);
    free(ev->pos_off);
    free(ev->pos);
    free(ev->mask_off);
    free(ev->mask);
    nc_evaluator_init(ev);
}

/* ==== building the per-user lists ====================================================== */

/* Out-of-range ids would index past the CSR arrays: refuse them up front. */
static int check_ids(const nc_interactions *x, const char *what, int32_t n_users,
                     int32_t n_items, nc_err *e) {
    if (!x) return NC_OK;
    for (size_t r = 0; r < x->n; r++)
        if (x->user[r] < 0 || x->user[r] >= n_users || x->item[r] < 0 || x->item[r] >= n_items)
            return nc_fail(e, NC_EINVAL, "%s row %zu: user %d / item %d outside %d x %d", what, r,
                           x->user[r], x->item[r], n_users, n_items);
    return NC_OK;
}

/* qsort order for item ids (no subtraction: no overflow). */
static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* True when v is in the ascending list a[0..n). */
static int contains(const int32_t *a, int64_t n, int32_t v) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && a[lo] == v;
}

/* Gathers the items of the rows of lists[0..nl) whose user is evaluated into CSR form by
 * evaluated-user index (slot[u], -1 when not evaluated). *off and *arr are allocated here. */
static int gather_csr(const nc_interactions *const *lists, int nl, const int32_t *slot,
                      int32_t n_eval, int64_t **off, int32_t **arr, nc_err *e) {
    int64_t *o = nc_calloc((size_t)n_eval + 1, sizeof *o, e);
    if (!o) return NC_ENOMEM;
    for (int l = 0; l < nl; l++)
        for (size_t r = 0; lists[l] && r < lists[l]->n; r++)
            if (slot[lists[l]->user[r]] >= 0) o[slot[lists[l]->user[r]] + 1]++;
    for (int32_t k = 0; k < n_eval; k++) o[k + 1] += o[k];
    int32_t *a = nc_malloc((size_t)o[n_eval], sizeof *a, e);
    int64_t *fill = nc_malloc((size_t)n_eval + 1, sizeof *fill, e);
    if (!a || !fill) {
        free(o), free(a), free(fill);
        return NC_ENOMEM;
    }
    memcpy(fill, o, ((size_t)n_eval + 1) * sizeof *fill);
    for (int l = 0; l < nl; l++)
        for (size_t r = 0; lists[l] && r < lists[l]->n; r++) {
            int32_t s = slot[lists[l]->user[r]];
            if (s >= 0) a[fill[s]++] = lists[l]->item[r];
        }
    free(fill);
    *off = o;
    *arr = a;
    return NC_OK;
}

/* Sorts each segment, drops repeats and (when ex_off is given) items found in the matching
 * segment of ex, and compacts the array in place, rewriting the offsets. */
static void sort_unique(int64_t *off, int32_t *arr, int32_t n_seg, const int64_t *ex_off,
                        const int32_t *ex) {
    int64_t w = 0;
    for (int32_t k = 0; k < n_seg; k++) {
        int64_t b = off[k], n = off[k + 1] - b, w0 = w;
        qsort(arr + b, (size_t)n, sizeof *arr, cmp_i32);
        for (int64_t j = 0; j < n; j++) {
            int32_t v = arr[b + j];
            if (w > w0 && arr[w - 1] == v) continue;
            if (ex_off && contains(ex + ex_off[k], ex_off[k + 1] - ex_off[k], v)) continue;
            arr[w++] = v;
        }
        off[k] = w0; /* segment k now starts at w0; off[k+1] is still read as the old end */
    }
    off[n_seg] = w;
}

int nc_evaluator_build(nc_evaluator *ev, int32_t n_users, int32_t n_items,
                       const nc_interactions *positives, const nc_interactions *mask1,
                       const nc_interactions *mask2, nc_err *e) {
    nc_evaluator_free(ev);
    if (n_users <= 0 || n_items <= 0 || !positives)
        return nc_fail(e, NC_EINVAL, "evaluation needs users, items and positives (%d x %d)",
                       n_users, n_items);
    int rc = check_ids(positives, "positives", n_users, n_items, e);
    if (!rc) rc = check_ids(mask1, "mask1", n_users, n_items, e);
    if (!rc) rc = check_ids(mask2, "mask2", n_users, n_items, e);
    if (rc) return rc;
    int32_t *slot = nc_malloc((size_t)n_users, sizeof *slot, e);
    if (!slot) return NC_ENOMEM;
    for (int32_t u = 0; u < n_users; u++) slot[u] = -1;
    for (size_t r = 0; r < positives->n; r++) slot[positives->user[r]] = 0;
    int32_t n_eval = 0;
    for (int32_t u = 0; u < n_users; u++)
        if (slot[u] == 0) slot[u] = n_eval++;
    ev->n_users = n_users;
    ev->n_items = n_items;
    ev->n_eval = n_eval;
    ev->eval_user = nc_malloc((size_t)n_eval, sizeof *ev->eval_user, e);
    if (!ev->eval_user) rc = NC_ENOMEM;
    for (int32_t u = 0; !rc && u < n_users; u++)
        if (slot[u] >= 0) ev->eval_user[slot[u]] = u;
    const nc_interactions *pl[1] = {positives}, *ml[2] = {mask1, mask2};
    if (!rc) rc = gather_csr(pl, 1, slot, n_eval, &ev->pos_off, &ev->pos, e);
    if (!rc) rc = gather_csr(ml, 2, slot, n_eval, &ev->mask_off, &ev->mask, e);
    free(slot);
    if (rc) {
        nc_evaluator_free(ev);
        return rc;
    }
    size_t per = BLOCK_FLOATS / (size_t)n_items;
    ev->block = per < 1 ? 1 : per > (size_t)INT32_MAX ? INT32_MAX : (int32_t)per;
    sort_unique(ev->pos_off, ev->pos, n_eval, NULL, NULL);
    sort_unique(ev->mask_off, ev->mask, n_eval, ev->pos_off, ev->pos);
    return NC_OK;
}

/* Copies rows keep[0..n) (ascending) of one CSR list into fresh arrays. */
static int csr_keep(const int64_t *off, const int32_t *val, const int32_t *keep, int32_t n,
                    int64_t **off_out, int32_t **val_out, nc_err *e) {
    int64_t *o = nc_malloc((size_t)n + 1, sizeof *o, e);
    if (!o) return NC_ENOMEM;
    o[0] = 0;
    for (int32_t k = 0; k < n; k++) o[k + 1] = o[k] + off[keep[k] + 1] - off[keep[k]];
    int32_t *v = nc_malloc(o[n] ? (size_t)o[n] : 1, sizeof *v, e);
    if (!v) {
        free(o);
        return NC_ENOMEM;
    }
    for (int32_t k = 0; k < n; k++)
        memcpy(v + o[k], val + off[keep[k]], (size_t)(o[k + 1] - o[k]) * sizeof *v);
    *off_out = o;
    *val_out = v;
    return NC_OK;
}

/* n distinct indices of 0..m-1, drawn from seed (the first n of a Fisher-Yates shuffle),
 * ascending. Caller frees. */
static int32_t *draw_sorted(int32_t m, int32_t n, uint64_t seed, nc_err *e) {
    int32_t *idx = nc_malloc((size_t)m, sizeof *idx, e);
    if (!idx) return NULL;
    for (int32_t k = 0; k < m; k++) idx[k] = k;
    nc_rng r;
    nc_rng_seed(&r, seed);
    for (int32_t k = 0; k < n; k++) {
        int32_t j = k + (int32_t)nc_rng_below(&r, (uint64_t)(m - k));
        int32_t t = idx[k];
        idx[k] = idx[j];
        idx[j] = t;
    }
    qsort(idx, (size_t)n, sizeof *idx, cmp_i32);
    return idx;
}

int nc_evaluator_sample(nc_evaluator *ev, int32_t n, uint64_t seed, nc_err *e) {
    if (n < 1) return nc_fail(e, NC_EINVAL, "an evaluation sample needs n >= 1 (got %d)", n);
    if (!ev->pos_off) return nc_fail(e, NC_EINVAL, "an evaluation sample needs a built evaluator");
    if (n >= ev->n_eval) return NC_OK;
    int32_t *idx = draw_sorted(ev->n_eval, n, seed, e);
    if (!idx) return NC_ENOMEM;
    nc_evaluator out = *ev;
    out.n_eval = n;
    out.pos_off = NULL, out.pos = NULL, out.mask_off = NULL, out.mask = NULL;
    out.eval_user = nc_malloc((size_t)n, sizeof *out.eval_user, e);
    int rc = out.eval_user ? NC_OK : NC_ENOMEM;
    for (int32_t k = 0; !rc && k < n; k++) out.eval_user[k] = ev->eval_user[idx[k]];
    if (!rc) rc = csr_keep(ev->pos_off, ev->pos, idx, n, &out.pos_off, &out.pos, e);
    if (!rc) rc = csr_keep(ev->mask_off, ev->mask, idx, n, &out.mask_off, &out.mask, e);
    free(idx);
    if (rc) {
        nc_evaluator_free(&out);
        return rc;
    }
    nc_evaluator_free(ev);
    *ev = out;
    return NC_OK;
}

/* ==== ranking ========================================================================== */

typedef struct cand {
    float s;
    int32_t i;
} cand;

/* a ranks above b: higher score, then lower item id. */
static int better(cand a, cand b) { return a.s > b.s || (a.s == b.s && a.i < b.i); }

/* Restores the min-heap property (worst at h[0]) below position k. */
static void sift_down(cand *h, int n, int k) {
    for (;;) {
        int c = 2 * k + 1;
        if (c >= n) return;
        if (c + 1 < n && better(h[c], h[c + 1])) c++;
        if (!better(h[k], h[c])) return;
        cand t = h[k];
        h[k] = h[c];
        h[c] = t;
        k = c;
    }
}

/* Restores the min-heap property above position k after an insertion. */
static void sift_up(cand *h, int k) {
    while (k > 0) {
        int p = (k - 1) / 2;
        if (!better(h[p], h[k])) return;
        cand t = h[k];
        h[k] = h[p];
        h[p] = t;
        k = p;
    }
}

/* Best NC_TOPK_MAX unmasked items of one score row, best first, into top; returns how many.
 * Items arrive in ascending id order, so an equal score never displaces the heap's root. */
static int top_items(const float *s, int32_t n_items, const int32_t *mask, int64_t n_mask,
                     cand *top) {
    int n = 0;
    int64_t m = 0;
    for (int32_t i = 0; i < n_items; i++) {
        if (m < n_mask && mask[m] == i) {
            m++;
            continue;
        }
        float v = s[i] != s[i] ? -INFINITY : s[i]; /* NaN ranks last */
        if (n < NC_TOPK_MAX) {
            top[n] = (cand){v, i};
            sift_up(top, n++);
        } else if (v > top[0].s) {
            top[0] = (cand){v, i};
            sift_down(top, n, 0);
        }
    }
    for (int a = 1; a < n; a++) { /* insertion sort, best first */
        cand c = top[a];
        int b = a;
        for (; b > 0 && better(c, top[b - 1]); b--) top[b] = top[b - 1];
        top[b] = c;
    }
    return n;
}

/* Recall@K and NDCG@K of one user from its ranked list: res[0..2] recall, res[3..5] ndcg. */
static void user_figures(const cand *top, int n_top, const int32_t *pos, int64_t n_pos,
                         double res[2 * NC_N_TOPK]) {
    double dcg = 0, idcg = 0;
    int hits = 0, k = 0;
    for (int j = 0; j < NC_TOPK_MAX; j++) {
        double g = 1.0 / log2((double)j + 2.0);
        if (j < n_top && contains(pos, n_pos, top[j].i)) {
            hits++;
            dcg += g;
        }
        if (j < n_pos) idcg += g;
        if (j + 1 == nc_topk_ks[k]) {
            res[k] = (double)hits / (double)n_pos;
            res[NC_N_TOPK + k] = dcg / idcg;
            if (++k == NC_N_TOPK) break;
        }
    }
}

/* Copies the embeddings of evaluated users b0..b0+nb-1 into a contiguous block. */
static void gather_users(const nc_evaluator *ev, const float *user_emb, int32_t dim, int32_t b0,
                         int32_t nb, float *blk) {
    for (int32_t r = 0; r < nb; r++)
        memcpy(blk + (size_t)r * dim, user_emb + (size_t)ev->eval_user[b0 + r] * dim,
               (size_t)dim * sizeof *blk);
}

/* Scores one block with sgemm, then ranks its users in parallel into res. */
static void run_block(const nc_evaluator *ev, const float *item_emb, int32_t dim, int32_t b0,
                      int32_t nb, const float *blk, float *scores, double *res) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, ev->n_items, dim, 1.0f, blk, dim,
                item_emb, dim, 0.0f, scores, ev->n_items);
#pragma omp parallel for schedule(dynamic, 8)
    for (int32_t r = 0; r < nb; r++) {
        int32_t k = b0 + r;
        cand top[NC_TOPK_MAX];
        const int64_t *mo = ev->mask_off, *po = ev->pos_off;
        int n = top_items(scores + (size_t)r * ev->n_items, ev->n_items, ev->mask + mo[k],
                          mo[k + 1] - mo[k], top);
        user_figures(top, n, ev->pos + po[k], po[k + 1] - po[k], res + (size_t)k * 2 * NC_N_TOPK);
    }
}

int nc_evaluator_run(const nc_evaluator *ev, const float *user_emb, const float *item_emb,
                     int32_t dim, nc_metrics *out, nc_err *e) {
    memset(out, 0, sizeof *out);
    if (!ev->pos_off || !user_emb || !item_emb || dim <= 0 || ev->block < 1)
        return nc_fail(e, NC_EINVAL, "evaluation needs a built evaluator (block %d >= 1), "
                       "embeddings and dim > 0 (dim %d)", ev->block, dim);
    if (ev->n_eval == 0) return NC_OK;
    int32_t bs = ev->block < ev->n_eval ? ev->block : ev->n_eval;
    float *blk = nc_aligned_alloc((size_t)bs, (size_t)dim * sizeof(float), e);
    float *scores = blk ? nc_aligned_alloc((size_t)bs * ev->n_items, sizeof(float), e) : NULL;
    double *res = scores ? nc_malloc((size_t)ev->n_eval, 2 * NC_N_TOPK * sizeof(double), e) : NULL;
    if (!res) {
        free(blk), free(scores);
        return NC_ENOMEM;
    }
    for (int32_t b0 = 0; b0 < ev->n_eval; b0 += bs) {
        int32_t nb = ev->n_eval - b0 < bs ? ev->n_eval - b0 : bs;
        gather_users(ev, user_emb, dim, b0, nb, blk);
        run_block(ev, item_emb, dim, b0, nb, blk, scores, res);
    }
    for (int32_t k = 0; k < ev->n_eval; k++)
        for (int t = 0; t < NC_N_TOPK; t++) {
            out->recall[t] += res[(size_t)k * 2 * NC_N_TOPK + t];
            out->ndcg[t] += res[(size_t)k * 2 * NC_N_TOPK + NC_N_TOPK + t];
        }
    for (int t = 0; t < NC_N_TOPK; t++) {
        out->recall[t] /= ev->n_eval;
        out->ndcg[t] /= ev->n_eval;
    }
    out->n_users = ev->n_eval;
    free(blk), free(scores), free(res);
    return NC_OK;
}

int nc_evaluate(const float *user_emb, const float *item_emb, int32_t n_users, int32_t n_items,
                int32_t dim, const nc_interactions *positives, const nc_interactions *mask1,
                const nc_interactions *mask2, nc_metrics *out, nc_err *e) {
    nc_evaluator ev;
    nc_evaluator_init(&ev);
    memset(out, 0, sizeof *out);
    int rc = nc_evaluator_build(&ev, n_users, n_items, positives, mask1, mask2, e);
    if (!rc) rc = nc_evaluator_run(&ev, user_emb, item_emb, dim, out, e);
    nc_evaluator_free(&ev);
    return rc;
}

size_t nc_metrics_format(const nc_metrics *m, char *buf, size_t cap) {
    size_t len = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int t = 0; t < NC_N_TOPK; t++) {
            int w = snprintf(len < cap ? buf + len : NULL, len < cap ? cap - len : 0,
                             "%s%s@%d=%.4f", len ? " " : "", pass ? "ndcg" : "recall",
                             nc_topk_ks[t], pass ? m->ndcg[t] : m->recall[t]);
            if (w > 0) len += (size_t)w;
        }
    if (cap && len == 0) buf[0] = '\0';
    return len;
}
