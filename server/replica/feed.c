/* feed.c - see feed.h. Sections: the changefeed's connection and query, the checkpoint file. */
#include "feed.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

struct feed {
    pthread_mutex_t mu;        /* one request at a time on the connection */
    sqlite3 *db;
    sqlite3_stmt *inter, *del, *items, *mark;
    char path[1024];
};

/* ======================= the changefeed ======================= */

static int db_fail(feed *f, int rc, const char *what, nc_err *e) {
    return nc_fail(e, NC_EIO, "changefeed %s: %s: %s", f->path, what, f->db ? sqlite3_errmsg(f->db) : sqlite3_errstr(rc));
}

void feed_close(feed *f) {
    if (!f) return;
    sqlite3_finalize(f->inter);
    sqlite3_finalize(f->del);
    sqlite3_finalize(f->items);
    sqlite3_finalize(f->mark);
    sqlite3_close(f->db);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

feed *feed_open(const char *db_path, nc_err *e) {
    feed *f = nc_calloc(1, sizeof *f, e);
    if (!f) return NULL;
    pthread_mutex_init(&f->mu, NULL);
    snprintf(f->path, sizeof f->path, "%s", db_path);
    int rc = sqlite3_open_v2(db_path, &f->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    struct { sqlite3_stmt **st; const char *sql; } t[] = {
        {&f->inter, "SELECT x.seq, u.ext, i.ext, x.ts, x.type FROM interactions x JOIN users u ON u.id = x.user_id "
                    "JOIN items i ON i.id = x.item_id WHERE x.seq > ?1 ORDER BY x.seq LIMIT ?2"},
        {&f->del, "SELECT seq, user FROM deletions WHERE seq > ?1 ORDER BY seq LIMIT ?2"},
        {&f->items, "SELECT meta_seq, ext, CASE WHEN deleted THEN NULL ELSE meta END FROM items "
                    "WHERE meta_seq > ?1 ORDER BY meta_seq LIMIT ?2"},
        {&f->mark, "SELECT last_seq FROM counters WHERE id = 1"},
    };
    if (rc != SQLITE_OK) db_fail(f, rc, "open", e);
    else sqlite3_busy_timeout(f->db, 5000);
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof t / sizeof *t; i++)
        if ((rc = sqlite3_prepare_v2(f->db, t[i].sql, -1, t[i].st, NULL)) != SQLITE_OK) db_fail(f, rc, "prepare", e);
    if (rc == SQLITE_OK) return f;
    feed_close(f);
    return NULL;
}

/* Steps st (bound to after, limit) to its next row; 1 for a row, 0 at the end, -1 on error. */
static int next_row(feed *f, sqlite3_stmt *st, nc_err *e) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    db_fail(f, rc, "read", e);
    return -1;
}

/* "type" names the kind of event (it was there first); the interaction's own feedback type is
 * "feedback". */
static json_t *interaction_json(sqlite3_stmt *st) {
    return json_pack("{s:I, s:s, s:s, s:s, s:I, s:s}", "seq", (json_int_t)sqlite3_column_int64(st, 0), "type",
                     "interaction", "user", (const char *)sqlite3_column_text(st, 1), "item",
                     (const char *)sqlite3_column_text(st, 2), "timestamp", (json_int_t)sqlite3_column_int64(st, 3),
                     "feedback", (const char *)sqlite3_column_text(st, 4));
}

static json_t *deletion_json(sqlite3_stmt *st) {
    return json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)sqlite3_column_int64(st, 0), "type", "deletion", "user",
                     (const char *)sqlite3_column_text(st, 1));
}

/* An item's latest catalogue write: its document, null once deleted. */
static json_t *item_json(sqlite3_stmt *st) {
    const char *doc = (const char *)sqlite3_column_text(st, 2);
    json_t *d = doc ? json_loads(doc, 0, NULL) : json_null();
    return d ? json_pack("{s:I, s:s, s:s, s:o}", "seq", (json_int_t)sqlite3_column_int64(st, 0), "type", "item", "item",
                         (const char *)sqlite3_column_text(st, 1), "doc", d)
             : NULL;
}

/* Merges the range scans (interactions, deletions, catalogue writes) by seq into events (at
 * most limit); *last is the last seq taken. */
static int merge_page(feed *f, int limit, json_t *events, int64_t *last, nc_err *e) {
    sqlite3_stmt *st[3] = {f->inter, f->del, f->items};
    json_t *(*make[3])(sqlite3_stmt *) = {interaction_json, deletion_json, item_json};
    int has[3];
    for (int i = 0; i < 3; i++)
        if ((has[i] = next_row(f, st[i], e)) < 0) return NC_EIO;
    while ((has[0] || has[1] || has[2]) && (int)json_array_size(events) < limit) {
        int t = -1;
        for (int i = 0; i < 3; i++)
            if (has[i] && (t < 0 || sqlite3_column_int64(st[i], 0) < sqlite3_column_int64(st[t], 0))) t = i;
        json_t *ev = make[t](st[t]);
        *last = sqlite3_column_int64(st[t], 0);
        if (!ev || json_array_append_new(events, ev) != 0) return nc_fail(e, NC_ENOMEM, "out of memory for the changefeed");
        if ((has[t] = next_row(f, st[t], e)) < 0) return NC_EIO;
    }
    return NC_OK;
}

/* One read transaction: the watermark and both scans see the same snapshot. */
int feed_changes(feed *f, int64_t after, int limit, json_t **out, nc_err *e) {
    *out = NULL;
    json_t *events = json_array();
    int64_t mark = 0, last = after;
    if (!events) return nc_fail(e, NC_ENOMEM, "out of memory for the changefeed");
    pthread_mutex_lock(&f->mu);
    int rc = sqlite3_exec(f->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? NC_OK : db_fail(f, 0, "begin", e);
    if (!rc) {
        int r = next_row(f, f->mark, e);
        if (r == 1) mark = sqlite3_column_int64(f->mark, 0);
        else rc = r < 0 ? NC_EIO : nc_fail(e, NC_EIO, "changefeed %s: the counters row is missing", f->path);
    }
    sqlite3_stmt *scans[3] = {f->inter, f->del, f->items};
    for (int i = 0; i < 3; i++) {
        sqlite3_bind_int64(scans[i], 1, after);
        sqlite3_bind_int64(scans[i], 2, limit);
    }
    if (!rc) rc = merge_page(f, limit, events, &last, e);
    for (int i = 0; i < 3; i++) sqlite3_reset(scans[i]);
    sqlite3_reset(f->mark);
    sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL);
    pthread_mutex_unlock(&f->mu);
    int more = (int)json_array_size(events) == limit && last < mark;
    if (!rc) *out = json_pack("{s:I, s:I, s:I, s:b, s:o}", "after", (json_int_t)after, "next",
                              (json_int_t)(more ? last : mark > after ? mark : after), "last_seq", (json_int_t)mark,
                              "more", more, "events", events);
    else json_decref(events);
    if (!rc && !*out) rc = nc_fail(e, NC_ENOMEM, "out of memory for the changefeed");
    return rc;
}

/* ======================= the checkpoint file ======================= */

int feed_read_checkpoint(const char *path, char **buf, size_t *len, uint32_t *crc, nc_err *e) {
    *buf = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return nc_fail(e, NC_EIO, "cannot open %s: %s", path, strerror(errno));
    long size = fseek(fp, 0, SEEK_END) == 0 ? ftell(fp) : -1;
    int rc = size < 16 ? nc_fail(e, NC_EFORMAT, "%s is too short for a checkpoint (%ld bytes)", path, size) : NC_OK;
    if (!rc && fseek(fp, 0, SEEK_SET) != 0) rc = nc_fail(e, NC_EIO, "cannot read %s: %s", path, strerror(errno));
    if (!rc && !(*buf = nc_malloc((size_t)size, 1, e))) rc = NC_ENOMEM;
    if (!rc && fread(*buf, 1, (size_t)size, fp) != (size_t)size) rc = nc_fail(e, NC_EIO, "cannot read %s", path);
    fclose(fp);
    if (!rc) {
        const unsigned char *t = (const unsigned char *)*buf + size - 4;
        *crc = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
        *len = (size_t)size;
        if (nc_crc32(0, *buf, (size_t)size - 4) != *crc) rc = nc_fail(e, NC_EFORMAT, "%s: checksum mismatch (corrupted)", path);
    }
    if (rc) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}
