/* http.h - the HTTP front end: a libmicrohttpd daemon (epoll, internal thread pool) with a
 * method + path route table, per-request state with a hand-collected body capped at a
 * configured size, bearer-key checks, and RFC 9457 problem+json errors.
 *
 * Request life cycle (libmicrohttpd calls the access handler several times per request):
 *   1st call   allocate the per-request state, match the route, and answer at once when the
 *              request can already be refused: 404 no such path, 405 wrong method (with Allow),
 *              401 missing or wrong key, 415 body is not JSON, 413 Content-Length too large;
 *   next calls append upload data to the body until the cap (beyond it: drop and remember);
 *   last call  (no upload data) 413 if the cap was exceeded, else run the route's handler and
 *              queue its response;
 *   completed  MHD_OPTION_NOTIFY_COMPLETED records metrics, writes the access log line and
 *              frees the state.
 * The route handler therefore always sees a complete, NUL-terminated body.
 *
 * Limits (all configurable): connections, per-connection idle timeout (a slow client cannot
 * hold a connection forever), bytes of request line + headers per connection (libmicrohttpd
 * answers 431/414 beyond), body bytes.
 *
 * Thread-safety: handlers run concurrently on the pool's threads; the server itself is only
 * started and stopped from one thread. */
#ifndef NCLREC_HTTP_H
#define NCLREC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common.h"
#include "log.h"
#include "prom.h"

struct MHD_Connection;

typedef struct http_req {
    struct MHD_Connection *conn;
    const char *method;
    const char *path;     /* decoded path, without the query string */
    const char *param;    /* the {…} segment of a matched pattern ("/users/{id}"), else NULL */
    const char *body;     /* NUL-terminated, never NULL (empty when there is none) */
    size_t body_len;
    int route;            /* index into the route table */
} http_req;

#define HTTP_MAX_HEADERS 4

/* What a handler fills in. The body is owned by the response and freed by the HTTP layer. */
typedef struct http_resp {
    int status;
    const char *ctype;    /* static string */
    char *body;           /* malloc'd, may be NULL for an empty body */
    size_t len;
    int n_hdr;
    char hdr_name[HTTP_MAX_HEADERS][32];
    char hdr_val[HTTP_MAX_HEADERS][128];
} http_resp;

/* A route handler: app is the pointer given to http_start. Must set a status (and usually a
 * body through http_json/http_problem/http_text); leaving status 0 becomes a 500. */
typedef void (*http_handler)(void *app, const http_req *rq, http_resp *rs);

enum {
    HTTP_AUTH_WRITE = 1, /* needs the key whenever one is configured */
    HTTP_AUTH_READ = 2,  /* needs the key when reads are closed (auth_reads) */
    HTTP_BODY_JSON = 4,  /* a body must come as application/json (415 otherwise) */
};

typedef struct http_route {
    const char *method;   /* "GET", "POST", "DELETE" */
    const char *pattern;  /* exact path, or a prefix ending in one "{name}" segment */
    http_handler fn;
    int flags;            /* HTTP_AUTH_* | HTTP_BODY_JSON */
} http_route;

typedef struct http_opts {
    const char *host;     /* numeric address or name to bind */
    int port;             /* 0 = any free port, see http_port */
    int threads;          /* pool size, >= 1 */
    int max_connections;
    int conn_timeout;     /* seconds */
    size_t max_body;      /* bytes */
    size_t max_header;    /* bytes of per-connection memory for the request line and headers */
    const char *api_key;  /* "" or NULL = no authentication; borrowed for the server's life */
    int auth_reads;
    int access_log;
} http_opts;

typedef struct http_server http_server;

/* Binds and starts serving. routes (n entries) and app are borrowed for the server's life; lg
 * and metrics may be NULL. Returns NULL with e filled when the address cannot be used. */
http_server *http_start(const http_opts *o, const http_route *routes, int n, void *app, slog *lg,
                        prom *metrics, nc_err *e);

/* The port actually bound (useful with port 0). */
int http_port(const http_server *s);

/* Stops accepting connections and marks every later response "Connection: close". Requests
 * already received still run to completion. */
void http_quiesce(http_server *s);

/* Waits until no request is in progress or `seconds` have passed; returns requests left. */
int http_wait_idle(http_server *s, double seconds);

/* Stops the daemon (closing remaining connections) and frees s. NULL is fine. */
void http_stop(http_server *s);

/* ---- helpers for handlers ---- */

/* Query-string argument or request header, borrowed from libmicrohttpd for the request's life;
 * NULL when absent. */
const char *http_query(const http_req *rq, const char *name);
const char *http_header(const http_req *rq, const char *name);

/* Sets status and an application/json body serialised from j (stolen). */
void http_json(http_resp *rs, int status, json_t *j);
/* Sets an application/problem+json body (RFC 9457): type about:blank, title from the status,
 * status, and detail from the printf-style arguments. */
void http_problem(http_resp *rs, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sets status and a body of type ctype (static); text is copied. */
void http_text(http_resp *rs, int status, const char *ctype, const char *text, size_t len);
/* Adds a response header (ignored beyond HTTP_MAX_HEADERS or when too long). */
void http_add_header(http_resp *rs, const char *name, const char *value);

/* Reason phrase of a status ("Not Found"); "Unknown" for codes not in the table. */
const char *http_reason(int status);

/* Compares a presented key with the configured one in time that depends only on the
 * configured key's length. Returns 1 when equal. */
int http_key_equal(const char *configured, const char *presented, size_t presented_len);

#endif
