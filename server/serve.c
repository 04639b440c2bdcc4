/* serve.c - `nclrec serve`, `nclrec run` and `nclrec probe`: start-up, the model bootstrap,
 * and orderly shutdown.
 *
 * Start: configuration (refused with the setting named), the store DATA_DIR/nclrec.db, the
 * newest valid checkpoint of DATA_DIR/models; with none, a model trained from the store when it
 * has data (an empty store is first seeded with generated data when seed_synthetic is on, as
 * `run` does), so the first request already gets NCL recommendations. Then the HTTP server and
 * the retrain thread.
 *
 * Signals: SIGTERM and SIGINT post a semaphore that one signal thread waits on; it marks the process as stopping (/readyz fails at once, writes get 503),
 * cancels a running training and wakes the main thread. The main thread then stops accepting
 * connections, cancels and joins the retrain thread, lets requests in flight (and their store
 * commits) finish, stops the HTTP server and closes the store. If that takes longer than
 * shutdown_deadline, or a second signal arrives, the signal thread ends the process with exit
 * status 1 (every acknowledged write is already committed, so nothing acknowledged is lost). */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model/catalogue.h"
#include "commands.h"
#include "config/config.h"
#include "replica/feed.h"
#include "http/http.h"
#include "api/item_routes.h"
#include "replica/replica.h"
#include "model/retrain.h"
#include "api/routes.h"
#include "store/store.h"
#include "synth.h"

/* Shared by the main thread and the signal thread. */
typedef struct stop_ctl {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;                /* under mu */
    int done;                /* under mu: serve_main is finishing; the signal thread ends */
    atomic_int cancel;       /* cancels a start-up training */
    srv_app *app;
    pthread_t thread;
    int started;
} stop_ctl;

/* ======================= signals ======================= */

/* The one piece of process-wide state: a signal handler can reach nothing else. Libraries
 * start threads of their own before main (OpenBLAS's pool), so SIGTERM may land on any thread;
 * the handler only posts this semaphore (async-signal-safe) and the signal thread does the
 * rest. */
static sem_t signal_sem;

static void on_signal(int sig) {
    (void)sig;
    sem_post(&signal_sem);
}

/* True once serve_main has finished with the application state (under s->mu). */
static int finished(stop_ctl *s) {
    pthread_mutex_lock(&s->mu);
    int done = s->done;
    pthread_mutex_unlock(&s->mu);
    return done;
}

static void *signal_thread(void *arg) {
    stop_ctl *s = arg;
    while (sem_wait(&signal_sem) != 0) {}
    if (finished(s)) return NULL; /* woken by serve_main to end */
    srv_app *a = s->app;
    atomic_store(&a->stopping, 1);
    atomic_store(&a->metrics.ready, 0);
    atomic_store(&s->cancel, 1);
    slog_kv(&a->log, SLOG_INFO, "shutdown", "deadline_seconds", json_real(a->cfg.shutdown_deadline), NULL);
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    /* A second signal forces the exit, except a duplicate within a second (some supervisors
     * signal both the process and its group). */
    double first = nc_wall_time(), end = first + a->cfg.shutdown_deadline;
    int again = -1;
    for (;;) {
        struct timespec ts = {(time_t)end, (long)((end - (double)(time_t)end) * 1e9)};
        again = sem_timedwait(&signal_sem, &ts);
        if (finished(s)) return NULL;
        if (again != 0 && errno == EINTR) continue;
        if (again == 0 && nc_wall_time() - first < 1.0) continue;
        break;
    }
    pthread_mutex_lock(&s->mu); /* held to the end: serve_main cannot free the state meanwhile */
    if (!s->done) {
        slog_kv(&a->log, SLOG_ERROR, "shutdown_forced", "reason",
                json_string(again == 0 ? "second signal" : "shutdown deadline exceeded"), NULL);
        _exit(1);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Ends the signal thread before the state it uses is freed. */
static void stop_signals(stop_ctl *s) {
    if (!s->started) return;
    pthread_mutex_lock(&s->mu);
    s->done = 1;
    pthread_mutex_unlock(&s->mu);
    sem_post(&signal_sem);
    pthread_join(s->thread, NULL);
}

/* Installs the SIGTERM/SIGINT handler and starts the thread that acts on it. */
static int start_signals(stop_ctl *s, nc_err *e) {
    if (sem_init(&signal_sem, 0, 0) != 0) return nc_fail(e, NC_EIO, "sem_init: %s", strerror(errno));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return nc_fail(e, NC_EIO, "sigaction: %s", strerror(errno));
    signal(SIGPIPE, SIG_IGN);
    int err = pthread_create(&s->thread, NULL, signal_thread, s);
    if (err) return nc_fail(e, NC_EIO, "cannot start the signal thread: %s", strerror(err));
    s->started = 1;
    return NC_OK;
}

static void wait_for_stop(stop_ctl *s) {
    pthread_mutex_lock(&s->mu);
    while (!s->stop) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

/* ======================= bootstrap ======================= */

static int open_store(srv_app *a, nc_err *e) {
    char path[CFG_STR_MAX + 16];
    if (mkdir(a->cfg.data_dir, 0750) != 0 && errno != EEXIST)
        return nc_fail(e, NC_EIO, "setting 'data_dir': cannot create '%s': %s", a->cfg.data_dir, strerror(errno));
    snprintf(path, sizeof path, "%s/nclrec.db", a->cfg.data_dir);
    store_opts o;
    store_opts_default(&o);
    o.sync_full = strcmp(a->cfg.sync, "full") == 0;
    o.idem_window_s = a->cfg.idempotency_window;
    o.max_batch = a->cfg.batch_max;
    o.popular_cache_k = a->cfg.popular_n;
    snprintf(o.seen_types, sizeof o.seen_types, "%s", a->cfg.exclude_types);
    return store_open(path, &o, &a->store, e);
}

/* Appends generated interactions to the empty store in batches, each committed. */
static int seed_synthetic(srv_app *a, nc_err *e) {
    nc_synth_opts so;
    nc_synth_default(&so);
    so.n_users = (int32_t)a->cfg.synth_users;
    so.n_items = (int32_t)a->cfg.synth_items;
    so.mean_per_user = a->cfg.synth_per_user;
    so.seed = (uint64_t)a->cfg.synth_seed;
    if (so.n_communities > so.n_items) so.n_communities = so.n_items;
    nc_idmap users, items;
    nc_interactions x;
    nc_idmap_init(&users);
    nc_idmap_init(&items);
    nc_inter_init(&x);
    int rc = nc_synth_validate(&so, e);
    if (rc == NC_OK) rc = nc_synth_generate(&so, &users, &items, &x, e);
    size_t batch = (size_t)a->cfg.batch_max;
    store_event *ev = rc == NC_OK ? nc_malloc(batch, sizeof *ev, e) : NULL;
    if (rc == NC_OK && !ev) rc = NC_ENOMEM;
    for (size_t at = 0; rc == NC_OK && at < x.n; at += batch) {
        size_t n = x.n - at < batch ? x.n - at : batch;
        for (size_t i = 0; i < n; i++)
            ev[i] = (store_event){users.ids[x.user[at + i]], items.ids[x.item[at + i]], x.ts[at + i], NULL};
        store_append_result res;
        rc = store_append(a->store, ev, n, NULL, &res, e);
    }
    if (rc == NC_OK)
        slog_kv(&a->log, SLOG_INFO, "seeded", "users", json_integer(so.n_users), "items", json_integer(so.n_items),
                "interactions", json_integer((json_int_t)x.n), NULL);
    free(ev);
    nc_inter_free(&x);
    nc_idmap_free(&users);
    nc_idmap_free(&items);
    return rc;
}

/* Gets a model to serve: the newest checkpoint, else one trained from the store (seeded
 * first when empty and allowed). Having no model is not an error: /readyz says so. */
static int bootstrap_model(srv_app *a, const atomic_int *cancel, nc_err *e) {
    model_env env = routes_model_env(a);
    int loaded = 0;
    if (retrain_load_newest(&env, &loaded, e) != NC_OK) return e->code;
    if (loaded) return NC_OK;
    store_stats st;
    if (store_stats_get(a->store, &st, e) != NC_OK) return e->code;
    if (st.interactions == 0 && a->cfg.seed_synthetic) {
        if (seed_synthetic(a, e) != NC_OK) return e->code;
        st.interactions = 1;
    }
    if (st.interactions == 0 || !a->cfg.retrain_on_start) {
        slog_kv(&a->log, SLOG_WARN, "no_model", "msg",
                json_string("no checkpoint and nothing to train: /readyz answers 503 until a model is trained "
                            "(POST interactions, then POST /admin/retrain)"),
                NULL);
        return NC_OK;
    }
    retrain_report rep;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN); /* nothing is served yet: use every core */
    int rc = retrain_run_once(&env, cancel, ncpu > 0 ? (int)ncpu : 1, &rep, e);
    return rc == NC_ECANCEL ? NC_OK : rc; /* a cancelled start-up just proceeds to shut down */
}

/* A primary also opens the changefeed's read connection on the store's file. */
static int open_feed(srv_app *a, nc_err *e) {
    char path[CFG_STR_MAX + 16];
    snprintf(path, sizeof path, "%s/nclrec.db", a->cfg.data_dir);
    a->feed = feed_open(path, e);
    return a->feed ? NC_OK : e->code;
}

/* A replica has no store: its state comes from the primary's changefeed, its models from the
 * primary's checkpoints; the newest one downloaded before a restart is served at once. */
static int bootstrap_replica(srv_app *a, nc_err *e) {
    model_env env = routes_model_env(a); /* no store: the replica's state answers (replica.h) */
    int loaded = 0;
    if (mkdir(a->cfg.data_dir, 0750) != 0 && errno != EEXIST)
        return nc_fail(e, NC_EIO, "setting 'data_dir': cannot create '%s': %s", a->cfg.data_dir, strerror(errno));
    if (!(a->replica = replica_new(&env, e))) return e->code;
    if (retrain_load_newest(&env, &loaded, e) != NC_OK) return e->code;
    slog_kv(&a->log, SLOG_INFO, "replica", "primary", json_string(a->cfg.primary), "local_model", json_boolean(loaded),
            "poll_seconds", json_real(a->cfg.replica_poll), NULL);
    return NC_OK;
}

/* Everything before serving, by role: the store and a model, plus the feeds on a primary; a
 * replica's state and last model. */
static int bootstrap(srv_app *a, const atomic_int *cancel, nc_err *e) {
    if (a->cfg.role_id == SRV_ROLE_REPLICA) return item_routes_load(a, e) ? e->code : bootstrap_replica(a, e);
    int rc = open_store(a, e);
    if (rc == NC_OK) rc = item_routes_load(a, e);
    if (rc == NC_OK) rc = bootstrap_model(a, cancel, e);
    if (rc == NC_OK && a->cfg.role_id == SRV_ROLE_PRIMARY) rc = open_feed(a, e);
    return rc;
}

/* The background thread of the role: the retrain thread, or a replica's poller. */
static int start_background(srv_app *a, nc_err *e) {
    if (a->replica) return replica_start(a->replica, e);
    model_env env = routes_model_env(a);
    a->retrain = retrain_start(&env, e);
    return a->retrain ? NC_OK : e->code;
}

static srv_app *app_new(const srv_config *c) {
    srv_app *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->cfg = *c;
    slog_level lvl = SLOG_INFO;
    slog_level_parse(c->log_level, &lvl);
    slog_init(&a->log, lvl, 2);
    const char *pat[PROM_MAX_ROUTES], *meth[PROM_MAX_ROUTES];
    routes_labels(pat, meth, PROM_MAX_ROUTES);
    prom_init(&a->metrics, pat, meth, routes_count < PROM_MAX_ROUTES ? routes_count : PROM_MAX_ROUTES);
    const char *types[NC_FEEDBACK_MAX_TYPES];
    for (int k = 0; k < a->cfg.ft.n; k++) types[k] = a->cfg.ft.t[k].name;
    prom_set_types(&a->metrics, types, a->cfg.ft.n);
    live_slot_init(&a->model);
    foldin_parse(c->foldin, &a->foldin);
    a->started_at = nc_wall_time();
    return a;
}

static void app_free(srv_app *a) {
    replica_stop(a->replica); /* after the HTTP server: requests read its state */
    feed_close(a->feed);
    store_close(a->store);
    catalogue_free(a->catalogue);
    live_slot_destroy(&a->model);
    slog_destroy(&a->log);
    free(a);
}

/* ======================= serve ======================= */

static http_server *start_http(srv_app *a, nc_err *e) {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    http_opts o = {.host = a->cfg.host,
                   .port = a->cfg.port,
                   .threads = a->cfg.http_threads > 0 ? a->cfg.http_threads : (ncpu > 0 ? (int)ncpu : 1),
                   .max_connections = a->cfg.max_connections,
                   .conn_timeout = a->cfg.conn_timeout,
                   .header_timeout = a->cfg.header_timeout,
                   .max_body = (size_t)a->cfg.max_body,
                   .max_header = (size_t)a->cfg.max_header,
                   .api_key = a->cfg.api_key,
                   .auth_reads = a->cfg.auth_reads,
                   .access_log = a->cfg.access_log};
    http_server *h = http_start(&o, routes_table, routes_count, a, &a->log, &a->metrics, e);
    if (h)
        slog_kv(&a->log, SLOG_INFO, "listening", "host", json_string(a->cfg.host), "port", json_integer(http_port(h)),
                "threads", json_integer(o.threads), "url",
                json_sprintf("http://%s:%d/", strchr(a->cfg.host, ':') ? "[::1]" : a->cfg.host, http_port(h)), NULL);
    return h;
}

/* The orderly part of shutdown, in the order the header comment gives. */
static void shutdown_all(srv_app *a, http_server *h) {
    double t0 = nc_now();
    http_quiesce(h);
    retrain_cancel(a->retrain); /* stops at its next check; requests may still read its state */
    double left = a->cfg.shutdown_deadline - (nc_now() - t0) - 0.2;
    int pending = http_wait_idle(h, left > 0 ? left : 0);
    http_stop(h);
    retrain_stop(a->retrain); /* joined once no request can reach it */
    a->retrain = NULL;
    slog_kv(&a->log, SLOG_INFO, "stopped", "seconds", json_real(nc_now() - t0), "requests_cut", json_integer(pending), NULL);
}

/* Runs the daemon with configuration c (defaults already applied) and argv's flags. */
static int serve_main(const char *cmd, srv_config *c, int argc, char **argv) {
    nc_err e = {0};
    int help = 0;
    srv_config defaults = *c;
    if (cfg_load(c, argc, argv, &help, &e) != NC_OK) {
        fprintf(stderr, "nclrec %s: %s\n", cmd, e.msg);
        return 2;
    }
    if (help) {
        cfg_print_help(stdout, cmd, &defaults);
        return 0;
    }
    srv_app *a = app_new(c);
    stop_ctl sc = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .app = a};
    if (!a) return 1;
    slog_kv(&a->log, SLOG_INFO, "start", "command", json_string(cmd), "pid", json_integer(getpid()), "config",
            cfg_to_json(c), NULL);
    int rc = start_signals(&sc, &e);
    if (rc == NC_OK) rc = bootstrap(a, &sc.cancel, &e);
    http_server *h = NULL;
    /* The background thread starts first: once the listener is up, requests may reach it. */
    if (rc == NC_OK && !atomic_load(&a->stopping)) rc = start_background(a, &e);
    if (rc == NC_OK && !atomic_load(&a->stopping) && (h = start_http(a, &e)) == NULL) rc = e.code ? e.code : NC_EIO;
    if (rc != NC_OK) {
        slog_kv(&a->log, SLOG_ERROR, "fatal", "error", json_string(e.msg), NULL);
        fprintf(stderr, "nclrec %s: %s\n", cmd, e.msg);
    } else if (h) {
        atomic_store(&a->metrics.ready, 1);
        wait_for_stop(&sc);
    }
    if (h) shutdown_all(a, h);
    else retrain_stop(a->retrain);
    stop_signals(&sc);
    app_free(a);
    return rc == NC_OK ? 0 : 1;
}

int cmd_serve(int argc, char **argv) {
    srv_config c;
    cfg_defaults(&c);
    return serve_main("serve", &c, argc, argv);
}

/* The embedded default: a store seeded with generated data and a model small and quick enough
 * to train in seconds, so `make run` answers with NCL recommendations right away. */
int cmd_run(int argc, char **argv) {
    static const char *const profile[][2] = {
        {"seed_synthetic", "true"}, {"learning_rate", "0.005"}, {"epochs", "10"},      {"min_epochs", "5"},
        {"stopping_step", "3"},     {"num_clusters", "20"},     {"warm_up_step", "3"}, {"train_batch_size", "2048"},
    };
    srv_config c;
    nc_err e;
    cfg_defaults(&c);
    for (size_t i = 0; i < sizeof profile / sizeof profile[0]; i++)
        if (cfg_set_default(&c, profile[i][0], profile[i][1], &e) != NC_OK) {
            fprintf(stderr, "nclrec run: %s\n", e.msg);
            return 1;
        }
    return serve_main("run", &c, argc, argv);
}

/* ======================= probe ======================= */

/* Sends "GET path" to host:port and reads the status line; 0 when it is 200. */
static int probe_once(const char *host, int port, const char *path, int timeout_ms, char *why, size_t cap) {
    struct addrinfo hints = {0}, *res = NULL;
    char ports[16];
    hints.ai_socktype = SOCK_STREAM;
    snprintf(ports, sizeof ports, "%d", port);
    if (getaddrinfo(host, ports, &hints, &res) != 0 || !res) return snprintf(why, cap, "cannot resolve %s", host), 1;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0), ok = 1;
    if (fd < 0 || (connect(fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS)) ok = 0;
    freeaddrinfo(res);
    struct pollfd p = {fd, POLLOUT, 0};
    if (ok && (poll(&p, 1, timeout_ms) != 1 || (p.revents & (POLLERR | POLLHUP)))) ok = 0;
    char req[600], buf[64] = {0};
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host);
    if (ok && write(fd, req, (size_t)n) != n) ok = 0;
    p.events = POLLIN;
    if (ok && (poll(&p, 1, timeout_ms) != 1 || read(fd, buf, sizeof buf - 1) < 12)) ok = 0;
    if (fd >= 0) close(fd);
    if (!ok) return snprintf(why, cap, "no answer from %s:%d", host, port), 1;
    buf[strcspn(buf, "\r\n")] = '\0';
    if (strncmp(buf, "HTTP/1.1 200", 12) != 0 && strncmp(buf, "HTTP/1.0 200", 12) != 0)
        return snprintf(why, cap, "%s answered '%s'", path, buf), 1;
    return 0;
}

int cmd_probe(int argc, char **argv) {
    const char *listen = getenv("NCLREC_LISTEN") ? getenv("NCLREC_LISTEN") : "127.0.0.1:8080", *path = "/readyz";
    double timeout = 2;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
            printf("usage: nclrec probe [--listen HOST:PORT] [--path /readyz] [--timeout SECONDS]\n"
                   "Exits 0 when the daemon answers 200 (for container health checks); NCLREC_LISTEN is used\n"
                   "by default, with 0.0.0.0 / :: probed on the loopback address.\n");
            return 0;
        }
        if (!v) return fprintf(stderr, "nclrec probe: %s needs a value\n", f), 2;
        if (!strcmp(f, "--listen")) listen = v;
        else if (!strcmp(f, "--path") && v[0] == '/' && strlen(v) < 500) path = v;
        else if (!strcmp(f, "--timeout") && (timeout = atof(v)) > 0) {}
        else return fprintf(stderr, "nclrec probe: bad option %s %s\n", f, v), 2;
        i++;
    }
    srv_config c;
    nc_err e;
    cfg_defaults(&c);
    snprintf(c.listen, sizeof c.listen, "%s", listen);
    if (cfg_validate(&c, &e) != NC_OK) return fprintf(stderr, "nclrec probe: %s\n", e.msg), 2;
    const char *host = !strcmp(c.host, "0.0.0.0") ? "127.0.0.1" : !strcmp(c.host, "::") ? "::1" : c.host;
    char why[700];
    if (probe_once(host, c.port, path, (int)(timeout * 1000), why, sizeof why) != 0) {
        fprintf(stderr, "nclrec probe: %s\n", why);
        return 1;
    }
    return 0;
}
