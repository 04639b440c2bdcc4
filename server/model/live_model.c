/* live_model.c - see live_model.h. */
#include "live_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "foldin.h"

static void model_free(live_model *m) {
    nc_index_free(m->index);
    nc_checkpoint_free(&m->ck);
    free(m->gram);
    rec_cache_free(m->cache);
    free(m);
}

/* Formatted once per model, not per answer. */
static void make_ref_json(live_model *m) {
    nc_format_utc((int64_t)m->ck.meta.trained_at, m->trained_at, sizeof m->trained_at);
    snprintf(m->ref_json, sizeof m->ref_json, "{\"version\":%llu,\"trained_at\":\"%s\"}",
             (unsigned long long)m->ck.meta.model_version, m->trained_at);
}

live_model *live_model_create(nc_checkpoint *ck, const char *source, size_t cache_bytes,
                              atomic_uint_fast64_t *evictions, nc_err *e) {
    live_model *m = calloc(1, sizeof *m);
    if (!m) {
        nc_checkpoint_free(ck);
        nc_fail(e, NC_ENOMEM, "out of memory for the live model");
        return NULL;
    }
    atomic_init(&m->refs, 1);
    m->ck = *ck;
    nc_checkpoint_init(ck);
    snprintf(m->source, sizeof m->source, "%s", source ? source : "");
    if (m->ck.n_items <= 0 || m->ck.dim <= 0 || !m->ck.item_emb || !m->ck.user_emb) {
        nc_fail(e, NC_EINVAL, "model %s has no embeddings (%d items, dim %d)", m->source, m->ck.n_items, m->ck.dim);
        model_free(m);
        return NULL;
    }
    if (nc_index_build(m->ck.item_emb, m->ck.n_items, m->ck.dim, &m->index, e) != NC_OK) {
        model_free(m);
        return NULL;
    }
    m->gram = nc_malloc((size_t)m->ck.dim * (size_t)m->ck.dim, sizeof(double), e);
    if (!m->gram) {
        model_free(m);
        return NULL;
    }
    foldin_gram(m->ck.item_emb, m->ck.n_items, m->ck.dim, m->gram);
    m->cache = rec_cache_create(m->ck.n_users, cache_bytes, evictions); /* NULL (no cache) is acceptable */
    make_ref_json(m);
    return m;
}

void live_slot_init(live_slot *s) {
    pthread_mutex_init(&s->mu, NULL);
    s->cur = NULL;
}

void live_slot_destroy(live_slot *s) {
    live_release(s->cur);
    s->cur = NULL;
    pthread_mutex_destroy(&s->mu);
}

live_model *live_acquire(live_slot *s) {
    pthread_mutex_lock(&s->mu);
    live_model *m = s->cur;
    if (m) atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&s->mu);
    return m;
}

void live_release(live_model *m) {
    if (m && atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) model_free(m);
}

void live_swap(live_slot *s, live_model *m) {
    pthread_mutex_lock(&s->mu);
    live_model *old = s->cur;
    s->cur = m;
    pthread_mutex_unlock(&s->mu);
    live_release(old);
}

int32_t live_user(const live_model *m, const char *id) {
    return nc_idmap_find(&m->ck.users, id, strlen(id));
}

int32_t live_item(const live_model *m, const char *id) {
    return nc_idmap_find(&m->ck.items, id, strlen(id));
}
