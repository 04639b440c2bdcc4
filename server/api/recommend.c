/* recommend.c - GET /recommend (a stored user), POST /recommend (an anonymous session) and
 * GET /similar: the request decoded, the user's items and the catalogue's rules applied, the
 * model's top k ranked (model/ranking.h) or the popular list, the answer written as it is
 * computed. Sections: request parsing, the user's items, the answer, ranking, the routes. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/jbuf.h"
#include "model/catalogue.h"
#include "model/ranking.h"
#include "model/rec_explain.h"
#include "model/rec_filter.h"
#include "replica/replica.h"

/* ======================= request parsing ======================= */

/* k from the query: default k_default, 1..k_max. */
static int parse_k(const srv_app *a, const http_req *rq, http_resp *rs, int *k) {
    const char *v = http_query(rq, "k");
    *k = a->cfg.k_default;
    if (!v) return 1;
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < 1 || x > a->cfg.k_max) {
        http_problem(rs, 400, "query parameter 'k' must be an integer from 1 to %d, got '%.32s'", a->cfg.k_max, v);
        return 0;
    }
    *k = (int)x;
    return 1;
}

/* An optional 0/1 flag parameter (v NULL when absent). */
static int parse_flag(http_resp *rs, const char *name, const char *v) {
    if (!v || !strcmp(v, "0") || !strcmp(v, "1")) return 1;
    http_problem(rs, 400, "query parameter '%s' must be 0 or 1, got '%.32s'", name, v);
    return 0;
}

/* A required id parameter, checked against the store's id rules. */
static const char *parse_id(const http_req *rq, http_resp *rs, const char *name) {
    const char *v = http_query(rq, name);
    nc_err e;
    if (!v || !*v) {
        http_problem(rs, 400, "query parameter '%s' is required", name);
        return NULL;
    }
    if (store_check_id(name, v, &e) != NC_OK) {
        http_problem(rs, 400, "query parameter '%s': %s", name, e.msg);
        return NULL;
    }
    return v;
}

/* exclude=ID,ID,... into a caller-freed copy (*buf) and pointers into it (*ids). */
static int parse_exclude(const srv_app *a, const http_req *rq, http_resp *rs, char **buf, char ***ids, size_t *n) {
    *buf = NULL;
    *ids = NULL;
    *n = 0;
    const char *v = http_query(rq, "exclude");
    if (!v || !*v) return 1;
    size_t count = 1;
    for (const char *p = v; *p; p++) count += *p == ',';
    if (count > (size_t)a->cfg.max_exclude) {
        http_problem(rs, 400, "query parameter 'exclude' lists %zu ids; at most %d are accepted", count, a->cfg.max_exclude);
        return 0;
    }
    *buf = strdup(v);
    *ids = calloc(count, sizeof **ids);
    if (!*buf || !*ids) {
        http_problem(rs, 500, "out of memory");
        return 0;
    }
    char *save = NULL;
    for (char *t = strtok_r(*buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        nc_err e;
        if (store_check_id("exclude", t, &e) != NC_OK) {
            http_problem(rs, 400, "query parameter 'exclude': %s", e.msg);
            return 0;
        }
        (*ids)[(*n)++] = t;
    }
    return 1;
}

/* {"version": N, "trained_at": "..."} of a model: which model produced an answer. */
static json_t *model_ref(const live_model *m) {
    return json_pack("{s:I, s:s}", "version", (json_int_t)m->ck.meta.model_version, "trained_at", m->trained_at);
}

/* ======================= recommendations ======================= */

/* The user's items and latest deletion: from the store, or on a replica from the state it
 * follows the primary's changefeed into (the same answers, see replica_state.h). */
static int seen_items(srv_app *a, const char *user, store_items *out, int64_t *deleted_seq, nc_err *e) {
    if (a->replica) return rstate_user_items(replica_state_get(a->replica), user, out, deleted_seq, e);
    return store_user_items(a->store, user, out, deleted_seq, e);
}

static int popular_list(srv_app *a, int k, store_items *out, nc_err *e) {
    if (a->replica) return rstate_popular(replica_state_get(a->replica), k, out, e);
    return store_popular(a->store, k, out, e);
}

static int cmp_str(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

/* Sorted external ids the popular list must leave out: the user's items and exclude=. */
typedef struct id_set {
    char **ids;
    size_t n;
} id_set;

static int id_set_build(id_set *s, const store_items *seen, char **excl, size_t n_excl) {
    s->n = 0;
    s->ids = malloc((seen->n + n_excl + 1) * sizeof *s->ids);
    if (!s->ids) return -1;
    for (size_t i = 0; i < seen->n; i++) s->ids[s->n++] = seen->ids[i];
    for (size_t i = 0; i < n_excl; i++) s->ids[s->n++] = excl[i];
    qsort(s->ids, s->n, sizeof *s->ids, cmp_str);
    return 0;
}

static int id_set_has(const id_set *s, const char *id) {
    return s->n && bsearch(&id, s->ids, s->n, sizeof *s->ids, cmp_str) != NULL;
}

/* ---- the answer's text, written as it is computed: {"user", "items": [...], "model", "source"} ---- */

static const char *const source_name[PROM_SRC_N] = {"ncl", "fold-in", "popular"};

static void answer_open(jbuf *b, const char *user) {
    jbuf_init(b, 1024);
    jbuf_lit(b, "{\"user\":");
    if (user) jbuf_str(b, user);
    else jbuf_lit(b, "null"); /* an anonymous session (POST /recommend) */
    jbuf_lit(b, ",\"items\":[");
}

/* Item i of the answer; a model score is a float (printed without printf), a popularity
 * count a double. */
static void answer_item(jbuf *b, size_t i, const char *item, double score, int is_float) {
    if (i) jbuf_lit(b, ",");
    jbuf_lit(b, "{\"item\":");
    jbuf_str(b, item);
    jbuf_lit(b, ",\"score\":");
    if (is_float) jbuf_float(b, (float)score);
    else jbuf_real(b, score);
    jbuf_lit(b, "}");
}

/* Finishes the 200 answer into rs (a 500 when memory ran out on the way). */
static void answer_close(srv_app *a, jbuf *b, const live_model *m, prom_source src, http_resp *rs) {
    jbuf_lit(b, "],\"model\":");
    jbuf_raw(b, m->ref_json, strlen(m->ref_json));
    jbuf_lit(b, ",\"source\":");
    jbuf_str(b, source_name[src]);
    jbuf_lit(b, "}");
    size_t len;
    char *text = jbuf_take(b, &len);
    if (!text) {
        http_problem(rs, 500, "out of memory for the answer");
        return;
    }
    prom_add(&a->metrics.recommend_source[src], 1);
    http_body(rs, 200, "application/json", text, len);
}

/* ---- ranking (model/ranking.h does the kept lists) ---- */

/* The top k for q under f's categories: a scan of the categories' items alone. */
static int top_in_categories(srv_app *a, const live_model *m, const rec_filter *f, const float *q, int32_t k,
                             const store_ids *ex, int32_t *ids, float *sc, int32_t *got, nc_err *e) {
    store_ids sub = {0};
    int rc = rec_filter_subset(a->catalogue, m, f, &sub, e);
    if (!rc) rc = rec_filter_scan(m, q, &sub, ex->ids, ex->n, k, ids, sc, got, e);
    prom_add(&a->metrics.filtered_requests, 1);
    free(sub.ids);
    return rc;
}

/* Answers with the model's top k for q after f's offset (u: see ranking_top_items). */
static void answer_ranked(srv_app *a, const live_model *m, const char *user, int32_t u, int64_t deleted_seq,
                          const float *q, int32_t k, const rec_filter *f, const store_ids *ex, size_t n_seen,
                          prom_source src, http_resp *rs) {
    int32_t kk = k + f->offset;
    int32_t *ids = malloc(sizeof *ids * (size_t)kk), got = 0;
    float *sc = malloc(sizeof *sc * (size_t)kk);
    nc_err e;
    e.code = NC_OK; /* not "= {0}": that clears the 1 KiB message on every request */
    e.msg[0] = '\0';
    if (!ids || !sc) nc_fail(&e, NC_ENOMEM, "out of memory for k = %d results", kk);
    else if (f->n_cats) top_in_categories(a, m, f, q, kk, ex, ids, sc, &got, &e);
    else ranking_top_items(&a->metrics, m, u, deleted_seq, q, kk, ex->ids, n_seen, ex->n, ids, sc, &got, &e);
    if (e.code) {
        http_problem(rs, 500, "could not compute recommendations: %s", e.msg);
    } else {
        jbuf b;
        answer_open(&b, user);
        for (int32_t i = f->offset; i < got; i++)
            answer_item(&b, (size_t)(i - f->offset), m->ck.items.ids[ids[i]], (double)sc[i], 1);
        answer_close(a, &b, m, src, rs);
    }
    free(ids);
    free(sc);
}

/* Answers with the most popular items (by users) minus the exclusions; score = number of
 * users. */
static void answer_popular(srv_app *a, const live_model *m, const char *user, int k, const rec_filter *f,
                           const store_items *seen, char **excl, size_t n_excl, http_resp *rs) {
    store_items pop = {0};
    id_set ex = {0};
    nc_err e = {0};
    int filtered = f->n_cats || (a->catalogue && catalogue_n_restricted(a->catalogue) > 0);
    /* with a filter, the whole kept list: how many it drops is not known ahead */
    int want = filtered ? a->cfg.popular_n : k + f->offset + (int)n_excl + (int)seen->n;
    if (id_set_build(&ex, seen, excl, n_excl) != 0) nc_fail(&e, NC_ENOMEM, "out of memory");
    else if (popular_list(a, want, &pop, &e) == NC_OK) {
        jbuf b;
        answer_open(&b, user);
        int n = 0;
        for (size_t i = 0; i < pop.n && n < k + f->offset; i++)
            if (!id_set_has(&ex, pop.ids[i]) && rec_filter_allows(a->catalogue, f, pop.ids[i]) && n++ >= f->offset)
                answer_item(&b, (size_t)(n - 1 - f->offset), pop.ids[i], (double)pop.counts[i], 0);
        answer_close(a, &b, m, PROM_SRC_POPULAR, rs);
    }
    if (e.code) http_problem(rs, 500, "could not compute recommendations: %s", e.msg[0] ? e.msg : "out of memory");
    store_items_free(&pop);
    free(ex.ids);
}

/* A query folded in from the model ids of the user's items (n may be 0: then PROM_SRC_POPULAR
 * and q is not filled). */
static prom_source foldin_query(srv_app *a, const live_model *m, const int32_t *items, size_t n, float *q) {
    nc_err e;
    int rc = NC_EINVAL;
    int32_t d = m->ck.dim;
    if (n && a->foldin == FOLDIN_IALS)
        rc = foldin_ials(m->ck.item_emb, m->ck.n_items, d, m->gram, items, n, a->cfg.foldin_alpha, a->cfg.foldin_reg, q, &e);
    else if (n)
        rc = foldin_mean(m->ck.item_emb, m->ck.n_items, d, items, n, q, &e);
    return rc == NC_OK ? PROM_SRC_FOLDIN : PROM_SRC_POPULAR;
}

/* Everything after parameter parsing, given the user's items as model ids (ex: the first
 * n_seen, then exclude='s) and latest deletion: the trained embedding when the model knows the
 * user (and the user was not deleted after it was trained), else a fold-in from the user's
 * items. Returns 0 with rs untouched when the answer is the popular list (the caller has the
 * external ids that list is filtered by). */
static int answer_from_model(srv_app *a, const live_model *m, const char *user, int k, const rec_filter *f,
                             const store_ids *ex, size_t n_seen, int64_t deleted_seq, http_resp *rs) {
    int32_t u = live_user(m, user), d = m->ck.dim;
    if (u >= 0 && deleted_seq <= m->ck.meta.data_watermark) {
        answer_ranked(a, m, user, u, deleted_seq, m->ck.user_emb + (size_t)u * d, k, f, ex, n_seen, PROM_SRC_NCL, rs);
        return 1;
    }
    float *q = malloc(sizeof(float) * (size_t)d);
    prom_source src = q ? foldin_query(a, m, ex->ids, n_seen, q) : PROM_SRC_POPULAR;
    if (src != PROM_SRC_POPULAR) answer_ranked(a, m, user, -1, deleted_seq, q, k, f, ex, n_seen, src, rs);
    free(q);
    return src != PROM_SRC_POPULAR;
}

/* seen_mapped's view of the model: an item's id in it, or -1. */
static int32_t model_item_of(void *m, const char *item) { return live_item(m, item); }

/* The user's items as model ids (remembered per model version) and latest deletion, from
 * memory: the store's copy, or on a replica the state it follows the changefeed into. 0 when
 * that is not available (the store's copy is not built yet): then read them by id. */
static int seen_mapped(srv_app *a, const live_model *m, const char *user, store_ids *out, int64_t *deleted_seq) {
    uint64_t tag = m->ck.meta.model_version;
    if (a->replica)
        return rstate_user_items_mapped(replica_state_get(a->replica), user, tag, model_item_of, (void *)m, out,
                                        deleted_seq);
    return a->store && store_seen_mapped(a->store, user, tag, model_item_of, (void *)m, out, deleted_seq);
}

/* /recommend without a database read, a string copy or a string sort: the user's items come
 * already as model ids (seen_mapped). Returns 0 with rs untouched when they are not
 * available, or when the answer would be the popular list: recommend() then answers. */
static int recommend_fast(srv_app *a, const live_model *m, const char *user, int k, const rec_filter *f, char **excl,
                          size_t n_excl, http_resp *rs) {
    store_ids ex = {0};
    int64_t deleted_seq = 0;
    nc_err e;
    int done = 0;
    if (seen_mapped(a, m, user, &ex, &deleted_seq)) {
        size_t n_seen = ex.n;
        if (ranking_map_items(m, excl, n_excl, &ex, &e) == NC_OK && rec_filter_blocked(a->catalogue, m, &ex, &e) == NC_OK)
            done = answer_from_model(a, m, user, k, f, &ex, n_seen, deleted_seq, rs);
    }
    free(ex.ids);
    return done;
}

/* The general path: the user's items from the store (or a replica's state) by external id. */
static void recommend(srv_app *a, const live_model *m, const char *user, int k, const rec_filter *f, char **excl,
                      size_t n_excl, http_resp *rs) {
    if (recommend_fast(a, m, user, k, f, excl, n_excl, rs)) return;
    store_items seen = {0};
    int64_t deleted_seq = 0;
    nc_err e = {0};
    if (seen_items(a, user, &seen, &deleted_seq, &e) != NC_OK) {
        routes_store_fault(a, rs, "user_items", &e);
        return;
    }
    store_ids ex = {0};
    size_t n_seen = 0;
    if (ranking_map_items(m, seen.ids, seen.n, &ex, &e) == NC_OK && (n_seen = ex.n, ranking_map_items(m, excl, n_excl, &ex, &e)) == NC_OK &&
        rec_filter_blocked(a->catalogue, m, &ex, &e) == NC_OK) {
        if (!answer_from_model(a, m, user, k, f, &ex, n_seen, deleted_seq, rs))
            answer_popular(a, m, user, k, f, &seen, excl, n_excl, rs);
    } else {
        http_problem(rs, 500, "could not compute recommendations: %s", e.msg);
    }
    free(ex.ids);
    store_items_free(&seen);
}

void h_recommend(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    static const char *const allowed[] = {"user", "k", "exclude", "category", "offset", "explain", NULL};
    const char *explain = http_query(rq, "explain");
    int k;
    char *buf = NULL, **excl = NULL;
    size_t n_excl = 0;
    const char *user;
    rec_filter f = {0};
    if (!routes_params_known(rq, rs, allowed) || !(user = parse_id(rq, rs, "user")) || !parse_k(a, rq, rs, &k) ||
        !parse_exclude(a, rq, rs, &buf, &excl, &n_excl) || !rec_filter_parse(rq, rs, k, a->cfg.k_max, &f) ||
        !parse_flag(rs, "explain", explain)) {
        free(buf);
        free(excl);
        return;
    }
    live_model *m = live_acquire(&a->model);
    if (!m)
        http_problem(rs, 503, "no model is loaded yet; retry once /readyz answers 200");
    else if (a->replica && !replica_synced(a->replica))
        http_problem(rs, 503, "this replica has not caught up with the changefeed of its primary %s yet; retry once "
                     "/readyz answers 200", a->cfg.primary);
    else
        recommend(a, m, user, k, &f, excl, n_excl, rs);
    if (m && explain && !strcmp(explain, "1")) explain_add(m, user, rs);
    live_release(m);
    free(f.cats);
    free(buf);
    free(excl);
}

/* A session's request, decoded: the items (borrowed from the tree), k and the filter. */
typedef struct session_req {
    json_t *body;
    char **items;
    size_t n;
    int k;
    rec_filter f;
} session_req;

/* Decodes and checks a POST /recommend body into sr; 0, or -1 with the problem in rs. */
static int session_decode(const srv_app *a, const http_req *rq, http_resp *rs, session_req *sr) {
    json_error_t je;
    nc_err e;
    const char *key;
    json_t *v, *items;
    if (!(sr->body = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je))) {
        http_problem(rs, 400, "the body is not a valid JSON object: %s at line %d, column %d", je.text, je.line, je.column);
        return -1;
    }
    if (!json_is_object(sr->body)) return http_problem(rs, 422, "the body must be an object with items, k, category"), -1;
    json_object_foreach(sr->body, key, v) if (strcmp(key, "items") && strcmp(key, "k") && strcmp(key, "category") &&
                                              strcmp(key, "offset")) {
        http_problem(rs, 422, "unknown field '%.64s' (expected items, k, category, offset)", key);
        return -1;
    }
    items = json_object_get(sr->body, "items");
    v = json_object_get(sr->body, "k");
    sr->k = v ? (int)json_integer_value(v) : a->cfg.k_default;
    sr->n = json_array_size(items);
    if (!json_is_array(items) || sr->n > (size_t)a->cfg.max_exclude)
        return http_problem(rs, 422, "items: required, an array of at most %d item ids", a->cfg.max_exclude), -1;
    if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > a->cfg.k_max))
        return http_problem(rs, 422, "k: must be an integer from 1 to %d", a->cfg.k_max), -1;
    if (sr->n && !(sr->items = calloc(sr->n, sizeof *sr->items))) return http_problem(rs, 500, "out of memory"), -1;
    for (size_t i = 0; i < sr->n; i++) {
        const char *id = json_string_value(json_array_get(items, i));
        if (!id || store_check_id("item", id, &e) != NC_OK)
            return http_problem(rs, 422, "items[%zu]: %s", i, id ? e.msg : "must be a string id"), -1;
        sr->items[i] = (char *)id;
    }
    if (rec_filter_from_json(json_object_get(sr->body, "category"), json_object_get(sr->body, "offset"), sr->k,
                             a->cfg.k_max, &sr->f, &e) != NC_OK)
        return http_problem(rs, e.code == NC_ENOMEM ? 500 : 422, "%s", e.msg), -1;
    return 0;
}

/* The answer to a decoded session on model m. */
static void recommend_session(srv_app *a, const live_model *m, const session_req *sr, http_resp *rs) {
    store_ids ex = {0};
    nc_err e = {0};
    size_t n_seen = 0;
    float *q = NULL;
    if (ranking_map_items(m, sr->items, sr->n, &ex, &e) != NC_OK || (n_seen = ex.n, rec_filter_blocked(a->catalogue, m, &ex, &e)) ||
        !(q = malloc(sizeof(float) * (size_t)m->ck.dim))) {
        http_problem(rs, 500, "could not compute recommendations: %s", e.msg[0] ? e.msg : "out of memory");
    } else if (foldin_query(a, m, ex.ids, n_seen, q) == PROM_SRC_FOLDIN) {
        answer_ranked(a, m, NULL, -1, 0, q, sr->k, &sr->f, &ex, n_seen, PROM_SRC_FOLDIN, rs);
    } else {
        store_items seen = {.n = sr->n, .ids = sr->items}; /* borrowed: id_set only reads ids */
        answer_popular(a, m, NULL, sr->k, &sr->f, &seen, NULL, 0, rs);
    }
    free(q);
    free(ex.ids);
}

/* Recommendations for a visitor without a user id: a fold-in from the session's items, as
 * for a stored user the model does not know, leaving those items out; the popular list
 * when the model knows none of them. */
void h_recommend_session(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    static const char *const allowed[] = {NULL};
    session_req sr = {0};
    if (routes_params_known(rq, rs, allowed) && session_decode(a, rq, rs, &sr) == 0) {
        live_model *m = live_acquire(&a->model);
        if (!m) http_problem(rs, 503, "no model is loaded yet; retry once /readyz answers 200");
        else recommend_session(a, m, &sr, rs);
        live_release(m);
    }
    free(sr.f.cats);
    free(sr.items);
    json_decref(sr.body);
}

/* Nearest items to q by inner product, minus the exclusions, under f (categories, offset),
 * as a JSON array. */
static json_t *search_items(srv_app *a, const live_model *m, const float *q, int k, const rec_filter *f,
                            const store_ids *ex, nc_err *e) {
    int32_t kk = k + f->offset;
    int32_t *ids = malloc((size_t)kk * sizeof *ids);
    float *sc = malloc((size_t)kk * sizeof *sc);
    int32_t got = 0;
    json_t *arr = NULL;
    int rc = !ids || !sc ? NC_ENOMEM
             : f->n_cats ? top_in_categories(a, m, f, q, kk, ex, ids, sc, &got, e)
                         : nc_index_search(m->index, q, kk, ex->ids, ex->n, ids, sc, &got, e);
    if (rc == NC_OK) {
        arr = json_array();
        for (int32_t i = f->offset; arr && i < got; i++)
            json_array_append_new(arr, json_pack("{s:s, s:f}", "item", m->ck.items.ids[ids[i]], "score", (double)sc[i]));
    } else if (!ids || !sc) {
        nc_fail(e, NC_ENOMEM, "out of memory for k = %d results", kk);
    }
    free(ids);
    free(sc);
    return arr;
}

void h_similar(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    static const char *const allowed[] = {"item", "k", "category", "offset", NULL};
    int k;
    const char *item;
    rec_filter f = {0};
    if (!routes_params_known(rq, rs, allowed) || !(item = parse_id(rq, rs, "item")) || !parse_k(a, rq, rs, &k) ||
        !rec_filter_parse(rq, rs, k, a->cfg.k_max, &f))
        return;
    live_model *m = live_acquire(&a->model);
    if (!m) {
        http_problem(rs, 503, "no model is loaded yet; retry once /readyz answers 200");
        free(f.cats);
        return;
    }
    int32_t it = live_item(m, item);
    nc_err e = {0};
    store_ids ex = {0};
    if (it < 0) {
        http_problem(rs, 404, "item '%s' is not in the current model (version %llu)", item,
                     (unsigned long long)m->ck.meta.model_version);
    } else if (rec_filter_blocked(a->catalogue, m, &ex, &e) != NC_OK ||
               nc_reserve((void **)&ex.ids, &ex.cap, ex.n + 1, sizeof *ex.ids, 8, "exclusions", &e) != NC_OK) {
        http_problem(rs, 500, "could not search similar items: %s", e.msg);
    } else {
        ex.ids[ex.n++] = it;
        json_t *items = search_items(a, m, m->ck.item_emb + (size_t)it * m->ck.dim, k, &f, &ex, &e);
        if (!items)
            http_problem(rs, 500, "could not search similar items: %s", e.msg);
        else
            http_json(rs, 200, json_pack("{s:s, s:o, s:o}", "item", item, "items", items, "model", model_ref(m)));
    }
    free(ex.ids);
    free(f.cats);
    live_release(m);
}
