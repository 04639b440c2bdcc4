/* test_explain.c - the prototype explanation (core/explain.c) on a hand-made checkpoint: the
 * user's kept assignment wins, the nearest centroid stands in without one, the items nearest a
 * centroid come by cosine best first (a long row does not win by length), and out-of-range
 * arguments give nothing. */
#include "explain.h"
#include "testhelp.h"

#include <string.h>

/* 2 users, 4 items, dim 2, 2 user centroids (1,0) and (0,1). */
typedef struct tiny {
    nc_checkpoint c;
    float E0[6 * 2], cent[2 * 2];
    int32_t assign[2];
} tiny;

static void tiny_make(tiny *t) {
    const float E0[12] = {0.9f, 0.1f, /* user 0: near centroid 0 */
                          0.2f, 0.8f, /* user 1: near centroid 1 */
                          1.0f, 0.0f, /* item 0: along centroid 0 */
                          0.0f, 5.0f, /* item 1: long, along centroid 1 */
                          3.0f, 1.0f, /* item 2: long, mostly centroid 0 */
                          0.6f, 0.8f}; /* item 3 */
    const float cent[4] = {1, 0, 0, 1};
    memset(t, 0, sizeof *t);
    memcpy(t->E0, E0, sizeof E0);
    memcpy(t->cent, cent, sizeof cent);
    t->c.n_users = 2;
    t->c.n_items = 4;
    t->c.dim = 2;
    t->c.E0 = t->E0;
    t->c.k_user = 2;
    t->c.cent_user = t->cent;
}

static void test_nearest_centroid_without_assignment(void) {
    tiny t;
    tiny_make(&t);
    CHECK(nc_explain_user_cluster(&t.c, 0) == 0, "user 0 -> %d", nc_explain_user_cluster(&t.c, 0));
    CHECK(nc_explain_user_cluster(&t.c, 1) == 1, "user 1 -> %d", nc_explain_user_cluster(&t.c, 1));
}

static void test_assignment_wins(void) {
    tiny t;
    tiny_make(&t);
    t.assign[0] = 1;
    t.assign[1] = -1; /* none kept: nearest centroid */
    t.c.assign_user = t.assign;
    CHECK(nc_explain_user_cluster(&t.c, 0) == 1, "user 0 -> %d", nc_explain_user_cluster(&t.c, 0));
    CHECK(nc_explain_user_cluster(&t.c, 1) == 1, "user 1 -> %d", nc_explain_user_cluster(&t.c, 1));
}

static void test_cluster_items_by_cosine(void) {
    tiny t;
    tiny_make(&t);
    int32_t ids[4] = {-1, -1, -1, -1};
    int32_t n = nc_explain_cluster_items(&t.c, 0, 3, ids);
    /* cosines with (1,0): item 0 1.0, item 2 0.949, item 3 0.6, item 1 0 */
    CHECK(n == 3 && ids[0] == 0 && ids[1] == 2 && ids[2] == 3, "n=%d ids %d %d %d", n, ids[0], ids[1], ids[2]);
    n = nc_explain_cluster_items(&t.c, 1, 4, ids);
    CHECK(n == 4 && ids[0] == 1 && ids[1] == 3 && ids[2] == 2 && ids[3] == 0, "n=%d ids %d %d %d %d", n, ids[0], ids[1],
          ids[2], ids[3]);
}

static void test_out_of_range(void) {
    tiny t;
    tiny_make(&t);
    int32_t ids[2];
    CHECK(nc_explain_user_cluster(&t.c, 2) == -1, "user 2 is out of range");
    CHECK(nc_explain_user_cluster(&t.c, -1) == -1, "user -1 (not in the model)");
    CHECK(nc_explain_cluster_items(&t.c, 2, 2, ids) == 0, "centroid 2 is out of range");
    t.c.k_user = 0;
    CHECK(nc_explain_user_cluster(&t.c, 0) == -1, "no centroids: no prototype");
}

int main(void) {
    RUN(test_nearest_centroid_without_assignment);
    RUN(test_assignment_wins);
    RUN(test_cluster_items_by_cosine);
    RUN(test_out_of_range);
    return TEST_REPORT();
}
