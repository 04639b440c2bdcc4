/* store_read.c - the store's read side: a pool of read-only connections handed out one per
 * calling thread, and the queries a request needs fast (a user's items, the popular items,
 * statistics, what changed since a watermark).
 *
 * Why a pool: an SQLite connection must not be used by two threads at once, opening one per
 * request costs more than the query, and in WAL mode any number of read-only connections read
 * beside the writer without blocking. A caller takes an idle connection (waiting when all are
 * busy), runs its prepared statements, and gives it back. */
#include "store_impl.h"

#include <stdlib.h>
#include <string.h>

/* ==== store_items: one caller-owned list ================================================ */

/* Frees the three blocks of a list; safe on an empty or already freed list. */
void store_items_free(store_items *x) {
    free(x->ids);
    free(x->counts);
    free(x->blob_);
    memset(x, 0, sizeof *x);
}

/* Builds a store_items row by row: strings go into one growing blob by offset, and the
 * pointers are made once the blob stops moving. */
typedef struct items_builder {
    store_items x;
    size_t *offs;
    size_t cap, blen, bcap;
} items_builder;

/* Appends one id and count, growing the arrays and the blob geometrically. */
static int ib_push(items_builder *b, const char *s, size_t len, int64_t count, nc_err *e) {
    if (b->x.n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 16;
        size_t *offs = realloc(b->offs, cap * sizeof *offs);
        if (offs) b->offs = offs;
        int64_t *counts = offs ? realloc(b->x.counts, cap * sizeof *counts) : NULL;
        if (!counts) return nc_fail(e, NC_ENOMEM, "store: out of memory for %zu ids", cap);
        b->x.counts = counts;
        b->cap = cap;
    }
    if (b->blen + len + 1 > b->bcap) {
        size_t bcap = b->bcap ? 2 * b->bcap : 1024;
        while (bcap < b->blen + len + 1) bcap *= 2;
        char *blob = realloc(b->x.blob_, bcap);
        if (!blob) return nc_fail(e, NC_ENOMEM, "store: out of memory for %zu bytes of ids", bcap);
        b->x.blob_ = blob;
        b->bcap = bcap;
    }
    memcpy(b->x.blob_ + b->blen, s, len);
    b->x.blob_[b->blen + len] = '\0';
    b->offs[b->x.n] = b->blen;
    b->x.counts[b->x.n++] = count;
    b->blen += len + 1;
    return NC_OK;
}

/* Hands the finished list to *out (or frees everything on error). */
static int ib_finish(items_builder *b, int rc, store_items *out, nc_err *e) {
    if (!rc) {
        b->x.ids = nc_malloc(b->x.n, sizeof *b->x.ids, e);
        if (!b->x.ids) rc = NC_ENOMEM;
        for (size_t i = 0; !rc && i < b->x.n; i++) b->x.ids[i] = b->x.blob_ + b->offs[i];
    }
    free(b->offs);
    if (rc) store_items_free(&b->x);
    else *out = b->x;
    memset(b, 0, sizeof *b);
    return rc;
}

/* Reads (text, count) rows from a stepped statement into the builder; resets it. */
static int ib_rows(nc_store *s, sqlite3 *db, sqlite3_stmt *st, items_builder *b, nc_err *e) {
    int rc, src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        rc = ib_push(b, id ? id : "", (size_t)sqlite3_column_bytes(st, 0),
                     sqlite3_column_int64(st, 1), e);
        if (rc) {
            sqlite3_reset(st);
            return rc;
        }
    }
    sqlite3_reset(st);
    return src == SQLITE_DONE ? NC_OK : st_sql_fail(s, db, src, "read ids", e);
}

/* ==== the pool ========================================================================== */

/* Opens one read-only connection and prepares its statements. */
static int reader_open(nc_store *s, st_reader *r, nc_err *e) {
    int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(s->path, &r->db, flags, NULL);
    if (rc != SQLITE_OK) return st_sql_fail(s, r->db, rc, "open reader", e);
    sqlite3_extended_result_codes(r->db, 1);
    sqlite3_busy_timeout(r->db, s->o.busy_timeout_ms);
    struct { sqlite3_stmt **st; const char *sql; } t[] = {
        {&r->user_items, "SELECT i.ext, count(*) FROM interactions x JOIN items i "
                         "ON i.id = x.item_id WHERE x.user_id = "
                         "(SELECT id FROM users WHERE ext = ?1) "
                         "AND (?2 IS NULL OR instr(?2, ',' || x.type || ',') > 0) "
                         "GROUP BY x.item_id ORDER BY min(x.seq)"},
        {&r->user_deleted, "SELECT coalesce(max(seq), 0) FROM deletions WHERE user = ?1"},
        {&r->popular, "SELECT ext, pop FROM items WHERE pop > 0 ORDER BY pop DESC, id LIMIT ?1"},
        {&r->counters, "SELECT last_seq, n_interactions, n_users, n_items FROM counters "
                       "WHERE id = 1"},
        {&r->since_inter, "SELECT count(*) FROM interactions WHERE seq > ?1"},
        {&r->since_del, "SELECT count(*) FROM deletions WHERE seq > ?1"},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        rc = st_prepare(s, r->db, t[i].sql, t[i].st, e);
        if (rc) return rc;
    }
    return NC_OK;
}

/* Finalizes a reader's statements first, or sqlite3_close would refuse. */
static void reader_close(st_reader *r) {
    sqlite3_stmt *all[] = {r->user_items, r->user_deleted, r->popular, r->counters,
                           r->since_inter, r->since_del};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) sqlite3_finalize(all[i]);
    sqlite3_close(r->db); /* NULL is harmless */
    memset(r, 0, sizeof *r);
}

/* Opens the pool at start, so a request never pays for opening a connection. */
int st_readers_open(nc_store *s, nc_err *e) {
    s->readers = nc_calloc((size_t)s->o.readers, sizeof *s->readers, e);
    s->free_ids = s->readers ? nc_calloc((size_t)s->o.readers, sizeof *s->free_ids, e) : NULL;
    if (!s->free_ids) return NC_ENOMEM;
    for (int i = 0; i < s->o.readers; i++) {
        s->n_readers = i + 1;
        int rc = reader_open(s, &s->readers[i], e);
        if (rc) return rc;
        s->free_ids[s->n_free++] = i;
    }
    return NC_OK;
}

/* Closes every reader; they must all be idle (store_close). */
void st_readers_close(nc_store *s) {
    for (int i = 0; s->readers && i < s->n_readers; i++) reader_close(&s->readers[i]);
    free(s->readers);
    free(s->free_ids);
    s->readers = NULL;
    s->free_ids = NULL;
    s->n_readers = s->n_free = 0;
}

/* An idle connection for the calling thread alone, waiting while all are in use. */
st_reader *st_reader_get(nc_store *s) {
    pthread_mutex_lock(&s->rmu);
    while (s->n_free == 0) pthread_cond_wait(&s->rcv, &s->rmu);
    st_reader *r = &s->readers[s->free_ids[--s->n_free]];
    pthread_mutex_unlock(&s->rmu);
    return r;
}

/* Returns a connection (its statements reset) to the pool. */
void st_reader_put(nc_store *s, st_reader *r) {
    pthread_mutex_lock(&s->rmu);
    s->free_ids[s->n_free++] = (int)(r - s->readers);
    pthread_cond_signal(&s->rcv);
    pthread_mutex_unlock(&s->rmu);
}

/* ==== queries =========================================================================== */

/* One integer from a reader statement with an optional int64 parameter; resets it. */
static int read_int(nc_store *s, st_reader *r, sqlite3_stmt *st, const int64_t *arg,
                    int64_t *out, nc_err *e) {
    if (arg) sqlite3_bind_int64(st, 1, *arg);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? NC_OK : st_sql_fail(s, r->db, rc, sqlite3_sql(st), e);
}

/* Ends a read transaction; a failure here loses nothing but is still reported. */
static int end_read(nc_store *s, st_reader *r, int rc, nc_err *e) {
    int crc = sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
    if (!rc && crc != SQLITE_OK) rc = st_sql_fail(s, r->db, crc, "end read", e);
    return rc;
}

/* Items and tombstone are read in one transaction so they agree with each other. */
int store_user_items(nc_store *s, const char *user, store_items *out, int64_t *deleted_seq,
                     nc_err *e) {
    memset(out, 0, sizeof *out);
    if (deleted_seq) *deleted_seq = 0;
    if (!user) return nc_fail(e, NC_EINVAL, "user id is missing");
    st_reader *r = st_reader_get(s);
    items_builder b = {0};
    int rc = st_exec(s, r->db, "BEGIN", "begin read", e);
    if (!rc) {
        sqlite3_bind_text(r->user_items, 1, user, -1, SQLITE_STATIC);
        if (s->seen_filter) sqlite3_bind_text(r->user_items, 2, s->seen_filter, -1, SQLITE_STATIC);
        rc = ib_rows(s, r->db, r->user_items, &b, e);
        sqlite3_clear_bindings(r->user_items);
        sqlite3_bind_text(r->user_deleted, 1, user, -1, SQLITE_STATIC);
        int64_t del = 0;
        if (!rc) rc = read_int(s, r, r->user_deleted, NULL, &del, e);
        sqlite3_clear_bindings(r->user_deleted);
        if (!rc && deleted_seq) *deleted_seq = del;
        rc = end_read(s, r, rc, e);
    }
    st_reader_put(s, r);
    return ib_finish(&b, rc, out, e);
}

/* Re-reads the cached top list. Called with pmu held. */
static int refresh_popular(nc_store *s, nc_err *e) {
    st_reader *r = st_reader_get(s);
    items_builder b = {0};
    sqlite3_bind_int64(r->popular, 1, s->o.popular_cache_k);
    int rc = ib_rows(s, r->db, r->popular, &b, e);
    st_reader_put(s, r);
    store_items fresh;
    rc = ib_finish(&b, rc, &fresh, e);
    if (rc) return rc;
    store_items_free(&s->pop);
    s->pop = fresh;
    s->pop_at = nc_now();
    return NC_OK;
}

/* Copies from the cache, so the hot path for unknown users costs no query at all. */
int store_popular(nc_store *s, int k, store_items *out, nc_err *e) {
    memset(out, 0, sizeof *out);
    if (k < 0) return nc_fail(e, NC_EINVAL, "popular: k=%d must be >= 0", k);
    pthread_mutex_lock(&s->pmu);
    int rc = NC_OK;
    if (s->pop_at < 0 || (nc_now() - s->pop_at) * 1e3 >= s->o.popular_refresh_ms)
        rc = refresh_popular(s, e);
    items_builder b = {0};
    for (size_t i = 0; !rc && i < s->pop.n && i < (size_t)k; i++)
        rc = ib_push(&b, s->pop.ids[i], strlen(s->pop.ids[i]), s->pop.counts[i], e);
    pthread_mutex_unlock(&s->pmu);
    return ib_finish(&b, rc, out, e);
}

/* The counters row: watermark and live row counts. */
static int read_counters(nc_store *s, st_reader *r, store_stats *out, nc_err *e) {
    int rc = sqlite3_step(r->counters);
    if (rc == SQLITE_ROW) {
        out->last_seq = sqlite3_column_int64(r->counters, 0);
        out->interactions = sqlite3_column_int64(r->counters, 1);
        out->users = sqlite3_column_int64(r->counters, 2);
        out->items = sqlite3_column_int64(r->counters, 3);
    }
    sqlite3_reset(r->counters);
    if (rc == SQLITE_DONE) return nc_fail(e, NC_EFORMAT, "store %s: counters row missing", s->path);
    return rc == SQLITE_ROW ? NC_OK : st_sql_fail(s, r->db, rc, "read counters", e);
}

/* Counts come from the counters row (no COUNT(*) scans), so /metrics stays cheap. */
int store_stats_get(nc_store *s, store_stats *out, nc_err *e) {
    memset(out, 0, sizeof *out);
    st_reader *r = st_reader_get(s);
    int rc = read_counters(s, r, out, e);
    st_reader_put(s, r);
    out->db_bytes = st_file_size(s->path, "");
    out->wal_bytes = st_file_size(s->path, "-wal");
    pthread_mutex_lock(&s->qmu);
    out->commits = s->commits;
    out->jobs = s->jobs;
    out->rows = s->rows;
    out->replays = s->replays;
    out->job_errors = s->job_errors;
    out->checkpoints = s->checkpoints;
    out->queue_depth = s->qlen;
    out->in_writer = s->running;
    out->writable = s->writable;
    pthread_mutex_unlock(&s->qmu);
    out->seen_ready = st_seen_ready(s);
    return rc;
}

/* Both counts are range scans on the sequence keys: cheap enough to poll. */
int store_changes_since(nc_store *s, int64_t seq, store_since *out, nc_err *e) {
    memset(out, 0, sizeof *out);
    st_reader *r = st_reader_get(s);
    store_stats c;
    int rc = st_exec(s, r->db, "BEGIN", "begin read", e);
    if (!rc) {
        rc = read_counters(s, r, &c, e);
        if (!rc) rc = read_int(s, r, r->since_inter, &seq, &out->interactions, e);
        if (!rc) rc = read_int(s, r, r->since_del, &seq, &out->deletions, e);
        if (!rc) out->last_seq = c.last_seq;
        rc = end_read(s, r, rc, e);
    }
    st_reader_put(s, r);
    return rc;
}
