/* fuzz_http.c - libFuzzer harness for the daemon's request path: http_dispatch
 * (server/http/http_dispatch.c), which runs a request through the same steps as a request
 * received by the daemon (route match, 404/405/401/415/413, query decoding, the headers that
 * matter, the body cap), with the real route table (server/api/routes.c) and a real
 * application: a store in a temporary directory holding a small synthetic data set
 * (core/synth.h) and a model trained on it for one epoch. Both are made once per process;
 * the store keeps what earlier inputs wrote, as a daemon's does.
 *
 * The input is an HTTP/1.1 request as text, lines ending at '\n' (a '\r' before it dropped):
 *   METHOD SP TARGET [SP ...]     the target is the path and query string as sent
 *   Name: value                   up to FUZZ_MAX_HEADERS header lines, until an empty line;
 *                                 values trimmed of blanks as libmicrohttpd trims them; lines
 *                                 without ':' are skipped
 *   (the rest)                    the body, any bytes
 * The API key is FUZZ_KEY; reads are open, writes need it. Limits are small so that inputs reach
 * them: max_body 4096, k_max 50, batch_max 20, max_exclude 20.
 *
 * Checked beyond memory safety (FUZZ_ASSERT aborts, so libFuzzer keeps the input):
 *   - the status is in 200..599 and there is a content type;
 *   - every status >= 400 comes with an application/problem+json body: a JSON object with
 *     type, title and detail strings and the same status;
 *   - a 2xx application/json body is valid JSON;
 *   - no 5xx for any input, except when the store failed during the request (its error counter
 *     grew) and 503 for POST /admin/retrain (this harness runs no retrain thread);
 *   - a 2xx answer to POST or DELETE (every such route is a write) carried the key;
 *   - no 2xx for a target holding "%00" (decoded, the NUL would cut a path or id short).
 *
 * With FUZZ_HTTP_VERBOSE in the environment, each answer is printed to stderr.
 *
 * Temporary files: the store lives in $NCLREC_FUZZ_TMP (else $TMPDIR, else /tmp) under
 * nclrec-fuzz-http.<pid>; it is removed at exit, and directories of processes that no longer
 * run (a crash, a replay child) are removed when the next process starts. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "fuzz_util.h"
#include "model/catalogue.h"
#include "http/http.h"
#include "api/item_routes.h"
#include "api/routes.h"
#include "store/store.h"
#include "synth.h"
#include "train.h"

#define FUZZ_KEY "fuzz-key-0123456789"
#define FUZZ_MAX_HEADERS 8
#define TMP_PREFIX "nclrec-fuzz-http."

/* The application every input runs against, made on the first input. */
typedef struct fuzz_world {
    srv_app *app;
    http_opts opts;
    int verbose;          /* FUZZ_HTTP_VERBOSE set: print each answer (for reproducing) */
    char dir[400];
} fuzz_world;

static fuzz_world world;

/* ---- temporary directory ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static void rm_tree(const char *path) { nftw(path, rm_entry, 8, FTW_DEPTH | FTW_PHYS); }

static const char *tmp_base(void) {
    const char *b = getenv("NCLREC_FUZZ_TMP");
    if (!b || !*b) b = getenv("TMPDIR");
    return b && *b ? b : "/tmp";
}

/* Removes the directories of earlier processes that are gone. */
static void sweep_stale(const char *base) {
    DIR *d = opendir(base);
    if (!d) return;
    for (struct dirent *ent; (ent = readdir(d));) {
        if (strncmp(ent->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0) continue;
        long pid = strtol(ent->d_name + strlen(TMP_PREFIX), NULL, 10);
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", base, ent->d_name);
        rm_tree(path);
    }
    closedir(d);
}

static void world_cleanup(void) {
    if (!world.app) return;
    store_close(world.app->store);
    world.app->store = NULL;
    catalogue_free(world.app->catalogue);
    world.app->catalogue = NULL;
    rm_tree(world.dir);
}

/* ---- the application ---- */

/* The synthetic data set: the store gets every interaction, the model trains on a split. */
static void synth_opts(nc_synth_opts *so) {
    nc_synth_default(so);
    so->n_users = 40;
    so->n_items = 30;
    so->n_communities = 4;
    so->mean_per_user = 6;
    so->seed = 7;
}

static void fill_store(nc_store *st) {
    nc_synth_opts so;
    synth_opts(&so);
    nc_idmap users, items;
    nc_interactions x;
    nc_idmap_init(&users);
    nc_idmap_init(&items);
    nc_inter_init(&x);
    nc_err e = {0};
    FUZZ_ASSERT(nc_synth_generate(&so, &users, &items, &x, &e) == NC_OK, "synth: %s", e.msg);
    store_event ev[20]; /* batch_max */
    for (size_t at = 0; at < x.n; at += 20) {
        size_t n = x.n - at < 20 ? x.n - at : 20;
        for (size_t i = 0; i < n; i++)
            ev[i] = (store_event){users.ids[x.user[at + i]], items.ids[x.item[at + i]], x.ts[at + i], NULL};
        store_append_result res;
        FUZZ_ASSERT(store_append(st, ev, n, NULL, &res, &e) == NC_OK, "seeding the store: %s", e.msg);
    }
    nc_inter_free(&x);
    nc_idmap_free(&users);
    nc_idmap_free(&items);
}

/* A model trained for one epoch on the same data, swapped into the app's slot. */
static void train_model(srv_app *a) {
    nc_synth_opts so;
    synth_opts(&so);
    nc_dataset d;
    nc_dataset_init(&d);
    nc_err e = {0};
    const double ratios[3] = {0.8, 0.1, 0.1};
    FUZZ_ASSERT(nc_synth_dataset(&so, ratios, 11, &d, &e) == NC_OK, "synth dataset: %s", e.msg);
    nc_train_opts o = {0};
    nc_hparams_default(&o.hp);
    o.hp.embedding_size = 8, o.hp.epochs = 1, o.hp.min_epochs = 1, o.hp.num_clusters = 3, o.hp.warm_up_step = 0;
    o.hp.train_batch_size = 64, o.hp.threads = 1, o.hp.kmeans_niter = 3;
    nc_checkpoint ck;
    FUZZ_ASSERT(nc_train(&d, &o, &ck, &e) == NC_OK, "training: %s", e.msg);
    nc_dataset_free(&d);
    store_stats st;
    FUZZ_ASSERT(store_stats_get(a->store, &st, &e) == NC_OK, "store stats: %s", e.msg);
    ck.meta.model_version = 1;
    ck.meta.trained_at = 1.7e9;
    ck.meta.data_watermark = st.last_seq;
    live_model *m = live_model_create(&ck, "", 0, NULL, &e);
    FUZZ_ASSERT(m != NULL, "live model: %s", e.msg);
    live_swap(&a->model, m);
}

/* The app as serve.c's app_new and open_store make it, with this harness's settings. */
static void world_init(void) {
    const char *base = tmp_base();
    sweep_stale(base);
    int w = snprintf(world.dir, sizeof world.dir, "%s/%s%ld", base, TMP_PREFIX, (long)getpid());
    FUZZ_ASSERT(w > 0 && (size_t)w < sizeof world.dir, "temporary directory name too long: %s", base);
    rm_tree(world.dir);
    FUZZ_ASSERT(mkdir(world.dir, 0700) == 0, "cannot create %s", world.dir);
    srv_app *a = calloc(1, sizeof *a);
    FUZZ_ASSERT(a != NULL, "out of memory");
    cfg_defaults(&a->cfg);
    a->cfg.k_max = 50, a->cfg.k_default = 10, a->cfg.batch_max = 20, a->cfg.max_exclude = 20;
    a->cfg.max_body = 4096, a->cfg.popular_n = 100;
    nc_err te;
    FUZZ_ASSERT(cfg_parse_types("view=1,click=1,purchase=3,dislike=0", &a->cfg.ft, &te) == NC_OK, "%s", te.msg);
    snprintf(a->cfg.api_key, sizeof a->cfg.api_key, "%s", FUZZ_KEY);
    snprintf(a->cfg.data_dir, sizeof a->cfg.data_dir, "%s", world.dir);
    slog_init(&a->log, SLOG_ERROR, 2);
    const char *pat[PROM_MAX_ROUTES], *meth[PROM_MAX_ROUTES];
    routes_labels(pat, meth, PROM_MAX_ROUTES);
    prom_init(&a->metrics, pat, meth, routes_count < PROM_MAX_ROUTES ? routes_count : PROM_MAX_ROUTES);
    const char *types[NC_FEEDBACK_MAX_TYPES];
    for (int k = 0; k < a->cfg.ft.n; k++) types[k] = a->cfg.ft.t[k].name;
    prom_set_types(&a->metrics, types, a->cfg.ft.n);
    live_slot_init(&a->model);
    foldin_parse(a->cfg.foldin, &a->foldin);
    a->started_at = nc_wall_time();
    store_opts so;
    store_opts_default(&so);
    so.sync_full = 0; /* no fsync per write: speed, and nothing here needs to survive a crash */
    so.max_batch = a->cfg.batch_max;
    so.popular_cache_k = a->cfg.popular_n;
    char path[sizeof world.dir + 16];
    snprintf(path, sizeof path, "%s/nclrec.db", world.dir);
    nc_err e = {0};
    FUZZ_ASSERT(store_open(path, &so, &a->store, &e) == NC_OK, "store: %s", e.msg);
    FUZZ_ASSERT(item_routes_load(a, &e) == NC_OK, "catalogue: %s", e.msg);
    world.app = a;
    atexit(world_cleanup);
    fill_store(a->store);
    train_model(a);
    atomic_store(&a->metrics.ready, 1);
    world.verbose = getenv("FUZZ_HTTP_VERBOSE") != NULL;
    world.opts = (http_opts){.host = "127.0.0.1", .max_connections = 1, .conn_timeout = 1,
                             .max_body = (size_t)a->cfg.max_body, .max_header = (size_t)a->cfg.max_header,
                             .api_key = a->cfg.api_key, .auth_reads = a->cfg.auth_reads};
}

/* ---- the input ---- */

typedef struct fuzz_req {
    char *text;                 /* owned copy of the input, NUL-terminated; fields point into it */
    const char *method, *target;
    http_kv hdr[FUZZ_MAX_HEADERS];
    int n_hdr;
    const char *body;
    size_t body_len;
} fuzz_req;

/* The next line of [*p, end) as a NUL-terminated string without its '\r\n'; NULL at the end. */
static char *next_line(char **p, char *end) {
    if (*p >= end) return NULL;
    char *line = *p, *nl = memchr(line, '\n', (size_t)(end - line));
    char *stop = nl ? nl : end;
    *p = nl ? nl + 1 : end;
    if (stop > line && stop[-1] == '\r') stop--;
    *stop = '\0';
    return line;
}

/* Blanks libmicrohttpd strips around a header value. */
static char *trim(char *v) {
    while (*v == ' ' || *v == '\t') v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) v[--n] = '\0';
    return v;
}

/* Splits the input; returns 0 when it has no request line. */
static int parse_input(fuzz_req *r, const uint8_t *data, size_t n) {
    r->text = malloc(n + 1);
    FUZZ_ASSERT(r->text != NULL, "out of memory");
    memcpy(r->text, data, n);
    r->text[n] = '\0';
    char *p = r->text, *end = r->text + n, *line = next_line(&p, end);
    char *sp = line ? strchr(line, ' ') : NULL;
    if (!sp || sp == line) return 0;
    *sp = '\0';
    r->method = line;
    r->target = sp + 1;
    sp[1 + strcspn(sp + 1, " ")] = '\0';
    while ((line = next_line(&p, end)) && *line) {
        char *colon = strchr(line, ':');
        if (!colon || colon == line || r->n_hdr == FUZZ_MAX_HEADERS) continue;
        *colon = '\0';
        r->hdr[r->n_hdr++] = (http_kv){line, trim(colon + 1)};
    }
    r->body = line ? p : NULL;
    r->body_len = line ? (size_t)(end - p) : 0;
    return 1;
}

/* ---- the contract ---- */

/* The request's path as the daemon sees it (decoded, without the query string). */
static void decoded_path(const char *target, char *out, size_t cap) {
    snprintf(out, cap, "%.*s", (int)strcspn(target, "?"), target);
    MHD_http_unescape(out);
}

static int carried_key(const fuzz_req *r) {
    for (int i = 0; i < r->n_hdr; i++)
        if (!strcasecmp(r->hdr[i].name, "Authorization") && strstr(r->hdr[i].value, FUZZ_KEY)) return 1;
    return 0;
}

static void check_problem(const http_resp *rs) {
    FUZZ_ASSERT(!strcmp(rs->ctype, "application/problem+json"), "status %d with content type %s", rs->status, rs->ctype);
    json_error_t err;
    json_t *j = json_loadb(rs->body ? rs->body : "", rs->len, 0, &err);
    FUZZ_ASSERT(json_is_object(j), "status %d: the problem body is not a JSON object: %s", rs->status, err.text);
    json_t *st = json_object_get(j, "status");
    FUZZ_ASSERT(json_is_integer(st) && json_integer_value(st) == rs->status, "problem status differs from %d", rs->status);
    FUZZ_ASSERT(json_is_string(json_object_get(j, "type")) && json_is_string(json_object_get(j, "title")) &&
                    json_is_string(json_object_get(j, "detail")),
                "status %d: problem without type, title or detail: %.*s", rs->status, (int)rs->len, rs->body);
    json_decref(j);
}

static void check_answer(const fuzz_req *r, const http_resp *rs, uint64_t store_errors_before) {
    FUZZ_ASSERT(rs->status >= 200 && rs->status <= 599, "status %d for %s %s", rs->status, r->method, r->target);
    FUZZ_ASSERT(rs->ctype != NULL, "status %d without a content type", rs->status);
    if (rs->status >= 400) check_problem(rs);
    if (rs->status >= 200 && rs->status < 300 && !strcmp(rs->ctype, "application/json")) {
        json_t *j = json_loadb(rs->body ? rs->body : "", rs->len, 0, NULL);
        FUZZ_ASSERT(j != NULL, "status %d with a body that is not JSON", rs->status);
        json_decref(j);
    }
    if (rs->status >= 500) {
        char path[4096];
        decoded_path(r->target, path, sizeof path);
        int store_failed = atomic_load(&world.app->metrics.store_errors) > store_errors_before;
        int no_retrainer = rs->status == 503 && !strcmp(r->method, "POST") && !strcmp(path, "/admin/retrain");
        FUZZ_ASSERT(store_failed || no_retrainer, "%s %s answered %d: %.*s", r->method, r->target, rs->status,
                    (int)rs->len, rs->body);
    }
    if (rs->status < 300)
        FUZZ_ASSERT(!strstr(r->target, "%00"), "%s %s answered %d: a %%00 would cut an id short", r->method, r->target,
                    rs->status);
    /* writes need the key; POST /recommend (an anonymous session) is a read */
    char wpath[4096];
    decoded_path(r->target, wpath, sizeof wpath);
    int is_write = !strcmp(r->method, "POST") || !strcmp(r->method, "DELETE") || !strcmp(r->method, "PUT") ||
                   !strcmp(r->method, "PATCH");
    if (rs->status < 300 && is_write && strcmp(wpath, "/recommend"))
        FUZZ_ASSERT(carried_key(r), "%s %s answered %d without the key", r->method, r->target, rs->status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    if (!world.app) world_init();
    fuzz_req r = {0};
    if (parse_input(&r, data, n)) {
        uint64_t errors = atomic_load(&world.app->metrics.store_errors);
        http_resp rs = {0};
        http_dispatch(&world.opts, routes_table, routes_count, world.app, r.method, r.target, r.hdr, r.n_hdr, r.body,
                      r.body_len, &rs);
        if (world.verbose) fprintf(stderr, "%s %s -> %d %.*s\n", r.method, r.target, rs.status, (int)rs.len, rs.body);
        check_answer(&r, &rs, errors);
        free(rs.body);
    }
    free(r.text);
    return 0;
}
