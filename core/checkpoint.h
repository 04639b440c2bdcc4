/* checkpoint.h - one versioned binary file holding a trained model: everything training
 * needs to resume (E0, hyper-parameters, centroids) and serving needs to answer (id maps and
 * the propagated user and item embeddings F), plus training metadata and metrics.
 *
 * Layout, all integers and floats little-endian:
 *   header   "NCLRECKP" | u32 format version (NC_CKPT_VERSION) | u32 number of sections
 *   section  u32 tag (4 ASCII chars, first char in the lowest byte) | u64 length | payload
 *   trailer  u32 CRC-32 (IEEE, as zlib's crc32) of every byte before it
 * Sections, in this order when written (a reader skips tags it does not know):
 *   HPAR  u32 count, then per setting: u16 name length | name | u8 type (0 int, 1 float,
 *         2 u64) | 8-byte value (i64, f64, u64). By name, from nc_hparam_table, so adding a
 *         hyper-parameter does not change the format: an older file lacks the new name and
 *         the reader keeps its default; names this build does not know are ignored.
 *   META  nc_train_meta: u64 model_version, f64 trained_at, f64 train_seconds,
 *         i64 data_watermark, i32 epochs_run, i32 best_epoch, i64 n_train, n_valid, n_test
 *   METR  u32 nk | i32 K[nk] | valid: f64 recall[nk], f64 ndcg[nk], i64 n_users | test: same
 *   DIMS  i32 n_users, n_items, dim, k_user, k_item
 *   UIDS, IIDS  the external ids in internal-id order: per id u32 length | bytes
 *   EMB0  f32 (n_users + n_items) x dim    UEMB  f32 n_users x dim   IEMB  f32 n_items x dim
 *   CENU  f32 k_user x dim                 CENI  f32 k_item x dim
 *   ASGU  i32 n_users, or empty when there are no assignments      ASGI  i32 n_items, or empty
 *
 * Writing goes to PATH.tmp.<pid>, checked fwrite, fflush + fsync, rename over PATH, fsync of
 * the directory: a crash or a failed write leaves the old file (or none) in place; a failed
 * write removes its temp file, a killed process leaves it (the daemon removes those of dead
 * processes when it starts).
 * One writer per PATH at a time. Reading checks every length against the file size before it
 * allocates, then the CRC, then the contents, and refuses with a message saying which:
 * "not an nclrec checkpoint", "format version N, this build reads 1", "truncated at byte X",
 * "checksum mismatch (corrupted)", "inconsistent dimensions ...". */
#ifndef NCLREC_CHECKPOINT_H
#define NCLREC_CHECKPOINT_H

#include <stddef.h>
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
    int32_t *assign_user;     /* n_users, cluster of each user (-1 if none), or NULL */
    int32_t *assign_item;     /* n_items, or NULL */
} nc_checkpoint;

/* All pointers NULL, counts 0, empty id maps, hp at nc_hparams_default. */
void nc_checkpoint_init(nc_checkpoint *c);
/* Frees every array and both id maps; leaves an initialised struct. */
void nc_checkpoint_free(nc_checkpoint *c);

/* Writes c atomically to path (temp file, fsync, rename, fsync of the directory). c is
 * borrowed. Refuses (NC_EINVAL) a checkpoint whose parts disagree: id map sizes, NULL arrays
 * for non-zero sizes, dim != hp.embedding_size, assignments outside -1..k-1. NC_EIO names the
 * path and the system error; on any failure the previous file at path is untouched. */
int nc_checkpoint_write(const char *path, const nc_checkpoint *c, nc_err *e);
/* Reads path into c (initialised by the callee; on failure c is left freed). Refuses bad
 * magic ("not an nclrec checkpoint"), other versions, truncation and checksum mismatch
 * (NC_EFORMAT), a missing or unreadable file (NC_EIO). */
int nc_checkpoint_read(const char *path, nc_checkpoint *c, nc_err *e);

/* CRC-32 (IEEE 802.3 polynomial, reflected, as zlib's crc32) of n bytes, continuing from crc:
 * start with 0, feed the previous result to continue. nc_crc32(0, "123456789", 9) is
 * 0xCBF43926. */
uint32_t nc_crc32(uint32_t crc, const void *data, size_t n);

#endif
