/* index.c - see index.h. The vectors live in a faiss IndexFlatIP (faiss_shim.cpp). A single
 * query scores every row with the vectorised dot product below and keeps the k best in a
 * bounded min-heap ordered by (score, then lower id), so results are exact and deterministic
 * and no OpenMP region is ever opened for one request. Batches go to IndexFlatIP::search. */
#include "index.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "faiss_shim.h"

#define BATCH_QUERIES 256  /* queries per faiss search on the batch path, bounds scratch */

struct nc_index {
    ncf_flat *flat;
    int64_t n;
    int32_t d;
};

typedef struct hit {
    float s;
    int32_t id;
} hit;

/* ============================== build / accessors ============================== */

int nc_index_build(const float *vecs, int64_t n, int32_t d, nc_index **out, nc_err *e) {
    *out = NULL;
    if (d < 1) return nc_fail(e, NC_EINVAL, "index: dimension d = %d, must be >= 1", (int)d);
    if (n < 0 || n > INT32_MAX)
        return nc_fail(e, NC_EINVAL, "index: %lld rows, must be in 0..%d", (long long)n,
                       (int)INT32_MAX);
    if (n > 0 && !vecs) return nc_fail(e, NC_EINVAL, "index: NULL vectors for %lld rows",
                                       (long long)n);
    nc_index *ix = nc_calloc(1, sizeof *ix, e);
    if (!ix) return NC_ENOMEM;
    ix->n = n;
    ix->d = d;
    int rc = ncf_flat_ip_new(d, &ix->flat, e);
    if (rc == NC_OK && n > 0) rc = ncf_flat_add(ix->flat, n, vecs, e);
    if (rc) {
        nc_index_free(ix);
        return rc;
    }
    *out = ix;
    return NC_OK;
}

void nc_index_free(nc_index *ix) {
    if (!ix) return;
    ncf_flat_free(ix->flat);
    free(ix);
}

int64_t nc_index_size(const nc_index *ix) { return ix ? ix->n : 0; }

int32_t nc_index_dim(const nc_index *ix) { return ix ? ix->d : 0; }

const float *nc_index_row(const nc_index *ix, int32_t id) {
    if (!ix || id < 0 || id >= ix->n) return NULL;
    return ncf_flat_data(ix->flat) + (size_t)id * (size_t)ix->d;
}

/* ============================== ordering ============================== */

/* NaN compares false with everything, which would make the order inconsistent; it ranks
 * last instead. */
static float rank_key(float s) { return isnan(s) ? -INFINITY : s; }

/* The one ranking rule of index.h: higher score first, then lower id. A total order. */
static int hit_before(hit a, hit b) {
    float ka = rank_key(a.s), kb = rank_key(b.s);
    if (ka != kb) return ka > kb;
    return a.id < b.id;
}

/* qsort's view of hit_before, for the final best-first order. */
static int hit_cmp(const void *pa, const void *pb) {
    hit a = *(const hit *)pa, b = *(const hit *)pb;
    if (hit_before(a, b)) return -1;
    return hit_before(b, a) ? 1 : 0;
}

/* Without overflow, unlike a - b. */
static int i32_cmp(const void *pa, const void *pb) {
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    return (a > b) - (a < b);
}

/* ============================== bounded top-k heap ============================== */

/* A min-heap (by hit_before) of the best hits so far: the worst kept hit sits at h[0], so a
 * candidate costs one comparison unless it makes the cut. */
typedef struct topk {
    hit *h;
    int32_t n, cap;
} topk;

/* Restores the heap after a push: a worse hit climbs towards the top. */
static void heap_sift_up(hit *h, int32_t i) {
    while (i > 0) {
        int32_t p = (i - 1) / 2;
        if (!hit_before(h[p], h[i])) break; /* parent already worse or equal: heap holds */
        hit t = h[p];
        h[p] = h[i];
        h[i] = t;
        i = p;
    }
}

/* Restores the heap after the top was replaced by a better hit. */
static void heap_sift_down(hit *h, int32_t n, int32_t i) {
    for (;;) {
        int32_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && hit_before(h[w], h[l])) w = l;
        if (r < n && hit_before(h[w], h[r])) w = r;
        if (w == i) return;
        hit t = h[w];
        h[w] = h[i];
        h[i] = t;
        i = w;
    }
}

/* Keeps (s, id) if it is among the best cap seen so far. */
static void topk_offer(topk *t, float s, int32_t id) {
    hit c = {s, id};
    if (t->n < t->cap) {
        t->h[t->n] = c;
        heap_sift_up(t->h, t->n++);
    } else if (t->cap > 0 && hit_before(c, t->h[0])) {
        t->h[0] = c;
        heap_sift_down(t->h, t->n, 0);
    }
}

/* ============================== exclusions ============================== */

/* Sorted, de-duplicated copy of the in-range ids of ex, so the batch path can binary-search
 * it. *out is NULL when nothing remains; the
 * caller frees it. */
static int exclusion_set(const int32_t *ex, size_t n_ex, int64_t n_rows, int32_t **out,
                         size_t *out_n, nc_err *e) {
    *out = NULL;
    *out_n = 0;
    if (n_ex == 0) return NC_OK;
    if (!ex) return nc_fail(e, NC_EINVAL, "index: NULL exclusion list of %zu ids", n_ex);
    int32_t *s = nc_malloc(n_ex, sizeof *s, e);
    if (!s) return NC_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n_ex; i++)
        if (ex[i] >= 0 && ex[i] < n_rows) s[m++] = ex[i];
    qsort(s, m, sizeof *s, i32_cmp);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (u == 0 || s[u - 1] != s[i]) s[u++] = s[i];
    *out = s;
    *out_n = u;
    return NC_OK;
}

/* Faiss returns ids in score order, not id order, so the batch path looks each one up. */
static int is_excluded(const int32_t *set, size_t n, int32_t id) {
    return n && bsearch(&id, set, n, sizeof *set, i32_cmp) != NULL;
}

/* ============================== single query ============================== */

/* Eight floats in SIMD registers (AVX, or two SSE registers; GCC and Clang lower it to
 * whatever the target has). Unaligned loads go through memcpy. */
typedef float v8f __attribute__((vector_size(32)));

static v8f load8(const float *p) {
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Inner product of two d-float vectors. faiss's single-vector kernel in Debian's generic
 * build is a scalar loop; this one keeps 16 partial sums in two vector registers and combines
 * them in a fixed order, then adds the tail: the same inputs always give the same score, on
 * every thread and for every row. */
static float dot(const float *a, const float *b, size_t d) {
    v8f s0 = {0}, s1 = {0};
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        s0 += load8(a + i) * load8(b + i);
        s1 += load8(a + i + 8) * load8(b + i + 8);
    }
    if (i + 8 <= d) {
        s0 += load8(a + i) * load8(b + i);
        i += 8;
    }
    s0 += s1;
    float t = 0;
    for (; i < d; i++) t += a[i] * b[i];
    return (((s0[0] + s0[4]) + (s0[2] + s0[6])) + ((s0[1] + s0[5]) + (s0[3] + s0[7]))) + t;
}

/* Bitmap of the in-range ids of ex (one bit per row), so the scan answers "excluded?" with
 * one load; building it costs O(n_ex + n_rows / 64), no sort. *out is NULL when n_ex is 0; the
 * caller frees it. */
static int exclusion_bits(const int32_t *ex, size_t n_ex, int64_t n_rows, uint64_t **out,
                          nc_err *e) {
    *out = NULL;
    if (n_ex == 0) return NC_OK;
    if (!ex) return nc_fail(e, NC_EINVAL, "index: NULL exclusion list of %zu ids", n_ex);
    uint64_t *b = nc_calloc((size_t)(n_rows + 63) / 64, sizeof *b, e);
    if (!b) return NC_ENOMEM;
    for (size_t i = 0; i < n_ex; i++)
        if (ex[i] >= 0 && ex[i] < n_rows) b[ex[i] >> 6] |= (uint64_t)1 << (ex[i] & 63);
    *out = b;
    return NC_OK;
}

/* Scores every row and offers the non-excluded ones to t. Rows come in increasing id order,
 * so a row that only ties the worst kept hit loses to it (lower id first): once the heap is
 * full, anything not strictly better than its top is dropped with one comparison. */
static void scan_rows(const nc_index *ix, const float *q, const uint64_t *ex, topk *t) {
    const float *xb = ncf_flat_data(ix->flat);
    size_t d = (size_t)ix->d;
    for (int32_t id = 0; id < (int32_t)ix->n; id++) {
        if (ex && (ex[id >> 6] >> (id & 63)) & 1) continue;
        float s = dot(q, xb + (size_t)id * d, d);
        if (t->n == t->cap && !(rank_key(s) > rank_key(t->h[0].s))) continue;
        topk_offer(t, s, id);
    }
}

int nc_index_search(const nc_index *ix, const float *q, int32_t k, const int32_t *exclude,
                    size_t n_exclude, int32_t *out_ids, float *out_scores, int32_t *out_n,
                    nc_err *e) {
    if (out_n) *out_n = 0;
    if (!ix || !q || !out_n) return nc_fail(e, NC_EINVAL, "index search: NULL index or query");
    if (k < 0) return nc_fail(e, NC_EINVAL, "index search: k = %d, must be >= 0", (int)k);
    if (k > 0 && (!out_ids || !out_scores))
        return nc_fail(e, NC_EINVAL, "index search: NULL output arrays for k = %d", (int)k);
    int32_t cap = (int64_t)k < ix->n ? k : (int32_t)ix->n;
    if (cap == 0) return NC_OK;
    uint64_t *ex = NULL;
    int rc = exclusion_bits(exclude, n_exclude, ix->n, &ex, e);
    if (rc) return rc;
    topk t = {nc_malloc((size_t)cap, sizeof(hit), e), 0, cap};
    if (!t.h) {
        free(ex);
        return NC_ENOMEM;
    }
    scan_rows(ix, q, ex, &t);
    qsort(t.h, (size_t)t.n, sizeof(hit), hit_cmp);
    for (int32_t i = 0; i < t.n; i++) {
        out_ids[i] = t.h[i].id;
        out_scores[i] = t.h[i].s;
    }
    *out_n = t.n;
    free(t.h);
    free(ex);
    return NC_OK;
}

/* ============================== batch ============================== */

/* The largest exclusion list, so one faiss search of k + that many rows per query is sure to
 * leave k survivors. Also checks excl_off is usable. */
static int max_exclusions(const int64_t *off, int64_t nq, int64_t *out, nc_err *e) {
    *out = 0;
    if (!off) return NC_OK;
    if (off[0] < 0) return nc_fail(e, NC_EINVAL, "index batch: excl_off[0] = %lld < 0",
                                   (long long)off[0]);
    for (int64_t i = 0; i < nq; i++) {
        int64_t c = off[i + 1] - off[i];
        if (c < 0)
            return nc_fail(e, NC_EINVAL, "index batch: excl_off[%lld] > excl_off[%lld]",
                           (long long)i, (long long)(i + 1));
        if (c > *out) *out = c;
    }
    return NC_OK;
}

/* Turns one row of faiss results (kk candidates, best first) into the caller's row: drops
 * excluded and missing ids, keeps k, orders ties by id, pads the rest. */
static int collect_row(const float *s, const int64_t *ids, int64_t kk, const int32_t *excl,
                       size_t n_excl, int64_t n_rows, int32_t k, hit *scratch,
                       int32_t *row_ids, float *row_scores, int32_t *row_n, nc_err *e) {
    int32_t *ex = NULL;
    size_t n_ex = 0;
    int rc = exclusion_set(excl, n_excl, n_rows, &ex, &n_ex, e);
    if (rc) return rc;
    int32_t m = 0;
    for (int64_t j = 0; j < kk && m < k; j++) {
        if (ids[j] < 0 || is_excluded(ex, n_ex, (int32_t)ids[j])) continue;
        scratch[m++] = (hit){s[j], (int32_t)ids[j]};
    }
    free(ex);
    qsort(scratch, (size_t)m, sizeof(hit), hit_cmp);
    for (int32_t i = 0; i < k; i++) {
        row_ids[i] = i < m ? scratch[i].id : -1;
        row_scores[i] = i < m ? scratch[i].s : -INFINITY;
    }
    *row_n = m;
    return NC_OK;
}

/* One block of up to BATCH_QUERIES queries: a faiss search, then per-row filtering. */
static int batch_block(const nc_index *ix, const float *q, int64_t q0, int64_t nb, int64_t kk,
                       int32_t k, const int64_t *excl_off, const int32_t *excl_ids,
                       float *fs, int64_t *fi, hit *scratch, int32_t *out_ids,
                       float *out_scores, int32_t *out_n, nc_err *e) {
    int rc = ncf_flat_search(ix->flat, nb, q + (size_t)q0 * (size_t)ix->d, kk, fs, fi, e);
    for (int64_t r = 0; rc == NC_OK && r < nb; r++) {
        int64_t i = q0 + r;
        const int32_t *ex = excl_off ? excl_ids + excl_off[i] : NULL;
        size_t n_ex = excl_off ? (size_t)(excl_off[i + 1] - excl_off[i]) : 0;
        rc = collect_row(fs + r * kk, fi + r * kk, kk, ex, n_ex, ix->n, k, scratch,
                         out_ids + (size_t)i * (size_t)k, out_scores + (size_t)i * (size_t)k,
                         out_n + i, e);
    }
    return rc;
}

int nc_index_search_batch(const nc_index *ix, const float *q, int64_t nq, int32_t k,
                          const int64_t *excl_off, const int32_t *excl_ids, int32_t *out_ids,
                          float *out_scores, int32_t *out_n, nc_err *e) {
    if (!ix || nq < 0 || k < 0)
        return nc_fail(e, NC_EINVAL, "index batch: NULL index or negative nq (%lld) / k (%d)",
                       (long long)nq, (int)k);
    if (nq == 0) return NC_OK;
    if (!q || !out_n || (k > 0 && (!out_ids || !out_scores)))
        return nc_fail(e, NC_EINVAL, "index batch: NULL query or output array");
    int64_t max_ex;
    int rc = max_exclusions(excl_off, nq, &max_ex, e);
    if (rc) return rc;
    if (max_ex > 0 && !excl_ids)
        return nc_fail(e, NC_EINVAL, "index batch: excl_off given but excl_ids is NULL");
    int64_t kk = (int64_t)k + max_ex < ix->n ? (int64_t)k + max_ex : ix->n;
    if (k == 0 || kk == 0) {
        memset(out_n, 0, (size_t)nq * sizeof *out_n);
        for (int64_t i = 0; i < nq * (int64_t)k; i++) out_ids[i] = -1, out_scores[i] = -INFINITY;
        return NC_OK;
    }
    int64_t bq = nq < BATCH_QUERIES ? nq : BATCH_QUERIES;
    float *fs = nc_malloc((size_t)(bq * kk), sizeof *fs, e);
    int64_t *fi = fs ? nc_malloc((size_t)(bq * kk), sizeof *fi, e) : NULL;
    hit *scratch = fi ? nc_malloc((size_t)k + 1, sizeof *scratch, e) : NULL;
    rc = scratch ? NC_OK : NC_ENOMEM;
    for (int64_t q0 = 0; rc == NC_OK && q0 < nq; q0 += bq) {
        int64_t nb = nq - q0 < bq ? nq - q0 : bq;
        rc = batch_block(ix, q, q0, nb, kk, k, excl_off, excl_ids, fs, fi, scratch, out_ids,
                         out_scores, out_n, e);
    }
    free(scratch);
    free(fi);
    free(fs);
    return rc;
}
