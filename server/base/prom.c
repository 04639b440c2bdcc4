/* prom.c - see prom.h. */
#include "prom.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const double lat_bounds[PROM_N_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                  0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                  1,      2.5};
static const double retrain_bounds[PROM_N_RBUCKETS] = {1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600};
/* Status codes the daemon can answer, each with its own series; anything else is "other". */
static const int status_codes[PROM_N_STATUS - 1] = {200, 201, 202, 204, 400, 401, 403, 404, 405,
                                                    408, 411, 413, 414, 415, 422, 431, 500, 501,
                                                    503};
static const char *const outcome_names[PROM_RETRAIN_N] = {"swapped", "rejected", "failed",
                                                          "cancelled", "skipped"};
static const char *const source_names[PROM_SRC_N] = {"ncl", "fold-in", "popular"};

void prom_init(prom *p, const char *const *routes, const char *const *methods, int n) {
    memset(p, 0, sizeof *p);
    if (n > PROM_MAX_ROUTES) n = PROM_MAX_ROUTES;
    p->n_routes = n;
    for (int i = 0; i < n; i++) {
        p->route[i] = routes[i];
        p->method[i] = methods[i];
    }
}

void prom_add(atomic_uint_fast64_t *counter, uint64_t n) {
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static int status_slot(int status) {
    for (int i = 0; i < PROM_N_STATUS - 1; i++)
        if (status_codes[i] == status) return i;
    return PROM_N_STATUS - 1;
}

void prom_observe_request(prom *p, int route, int status, double seconds) {
    if (route < 0 || route >= p->n_routes) route = p->n_routes;
    prom_hist *h = &p->req[route][status_slot(status)];
    int b = 0;
    while (b < PROM_N_BUCKETS && seconds > lat_bounds[b]) b++;
    if (b < PROM_N_BUCKETS) prom_add(&h->bucket[b], 1);
    prom_add(&h->count, 1);
    prom_add(&h->sum_ns, seconds > 0 ? (uint64_t)(seconds * 1e9) : 0);
}

void prom_observe_retrain(prom *p, prom_outcome o, double seconds) {
    if ((int)o < 0 || o >= PROM_RETRAIN_N) return;
    prom_add(&p->retrain_runs[o], 1);
    int b = 0;
    while (b < PROM_N_RBUCKETS && seconds > retrain_bounds[b]) b++;
    if (b < PROM_N_RBUCKETS) prom_add(&p->retrain_bucket[b], 1);
    prom_add(&p->retrain_count, 1);
    prom_add(&p->retrain_sum_ms, seconds > 0 ? (uint64_t)(seconds * 1e3) : 0);
}

void prom_set_model(prom *p, uint64_t version, double trained_at) {
    atomic_store(&p->model_version, version);
    atomic_store(&p->model_trained_at_ms, trained_at > 0 ? (uint64_t)(trained_at * 1e3) : 0);
}

/* A growable text buffer: the exposition is built in one piece and handed to the HTTP layer. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)w < b->cap - b->n) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)w;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

static uint64_t ld(atomic_uint_fast64_t *a) { return atomic_load_explicit(a, memory_order_relaxed); }

static void render_hist(sbuf *b, const char *name, const char *labels, prom_hist *h) {
    uint64_t cum = 0;
    for (int i = 0; i < PROM_N_BUCKETS; i++) {
        cum += ld(&h->bucket[i]);
        sb_printf(b, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, lat_bounds[i], (unsigned long long)cum);
    }
    uint64_t count = ld(&h->count);
    sb_printf(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels, (unsigned long long)count);
    sb_printf(b, "%s_sum{%s} %.9f\n", name, labels, (double)ld(&h->sum_ns) * 1e-9);
    sb_printf(b, "%s_count{%s} %llu\n", name, labels, (unsigned long long)count);
}

static void status_label(int slot, char *buf, size_t cap) {
    if (slot < PROM_N_STATUS - 1) snprintf(buf, cap, "%d", status_codes[slot]);
    else snprintf(buf, cap, "other");
}

/* Request counters and latency histograms, only for (route, status) pairs that occurred. */
static void render_requests(sbuf *b, prom *p) {
    char labels[256], st[16];
    sb_printf(b, "# HELP nclrec_http_requests_total HTTP requests answered, by route and status.\n"
                 "# TYPE nclrec_http_requests_total counter\n");
    for (int r = 0; r <= p->n_routes; r++)
        for (int s = 0; s < PROM_N_STATUS; s++) {
            uint64_t c = ld(&p->req[r][s].count);
            if (!c) continue;
            status_label(s, st, sizeof st);
            sb_printf(b, "nclrec_http_requests_total{route=\"%s\",method=\"%s\",status=\"%s\"} %llu\n",
                      r < p->n_routes ? p->route[r] : "unmatched", r < p->n_routes ? p->method[r] : "-",
                      st, (unsigned long long)c);
        }
    sb_printf(b, "# HELP nclrec_http_request_duration_seconds Time from request start to response, by route and status.\n"
                 "# TYPE nclrec_http_request_duration_seconds histogram\n");
    for (int r = 0; r <= p->n_routes; r++)
        for (int s = 0; s < PROM_N_STATUS; s++) {
            if (!ld(&p->req[r][s].count)) continue;
            status_label(s, st, sizeof st);
            snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\",status=\"%s\"",
                     r < p->n_routes ? p->route[r] : "unmatched", r < p->n_routes ? p->method[r] : "-", st);
            render_hist(b, "nclrec_http_request_duration_seconds", labels, &p->req[r][s]);
        }
}

static void counter(sbuf *b, const char *name, const char *help, uint64_t v) {
    sb_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, (unsigned long long)v);
}

static void gauge(sbuf *b, const char *name, const char *help, double v) {
    sb_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help, name, name, v);
}

void prom_set_types(prom *p, const char *const *names, int n) {
    p->n_types = n < PROM_MAX_TYPES ? n : PROM_MAX_TYPES;
    for (int k = 0; k < p->n_types; k++) p->type_name[k] = names[k];
}

static void render_types(sbuf *b, prom *p) {
    sb_printf(b, "# HELP nclrec_ingested_events_total Interaction rows durably committed, by feedback type.\n"
                 "# TYPE nclrec_ingested_events_total counter\n");
    for (int k = 0; k < p->n_types; k++)
        sb_printf(b, "nclrec_ingested_events_total{type=\"%s\"} %llu\n", p->type_name[k],
                  (unsigned long long)ld(&p->ingested_type[k]));
}

static void render_retrain(sbuf *b, prom *p) {
    sb_printf(b, "# HELP nclrec_retrain_runs_total Retrain attempts by outcome.\n# TYPE nclrec_retrain_runs_total counter\n");
    for (int o = 0; o < PROM_RETRAIN_N; o++)
        sb_printf(b, "nclrec_retrain_runs_total{outcome=\"%s\"} %llu\n", outcome_names[o],
                  (unsigned long long)ld(&p->retrain_runs[o]));
    sb_printf(b, "# HELP nclrec_retrain_duration_seconds Wall time of retrain attempts.\n# TYPE nclrec_retrain_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < PROM_N_RBUCKETS; i++) {
        cum += ld(&p->retrain_bucket[i]);
        sb_printf(b, "nclrec_retrain_duration_seconds_bucket{le=\"%g\"} %llu\n", retrain_bounds[i], (unsigned long long)cum);
    }
    uint64_t count = ld(&p->retrain_count);
    sb_printf(b, "nclrec_retrain_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)count);
    sb_printf(b, "nclrec_retrain_duration_seconds_sum %.3f\n", (double)ld(&p->retrain_sum_ms) * 1e-3);
    sb_printf(b, "nclrec_retrain_duration_seconds_count %llu\n", (unsigned long long)count);
    gauge(b, "nclrec_retrain_running", "1 while a retrain is in progress.", atomic_load(&p->retraining));
}

static void render_model(sbuf *b, prom *p) {
    uint64_t at_ms = ld(&p->model_trained_at_ms);
    gauge(b, "nclrec_model_version", "Version of the model being served (0 = none).", (double)ld(&p->model_version));
    gauge(b, "nclrec_model_trained_timestamp_seconds", "Unix time the served model was trained (0 = none).", (double)at_ms * 1e-3);
    gauge(b, "nclrec_model_age_seconds", "Seconds since the served model was trained (-1 = none).",
          at_ms ? nc_wall_time() - (double)at_ms * 1e-3 : -1.0);
    counter(b, "nclrec_model_swaps_total", "Models swapped in since start.", ld(&p->swaps));
    counter(b, "nclrec_checkpoint_write_errors_total",
            "Checkpoints that could not be written (the model was served without its file).",
            ld(&p->checkpoint_write_errors));
    counter(b, "nclrec_checkpoint_read_errors_total",
            "Checkpoints skipped at start because they could not be read (corrupt, truncated).",
            ld(&p->checkpoint_read_errors));
    gauge(b, "nclrec_ready", "1 when /readyz answers 200.", atomic_load(&p->ready));
}

char *prom_render(prom *p, size_t *len) {
    sbuf b = {malloc(16384), 0, 16384, 0};
    if (!b.p) return NULL;
    render_requests(&b, p);
    counter(&b, "nclrec_ingested_rows_total", "Interaction rows durably committed.", ld(&p->ingested));
    render_types(&b, p);
    counter(&b, "nclrec_idempotent_replays_total", "Writes answered from the idempotency record.", ld(&p->idempotent_replays));
    counter(&b, "nclrec_deleted_users_total", "DELETE /users requests that removed a user.", ld(&p->deleted_users));
    counter(&b, "nclrec_filtered_requests_total", "Rankings restricted to categories (category= on /recommend, /similar).",
            ld(&p->filtered_requests));
    counter(&b, "nclrec_store_errors_total", "Store operations that failed.", ld(&p->store_errors));
    counter(&b, "nclrec_http_deadline_cuts_total", "Connections shut down for sending headers or body too slowly.",
            ld(&p->http_deadline_cuts));
    sb_printf(&b, "# HELP nclrec_recommendations_total Recommendation answers by source.\n# TYPE nclrec_recommendations_total counter\n");
    for (int s = 0; s < PROM_SRC_N; s++)
        sb_printf(&b, "nclrec_recommendations_total{source=\"%s\"} %llu\n", source_names[s],
                  (unsigned long long)ld(&p->recommend_source[s]));
    static const char *const cache_names[PROM_CACHE_N] = {"hit", "fill", "scan"};
    sb_printf(&b, "# HELP nclrec_recommend_cache_total Rankings of known users: from a kept candidate list (hit), by a "
                  "scan then kept (fill), by a scan alone (scan).\n# TYPE nclrec_recommend_cache_total counter\n");
    for (int c = 0; c < PROM_CACHE_N; c++)
        sb_printf(&b, "nclrec_recommend_cache_total{outcome=\"%s\"} %llu\n", cache_names[c],
                  (unsigned long long)ld(&p->recommend_cache[c]));
    counter(&b, "nclrec_recommend_cache_evictions_total",
            "Kept candidate lists evicted to make room for another user's (the budget, --rec-cache-mb, is full).",
            ld(&p->recommend_cache_evictions));
    render_model(&b, p);
    render_retrain(&b, p);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.n;
    return b.p;
}
