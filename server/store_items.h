/* store_items.h - the catalogue in the store: each item's document (item_doc.h) in the items
 * table (sql/migrations/0003_items.sql), written through the store's writer like
 * interactions, so a catalogue write is atomic, durable when acknowledged, idempotent with a
 * key, and takes a sequence number the changefeed carries to replicas.
 *
 * Threads: as store.h. */
#ifndef NCLREC_STORE_ITEMS_H
#define NCLREC_STORE_ITEMS_H

#include <jansson.h>

#include "store.h"

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

#endif
