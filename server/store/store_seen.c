/* store_seen.c - the store's in-memory copy of every user's distinct live items and latest
 * deletion: what /recommend excludes, without a query per request.
 *
 * DESIGN. Only the writer thread changes the copy, through the writer connection, and it does
 * so by reading the database, never by replaying what it meant to write: after a COMMIT it
 * reads the interactions and deletions with a sequence number above the copy's and applies
 * them in sequence order, BEFORE it wakes the requests of that commit. So an acknowledged
 * write is in the copy by the time its caller hears of it, a rolled-back job never is, and
 * writes of another process on the same file (nclrec import) arrive with the next commit or
 * within a second (an idle writer looks once a second). A deletion clears the user's list and
 * records its sequence number; the user's interactions after it are the only live ones left.
 *
 * The copy is built on first use (store_seen_items asks for it), by the writer thread, so
 * commands that open the store for a moment (import, export, train) never pay for it. The
 * build goes in slices of at most BUILD_SLICE_S between write groups (first the log in
 * sequence order, duplicates kept; then each user's list de-duplicated, while the writes of
 * the meantime are applied with checks), so a large store never holds acknowledgements up for
 * longer than a slice. Until it is ready, or after an update failed (it is then rebuilt from
 * scratch a second later), callers are told to read the database instead: the copy is never
 * served stale.
 *
 * With the seen_types option (--exclude-types) both queries keep only interactions of those
 * types, so the copy holds exactly what store_user_items answers with the same filter.
 *
 * Memory: 4 bytes per distinct (user, item) pair plus the id maps; a build de-duplicates each
 * user's list once at the end (sort), incremental updates scan the user's list. For
 * store_seen_mapped, 4 bytes per item remember the caller's number of each item (store.h, the item memo). */
#include "store_impl.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define APPLY_CHUNK 4096 /* changes applied per write-lock hold, so readers are never held long */
#define BUILD_SLICE_S 0.005 /* the longest one slice of a build keeps the writer from its queue */

enum { SEEN_OFF, SEEN_WANTED, SEEN_FAILED, SEEN_BUILDING, SEEN_READY };

/* One user's distinct live items, in order of first interaction. */
typedef struct seen_user {
    int32_t *items;        /* indices into st_seen.items */
    uint32_t n, cap;
    int64_t deleted_seq;   /* latest deletion, 0 = never */
} seen_user;

struct st_seen {
    pthread_rwlock_t lock; /* users, items, u (readers: store_seen_items; writer: apply) */
    nc_idmap users, items;
    seen_user *u;          /* users.n entries in use */
    size_t ucap;
    int64_t seq;           /* changes applied up to here; writer thread only */
    int64_t dedup_next;    /* building: next user to de-duplicate, -1 while reading the log */
    atomic_int state;      /* SEEN_* */
    sqlite3_stmt *last_seq, *changes; /* on the writer connection */

    item_memo memo;        /* store_seen_mapped's numbers of the caller's for each item */
};

/* ==== lifecycle ========================================================================= */

/* Called by store_open with the writer connection (before the writer thread starts). */
int st_seen_open(nc_store *s, nc_err *e) {
    st_seen *v = nc_calloc(1, sizeof *v, e);
    if (!v) return NC_ENOMEM;
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    /* a steady stream of /recommend readers must not keep the writer from acknowledging */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&v->lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    if (rc) {
        free(v);
        return nc_fail(e, NC_ENOMEM, "store: cannot create the seen-items lock");
    }
    nc_idmap_init(&v->users);
    nc_idmap_init(&v->items);
    s->seen = v;
    rc = st_prepare(s, s->wdb, "SELECT last_seq FROM counters WHERE id = 1", &v->last_seq, e);
    if (!rc)
        rc = st_prepare(s, s->wdb,
                        "SELECT x.seq, u.ext, i.ext FROM interactions x "
                        "JOIN users u ON u.id = x.user_id JOIN items i ON i.id = x.item_id "
                        "WHERE x.seq > ?1 AND x.seq <= ?2 "
                        "AND (?3 IS NULL OR instr(?3, ',' || x.type || ',') > 0) "
                        "UNION ALL SELECT seq, user, NULL FROM deletions "
                        "WHERE seq > ?1 AND seq <= ?2 ORDER BY 1",
                        &v->changes, e);
    return rc;
}

/* Empties the copy (writer thread, or store_close). Takes the write lock. */
static void seen_clear(st_seen *v) {
    pthread_rwlock_wrlock(&v->lock);
    for (size_t i = 0; i < v->users.n; i++) free(v->u[i].items);
    free(v->u);
    v->u = NULL;
    v->ucap = 0;
    nc_idmap_free(&v->users);
    nc_idmap_free(&v->items);
    nc_idmap_init(&v->users);
    nc_idmap_init(&v->items);
    v->seq = 0;
    item_memo_free(&v->memo); /* item numbers start again: what was remembered no longer applies */
    pthread_rwlock_unlock(&v->lock);
}

/* Releases the statements (before the writer connection closes) and the copy. */
void st_seen_close(nc_store *s) {
    st_seen *v = s->seen;
    if (!v) return;
    sqlite3_finalize(v->last_seq);
    sqlite3_finalize(v->changes);
    seen_clear(v);
    pthread_rwlock_destroy(&v->lock);
    free(v);
    s->seen = NULL;
}

/* ==== applying changes (writer thread, write lock held) ================================== */

/* Index of user id in the copy, making room for its list. */
static int seen_user_of(st_seen *v, const char *id, int32_t *out, nc_err *e) {
    if (nc_idmap_intern(&v->users, id, strlen(id), out, e) != NC_OK) return e->code;
    return nc_reserve((void **)&v->u, &v->ucap, (size_t)*out + 1, sizeof *v->u, 1024, "users' seen items", e);
}

/* Appends item to u's list unless it is there already (check = 0 during a build, which
 * de-duplicates once at the end instead). */
static int seen_push(seen_user *u, int32_t item, int check, nc_err *e) {
    for (uint32_t i = 0; check && i < u->n; i++)
        if (u->items[i] == item) return NC_OK;
    if (u->n == u->cap) {
        uint32_t cap = u->cap ? 2 * u->cap : 8;
        int32_t *it = realloc(u->items, cap * sizeof *it);
        if (!it) return nc_fail(e, NC_ENOMEM, "store: out of memory for %u seen items", cap);
        u->items = it;
        u->cap = cap;
    }
    u->items[u->n++] = item;
    return NC_OK;
}

/* One row of the changes query: an interaction (item not NULL) or a deletion. */
static int seen_apply_row(st_seen *v, sqlite3_stmt *st, int check, nc_err *e) {
    const char *user = (const char *)sqlite3_column_text(st, 1);
    const char *item = (const char *)sqlite3_column_text(st, 2);
    int32_t u, it;
    if (!user) return nc_fail(e, NC_EFORMAT, "store: a change without a user id");
    int rc = seen_user_of(v, user, &u, e);
    if (rc) return rc;
    seen_user *su = &v->u[u];
    if (!item) { /* a deletion: everything before it is gone */
        free(su->items);
        su->items = NULL;
        su->n = su->cap = 0;
        su->deleted_seq = sqlite3_column_int64(st, 0);
        return NC_OK;
    }
    rc = nc_idmap_intern(&v->items, item, strlen(item), &it, e);
    return rc ? rc : seen_push(su, it, check, e);
}

/* (item, position) pairs, for the build's de-duplication. */
typedef struct item_pos {
    int32_t item;
    uint32_t pos;
} item_pos;

static int item_pos_cmp(const void *pa, const void *pb) {
    const item_pos *a = pa, *b = pb;
    if (a->item != b->item) return (a->item > b->item) - (a->item < b->item);
    return (a->pos > b->pos) - (a->pos < b->pos);
}

static int pos_cmp(const void *pa, const void *pb) {
    uint32_t a = ((const item_pos *)pa)->pos, b = ((const item_pos *)pb)->pos;
    return (a > b) - (a < b);
}

/* After a build: keeps each item's first occurrence, in order, and trims the slack. Sorting
 * keeps a build O(n log n) where a scan per row would be quadratic in a user's history. */
static int seen_dedup(seen_user *u, nc_err *e) {
    if (u->n < 2) return NC_OK;
    item_pos *p = nc_malloc(u->n, sizeof *p, e);
    if (!p) return NC_ENOMEM;
    for (uint32_t i = 0; i < u->n; i++) p[i] = (item_pos){u->items[i], i};
    qsort(p, u->n, sizeof *p, item_pos_cmp);
    uint32_t m = 0;
    for (uint32_t i = 0; i < u->n; i++)
        if (i == 0 || p[i].item != p[i - 1].item) p[m++] = p[i];
    qsort(p, m, sizeof *p, pos_cmp);
    for (uint32_t i = 0; i < m; i++) u->items[i] = p[i].item;
    free(p);
    int32_t *t = realloc(u->items, (m ? m : 1) * sizeof *t);
    if (t) u->items = t, u->cap = m ? m : 1;
    u->n = m;
    return NC_OK;
}

/* Steps the changes query, applying rows in chunks under the write lock, until the rows run
 * out (*all = 1) or, with a deadline (> 0), the chunk that passes it; *upto gets the sequence
 * number of the last row applied. check: see seen_push. */
static int seen_apply_rows(nc_store *s, st_seen *v, int check, double deadline, int64_t *upto, int *all,
                           nc_err *e) {
    int rc = NC_OK, step = SQLITE_ROW;
    while (!rc && step == SQLITE_ROW) {
        pthread_rwlock_wrlock(&v->lock);
        for (int k = 0; !rc && k < APPLY_CHUNK; k++) {
            step = sqlite3_step(v->changes);
            if (step != SQLITE_ROW) break;
            rc = seen_apply_row(v, v->changes, check, e);
            *upto = sqlite3_column_int64(v->changes, 0);
        }
        pthread_rwlock_unlock(&v->lock);
        if (deadline > 0 && nc_now() >= deadline) break;
    }
    if (!rc && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = st_sql_fail(s, s->wdb, step, "read changes for the seen items", e);
    *all = step == SQLITE_DONE;
    sqlite3_reset(v->changes);
    return rc;
}

/* Reads and applies what was committed after v->seq, in one read transaction: all of it, or
 * with a deadline (> 0) what fits before it (*caught_up says which). */
static int seen_sync(nc_store *s, st_seen *v, int check, double deadline, int *caught_up, nc_err *e) {
    *caught_up = 0;
    int rc = st_exec(s, s->wdb, "BEGIN", "begin read of changes", e);
    if (rc) return rc;
    int step = sqlite3_step(v->last_seq);
    int64_t last = step == SQLITE_ROW ? sqlite3_column_int64(v->last_seq, 0) : 0, upto = v->seq;
    sqlite3_reset(v->last_seq);
    if (step != SQLITE_ROW) rc = st_sql_fail(s, s->wdb, step, "read sequence counter", e);
    int all = 1;
    if (!rc && last != v->seq) {
        sqlite3_bind_int64(v->changes, 1, v->seq);
        sqlite3_bind_int64(v->changes, 2, last);
        if (s->seen_filter) sqlite3_bind_text(v->changes, 3, s->seen_filter, -1, SQLITE_STATIC);
        rc = seen_apply_rows(s, v, check, deadline, &upto, &all, e);
    }
    int crc = sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL);
    if (!rc && crc != SQLITE_OK) rc = st_sql_fail(s, s->wdb, crc, "end read of changes", e);
    if (!rc) v->seq = all ? last : upto;
    *caught_up = !rc && all;
    return rc;
}

/* De-duplicates users' lists from v->dedup_next on until the deadline (checked after every
 * user of more than 64 items, and every 64 users: one list can hold millions); *done = 1
 * once every user is. */
static int seen_dedup_slice(st_seen *v, double deadline, int *done, nc_err *e) {
    int rc = NC_OK;
    pthread_rwlock_wrlock(&v->lock);
    while (!rc && v->dedup_next < (int64_t)v->users.n) {
        seen_user *u = &v->u[v->dedup_next++];
        int long_list = u->n > 64;
        rc = seen_dedup(u, e);
        if ((long_list || (v->dedup_next & 63) == 0) && nc_now() >= deadline) break;
    }
    *done = v->dedup_next >= (int64_t)v->users.n;
    pthread_rwlock_unlock(&v->lock);
    return rc;
}

/* ==== the writer's side ================================================================= */

/* 1 when the writer must keep the copy current (it has been asked for). */
int st_seen_active(const nc_store *s) {
    return s->seen && atomic_load(&s->seen->state) != SEEN_OFF;
}

/* 1 while the copy answers (for the statistics). */
int st_seen_ready(const nc_store *s) {
    return s->seen && atomic_load(&s->seen->state) == SEEN_READY;
}

/* 1 while a build is wanted or under way: an idle writer goes on with it at once, not at its
 * next tick. */
int st_seen_pending(const nc_store *s) {
    if (!s->seen) return 0;
    int state = atomic_load(&s->seen->state);
    return state == SEEN_WANTED || state == SEEN_BUILDING;
}

/* Writer thread, after each COMMIT, and when idle once a second or, while building, slice
 * after slice: brings a ready copy up to date, or takes the build one slice further (starting
 * it afresh when it was wanted or had failed). A failure drops the copy (callers read the
 * database) and the timer rebuilds it a second later. */
void st_seen_update(nc_store *s) {
    st_seen *v = s->seen;
    if (!st_seen_active(s)) return;
    int state = atomic_load(&v->state), caught_up, done = 0, rc;
    nc_err e;
    if (state == SEEN_READY) {
        rc = seen_sync(s, v, 1, 0, &caught_up, &e);
    } else {
        if (state != SEEN_BUILDING) {
            seen_clear(v);
            v->dedup_next = -1;
            atomic_store(&v->state, SEEN_BUILDING);
        }
        double deadline = nc_now() + BUILD_SLICE_S;
        int deduping = v->dedup_next >= 0; /* then only the writes of the meantime are read */
        rc = seen_sync(s, v, deduping, deduping ? 0 : deadline, &caught_up, &e);
        if (!rc && !deduping && caught_up) v->dedup_next = 0, deduping = 1;
        if (!rc && deduping) rc = seen_dedup_slice(v, deadline, &done, &e);
        if (!rc && done) atomic_store(&v->state, SEEN_READY);
    }
    if (rc == NC_OK) return;
    atomic_store(&v->state, SEEN_FAILED);
    seen_clear(v);
}

/* ==== reads ============================================================================= */

/* Asks the writer for a build (once; after a failure its timer rebuilds). */
static void seen_want(nc_store *s) {
    int off = SEEN_OFF;
    if (!atomic_compare_exchange_strong(&s->seen->state, &off, SEEN_WANTED)) return;
    pthread_mutex_lock(&s->qmu);
    pthread_cond_signal(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
}

int store_seen_items(nc_store *s, const char *user, store_item_fn fn, void *ctx,
                     int64_t *deleted_seq) {
    if (deleted_seq) *deleted_seq = 0;
    if (!s || !s->seen || !user) return 0;
    st_seen *v = s->seen;
    if (atomic_load(&v->state) != SEEN_READY) {
        seen_want(s);
        return 0;
    }
    pthread_rwlock_rdlock(&v->lock);
    int served = atomic_load(&v->state) == SEEN_READY;
    int32_t u = served ? nc_idmap_find(&v->users, user, strlen(user)) : -1;
    if (u >= 0) {
        const seen_user *su = &v->u[u];
        if (deleted_seq) *deleted_seq = su->deleted_seq;
        for (uint32_t i = 0; fn && i < su->n; i++) fn(ctx, v->items.ids[su->items[i]]);
    }
    pthread_rwlock_unlock(&v->lock);
    return served;
}

int store_seen_mapped(nc_store *s, const char *user, uint64_t tag, store_item_map_fn map, void *ctx,
                      store_ids *out, int64_t *deleted_seq) {
    if (deleted_seq) *deleted_seq = 0;
    out->n = 0;
    if (!s || !s->seen || !user || !map) return 0;
    st_seen *v = s->seen;
    if (atomic_load(&v->state) != SEEN_READY) {
        seen_want(s);
        return 0;
    }
    pthread_rwlock_rdlock(&v->lock);
    int use = item_memo_ensure(&v->memo, &v->lock, tag, v->items.n);
    int served = atomic_load(&v->state) == SEEN_READY;
    int32_t u = served ? nc_idmap_find(&v->users, user, strlen(user)) : -1;
    if (u >= 0) {
        const seen_user *su = &v->u[u];
        if (deleted_seq) *deleted_seq = su->deleted_seq;
        if (served) served = item_memo_map_list(&v->memo, use, &v->items, su->items, su->n, map, ctx, out);
    }
    pthread_rwlock_unlock(&v->lock);
    return served;
}
