/* serve_model_bytes.c - the memory a serving process must hold for one model, computed from
 * the checkpoint's dimensions, so bench/bench_serve.sh can put the daemon's resident set next
 * to it.
 *
 * A live model (server/model/live_model.h) holds the whole checkpoint (id maps, E0, the propagated
 * user and item embeddings F, centroids, cluster assignments), plus a faiss IndexFlatIP holding
 * its own copy of the item embeddings, plus the d x d Gram matrix (double) for fold-in.
 * "needed" is what answering requests reads (F of users and items, the index, the id maps, the
 * Gram matrix); "held" adds what the checkpoint carries for training (E0, centroids,
 * assignments). Allocator overhead is not counted.
 *
 *   serve_model_bytes CHECKPOINT
 * Prints one line of key=value (bytes unless named otherwise). Exit 1 when the file cannot
 * be read, 2 on bad usage. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "checkpoint.h"

/* Bytes of an id map: the id array (capacity), each id's string with its NUL, the hash
 * slots. */
static uint64_t idmap_bytes(const nc_idmap *m) {
    uint64_t b = (uint64_t)m->cap * sizeof(char *) + (uint64_t)m->nslots * sizeof(int32_t);
    for (size_t i = 0; i < m->n; i++) b += strlen(m->ids[i]) + 1;
    return b;
}

/* Prints the breakdown of one checkpoint (borrowed). */
static void report(const char *path, const nc_checkpoint *c) {
    uint64_t d = (uint64_t)c->dim, f = sizeof(float);
    uint64_t emb = ((uint64_t)c->n_users + (uint64_t)c->n_items) * d * f;
    uint64_t e0 = emb; /* (n_users + n_items) x d as well */
    uint64_t index = (uint64_t)c->n_items * d * f;
    uint64_t cent = ((uint64_t)c->k_user + (uint64_t)c->k_item) * d * f;
    uint64_t assign = (c->assign_user ? (uint64_t)c->n_users : 0) + (c->assign_item ? (uint64_t)c->n_items : 0);
    uint64_t maps = idmap_bytes(&c->users) + idmap_bytes(&c->items);
    uint64_t gram = d * d * sizeof(double);
    uint64_t needed = emb + index + maps + gram;
    uint64_t held = needed + e0 + cent + assign * sizeof(int32_t);
    printf("model_bytes users=%d items=%d dim=%d k_user=%d k_item=%d emb_f=%" PRIu64 " index=%" PRIu64
           " idmaps=%" PRIu64 " gram=%" PRIu64 " e0=%" PRIu64 " centroids=%" PRIu64 " assign=%" PRIu64
           " needed=%" PRIu64 " held=%" PRIu64 " needed_mib=%.2f held_mib=%.2f checkpoint=%s\n",
           c->n_users, c->n_items, c->dim, c->k_user, c->k_item, emb, index, maps, gram, e0, cent,
           assign * sizeof(int32_t), needed, held, (double)needed / 1048576.0, (double)held / 1048576.0, path);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: serve_model_bytes CHECKPOINT\n");
        return 2;
    }
    nc_checkpoint c;
    nc_err e = {0};
    if (nc_checkpoint_read(argv[1], &c, &e) != NC_OK) {
        fprintf(stderr, "serve_model_bytes: %s\n", e.msg);
        return 1;
    }
    report(argv[1], &c);
    nc_checkpoint_free(&c);
    return 0;
}
