/* store.h - the interaction store: every interaction the daemon accepts, in SQLite.
 *
 * Layout (sql/schema.sql): users and items interned to integers, an append-only log of
 * interactions keyed by a sequence number, tombstones for user deletions, idempotency records
 * and one row of counters. Every change (an accepted interaction, a user deletion) takes the
 * next sequence number, which only grows and is never reused: the highest committed one is the
 * "data watermark" a model is trained up to, and "everything after seq N" is a changefeed.
 *
 * Writes: one writer thread owns the only read-write connection. store_append and
 * store_delete_user put a job on a queue and sleep; the writer takes every queued job (up to
 * max_group_rows rows), runs them in ONE transaction (BEGIN IMMEDIATE ... COMMIT), each inside
 * its own SAVEPOINT so a job that fails is rolled back alone and the others still commit, then
 * wakes each caller with its own result. Under concurrent load one fsync serves many requests
 * (group commit); a lone request still commits at once, with no waiting for company.
 *
 * Reads: a small pool of read-only connections (opts.readers). In WAL mode readers never block
 * the writer nor each other, and each read sees the last COMMIT before it began, so a caller
 * sees its own acknowledged writes.
 *
 * Durability (opts.sync_full):
 *   1 (default) PRAGMA synchronous=FULL: the WAL is fsync'ed before COMMIT returns. An
 *     acknowledged write survives a crash of the process, of the operating system, and a power
 *     loss (given a disk that honours fsync).
 *   0           PRAGMA synchronous=NORMAL: the WAL is fsync'ed only at checkpoints. An
 *     acknowledged write survives a crash of the process, but the last transactions before an
 *     operating-system crash or power loss may be lost (the database stays consistent: whole
 *     transactions vanish, never parts of one). Faster ingest for data that can be replayed.
 *
 * WAL size: SQLite checkpoints passively every wal_checkpoint_pages pages; when the WAL file is
 * still larger than wal_max_bytes after a commit (readers kept it from being reset), the writer
 * runs a TRUNCATE checkpoint that waits briefly for readers, so the WAL stays bounded under
 * constant reads.
 *
 * Ids (users, items): 1..NC_MAX_ID_LEN bytes of UTF-8 without control characters, ',' or '"',
 * and without leading or trailing spaces, so that every id exported to CSV reads back the same.
 * Timestamps: seconds since the epoch, 0 ..= STORE_TS_MAX (year 9999; milliseconds are refused).
 * Types: each interaction is stored with its feedback type's name (core/feedback.h rules; rows
 * of stores older than types read as "view"); which names exist and what they weigh is the
 * daemon's configuration, checked by the API before a write.
 *
 * Errors: NC_EINVAL for a request that is wrong (bad id, batch too big, idempotency key reused
 * for different content); NC_EIO when the database refuses (disk or quota full, read-only file,
 * locked too long, I/O error); NC_EFORMAT for a file that is not an nclrec store or is corrupt;
 * NC_ENOMEM. Messages name the database file and what failed.
 *
 * Threads: every function may be called from any number of threads at once, except store_open
 * and store_close (one thread, with no other call in progress or to come). */
#ifndef NCLREC_STORE_H
#define NCLREC_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <jansson.h>

#include "common.h"
#include "dataset.h"
#include "item_doc.h"

typedef struct nc_store nc_store; /* opaque; one per process and database file */

/* Wall-clock seconds since the epoch; tests substitute a fake clock. */
typedef int64_t (*store_clock_fn)(void *ctx);

typedef struct store_opts {
    int sync_full;            /* 1: synchronous=FULL (default); 0: NORMAL (see above) */
    int busy_timeout_ms;      /* wait this long for another process's lock (default 5000) */
    int64_t idem_window_s;    /* seconds an idempotency key is remembered (default 86400) */
    int max_batch;            /* events per store_append (default 1000) */
    int max_group_rows;       /* rows per group-commit transaction (default 10000) */
    int readers;              /* read-only connections in the pool (default 4) */
    int wal_checkpoint_pages; /* passive checkpoint every this many WAL pages (default 1000) */
    int64_t wal_max_bytes;    /* truncate the WAL when larger after a commit (default 64 MiB) */
    int64_t max_db_bytes;     /* size quota of the database file; 0 = none (default) */
    int popular_cache_k;      /* most popular items kept in memory (default 1000) */
    int popular_refresh_ms;   /* how stale that list may get (default 1000) */
    int import_chunk;         /* rows per transaction in store_import_file (default 50000) */
    char seen_types[512];     /* "purchase,click": a user's items are only those of interactions
                                 of these feedback types (store_user_items, store_seen_items,
                                 store_seen_mapped: what /recommend excludes); "" = every type
                                 (default). Names as core/feedback.h allows */
    store_clock_fn clock;     /* NULL: time(NULL) */
    void *clock_ctx;
} store_opts;

#define STORE_TS_NOW INT64_MIN         /* store_event.ts: "use the time of acceptance" */
#define STORE_TS_MAX 253402300799LL    /* 9999-12-31T23:59:59Z */
#define STORE_MAX_KEY_LEN 255          /* longest idempotency key, in bytes */

/* Fills o with the defaults above. */
void store_opts_default(store_opts *o);

/* ==== lifecycle ========================================================================= */

/* Opens (creating if absent) the store at path, applies the pending migrations of
 * sql/migrations (compiled in; all in one transaction), opens the reader pool and starts the
 * writer thread. o may be NULL for the defaults; it is copied. On success *out is a new store
 * owned by the caller (free with store_close); on failure *out is NULL and e names the file and
 * the problem: cannot open, read-only, not an nclrec store, schema newer than this program. */
int store_open(const char *path, const store_opts *o, nc_store **out, nc_err *e);

/* Finishes every queued write (their callers get their results), stops and joins the writer,
 * and closes all connections. NULL is fine. No other call may be in progress or follow. */
void store_close(nc_store *s);

/* ==== writes ============================================================================ */

typedef struct store_event {
    const char *user, *item; /* borrowed NUL-terminated ids */
    int64_t ts;              /* seconds since the epoch, or STORE_TS_NOW */
    const char *type;        /* borrowed feedback type name (core/feedback.h), NULL = "view" */
} store_event;

#define STORE_TYPE_DEFAULT "view" /* the type of events stored without one */

/* ev's type, STORE_TYPE_DEFAULT when it names none. */
static inline const char *store_event_type(const store_event *ev) {
    return ev->type ? ev->type : STORE_TYPE_DEFAULT;
}

typedef struct store_append_result {
    int64_t n_accepted;      /* rows stored by the original request */
    int64_t first_seq;       /* their sequence numbers: first_seq .. last_seq */
    int64_t last_seq;
    int replayed;            /* 1: the key was seen in the window; nothing new was stored */
} store_append_result;

/* Appends ev[0..n) atomically (all or none), 1 <= n <= max_batch, and returns once the rows are
 * committed (durable as opts.sync_full promises). Every event is validated before anything is
 * written; an error names the event index and field. idem_key (may be NULL; 1..255 bytes) makes
 * a retry safe: when the same key was used within idem_window_s with the same events, *out is
 * the original result with replayed = 1 and nothing is stored again; the same key with other
 * events is refused (NC_EINVAL). Blocks the calling thread; ev is only read. */
int store_append(nc_store *s, const store_event *ev, size_t n, const char *idem_key,
                 store_append_result *out, nc_err *e);

/* An append in flight (store_append_async); opaque. */
typedef struct store_pending store_pending;
typedef void (*store_done_fn)(void *ctx);

/* store_append without blocking the calling thread: the same checks (an error found before
 * queueing is returned, *out is NULL and done never runs), then *out receives the job (set
 * before it is queued), it is queued and the call returns NC_OK. Once the job has committed or
 * failed, the writer thread calls done(ctx), possibly before this call returns, with no lock
 * held: done must be quick (wake whoever waits) and must not call into the store. Then
 * store_pending_finish gives the result, exactly as store_append would have returned it, and
 * frees the job. ev (and its strings) and idem_key must stay valid until done has run. */
int store_append_async(nc_store *s, const store_event *ev, size_t n, const char *idem_key,
                       store_done_fn done, void *ctx, store_pending **out, nc_err *e);
/* After done(ctx): the job's outcome (NC_OK and *out, which may be NULL; or its error in e).
 * Frees p. */
int store_pending_finish(store_pending *p, store_append_result *out, nc_err *e);

typedef struct store_delete_result {
    int64_t n_deleted;       /* interactions removed (0 when the store had none) */
    int64_t seq;             /* sequence number of the deletion (its tombstone) */
} store_delete_result;

/* Removes every interaction of user and the user's id, and records a tombstone with the next
 * sequence number (also when there was nothing to remove: a model trained elsewhere may still
 * know the user). A model trained up to a watermark below the tombstone must serve the user as
 * unknown (see store_user_items). Blocks until committed. out may be NULL. */
int store_delete_user(nc_store *s, const char *user, store_delete_result *out, nc_err *e);
/* store_delete_user without blocking the calling thread, with the contract of
 * store_append_async: user must stay valid until done(ctx) has run; then
 * store_pending_finish_delete gives what store_delete_user would have returned and frees p. */
int store_delete_user_async(nc_store *s, const char *user, store_done_fn done, void *ctx, store_pending **out,
                            nc_err *e);
int store_pending_finish_delete(store_pending *p, store_delete_result *out, nc_err *e);

/* The version for a new model: max(the highest recorded + 1, at_least), recorded durably
 * before it returns (like a write), so no later model of this store gets it again even when
 * the checkpoint carrying it is never written. at_least: 1..2^63-1. Blocks until committed. */
int store_claim_model_version(nc_store *s, uint64_t at_least, uint64_t *out, nc_err *e);

/* Checks one external id against the rules above; what ("user", "item") starts the message. */
int store_check_id(const char *what, const char *id, nc_err *e);

/* The part of an error message of this store that names the cause ("commit: disk full: ..."),
 * without the leading "store PATH: ", for answers to clients. Returns a pointer into msg
 * (borrowed; msg itself when it does not start that way). */
const char *store_error_cause(const nc_store *s, const char *msg);

/* ==== reads ============================================================================= */

/* A list of external ids with a count each, in one caller-owned block: free with
 * store_items_free (which leaves an empty, reusable list). */
typedef struct store_items {
    size_t n;
    char **ids;              /* ids[0..n), NUL-terminated */
    int64_t *counts;         /* counts[0..n) */
    char *blob_;             /* storage of the strings (private) */
} store_items;

void store_items_free(store_items *x);

/* The distinct items user has interacted with (including interactions accepted after any model
 * was trained), in order of first interaction, each with its number of interactions; empty for
 * an unknown user. *deleted_seq (may be NULL) receives the sequence number of the user's latest
 * deletion, 0 if never deleted: when it is above the watermark of the model being served, that
 * model's embedding of the user is stale and the user must be served as unknown (fold-in from
 * these items). out is filled fresh (its old content is not freed: pass an empty list). */
int store_user_items(nc_store *s, const char *user, store_items *out, int64_t *deleted_seq,
                     nc_err *e);

/* Receives one item id (borrowed for the call). */
typedef void (*store_item_fn)(void *ctx, const char *item);

/* store_user_items without the database: calls fn(ctx, item) for each distinct item of user,
 * in the same order, and sets *deleted_seq (may be NULL), from an in-memory copy the writer
 * thread keeps current. Every write this process acknowledged is in it (the writer updates
 * the copy before it wakes the caller); writes of another process on the same file arrive with
 * the next commit or within about a second. Returns 1 when it answered; 0 when the copy is not
 * ready (the first call asks the writer to build it; it is also dropped and rebuilt after a
 * failed update): then nothing was called and the caller reads store_user_items instead.
 * fn runs under the copy's read lock: it must be quick and must not call into the store. */
int store_seen_items(nc_store *s, const char *user, store_item_fn fn, void *ctx,
                     int64_t *deleted_seq);

/* A caller's number for an item id (a model's internal item id), or -1 when it has none. */
typedef int32_t (*store_item_map_fn)(void *ctx, const char *item);

/* A growable list of numbers, owned by the caller: start zeroed, free(ids) at the end. */
typedef struct store_ids {
    int32_t *ids;
    size_t n, cap;
} store_ids;

/* store_seen_items for a caller that wants the items as its own numbers: out receives
 * map(ctx, item) for each of user's items (in the same order), leaving out -1s. The store
 * remembers each item's number for as long as tag stays the same, so map runs about once per
 * item and tag rather than once per item and call: tag must name the mapping (a model's
 * version: two different mappings must never share a tag). Returns 1 when it answered, 0 as
 * store_seen_items (also when out could not grow; out->n is then meaningless). map runs under
 * the copy's read lock. */
int store_seen_mapped(nc_store *s, const char *user, uint64_t tag, store_item_map_fn map, void *ctx,
                      store_ids *out, int64_t *deleted_seq);

/* The min(k, popular_cache_k) most popular items, by number of distinct users with a live
 * interaction (ties: first seen first), counts = those numbers; items nobody has are left out.
 * Served from a cache at most popular_refresh_ms old. out as for store_user_items. */
int store_popular(nc_store *s, int k, store_items *out, nc_err *e);

typedef struct store_stats {
    int64_t interactions;    /* live rows */
    int64_t users;           /* users with at least one live interaction */
    int64_t items;           /* items ever seen */
    int64_t last_seq;        /* the data watermark: highest committed sequence number */
    int64_t db_bytes;        /* size of the database file */
    int64_t wal_bytes;       /* size of its write-ahead log */
    /* since store_open, in this process: */
    uint64_t commits;        /* transactions committed by the writer */
    uint64_t jobs;           /* requests committed (appends and deletions, replays included) */
    uint64_t rows;           /* interactions appended */
    uint64_t replays;        /* appends answered from an idempotency record */
    uint64_t job_errors;     /* requests that failed in the writer */
    uint64_t checkpoints;    /* TRUNCATE checkpoints run to bound the WAL */
    size_t queue_depth;      /* requests waiting for the writer right now */
    size_t in_writer;        /* requests the writer is running right now */
    int writable;            /* 0 after the writer failed to write (disk full, read-only, I/O),
                                1 again after its next successful commit; while it is 0 an idle
                                writer tries a small commit every second, so the store recovers
                                by itself once the fault is gone */
    int seen_ready;          /* 1 while the in-memory copy of users' items (store_seen_items)
                                answers; 0 before its first use, while it is built, and after a
                                failed update until it is rebuilt (callers then read the file) */
} store_stats;

int store_stats_get(nc_store *s, store_stats *out, nc_err *e);

typedef struct store_since {
    int64_t interactions;    /* live interactions with seq > the given one */
    int64_t deletions;       /* user deletions with seq > the given one */
    int64_t last_seq;        /* the current watermark */
} store_since;

/* What changed after sequence number seq (a model's watermark): retraining is due when
 * enough interactions arrived, or when users were deleted. */
int store_changes_since(nc_store *s, int64_t seq, store_since *out, nc_err *e);

/* A consistent snapshot of every live interaction for training, in sequence order: external
 * ids are interned into users and items (initialised by the caller; may already hold ids, e.g.
 * the current model's, which keep their internal numbers) and rows appended to out (initialised
 * by the caller). *watermark receives the highest sequence number the snapshot includes. All
 * three are caller-owned; on failure they may hold part of the data and should be discarded. */
int store_snapshot(nc_store *s, nc_idmap *users, nc_idmap *items, nc_interactions *out,
                   int64_t *watermark, nc_err *e);
/* store_snapshot with each row's training weight in out->w: its type's weight in ft (a type
 * ft does not name weighs 1, as does every row when ft is NULL; see core/feedback.h). */
int store_snapshot_weighted(nc_store *s, const nc_feedback_types *ft, nc_idmap *users, nc_idmap *items,
                            nc_interactions *out, int64_t *watermark, nc_err *e);

/* ==== bulk import and export ============================================================ */

/* Called after each chunk: done of total rows (total -1 when unknown). */
typedef void (*store_progress_fn)(void *ctx, int64_t done, int64_t total);

/* Loads an interaction file with core/dataset.h's loader (CSV, TSV or adjacency lists; lo may
 * be NULL for its defaults), validates every row, then appends them in chunks of import_chunk
 * rows through the writer, so a running daemon's own writes interleave. Rows without a
 * timestamp (0) get the time of the import. A bad row refuses the whole file before anything
 * is written. Each chunk carries an idempotency key derived from its content and position, so
 * re-running an interrupted import within idem_window_s skips the chunks already committed
 * (*n_replayed counts their rows). A database failure midway leaves the chunks before it
 * committed. n_rows / n_replayed may be NULL. progress may be NULL. With lo->types and
 * lo->type_index, each row is stored with its type's name (the loader's weight column holds
 * the types; a row without one gets lo->weight_missing's type); otherwise every row is a view. */
int store_import_file(nc_store *s, const char *path, const nc_load_opts *lo,
                      store_progress_fn progress, void *ctx, int64_t *n_rows,
                      int64_t *n_replayed, nc_err *e);

/* Writes every live interaction as "user,item,timestamp,type" CSV (with that header line) in
 * sequence order, from one consistent snapshot; store_import_file reads it back. out is the
 * caller's (not closed). *n_rows (may be NULL) receives the rows written. */
int store_export_csv(nc_store *s, FILE *out, store_progress_fn progress, void *ctx,
                     int64_t *n_rows, nc_err *e);

/* ======================= the catalogue ======================= */

/* The catalogue in the store: each item's document (item_doc.h) in the items
 * table (sql/migrations/0003_items.sql), written through the store's writer like
 * interactions, so a catalogue write is atomic, durable when acknowledged, idempotent with a
 * key, and takes a sequence number the changefeed carries to replicas.
 *
 * Threads: as store.h. */

typedef enum { STORE_ITEM_PUT, STORE_ITEM_PATCH, STORE_ITEM_DELETE } store_item_op;

/* One catalogue write. The caller fills item, op and body (PUT, PATCH: a document that
 * item_doc_check accepted; borrowed); the store fills the rest. */
typedef struct store_item_write {
    const char *item;
    store_item_op op;
    const json_t *body;
    char *doc;               /* out: the canonical document stored (malloc'd, the caller frees;
                                NULL after a DELETE and for a replayed request) */
    int64_t seq;             /* out: the write's sequence number */
} store_item_write;

/* Runs w[0..n) in order, all or none (1 <= n <= max_batch), and returns once committed.
 * PATCH and DELETE of an item the store does not have (never written nor seen in an
 * interaction, or deleted) refuse the whole request: NC_EINVAL with a message starting
 * "not found: ". idem_key: as store_append (the hash covers ids, operations and bodies);
 * *out receives accepted = n and the sequence numbers, or the original result (replayed = 1,
 * docs left NULL). */
int store_write_items(nc_store *s, store_item_write *w, size_t n, const char *idem_key, store_append_result *out,
                      nc_err *e);

/* store_write_items without blocking the calling thread, with the contract of
 * store_append_async (store.h): w (and what it points to) and idem_key must stay valid until
 * done(ctx) has run; then store_pending_finish_items gives what store_write_items would have
 * returned (w's outputs filled) and frees p. */
int store_write_items_async(nc_store *s, store_item_write *w, size_t n, const char *idem_key, store_done_fn done,
                            void *ctx, store_pending **out, nc_err *e);
int store_pending_finish_items(store_pending *p, store_item_write *w, size_t n, store_append_result *out, nc_err *e);

/* An item's state: *known = 0 when the store never saw it; else *doc is its canonical
 * document (malloc'd, the caller frees; NULL for an item seen only in interactions) and
 * *deleted whether DELETE /items removed it. */
int store_item_get(nc_store *s, const char *item, int *known, char **doc, int *deleted, nc_err *e);

/* Calls fn for every item with a catalogue write, in sequence order (doc NULL: deleted); for
 * loading the serving catalogue at start and for export. fn returns 0 to go on, else the walk
 * stops with that code. */
typedef int (*store_item_each_fn)(void *ctx, const char *item, const char *doc, int64_t seq);
int store_items_each(nc_store *s, store_item_each_fn fn, void *ctx, nc_err *e);

/* ======================= the item memo ======================= */

/* The item memo: a caller's number for each item of an id map, remembered for one tag.
 *
 * Why: /recommend excludes a user's items as model item ids. The in-memory copies of users'
 * items (the store's, store_seen.c; a replica's, replica_state.c) hold their own item numbers;
 * turning each into the model's through a hash look-up of its string, on every request, cost
 * more than the rest of the request. The memo asks the caller's map once per item and tag (a
 * model version) and answers from an array afterwards:
 *
 *   ids[i] = the caller's number of the owner's item i, MAP_UNKNOWN until first asked
 *
 * Locking: the owner's read-write lock protects it. item_memo_ensure is called with the read
 * lock held (it may trade it for the write lock for a moment to resize or re-tag the table);
 * item_memo_map_list with the read lock held (readers fill entries with relaxed atomics:
 * every reader computes the same value). item_memo_free with no reader left.
 *
 * Ownership: a plain struct inside the owner (start zeroed); item_memo_free releases it. */

typedef struct item_memo {
    uint64_t tag;
    int set;
    atomic_int *ids;  /* n entries */
    size_t n;
} item_memo;

/* With lock read-held: makes the table belong to tag and cover n_items items (keeping what is
 * remembered for the same tag). Returns 1 when the table can be used, 0 when not (another tag
 * took it meanwhile, or no memory: item_memo_get then asks map every time). The read lock is
 * held again on return. */
int item_memo_ensure(item_memo *m, pthread_rwlock_t *lock, uint64_t tag, size_t n_items);

/* Forgets everything (the owner's item numbering starts again). Write lock held, or no
 * reader left. */
void item_memo_free(item_memo *m);

/* With the read lock held: appends the caller's numbers of list[0..n) (the owner's item
 * numbers, strings in items) to out, leaving out -1s; use is item_memo_ensure's answer.
 * 1, or 0 when out could not grow. */
int item_memo_map_list(item_memo *m, int use, const nc_idmap *items, const int32_t *list, uint32_t n,
                       store_item_map_fn map, void *ctx, store_ids *out);

/* ======================= the retrain history ======================= */

/* What one retrain did (sql/migrations/0004_retrain_runs.sql), for /model's history. */
#define STORE_RUNS_KEPT 1000  /* the writer deletes older rows */
typedef struct store_run {
    int64_t ended_at;          /* seconds since the epoch */
    char outcome[16];          /* swapped, rejected, failed, cancelled, skipped */
    uint64_t version;          /* of the model built; 0 when none */
    double recall20, ndcg20;   /* held-out, -1 when not evaluated */
    char detail[256];          /* why it was rejected, failed or skipped; "" otherwise */
} store_run;

/* Records r through the writer (durable when it returns NC_OK). */
int store_record_run(nc_store *s, const store_run *r, nc_err *e);
/* The newest runs, at most max, into out[0..*n) oldest first (the caller's array). */
int store_recent_runs(nc_store *s, store_run *out, int max, int *n, nc_err *e);

#endif
