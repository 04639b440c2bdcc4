/* http.c - see http.h. */
#include "http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

struct http_server {
    struct MHD_Daemon *d;
    http_opts o;
    const http_route *routes;
    int n_routes;
    void *app;
    slog *lg;
    prom *metrics;
    atomic_int inflight;  /* requests between the first handler call and completion */
    atomic_int closing;   /* set by http_quiesce */
    int port;
};

/* Per-request state, from the first access-handler call to NOTIFY_COMPLETED. */
typedef struct req_state {
    double t0;
    int route;            /* -1 until matched */
    int status;           /* 0 until a response is queued */
    int too_large;        /* body exceeded max_body: answer 413 after draining */
    const char *param;
    char *body;
    size_t len, cap;
    int has_body;         /* Content-Length > 0 or a transfer encoding */
    int refused;          /* refusal holds the answer */
    http_resp refusal;    /* 404/405/401/415/413 decided on the first call */
} req_state;

/* ======================= responses ======================= */

const char *http_reason(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

static void resp_set(http_resp *rs, int status, const char *ctype, char *body, size_t len) {
    free(rs->body);
    rs->status = status;
    rs->ctype = ctype;
    rs->body = body;
    rs->len = len;
}

void http_json(http_resp *rs, int status, json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8)) : NULL;
    json_decref(j);
    if (!s) {
        http_problem(rs, 500, "could not encode the response");
        return;
    }
    resp_set(rs, status, "application/json", s, strlen(s));
}

void http_problem(http_resp *rs, int status, const char *fmt, ...) {
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_t *j = json_pack("{s:s, s:s, s:i, s:s%}", "type", "about:blank", "title",
                          http_reason(status), "status", status, "detail", detail, strlen(detail));
    if (!j) { /* the detail quoted input that is not UTF-8: keep it readable as ASCII */
        for (char *p = detail; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
        j = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", http_reason(status),
                      "status", status, "detail", detail);
    }
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8)) : NULL;
    json_decref(j);
    resp_set(rs, status, "application/problem+json", s, s ? strlen(s) : 0);
}

void http_text(http_resp *rs, int status, const char *ctype, const char *text, size_t len) {
    char *b = malloc(len + 1);
    if (!b) {
        http_problem(rs, 500, "out of memory");
        return;
    }
    memcpy(b, text, len);
    b[len] = '\0';
    resp_set(rs, status, ctype, b, len);
}

void http_add_header(http_resp *rs, const char *name, const char *value) {
    if (rs->n_hdr >= HTTP_MAX_HEADERS || strlen(name) >= sizeof rs->hdr_name[0] ||
        strlen(value) >= sizeof rs->hdr_val[0])
        return;
    strcpy(rs->hdr_name[rs->n_hdr], name);
    strcpy(rs->hdr_val[rs->n_hdr], value);
    rs->n_hdr++;
}

/* Hands rs to libmicrohttpd (which then owns the body) and records the status. */
static enum MHD_Result queue(http_server *s, struct MHD_Connection *c, req_state *st, http_resp *rs) {
    if (rs->status == 0) http_problem(rs, 500, "the handler produced no response");
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

/* ======================= requests ======================= */

const char *http_query(const http_req *rq, const char *name) {
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const http_req *rq, const char *name) {
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

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

/* Finds the route for method + path. Returns its index, or -1 with *path_known set when the
 * path exists under another method (405) and allow[] listing those methods. */
static int find_route(const http_server *s, const char *method, const char *path, const char **param,
                      int *path_known, char *allow, size_t cap) {
    *path_known = 0;
    allow[0] = '\0';
    for (int i = 0; i < s->n_routes; i++) {
        const char *p = NULL;
        if (!path_match(s->routes[i].pattern, path, &p)) continue;
        if (!strcmp(s->routes[i].method, method)) {
            *param = p;
            return i;
        }
        *path_known = 1;
        size_t n = strlen(allow);
        snprintf(allow + n, cap - n, "%s%s", n ? ", " : "", s->routes[i].method);
    }
    return -1;
}

/* 401 unless the route is open or the Authorization header carries the configured key. */
static int auth_ok(const http_server *s, int flags, struct MHD_Connection *c) {
    const char *key = s->o.api_key;
    if (!key || !key[0]) return 1;
    int needed = (flags & HTTP_AUTH_WRITE) || ((flags & HTTP_AUTH_READ) && s->o.auth_reads);
    if (!needed) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
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

/* The checks that can refuse a request before its body is read. Returns 1 with the refusal
 * in *rs, 0 when the request may proceed. */
static int early_checks(http_server *s, struct MHD_Connection *c, req_state *st, const char *url,
                        const char *method, http_resp *rs) {
    char allow[64];
    int path_known;
    st->route = find_route(s, method, url, &st->param, &path_known, allow, sizeof allow);
    if (st->route < 0 && path_known) {
        http_problem(rs, 405, "method %s is not allowed on %s; allowed: %s", method, url, allow);
        http_add_header(rs, "Allow", allow);
        return 1;
    }
    if (st->route < 0) {
        http_problem(rs, 404, "no resource at %s", url);
        return 1;
    }
    const http_route *r = &s->routes[st->route];
    if (!auth_ok(s, r->flags, c)) {
        http_problem(rs, 401, "this route needs an Authorization: Bearer header with the API key");
        http_add_header(rs, "WWW-Authenticate", "Bearer");
        return 1;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if ((r->flags & HTTP_BODY_JSON) && st->has_body &&
        !is_json_type(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        http_problem(rs, 415, "the body must be sent as Content-Type: application/json");
        return 1;
    }
    if (cl && strtoull(cl, NULL, 10) > s->o.max_body) {
        http_problem(rs, 413, "the body has %s bytes; the limit is %zu", cl, s->o.max_body);
        return 1;
    }
    return 0;
}

/* Appends upload data to the body, growing geometrically up to max_body; beyond it the data
 * is dropped and the request is remembered as too large. */
static void collect(http_server *s, req_state *st, const char *data, size_t n) {
    if (st->too_large) return;
    if (st->len + n > s->o.max_body) {
        st->too_large = 1;
        return;
    }
    if (st->len + n + 1 > st->cap) {
        size_t cap = st->cap ? st->cap : 1024;
        while (cap < st->len + n + 1) cap *= 2;
        if (cap > s->o.max_body + 1) cap = s->o.max_body + 1;
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

static enum MHD_Result run_handler(http_server *s, struct MHD_Connection *c, req_state *st, const char *url,
                                   const char *method) {
    http_resp rs = {0};
    if (st->too_large) {
        http_problem(&rs, 413, "the body is larger than the limit of %zu bytes", s->o.max_body);
        return queue(s, c, st, &rs);
    }
    http_req rq = {c, method, url, st->param, st->body ? st->body : "", st->len, st->route};
    s->routes[st->route].fn(s->app, &rq, &rs);
    return queue(s, c, st, &rs);
}

/* First call of a request: state, route, and the refusals that need no body. A refusal of a
 * request that carries a body is sent at once (libmicrohttpd then closes the connection
 * rather than read a body nobody wants); one without a body waits for the final call so the
 * connection stays open for the next request. */
static enum MHD_Result first_call(http_server *s, struct MHD_Connection *c, const char *url, const char *method,
                                  void **req_cls) {
    req_state *st = calloc(1, sizeof *st);
    if (!st) return MHD_NO;
    st->t0 = nc_now();
    st->route = -1;
    *req_cls = st;
    atomic_fetch_add(&s->inflight, 1);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    st->has_body = (cl && strtoull(cl, NULL, 10) > 0) ||
                   MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (!early_checks(s, c, st, url, method, &st->refusal)) return MHD_YES;
    st->refused = 1;
    return st->has_body ? queue(s, c, st, &st->refusal) : MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size,
                                  void **req_cls) {
    (void)version;
    http_server *s = cls;
    req_state *st = *req_cls;
    if (!st) return first_call(s, c, url, method, req_cls);
    if (*upload_size) { /* a refused request's body is discarded */
        if (!st->refused) collect(s, st, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (st->status) return MHD_YES; /* refused early and already answered */
    if (st->refused) return queue(s, c, st, &st->refusal);
    return run_handler(s, c, st, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)c;
    http_server *s = cls;
    req_state *st = *req_cls;
    if (!st) return;
    double dt = nc_now() - st->t0;
    if (s->metrics && st->status) prom_observe_request(s->metrics, st->route, st->status, dt);
    if (s->o.access_log && s->lg)
        slog_kv(s->lg, SLOG_INFO, "request", "method", json_string(st->route >= 0 ? s->routes[st->route].method : "-"),
                "route", json_string(st->route >= 0 ? s->routes[st->route].pattern : "unmatched"),
                "status", json_integer(st->status), "ms", json_real(dt * 1e3),
                "completed", json_boolean(toe == MHD_REQUEST_TERMINATED_COMPLETED_OK), NULL);
    free(st->refusal.body);
    free(st->body);
    free(st);
    *req_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

/* libmicrohttpd's own diagnostics (bind failures, protocol errors) become log events. */
static void mhd_logger(void *cls, const char *fmt, va_list ap) {
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    buf[strcspn(buf, "\n")] = '\0';
    slog_kv(cls, SLOG_WARN, "http_library", "msg", json_string(buf), NULL);
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

http_server *http_start(const http_opts *o, const http_route *routes, int n, void *app, slog *lg,
                        prom *metrics, nc_err *e) {
    struct sockaddr_storage ss;
    if (resolve(o->host, o->port, &ss, e) != NC_OK) return NULL;
    http_server *s = calloc(1, sizeof *s);
    if (!s) {
        nc_fail(e, NC_ENOMEM, "out of memory starting the HTTP server");
        return NULL;
    }
    *s = (http_server){.o = *o, .routes = routes, .n_routes = n, .app = app, .lg = lg, .metrics = metrics};
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, lg,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(o->threads > 0 ? o->threads : 1),
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_connections,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->conn_timeout,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->max_header,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_END);
    if (!s->d) {
        nc_fail(e, NC_EIO, "setting 'listen': cannot serve on %s:%d (address in use or not local?)", o->host, o->port);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : o->port;
    return s;
}

int http_port(const http_server *s) { return s->port; }

void http_quiesce(http_server *s) {
    if (!s || atomic_exchange(&s->closing, 1)) return;
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

int http_wait_idle(http_server *s, double seconds) {
    double end = nc_now() + seconds;
    while (atomic_load(&s->inflight) > 0 && nc_now() < end) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return atomic_load(&s->inflight);
}

void http_stop(http_server *s) {
    if (!s) return;
    MHD_stop_daemon(s->d);
    free(s);
}
