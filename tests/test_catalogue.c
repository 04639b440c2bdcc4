/* test_catalogue.c - the serving copy of the catalogue (server/model/catalogue.h): which items
 * are blocked at a time, the list of restricted items (which an item leaves once its
 * available_from has passed and re-enters when a write restricts it again), and the blocked
 * ids remembered for a model until something changes. */
#include <stdio.h>
#include <string.h>

#include "model/catalogue.h"
#include "testhelp.h"

#define T0 1700000000LL

/* catalogue_blocked's callback: appends the item ids, space-separated. */
static void collect(void *ctx, const char *item) {
    char *out = ctx;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%s%s", n ? " " : "", item);
}

static size_t blocked(catalogue *c, int64_t now, char *out) {
    out[0] = '\0';
    return catalogue_blocked(c, now, collect, out);
}

/* A canonical document (item_doc.h's form) with a category, hidden flag and available_from. */
static void doc(char *buf, size_t cap, int hidden, const char *from) {
    snprintf(buf, cap, "{\"available_from\":%s%s%s,\"categories\":[\"c\"],\"hidden\":%s,\"labels\":{}}", from ? "\"" : "",
             from ? from : "null", from ? "\"" : "", hidden ? "true" : "false");
}

static void test_released_items_leave_the_restricted_list(void) {
    nc_err e = {0};
    catalogue *c = catalogue_new(&e);
    CHECK(c != NULL, "%s", e.msg);
    if (!c) return;
    char d[256], got[256];
    doc(d, sizeof d, 1, NULL);
    CHECK(catalogue_apply(c, "hidden", d, 1, &e) == NC_OK, "%s", e.msg);
    doc(d, sizeof d, 0, "2023-11-14T22:15:00Z"); /* T0 + 100 */
    CHECK(catalogue_apply(c, "later", d, 2, &e) == NC_OK, "%s", e.msg);
    doc(d, sizeof d, 0, NULL);
    CHECK(catalogue_apply(c, "plain", d, 3, &e) == NC_OK, "%s", e.msg);
    CHECK(catalogue_apply(c, "gone", NULL, 4, &e) == NC_OK, "%s", e.msg);

    CHECK(blocked(c, T0, got) == 3 && !strcmp(got, "hidden later gone"), "at T0: '%s'", got);
    CHECK(catalogue_n_restricted(c) == 3, "3 restricted: %zu", catalogue_n_restricted(c));
    CHECK(blocked(c, T0 + 100, got) == 2 && !strcmp(got, "hidden gone"), "at available_from: '%s'", got);
    CHECK(catalogue_n_restricted(c) == 2, "the released item left the list: %zu restricted",
          catalogue_n_restricted(c));
    CHECK(blocked(c, T0 + 200, got) == 2 && catalogue_n_restricted(c) == 2, "hidden and deleted stay: '%s'", got);
    CHECK(!catalogue_item_blocked(c, "later", T0 + 200) && catalogue_item_blocked(c, "hidden", T0 + 200),
          "per item the same answer");

    doc(d, sizeof d, 0, "2023-11-14T22:31:40Z"); /* T0 + 1100: restricted again by a write */
    CHECK(catalogue_apply(c, "later", d, 5, &e) == NC_OK, "%s", e.msg);
    CHECK(catalogue_n_restricted(c) == 3, "a new available_from restricts it again: %zu", catalogue_n_restricted(c));
    CHECK(blocked(c, T0 + 200, got) == 3 && strstr(got, "later"), "blocked again: '%s'", got);
    catalogue_stats st;
    catalogue_stats_get(c, T0 + 200, &st);
    CHECK(st.items == 4 && st.hidden == 1 && st.deleted == 1 && st.pending == 1, "stats: %lld items, %lld hidden, "
          "%lld deleted, %lld pending", (long long)st.items, (long long)st.hidden, (long long)st.deleted,
          (long long)st.pending);
    catalogue_free(c);
}

/* A map that numbers items by their last character and counts its calls. */
static int map_calls;
static int32_t map_last_char(void *ctx, const char *item) {
    (void)ctx;
    map_calls++;
    return (int32_t)item[strlen(item) - 1];
}

static int ids_are(const store_ids *ids, const char *want) {
    if (ids->n != strlen(want)) return 0;
    for (size_t i = 0; i < ids->n; i++)
        if (!strchr(want, (char)ids->ids[i])) return 0;
    return 1;
}

/* The blocked ids are remembered for one (owner, tag) until a write, the next available_from
 * or another owner/tag: between those, no item is mapped again, and the answer is the same. */
static void test_blocked_ids_remembered_until_a_change(void) {
    nc_err e = {0};
    catalogue *c = catalogue_new(&e);
    CHECK(c != NULL, "%s", e.msg);
    if (!c) return;
    char d[256];
    int owner_a, owner_b;
    doc(d, sizeof d, 1, NULL);
    CHECK(catalogue_apply(c, "h1", d, 1, &e) == NC_OK, "%s", e.msg);
    doc(d, sizeof d, 0, "2023-11-14T22:15:00Z"); /* T0 + 100 */
    CHECK(catalogue_apply(c, "p2", d, 2, &e) == NC_OK, "%s", e.msg);
    store_ids ids = {0};
    map_calls = 0;
    CHECK(catalogue_blocked_ids(c, T0, &owner_a, 7, map_last_char, NULL, &ids, &e) == NC_OK && ids_are(&ids, "12") &&
              map_calls == 2, "first: %zu ids, %d maps", ids.n, map_calls);
    ids.n = 0;
    CHECK(catalogue_blocked_ids(c, T0 + 50, &owner_a, 7, map_last_char, NULL, &ids, &e) == NC_OK && ids_are(&ids, "12") &&
              map_calls == 2, "remembered: %zu ids, %d maps", ids.n, map_calls);
    ids.n = 0;
    CHECK(catalogue_blocked_ids(c, T0 + 50, &owner_b, 7, map_last_char, NULL, &ids, &e) == NC_OK && ids_are(&ids, "12") &&
              map_calls == 4, "another owner maps again: %d maps", map_calls);
    ids.n = 0;
    CHECK(catalogue_blocked_ids(c, T0 + 50, &owner_b, 8, map_last_char, NULL, &ids, &e) == NC_OK && map_calls == 6,
          "another tag maps again: %d maps", map_calls);
    doc(d, sizeof d, 1, NULL);
    CHECK(catalogue_apply(c, "h3", d, 3, &e) == NC_OK, "%s", e.msg);
    ids.n = 0;
    CHECK(catalogue_blocked_ids(c, T0 + 50, &owner_b, 8, map_last_char, NULL, &ids, &e) == NC_OK && ids_are(&ids, "123"),
          "a write is seen at once: %zu ids", ids.n);
    ids.n = 0;
    CHECK(catalogue_blocked_ids(c, T0 + 100, &owner_b, 8, map_last_char, NULL, &ids, &e) == NC_OK && ids_are(&ids, "13"),
          "p2's available_from passed: %zu ids", ids.n);
    ids.n = 1; /* appended after what out holds */
    ids.ids[0] = 'x';
    CHECK(catalogue_blocked_ids(c, T0 + 100, &owner_b, 8, map_last_char, NULL, &ids, &e) == NC_OK && ids.n == 3 &&
              ids.ids[0] == 'x', "appended: %zu ids", ids.n);
    free(ids.ids);
    catalogue_free(c);
}

/* A document in the categories given (a JSON array's inside). */
static void doc_in(char *buf, size_t cap, const char *cats) {
    snprintf(buf, cap, "{\"available_from\":null,\"categories\":[%s],\"hidden\":false,\"labels\":{}}", cats);
}

/* A category's items are mapped once per (owner, tag) and again after a write. */
static void test_category_ids_remembered_until_a_change(void) {
    nc_err e = {0};
    catalogue *c = catalogue_new(&e);
    CHECK(c != NULL, "%s", e.msg);
    if (!c) return;
    char d[256];
    int owner;
    doc_in(d, sizeof d, "\"a\"");
    CHECK(catalogue_apply(c, "i1", d, 1, &e) == NC_OK, "%s", e.msg);
    doc_in(d, sizeof d, "\"a\",\"b\"");
    CHECK(catalogue_apply(c, "i2", d, 2, &e) == NC_OK, "%s", e.msg);
    doc_in(d, sizeof d, "\"b\"");
    CHECK(catalogue_apply(c, "i3", d, 3, &e) == NC_OK, "%s", e.msg);
    char *ab[] = {"a", "b", "none"};
    store_ids ids = {0};
    map_calls = 0;
    CHECK(catalogue_category_ids(c, ab, 3, &owner, 1, map_last_char, NULL, &ids, &e) == NC_OK && ids.n == 4 &&
              map_calls == 4, "a and b: %zu ids (i2 in both), %d maps", ids.n, map_calls);
    ids.n = 0;
    CHECK(catalogue_category_ids(c, ab + 1, 1, &owner, 1, map_last_char, NULL, &ids, &e) == NC_OK &&
              ids_are(&ids, "23") && map_calls == 4, "b remembered: %zu ids, %d maps", ids.n, map_calls);
    doc_in(d, sizeof d, "\"a\"");
    CHECK(catalogue_apply(c, "i3", d, 4, &e) == NC_OK, "%s", e.msg);
    ids.n = 0;
    CHECK(catalogue_category_ids(c, ab + 1, 1, &owner, 1, map_last_char, NULL, &ids, &e) == NC_OK && ids_are(&ids, "2"),
          "i3 left b: %zu ids", ids.n);
    ids.n = 0;
    CHECK(catalogue_category_ids(c, ab, 1, &owner, 1, map_last_char, NULL, &ids, &e) == NC_OK && ids_are(&ids, "123"),
          "and joined a: %zu ids", ids.n);
    free(ids.ids);
    catalogue_free(c);
}

int main(void) {
    RUN(test_released_items_leave_the_restricted_list);
    RUN(test_blocked_ids_remembered_until_a_change);
    RUN(test_category_ids_remembered_until_a_change);
    return TEST_REPORT();
}
