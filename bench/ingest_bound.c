/* ingest_bound.c - the most the durable-ingest benchmark (bench/bench_serve.sh, step 3) can
 * show on this machine with the daemon's own HTTP layer, whatever the store does.
 *
 * It serves POST /interactions through server/http/http.c as `nclrec serve` does (the same
 * libmicrohttpd set-up, bearer key, body cap, the body parsed by jansson - without the
 * daemon's per-field checks -, the request parked with http_answer_later while it waits, the
 * same JSON answer), but the store is replaced by
 * a writer thread that takes every queued request at once (the daemon's group commit) and
 *   none   answers them without touching the disk: the HTTP path and the hand-off alone;
 *   fsync  writes one 4 KiB page into FILE and fdatasyncs it, then answers them: the least a
 *          durable group commit can do (SQLite's WAL commit writes every changed page, then
 *          calls the same fdatasync).
 * FILE is made 4 MiB and flushed first, then overwritten in a cycle, as SQLite reuses its
 * write-ahead log, so no write grows the file (a growing file costs an inode write per flush).
 *
 *   ingest_bound MODE FILE KEY_FILE THREADS
 * MODE: none | fsync. KEY_FILE: its first line is the bearer key writes need ("" = none).
 * THREADS: HTTP threads (as --http-threads). Listens on 127.0.0.1, any free port, prints
 * "listening port=N" and serves until SIGTERM or SIGINT, then prints
 * "ingest_bound mode=M requests=N groups=G" (G: writer rounds; fdatasyncs in fsync mode).
 * Exit status 0, 1 on a start-up or disk error (the message says which), 2 on bad usage. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "http/http.h"
#include "api/routes.h"

#define PAGE 4096
#define FILE_PAGES 1024

struct bound;

/* One parked request in the writer's queue. Made by the handler, freed by job_finish (the HTTP
 * layer calls it exactly once). */
typedef struct job {
    struct bound *b;
    http_later *l;
    struct job *next;
    int64_t seq;      /* set by the writer */
} job;

/* The stand-in store: a FIFO of parked requests and the thread that answers them. */
typedef struct bound {
    int sync;              /* 1 = fdatasync per group */
    int fd;
    long page;             /* next page of the file to overwrite */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    int stopping;
    int io_failed;
    int64_t seq, requests, groups;
} bound;

/* Queues a parked request (http_answer_later's start) and wakes the writer. */
static void job_start(void *ctx, http_later *l) {
    job *j = ctx;
    bound *b = j->b;
    j->l = l;
    pthread_mutex_lock(&b->mu);
    if (b->tail) b->tail->next = j;
    else b->head = j;
    b->tail = j;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* The daemon's answer to a committed single event (its own function). */
static void job_finish(void *ctx, http_resp *rs) {
    job *j = ctx;
    store_append_result res = {1, j->seq, j->seq, 0};
    if (rs) routes_append_answer(&res, rs);
    free(j);
}

/* POST /interactions: decodes the body as the daemon does (one event object with string user
 * and item), then parks the request until the writer's next group. */
static void h_interactions(void *app, const http_req *rq, http_resp *rs) {
    json_error_t err;
    json_t *o = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    int ok = json_is_object(o) && json_is_string(json_object_get(o, "user")) &&
             json_is_string(json_object_get(o, "item"));
    json_decref(o);
    if (!ok) {
        http_problem(rs, 422, "the body must be one event object with string user and item");
        return;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        http_problem(rs, 500, "out of memory");
        return;
    }
    j->b = app;
    if (!http_answer_later(rs, job_start, job_finish, j)) {
        free(j);
        http_problem(rs, 500, "out of memory");
    }
}

/* One group's durability: a page written in place and flushed. Returns 0 or -1 (errno). */
static int flush_group(bound *b) {
    static const char zero[PAGE];
    if (pwrite(b->fd, zero, PAGE, (off_t)b->page * PAGE) != PAGE) return -1;
    b->page = (b->page + 1) % FILE_PAGES;
    return fdatasync(b->fd);
}

/* The writer: takes every queued request, makes the group durable (fsync mode), answers all. */
static void *writer_main(void *arg) {
    bound *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->head && !b->stopping) pthread_cond_wait(&b->cv, &b->mu);
        if (!b->head) break;
        job *list = b->head;
        b->head = b->tail = NULL;
        pthread_mutex_unlock(&b->mu);
        if (b->sync && flush_group(b) != 0 && !b->io_failed) {
            perror("ingest_bound: write or fdatasync");
            b->io_failed = 1;
        }
        int64_t n = 0;
        for (job *j = list, *next; j; j = next) {
            next = j->next; /* j may be freed once done */
            j->seq = ++b->seq;
            n++;
            http_later_done(j->l);
        }
        pthread_mutex_lock(&b->mu);
        b->requests += n;
        b->groups++;
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* FILE_PAGES zero pages, flushed, so the run only overwrites. */
static int make_file(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    static const char zero[PAGE];
    for (long p = 0; fd >= 0 && p < FILE_PAGES; p++)
        if (write(fd, zero, PAGE) != PAGE) {
            close(fd);
            return -1;
        }
    if (fd >= 0 && fsync(fd) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The first line of path (the bearer key), or "" for an empty path; NULL on error. */
static char *read_key(const char *path) {
    char *key = calloc(1, 512);
    FILE *f = *path ? fopen(path, "r") : NULL;
    if (key && f && !fgets(key, 512, f)) key[0] = 0;
    if (f) fclose(f);
    if (!key || (*path && !f)) {
        free(key);
        return NULL;
    }
    key[strcspn(key, "\r\n")] = 0;
    return key;
}

int main(int argc, char **argv) {
    if (argc != 5 || (strcmp(argv[1], "none") && strcmp(argv[1], "fsync")) || atoi(argv[4]) < 1) {
        fprintf(stderr, "usage: ingest_bound none|fsync FILE KEY_FILE THREADS\n");
        return 2;
    }
    bound b = {.sync = !strcmp(argv[1], "fsync"), .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    char *key = read_key(argv[3]);
    b.fd = make_file(argv[2]);
    if (!key || b.fd < 0) {
        fprintf(stderr, "ingest_bound: cannot read %s or write %s\n", argv[3], argv[2]);
        return 1;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* every thread started below inherits the mask */
    pthread_t writer;
    if (pthread_create(&writer, NULL, writer_main, &b) != 0) return 1;
    /* The daemon's defaults (server/config/config.c), so only the store differs. */
    http_opts o = {.host = "127.0.0.1", .threads = atoi(argv[4]), .max_connections = 1024, .conn_timeout = 30,
                   .max_body = 1 << 20, .max_header = 32768, .api_key = key};
    http_route routes[] = {{"POST", "/interactions", h_interactions, HTTP_AUTH_WRITE | HTTP_BODY_JSON}};
    nc_err e = {0};
    http_server *srv = http_start(&o, routes, 1, &b, NULL, NULL, &e);
    if (!srv) {
        fprintf(stderr, "ingest_bound: %s\n", e.msg);
        return 1;
    }
    printf("listening port=%d\n", http_port(srv));
    fflush(stdout);
    int sig;
    sigwait(&sigs, &sig);
    http_stop(srv); /* answers every parked request first (finish with rs NULL when gone) */
    pthread_mutex_lock(&b.mu);
    b.stopping = 1;
    pthread_cond_signal(&b.cv);
    pthread_mutex_unlock(&b.mu);
    pthread_join(writer, NULL);
    printf("ingest_bound mode=%s requests=%lld groups=%lld\n", argv[1], (long long)b.requests, (long long)b.groups);
    close(b.fd);
    free(key);
    return b.io_failed;
}
