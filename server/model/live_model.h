/* live_model.h - the model being served and the slot that holds it.
 *
 * A live_model bundles everything a request needs, immutable once built: the checkpoint (id
 * maps, user and item embeddings, metadata), the inner-product index over item embeddings,
 * the Gram matrix of the item embeddings for fold-in, and the cache of known users' ranked
 * candidates (rec_cache.h; it fills as requests come, without changing any answer). (The
 * popularity list for users with nothing to go on comes from the store, which keeps it current
 * between models.)
 *
 * Hot swap: the slot holds one counted reference. A request takes its own reference with
 * live_acquire (a mutex held for a pointer copy and an increment), uses the model without any
 * lock, and drops it with live_release. live_swap installs a new model and drops the slot's
 * reference to the old one, so requests in flight finish on the model they started with, new
 * requests see the new one, and the old one is freed by whichever thread releases it last.
 *
 * Ownership: live_model_create takes over the checkpoint's arrays; the model is freed only
 * through live_release. */
#ifndef NCLREC_LIVE_MODEL_H
#define NCLREC_LIVE_MODEL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "checkpoint.h"
#include "common.h"
#include "index.h"
#include "rec_cache.h"

typedef struct live_model {
    atomic_int refs;
    nc_checkpoint ck;   /* owned */
    nc_index *index;    /* owned, over ck.item_emb */
    double *gram;       /* ck.dim x ck.dim, item_emb^T item_emb (owned) */
    rec_cache *cache;   /* owned; NULL when off */
    char trained_at[40]; /* ck.meta.trained_at as RFC 3339 (UTC), formatted once */
    char ref_json[96];  /* {"version":N,"trained_at":"..."}: which model answered */
    char source[512];   /* checkpoint file it was loaded from or written to ("" if none) */
} live_model;

typedef struct live_slot {
    pthread_mutex_t mu;
    live_model *cur;    /* NULL until the first model */
} live_slot;

/* Builds a model from ck (its contents are moved in; *ck is left initialised and empty):
 * builds the index and the Gram matrix, and a candidate cache of at most cache_bytes (0 =
 * none) that counts its evictions in *evictions (may be NULL; must outlive the model). On
 * failure ck is freed and NULL is returned with e filled. The result holds one reference. */
live_model *live_model_create(nc_checkpoint *ck, const char *source, size_t cache_bytes,
                              atomic_uint_fast64_t *evictions, nc_err *e);

void live_slot_init(live_slot *s);
/* Releases the slot's model (other holders keep theirs) and destroys the mutex. */
void live_slot_destroy(live_slot *s);

/* The current model with a new reference for the caller, or NULL when there is none yet.
 * Thread-safe; pair every non-NULL result with live_release. */
live_model *live_acquire(live_slot *s);
/* Drops one reference; the last one frees the model. NULL is fine. Thread-safe. */
void live_release(live_model *m);
/* Installs m (taking over the caller's reference) and releases the previous model. */
void live_swap(live_slot *s, live_model *m);

/* Internal id of an external user/item id in the model, or -1. */
int32_t live_user(const live_model *m, const char *id);
int32_t live_item(const live_model *m, const char *id);

#endif
