/* ranking.c - see ranking.h. */
#include "ranking.h"

#include <stdlib.h>

/* Appends the model ids of n external item ids to out (ids the model lacks are dropped). */
int ranking_map_items(const live_model *m, char *const *names, size_t n, store_ids *out, nc_err *e) {
    if (nc_reserve((void **)&out->ids, &out->cap, out->n + n, sizeof *out->ids, 8, "item ids", e) != NC_OK) return e->code;
    for (size_t i = 0; i < n; i++) {
        int32_t it = live_item(m, names[i]);
        if (it >= 0) out->ids[out->n++] = it;
    }
    return NC_OK;
}

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
int ranking_top_items(prom *metrics, const live_model *m, int32_t u, int64_t deleted_seq, const float *q, int32_t k,
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
        prom_add(&metrics->recommend_cache[r == 1 ? how : PROM_CACHE_SCAN], 1);
        if (r == 1) return NC_OK;
    }
    return nc_index_search(m->index, q, k, excl, n_excl, ids, sc, got, e);
}

int ranking_warm_cache(const model_env *env, live_model *m, const live_model *old, double max_seconds) {
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
        if (!env->seen || env->seen(env->seen_ctx, user, &seen, &deleted_seq, &e) != NC_OK) break; /* the store is in trouble: serve now */
        if (deleted_seq <= m->ck.meta.data_watermark && ranking_map_items(m, seen.ids, seen.n, &ex, &e) == NC_OK) {
            size_t want = n > REC_SLACK ? (size_t)(n - REC_SLACK) : 1;
            fill_cache(m, u, deleted_seq, m->ck.user_emb + (size_t)u * m->ck.dim, want, ex.ids, ex.n, REC_PUT_WARM);
            warmed += rec_cache_len(m->cache, u) > 0;
        }
        free(ex.ids);
        store_items_free(&seen);
    }
    slog_kv(env->log, SLOG_INFO, "cache_warmed", "version", json_integer((json_int_t)m->ck.meta.model_version), "users",
            json_integer(warmed), "seconds", json_real(nc_wall_time() - t0), NULL);
    return warmed;
}

int model_seen_store(void *store, const char *user, store_items *out, int64_t *deleted_seq, nc_err *e) {
    return store_user_items(store, user, out, deleted_seq, e);
}
