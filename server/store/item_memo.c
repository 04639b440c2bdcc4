/* item_memo.c - see store.h, the item memo section. */
#include "store.h"

#include <stdlib.h>

#define MAP_UNKNOWN (-2)

/* 1 when the table belongs to tag and covers n_items items. */
static int current(const item_memo *m, uint64_t tag, size_t n_items) {
    return m->set && m->tag == tag && m->n >= n_items;
}

/* Write lock held: a table for tag of n_items entries, keeping the same tag's entries. */
static void retag(item_memo *m, uint64_t tag, size_t n_items) {
    if (current(m, tag, n_items)) return; /* another thread did it meanwhile */
    size_t keep = m->set && m->tag == tag ? m->n : 0;
    atomic_int *ids = malloc((n_items ? n_items : 1) * sizeof *ids);
    if (!ids) return;
    for (size_t i = 0; i < n_items; i++) atomic_init(&ids[i], i < keep ? atomic_load(&m->ids[i]) : MAP_UNKNOWN);
    free(m->ids);
    m->ids = ids;
    m->n = n_items;
    m->tag = tag;
    m->set = 1;
}

int item_memo_ensure(item_memo *m, pthread_rwlock_t *lock, uint64_t tag, size_t n_items) {
    if (!current(m, tag, n_items)) {
        pthread_rwlock_unlock(lock);
        pthread_rwlock_wrlock(lock);
        retag(m, tag, n_items);
        pthread_rwlock_unlock(lock);
        pthread_rwlock_rdlock(lock);
    }
    return m->set && m->tag == tag;
}

/* The caller's number of item i: remembered, or asked of map (and remembered when use). */
static int32_t memo_get(item_memo *m, int use, const nc_idmap *items, int32_t i, store_item_map_fn map, void *ctx) {
    if (!use || (size_t)i >= m->n) return map(ctx, items->ids[i]);
    int32_t id = atomic_load_explicit(&m->ids[i], memory_order_relaxed);
    if (id != MAP_UNKNOWN) return id;
    id = map(ctx, items->ids[i]);
    atomic_store_explicit(&m->ids[i], id, memory_order_relaxed);
    return id;
}

void item_memo_free(item_memo *m) {
    free(m->ids);
    m->ids = NULL;
    m->n = 0;
    m->set = 0;
}

/* Appends id to out, growing it. 0 when out of memory. */
static int push(store_ids *out, int32_t id) {
    if (out->n == out->cap) {
        size_t cap = out->cap ? 2 * out->cap : 64;
        int32_t *g = realloc(out->ids, cap * sizeof *g);
        if (!g) return 0;
        out->ids = g;
        out->cap = cap;
    }
    out->ids[out->n++] = id;
    return 1;
}

int item_memo_map_list(item_memo *m, int use, const nc_idmap *items, const int32_t *list, uint32_t n,
                       store_item_map_fn map, void *ctx, store_ids *out) {
    for (uint32_t i = 0; i < n; i++) {
        int32_t id = memo_get(m, use, items, list[i], map, ctx);
        if (id >= 0 && !push(out, id)) return 0;
    }
    return 1;
}
