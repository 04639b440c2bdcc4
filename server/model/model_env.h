/* model_env.h - what the threads that build and swap models (retrain.h, replica/replica.h)
 * borrow from the daemon: its settings, log and metrics, the slot of the served model, the
 * store, the serving catalogue, and where a user's items come from (read by the warm-up before
 * a swap, ranking.h).
 *
 * Why a struct of its own: those threads sit below the HTTP API (api/routes.h), which owns the
 * application state. They get what they use passed down, so no header of theirs includes
 * upward; a replica passes its own source of users' items (its state) through `seen`.
 *
 * Ownership: a plain value holding borrowed pointers; retrain_start and replica_new copy it.
 * The daemon (serve.c) owns everything it points to and keeps it alive until those threads are
 * stopped.
 *
 * Threading: the pointees are shared with the request path and made for it (slog, prom,
 * live_slot, nc_store and catalogue may be used from any thread; seen must be too); cfg is
 * not written once the daemon serves. */
#ifndef NCLREC_MODEL_ENV_H
#define NCLREC_MODEL_ENV_H

#include <stdint.h>

#include "base/log.h"
#include "base/prom.h"
#include "common.h"
#include "config/config.h"
#include "catalogue.h"
#include "live_model.h"
#include "store/store.h"

/* A user's items and latest deletion, with store_user_items' contract (out filled fresh). */
typedef int (*model_seen_fn)(void *ctx, const char *user, store_items *out, int64_t *deleted_seq, nc_err *e);

typedef struct model_env {
    const srv_config *cfg;
    slog *log;
    prom *metrics;
    live_slot *model;     /* the served model, swapped in place */
    nc_store *store;      /* NULL on a replica and in embedded uses */
    catalogue *catalogue; /* the serving catalogue (a replica applies the changefeed's item events to it) */
    model_seen_fn seen;   /* NULL: the warm-up reads no user's items and warms nothing */
    void *seen_ctx;
} model_env;

/* store_user_items as a model_seen_fn (ctx: the nc_store). */
int model_seen_store(void *store, const char *user, store_items *out, int64_t *deleted_seq, nc_err *e);

#endif
