/* item_routes.c - see item_routes.h. */
#include "item_routes.h"

#include <stdlib.h>
#include <string.h>

#include "model/catalogue.h"
#include "store/store.h"
#include "replica/replica.h"
#include "store/store.h"

/* The document as the API shows it: {"id": item, ...doc}; doc NULL = no catalogue write. */
static json_t *item_json(const char *item, const char *doc) {
    json_t *o = doc ? json_loads(doc, 0, NULL) : item_doc_merge(NULL, NULL, 0);
    if (o) json_object_set_new(o, "id", json_string(item));
    return o;
}

/* Checks the path id and parses the body into a document item_doc_check accepts (NULL with
 * the problem set otherwise). */
static json_t *parse_doc(const http_req *rq, http_resp *rs) {
    nc_err e;
    json_error_t je;
    if (store_check_id("item", rq->param, &e) != NC_OK) {
        http_problem(rs, 400, "path segment {id}: %s", e.msg);
        return NULL;
    }
    json_t *j = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        http_problem(rs, 400, "the body is not a valid JSON object: %s at line %d, column %d", je.text, je.line, je.column);
        return NULL;
    }
    json_t *id = json_object_get(j, "id");
    if (item_doc_check(j, &e) != NC_OK) http_problem(rs, 422, "%s", e.msg);
    else if (id && (!json_is_string(id) || strcmp(json_string_value(id), rq->param)))
        http_problem(rs, 422, "id: the body names another item than the path ('%.64s')", rq->param);
    else return j;
    json_decref(j);
    return NULL;
}

/* A write's common checks: not on a replica, no unknown parameter, a sound key, not stopping.
 * Returns the Idempotency-Key (may be NULL) through *key; 0 with rs set when refused. */
static int write_allowed(srv_app *a, const http_req *rq, http_resp *rs, const char **key) {
    static const char *const allowed[] = {NULL};
    if (routes_refused_on_replica(a, rq, rs) || !routes_params_known(rq, rs, allowed)) return 0;
    *key = http_header(rq, "Idempotency-Key");
    if (*key && (!**key || strlen(*key) > STORE_MAX_KEY_LEN)) {
        http_problem(rs, 400, "header 'Idempotency-Key' must have 1 to %d bytes", STORE_MAX_KEY_LEN);
        return 0;
    }
    if (atomic_load(&a->stopping)) {
        http_problem(rs, 503, "the server is shutting down; retry on another instance");
        return 0;
    }
    return 1;
}

/* Catalogue writes waiting for their commit (http_answer_later's ctx), as POST /interactions
 * waits: the HTTP thread goes on serving meanwhile. Owns the decoded body, whose strings and
 * objects the writes borrow, until the answer is made. */
typedef struct items_wait {
    srv_app *a;
    json_t *body;            /* NULL for a DELETE */
    store_item_write *w;     /* n writes */
    size_t n;
    char *item;              /* copy of the path's id; NULL for POST /items */
    char *key;               /* copy of Idempotency-Key, or NULL */
    store_pending *p;        /* NULL when refused before queueing: rc and e say why */
    int rc;
    nc_err e;
} items_wait;

static void items_wait_free(items_wait *x) {
    for (size_t i = 0; x->w && i < x->n; i++) free(x->w[i].doc);
    free(x->w);
    free(x->item);
    free(x->key);
    json_decref(x->body);
    free(x);
}

/* A new wait for n writes (w zeroed), taking over body; NULL (body released) when out of memory. */
static items_wait *items_wait_new(srv_app *a, json_t *body, size_t n, const char *item, const char *key) {
    items_wait *x = calloc(1, sizeof *x);
    if (x) *x = (items_wait){a, body, calloc(n, sizeof *x->w), n, item ? strdup(item) : NULL, key ? strdup(key) : NULL,
                             NULL, NC_OK, {0}};
    else json_decref(body);
    if (x && (!x->w || (item && !x->item) || (key && !x->key))) {
        items_wait_free(x);
        return NULL;
    }
    return x;
}

static void items_start(void *ctx, http_later *l) {
    items_wait *x = ctx;
    x->rc = store_write_items_async(x->a->store, x->w, x->n, x->key, http_later_wake, l, &x->p, &x->e);
    if (x->rc != NC_OK) http_later_done(l);
}

/* The answer to a committed single write: the stored document (read again for a replay, which
 * carries none), or the deletion. */
static void answer_one(items_wait *x, const store_append_result *res, http_resp *rs) {
    if (x->w[0].op == STORE_ITEM_DELETE) {
        http_json(rs, 200, json_pack("{s:s, s:b, s:I}", "id", x->item, "deleted", 1, "seq", (json_int_t)res->last_seq));
        return;
    }
    char *doc = x->w[0].doc, *now = NULL;
    int known = 0, deleted = 0;
    nc_err e;
    if (res->replayed && store_item_get(x->a->store, x->item, &known, &now, &deleted, &e) == NC_OK) doc = now;
    json_t *o = item_json(x->item, doc);
    if (o) json_object_set_new(o, "seq", json_integer(res->last_seq));
    if (o && res->replayed) json_object_set_new(o, "replayed", json_true());
    http_json(rs, 200, o);
    free(now);
}

/* Once committed (or refused): the writes go to the serving catalogue before the answer is
 * sent; 404 for a missing item, 422 for refused content, 503 for a store fault. */
static void items_finish(void *ctx, http_resp *rs) {
    items_wait *x = ctx;
    store_append_result res = {0};
    int rc = x->p ? store_pending_finish_items(x->p, x->w, x->n, &res, &x->e) : x->rc;
    srv_app *a = x->a;
    for (size_t i = 0; !rc && !res.replayed && i < x->n; i++) {
        nc_err e;
        if (catalogue_apply(a->catalogue, x->w[i].item, x->w[i].doc, x->w[i].seq, &e) != NC_OK)
            slog_kv(&a->log, SLOG_ERROR, "catalogue_error", "item", json_string(x->w[i].item), "error", json_string(e.msg),
                    NULL);
    }
    if (!rs) { /* no answer wanted */
    } else if (rc == NC_EINVAL) {
        int missing = !strncmp(x->e.msg, "not found: ", 11);
        http_problem(rs, missing ? 404 : 422, "%s", missing ? x->e.msg + 11 : x->e.msg);
    } else if (rc) {
        routes_store_fault(a, rs, "write_items", &x->e);
    } else if (x->item) {
        answer_one(x, &res, rs);
    } else {
        routes_append_answer(&res, rs);
    }
    items_wait_free(x);
}

/* Parks the request until the writes of x commit; frees x when that cannot start. */
static void commit_later(items_wait *x, http_resp *rs) {
    if (!http_answer_later(rs, items_start, items_finish, x)) {
        http_problem(rs, 500, "out of memory for the writes");
        items_wait_free(x);
    }
}

/* PUT and PATCH: one write, answered with the stored document and its sequence number. */
static void put_or_patch(srv_app *a, const http_req *rq, http_resp *rs, store_item_op op) {
    const char *key;
    json_t *body;
    if (!write_allowed(a, rq, rs, &key) || !(body = parse_doc(rq, rs))) return;
    json_object_del(body, "id");
    items_wait *x = items_wait_new(a, body, 1, rq->param, key);
    if (!x) {
        http_problem(rs, 500, "out of memory for the write");
        return;
    }
    x->w[0] = (store_item_write){x->item, op, body, NULL, 0};
    commit_later(x, rs);
}

void item_h_put(void *ap, const http_req *rq, http_resp *rs) { put_or_patch(ap, rq, rs, STORE_ITEM_PUT); }
void item_h_patch(void *ap, const http_req *rq, http_resp *rs) { put_or_patch(ap, rq, rs, STORE_ITEM_PATCH); }

void item_h_delete(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    const char *key;
    nc_err e;
    if (!write_allowed(a, rq, rs, &key)) return;
    if (store_check_id("item", rq->param, &e) != NC_OK) {
        http_problem(rs, 400, "path segment {id}: %s", e.msg);
        return;
    }
    items_wait *x = items_wait_new(a, NULL, 1, rq->param, key);
    if (!x) {
        http_problem(rs, 500, "out of memory for the deletion");
        return;
    }
    x->w[0] = (store_item_write){x->item, STORE_ITEM_DELETE, NULL, NULL, 0};
    commit_later(x, rs);
}

/* On a replica the catalogue it follows answers; an item without a catalogue write exists
 * when the model has it. */
static void get_on_replica(srv_app *a, const char *item, http_resp *rs) {
    char *doc = NULL;
    int oom = 0, written = catalogue_get(a->catalogue, item, &doc, &oom);
    live_model *m = written ? NULL : live_acquire(&a->model);
    int in_model = m && live_item(m, item) >= 0;
    live_release(m);
    if (oom) http_problem(rs, 500, "out of memory for the item");
    else if ((written && !doc) || (!written && !in_model)) http_problem(rs, 404, "item '%s' is %s", item, written ? "deleted" : "not known");
    else http_json(rs, 200, item_json(item, doc));
    free(doc);
}

void item_h_get(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    static const char *const allowed[] = {NULL};
    nc_err e = {0};
    if (!routes_params_known(rq, rs, allowed)) return;
    if (store_check_id("item", rq->param, &e) != NC_OK) {
        http_problem(rs, 400, "path segment {id}: %s", e.msg);
        return;
    }
    if (!a->store) {
        get_on_replica(a, rq->param, rs);
        return;
    }
    int known = 0, deleted = 0;
    char *doc = NULL;
    if (store_item_get(a->store, rq->param, &known, &doc, &deleted, &e) != NC_OK) routes_store_fault(a, rs, "get_item", &e);
    else if (!known || deleted) http_problem(rs, 404, "item '%s' is %s", rq->param, known ? "deleted" : "not known");
    else http_json(rs, 200, item_json(rq->param, doc));
    free(doc);
}

/* Checks element i of a batch into w[i] (the id borrowed from the tree); 0 or -1 with a 422. */
static int batch_element(json_t *o, size_t i, store_item_write *w, http_resp *rs) {
    nc_err e;
    const char *id = json_string_value(json_object_get(o, "id"));
    if (!json_is_object(o) || !id) {
        http_problem(rs, 422, "items[%zu]: must be an object with a string id", i);
        return -1;
    }
    if (store_check_id("item", id, &e) != NC_OK || item_doc_check(o, &e) != NC_OK) {
        http_problem(rs, 422, "items[%zu]: %s", i, e.msg);
        return -1;
    }
    w[i] = (store_item_write){id, STORE_ITEM_PUT, o, NULL, 0};
    return 0;
}

void item_h_batch(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    const char *key;
    json_error_t je;
    if (!write_allowed(a, rq, rs, &key)) return;
    json_t *arr = rq->body_len ? json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je) : NULL;
    size_t n = json_array_size(arr), i = 0;
    if (!arr) {
        http_problem(rs, 400, "the body must be a JSON array of items%s%s", rq->body_len ? ": " : "",
                     rq->body_len ? je.text : "");
        return;
    }
    if (!json_is_array(arr) || n == 0 || n > (size_t)a->cfg.batch_max) {
        if (n > (size_t)a->cfg.batch_max) http_problem(rs, 422, "%zu items in one request; at most %d are accepted", n, a->cfg.batch_max);
        else http_problem(rs, 422, "the body must be a non-empty array of items");
        json_decref(arr);
        return;
    }
    items_wait *x = items_wait_new(a, arr, n, NULL, key);
    if (!x) {
        http_problem(rs, 500, "out of memory for %zu items", n);
        return;
    }
    while (i < n && batch_element(json_array_get(arr, i), i, x->w, rs) == 0) i++;
    if (i < n) items_wait_free(x); /* batch_element set the problem */
    else commit_later(x, rs);
}

/* store_items_each's callback at start-up: ctx is the load's. */
typedef struct load_ctx {
    catalogue *c;
    nc_err *e;
} load_ctx;

static int load_one(void *ctx, const char *item, const char *doc, int64_t seq) {
    load_ctx *l = ctx;
    return catalogue_apply(l->c, item, doc, seq, l->e);
}

int item_routes_load(srv_app *a, nc_err *e) {
    if (!(a->catalogue = catalogue_new(e))) return e->code;
    load_ctx l = {a->catalogue, e};
    return a->store ? store_items_each(a->store, load_one, &l, e) : NC_OK;
}
