/* rec_cache.c - see rec_cache.h. */
#include "rec_cache.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* One user's list; the four arrays follow the header in data[] (n int32 each; scores are
 * floats of the same size): ids and scores in rank order, then the ids sorted with each one's
 * rank, for the exclusion look-ups. */
typedef struct rec_entry {
    struct rec_entry *retired_next; /* on a retired list once replaced or evicted */
    atomic_int used;                /* made for a request, or has answered one */
    atomic_int ref;                 /* answered since the clock hand last passed (second chance) */
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
    atomic_size_t bytes;         /* live + retired, for readers of the figure */
    /* Readers count themselves in active[epoch & 1] while they hold an entry (reader_enter). */
    atomic_uint_fast64_t epoch;
    atomic_long active[2];
    /* Writers (puts, evictions, frees of retired lists) hold mu. */
    pthread_mutex_t mu;
    size_t live;                 /* bytes of the entries in slots */
    int32_t hand;                /* the clock hand: next slot to look at for an eviction */
    rec_entry *fresh;            /* retired since the last epoch flip */
    rec_entry *limbo;            /* retired before it: freed once active[limbo_bucket] is 0 */
    int limbo_bucket;
    atomic_uint_fast64_t *evictions; /* the caller's counter, or NULL */
    /* Admission while full (the doorkeeper): a user's first miss sets their bit and is only
     * scanned, a second miss before the bits are cleared earns a list. The bits are cleared
     * once more users were turned away than there are lists. */
    _Atomic uint64_t *door;      /* n_users bits */
    atomic_long door_count;      /* bits set since the last clearing */
    atomic_long n_live;          /* entries in slots */
};

static int32_t *e_ids(rec_entry *en) { return en->data; }
static float *e_scores(rec_entry *en) { return (float *)(en->data + en->n); }
static int32_t *e_sorted(rec_entry *en) { return en->data + 2 * (size_t)en->n; }
static int32_t *e_rank(rec_entry *en) { return en->data + 3 * (size_t)en->n; }

static size_t entry_bytes(int32_t n) { return sizeof(rec_entry) + 4 * sizeof(int32_t) * (size_t)n; }

rec_cache *rec_cache_create(int32_t n_users, size_t budget, atomic_uint_fast64_t *evictions) {
    if (!budget || n_users < 1) return NULL;
    rec_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->slots = calloc((size_t)n_users, sizeof *c->slots); /* zero = NULL on every target we build for */
    c->door = calloc(((size_t)n_users + 63) / 64, sizeof *c->door);
    if (!c->slots || !c->door || pthread_mutex_init(&c->mu, NULL)) {
        free(c->slots);
        free(c->door);
        free(c);
        return NULL;
    }
    c->n_users = n_users;
    c->budget = budget;
    c->evictions = evictions;
    atomic_init(&c->bytes, 0);
    atomic_init(&c->epoch, 0);
    atomic_init(&c->active[0], 0);
    atomic_init(&c->active[1], 0);
    atomic_init(&c->door_count, 0);
    atomic_init(&c->n_live, 0);
    return c;
}

static void free_list(rec_entry *en) {
    for (rec_entry *next; en; en = next) {
        next = en->retired_next;
        free(en);
    }
}

void rec_cache_free(rec_cache *c) {
    if (!c) return;
    for (int32_t u = 0; u < c->n_users; u++) free(atomic_load_explicit(&c->slots[u], memory_order_relaxed));
    free_list(c->fresh);
    free_list(c->limbo);
    pthread_mutex_destroy(&c->mu);
    free(c->door);
    free(c->slots);
    free(c);
}

/* ==== safe reclamation ===================================================================
 *
 * A reader announces itself in the bucket of the current epoch and checks that the epoch did
 * not move meanwhile (else it retries), so once the epoch has moved on from e, no reader can
 * newly enter bucket e & 1. A writer unlinks an entry (eviction or replacement) and puts it
 * on `fresh`; when `limbo` is empty it flips the epoch and moves `fresh` to `limbo`; whoever
 * could still hold those entries entered before the flip, in the old bucket, and `limbo` is
 * freed once that bucket is empty. A flip waits for the previous limbo to be freed, so the
 * readers of older epochs are gone by then. Readers hold an entry for microseconds and never
 * wait; a writer never waits either (it frees what it can and refuses a put that does not fit
 * yet). */

/* Enters a read section: returns the bucket to leave with. */
static int reader_enter(rec_cache *c) {
    for (;;) {
        uint_fast64_t e = atomic_load(&c->epoch);
        atomic_fetch_add(&c->active[e & 1], 1);
        if (atomic_load(&c->epoch) == e) return (int)(e & 1);
        atomic_fetch_sub(&c->active[e & 1], 1);
        sched_yield();
    }
}

static void reader_leave(rec_cache *c, int bucket) { atomic_fetch_sub(&c->active[bucket], 1); }

/* Bytes of a list of retired entries. */
static size_t list_bytes(const rec_entry *en) {
    size_t n = 0;
    for (; en; en = en->retired_next) n += entry_bytes(en->n);
    return n;
}

/* Frees the retired entries no reader can hold any more; flips the epoch when it can. Called
 * with mu held. */
static void reclaim(rec_cache *c) {
    for (int pass = 0; pass < 2; pass++) {
        if (c->limbo && atomic_load(&c->active[c->limbo_bucket]) == 0) {
            atomic_fetch_sub(&c->bytes, list_bytes(c->limbo));
            free_list(c->limbo);
            c->limbo = NULL;
        }
        if (c->limbo || !c->fresh) return;
        uint_fast64_t e = atomic_fetch_add(&c->epoch, 1);
        c->limbo = c->fresh;
        c->limbo_bucket = (int)(e & 1);
        c->fresh = NULL;
    }
}

/* Takes an entry out of use (its slot already cleared or replaced); freed by reclaim. Called
 * with mu held. */
static void retire(rec_cache *c, rec_entry *en) {
    c->live -= entry_bytes(en->n);
    atomic_fetch_sub_explicit(&c->n_live, 1, memory_order_relaxed);
    en->retired_next = c->fresh;
    c->fresh = en;
}

/* Evicts one list that has not answered since the clock hand last passed it (clearing the
 * mark of those that have), never user keep's. Returns 0 when there was nothing to evict.
 * Called with mu held. */
static int evict_one(rec_cache *c, int32_t keep) {
    for (int64_t step = 0; step < 2 * (int64_t)c->n_users; step++) {
        int32_t u = c->hand;
        c->hand = u + 1 < c->n_users ? u + 1 : 0;
        rec_entry *en = atomic_load_explicit(&c->slots[u], memory_order_relaxed);
        if (!en || u == keep || atomic_exchange_explicit(&en->ref, 0, memory_order_relaxed)) continue;
        atomic_store_explicit(&c->slots[u], NULL, memory_order_release);
        retire(c, en);
        if (c->evictions) atomic_fetch_add_explicit(c->evictions, 1, memory_order_relaxed);
        return 1;
    }
    return 0;
}

size_t rec_cache_bytes(const rec_cache *c) {
    return c ? atomic_load_explicit(&c->bytes, memory_order_relaxed) : 0;
}

int32_t rec_cache_len(rec_cache *c, int32_t u) {
    if (!c || u < 0 || u >= c->n_users) return 0;
    int b = reader_enter(c);
    const rec_entry *en = atomic_load_explicit(&c->slots[u], memory_order_acquire);
    int32_t n = en ? en->n : 0;
    reader_leave(c, b);
    return n;
}

int rec_cache_used(rec_cache *c, int32_t u) {
    if (!c || u < 0 || u >= c->n_users) return 0;
    int b = reader_enter(c);
    rec_entry *en = atomic_load_explicit(&c->slots[u], memory_order_acquire);
    int used = en && atomic_load_explicit(&en->used, memory_order_relaxed);
    reader_leave(c, b);
    return used;
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

/* Answers from entry en (see rec_cache_answer), inside a read section. */
static int answer_from(rec_entry *en, int64_t deleted_seq, const int32_t *excl, size_t n_excl, int32_t k,
                       int32_t *out_ids, float *out_scores, int32_t *out_n) {
    if (!en) return -1;
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
    /* Each flag written only when it changes: no cache-line ping-pong between readers. */
    if (!atomic_load_explicit(&en->used, memory_order_relaxed)) atomic_store_explicit(&en->used, 1, memory_order_relaxed);
    if (!atomic_load_explicit(&en->ref, memory_order_relaxed)) atomic_store_explicit(&en->ref, 1, memory_order_relaxed);
    for (int32_t r = 0; r < en->n && got < k; r++) {
        if (gone[r]) continue;
        out_ids[got] = ids[r];
        out_scores[got] = scores[r];
        got++;
    }
    if (got < k && !en->complete) return -2; /* a candidate past the list might belong here */
    *out_n = got;
    return 1;
}

/* A user without a list while the cache is full: 1 when this is their second miss since the
 * doorkeeper's bits were last cleared (a list is worth an eviction), else 0 (their bit is set
 * now). Under a cyclic or uniform demand larger than the budget, lists would be made and
 * evicted on every request, slower than scanning; with this only the users who come back soon
 * get one. */
static int admitted(rec_cache *c, int32_t u) {
    if (atomic_load_explicit(&c->bytes, memory_order_relaxed) < c->budget - c->budget / 16) return 1; /* room */
    _Atomic uint64_t *w = &c->door[u / 64];
    uint64_t bit = UINT64_C(1) << (u % 64);
    if (atomic_load_explicit(w, memory_order_relaxed) & bit) return 1;
    atomic_fetch_or_explicit(w, bit, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&c->door_count, 1, memory_order_relaxed) + 1 >
        atomic_load_explicit(&c->n_live, memory_order_relaxed)) { /* clear (a racing bit may survive: harmless) */
        atomic_store_explicit(&c->door_count, 0, memory_order_relaxed);
        for (size_t i = 0; i < ((size_t)c->n_users + 63) / 64; i++) atomic_store_explicit(&c->door[i], 0, memory_order_relaxed);
    }
    return 0;
}

int rec_cache_answer(rec_cache *c, int32_t u, int64_t deleted_seq, const int32_t *excl, size_t n_excl, int32_t k,
                     int32_t *out_ids, float *out_scores, int32_t *out_n) {
    if (!c || u < 0 || u >= c->n_users || k < 1) return 0;
    int b = reader_enter(c);
    int r = answer_from(atomic_load_explicit(&c->slots[u], memory_order_acquire), deleted_seq, excl, n_excl, k,
                        out_ids, out_scores, out_n);
    reader_leave(c, b);
    return r == -1 && !admitted(c, u) ? 0 : r;
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
    atomic_init(&en->ref, used);
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

/* Makes room for need more bytes: evicts lists (not keep's) until the live ones leave room,
 * then frees what no reader holds. Returns 1 when need fits now. Called with mu held. */
static int make_room(rec_cache *c, size_t need, int32_t keep) {
    while (c->live + need > c->budget && evict_one(c, keep)) {}
    reclaim(c);
    return atomic_load(&c->bytes) + need <= c->budget;
}

int rec_cache_put(rec_cache *c, int32_t u, int64_t deleted_seq, const int32_t *ids, const float *scores, int32_t n,
                  int complete, int flags) {
    if (!c || u < 0 || u >= c->n_users || n < 0 || n > REC_CACHE_MAX_LIST) return 0;
    size_t need = entry_bytes(n);
    if (need > c->budget) return 0;
    rec_entry *en = entry_new(deleted_seq, ids, scores, n, complete, !(flags & REC_PUT_WARM));
    if (!en) return 0;
    pthread_mutex_lock(&c->mu);
    rec_entry *old = atomic_load_explicit(&c->slots[u], memory_order_relaxed);
    int kept = old && !(flags & REC_PUT_REPLACE); /* another thread's list is in place */
    if (!kept) {
        reclaim(c);
        /* A warm-up fills a model nobody reads yet: it stops at the budget, never evicting. */
        if (atomic_load(&c->bytes) + need <= c->budget || (!(flags & REC_PUT_WARM) && make_room(c, need, u))) {
            atomic_fetch_add(&c->bytes, need);
            c->live += need;
            atomic_fetch_add_explicit(&c->n_live, 1, memory_order_relaxed);
            atomic_store_explicit(&c->slots[u], en, memory_order_release);
            if (old) retire(c, old);
            en = NULL;
            kept = 1;
        }
    }
    pthread_mutex_unlock(&c->mu);
    free(en); /* not published */
    return kept;
}
