/* test_replica_poll.c - a replica's poller (server/replica/replica.h) against a fake primary on
 * 127.0.0.1 that serves the two feeds the way feed.c does, with faults on demand: the
 * changefeed followed page by page into the state; a checkpoint whose CRC header, version
 * header or length is wrong is refused (no model, no file left behind, counted); a good one is
 * verified, kept on disk and swapped in; an error status is reported with the primary's detail
 * and leaves no file; the next poll sends If-None-Match and gets 304 (no file written); a
 * primary whose watermark went below the cursor makes the replica read everything again; a
 * primary that went away leaves the model served and the failure reported. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "fake_http.h"
#include "api/routes.h"
#include "replica/replica.h"
#include "testhelp.h"

enum { CK_GOOD, CK_BAD_CRC, CK_BAD_VERSION, CK_TRUNCATED, CK_ERROR };

typedef struct primary {
    char *ckpt;               /* the checkpoint file's bytes */
    size_t len;
    uint32_t crc;             /* its trailer */
    uint64_t version;
    int mode;
    int64_t last_seq;         /* events 1..last_seq of the table below are live */
    char last_inm[64];        /* If-None-Match of the last checkpoint request */
    int changes_requests;
} primary;

static const struct { const char *type, *user, *item; } events[] = {
    {"interaction", "u1", "i0"}, {"interaction", "u1", "i1"}, {"interaction", "u2", "i1"}, {"deletion", "u2", NULL},
};

static char *reply_of(const char *head, const char *body, size_t blen, size_t *len) {
    size_t hl = strlen(head);
    char *r = malloc(hl + blen + 1);
    memcpy(r, head, hl);
    if (blen) memcpy(r + hl, body, blen);
    *len = hl + blen;
    return r;
}

/* One changefeed page built like feed_changes: events above after, at most limit. */
static char *changes_page(primary *p, const char *req, size_t *len) {
    long long after = 0, limit = 1000;
    const char *q = strstr(req, "after=");
    if (q) after = atoll(q + 6);
    q = strstr(req, "limit=");
    if (q) limit = atoll(q + 6);
    char body[2048], head[256];
    int n = snprintf(body, sizeof body, "{\"events\":["), count = 0;
    long long last = after;
    for (long long s = after + 1; s <= p->last_seq && count < limit; s++, count++) {
        const char *it = events[s - 1].item;
        n += snprintf(body + n, sizeof body - (size_t)n, "%s{\"seq\":%lld,\"type\":\"%s\",\"user\":\"%s\"%s%s%s}",
                      count ? "," : "", s, events[s - 1].type, events[s - 1].user, it ? ",\"item\":\"" : "", it ? it : "",
                      it ? "\"" : "");
        last = s;
    }
    int more = count == limit && last < p->last_seq;
    n += snprintf(body + n, sizeof body - (size_t)n, "],\"after\":%lld,\"next\":%lld,\"last_seq\":%lld,\"more\":%s}", after,
                  more ? last : (p->last_seq > after ? p->last_seq : after), (long long)p->last_seq, more ? "true" : "false");
    snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", n);
    p->changes_requests++;
    return reply_of(head, body, (size_t)n, len);
}

static char *checkpoint(primary *p, const char *req, size_t *len) {
    char head[512], etag[32];
    const char *inm = strstr(req, "If-None-Match: ");
    snprintf(p->last_inm, sizeof p->last_inm, "%.*s", inm ? (int)strcspn(inm + 15, "\r") : 0, inm ? inm + 15 : "");
    snprintf(etag, sizeof etag, "\"%llu\"", (unsigned long long)p->version);
    if (!strcmp(p->last_inm, etag)) return reply_of("HTTP/1.1 304 Not Modified\r\n\r\n", NULL, 0, len);
    if (p->mode == CK_ERROR) {
        static const char body[] = "{\"status\":500,\"detail\":\"the file is corrupt on disk\"}";
        snprintf(head, sizeof head, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/problem+json\r\n"
                 "Content-Length: %zu\r\n\r\n", sizeof body - 1);
        return reply_of(head, body, sizeof body - 1, len);
    }
    snprintf(head, sizeof head,
             "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nETag: %s\r\nX-Model-Version: %llu\r\n"
             "X-Checkpoint-Crc32: %08x\r\nContent-Length: %zu\r\n\r\n",
             etag, (unsigned long long)(p->mode == CK_BAD_VERSION ? p->version + 1 : p->version),
             p->mode == CK_BAD_CRC ? p->crc ^ 1u : p->crc, p->len + (p->mode == CK_TRUNCATED ? 10 : 0));
    return reply_of(head, p->ckpt, p->len, len);
}

static void handler(void *ctx, const char *req, char **reply, size_t *len, int *hang_ms) {
    primary *p = ctx;
    *hang_ms = 0;
    if (!strncmp(req, "GET /replication/changes?", 25)) *reply = changes_page(p, req, len);
    else if (!strncmp(req, "GET /replication/checkpoint ", 28)) *reply = checkpoint(p, req, len);
    else *reply = reply_of("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", NULL, 0, len);
}

/* A small valid checkpoint of the given version, written by the real writer and read back. */
static int make_file(primary *p, const char *dir, uint64_t version) {
    nc_checkpoint c;
    nc_err e;
    nc_checkpoint_init(&c);
    c.hp.embedding_size = 4;
    c.n_users = 2;
    c.n_items = 3;
    c.dim = 4;
    c.meta.model_version = version;
    int32_t got;
    const char *ids[] = {"u1", "u2", "i0", "i1", "i2"};
    for (int i = 0; i < 5; i++)
        if (nc_idmap_intern(i < 2 ? &c.users : &c.items, ids[i], strlen(ids[i]), &got, &e) != NC_OK) return -1;
    c.user_emb = nc_calloc(8, sizeof(float), &e);
    c.item_emb = nc_calloc(12, sizeof(float), &e);
    c.E0 = nc_calloc(20, sizeof(float), &e);
    if (!c.E0) return -1;
    for (int i = 0; i < 12; i++) c.item_emb[i] = (float)(i % 5) / 5.0f;
    c.user_emb[0] = c.user_emb[5] = 1;
    char path[512];
    snprintf(path, sizeof path, "%s/source.ckpt", dir);
    int rc = nc_checkpoint_write(path, &c, &e);
    nc_checkpoint_free(&c);
    FILE *f = rc == NC_OK ? fopen(path, "rb") : NULL;
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    p->len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    p->ckpt = malloc(p->len);
    size_t n = fread(p->ckpt, 1, p->len, f);
    fclose(f);
    unlink(path);
    memcpy(&p->crc, p->ckpt + p->len - 4, 4); /* little-endian trailer, as on x86-64 */
    p->version = version;
    return n == p->len ? 0 : -1;
}

/* Files in dir whose name contains part. */
static int files_with(const char *dir, const char *part) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));) n += strstr(de->d_name, part) != NULL;
    if (d) closedir(d);
    return n;
}

static int metric(replica *r, const char *line) {
    char *m = replica_metrics(r);
    int has = m && strstr(m, line);
    free(m);
    return has;
}

static uint64_t served_version(srv_app *a) {
    live_model *m = live_acquire(&a->model);
    uint64_t v = m ? m->ck.meta.model_version : 0;
    live_release(m);
    return v;
}

static void test_poller(void) {
    char dir[] = "/tmp/nclrec-poll.XXXXXX", models[600];
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    snprintf(models, sizeof models, "%s/models", dir);
    primary p = {.last_seq = 4, .mode = CK_BAD_CRC};
    CHECK(make_file(&p, dir, 5) == 0, "checkpoint file");
    fake_server s;
    CHECK(fake_start(&s, handler, &p) == 0, "fake primary");
    srv_app *a = calloc(1, sizeof *a);
    cfg_defaults(&a->cfg);
    snprintf(a->cfg.role, sizeof a->cfg.role, "replica");
    a->cfg.role_id = SRV_ROLE_REPLICA;
    snprintf(a->cfg.primary, sizeof a->cfg.primary, "http://127.0.0.1:%d", s.port);
    snprintf(a->cfg.data_dir, sizeof a->cfg.data_dir, "%s", dir);
    a->cfg.replica_page = 2;
    a->cfg.replica_timeout = 2;
    int devnull = open("/dev/null", O_WRONLY);
    slog_init(&a->log, SLOG_ERROR, devnull);
    prom_init(&a->metrics, NULL, NULL, 0);
    live_slot_init(&a->model);
    nc_err e = {0};
    model_env env = routes_model_env(a);
    replica *r = replica_new(&env, &e);
    CHECK(r != NULL, "%s", e.msg);
    if (!r) return;

    /* a bad CRC header: the changefeed is applied, the model refused */
    CHECK(replica_poll_once(r, &e) == NC_EFORMAT && strstr(e.msg, "X-Checkpoint-Crc32"), "bad crc: %s", e.msg);
    CHECK(p.changes_requests == 2, "two pages of two events (%d requests)", p.changes_requests);
    store_items it;
    int64_t dseq = 0;
    CHECK(rstate_user_items(replica_state_get(r), "u1", &it, NULL, &e) == NC_OK && it.n == 2, "u1 has 2 items");
    store_items_free(&it);
    CHECK(rstate_user_items(replica_state_get(r), "u2", &it, &dseq, &e) == NC_OK && it.n == 0 && dseq == 4, "u2 deleted at 4");
    store_items_free(&it);
    CHECK(replica_synced(r) && !replica_primary_up(r), "synced, but the poll failed");
    CHECK(served_version(a) == 0 && files_with(models, ".nclrec") == 0 && files_with(models, ".part") == 0,
          "no model and no file after a refused download");
    CHECK(metric(r, "nclrec_replica_checkpoints_rejected_total 1\n"), "the refusal is counted");

    p.mode = CK_TRUNCATED;
    CHECK(replica_poll_once(r, &e) == NC_EIO && strstr(e.msg, "closed the connection"), "truncated: %s", e.msg);
    CHECK(files_with(models, ".part") == 0 && served_version(a) == 0, "a partial download is removed");
    p.mode = CK_BAD_VERSION;
    CHECK(replica_poll_once(r, &e) == NC_EFORMAT && strstr(e.msg, "announced 6"), "version mismatch: %s", e.msg);
    CHECK(files_with(models, ".nclrec") == 0 && served_version(a) == 0, "the mismatched file is deleted");

    p.mode = CK_ERROR;
    CHECK(replica_poll_once(r, &e) == NC_EIO && strstr(e.msg, "answered 500") && strstr(e.msg, "corrupt on disk"),
          "an error status names the primary's detail: %s", e.msg);
    CHECK(files_with(models, ".part") == 0 && files_with(models, ".nclrec") == 0, "an error body is not kept as a file");
    CHECK(metric(r, "nclrec_replica_checkpoints_rejected_total 2\n"), "an error status is not a refused download");

    p.mode = CK_GOOD;
    CHECK(replica_poll_once(r, &e) == NC_OK, "good: %s", e.msg);
    CHECK(served_version(a) == 5 && replica_primary_up(r), "version 5 served (%llu)", (unsigned long long)served_version(a));
    CHECK(files_with(models, "model-00000000000000000005.nclrec") == 1, "the checkpoint is kept for a restart");
    CHECK(metric(r, "nclrec_replica_checkpoints_loaded_total 1\n"), "the load is counted");
    CHECK(replica_poll_once(r, &e) == NC_OK && !strcmp(p.last_inm, "\"5\""), "If-None-Match sent: '%s'", p.last_inm);
    CHECK(metric(r, "nclrec_replica_checkpoints_loaded_total 1\n"), "304: nothing loaded again");
    CHECK(files_with(models, ".part") == 0 && files_with(models, ".nclrec") == 1, "304: no file written");

    /* the primary has a new database with one event: read again from 0 */
    p.last_seq = 1;
    CHECK(replica_poll_once(r, &e) == NC_OK, "reset: %s", e.msg);
    CHECK(rstate_cursor(replica_state_get(r)) == 1 && metric(r, "nclrec_replica_resets_total 1\n"), "cursor %lld after a reset",
          (long long)rstate_cursor(replica_state_get(r)));
    CHECK(rstate_user_items(replica_state_get(r), "u2", &it, &dseq, &e) == NC_OK && dseq == 0, "u2's old deletion is gone");
    store_items_free(&it);

    fake_stop(&s);
    CHECK(replica_poll_once(r, &e) == NC_EIO && !replica_primary_up(r), "primary gone: %s", e.msg);
    json_t *st = replica_status(r);
    CHECK(json_is_false(json_object_get(st, "reachable")) && json_object_get(st, "last_error"), "status says why");
    json_decref(st);
    CHECK(served_version(a) == 5 && metric(r, "nclrec_replica_primary_up 0\n"), "the model is still served");

    replica_stop(r);
    live_slot_destroy(&a->model);
    slog_destroy(&a->log);
    close(devnull);
    free(a);
    free(p.ckpt);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(void) {
    RUN(test_poller);
    return TEST_REPORT();
}
