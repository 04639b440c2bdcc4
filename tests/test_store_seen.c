/* test_store_seen.c - store_seen_items, the in-memory copy of users' items that /recommend
 * excludes: it answers exactly what store_user_items answers (items, order, latest deletion)
 * once built; an acknowledged append or deletion is in it the moment store_append /
 * store_delete_user returns, also under concurrent writers and readers; a failed job never
 * is; writes by another connection to the same file arrive within a few seconds; and the
 * mapped form (store_seen_mapped) gives the same items as the caller's numbers. */
#include "store/store.h"
#include "testhelp.h"
#include "tmpdir.h"

#include <ftw.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ==== helpers =========================================================================== */

/* What store_seen_items reported: up to 64 ids, copied. */
typedef struct got_items {
    char ids[64][32];
    size_t n;
} got_items;

static void collect(void *ctx, const char *item) {
    got_items *g = ctx;
    if (g->n < 64) snprintf(g->ids[g->n], sizeof g->ids[0], "%s", item);
    g->n++;
}

/* store_seen_items for user; 0 when the copy did not answer. */
static int seen_of(nc_store *s, const char *user, got_items *g, int64_t *del) {
    memset(g, 0, sizeof *g);
    return store_seen_items(s, user, collect, g, del);
}

/* Asks for the copy and waits (at most 10 s) until it answers. */
static int wait_ready(nc_store *s) {
    got_items g;
    for (int i = 0; i < 1000; i++) {
        if (seen_of(s, "nobody", &g, NULL)) return 1;
        usleep(10000);
    }
    return 0;
}

/* 1 when the copy's answer for user equals store_user_items's, ids and order and deletion. */
static int same_as_db(nc_store *s, const char *user) {
    store_items it;
    int64_t del_db = -1, del_mem = -1;
    nc_err e;
    got_items g;
    if (store_user_items(s, user, &it, &del_db, &e) != NC_OK) return 0;
    int ok = seen_of(s, user, &g, &del_mem) && g.n == it.n && del_db == del_mem;
    for (size_t i = 0; ok && i < it.n && i < 64; i++) ok = !strcmp(g.ids[i], it.ids[i]);
    if (!ok)
        fprintf(stderr, "  %s: db %zu items del %lld, memory %zu items del %lld\n", user, it.n,
                (long long)del_db, g.n, (long long)del_mem);
    store_items_free(&it);
    return ok;
}

static int has_item(const got_items *g, const char *item) {
    for (size_t i = 0; i < g->n && i < 64; i++)
        if (!strcmp(g->ids[i], item)) return 1;
    return 0;
}

/* ==== tests ============================================================================= */

/* Built from what is already stored (repeats, deletions, a returning user), the copy agrees
 * with the database; later writes keep it in agreement. */
static void test_matches_user_items(void) {
    tdir t;
    tdir_make(&t, "seen");
    nc_store *s = open_or_die(t.db, NULL);
    nc_err e;
    store_event ev[] = {{"u1", "a", 1, NULL}, {"u1", "b", 2, NULL}, {"u1", "a", 3, NULL}, {"u2", "b", 4, NULL},
                        {"u2", "c", 5, NULL}, {"u3", "a", 6, NULL}, {"u1", "c", 7, NULL}, {"u1", "b", 8, NULL}};
    CHECK(store_append(s, ev, 8, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    CHECK(store_delete_user(s, "u2", NULL, &e) == NC_OK, "%s", e.msg);
    store_event back = {"u2", "d", 9, NULL};
    CHECK(store_append(s, &back, 1, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    got_items g;
    int64_t del;
    /* the first call only asks for the copy (or finds it built by then): never a wrong answer */
    if (seen_of(s, "u1", &g, &del)) CHECK(g.n == 3, "u1 has a, b, c: %zu", g.n);
    CHECK(wait_ready(s), "the copy was built within 10 s");
    store_stats st;
    CHECK(store_stats_get(s, &st, &e) == NC_OK && st.seen_ready == 1, "the statistics say it is ready");
    const char *users[] = {"u1", "u2", "u3", "ghost"};
    for (int i = 0; i < 4; i++) CHECK(same_as_db(s, users[i]), "user %s", users[i]);
    CHECK(seen_of(s, "u1", &g, &del) && g.n == 3 && !strcmp(g.ids[0], "a") &&
              !strcmp(g.ids[1], "b") && !strcmp(g.ids[2], "c") && del == 0,
          "u1: a, b, c in order of first interaction, never deleted");
    CHECK(seen_of(s, "u2", &g, &del) && g.n == 1 && !strcmp(g.ids[0], "d") && del == 9,
          "u2 deleted at seq 9, then d: %zu items, del %lld", g.n, (long long)del);
    store_event more[] = {{"u3", "z", 10, NULL}, {"u4", "a", 11, NULL}, {"u3", "a", 12, NULL}};
    CHECK(store_append(s, more, 3, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    CHECK(store_delete_user(s, "u1", NULL, &e) == NC_OK, "%s", e.msg);
    const char *after[] = {"u1", "u3", "u4"};
    for (int i = 0; i < 3; i++) CHECK(same_as_db(s, after[i]), "after more writes: %s", after[i]);
    store_close(s);
    tdir_free(&t);
}

/* Reopening builds the copy afresh from the file: the same answers as before. */
static void test_rebuilt_after_reopen(void) {
    tdir t;
    tdir_make(&t, "seen");
    nc_store *s = open_or_die(t.db, NULL);
    nc_err e;
    store_event ev[] = {{"u1", "a", 1, NULL}, {"u1", "b", 2, NULL}, {"u2", "b", 3, NULL}};
    CHECK(store_append(s, ev, 3, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    CHECK(store_delete_user(s, "u2", NULL, &e) == NC_OK, "%s", e.msg);
    store_close(s);
    s = open_or_die(t.db, NULL);
    CHECK(wait_ready(s), "built after reopening");
    CHECK(same_as_db(s, "u1") && same_as_db(s, "u2"), "same answers after reopening");
    store_close(s);
    tdir_free(&t);
}

/* A refused job (an idempotency key reused for other content) leaves no trace; a replay
 * adds nothing twice. */
static void test_failed_job_not_seen(void) {
    tdir t;
    tdir_make(&t, "seen");
    nc_store *s = open_or_die(t.db, NULL);
    nc_err e;
    CHECK(wait_ready(s), "built");
    store_event a = {"u1", "a", 1, NULL}, b = {"u1", "b", 2, NULL};
    CHECK(store_append(s, &a, 1, "k1", NULL, &e) == NC_OK, "%s", e.msg);
    CHECK(store_append(s, &b, 1, "k1", NULL, &e) == NC_EINVAL, "key reused for other content");
    CHECK(store_append(s, &a, 1, "k1", NULL, &e) == NC_OK, "replay");
    got_items g;
    CHECK(seen_of(s, "u1", &g, NULL) && g.n == 1 && has_item(&g, "a") && !has_item(&g, "b"),
          "only a: %zu items", g.n);
    store_close(s);
    tdir_free(&t);
}

/* Writers append distinct pairs and, right after each acknowledgement, read their own write
 * back from the copy, while readers read other users; bounded in count. */
typedef struct rw_arg {
    nc_store *s;
    int id, n, misses, errors;
} rw_arg;

static void *writer_run(void *p) {
    rw_arg *a = p;
    char user[16], item[16];
    snprintf(user, sizeof user, "w%d", a->id);
    for (int i = 0; i < a->n; i++) {
        snprintf(item, sizeof item, "it%d", i);
        store_event ev = {user, item, STORE_TS_NOW, NULL};
        nc_err e;
        if (store_append(a->s, &ev, 1, NULL, NULL, &e) != NC_OK) {
            a->errors++;
            continue;
        }
        got_items g;
        if (!seen_of(a->s, user, &g, NULL) || g.n != (size_t)i + 1 ||
            (i < 64 && strcmp(g.ids[i], item)))
            a->misses++;
    }
    return NULL;
}

static void *reader_run(void *p) {
    rw_arg *a = p;
    got_items g;
    for (int i = 0; i < a->n; i++) {
        char user[16];
        snprintf(user, sizeof user, "w%d", i % 4);
        if (!seen_of(a->s, user, &g, NULL)) a->misses++;
    }
    return NULL;
}

static void test_acknowledged_writes_visible_at_once(void) {
    tdir t;
    tdir_make(&t, "seen");
    nc_store *s = open_or_die(t.db, NULL);
    CHECK(wait_ready(s), "built");
    enum { W = 4, R = 2, N = 60 };
    pthread_t th[W + R];
    rw_arg args[W + R];
    for (int i = 0; i < W + R; i++) {
        args[i] = (rw_arg){s, i, i < W ? N : 20000, 0, 0};
        CHECK(pthread_create(&th[i], NULL, i < W ? writer_run : reader_run, &args[i]) == 0,
              "thread %d", i);
    }
    for (int i = 0; i < W + R; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < W + R; i++)
        CHECK(args[i].misses == 0 && args[i].errors == 0, "thread %d: %d misses, %d errors", i,
              args[i].misses, args[i].errors);
    CHECK(same_as_db(s, "w0") && same_as_db(s, "w3"), "agrees with the database afterwards");
    store_close(s);
    tdir_free(&t);
}

/* Another connection writing the same file (as `nclrec import` would from another process):
 * its rows reach the copy without any write of this store, within a few seconds. */
static void test_other_writer_arrives(void) {
    tdir t;
    tdir_make(&t, "seen");
    nc_store *s = open_or_die(t.db, NULL), *other = open_or_die(t.db, NULL);
    nc_err e;
    CHECK(wait_ready(s), "built");
    store_event ev = {"u9", "x", 1, NULL};
    CHECK(store_append(other, &ev, 1, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    got_items g;
    int seen = 0;
    for (int i = 0; i < 500 && !seen; i++) {
        seen = seen_of(s, "u9", &g, NULL) && g.n == 1 && has_item(&g, "x");
        if (!seen) usleep(10000);
    }
    CHECK(seen, "the other connection's row arrived within 5 s");
    store_close(other);
    store_close(s);
    tdir_free(&t);
}

/* A mapping for store_seen_mapped: "iN" -> N + offset, anything else -> -1; counts its calls. */
typedef struct num_map {
    int offset, calls;
} num_map;

static int32_t map_num(void *ctx, const char *item) {
    num_map *m = ctx;
    __atomic_add_fetch(&m->calls, 1, __ATOMIC_RELAXED);
    return item[0] == 'i' ? (int32_t)atoi(item + 1) + m->offset : -1;
}

/* The mapped form: same items and order as the copy, unmapped ones left out, each item's
 * number asked once per tag, a new tag asks again, items added later are mapped too. */
static void test_mapped_ids(void) {
    tdir t;
    tdir_make(&t, "seen");
    nc_store *s = open_or_die(t.db, NULL);
    nc_err e;
    store_event ev[] = {{"u1", "i5", 1, NULL}, {"u1", "x", 2, NULL}, {"u1", "i2", 3, NULL}, {"u2", "i5", 4, NULL}};
    CHECK(store_append(s, ev, 4, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    CHECK(wait_ready(s), "built");
    num_map m = {0, 0};
    store_ids out = {0};
    int64_t del = -1;
    CHECK(store_seen_mapped(s, "u1", 7, map_num, &m, &out, &del) && out.n == 2 && out.ids[0] == 5 &&
              out.ids[1] == 2 && del == 0,
          "u1 -> 5, 2 (x unmapped): n=%zu", out.n);
    int calls = m.calls;
    CHECK(calls == 3, "three items asked once each: %d", calls);
    CHECK(store_seen_mapped(s, "u1", 7, map_num, &m, &out, NULL) && out.n == 2 &&
              store_seen_mapped(s, "u2", 7, map_num, &m, &out, NULL) && out.n == 1 && out.ids[0] == 5,
          "again, and u2");
    CHECK(m.calls == calls, "remembered for tag 7: %d calls, was %d", m.calls, calls);
    num_map m2 = {100, 0};
    CHECK(store_seen_mapped(s, "u1", 8, map_num, &m2, &out, NULL) && out.n == 2 && out.ids[0] == 105 &&
              out.ids[1] == 102,
          "tag 8 maps afresh: %d", out.n ? out.ids[0] : -1);
    store_event more = {"u1", "i9", 5, NULL};
    CHECK(store_append(s, &more, 1, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    CHECK(store_seen_mapped(s, "u1", 8, map_num, &m2, &out, NULL) && out.n == 3 && out.ids[2] == 109,
          "an item added later is mapped: n=%zu", out.n);
    CHECK(store_seen_mapped(s, "nobody", 8, map_num, &m2, &out, &del) && out.n == 0 && del == 0, "unknown user");
    free(out.ids);
    store_close(s);
    tdir_free(&t);
}

/* A store large enough that building the copy takes many slices: writes queued meanwhile are
 * acknowledged between slices, before the copy is ready (the writer does not hold them for the
 * whole build), and once it is ready the copy agrees with the database for every user,
 * including the users written, deleted and returning during the build. */
static void test_built_in_slices_while_writing(void) {
    enum { USERS = 400, PER_USER = 500, ITEMS = 300 };
    tdir t;
    tdir_make(&t, "seen");
    store_opts o;
    store_opts_default(&o);
    o.sync_full = 0; /* the set-up's 200 commits need not each wait for the disk */
    nc_store *s = open_or_die(t.db, &o);
    nc_err e;
    static char user[USERS][16], item[ITEMS][16];
    static store_event ev[1000];
    for (int i = 0; i < ITEMS; i++) snprintf(item[i], sizeof item[i], "it%d", i);
    for (int u = 0; u < USERS; u++) snprintf(user[u], sizeof user[u], "user%d", u);
    int ok = 1;
    for (int b = 0; ok && b < USERS * PER_USER / 1000; b++) { /* repeats within users: the build de-duplicates */
        for (int k = 0; k < 1000; k++) {
            int r = b * 1000 + k, u = (r * 7) % USERS;
            ev[k] = (store_event){user[u], item[(r * 31 + u) % ITEMS], r + 1, NULL};
        }
        ok = store_append(s, ev, 1000, NULL, NULL, &e) == NC_OK;
    }
    CHECK(ok, "set-up: %s", e.msg);
    got_items g;
    store_stats st;
    CHECK(store_stats_get(s, &st, &e) == NC_OK && st.seen_ready == 0, "not ready before its first use");
    CHECK(!seen_of(s, user[0], &g, NULL), "the first call asks for the copy");
    store_event w = {user[1], "during-1", STORE_TS_NOW, NULL};
    CHECK(store_append(s, &w, 1, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    CHECK(!seen_of(s, user[0], &g, NULL),
          "a write queued after the request was acknowledged before the copy was ready (200,000 rows)");
    store_event more[] = {{user[2], "during-2", 7, NULL}, {user[2], item[0], 8, NULL}, {"newcomer", "during-3", 9, NULL}};
    CHECK(store_append(s, more, 3, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    CHECK(store_delete_user(s, user[3], NULL, &e) == NC_OK, "%s", e.msg);
    store_event back = {user[3], "returned", 10, NULL};
    CHECK(store_append(s, &back, 1, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    CHECK(wait_ready(s), "the copy was built within 10 s");
    int bad = 0;
    for (int u = 0; u < USERS; u++) bad += !same_as_db(s, user[u]);
    CHECK(bad == 0, "%d of %d users differ from the database", bad, USERS);
    CHECK(same_as_db(s, "newcomer"), "a user first seen during the build");
    CHECK(seen_of(s, user[3], &g, NULL) && g.n == 1 && !strcmp(g.ids[0], "returned"), "deleted during the build, then back");
    store_close(s);
    tdir_free(&t);
}

/* seen_types (--exclude-types): a user's items are only those of interactions of the listed
 * types, from the database and from the copy alike, for rows stored before the copy was built
 * and after; a pair with one interaction of such a type counts; popularity counts every type. */
static void test_seen_types(void) {
    tdir t;
    tdir_make(&t, "seen");
    store_opts o;
    store_opts_default(&o);
    snprintf(o.seen_types, sizeof o.seen_types, "purchase,click");
    nc_store *s = open_or_die(t.db, &o);
    nc_err e;
    store_event ev[] = {{"u1", "soap", 1, NULL}, {"u1", "tv", 2, "purchase"}, {"u1", "pen", 3, "view"},
                        {"u1", "pen", 4, "click"}, {"u2", "soap", 5, "dislike"}};
    CHECK(store_append(s, ev, 5, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    store_items it;
    CHECK(store_user_items(s, "u1", &it, NULL, &e) == NC_OK && it.n == 2 && !strcmp(it.ids[0], "tv") &&
              !strcmp(it.ids[1], "pen") && it.counts[1] == 1,
          "database: tv and pen (its click) only: %zu items", it.n);
    store_items_free(&it);
    CHECK(store_user_items(s, "u2", &it, NULL, &e) == NC_OK && it.n == 0, "u2 only disliked: %zu", it.n);
    store_items_free(&it);
    CHECK(wait_ready(s), "the copy was built within 10 s");
    got_items g;
    CHECK(seen_of(s, "u1", &g, NULL) && g.n == 2 && has_item(&g, "tv") && has_item(&g, "pen") && !has_item(&g, "soap"),
          "copy after the build: %zu items", g.n);
    store_event later[] = {{"u2", "tv", 6, "view"}, {"u2", "mop", 7, "purchase"}};
    CHECK(store_append(s, later, 2, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    CHECK(seen_of(s, "u2", &g, NULL) && g.n == 1 && has_item(&g, "mop"), "copy after an append: %zu items", g.n);
    CHECK(same_as_db(s, "u1") && same_as_db(s, "u2"), "copy and database agree");
    store_items pop;
    CHECK(store_popular(s, 10, &pop, &e) == NC_OK && pop.n == 4 && !strcmp(pop.ids[0], "soap") && pop.counts[0] == 2,
          "popularity counts every type: %zu items", pop.n);
    store_items_free(&pop);
    store_close(s);
    snprintf(o.seen_types, sizeof o.seen_types, "purchase,no such");
    nc_store *bad = NULL;
    CHECK(store_open(t.db, &o, &bad, &e) == NC_EINVAL && strstr(e.msg, "'no such' is not a type name"), "%s", e.msg);
    tdir_free(&t);
}

int main(void) {
    RUN(test_matches_user_items);
    RUN(test_seen_types);
    RUN(test_rebuilt_after_reopen);
    RUN(test_failed_job_not_seen);
    RUN(test_acknowledged_writes_visible_at_once);
    RUN(test_other_writer_arrives);
    RUN(test_mapped_ids);
    RUN(test_built_in_slices_while_writing);
    return TEST_REPORT();
}
