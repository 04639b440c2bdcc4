/* ops.c - the operational routes: /livez, /readyz, /metrics (text or JSON), /model, POST
 * /admin/retrain and /openapi.yaml. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "item_routes.h"
#include "model/catalogue.h"
#include "model/retrain.h"
#include "replica/replica.h"
#include "ui.h"

/* ======================= operational routes ======================= */

void h_livez(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    (void)rq;
    http_json(rs, 200, json_pack("{s:s, s:f}", "status", "alive", "uptime_seconds", nc_wall_time() - a->started_at));
}

/* A replica is ready with a model once it has caught up with the changefeed; without its
 * primary it stays ready ("degraded": the model and interactions it has), and says so. */
static void readyz_replica(srv_app *a, http_resp *rs) {
    live_model *m = live_acquire(&a->model);
    uint64_t version = m ? m->ck.meta.model_version : 0;
    live_release(m);
    int synced = replica_synced(a->replica), up = replica_primary_up(a->replica);
    int ok = !atomic_load(&a->stopping) && m && synced;
    atomic_store(&a->metrics.ready, ok);
    if (ok) {
        http_json(rs, 200, json_pack("{s:s, s:I, s:s, s:o}", "status", up ? "ready" : "degraded", "model_version",
                                     (json_int_t)version, "role", "replica", "primary", replica_status(a->replica)));
        return;
    }
    json_t *st = replica_status(a->replica);
    const char *err = json_string_value(json_object_get(st, "last_error"));
    http_problem(rs, 503, "not ready:%s%s%s%s%s", atomic_load(&a->stopping) ? " shutting down;" : "",
                 m ? "" : " no model loaded yet;", synced ? "" : " not caught up with the primary's changefeed yet;",
                 err ? " the primary: " : "", err ? err : "");
    json_decref(st);
}

/* Ready = not shutting down, a model loaded, and the store accepting writes. */
void h_readyz(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    (void)rq;
    if (a->replica) {
        readyz_replica(a, rs);
        return;
    }
    store_stats st = {0};
    nc_err e = {0};
    live_model *m = live_acquire(&a->model);
    uint64_t version = m ? m->ck.meta.model_version : 0;
    live_release(m);
    int store_ok = a->store && store_stats_get(a->store, &st, &e) == NC_OK && st.writable;
    int ok = !atomic_load(&a->stopping) && m && store_ok;
    atomic_store(&a->metrics.ready, ok);
    if (ok) {
        http_json(rs, 200, json_pack("{s:s, s:I, s:s}", "status", "ready", "model_version", (json_int_t)version, "role",
                                     a->cfg.role));
        return;
    }
    http_problem(rs, 503, "not ready:%s%s%s", atomic_load(&a->stopping) ? " shutting down;" : "",
                 m ? "" : " no model loaded yet;", store_ok ? "" : " the store is not writable;");
}

/* Appends extra (may be NULL) to the malloc'd text; on failure the text stays as it was. */
static void append_text(char **text, size_t *len, const char *extra) {
    size_t w = extra ? strlen(extra) : 0;
    char *t2 = w ? realloc(*text, *len + w + 1) : NULL;
    if (!t2) return;
    memcpy(t2 + *len, extra, w + 1);
    *text = t2;
    *len += w;
}

/* The role as a labelled gauge, and a replica's view of its primary. */
static void append_role_metrics(srv_app *a, char **text, size_t *len) {
    char role[256];
    snprintf(role, sizeof role, "# HELP nclrec_role The role this process was started with.\n# TYPE nclrec_role gauge\n"
             "nclrec_role{role=\"%s\"} 1\n", a->cfg.role);
    append_text(text, len, role);
    if (!a->replica) return;
    char *r = replica_metrics(a->replica);
    append_text(text, len, r);
    free(r);
}

/* The served model's candidate lists: bytes held (bounded by --rec-cache-mb). */
static void append_cache_metrics(srv_app *a, char **text, size_t *len) {
    live_model *m = live_acquire(&a->model);
    char line[256];
    snprintf(line, sizeof line, "# HELP nclrec_recommend_cache_bytes Bytes of kept candidate lists of the served model.\n"
             "# TYPE nclrec_recommend_cache_bytes gauge\nnclrec_recommend_cache_bytes %zu\n",
             m ? rec_cache_bytes(m->cache) : (size_t)0);
    live_release(m);
    append_text(text, len, line);
}

/* The catalogue's items by the rule that keeps them from being served. */
static void append_catalogue_metrics(srv_app *a, char **text, size_t *len) {
    catalogue_stats st = {0};
    char line[512];
    if (a->catalogue) catalogue_stats_get(a->catalogue, (int64_t)time(NULL), &st);
    snprintf(line, sizeof line, "# HELP nclrec_catalogue_items Items never served now, by reason (and all with a catalogue write).\n"
             "# TYPE nclrec_catalogue_items gauge\nnclrec_catalogue_items{state=\"hidden\"} %lld\n"
             "nclrec_catalogue_items{state=\"deleted\"} %lld\nnclrec_catalogue_items{state=\"not_yet_available\"} %lld\n"
             "nclrec_catalogue_items{state=\"written\"} %lld\n",
             (long long)st.hidden, (long long)st.deleted, (long long)st.pending, (long long)st.items);
    append_text(text, len, line);
}

void h_metrics(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    static const char *const allowed[] = {"format", NULL};
    const char *format = http_query(rq, "format");
    if (!routes_params_known(rq, rs, allowed)) return;
    if (format && strcmp(format, "json") && strcmp(format, "text")) {
        http_problem(rs, 400, "query parameter 'format' must be 'text' or 'json', got '%.32s'", format);
        return;
    }
    size_t len = 0;
    char *text = prom_render(&a->metrics, &len);
    store_stats st;
    nc_err e;
    if (!text) {
        http_problem(rs, 500, "out of memory rendering metrics");
        return;
    }
    if (a->store && store_stats_get(a->store, &st, &e) == NC_OK) {
        char extra[2048];
        int w = snprintf(extra, sizeof extra,
                         "# HELP nclrec_store_interactions Live interactions in the store.\n# TYPE nclrec_store_interactions gauge\nnclrec_store_interactions %lld\n"
                         "# HELP nclrec_store_watermark Highest committed sequence number.\n# TYPE nclrec_store_watermark gauge\nnclrec_store_watermark %lld\n"
                         "# HELP nclrec_store_wal_bytes Size of the write-ahead log.\n# TYPE nclrec_store_wal_bytes gauge\nnclrec_store_wal_bytes %lld\n"
                         "# HELP nclrec_store_commits_total Transactions committed.\n# TYPE nclrec_store_commits_total counter\nnclrec_store_commits_total %llu\n"
                         "# HELP nclrec_store_writable 1 while the store accepts writes.\n# TYPE nclrec_store_writable gauge\nnclrec_store_writable %d\n"
                         "# HELP nclrec_store_seen_ready 1 while users' items are answered from memory (0: read from the file, e.g. while the copy is built after a start).\n"
                         "# TYPE nclrec_store_seen_ready gauge\nnclrec_store_seen_ready %d\n",
                         (long long)st.interactions, (long long)st.last_seq, (long long)st.wal_bytes,
                         (unsigned long long)st.commits, st.writable, st.seen_ready);
        char *t2 = w > 0 && (size_t)w < sizeof extra ? realloc(text, len + (size_t)w + 1) : NULL;
        if (t2) {
            memcpy(t2 + len, extra, (size_t)w + 1);
            text = t2;
            len += (size_t)w;
        }
    }
    append_role_metrics(a, &text, &len);
    append_cache_metrics(a, &text, &len);
    append_catalogue_metrics(a, &text, &len);
    if (format && !strcmp(format, "json")) {
        ui_metrics_json(text, len, rs);
        free(text);
        return;
    }
    rs->status = 200;
    rs->ctype = "text/plain; version=0.0.4; charset=utf-8";
    rs->body = text;
    rs->len = len;
}

static json_t *metrics_json(const nc_metrics *m) {
    json_t *o = json_object();
    char key[32];
    for (int i = 0; i < NC_N_TOPK; i++) {
        snprintf(key, sizeof key, "recall@%d", nc_topk_ks[i]);
        json_object_set_new(o, key, json_real(m->recall[i]));
        snprintf(key, sizeof key, "ndcg@%d", nc_topk_ks[i]);
        json_object_set_new(o, key, json_real(m->ndcg[i]));
    }
    json_object_set_new(o, "users", json_integer(m->n_users));
    return o;
}

void h_model(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    (void)rq;
    live_model *m = live_acquire(&a->model);
    if (!m) {
        http_problem(rs, 503, "no model is loaded yet");
        return;
    }
    const nc_checkpoint *c = &m->ck;
    const char *ts = m->trained_at;
    json_t *o = json_pack("{s:I, s:s, s:f, s:I, s:i, s:i, s:i, s:{s:I, s:I, s:I}, s:i, s:i, s:f, s:o, s:{s:o, s:o}}",
                          "version", (json_int_t)c->meta.model_version, "trained_at", ts, "age_seconds",
                          nc_wall_time() - c->meta.trained_at, "data_watermark", (json_int_t)c->meta.data_watermark,
                          "users", c->n_users, "items", c->n_items, "dim", c->dim, "interactions", "train",
                          (json_int_t)c->meta.n_train, "valid", (json_int_t)c->meta.n_valid, "test",
                          (json_int_t)c->meta.n_test, "epochs_run", c->meta.epochs_run, "best_epoch",
                          c->meta.best_epoch, "train_seconds", c->meta.train_seconds, "hparams", cfg_hparams_json(&c->hp),
                          "metrics", "valid", metrics_json(&c->valid), "test", metrics_json(&c->test));
    if (o && a->retrain) json_object_set_new(o, "retrain", retrain_status(a->retrain));
    if (o && a->replica) json_object_set_new(o, "primary", replica_status(a->replica));
    live_release(m);
    http_json(rs, 200, o);
}

void h_retrain(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    if (routes_refused_on_replica(a, rq, rs)) return;
    if (!a->retrain || atomic_load(&a->stopping)) {
        http_problem(rs, 503, "retraining is not available %s", a->retrain ? "while shutting down" : "in this process");
        return;
    }
    int running = retrain_request(a->retrain);
    http_json(rs, 202, json_pack("{s:s}", "status", running ? "already running" : "started"));
}

void h_openapi(void *ap, const http_req *rq, http_resp *rs) {
    (void)ap;
    (void)rq;
    size_t len;
    const char *spec = routes_openapi(&len);
    http_text(rs, 200, "application/yaml", spec, len);
}
