/* dataset.h - interactions in memory: external string ids <-> dense internal ids, loading from
 * CSV/TSV and adjacency-list files, de-duplication and the per-user 80/10/10 split of NCL.md.
 *
 *   nc_idmap        external id strings <-> 0..n-1 (hash table + array of owned strings)
 *   nc_interactions parallel arrays user[n], item[n] (internal ids), ts[n], and w[n] (training
 *                   weights, core/feedback.h) only once a row of weight other than 1 was added
 *   nc_dataset      one user map, one item map, and the train / valid / test interactions
 *
 * File formats (plain text only; compressed files are refused with a hint to decompress):
 *   CSV   user,item[,timestamp[,...]]   fields split on ','; no quoting, but one surrounding
 *                                        pair of double quotes is removed from a field
 *   TSV   user<TAB>item[<TAB>timestamp[<TAB>...]]
 *   ADJ   user item item ...            LightGCN adjacency lists: whitespace-separated, the
 *                                        first token is the user; a user may appear on several
 *                                        lines; a line with only a user adds the user, no rows
 * A weight column (nc_load_opts.weight_col) holds either a whole number 0..100 or, with a type
 * table (nc_load_opts.types), a feedback type name such as "purchase" mapped to its weight; a
 * row of weight 0 is skipped like a row under min_rating (it is no positive).
 * Ids are strings (1..NC_MAX_ID_LEN bytes); spaces around CSV/TSV fields are trimmed. Columns
 * past the ones in use are ignored. Line endings LF or CRLF; blank lines are skipped. The first
 * line of a CSV/TSV file is a header when its user field (lowercased, cut at ':' as in RecBole's
 * "user_id:token") is user, user_id, userid, uid or users, or when its timestamp/rating field is
 * not a number. Timestamps are integers (an optional fractional part is truncated); ADJ rows get
 * timestamp 0. Loading keeps repeated (user, item) rows, as the reference does: call
 * nc_inter_dedup to merge them.
 *
 * Ownership: every struct here owns its arrays; *_free releases them and leaves a zeroed,
 * reusable struct. Nothing here is thread-safe for writing; concurrent reads are fine. */
#ifndef NCLREC_DATASET_H
#define NCLREC_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "feedback.h"

#define NC_MAX_ID_LEN 256              /* longest external id accepted, in bytes */
#define NC_MAX_LINE_LEN (4u << 20)     /* longest line a loader accepts, in bytes (4 MiB) */

typedef struct nc_idmap {
    size_t n, cap;       /* ids in use, capacity of ids[] */
    char **ids;          /* ids[i] = external id of internal id i (owned, NUL-terminated) */
    int32_t *slots;      /* open-addressing table of internal ids, -1 = empty */
    size_t nslots;       /* power of two, 0 while the map is empty */
} nc_idmap;

typedef struct nc_interactions {
    size_t n, cap;
    int32_t *user;       /* internal user id */
    int32_t *item;       /* internal item id */
    int64_t *ts;         /* timestamp or 0; never NULL once n > 0 */
    uint8_t *w;          /* training weight of each row (0..NC_FEEDBACK_MAX_WEIGHT); NULL means
                            every row weighs 1, which is the unweighted path bit for bit */
} nc_interactions;

typedef enum { NC_FMT_AUTO = 0, NC_FMT_CSV, NC_FMT_TSV, NC_FMT_ADJ } nc_format;

typedef struct nc_dataset {
    nc_idmap users, items;
    nc_interactions train, valid, test;
} nc_dataset;

/* ---- id maps ---- */

void nc_idmap_init(nc_idmap *m);
void nc_idmap_free(nc_idmap *m);
/* Internal id of s[0..len) (not necessarily NUL-terminated), adding a copy when absent; *out
 * receives the id. Refuses (NC_EINVAL) an empty id, one longer than NC_MAX_ID_LEN and one
 * holding a NUL byte; NC_ENOMEM when the map cannot grow. New ids are numbered 0, 1, 2, ... */
int nc_idmap_intern(nc_idmap *m, const char *s, size_t len, int32_t *out, nc_err *e);
/* Internal id of s[0..len) or -1. */
int32_t nc_idmap_find(const nc_idmap *m, const char *s, size_t len);
/* Makes dst (initialised or zeroed; its old content is freed) an independent copy of src. */
int nc_idmap_copy(nc_idmap *dst, const nc_idmap *src, nc_err *e);

/* ---- interaction arrays ---- */

void nc_inter_init(nc_interactions *x);
void nc_inter_free(nc_interactions *x);
/* Makes room for at least cap rows in total (never shrinks). */
int nc_inter_reserve(nc_interactions *x, size_t cap, nc_err *e);
/* Appends one row of weight 1, growing the arrays geometrically. */
int nc_inter_push(nc_interactions *x, int32_t user, int32_t item, int64_t ts, nc_err *e);
/* Appends one row of weight w (0..NC_FEEDBACK_MAX_WEIGHT, else NC_EINVAL). The first weight
 * other than 1 allocates x->w, giving the rows before it weight 1; while every weight is 1,
 * x->w stays NULL. */
int nc_inter_push_w(nc_interactions *x, int32_t user, int32_t item, int64_t ts, uint8_t w,
                    nc_err *e);
/* Weight of row r: x->w[r], or 1 when x->w is NULL. */
static inline uint8_t nc_inter_weight(const nc_interactions *x, size_t r) {
    return x->w ? x->w[r] : 1;
}
/* Makes dst (initialised or zeroed; its old content is freed) an independent copy of src. */
int nc_inter_copy(nc_interactions *dst, const nc_interactions *src, nc_err *e);
/* Removes repeated (user, item) pairs in place, keeping the first occurrence (with the largest
 * weight of its repeats: a view then a purchase of one item is a purchase) and the order of
 * the rest; returns how many went. O(n) with a temporary hash set. On allocation failure it
 * removes nothing, returns 0 and fills e (e->code == NC_ENOMEM); e is cleared on success. */
size_t nc_inter_dedup(nc_interactions *x, nc_err *e);
/* Writes "user,item,timestamp" lines (a header line first) with external ids from the maps,
 * and a fourth column "weight" when x->w is set (read back with weight_col 3).
 * Ids containing ',' or line breaks cannot be written as plain CSV and are refused. The caller
 * owns f and closes it; a write error is reported as NC_EIO. */
int nc_inter_write_csv(FILE *f, const nc_idmap *users, const nc_idmap *items,
                       const nc_interactions *x, nc_err *e);

/* ---- loading ---- */

typedef struct nc_load_opts {
    nc_format fmt;       /* NC_FMT_AUTO: tab -> TSV, else comma -> CSV, else spaces -> ADJ,
                            judged on the first line that has any of them */
    int32_t ts_col;      /* CSV/TSV 0-based timestamp column, default 2; -1: none. A row that
                            does not reach the column gets timestamp 0 */
    int32_t rating_col;  /* CSV/TSV column holding a rating to filter on; default -1: none */
    double min_rating;   /* with rating_col >= 0, rows rated below this are skipped, and their
                            ids are not added to the maps */
    int32_t weight_col;  /* CSV/TSV column holding a weight or feedback type; default -1: none.
                            A row that does not reach the column is an error */
    const nc_feedback_types *types; /* NULL: weight_col holds whole numbers 0..100; else type
                            names of this table (borrowed; must outlive the call) */
    int type_index;      /* with types: w receives the type's index in the table instead of its
                            weight, and no row is left out (bulk import keeps the type itself) */
    int32_t weight_missing; /* -1 (default): a row short of weight_col is an error; else the
                            value (weight, or type index) such a row gets, as does every row
                            of an adjacency list */
} nc_load_opts;

/* fmt AUTO, ts_col 2, rating_col -1, weight_col -1 (e.g. ML-100K's u.data: rating_col 2,
 * ts_col 3, min 3). */
void nc_load_opts_default(nc_load_opts *o);

/* Reads one interaction file into out (rows appended), interning ids into users/items (shared
 * across files so train/valid/test agree). Errors name the file and, where there is one, the
 * line: missing (NC_EIO), unreadable (NC_EIO), empty or no rows (NC_EINVAL), binary or
 * compressed (NC_EINVAL), malformed line, empty id, bad timestamp, rating, weight or feedback
 * type (naming the allowed types), id too long, line
 * longer than NC_MAX_LINE_LEN (NC_EINVAL). On failure out, users and items are left exactly as
 * they were on entry. Reads in large chunks; no allocation per line. */
int nc_load_file_opts(const char *path, const nc_load_opts *o, nc_idmap *users, nc_idmap *items,
                      nc_interactions *out, nc_err *e);
/* nc_load_file_opts with the defaults and format fmt. */
int nc_load_file(const char *path, nc_format fmt, nc_idmap *users, nc_idmap *items,
                 nc_interactions *out, nc_err *e);

/* ---- splitting ---- */

/* Splits all into train/valid/test per user as RecBole does (NCL.md, "Evaluation"): one
 * seeded Fisher-Yates permutation of all rows (nc_rng), then each user's rows in that order cut
 * by RecBole's _calcu_split_ids counts (n=1 -> 1/0/0, n=2 -> 1/0/1, 3..9 -> n-2/1/1, 10 ->
 * 8/1/1 for 0.8/0.1/0.1). Each output keeps the permutation order and the rows' weights.
 * ratios must be >= 0, sum to 1 within 1e-6, with ratios[0] > 0. Every user id must be < n_users. train, valid and test must
 * be initialised (their old content is freed) and distinct from all. Deterministic for a seed. */
int nc_split(const nc_interactions *all, size_t n_users, const double ratios[3], uint64_t seed,
             nc_interactions *train, nc_interactions *valid, nc_interactions *test, nc_err *e);

/* RecBole's per-user counts for a user with n rows: cnt[0..2] = train, valid, test. */
void nc_split_counts(size_t n, const double ratios[3], size_t cnt[3]);

void nc_dataset_init(nc_dataset *d);
void nc_dataset_free(nc_dataset *d);

#endif
