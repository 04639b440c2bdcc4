/* blocked_ids.c - what /recommend pays per request for the catalogue's rules
 * (server/model/catalogue.c): the walk of the restricted list with a model id looked up per
 * item (catalogue_blocked, as every request did before the memo), against the remembered
 * answer (catalogue_blocked_ids); and a category= of as many items, mapped at every call (a
 * new tag each time: what every request did before) against remembered
 * (catalogue_category_ids). Side by side in one run.
 *
 * N hidden items, and N items in category "c", among 100,000 items of an id map (the
 * model's, nc_idmap), then 2,000 requests of each kind, alternating in 5 rounds; prints the
 * median per request.
 *
 *   blocked_ids N
 * Prints: blocked_ids blocked=N walk_us=A memo_us=B ratio=A/B
 *         category_ids items=N map_us=A memo_us=B ratio=A/B
 * Exit status 0, 1 when the set-up fails, 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dataset.h"
#include "model/catalogue.h"

#define N_ITEMS 100000
#define REQUESTS 2000
#define ROUNDS 5

typedef struct walk_ctx {
    const nc_idmap *map;
    store_ids *out;
} walk_ctx;

static int32_t map_item(void *m, const char *item) { return nc_idmap_find(m, item, strlen(item)); }

/* The old per-request path: one id look-up per blocked item. */
static void push(void *ctx, const char *item) {
    walk_ctx *w = ctx;
    int32_t id = map_item((void *)w->map, item);
    if (id >= 0 && w->out->n < w->out->cap) w->out->ids[w->out->n++] = id;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int n = argc == 2 ? atoi(argv[1]) : 0;
    if (n < 1 || n > N_ITEMS / 2) {
        fprintf(stderr, "usage: blocked_ids N (1..%d)\n", N_ITEMS / 2);
        return 2;
    }
    nc_err e = {0};
    nc_idmap map;
    nc_idmap_init(&map);
    catalogue *c = catalogue_new(&e);
    char id[32];
    int ok = c != NULL;
    for (int i = 0; ok && i < N_ITEMS; i++) {
        int32_t k;
        snprintf(id, sizeof id, "item-%d", i);
        ok = nc_idmap_intern(&map, id, strlen(id), &k, &e) == NC_OK;
        int step = N_ITEMS / n / 2, pick = i % step == 0 && i / step < 2 * n;
        if (ok && pick) /* every other picked item hidden, the others in category c */
            ok = catalogue_apply(c, id, (i / step) % 2 ? "{\"available_from\":null,\"categories\":[\"c\"],\"hidden\":false,\"labels\":{}}"
                                                      : "{\"available_from\":null,\"categories\":[],\"hidden\":true,\"labels\":{}}",
                                 i + 1, &e) == NC_OK;
    }
    store_ids out = {.ids = malloc(sizeof(int32_t) * (size_t)N_ITEMS), .cap = N_ITEMS};
    if (!ok || !out.ids) {
        fprintf(stderr, "blocked_ids: set-up failed: %s\n", e.msg);
        return 1;
    }
    double walk[ROUNDS], memo[ROUNDS], cmap[ROUNDS], cmemo[ROUNDS];
    char *cats[] = {"c"};
    size_t n_cat = 0;
    int64_t now = 1700000000;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = nc_now();
        for (int q = 0; q < REQUESTS; q++) {
            out.n = 0;
            walk_ctx w = {&map, &out};
            catalogue_blocked(c, now, push, &w);
        }
        double t1 = nc_now();
        for (int q = 0; q < REQUESTS; q++) {
            out.n = 0;
            catalogue_blocked_ids(c, now, &map, 1, map_item, &map, &out, &e);
        }
        double t2 = nc_now();
        for (int q = 0; q < REQUESTS; q++) {
            out.n = 0;
            catalogue_category_ids(c, cats, 1, &map, (uint64_t)(100 + r * REQUESTS + q), map_item, &map, &out, &e);
        }
        double t3 = nc_now();
        for (int q = 0; q < REQUESTS; q++) {
            out.n = 0;
            catalogue_category_ids(c, cats, 1, &map, 1, map_item, &map, &out, &e);
        }
        double t4 = nc_now();
        n_cat = out.n;
        walk[r] = (t1 - t0) / REQUESTS * 1e6;
        memo[r] = (t2 - t1) / REQUESTS * 1e6;
        cmap[r] = (t3 - t2) / REQUESTS * 1e6;
        cmemo[r] = (t4 - t3) / REQUESTS * 1e6;
    }
    qsort(walk, ROUNDS, sizeof *walk, cmp_d);
    qsort(memo, ROUNDS, sizeof *memo, cmp_d);
    qsort(cmap, ROUNDS, sizeof *cmap, cmp_d);
    qsort(cmemo, ROUNDS, sizeof *cmemo, cmp_d);
    printf("blocked_ids blocked=%d walk_us=%.2f memo_us=%.2f ratio=%.1f\n", n, walk[ROUNDS / 2], memo[ROUNDS / 2],
           walk[ROUNDS / 2] / memo[ROUNDS / 2]);
    printf("category_ids items=%zu map_us=%.2f memo_us=%.2f ratio=%.1f\n", n_cat, cmap[ROUNDS / 2], cmemo[ROUNDS / 2],
           cmap[ROUNDS / 2] / cmemo[ROUNDS / 2]);
    catalogue_free(c);
    nc_idmap_free(&map);
    free(out.ids);
    return 0;
}
