/* popular_refresh.c - how long a replica takes to recompute its popular list
 * (server/replica/replica_state.c, rstate_popular) on a large catalogue.
 *
 * Applies N_ITEMS items to a replica state, one interaction each (64 users), then 5 times:
 * one more interaction (the list is now out of date), a 0.6 s wait (a refresh happens at most
 * every 0.5 s), and a timed rstate_popular. Prints the best of the 5.
 *
 *   popular_refresh N_ITEMS
 * Prints: popular_refresh items=N best_ms=T
 * Exit status 0, 1 when the state cannot be built, 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common.h"
#include "replica/replica_state.h"

int main(int argc, char **argv) {
    int n = argc == 2 ? atoi(argv[1]) : 0;
    if (n < 1) {
        fprintf(stderr, "usage: popular_refresh N_ITEMS\n");
        return 2;
    }
    nc_err e = {0};
    replica_state *s = rstate_new(1000, &e);
    rstate_event *ev = malloc(sizeof *ev * (size_t)n);
    char(*items)[16] = malloc(16 * (size_t)n);
    char users[64][8];
    if (!s || !ev || !items) {
        fprintf(stderr, "popular_refresh: out of memory\n");
        return 1;
    }
    for (int u = 0; u < 64; u++) snprintf(users[u], sizeof users[u], "u%d", u);
    for (int i = 0; i < n; i++) {
        snprintf(items[i], sizeof items[i], "i%d", i);
        ev[i] = (rstate_event){i + 1, RSTATE_INTERACTION, users[(i * 7919) % 64], items[i], NULL};
    }
    if (rstate_apply(s, ev, (size_t)n, n, &e) != NC_OK) {
        fprintf(stderr, "popular_refresh: %s\n", e.msg);
        return 1;
    }
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
        rstate_event one = {n + r + 1, RSTATE_INTERACTION, "another", items[r % n], NULL};
        struct timespec pause = {0, 600000000};
        store_items it;
        if (rstate_apply(s, &one, 1, n + r + 1, &e) != NC_OK) return 1;
        nanosleep(&pause, NULL);
        double t0 = nc_now();
        if (rstate_popular(s, 10, &it, &e) != NC_OK) return 1;
        double t = nc_now() - t0;
        if (t < best) best = t;
        store_items_free(&it);
    }
    printf("popular_refresh items=%d best_ms=%.2f\n", n, best * 1e3);
    rstate_free(s);
    free(ev);
    free(items);
    return 0;
}
