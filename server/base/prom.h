/* prom.h - the daemon's metrics in the Prometheus text exposition format (version 0.0.4).
 *
 * Every value is a lock-free atomic counter updated on the request path; rendering reads them
 * without stopping anyone (a scrape may see a request counted but its latency not yet: harmless).
 * Labels come only from fixed sets (route patterns, method names of the route table, status
 * codes, outcomes), never from request data, so a user id can never become a label and the
 * number of series is bounded.
 *
 * Ownership: a prom is a plain struct owned by the caller (large: keep it in the heap-allocated
 * application state); route label strings are borrowed and must outlive it. */
#ifndef NCLREC_PROM_H
#define NCLREC_PROM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PROM_MAX_ROUTES 24
#define PROM_N_BUCKETS 14   /* latency buckets, + Inf */
#define PROM_N_STATUS 20    /* known status codes, the last slot is "other" */
#define PROM_N_RBUCKETS 10  /* retrain duration buckets */
#define PROM_MAX_TYPES 32   /* feedback types (NC_FEEDBACK_MAX_TYPES) */

typedef struct prom_hist {
    atomic_uint_fast64_t bucket[PROM_N_BUCKETS]; /* non-cumulative; summed at render */
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_ns;
} prom_hist;

typedef enum {
    PROM_RETRAIN_SWAPPED = 0, /* trained, evaluated, swapped in */
    PROM_RETRAIN_REJECTED,    /* trained but worse than the current model beyond the margin */
    PROM_RETRAIN_FAILED,      /* an error: store, training, index, checkpoint */
    PROM_RETRAIN_CANCELLED,   /* shutdown interrupted it */
    PROM_RETRAIN_SKIPPED,     /* nothing to train on */
    PROM_RETRAIN_N
} prom_outcome;

typedef enum { PROM_SRC_NCL = 0, PROM_SRC_FOLDIN, PROM_SRC_POPULAR, PROM_SRC_N } prom_source;

/* How a known user's ranking was made (see rec_cache.h): from a kept list, by a scan that was
 * kept, or by a scan alone (a list made before a deletion, a first miss while the cache is full,
 * no room for the scan's list, cache off). */
typedef enum { PROM_CACHE_HIT = 0, PROM_CACHE_FILL, PROM_CACHE_SCAN, PROM_CACHE_N } prom_cache;

typedef struct prom {
    int n_routes;
    const char *route[PROM_MAX_ROUTES];   /* path pattern label, e.g. "/users/{id}" */
    const char *method[PROM_MAX_ROUTES];
    /* [route or n_routes for "unmatched"][status slot] */
    prom_hist req[PROM_MAX_ROUTES + 1][PROM_N_STATUS];
    atomic_uint_fast64_t ingested;        /* interaction rows committed */
    int n_types;                          /* feedback types counted (prom_set_types) */
    const char *type_name[PROM_MAX_TYPES];
    atomic_uint_fast64_t ingested_type[PROM_MAX_TYPES]; /* rows committed, by feedback type */
    atomic_uint_fast64_t idempotent_replays;
    atomic_uint_fast64_t deleted_users;
    atomic_uint_fast64_t filtered_requests; /* /recommend and /similar with category= */
    atomic_uint_fast64_t store_errors;
    atomic_uint_fast64_t http_deadline_cuts;  /* connections cut for slow headers or body */
    atomic_uint_fast64_t swaps;
    atomic_uint_fast64_t checkpoint_write_errors; /* models served without their file on disk */
    atomic_uint_fast64_t checkpoint_read_errors;  /* checkpoints skipped at start as unreadable */
    atomic_uint_fast64_t recommend_source[PROM_SRC_N];
    atomic_uint_fast64_t recommend_cache[PROM_CACHE_N];
    atomic_uint_fast64_t recommend_cache_evictions; /* kept lists evicted for room (rec_cache.h) */
    atomic_uint_fast64_t retrain_runs[PROM_RETRAIN_N];
    atomic_uint_fast64_t retrain_bucket[PROM_N_RBUCKETS];
    atomic_uint_fast64_t retrain_count, retrain_sum_ms;
    atomic_uint_fast64_t model_version;
    atomic_uint_fast64_t model_trained_at_ms;  /* unix ms; 0 = no model */
    atomic_int retraining;                     /* 1 while a retrain runs */
    atomic_int ready;                          /* mirrors /readyz */
} prom;

/* Zeroes p and records the route labels (borrowed). n <= PROM_MAX_ROUTES. */
void prom_init(prom *p, const char *const *routes, const char *const *methods, int n);

/* Records the feedback type labels (borrowed; they must outlive p), n <= PROM_MAX_TYPES. */
void prom_set_types(prom *p, const char *const *names, int n);

/* One finished request: route index (or -1 when no route matched), HTTP status, seconds. */
void prom_observe_request(prom *p, int route, int status, double seconds);

/* One finished retrain attempt and its wall time. */
void prom_observe_retrain(prom *p, prom_outcome o, double seconds);

/* Records the model now served (version, unix seconds it was trained). */
void prom_set_model(prom *p, uint64_t version, double trained_at);

/* Adds n to a counter of p (a convenience for atomic_fetch_add with relaxed order). */
void prom_add(atomic_uint_fast64_t *counter, uint64_t n);

/* Renders every metric. Returns a NUL-terminated malloc'd string the caller frees (length in
 * *len), or NULL when out of memory. */
char *prom_render(prom *p, size_t *len);

#endif
