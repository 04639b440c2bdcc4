/* rec_filter.c - see rec_filter.h. */
#include "rec_filter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http.h"

/* catalogue_blocked_ids' and catalogue_category_ids' map: the model's item id. */
static int32_t model_item(void *m, const char *item) { return live_item(m, item); }

int rec_filter_blocked(catalogue *c, const live_model *m, store_ids *out, nc_err *e) {
    if (!c) return NC_OK;
    return catalogue_blocked_ids(c, (int64_t)time(NULL), m, m->ck.meta.model_version, model_item, (void *)m, out, e);
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int rec_filter_subset(catalogue *c, const live_model *m, const rec_filter *f, store_ids *out, nc_err *e) {
    out->n = 0;
    if (c && catalogue_category_ids(c, f->cats, f->n_cats, m, m->ck.meta.model_version, model_item, (void *)m, out, e))
        return e->code;
    if (f->n_cats < 2) return NC_OK; /* one category lists each item once */
    if (out->n) qsort(out->ids, out->n, sizeof *out->ids, cmp_i32);
    size_t w = 0;
    for (size_t i = 0; i < out->n; i++)
        if (!w || out->ids[w - 1] != out->ids[i]) out->ids[w++] = out->ids[i];
    out->n = w;
    return NC_OK;
}

/* q . row over d floats in 8 independent partial sums (combined in a fixed order), which the
 * compiler turns into vector code without reordering a single running sum. */
static float dot(const float *q, const float *row, int32_t d) {
    float acc[8] = {0};
    int32_t j = 0;
    for (; j + 8 <= d; j += 8)
        for (int l = 0; l < 8; l++) acc[l] += q[j + l] * row[j + l];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; j < d; j++) s += q[j] * row[j];
    return s;
}

/* a ranks before b: higher score, then lower id. */
static int before(float sa, int32_t a, float sb, int32_t b) { return sa > sb || (sa == sb && a < b); }

int rec_filter_scan(const live_model *m, const float *q, const store_ids *subset, const int32_t *excl, size_t n_excl,
                    int32_t k, int32_t *ids, float *sc, int32_t *got, nc_err *e) {
    int32_t d = m->ck.dim, n = 0;
    int32_t *ex = n_excl ? malloc(n_excl * sizeof *ex) : NULL;
    if (n_excl && !ex) return nc_fail(e, NC_ENOMEM, "out of memory for %zu exclusions", n_excl);
    if (n_excl) {
        memcpy(ex, excl, n_excl * sizeof *ex);
        qsort(ex, n_excl, sizeof *ex, cmp_i32);
    }
    for (size_t i = 0; i < subset->n && k > 0; i++) {
        int32_t it = subset->ids[i];
        const float *row = nc_index_row(m->index, it);
        if (!row || (n_excl && bsearch(&it, ex, n_excl, sizeof *ex, cmp_i32))) continue;
        float s = dot(q, row, d);
        if (n == k && !before(s, it, sc[n - 1], ids[n - 1])) continue;
        int32_t at = n < k ? n++ : k - 1; /* insertion into the sorted top k */
        while (at > 0 && before(s, it, sc[at - 1], ids[at - 1])) {
            sc[at] = sc[at - 1];
            ids[at] = ids[at - 1];
            at--;
        }
        sc[at] = s;
        ids[at] = it;
    }
    free(ex);
    *got = n;
    return NC_OK;
}

int rec_filter_allows(catalogue *c, const rec_filter *f, const char *item) {
    if (!c) return 1;
    if (catalogue_item_blocked(c, item, (int64_t)time(NULL))) return 0;
    return !f->n_cats || catalogue_has_category(c, item, f->cats, f->n_cats);
}

/* http_each_query's callback: collects category= values, stops at a bad one. */
typedef struct parse_ctx {
    rec_filter *f;
    size_t cap;
    const char *bad;
    int oom;
} parse_ctx;

static int collect(void *cls, const char *key, const char *value) {
    parse_ctx *p = cls;
    if (strcmp(key, "category")) return 0;
    nc_err e;
    if (!value || store_check_id("category", value, &e) != NC_OK) {
        p->bad = value ? value : "";
        return 1;
    }
    if (p->f->n_cats == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 4;
        char **c = realloc(p->f->cats, cap * sizeof *c);
        if (!c) {
            p->oom = 1;
            return 1;
        }
        p->f->cats = c;
        p->cap = cap;
    }
    p->f->cats[p->f->n_cats++] = (char *)value;
    return 0;
}

int rec_filter_parse(const http_req *rq, http_resp *rs, int k, int k_max, rec_filter *f) {
    *f = (rec_filter){NULL, 0, 0};
    const char *v = http_query(rq, "offset");
    if (v) {
        char *end;
        errno = 0;
        long x = strtol(v, &end, 10);
        if (!*v || *end || errno || x < 0 || x > k_max - k) {
            http_problem(rs, 400, "query parameter 'offset' must be an integer from 0 to k_max - k = %d, got '%.32s'",
                         k_max - k, v);
            return 0;
        }
        f->offset = (int)x;
    }
    parse_ctx p = {f, 0, NULL, 0};
    http_each_query(rq, collect, &p);
    if (p.bad) http_problem(rs, 400, "query parameter 'category' must be a category id (1 to 256 bytes, no ',', '\"' "
                            "or control characters), got '%.64s'", p.bad);
    else if (p.oom) http_problem(rs, 500, "out of memory for the categories");
    else if (f->n_cats > 64) http_problem(rs, 400, "query parameter 'category' is given %zu times; at most 64", f->n_cats);
    else return 1;
    free(f->cats);
    f->cats = NULL;
    return 0;
}

int rec_filter_from_json(const json_t *category, const json_t *offset, int k, int k_max, rec_filter *f, nc_err *e) {
    *f = (rec_filter){NULL, 0, 0};
    if (offset && (!json_is_integer(offset) || json_integer_value(offset) < 0 || json_integer_value(offset) > k_max - k))
        return nc_fail(e, NC_EINVAL, "offset: must be an integer from 0 to k_max - k = %d", k_max - k);
    if (offset) f->offset = (int)json_integer_value(offset);
    if (!category) return NC_OK;
    size_t n = json_is_string(category) ? 1 : json_array_size(category);
    if (!json_is_string(category) && !json_is_array(category))
        return nc_fail(e, NC_EINVAL, "category: must be a category id or an array of them");
    if (n > 64) return nc_fail(e, NC_EINVAL, "category: %zu given; at most 64", n);
    if (n && !(f->cats = nc_calloc(n, sizeof *f->cats, e))) return NC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_is_string(category) ? category : json_array_get(category, i);
        nc_err ce;
        if (!json_is_string(c) || store_check_id("category", json_string_value(c), &ce) != NC_OK) {
            free(f->cats);
            f->cats = NULL;
            return nc_fail(e, NC_EINVAL, "category[%zu]: must be a category id (1 to 256 bytes, no ',', '\"' or control "
                           "characters)", i);
        }
        f->cats[f->n_cats++] = (char *)json_string_value(c);
    }
    return NC_OK;
}
