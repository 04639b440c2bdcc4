/* http.h - the HTTP front end: a libmicrohttpd daemon (internal thread pool polling with
 * poll(); http.c's start_daemon says why not epoll) with a method + path route table,
 * per-request state with a hand-collected body capped at a configured size, bearer-key
 * checks, and RFC 9457 problem+json errors.
 *
 * Request life cycle (libmicrohttpd calls the access handler several times per request):
 *   request line   allocate the per-request state; note whether the target as sent holds %00;
 *   1st call   match the route, and refuse the request when it can already be refused:
 *              414/431 request line or headers beyond max_header, 400 the target holds %00 (decoded, it would cut an id short: /users/u1%00x would
 *              act on u1), 404 no such path, 405 wrong method (with Allow), 401 missing or wrong
 *              key, 415 body is not JSON, 413 Content-Length too large; a refused request
 *              with a body is answered at once only when the client waits for it (Expect:
 *              100-continue) or announced more than HTTP_DISCARD_BYTES, else at its last call;
 *   next calls append upload data to the body until the cap (beyond it, or when refused:
 *              discard, up to HTTP_DISCARD_BYTES, then close the connection);
 *   last call  (no upload data) 413 if the cap was exceeded, else run the route's handler and
 *              queue its response (or, when the handler answers later, suspend the connection
 *              until its work is done, then queue the answer: see http_answer_later);
 *   completed  MHD_OPTION_NOTIFY_COMPLETED records metrics, writes the access log line and
 *              frees the state.
 * The route handler therefore always sees a complete, NUL-terminated body.
 *
 * Socketless requests: http_dispatch runs one request through the same steps (the same
 * functions: route match, refusals, body cap, handler) from strings, for fuzzing and tests.
 * Handlers read query arguments and headers only through http_query, http_header and
 * http_each_query, which answer from libmicrohttpd's parsed values on the real path and from
 * the caller's arrays on the socketless one, with libmicrohttpd's rules (names compared
 * without regard to ASCII case, first match wins; "+" and %XX decoded in the query).
 *
 * Limits (all configurable): connections; per-connection idle timeout (libmicrohttpd's: reset by
 * every byte); a header deadline (a connection must deliver a request's complete headers within
 * header_timeout seconds of connecting, or of its previous response plus conn_timeout when kept
 * alive, and then its body at HTTP_BODY_MIN_RATE bytes/s after the same grace, else it is shut
 * down: a client trickling a byte every few seconds can no longer hold a connection forever);
 * bytes of request line + headers (414 or 431 problem+json beyond, see HTTP_POOL_FACTOR); body
 * bytes (413; a refused body is discarded within HTTP_DISCARD_BYTES and HTTP_DISCARD_SECONDS). libmicrohttpd's own diagnostics are logged at most HTTP_LOG_BURST lines a second, so
 * a flood of malformed requests cannot flood the log.
 *
 * Thread-safety: handlers run concurrently on the pool's threads; the server itself is only
 * started and stopped from one thread. http_dispatch may run on any number of threads at once
 * when the handlers allow it. */
#ifndef NCLREC_HTTP_H
#define NCLREC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common.h"
#include "base/log.h"
#include "base/prom.h"

struct MHD_Connection;

/* A name and its value (a query argument or a request header), both borrowed. A query argument
 * without "=" has value NULL, as libmicrohttpd reports it. */
typedef struct http_kv {
    const char *name;
    const char *value;
} http_kv;

/* Where a request's query arguments and headers are read from (private to http.c). */
typedef struct http_values http_values;

typedef struct http_req {
    struct MHD_Connection *conn; /* NULL for a request run by http_dispatch */
    const char *method;
    const char *path;     /* decoded path, without the query string */
    const char *param;    /* the {…} segment of a matched pattern ("/users/{id}"), else NULL */
    const char *body;     /* NUL-terminated, never NULL (empty when there is none) */
    size_t body_len;
    int route;            /* index into the route table */
    const http_values *values; /* for http_query, http_header, http_each_query */
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
    struct http_later_req *later_; /* set by http_answer_later (private to http.c) */
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
    int conn_timeout;     /* seconds of idleness (reset by every byte) before a connection is closed */
    int header_timeout;   /* seconds to deliver a request's headers (0 = HTTP_HEADER_TIMEOUT_DEFAULT) */
    size_t max_body;      /* bytes */
    size_t max_header;    /* bytes of per-connection memory for the request line and headers */
    const char *api_key;  /* "" or NULL = no authentication; borrowed for the server's life */
    int auth_reads;
    int access_log;
} http_opts;

#define HTTP_HEADER_TIMEOUT_DEFAULT 10 /* seconds, when http_opts.header_timeout is 0 */
#define HTTP_BODY_MIN_RATE 500          /* bytes/s a body must average after the grace */
#define HTTP_LOG_BURST 20               /* libmicrohttpd diagnostics and cut-offs logged per second */
/* A refused body (413, 404, 401...) not announced beyond this is read and discarded so that the
 * client, which sends it all before reading, can read the answer; past the bound (bytes beyond
 * max_body, or seconds from the refusal) the connection is closed unanswered. */
#define HTTP_DISCARD_BYTES (16u << 20)
#define HTTP_DISCARD_SECONDS 5
/* libmicrohttpd's per-connection memory is HTTP_POOL_FACTOR x max_header: the daemon itself
 * answers a request line or headers beyond max_header (414/431 problem+json); only a head too
 * large for that memory gets libmicrohttpd 0.9.75's own HTML answer, which cannot be changed. */
#define HTTP_POOL_FACTOR 4

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

/* Runs one request without a socket, through exactly the steps a request received by
 * http_start's daemon goes through once libmicrohttpd has parsed it: %00 in the target (400),
 * route match (404, 405 with Allow), key check (401), content type (415), body cap (413), then
 * the route's handler.
 *   url      the request target as sent: path, then optionally "?" and the query string; the
 *            path and every query name and value are decoded as libmicrohttpd decodes them
 *   headers  n_headers request headers as libmicrohttpd presents them (value trimmed); any
 *            Content-Length among them is ignored: the body's length is used, as a client
 *            sending it would have declared it (unless a Transfer-Encoding header is given)
 *   body     body_len bytes (may hold NUL bytes; NULL when body_len is 0)
 * o, routes (n entries) and app are as for http_start (only routing, key and limit settings of
 * o are used). *rs is filled as the daemon would send it (status, content type, body, extra
 * headers); the caller owns rs->body (free) and passes rs zeroed. No metrics, no access log. */
void http_dispatch(const http_opts *o, const http_route *routes, int n, void *app, const char *method,
                   const char *url, const http_kv *headers, int n_headers, const char *body, size_t body_len,
                   http_resp *rs);

/* ---- helpers for handlers ---- */

/* Query-string argument or request header (name compared without regard to ASCII case; the
 * first one when repeated), borrowed for the request's life; NULL when absent or, for a query
 * argument, given without "=". */
const char *http_query(const http_req *rq, const char *name);
const char *http_header(const http_req *rq, const char *name);

/* Calls fn for every query argument in the order sent (value NULL when given without "="),
 * until fn returns non-zero; returns that value, or 0 when every argument was seen. */
typedef int (*http_kv_fn)(void *cls, const char *name, const char *value);
int http_each_query(const http_req *rq, http_kv_fn fn, void *cls);

/* Sets status and an application/json body serialised from j (stolen). */
void http_json(http_resp *rs, int status, json_t *j);
/* Sets an application/problem+json body (RFC 9457): type about:blank, title from the status,
 * status, and detail from the printf-style arguments. */
void http_problem(http_resp *rs, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sets status and a body of type ctype (static); body (malloc'd, len bytes) is taken over. */
void http_body(http_resp *rs, int status, const char *ctype, char *body, size_t len);
/* Sets status and a body of type ctype (static); text is copied. */
void http_text(http_resp *rs, int status, const char *ctype, const char *text, size_t len);
/* Adds a response header (ignored beyond HTTP_MAX_HEADERS or when too long). */
void http_add_header(http_resp *rs, const char *name, const char *value);

/* ---- answering later (a handler that waits on another thread, e.g. a store commit) ---- */

typedef struct http_later http_later; /* one parked request; opaque */
/* Starts the work the answer waits for; the work calls http_later_done(l) exactly once when
 * it is finished, from any thread, possibly before start returns. */
typedef void (*http_later_start)(void *ctx, http_later *l);
/* Fills rs as a handler would, once the work is done, and frees ctx. rs is NULL when no answer
 * is wanted (the connection is gone, or the work could not be started): only free then, the
 * work has finished or was never started. */
typedef void (*http_later_finish)(void *ctx, http_resp *rs);

/* Instead of setting a status, a handler may call this and return: the HTTP layer parks the
 * request (on the daemon its connection is suspended, so the pool thread goes on serving other
 * connections meanwhile), calls start(ctx, l), and once http_later_done(l) has run calls
 * finish(ctx, rs) on a pool thread and sends that answer. On the socketless path
 * (http_dispatch) the calling thread waits instead. ctx belongs to the handler: finish always
 * runs exactly once and frees it. Returns 0 when rs could not take the request (out of
 * memory): then nothing was parked and the handler answers itself. */
int http_answer_later(http_resp *rs, http_later_start start, http_later_finish finish, void *ctx);
void http_later_done(http_later *l);
/* http_later_done for a callback that takes a void * (the store's done callbacks). */
void http_later_wake(void *l);

/* Reason phrase of a status ("Not Found"); "Unknown" for codes not in the table. */
const char *http_reason(int status);

/* Compares a presented key with the configured one in time that depends only on the
 * configured key's length. Returns 1 when equal. */
int http_key_equal(const char *configured, const char *presented, size_t presented_len);

#endif
