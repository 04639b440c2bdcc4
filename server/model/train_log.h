/* train_log.h - what the page draws of retraining: the running retrain's per-epoch curve and
 * the outcomes of the last runs with what each model measured on held-out rows. Kept in
 * memory by the retrain thread (written under its own lock, read by GET /model); the runs
 * are also in the store (store.h, the retrain history), which fills the log at start. */
#ifndef NCLREC_TRAIN_LOG_H
#define NCLREC_TRAIN_LOG_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "store/store.h"

#define TRAIN_LOG_EPOCHS 512  /* epochs of the current run kept (the first ones) */
#define TRAIN_LOG_RUNS 20     /* last runs kept */

typedef struct train_epoch {
    int32_t epoch;
    double bpr, reg, ssl, proto, valid_ndcg10, seconds;
} train_epoch;

/* One run's outcome: the store's row (ended_at, outcome, version, held-out metrics, detail). */
typedef store_run train_run;

typedef struct train_log {
    pthread_mutex_t mu;
    train_epoch epochs[TRAIN_LOG_EPOCHS];
    int n_epochs;
    train_run runs[TRAIN_LOG_RUNS]; /* a ring: the newest at (next - 1) */
    int n_runs, next;
} train_log;

/* Initialises l (empty); 0, or -1 when the lock cannot be made. */
int train_log_init(train_log *l);
void train_log_destroy(train_log *l);
/* A new run starts: forgets the previous run's curve. */
void train_log_begin(train_log *l);
void train_log_epoch(train_log *l, const train_epoch *e);
/* A run ended; r is copied. */
void train_log_end(train_log *l, const train_run *r);
/* Sets "epochs" and "history" (oldest first) on o (the caller's object). */
void train_log_json(train_log *l, json_t *o);

#endif
