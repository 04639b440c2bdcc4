/* test_feedback.c - feedback types and the weights they give interactions: parsing the type
 * set, the loader's weight column (numbers, type names, every bad value naming its line),
 * weight 0 leaving rows out, de-duplication keeping the largest weight, the split and the CSV
 * writer carrying weights. Files go to a mkdtemp directory. */
#include "dataset.h"
#include "feedback.h"
#include "testhelp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];

/* Writes str to tmpdir/name; returns the path in path (cap bytes). */
static const char *put(char *path, size_t cap, const char *name, const char *str) {
    snprintf(path, cap, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fputs(str, f) == EOF || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    return path;
}

typedef struct loaded {
    nc_idmap users, items;
    nc_interactions x;
} loaded;

/* Loads str as a file with the weight column col (and types, may be NULL) into *l. */
static int load_str(loaded *l, const char *str, int32_t col, const nc_feedback_types *types,
                    nc_err *e) {
    nc_idmap_init(&l->users);
    nc_idmap_init(&l->items);
    nc_inter_init(&l->x);
    char path[128];
    nc_load_opts o;
    nc_load_opts_default(&o);
    o.weight_col = col;
    o.types = types;
    return nc_load_file_opts(put(path, sizeof path, "in.csv", str), &o, &l->users, &l->items,
                             &l->x, e);
}

static void ld_free(loaded *l) {
    nc_idmap_free(&l->users);
    nc_idmap_free(&l->items);
    nc_inter_free(&l->x);
}

static void test_parse_types(void) {
    nc_feedback_types ft;
    nc_err e;
    CHECK(nc_feedback_parse("click=1,purchase=3,dislike=0", &ft, &e) == NC_OK, "%s", e.msg);
    CHECK(ft.n == 3 && !strcmp(ft.t[1].name, "purchase") && ft.t[1].weight == 3 &&
              ft.t[2].weight == 0, "parsed %d types", ft.n);
    CHECK(nc_feedback_find(&ft, "purchase!", 8) == 1, "find by length");
    CHECK(nc_feedback_find(&ft, "view", 4) == -1, "view is not in this set");
    char buf[128];
    CHECK(!strcmp(nc_feedback_format(&ft, buf, sizeof buf), "click=1,purchase=3,dislike=0"),
          "format: %s", buf);
    nc_feedback_default(&ft);
    CHECK(ft.n == 1 && !strcmp(ft.t[0].name, "view") && ft.t[0].weight == 1, "default");
    struct { const char *spec, *says; } bad[] = {
        {"", "no feedback types"},           {"click", "no '=weight'"},
        {"click=1,", "end with ','"},        {"click=x", "weight 'x'"},
        {"click=101", "weight '101'"},       {"click=-1", "weight '-1'"},
        {"a b=1", "name 'a b'"},             {"=1", "name ''"},
        {"click=1,click=2", "given twice"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1", "must be 1..32"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        nc_feedback_types keep;
        nc_feedback_default(&keep);
        int rc = nc_feedback_parse(bad[k].spec, &keep, &e);
        CHECK(rc == NC_EINVAL && strstr(e.msg, bad[k].says), "'%s' gave %d '%s'", bad[k].spec,
              rc, e.msg);
        CHECK(keep.n == 1 && !strcmp(keep.t[0].name, "view"), "'%s' changed the set",
              bad[k].spec);
    }
}

static void test_load_numeric_weights(void) {
    loaded l;
    nc_err e;
    int rc = load_str(&l, "user,item,ts,weight\nu1,a,5,3\nu1,b,6,0\nu2,a,7,1\n", 3, NULL, &e);
    CHECK(rc == NC_OK, "%s", e.msg);
    CHECK(l.x.n == 2 && l.x.w && l.x.w[0] == 3 && l.x.w[1] == 1, "rows %zu", l.x.n);
    CHECK(nc_idmap_find(&l.items, "b", 1) == -1, "the weight-0 row's item was interned");
    ld_free(&l);
    rc = load_str(&l, "u1,a,5,1\nu2,b,6,1\n", 3, NULL, &e);
    CHECK(rc == NC_OK && l.x.n == 2 && l.x.w == NULL, "all ones must stay unweighted: %s",
          e.msg);
    ld_free(&l);
}

static void test_load_type_names(void) {
    nc_feedback_types ft;
    nc_err e;
    CHECK(nc_feedback_parse("view=1,purchase=3,dislike=0", &ft, &e) == NC_OK, "%s", e.msg);
    loaded l;
    int rc = load_str(&l, "user,item,ts,type\nu1,a,5,purchase\nu1,b,6,dislike\nu2,a,7,view\n",
                      3, &ft, &e);
    CHECK(rc == NC_OK && l.x.n == 2 && l.x.w[0] == 3 && l.x.w[1] == 1, "%s", e.msg);
    ld_free(&l);
    rc = load_str(&l, "u1,a,5,view\nu2,a,7,click\n", 3, &ft, &e);
    CHECK(rc == NC_EINVAL && strstr(e.msg, "in.csv:2:") &&
              strstr(e.msg, "unknown feedback type 'click' in column 4") &&
              strstr(e.msg, "allowed: view=1,purchase=3,dislike=0"), "%s", e.msg);
    CHECK(l.x.n == 0 && l.users.n == 0, "a failed load kept rows");
    ld_free(&l);
}

/* Bulk import keeps the type itself: indices into the table, rows of weight 0 kept, and rows
 * of files written before types (no column) given the default. */
static void test_load_type_index(void) {
    nc_feedback_types ft;
    nc_err e;
    CHECK(nc_feedback_parse("view=1,purchase=3,dislike=0", &ft, &e) == NC_OK, "%s", e.msg);
    loaded l = {0};
    char path[128];
    nc_load_opts o;
    nc_load_opts_default(&o);
    o.weight_col = 3;
    o.types = &ft;
    o.type_index = 1;
    o.weight_missing = 0;
    int rc = nc_load_file_opts(put(path, sizeof path, "in.csv",
                                   "user,item,timestamp,type\nu1,a,5,dislike\nu1,b,6\nu2,a,7,purchase\n"),
                               &o, &l.users, &l.items, &l.x, &e);
    CHECK(rc == NC_OK && l.x.n == 3 && l.x.w, "%d %s", rc, e.msg);
    CHECK(rc || (l.x.w[0] == 2 && l.x.w[1] == 0 && l.x.w[2] == 1), "indices %d %d %d", l.x.w[0],
          l.x.w[1], l.x.w[2]);
    ld_free(&l);
    ld_free(&l);
    rc = nc_load_file_opts(put(path, sizeof path, "in.csv", "u1 a b\nu2 a\n"), &o, &l.users, &l.items, &l.x, &e);
    CHECK(rc == NC_OK && l.x.n == 3 && l.x.w && l.x.w[0] == 0 && l.x.w[2] == 0,
          "adjacency rows get weight_missing: %d %s", rc, e.msg);
    o.weight_missing = -2;
    rc = nc_load_file_opts(path, &o, &l.users, &l.items, &l.x, &e);
    CHECK(rc == NC_EINVAL && strstr(e.msg, "weight_missing"), "%s", e.msg);
    ld_free(&l);
}

static void test_load_bad_weights(void) {
    struct { const char *data, *says; } bad[] = {
        {"u1,a,5,1\nu2,b,6,2.5\n", "in.csv:2: bad weight '2.5' in column 4 (a whole number"},
        {"u1,a,5,1\nu2,b,6,101\n", "in.csv:2: bad weight '101'"},
        {"u1,a,5,1\nu2,b,6\n", "in.csv:2: no weight in column 4"},
        {"u1,a,5,1\nu2,b,6,\n", "in.csv:2: bad weight ''"},
        {"u1,a,5,0\n", "no interactions in 1 lines (after the rating filter and leaving out"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        loaded l;
        nc_err e;
        int rc = load_str(&l, bad[k].data, 3, NULL, &e);
        CHECK(rc == NC_EINVAL && strstr(e.msg, bad[k].says), "case %zu: %d '%s'", k, rc, e.msg);
        ld_free(&l);
    }
    loaded l;
    nc_err e;
    nc_load_opts o;
    nc_load_opts_default(&o);
    o.weight_col = 2; /* the timestamp's column */
    nc_idmap_init(&l.users);
    nc_idmap_init(&l.items);
    nc_inter_init(&l.x);
    char path[128];
    int rc = nc_load_file_opts(put(path, sizeof path, "c.csv", "u,i,1\n"), &o, &l.users,
                               &l.items, &l.x, &e);
    CHECK(rc == NC_EINVAL && strstr(e.msg, "bad columns"), "%s", e.msg);
    ld_free(&l);
}

static void test_dedup_keeps_largest_weight(void) {
    nc_interactions x;
    nc_inter_init(&x);
    nc_err e;
    int rc = 0;
    rc |= nc_inter_push(&x, 0, 0, 1, &e);     /* view */
    rc |= nc_inter_push_w(&x, 1, 0, 2, 2, &e);
    rc |= nc_inter_push_w(&x, 0, 0, 3, 3, &e); /* then a purchase of the same item */
    rc |= nc_inter_push_w(&x, 1, 0, 4, 1, &e);
    rc |= nc_inter_push_w(&x, -1, -1, 5, 4, &e); /* the set's empty key, kept apart */
    rc |= nc_inter_push_w(&x, -1, -1, 6, 7, &e);
    CHECK(rc == 0 && x.w && x.w[0] == 1, "push: %s", e.msg);
    CHECK(nc_inter_push_w(&x, 0, 1, 0, 101, &e) == NC_EINVAL, "weight 101 accepted");
    size_t gone = nc_inter_dedup(&x, &e);
    CHECK(gone == 3 && x.n == 3, "removed %zu, left %zu", gone, x.n);
    CHECK(x.ts[0] == 1 && x.w[0] == 3, "(0,0) keeps its first row with weight 3: %d", x.w[0]);
    CHECK(x.ts[1] == 2 && x.w[1] == 2, "(1,0) keeps weight 2: %d", x.w[1]);
    CHECK(x.ts[2] == 5 && x.w[2] == 7, "(-1,-1) keeps weight 7: %d", x.w[2]);
    nc_inter_free(&x);
}

static void test_split_and_csv_carry_weights(void) {
    nc_interactions all, part[3], back;
    nc_inter_init(&all);
    nc_err e;
    nc_idmap users, items;
    nc_idmap_init(&users);
    nc_idmap_init(&items);
    char id[16];
    for (int k = 0; k < 40; k++) {
        int32_t u, i;
        snprintf(id, sizeof id, "u%d", k % 4);
        nc_idmap_intern(&users, id, strlen(id), &u, &e);
        snprintf(id, sizeof id, "i%d", k);
        nc_idmap_intern(&items, id, strlen(id), &i, &e);
        CHECK(nc_inter_push_w(&all, u, i, k, (uint8_t)(k % 5), &e) == NC_OK, "%s", e.msg);
    }
    for (int k = 0; k < 3; k++) nc_inter_init(&part[k]);
    const double r[3] = {0.8, 0.1, 0.1};
    CHECK(nc_split(&all, users.n, r, 7, &part[0], &part[1], &part[2], &e) == NC_OK, "%s", e.msg);
    for (int k = 0; k < 3; k++)
        for (size_t j = 0; j < part[k].n; j++)
            CHECK(part[k].w && part[k].w[j] == part[k].ts[j] % 5, "split %d row %zu weight %d",
                  k, j, part[k].w ? part[k].w[j] : -1);
    char path[128];
    snprintf(path, sizeof path, "%s/w.csv", tmpdir);
    FILE *f = fopen(path, "w");
    CHECK(f && nc_inter_write_csv(f, &users, &items, &all, &e) == NC_OK, "%s", e.msg);
    if (f) fclose(f);
    nc_inter_init(&back);
    nc_load_opts o;
    nc_load_opts_default(&o);
    o.weight_col = 3;
    nc_idmap bu, bi;
    nc_idmap_init(&bu);
    nc_idmap_init(&bi);
    CHECK(nc_load_file_opts(path, &o, &bu, &bi, &back, &e) == NC_OK, "%s", e.msg);
    CHECK(back.n == 32, "read back %zu rows (the 8 of weight 0 are no positives)", back.n);
    for (size_t j = 0; j < back.n; j++)
        CHECK(back.w[j] == back.ts[j] % 5, "row %zu weight %d", j, back.w[j]);
    for (int k = 0; k < 3; k++) nc_inter_free(&part[k]);
    nc_inter_free(&all);
    nc_inter_free(&back);
    nc_idmap_free(&users);
    nc_idmap_free(&items);
    nc_idmap_free(&bu);
    nc_idmap_free(&bi);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nclrec_feedback_XXXXXX");
    if (!mkdtemp(tmpdir)) return 2;
    RUN(test_parse_types);
    RUN(test_load_numeric_weights);
    RUN(test_load_type_names);
    RUN(test_load_type_index);
    RUN(test_load_bad_weights);
    RUN(test_dedup_keeps_largest_weight);
    RUN(test_split_and_csv_carry_weights);
    const char *names[] = {"in.csv", "c.csv", "w.csv"};
    char path[128];
    for (size_t k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[k]);
        unlink(path);
    }
    rmdir(tmpdir);
    return TEST_REPORT();
}
