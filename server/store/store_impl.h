/* store_impl.h - what the store's source files share (store.c: lifecycle, schema, helpers;
 * store_read.c: the reader pool and queries; store_writer.c: the group-commit writer;
 * store_io.c: snapshot, import, export). Not for use outside server/store/.
 *
 * Threading: as store.h; the writer's statements (st_wstmts) are the writer thread's alone, a
 * st_reader belongs to the thread that took it until st_reader_put. Ownership: nc_store owns
 * every connection and statement here (store_close frees them). */
#ifndef NCLREC_STORE_IMPL_H
#define NCLREC_STORE_IMPL_H

#include <pthread.h>
#include <sqlite3.h>

#include "store.h"

/* ---- writer jobs ---- */

enum { JOB_APPEND, JOB_DELETE, JOB_MODEL_VERSION, JOB_ITEMS, JOB_RUN };

typedef struct st_seen st_seen; /* store_seen.c */

/* One request waiting for the writer. Lives on the caller's stack; the caller sleeps on cv
 * until done is set (under qmu), so the writer may use every field until then. */
typedef struct st_job {
    int kind;
    const store_event *ev;   /* JOB_APPEND: events (borrowed) */
    size_t n;
    const char *key;         /* JOB_APPEND: idempotency key or NULL (borrowed) */
    uint64_t hash;           /* JOB_APPEND: hash of the events, for the key */
    const char *user;        /* JOB_DELETE (borrowed) */
    int64_t version;         /* JOB_MODEL_VERSION: at least this in, the version recorded out */
    struct store_item_write *items; /* JOB_ITEMS: n catalogue writes (borrowed; results go in) */
    const store_run *run;    /* JOB_RUN: the run to record (borrowed) */
    int done;                /* set by the writer under qmu */
    pthread_cond_t cv;       /* signalled with done (the caller's own; not for async jobs) */
    store_done_fn done_fn;   /* async jobs (store_append_async): called after done, no lock */
    void *done_ctx;
    struct st_job *anext;    /* the writer's list of async jobs to notify */
    int rc;                  /* NC_OK or the job's error, with err */
    nc_err err;
    store_append_result app;
    store_delete_result del;
    struct st_job *next;
} st_job;

/* The writer connection's prepared statements. */
typedef struct st_wstmts {
    sqlite3_stmt *last_seq, *upd_counters;
    sqlite3_stmt *sel_user, *ins_user, *sel_item, *ins_item;
    sqlite3_stmt *sel_pair, *ins_inter, *inc_pop;
    sqlite3_stmt *sel_idem, *put_idem, *prune_idem;
    sqlite3_stmt *dec_pop, *del_inter, *del_user, *ins_tomb;
    sqlite3_stmt *savepoint, *release;
} st_wstmts;

/* One read-only connection of the pool and its statements. */
typedef struct st_reader {
    sqlite3 *db;
    sqlite3_stmt *user_items, *user_deleted, *popular, *counters, *since_inter, *since_del;
} st_reader;

struct nc_store {
    char *path;                /* owned */
    char *seen_filter;         /* ",purchase,click," from o.seen_types, NULL = every type (owned) */
    store_opts o;

    /* writer: wdb is used by the opening thread, then only by the writer thread */
    sqlite3 *wdb;
    st_wstmts w;
    pthread_t thread;
    int thread_started;

    /* queue and writer statistics, under qmu */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;        /* jobs queued or stopping */
    st_job *head, *tail;
    size_t qlen;               /* jobs queued */
    size_t running;            /* jobs taken by the writer, not yet done */
    int stopping;
    uint64_t commits, jobs, rows, replays, job_errors, checkpoints;
    int writable;

    /* reader pool, under rmu */
    pthread_mutex_t rmu;
    pthread_cond_t rcv;        /* a reader was returned */
    st_reader *readers;        /* owned, n_readers */
    int n_readers;
    int *free_ids;             /* stack of idle reader indices */
    int n_free;

    /* popularity cache, under pmu */
    pthread_mutex_t pmu;
    store_items pop;
    double pop_at;             /* nc_now() of the last refresh; < 0: never */

    int sync_init;             /* which of the mutexes/conds above exist (for cleanup) */

    st_seen *seen;             /* in-memory seen items (store_seen.c); owned */
};

/* store.c */
int st_sql_fail(const nc_store *s, sqlite3 *db, int rc, const char *what, nc_err *e);
int st_exec(const nc_store *s, sqlite3 *db, const char *sql, const char *what, nc_err *e);
int st_prepare(const nc_store *s, sqlite3 *db, const char *sql, sqlite3_stmt **out, nc_err *e);
int64_t st_now(const nc_store *s);
int64_t st_file_size(const char *path, const char *suffix);
uint64_t st_hash_events(const store_event *ev, size_t n);
int st_check_events(const store_event *ev, size_t n, nc_err *e);

/* store_writer.c */
int st_writer_start(nc_store *s, nc_err *e);
void st_writer_stop(nc_store *s);
int st_writer_prepare(nc_store *s, nc_err *e);
void st_writer_finalize(nc_store *s);
/* Queues job and sleeps until the writer has committed or failed it. */
int st_submit(nc_store *s, st_job *job, nc_err *e);
/* The writer's statement steps, for the other files whose jobs it runs: st_step_done runs a
 * statement that returns no rows and resets it; st_step_row steps a lookup (*found = 1 with
 * the row readable, the caller resets). */
int st_step_done(nc_store *s, sqlite3_stmt *st, const char *what, nc_err *e);
int st_step_row(nc_store *s, sqlite3_stmt *st, int *found, const char *what, nc_err *e);
/* The idempotency record of key: *hit = 1 with *out the original result when it is live and
 * for the same hash; NC_EINVAL when live for another request. */
int st_idem_lookup(nc_store *s, const char *key, uint64_t hash, int64_t now, store_append_result *out, int *hit,
                   nc_err *e);
int st_idem_record(nc_store *s, const char *key, uint64_t hash, int64_t now, const store_append_result *r, nc_err *e);

/* store_items.c: a JOB_ITEMS job inside the writer's transaction; *seq is the last sequence
 * number used (advanced per write), *d_items counts items created. */
int st_items_run(nc_store *s, st_job *j, int64_t *seq, int64_t now, int64_t *d_items, nc_err *e);
/* store_runs.c: a JOB_RUN job inside the writer's transaction. */
int st_run_record(nc_store *s, st_job *j, nc_err *e);
/* store_writer.c: the job queued on the heap for a *_async call (its done_fn set; *out set
 * before queueing), and its outcome once done (frees it). */
int st_submit_async(nc_store *s, const st_job *job, store_pending **out, nc_err *e);
int st_pending_take_append(store_pending *p, store_append_result *out, nc_err *e);

/* store_seen.c: the copy of every user's live items that store_seen_items serves. open runs
 * in store_open with the writer connection; close before that connection closes. update runs
 * on the writer thread only: after every COMMIT (before the callers are woken) and, while
 * active, once a second when idle (pending: build at once). */
int st_seen_open(nc_store *s, nc_err *e);
void st_seen_close(nc_store *s);
int st_seen_active(const nc_store *s);
int st_seen_pending(const nc_store *s);
int st_seen_ready(const nc_store *s);
void st_seen_update(nc_store *s);

/* store_read.c */
int st_readers_open(nc_store *s, nc_err *e);
void st_readers_close(nc_store *s);
st_reader *st_reader_get(nc_store *s);
void st_reader_put(nc_store *s, st_reader *r);

#endif
