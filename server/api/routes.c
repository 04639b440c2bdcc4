/* routes.c - see routes.h. Sections: the helpers the route files share, the route table. The
 * routes themselves are in the files api.h lists. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item_routes.h"
#include "model/ranking.h"
#include "ui.h"

/* ======================= shared helpers ======================= */

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
int routes_params_known(const http_req *rq, http_resp *rs, const char *const *allowed) {
    param_check pc = {allowed, NULL};
    http_each_query(rq, param_iter, &pc);
    if (!pc.bad) return 1;
    http_problem(rs, 400, "unknown query parameter '%.64s'", pc.bad);
    return 0;
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

/* What the retrain and the replica poller borrow from a (model/model_env.h); a's store answers
 * users' items (a replica's poller replaces that with its own state). */
model_env routes_model_env(srv_app *a) {
    model_env env = {&a->cfg, &a->log, &a->metrics, &a->model, a->store, a->catalogue, a->store ? model_seen_store : NULL,
                     a->store};
    return env;
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
    {"GET", "/replication/checkpoint", replication_h_checkpoint, HTTP_AUTH_WRITE},
    {"GET", "/replication/changes", replication_h_changes, HTTP_AUTH_WRITE},
};
const int routes_count = (int)(sizeof routes_table / sizeof routes_table[0]);

void routes_labels(const char **patterns, const char **methods, int cap) {
    for (int i = 0; i < routes_count && i < cap; i++) {
        patterns[i] = routes_table[i].pattern;
        methods[i] = routes_table[i].method;
    }
}
