/* blocked_ids.c - what /recommend pays per request for the catalogue's blocked items
 * (server/model/catalogue.c): the walk of the restricted list with a model id looked up per
 * item (catalogue_blocked, as every request did before the memo), against the remembered
 * answer (catalogue_blocked_ids), side by side in one run.
 *
 * N_BLOCKED hidden items among 100,000 items of an id map (the model's, nc_idmap), then
 * 2,000 requests of each kind, alternating in 5 rounds; prints the median per request.
 *
 *   blocked_ids N_BLOCKED
 * Prints: blocked_ids blocked=N walk_us=A memo_us=B ratio=A/B
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
    if (n < 1 || n > N_ITEMS) {
        fprintf(stderr, "usage: blocked_ids N_BLOCKED (1..%d)\n", N_ITEMS);
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
        if (ok && i % (N_ITEMS / n) == 0 && i / (N_ITEMS / n) < n)
            ok = catalogue_apply(c, id, "{\"available_from\":null,\"categories\":[],\"hidden\":true,\"labels\":{}}",
                                 i + 1, &e) == NC_OK;
    }
    store_ids out = {.ids = malloc(sizeof(int32_t) * (size_t)N_ITEMS), .cap = N_ITEMS};
    if (!ok || !out.ids) {
        fprintf(stderr, "blocked_ids: set-up failed: %s\n", e.msg);
        return 1;
    }
    double walk[ROUNDS], memo[ROUNDS];
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
        walk[r] = (t1 - t0) / REQUESTS * 1e6;
        memo[r] = (t2 - t1) / REQUESTS * 1e6;
    }
    qsort(walk, ROUNDS, sizeof *walk, cmp_d);
    qsort(memo, ROUNDS, sizeof *memo, cmp_d);
    printf("blocked_ids blocked=%d walk_us=%.2f memo_us=%.2f ratio=%.1f (%zu ids)\n", n, walk[ROUNDS / 2],
           memo[ROUNDS / 2], walk[ROUNDS / 2] / memo[ROUNDS / 2], out.n);
    catalogue_free(c);
    nc_idmap_free(&map);
    free(out.ids);
    return 0;
}
