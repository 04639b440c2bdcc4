/* store_runs.c - the retrain history (store.h, "the retrain history"): one row per retrain in
 * retrain_runs, written through the writer like every other write, read from the pool. */
#include "store_impl.h"

#include <stdio.h>
#include <string.h>

/* Inside the writer's transaction: the row, then the rows beyond the newest STORE_RUNS_KEPT. */
int st_run_record(nc_store *s, st_job *j, nc_err *e) {
    const store_run *r = j->run;
    sqlite3_stmt *st = NULL;
    int rc = st_prepare(s, s->wdb,
                        "INSERT INTO retrain_runs (ended_at, outcome, version, recall20, ndcg20, detail) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &st, e);
    if (!rc) {
        sqlite3_bind_int64(st, 1, r->ended_at);
        sqlite3_bind_text(st, 2, r->outcome, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)r->version);
        sqlite3_bind_double(st, 4, r->recall20);
        sqlite3_bind_double(st, 5, r->ndcg20);
        sqlite3_bind_text(st, 6, r->detail, -1, SQLITE_STATIC);
        rc = st_step_done(s, st, "record a retrain", e);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (!rc) rc = st_prepare(s, s->wdb, "DELETE FROM retrain_runs WHERE id <= (SELECT max(id) FROM retrain_runs) - ?1",
                             &st, e);
    if (!rc) {
        sqlite3_bind_int(st, 1, STORE_RUNS_KEPT);
        rc = st_step_done(s, st, "prune the retrain history", e);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_record_run(nc_store *s, const store_run *r, nc_err *e) {
    st_job job = {.kind = JOB_RUN, .run = r, .n = 1};
    return st_submit(s, &job, e);
}

/* Copies a text column into a fixed field (cut to fit). */
static void copy_text(sqlite3_stmt *st, int col, char *dst, size_t cap) {
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

int store_recent_runs(nc_store *s, store_run *out, int max, int *n, nc_err *e) {
    *n = 0;
    st_reader *r = st_reader_get(s);
    sqlite3_stmt *st = NULL;
    int rc = st_prepare(s, r->db,
                        "SELECT ended_at, outcome, version, recall20, ndcg20, detail FROM "
                        "(SELECT * FROM retrain_runs ORDER BY id DESC LIMIT ?1) ORDER BY id", &st, e);
    int step = SQLITE_DONE;
    if (!rc) sqlite3_bind_int(st, 1, max);
    while (!rc && *n < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        store_run *x = &out[(*n)++];
        x->ended_at = sqlite3_column_int64(st, 0);
        copy_text(st, 1, x->outcome, sizeof x->outcome);
        x->version = (uint64_t)sqlite3_column_int64(st, 2);
        x->recall20 = sqlite3_column_double(st, 3);
        x->ndcg20 = sqlite3_column_double(st, 4);
        copy_text(st, 5, x->detail, sizeof x->detail);
    }
    if (!rc && step != SQLITE_DONE && step != SQLITE_ROW) rc = st_sql_fail(s, r->db, step, "read the retrain history", e);
    sqlite3_finalize(st);
    st_reader_put(s, r);
    return rc;
}
