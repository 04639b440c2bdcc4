/* test_concurrency_retrain.c - the background retrain against the request path, in one process
 * and without HTTP (server/model/retrain.h, live_model.h, store.h, prom.h): while reader threads
 * take the served model, search it, read the retrain status and render the metrics, and writer
 * threads append interactions, the retrain thread trains and swaps three times on request.
 * Checks: every model a reader held was whole and each reader saw versions only grow; every
 * append committed and is counted by the store; the swaps are counted; the thread stops and is
 * freed while nothing uses it. `make tsan` runs it under ThreadSanitizer, where the point is
 * the race report; the checks hold on any build. Waits are bounded (a hung retrain fails). */
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/routes.h"
#include "model/retrain.h"
#include "synth.h"
#include "testhelp.h"

#define N_READERS 2
#define N_WRITERS 2
#define MAX_APPENDS 300 /* per writer thread */

typedef struct shared {
    srv_app *a;
    atomic_int stop;
} shared;

typedef struct reader {
    shared *sh;
    long reads;
    int bad;              /* torn or inconsistent models seen */
    int went_back;        /* a version lower than one seen before */
} reader;

typedef struct writer {
    shared *sh;
    int id, appends, failures;
    int64_t rows;
    nc_err e;
} writer;

/* Paces the writers and the polling of the main thread, so they do not spin. */
static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A held model is whole when its index, id maps and embeddings agree and a search works. */
static int model_whole(const live_model *m) {
    int32_t ids[5], n = 0;
    float sc[5];
    nc_err e;
    if (nc_index_size(m->index) != m->ck.n_items || (int32_t)m->ck.items.n != m->ck.n_items) return 0;
    if (live_user(m, m->ck.users.ids[0]) != 0 || live_item(m, m->ck.items.ids[0]) != 0) return 0;
    if (nc_index_search(m->index, m->ck.user_emb, 5, NULL, 0, ids, sc, &n, &e) != NC_OK || n <= 0) return 0;
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->ck.n_items) return 0;
    return 1;
}

/* The request path without HTTP: take the model, use it, release it; scrape metrics and
 * status in between, as GET /metrics and GET /model do. */
static void *reader_main(void *arg) {
    reader *r = arg;
    srv_app *a = r->sh->a;
    uint64_t last = 0;
    while (!atomic_load(&r->sh->stop)) {
        live_model *m = live_acquire(&a->model);
        if (m) {
            uint64_t v = m->ck.meta.model_version;
            r->went_back += v < last;
            last = v;
            r->bad += !model_whole(m);
            live_release(m);
        }
        size_t len = 0;
        char *text = prom_render(&a->metrics, &len);
        r->bad += !text || !strstr(text, "nclrec_model_swaps_total");
        free(text);
        json_decref(retrain_status(a->retrain));
        r->reads++;
    }
    return NULL;
}

/* POST /interactions without HTTP: small batches through the group-commit writer, which the
 * retrain's snapshot reads concurrently. */
static void *writer_main(void *arg) {
    writer *w = arg;
    char users[5][32], items[5][32];
    store_event ev[5];
    for (int k = 0; k < MAX_APPENDS && !atomic_load(&w->sh->stop); k++) {
        for (int j = 0; j < 5; j++) {
            snprintf(users[j], sizeof users[j], "w%d-%d", w->id, (k + j) % 20);
            snprintf(items[j], sizeof items[j], "i%d", (k * 5 + j) % 60);
            ev[j] = (store_event){users[j], items[j], STORE_TS_NOW, NULL};
        }
        store_append_result res;
        if (store_append(w->sh->a->store, ev, 5, NULL, &res, &w->e) == NC_OK) w->rows += res.n_accepted;
        else w->failures++;
        w->appends++;
        sleep_ms(2);
    }
    return NULL;
}

/* Small, quick training: the test is about threads, not model quality. */
static void small_config(srv_config *c, const char *dir) {
    cfg_defaults(c);
    snprintf(c->data_dir, sizeof c->data_dir, "%s", dir);
    c->hp.embedding_size = 8;
    c->hp.epochs = 2;
    c->hp.min_epochs = 1;
    c->hp.stopping_step = 1;
    c->hp.num_clusters = 4;
    c->hp.warm_up_step = 1;
    c->hp.train_batch_size = 256;
    c->retrain_threads = 1;
    c->retrain_interval = 0;
    c->retrain_margin = 1; /* always swap */
    c->keep_checkpoints = 2;
}

/* Seeds the store with a small generated data set; returns the rows appended or -1. */
static int64_t seed_store(srv_app *a) {
    nc_synth_opts so;
    nc_synth_default(&so);
    so.n_users = 80;
    so.n_items = 60;
    so.n_communities = 4;
    so.mean_per_user = 8;
    nc_idmap users, items;
    nc_interactions x;
    nc_err e;
    nc_idmap_init(&users);
    nc_idmap_init(&items);
    nc_inter_init(&x);
    int64_t rows = nc_synth_generate(&so, &users, &items, &x, &e) == NC_OK ? 0 : -1;
    store_event ev[200];
    for (size_t at = 0; rows >= 0 && at < x.n; at += 200) {
        size_t n = x.n - at < 200 ? x.n - at : 200;
        for (size_t i = 0; i < n; i++) ev[i] = (store_event){users.ids[x.user[at + i]], items.ids[x.item[at + i]], x.ts[at + i], NULL};
        store_append_result res;
        rows = store_append(a->store, ev, n, NULL, &res, &e) == NC_OK ? rows + (int64_t)n : -1;
    }
    nc_inter_free(&x);
    nc_idmap_free(&users);
    nc_idmap_free(&items);
    return rows;
}

/* The version of the model being served now (0 before the first). */
static uint64_t served_version(srv_app *a) {
    live_model *m = live_acquire(&a->model);
    uint64_t v = m ? m->ck.meta.model_version : 0;
    live_release(m);
    return v;
}

/* Asks for a retrain (again while one is still running) and waits at most 120 s for v. */
static int retrain_to(srv_app *a, uint64_t v) {
    for (int i = 0; i < 12000; i++) {
        if (served_version(a) >= v) return served_version(a) == v;
        if (i % 50 == 0) retrain_request(a->retrain);
        sleep_ms(10);
    }
    return 0;
}

/* nftw callback: the temporary data dir goes, checkpoints and database included. */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Readers and writers run from before the first requested retrain to after the third swap. */
static void test_retrain_under_load(void) {
    char dir[] = "/tmp/nclrec-conc.XXXXXX", db[64];
    nc_err e = {0};
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    srv_app *a = calloc(1, sizeof *a);
    CHECK(a != NULL, "app");
    if (!a) return;
    small_config(&a->cfg, dir);
    int devnull = open("/dev/null", O_WRONLY);
    slog_init(&a->log, SLOG_ERROR, devnull);
    prom_init(&a->metrics, NULL, NULL, 0);
    live_slot_init(&a->model);
    snprintf(db, sizeof db, "%s/nclrec.db", dir);
    CHECK(store_open(db, NULL, &a->store, &e) == NC_OK, "%s", e.msg);
    int64_t seeded = a->store ? seed_store(a) : -1;
    CHECK(seeded > 0, "seeded %lld rows", (long long)seeded);
    retrain_report rep;
    model_env env = routes_model_env(a);
    CHECK(seeded > 0 && retrain_run_once(&env, NULL, 1, &rep, &e) == NC_OK && served_version(a) == 1,
          "first model: %s", e.msg);
    a->retrain = retrain_start(&env, &e);
    CHECK(a->retrain != NULL, "%s", e.msg);
    if (!a->retrain || served_version(a) != 1) return;

    shared sh = {a, 0};
    reader rd[N_READERS];
    writer wr[N_WRITERS];
    pthread_t rt[N_READERS], wt[N_WRITERS];
    for (int i = 0; i < N_READERS; i++) {
        rd[i] = (reader){&sh, 0, 0, 0};
        pthread_create(&rt[i], NULL, reader_main, &rd[i]);
    }
    for (int i = 0; i < N_WRITERS; i++) {
        memset(&wr[i], 0, sizeof wr[i]);
        wr[i].sh = &sh;
        wr[i].id = i;
        pthread_create(&wt[i], NULL, writer_main, &wr[i]);
    }
    for (uint64_t v = 2; v <= 4; v++) CHECK(retrain_to(a, v), "version %llu served", (unsigned long long)v);
    atomic_store(&sh.stop, 1);
    long reads = 0;
    int bad = 0, back = 0, failures = 0;
    int64_t rows = 0;
    for (int i = 0; i < N_READERS; i++) {
        pthread_join(rt[i], NULL);
        reads += rd[i].reads, bad += rd[i].bad, back += rd[i].went_back;
    }
    for (int i = 0; i < N_WRITERS; i++) {
        pthread_join(wt[i], NULL);
        failures += wr[i].failures, rows += wr[i].rows;
        CHECK(wr[i].failures == 0, "writer %d: %d failures (%s)", i, wr[i].failures, wr[i].e.msg);
    }
    retrain_stop(a->retrain);
    a->retrain = NULL;
    printf("  %ld reads, %lld rows appended meanwhile by %d writers\n", reads, (long long)rows, N_WRITERS);
    CHECK(reads > 0 && bad == 0, "%ld reads, %d saw a torn model or a bad metrics page", reads, bad);
    CHECK(back == 0, "a reader saw the version go back %d times", back);
    store_stats st;
    CHECK(store_stats_get(a->store, &st, &e) == NC_OK && (int64_t)st.rows == seeded + rows,
          "store counted %llu rows, %lld seeded + %lld appended", (unsigned long long)st.rows,
          (long long)seeded, (long long)rows);
    CHECK(atomic_load(&a->metrics.swaps) == 4, "swaps counted: %llu",
          (unsigned long long)atomic_load(&a->metrics.swaps));
    CHECK(a->model.cur && atomic_load(&a->model.cur->refs) == 1, "only the slot holds the last model");
    store_close(a->store);
    live_slot_destroy(&a->model);
    slog_destroy(&a->log);
    close(devnull);
    free(a);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
    RUN(test_retrain_under_load);
    return TEST_REPORT();
}
