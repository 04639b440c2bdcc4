/* http.c - see http.h. Sections: the request steps both paths share; answering later; the
 * libmicrohttpd glue; the daemon. The other files of the layer: http_impl.h. */
#include "http_impl.h"

#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* ======================= the request steps ======================= */

int http_key_equal(const char *configured, const char *presented, size_t presented_len) {
    size_t n = strlen(configured);
    unsigned diff = (unsigned)(n ^ presented_len);
    for (size_t i = 0; i < n; i++) {
        unsigned char p = i < presented_len ? (unsigned char)presented[i] : 0;
        diff |= (unsigned)((unsigned char)configured[i] ^ p);
    }
    return diff == 0;
}

/* Matches path against a pattern; for "/prefix/{name}" *param gets the last segment. */
static int path_match(const char *pattern, const char *path, const char **param) {
    const char *brace = strchr(pattern, '{');
    if (!brace) return strcmp(pattern, path) == 0;
    size_t plen = (size_t)(brace - pattern);
    if (strncmp(pattern, path, plen) != 0) return 0;
    const char *rest = path + plen;
    if (!*rest || strchr(rest, '/')) return 0;
    *param = rest;
    return 1;
}

/* HEAD is answered as GET (libmicrohttpd leaves the body out), as RFC 9110 asks of a server. */
static int method_matches(const char *route_method, const char *method) {
    return !strcmp(route_method, method) || (!strcmp(method, "HEAD") && !strcmp(route_method, "GET"));
}

/* Finds the route for method + path. Returns its index, or -1 with *path_known set when the
 * path exists under another method (405) and allow[] listing those methods. */
static int find_route(const http_core *k, const char *method, const char *path, const char **param,
                      int *path_known, char *allow, size_t cap) {
    *path_known = 0;
    allow[0] = '\0';
    for (int i = 0; i < k->n_routes; i++) {
        const char *p = NULL;
        if (!path_match(k->routes[i].pattern, path, &p)) continue;
        if (method_matches(k->routes[i].method, method)) {
            *param = p;
            return i;
        }
        *path_known = 1;
        size_t n = strlen(allow);
        snprintf(allow + n, cap - n, "%s%s", n ? ", " : "", k->routes[i].method);
    }
    return -1;
}

/* 401 unless the route is open or the Authorization header carries the configured key. */
static int auth_ok(const http_core *k, int flags, const http_values *v) {
    const char *key = k->o.api_key;
    if (!key || !key[0]) return 1;
    int needed = (flags & HTTP_AUTH_WRITE) || ((flags & HTTP_AUTH_READ) && k->o.auth_reads);
    if (!needed) return 1;
    const char *h = http_values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return 0;
    h += 7;
    while (*h == ' ') h++;
    size_t n = strlen(h);
    while (n && h[n - 1] == ' ') n--;
    return http_key_equal(key, h, n);
}

/* application/json, case-insensitive, optionally followed by parameters (";charset=utf-8"). */
static int is_json_type(const char *ct) {
    if (!ct) return 0;
    while (*ct == ' ') ct++;
    if (strncasecmp(ct, "application/json", 16) != 0) return 0;
    char next = ct[16];
    return next == '\0' || next == ';' || next == ' ';
}

/* 1 when the request target as sent (path and query, before decoding) holds "%00". Decoded, it
 * would cut the path or a query value short where the handler sees it: /users/u1%00x would
 * act on user u1. */
int http_target_has_nul(const char *raw) {
    for (const char *p = strchr(raw, '%'); p; p = strchr(p + 1, '%'))
        if (p[1] == '0' && p[2] == '0') return 1;
    return 0;
}

/* What one walk over the request's headers tells the early checks: the bytes they took as
 * sent ("Name: value\r\n" each, blank line included) and whether Content-Length is sent more
 * than once with different values (libmicrohttpd would use the first: a proxy in front using
 * another would see another request, RFC 9112 6.3). */
typedef struct head_scan {
    size_t bytes;
    const char *first_length;
    int lengths_differ;
} head_scan;

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *name, const char *value) {
    (void)kind;
    head_scan *h = cls;
    h->bytes += strlen(name) + 4 + (value ? strlen(value) : 0);
    if (!value || !http_name_equal(name, MHD_HTTP_HEADER_CONTENT_LENGTH)) return MHD_YES;
    if (!h->first_length) h->first_length = value;
    else if (strcmp(h->first_length, value) != 0) h->lengths_differ = 1;
    return MHD_YES;
}

static head_scan scan_headers(const http_values *v) {
    head_scan h = {2, NULL, 0};
    if (v->conn) MHD_get_connection_values(v->conn, MHD_HEADER_KIND, scan_header, &h);
    for (int i = 0; !v->conn && i < v->n_headers; i++) scan_header(&h, MHD_HEADER_KIND, v->headers[i].name, v->headers[i].value);
    return h;
}

/* The checks that can refuse a request before its body is read. Returns 1 with the refusal
 * in *rs, 0 when the request may proceed. */
static int early_checks(const http_core *k, req_state *st, const http_values *v, const char *url,
                        const char *method, http_resp *rs) {
    char allow[64];
    int path_known;
    size_t line = strlen(method) + 1 + st->target_len + sizeof " HTTP/1.1\r\n" - 1;
    head_scan h = scan_headers(v);
    st->lengths_differ = h.lengths_differ; /* answer_before_body reads it whatever the refusal */
    if (line > k->o.max_header) {
        http_problem(rs, 414, "the request line has %zu bytes; the limit for the request line and headers is %zu",
                     line, k->o.max_header);
        return 1;
    }
    size_t head = line + h.bytes;
    if (head > k->o.max_header) {
        http_problem(rs, 431, "the request line and headers have %zu bytes; the limit is %zu", head, k->o.max_header);
        return 1;
    }
    const char *te = http_values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (te && strcasecmp(te, "chunked") != 0) {
        http_problem(rs, 501, "Transfer-Encoding '%.100s' is not supported; send the body chunked or with a Content-Length", te);
        return 1;
    }
    if (h.lengths_differ) {
        http_problem(rs, 400, "the request has Content-Length headers that differ; its body's length is unknown");
        return 1;
    }
    if (st->target_nul) {
        http_problem(rs, 400, "the request target holds a NUL byte (%%00), which no path or parameter may contain");
        return 1;
    }
    st->route = find_route(k, method, url, &st->param, &path_known, allow, sizeof allow);
    if (st->route < 0 && path_known) {
        http_problem(rs, 405, "method %s is not allowed on %s; allowed: %s", method, url, allow);
        http_add_header(rs, "Allow", allow);
        return 1;
    }
    if (st->route < 0) {
        http_problem(rs, 404, "no resource at %s", url);
        return 1;
    }
    const http_route *r = &k->routes[st->route];
    if (!auth_ok(k, r->flags, v)) {
        http_problem(rs, 401, "this route needs an Authorization: Bearer header with the API key");
        http_add_header(rs, "WWW-Authenticate", "Bearer");
        return 1;
    }
    const char *cl = http_values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if ((r->flags & HTTP_BODY_JSON) && st->has_body &&
        !is_json_type(http_values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        http_problem(rs, 415, "the body must be sent as Content-Type: application/json");
        return 1;
    }
    if (cl && strtoull(cl, NULL, 10) > k->o.max_body) {
        http_problem(rs, 413, "the body has %s bytes; the limit is %zu", cl, k->o.max_body);
        return 1;
    }
    return 0;
}

/* Appends upload data to the body, growing geometrically up to max_body; beyond it the data
 * is dropped and the request is remembered as too large. */
static void collect(const http_core *k, req_state *st, const char *data, size_t n) {
    if (st->too_large) return;
    if (st->len + n > k->o.max_body) {
        st->too_large = 1;
        return;
    }
    if (st->len + n + 1 > st->cap) {
        size_t cap = st->cap ? st->cap : 1024;
        while (cap < st->len + n + 1) cap *= 2;
        if (cap > k->o.max_body + 1) cap = k->o.max_body + 1;
        char *b = realloc(st->body, cap);
        if (!b) {
            st->too_large = 1; /* answered as 413: the server cannot hold it either */
            return;
        }
        st->body = b;
        st->cap = cap;
    }
    memcpy(st->body + st->len, data, n);
    st->len += n;
    st->body[st->len] = '\0';
}

/* Step 1, the headers are in: fills the state st (fresh but for target_nul), matches the
 * route and runs the refusals that need no body. Returns 1 when st->refusal holds the answer. */
int http_request_begin(const http_core *k, req_state *st, const http_values *v, const char *url,
                         const char *method) {
    st->t0 = nc_now();
    st->route = -1;
    const char *cl = http_values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    st->has_body = (cl && strtoull(cl, NULL, 10) > 0) ||
                   http_values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
    st->refused = early_checks(k, st, v, url, method, &st->refusal);
    return st->refused;
}

/* Step 2, one piece of the body (a refused request's body is discarded). Returns 0 once more
 * than HTTP_DISCARD_BYTES were discarded: the caller then gives up on the request. */
int http_request_body(const http_core *k, req_state *st, const char *data, size_t n) {
    st->received += n;
    if (!st->refused) collect(k, st, data, n);
    if (!st->refused && !st->too_large) return 1;
    size_t kept = st->refused ? 0 : k->o.max_body;
    return st->received <= kept || st->received - kept <= HTTP_DISCARD_BYTES;
}

/* Step 3, the whole body is in: the answer into rs (zeroed by the caller, which then owns
 * rs->body): the refusal, 413, or the handler's response. A handler that sets no status, or
 * one outside 100..599, has failed: 500. */
void http_request_finish(const http_core *k, req_state *st, const http_values *v, const char *url,
                           const char *method, http_resp *rs) {
    if (st->refused) {
        *rs = st->refusal;
        memset(&st->refusal, 0, sizeof st->refusal);
        return;
    }
    if (st->too_large) {
        http_problem(rs, 413, "the body is larger than the limit of %zu bytes", k->o.max_body);
        return;
    }
    http_req rq = {v->conn, method, url, st->param, st->body ? st->body : "", st->len, st->route, v};
    k->routes[st->route].fn(k->app, &rq, rs);
    if (rs->status < 100 || rs->status > 599) http_problem(rs, 500, "the handler produced no response");
}

/* Frees what the state owns (not st itself). */
void http_request_free(req_state *st) {
    free(st->refusal.body);
    free(st->body);
    if (st->later) { /* resumed, but the connection closed before its answer was made */
        st->later->finish(st->later->ctx, NULL);
        free(st->later);
        st->later = NULL;
    }
}

/* Hands rs to libmicrohttpd (which then owns the body) and records the status. */
static enum MHD_Result queue(http_server *s, struct MHD_Connection *c, req_state *st, http_resp *rs) {
    struct MHD_Response *r = MHD_create_response_from_buffer(rs->len, rs->body ? rs->body : (void *)"",
                                                             rs->body ? MHD_RESPMEM_MUST_FREE
                                                                      : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(rs->body);
        rs->body = NULL;
        return MHD_NO;
    }
    rs->body = NULL;
    if (rs->ctype) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->ctype);
    for (int i = 0; i < rs->n_hdr; i++) MHD_add_response_header(r, rs->hdr_name[i], rs->hdr_val[i]);
    if (atomic_load(&s->closing)) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    st->status = rs->status;
    return ok;
}

/* ======================= answering later ======================= */

int http_answer_later(http_resp *rs, http_later_start start, http_later_finish finish, void *ctx) {
    struct http_later_req *r = malloc(sizeof *r);
    if (!r) return 0;
    *r = (struct http_later_req){start, finish, ctx};
    free(rs->later_);
    rs->later_ = r;
    return 1;
}

/* The work is finished: wake the request. Nothing of l is touched after the wake-up, since
 * the request may then complete and free it at once. */
void http_later_done(http_later *l) {
    if (l->conn) {
        atomic_fetch_sub(&l->srv->parked, 1);
        MHD_resume_connection(l->conn); /* the pool thread calls on_request again */
        return;
    }
    pthread_mutex_lock(&l->mu);
    l->done = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

void http_later_wake(void *l) { http_later_done(l); }

/* A handler asked to answer later: suspends the connection, then starts the work (in this
 * order, so the work can never resume a connection that is not suspended yet). */
static enum MHD_Result park(http_server *s, struct MHD_Connection *c, req_state *st, http_resp *rs) {
    struct http_later_req r = *rs->later_;
    free(rs->later_);
    free(rs->body);
    http_later *l = calloc(1, sizeof *l);
    if (!l) {
        r.finish(r.ctx, NULL); /* no answer wanted: finish only frees */
        http_resp oom = {0};
        http_problem(&oom, 503, "out of memory");
        return queue(s, c, st, &oom);
    }
    *l = (http_later){.conn = c, .srv = s, .finish = r.finish, .ctx = r.ctx};
    st->later = l;
    atomic_fetch_add(&s->parked, 1);
    MHD_suspend_connection(c);
    r.start(r.ctx, l);
    return MHD_YES;
}

/* The connection was resumed: the parked request's answer. */
static enum MHD_Result unpark(http_server *s, struct MHD_Connection *c, req_state *st) {
    http_later *l = st->later;
    st->later = NULL;
    http_resp rs = {0};
    l->finish(l->ctx, &rs);
    free(l);
    if (rs.status < 100 || rs.status > 599) http_problem(&rs, 500, "the handler produced no response");
    return queue(s, c, st, &rs);
}

/* The socketless path of a parked request: start, wait, finish, on the calling thread. */
void http_dispatch_later(http_resp *rs) {
    struct http_later_req r = *rs->later_;
    free(rs->later_);
    free(rs->body);
    memset(rs, 0, sizeof *rs);
    http_later l = {.finish = r.finish, .ctx = r.ctx};
    pthread_mutex_init(&l.mu, NULL);
    pthread_cond_init(&l.cv, NULL);
    r.start(r.ctx, &l);
    pthread_mutex_lock(&l.mu);
    while (!l.done) pthread_cond_wait(&l.cv, &l.mu);
    pthread_mutex_unlock(&l.mu);
    pthread_cond_destroy(&l.cv);
    pthread_mutex_destroy(&l.mu);
    r.finish(r.ctx, rs);
    if (rs->status < 100 || rs->status > 599) http_problem(rs, 500, "the handler produced no response");
}

/* ======================= libmicrohttpd glue ======================= */

/* 1 when a refused request's answer goes out before its body: the client waits for it
 * (Expect: 100-continue) or announced more than could be discarded. libmicrohttpd then reads
 * nothing more and closes the connection once the answer is sent. Any other refused body is
 * read and discarded (up to HTTP_DISCARD_BYTES, within HTTP_DISCARD_SECONDS) and answered at
 * its end: a client that sends its whole body before reading, as most do, would otherwise
 * have its connection reset before it reads the answer. */
static int answer_before_body(const req_state *st, const http_values *v) {
    const char *expect = http_values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    const char *cl = http_values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = http_values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return (expect && !strcasecmp(expect, "100-continue")) || (cl && strtoull(cl, NULL, 10) > HTTP_DISCARD_BYTES) ||
           (te && strcasecmp(te, "chunked") != 0) || st->lengths_differ;
}

/* First call of a request (its headers are complete): state, route, and the refusals that need
 * no body. A refusal is answered at once only when answer_before_body says so; otherwise at
 * the final call, so the client can read it and the connection stays open for the next request. */
static enum MHD_Result first_call(http_server *s, struct MHD_Connection *c, const char *url, const char *method,
                                  void **req_cls) {
    conn_track_phase(s, c, TRACK_BODY, s->header_timeout);
    req_state *st = *req_cls ? *req_cls : calloc(1, sizeof *st);
    if (!st) return MHD_NO;
    *req_cls = st;
    st->begun = 1;
    atomic_fetch_add(&s->inflight, 1);
    http_values v = {.conn = c};
    if (!http_request_begin(&s->core, st, &v, url, method) || !st->has_body) return MHD_YES;
    if (!answer_before_body(st, &v)) {
        conn_track_phase(s, c, TRACK_DISCARD, HTTP_DISCARD_SECONDS);
        return MHD_YES;
    }
    http_resp rs = {0};
    http_request_finish(&s->core, st, &v, url, method, &rs);
    return queue(s, c, st, &rs);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size,
                                  void **req_cls) {
    (void)version;
    http_server *s = cls;
    req_state *st = *req_cls;
    if (!st || !st->begun) return first_call(s, c, url, method, req_cls);
    if (*upload_size) {
        int was_large = st->too_large;
        conn_track_body(s, c, *upload_size);
        int keep_on = http_request_body(&s->core, st, upload_data, *upload_size);
        *upload_size = 0;
        if (st->too_large && !was_large) conn_track_phase(s, c, TRACK_DISCARD, HTTP_DISCARD_SECONDS);
        return keep_on ? MHD_YES : MHD_NO; /* beyond the discard bound: close, unanswered */
    }
    if (st->status) return MHD_YES; /* refused early and already answered */
    if (st->later) return unpark(s, c, st);
    conn_track_phase(s, c, TRACK_HANDLING, 0);
    http_values v = {.conn = c};
    http_resp rs = {0};
    http_request_finish(&s->core, st, &v, url, method, &rs);
    if (rs.later_) return park(s, c, st, &rs);
    return queue(s, c, st, &rs);
}

/* The request line has arrived: the target is seen here as sent, before libmicrohttpd decodes
 * it, so the request state starts here (NULL when out of memory: first_call tries again). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    (void)cls, (void)c;
    req_state *st = calloc(1, sizeof *st);
    if (st) {
        st->target_nul = http_target_has_nul(uri);
        st->target_len = strlen(uri);
    }
    return st;
}

/* A request ended (answered, or its connection failed). A kept-alive connection then waits for
 * its next request, whose headers must be complete within conn_timeout + header_timeout of this
 * moment: an honest client starts it before libmicrohttpd's idle timeout (conn_timeout without
 * a byte) and then has header_timeout, like a new connection. */
static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
    http_server *s = cls;
    conn_track_phase(s, c, TRACK_HEADERS, (double)s->core.o.conn_timeout + s->header_timeout);
    req_state *st = *req_cls;
    if (!st) return;
    *req_cls = NULL;
    if (!st->begun) { /* refused by libmicrohttpd itself (431, 414, 400) after on_uri */
        free(st);
        return;
    }
    const http_core *k = &s->core;
    double dt = nc_now() - st->t0;
    if (s->metrics && st->status) prom_observe_request(s->metrics, st->route, st->status, dt);
    if (k->o.access_log && s->lg)
        slog_kv(s->lg, SLOG_INFO, "request", "method", json_string(st->route >= 0 ? k->routes[st->route].method : "-"),
                "route", json_string(st->route >= 0 ? k->routes[st->route].pattern : "unmatched"),
                "status", json_integer(st->status), "ms", json_real(dt * 1e3),
                "completed", json_boolean(toe == MHD_REQUEST_TERMINATED_COMPLETED_OK), NULL);
    http_request_free(st);
    free(st);
    atomic_fetch_sub(&s->inflight, 1);
}

/* ======================= daemon ======================= */

/* Resolves host (numeric or a name such as localhost) into a socket address for port. */
static int resolve(const char *host, int port, struct sockaddr_storage *ss, nc_err *e) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res)
        return nc_fail(e, NC_EINVAL, "setting 'listen': cannot resolve host '%s': %s", host, gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (ss->ss_family == AF_INET) ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    return NC_OK;
}

/* Frees a server whose daemon is stopped (or never started). */
static void server_free(http_server *s) {
    conn_watchdog_stop(&s->tab);
    /* libmicrohttpd must not be stopped with suspended connections: parked requests wait on
     * work (a store commit) that finishes by itself, so wait for them. */
    while (atomic_load(&s->parked) > 0) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (s->d) MHD_stop_daemon(s->d);
    if (s->listen_fd != MHD_INVALID_SOCKET) close(s->listen_fd);
    conn_table_destroy(&s->tab);
    pthread_mutex_destroy(&s->budget.mu);
    free(s);
}

/* The daemon itself, with every limit and callback; NULL when the address cannot be used. */
static struct MHD_Daemon *start_daemon(http_server *s, const http_opts *o, struct sockaddr_storage *ss) {
    /* A pool of one is refused with a warning by libmicrohttpd: give the option only for more.
     * Every thread polls with poll(), not epoll: with epoll, libmicrohttpd 0.9.75 sits idle
     * once a thread has 128 connections ready at once (as far as I can tell from its code, an
     * epoll_wait that returns its maximum of 128 events is repeated with the same blocking
     * timeout before any of them is handled) until a new event or a timeout. Measured: 1 epoll thread, POST
     * /interactions from 127 connections 55,153 requests/s, from 128 396; 2 epoll threads,
     * GET /recommend from 256 connections 33. With poll(): 64-900 connections 78,000-122,000
     * (/recommend) and 45,000-59,000 (ingest) requests/s with 1 or 2 threads. */
    unsigned pool = (unsigned)(o->threads > 1 ? o->threads : 1);
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (ss->ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_OptionItem extra[] = {{pool > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, pool, NULL},
                                     {MHD_OPTION_END, 0, NULL}};
    return MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, http_mhd_logger, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)ss,
                            MHD_OPTION_ARRAY, extra,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_connections,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->conn_timeout,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->max_header * HTTP_POOL_FACTOR,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_NOTIFY_CONNECTION, conn_on_connection, s,
                            MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                            MHD_OPTION_END);
}

http_server *http_start(const http_opts *o, const http_route *routes, int n, void *app, slog *lg,
                        prom *metrics, nc_err *e) {
    struct sockaddr_storage ss;
    if (resolve(o->host, o->port, &ss, e) != NC_OK) return NULL;
    http_server *s = calloc(1, sizeof *s);
    if (!s) {
        nc_fail(e, NC_ENOMEM, "out of memory starting the HTTP server");
        return NULL;
    }
    *s = (http_server){.core = {*o, routes, n, app}, .lg = lg, .metrics = metrics, .listen_fd = MHD_INVALID_SOCKET,
                       .header_timeout = o->header_timeout > 0 ? o->header_timeout : HTTP_HEADER_TIMEOUT_DEFAULT};
    int err = pthread_mutex_init(&s->budget.mu, NULL);
    if (err) {
        free(s);
        nc_fail(e, NC_EIO, "http: cannot create the log budget's mutex: %s", strerror(err));
        return NULL;
    }
    if (conn_table_init(&s->tab, e) != NC_OK) {
        pthread_mutex_destroy(&s->budget.mu);
        free(s);
        return NULL;
    }
    if (!(s->d = start_daemon(s, o, &ss))) {
        nc_fail(e, NC_EIO, "setting 'listen': cannot serve on %s:%d (address in use or not local?)", o->host, o->port);
        server_free(s);
        return NULL;
    }
    if ((err = pthread_create(&s->tab.thread, NULL, conn_watchdog_main, s)) != 0) {
        nc_fail(e, NC_EIO, "http: cannot start the header-deadline watchdog: %s", strerror(err));
        server_free(s);
        return NULL;
    }
    s->tab.started = 1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : o->port;
    return s;
}

int http_port(const http_server *s) { return s->port; }

void http_quiesce(http_server *s) {
    if (!s || atomic_exchange(&s->closing, 1)) return;
    /* Closing the socket now would race with the pool threads still polling it: shut it down
     * (no new connections) and close it once the daemon has stopped. */
    s->listen_fd = MHD_quiesce_daemon(s->d);
    if (s->listen_fd != MHD_INVALID_SOCKET) shutdown(s->listen_fd, SHUT_RDWR);
}

int http_wait_idle(http_server *s, double seconds) {
    double end = nc_now() + seconds;
    while (atomic_load(&s->inflight) > 0 && nc_now() < end) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return atomic_load(&s->inflight);
}

/* The watchdog stops first, so it cannot act while libmicrohttpd closes the connections. */
void http_stop(http_server *s) {
    if (s) server_free(s);
}
