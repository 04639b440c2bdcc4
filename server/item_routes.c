/* item_routes.c - see item_routes.h. */
#include "item_routes.h"

#include <stdlib.h>
#include <string.h>

#include "catalogue.h"
#include "item_doc.h"
#include "replica.h"
#include "store_items.h"

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

/* Commits the writes and applies them to the serving catalogue before the answer; 1 when
 * committed, else 0 with rs set (404 for a missing item, 422 for refused content, 503 for a
 * store fault). */
static int commit_writes(srv_app *a, store_item_write *w, size_t n, const char *key, store_append_result *res,
                         http_resp *rs) {
    nc_err e = {0};
    int rc = store_write_items(a->store, w, n, key, res, &e);
    if (rc == NC_EINVAL) {
        int missing = !strncmp(e.msg, "not found: ", 11);
        http_problem(rs, missing ? 404 : 422, "%s", missing ? e.msg + 11 : e.msg);
        return 0;
    }
    if (rc) {
        routes_store_fault(a, rs, "write_items", &e);
        return 0;
    }
    for (size_t i = 0; i < n && !res->replayed; i++)
        if (catalogue_apply(a->catalogue, w[i].item, w[i].doc, w[i].seq, &e) != NC_OK)
            slog_kv(&a->log, SLOG_ERROR, "catalogue_error", "item", json_string(w[i].item), "error", json_string(e.msg),
                    NULL);
    return 1;
}

/* PUT and PATCH: one write, answered with the stored document and its sequence number. */
static void put_or_patch(srv_app *a, const http_req *rq, http_resp *rs, store_item_op op) {
    const char *key;
    json_t *body;
    if (!write_allowed(a, rq, rs, &key) || !(body = parse_doc(rq, rs))) return;
    json_object_del(body, "id");
    store_item_write w = {rq->param, op, body, NULL, 0};
    store_append_result res;
    if (commit_writes(a, &w, 1, key, &res, rs)) {
        char *doc = w.doc;
        int known = 0, deleted = 0;
        nc_err e;
        if (res.replayed) store_item_get(a->store, rq->param, &known, &doc, &deleted, &e); /* the state now */
        json_t *o = item_json(rq->param, doc);
        if (o) json_object_set_new(o, "seq", json_integer(res.last_seq));
        if (o && res.replayed) json_object_set_new(o, "replayed", json_true());
        http_json(rs, 200, o);
        free(doc);
    }
    json_decref(body);
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
    store_item_write w = {rq->param, STORE_ITEM_DELETE, NULL, NULL, 0};
    store_append_result res;
    if (commit_writes(a, &w, 1, key, &res, rs))
        http_json(rs, 200, json_pack("{s:s, s:b, s:I}", "id", rq->param, "deleted", 1, "seq", (json_int_t)res.last_seq));
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
    size_t n = json_array_size(arr);
    store_item_write *w = n ? calloc(n, sizeof *w) : NULL;
    store_append_result res;
    if (!arr) http_problem(rs, 400, "the body must be a JSON array of items%s%s", rq->body_len ? ": " : "",
                           rq->body_len ? je.text : "");
    else if (!json_is_array(arr) || n == 0) http_problem(rs, 422, "the body must be a non-empty array of items");
    else if (n > (size_t)a->cfg.batch_max) http_problem(rs, 422, "%zu items in one request; at most %d are accepted", n, a->cfg.batch_max);
    else if (!w) http_problem(rs, 500, "out of memory for %zu items", n);
    else {
        size_t i = 0;
        while (i < n && batch_element(json_array_get(arr, i), i, w, rs) == 0) i++;
        if (i == n && commit_writes(a, w, n, key, &res, rs)) routes_append_answer(&res, rs);
    }
    for (size_t i = 0; w && i < n; i++) free(w[i].doc);
    free(w);
    json_decref(arr);
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

int item_routes_apply_event(srv_app *a, const json_t *ev, nc_err *e) {
    json_t *seq = json_object_get(ev, "seq"), *doc = json_object_get(ev, "doc");
    const char *item = json_string_value(json_object_get(ev, "item"));
    if (!json_is_integer(seq) || !item || !doc || (!json_is_object(doc) && !json_is_null(doc)))
        return nc_fail(e, NC_EFORMAT, "changefeed item event lacks seq, item or doc");
    if (!a->catalogue) return nc_fail(e, NC_EINTERNAL, "changefeed item event: no catalogue to apply it to");
    char *text = json_is_null(doc) ? NULL : json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (!json_is_null(doc) && !text) return nc_fail(e, NC_ENOMEM, "out of memory for a changefeed item");
    int rc = catalogue_apply(a->catalogue, item, text, json_integer_value(seq), e);
    free(text);
    return rc == NC_EINVAL ? nc_fail(e, NC_EFORMAT, "changefeed: %s", e->msg) : rc;
}
