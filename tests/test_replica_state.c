/* test_replica_state.c - a replica's in-memory copy of its primary's interactions
 * (server/replica/replica_state.h): items per user in order of first interaction with counts, the same
 * answers after a user outgrows the linear list, deletions (items gone, popularity down, the
 * deletion's sequence number kept, a returning user starting afresh), the popularity ranking
 * and its ties, the cursor (advanced by a page, never moved back, stopping at a bad event),
 * and a reset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica/replica_state.h"
#include "testhelp.h"

static rstate_event inter(int64_t seq, const char *u, const char *i) { return (rstate_event){seq, RSTATE_INTERACTION, u, i, NULL}; }
static rstate_event del(int64_t seq, const char *u) { return (rstate_event){seq, RSTATE_DELETION, u, NULL, NULL}; }

/* "id:count,id:count" of a list, for compact comparisons. */
static const char *show(const store_items *x, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < x->n && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s:%lld", i ? "," : "", x->ids[i], (long long)x->counts[i]);
    return buf;
}

static void test_items_and_counts(void) {
    nc_err e;
    replica_state *s = rstate_new(10, &e);
    rstate_event ev[] = {inter(1, "a", "x"), inter(2, "a", "y"), inter(3, "b", "x"), inter(5, "a", "x"), inter(6, "a", "z")};
    CHECK(rstate_apply(s, ev, 5, 9, &e) == NC_OK, "%s", e.msg);
    CHECK(rstate_cursor(s) == 9, "the cursor moves to the page's next (%lld)", (long long)rstate_cursor(s));
    store_items it;
    int64_t dseq = -1;
    char buf[256];
    CHECK(rstate_user_items(s, "a", &it, &dseq, &e) == NC_OK, "%s", e.msg);
    CHECK(!strcmp(show(&it, buf, sizeof buf), "x:2,y:1,z:1") && dseq == 0, "a: %s (deleted %lld)", buf, (long long)dseq);
    store_items_free(&it);
    CHECK(rstate_user_items(s, "nobody", &it, &dseq, &e) == NC_OK && it.n == 0 && dseq == 0, "an unknown user is empty");
    store_items_free(&it);
    rstate_stats st;
    rstate_stats_get(s, &st);
    CHECK(st.users == 2 && st.pairs == 4 && st.interactions == 5 && st.deletions == 0, "stats %lld %lld %lld",
          (long long)st.users, (long long)st.pairs, (long long)st.interactions);
    rstate_free(s);
}

static void test_long_list(void) {
    nc_err e;
    replica_state *s = rstate_new(10, &e);
    char items[300][8];
    rstate_event ev[600];
    for (int i = 0; i < 300; i++) snprintf(items[i], sizeof items[i], "i%d", i);
    for (int i = 0; i < 600; i++) ev[i] = inter(i + 1, "heavy", items[(i * 7) % 300]); /* each item twice */
    CHECK(rstate_apply(s, ev, 600, 600, &e) == NC_OK, "%s", e.msg);
    store_items it;
    CHECK(rstate_user_items(s, "heavy", &it, NULL, &e) == NC_OK, "%s", e.msg);
    int ok = it.n == 300;
    for (size_t i = 0; ok && i < it.n; i++) ok = it.counts[i] == 2 && !strcmp(it.ids[i], items[(i * 7) % 300]);
    CHECK(ok, "300 items in order of first interaction, 2 each (n=%zu)", it.n);
    store_items_free(&it);
    rstate_free(s);
}

/* A long list whose items were numbered in another order (another user met them first): the
 * look-up by item id must still find every one (counts grow instead of duplicates), keep the
 * order of first interaction, and start afresh after a deletion. */
static void test_long_list_any_id_order(void) {
    nc_err e;
    replica_state *s = rstate_new(10, &e);
    enum { N = 200 };
    char items[N][8];
    rstate_event ev[3 * N + 1];
    for (int i = 0; i < N; i++) snprintf(items[i], sizeof items[i], "i%d", i);
    int m = 0;
    for (int i = 0; i < N; i++, m++) ev[m] = inter(m + 1, "first", items[(i * 11) % N]); /* numbers items */
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < N; i++, m++) ev[m] = inter(m + 1, "heavy", items[(i * 7 + 3) % N]); /* each twice */
    CHECK(rstate_apply(s, ev, (size_t)m, m, &e) == NC_OK, "%s", e.msg);
    store_items it;
    CHECK(rstate_user_items(s, "heavy", &it, NULL, &e) == NC_OK, "%s", e.msg);
    int ok = it.n == N;
    for (size_t i = 0; ok && i < it.n; i++) ok = it.counts[i] == 2 && !strcmp(it.ids[i], items[(i * 7 + 3) % N]);
    CHECK(ok, "%d items in order of first interaction, 2 each (n=%zu)", N, it.n);
    store_items_free(&it);
    rstate_stats st;
    rstate_stats_get(s, &st);
    CHECK(st.pairs == 2 * N && st.interactions == 3 * N, "pairs %lld interactions %lld", (long long)st.pairs,
          (long long)st.interactions);
    rstate_event del = {m + 1, RSTATE_DELETION, "heavy", NULL, NULL};
    rstate_event back[2] = {inter(m + 2, "heavy", items[5]), inter(m + 3, "heavy", items[5])};
    CHECK(rstate_apply(s, &del, 1, m + 1, &e) == NC_OK && rstate_apply(s, back, 2, m + 3, &e) == NC_OK, "%s", e.msg);
    CHECK(rstate_user_items(s, "heavy", &it, NULL, &e) == NC_OK && it.n == 1 && it.counts[0] == 2 &&
              !strcmp(it.ids[0], items[5]),
          "after the deletion: one item, twice (n=%zu)", it.n);
    store_items_free(&it);
    rstate_free(s);
}

static void test_deletion(void) {
    nc_err e;
    replica_state *s = rstate_new(10, &e);
    rstate_event ev[] = {inter(1, "a", "x"), inter(2, "b", "x"), inter(3, "a", "y"), del(4, "a"), inter(7, "a", "z")};
    CHECK(rstate_apply(s, ev, 4, 4, &e) == NC_OK, "%s", e.msg);
    store_items it;
    int64_t dseq = 0;
    char buf[256];
    CHECK(rstate_user_items(s, "a", &it, &dseq, &e) == NC_OK && it.n == 0 && dseq == 4, "deleted: n=%zu seq=%lld", it.n,
          (long long)dseq);
    store_items_free(&it);
    CHECK(rstate_popular(s, 10, &it, &e) == NC_OK && !strcmp(show(&it, buf, sizeof buf), "x:1"), "popular after: %s", buf);
    store_items_free(&it);
    CHECK(rstate_apply(s, ev + 4, 1, 7, &e) == NC_OK, "%s", e.msg);
    CHECK(rstate_user_items(s, "a", &it, &dseq, &e) == NC_OK && !strcmp(show(&it, buf, sizeof buf), "z:1") && dseq == 4,
          "a returning user: %s, deletion seq %lld kept", buf, (long long)dseq);
    store_items_free(&it);
    rstate_event gone = del(8, "never-seen");
    CHECK(rstate_apply(s, &gone, 1, 8, &e) == NC_OK, "deleting an unknown user is fine");
    rstate_stats st;
    rstate_stats_get(s, &st);
    CHECK(st.users == 2 && st.interactions == 2 && st.deletions == 2, "stats %lld %lld %lld", (long long)st.users,
          (long long)st.interactions, (long long)st.deletions);
    rstate_free(s);
}

/* A mapping that numbers item "x" 10, "y" 11, "z" 12 (others: none) and counts its calls. */
typedef struct counting_map {
    int calls, offset;
} counting_map;

static int32_t map_xyz(void *ctx, const char *item) {
    counting_map *c = ctx;
    c->calls++;
    return item[1] == '\0' && item[0] >= 'x' && item[0] <= 'z' ? c->offset + (item[0] - 'x') : -1;
}

/* rstate_user_items_mapped gives the items of rstate_user_items as the caller's numbers (in
 * the same order, unknown ones left out), asks the map once per item and tag, again for a new
 * tag, and forgets the numbers when the state is reset. */
static void test_mapped(void) {
    nc_err e;
    replica_state *s = rstate_new(10, &e);
    rstate_event ev[] = {inter(1, "a", "y"), inter(2, "a", "w"), inter(3, "a", "x"), inter(4, "a", "y"),
                         inter(5, "b", "z"), del(6, "b")};
    CHECK(rstate_apply(s, ev, 6, 6, &e) == NC_OK, "%s", e.msg);
    counting_map c = {0, 10};
    store_ids ids = {0};
    int64_t dseq = -1;
    CHECK(rstate_user_items_mapped(s, "a", 1, map_xyz, &c, &ids, &dseq) == 1, "answered");
    CHECK(ids.n == 2 && ids.ids[0] == 11 && ids.ids[1] == 10 && dseq == 0, "a: %zu ids (%d %d), deletion %lld", ids.n,
          ids.n > 0 ? ids.ids[0] : -9, ids.n > 1 ? ids.ids[1] : -9, (long long)dseq);
    CHECK(c.calls == 3, "each of y, w, x asked once: %d calls", c.calls);
    CHECK(rstate_user_items_mapped(s, "a", 1, map_xyz, &c, &ids, &dseq) == 1 && ids.n == 2 && c.calls == 3,
          "the same tag again: remembered (%d calls)", c.calls);
    c.offset = 20;
    CHECK(rstate_user_items_mapped(s, "a", 2, map_xyz, &c, &ids, &dseq) == 1 && ids.n == 2 && ids.ids[0] == 21 &&
          c.calls == 6, "a new tag asks again: %d calls, first id %d", c.calls, ids.ids[0]);
    CHECK(rstate_user_items_mapped(s, "b", 2, map_xyz, &c, &ids, &dseq) == 1 && ids.n == 0 && dseq == 6,
          "deleted b: nothing, deletion 6 (%lld)", (long long)dseq);
    CHECK(rstate_user_items_mapped(s, "nobody", 2, map_xyz, &c, &ids, &dseq) == 1 && ids.n == 0 && dseq == 0,
          "unknown user: nothing");
    rstate_reset(s);
    rstate_event again[] = {inter(1, "a", "z")};
    CHECK(rstate_apply(s, again, 1, 1, &e) == NC_OK, "%s", e.msg);
    int before = c.calls;
    CHECK(rstate_user_items_mapped(s, "a", 2, map_xyz, &c, &ids, &dseq) == 1 && ids.n == 1 && ids.ids[0] == 22 &&
          c.calls == before + 1, "after a reset the numbers are asked again (item 0 is now z: %d)", ids.ids[0]);
    free(ids.ids);
    rstate_free(s);
}

static void test_popular(void) {
    nc_err e;
    replica_state *s = rstate_new(3, &e);
    /* users per item: p 1 (twice by one user), q 3, r 2, t 2 (r first), w 1 */
    rstate_event ev[] = {inter(1, "a", "p"), inter(2, "a", "p"), inter(3, "a", "q"), inter(4, "b", "q"),
                         inter(5, "c", "q"), inter(6, "b", "r"), inter(7, "c", "t"), inter(8, "d", "t"),
                         inter(9, "d", "r"), inter(10, "d", "w")};
    CHECK(rstate_apply(s, ev, 10, 10, &e) == NC_OK, "%s", e.msg);
    store_items it;
    char buf[256];
    CHECK(rstate_popular(s, 10, &it, &e) == NC_OK && !strcmp(show(&it, buf, sizeof buf), "q:3,r:2,t:2"),
          "top 3 (popular_k), ties by first seen: %s", buf);
    store_items_free(&it);
    CHECK(rstate_popular(s, 1, &it, &e) == NC_OK && !strcmp(show(&it, buf, sizeof buf), "q:3"), "k=1: %s", buf);
    store_items_free(&it);
    CHECK(rstate_popular(s, -1, &it, &e) == NC_EINVAL, "negative k refused");
    rstate_free(s);
}

/* Many items, few kept (popular_k 25): the selection gives what a full sort gives, ties (many:
 * counts are small) by the order the feed brought the items. */
static void test_popular_many(void) {
    nc_err e;
    replica_state *s = rstate_new(25, &e);
    enum { N_ITEMS = 3000 };
    static char item[N_ITEMS][8], user[12][8];
    static int users_of[N_ITEMS], order[N_ITEMS];
    static rstate_event ev[N_ITEMS * 12];
    for (int u = 0; u < 12; u++) snprintf(user[u], sizeof user[u], "u%d", u);
    size_t m = 0;
    int n_live = 0;
    for (int i = 0; i < N_ITEMS; i++) { /* item i gets users_of[i] users, in item order */
        snprintf(item[i], sizeof item[i], "i%d", i);
        users_of[i] = (int)((uint32_t)(i * 2654435761u) >> 28) % 12; /* 0..11, many ties */
        for (int u = 0; u < users_of[i]; u++, m++) ev[m] = inter((int64_t)m + 1, user[u], item[i]);
        if (users_of[i]) order[n_live++] = i;
    }
    CHECK(rstate_apply(s, ev, m, (int64_t)m, &e) == NC_OK, "%s", e.msg);
    for (int a = 1; a < n_live; a++) /* the expected ranking: insertion sort, stable by item order */
        for (int b = a; b > 0 && users_of[order[b]] > users_of[order[b - 1]]; b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    store_items it;
    CHECK(rstate_popular(s, 100, &it, &e) == NC_OK && it.n == 25, "25 kept (n=%zu)", it.n);
    int bad = 0;
    for (size_t r = 0; r < it.n; r++)
        bad += strcmp(it.ids[r], item[order[r]]) != 0 || it.counts[r] != users_of[order[r]];
    CHECK(bad == 0, "%d of 25 ranks differ from a full sort", bad);
    store_items_free(&it);
    rstate_free(s);
}

static void test_cursor_rules(void) {
    nc_err e;
    replica_state *s = rstate_new(10, &e);
    rstate_event ev[] = {inter(3, "a", "x"), inter(4, "a", "y"), inter(4, "b", "y"), inter(9, "c", "z")};
    CHECK(rstate_apply(s, ev, 4, 20, &e) == NC_EINVAL && strstr(e.msg, "seq 4"), "a repeated seq is refused: %s", e.msg);
    CHECK(rstate_cursor(s) == 4, "the cursor stops at the last good event (%lld)", (long long)rstate_cursor(s));
    store_items it;
    CHECK(rstate_user_items(s, "b", &it, NULL, &e) == NC_OK && it.n == 0, "nothing after the bad event was applied");
    store_items_free(&it);
    CHECK(rstate_apply(s, ev + 3, 1, 2, &e) == NC_OK && rstate_cursor(s) == 9, "a lower page cursor does not move it back");
    rstate_event bad = {10, RSTATE_INTERACTION, "d", NULL, NULL};
    CHECK(rstate_apply(s, &bad, 1, 10, &e) == NC_EINVAL, "an interaction without an item is refused");
    char longid[300];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    rstate_event toolong = inter(11, longid, "x");
    CHECK(rstate_apply(s, &toolong, 1, 11, &e) != NC_OK && rstate_cursor(s) == 9, "an id over 256 bytes is refused");
    rstate_reset(s);
    rstate_stats st;
    rstate_stats_get(s, &st);
    CHECK(st.cursor == 0 && st.users == 0 && st.pairs == 0, "reset clears everything");
    CHECK(rstate_popular(s, 5, &it, &e) == NC_OK && it.n == 0, "no popular items after a reset");
    store_items_free(&it);
    CHECK(rstate_apply(s, ev, 2, 4, &e) == NC_OK && rstate_cursor(s) == 4, "applies again from 0 after a reset");
    rstate_free(s);
}

/* rstate_seen_types (--exclude-types on a replica): a user's items are those with an
 * interaction of a listed type (an event without one is a view), counts stay whole, mapped
 * reads agree, popularity and the statistics count every type. */
static void test_seen_types(void) {
    nc_err e;
    replica_state *s = rstate_new(10, &e);
    CHECK(rstate_seen_types(s, "purchase", &e) == NC_OK, "%s", e.msg);
    rstate_event ev[] = {inter(1, "a", "x"), inter(2, "a", "y"), inter(3, "a", "x"), inter(4, "b", "y"),
                         inter(5, "a", "z")};
    ev[1].feedback = "purchase";
    ev[2].feedback = "purchase";
    ev[3].feedback = "view";
    CHECK(rstate_apply(s, ev, 5, 5, &e) == NC_OK, "%s", e.msg);
    store_items it;
    char buf[256];
    CHECK(rstate_user_items(s, "a", &it, NULL, &e) == NC_OK && !strcmp(show(&it, buf, sizeof buf), "x:2,y:1"),
          "a: purchased x and y (x viewed first): %s", buf);
    store_items_free(&it);
    CHECK(rstate_user_items(s, "b", &it, NULL, &e) == NC_OK && it.n == 0, "b only viewed: %zu items", it.n);
    store_items_free(&it);
    counting_map c = {0, 10};
    store_ids ids = {0};
    CHECK(rstate_user_items_mapped(s, "a", 1, map_xyz, &c, &ids, NULL) == 1 && ids.n == 2 && ids.ids[0] == 10 &&
              ids.ids[1] == 11, "mapped: x, y (%zu ids)", ids.n);
    free(ids.ids);
    rstate_stats st;
    rstate_stats_get(s, &st);
    CHECK(st.pairs == 4 && st.interactions == 5 && st.users == 2, "every type counts in the statistics: %lld pairs",
          (long long)st.pairs);
    CHECK(rstate_popular(s, 10, &it, &e) == NC_OK && it.n == 3 && !strcmp(it.ids[0], "y") && it.counts[0] == 2,
          "popularity counts every type: %s", show(&it, buf, sizeof buf));
    store_items_free(&it);
    rstate_event d = del(6, "a");
    CHECK(rstate_apply(s, &d, 1, 6, &e) == NC_OK, "%s", e.msg);
    rstate_stats_get(s, &st);
    CHECK(st.interactions == 1, "a deletion removes whole counts: %lld left", (long long)st.interactions);
    rstate_free(s);
}

int main(void) {
    RUN(test_items_and_counts);
    RUN(test_seen_types);
    RUN(test_long_list);
    RUN(test_long_list_any_id_order);
    RUN(test_deletion);
    RUN(test_mapped);
    RUN(test_popular);
    RUN(test_popular_many);
    RUN(test_cursor_rules);
    return TEST_REPORT();
}
