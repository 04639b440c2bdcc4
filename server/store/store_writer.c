/* store_writer.c - the store's single writer thread and its group commit (after redis bio.c).
 *
 * DESIGN. Callers (HTTP threads, the importer) build a job on their stack, append it to a
 * mutex-protected FIFO and sleep on a condition variable. The writer thread takes every job
 * queued (up to max_group_rows rows) and runs them in one transaction:
 *
 *     BEGIN IMMEDIATE; read counters.last_seq
 *     for each job:  SAVEPOINT job; <its inserts/deletes>; RELEASE job
 *                    (on failure: ROLLBACK TO job; RELEASE job; the job alone fails)
 *     UPDATE counters                    -- once: the group's last seq and row-count deltas
 *     COMMIT                             -- one fsync for the whole group
 *
 * and only then marks each job done and wakes the callers, so an acknowledged request is
 * durable. When an error ends the whole transaction (SQLite may roll everything back on disk
 * full or I/O errors), the failing job is marked failed and the group is re-run without it, so
 * one bad job never takes the others down. Sequence numbers are read from the database at every
 * BEGIN, so another process writing the same file (nclrec import) cannot cause reuse.
 * Every statement is prepared once; values are bound, never spliced into SQL. */
#include "store_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common.h"

#define PRUNE_EVERY_S 60     /* how often expired idempotency records are deleted */
#define PROBE_EVERY_MS 1000  /* how often an idle writer retries the disk after a failure */

/* ==== statements ======================================================================== */

/* Prepares every statement the writer runs once, at open, so a request only binds values. */
int st_writer_prepare(nc_store *s, nc_err *e) {
    st_wstmts *w = &s->w;
    struct { sqlite3_stmt **st; const char *sql; } t[] = {
        {&w->last_seq, "SELECT last_seq FROM counters WHERE id = 1"},
        {&w->upd_counters, "UPDATE counters SET last_seq = ?1, n_interactions = n_interactions "
                           "+ ?2, n_users = n_users + ?3, n_items = n_items + ?4 WHERE id = 1"},
        {&w->sel_user, "SELECT id FROM users WHERE ext = ?1"},
        {&w->ins_user, "INSERT INTO users (ext) VALUES (?1)"},
        {&w->sel_item, "SELECT id FROM items WHERE ext = ?1"},
        {&w->ins_item, "INSERT INTO items (ext) VALUES (?1)"},
        {&w->sel_pair, "SELECT 1 FROM interactions WHERE user_id = ?1 AND item_id = ?2 LIMIT 1"},
        {&w->ins_inter, "INSERT INTO interactions (seq, user_id, item_id, ts, type) "
                        "VALUES (?1, ?2, ?3, ?4, ?5)"},
        {&w->inc_pop, "UPDATE items SET pop = pop + 1 WHERE id = ?1"},
        {&w->sel_idem, "SELECT request_hash, created_at, n_accepted, first_seq, last_seq "
                       "FROM idempotency WHERE key = ?1"},
        {&w->put_idem, "INSERT OR REPLACE INTO idempotency (key, request_hash, created_at, "
                       "n_accepted, first_seq, last_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
        {&w->prune_idem, "DELETE FROM idempotency WHERE created_at < ?1"},
        {&w->dec_pop, "UPDATE items SET pop = pop - 1 WHERE id IN "
                      "(SELECT DISTINCT item_id FROM interactions WHERE user_id = ?1)"},
        {&w->del_inter, "DELETE FROM interactions WHERE user_id = ?1"},
        {&w->del_user, "DELETE FROM users WHERE id = ?1"},
        {&w->ins_tomb, "INSERT INTO deletions (seq, user, n_deleted, at) VALUES (?1, ?2, ?3, ?4)"},
        {&w->savepoint, "SAVEPOINT job"},
        {&w->release, "RELEASE job"},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        int rc = st_prepare(s, s->wdb, t[i].sql, t[i].st, e);
        if (rc) return rc;
    }
    return NC_OK;
}

/* Releases the writer's statements (they would keep the connection from closing). */
void st_writer_finalize(nc_store *s) {
    sqlite3_stmt **all = (sqlite3_stmt **)&s->w;
    for (size_t i = 0; i < sizeof s->w / sizeof(sqlite3_stmt *); i++) {
        sqlite3_finalize(all[i]); /* NULL is harmless */
        all[i] = NULL;
    }
}

/* Runs a statement to completion (no rows expected) and resets it for the next use. */
static int step_done(nc_store *s, sqlite3_stmt *st, const char *what, nc_err *e) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? NC_OK : st_sql_fail(s, s->wdb, rc, what, e);
}

/* Steps a lookup: *found = 1 with the row left readable (caller resets), or 0 (reset done). */
static int step_row(nc_store *s, sqlite3_stmt *st, int *found, const char *what, nc_err *e) {
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) return NC_OK;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? NC_OK : st_sql_fail(s, s->wdb, rc, what, e);
}

/* Internal id of an external id, interning it when new (*created = 1). */
static int intern(nc_store *s, sqlite3_stmt *sel, sqlite3_stmt *ins, const char *ext,
                  int64_t *id, int *created, nc_err *e) {
    int found, rc;
    sqlite3_bind_text(sel, 1, ext, -1, SQLITE_STATIC);
    rc = step_row(s, sel, &found, "look up id", e);
    if (rc) return rc;
    *created = !found;
    if (found) {
        *id = sqlite3_column_int64(sel, 0);
        sqlite3_reset(sel);
        return NC_OK;
    }
    sqlite3_bind_text(ins, 1, ext, -1, SQLITE_STATIC);
    rc = step_done(s, ins, "insert id", e);
    *id = sqlite3_last_insert_rowid(s->wdb);
    return rc;
}

/* Per-transaction state of the writer: what the group has done so far. */
typedef struct wctx {
    int64_t seq;     /* last sequence number used in this transaction */
    int64_t now;     /* wall-clock seconds, one reading per group */
    int64_t seq0;    /* counters.last_seq when the transaction began */
    int64_t d_inter, d_users, d_items; /* live-row deltas of the jobs run so far */
} wctx;

/* Writes counters.last_seq and the group's live-row deltas, once, before COMMIT. */
static int update_counters(nc_store *s, const wctx *c, nc_err *e) {
    if (c->seq == c->seq0 && !c->d_inter && !c->d_users && !c->d_items) return NC_OK;
    sqlite3_stmt *st = s->w.upd_counters;
    sqlite3_bind_int64(st, 1, c->seq);
    sqlite3_bind_int64(st, 2, c->d_inter);
    sqlite3_bind_int64(st, 3, c->d_users);
    sqlite3_bind_int64(st, 4, c->d_items);
    return step_done(s, st, "update counters", e);
}

/* ==== jobs ============================================================================== */

/* Answers a retried request from its idempotency record. *hit = 1 when the key is live. */
static int idem_lookup(nc_store *s, st_job *j, const wctx *c, int *hit, nc_err *e) {
    return st_idem_lookup(s, j->key, j->hash, c->now, &j->app, hit, e);
}

int st_idem_lookup(nc_store *s, const char *key, uint64_t want, int64_t now, store_append_result *out, int *hit,
                   nc_err *e) {
    sqlite3_stmt *st = s->w.sel_idem;
    int found;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = step_row(s, st, &found, "look up idempotency key", e);
    *hit = 0;
    if (rc || !found) return rc;
    uint64_t hash = (uint64_t)sqlite3_column_int64(st, 0);
    int64_t created = sqlite3_column_int64(st, 1);
    store_append_result r = {sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
                             sqlite3_column_int64(st, 4), 1};
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (created < now - s->o.idem_window_s) return NC_OK; /* expired: a new request */
    if (hash != want)
        return nc_fail(e, NC_EINVAL, "Idempotency-Key '%s' was used within the last "
                       "idem_window_s=%lld seconds for a different request", key,
                       (long long)s->o.idem_window_s);
    *hit = 1;
    *out = r;
    return NC_OK;
}

/* Stores one event with the next sequence number; counts the (user, item) pair towards the
 * item's popularity only when it is new for that user. */
static int append_one(nc_store *s, const store_event *ev, wctx *c, nc_err *e) {
    int64_t uid, iid;
    int created, exists, rc;
    rc = intern(s, s->w.sel_user, s->w.ins_user, ev->user, &uid, &created, e);
    c->d_users += created;
    if (!rc) rc = intern(s, s->w.sel_item, s->w.ins_item, ev->item, &iid, &created, e);
    if (rc) return rc;
    c->d_items += created;
    c->d_inter++;
    sqlite3_bind_int64(s->w.sel_pair, 1, uid);
    sqlite3_bind_int64(s->w.sel_pair, 2, iid);
    rc = step_row(s, s->w.sel_pair, &exists, "look up pair", e);
    if (rc) return rc;
    if (exists) sqlite3_reset(s->w.sel_pair);
    sqlite3_stmt *st = s->w.ins_inter;
    sqlite3_bind_int64(st, 1, ++c->seq);
    sqlite3_bind_int64(st, 2, uid);
    sqlite3_bind_int64(st, 3, iid);
    sqlite3_bind_int64(st, 4, ev->ts == STORE_TS_NOW ? c->now : ev->ts);
    sqlite3_bind_text(st, 5, store_event_type(ev), -1, SQLITE_STATIC);
    rc = step_done(s, st, "insert interaction", e);
    if (rc || exists) return rc;
    sqlite3_bind_int64(s->w.inc_pop, 1, iid);
    return step_done(s, s->w.inc_pop, "update popularity", e);
}

/* An append job: replay from the key, or insert every event, then record the key. */
static int run_append(nc_store *s, st_job *j, wctx *c, nc_err *e) {
    int hit = 0, rc = NC_OK;
    if (j->key) rc = idem_lookup(s, j, c, &hit, e);
    if (rc || hit) return rc;
    int64_t first = c->seq + 1;
    for (size_t i = 0; i < j->n && !rc; i++) rc = append_one(s, &j->ev[i], c, e);
    j->app = (store_append_result){(int64_t)j->n, first, c->seq, 0};
    if (rc || !j->key) return rc;
    return st_idem_record(s, j->key, j->hash, c->now, &j->app, e);
}

int st_idem_record(nc_store *s, const char *key, uint64_t hash, int64_t now, const store_append_result *r, nc_err *e) {
    sqlite3_stmt *st = s->w.put_idem;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (int64_t)hash);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int64(st, 4, r->n_accepted);
    sqlite3_bind_int64(st, 5, r->first_seq);
    sqlite3_bind_int64(st, 6, r->last_seq);
    return step_done(s, st, "record idempotency key", e);
}

int st_step_done(nc_store *s, sqlite3_stmt *st, const char *what, nc_err *e) { return step_done(s, st, what, e); }
int st_step_row(nc_store *s, sqlite3_stmt *st, int *found, const char *what, nc_err *e) {
    return step_row(s, st, found, what, e);
}

/* A deletion job: the user's rows and id go, their items' popularity drops, a tombstone
 * with the next sequence number stays. */
static int run_delete(nc_store *s, st_job *j, wctx *c, nc_err *e) {
    int found, rc;
    int64_t uid = 0, n_deleted = 0;
    sqlite3_bind_text(s->w.sel_user, 1, j->user, -1, SQLITE_STATIC);
    rc = step_row(s, s->w.sel_user, &found, "look up user", e);
    if (rc) return rc;
    if (found) {
        uid = sqlite3_column_int64(s->w.sel_user, 0);
        sqlite3_reset(s->w.sel_user);
        sqlite3_bind_int64(s->w.dec_pop, 1, uid);
        rc = step_done(s, s->w.dec_pop, "update popularity", e);
        sqlite3_bind_int64(s->w.del_inter, 1, uid);
        if (!rc) rc = step_done(s, s->w.del_inter, "delete interactions", e);
        n_deleted = sqlite3_changes(s->wdb);
        sqlite3_bind_int64(s->w.del_user, 1, uid);
        if (!rc) rc = step_done(s, s->w.del_user, "delete user", e);
        if (rc) return rc;
    }
    sqlite3_stmt *st = s->w.ins_tomb;
    sqlite3_bind_int64(st, 1, ++c->seq);
    sqlite3_bind_text(st, 2, j->user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, n_deleted);
    sqlite3_bind_int64(st, 4, c->now);
    rc = step_done(s, st, "record deletion", e);
    c->d_inter -= n_deleted;
    c->d_users -= found;
    j->del = (store_delete_result){n_deleted, c->seq};
    return rc;
}

/* A model version job: the recorded version becomes max(recorded + 1, the caller's floor). */
static int run_model_version(nc_store *s, st_job *j, nc_err *e) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->wdb, "UPDATE counters SET model_version = max(model_version + 1, ?1) WHERE id = 1 "
                           "RETURNING model_version", -1, &st, NULL) != SQLITE_OK)
        return nc_fail(e, NC_EIO, "store %s: record model version: %s", s->path, sqlite3_errmsg(s->wdb));
    sqlite3_bind_int64(st, 1, j->version);
    int found, rc = step_row(s, st, &found, "record model version", e);
    if (!rc && !found) rc = nc_fail(e, NC_EFORMAT, "store %s: counters row missing", s->path);
    if (!rc) j->version = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* ==== group commit ====================================================================== */

/* Starts the group's transaction and reads the sequence counter inside it. */
static int begin_group(nc_store *s, wctx *c, nc_err *e) {
    int rc = st_exec(s, s->wdb, "BEGIN IMMEDIATE", "begin transaction", e);
    if (rc) return rc;
    int found;
    rc = step_row(s, s->w.last_seq, &found, "read sequence counter", e);
    if (!rc && !found) rc = nc_fail(e, NC_EFORMAT, "store %s: counters row missing", s->path);
    if (!rc) {
        c->seq = c->seq0 = sqlite3_column_int64(s->w.last_seq, 0);
        c->d_inter = c->d_users = c->d_items = 0;
        sqlite3_reset(s->w.last_seq);
        return NC_OK;
    }
    if (!sqlite3_get_autocommit(s->wdb)) sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Runs one job inside a savepoint. Returns 1 when its failure ended the whole transaction
 * (rolled back here if SQLite did not already; the group must be re-run without the job),
 * else 0; the job's own result is in j->rc. */
static int run_job(nc_store *s, st_job *j, wctx *c) {
    wctx before = *c;
    j->rc = step_done(s, s->w.savepoint, "savepoint", &j->err);
    if (!j->rc)
        j->rc = j->kind == JOB_APPEND   ? run_append(s, j, c, &j->err)
                : j->kind == JOB_DELETE ? run_delete(s, j, c, &j->err)
                : j->kind == JOB_ITEMS  ? st_items_run(s, j, &c->seq, c->now, &c->d_items, &j->err)
                : j->kind == JOB_RUN    ? st_run_record(s, j, &j->err)
                                        : run_model_version(s, j, &j->err);
    if (!j->rc) j->rc = step_done(s, s->w.release, "release savepoint", &j->err);
    if (!j->rc) return 0;
    *c = before;
    if (!sqlite3_get_autocommit(s->wdb) &&
        sqlite3_exec(s->wdb, "ROLLBACK TO job; RELEASE job", NULL, NULL, NULL) == SQLITE_OK)
        return 0; /* only this job's changes are undone */
    if (!sqlite3_get_autocommit(s->wdb)) sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    return 1;
}

/* Fails every job of the list that has not failed already with the group's error. */
static void fail_rest(st_job *list, size_t n, int rc, const nc_err *e) {
    for (st_job *j = list; n--; j = j->next)
        if (j->rc == NC_OK) {
            j->rc = rc;
            j->err = *e;
        }
}

/* Deletes expired idempotency records now and then, in the group's transaction. A failure
 * only postpones the pruning, unless it ended the transaction. */
static int prune_keys(nc_store *s, const wctx *c, int64_t *last_prune, nc_err *e) {
    if (c->now - *last_prune < PRUNE_EVERY_S && *last_prune != 0) return NC_OK;
    sqlite3_bind_int64(s->w.prune_idem, 1, c->now - s->o.idem_window_s);
    int rc = step_done(s, s->w.prune_idem, "prune idempotency keys", e);
    if (rc == NC_OK) *last_prune = c->now;
    return rc && sqlite3_get_autocommit(s->wdb) ? rc : NC_OK;
}

/* Runs n jobs from list in one transaction (re-running it without any job whose failure
 * ended the transaction) and commits. Returns 1 when something was committed. */
static int run_group(nc_store *s, st_job *list, size_t n, int64_t *last_prune) {
    nc_err e;
    wctx c = {.now = st_now(s)};
    for (st_job *j = list; j; j = j->next) j->rc = NC_OK;
    for (size_t attempt = 0; attempt <= n; attempt++) {
        int rc = begin_group(s, &c, &e);
        if (!rc) rc = prune_keys(s, &c, last_prune, &e);
        if (rc) {
            fail_rest(list, n, rc, &e);
            return 0;
        }
        int restart = 0, ok = 0;
        st_job *j = list;
        for (size_t k = 0; k < n && !restart; k++, j = j->next) {
            if (j->rc != NC_OK) continue; /* failed in an earlier attempt */
            restart = run_job(s, j, &c);
            ok += j->rc == NC_OK;
        }
        if (restart) continue; /* the transaction is gone: again, without the failed job */
        if (!ok) { /* nothing to keep */
            sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
            return 0;
        }
        rc = update_counters(s, &c, &e);
        if (!rc) rc = st_exec(s, s->wdb, "COMMIT", "commit", &e);
        if (rc == NC_OK) return 1;
        if (!sqlite3_get_autocommit(s->wdb)) sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
        fail_rest(list, n, rc, &e);
        return 0;
    }
    /* Unreachable: each re-run follows a job failing for good, so n + 1 attempts suffice. */
    fail_rest(list, n, nc_fail(&e, NC_EINTERNAL, "store %s: group commit did not settle",
                               s->path), &e);
    return 0;
}

/* When readers kept the WAL from being reset, waits briefly for them and truncates it. */
static int bound_wal(nc_store *s) {
    if (s->o.wal_max_bytes <= 0 || st_file_size(s->path, "-wal") <= s->o.wal_max_bytes)
        return 0;
    sqlite3_busy_timeout(s->wdb, s->o.busy_timeout_ms < 100 ? s->o.busy_timeout_ms : 100);
    int rc = sqlite3_wal_checkpoint_v2(s->wdb, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    sqlite3_busy_timeout(s->wdb, s->o.busy_timeout_ms);
    return rc == SQLITE_OK;
}

/* ==== recovery after a failed write ===================================================== */

/* One small transaction that must reach the disk: a row inserted into and deleted from the
 * idempotency table dirties a page, so COMMIT writes the WAL as a real append would (an
 * UPDATE to the same value would write nothing and prove nothing). The key holds a control
 * character, which no client key can. Returns 1 when the commit succeeded. */
static int probe_write(nc_store *s) {
    static const char *const sql =
        "BEGIN IMMEDIATE; "
        "INSERT INTO idempotency (key, request_hash, created_at, n_accepted, first_seq, last_seq) "
        "VALUES (char(1) || 'nclrec-write-probe', 0, 0, 0, 0, 0); "
        "DELETE FROM idempotency WHERE key = char(1) || 'nclrec-write-probe'; "
        "COMMIT";
    int rc = sqlite3_exec(s->wdb, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK && !sqlite3_get_autocommit(s->wdb))
        sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    return rc == SQLITE_OK;
}

/* Waits for jobs. While the store is marked unwritable nobody may write again for a long time
 * (a load balancer stops sending traffic to a server whose /readyz fails), so an idle writer
 * probes the disk every PROBE_EVERY_MS and marks the store writable once a commit succeeds:
 * the store recovers by itself when space is freed or the file becomes writable again. Once
 * the seen-items copy is in use, an idle writer also brings it up to date every PROBE_EVERY_MS
 * (another process may write the file), and builds it as soon as it is first asked for.
 * Called and returns with qmu held. */
static void wait_for_jobs(nc_store *s) {
    while (!s->head && !s->stopping) {
        if (s->writable && !st_seen_active(s)) {
            pthread_cond_wait(&s->qcv, &s->qmu);
            continue;
        }
        if (!st_seen_pending(s)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += PROBE_EVERY_MS / 1000;
            ts.tv_nsec += (long)(PROBE_EVERY_MS % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            int rc = pthread_cond_timedwait(&s->qcv, &s->qmu, &ts);
            if (s->head || s->stopping || (rc != ETIMEDOUT && !st_seen_pending(s))) continue;
        }
        int writable = s->writable;
        pthread_mutex_unlock(&s->qmu);
        int ok = writable || probe_write(s);
        st_seen_update(s); /* the first build, or another process's writes */
        pthread_mutex_lock(&s->qmu);
        if (ok) s->writable = 1;
    }
}

/* ==== the thread ======================================================================== */

/* Takes the queued jobs for one group: all of them, up to max_group_rows rows (at least one
 * job). Called with qmu held. */
static st_job *take_group(nc_store *s, size_t *n) {
    st_job *first = s->head, *last = first;
    size_t rows = first->n, k = 1;
    while (last->next && rows + last->next->n <= (size_t)s->o.max_group_rows) {
        last = last->next;
        rows += last->n;
        k++;
    }
    s->head = last->next;
    if (!s->head) s->tail = NULL;
    last->next = NULL;
    s->qlen -= k;
    s->running = k;
    *n = k;
    return first;
}

/* Publishes the group's results and statistics and wakes its blocked callers, each on its
 * own condition variable (one broadcast would wake every waiting caller for every commit).
 * Returns the async jobs, in order, for notify_async. Called with qmu held. */
static st_job *finish_group(nc_store *s, st_job *list, int committed, int checkpointed) {
    int io_error = 0;
    for (st_job *j = list; j; j = j->next) {
        if (j->rc == NC_OK) {
            s->jobs++;
            if (j->kind == JOB_APPEND && j->app.replayed) s->replays++;
            else if (j->kind == JOB_APPEND) s->rows += (uint64_t)j->app.n_accepted;
        } else {
            s->job_errors++;
            io_error |= j->rc == NC_EIO;
        }
    }
    s->running = 0;
    s->commits += committed > 0;
    s->checkpoints += checkpointed > 0;
    if (committed) s->writable = 1;
    else if (io_error) s->writable = 0;
    /* Last: a woken caller returns and its job (on its stack) is gone, so next is read first. */
    st_job *async = NULL, **tail = &async;
    for (st_job *j = list, *next; j; j = next) {
        next = j->next;
        j->done = 1;
        if (j->done_fn) {
            j->anext = NULL;
            *tail = j;
            tail = &j->anext;
        } else {
            pthread_cond_signal(&j->cv);
        }
    }
    return async;
}

/* Tells the owners of async jobs that they are done; each may free its job at once, so the
 * next one is read first. Called without qmu. */
static void notify_async(st_job *j) {
    for (st_job *next; j; j = next) {
        next = j->anext;
        j->done_fn(j->done_ctx);
    }
}

/* The writer thread: sleeps until jobs arrive, commits them a group at a time, and on
 * shutdown drains the queue before leaving, so no accepted request is dropped. */
static void *writer_main(void *arg) {
    nc_store *s = arg;
    int64_t last_prune = 0;
    pthread_mutex_lock(&s->qmu);
    for (;;) {
        wait_for_jobs(s);
        if (!s->head) break; /* stopping and drained */
        size_t n;
        st_job *list = take_group(s, &n);
        pthread_mutex_unlock(&s->qmu);
        int committed = run_group(s, list, n, &last_prune);
        if (committed) st_seen_update(s); /* before anyone hears of the commit */
        int checkpointed = committed ? bound_wal(s) : 0;
        pthread_mutex_lock(&s->qmu);
        st_job *async = finish_group(s, list, committed, checkpointed);
        if (async) {
            pthread_mutex_unlock(&s->qmu);
            notify_async(async);
            pthread_mutex_lock(&s->qmu);
        }
    }
    pthread_mutex_unlock(&s->qmu);
    return NULL;
}

/* Starts the writer last in store_open, once everything it uses exists. */
int st_writer_start(nc_store *s, nc_err *e) {
    int rc = pthread_create(&s->thread, NULL, writer_main, s);
    if (rc) return nc_fail(e, NC_EIO, "store %s: cannot start the writer thread: %s", s->path,
                           strerror(rc));
    s->thread_started = 1;
    return NC_OK;
}

/* Asks the writer to drain the queue and exit, and waits for it. */
void st_writer_stop(nc_store *s) {
    if (!s->thread_started) return;
    pthread_mutex_lock(&s->qmu);
    s->stopping = 1;
    pthread_cond_signal(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    pthread_join(s->thread, NULL);
    s->thread_started = 0;
}

/* Appends the job to the queue and wakes the writer. Called with qmu held; refuses once the
 * store is closing. */
static int enqueue(nc_store *s, st_job *job, nc_err *e) {
    job->done = 0;
    job->next = NULL;
    if (s->stopping) return nc_fail(e, NC_EIO, "store %s: closing, no more writes", s->path);
    if (s->tail) s->tail->next = job;
    else s->head = job;
    s->tail = job;
    s->qlen++;
    pthread_cond_signal(&s->qcv);
    return NC_OK;
}

/* Queues the job and sleeps until the writer has committed or failed it. */
int st_submit(nc_store *s, st_job *job, nc_err *e) {
    if (pthread_cond_init(&job->cv, NULL))
        return nc_fail(e, NC_ENOMEM, "store %s: cannot create a condition variable", s->path);
    pthread_mutex_lock(&s->qmu);
    int rc = enqueue(s, job, e);
    while (!rc && !job->done) pthread_cond_wait(&job->cv, &s->qmu);
    pthread_mutex_unlock(&s->qmu);
    pthread_cond_destroy(&job->cv);
    if (rc) return rc;
    if (job->rc && e) *e = job->err;
    return job->rc;
}

/* ==== public writes ===================================================================== */

/* Everything checkable without the database is checked here, in the caller's thread, so
 * the writer only ever sees well-formed jobs. */
static int check_append(nc_store *s, const store_event *ev, size_t n, const char *idem_key,
                        nc_err *e) {
    if (n == 0) return nc_fail(e, NC_EINVAL, "no interactions in the request");
    if (n > (size_t)s->o.max_batch)
        return nc_fail(e, NC_EINVAL, "%zu interactions in one request; at most max_batch=%d",
                       n, s->o.max_batch);
    if (idem_key) {
        size_t kl = strlen(idem_key);
        if (kl == 0 || kl > STORE_MAX_KEY_LEN)
            return nc_fail(e, NC_EINVAL, "Idempotency-Key must be 1..%d bytes, got %zu",
                           STORE_MAX_KEY_LEN, kl);
    }
    return st_check_events(ev, n, e);
}

int store_append(nc_store *s, const store_event *ev, size_t n, const char *idem_key,
                 store_append_result *out, nc_err *e) {
    int rc = check_append(s, ev, n, idem_key, e);
    if (rc) return rc;
    st_job job = {.kind = JOB_APPEND, .ev = ev, .n = n, .key = idem_key};
    if (idem_key) job.hash = st_hash_events(ev, n);
    rc = st_submit(s, &job, e);
    if (!rc && out) *out = job.app;
    return rc;
}

/* The job on the heap, so the caller's thread can go on serving while it waits. */
struct store_pending {
    st_job job;
};

/* Queues a copy of job on the heap (its done_fn set) for the *_async calls; *out is set before
 * queueing, because done may run before this function returns. */
static int submit_async(nc_store *s, const st_job *job, store_pending **out, nc_err *e) {
    store_pending *p = nc_calloc(1, sizeof *p, e);
    if (!p) return NC_ENOMEM;
    p->job = *job;
    *out = p;
    pthread_mutex_lock(&s->qmu);
    int rc = enqueue(s, &p->job, e);
    pthread_mutex_unlock(&s->qmu);
    if (rc) {
        *out = NULL;
        free(p);
    }
    return rc;
}

int store_append_async(nc_store *s, const store_event *ev, size_t n, const char *idem_key,
                       store_done_fn done, void *ctx, store_pending **out, nc_err *e) {
    *out = NULL;
    if (!done) return nc_fail(e, NC_EINVAL, "store_append_async: no completion callback");
    int rc = check_append(s, ev, n, idem_key, e);
    if (rc) return rc;
    st_job job = {.kind = JOB_APPEND, .ev = ev, .n = n, .key = idem_key, .done_fn = done, .done_ctx = ctx};
    if (idem_key) job.hash = st_hash_events(ev, n);
    return submit_async(s, &job, out, e);
}

/* The job's outcome, then frees it. */
static int pending_take(store_pending *p, store_append_result *app, store_delete_result *del, nc_err *e) {
    int rc = p->job.rc;
    if (rc && e) *e = p->job.err;
    if (!rc && app) *app = p->job.app;
    if (!rc && del) *del = p->job.del;
    free(p);
    return rc;
}

int store_pending_finish(store_pending *p, store_append_result *out, nc_err *e) {
    return pending_take(p, out, NULL, e);
}

int st_submit_async(nc_store *s, const st_job *job, store_pending **out, nc_err *e) { return submit_async(s, job, out, e); }
int st_pending_take_append(store_pending *p, store_append_result *out, nc_err *e) { return pending_take(p, out, NULL, e); }

int store_delete_user_async(nc_store *s, const char *user, store_done_fn done, void *ctx, store_pending **out,
                            nc_err *e) {
    *out = NULL;
    if (!done) return nc_fail(e, NC_EINVAL, "store_delete_user_async: no completion callback");
    int rc = store_check_id("user", user, e);
    if (rc) return rc;
    st_job job = {.kind = JOB_DELETE, .user = user, .n = 1, .done_fn = done, .done_ctx = ctx};
    return submit_async(s, &job, out, e);
}

int store_pending_finish_delete(store_pending *p, store_delete_result *out, nc_err *e) {
    return pending_take(p, NULL, out, e);
}

/* Deletions go through the writer like appends, so they are ordered with them. */
int store_delete_user(nc_store *s, const char *user, store_delete_result *out, nc_err *e) {
    int rc = store_check_id("user", user, e);
    if (rc) return rc;
    st_job job = {.kind = JOB_DELETE, .user = user, .n = 1};
    rc = st_submit(s, &job, e);
    if (!rc && out) *out = job.del;
    return rc;
}

/* Through the writer like every write, so it is durable (and ordered) like the rest. */
int store_claim_model_version(nc_store *s, uint64_t at_least, uint64_t *out, nc_err *e) {
    if (at_least < 1 || at_least > (uint64_t)INT64_MAX)
        return nc_fail(e, NC_EINVAL, "model version %llu is outside 1..2^63-1", (unsigned long long)at_least);
    st_job job = {.kind = JOB_MODEL_VERSION, .version = (int64_t)at_least, .n = 1};
    int rc = st_submit(s, &job, e);
    if (!rc) *out = (uint64_t)job.version;
    return rc;
}
