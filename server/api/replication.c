/* replication.c - the two feeds a primary serves to its replicas (replica/feed.h has their
 * format): GET /replication/changes (a page of the changefeed) and GET /replication/checkpoint
 * (the served model's file, 304 when the replica has it). */
#include "api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replica/feed.h"

/* The feeds exist on a primary only: say what this daemon is instead. */
static int is_primary(const srv_app *a, http_resp *rs) {
    if (a->cfg.role_id == SRV_ROLE_PRIMARY) return 1;
    if (a->cfg.role_id == SRV_ROLE_REPLICA)
        http_problem(rs, 404, "this daemon is a replica: the replication feeds are served by its primary at %s", a->cfg.primary);
    else
        http_problem(rs, 404, "the replication feeds are served only by a daemon started with --role primary (this one is %s)",
                     a->cfg.role);
    return 0;
}

/* An integer query parameter within [lo, hi], or def when absent. */
static int int_param(const http_req *rq, http_resp *rs, const char *name, long long lo, long long hi, long long def,
                     long long *out) {
    const char *v = http_query(rq, name);
    *out = def;
    if (!v) return 1;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        http_problem(rs, 400, "query parameter '%s' must be an integer from %lld to %lld, got '%.32s'", name, lo, hi, v);
        return 0;
    }
    *out = x;
    return 1;
}

void replication_h_changes(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    static const char *const allowed[] = {"after", "limit", NULL};
    long long after, limit;
    if (!is_primary(a, rs) || !routes_params_known(rq, rs, allowed) ||
        !int_param(rq, rs, "after", 0, INT64_MAX, 0, &after) ||
        !int_param(rq, rs, "limit", 1, FEED_MAX_LIMIT, FEED_DEFAULT_LIMIT, &limit))
        return;
    json_t *page = NULL;
    nc_err e = {0};
    if (!a->feed || feed_changes(a->feed, after, (int)limit, &page, &e) != NC_OK) {
        prom_add(&a->metrics.store_errors, 1);
        slog_kv(&a->log, SLOG_ERROR, "feed_error", "error", json_string(a->feed ? e.msg : "no changefeed"), NULL);
        http_problem(rs, 503, "the changefeed cannot be read (%s); retry later", a->feed ? nc_strerror(e.code) : "not open");
        http_add_header(rs, "Retry-After", "1");
        return;
    }
    http_json(rs, 200, page);
}

/* Sends the served model's checkpoint, or 304 when the replica already has that version. The
 * model may be replaced (and its file pruned) while this runs: the file that could not be
 * opened is retried once with the model served then. */
void replication_h_checkpoint(void *ap, const http_req *rq, http_resp *rs) {
    srv_app *a = ap;
    static const char *const allowed[] = {NULL};
    if (!is_primary(a, rs) || !routes_params_known(rq, rs, allowed)) return;
    for (int attempt = 0; attempt < 2; attempt++) {
        live_model *m = live_acquire(&a->model);
        if (!m) {
            http_problem(rs, 503, "no model is loaded yet; retry once /readyz answers 200");
            return;
        }
        char etag[40], path[sizeof m->source], hex[16], ver[24];
        uint64_t v = m->ck.meta.model_version;
        snprintf(etag, sizeof etag, "\"%llu\"", (unsigned long long)v);
        snprintf(ver, sizeof ver, "%llu", (unsigned long long)v);
        snprintf(path, sizeof path, "%s", m->source);
        live_release(m);
        const char *inm = http_header(rq, "If-None-Match");
        if (inm && (!strcmp(inm, etag) || !strcmp(inm, "*"))) {
            rs->status = 304;
            rs->ctype = "application/octet-stream";
            http_add_header(rs, "ETag", etag);
            return;
        }
        if (!path[0]) {
            http_problem(rs, 503, "model %s has no checkpoint file (writing it failed); the next retrain writes one", ver);
            return;
        }
        char *buf = NULL;
        size_t len = 0;
        uint32_t crc = 0;
        nc_err e = {0};
        int rc = feed_read_checkpoint(path, &buf, &len, &crc, &e);
        if (rc == NC_EIO && attempt == 0) continue;
        if (rc) {
            slog_kv(&a->log, SLOG_ERROR, "feed_checkpoint_error", "error", json_string(e.msg), NULL);
            http_problem(rs, rc == NC_EFORMAT ? 500 : 503, "the checkpoint of model %s cannot be sent: %s", ver,
                         rc == NC_EFORMAT ? "the file is corrupt on disk" : nc_strerror(rc));
            return;
        }
        snprintf(hex, sizeof hex, "%08x", crc);
        free(rs->body);
        rs->status = 200;
        rs->ctype = "application/octet-stream";
        rs->body = buf;
        rs->len = len;
        http_add_header(rs, "ETag", etag);
        http_add_header(rs, "X-Model-Version", ver);
        http_add_header(rs, "X-Checkpoint-Crc32", hex);
        return;
    }
}
