/* replica_state.c - see replica_state.h. Sections: per-user item lists, applying events,
 * reads. */
#include "replica_state.h"

#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_LIST 16 /* a user's list is searched linearly up to this size, then by bisection */
#define RSEEN 0x80000000u /* counts[i]: the pair has an interaction of a seen type */
#define RCOUNT_MAX 0x7fffffffu

/* One user's live items in order of first interaction, and how often each was interacted with:
 *
 *   items[0..n)   item ids, first interaction first
 *   counts[0..n)  interactions with items[i] (saturating at RCOUNT_MAX: only the live
 *                 interaction count of the stats would be off, after 2 billion of one pair),
 *                 with RSEEN set once one of them was of a type in the seen-types filter
 *                 (rstate_seen_types): the reads then give only those items
 *   order[0..n)   positions in items[] sorted by item id, for the look-up by bisection;
 *                 NULL until the arrays' room passes SMALL_LIST (then a scan is as fast)
 *
 * 12 bytes per distinct pair, before the arrays' growth room (doubling). A new item moves the
 * part of order[] after its place: linear in the user's items, like the store's own copy
 * (store_seen.c), which scans the list. */
typedef struct ruser {
    int32_t *items;
    uint32_t *counts;
    uint32_t *order;
    uint32_t n, cap;
    int64_t deleted_seq;   /* latest deletion, 0 = never */
} ruser;

struct replica_state {
    pthread_rwlock_t lock;     /* everything below but the popularity cache */
    nc_idmap users, items;
    ruser *u;                  /* users.n entries in use */
    size_t ucap;
    int64_t *pop;              /* items.n entries: users with a live interaction */
    size_t pcap;
    int64_t cursor, pairs, interactions, deletions, live_users;

    pthread_mutex_t pmu;       /* the popularity cache; taken before lock, never inside it */
    int popular_k;
    int32_t *top;              /* item ids, most popular first */
    int64_t *top_pop;
    size_t n_top;
    double top_at;             /* nc_now() of the last computation, < 0 never */
    atomic_int dirty;          /* popularity changed since top was computed */

    item_memo memo;            /* rstate_user_items_mapped's numbers of the caller's (under lock) */
    char *seen_filter;         /* ",purchase,click,": only items of these types are a user's; NULL
                                  = every type (set before the first event, then read-only) */
};

/* ======================= per-user item lists ======================= */

/* First place in order[] whose item is not below item (order[] must exist). */
static uint32_t ruser_lower_bound(const ruser *u, int32_t item) {
    uint32_t lo = 0, hi = u->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (u->items[u->order[mid]] < item) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Position of item in u's list, or -1. */
static int32_t ruser_find(const ruser *u, int32_t item) {
    if (!u->order) {
        for (uint32_t i = 0; i < u->n; i++)
            if (u->items[i] == item) return (int32_t)i;
        return -1;
    }
    uint32_t at = ruser_lower_bound(u, item);
    return at < u->n && u->items[u->order[at]] == item ? (int32_t)u->order[at] : -1;
}

/* Orders positions by their item (qsort_r's ctx: the items). */
static int cmp_pos(const void *x, const void *y, void *ctx) {
    const int32_t *items = ctx;
    int32_t a = items[*(const uint32_t *)x], b = items[*(const uint32_t *)y];
    return (a > b) - (a < b);
}

/* Grows the arrays to cap; order[] from the first time cap passes SMALL_LIST, made then from
 * every position, sorted. */
static int ruser_grow(ruser *u, uint32_t cap, nc_err *e) {
    int32_t *items = realloc(u->items, cap * sizeof *items);
    if (items) u->items = items;
    uint32_t *counts = items ? realloc(u->counts, cap * sizeof *counts) : NULL;
    if (counts) u->counts = counts;
    uint32_t *order = counts && cap > SMALL_LIST ? realloc(u->order, cap * sizeof *order) : NULL;
    if (!counts || (cap > SMALL_LIST && !order))
        return nc_fail(e, NC_ENOMEM, "replica state: out of memory for %u items of a user", cap);
    if (order && !u->order) {
        for (uint32_t i = 0; i < u->n; i++) order[i] = i;
        qsort_r(order, u->n, sizeof *order, cmp_pos, u->items);
    }
    if (order) u->order = order;
    u->cap = cap;
    return NC_OK;
}

/* Appends a new item (count 1; ruser_find said it is not there). */
static int ruser_push(ruser *u, int32_t item, nc_err *e) {
    if (u->n == u->cap && ruser_grow(u, u->cap ? 2 * u->cap : 4, e) != NC_OK) return NC_ENOMEM;
    if (u->order) {
        uint32_t at = ruser_lower_bound(u, item);
        memmove(u->order + at + 1, u->order + at, (u->n - at) * sizeof *u->order);
        u->order[at] = u->n;
    }
    u->items[u->n] = item;
    u->counts[u->n] = 0;
    u->n++;
    return NC_OK;
}

static void ruser_clear(ruser *u) {
    free(u->items);
    free(u->counts);
    free(u->order);
    int64_t del = u->deleted_seq;
    memset(u, 0, sizeof *u);
    u->deleted_seq = del;
}

/* ======================= applying events ======================= */

replica_state *rstate_new(int popular_k, nc_err *e) {
    replica_state *s = nc_calloc(1, sizeof *s, e);
    if (!s) return NULL;
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    /* a steady stream of readers must not starve the changefeed */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&s->pmu, NULL);
    nc_idmap_init(&s->users);
    nc_idmap_init(&s->items);
    s->popular_k = popular_k > 0 ? popular_k : 1;
    s->top_at = -1;
    return s;
}

/* Frees the data (not the locks): rstate_free and rstate_reset share it. */
static void clear_data(replica_state *s) {
    for (size_t i = 0; i < s->users.n; i++) ruser_clear(&s->u[i]);
    free(s->u);
    free(s->pop);
    nc_idmap_free(&s->users);
    nc_idmap_free(&s->items);
    nc_idmap_init(&s->users);
    nc_idmap_init(&s->items);
    s->u = NULL;
    s->pop = NULL;
    s->ucap = s->pcap = 0;
    s->cursor = s->pairs = s->interactions = s->deletions = s->live_users = 0;
    item_memo_free(&s->memo); /* item numbers start again */
}

void rstate_free(replica_state *s) {
    if (!s) return;
    clear_data(s);
    free(s->top);
    free(s->top_pop);
    free(s->seen_filter);
    pthread_mutex_destroy(&s->pmu);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

/* The popularity list names item ids of the old data: it goes too (pmu before lock). */
void rstate_reset(replica_state *s) {
    pthread_mutex_lock(&s->pmu);
    pthread_rwlock_wrlock(&s->lock);
    clear_data(s);
    s->n_top = 0;
    s->top_at = -1;
    pthread_rwlock_unlock(&s->lock);
    pthread_mutex_unlock(&s->pmu);
}

/* Interns id into map and makes room for its per-id array (users: ruser, items: pop). */
static int intern_user(replica_state *s, const char *id, int32_t *out, nc_err *e) {
    if (nc_idmap_intern(&s->users, id, strlen(id), out, e) != NC_OK) return e->code;
    return nc_reserve((void **)&s->u, &s->ucap, (size_t)*out + 1, sizeof *s->u, 1024, "replica users", e);
}

static int intern_item(replica_state *s, const char *id, int32_t *out, nc_err *e) {
    if (nc_idmap_intern(&s->items, id, strlen(id), out, e) != NC_OK) return e->code;
    return nc_reserve((void **)&s->pop, &s->pcap, (size_t)*out + 1, sizeof *s->pop, 1024, "replica items", e);
}

int rstate_seen_types(replica_state *s, const char *types, nc_err *e) {
    free(s->seen_filter);
    s->seen_filter = NULL;
    if (!types || !types[0]) return NC_OK;
    size_t n = strlen(types);
    if (!(s->seen_filter = nc_malloc(n + 3, 1, e))) return NC_ENOMEM;
    snprintf(s->seen_filter, n + 3, ",%s,", types);
    return NC_OK;
}

/* Whether an interaction of this type makes its item one of the user's. */
static int seen_type(const replica_state *s, const char *type) {
    if (!s->seen_filter) return 1;
    char key[NC_FEEDBACK_NAME_LEN + 3];
    snprintf(key, sizeof key, ",%s,", type ? type : STORE_TYPE_DEFAULT);
    return strstr(s->seen_filter, key) != NULL;
}

static int add_interaction(replica_state *s, const rstate_event *ev, nc_err *e) {
    int32_t u, it;
    if (!ev->item) return nc_fail(e, NC_EINVAL, "event seq %lld: an interaction without an item", (long long)ev->seq);
    if (intern_user(s, ev->user, &u, e) != NC_OK || intern_item(s, ev->item, &it, e) != NC_OK) return e->code;
    ruser *r = &s->u[u];
    int32_t pos = ruser_find(r, it);
    if (pos < 0) {
        if (ruser_push(r, it, e) != NC_OK) return e->code;
        pos = (int32_t)r->n - 1;
        if (r->n == 1) s->live_users++;
        s->pop[it]++;
        s->pairs++;
        atomic_store(&s->dirty, 1);
    }
    uint32_t *c = &r->counts[pos];
    *c = (*c & RSEEN) | ((*c & RCOUNT_MAX) + ((*c & RCOUNT_MAX) < RCOUNT_MAX));
    if (seen_type(s, ev->feedback)) *c |= RSEEN;
    s->interactions++;
    return NC_OK;
}

static int delete_user(replica_state *s, const rstate_event *ev, nc_err *e) {
    int32_t u;
    if (intern_user(s, ev->user, &u, e) != NC_OK) return e->code;
    ruser *r = &s->u[u];
    for (uint32_t i = 0; i < r->n; i++) {
        s->pop[r->items[i]]--;
        s->interactions -= (int64_t)(r->counts[i] & RCOUNT_MAX);
    }
    s->pairs -= r->n;
    if (r->n) s->live_users--;
    ruser_clear(r);
    r->deleted_seq = ev->seq;
    s->deletions++;
    atomic_store(&s->dirty, 1);
    return NC_OK;
}

int rstate_apply(replica_state *s, const rstate_event *ev, size_t n, int64_t cursor, nc_err *e) {
    int rc = NC_OK;
    pthread_rwlock_wrlock(&s->lock);
    for (size_t i = 0; i < n && rc == NC_OK; i++) {
        if (ev[i].seq <= s->cursor) {
            rc = nc_fail(e, NC_EINVAL, "event seq %lld is not above the cursor %lld", (long long)ev[i].seq,
                         (long long)s->cursor);
        } else if (!ev[i].user) {
            rc = nc_fail(e, NC_EINVAL, "event seq %lld has no user", (long long)ev[i].seq);
        } else {
            rc = ev[i].kind == RSTATE_DELETION ? delete_user(s, &ev[i], e) : add_interaction(s, &ev[i], e);
            if (rc == NC_OK) s->cursor = ev[i].seq;
        }
    }
    if (rc == NC_OK && cursor > s->cursor) s->cursor = cursor;
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int64_t rstate_cursor(replica_state *s) {
    pthread_rwlock_rdlock(&s->lock);
    int64_t c = s->cursor;
    pthread_rwlock_unlock(&s->lock);
    return c;
}

void rstate_stats_get(replica_state *s, rstate_stats *out) {
    pthread_rwlock_rdlock(&s->lock);
    *out = (rstate_stats){s->cursor, s->live_users, s->pairs, s->interactions, s->deletions};
    pthread_rwlock_unlock(&s->lock);
}

/* ======================= reads ======================= */

/* A user's items as the reads give them: the user's own arrays without a seen-types filter,
 * else a copy of the items marked RSEEN (owned when it is not r's). */
typedef struct seen_list {
    const int32_t *items;
    const uint32_t *counts;
    size_t n;
} seen_list;

static int seen_of(const replica_state *s, const ruser *r, seen_list *l, nc_err *e) {
    if (!s->seen_filter) {
        *l = (seen_list){r->items, r->counts, r->n};
        return NC_OK;
    }
    int32_t *items = nc_malloc(r->n + 1, sizeof *items, e);
    uint32_t *counts = items ? nc_malloc(r->n + 1, sizeof *counts, e) : NULL;
    if (!counts) {
        free(items);
        return NC_ENOMEM;
    }
    size_t n = 0;
    for (uint32_t i = 0; i < r->n; i++)
        if (r->counts[i] & RSEEN) items[n] = r->items[i], counts[n++] = r->counts[i];
    *l = (seen_list){items, counts, n};
    return NC_OK;
}

static void seen_list_free(seen_list *l, const ruser *r) {
    if (l->items && l->items != r->items) {
        free((void *)l->items);
        free((void *)l->counts);
    }
}

/* Copies n ids (with counts: counts64[i], or counts32[i] when counts64 is NULL) into a fresh
 * store_items: one blob of strings, as the store does, so store_items_free releases it. ids[i]
 * is map->ids[idx[i]]. */
static int build_items(const nc_idmap *map, const int32_t *idx, const int64_t *counts64, const uint32_t *counts32,
                       size_t n, store_items *out, nc_err *e) {
    size_t bytes = 1;
    for (size_t i = 0; i < n; i++) bytes += strlen(map->ids[idx[i]]) + 1;
    out->ids = nc_malloc(n + 1, sizeof *out->ids, e);
    out->counts = out->ids ? nc_malloc(n + 1, sizeof *out->counts, e) : NULL;
    out->blob_ = out->counts ? nc_malloc(bytes, 1, e) : NULL;
    if (!out->blob_) {
        store_items_free(out);
        return NC_ENOMEM;
    }
    char *p = out->blob_;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(map->ids[idx[i]]);
        memcpy(p, map->ids[idx[i]], len + 1);
        out->ids[i] = p;
        out->counts[i] = counts64 ? counts64[i] : (int64_t)(counts32[i] & RCOUNT_MAX);
        p += len + 1;
    }
    out->n = n;
    return NC_OK;
}

int rstate_user_items(replica_state *s, const char *user, store_items *out, int64_t *deleted_seq, nc_err *e) {
    memset(out, 0, sizeof *out);
    if (deleted_seq) *deleted_seq = 0;
    if (!user) return nc_fail(e, NC_EINVAL, "user id is missing");
    pthread_rwlock_rdlock(&s->lock);
    int32_t u = nc_idmap_find(&s->users, user, strlen(user));
    int rc = NC_OK;
    if (u >= 0) {
        const ruser *r = &s->u[u];
        if (deleted_seq) *deleted_seq = r->deleted_seq;
        seen_list l = {0};
        rc = seen_of(s, r, &l, e);
        if (!rc) rc = build_items(&s->items, l.items, NULL, l.counts, l.n, out, e);
        seen_list_free(&l, r);
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int rstate_user_items_mapped(replica_state *s, const char *user, uint64_t tag, store_item_map_fn map, void *ctx,
                             store_ids *out, int64_t *deleted_seq) {
    out->n = 0;
    if (deleted_seq) *deleted_seq = 0;
    if (!user || !map) return 0;
    pthread_rwlock_rdlock(&s->lock);
    int use = item_memo_ensure(&s->memo, &s->lock, tag, s->items.n), served = 1;
    int32_t u = nc_idmap_find(&s->users, user, strlen(user));
    if (u >= 0) {
        const ruser *r = &s->u[u];
        if (deleted_seq) *deleted_seq = r->deleted_seq;
        seen_list l = {0};
        served = seen_of(s, r, &l, NULL) == NC_OK &&
                 item_memo_map_list(&s->memo, use, &s->items, l.items, l.n, map, ctx, out);
        seen_list_free(&l, r);
    }
    pthread_rwlock_unlock(&s->lock);
    return served;
}

/* 1 when item a ranks before item b: more users, then brought first by the feed. */
static int ranks_before(const int64_t *pop, int32_t a, int32_t b) {
    return pop[a] != pop[b] ? pop[a] > pop[b] : a < b;
}

/* Sifts heap[i] down a heap of n whose root is the item ranked LAST (a min-heap by rank). */
static void sift_down(int32_t *heap, size_t n, size_t i, const int64_t *pop) {
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) return;
        if (c + 1 < n && ranks_before(pop, heap[c], heap[c + 1])) c++; /* the later-ranked child */
        if (!ranks_before(pop, heap[i], heap[c])) return;
        int32_t t = heap[i];
        heap[i] = heap[c];
        heap[c] = t;
        i = c;
    }
}

/* The k best of items 0..ni) by ranks_before, best first, into top (room for k): a heap of the
 * k best seen so far, so n log k instead of sorting every item. Returns how many (items with
 * pop 0 are left out). */
static size_t select_top(const int64_t *pop, size_t ni, size_t k, int32_t *top) {
    size_t n = 0;
    for (size_t i = 0; i < ni && k > 0; i++) {
        if (pop[i] <= 0) continue;
        if (n < k) { /* grow: sift the new item up */
            size_t j = n++;
            top[j] = (int32_t)i;
            while (j > 0 && ranks_before(pop, top[(j - 1) / 2], top[j])) {
                int32_t t = top[j];
                top[j] = top[(j - 1) / 2];
                top[(j - 1) / 2] = t;
                j = (j - 1) / 2;
            }
        } else if (ranks_before(pop, (int32_t)i, top[0])) { /* beats the worst kept */
            top[0] = (int32_t)i;
            sift_down(top, n, 0, pop);
        }
    }
    for (size_t m = n; m > 1; m--) { /* heap sort: the worst goes to the end each time */
        int32_t t = top[0];
        top[0] = top[m - 1];
        top[m - 1] = t;
        sift_down(top, m - 1, 0, pop);
    }
    return n;
}

/* Recomputes the top list (pmu held). The counts are copied under the read lock (a memcpy)
 * and ranked after it is released, so the changefeed and readers never wait for the ranking. */
static int compute_top(replica_state *s, nc_err *e) {
    pthread_rwlock_rdlock(&s->lock);
    size_t ni = s->items.n, k = (size_t)s->popular_k;
    int64_t *pop = nc_malloc(ni + 1, sizeof *pop, e);
    if (pop && ni) memcpy(pop, s->pop, ni * sizeof *pop); /* s->pop is NULL before the first item */
    pthread_rwlock_unlock(&s->lock);
    int32_t *top = pop ? nc_malloc(k + 1, sizeof *top, e) : NULL;
    int64_t *top_pop = top ? nc_malloc(k + 1, sizeof *top_pop, e) : NULL;
    if (!top_pop) {
        free(pop);
        free(top);
        return NC_ENOMEM;
    }
    size_t n = select_top(pop, ni, k, top);
    for (size_t i = 0; i < n; i++) top_pop[i] = pop[top[i]];
    free(pop);
    free(s->top);
    free(s->top_pop);
    s->top = top;
    s->top_pop = top_pop;
    s->n_top = n;
    s->top_at = nc_now();
    return NC_OK;
}

int rstate_popular(replica_state *s, int k, store_items *out, nc_err *e) {
    memset(out, 0, sizeof *out);
    if (k < 0) return nc_fail(e, NC_EINVAL, "popular: k=%d must be >= 0", k);
    pthread_mutex_lock(&s->pmu);
    int rc = NC_OK;
    if (s->top_at < 0 || (atomic_load(&s->dirty) && nc_now() - s->top_at >= 0.5)) {
        atomic_store(&s->dirty, 0);
        rc = compute_top(s, e);
    }
    size_t n = s->n_top < (size_t)k ? s->n_top : (size_t)k;
    if (!rc) {
        pthread_rwlock_rdlock(&s->lock); /* item ids are only ever added: top stays valid */
        rc = build_items(&s->items, s->top, s->top_pop, NULL, n, out, e);
        pthread_rwlock_unlock(&s->lock);
    }
    pthread_mutex_unlock(&s->pmu);
    return rc;
}
