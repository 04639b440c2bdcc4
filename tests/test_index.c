/* test_index.c - nc_index: top-k equals a brute-force reference (exactly, on integer-valued
 * data where every score is exact and ties are common; within rounding on random floats),
 * exclusions, k larger than the catalogue, the batch path, concurrent searches, and that a
 * single query never opens an OpenMP team. */
#include "index.h"
#include "testhelp.h"

#include <dirent.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Small integers as floats: every inner product is an exact integer in float whatever the
 * summation order, so results must match the reference bit for bit, ties included. */
static float *int_rows(int64_t n, int d, uint64_t seed) {
    float *x = malloc((size_t)n * d * sizeof *x);
    nc_rng r;
    nc_rng_seed(&r, seed);
    for (int64_t i = 0; i < n * d; i++) x[i] = (float)((int)nc_rng_below(&r, 7) - 3);
    return x;
}

/* Continuous values in [-1, 1): no ties, scores only equal up to rounding. */
static float *rand_rows(int64_t n, int d, uint64_t seed) {
    float *x = malloc((size_t)n * d * sizeof *x);
    nc_rng r;
    nc_rng_seed(&r, seed);
    for (int64_t i = 0; i < n * d; i++) x[i] = (float)(2 * nc_rng_uniform(&r) - 1);
    return x;
}

/* The reference: score every row in double, drop excluded ones, order by (score desc, id asc)
 * with a plain selection sort. Returns how many it wrote (at most k). */
static int ref_topk(const float *x, int64_t n, int d, const float *q, int k, const int32_t *ex,
                    size_t n_ex, int32_t *ids, double *scores) {
    double *s = malloc((size_t)n * sizeof *s);
    char *gone = calloc((size_t)n, 1);
    for (int64_t i = 0; i < n; i++) {
        s[i] = 0;
        for (int j = 0; j < d; j++) s[i] += (double)x[i * d + j] * q[j];
    }
    for (size_t i = 0; i < n_ex; i++)
        if (ex[i] >= 0 && ex[i] < n) gone[ex[i]] = 1;
    int m = 0;
    for (; m < k; m++) {
        int64_t best = -1;
        for (int64_t i = 0; i < n; i++)
            if (!gone[i] && (best < 0 || s[i] > s[best])) best = i; /* first max = lowest id */
        if (best < 0) break;
        ids[m] = (int32_t)best;
        scores[m] = s[best];
        gone[best] = 1;
    }
    free(s);
    free(gone);
    return m;
}

/* Threads of this process, from /proc/self/task. */
static int count_threads(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *de; (de = readdir(d));) n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Must run first: libgomp starts its worker threads on the first parallel region with more
 * than one thread and keeps them, so a fan-out shows as new threads in /proc/self/task. */
static void test_single_query_opens_no_openmp_team(void) {
    enum { N = 5000, D = 32, K = 10 };
    float *x = rand_rows(N, D, 1);
    nc_index *ix = NULL;
    nc_err e;
    CHECK(nc_index_build(x, N, D, &ix, &e) == NC_OK, "build: %s", e.msg);
    if (!ix) return free(x);
    omp_set_num_threads(4);
    int before = count_threads();
    int32_t ids[K], n = 0;
    float sc[K];
    for (int i = 0; i < 20; i++)
        CHECK(nc_index_search(ix, x + i * D, K, NULL, 0, ids, sc, &n, &e) == NC_OK, "%s",
              e.msg);
    int after = count_threads();
    CHECK(before > 0 && after == before, "threads %d -> %d across single-query searches",
          before, after);
    /* control: a real 4-thread team is visible to this measure */
    int team = 0;
#pragma omp parallel num_threads(4)
    {
#pragma omp atomic
        team++;
    }
    int control = count_threads();
    CHECK(team != 4 || control > after, "a 4-thread team did not show: %d -> %d", after,
          control);
    nc_index_free(ix);
    free(x);
}

/* Compares nc_index_search with the reference for nq queries and the given exclusions. */
static void check_against_ref(const nc_index *ix, const float *x, int64_t n, int d, int k,
                              const int32_t *ex, size_t n_ex, int nq, int exact) {
    int32_t *ids = malloc((size_t)k * sizeof *ids), *rids = malloc((size_t)k * sizeof *rids);
    float *sc = malloc((size_t)k * sizeof *sc);
    double *rsc = malloc((size_t)k * sizeof *rsc);
    nc_err e;
    for (int qi = 0; qi < nq; qi++) {
        const float *q = x + (size_t)(qi * 37 % n) * d;
        int32_t got = -1;
        int rc = nc_index_search(ix, q, k, ex, n_ex, ids, sc, &got, &e);
        int want = ref_topk(x, n, d, q, k, ex, n_ex, rids, rsc);
        CHECK(rc == NC_OK && got == want, "query %d: rc %d, %d results, want %d", qi, rc,
              (int)got, want);
        int mism = 0;
        for (int i = 0; rc == NC_OK && i < got && i < want; i++) {
            if (exact ? (ids[i] != rids[i] || sc[i] != (float)rsc[i])
                      : fabs(sc[i] - rsc[i]) > 1e-5 * (1 + fabs(rsc[i])))
                mism++;
            for (size_t j = 0; j < n_ex; j++) mism += ids[i] == ex[j];
        }
        CHECK(mism == 0, "query %d: %d mismatches (first got %d %g, want %d %g)", qi, mism,
              (int)ids[0], sc[0], (int)rids[0], rsc[0]);
    }
    free(ids), free(rids), free(sc), free(rsc);
}

static void test_topk_matches_brute_force(void) {
    enum { N = 2500, D = 12 }; /* 2500 rows: three scan blocks, the last one partial */
    float *xi = int_rows(N, D, 2), *xf = rand_rows(N, D, 3);
    nc_index *a = NULL, *b = NULL;
    nc_err e;
    CHECK(nc_index_build(xi, N, D, &a, &e) == NC_OK, "build: %s", e.msg);
    CHECK(nc_index_build(xf, N, D, &b, &e) == NC_OK, "build: %s", e.msg);
    CHECK(nc_index_size(a) == N && nc_index_dim(a) == D, "size/dim");
    if (a && b) {
        check_against_ref(a, xi, N, D, 10, NULL, 0, 25, 1);   /* ties by lower id */
        check_against_ref(a, xi, N, D, 300, NULL, 0, 5, 1);   /* k beyond a block of ties */
        check_against_ref(b, xf, N, D, 10, NULL, 0, 25, 0);
        CHECK(nc_index_row(a, 17) && !memcmp(nc_index_row(a, 17), xi + 17 * D, D * 4), "row");
        CHECK(!nc_index_row(a, N) && !nc_index_row(a, -1), "row out of range");
    }
    nc_index_free(a);
    nc_index_free(b);
    free(xi), free(xf);
}

/* The single-query kernel sums 16 lanes and then a tail: dimensions below, at and around
 * multiples of 16 (the served models use d = 64), with exclusions, against the double-precision
 * reference; exactly on integer data (ties by lower id), within rounding on random floats. */
static void test_kernel_dims_match_brute_force(void) {
    static const int dims[] = {1, 7, 15, 16, 17, 64, 67, 130};
    enum { N = 1500 };
    int32_t ex[40];
    for (int i = 0; i < 40; i++) ex[i] = (i * 97 + 5) % (N + 10) - 3; /* some out of range */
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++) {
        int d = dims[di];
        float *xi = int_rows(N, d, 10 + di), *xf = rand_rows(N, d, 20 + di);
        nc_index *a = NULL, *b = NULL;
        nc_err e;
        CHECK(nc_index_build(xi, N, d, &a, &e) == NC_OK, "d %d build: %s", d, e.msg);
        CHECK(nc_index_build(xf, N, d, &b, &e) == NC_OK, "d %d build: %s", d, e.msg);
        if (a && b) {
            check_against_ref(a, xi, N, d, 10, ex, 40, 8, 1);
            check_against_ref(a, xi, N, d, 50, NULL, 0, 3, 1);
            check_against_ref(b, xf, N, d, 10, ex, 40, 8, 0);
        }
        nc_index_free(a);
        nc_index_free(b);
        free(xi), free(xf);
    }
}

static void test_exclusions(void) {
    enum { N = 1500, D = 8, K = 20 };
    float *x = int_rows(N, D, 4);
    nc_index *ix = NULL;
    nc_err e;
    CHECK(nc_index_build(x, N, D, &ix, &e) == NC_OK, "build: %s", e.msg);
    if (!ix) return free(x);
    int32_t top[K], got = 0;
    float sc[K];
    CHECK(nc_index_search(ix, x, K, NULL, 0, top, sc, &got, &e) == NC_OK && got == K, "plain");
    /* the 8 best, one twice, plus ids outside the catalogue, in scrambled order */
    int32_t ex[] = {top[3], -1, top[0], N, top[7], top[1], top[0], top[2], 1 << 30,
                    top[6], top[4], top[5]};
    check_against_ref(ix, x, N, D, K, ex, sizeof ex / sizeof *ex, 10, 1);
    int32_t ids[K];
    CHECK(nc_index_search(ix, x, K, ex, sizeof ex / sizeof *ex, ids, sc, &got, &e) == NC_OK,
          "%s", e.msg);
    CHECK(got == K, "still %d results with exclusions, got %d", K, (int)got);
    CHECK(ids[0] == top[8], "first after exclusions is the old 9th (%d), got %d", (int)top[8],
          (int)ids[0]);
    nc_index_free(ix);
    free(x);
}

static void test_k_beyond_catalogue_and_empty(void) {
    enum { N = 7, D = 3 };
    float *x = int_rows(N, D, 5);
    nc_index *ix = NULL, *empty = NULL;
    nc_err e;
    CHECK(nc_index_build(x, N, D, &ix, &e) == NC_OK, "build: %s", e.msg);
    CHECK(nc_index_build(NULL, 0, D, &empty, &e) == NC_OK, "empty build: %s", e.msg);
    if (!ix || !empty) return nc_index_free(ix), nc_index_free(empty), free(x);
    check_against_ref(ix, x, N, D, 20, NULL, 0, 7, 1);
    int32_t ex[] = {2, 5, 5, 0}, ids[20], got = -1;
    float sc[20];
    check_against_ref(ix, x, N, D, 20, ex, 4, 7, 1);
    CHECK(nc_index_search(ix, x, 20, ex, 4, ids, sc, &got, &e) == NC_OK && got == 4,
          "7 rows minus 3 excluded: got %d", (int)got);
    CHECK(nc_index_search(ix, x, 0, NULL, 0, NULL, NULL, &got, &e) == NC_OK && got == 0, "k 0");
    CHECK(nc_index_search(empty, x, 5, NULL, 0, ids, sc, &got, &e) == NC_OK && got == 0,
          "empty catalogue");
    CHECK(nc_index_search(ix, x, -1, NULL, 0, ids, sc, &got, &e) == NC_EINVAL, "k < 0");
    nc_index *bad = NULL;
    CHECK(nc_index_build(x, N, 0, &bad, &e) == NC_EINVAL && !bad && strstr(e.msg, "d = 0"),
          "d = 0 refused: %s", e.msg);
    CHECK(nc_index_build(x, -1, D, &bad, &e) == NC_EINVAL && !bad, "n < 0 refused");
    nc_index_free(ix);
    nc_index_free(empty);
    free(x);
}

/* The batch path (faiss IndexFlatIP::search) against the single-query path. Integer data, so
 * scores are exact: the score sequence must be identical and every id must really have its
 * score, be allowed and appear once; rows tied at the cut may differ (see index.h). */
static void check_batch_row(const float *x, int d, const float *q, const int32_t *ids,
                            const float *sc, int32_t n, const int32_t *sids, const float *ssc,
                            int32_t sn, const int32_t *ex, size_t n_ex, int k, int row) {
    int bad = n != sn;
    for (int i = 0; !bad && i < n; i++) {
        double s = 0;
        for (int j = 0; j < d; j++) s += (double)x[(size_t)ids[i] * d + j] * q[j];
        bad |= sc[i] != ssc[i] || s != sc[i];
        bad |= i > 0 && sc[i] == sc[i - 1] && ids[i] <= ids[i - 1]; /* ties by id */
        for (int j = 0; j < i; j++) bad |= ids[j] == ids[i];
        for (size_t j = 0; j < n_ex; j++) bad |= ids[i] == ex[j];
    }
    for (int i = n; i < k; i++) bad |= ids[i] != -1;
    CHECK(!bad, "batch row %d differs from the single-query answer (%d vs %d results, first "
          "%d %g vs %d %g)", row, (int)n, (int)sn, (int)ids[0], sc[0], (int)sids[0], ssc[0]);
}

static void test_batch_matches_single(void) {
    enum { N = 900, D = 10, NQ = 40, K = 15 };
    float *x = int_rows(N, D, 6);
    nc_index *ix = NULL;
    nc_err e;
    CHECK(nc_index_build(x, N, D, &ix, &e) == NC_OK, "build: %s", e.msg);
    if (!ix) return free(x);
    static int32_t ids[NQ * K], sids[K], excl[NQ * 3], n[NQ];
    static float sc[NQ * K], ssc[K];
    int64_t off[NQ + 1];
    for (int i = 0; i <= NQ; i++) off[i] = i < 20 ? 0 : 3 * (i - 20); /* half without */
    for (int i = 0; i < NQ * 3; i++) excl[i] = (i * 131) % N;
    int rc = nc_index_search_batch(ix, x, NQ, K, off, excl, ids, sc, n, &e);
    CHECK(rc == NC_OK, "batch rc %d: %s", rc, e.msg);
    for (int i = 0; rc == NC_OK && i < NQ; i++) {
        int32_t sn = 0;
        size_t n_ex = (size_t)(off[i + 1] - off[i]);
        nc_index_search(ix, x + i * D, K, excl + off[i], n_ex, sids, ssc, &sn, &e);
        check_batch_row(x, D, x + i * D, ids + i * K, sc + i * K, n[i], sids, ssc, sn,
                        excl + off[i], n_ex, K, i);
    }
    /* fewer rows than k: padded */
    nc_index *small = NULL;
    CHECK(nc_index_build(x, 4, D, &small, &e) == NC_OK, "small build");
    rc = small ? nc_index_search_batch(small, x, 2, K, NULL, NULL, ids, sc, n, &e) : -1;
    CHECK(rc == NC_OK && n[0] == 4 && n[1] == 4 && ids[4] == -1 && ids[K + 14] == -1,
          "padding: rc %d n %d %d", rc, (int)n[0], (int)n[1]);
    int64_t badoff[3] = {0, 2, 1};
    CHECK(nc_index_search_batch(ix, x, 2, K, badoff, excl, ids, sc, n, &e) == NC_EINVAL,
          "decreasing offsets refused");
    nc_index_free(small);
    nc_index_free(ix);
    free(x);
}

typedef struct worker {
    const nc_index *ix;
    const float *x;
    int d, nq, k, tid;
    int32_t *ids; /* nq x k */
    float *sc;
    int rc;
} worker;

/* Each thread runs every query, with exclusions derived from the query number, in its own
 * order, so threads hit the same rows at different times. */
static void *worker_run(void *arg) {
    worker *w = arg;
    nc_err e;
    for (int j = 0; j < w->nq; j++) {
        int qi = (j * 7 + w->tid * 13) % w->nq;
        int32_t ex[3] = {qi, qi * 3, qi * 5}, got;
        int rc = nc_index_search(w->ix, w->x + (size_t)qi * w->d, w->k, ex, 3,
                                 w->ids + (size_t)qi * w->k, w->sc + (size_t)qi * w->k, &got,
                                 &e);
        if (rc || got != w->k) w->rc = rc ? rc : -100;
    }
    return NULL;
}

static void test_concurrent_searches_agree(void) {
    enum { N = 3000, D = 16, NQ = 60, K = 12, T = 4 };
    float *x = rand_rows(N, D, 8);
    nc_index *ix = NULL;
    nc_err e;
    CHECK(nc_index_build(x, N, D, &ix, &e) == NC_OK, "build: %s", e.msg);
    if (!ix) return free(x);
    worker w[T + 1];
    pthread_t th[T];
    for (int t = 0; t <= T; t++) {
        w[t] = (worker){ix, x, D, NQ, K, t, calloc(NQ * K, 4), calloc(NQ * K, 4), 0};
    }
    worker_run(&w[T]); /* the single-threaded answer */
    for (int t = 0; t < T; t++)
        CHECK(pthread_create(&th[t], NULL, worker_run, &w[t]) == 0, "thread %d", t);
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    for (int t = 0; t <= T; t++) {
        CHECK(w[t].rc == 0, "thread %d rc %d", t, w[t].rc);
        CHECK(!memcmp(w[t].ids, w[T].ids, NQ * K * 4) && !memcmp(w[t].sc, w[T].sc, NQ * K * 4),
              "thread %d answers differ from the single-threaded ones", t);
        free(w[t].ids), free(w[t].sc);
    }
    nc_index_free(ix);
    free(x);
}

int main(void) {
    RUN(test_single_query_opens_no_openmp_team); /* first: see its comment */
    RUN(test_topk_matches_brute_force);
    RUN(test_kernel_dims_match_brute_force);
    RUN(test_exclusions);
    RUN(test_k_beyond_catalogue_and_empty);
    RUN(test_batch_matches_single);
    RUN(test_concurrent_searches_agree);
    return TEST_REPORT();
}
