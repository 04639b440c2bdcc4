/* test_rec_cache.c - the known users' candidate cache (server/model/rec_cache.h): a kept list
 * answers exactly what a new scan of the index answers (ids, order and scores, ties
 * included) whenever it answers at all, and says so when it cannot; deletions, the budget,
 * the length limit and racing fillers. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "model/rec_cache.h"
#include "testhelp.h"

#define N_ITEMS 300
#define DIM 8

/* Small integer coordinates: many exactly tied scores, so the tie rule is exercised. */
static void fill_int(float *x, size_t n, nc_rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((int)(nc_rng_next(r) % 7) - 3);
}

/* n distinct-or-not random item ids appended to ids. */
static size_t add_random(int32_t *ids, size_t n, size_t more, nc_rng *r) {
    for (size_t i = 0; i < more; i++) ids[n++] = (int32_t)(nc_rng_next(r) % N_ITEMS);
    return n;
}

/* Scans for u's list (want + 32 candidates, leaving out the first n_seen ids) and keeps it
 * (in place of u's list when replace). */
static int keep(rec_cache *c, const nc_index *ix, int32_t u, int64_t del, const float *q, int32_t want,
                const int32_t *seen, size_t n_seen, int replace) {
    int32_t ids[N_ITEMS], got = 0;
    float sc[N_ITEMS];
    nc_err e;
    int32_t cap = want + 32;
    if (nc_index_search(ix, q, cap, seen, n_seen, ids, sc, &got, &e) != NC_OK) return -1;
    return rec_cache_put(c, u, del, ids, sc, got, got < cap, replace);
}

/* Random users, histories that grow after the list was kept, random exclude= lists and k:
 * every answer the cache gives equals the scan's; a list that runs short says so (-2), and
 * the list that replaces it (a scan leaving out the history as it is now) answers equally. */
static void test_answers_equal_a_scan(void) {
    nc_rng r;
    nc_rng_seed(&r, 7);
    float *items = malloc(sizeof(float) * N_ITEMS * DIM), q[DIM];
    fill_int(items, N_ITEMS * DIM, &r);
    nc_index *ix = NULL;
    nc_err e;
    CHECK(nc_index_build(items, N_ITEMS, DIM, &ix, &e) == NC_OK, "%s", e.msg);
    rec_cache *c = rec_cache_create(60, 1 << 20, NULL);
    CHECK(c != NULL, "cache");
    int hits = 0, short_lists = 0;
    for (int32_t u = 0; ix && c && u < 60; u++) {
        fill_int(q, DIM, &r);
        int32_t excl[N_ITEMS * 2];
        size_t n_seen = add_random(excl, 0, nc_rng_next(&r) % 60, &r);
        CHECK(rec_cache_answer(c, u, 5, excl, n_seen, 10, NULL, NULL, NULL) == -1, "user %d: no list yet", u);
        CHECK(keep(c, ix, u, 5, q, 10, excl, n_seen, 0) == 1, "user %d: list kept", u);
        for (int round = 0; round < 8; round++) {
            size_t n = add_random(excl, n_seen, nc_rng_next(&r) % 25, &r); /* the history since */
            n_seen = n;
            n = add_random(excl, n, nc_rng_next(&r) % 10, &r);              /* exclude= */
            int32_t k = 1 + (int32_t)(nc_rng_next(&r) % 40);
            int32_t got_ids[N_ITEMS], want_ids[N_ITEMS], got_n = -1, want_n = -1;
            float got_sc[N_ITEMS], want_sc[N_ITEMS];
            int rc = rec_cache_answer(c, u, 5, excl, n, k, got_ids, got_sc, &got_n);
            CHECK(nc_index_search(ix, q, k, excl, n, want_ids, want_sc, &want_n, &e) == NC_OK, "%s", e.msg);
            if (rc == -2) { /* run short: replaced by a scan leaving out the history now */
                short_lists++;
                CHECK(keep(c, ix, u, 5, q, k + (int32_t)(n - n_seen), excl, n_seen, 1) == 1, "user %d: refilled", u);
                rc = rec_cache_answer(c, u, 5, excl, n, k, got_ids, got_sc, &got_n);
                CHECK(rc == 1, "user %d round %d: the new list answers (%d)", u, round, rc);
            }
            if (rc == 1) {
                hits++;
                CHECK(got_n == want_n, "user %d round %d: %d results, the scan %d", u, round, got_n, want_n);
                for (int32_t i = 0; i < got_n && i < want_n; i++)
                    CHECK(got_ids[i] == want_ids[i] && got_sc[i] == want_sc[i],
                          "user %d round %d rank %d: %d (%g), the scan %d (%g)", u, round, i, got_ids[i],
                          got_sc[i], want_ids[i], want_sc[i]);
            } else {
                CHECK(0, "user %d round %d: a kept list answers or asks for a refill (%d)", u, round, rc);
            }
        }
        n_seen = 0;
    }
    CHECK(hits == 480, "every request answered from a list (%d of 480)", hits);
    CHECK(short_lists > 0, "some lists ran short (k up to 40 against 42 kept) and were refilled");
    printf("  %d answers from lists, %d of them after a refill\n", hits, short_lists);
    rec_cache_free(c);
    nc_index_free(ix);
    free(items);
}

/* A scan that returned fewer than asked holds every candidate: it answers any k, even with
 * fewer results than k. */
static void test_complete_list(void) {
    float items[20 * 2], q[2] = {1, 0.5f};
    for (int i = 0; i < 20; i++) items[2 * i] = (float)i, items[2 * i + 1] = (float)(i % 3);
    nc_index *ix = NULL;
    nc_err e;
    CHECK(nc_index_build(items, 20, 2, &ix, &e) == NC_OK, "%s", e.msg);
    rec_cache *c = rec_cache_create(1, 4096, NULL);
    int32_t seen[] = {19, 3, 7, 7}, excl[] = {19, 3, 7, 7, 18, 0};
    int32_t ids[20], got = 0, want_ids[20], want_n = 0;
    float sc[20], want_sc[20];
    CHECK(keep(c, ix, 0, 0, q, 10, seen, 4, 0) == 1, "kept");
    CHECK(rec_cache_answer(c, 0, 0, excl, 6, 20, ids, sc, &got) == 1, "a complete list answers k = 20");
    CHECK(nc_index_search(ix, q, 20, excl, 6, want_ids, want_sc, &want_n, &e) == NC_OK, "%s", e.msg);
    CHECK(got == 15 && want_n == 15, "15 items left: got %d, the scan %d", got, want_n);
    CHECK(!memcmp(ids, want_ids, sizeof(int32_t) * 15) && !memcmp(sc, want_sc, sizeof(float) * 15), "same as the scan");
    rec_cache_free(c);
    nc_index_free(ix);
}

/* A list made before the user's latest deletion is not used; neither is a cache that is off. */
static void test_deleted_and_absent(void) {
    int32_t ids[3] = {2, 0, 1}, out[3], n = 0;
    float sc[3] = {3, 2, 1}, osc[3];
    rec_cache *c = rec_cache_create(2, 4096, NULL);
    CHECK(rec_cache_put(c, 1, 100, ids, sc, 3, 1, 0) == 1, "kept");
    CHECK(rec_cache_answer(c, 1, 100, NULL, 0, 2, out, osc, &n) == 1 && n == 2 && out[0] == 2 && out[1] == 0,
          "same deletion: answered (%d: %d %d)", n, out[0], out[1]);
    CHECK(rec_cache_answer(c, 1, 101, NULL, 0, 2, out, osc, &n) == 0, "a later deletion: not used");
    CHECK(rec_cache_answer(c, 2, 100, NULL, 0, 2, out, osc, &n) == 0, "user out of range");
    CHECK(rec_cache_answer(NULL, 1, 100, NULL, 0, 2, out, osc, &n) == 0, "no cache");
    CHECK(rec_cache_put(NULL, 1, 100, ids, sc, 3, 1, 0) == 0, "no cache: nothing kept");
    CHECK(rec_cache_create(5, 0, NULL) == NULL, "budget 0 = off");
    rec_cache_free(c);
}

/* A list that runs short is replaced on request; the old one stays counted (a reader may
 * hold it) and is freed with the cache; without replace a kept list stays. */
static void test_refill(void) {
    int32_t ids[4] = {7, 3, 9, 1}, out[4], n = 0;
    float sc[4] = {4, 3, 2, 1}, osc[4];
    int32_t seen[] = {7};
    rec_cache *c = rec_cache_create(1, 4096, NULL);
    CHECK(rec_cache_put(c, 0, 0, ids, sc, 2, 0, 0) == 1, "kept: 7, 3 of a longer ranking");
    size_t one = rec_cache_bytes(c);
    CHECK(rec_cache_answer(c, 0, 0, seen, 1, 2, out, osc, &n) == -2, "7 seen since: 2 asked, 1 left: run short");
    CHECK(rec_cache_put(c, 0, 0, ids + 1, sc + 1, 3, 0, 0) == 1 && rec_cache_len(c, 0) == 2, "without replace it stays");
    CHECK(rec_cache_put(c, 0, 0, ids + 1, sc + 1, 3, 0, 1) == 1 && rec_cache_len(c, 0) == 3, "replaced");
    CHECK(rec_cache_answer(c, 0, 0, seen, 1, 2, out, osc, &n) == 1 && n == 2 && out[0] == 3 && out[1] == 9,
          "the new list answers: %d %d", out[0], out[1]);
    CHECK(rec_cache_bytes(c) > one + 3 * 16, "the retired list still counts (%zu bytes)", rec_cache_bytes(c));
    rec_cache_free(c); /* frees the retired list too (ASan and valgrind would see a leak) */
}

/* A list made for a request is used; a warm-up's is not until it answers one. */
static void test_used(void) {
    int32_t ids[2] = {1, 2}, out[2], n = 0;
    float sc[2] = {2, 1}, osc[2];
    rec_cache *c = rec_cache_create(3, 4096, NULL);
    CHECK(rec_cache_put(c, 0, 0, ids, sc, 2, 1, 0) == 1 && rec_cache_used(c, 0), "made for a request: used");
    CHECK(rec_cache_put(c, 1, 0, ids, sc, 2, 1, REC_PUT_WARM) == 1 && !rec_cache_used(c, 1), "a warm-up's: not used");
    CHECK(rec_cache_answer(c, 1, 0, NULL, 0, 1, out, osc, &n) == 1 && rec_cache_used(c, 1), "used once it answers");
    CHECK(!rec_cache_used(c, 2) && !rec_cache_used(c, 9) && !rec_cache_used(NULL, 0), "no list, out of range, no cache");
    rec_cache_free(c);
}

/* The bytes one kept list of n candidates counts against the budget. */
static size_t list_bytes(int32_t n) {
    int32_t ids[REC_CACHE_MAX_LIST];
    float sc[REC_CACHE_MAX_LIST];
    for (int32_t i = 0; i < n; i++) ids[i] = i, sc[i] = (float)(n - i);
    rec_cache *c = rec_cache_create(1, 1 << 20, NULL);
    rec_cache_put(c, 0, 0, ids, sc, n, 0, 0);
    size_t b = rec_cache_bytes(c);
    rec_cache_free(c);
    return b;
}

/* The budget bounds the bytes kept: a list that does not fit evicts another; a warm-up's list
 * stops at the budget instead. Lists longer than REC_CACHE_MAX_LIST are refused. */
static void test_budget_and_length(void) {
    int32_t ids[REC_CACHE_MAX_LIST + 1];
    float sc[REC_CACHE_MAX_LIST + 1];
    for (int i = 0; i <= REC_CACHE_MAX_LIST; i++) ids[i] = i, sc[i] = (float)-i;
    rec_cache *c = rec_cache_create(10, 600, NULL);
    CHECK(rec_cache_put(c, 0, 0, ids, sc, 20, 0, 0) == 1, "the first list fits");
    size_t one = rec_cache_bytes(c);
    CHECK(one >= 20 * 16 && one <= 600 && 2 * one > 600, "bytes held %zu: room for one list", one);
    CHECK(rec_cache_put(c, 1, 0, ids, sc, 20, 0, REC_PUT_WARM) == 0 && rec_cache_len(c, 0) == 20,
          "a warm-up's list does not evict");
    CHECK(rec_cache_answer(c, 1, 0, NULL, 0, 1, NULL, NULL, NULL) == -1, "no list: a fill is offered");
    CHECK(rec_cache_put(c, 1, 0, ids, sc, 20, 0, 0) == 1 && rec_cache_len(c, 1) == 20 && rec_cache_len(c, 0) == 0,
          "the second evicts the first");
    CHECK(rec_cache_bytes(c) == one, "bytes: one list (%zu; the evicted one freed, no reader held it)",
          rec_cache_bytes(c));
    CHECK(rec_cache_put(c, 2, 0, ids, sc, 200, 0, 0) == 0 && rec_cache_len(c, 1) == 20,
          "a list larger than the whole budget is refused and evicts nothing");
    rec_cache_free(c);
    c = rec_cache_create(1, 1 << 20, NULL);
    CHECK(rec_cache_put(c, 0, 0, ids, sc, REC_CACHE_MAX_LIST + 1, 0, 0) == 0, "a list over the limit is refused");
    CHECK(rec_cache_put(c, 0, 0, ids, sc, REC_CACHE_MAX_LIST, 0, 0) == 1, "one at the limit is kept");
    rec_cache_free(c);
}

/* The clock: every list made for a request starts marked; the hand clears marks and evicts the
 * first unmarked list it meets, so a list that answered since the hand passed stays. */
static void test_clock_eviction(void) {
    int32_t ids[4] = {1, 2, 3, 4}, out[4], n = 0;
    float sc[4] = {4, 3, 2, 1}, osc[4];
    size_t one = list_bytes(4);
    atomic_uint_fast64_t evicted;
    atomic_init(&evicted, 0);
    rec_cache *c = rec_cache_create(8, 4 * one, &evicted);
    for (int32_t u = 0; u < 4; u++) CHECK(rec_cache_put(c, u, 0, ids, sc, 4, 0, 0) == 1, "user %d kept", u);
    CHECK(rec_cache_put(c, 4, 0, ids, sc, 4, 0, 0) == 1 && rec_cache_len(c, 0) == 0,
          "all marked: the hand clears 0-3, comes round and evicts 0");
    CHECK(rec_cache_answer(c, 1, 0, NULL, 0, 2, out, osc, &n) == 1, "1 answers: marked again");
    CHECK(rec_cache_put(c, 5, 0, ids, sc, 4, 0, 0) == 1 && rec_cache_len(c, 1) == 4 && rec_cache_len(c, 2) == 0,
          "1 keeps its list (second chance), 2 goes");
    int kept = 0;
    for (int32_t u = 0; u < 8; u++) kept += rec_cache_len(c, u) > 0;
    CHECK(kept == 4 && rec_cache_len(c, 3) && rec_cache_len(c, 4) && rec_cache_len(c, 5), "4 lists: 1, 3, 4, 5 (%d)",
          kept);
    CHECK(rec_cache_bytes(c) == 4 * one, "bytes %zu = 4 lists", rec_cache_bytes(c));
    CHECK(atomic_load(&evicted) == 2, "2 evictions counted (%llu)", (unsigned long long)atomic_load(&evicted));
    rec_cache_free(c);
}

/* While the cache is full a user's first miss is only scanned (0), the second earns a list
 * (-1); the doorkeeper's bits are cleared once more users were turned away than there are
 * lists, so a user who comes back only after that is turned away again. With room, the first
 * miss already earns a list. */
static void test_admission_when_full(void) {
    int32_t ids[4] = {1, 2, 3, 4};
    float sc[4] = {4, 3, 2, 1};
    rec_cache *c = rec_cache_create(10, 2 * list_bytes(4), NULL);
    CHECK(rec_cache_answer(c, 0, 0, NULL, 0, 1, NULL, NULL, NULL) == -1, "room: the first miss earns a list");
    CHECK(rec_cache_put(c, 0, 0, ids, sc, 4, 0, 0) == 1 && rec_cache_put(c, 1, 0, ids, sc, 4, 0, 0) == 1, "full now");
    CHECK(rec_cache_answer(c, 2, 0, NULL, 0, 1, NULL, NULL, NULL) == 0, "full: user 2's first miss is only scanned");
    CHECK(rec_cache_answer(c, 2, 0, NULL, 0, 1, NULL, NULL, NULL) == -1, "user 2's second miss earns a list");
    CHECK(rec_cache_put(c, 2, 0, ids, sc, 4, 0, 0) == 1 && rec_cache_len(c, 2) == 4, "kept, evicting another");
    CHECK(rec_cache_answer(c, 3, 0, NULL, 0, 1, NULL, NULL, NULL) == 0 &&
              rec_cache_answer(c, 4, 0, NULL, 0, 1, NULL, NULL, NULL) == 0,
          "users 3 and 4 turned away: 3 bits set since the last clearing, more than the 2 lists: cleared");
    CHECK(rec_cache_answer(c, 3, 0, NULL, 0, 1, NULL, NULL, NULL) == 0, "so 3 is a first miss again");
    CHECK(rec_cache_answer(c, 3, 0, NULL, 0, 1, NULL, NULL, NULL) == -1, "and 3's next miss earns a list");
    rec_cache_free(c);
}

typedef struct racer {
    rec_cache *c;
    int seed;
} racer;

/* Keeps a list for every user, each thread with other contents. */
static void *race(void *p) {
    racer *r = p;
    int32_t ids[8];
    float sc[8];
    for (int i = 0; i < 8; i++) ids[i] = r->seed * 8 + i, sc[i] = (float)(8 - i);
    for (int32_t u = 0; u < 500; u++) rec_cache_put(r->c, u, 0, ids, sc, 8, 0, 0);
    return NULL;
}

/* Racing fillers: every user ends with exactly one whole list, and the bytes count it once. */
static void test_racing_fills(void) {
    rec_cache *c = rec_cache_create(500, 1 << 20, NULL);
    pthread_t t[4];
    racer r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (racer){c, i};
        pthread_create(&t[i], NULL, race, &r[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    int32_t out[8], n = 0, bad = 0;
    float osc[8];
    for (int32_t u = 0; u < 500; u++) {
        if (rec_cache_answer(c, u, 0, NULL, 0, 8, out, osc, &n) != 1 || n != 8) {
            bad++;
            continue;
        }
        for (int i = 1; i < 8; i++) bad += out[i] != out[0] + i; /* all from one thread's list */
    }
    CHECK(bad == 0, "%d users with a missing or mixed list", bad);
    CHECK(rec_cache_bytes(c) == 500 * list_bytes(8), "bytes %zu = 500 lists of %zu", rec_cache_bytes(c),
          list_bytes(8));
    rec_cache_free(c);
}

typedef struct reader {
    rec_cache *c;
    atomic_int *stop;
    int32_t n_users;
    int by_user;
    int bad, reads;
} reader;

/* Answers for every user until told to stop: each answer must be one whole list, and with
 * by_user a list of that user's (its first id is u * 8 modulo the rounds). */
static void *read_loop(void *p) {
    reader *r = p;
    int32_t out[8], n = 0;
    float osc[8];
    while (!atomic_load(r->stop) || r->reads < 2000) {
        for (int32_t u = 0; u < r->n_users; u++, r->reads++) {
            if (rec_cache_answer(r->c, u, 0, NULL, 0, 8, out, osc, &n) != 1) continue;
            for (int i = 1; i < 8; i++) r->bad += out[i] != out[0] + i;
            r->bad += r->by_user && out[0] / 8 % r->n_users != u;
        }
        if (r->reads > 5000000) break; /* bounded whatever the scheduler does */
    }
    return NULL;
}

/* Replacing lists while a reader answers from them: every answer is a whole list (a replaced
 * list is freed only once no reader can hold it: the ASan and TSan runs check that), and the
 * replaced lists do not pile up. */
static void test_replace_under_readers(void) {
    rec_cache *c = rec_cache_create(50, 1 << 22, NULL);
    atomic_int stop;
    atomic_init(&stop, 0);
    reader rd = {c, &stop, 50, 0, 0, 0};
    int32_t ids[8];
    float sc[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    for (int32_t u = 0; u < 50; u++) {
        for (int i = 0; i < 8; i++) ids[i] = i;
        rec_cache_put(c, u, 0, ids, sc, 8, 0, 0);
    }
    pthread_t t;
    pthread_create(&t, NULL, read_loop, &rd);
    for (int round = 1; round <= 40; round++)
        for (int32_t u = 0; u < 50; u++) {
            for (int i = 0; i < 8; i++) ids[i] = round * 8 + i;
            CHECK(rec_cache_put(c, u, 0, ids, sc, 8, 0, 1) == 1, "replace round %d user %d", round, u);
        }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    int32_t out[8], n = 0;
    float osc[8];
    CHECK(rec_cache_answer(c, 7, 0, NULL, 0, 8, out, osc, &n) == 1 && out[0] == 40 * 8, "the last list is in place");
    CHECK(rd.bad == 0, "%d mixed answers in %d reads", rd.bad, rd.reads);
    for (int i = 0; i < 8; i++) ids[i] = i;
    CHECK(rec_cache_put(c, 0, 0, ids, sc, 8, 0, 1) == 1, "one more, with no reader left");
    CHECK(rec_cache_bytes(c) == 51 * list_bytes(8),
          "%zu bytes: the 50 lists and the one just replaced, not the 2,000 replaced before", rec_cache_bytes(c));
    rec_cache_free(c);
}

typedef struct filler {
    rec_cache *c;
    int32_t n_users;
    int rounds;
    size_t max_bytes; /* the most rec_cache_bytes said after a put */
} filler;

/* Keeps lists for users in turn, user u's ids starting at (round * n_users + u) * 8. */
static void *fill_loop(void *p) {
    filler *f = p;
    int32_t ids[8];
    float sc[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    for (int round = 0; round < f->rounds; round++)
        for (int32_t u = 0; u < f->n_users; u++) {
            for (int i = 0; i < 8; i++) ids[i] = (round * f->n_users + u) * 8 + i;
            rec_cache_put(f->c, u, 0, ids, sc, 8, 0, round % 2 ? REC_PUT_REPLACE : 0);
            size_t b = rec_cache_bytes(f->c);
            if (b > f->max_bytes) f->max_bytes = b;
        }
    return NULL;
}

/* Evictions while two readers answer: the budget holds a tenth of the users' lists, two
 * fillers keep making lists for all of them; every answer is a whole list of the user asked
 * about, the bytes never exceed the budget, and (ASan, TSan) no reader touches a freed list. */
static void test_evict_under_readers(void) {
    size_t budget = 20 * list_bytes(8);
    rec_cache *c = rec_cache_create(200, budget, NULL);
    atomic_int stop;
    atomic_init(&stop, 0);
    reader rd[2] = {{c, &stop, 200, 1, 0, 0}, {c, &stop, 200, 1, 0, 0}};
    filler fl[2] = {{c, 200, 60, 0}, {c, 200, 60, 0}};
    pthread_t tr[2], tf[2];
    for (int i = 0; i < 2; i++) pthread_create(&tr[i], NULL, read_loop, &rd[i]);
    for (int i = 0; i < 2; i++) pthread_create(&tf[i], NULL, fill_loop, &fl[i]);
    for (int i = 0; i < 2; i++) pthread_join(tf[i], NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(tr[i], NULL);
    CHECK(rd[0].bad == 0 && rd[1].bad == 0, "%d and %d wrong answers in %d and %d reads", rd[0].bad, rd[1].bad,
          rd[0].reads, rd[1].reads);
    CHECK(fl[0].max_bytes <= budget && fl[1].max_bytes <= budget && rec_cache_bytes(c) <= budget,
          "bytes %zu / %zu / %zu within the budget %zu", fl[0].max_bytes, fl[1].max_bytes, rec_cache_bytes(c), budget);
    int kept = 0;
    for (int32_t u = 0; u < 200; u++) kept += rec_cache_len(c, u) > 0;
    CHECK(kept >= 10 && kept <= 20, "%d lists kept at the end (room for 20)", kept);
    rec_cache_free(c);
}

int main(void) {
    RUN(test_answers_equal_a_scan);
    RUN(test_complete_list);
    RUN(test_deleted_and_absent);
    RUN(test_refill);
    RUN(test_used);
    RUN(test_budget_and_length);
    RUN(test_clock_eviction);
    RUN(test_admission_when_full);
    RUN(test_racing_fills);
    RUN(test_replace_under_readers);
    RUN(test_evict_under_readers);
    return TEST_REPORT();
}
