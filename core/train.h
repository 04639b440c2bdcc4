/* train.h - the NCL training loop: epochs of shuffled mini-batches with uniform negatives, the
 * E-step k-means at the start of every epoch, dense Adam, evaluation on the validation split
 * with early stopping, and the best epoch's parameters kept. Everything the daemon's background
 * retrain needs: train from arrays in memory, progress through a callback, stop early when
 * asked, warm-start from a previous model's embeddings.
 *
 * Threads: nc_train sets the calling thread's OpenMP/OpenBLAS thread count from hp.threads
 * (core/common.h nc_set_threads) and starts no threads of its own beyond OpenMP's. */
#ifndef NCLREC_TRAIN_H
#define NCLREC_TRAIN_H

#include <stdatomic.h>
#include <stdint.h>

#include "checkpoint.h"
#include "common.h"
#include "dataset.h"
#include "hparams.h"
#include "metrics.h"

typedef enum { NC_PHASE_EPOCH_START, NC_PHASE_BATCH, NC_PHASE_EPOCH_END, NC_PHASE_LOG } nc_phase;

/* What the progress callback sees. Borrowed for the duration of the call. */
typedef struct nc_progress {
    nc_phase phase;
    int32_t epoch, n_epochs;   /* 0-based epoch, maximum epochs */
    int32_t batch, n_batches;  /* batches done in this epoch, batches per epoch */
    double bpr, reg, ssl, proto; /* mean loss terms over the epoch's batches so far */
    double valid_ndcg10;       /* last evaluation, -1 before the first */
    double best_ndcg10;        /* best so far, -1 before the first */
    int32_t best_epoch;        /* -1 before the first evaluation */
    double seconds;            /* since training started */
    double epoch_seconds;      /* duration of this epoch (at NC_PHASE_EPOCH_END) */
    /* seconds of this epoch spent in each part (at NC_PHASE_EPOCH_END) */
    double t_prop, t_ssl, t_proto, t_bpr, t_kmeans, t_adam, t_sample, t_eval;
    double flops;              /* floating-point operations of this epoch's training steps */
    const char *message;       /* NC_PHASE_LOG: a warning or note worth logging, else NULL */
} nc_progress;

/* Return non-zero to stop training after this call (treated like a cancel). */
typedef int (*nc_progress_fn)(const nc_progress *p, void *ctx);

typedef struct nc_train_opts {
    nc_hparams hp;
    nc_progress_fn progress;    /* may be NULL */
    void *progress_ctx;
    int progress_every_batch;   /* call with NC_PHASE_BATCH after every batch (for a live bar) */
    const atomic_int *cancel;   /* may be NULL; non-zero means stop as soon as possible */
    const nc_checkpoint *warm;  /* may be NULL: rows of E0 for ids it knows (matched by external
                                   id) start from its E0 instead of random */
} nc_train_opts;

/* Trains on d->train, early-stops on d->valid (when it has rows; otherwise runs hp.epochs),
 * reports the best epoch's metrics on d->valid and d->test (test masks train+valid items).
 * Fills *out (initialised by the callee; the caller frees it with nc_checkpoint_free) with the
 * best epoch's E0, the serving embeddings, centroids, id maps copied from d, and metadata.
 * Returns NC_ECANCEL when cancelled (out is then freed), NC_EINVAL for unusable data
 * (no training rows, ...), with the reason in e. */
int nc_train(const nc_dataset *d, const nc_train_opts *o, nc_checkpoint *out, nc_err *e);

/* The settings nc_train would run d with: *hp checked and put through the size rule
 * (core/scale_rule.h) on d's distinct training pairs, as nc_train resolves them, without
 * training. On NC_OK *hp holds them and why (cap bytes, may be NULL) the rule's log line; on an
 * error *hp is unchanged and e says what is wrong (a setting out of range, no training pairs). */
int nc_train_settings(const nc_dataset *d, nc_hparams *hp, char *why, size_t cap, nc_err *e);

#endif
