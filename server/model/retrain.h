/* retrain.h - the background retrain: keeps the served model up to date with the store.
 *
 * One thread (like redis's bio.c workers) sleeps on a condition variable and runs a retrain
 *   - every retrain_interval seconds when at least retrain_min_new interactions (or any user
 *     deletion) arrived after the served model's data watermark, or
 *   - at once on retrain_request (POST /admin/retrain).
 * A run: a consistent snapshot of the store (ids the current model knows keep their numbers);
 * a deterministic held-out split by hash of (user, item), so a pair is in the same split in
 * every run and the current model has never trained on the rows it is judged on; nc_train
 * warm-started from the current model's embeddings; the current model evaluated on the same
 * held-out rows; the new model swapped in only when its Recall@20 is not below the current
 * one's by more than retrain_margin (logged and counted either way); the index built; the
 * checkpoint written atomically to DATA_DIR/models, keeping the last keep_checkpoints.
 *
 * Serving is not starved: the thread runs at a raised nice value (setpriority on its own
 * thread id; the OpenMP workers it starts inherit it) and training uses retrain_threads
 * threads, by default all cores but one.
 *
 * Shutdown: retrain_stop sets the cancel flag that nc_train polls and joins the thread; a run
 * that is cancelled leaves the served model and the checkpoints untouched. */
#ifndef NCLREC_RETRAIN_H
#define NCLREC_RETRAIN_H

#include <jansson.h>
#include <stdatomic.h>

#include "model_env.h"

typedef struct retrain retrain;

/* What one run did, for logs, /model and tests. */
typedef struct retrain_report {
    prom_outcome outcome;
    double seconds;
    uint64_t version;        /* of the new model (0 when none was built) */
    int64_t watermark;       /* of the snapshot */
    int64_t rows;            /* interactions in the snapshot */
    double new_recall20;     /* held-out Recall@20 of the new model, -1 if not evaluated */
    double old_recall20;     /* of the served model on the same rows, -1 without one */
    double new_ndcg20;       /* held-out NDCG@20 of the new model, -1 if not evaluated */
    char detail[1024];       /* why it was rejected, failed or skipped */
} retrain_report;

/* Runs one retrain on the calling thread (used at start-up before serving, and by the
 * background thread). Swaps the new model into env->model when accepted. cancel may be NULL.
 * threads > 0 overrides retrain_threads (start-up, when no request competes for the cores).
 * Returns NC_OK for every completed decision (swapped, rejected, skipped; see rep->outcome),
 * NC_ECANCEL when cancelled, another code with e filled on failure. */
int retrain_run_once(const model_env *env, const atomic_int *cancel, int threads, retrain_report *rep, nc_err *e);

/* Starts the background thread; env is copied (what it points to must outlive the thread: see
 * model_env.h). The result is owned by the caller (retrain_stop frees it). */
retrain *retrain_start(const model_env *env, nc_err *e);

/* Asks for a run now. Returns 1 when one is already running (nothing more is queued: ask
 * again once it has finished to train on what arrived meanwhile), 0 when one was queued. */
int retrain_request(retrain *r);

/* Cancels a running retrain and tells the thread to end, without waiting for it; r stays
 * valid (retrain_status and retrain_request still answer) until retrain_stop. NULL is fine. */
void retrain_cancel(retrain *r);

/* Cancels a running retrain, stops and joins the thread, frees r. NULL is fine. No other
 * thread may use r during or after the call (stop the HTTP server first). */
void retrain_stop(retrain *r);

/* A new JSON object describing the thread's state and the last run; caller owns it. */
json_t *retrain_status(retrain *r);

/* Loads the newest valid checkpoint of DATA_DIR/models into env->model, skipping (with a log
 * line, counted in nclrec_checkpoint_read_errors_total) every file that fails to load. First
 * removes the temporary files of checkpoint writers that no longer run (a process killed while
 * writing), with a log line each: call it before this process writes any checkpoint (at start,
 * before the retrain thread). Returns NC_OK with *loaded = 1 when one was loaded, NC_OK with
 * *loaded = 0 when there is none. */
int retrain_load_newest(const model_env *env, int *loaded, nc_err *e);

#endif
