/* interactions.c - POST /interactions (one event or an array, all or nothing, answered after
 * the store commits without holding an HTTP thread) and DELETE /users/{id}. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/jbuf.h"

/* ======================= ingest and deletion ======================= */

/* An id field of an event: a string, or a non-negative integer taken as its decimal form. */
static const char *event_id(json_t *v, char *num, size_t cap) {
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        snprintf(num, cap, "%lld", (long long)json_integer_value(v));
        return num;
    }
    return NULL;
}

/* The event's "type" as an index into the configured set (the default "view" when absent),
 * or -1 with a 422 problem naming the type and the allowed set. */
static int decode_type(const nc_feedback_types *ft, json_t *o, size_t i, http_resp *rs) {
    json_t *t = json_object_get(o, "type");
    int absent = !t || json_is_null(t);
    const char *name = absent ? STORE_TYPE_DEFAULT : json_string_value(t);
    int k = name ? nc_feedback_find(ft, name, absent ? strlen(name) : json_string_length(t)) : -1;
    if (k >= 0) return k;
    char allowed[CFG_STR_MAX]; /* for the refusal only: formatting it costs more than the look-up */
    nc_feedback_format(ft, allowed, sizeof allowed);
    if (absent) /* a configuration without the default (cfg_validate adds it) */
        http_problem(rs, 500, "events[%zu]: the default type '%s' is not configured (types: %s)", i, name, allowed);
    else if (json_is_string(t))
        http_problem(rs, 422, "events[%zu].type: unknown feedback type '%.64s' (allowed: %s)", i, json_string_value(t),
                     allowed);
    else
        http_problem(rs, 422, "events[%zu].type: must be a string, one of: %s", i, allowed);
    return -1;
}

/* Validates events[i] into ev[i] (strings borrowed from the JSON tree or the configured type
 * set; numeric ids copied into nums) and its type's index into types[i]. Returns 0, or -1 with
 * a 422 problem naming the field. */
static int decode_event(const nc_feedback_types *ft, json_t *o, size_t i, store_event *ev, uint8_t *types,
                        char (*nums)[2][24], http_resp *rs) {
    if (!json_is_object(o)) {
        http_problem(rs, 422, "events[%zu]: must be an object with user, item and optional timestamp and type", i);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (strcmp(key, "user") && strcmp(key, "item") && strcmp(key, "timestamp") && strcmp(key, "type")) {
            http_problem(rs, 422, "events[%zu]: unknown field '%.64s' (expected user, item, timestamp, type)", i, key);
            return -1;
        }
    }
    const char *names[2] = {"user", "item"}, *vals[2];
    for (int f = 0; f < 2; f++) {
        vals[f] = event_id(json_object_get(o, names[f]), nums[i][f], sizeof nums[i][f]);
        nc_err e;
        if (!vals[f]) {
            http_problem(rs, 422, "events[%zu].%s: required, a string id", i, names[f]);
            return -1;
        }
        if (store_check_id(names[f], vals[f], &e) != NC_OK) {
            http_problem(rs, 422, "events[%zu].%s: %s", i, names[f], e.msg);
            return -1;
        }
    }
    int t = decode_type(ft, o, i, rs);
    if (t < 0) return -1;
    types[i] = (uint8_t)t;
    json_t *ts = json_object_get(o, "timestamp");
    ev[i] = (store_event){vals[0], vals[1], STORE_TS_NOW, ft->t[t].name};
    if (ts && !json_is_null(ts)) {
        if (!json_is_integer(ts) || json_integer_value(ts) < 0 || json_integer_value(ts) > STORE_TS_MAX) {
            http_problem(rs, 422, "events[%zu].timestamp: must be whole seconds since the epoch, 0 to %lld", i,
                         (long long)STORE_TS_MAX);
            return -1;
        }
        ev[i].ts = json_integer_value(ts);
    }
    return 0;
}

/* Parses the body into an array of events (a lone object counts as an array of one). */
static json_t *decode_body(const srv_app *a, const http_req *rq, http_resp *rs) {
    if (rq->body_len == 0) {
        http_problem(rs, 400, "the body is empty; send an event object or an array of them");
        return NULL;
    }
    json_error_t err;
    json_t *j = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (!j) {
        http_problem(rs, 400, "the body is not valid JSON: %s at line %d, column %d", err.text, err.line, err.column);
        return NULL;
    }
    if (json_is_object(j)) {
        json_t *arr = json_array();
        json_array_append_new(arr, j);
        j = arr;
    }
    if (!json_is_array(j)) {
        http_problem(rs, 422, "the body must be an event object or an array of events");
    } else if (json_array_size(j) == 0) {
        http_problem(rs, 422, "the array of events is empty");
    } else if (json_array_size(j) > (size_t)a->cfg.batch_max) {
        http_problem(rs, 422, "%zu events in one request; at most %d are accepted", json_array_size(j), a->cfg.batch_max);
    } else {
        return j;
    }
    json_decref(j);
    return NULL;
}

/* A POST /interactions waiting for its commit (http_answer_later's ctx): owns the decoded
 * body, whose strings the events borrow, until the answer is made. */
typedef struct ingest_wait {
    srv_app *a;
    json_t *arr;
    store_event *ev;
    uint8_t *types;         /* each event's index in the configured feedback types */
    char (*nums)[2][24];
    size_t n;
    char *key;              /* copy of Idempotency-Key, or NULL */
    store_pending *p;       /* NULL when refused before queueing: rc and e say why */
    int rc;
    nc_err e;
} ingest_wait;

static void ingest_wait_free(ingest_wait *w) {
    json_decref(w->arr);
    free(w->ev);
    free(w->types);
    free(w->nums);
    free(w->key);
    free(w);
}

/* Queues the events without holding the HTTP thread; a refusal wakes the request at once. */
static void ingest_start(void *ctx, http_later *l) {
    ingest_wait *w = ctx;
    w->rc = store_append_async(w->a->store, w->ev, w->n, w->key, http_later_wake, l, &w->p, &w->e);
    if (w->rc != NC_OK) http_later_done(l);
}

/* A queued write's outcome: 1 when it committed (the caller answers), else 0 with rs set:
 * invalid_status when the store refused the request's content, 503 for a store fault. */
static int write_committed(srv_app *a, http_resp *rs, int rc, const nc_err *e, int invalid_status, const char *op) {
    if (rc == NC_OK) return 1;
    if (rc == NC_EINVAL) http_problem(rs, invalid_status, "%s", e->msg);
    else routes_store_fault(a, rs, op, e);
    return 0;
}

/* Written by hand (jbuf.h) rather than through a jansson tree: it is sent for every write. */
void routes_append_answer(const store_append_result *res, http_resp *rs) {
    jbuf b;
    jbuf_init(&b, 96);
    jbuf_lit(&b, "{\"accepted\":");
    jbuf_int(&b, res->n_accepted);
    jbuf_lit(&b, ",\"first_seq\":");
    jbuf_int(&b, res->first_seq);
    jbuf_lit(&b, ",\"last_seq\":");
    jbuf_int(&b, res->last_seq);
    if (res->replayed) jbuf_lit(&b, ",\"replayed\":true}");
    else jbuf_lit(&b, ",\"replayed\":false}");
    size_t len;
    char *text = jbuf_take(&b, &len);
    if (text) http_body(rs, 200, "application/json", text, len);
    else http_problem(rs, 500, "out of memory for the answer");
}

/* The answer once committed (or refused): what a blocking store_append would have given. */
static void ingest_finish(void *ctx, http_resp *rs) {
    ingest_wait *w = ctx;
    store_append_result res = {0};
    int rc = w->p ? store_pending_finish(w->p, &res, &w->e) : w->rc;
    srv_app *a = w->a;
    if (rs && write_committed(a, rs, rc, &w->e, 422, "append")) { /* rs NULL: no answer wanted */
        prom_add(res.replayed ? &a->metrics.idempotent_replays : &a->metrics.ingested,
                 res.replayed ? 1 : (uint64_t)res.n_accepted);
        for (size_t i = 0; !res.replayed && i < w->n; i++) prom_add(&a->metrics.ingested_type[w->types[i]], 1);
        routes_append_answer(&res, rs);
    }
    ingest_wait_free(w);
}

/* Decodes every event, then hands the append to the store without waiting on this thread:
 * the answer comes once the rows are committed (http_answer_later). Takes over arr. */
static void append_events(srv_app *a, const http_req *rq, json_t *arr, http_resp *rs) {
    size_t n = json_array_size(arr);
    ingest_wait *w = calloc(1, sizeof *w);
    const char *key = http_header(rq, "Idempotency-Key");
    if (w) *w = (ingest_wait){a, arr, calloc(n, sizeof *w->ev), calloc(n, 1), calloc(n, sizeof *w->nums), n,
                              key ? strdup(key) : NULL, NULL, NC_OK, {0}};
    if (!w || !w->ev || !w->types || !w->nums || (key && !w->key)) {
        http_problem(rs, 500, "out of memory for %zu events", n);
        if (w) ingest_wait_free(w);
        else json_decref(arr);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (decode_event(&a->cfg.ft, json_array_get(arr, i), i, w->ev, w->types, w->nums, rs) != 0) {
            ingest_wait_free(w); /* decode_event set the problem */
            return;
        }
    if (!http_answer_later(rs, ingest_start, ingest_finish, w)) {
        http_problem(rs, 500, "out of memory for %zu events", n);
        ingest_wait_free(w);
    }
}

void h_interactions(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    if (routes_refused_on_replica(a, rq, rs)) return;
    static const char *const allowed[] = {NULL};
    if (!routes_params_known(rq, rs, allowed)) return;
    const char *key = http_header(rq, "Idempotency-Key");
    if (key && (!*key || strlen(key) > STORE_MAX_KEY_LEN)) {
        http_problem(rs, 400, "header 'Idempotency-Key' must have 1 to %d bytes", STORE_MAX_KEY_LEN);
        return;
    }
    if (atomic_load(&a->stopping)) {
        http_problem(rs, 503, "the server is shutting down; retry on another instance");
        return;
    }
    json_t *arr = decode_body(a, rq, rs);
    if (!arr) return;
    append_events(a, rq, arr, rs);
}

/* A DELETE /users/{id} waiting for its commit (http_answer_later's ctx), like ingest_wait. */
typedef struct delete_wait {
    srv_app *a;
    char *user;             /* copy of the path's id */
    store_pending *p;       /* NULL when refused before queueing: rc and e say why */
    int rc;
    nc_err e;
} delete_wait;

static void delete_wait_free(delete_wait *w) {
    free(w->user);
    free(w);
}

static void delete_start(void *ctx, http_later *l) {
    delete_wait *w = ctx;
    w->rc = store_delete_user_async(w->a->store, w->user, http_later_wake, l, &w->p, &w->e);
    if (w->rc != NC_OK) http_later_done(l);
}

/* The answer once the tombstone is committed: 404 when there was nothing to forget. */
static void delete_finish(void *ctx, http_resp *rs) {
    delete_wait *w = ctx;
    store_delete_result res = {0};
    int rc = w->p ? store_pending_finish_delete(w->p, &res, &w->e) : w->rc;
    srv_app *a = w->a;
    if (rs && write_committed(a, rs, rc, &w->e, 400, "delete_user")) { /* rs NULL: no answer wanted */
        live_model *m = live_acquire(&a->model);
        int known = m && live_user(m, w->user) >= 0;
        live_release(m);
        if (res.n_deleted == 0 && !known) {
            http_problem(rs, 404, "user '%s' has no interactions and is not in the model", w->user);
        } else {
            prom_add(&a->metrics.deleted_users, 1);
            http_json(rs, 200, json_pack("{s:s, s:I, s:I}", "user", w->user, "deleted", (json_int_t)res.n_deleted,
                                         "seq", (json_int_t)res.seq));
        }
    }
    delete_wait_free(w);
}

/* Hands the deletion to the store's writer without holding this thread; the answer comes
 * after the commit (http_answer_later), as for POST /interactions. */
void h_delete_user(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    if (routes_refused_on_replica(a, rq, rs)) return;
    static const char *const allowed[] = {NULL};
    nc_err e = {0};
    if (!routes_params_known(rq, rs, allowed)) return;
    if (store_check_id("user", rq->param, &e) != NC_OK) {
        http_problem(rs, 400, "path segment {id}: %s", e.msg);
        return;
    }
    if (atomic_load(&a->stopping)) {
        http_problem(rs, 503, "the server is shutting down; retry on another instance");
        return;
    }
    delete_wait *w = calloc(1, sizeof *w);
    if (w) *w = (delete_wait){a, strdup(rq->param), NULL, NC_OK, {0}};
    if (!w || !w->user || !http_answer_later(rs, delete_start, delete_finish, w)) {
        http_problem(rs, 500, "out of memory for the deletion");
        if (w) delete_wait_free(w);
    }
}
