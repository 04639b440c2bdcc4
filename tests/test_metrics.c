/* test_metrics.c - Recall@K / NDCG@K against hand-computed values (masking, a positive that is
 * also a training item, repeated positives, fewer and more positives than K, NaN scores), against
 * a plain full-sort implementation on random data (several blocks, 1 and 2 threads), the
 * reusable evaluator, its user sample (nc_evaluator_sample), input checks and the text format. */
#include "metrics.h"
#include "testhelp.h"

#include <stdlib.h>
#include <string.h>

static int cmp_user(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void push_all(nc_interactions *x, int32_t u, const int32_t *items, int n) {
    nc_err e;
    for (int k = 0; k < n; k++) nc_inter_push(x, u, items[k], 0, &e);
}

/* The example of the hand computation: 60 items scored 60 - i (item 0 first) by users with
 * embedding 1, reversed for embedding -1. */
typedef struct example {
    float user[4], item[60];
    nc_interactions pos, mask1, mask2;
} example;

static void example_make(example *x) {
    const float ue[4] = {1, -1, 1, 1};
    memcpy(x->user, ue, sizeof ue);
    for (int i = 0; i < 60; i++) x->item[i] = (float)(60 - i);
    nc_inter_init(&x->pos);
    nc_inter_init(&x->mask1);
    nc_inter_init(&x->mask2);
    /* user 0: positives 2, 15, 30 (15 twice); train 0, 1 and 15 (15 is a positive: not masked) */
    push_all(&x->pos, 0, (const int32_t[]){2, 15, 30, 15}, 4);
    push_all(&x->mask1, 0, (const int32_t[]){0, 1, 15}, 3);
    /* user 1 (reversed order): positive 50; 59 masked by train, 58 by valid */
    push_all(&x->pos, 1, (const int32_t[]){50}, 1);
    push_all(&x->mask1, 1, (const int32_t[]){59}, 1);
    push_all(&x->mask2, 1, (const int32_t[]){58}, 1);
    /* user 2: train rows only, never evaluated */
    push_all(&x->mask1, 2, (const int32_t[]){3}, 1);
    /* user 3: the 12 best items are all positives: more than 10 */
    for (int32_t i = 0; i < 12; i++) push_all(&x->pos, 3, &i, 1);
}

static void example_free(example *x) {
    nc_inter_free(&x->pos);
    nc_inter_free(&x->mask1);
    nc_inter_free(&x->mask2);
}

static void expected_example(nc_metrics *m) {
    double idcg3 = 1 + 1 / log2(3.0) + 1 / log2(4.0);
    /* user 0 hits at ranks 0, 13 and 28; user 1 at rank 7; user 3 at ranks 0..11 */
    double r0[3] = {1 / 3.0, 2 / 3.0, 1}, n0[3] = {1 / idcg3, (1 + 1 / log2(15.0)) / idcg3,
                                                  (1 + 1 / log2(15.0) + 1 / log2(30.0)) / idcg3};
    double r1 = 1, n1 = 1 / log2(9.0);
    double r3[3] = {10 / 12.0, 1, 1}, n3 = 1;
    for (int k = 0; k < 3; k++) {
        m->recall[k] = (r0[k] + r1 + r3[k]) / 3;
        m->ndcg[k] = (n0[k] + n1 + n3) / 3;
    }
    m->n_users = 3;
}

static void check_metrics(const nc_metrics *got, const nc_metrics *want, double tol) {
    CHECK(got->n_users == want->n_users, "n_users %lld, want %lld", (long long)got->n_users,
          (long long)want->n_users);
    for (int k = 0; k < NC_N_TOPK; k++) {
        CHECK_CLOSE(got->recall[k], want->recall[k], tol, 0);
        CHECK_CLOSE(got->ndcg[k], want->ndcg[k], tol, 0);
    }
}

static void test_hand_computed_example(void) {
    example x;
    example_make(&x);
    nc_metrics got, want;
    nc_err e;
    expected_example(&want);
    CHECK(nc_evaluate(x.user, x.item, 4, 60, 1, &x.pos, &x.mask1, &x.mask2, &got, &e) == NC_OK,
          "%s", e.msg);
    check_metrics(&got, &want, 1e-12);
    /* without the valid mask, user 1's item 58 ranks first and pushes 50 to rank 8 */
    CHECK(nc_evaluate(x.user, x.item, 4, 60, 1, &x.pos, &x.mask1, NULL, &got, &e) == NC_OK, "%s",
          e.msg);
    double d = (1 / log2(9.0) - 1 / log2(10.0)) / 3;
    CHECK_CLOSE(got.ndcg[0], want.ndcg[0] - d, 1e-12, 0);
    CHECK_CLOSE(got.recall[0], want.recall[0], 1e-12, 0);
    example_free(&x);
}

static void test_nan_scores_rank_last(void) {
    float user = 1, item[12];
    item[0] = NAN;
    for (int i = 1; i < 12; i++) item[i] = (float)(12 - i);
    nc_interactions pos;
    nc_inter_init(&pos);
    push_all(&pos, 0, (const int32_t[]){0}, 1);
    nc_metrics m;
    nc_err e;
    CHECK(nc_evaluate(&user, item, 1, 12, 1, &pos, NULL, NULL, &m, &e) == NC_OK, "%s", e.msg);
    CHECK(m.recall[0] == 0 && m.recall[1] == 1, "NaN item is 12th: %g %g", m.recall[0],
          m.recall[1]);
    CHECK_CLOSE(m.ndcg[1], 1 / log2(13.0), 1e-12, 0);
    nc_inter_free(&pos);
}

/* ==== against a plain full sort ========================================================== */

typedef struct scored {
    float s;
    int32_t i;
} scored;

static int by_rank(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static int has(const nc_interactions *x, int32_t u, int32_t i) {
    for (size_t r = 0; x && r < x->n; r++)
        if (x->user[r] == u && x->item[r] == i) return 1;
    return 0;
}

/* Scores with a double-free-of-tricks loop: every item, full qsort, linear membership. */
static void naive_eval(const float *ue, const float *ie, int U, int I, int d,
                       const nc_interactions *pos, const nc_interactions *m1,
                       const nc_interactions *m2, nc_metrics *out) {
    memset(out, 0, sizeof *out);
    scored *list = malloc((size_t)I * sizeof *list);
    for (int u = 0; u < U; u++) {
        int npos = 0;
        for (int i = 0; i < I; i++) npos += has(pos, u, i);
        if (!npos) continue;
        int n = 0;
        for (int i = 0; i < I; i++) {
            if (!has(pos, u, i) && (has(m1, u, i) || has(m2, u, i))) continue;
            float s = 0;
            for (int k = 0; k < d; k++) s += ue[u * d + k] * ie[i * d + k];
            list[n++] = (scored){s, i};
        }
        qsort(list, (size_t)n, sizeof *list, by_rank);
        for (int t = 0; t < NC_N_TOPK; t++) {
            int K = nc_topk_ks[t], hits = 0;
            double dcg = 0, idcg = 0;
            for (int j = 0; j < K; j++) {
                if (j < n && has(pos, u, list[j].i)) hits++, dcg += 1 / log2(j + 2.0);
                if (j < npos) idcg += 1 / log2(j + 2.0);
            }
            out->recall[t] += (double)hits / npos;
            out->ndcg[t] += dcg / idcg;
        }
        out->n_users++;
    }
    for (int t = 0; t < NC_N_TOPK; t++) {
        out->recall[t] /= (double)out->n_users;
        out->ndcg[t] /= (double)out->n_users;
    }
    free(list);
}

static void test_random_against_full_sort(void) {
    enum { U = 41, I = 137, D = 6 };
    nc_rng r;
    nc_rng_seed(&r, 11);
    float *ue = malloc(sizeof(float) * U * D), *ie = malloc(sizeof(float) * I * D);
    /* scores are sums of small integers / 8: exact in float, with plenty of ties */
    for (int k = 0; k < U * D; k++) ue[k] = (float)((int)nc_rng_below(&r, 9) - 4);
    for (int k = 0; k < I * D; k++) ie[k] = (float)((int)nc_rng_below(&r, 9) - 4) / 8;
    nc_interactions pos, m1, m2;
    nc_inter_init(&pos), nc_inter_init(&m1), nc_inter_init(&m2);
    nc_err e;
    for (int u = 0; u < U; u++) {
        int np = u % 7 == 0 ? 0 : (int)nc_rng_below(&r, 70); /* some users have none */
        for (int k = 0; k < np; k++) nc_inter_push(&pos, u, (int32_t)nc_rng_below(&r, I), 0, &e);
        int nm = (int)nc_rng_below(&r, 60);
        for (int k = 0; k < nm; k++)
            nc_inter_push(k % 3 ? &m1 : &m2, u, (int32_t)nc_rng_below(&r, I), 0, &e);
    }
    nc_metrics want, got1, got2;
    naive_eval(ue, ie, U, I, D, &pos, &m1, &m2, &want);
    nc_evaluator ev;
    nc_evaluator_init(&ev);
    CHECK(nc_evaluator_build(&ev, U, I, &pos, &m1, &m2, &e) == NC_OK, "%s", e.msg);
    CHECK(ev.n_eval == want.n_users && want.n_users < U, "users with positives: %d", ev.n_eval);
    ev.block = 4; /* several sgemm blocks, the last one partial */
    int threads = nc_get_threads();
    nc_set_threads(1);
    CHECK(nc_evaluator_run(&ev, ue, ie, D, &got1, &e) == NC_OK, "%s", e.msg);
    nc_set_threads(2);
    CHECK(nc_evaluator_run(&ev, ue, ie, D, &got2, &e) == NC_OK, "%s", e.msg);
    nc_set_threads(threads);
    check_metrics(&got1, &want, 1e-12);
    CHECK(!memcmp(&got1, &got2, sizeof got1), "1 and 2 threads agree bit for bit");
    /* the evaluator is reusable with new embeddings */
    for (int k = 0; k < I * D; k++) ie[k] = -ie[k];
    naive_eval(ue, ie, U, I, D, &pos, &m1, &m2, &want);
    CHECK(nc_evaluator_run(&ev, ue, ie, D, &got1, &e) == NC_OK, "%s", e.msg);
    check_metrics(&got1, &want, 1e-12);
    CHECK(want.recall[0] < want.recall[1] && want.recall[1] < want.recall[2], "non-trivial case");
    nc_evaluator_free(&ev);
    nc_inter_free(&pos), nc_inter_free(&m1), nc_inter_free(&m2);
    free(ue), free(ie);
}

/* Keeps the rows of x whose user is one of users[0..n) (ascending). */
static void restrict_to(const nc_interactions *x, const int32_t *users, int32_t n,
                        nc_interactions *out) {
    nc_err e;
    nc_inter_init(out);
    for (size_t r = 0; r < x->n; r++)
        if (bsearch(&x->user[r], users, (size_t)n, sizeof *users, cmp_user))
            nc_inter_push(out, x->user[r], x->item[r], 0, &e);
}

/* nc_evaluator_sample: n of the users, ascending, by seed; their metrics are those of the
 * data restricted to them; n >= all keeps everything; n < 1 is refused with ev unchanged. */
static void test_sample(void) {
    enum { U = 300, I = 90, D = 5 };
    nc_rng r;
    nc_rng_seed(&r, 5);
    float *ue = malloc(sizeof(float) * U * D), *ie = malloc(sizeof(float) * I * D);
    for (int k = 0; k < U * D; k++) ue[k] = (float)nc_rng_uniform(&r) - 0.5f;
    for (int k = 0; k < I * D; k++) ie[k] = (float)nc_rng_uniform(&r) - 0.5f;
    nc_interactions pos, m1;
    nc_inter_init(&pos), nc_inter_init(&m1);
    nc_err e;
    for (int u = 0; u < U; u++)
        for (int k = 0; k < 1 + u % 5; k++) {
            nc_inter_push(&pos, u, (int32_t)nc_rng_below(&r, I), 0, &e);
            nc_inter_push(&m1, u, (int32_t)nc_rng_below(&r, I), 0, &e);
        }
    nc_evaluator ev, again;
    nc_evaluator_init(&ev), nc_evaluator_init(&again);
    CHECK(nc_evaluator_build(&ev, U, I, &pos, &m1, NULL, &e) == NC_OK, "%s", e.msg);
    nc_metrics all, got, want;
    CHECK(nc_evaluator_run(&ev, ue, ie, D, &all, &e) == NC_OK, "%s", e.msg);
    CHECK(nc_evaluator_sample(&ev, 0, 1, &e) == NC_EINVAL && ev.n_eval == U, "n = 0 refused");
    CHECK(nc_evaluator_sample(&ev, U, 1, &e) == NC_OK && ev.n_eval == U, "n = all keeps all");
    CHECK(nc_evaluator_run(&ev, ue, ie, D, &got, &e) == NC_OK && !memcmp(&got, &all, sizeof got),
          "n = all changed the metrics");
    CHECK(nc_evaluator_sample(&ev, 40, 7, &e) == NC_OK && ev.n_eval == 40, "%d users", ev.n_eval);
    int ascending = 1;
    for (int k = 1; k < ev.n_eval; k++) ascending &= ev.eval_user[k - 1] < ev.eval_user[k];
    CHECK(ascending, "kept users are not ascending");
    nc_interactions p2, q2;
    restrict_to(&pos, ev.eval_user, ev.n_eval, &p2);
    restrict_to(&m1, ev.eval_user, ev.n_eval, &q2);
    CHECK(nc_evaluate(ue, ie, U, I, D, &p2, &q2, NULL, &want, &e) == NC_OK, "%s", e.msg);
    CHECK(nc_evaluator_run(&ev, ue, ie, D, &got, &e) == NC_OK, "%s", e.msg);
    CHECK(!memcmp(&got, &want, sizeof got) && got.n_users == 40,
          "sample's recall@20 %.6f, the restricted data's %.6f", got.recall[1], want.recall[1]);
    CHECK(memcmp(&got, &all, sizeof got) != 0, "the sample scored like all users");
    /* the same seed draws the same users, another seed others */
    CHECK(nc_evaluator_build(&again, U, I, &pos, &m1, NULL, &e) == NC_OK, "%s", e.msg);
    CHECK(nc_evaluator_sample(&again, 40, 7, &e) == NC_OK &&
              !memcmp(again.eval_user, ev.eval_user, 40 * sizeof(int32_t)), "seed 7 twice differs");
    CHECK(nc_evaluator_build(&again, U, I, &pos, &m1, NULL, &e) == NC_OK, "%s", e.msg);
    CHECK(nc_evaluator_sample(&again, 40, 8, &e) == NC_OK &&
              memcmp(again.eval_user, ev.eval_user, 40 * sizeof(int32_t)), "seeds 7 and 8 agree");
    nc_evaluator_free(&ev), nc_evaluator_free(&again);
    nc_inter_free(&pos), nc_inter_free(&m1), nc_inter_free(&p2), nc_inter_free(&q2);
    free(ue), free(ie);
}

static void test_input_checks(void) {
    example x;
    example_make(&x);
    nc_metrics m;
    nc_err e;
    CHECK(nc_evaluate(x.user, x.item, 4, 60, 0, &x.pos, NULL, NULL, &m, &e) == NC_EINVAL &&
              strstr(e.msg, "dim"),
          "dim 0: %s", e.msg);
    CHECK(nc_evaluate(x.user, x.item, 4, 50, 1, &x.pos, NULL, NULL, &m, &e) == NC_EINVAL &&
              strstr(e.msg, "item 50"),
          "item out of range: %s", e.msg);
    CHECK(nc_evaluate(x.user, x.item, 2, 60, 1, &x.pos, NULL, NULL, &m, &e) == NC_EINVAL &&
              strstr(e.msg, "user 3"),
          "user out of range: %s", e.msg);
    CHECK(nc_evaluate(x.user, x.item, 4, 60, 1, &x.pos, &x.mask2, &x.pos, &m, &e) == NC_OK, "ok");
    nc_evaluator ev;
    nc_evaluator_init(&ev);
    CHECK(nc_evaluator_run(&ev, x.user, x.item, 1, &m, &e) == NC_EINVAL, "unbuilt evaluator");
    nc_interactions none;
    nc_inter_init(&none);
    CHECK(nc_evaluator_build(&ev, 4, 60, &none, &x.mask1, NULL, &e) == NC_OK && ev.n_eval == 0,
          "no positives");
    CHECK(nc_evaluator_run(&ev, x.user, x.item, 1, &m, &e) == NC_OK && m.n_users == 0 &&
              m.recall[0] == 0,
          "no users evaluated gives zeros");
    nc_evaluator_free(&ev);
    example_free(&x);
}

static void test_format(void) {
    nc_metrics m = {{0.23994, 0.5, 1}, {0, 0.12346, 0.99999}, 7};
    char buf[256];
    size_t n = nc_metrics_format(&m, buf, sizeof buf);
    const char *want = "recall@10=0.2399 recall@20=0.5000 recall@50=1.0000 "
                       "ndcg@10=0.0000 ndcg@20=0.1235 ndcg@50=1.0000";
    CHECK(strcmp(buf, want) == 0 && n == strlen(want), "got '%s'", buf);
    char small[20];
    size_t n2 = nc_metrics_format(&m, small, sizeof small);
    CHECK(n2 == n && strlen(small) == 19 && !strncmp(small, want, 19), "cut: '%s'", small);
}

int main(void) {
    RUN(test_hand_computed_example);
    RUN(test_nan_scores_rank_last);
    RUN(test_random_against_full_sort);
    RUN(test_sample);
    RUN(test_input_checks);
    RUN(test_format);
    return TEST_REPORT();
}
