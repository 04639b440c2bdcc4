/* batch_hops.c - how much of the graph one batch's forward and backward pass needs: the case
 * for (or against) propagating only the L-hop neighbourhood of the batch instead of all nodes.
 *
 * usage: batch_hops TRAIN_FILE [batch [layers [batches]]]   (defaults 32768, 3, 4)
 *
 * A batch is `batch` training pairs drawn uniformly (the trainer cuts a shuffled epoch) and one
 * uniform negative item per pair. Its losses read, at the batch's nodes B (users, positive and
 * negative items): the mean of layers 0..L for BPR, layer 2 (hyper_layers 1) of the anchors for
 * the structure term, layer 0 for the prototype term and for the structure term's denominator.
 * Layer k at a node needs layer k-1 at its neighbours (Â has no self-loops), so the rows of
 * layer k that must be computed are
 *     need[L] = B,   need[k] = B u N(need[k+1])   for k = L-1 .. 1,
 * and computing them costs the non-zeros of those rows of Â, against nnz for a whole layer.
 * The backward pass walks the same rows (Â is symmetric). Prints, per layer, the fraction of
 * nodes and of non-zeros needed, averaged over `batches` batches. Reads only the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "graph.h"

static int die(const char *what, const nc_err *e) {
    fprintf(stderr, "batch_hops: %s: %s\n", what, e->msg);
    return 1;
}

#define MAX_LAYERS 16

/* Marks in `next` (cleared by the caller) each neighbour of a node of `mark`; returns the
 * non-zeros of the rows marked in `mark`, the cost of computing their layer. */
static int64_t expand(const nc_graph *g, const uint8_t *mark, uint8_t *next) {
    int64_t cost = 0;
    for (int32_t v = 0; v < g->n; v++) {
        if (!mark[v]) continue;
        cost += g->row_ptr[v + 1] - g->row_ptr[v];
        for (int64_t k = g->row_ptr[v]; k < g->row_ptr[v + 1]; k++) next[g->col[k]] = 1;
    }
    return cost;
}

/* Marks in b (cleared by the caller) one batch's nodes: users and positive items of `batch`
 * uniform pairs, a uniform item each. */
static void draw_batch(const nc_interactions *p, const nc_graph *g, int32_t batch, nc_rng *r,
                       uint8_t *b) {
    for (int32_t k = 0; k < batch; k++) {
        size_t row = (size_t)nc_rng_below(r, p->n);
        b[p->user[row]] = 1;
        b[g->n_users + p->item[row]] = 1;
        b[g->n_users + (int32_t)nc_rng_below(r, (uint64_t)g->n_items)] = 1;
    }
}

static int64_t count(const uint8_t *m, int32_t n) {
    int64_t c = 0;
    for (int32_t v = 0; v < n; v++) c += m[v];
    return c;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: batch_hops TRAIN_FILE [batch [layers [batches]]]\n");
        return 2;
    }
    int32_t batch = argc > 2 ? atoi(argv[2]) : 32768, L = argc > 3 ? atoi(argv[3]) : 3;
    int32_t nb = argc > 4 ? atoi(argv[4]) : 4;
    if (batch < 1 || L < 1 || L > MAX_LAYERS || nb < 1) {
        fprintf(stderr, "batch_hops: batch, layers (1..%d) and batches must be positive\n",
                MAX_LAYERS);
        return 2;
    }
    nc_err e;
    nc_idmap users, items;
    nc_interactions p;
    nc_idmap_init(&users);
    nc_idmap_init(&items);
    nc_inter_init(&p);
    nc_graph g = {0};
    if (nc_load_file(argv[1], NC_FMT_AUTO, &users, &items, &p, &e)) return die(argv[1], &e);
    nc_inter_dedup(&p, &e);
    if (nc_graph_build((int32_t)users.n, (int32_t)items.n, p.user, p.item, p.n, &g, &e))
        return die("graph", &e);
    if (p.n == 0 || g.n_items == 0) return fprintf(stderr, "batch_hops: no pairs\n"), 1;
    const size_t n = (size_t)g.n;
    uint8_t *b = malloc(n), *need = malloc(n), *next = malloc(n);
    if (!b || !need || !next) return fprintf(stderr, "batch_hops: out of memory\n"), 1;
    double nodes[MAX_LAYERS + 1] = {0}, nnz[MAX_LAYERS + 1] = {0}, total = 0;
    nc_rng r;
    nc_rng_seed(&r, 2020);
    for (int32_t t = 0; t < nb; t++) {
        memset(b, 0, n);
        draw_batch(&p, &g, batch, &r, b);
        memcpy(need, b, n);
        int64_t cost_all = 0;
        for (int32_t k = L; k >= 1; k--) { /* need = the rows of layer k */
            nodes[k] += (double)count(need, g.n) / g.n / nb;
            memset(next, 0, n);
            int64_t c = expand(&g, need, next);
            nnz[k] += (double)c / (double)g.nnz / nb;
            cost_all += c;
            for (size_t v = 0; v < n; v++) need[v] = b[v] | next[v];
        }
        total += (double)cost_all / ((double)L * (double)g.nnz) / nb;
    }
    printf("batch_hops: %s: %d users, %d items, %lld non-zeros; batch %d, %d layers, %d "
           "batches\n", argv[1], g.n_users, g.n_items, (long long)g.nnz, batch, L, nb);
    for (int32_t k = L; k >= 1; k--)
        printf("layer %d: rows needed %.4f of nodes, %.4f of non-zeros\n", k, nodes[k], nnz[k]);
    printf("neighbourhood_fraction=%.4f (non-zeros of the needed rows over all layers, against "
           "L x nnz)\n", total);
    free(b);
    free(need);
    free(next);
    nc_graph_free(&g);
    nc_inter_free(&p);
    nc_idmap_free(&users);
    nc_idmap_free(&items);
    return 0;
}
