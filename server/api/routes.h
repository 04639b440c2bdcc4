/* routes.h - the daemon's HTTP API: the application state every handler works on and the route
 * table handed to http_start (the handlers: api.h).
 *
 *   GET    /recommend?user=ID&k=N&exclude=ID,...   top-k items for a user (ncl | fold-in | popular)
 *          (&category=C... &offset=N: rec_filter.h)
 *   POST   /recommend                              an anonymous session's top-k (fold-in from its items)
 *   GET    /similar?item=ID&k=N                    items nearest by inner product
 *   PUT, PATCH, GET, DELETE /items/{id}; POST /items   the catalogue (item_routes.h)
 *   POST   /interactions                           ingest one event or an array (all or nothing)
 *   DELETE /users/{id}                             forget a user's interactions
 *   GET    /livez, /readyz, /metrics, /model, /openapi.yaml
 *   POST   /admin/retrain                          start a retrain now
 *   GET    /replication/checkpoint, /replication/changes   a primary's feeds (replica/feed.h)
 *
 * Roles (config.h): a replica answers writes and admin with 307 to its primary, serves
 * /recommend from its replica state (replica_state.h) instead of a store, and reports the
 * primary's reachability in /readyz, /model and /metrics.
 *
 * openapi.yaml describes exactly these routes and statuses; tests/test_api.sh checks both ways.
 * Handlers decode and validate the request, call the store and the live model, and encode the
 * answer; every client mistake is a 4xx problem+json naming the parameter or field, every
 * server fault a 5xx.
 *
 * Ownership: serve.c makes and frees the srv_app and everything it points to; handlers
 * borrow it. Threading: the route table is read-only; srv_app's parts are each made for every
 * HTTP thread at once (see their headers); cfg is not written once the daemon serves. */
#ifndef NCLREC_ROUTES_H
#define NCLREC_ROUTES_H

#include <stdatomic.h>

#include "config/config.h"
#include "model/foldin.h"
#include "http/http.h"
#include "model/live_model.h"
#include "model/model_env.h"
#include "base/log.h"
#include "base/prom.h"
#include "store/store.h"

struct retrain;
struct feed;
struct replica;
struct catalogue;

/* Everything the request path shares. Owned by serve.c (heap-allocated: prom is large). */
typedef struct srv_app {
    srv_config cfg;
    slog log;
    prom metrics;
    live_slot model;
    nc_store *store;           /* NULL when the daemon runs without a store (tests) */
    struct retrain *retrain;   /* NULL until the retrain thread runs (never on a replica) */
    struct feed *feed;         /* primary only: the changefeed's read connection */
    struct replica *replica;   /* replica only: the poller and the state it keeps (then store is NULL) */
    struct catalogue *catalogue; /* the serving copy of the catalogue (catalogue.h); owned */
    foldin_method foldin;
    atomic_int stopping;       /* set on SIGTERM: /readyz fails at once, writes get 503 */
    double started_at;         /* nc_wall_time() at start */
} srv_app;

/* The route table (read-only) and its size. */
extern const http_route routes_table[];
extern const int routes_count;

/* 1 when every query parameter of rq is in allowed (NULL-terminated), else 0 with a 400
 * naming the first unknown one in rs: a typo would otherwise be silently ignored. */
int routes_params_known(const http_req *rq, http_resp *rs, const char *const *allowed);
/* On a replica: 1 with a 307 to the primary in rs (writes and admin); else 0. */
int routes_refused_on_replica(const srv_app *a, const http_req *rq, http_resp *rs);
/* The store failed (what: the operation): a 503 with Retry-After, counted and logged. */
void routes_store_fault(srv_app *a, http_resp *rs, const char *what, const nc_err *e);

/* What the retrain thread and the replica poller borrow from a (model/model_env.h): pointers
 * into a, which must outlive them; users' items from a's store (NULL without one). */
model_env routes_model_env(srv_app *a);

/* The 200 answer of a committed POST /interactions into rs: {accepted, first_seq, last_seq,
 * replayed}, the text http_json would send (also the answer of bench/ingest_bound.c). */
void routes_append_answer(const store_append_result *res, http_resp *rs);

/* Labels for prom_init: the route patterns and methods, in table order. */
void routes_labels(const char **patterns, const char **methods, int cap);

/* The embedded OpenAPI document (openapi.yaml) and its length. */
const char *routes_openapi(size_t *len);

#endif
