/* catalogue.h - the serving copy of the catalogue: for every item with a catalogue write,
 * whether it may be served now (hidden, deleted, available_from) and its categories, in
 * memory, so /recommend and /similar apply the business rules without a database read.
 *
 * A primary loads it from the store at start and applies each catalogue write after it
 * commits and before it is acknowledged; a replica applies the changefeed's item events as
 * they arrive. Each item keeps the sequence number of the write it shows and ignores an older
 * one, so two writes of the same item applied out of order end in the later one.
 *
 * Threads: every function may be called from any thread (a read-write lock); the callbacks
 * run under the read lock and must be quick and must not call back in.
 * Ownership: the catalogue owns copies of everything given to it. */
#ifndef NCLREC_CATALOGUE_H
#define NCLREC_CATALOGUE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "store/store.h"

typedef struct catalogue catalogue;

/* A new empty catalogue (free with catalogue_free), or NULL with e filled. */
catalogue *catalogue_new(nc_err *e);
void catalogue_free(catalogue *c); /* NULL is fine */
/* Forgets every item (a replica whose primary has a new database starts again from 0). NULL
 * is fine. */
void catalogue_reset(catalogue *c);

/* Sets item to the canonical document doc (item_doc.h; NULL: deleted) written at seq, unless
 * the item already shows a later write. NC_EINVAL for a doc that is not a canonical document,
 * NC_ENOMEM. */
int catalogue_apply(catalogue *c, const char *item, const char *doc, int64_t seq, nc_err *e);

/* Receives one item id (borrowed for the call). */
typedef void (*catalogue_item_fn)(void *ctx, const char *item);

/* Calls fn for every item that must not be served at time now (seconds since the epoch):
 * hidden, deleted, or available_from after now. Returns how many. Items whose available_from
 * is at or before now leave the list of restricted items (catalogue_n_restricted), so now
 * must not go back between calls: the wall clock. */
size_t catalogue_blocked(catalogue *c, int64_t now, catalogue_item_fn fn, void *ctx);

/* The caller's number (e.g. a model's item id) of an item, or -1 when it has none. */
typedef int32_t (*catalogue_map_fn)(void *ctx, const char *item);
/* Appends to out the numbers map gives the items blocked at now (catalogue_blocked's rule and
 * clock), those it has: the answer /recommend excludes. Remembered for one (owner, tag), e.g.
 * a model and its version, until the catalogue changes or the next available_from passes, so
 * requests in between copy an array instead of walking the restricted items. map runs with
 * the catalogue's locks held: quick, no calls back in. NC_ENOMEM. */
int catalogue_blocked_ids(catalogue *c, int64_t now, const void *owner, uint64_t tag, catalogue_map_fn map, void *ctx,
                          store_ids *out, nc_err *e);

/* Appends to out the numbers map gives the items of each of cats[0..n) (an item in two of
 * them twice; those map lacks left out), remembered per category for one (owner, tag) until
 * the catalogue changes, as catalogue_blocked_ids. NC_ENOMEM. */
int catalogue_category_ids(catalogue *c, char *const *cats, size_t n, const void *owner, uint64_t tag,
                           catalogue_map_fn map, void *ctx, store_ids *out, nc_err *e);

/* How many items have a rule that may block them (hidden, deleted, available_from): 0 means
 * nothing is ever blocked now. */
size_t catalogue_n_restricted(catalogue *c);

/* 1 when item must not be served at time now (catalogue_blocked's rule). */
int catalogue_item_blocked(catalogue *c, const char *item, int64_t now);

/* 1 when item is in one of cats[0..n). */
int catalogue_has_category(catalogue *c, const char *item, char *const *cats, size_t n);

/* Item's document (malloc'd copy for the caller; NULL when deleted) and 1, or 0 when the
 * catalogue has no write of it. NC_ENOMEM is reported as 0 with *doc NULL and *oom = 1. */
int catalogue_get(catalogue *c, const char *item, char **doc, int *oom);

typedef struct catalogue_stats {
    int64_t items;      /* items with a catalogue write (deleted ones included) */
    int64_t hidden;     /* hidden and not deleted */
    int64_t deleted;
    int64_t pending;    /* not deleted nor hidden, available_from in the future */
    int64_t last_seq;   /* highest sequence number applied */
} catalogue_stats;
void catalogue_stats_get(catalogue *c, int64_t now, catalogue_stats *out);

#endif
