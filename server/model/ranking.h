/* ranking.h - a live model's top items for a query vector, answered from the user's kept
 * candidate list when it can be (rec_cache.h: the same answer a scan gives), else scanned from
 * the index; and the warm-up that makes a new model's lists before it is swapped in.
 *
 * Item ids are the model's (live_item); the exclusions of a request are the user's items
 * first (n_seen of them), then the request's own (exclude=).
 *
 * Ownership: callers own every array they pass and receive; the lists made are kept in the
 * model's cache, which the model owns.
 *
 * Threading: any number of request threads at once on one model (the cache is made for it);
 * ranking_warm_cache runs on the thread that builds the new model, before anyone reads it. */
#ifndef NCLREC_RANKING_H
#define NCLREC_RANKING_H

#include <stddef.h>
#include <stdint.h>

#include "base/prom.h"
#include "common.h"
#include "live_model.h"
#include "model_env.h"
#include "store/store.h"

/* The top k model items for q minus excl (the first n_seen the user's items, then exclude='s),
 * into ids/sc (k each), *got of them. For a user the model knows (u >= 0, q its embedding and
 * deleted_seq the user's latest deletion) a list kept from an earlier scan answers when it can;
 * a user without one gets a list scanned and kept (while the cache is full, at their second
 * miss: rec_cache_answer says when). How it was answered is counted in metrics. */
int ranking_top_items(prom *metrics, const live_model *m, int32_t u, int64_t deleted_seq, const float *q, int32_t k,
                      const int32_t *excl, size_t n_seen, size_t n_excl, int32_t *ids, float *sc, int32_t *got,
                      nc_err *e);

/* Appends the model ids of n external item ids to out (ids the model lacks are dropped). */
int ranking_map_items(const live_model *m, char *const *names, size_t n, store_ids *out, nc_err *e);

/* Before model m is served in place of old (may be NULL): makes m's candidate lists for the
 * users whose list under old served a request (the active ones: a list this warm-up made and
 * nobody asked for is not carried on), each as long as before, so the swap does not send
 * every one of them through a scan on the request path. Their items come from env->seen. For
 * the thread that builds m (retrain, replica poller); stops after max_seconds. Returns the
 * users warmed. */
int ranking_warm_cache(const model_env *env, live_model *m, const live_model *old, double max_seconds);
/* The bound callers give it: a slow warm-up only delays the swap, never a request. */
#define RANKING_WARM_SECONDS 10.0

#endif
