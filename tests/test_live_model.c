/* test_live_model.c - the served model and its hot swap (server/model/live_model.h): a model built
 * from a checkpoint answers lookups and searches; a holder keeps its model across a swap; and
 * under concurrent readers and a swapping thread every acquired model is whole and the
 * reference counts come back to the slot's single reference. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "model/live_model.h"
#include "testhelp.h"

/* A checkpoint with n_users x n_items ids "u<i>" / "i<j>", dim 4, and item j's embedding
 * pointing mostly along axis j % 4, scaled by version so models are told apart. */
static int make_ckpt(nc_checkpoint *c, int n_users, int n_items, uint64_t version) {
    nc_err e;
    nc_checkpoint_init(c);
    nc_hparams_default(&c->hp);
    c->n_users = n_users;
    c->n_items = n_items;
    c->dim = 4;
    c->meta.model_version = version;
    nc_idmap_init(&c->users);
    nc_idmap_init(&c->items);
    char id[32];
    int32_t got;
    for (int i = 0; i < n_users; i++) {
        snprintf(id, sizeof id, "u%d", i);
        if (nc_idmap_intern(&c->users, id, strlen(id), &got, &e) != NC_OK) return -1;
    }
    for (int j = 0; j < n_items; j++) {
        snprintf(id, sizeof id, "i%d", j);
        if (nc_idmap_intern(&c->items, id, strlen(id), &got, &e) != NC_OK) return -1;
    }
    c->user_emb = nc_calloc((size_t)n_users * 4, sizeof(float), &e);
    c->item_emb = nc_calloc((size_t)n_items * 4, sizeof(float), &e);
    c->E0 = nc_calloc((size_t)(n_users + n_items) * 4, sizeof(float), &e);
    if (!c->user_emb || !c->item_emb || !c->E0) return -1;
    for (int i = 0; i < n_users; i++) c->user_emb[i * 4 + i % 4] = 1;
    for (int j = 0; j < n_items; j++) {
        c->item_emb[j * 4 + j % 4] = (float)version + (float)j / (float)n_items;
        c->item_emb[j * 4 + (j + 1) % 4] = 0.1f;
    }
    return 0;
}

static void test_build_and_search(void) {
    nc_checkpoint c;
    nc_err e;
    CHECK(make_ckpt(&c, 8, 12, 1) == 0, "checkpoint");
    live_model *m = live_model_create(&c, "test", 0, NULL, &e);
    CHECK(m != NULL, "%s", e.msg);
    if (!m) return;
    CHECK(c.item_emb == NULL && c.users.n == 0, "the checkpoint was moved into the model");
    CHECK(live_user(m, "u3") == 3 && live_user(m, "u99") == -1, "user lookup");
    CHECK(live_item(m, "i11") == 11 && live_item(m, "x") == -1, "item lookup");
    /* user u1 points along axis 1: items 1, 5, 9 score highest, the largest index first */
    int32_t ids[3], n = 0, ex = 9;
    float sc[3];
    CHECK(nc_index_search(m->index, m->ck.user_emb + 4, 3, &ex, 1, ids, sc, &n, &e) == NC_OK, "%s", e.msg);
    CHECK(n == 3 && ids[0] == 5 && ids[1] == 1, "top items %d %d (n=%d)", ids[0], ids[1], n);
    CHECK(m->gram[0] > 0 && m->gram[1] == m->gram[4], "Gram matrix built and symmetric");
    live_release(m);
}

static void test_refuses_empty(void) {
    nc_checkpoint c;
    nc_err e;
    nc_checkpoint_init(&c);
    CHECK(live_model_create(&c, "empty", 0, NULL, &e) == NULL, "a model without embeddings is refused");
    CHECK(strstr(e.msg, "no embeddings") != NULL, "message: %s", e.msg);
}

static void test_holder_survives_swap(void) {
    live_slot s;
    nc_checkpoint c1, c2;
    nc_err e;
    live_slot_init(&s);
    CHECK(live_acquire(&s) == NULL, "empty slot");
    CHECK(make_ckpt(&c1, 4, 6, 1) == 0 && make_ckpt(&c2, 4, 6, 2) == 0, "checkpoints");
    live_swap(&s, live_model_create(&c1, "one", 0, NULL, &e));
    live_model *held = live_acquire(&s);
    CHECK(held && held->ck.meta.model_version == 1, "v1 served");
    live_swap(&s, live_model_create(&c2, "two", 0, NULL, &e));
    live_model *now = live_acquire(&s);
    CHECK(now && now->ck.meta.model_version == 2, "new requests see v2");
    CHECK(held && held->ck.meta.model_version == 1 && atomic_load(&held->refs) == 1,
          "the old model lives on for its last holder");
    CHECK(held && live_item(held, "i5") == 5 && held->ck.item_emb[0] == 1.0f, "and stays usable");
    live_release(held);
    live_release(now);
    CHECK(atomic_load(&s.cur->refs) == 1, "only the slot holds v2");
    live_slot_destroy(&s);
}

typedef struct race {
    live_slot *s;
    int bad;
    long reads;
} race;

static void *reader(void *arg) {
    race *r = arg;
    for (int i = 0; i < 20000; i++) {
        live_model *m = live_acquire(r->s);
        if (!m) continue;
        uint64_t v = m->ck.meta.model_version;
        /* the model is whole: its embeddings carry its own version */
        if (m->ck.item_emb[0] != (float)v || live_item(m, "i3") != 3) r->bad++;
        r->reads++;
        live_release(m);
    }
    return NULL;
}

static void test_concurrent_swaps(void) {
    live_slot s;
    nc_err e;
    live_slot_init(&s);
    race r[3] = {{&s, 0, 0}, {&s, 0, 0}, {&s, 0, 0}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, reader, &r[i]);
    for (uint64_t v = 1; v <= 40; v++) {
        nc_checkpoint c;
        if (make_ckpt(&c, 4, 16, v) != 0) break;
        live_model *m = live_model_create(&c, "race", 0, NULL, &e);
        if (m) live_swap(&s, m);
    }
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    CHECK(r[0].bad + r[1].bad + r[2].bad == 0, "torn reads: %d", r[0].bad + r[1].bad + r[2].bad);
    CHECK(s.cur && s.cur->ck.meta.model_version == 40 && atomic_load(&s.cur->refs) == 1, "last model, one ref");
    live_slot_destroy(&s);
}

int main(void) {
    RUN(test_build_and_search);
    RUN(test_refuses_empty);
    RUN(test_holder_survives_swap);
    RUN(test_concurrent_swaps);
    return TEST_REPORT();
}
