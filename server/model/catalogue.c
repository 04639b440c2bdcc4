/* catalogue.c - see catalogue.h. Items and category names are interned (nc_idmap) to dense
 * numbers; each category keeps the list of its items, and one list holds the items that may
 * be blocked (hidden, deleted, or with an available_from), so the per-request walks cost what
 * they return rather than the whole catalogue. */
#include "catalogue.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "store/store.h"

typedef struct cat_entry {
    int64_t seq;
    int deleted, hidden;
    int64_t available_from;  /* ITEM_NO_TIME when none */
    int32_t *cats;           /* category numbers (owned) */
    size_t n_cats;
    char *doc;               /* canonical text (owned; NULL when deleted) */
    int64_t restricted_at;   /* position in c->restricted, -1 when not there */
} cat_entry;

typedef struct cat_members {
    int32_t *items;
    size_t n, cap;
    struct {                 /* the caller's numbers of items[] (catalogue_category_ids), under memo_mu */
        int set;
        const void *owner;
        uint64_t tag, version;
        store_ids ids;
    } memo;
} cat_members;

struct catalogue {
    pthread_rwlock_t lock;
    nc_idmap items, names;   /* item ids, category names */
    cat_entry *entries;      /* per item number */
    size_t entries_cap;
    cat_members *members;    /* per category number */
    size_t members_cap;
    int32_t *restricted;     /* item numbers that may be blocked */
    size_t n_restricted, restricted_cap;
    int64_t last_seq;
    atomic_ullong version;   /* bumped under the write lock by every change of what is blocked */

    pthread_mutex_t memo_mu; /* the blocked ids of one caller's map (catalogue_blocked_ids); taken
                                before lock, never inside it */
    struct {
        int set;
        const void *owner;
        uint64_t tag, version;
        int64_t until;       /* valid while now < until: the next available_from to pass */
        store_ids ids;
    } memo;
};

catalogue *catalogue_new(nc_err *e) {
    catalogue *c = nc_calloc(1, sizeof *c, e);
    if (!c) return NULL;
    nc_idmap_init(&c->items);
    nc_idmap_init(&c->names);
    if (pthread_rwlock_init(&c->lock, NULL) != 0) {
        free(c);
        nc_fail(e, NC_ENOMEM, "catalogue: cannot create a lock");
        return NULL;
    }
    if (pthread_mutex_init(&c->memo_mu, NULL) != 0) {
        pthread_rwlock_destroy(&c->lock);
        free(c);
        nc_fail(e, NC_ENOMEM, "catalogue: cannot create a lock");
        return NULL;
    }
    return c;
}

/* Frees every item and category, leaving the catalogue empty (the lock is the caller's). */
static void clear(catalogue *c) {
    for (size_t i = 0; i < c->items.n; i++) {
        free(c->entries[i].cats);
        free(c->entries[i].doc);
    }
    for (size_t i = 0; i < c->names.n; i++) {
        free(c->members[i].items);
        free(c->members[i].memo.ids.ids);
    }
    free(c->entries);
    free(c->members);
    free(c->restricted);
    nc_idmap_free(&c->items);
    nc_idmap_free(&c->names);
    nc_idmap_init(&c->items);
    nc_idmap_init(&c->names);
    c->entries = NULL;
    c->members = NULL;
    c->restricted = NULL;
    c->entries_cap = c->members_cap = c->n_restricted = c->restricted_cap = 0;
    c->last_seq = 0;
}

void catalogue_free(catalogue *c) {
    if (!c) return;
    clear(c);
    pthread_rwlock_destroy(&c->lock);
    pthread_mutex_destroy(&c->memo_mu);
    free(c->memo.ids.ids);
    free(c);
}

void catalogue_reset(catalogue *c) {
    if (!c) return;
    pthread_rwlock_wrlock(&c->lock);
    clear(c);
    atomic_fetch_add(&c->version, 1);
    pthread_rwlock_unlock(&c->lock);
}

/* Drops item it from category k's list (order does not matter: swap with the last). */
static void members_remove(cat_members *m, int32_t it) {
    for (size_t i = 0; i < m->n; i++)
        if (m->items[i] == it) {
            m->items[i] = m->items[--m->n];
            return;
        }
}

/* Takes the entry's old categories out of their lists. */
static void unlink_categories(catalogue *c, int32_t it) {
    cat_entry *x = &c->entries[it];
    for (size_t i = 0; i < x->n_cats; i++) members_remove(&c->members[x->cats[i]], it);
    free(x->cats);
    x->cats = NULL;
    x->n_cats = 0;
}

/* Interns the document's categories and adds the item to each one's list. */
static int link_categories(catalogue *c, int32_t it, const json_t *cats, nc_err *e) {
    cat_entry *x = &c->entries[it];
    size_t n = json_array_size(cats);
    if (n && !(x->cats = nc_calloc(n, sizeof *x->cats, e))) return NC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_array_get(cats, i));
        int32_t k;
        if (!name) return nc_fail(e, NC_EINVAL, "catalogue: categories[%zu] is not a string", i);
        int rc = nc_idmap_intern(&c->names, name, strlen(name), &k, e);
        if (!rc) rc = nc_reserve((void **)&c->members, &c->members_cap, c->names.n, sizeof *c->members, 16,
                                 "categories", e);
        if (rc) return rc;
        cat_members *m = &c->members[k];
        if (nc_reserve((void **)&m->items, &m->cap, m->n + 1, sizeof *m->items, 8, "category members", e)) return e->code;
        m->items[m->n++] = it;
        x->cats[x->n_cats++] = k;
    }
    return NC_OK;
}

/* Keeps the restricted list in step with the entry's rules. */
static int update_restricted(catalogue *c, int32_t it, nc_err *e) {
    cat_entry *x = &c->entries[it];
    int want = x->deleted || x->hidden || x->available_from != ITEM_NO_TIME;
    if (want && x->restricted_at < 0) {
        if (nc_reserve((void **)&c->restricted, &c->restricted_cap, c->n_restricted + 1, sizeof *c->restricted, 16,
                       "restricted items", e))
            return e->code;
        x->restricted_at = (int64_t)c->n_restricted;
        c->restricted[c->n_restricted++] = it;
    } else if (!want && x->restricted_at >= 0) {
        int32_t last = c->restricted[--c->n_restricted];
        c->restricted[x->restricted_at] = last;
        c->entries[last].restricted_at = x->restricted_at;
        x->restricted_at = -1;
    }
    return NC_OK;
}

/* The item's number, with a fresh entry when it is new. */
static int entry_of(catalogue *c, const char *item, int32_t *it, nc_err *e) {
    size_t before = c->items.n;
    int rc = nc_idmap_intern(&c->items, item, strlen(item), it, e);
    if (!rc) rc = nc_reserve((void **)&c->entries, &c->entries_cap, c->items.n, sizeof *c->entries, 64, "catalogue", e);
    if (!rc && c->items.n > before)
        c->entries[*it] = (cat_entry){.seq = -1, .available_from = ITEM_NO_TIME, .restricted_at = -1};
    return rc;
}

int catalogue_apply(catalogue *c, const char *item, const char *doc, int64_t seq, nc_err *e) {
    json_t *j = NULL;
    char *copy = NULL;
    if (doc && (!(j = json_loads(doc, 0, NULL)) || !json_is_object(j) ||
                !json_is_array(json_object_get(j, "categories")))) {
        json_decref(j);
        return nc_fail(e, NC_EINVAL, "catalogue: the document of item '%.64s' is not a catalogue document", item);
    }
    if (doc && !(copy = strdup(doc))) {
        json_decref(j);
        return nc_fail(e, NC_ENOMEM, "catalogue: out of memory for item '%.64s'", item);
    }
    pthread_rwlock_wrlock(&c->lock);
    int32_t it;
    int rc = entry_of(c, item, &it, e);
    if (!rc && c->entries[it].seq < seq) {
        cat_entry *x = &c->entries[it];
        item_rules r = {0, ITEM_NO_TIME};
        if (j) item_doc_rules(j, &r);
        unlink_categories(c, it);
        free(x->doc);
        x->doc = copy;
        copy = NULL;
        x->seq = seq;
        x->deleted = doc == NULL;
        x->hidden = r.hidden;
        x->available_from = r.available_from;
        if (j) rc = link_categories(c, it, json_object_get(j, "categories"), e);
        if (!rc) rc = update_restricted(c, it, e);
        if (seq > c->last_seq) c->last_seq = seq;
        atomic_fetch_add(&c->version, 1);
    }
    pthread_rwlock_unlock(&c->lock);
    free(copy);
    json_decref(j);
    return rc;
}

static int blocked_at(const cat_entry *x, int64_t now) {
    return x->deleted || x->hidden || (x->available_from != ITEM_NO_TIME && x->available_from > now);
}

/* An item whose only rule was an available_from that has passed can never be blocked again
 * (until a write changes it, which puts it back through update_restricted). */
static int released_at(const cat_entry *x, int64_t now) {
    return !x->deleted && !x->hidden && x->available_from != ITEM_NO_TIME && x->available_from <= now;
}

/* Takes the released items off the restricted list (write lock), so the requests after an
 * item became available no longer walk it, and the popular list is no longer fetched whole
 * once nothing is restricted (catalogue_n_restricted). */
static void prune_released(catalogue *c, int64_t now) {
    pthread_rwlock_wrlock(&c->lock);
    for (size_t i = 0; i < c->n_restricted;) {
        int32_t it = c->restricted[i];
        cat_entry *x = &c->entries[it];
        if (!released_at(x, now)) {
            i++;
            continue;
        }
        int32_t last = c->restricted[--c->n_restricted];
        c->restricted[i] = last;
        c->entries[last].restricted_at = (int64_t)i;
        x->restricted_at = -1;
    }
    pthread_rwlock_unlock(&c->lock);
}

/* With the read lock: calls fn for every item blocked at now; *until receives when that
 * answer next changes by time alone (the earliest available_from among them; INT64_MAX:
 * never) and *released how many restricted items are no longer blocked (prune_released's). */
static size_t walk_blocked(catalogue *c, int64_t now, catalogue_item_fn fn, void *ctx, int64_t *until,
                           size_t *released) {
    size_t n = 0;
    *until = INT64_MAX;
    *released = 0;
    for (size_t i = 0; i < c->n_restricted; i++) {
        const cat_entry *x = &c->entries[c->restricted[i]];
        if (!blocked_at(x, now)) {
            *released += released_at(x, now);
            continue;
        }
        if (!x->deleted && !x->hidden && x->available_from < *until) *until = x->available_from;
        fn(ctx, c->items.ids[c->restricted[i]]);
        n++;
    }
    return n;
}

size_t catalogue_blocked(catalogue *c, int64_t now, catalogue_item_fn fn, void *ctx) {
    size_t released;
    int64_t until;
    pthread_rwlock_rdlock(&c->lock);
    size_t n = walk_blocked(c, now, fn, ctx, &until, &released);
    pthread_rwlock_unlock(&c->lock);
    if (released) prune_released(c, now);
    return n;
}

/* walk_blocked's callback for the memo: the caller's number of each item into out. */
typedef struct map_into {
    catalogue_map_fn map;
    void *ctx;
    store_ids *out;
    nc_err *e;
    int rc;
} map_into;

static void push_mapped(void *cls, const char *item) {
    map_into *m = cls;
    int32_t id = m->rc ? -1 : m->map(m->ctx, item);
    if (id < 0) return;
    m->rc = nc_reserve((void **)&m->out->ids, &m->out->cap, m->out->n + 1, sizeof *m->out->ids, 16, "blocked items", m->e);
    if (!m->rc) m->out->ids[m->out->n++] = id;
}

int catalogue_blocked_ids(catalogue *c, int64_t now, const void *owner, uint64_t tag, catalogue_map_fn map, void *ctx,
                          store_ids *out, nc_err *e) {
    pthread_mutex_lock(&c->memo_mu);
    int rc = NC_OK;
    size_t released = 0;
    if (!c->memo.set || c->memo.owner != owner || c->memo.tag != tag || c->memo.version != atomic_load(&c->version) ||
        now >= c->memo.until) {
        map_into m = {map, ctx, &c->memo.ids, e, NC_OK};
        c->memo.set = 0;
        c->memo.ids.n = 0;
        pthread_rwlock_rdlock(&c->lock);
        c->memo.version = atomic_load(&c->version);
        walk_blocked(c, now, push_mapped, &m, &c->memo.until, &released);
        pthread_rwlock_unlock(&c->lock);
        rc = m.rc;
        c->memo.owner = owner;
        c->memo.tag = tag;
        c->memo.set = rc == NC_OK;
    }
    if (!rc && nc_reserve((void **)&out->ids, &out->cap, out->n + c->memo.ids.n, sizeof *out->ids, 16, "blocked items", e))
        rc = e->code;
    if (!rc && c->memo.ids.n) {
        memcpy(out->ids + out->n, c->memo.ids.ids, c->memo.ids.n * sizeof *out->ids);
        out->n += c->memo.ids.n;
    }
    pthread_mutex_unlock(&c->memo_mu);
    if (released) prune_released(c, now);
    return rc;
}

/* With the read lock and memo_mu: appends the caller's numbers of category m's items to out,
 * from the memo when it is the same owner's, tag's and catalogue version's. NC_ENOMEM. */
static int category_mapped(catalogue *c, cat_members *m, const void *owner, uint64_t tag, catalogue_map_fn map,
                           void *ctx, store_ids *out, nc_err *e) {
    uint64_t version = atomic_load(&c->version);
    if (!m->memo.set || m->memo.owner != owner || m->memo.tag != tag || m->memo.version != version) {
        m->memo.set = 0;
        m->memo.ids.n = 0;
        for (size_t j = 0; j < m->n; j++) {
            int32_t id = map(ctx, c->items.ids[m->items[j]]);
            if (id < 0) continue;
            if (nc_reserve((void **)&m->memo.ids.ids, &m->memo.ids.cap, m->memo.ids.n + 1, sizeof *m->memo.ids.ids, 16,
                           "category items", e))
                return e->code;
            m->memo.ids.ids[m->memo.ids.n++] = id;
        }
        m->memo.owner = owner;
        m->memo.tag = tag;
        m->memo.version = version;
        m->memo.set = 1;
    }
    if (nc_reserve((void **)&out->ids, &out->cap, out->n + m->memo.ids.n, sizeof *out->ids, 16, "category items", e))
        return e->code;
    if (m->memo.ids.n) memcpy(out->ids + out->n, m->memo.ids.ids, m->memo.ids.n * sizeof *out->ids);
    out->n += m->memo.ids.n;
    return NC_OK;
}

int catalogue_category_ids(catalogue *c, char *const *cats, size_t n, const void *owner, uint64_t tag,
                           catalogue_map_fn map, void *ctx, store_ids *out, nc_err *e) {
    int rc = NC_OK;
    pthread_mutex_lock(&c->memo_mu);
    pthread_rwlock_rdlock(&c->lock);
    for (size_t i = 0; i < n && !rc; i++) {
        int32_t k = nc_idmap_find(&c->names, cats[i], strlen(cats[i]));
        if (k >= 0) rc = category_mapped(c, &c->members[k], owner, tag, map, ctx, out, e);
    }
    pthread_rwlock_unlock(&c->lock);
    pthread_mutex_unlock(&c->memo_mu);
    return rc;
}

size_t catalogue_n_restricted(catalogue *c) {
    pthread_rwlock_rdlock(&c->lock);
    size_t n = c->n_restricted;
    pthread_rwlock_unlock(&c->lock);
    return n;
}

int catalogue_item_blocked(catalogue *c, const char *item, int64_t now) {
    pthread_rwlock_rdlock(&c->lock);
    int32_t it = nc_idmap_find(&c->items, item, strlen(item));
    int blocked = it >= 0 && blocked_at(&c->entries[it], now);
    pthread_rwlock_unlock(&c->lock);
    return blocked;
}

int catalogue_has_category(catalogue *c, const char *item, char *const *cats, size_t n) {
    int has = 0;
    pthread_rwlock_rdlock(&c->lock);
    int32_t it = nc_idmap_find(&c->items, item, strlen(item));
    for (size_t i = 0; it >= 0 && i < n && !has; i++) {
        int32_t k = nc_idmap_find(&c->names, cats[i], strlen(cats[i]));
        for (size_t j = 0; k >= 0 && j < c->entries[it].n_cats && !has; j++) has = c->entries[it].cats[j] == k;
    }
    pthread_rwlock_unlock(&c->lock);
    return has;
}

int catalogue_get(catalogue *c, const char *item, char **doc, int *oom) {
    *doc = NULL;
    *oom = 0;
    pthread_rwlock_rdlock(&c->lock);
    int32_t it = nc_idmap_find(&c->items, item, strlen(item));
    if (it >= 0 && c->entries[it].doc && !(*doc = strdup(c->entries[it].doc))) *oom = 1;
    pthread_rwlock_unlock(&c->lock);
    return it >= 0 && !*oom;
}

void catalogue_stats_get(catalogue *c, int64_t now, catalogue_stats *out) {
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&c->lock);
    out->items = (int64_t)c->items.n;
    out->last_seq = c->last_seq;
    for (size_t i = 0; i < c->n_restricted; i++) {
        const cat_entry *x = &c->entries[c->restricted[i]];
        if (x->deleted) out->deleted++;
        else if (x->hidden) out->hidden++;
        else if (x->available_from != ITEM_NO_TIME && x->available_from > now) out->pending++;
    }
    pthread_rwlock_unlock(&c->lock);
}
