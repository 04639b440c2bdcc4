/* checkpoint.h - one versioned binary file holding a trained model: everything training
 * needs to resume (E0, hyper-parameters, centroids) and serving needs to answer (id maps and
 * the propagated user and item embeddings F), plus training metadata and metrics.
 *
 * Layout (little-endian): a fixed header (magic "NCLRECKP", format version, section count),
 * then tagged sections (tag, byte length, payload), then a trailer with a CRC-32C... of every
 * byte before it. Written to PATH.tmp.<pid>, fsynced, renamed over PATH, directory fsynced, so a
 * crash leaves either the old file or the new one. A truncated, corrupted or wrong-version file
 * is refused with a message saying which. */
#ifndef NCLREC_CHECKPOINT_H
#define NCLREC_CHECKPOINT_H

#include <stdint.h>

#include "common.h"
#include "dataset.h"
#include "hparams.h"
#include "metrics.h"

#define NC_CKPT_VERSION 1

typedef struct nc_train_meta {
    uint64_t model_version;   /* set by the caller (daemon: increasing counter; CLI: time) */
    double trained_at;        /* unix seconds when training finished */
    double train_seconds;     /* wall time of training */
    int64_t data_watermark;   /* the store's last interaction sequence number included; -1 */
    int32_t epochs_run;
    int32_t best_epoch;       /* 0-based epoch whose parameters were kept */
    int64_t n_train;          /* training interactions */
    int64_t n_valid, n_test;
} nc_train_meta;

typedef struct nc_checkpoint {
    nc_hparams hp;
    nc_train_meta meta;
    nc_metrics valid, test;   /* of the best epoch */
    int32_t n_users, n_items, dim;
    nc_idmap users, items;    /* external ids, n_users / n_items entries */
    float *E0;                /* (n_users + n_items) x dim: users first, then items */
    float *user_emb;          /* n_users x dim, F (mean of layers): serving */
    float *item_emb;          /* n_items x dim */
    int32_t k_user, k_item;   /* centroids per table (0 if none) */
    float *cent_user;         /* k_user x dim, L2-normalised */
    float *cent_item;         /* k_item x dim */
    int32_t *assign_user;     /* n_users, cluster of each user (-1 if none) */
    int32_t *assign_item;     /* n_items */
} nc_checkpoint;

/* All pointers NULL, counts 0. */
void nc_checkpoint_init(nc_checkpoint *c);
/* Frees every array and both id maps; leaves an initialised struct. */
void nc_checkpoint_free(nc_checkpoint *c);

/* Writes c atomically to path (temp file, fsync, rename, fsync of the directory). */
int nc_checkpoint_write(const char *path, const nc_checkpoint *c, nc_err *e);
/* Reads path into c (initialised by the callee; on failure c is left freed). Refuses bad
 * magic ("not an nclrec checkpoint"), other versions, truncation and checksum mismatch. */
int nc_checkpoint_read(const char *path, nc_checkpoint *c, nc_err *e);

#endif
