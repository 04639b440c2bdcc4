/* rec_explain.c - see rec_explain.h. */
#include "rec_explain.h"

#include <jansson.h>
#include <stdlib.h>

#include "explain.h" /* core/: the model math */

#define EXPLAIN_ITEMS 8

/* {"cluster": k, "cluster_items": [...]} for the user (cluster -1 and no items when the model
 * does not know the user: a fold-in or popular answer has no prototype). */
static json_t *user_part(const live_model *m, const char *user) {
    int32_t k = nc_explain_user_cluster(&m->ck, live_user(m, user));
    int32_t ids[EXPLAIN_ITEMS];
    int32_t n = k >= 0 ? nc_explain_cluster_items(&m->ck, k, EXPLAIN_ITEMS, ids) : 0;
    json_t *items = json_array();
    for (int32_t i = 0; items && i < n; i++) json_array_append_new(items, json_string(m->ck.items.ids[ids[i]]));
    return json_pack("{s:i, s:o}", "cluster", k, "cluster_items", items ? items : json_array());
}

/* Each answered item's prototype among the item centroids (-1 without one). */
static json_t *item_clusters(const live_model *m, json_t *items) {
    json_t *o = json_object();
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        const char *id = json_string_value(json_object_get(it, "item"));
        int32_t x = id ? live_item(m, id) : -1;
        int32_t k = x >= 0 && m->ck.assign_item ? m->ck.assign_item[x] : -1;
        if (id && o) json_object_set_new(o, id, json_integer(k));
    }
    return o;
}

/* Re-reads the answer written by routes.c: explain=1 is for people looking, not the fast path. */
void explain_add(const live_model *m, const char *user, http_resp *rs) {
    if (rs->status != 200 || !rs->body) return;
    json_t *o = json_loadb(rs->body, rs->len, 0, NULL);
    json_t *x = o ? user_part(m, user) : NULL;
    if (!x) {
        json_decref(o);
        http_problem(rs, 500, "could not build the explanation");
        return;
    }
    json_object_set_new(x, "item_clusters", item_clusters(m, json_object_get(o, "items")));
    json_object_set_new(o, "explain", x);
    http_json(rs, 200, o);
}
