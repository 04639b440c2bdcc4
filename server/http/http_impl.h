/* http_impl.h - what the files of server/http/ share; not used outside this folder (http.h is
 * the layer's interface).
 *
 *   http.c           a request's steps (route, limits, key, body), answering later, the
 *                    libmicrohttpd glue and the daemon
 *   http_answer.c    building answers (http_json, http_problem, ...) and reading a request's
 *                    query and headers, whichever path it came by
 *   http_watch.c     every open connection's deadline (the watchdog thread) and the budget of
 *                    log lines clients can cause
 *   http_dispatch.c  the socketless path (http_dispatch) for tests and fuzzing
 *
 * Threading and ownership are http.h's; the structures below say which lock guards what. */
#ifndef NCLREC_HTTP_IMPL_H
#define NCLREC_HTTP_IMPL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include <microhttpd.h>

#include "http.h"

/* What the request steps need to know of a server: the same for the daemon and http_dispatch. */
typedef struct http_core {
    http_opts o;
    const http_route *routes;
    int n_routes;
    void *app;
} http_core;

/* Query arguments and headers of one request: libmicrohttpd's parsed values (conn), or the
 * decoded arrays http_dispatch builds. */
struct http_values {
    struct MHD_Connection *conn;
    const http_kv *query;
    int n_query;
    const http_kv *headers;
    int n_headers;
};

/* What http_answer_later asked for, carried from the handler to the HTTP layer in rs. */
struct http_later_req {
    http_later_start start;
    http_later_finish finish;
    void *ctx;
};

/* A parked request: resumed through libmicrohttpd (conn) or, on the socketless path, by a
 * condition variable the dispatching thread waits on. */
struct http_later {
    struct MHD_Connection *conn; /* NULL on the socketless path */
    http_server *srv;
    http_later_finish finish;
    void *ctx;
    pthread_mutex_t mu;          /* socketless path only */
    pthread_cond_t cv;
    int done;
};

/* Per-request state, from the first access-handler call to NOTIFY_COMPLETED. */
typedef struct req_state {
    double t0;
    int route;            /* -1 until matched */
    int status;           /* 0 until a response is queued */
    int too_large;        /* body exceeded max_body: answer 413 after draining */
    size_t received;      /* body bytes received (kept or discarded) */
    size_t target_len;    /* bytes of the request target as sent */
    int lengths_differ;   /* Content-Length sent twice with different values (early_checks) */
    const char *param;
    char *body;
    size_t len, cap;
    int has_body;         /* Content-Length > 0 or a transfer encoding */
    int target_nul;       /* the request target as sent holds %00 */
    int begun;            /* the access handler has seen the request (counted in inflight) */
    int refused;          /* refusal holds the answer */
    http_later *later;    /* parked by http_answer_later until done (owned) */
    http_resp refusal;    /* 404/405/401/415/413 decided on the first call */
} req_state;

/* Where a connection is in its current request, for the header deadline. */
typedef enum { TRACK_HEADERS, TRACK_BODY, TRACK_DISCARD, TRACK_HANDLING } track_phase;

/* One open connection. Lives from NOTIFY_CONNECTION STARTED to CLOSED (libmicrohttpd's
 * socket_context points at it); every field is read and written under conn_table.mu. */
typedef struct conn_track {
    struct conn_track *prev, *next;
    int fd;
    track_phase phase;
    double since;         /* nc_now() when the phase began */
    double grace;         /* seconds the phase may take (the body: before the rate applies) */
    size_t body_bytes;    /* received in TRACK_BODY */
    int cut;              /* already shut down */
} conn_track;

/* Every tracked connection and the watchdog thread that enforces their deadlines. */
typedef struct conn_table {
    pthread_mutex_t mu;
    pthread_cond_t cv;    /* wakes the watchdog to stop */
    conn_track *head;
    int stop;             /* under mu */
    int started;          /* the watchdog runs */
    pthread_t thread;
} conn_table;

/* At most HTTP_LOG_BURST lines a second for log lines clients can cause. */
typedef struct log_budget {
    pthread_mutex_t mu;
    double window;        /* nc_now() at the start of the current second */
    int used;             /* lines logged in it */
    long dropped;         /* lines dropped since the last one logged */
} log_budget;

struct http_server {
    struct MHD_Daemon *d;
    http_core core;
    slog *lg;
    prom *metrics;
    atomic_int inflight;  /* requests between the first handler call and completion */
    atomic_int parked;    /* requests whose connection is suspended (http_answer_later) */
    atomic_int closing;   /* set by http_quiesce */
    MHD_socket listen_fd; /* handed back by MHD_quiesce_daemon; closed after the daemon stops */
    int port;
    double header_timeout;
    conn_table tab;
    log_budget budget;
};

/* ---- http_answer.c ---- */

/* Names compare as libmicrohttpd compares them: ASCII letters without regard to case. */
int http_name_equal(const char *a, const char *b);
/* A query argument or header of v (kind: MHD_GET_ARGUMENT_KIND or MHD_HEADER_KIND), NULL when
 * absent; borrowed from the request. */
const char *http_values_get(const http_values *v, enum MHD_ValueKind kind, const char *name);

/* ---- http.c: the request steps both paths share ---- */

/* Step 1, the headers are in: fills st (fresh but for target_nul), matches the route and runs
 * the refusals that need no body. Returns 1 when st->refusal holds the answer. */
int http_request_begin(const http_core *k, req_state *st, const http_values *v, const char *url, const char *method);
/* Step 2, one piece of the body (a refused request's body is discarded). Returns 0 once more
 * than HTTP_DISCARD_BYTES were discarded: the caller then gives up on the request. */
int http_request_body(const http_core *k, req_state *st, const char *data, size_t n);
/* Step 3, the whole body is in: the answer into rs (zeroed by the caller, which then owns
 * rs->body): the refusal, 413, or the handler's response (500 when it set none). */
void http_request_finish(const http_core *k, req_state *st, const http_values *v, const char *url, const char *method,
                         http_resp *rs);
/* Frees what st owns (not st itself). */
void http_request_free(req_state *st);
/* 1 when the request target as sent (before decoding) holds "%00". */
int http_target_has_nul(const char *raw);
/* The socketless path of a parked request: start, wait, finish, on the calling thread. */
void http_dispatch_later(http_resp *rs);

/* ---- http_watch.c ---- */

int conn_table_init(conn_table *t, nc_err *e);
void conn_table_destroy(conn_table *t);
/* The watchdog thread (arg: the http_server): cuts connections past their phase's deadline. */
void *conn_watchdog_main(void *arg);
void conn_watchdog_stop(conn_table *t);
/* The connection c enters phase p, which may take grace seconds. */
void conn_track_phase(http_server *s, struct MHD_Connection *c, track_phase p, double grace);
/* n more body bytes arrived on c (the body's rate is checked against them). */
void conn_track_body(http_server *s, struct MHD_Connection *c, size_t n);
/* libmicrohttpd's connection notification: starts and ends a connection's tracking. */
void conn_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode code);
/* libmicrohttpd's error log, through the log budget. */
void http_mhd_logger(void *cls, const char *fmt, va_list ap);

#endif
