/* routes.c - see routes.h. Sections: request parsing helpers, recommendations, ingest and
 * deletion, operational routes, the route table. */
#include "routes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalogue.h"
#include "feed.h"
#include "item_routes.h"
#include "jbuf.h"
#include "rec_filter.h"
#include "replica.h"
#include "rec_explain.h"
#include "retrain.h"
#include "ui.h"

/* ======================= request parsing helpers ======================= */

typedef struct param_check {
    const char *const *allowed;
    const char *bad;      /* first unknown parameter */
} param_check;

/* Stops the walk (returns 1) at the first name not in the allowed list. */
static int param_iter(void *cls, const char *key, const char *value) {
    (void)value;
    param_check *pc = cls;
    for (const char *const *a = pc->allowed; *a; a++)
        if (!strcmp(*a, key)) return 0;
    pc->bad = key;
    return 1;
}

/* A typo in a parameter name would otherwise be silently ignored: refuse unknown names. */
static int params_known(const http_req *rq, http_resp *rs, const char *const *allowed) {
    param_check pc = {allowed, NULL};
    http_each_query(rq, param_iter, &pc);
    if (!pc.bad) return 1;
    http_problem(rs, 400, "unknown query parameter '%.64s'", pc.bad);
    return 0;
}

/* The same check for handlers in other files (feed.c). */
int routes_params_known(const http_req *rq, http_resp *rs, const char *const *allowed) {
    return params_known(rq, rs, allowed);
}

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

/* The store failed: a server-side fault, so 503 (retryable), never a 4xx. */
void routes_store_fault(srv_app *a, http_resp *rs, const char *what, const nc_err *e) {
    prom_add(&a->metrics.store_errors, 1);
    slog_kv(&a->log, SLOG_ERROR, "store_error", "op", json_string(what), "error", json_string(e->msg), NULL);
    http_problem(rs, 503, "the interaction store is unavailable (%s: %s); retry later", nc_strerror(e->code),
                 store_error_cause(a->store, e->msg));
    http_add_header(rs, "Retry-After", "1");
}

/* A replica refuses writes and admin: 307 to the same path on its primary (Location when it
 * fits the header), with a problem body naming the primary for clients that do not follow. */
int routes_refused_on_replica(const srv_app *a, const http_req *rq, http_resp *rs) {
    if (a->cfg.role_id != SRV_ROLE_REPLICA) return 0;
    char loc[CFG_STR_MAX + 300];
    size_t n = strlen(a->cfg.primary);
    while (n && a->cfg.primary[n - 1] == '/') n--;
    snprintf(loc, sizeof loc, "%.*s%s", (int)n, a->cfg.primary, rq->path);
    json_t *j = json_pack("{s:s, s:s, s:i, s:s+++, s:s}", "type", "about:blank", "title", "Temporary Redirect", "status",
                          307, "detail", "this is a read-only replica: send ", rq->method, " to the primary at ",
                          a->cfg.primary, "primary", a->cfg.primary);
    http_json(rs, 307, j);
    rs->ctype = "application/problem+json";
    http_add_header(rs, "Location", loc);
    return 1;
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

/* Appends the model ids of n external item ids to out (ids the model lacks are dropped). */
static int map_items(const live_model *m, char *const *names, size_t n, store_ids *out, nc_err *e) {
    if (nc_reserve((void **)&out->ids, &out->cap, out->n + n, sizeof *out->ids, 8, "item ids", e) != NC_OK) return e->code;
    for (size_t i = 0; i < n; i++) {
        int32_t it = live_item(m, names[i]);
        if (it >= 0) out->ids[out->n++] = it;
    }
    return NC_OK;
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

/* ---- ranking ---- */

/* Candidates a kept list holds beyond k and exclude=: room for the user's next interactions
 * before the list runs short (then the request scans, see rec_cache.h). */
#define REC_SLACK 32

/* Scans for user u's list of want + REC_SLACK candidates, leaving out only the user's items
 * (seen), and keeps it in the model's cache (flags: rec_cache_put's). */
static void fill_cache(const live_model *m, int32_t u, int64_t deleted_seq, const float *q, size_t want,
                       const int32_t *seen, size_t n_seen, int flags) {
    int32_t c = (int32_t)(want + REC_SLACK), got = 0;
    if (want + REC_SLACK > REC_CACHE_MAX_LIST) return;
    int32_t *ids = malloc(sizeof *ids * (size_t)c);
    float *sc = malloc(sizeof *sc * (size_t)c);
    nc_err e;
    if (ids && sc && nc_index_search(m->index, q, c, seen, n_seen, ids, sc, &got, &e) == NC_OK)
        rec_cache_put(m->cache, u, deleted_seq, ids, sc, got, got < c, flags);
    free(ids);
    free(sc);
}

/* The top k model items for q minus excl (model ids: the first n_seen are the user's items,
 * then exclude='s), into ids/sc (k each). For a user the model knows (u >= 0, q its
 * embedding) a list kept from an earlier scan answers when it can (the same answer, see
 * rec_cache.h); a user without one gets a list scanned and kept (while the cache is full, at
 * their second miss: rec_cache_answer says when). */
static int top_items(srv_app *a, const live_model *m, int32_t u, int64_t deleted_seq, const float *q, int32_t k,
                     const int32_t *excl, size_t n_seen, size_t n_excl, int32_t *ids, float *sc, int32_t *got,
                     nc_err *e) {
    if (u >= 0) {
        prom_cache how = PROM_CACHE_HIT;
        int r = rec_cache_answer(m->cache, u, deleted_seq, excl, n_excl, k, ids, sc, got);
        if (r < 0) { /* no list yet (-1), or one that ran short (-2): scan and keep */
            fill_cache(m, u, deleted_seq, q, (size_t)k + (n_excl - n_seen), excl, n_seen, r == -2 ? REC_PUT_REPLACE : 0);
            r = rec_cache_answer(m->cache, u, deleted_seq, excl, n_excl, k, ids, sc, got);
            how = PROM_CACHE_FILL;
        }
        prom_add(&a->metrics.recommend_cache[r == 1 ? how : PROM_CACHE_SCAN], 1);
        if (r == 1) return NC_OK;
    }
    return nc_index_search(m->index, q, k, excl, n_excl, ids, sc, got, e);
}

int routes_warm_cache(srv_app *a, live_model *m, const live_model *old, double max_seconds) {
    if (!m->cache || !old || !old->cache) return 0;
    double t0 = nc_wall_time();
    int warmed = 0;
    for (int32_t ou = 0; ou < old->ck.n_users && nc_wall_time() - t0 < max_seconds; ou++) {
        int32_t n = rec_cache_used(old->cache, ou) ? rec_cache_len(old->cache, ou) : 0;
        const char *user = old->ck.users.ids[ou];
        int32_t u = n > 0 ? live_user(m, user) : -1;
        if (u < 0) continue;
        store_items seen = {0};
        store_ids ex = {0};
        int64_t deleted_seq = 0;
        nc_err e;
        if (seen_items(a, user, &seen, &deleted_seq, &e) != NC_OK) break; /* the store is in trouble: serve now */
        if (deleted_seq <= m->ck.meta.data_watermark && map_items(m, seen.ids, seen.n, &ex, &e) == NC_OK) {
            size_t want = n > REC_SLACK ? (size_t)(n - REC_SLACK) : 1;
            fill_cache(m, u, deleted_seq, m->ck.user_emb + (size_t)u * m->ck.dim, want, ex.ids, ex.n, REC_PUT_WARM);
            warmed += rec_cache_len(m->cache, u) > 0;
        }
        free(ex.ids);
        store_items_free(&seen);
    }
    slog_kv(&a->log, SLOG_INFO, "cache_warmed", "version", json_integer((json_int_t)m->ck.meta.model_version), "users",
            json_integer(warmed), "seconds", json_real(nc_wall_time() - t0), NULL);
    return warmed;
}

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

/* Answers with the model's top k for q after f's offset (u: see top_items). */
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
    else top_items(a, m, u, deleted_seq, q, kk, ex->ids, n_seen, ex->n, ids, sc, &got, &e);
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
        if (map_items(m, excl, n_excl, &ex, &e) == NC_OK && rec_filter_blocked(a->catalogue, m, &ex, &e) == NC_OK)
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
    if (map_items(m, seen.ids, seen.n, &ex, &e) == NC_OK && (n_seen = ex.n, map_items(m, excl, n_excl, &ex, &e)) == NC_OK &&
        rec_filter_blocked(a->catalogue, m, &ex, &e) == NC_OK) {
        if (!answer_from_model(a, m, user, k, f, &ex, n_seen, deleted_seq, rs))
            answer_popular(a, m, user, k, f, &seen, excl, n_excl, rs);
    } else {
        http_problem(rs, 500, "could not compute recommendations: %s", e.msg);
    }
    free(ex.ids);
    store_items_free(&seen);
}

static void h_recommend(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    static const char *const allowed[] = {"user", "k", "exclude", "category", "offset", "explain", NULL};
    const char *explain = http_query(rq, "explain");
    int k;
    char *buf = NULL, **excl = NULL;
    size_t n_excl = 0;
    const char *user;
    rec_filter f = {0};
    if (!params_known(rq, rs, allowed) || !(user = parse_id(rq, rs, "user")) || !parse_k(a, rq, rs, &k) ||
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
    if (map_items(m, sr->items, sr->n, &ex, &e) != NC_OK || (n_seen = ex.n, rec_filter_blocked(a->catalogue, m, &ex, &e)) ||
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
static void h_recommend_session(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    static const char *const allowed[] = {NULL};
    session_req sr = {0};
    if (params_known(rq, rs, allowed) && session_decode(a, rq, rs, &sr) == 0) {
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

static void h_similar(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    static const char *const allowed[] = {"item", "k", "category", "offset", NULL};
    int k;
    const char *item;
    rec_filter f = {0};
    if (!params_known(rq, rs, allowed) || !(item = parse_id(rq, rs, "item")) || !parse_k(a, rq, rs, &k) ||
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

/* Validates events[i] into ev[i] (strings borrowed from the JSON tree; numeric ids copied into
 * nums). Returns 0, or -1 with a 422 problem naming the field. */
static int decode_event(json_t *o, size_t i, store_event *ev, char (*nums)[2][24], http_resp *rs) {
    if (!json_is_object(o)) {
        http_problem(rs, 422, "events[%zu]: must be an object with user, item and optional timestamp", i);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (strcmp(key, "user") && strcmp(key, "item") && strcmp(key, "timestamp")) {
            http_problem(rs, 422, "events[%zu]: unknown field '%.64s' (expected user, item, timestamp)", i, key);
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
    json_t *ts = json_object_get(o, "timestamp");
    ev[i] = (store_event){vals[0], vals[1], STORE_TS_NOW};
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
    if (w) *w = (ingest_wait){a, arr, calloc(n, sizeof *w->ev), calloc(n, sizeof *w->nums), n,
                              key ? strdup(key) : NULL, NULL, NC_OK, {0}};
    if (!w || !w->ev || !w->nums || (key && !w->key)) {
        http_problem(rs, 500, "out of memory for %zu events", n);
        if (w) ingest_wait_free(w);
        else json_decref(arr);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (decode_event(json_array_get(arr, i), i, w->ev, w->nums, rs) != 0) {
            ingest_wait_free(w); /* decode_event set the problem */
            return;
        }
    if (!http_answer_later(rs, ingest_start, ingest_finish, w)) {
        http_problem(rs, 500, "out of memory for %zu events", n);
        ingest_wait_free(w);
    }
}

static void h_interactions(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    if (routes_refused_on_replica(a, rq, rs)) return;
    static const char *const allowed[] = {NULL};
    if (!params_known(rq, rs, allowed)) return;
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
static void h_delete_user(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    if (routes_refused_on_replica(a, rq, rs)) return;
    static const char *const allowed[] = {NULL};
    nc_err e = {0};
    if (!params_known(rq, rs, allowed)) return;
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

/* ======================= operational routes ======================= */

static void h_livez(void *ap, const http_req *rq, http_resp *rs) {
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
static void h_readyz(void *ap, const http_req *rq, http_resp *rs) {
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

static void h_metrics(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    static const char *const allowed[] = {"format", NULL};
    const char *format = http_query(rq, "format");
    if (!params_known(rq, rs, allowed)) return;
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

static void h_model(void *ap, const http_req *rq, http_resp *rs) {
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

static void h_retrain(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    if (routes_refused_on_replica(a, rq, rs)) return;
    if (!a->retrain || atomic_load(&a->stopping)) {
        http_problem(rs, 503, "retraining is not available %s", a->retrain ? "while shutting down" : "in this process");
        return;
    }
    int running = retrain_request(a->retrain);
    http_json(rs, 202, json_pack("{s:s}", "status", running ? "already running" : "started"));
}

static void h_openapi(void *ap, const http_req *rq, http_resp *rs) {
    (void)ap;
    (void)rq;
    size_t len;
    const char *spec = routes_openapi(&len);
    http_text(rs, 200, "application/yaml", spec, len);
}

/* ======================= the table ======================= */

const http_route routes_table[] = {
    {"GET", "/recommend", h_recommend, HTTP_AUTH_READ},
    {"POST", "/recommend", h_recommend_session, HTTP_AUTH_READ | HTTP_BODY_JSON},
    {"GET", "/similar", h_similar, HTTP_AUTH_READ},
    {"POST", "/interactions", h_interactions, HTTP_AUTH_WRITE | HTTP_BODY_JSON},
    {"DELETE", "/users/{id}", h_delete_user, HTTP_AUTH_WRITE},
    {"PUT", "/items/{id}", item_h_put, HTTP_AUTH_WRITE | HTTP_BODY_JSON},
    {"PATCH", "/items/{id}", item_h_patch, HTTP_AUTH_WRITE | HTTP_BODY_JSON},
    {"GET", "/items/{id}", item_h_get, HTTP_AUTH_READ},
    {"DELETE", "/items/{id}", item_h_delete, HTTP_AUTH_WRITE},
    {"POST", "/items", item_h_batch, HTTP_AUTH_WRITE | HTTP_BODY_JSON},
    {"GET", "/model", h_model, HTTP_AUTH_READ},
    {"POST", "/admin/retrain", h_retrain, HTTP_AUTH_WRITE},
    {"GET", "/livez", h_livez, 0},
    {"GET", "/readyz", h_readyz, 0},
    {"GET", "/metrics", h_metrics, HTTP_AUTH_READ},
    {"GET", "/openapi.yaml", h_openapi, 0},
    {"GET", "/ui", ui_h_index, 0},
    {"GET", "/ui/{file}", ui_h_file, 0},
    {"GET", "/replication/checkpoint", feed_h_checkpoint, HTTP_AUTH_WRITE},
    {"GET", "/replication/changes", feed_h_changes, HTTP_AUTH_WRITE},
};
const int routes_count = (int)(sizeof routes_table / sizeof routes_table[0]);

void routes_labels(const char **patterns, const char **methods, int cap) {
    for (int i = 0; i < routes_count && i < cap; i++) {
        patterns[i] = routes_table[i].pattern;
        methods[i] = routes_table[i].method;
    }
}
