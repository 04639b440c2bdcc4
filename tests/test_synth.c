/* test_synth.c - the synthetic generator: determinism for a seed, ids, per-user counts and
 * times, popularity skew (and its parameter), no repeated pairs, the CSV round trip through the
 * loader, option checks, and that its community structure is what a collaborative model can
 * learn (item co-occurrence beats popularity clearly, and stops doing so without communities). */
#include "metrics.h"
#include "synth.h"
#include "testhelp.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct gen {
    nc_idmap users, items;
    nc_interactions x;
} gen;

static int gen_make(gen *g, const nc_synth_opts *o) {
    nc_err e;
    nc_idmap_init(&g->users);
    nc_idmap_init(&g->items);
    nc_inter_init(&g->x);
    return nc_synth_generate(o, &g->users, &g->items, &g->x, &e);
}

static void gen_free(gen *g) {
    nc_idmap_free(&g->users);
    nc_idmap_free(&g->items);
    nc_inter_free(&g->x);
}

static int same_rows(const nc_interactions *a, const nc_interactions *b) {
    return a->n == b->n && !memcmp(a->user, b->user, a->n * 4) &&
           !memcmp(a->item, b->item, a->n * 4) && !memcmp(a->ts, b->ts, a->n * 8);
}

static void test_deterministic_for_a_seed(void) {
    nc_synth_opts o;
    nc_synth_default(&o);
    o.n_users = 300;
    o.n_items = 200;
    gen a, b, c;
    CHECK(gen_make(&a, &o) == NC_OK && gen_make(&b, &o) == NC_OK, "generate");
    o.seed++;
    CHECK(gen_make(&c, &o) == NC_OK, "generate");
    CHECK(a.x.n > 0 && same_rows(&a.x, &b.x), "same seed, same rows");
    CHECK(!same_rows(&a.x, &c.x), "another seed, other rows");
    gen_free(&a), gen_free(&b), gen_free(&c);
}

/* Share of all rows held by the 10% most popular items. */
static double top_decile_share(const gen *g) {
    size_t n = g->items.n, *cnt = calloc(n, sizeof *cnt);
    for (size_t r = 0; r < g->x.n; r++) cnt[g->x.item[r]]++;
    size_t top = 0;
    for (size_t k = 0; k < n / 10; k++) { /* n/10 rounds of "take the maximum" */
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (cnt[i] > cnt[best]) best = i;
        top += cnt[best];
        cnt[best] = 0;
    }
    free(cnt);
    return (double)top / (double)g->x.n;
}

static void test_statistics(void) {
    nc_synth_opts o;
    nc_synth_default(&o);
    gen g;
    CHECK(gen_make(&g, &o) == NC_OK, "generate");
    int sizes_ok = g.users.n == (size_t)o.n_users && g.items.n == (size_t)o.n_items;
    CHECK(sizes_ok && g.x.n > 0, "map sizes %zu, %zu", g.users.n, g.items.n);
    if (!sizes_ok || !g.x.n) {
        gen_free(&g);
        return;
    }
    char buf[32];
    int ids_ok = 1;
    for (int k = 0; k < o.n_users; k++)
        ids_ok &= snprintf(buf, sizeof buf, "u%d", k) > 0 && !strcmp(g.users.ids[k], buf);
    for (int k = 0; k < o.n_items; k++)
        ids_ok &= snprintf(buf, sizeof buf, "i%d", k) > 0 && !strcmp(g.items.ids[k], buf);
    CHECK(ids_ok, "u<k> and i<k> have internal id k");
    size_t *cnt = calloc((size_t)o.n_users, sizeof *cnt), max = 0, min = SIZE_MAX;
    int64_t *last = calloc((size_t)o.n_users, sizeof *last);
    int time_ok = 1;
    for (size_t r = 0; r < g.x.n; r++) {
        int32_t u = g.x.user[r];
        cnt[u]++;
        time_ok &= g.x.ts[r] > last[u] && g.x.ts[r] >= o.t0;
        time_ok &= r == 0 || g.x.ts[r] >= g.x.ts[r - 1];
        last[u] = g.x.ts[r];
    }
    for (int u = 0; u < o.n_users; u++) {
        if (cnt[u] > max) max = cnt[u];
        if (cnt[u] < min) min = cnt[u];
    }
    double mean = (double)g.x.n / o.n_users;
    CHECK(min >= (size_t)o.min_per_user && min >= 1, "every user has >= %d rows (min %zu)",
          o.min_per_user, min);
    CHECK(mean > 0.75 * o.mean_per_user && mean < 1.25 * o.mean_per_user, "mean %.2f", mean);
    CHECK((double)max > 4 * mean, "heavy tail: max %zu vs mean %.1f", max, mean);
    CHECK(time_ok, "rows sorted by time, each user's times strictly increasing");
    nc_interactions copy;
    nc_inter_init(&copy);
    nc_err e;
    CHECK(nc_inter_copy(&copy, &g.x, &e) == NC_OK && nc_inter_dedup(&copy, &e) == 0,
          "no (user, item) pair twice");
    double skew = top_decile_share(&g);
    CHECK(skew > 0.3, "top 10%% of items hold %.3f of the rows", skew);
    gen_free(&g);
    o.zipf = 0;
    CHECK(gen_make(&g, &o) == NC_OK, "generate flat");
    double flat = top_decile_share(&g);
    CHECK(flat < 0.2 && flat < skew / 2, "zipf 0 is flat: %.3f", flat);
    gen_free(&g);
    nc_inter_free(&copy);
    free(cnt), free(last);
}

/* Valid-split Recall@10 of popularity and of item co-occurrence (user's train items times the
 * item x item co-occurrence counts, damped by the square roots of both popularities). */
static void pop_vs_cooc(const nc_synth_opts *o, double *pop, double *cooc) {
    nc_dataset d;
    nc_dataset_init(&d);
    nc_err e;
    const double ratios[3] = {0.8, 0.1, 0.1};
    *pop = *cooc = -1;
    if (nc_synth_dataset(o, ratios, 2020, &d, &e)) {
        fprintf(stderr, "  %s\n", e.msg);
        return;
    }
    int U = (int)d.users.n, I = (int)d.items.n;
    float *ones = malloc(sizeof(float) * U), *popv = calloc((size_t)I, sizeof(float));
    float *X = calloc((size_t)U * I, sizeof(float)), *C = calloc((size_t)I * I, sizeof(float));
    for (int u = 0; u < U; u++) ones[u] = 1;
    for (size_t r = 0; r < d.train.n; r++) {
        popv[d.train.item[r]] += 1;
        X[(size_t)d.train.user[r] * I + d.train.item[r]] = 1;
    }
    for (int u = 0; u < U; u++)
        for (int a = 0; a < I; a++)
            if (X[(size_t)u * I + a])
                for (int b = 0; b < I; b++) C[(size_t)a * I + b] += X[(size_t)u * I + b];
    for (int a = 0; a < I; a++)
        for (int b = 0; b < I; b++)
            C[(size_t)a * I + b] /= (1 + sqrtf(popv[a])) * (1 + sqrtf(popv[b]));
    nc_metrics m;
    if (!nc_evaluate(ones, popv, U, I, 1, &d.valid, &d.train, NULL, &m, &e)) *pop = m.recall[0];
    if (!nc_evaluate(X, C, U, I, I, &d.valid, &d.train, NULL, &m, &e)) *cooc = m.recall[0];
    free(ones), free(popv), free(X), free(C);
    nc_dataset_free(&d);
}

static void test_learnable_structure(void) {
    nc_synth_opts o;
    nc_synth_default(&o);
    o.n_users = 600;
    o.n_items = 400;
    double pop, cooc;
    pop_vs_cooc(&o, &pop, &cooc);
    CHECK(pop > 0 && cooc > 2 * pop, "communities: co-occurrence R@10 %.4f vs popularity %.4f",
          cooc, pop);
    o.affinity = 0; /* popularity only: nothing beyond it to learn */
    pop_vs_cooc(&o, &pop, &cooc);
    CHECK(pop > 0 && cooc < 1.2 * pop, "no communities: co-occurrence R@10 %.4f vs popularity "
          "%.4f", cooc, pop);
}

static void test_dataset_split(void) {
    nc_synth_opts o;
    nc_synth_default(&o);
    o.n_users = 500;
    o.n_items = 400;
    nc_dataset d;
    nc_dataset_init(&d);
    gen g;
    nc_err e;
    const double ratios[3] = {0.8, 0.1, 0.1};
    CHECK(nc_synth_dataset(&o, ratios, 7, &d, &e) == NC_OK, "%s", e.msg);
    CHECK(gen_make(&g, &o) == NC_OK, "generate");
    CHECK(d.train.n + d.valid.n + d.test.n == g.x.n, "split keeps every row");
    CHECK(d.valid.n > 0.08 * g.x.n && d.test.n > 0.08 * g.x.n, "valid %zu test %zu", d.valid.n,
          d.test.n);
    int *has = calloc((size_t)o.n_users, sizeof *has), all = 1;
    for (size_t r = 0; r < d.train.n; r++) has[d.train.user[r]] = 1;
    for (int u = 0; u < o.n_users; u++) all &= has[u];
    CHECK(all, "every user has training rows");
    free(has);
    gen_free(&g);
    nc_dataset_free(&d);
}

static void test_csv_round_trip(void) {
    char dir[] = "/tmp/nclrec-test-synth-XXXXXX", path[128];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/synth.csv", dir);
    nc_synth_opts o;
    nc_synth_default(&o);
    o.n_users = 200;
    o.n_items = 150;
    nc_err e;
    FILE *f = fopen(path, "w");
    CHECK(f && nc_synth_write_csv(&o, f, &e) == NC_OK, "%s", e.msg);
    if (f) fclose(f);
    gen g, back;
    CHECK(gen_make(&g, &o) == NC_OK, "generate");
    nc_idmap_init(&back.users), nc_idmap_init(&back.items), nc_inter_init(&back.x);
    CHECK(nc_load_file(path, NC_FMT_AUTO, &back.users, &back.items, &back.x, &e) == NC_OK, "%s",
          e.msg);
    int ok = back.x.n == g.x.n;
    for (size_t r = 0; ok && r < g.x.n; r++)
        ok = !strcmp(back.users.ids[back.x.user[r]], g.users.ids[g.x.user[r]]) &&
             !strcmp(back.items.ids[back.x.item[r]], g.items.ids[g.x.item[r]]) &&
             back.x.ts[r] == g.x.ts[r];
    CHECK(ok, "the loader reads back the same %zu rows (got %zu)", g.x.n, back.x.n);
    gen_free(&g), gen_free(&back);
    unlink(path);
    rmdir(dir);
}

static void test_option_checks(void) {
    nc_synth_opts o;
    nc_err e;
    nc_synth_default(&o);
    CHECK(nc_synth_validate(&o, &e) == NC_OK, "defaults valid");
    o.n_items = 1;
    CHECK(nc_synth_validate(&o, &e) == NC_EINVAL && strstr(e.msg, "n_items"), "%s", e.msg);
    nc_synth_default(&o);
    o.n_communities = o.n_items + 1;
    CHECK(nc_synth_validate(&o, &e) == NC_EINVAL && strstr(e.msg, "n_communities"), "%s", e.msg);
    nc_synth_default(&o);
    o.zipf = NAN;
    CHECK(nc_synth_validate(&o, &e) == NC_EINVAL && strstr(e.msg, "zipf"), "%s", e.msg);
    nc_synth_default(&o);
    o.affinity = 1.5;
    CHECK(nc_synth_validate(&o, &e) == NC_EINVAL && strstr(e.msg, "affinity"), "%s", e.msg);
    nc_synth_default(&o);
    o.mean_per_user = 0.5;
    gen g;
    CHECK(gen_make(&g, &o) == NC_EINVAL && g.x.n == 0 && g.users.n == 0, "generate refuses");
    gen_free(&g);
}

int main(void) {
    RUN(test_deterministic_for_a_seed);
    RUN(test_statistics);
    RUN(test_learnable_structure);
    RUN(test_dataset_split);
    RUN(test_csv_round_trip);
    RUN(test_option_checks);
    return TEST_REPORT();
}
