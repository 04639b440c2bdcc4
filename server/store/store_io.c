/* store_io.c - moving many interactions at once: the training snapshot, CSV export (backup)
 * and bulk import through the group-commit writer. Each read runs in one read transaction of a
 * pooled connection, so it sees one consistent state however many writes go on beside it. */
#include "store_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PROGRESS_EVERY 65536 /* rows between progress calls while exporting */

/* Runs a one-off single-integer query in the reader's current transaction. */
static int one_int(nc_store *s, st_reader *r, const char *sql, int64_t *out, nc_err *e) {
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return st_sql_fail(s, r->db, rc, sql, e);
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? NC_OK : st_sql_fail(s, r->db, rc, sql, e);
}

/* Ends a read transaction, keeping the first error. */
static int end_read(nc_store *s, st_reader *r, int rc, nc_err *e) {
    int crc = sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
    if (!rc && crc != SQLITE_OK) rc = st_sql_fail(s, r->db, crc, "end read", e);
    return rc;
}

/* ==== snapshot ========================================================================== */

/* Database row id -> caller's internal id, filled lazily so each external id is hashed once
 * per snapshot rather than once per row. */
typedef struct id_cache {
    int32_t *map;
    int64_t n;
} id_cache;

/* Row ids are dense (max + 1 is allocated), so a flat array beats a hash here. */
static int cache_init(id_cache *c, int64_t max_id, nc_err *e) {
    c->n = max_id + 1;
    c->map = nc_malloc((size_t)c->n, sizeof *c->map, e);
    if (!c->map) return NC_ENOMEM;
    for (int64_t i = 0; i < c->n; i++) c->map[i] = -1;
    return NC_OK;
}

/* Internal id in m of the row's external id (column col), through the cache. */
static int cache_id(id_cache *c, nc_idmap *m, sqlite3_stmt *st, int id_col, int ext_col,
                    int32_t *out, nc_err *e) {
    int64_t id = sqlite3_column_int64(st, id_col);
    if (id >= 0 && id < c->n && c->map[id] >= 0) {
        *out = c->map[id];
        return NC_OK;
    }
    const char *ext = (const char *)sqlite3_column_text(st, ext_col);
    int rc = nc_idmap_intern(m, ext ? ext : "", (size_t)sqlite3_column_bytes(st, ext_col), out, e);
    if (!rc && id >= 0 && id < c->n) c->map[id] = *out;
    return rc;
}

/* The training weight of a stored type: its weight in ft, 1 for a type ft lacks (a type the
 * configuration no longer names trains like a view) or without ft. */
static uint8_t type_weight(const nc_feedback_types *ft, sqlite3_stmt *st, int col) {
    const char *t = (const char *)sqlite3_column_text(st, col);
    int k = ft && t ? nc_feedback_find(ft, t, (size_t)sqlite3_column_bytes(st, col)) : -1;
    return k < 0 ? 1 : ft->t[k].weight;
}

/* The snapshot's rows, read inside the caller's read transaction. */
static int snapshot_rows(nc_store *s, st_reader *r, const nc_feedback_types *ft, nc_idmap *users,
                         nc_idmap *items, nc_interactions *out, nc_err *e) {
    int64_t max_u, max_i, n;
    id_cache cu = {0}, ci = {0};
    int rc = one_int(s, r, "SELECT coalesce(max(id), 0) FROM users", &max_u, e);
    if (!rc) rc = one_int(s, r, "SELECT coalesce(max(id), 0) FROM items", &max_i, e);
    if (!rc) rc = one_int(s, r, "SELECT n_interactions FROM counters WHERE id = 1", &n, e);
    if (!rc) rc = cache_init(&cu, max_u, e);
    if (!rc) rc = cache_init(&ci, max_i, e);
    if (!rc) rc = nc_inter_reserve(out, out->n + (size_t)n, e);
    sqlite3_stmt *st = NULL;
    const char *sql = "SELECT x.user_id, x.item_id, x.ts, u.ext, i.ext, x.type FROM interactions x "
                      "JOIN users u ON u.id = x.user_id JOIN items i ON i.id = x.item_id "
                      "ORDER BY x.seq";
    if (!rc && (rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL)) != SQLITE_OK)
        rc = st_sql_fail(s, r->db, rc, "prepare snapshot", e);
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        int32_t u, i;
        rc = cache_id(&cu, users, st, 0, 3, &u, e);
        if (!rc) rc = cache_id(&ci, items, st, 1, 4, &i, e);
        if (!rc) rc = nc_inter_push_w(out, u, i, sqlite3_column_int64(st, 2), type_weight(ft, st, 5), e);
    }
    if (!rc && src != SQLITE_DONE) rc = st_sql_fail(s, r->db, src, "read snapshot", e);
    sqlite3_finalize(st);
    free(cu.map);
    free(ci.map);
    return rc;
}

int store_snapshot(nc_store *s, nc_idmap *users, nc_idmap *items, nc_interactions *out,
                   int64_t *watermark, nc_err *e) {
    return store_snapshot_weighted(s, NULL, users, items, out, watermark, e);
}

/* One read transaction: the watermark and the rows come from the same state. */
int store_snapshot_weighted(nc_store *s, const nc_feedback_types *ft, nc_idmap *users, nc_idmap *items,
                            nc_interactions *out, int64_t *watermark, nc_err *e) {
    st_reader *r = st_reader_get(s);
    int64_t seq = 0;
    int rc = st_exec(s, r->db, "BEGIN", "begin snapshot", e);
    if (!rc) {
        rc = one_int(s, r, "SELECT last_seq FROM counters WHERE id = 1", &seq, e);
        if (!rc) rc = snapshot_rows(s, r, ft, users, items, out, e);
        rc = end_read(s, r, rc, e);
    }
    st_reader_put(s, r);
    if (!rc && watermark) *watermark = seq;
    return rc;
}

/* ==== export ============================================================================ */

/* Streams the rows of the export query to f as CSV. */
static int export_rows(nc_store *s, st_reader *r, FILE *f, store_progress_fn progress,
                       void *ctx, int64_t total, int64_t *n_rows, nc_err *e) {
    sqlite3_stmt *st;
    const char *sql = "SELECT u.ext, i.ext, x.ts, x.type FROM interactions x "
                      "JOIN users u ON u.id = x.user_id JOIN items i ON i.id = x.item_id "
                      "ORDER BY x.seq";
    int rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return st_sql_fail(s, r->db, rc, "prepare export", e);
    int64_t n = 0;
    rc = NC_OK;
    if (fputs("user,item,timestamp,type\n", f) == EOF)
        rc = nc_fail(e, NC_EIO, "export: write failed: %s", strerror(errno));
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (fprintf(f, "%s,%s,%lld,%s\n", (const char *)sqlite3_column_text(st, 0),
                    (const char *)sqlite3_column_text(st, 1),
                    (long long)sqlite3_column_int64(st, 2), (const char *)sqlite3_column_text(st, 3)) < 0)
            rc = nc_fail(e, NC_EIO, "export: write failed at row %lld: %s", (long long)n + 1,
                         strerror(errno));
        else if (++n % PROGRESS_EVERY == 0 && progress)
            progress(ctx, n, total);
    }
    if (!rc && src != SQLITE_DONE) rc = st_sql_fail(s, r->db, src, "read for export", e);
    sqlite3_finalize(st);
    if (!rc && (fflush(f) == EOF || ferror(f)))
        rc = nc_fail(e, NC_EIO, "export: write failed: %s", strerror(errno));
    if (!rc && progress) progress(ctx, n, total);
    *n_rows = n;
    return rc;
}

/* One read transaction, so a backup taken under write load is consistent. */
int store_export_csv(nc_store *s, FILE *out, store_progress_fn progress, void *ctx,
                     int64_t *n_rows, nc_err *e) {
    st_reader *r = st_reader_get(s);
    int64_t total = 0, n = 0;
    int rc = st_exec(s, r->db, "BEGIN", "begin export", e);
    if (!rc) {
        rc = one_int(s, r, "SELECT n_interactions FROM counters WHERE id = 1", &total, e);
        if (!rc) rc = export_rows(s, r, out, progress, ctx, total, &n, e);
        rc = end_read(s, r, rc, e);
    }
    st_reader_put(s, r);
    if (n_rows) *n_rows = n;
    return rc;
}

/* ==== import ============================================================================ */

/* Every id and timestamp of the loaded file must be acceptable before anything is written,
 * so a bad file changes nothing. */
static int check_loaded(const char *path, const nc_idmap *users, const nc_idmap *items,
                        const nc_interactions *x, nc_err *e) {
    nc_err sub;
    for (size_t i = 0; i < users->n; i++)
        if (store_check_id("user", users->ids[i], &sub))
            return nc_fail(e, NC_EINVAL, "%s: %s", path, sub.msg);
    for (size_t i = 0; i < items->n; i++)
        if (store_check_id("item", items->ids[i], &sub))
            return nc_fail(e, NC_EINVAL, "%s: %s", path, sub.msg);
    for (size_t r = 0; r < x->n; r++)
        if (x->ts[r] < 0 || x->ts[r] > STORE_TS_MAX)
            return nc_fail(e, NC_EINVAL, "%s: interaction %zu (user '%s'): timestamp %lld is "
                           "outside 0..%lld seconds since the epoch", path, r + 1,
                           users->ids[x->user[r]], (long long)x->ts[r], STORE_TS_MAX);
    return NC_OK;
}

/* Appends rows [from, from+n) as one writer job whose idempotency key is derived from its
 * content and position, so an interrupted import can simply be run again. */
static int import_chunk(nc_store *s, const nc_idmap *users, const nc_idmap *items,
                        const nc_interactions *x, const nc_feedback_types *types, size_t from,
                        size_t n, store_event *ev, int *replayed, nc_err *e) {
    for (size_t k = 0; k < n; k++) {
        size_t r = from + k;
        ev[k] = (store_event){users->ids[x->user[r]], items->ids[x->item[r]],
                              x->ts[r] ? x->ts[r] : STORE_TS_NOW,
                              types && nc_inter_weight(x, r) < types->n ? types->t[nc_inter_weight(x, r)].name
                                                                        : NULL};
    }
    char key[96];
    uint64_t h = st_hash_events(ev, n);
    snprintf(key, sizeof key, "import:%016llx:%zu:%zu:%zu", (unsigned long long)h, from, n,
             x->n);
    st_job job = {.kind = JOB_APPEND, .ev = ev, .n = n, .key = key, .hash = h};
    int rc = st_submit(s, &job, e);
    *replayed = !rc && job.app.replayed;
    return rc;
}

/* Feeds the loaded rows to the writer chunk by chunk, reporting progress. */
static int import_rows(nc_store *s, const nc_idmap *users, const nc_idmap *items,
                       const nc_interactions *x, const nc_feedback_types *types,
                       store_progress_fn progress, void *ctx, int64_t *done, int64_t *replayed,
                       nc_err *e) {
    size_t chunk = (size_t)s->o.import_chunk;
    store_event *ev = nc_malloc(chunk < x->n ? chunk : x->n, sizeof *ev, e);
    if (!ev) return NC_ENOMEM;
    int rc = NC_OK;
    for (size_t from = 0; !rc && from < x->n; from += chunk) {
        size_t n = x->n - from < chunk ? x->n - from : chunk;
        int rep = 0;
        rc = import_chunk(s, users, items, x, types, from, n, ev, &rep, e);
        if (rc) break;
        *done += (int64_t)n;
        if (rep) *replayed += (int64_t)n;
        if (progress) progress(ctx, *done, (int64_t)x->n);
    }
    free(ev);
    return rc;
}

/* Reuses the training loader, so any file `nclrec train` reads can be imported. */
int store_import_file(nc_store *s, const char *path, const nc_load_opts *lo,
                      store_progress_fn progress, void *ctx, int64_t *n_rows,
                      int64_t *n_replayed, nc_err *e) {
    nc_load_opts def;
    nc_load_opts_default(&def);
    nc_idmap users, items;
    nc_interactions x;
    nc_idmap_init(&users);
    nc_idmap_init(&items);
    nc_inter_init(&x);
    int64_t done = 0, replayed = 0;
    int rc = nc_load_file_opts(path, lo ? lo : &def, &users, &items, &x, e);
    if (!rc) rc = check_loaded(path, &users, &items, &x, e);
    const nc_feedback_types *types = lo && lo->types && lo->type_index ? lo->types : NULL;
    if (!rc) rc = import_rows(s, &users, &items, &x, types, progress, ctx, &done, &replayed, e);
    if (rc == NC_EIO && done > 0 && e) {
        nc_err first = *e;
        nc_fail(e, rc, "%s (the first %lld rows were imported; run the import again to add "
                "the rest)", first.msg, (long long)done);
    }
    nc_idmap_free(&users);
    nc_idmap_free(&items);
    nc_inter_free(&x);
    if (n_rows) *n_rows = done;
    if (n_replayed) *n_replayed = replayed;
    return rc;
}
