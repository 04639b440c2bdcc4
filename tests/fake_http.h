/* fake_http.h - a tiny HTTP server on 127.0.0.1 for client tests (test_httpc.c,
 * test_replica.c): one thread accepts connections one at a time, reads a request's head, asks
 * the test's handler for the raw bytes to answer (status line, headers and body exactly as
 * given, so a test can send malformed, truncated or slow answers), writes them and closes.
 * Header-only with static functions: each test binary includes it once. */
#ifndef NCLREC_FAKE_HTTP_H
#define NCLREC_FAKE_HTTP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Fills *reply (malloc'd, the server frees it) and *len for the request head req; *hang_ms
 * keeps the connection open and silent that long after the reply. */
typedef void (*fake_handler)(void *ctx, const char *req, char **reply, size_t *len, int *hang_ms);

typedef struct fake_server {
    int fd, port;
    pthread_t th;
    atomic_int stop;
    fake_handler fn;
    void *ctx;
    int requests;            /* answered so far (read after fake_stop or between calls) */
    char last_req[4096];     /* the head of the last request */
} fake_server;

static void fake_serve_one(fake_server *s, int c) {
    char req[4096];
    size_t n = 0;
    while (n < sizeof req - 1) {
        ssize_t r = recv(c, req + n, sizeof req - 1 - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n")) break;
    }
    req[n] = '\0';
    memcpy(s->last_req, req, n + 1);
    char *reply = NULL;
    size_t len = 0;
    int hang = 0;
    s->fn(s->ctx, req, &reply, &len, &hang);
    for (size_t at = 0; at < len;) {
        ssize_t w = send(c, reply + at, len - at, MSG_NOSIGNAL);
        if (w <= 0) break;
        at += (size_t)w;
    }
    free(reply);
    if (hang) usleep((useconds_t)hang * 1000);
    s->requests++;
}

static void *fake_thread(void *arg) {
    fake_server *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->fd, POLLIN, 0};
        if (poll(&p, 1, 50) != 1) continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) continue;
        fake_serve_one(s, c);
        close(c);
    }
    return NULL;
}

/* Listens on 127.0.0.1 at a free port (s->port) and starts the thread; 0 on success. */
static int fake_start(fake_server *s, fake_handler fn, void *ctx) {
    memset(s, 0, sizeof *s);
    s->fn = fn;
    s->ctx = ctx;
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->fd, 8) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->th, NULL, fake_thread, s) == 0 ? 0 : -1;
}

static void fake_stop(fake_server *s) {
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
    close(s->fd);
}

/* A malloc'd copy of n bytes (a reply for the handler). */
static inline char *fake_dup(const char *data, size_t n) {
    char *p = malloc(n + 1);
    if (p) memcpy(p, data, n);
    return p;
}

#endif
