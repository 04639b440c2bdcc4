/* dataset.h - interactions in memory: external string ids <-> dense internal ids, loading from
 * CSV/TSV and adjacency-list files, de-duplication and the per-user 80/10/10 split of NCL.md.
 *
 *   nc_idmap        external id strings <-> 0..n-1 (hash table + array of owned strings)
 *   nc_interactions parallel arrays user[n], item[n] (internal ids), ts[n] (or NULL)
 *   nc_dataset      one user map, one item map, and the train / valid / test interactions
 *
 * Ownership: every struct here owns its arrays; *_free releases them and leaves a zeroed,
 * reusable struct. Nothing here is thread-safe for writing; concurrent reads are fine. */
#ifndef NCLREC_DATASET_H
#define NCLREC_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define NC_MAX_ID_LEN 256 /* longest external id accepted, in bytes */

typedef struct nc_idmap {
    size_t n, cap;       /* ids in use, capacity of ids[] */
    char **ids;          /* ids[i] = external id of internal id i (owned, NUL-terminated) */
    int32_t *slots;      /* open-addressing table of internal ids, -1 = empty */
    size_t nslots;       /* power of two */
} nc_idmap;

typedef struct nc_interactions {
    size_t n, cap;
    int32_t *user;       /* internal user id */
    int32_t *item;       /* internal item id */
    int64_t *ts;         /* timestamp or 0; never NULL once n > 0 */
} nc_interactions;

typedef enum { NC_FMT_AUTO = 0, NC_FMT_CSV, NC_FMT_TSV, NC_FMT_ADJ } nc_format;

typedef struct nc_dataset {
    nc_idmap users, items;
    nc_interactions train, valid, test;
} nc_dataset;

void nc_idmap_init(nc_idmap *m);
void nc_idmap_free(nc_idmap *m);
/* Internal id of s, adding it when absent. *out receives the id. */
int nc_idmap_intern(nc_idmap *m, const char *s, size_t len, int32_t *out, nc_err *e);
/* Internal id of s or -1. */
int32_t nc_idmap_find(const nc_idmap *m, const char *s, size_t len);

void nc_inter_init(nc_interactions *x);
void nc_inter_free(nc_interactions *x);
int nc_inter_push(nc_interactions *x, int32_t user, int32_t item, int64_t ts, nc_err *e);
/* Removes repeated (user, item) pairs in place, keeping the first; returns how many went. */
size_t nc_inter_dedup(nc_interactions *x, nc_err *e);

/* Reads one interaction file into out, interning ids into users/items (shared across files so
 * train/valid/test agree). fmt NC_FMT_AUTO recognises the format from the content. Errors name
 * the file and line: missing, unreadable, empty, binary, malformed, id too long. */
int nc_load_file(const char *path, nc_format fmt, nc_idmap *users, nc_idmap *items,
                 nc_interactions *out, nc_err *e);

/* Splits all into train/valid/test per user as RecBole does (NCL.md, "Evaluation"): one
 * seeded permutation of all rows, then each user's rows in that order cut by ratios[3]. */
int nc_split(const nc_interactions *all, size_t n_users, const double ratios[3], uint64_t seed,
             nc_interactions *train, nc_interactions *valid, nc_interactions *test, nc_err *e);

void nc_dataset_init(nc_dataset *d);
void nc_dataset_free(nc_dataset *d);

#endif
