/* retrain.c - see retrain.h. Sections: checkpoint files, snapshot and split, one run, the
 * background thread. */
#include "retrain.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "train.h"
#include "ranking.h"
#include "train_log.h"

#define CKPT_PREFIX "model-"
#define CKPT_SUFFIX ".nclrec"

struct retrain {
    model_env env;          /* copied at start */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;              /* under mu */
    int requested;         /* under mu */
    int running;           /* under mu */
    atomic_int cancel;     /* polled by nc_train */
    uint64_t runs;         /* under mu */
    double last_at;        /* under mu: wall time the last run ended, 0 = never */
    retrain_report last;   /* under mu */
    train_log log;         /* the page's curve and history (its own lock) */
};

/* ======================= checkpoint files ======================= */

static void models_dir(const model_env *a, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/models", a->cfg->data_dir);
}

/* Version encoded in a checkpoint file name, or 0 when the name is not one of ours. */
static uint64_t ckpt_version(const char *name) {
    size_t n = strlen(name), pl = strlen(CKPT_PREFIX), sl = strlen(CKPT_SUFFIX);
    if (n <= pl + sl || strncmp(name, CKPT_PREFIX, pl) || strcmp(name + n - sl, CKPT_SUFFIX)) return 0;
    uint64_t v = 0;
    for (size_t i = pl; i < n - sl; i++) {
        if (name[i] < '0' || name[i] > '9') return 0;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    return v;
}

static int cmp_desc(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? 1 : a > b ? -1 : 0;
}

/* Versions of the checkpoints in dir, newest first, into a caller-freed array. */
static int list_versions(const char *dir, uint64_t **out, size_t *n, nc_err *e) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? NC_OK : nc_fail(e, NC_EIO, "%s: cannot list: %s", dir, strerror(errno));
    size_t cap = 0;
    for (struct dirent *de; (de = readdir(d));) {
        uint64_t v = ckpt_version(de->d_name);
        if (!v) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *p = realloc(*out, cap * sizeof *p);
            if (!p) {
                closedir(d);
                return nc_fail(e, NC_ENOMEM, "out of memory listing %s", dir);
            }
            *out = p;
        }
        (*out)[(*n)++] = v;
    }
    closedir(d);
    if (*n) qsort(*out, *n, sizeof **out, cmp_desc);
    return NC_OK;
}

static void ckpt_path(const model_env *a, uint64_t version, char *buf, size_t cap) {
    char dir[CFG_STR_MAX + 16];
    models_dir(a, dir, sizeof dir);
    snprintf(buf, cap, "%s/" CKPT_PREFIX "%020llu" CKPT_SUFFIX, dir, (unsigned long long)version);
}

/* Creates DATA_DIR and DATA_DIR/models when missing. */
static int ensure_dirs(const model_env *a, nc_err *e) {
    char dir[CFG_STR_MAX + 16];
    if (mkdir(a->cfg->data_dir, 0750) != 0 && errno != EEXIST)
        return nc_fail(e, NC_EIO, "setting 'data_dir': cannot create '%s': %s", a->cfg->data_dir, strerror(errno));
    models_dir(a, dir, sizeof dir);
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return nc_fail(e, NC_EIO, "cannot create '%s': %s", dir, strerror(errno));
    return NC_OK;
}

/* Deletes all but the newest keep checkpoints (a failure is logged, not fatal). */
static void prune_checkpoints(const model_env *a) {
    char dir[CFG_STR_MAX + 16], path[CFG_STR_MAX + 64];
    uint64_t *v;
    size_t n;
    nc_err e;
    models_dir(a, dir, sizeof dir);
    if (list_versions(dir, &v, &n, &e) != NC_OK) {
        slog_kv(a->log, SLOG_WARN, "checkpoint_prune_failed", "error", json_string(e.msg), NULL);
        return;
    }
    for (size_t i = (size_t)a->cfg->keep_checkpoints; i < n; i++) {
        ckpt_path(a, v[i], path, sizeof path);
        if (unlink(path) != 0)
            slog_kv(a->log, SLOG_WARN, "checkpoint_prune_failed", "path", json_string(path), "error",
                    json_string(strerror(errno)), NULL);
    }
    free(v);
}

/* The candidate cache budget of each new model (--rec-cache-mb). */
static size_t cache_bytes(const model_env *a) { return (size_t)a->cfg->rec_cache_mb << 20; }

/* Installs m as the served model and says so in the metrics and the log. */
static void install(const model_env *a, live_model *m, const char *why) {
    uint64_t v = m->ck.meta.model_version;
    double at = m->ck.meta.trained_at;
    slog_kv(a->log, SLOG_INFO, "swap", "version", json_integer((json_int_t)v), "reason", json_string(why), "users",
            json_integer(m->ck.n_users), "items", json_integer(m->ck.n_items), "source", json_string(m->source), NULL);
    live_swap(a->model, m);
    prom_set_model(a->metrics, v, at);
    prom_add(&a->metrics->swaps, 1);
}

/* The pid in a checkpoint's temp file name ("model-N.nclrec.tmp.PID", see checkpoint.h), or
 * 0 when the name is not one. */
static long temp_owner(const char *name) {
    const char *t = strstr(name, CKPT_SUFFIX ".tmp.");
    if (strncmp(name, CKPT_PREFIX, strlen(CKPT_PREFIX)) != 0 || !t) return 0;
    char *end;
    long pid = strtol(t + strlen(CKPT_SUFFIX ".tmp."), &end, 10);
    return *end == '\0' && pid > 0 ? pid : 0;
}

/* A process killed while writing a checkpoint leaves its temp file, which nothing else would
 * ever delete (each is as large as a model). Those of processes that no longer run are
 * removed, with a log line each; another live writer's file is left alone. One named with our
 * own pid is stale too (a container's daemon gets the same pid at every start): this runs
 * before this process writes any checkpoint. */
static void remove_stale_temps(const model_env *a, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char path[CFG_STR_MAX + 320];
    for (struct dirent *de; (de = readdir(d));) {
        long pid = temp_owner(de->d_name);
        if (!pid || (pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        int gone = unlink(path) == 0, err = errno;
        slog_kv(a->log, gone ? SLOG_WARN : SLOG_ERROR, gone ? "checkpoint_temp_removed" : "checkpoint_temp_remove_failed",
                "path", json_string(path), "reason", json_string("left by a process that stopped while writing it"),
                "error", gone ? json_null() : json_string(strerror(err)), NULL);
    }
    closedir(d);
}

int retrain_load_newest(const model_env *a, int *loaded, nc_err *e) {
    char dir[CFG_STR_MAX + 16], path[CFG_STR_MAX + 64];
    uint64_t *v;
    size_t n;
    *loaded = 0;
    models_dir(a, dir, sizeof dir);
    remove_stale_temps(a, dir);
    if (list_versions(dir, &v, &n, e) != NC_OK) return e->code;
    for (size_t i = 0; i < n && !*loaded; i++) {
        nc_checkpoint ck;
        nc_err le = {0};
        ckpt_path(a, v[i], path, sizeof path);
        live_model *m = NULL;
        if (nc_checkpoint_read(path, &ck, &le) == NC_OK) m = live_model_create(&ck, path, cache_bytes(a), &a->metrics->recommend_cache_evictions, &le);
        if (!m) {
            slog_kv(a->log, SLOG_WARN, "checkpoint_skipped", "path", json_string(path), "error", json_string(le.msg), NULL);
            prom_add(&a->metrics->checkpoint_read_errors, 1);
            continue;
        }
        install(a, m, "loaded at start");
        *loaded = 1;
    }
    free(v);
    return NC_OK;
}

/* ======================= snapshot and split ======================= */

/* FNV-1a over "user\0item": the split of a pair never changes between runs. */
static double pair_hash01(const char *u, const char *i) {
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = u; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xffu) * 1099511628211ULL;
    for (const char *p = i; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h ^= h >> 33; /* FNV's low bits mix poorly: fold the high half in */
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (double)(h >> 11) * 0x1.0p-53;
}

/* Reads the store into d: de-duplicated pairs weighted by their types (--feedback-types; a
 * pair keeps the largest weight of its rows), split by pair hash into train and the two
 * held-out halves of eval_fraction. A held-out pair of weight 0 is no positive to find, so it
 * is left out; in train the trainer leaves it out (core/train.h). */
static int snapshot(const model_env *a, nc_dataset *d, int64_t *watermark, int64_t *rows, nc_err *e) {
    nc_interactions all;
    nc_inter_init(&all);
    int rc = store_snapshot_weighted(a->store, &a->cfg->ft, &d->users, &d->items, &all, watermark, e);
    if (rc == NC_OK) {
        *rows = (int64_t)all.n;
        nc_inter_dedup(&all, e);
        double f = a->cfg->eval_fraction;
        for (size_t r = 0; r < all.n && rc == NC_OK; r++) {
            double h = pair_hash01(d->users.ids[all.user[r]], d->items.ids[all.item[r]]);
            nc_interactions *dst = h < f / 2 ? &d->valid : h < f ? &d->test : &d->train;
            uint8_t w = nc_inter_weight(&all, r);
            if (w || dst == &d->train) rc = nc_inter_push_w(dst, all.user[r], all.item[r], all.ts[r], w, e);
        }
    }
    nc_inter_free(&all);
    return rc;
}

/* ======================= one run ======================= */

/* Recall@20 of the served model on the new held-out rows, its ids looked up by external id
 * (users or items it lacks score zero: it cannot recommend them either). -1 on failure. */
static double old_recall20(const live_model *m, const nc_dataset *d, nc_err *e) {
    int32_t dim = m->ck.dim, nu = (int32_t)d->users.n, ni = (int32_t)d->items.n;
    float *ue = nc_calloc((size_t)nu * (size_t)dim, sizeof(float), e);
    float *ie = nc_calloc((size_t)ni * (size_t)dim, sizeof(float), e);
    double r = -1;
    if (ue && ie) {
        for (int32_t u = 0; u < nu; u++) {
            int32_t o = live_user(m, d->users.ids[u]);
            if (o >= 0) memcpy(ue + (size_t)u * dim, m->ck.user_emb + (size_t)o * dim, sizeof(float) * (size_t)dim);
        }
        for (int32_t i = 0; i < ni; i++) {
            int32_t o = live_item(m, d->items.ids[i]);
            if (o >= 0) memcpy(ie + (size_t)i * dim, m->ck.item_emb + (size_t)o * dim, sizeof(float) * (size_t)dim);
        }
        nc_metrics met;
        if (nc_evaluate(ue, ie, nu, ni, dim, &d->test, &d->train, &d->valid, &met, e) == NC_OK) r = met.recall[1];
    }
    free(ue);
    free(ie);
    return r;
}

/* on_progress's context: the log to draw the curve into (NULL: not kept). */
typedef struct progress_to {
    const model_env *a;
    train_log *log;
} progress_to;

/* Logs every epoch at debug level, so a long retrain can be followed, and keeps its curve. */
static int on_progress(const nc_progress *p, void *ctx) {
    progress_to *to = ctx;
    const model_env *a = to->a;
    if (p->phase == NC_PHASE_EPOCH_END && to->log)
        train_log_epoch(to->log, &(train_epoch){p->epoch, p->bpr, p->reg, p->ssl, p->proto, p->valid_ndcg10, p->seconds});
    if (p->phase == NC_PHASE_LOG && p->message)
        slog_kv(a->log, SLOG_INFO, "retrain_note", "msg", json_string(p->message), NULL);
    else if (p->phase == NC_PHASE_EPOCH_END)
        slog_kv(a->log, SLOG_DEBUG, "retrain_epoch", "epoch", json_integer(p->epoch), "bpr", json_real(p->bpr),
                "valid_ndcg10", json_real(p->valid_ndcg10), "seconds", json_real(p->seconds), NULL);
    return 0;
}

/* The next model version: above the served one, every checkpoint on disk and every version
 * the store has recorded as handed out (a model whose checkpoint could not be written is only
 * there), recorded in the store before the model is served. */
static int next_version(const model_env *a, const live_model *cur, uint64_t *out, nc_err *e) {
    char dir[CFG_STR_MAX + 16];
    uint64_t *v = NULL, best = cur ? cur->ck.meta.model_version : 0;
    size_t n = 0;
    nc_err le, se;
    models_dir(a, dir, sizeof dir);
    if (list_versions(dir, &v, &n, &le) == NC_OK && n && v[0] > best) best = v[0];
    free(v);
    if (!a->store) { /* no store to record it in (embedded uses): the files and the served model decide */
        *out = best + 1;
        return NC_OK;
    }
    if (store_claim_model_version(a->store, best + 1, out, &se) == NC_OK) return NC_OK;
    return nc_fail(e, se.code ? se.code : NC_EIO, "cannot record the new model's version in the store, so it is "
                   "not served: %s", se.msg);
}

static int training_threads(const srv_config *c) {
    if (c->retrain_threads > 0) return c->retrain_threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 1 ? (int)n - 1 : 1;
}

/* Writes the new model's checkpoint, builds it into a live model and swaps it in. */
static int publish(const model_env *a, nc_checkpoint *ck, retrain_report *rep, nc_err *e) {
    char path[CFG_STR_MAX + 64];
    ckpt_path(a, ck->meta.model_version, path, sizeof path);
    int rc = ensure_dirs(a, e);
    if (rc == NC_OK) rc = nc_checkpoint_write(path, ck, e);
    if (rc != NC_OK) { /* serve it anyway: losing the file only costs a retrain after restart */
        slog_kv(a->log, SLOG_ERROR, "checkpoint_write_failed", "path", json_string(path), "error", json_string(e->msg), NULL);
        prom_add(&a->metrics->checkpoint_write_errors, 1);
        path[0] = '\0';
    }
    live_model *m = live_model_create(ck, path, cache_bytes(a), &a->metrics->recommend_cache_evictions, e);
    if (!m) return e->code ? e->code : NC_EINTERNAL;
    live_model *old = live_acquire(a->model);
    ranking_warm_cache(a, m, old, RANKING_WARM_SECONDS);
    live_release(old);
    rep->version = m->ck.meta.model_version;
    install(a, m, "retrain");
    if (path[0]) prune_checkpoints(a);
    return NC_OK;
}

/* Trains on d, compares with cur on the same held-out rows and publishes when not worse. */
static int train_and_decide(const model_env *a, train_log *log, const nc_dataset *d, live_model *cur,
                            const atomic_int *cancel, int threads, retrain_report *rep, nc_err *e) {
    nc_train_opts o = {0};
    progress_to to = {a, log};
    o.hp = a->cfg->hp;
    o.hp.threads = threads;
    o.progress = on_progress;
    o.progress_ctx = &to;
    o.cancel = cancel;
    o.warm = cur ? &cur->ck : NULL;
    nc_checkpoint ck;
    int rc = nc_train(d, &o, &ck, e);
    if (rc != NC_OK) return rc;
    rep->new_recall20 = d->test.n ? ck.test.recall[1] : -1;
    rep->new_ndcg20 = d->test.n ? ck.test.ndcg[1] : -1;
    rep->old_recall20 = cur && d->test.n ? old_recall20(cur, d, e) : -1;
    if (rep->old_recall20 >= 0 && rep->new_recall20 < rep->old_recall20 - a->cfg->retrain_margin) {
        rep->outcome = PROM_RETRAIN_REJECTED;
        snprintf(rep->detail, sizeof rep->detail, "held-out recall@20 %.4f is below the served model's %.4f by more than %.4f",
                 rep->new_recall20, rep->old_recall20, a->cfg->retrain_margin);
        nc_checkpoint_free(&ck);
        return NC_OK;
    }
    int rc2 = next_version(a, cur, &ck.meta.model_version, e);
    if (rc2 != NC_OK) {
        nc_checkpoint_free(&ck);
        return rc2;
    }
    ck.meta.data_watermark = rep->watermark;
    rep->outcome = PROM_RETRAIN_SWAPPED;
    return publish(a, &ck, rep, e);
}

/* A run's outcome as /model, the log and the page name it. */
static const char *outcome_name(prom_outcome o) {
    static const char *const names[PROM_RETRAIN_N] = {"swapped", "rejected", "failed", "cancelled", "skipped"};
    return names[o];
}

static void log_report(const model_env *a, const retrain_report *rep, int rc, const nc_err *e) {
    slog_kv(a->log, rc == NC_OK || rc == NC_ECANCEL ? SLOG_INFO : SLOG_ERROR, "retrain_end", "outcome",
            json_string(outcome_name(rep->outcome)), "seconds", json_real(rep->seconds), "version",
            json_integer((json_int_t)rep->version), "rows", json_integer(rep->rows), "watermark",
            json_integer(rep->watermark), "new_recall20", json_real(rep->new_recall20), "old_recall20",
            json_real(rep->old_recall20), "detail", json_string(rc == NC_OK ? rep->detail : e->msg), NULL);
}

/* retrain_run_once, keeping the curve in log (may be NULL). */
static int run_logged(const model_env *a, train_log *log, const atomic_int *cancel, int threads, retrain_report *rep, nc_err *e) {
    if (threads <= 0) threads = training_threads(a->cfg);
    memset(rep, 0, sizeof *rep);
    rep->new_recall20 = rep->old_recall20 = rep->new_ndcg20 = -1;
    if (log) train_log_begin(log);
    double t0 = nc_now();
    atomic_store(&a->metrics->retraining, 1);
    slog_kv(a->log, SLOG_INFO, "retrain_start", "threads", json_integer(threads), NULL);
    nc_dataset d;
    nc_dataset_init(&d);
    live_model *cur = live_acquire(a->model);
    int rc = a->store ? snapshot(a, &d, &rep->watermark, &rep->rows, e)
                      : nc_fail(e, NC_EINVAL, "no store to train from");
    if (rc == NC_OK && d.train.n == 0) {
        rep->outcome = PROM_RETRAIN_SKIPPED;
        snprintf(rep->detail, sizeof rep->detail, "the store has no interactions to train on");
    } else if (rc == NC_OK) {
        rc = train_and_decide(a, log, &d, cur, cancel, threads, rep, e);
    }
    live_release(cur);
    nc_dataset_free(&d);
    /* Training's freed buffers would otherwise stay in glibc's arenas (one per OpenMP thread):
     * hand them back so the resident set returns to the serving size. */
    malloc_trim(0);
    if (rc == NC_ECANCEL) rep->outcome = PROM_RETRAIN_CANCELLED;
    else if (rc != NC_OK) rep->outcome = PROM_RETRAIN_FAILED;
    if (rc != NC_OK) snprintf(rep->detail, sizeof rep->detail, "%s", e->msg);
    rep->seconds = nc_now() - t0;
    prom_observe_retrain(a->metrics, rep->outcome, rep->seconds);
    atomic_store(&a->metrics->retraining, 0);
    log_report(a, rep, rc, e);
    return rc;
}

/* The run's line in the history: in the store (which keeps it across restarts) and in the
 * page's log (NULL at start-up, before the retrain thread and its log exist). */
static void log_run(const model_env *a, train_log *log, const retrain_report *rep, double at) {
    train_run run = {.ended_at = (int64_t)at, .version = rep->version, .recall20 = rep->new_recall20,
                     .ndcg20 = rep->new_ndcg20};
    snprintf(run.outcome, sizeof run.outcome, "%s", outcome_name(rep->outcome));
    snprintf(run.detail, sizeof run.detail, "%.255s", rep->detail);
    nc_err e;
    if (a->store && store_record_run(a->store, &run, &e) != NC_OK)
        slog_kv(a->log, SLOG_WARN, "retrain_history_not_stored", "error", json_string(e.msg), NULL);
    if (log) train_log_end(log, &run);
}

/* The page's log starts with the runs the store remembers (the start-up training's too). */
static void load_history(const model_env *a, train_log *log) {
    train_run runs[TRAIN_LOG_RUNS];
    int n = 0;
    nc_err e;
    if (!a->store) return;
    if (store_recent_runs(a->store, runs, TRAIN_LOG_RUNS, &n, &e) != NC_OK) {
        slog_kv(a->log, SLOG_WARN, "retrain_history_not_read", "error", json_string(e.msg), NULL);
        return;
    }
    for (int i = 0; i < n; i++) train_log_end(log, &runs[i]);
}

int retrain_run_once(const model_env *a, const atomic_int *cancel, int threads, retrain_report *rep, nc_err *e) {
    int rc = run_logged(a, NULL, cancel, threads, rep, e);
    log_run(a, NULL, rep, nc_wall_time());
    return rc;
}

/* ======================= the background thread ======================= */

/* A timed retrain is due when enough new rows, or any deletion, arrived after the model. */
static int due(retrain *r) {
    const model_env *a = &r->env;
    live_model *m = live_acquire(a->model);
    int64_t mark = m ? m->ck.meta.data_watermark : -1;
    live_release(m);
    store_since s;
    nc_err e;
    if (store_changes_since(a->store, mark < 0 ? 0 : mark, &s, &e) != NC_OK) {
        prom_add(&a->metrics->store_errors, 1);
        return 0;
    }
    return s.deletions > 0 || (s.interactions > 0 && s.interactions >= a->cfg->retrain_min_new);
}

static void lower_priority(retrain *r) {
    pid_t tid = gettid();
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, (id_t)tid);
    if (errno == 0 && setpriority(PRIO_PROCESS, (id_t)tid, cur + r->env.cfg->retrain_nice) != 0)
        slog_kv(r->env.log, SLOG_WARN, "retrain_nice_failed", "error", json_string(strerror(errno)), NULL);
}

/* Waits on cv until asked to stop, asked to run, or the interval ends. Called with mu held;
 * returns 1 to run, 0 to stop. */
static int wait_for_work(retrain *r, double *next_check) {
    for (;;) {
        if (r->stop) return 0;
        if (r->requested) return 1;
        double interval = r->env.cfg->retrain_interval, now = nc_wall_time();
        if (interval > 0 && now >= *next_check) {
            *next_check = now + interval;
            pthread_mutex_unlock(&r->mu);
            int go = due(r);
            pthread_mutex_lock(&r->mu);
            if (go) return 1;
            continue;
        }
        struct timespec ts;
        double until = interval > 0 ? *next_check : now + 3600;
        ts.tv_sec = (time_t)until;
        ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
}

static void *thread_main(void *arg) {
    retrain *r = arg;
    lower_priority(r);
    double next_check = nc_wall_time() + r->env.cfg->retrain_interval;
    pthread_mutex_lock(&r->mu);
    while (wait_for_work(r, &next_check)) {
        r->requested = 0;
        r->running = 1;
        pthread_mutex_unlock(&r->mu);
        retrain_report rep;
        nc_err e = {0};
        run_logged(&r->env, &r->log, &r->cancel, 0, &rep, &e);
        log_run(&r->env, &r->log, &rep, nc_wall_time());
        pthread_mutex_lock(&r->mu);
        r->running = 0;
        r->runs++;
        r->last = rep;
        r->last_at = nc_wall_time();
        next_check = r->last_at + r->env.cfg->retrain_interval;
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

retrain *retrain_start(const model_env *a, nc_err *e) {
    retrain *r = calloc(1, sizeof *r);
    if (!r) {
        nc_fail(e, NC_ENOMEM, "out of memory starting the retrain thread");
        return NULL;
    }
    r->env = *a;
    if (train_log_init(&r->log) != 0) {
        free(r);
        nc_fail(e, NC_ENOMEM, "cannot make the retrain log's lock");
        return NULL;
    }
    load_history(&r->env, &r->log);
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&r->cv, &ca); /* CLOCK_REALTIME: deadlines are wall-clock seconds */
    pthread_condattr_destroy(&ca);
    int err = pthread_create(&r->thread, NULL, thread_main, r);
    if (err) {
        nc_fail(e, NC_EIO, "cannot start the retrain thread: %s", strerror(err));
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        train_log_destroy(&r->log);
        free(r);
        return NULL;
    }
    return r;
}

int retrain_request(retrain *r) {
    pthread_mutex_lock(&r->mu);
    int running = r->running;
    if (!running) {
        r->requested = 1;
        pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return running;
}

/* Shutdown cancels the training at once but frees r only after the HTTP server has stopped:
 * requests still in flight may call retrain_status or retrain_request on it meanwhile. */
void retrain_cancel(retrain *r) {
    if (!r) return;
    atomic_store(&r->cancel, 1);
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void retrain_stop(retrain *r) {
    if (!r) return;
    retrain_cancel(r);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    train_log_destroy(&r->log);
    free(r);
}

json_t *retrain_status(retrain *r) {
    char ended[40];
    pthread_mutex_lock(&r->mu);
    nc_format_utc((int64_t)r->last_at, ended, sizeof ended);
    json_t *o = json_pack("{s:b, s:b, s:I}", "running", r->running, "requested", r->requested, "runs", (json_int_t)r->runs);
    if (o && r->runs)
        json_object_set_new(o, "last", json_pack("{s:s, s:s, s:f, s:I, s:I, s:I, s:f, s:f, s:s}", "outcome",
                                                 outcome_name(r->last.outcome), "ended_at", ended, "seconds", r->last.seconds,
                                                 "version", (json_int_t)r->last.version, "watermark",
                                                 (json_int_t)r->last.watermark, "rows", (json_int_t)r->last.rows,
                                                 "new_recall20", r->last.new_recall20, "old_recall20",
                                                 r->last.old_recall20, "detail", r->last.detail));
    pthread_mutex_unlock(&r->mu);
    if (o) train_log_json(&r->log, o);
    return o;
}
