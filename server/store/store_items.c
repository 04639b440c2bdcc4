/* store_items.c - see store.h, the catalogue section. The writer runs a JOB_ITEMS job inside its group
 * transaction (store_writer.c calls st_items_run); reads take a pool connection. */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "store_impl.h"

/* The FNV-1a hash the idempotency record keeps: ids, operations and canonical bodies. */
static uint64_t hash_writes(const store_item_write *w, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        char *body = w[i].body ? json_dumps(w[i].body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        const char *parts[3] = {w[i].item, w[i].op == STORE_ITEM_PUT ? "P" : w[i].op == STORE_ITEM_PATCH ? "M" : "D",
                                body ? body : ""};
        for (int k = 0; k < 3; k++)
            for (const unsigned char *p = (const unsigned char *)parts[k];; p++) {
                h = (h ^ *p) * 1099511628211ULL;
                if (!*p) break;
            }
        free(body);
    }
    return h;
}

/* The item's row on the writer connection: *found, its id, document (malloc'd or NULL) and
 * deleted flag. Catalogue writes are rare next to interactions, so their statements are
 * prepared as they come rather than kept. */
static int item_row(nc_store *s, const char *item, int *found, int64_t *id, char **meta, int *deleted, nc_err *e) {
    sqlite3_stmt *st = NULL;
    *found = 0;
    *meta = NULL;
    int rc = st_prepare(s, s->wdb, "SELECT id, meta, deleted FROM items WHERE ext = ?1", &st, e);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, item, -1, SQLITE_STATIC);
    rc = st_step_row(s, st, found, "look up item", e);
    if (!rc && *found) {
        *id = sqlite3_column_int64(st, 0);
        const char *m = (const char *)sqlite3_column_text(st, 1);
        *deleted = sqlite3_column_int(st, 2);
        if (m && !(*meta = strdup(m))) rc = nc_fail(e, NC_ENOMEM, "store: out of memory for an item");
    }
    sqlite3_finalize(st);
    return rc;
}

/* Writes the document (NULL: deleted) and the sequence number into the item's row. */
static int item_store(nc_store *s, const char *item, const char *doc, int64_t seq, nc_err *e) {
    sqlite3_stmt *st = NULL;
    int rc = st_prepare(s, s->wdb,
                        "INSERT INTO items (ext, meta, deleted, meta_seq) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (ext) "
                        "DO UPDATE SET meta = excluded.meta, deleted = excluded.deleted, meta_seq = excluded.meta_seq",
                        &st, e);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, item, -1, SQLITE_STATIC);
    if (doc) sqlite3_bind_text(st, 2, doc, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, doc == NULL);
    sqlite3_bind_int64(st, 4, seq);
    rc = st_step_done(s, st, "write item", e);
    sqlite3_finalize(st);
    return rc;
}

/* One write: the resulting document from the stored one, into w->doc. */
static int write_one(nc_store *s, store_item_write *w, int64_t seq, int64_t *d_items, nc_err *e) {
    int found = 0, deleted = 0;
    int64_t id = 0;
    char *meta = NULL;
    int rc = item_row(s, w->item, &found, &id, &meta, &deleted, e);
    free(w->doc);
    w->doc = NULL;
    if (!rc && w->op != STORE_ITEM_PUT && (!found || deleted))
        rc = nc_fail(e, NC_EINVAL, "not found: item '%s' is %s", w->item, found ? "deleted" : "not in the store");
    if (!rc && w->op != STORE_ITEM_DELETE) {
        json_t *old = meta ? json_loads(meta, 0, NULL) : NULL;
        json_t *doc = item_doc_merge(old, w->body, w->op == STORE_ITEM_PATCH);
        w->doc = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(old);
        json_decref(doc);
        if (!w->doc) rc = nc_fail(e, NC_ENOMEM, "store: out of memory for item '%s'", w->item);
    }
    free(meta);
    if (!rc) rc = item_store(s, w->item, w->doc, seq, e);
    *d_items += !rc && !found;
    w->seq = seq;
    return rc;
}

int st_items_run(nc_store *s, st_job *j, int64_t *seq, int64_t now, int64_t *d_items, nc_err *e) {
    int hit = 0, rc = NC_OK;
    if (j->key) rc = st_idem_lookup(s, j->key, j->hash, now, &j->app, &hit, e);
    if (rc || hit) return rc;
    int64_t first = *seq + 1;
    for (size_t i = 0; i < j->n && !rc; i++) rc = write_one(s, &j->items[i], ++*seq, d_items, e);
    j->app = (store_append_result){(int64_t)j->n, first, *seq, 0};
    if (rc || !j->key) return rc;
    return st_idem_record(s, j->key, j->hash, now, &j->app, e);
}

/* The checks of a write made before it is queued. */
static int check_writes(nc_store *s, store_item_write *w, size_t n, nc_err *e) {
    if (n == 0) return nc_fail(e, NC_EINVAL, "no items in the request");
    if (n > (size_t)s->o.max_batch)
        return nc_fail(e, NC_EINVAL, "%zu items in one request; at most max_batch=%d", n, s->o.max_batch);
    for (size_t i = 0; i < n; i++) {
        int rc = store_check_id("item", w[i].item, e);
        if (rc) return rc;
        w[i].doc = NULL;
    }
    return NC_OK;
}

/* After the job: a failed or replayed write leaves no documents. */
static int finish_writes(int rc, const store_append_result *app, store_item_write *w, size_t n) {
    if (rc || app->replayed)
        for (size_t i = 0; i < n; i++) {
            free(w[i].doc);
            w[i].doc = NULL;
        }
    return rc;
}

int store_write_items(nc_store *s, store_item_write *w, size_t n, const char *idem_key, store_append_result *out,
                      nc_err *e) {
    int rc = check_writes(s, w, n, e);
    if (rc) return rc;
    st_job job = {.kind = JOB_ITEMS, .items = w, .n = n, .key = idem_key};
    if (idem_key) job.hash = hash_writes(w, n);
    rc = finish_writes(st_submit(s, &job, e), &job.app, w, n);
    if (!rc && out) *out = job.app;
    return rc;
}

int store_write_items_async(nc_store *s, store_item_write *w, size_t n, const char *idem_key, store_done_fn done,
                            void *ctx, store_pending **out, nc_err *e) {
    *out = NULL;
    if (!done) return nc_fail(e, NC_EINVAL, "store_write_items_async: no completion callback");
    int rc = check_writes(s, w, n, e);
    if (rc) return rc;
    st_job job = {.kind = JOB_ITEMS, .items = w, .n = n, .key = idem_key, .done_fn = done, .done_ctx = ctx};
    if (idem_key) job.hash = hash_writes(w, n);
    return st_submit_async(s, &job, out, e);
}

int store_pending_finish_items(store_pending *p, store_item_write *w, size_t n, store_append_result *out, nc_err *e) {
    store_append_result app = {0};
    int rc = finish_writes(st_pending_take_append(p, &app, e), &app, w, n);
    if (!rc && out) *out = app;
    return rc;
}

int store_item_get(nc_store *s, const char *item, int *known, char **doc, int *deleted, nc_err *e) {
    *known = *deleted = 0;
    *doc = NULL;
    st_reader *r = st_reader_get(s);
    sqlite3_stmt *st = NULL;
    int rc = st_prepare(s, r->db, "SELECT meta, deleted FROM items WHERE ext = ?1", &st, e);
    if (!rc) {
        sqlite3_bind_text(st, 1, item, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            const char *m = (const char *)sqlite3_column_text(st, 0);
            *known = 1;
            *deleted = sqlite3_column_int(st, 1);
            if (m && !(*doc = strdup(m))) rc = nc_fail(e, NC_ENOMEM, "store: out of memory for an item");
        } else if (step != SQLITE_DONE) {
            rc = st_sql_fail(s, r->db, step, "read item", e);
        }
    }
    sqlite3_finalize(st);
    st_reader_put(s, r);
    return rc;
}

int store_items_each(nc_store *s, store_item_each_fn fn, void *ctx, nc_err *e) {
    st_reader *r = st_reader_get(s);
    sqlite3_stmt *st = NULL;
    int rc = st_prepare(s, r->db,
                        "SELECT ext, CASE WHEN deleted THEN NULL ELSE meta END, meta_seq FROM items "
                        "WHERE meta_seq IS NOT NULL ORDER BY meta_seq", &st, e);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
                sqlite3_column_int64(st, 2));
    if (!rc && step != SQLITE_DONE) rc = st_sql_fail(s, r->db, step, "read the catalogue", e);
    sqlite3_finalize(st);
    st_reader_put(s, r);
    return rc;
}
