/* synth.c - see synth.h.
 *
 * Design: popularity-weighted draws use one cumulative-weight table per pool (each community,
 * plus the whole catalogue) and a binary search; repeats for a user are rejected with a
 * per-item stamp of the last user that took it, with a bounded number of retries so a user who
 * has exhausted a pool cannot loop. Rows are generated user by user, then sorted by time. */
#include "synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SPAN_SECONDS (180 * 86400)  /* users start within this window after t0 */
#define MEAN_GAP_SECONDS 21600.0    /* mean time between a user's interactions: 6 hours */
#define MAX_TRIES 64                /* draws per pick before a pool counts as exhausted */

void nc_synth_default(nc_synth_opts *o) {
    o->n_users = 2000;
    o->n_items = 1000;
    o->n_communities = 20;
    o->zipf = 1.0;
    o->mean_per_user = 30;
    o->tail = 1.0;
    o->min_per_user = 3;
    o->affinity = 0.85;
    o->second_share = 0.2;
    o->t0 = 1600000000;
    o->seed = 2020;
}

/* NaN-safe "lo <= v <= hi". */
static int in_range(double v, double lo, double hi) { return v >= lo && v <= hi; }

int nc_synth_validate(const nc_synth_opts *o, nc_err *e) {
    if (o->n_users < 1) return nc_fail(e, NC_EINVAL, "synth n_users %d must be >= 1", o->n_users);
    if (o->n_items < 2) return nc_fail(e, NC_EINVAL, "synth n_items %d must be >= 2", o->n_items);
    if (o->n_communities < 1 || o->n_communities > o->n_items)
        return nc_fail(e, NC_EINVAL, "synth n_communities %d must be in 1..n_items (%d)",
                       o->n_communities, o->n_items);
    if (!in_range(o->zipf, 0, 3))
        return nc_fail(e, NC_EINVAL, "synth zipf %g not in 0..3", o->zipf);
    if (!in_range(o->mean_per_user, 1, 1e6))
        return nc_fail(e, NC_EINVAL, "synth mean_per_user %g not in 1..1e6", o->mean_per_user);
    if (!in_range(o->tail, 0, 3))
        return nc_fail(e, NC_EINVAL, "synth tail %g not in 0..3", o->tail);
    if (o->min_per_user < 1 || o->min_per_user > o->n_items)
        return nc_fail(e, NC_EINVAL, "synth min_per_user %d must be in 1..n_items (%d)",
                       o->min_per_user, o->n_items);
    if (!in_range(o->affinity, 0, 1))
        return nc_fail(e, NC_EINVAL, "synth affinity %g not in 0..1", o->affinity);
    if (!in_range(o->second_share, 0, 1))
        return nc_fail(e, NC_EINVAL, "synth second_share %g not in 0..1", o->second_share);
    if (o->t0 < 0 || o->t0 > INT64_MAX / 2)
        return nc_fail(e, NC_EINVAL, "synth t0 %lld out of range", (long long)o->t0);
    return NC_OK;
}

/* Popularity pools: pool c < C holds community c's items, pool C the whole catalogue. Items
 * of pool p are item[off[p] .. off[p+1]), cum[] the running sum of their weights. */
typedef struct pools {
    int32_t n;       /* C + 1 */
    int32_t *off;    /* n + 1 */
    int32_t *item;   /* 2 * n_items: every item once per community pool, once in the global */
    double *cum;
} pools;

/* Releases the tables; safe on a partly built or zeroed struct. */
static void pools_free(pools *p) {
    free(p->off), free(p->item), free(p->cum);
    memset(p, 0, sizeof *p);
}

/* Random popularity ranks, weights 1/r^zipf, communities (r-1) mod C, then the tables. */
static int pools_build(const nc_synth_opts *o, nc_rng *rng, pools *p, nc_err *e) {
    int32_t I = o->n_items, C = o->n_communities;
    p->n = C + 1;
    p->off = nc_calloc((size_t)C + 2, sizeof *p->off, e);
    p->item = nc_malloc(2 * (size_t)I, sizeof *p->item, e);
    p->cum = nc_malloc(2 * (size_t)I, sizeof *p->cum, e);
    int32_t *rank = nc_malloc((size_t)I, sizeof *rank, e);
    if (!p->off || !p->item || !p->cum || !rank) {
        free(rank);
        pools_free(p);
        return NC_ENOMEM;
    }
    for (int32_t i = 0; i < I; i++) rank[i] = i;
    for (int32_t i = I; i > 1; i--) { /* Fisher-Yates: rank[i] is item i's rank - 1 */
        int32_t j = (int32_t)nc_rng_below(rng, (uint64_t)i), t = rank[i - 1];
        rank[i - 1] = rank[j];
        rank[j] = t;
    }
    for (int32_t i = 0; i < I; i++) p->off[rank[i] % C + 1]++;
    for (int32_t c = 0; c < C; c++) p->off[c + 1] += p->off[c];
    p->off[C + 1] = 2 * I;
    int32_t *fill = nc_malloc((size_t)C, sizeof *fill, e);
    if (!fill) {
        free(rank);
        pools_free(p);
        return NC_ENOMEM;
    }
    memcpy(fill, p->off, (size_t)C * sizeof *fill);
    for (int32_t i = 0; i < I; i++) {
        p->item[fill[rank[i] % C]++] = i;
        p->item[I + i] = i;
    }
    for (int32_t q = 0; q < p->n; q++) {
        double s = 0;
        for (int32_t k = p->off[q]; k < p->off[q + 1]; k++) {
            s += pow((double)rank[p->item[k]] + 1.0, -o->zipf);
            p->cum[k] = s;
        }
    }
    free(fill);
    free(rank);
    return NC_OK;
}

/* One popularity-weighted draw from pool q. */
static int32_t pools_draw(const pools *p, int32_t q, nc_rng *rng) {
    int32_t lo = p->off[q], hi = p->off[q + 1] - 1;
    double x = nc_rng_uniform(rng) * p->cum[hi];
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (p->cum[mid] > x) hi = mid;
        else lo = mid + 1;
    }
    return p->item[lo];
}

/* Heavy-tailed number of interactions for one user (log-normal with the requested mean). */
static int32_t draw_count(const nc_synth_opts *o, nc_rng *rng) {
    double u1 = 1.0 - nc_rng_uniform(rng), u2 = nc_rng_uniform(rng);
    double z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
    double mu = log(o->mean_per_user) - 0.5 * o->tail * o->tail;
    double n = floor(exp(mu + o->tail * z) + 0.5);
    double hi = o->n_items / 4 > o->min_per_user ? o->n_items / 4 : o->min_per_user;
    return (int32_t)(n < o->min_per_user ? o->min_per_user : n > hi ? hi : n);
}

typedef struct row {
    int64_t ts;
    int32_t u, i;
} row;

/* Time order, with user and item as tie-breaks so the order is fully determined. */
static int cmp_row(const void *a, const void *b) {
    const row *x = a, *y = b;
    if (x->ts != y->ts) return (x->ts > y->ts) - (x->ts < y->ts);
    if (x->u != y->u) return (x->u > y->u) - (x->u < y->u);
    return (x->i > y->i) - (x->i < y->i);
}

/* Which pool a pick comes from: home community, secondary community or everything. */
static int32_t pick_pool(const nc_synth_opts *o, nc_rng *rng, int32_t home, int32_t second) {
    double r = nc_rng_uniform(rng);
    if (r < o->affinity * (1.0 - o->second_share)) return home;
    if (r < o->affinity) return second;
    return o->n_communities;
}

/* A new item for user u from the chosen pool (stamp[i] == u + 1 marks items u has), falling
 * back to the whole catalogue; -1 when both look exhausted. */
static int32_t pick_item(const pools *p, int32_t pool, int32_t u, int32_t *stamp, nc_rng *rng) {
    for (int pass = 0; pass < 2; pass++, pool = p->n - 1)
        for (int t = 0; t < MAX_TRIES; t++) {
            int32_t i = pools_draw(p, pool, rng);
            if (stamp[i] != u + 1) {
                stamp[i] = u + 1;
                return i;
            }
        }
    return -1;
}

/* All users' rows, unsorted, into a growing array *rows (*n of them). */
static int gen_rows(const nc_synth_opts *o, const pools *p, nc_rng *rng, row **rows, size_t *n,
                    nc_err *e) {
    int32_t C = o->n_communities;
    int32_t *stamp = nc_calloc((size_t)o->n_items, sizeof *stamp, e);
    size_t cap = (size_t)o->n_users * (size_t)(o->mean_per_user + 1);
    row *r = stamp ? nc_malloc(cap, sizeof *r, e) : NULL;
    if (!r) {
        free(stamp);
        return NC_ENOMEM;
    }
    *n = 0;
    for (int32_t u = 0; u < o->n_users; u++) {
        int32_t home = (int32_t)nc_rng_below(rng, (uint64_t)C);
        int32_t second = home;
        if (C > 1) second = (home + 1 + (int32_t)nc_rng_below(rng, (uint64_t)C - 1)) % C;
        int32_t cnt = draw_count(o, rng);
        double t = (double)o->t0 + (double)nc_rng_below(rng, SPAN_SECONDS);
        for (int32_t k = 0; k < cnt; k++) {
            int32_t i = pick_item(p, pick_pool(o, rng, home, second), u, stamp, rng);
            if (i < 0) break;
            if (*n == cap) {
                row *nr = realloc(r, 2 * cap * sizeof *nr);
                if (!nr) {
                    free(stamp), free(r);
                    return nc_fail(e, NC_ENOMEM, "out of memory for %zu synthetic rows", 2 * cap);
                }
                r = nr, cap *= 2;
            }
            t += 1.0 + floor(-MEAN_GAP_SECONDS * log(1.0 - nc_rng_uniform(rng)));
            r[(*n)++] = (row){(int64_t)t, u, i};
        }
    }
    free(stamp);
    *rows = r;
    return NC_OK;
}

/* Interns "u0".."u{U-1}" and "i0".."i{I-1}" so internal ids equal the numbers. */
static int intern_all(nc_idmap *m, char prefix, int32_t n, nc_err *e) {
    char buf[32];
    for (int32_t k = 0; k < n; k++) {
        int len = snprintf(buf, sizeof buf, "%c%d", prefix, k);
        int32_t id;
        int rc = nc_idmap_intern(m, buf, (size_t)len, &id, e);
        if (rc) return rc;
    }
    return NC_OK;
}

int nc_synth_generate(const nc_synth_opts *o, nc_idmap *users, nc_idmap *items,
                      nc_interactions *out, nc_err *e) {
    nc_idmap_free(users);
    nc_idmap_free(items);
    nc_inter_free(out);
    int rc = nc_synth_validate(o, e);
    if (rc) return rc;
    nc_rng rng;
    nc_rng_seed(&rng, o->seed);
    pools p = {0};
    row *rows = NULL;
    size_t n = 0;
    rc = pools_build(o, &rng, &p, e);
    if (!rc) rc = gen_rows(o, &p, &rng, &rows, &n, e);
    pools_free(&p);
    if (!rc) {
        qsort(rows, n, sizeof *rows, cmp_row);
        rc = intern_all(users, 'u', o->n_users, e);
    }
    if (!rc) rc = intern_all(items, 'i', o->n_items, e);
    if (!rc) rc = nc_inter_reserve(out, n, e);
    for (size_t k = 0; !rc && k < n; k++) {
        out->user[k] = rows[k].u;
        out->item[k] = rows[k].i;
        out->ts[k] = rows[k].ts;
    }
    if (!rc) out->n = n;
    free(rows);
    if (rc) {
        nc_idmap_free(users);
        nc_idmap_free(items);
        nc_inter_free(out);
    }
    return rc;
}

int nc_synth_dataset(const nc_synth_opts *o, const double ratios[3], uint64_t split_seed,
                     nc_dataset *d, nc_err *e) {
    nc_dataset_free(d);
    nc_interactions all;
    nc_inter_init(&all);
    int rc = nc_synth_generate(o, &d->users, &d->items, &all, e);
    if (!rc) rc = nc_split(&all, d->users.n, ratios, split_seed, &d->train, &d->valid, &d->test, e);
    nc_inter_free(&all);
    if (rc) nc_dataset_free(d);
    return rc;
}

int nc_synth_write_csv(const nc_synth_opts *o, FILE *f, nc_err *e) {
    nc_idmap users, items;
    nc_interactions all;
    nc_idmap_init(&users);
    nc_idmap_init(&items);
    nc_inter_init(&all);
    int rc = nc_synth_generate(o, &users, &items, &all, e);
    if (!rc) rc = nc_inter_write_csv(f, &users, &items, &all, e);
    nc_idmap_free(&users);
    nc_idmap_free(&items);
    nc_inter_free(&all);
    return rc;
}
