/* replica.c - see replica.h. Sections: bookkeeping, the changefeed, the checkpoint, the
 * thread, reporting. */
#include "replica.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "feed.h"
#include "http/httpc.h"
#include "model/catalogue.h"
#include "model/ranking.h"

/* The daemon's checkpoint names (retrain.c writes and loads the same), so a restarted replica
 * loads the newest one it downloaded. */
#define CKPT_PREFIX "model-"
#define CKPT_SUFFIX ".nclrec"
#define CHANGES_MAX_BODY ((size_t)256 << 20)
#define CHECKPOINT_MAX_BODY ((size_t)64 << 30)

struct replica {
    model_env env;          /* copied at start */
    httpc_url url;
    replica_state *state;
    pthread_t thread;
    int started;

    pthread_mutex_t mu;        /* everything below */
    pthread_cond_t cv;         /* wakes the thread to stop */
    int stop;
    int synced, up;
    double last_ok_at;         /* wall time of the last successful poll, 0 = never */
    int64_t primary_seq;       /* the primary's watermark at the last changefeed page */
    char last_error[sizeof(((nc_err *)0)->msg)];
    uint64_t polls, poll_errors, events, loads, rejects, resets;
};

/* ======================= bookkeeping ======================= */

static void note_failure(replica *r, const nc_err *e) {
    pthread_mutex_lock(&r->mu);
    int was_up = r->up || r->polls == 0;
    r->up = 0;
    r->poll_errors++;
    r->polls++;
    snprintf(r->last_error, sizeof r->last_error, "%s", e->msg);
    pthread_mutex_unlock(&r->mu);
    if (was_up) /* once per outage, not once per poll */
        slog_kv(r->env.log, SLOG_WARN, "primary_unreachable", "primary", json_string(r->env.cfg->primary), "error",
                json_string(e->msg), NULL);
}

static void note_success(replica *r) {
    pthread_mutex_lock(&r->mu);
    int was_down = !r->up && r->polls > 0;
    r->up = 1;
    r->polls++;
    r->last_ok_at = nc_wall_time();
    r->last_error[0] = '\0';
    pthread_mutex_unlock(&r->mu);
    if (was_down) slog_kv(r->env.log, SLOG_INFO, "primary_reachable", "primary", json_string(r->env.cfg->primary), NULL);
}

static void count(replica *r, uint64_t *field, uint64_t n) {
    pthread_mutex_lock(&r->mu);
    *field += n;
    pthread_mutex_unlock(&r->mu);
}

/* A GET of the primary with the replica's settings. */
static int get(replica *r, const char *path, const char *inm, size_t max_body, httpc_sink sink, void *ctx,
               httpc_resp *resp, nc_err *e) {
    httpc_opts o = {.timeout = r->env.cfg->replica_timeout,
                    .max_body = max_body,
                    .bearer = r->env.cfg->api_key,
                    .if_none_match = inm,
                    .sink = sink,
                    .sink_ctx = ctx};
    return httpc_get(&r->url, path, &o, resp, e);
}

/* A non-2xx answer as an error naming the primary and its detail. */
static int status_error(replica *r, const char *path, const httpc_resp *resp, nc_err *e) {
    json_t *j = resp->body ? json_loads(resp->body, 0, NULL) : NULL;
    const char *detail = j ? json_string_value(json_object_get(j, "detail")) : NULL;
    nc_fail(e, NC_EIO, "primary %s answered %d to GET %s%s%s", r->env.cfg->primary, resp->status, path,
            detail ? ": " : "", detail ? detail : "");
    json_decref(j);
    return NC_EIO;
}

/* ======================= the changefeed ======================= */

/* A changefeed item event ({"seq", "item", "doc": canonical document or null}) applied to
 * the serving catalogue, as the primary applied the write before acknowledging it. */
static int apply_item_event(catalogue *c, const json_t *ev, nc_err *e) {
    json_t *seq = json_object_get(ev, "seq"), *doc = json_object_get(ev, "doc");
    const char *item = json_string_value(json_object_get(ev, "item"));
    if (!json_is_integer(seq) || !item || !doc || (!json_is_object(doc) && !json_is_null(doc)))
        return nc_fail(e, NC_EFORMAT, "changefeed item event lacks seq, item or doc");
    if (!c) return nc_fail(e, NC_EINTERNAL, "changefeed item event: no catalogue to apply it to");
    char *text = json_is_null(doc) ? NULL : json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (!json_is_null(doc) && !text) return nc_fail(e, NC_ENOMEM, "out of memory for a changefeed item");
    int rc = catalogue_apply(c, item, text, json_integer_value(seq), e);
    free(text);
    return rc == NC_EINVAL ? nc_fail(e, NC_EFORMAT, "changefeed: %s", e->msg) : rc;
}

/* Turns a page's events into rstate_events (strings borrowed from the JSON); catalogue
 * writes go to the catalogue at once (apply_item_event) and leave no rstate_event (*n counts
 * those that remain). */
static int decode_events(replica *r, json_t *events, rstate_event *ev, size_t *n, nc_err *e) {
    size_t k;
    json_t *o;
    *n = 0;
    json_array_foreach(events, k, o) {
        json_t *seq = json_object_get(o, "seq");
        const char *type = json_string_value(json_object_get(o, "type"));
        if (type && !strcmp(type, "item")) {
            int rc = apply_item_event(r->env.catalogue, o, e);
            if (rc) return rc;
            continue;
        }
        size_t i = (*n)++;
        ev[i].user = json_string_value(json_object_get(o, "user"));
        ev[i].item = json_string_value(json_object_get(o, "item"));
        json_t *fb = json_object_get(o, "feedback"); /* absent from primaries older than types */
        ev[i].feedback = json_string_value(fb);
        if (!json_is_integer(seq) || !type || !ev[i].user)
            return nc_fail(e, NC_EFORMAT, "changefeed event %zu lacks seq, type or user", i);
        if (fb && (!ev[i].feedback || !nc_feedback_name_ok(ev[i].feedback, strlen(ev[i].feedback))))
            return nc_fail(e, NC_EFORMAT, "changefeed event seq %lld: bad feedback type",
                           (long long)json_integer_value(seq));
        ev[i].seq = json_integer_value(seq);
        if (!strcmp(type, "interaction") && ev[i].item) ev[i].kind = RSTATE_INTERACTION;
        else if (!strcmp(type, "deletion")) ev[i].kind = RSTATE_DELETION;
        else return nc_fail(e, NC_EFORMAT, "changefeed event seq %lld: unknown type '%.32s'", (long long)ev[i].seq, type);
    }
    return NC_OK;
}

/* Applies one page; *more says whether another follows. */
static int apply_page(replica *r, json_t *page, int64_t after, int *more, nc_err *e) {
    json_t *events = json_object_get(page, "events"), *next = json_object_get(page, "next"),
           *mark = json_object_get(page, "last_seq");
    if (!json_is_array(events) || !json_is_integer(next) || !json_is_integer(mark))
        return nc_fail(e, NC_EFORMAT, "primary %s: the changefeed page lacks events, next or last_seq", r->env.cfg->primary);
    *more = json_is_true(json_object_get(page, "more"));
    if (json_integer_value(mark) < after) { /* a new database on the primary */
        slog_kv(r->env.log, SLOG_WARN, "replica_reset", "cursor", json_integer(after), "primary_seq", mark, NULL);
        rstate_reset(r->state);
        catalogue_reset(r->env.catalogue);
        count(r, &r->resets, 1);
        *more = 1;
        return NC_OK;
    }
    size_t n = json_array_size(events);
    rstate_event *ev = nc_calloc(n + 1, sizeof *ev, e);
    int rc = ev ? decode_events(r, events, ev, &n, e) : NC_ENOMEM;
    if (!rc) rc = rstate_apply(r->state, ev, n, json_integer_value(next), e);
    free(ev);
    if (rc) return rc;
    pthread_mutex_lock(&r->mu);
    r->events += n;
    r->primary_seq = json_integer_value(mark);
    pthread_mutex_unlock(&r->mu);
    return NC_OK;
}

/* Follows the changefeed to its end (or until stopped). */
static int sync_changes(replica *r, nc_err *e) {
    for (int more = 1; more;) {
        pthread_mutex_lock(&r->mu);
        int stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop) return nc_fail(e, NC_ECANCEL, "stopping");
        char path[96];
        int64_t after = rstate_cursor(r->state);
        snprintf(path, sizeof path, "/replication/changes?after=%lld&limit=%d", (long long)after, r->env.cfg->replica_page);
        httpc_resp resp;
        int rc = get(r, path, NULL, CHANGES_MAX_BODY, NULL, NULL, &resp, e);
        if (!rc && resp.status != 200) rc = status_error(r, path, &resp, e);
        json_error_t jerr;
        json_t *page = rc ? NULL : json_loadb(resp.body, resp.body_len, 0, &jerr);
        if (!rc && !page) rc = nc_fail(e, NC_EFORMAT, "primary %s: the changefeed is not JSON: %s", r->env.cfg->primary, jerr.text);
        httpc_resp_free(&resp);
        if (!rc) rc = apply_page(r, page, after, &more, e);
        json_decref(page);
        if (rc) return rc;
    }
    pthread_mutex_lock(&r->mu);
    int first = !r->synced;
    r->synced = 1;
    pthread_mutex_unlock(&r->mu);
    if (first)
        slog_kv(r->env.log, SLOG_INFO, "replica_synced", "seq", json_integer(rstate_cursor(r->state)), NULL);
    return NC_OK;
}

/* ======================= the checkpoint ======================= */

/* Streams the body to a file and computes the CRC of every byte but the last four (the
 * trailer) as it goes: the length is known from Content-Length before the first byte. */
typedef struct ckpt_sink {
    FILE *f;
    int64_t total;             /* Content-Length, -1 unknown */
    int64_t at;
    uint32_t crc;
    unsigned char tail[4];     /* the trailer, as received */
    const char *path;
} ckpt_sink;

static int sink_write(void *ctx, const char *data, size_t n, nc_err *e) {
    ckpt_sink *s = ctx;
    if (s->total < 16) return nc_fail(e, NC_EFORMAT, "the checkpoint came without a plausible Content-Length");
    if (fwrite(data, 1, n, s->f) != n) return nc_fail(e, NC_EIO, "cannot write %s: %s", s->path, strerror(errno));
    int64_t start = s->at, end = s->at + (int64_t)n, body_end = s->total - 4;
    if (start < body_end) s->crc = nc_crc32(s->crc, data, (size_t)((end < body_end ? end : body_end) - start));
    for (int64_t p = start > body_end ? start : body_end; p < end && p < s->total; p++)
        s->tail[p - body_end] = (unsigned char)data[p - start];
    s->at = end;
    return NC_OK;
}

/* The length and status come from the response, whose headers httpc has parsed before the
 * first call. Only a 200's body is a checkpoint: the file is created at its first byte (a 304
 * costs no file), and another status's body (a problem+json) is kept, cut at sizeof err - 1,
 * for the error message. */
typedef struct sink_ctx {
    ckpt_sink s;
    httpc_resp *resp;
    char err[2048];
    size_t err_len;
} sink_ctx;

static int sink_first(void *ctx, const char *data, size_t n, nc_err *e) {
    sink_ctx *c = ctx;
    if (c->resp->status != 200) {
        size_t room = sizeof c->err - 1 - c->err_len, w = n < room ? n : room;
        memcpy(c->err + c->err_len, data, w);
        c->err_len += w;
        c->err[c->err_len] = '\0';
        return NC_OK;
    }
    if (!c->s.f) {
        c->s.total = c->resp->content_length;
        if (!(c->s.f = fopen(c->s.path, "wb"))) return nc_fail(e, NC_EIO, "cannot create %s: %s", c->s.path, strerror(errno));
    }
    return sink_write(&c->s, data, n, e);
}

/* Flushes and closes the download (when one was started); NC_OK or the first error. */
static int sink_close(sink_ctx *c, int rc, nc_err *e) {
    if (!c->s.f) return rc;
    if (fflush(c->s.f) != 0 || fsync(fileno(c->s.f)) != 0)
        rc = rc ? rc : nc_fail(e, NC_EIO, "cannot write %s: %s", c->s.path, strerror(errno));
    if (fclose(c->s.f) != 0) rc = rc ? rc : nc_fail(e, NC_EIO, "cannot close %s: %s", c->s.path, strerror(errno));
    c->s.f = NULL;
    return rc;
}

static void ckpt_name(const model_env *a, uint64_t version, const char *suffix, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/models/" CKPT_PREFIX "%020llu" CKPT_SUFFIX "%s", a->cfg->data_dir, (unsigned long long)version,
             suffix);
}

/* Checks the download against the headers: length, CRC header, CRC trailer. */
static int verify_download(const sink_ctx *c, const httpc_resp *resp, uint32_t want_crc, nc_err *e) {
    uint32_t trailer = (uint32_t)c->s.tail[0] | (uint32_t)c->s.tail[1] << 8 | (uint32_t)c->s.tail[2] << 16 |
                       (uint32_t)c->s.tail[3] << 24;
    if (resp->content_length < 16 || (int64_t)resp->body_len != resp->content_length)
        return nc_fail(e, NC_EFORMAT, "checkpoint download: %zu bytes, Content-Length %lld", resp->body_len,
                       (long long)resp->content_length);
    if (c->s.crc != want_crc || trailer != want_crc)
        return nc_fail(e, NC_EFORMAT, "checkpoint download: CRC-32 %08x, file trailer %08x, X-Checkpoint-Crc32 %08x",
                       c->s.crc, trailer, want_crc);
    return NC_OK;
}

/* Keeps the installed file and the keep_checkpoints - 1 highest other versions. */
static void prune_local(replica *r, uint64_t keep_version) {
    char dir[CFG_STR_MAX + 16], path[CFG_STR_MAX + 300];
    snprintf(dir, sizeof dir, "%s/models", r->env.cfg->data_dir);
    DIR *d = opendir(dir);
    if (!d) return;
    uint64_t vs[256];
    size_t n = 0;
    for (struct dirent *de; (de = readdir(d)) && n < 256;) {
        unsigned long long v;
        char tail[16];
        if (sscanf(de->d_name, CKPT_PREFIX "%20llu%15s", &v, tail) == 2 && !strcmp(tail, CKPT_SUFFIX) && v != keep_version)
            vs[n++] = v;
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) { /* delete every version with keep-1 or more higher others */
        size_t higher = 0;
        for (size_t j = 0; j < n; j++) higher += vs[j] > vs[i];
        if ((int)higher < r->env.cfg->keep_checkpoints - 1) continue;
        ckpt_name(&r->env, vs[i], "", path, sizeof path);
        if (unlink(path) != 0) slog_kv(r->env.log, SLOG_WARN, "checkpoint_prune_failed", "path", json_string(path), NULL);
    }
}

/* Loads the verified file, checks its version and swaps it in. */
static int install_file(replica *r, const char *path, uint64_t version, nc_err *e) {
    nc_checkpoint ck;
    if (nc_checkpoint_read(path, &ck, e) != NC_OK) return e->code;
    if (ck.meta.model_version != version) {
        nc_fail(e, NC_EFORMAT, "%s holds model version %llu, the primary announced %llu", path,
                (unsigned long long)ck.meta.model_version, (unsigned long long)version);
        nc_checkpoint_free(&ck);
        return NC_EFORMAT;
    }
    live_model *m = live_model_create(&ck, path, (size_t)r->env.cfg->rec_cache_mb << 20,
                                      &r->env.metrics->recommend_cache_evictions, e);
    if (!m) return e->code ? e->code : NC_EINTERNAL;
    const model_env *a = &r->env;
    live_model *old = live_acquire(a->model);
    ranking_warm_cache(a, m, old, RANKING_WARM_SECONDS);
    live_release(old);
    slog_kv(a->log, SLOG_INFO, "swap", "version", json_integer((json_int_t)version), "reason",
            json_string("replicated from the primary"), "users", json_integer(m->ck.n_users), "items",
            json_integer(m->ck.n_items), "source", json_string(path), NULL);
    double trained_at = m->ck.meta.trained_at;
    live_swap(a->model, m);
    prom_set_model(a->metrics, version, trained_at);
    prom_add(&a->metrics->swaps, 1);
    return NC_OK;
}

/* Asks for the checkpoint (If-None-Match inm, NULL without a model); a new one is streamed to
 * a .part file, verified, renamed into place and swapped in. */
static int fetch_checkpoint(replica *r, const char *inm, nc_err *e) {
    char dir[CFG_STR_MAX + 16], part[CFG_STR_MAX + 300], final[CFG_STR_MAX + 300], hv[64];
    snprintf(dir, sizeof dir, "%s/models", r->env.cfg->data_dir);
    if (mkdir(r->env.cfg->data_dir, 0750) != 0 && errno != EEXIST)
        return nc_fail(e, NC_EIO, "setting 'data_dir': cannot create '%s': %s", r->env.cfg->data_dir, strerror(errno));
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) return nc_fail(e, NC_EIO, "cannot create '%s': %s", dir, strerror(errno));
    snprintf(part, sizeof part, "%s/incoming-%d.part", dir, (int)getpid());
    httpc_resp resp;
    sink_ctx *c = nc_calloc(1, sizeof *c, e);
    if (!c) return NC_ENOMEM;
    c->s = (ckpt_sink){.total = -1, .path = part};
    c->resp = &resp;
    int rc = get(r, "/replication/checkpoint", inm, CHECKPOINT_MAX_BODY, sink_first, c, &resp, e);
    rc = sink_close(c, rc, e);
    if (!rc && resp.status == 200) {
        char *end = NULL;
        const char *vs = httpc_header(&resp, "X-Model-Version", hv, sizeof hv);
        unsigned long long version = vs ? strtoull(vs, &end, 10) : 0;
        const char *cs = version && !*end ? httpc_header(&resp, "X-Checkpoint-Crc32", hv, sizeof hv) : NULL;
        uint32_t want = cs ? (uint32_t)strtoul(cs, &end, 16) : 0;
        if (!cs || *end) rc = nc_fail(e, NC_EFORMAT, "the checkpoint came without X-Model-Version or X-Checkpoint-Crc32");
        if (!rc) rc = verify_download(c, &resp, want, e);
        ckpt_name(&r->env, version, "", final, sizeof final);
        int renamed = !rc && rename(part, final) == 0;
        if (!rc && !renamed) rc = nc_fail(e, NC_EIO, "cannot rename %s: %s", part, strerror(errno));
        if (renamed && (rc = install_file(r, final, version, e)) != NC_OK) unlink(final); /* only the file just renamed */
        if (rc == NC_OK) prune_local(r, version);
        count(r, rc ? &r->rejects : &r->loads, 1);
        if (rc) slog_kv(r->env.log, SLOG_ERROR, "checkpoint_rejected", "error", json_string(e->msg), NULL);
    } else if (!rc && resp.status != 304) {
        resp.body = c->err_len ? strdup(c->err) : NULL; /* the problem body, for its detail */
        rc = status_error(r, "/replication/checkpoint", &resp, e);
    }
    unlink(part); /* gone after a rename; removes a partial or refused download */
    httpc_resp_free(&resp);
    free(c);
    return rc;
}

static int sync_model(replica *r, nc_err *e) {
    live_model *m = live_acquire(r->env.model);
    char inm[40] = "";
    if (m) snprintf(inm, sizeof inm, "\"%llu\"", (unsigned long long)m->ck.meta.model_version);
    live_release(m);
    return fetch_checkpoint(r, inm[0] ? inm : NULL, e);
}

int replica_poll_once(replica *r, nc_err *e) {
    int rc = sync_changes(r, e);
    if (rc == NC_OK) rc = sync_model(r, e);
    if (rc == NC_OK) note_success(r);
    else if (rc != NC_ECANCEL) note_failure(r, e);
    return rc;
}

/* ======================= the thread ======================= */

static void *thread_main(void *arg) {
    replica *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        pthread_mutex_unlock(&r->mu);
        nc_err e = {0};
        replica_poll_once(r, &e);
        double until = nc_wall_time() + r->env.cfg->replica_poll;
        struct timespec ts = {(time_t)until, (long)((until - (double)(time_t)until) * 1e9)};
        pthread_mutex_lock(&r->mu);
        while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0) {}
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* rstate_user_items as a model_seen_fn (ctx: the replica's state): the warm-up before a swap
 * reads users' items from what this replica follows. */
static int seen_state(void *state, const char *user, store_items *out, int64_t *deleted_seq, nc_err *e) {
    return rstate_user_items(state, user, out, deleted_seq, e);
}

replica *replica_new(const model_env *a, nc_err *e) {
    replica *r = nc_calloc(1, sizeof *r, e);
    if (!r) return NULL;
    r->env = *a;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL); /* CLOCK_REALTIME: the deadline is wall-clock seconds */
    if (httpc_parse_url(a->cfg->primary, &r->url, e) != NC_OK || !(r->state = rstate_new(a->cfg->popular_n, e)) ||
        rstate_seen_types(r->state, a->cfg->exclude_types, e) != NC_OK) {
        replica_stop(r);
        return NULL;
    }
    r->env.seen = seen_state;
    r->env.seen_ctx = r->state;
    return r;
}

int replica_start(replica *r, nc_err *e) {
    int err = pthread_create(&r->thread, NULL, thread_main, r);
    if (err) return nc_fail(e, NC_EIO, "cannot start the replica thread: %s", strerror(err));
    r->started = 1;
    return NC_OK;
}

void replica_stop(replica *r) {
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (r->started) pthread_join(r->thread, NULL);
    rstate_free(r->state);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* ======================= reporting ======================= */

replica_state *replica_state_get(replica *r) { return r->state; }

int replica_synced(replica *r) {
    pthread_mutex_lock(&r->mu);
    int s = r->synced;
    pthread_mutex_unlock(&r->mu);
    return s;
}

int replica_primary_up(replica *r) {
    pthread_mutex_lock(&r->mu);
    int up = r->up;
    pthread_mutex_unlock(&r->mu);
    return up;
}

json_t *replica_status(replica *r) {
    rstate_stats st;
    rstate_stats_get(r->state, &st);
    pthread_mutex_lock(&r->mu);
    double age = r->last_ok_at > 0 ? nc_wall_time() - r->last_ok_at : -1;
    json_t *o = json_pack("{s:s, s:b, s:b, s:o, s:I, s:I, s:I, s:I}", "url", r->env.cfg->primary, "reachable", r->up,
                          "synced", r->synced, "last_contact_seconds", age >= 0 ? json_real(age) : json_null(),
                          "applied_seq", (json_int_t)st.cursor, "primary_seq", (json_int_t)r->primary_seq, "users",
                          (json_int_t)st.users, "interactions", (json_int_t)st.interactions);
    if (o && r->last_error[0]) json_object_set_new(o, "last_error", json_string(r->last_error));
    pthread_mutex_unlock(&r->mu);
    return o;
}

char *replica_metrics(replica *r) {
    rstate_stats st;
    rstate_stats_get(r->state, &st);
    pthread_mutex_lock(&r->mu);
    double age = r->last_ok_at > 0 ? nc_wall_time() - r->last_ok_at : -1;
    char *text = NULL;
    int n = asprintf(&text,
        "# HELP nclrec_replica_primary_up 1 while the last poll of the primary succeeded.\n# TYPE nclrec_replica_primary_up gauge\nnclrec_replica_primary_up %d\n"
        "# HELP nclrec_replica_synced 1 once the changefeed was followed to its end since start.\n# TYPE nclrec_replica_synced gauge\nnclrec_replica_synced %d\n"
        "# HELP nclrec_replica_last_contact_age_seconds Seconds since the last successful poll (-1: never).\n# TYPE nclrec_replica_last_contact_age_seconds gauge\nnclrec_replica_last_contact_age_seconds %.3f\n"
        "# HELP nclrec_replica_applied_seq The primary's sequence number the replica state is applied up to.\n# TYPE nclrec_replica_applied_seq gauge\nnclrec_replica_applied_seq %lld\n"
        "# HELP nclrec_replica_primary_seq The primary's watermark at the last changefeed page.\n# TYPE nclrec_replica_primary_seq gauge\nnclrec_replica_primary_seq %lld\n"
        "# HELP nclrec_replica_polls_total Polls of the primary.\n# TYPE nclrec_replica_polls_total counter\nnclrec_replica_polls_total %llu\n"
        "# HELP nclrec_replica_poll_errors_total Polls that failed (primary unreachable or answering an error).\n# TYPE nclrec_replica_poll_errors_total counter\nnclrec_replica_poll_errors_total %llu\n"
        "# HELP nclrec_replica_events_applied_total Changefeed events applied.\n# TYPE nclrec_replica_events_applied_total counter\nnclrec_replica_events_applied_total %llu\n"
        "# HELP nclrec_replica_checkpoints_loaded_total Checkpoints downloaded, verified and swapped in.\n# TYPE nclrec_replica_checkpoints_loaded_total counter\nnclrec_replica_checkpoints_loaded_total %llu\n"
        "# HELP nclrec_replica_checkpoints_rejected_total Downloads refused (length, checksum, version, unloadable).\n# TYPE nclrec_replica_checkpoints_rejected_total counter\nnclrec_replica_checkpoints_rejected_total %llu\n"
        "# HELP nclrec_replica_resets_total Times the primary's sequence went backwards and the state was read again.\n# TYPE nclrec_replica_resets_total counter\nnclrec_replica_resets_total %llu\n"
        "# HELP nclrec_replica_users Users with live interactions in the replica state.\n# TYPE nclrec_replica_users gauge\nnclrec_replica_users %lld\n"
        "# HELP nclrec_replica_interactions Live interactions in the replica state.\n# TYPE nclrec_replica_interactions gauge\nnclrec_replica_interactions %lld\n",
        r->up, r->synced, age, (long long)st.cursor, (long long)r->primary_seq, (unsigned long long)r->polls,
        (unsigned long long)r->poll_errors, (unsigned long long)r->events, (unsigned long long)r->loads,
        (unsigned long long)r->rejects, (unsigned long long)r->resets, (long long)st.users, (long long)st.interactions);
    pthread_mutex_unlock(&r->mu);
    return n < 0 ? NULL : text;
}
