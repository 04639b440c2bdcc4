/* rec_cache.c - see rec_cache.h. */
#include "rec_cache.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* One user's list; the four arrays follow the header in data[] (n int32 each; scores are
 * floats of the same size): ids and scores in rank order, then the ids sorted with each one's
 * rank, for the exclusion look-ups. */
typedef struct rec_entry {
    struct rec_entry *retired_next; /* on the cache's retired list once replaced */
    atomic_int used;                /* made for a request, or has answered one */
    int64_t deleted_seq;
    int32_t n;
    int32_t complete;
    uint64_t filter[8];  /* bit hash(id) set for every candidate: most exclusions (a user's
                            whole history) miss it and skip the binary search */
    int32_t data[];
} rec_entry;

/* One of the filter's 512 bits for an id (Fibonacci hashing: model ids are dense). */
static uint32_t filter_bit(int32_t id) { return ((uint32_t)id * 2654435769u) >> 23; }

struct rec_cache {
    _Atomic(rec_entry *) *slots; /* n_users */
    int32_t n_users;
    size_t budget;
    atomic_size_t bytes;
    atomic_int full;   /* a list was refused for the budget: stop offering fills */
    _Atomic(rec_entry *) retired; /* replaced lists: a reader may still hold one, so they
                                     are freed only with the cache (their bytes still count) */
};

static int32_t *e_ids(rec_entry *en) { return en->data; }
static float *e_scores(rec_entry *en) { return (float *)(en->data + en->n); }
static int32_t *e_sorted(rec_entry *en) { return en->data + 2 * (size_t)en->n; }
static int32_t *e_rank(rec_entry *en) { return en->data + 3 * (size_t)en->n; }

static size_t entry_bytes(int32_t n) { return sizeof(rec_entry) + 4 * sizeof(int32_t) * (size_t)n; }

rec_cache *rec_cache_create(int32_t n_users, size_t budget) {
    if (!budget || n_users < 1) return NULL;
    rec_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->slots = calloc((size_t)n_users, sizeof *c->slots); /* zero = NULL on every target we build for */
    if (!c->slots) {
        free(c);
        return NULL;
    }
    c->n_users = n_users;
    c->budget = budget;
    atomic_init(&c->bytes, 0);
    atomic_init(&c->full, 0);
    atomic_init(&c->retired, NULL);
    return c;
}

void rec_cache_free(rec_cache *c) {
    if (!c) return;
    for (int32_t u = 0; u < c->n_users; u++) free(atomic_load_explicit(&c->slots[u], memory_order_relaxed));
    for (rec_entry *en = atomic_load_explicit(&c->retired, memory_order_relaxed), *next; en; en = next) {
        next = en->retired_next;
        free(en);
    }
    free(c->slots);
    free(c);
}

size_t rec_cache_bytes(const rec_cache *c) {
    return c ? atomic_load_explicit(&c->bytes, memory_order_relaxed) : 0;
}

int32_t rec_cache_len(const rec_cache *c, int32_t u) {
    if (!c || u < 0 || u >= c->n_users) return 0;
    const rec_entry *en = atomic_load_explicit(&c->slots[u], memory_order_acquire);
    return en ? en->n : 0;
}

int rec_cache_used(const rec_cache *c, int32_t u) {
    if (!c || u < 0 || u >= c->n_users) return 0;
    rec_entry *en = atomic_load_explicit(&c->slots[u], memory_order_acquire);
    return en && atomic_load_explicit(&en->used, memory_order_relaxed);
}

/* Position of id in sorted[0..n), or -1. */
static int32_t find_sorted(const int32_t *sorted, int32_t n, int32_t id) {
    int32_t lo = 0, hi = n;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && sorted[lo] == id ? lo : -1;
}

int rec_cache_answer(const rec_cache *c, int32_t u, int64_t deleted_seq, const int32_t *excl, size_t n_excl,
                     int32_t k, int32_t *out_ids, float *out_scores, int32_t *out_n) {
    if (!c || u < 0 || u >= c->n_users || k < 1) return 0;
    rec_entry *en = atomic_load_explicit(&c->slots[u], memory_order_acquire);
    if (!en) return atomic_load_explicit(&c->full, memory_order_relaxed) ? 0 : -1;
    if (en->deleted_seq != deleted_seq) return 0;
    unsigned char gone[REC_CACHE_MAX_LIST];
    memset(gone, 0, (size_t)en->n);
    const int32_t *sorted = e_sorted(en), *rank = e_rank(en);
    for (size_t i = 0; i < n_excl; i++) {
        uint32_t b = filter_bit(excl[i]);
        if (!(en->filter[b >> 6] >> (b & 63) & 1)) continue;
        int32_t at = find_sorted(sorted, en->n, excl[i]);
        if (at >= 0) gone[rank[at]] = 1;
    }
    const int32_t *ids = e_ids(en);
    const float *scores = e_scores(en);
    int32_t got = 0;
    if (!atomic_load_explicit(&en->used, memory_order_relaxed)) /* written once: no line ping-pong */
        atomic_store_explicit(&en->used, 1, memory_order_relaxed);
    for (int32_t r = 0; r < en->n && got < k; r++) {
        if (gone[r]) continue;
        out_ids[got] = ids[r];
        out_scores[got] = scores[r];
        got++;
    }
    if (got < k && !en->complete) /* a candidate past the list might belong here */
        return atomic_load_explicit(&c->full, memory_order_relaxed) ? 0 : -2;
    *out_n = got;
    return 1;
}

typedef struct id_rank {
    int32_t id, rank;
} id_rank;

static int cmp_id_rank(const void *x, const void *y) {
    int32_t a = ((const id_rank *)x)->id, b = ((const id_rank *)y)->id;
    return (a > b) - (a < b);
}

/* A new entry holding a copy of the list, or NULL without memory. */
static rec_entry *entry_new(int64_t deleted_seq, const int32_t *ids, const float *scores, int32_t n, int complete,
                            int used) {
    rec_entry *en = malloc(entry_bytes(n));
    id_rank *tmp = malloc(((size_t)n + 1) * sizeof *tmp);
    if (!en || !tmp) {
        free(en);
        free(tmp);
        return NULL;
    }
    atomic_init(&en->used, used);
    en->deleted_seq = deleted_seq;
    en->n = n;
    en->complete = complete;
    memcpy(e_ids(en), ids, sizeof(int32_t) * (size_t)n);
    memcpy(e_scores(en), scores, sizeof(float) * (size_t)n);
    memset(en->filter, 0, sizeof en->filter);
    for (int32_t r = 0; r < n; r++) {
        tmp[r] = (id_rank){ids[r], r};
        uint32_t b = filter_bit(ids[r]);
        en->filter[b >> 6] |= 1ull << (b & 63);
    }
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_id_rank);
    for (int32_t i = 0; i < n; i++) {
        e_sorted(en)[i] = tmp[i].id;
        e_rank(en)[i] = tmp[i].rank;
    }
    free(tmp);
    return en;
}

/* Keeps a replaced list until the cache is freed (lock-free push). */
static void retire(rec_cache *c, rec_entry *en) {
    rec_entry *head = atomic_load_explicit(&c->retired, memory_order_relaxed);
    do en->retired_next = head;
    while (!atomic_compare_exchange_weak_explicit(&c->retired, &head, en, memory_order_release, memory_order_relaxed));
}

int rec_cache_put(rec_cache *c, int32_t u, int64_t deleted_seq, const int32_t *ids, const float *scores, int32_t n,
                  int complete, int flags) {
    if (!c || u < 0 || u >= c->n_users || n < 0 || n > REC_CACHE_MAX_LIST) return 0;
    rec_entry *old = atomic_load_explicit(&c->slots[u], memory_order_acquire);
    if (old && !(flags & REC_PUT_REPLACE)) return 1;
    size_t need = entry_bytes(n);
    if (atomic_fetch_add_explicit(&c->bytes, need, memory_order_relaxed) + need > c->budget) {
        atomic_fetch_sub_explicit(&c->bytes, need, memory_order_relaxed);
        atomic_store_explicit(&c->full, 1, memory_order_relaxed);
        return 0;
    }
    rec_entry *en = entry_new(deleted_seq, ids, scores, n, complete, !(flags & REC_PUT_WARM));
    if (!en) {
        atomic_fetch_sub_explicit(&c->bytes, need, memory_order_relaxed);
        return 0;
    }
    if (atomic_compare_exchange_strong_explicit(&c->slots[u], &old, en, memory_order_acq_rel, memory_order_acquire)) {
        if (old) retire(c, old);
        return 1;
    }
    atomic_fetch_sub_explicit(&c->bytes, need, memory_order_relaxed); /* another thread's list is in place */
    free(en);
    return 1;
}
