/* http.c - see http.h. Sections: responses; request values (the one place that knows whether a
 * request came from libmicrohttpd or from http_dispatch); the request steps both paths share;
 * the libmicrohttpd glue; the header deadline; log budget; the daemon; http_dispatch. */
#include "http.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
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
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
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

void http_body(http_resp *rs, int status, const char *ctype, char *body, size_t len) {
    resp_set(rs, status, ctype, body, len);
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

/* ======================= request values ======================= */

/* Names compare as libmicrohttpd compares them: ASCII letters without regard to case, nothing
 * else folded (strcasecmp would follow the locale). */
static int name_equal(const char *a, const char *b) {
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z') x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (unsigned char)(y - 'A' + 'a');
        if (x != y) return 0;
        if (!x) return 1;
    }
}

/* The first entry named name, as MHD_lookup_connection_value answers. */
static const char *kv_find(const http_kv *kv, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (kv[i].name && name_equal(kv[i].name, name)) return kv[i].value;
    return NULL;
}

/* A header (MHD_HEADER_KIND) or query argument (MHD_GET_ARGUMENT_KIND) of the request. */
static const char *values_get(const http_values *v, enum MHD_ValueKind kind, const char *name) {
    if (v->conn) return MHD_lookup_connection_value(v->conn, kind, name);
    if (kind == MHD_GET_ARGUMENT_KIND) return kv_find(v->query, v->n_query, name);
    return kv_find(v->headers, v->n_headers, name);
}

const char *http_query(const http_req *rq, const char *name) {
    if (!rq->values) return rq->conn ? MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name) : NULL;
    return values_get(rq->values, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const http_req *rq, const char *name) {
    if (!rq->values) return rq->conn ? MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name) : NULL;
    return values_get(rq->values, MHD_HEADER_KIND, name);
}

/* Carries http_each_query's callback through libmicrohttpd's iterator. */
typedef struct each_ctx {
    http_kv_fn fn;
    void *cls;
    int rc;
} each_ctx;

static enum MHD_Result each_adapter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    each_ctx *c = cls;
    c->rc = c->fn(c->cls, key, value);
    return c->rc ? MHD_NO : MHD_YES;
}

int http_each_query(const http_req *rq, http_kv_fn fn, void *cls) {
    const http_values *v = rq->values;
    struct MHD_Connection *conn = v ? v->conn : rq->conn;
    if (conn) {
        each_ctx c = {fn, cls, 0};
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, each_adapter, &c);
        return c.rc;
    }
    for (int i = 0; v && i < v->n_query; i++) {
        int rc = fn(cls, v->query[i].name, v->query[i].value);
        if (rc) return rc;
    }
    return 0;
}

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
    const char *h = values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
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
static int target_has_nul(const char *raw) {
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
    if (!value || !name_equal(name, MHD_HTTP_HEADER_CONTENT_LENGTH)) return MHD_YES;
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
    const char *te = values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
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
    const char *cl = values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if ((r->flags & HTTP_BODY_JSON) && st->has_body &&
        !is_json_type(values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE))) {
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
static int request_begin(const http_core *k, req_state *st, const http_values *v, const char *url,
                         const char *method) {
    st->t0 = nc_now();
    st->route = -1;
    const char *cl = values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    st->has_body = (cl && strtoull(cl, NULL, 10) > 0) ||
                   values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
    st->refused = early_checks(k, st, v, url, method, &st->refusal);
    return st->refused;
}

/* Step 2, one piece of the body (a refused request's body is discarded). Returns 0 once more
 * than HTTP_DISCARD_BYTES were discarded: the caller then gives up on the request. */
static int request_body(const http_core *k, req_state *st, const char *data, size_t n) {
    st->received += n;
    if (!st->refused) collect(k, st, data, n);
    if (!st->refused && !st->too_large) return 1;
    size_t kept = st->refused ? 0 : k->o.max_body;
    return st->received <= kept || st->received - kept <= HTTP_DISCARD_BYTES;
}

/* Step 3, the whole body is in: the answer into rs (zeroed by the caller, which then owns
 * rs->body): the refusal, 413, or the handler's response. A handler that sets no status, or
 * one outside 100..599, has failed: 500. */
static void request_finish(const http_core *k, req_state *st, const http_values *v, const char *url,
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
static void request_free(req_state *st) {
    free(st->refusal.body);
    free(st->body);
    if (st->later) { /* resumed, but the connection closed before its answer was made */
        st->later->finish(st->later->ctx, NULL);
        free(st->later);
        st->later = NULL;
    }
}

/* ======================= header deadline ======================= */

/* The connection's track entry (NULL when it is not tracked: its allocation failed). */
static conn_track *track_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? (conn_track *)ci->socket_context : NULL;
}

/* Moves the connection's request to phase p, starting its clock now with grace seconds. */
static void track_phase_set(http_server *s, struct MHD_Connection *c, track_phase p, double grace) {
    conn_track *k = track_of(c);
    if (!k) return;
    pthread_mutex_lock(&s->tab.mu);
    k->phase = p;
    k->since = nc_now();
    k->grace = grace;
    k->body_bytes = 0;
    pthread_mutex_unlock(&s->tab.mu);
}

/* Counts body bytes: each one buys the client 1/HTTP_BODY_MIN_RATE seconds. */
static void track_body(http_server *s, struct MHD_Connection *c, size_t n) {
    conn_track *k = track_of(c);
    if (!k) return;
    pthread_mutex_lock(&s->tab.mu);
    k->body_bytes += n;
    pthread_mutex_unlock(&s->tab.mu);
}

/* libmicrohttpd reports every connection's start and end here (on the thread that serves it).
 * CLOSED comes before libmicrohttpd closes the descriptor, and the entry leaves the table under
 * the same mutex the watchdog holds while it shuts descriptors down: the watchdog never touches
 * a descriptor that was closed and perhaps reused for another connection. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_track *k = ci ? calloc(1, sizeof *k) : NULL;
        if (!k) return; /* untracked: only the idle timeout applies to it */
        *k = (conn_track){.fd = ci->connect_fd, .phase = TRACK_HEADERS, .since = nc_now(), .grace = s->header_timeout};
        pthread_mutex_lock(&s->tab.mu);
        k->next = s->tab.head;
        if (k->next) k->next->prev = k;
        s->tab.head = k;
        pthread_mutex_unlock(&s->tab.mu);
        *socket_context = k;
        return;
    }
    conn_track *k = *socket_context;
    if (!k) return;
    pthread_mutex_lock(&s->tab.mu);
    if (k->prev) k->prev->next = k->next;
    else s->tab.head = k->next;
    if (k->next) k->next->prev = k->prev;
    pthread_mutex_unlock(&s->tab.mu);
    free(k);
    *socket_context = NULL;
}

/* When the connection's current phase runs out (INFINITY while the handler runs or the
 * response is sent: those are the server's time, not the client's). */
static double track_deadline(const conn_track *k) {
    if (k->phase == TRACK_HEADERS) return k->since + k->grace;
    if (k->phase == TRACK_BODY) return k->since + k->grace + (double)k->body_bytes / HTTP_BODY_MIN_RATE;
    if (k->phase == TRACK_DISCARD) return k->since + k->grace;
    return INFINITY;
}

/* What the log says of one cut connection. */
typedef struct cut_note {
    track_phase phase;
    double seconds;       /* in the phase */
} cut_note;

/* Shuts down (both directions) every connection past its deadline, counted in metrics (may be
 * NULL) first, so the count is there by the time the client sees the end; libmicrohttpd then
 * sees the socket end and closes the connection itself. Called with tab.mu held. Returns how
 * many were cut, with the first cap of them in notes. */
static int cut_expired(conn_table *t, prom *metrics, double now, cut_note *notes, int cap) {
    int n = 0;
    for (conn_track *k = t->head; k; k = k->next) {
        if (k->cut || now < track_deadline(k)) continue;
        if (metrics) prom_add(&metrics->http_deadline_cuts, 1);
        shutdown(k->fd, SHUT_RDWR);
        k->cut = 1;
        if (n < cap) notes[n] = (cut_note){k->phase, now - k->since};
        n++;
    }
    return n;
}

static int budget_take(log_budget *b, long *dropped);

/* The phase as the log names it, for whoever reads why a connection was cut. */
static const char *phase_name(track_phase p) {
    return p == TRACK_BODY ? "body" : p == TRACK_DISCARD ? "discarded body" : p == TRACK_HEADERS ? "headers" : "handling";
}

/* Logs the cut connections (within the log budget). */
static void report_cuts(http_server *s, const cut_note *notes, int n, int cap) {
    for (int i = 0; i < n && i < cap; i++) {
        long dropped = 0;
        if (!budget_take(&s->budget, &dropped)) continue;
        slog_kv(s->lg, SLOG_WARN, "slow_client_cut", "phase", json_string(phase_name(notes[i].phase)),
                "seconds", json_real(notes[i].seconds), "header_timeout", json_real(s->header_timeout),
                "log_lines_dropped", dropped ? json_integer(dropped) : NULL, NULL);
    }
}

#define WATCHDOG_PERIOD_MS 200

/* The watchdog: every WATCHDOG_PERIOD_MS, cuts the connections past their deadline. */
static void *watchdog_main(void *arg) {
    http_server *s = arg;
    conn_table *t = &s->tab;
    cut_note notes[16];
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += WATCHDOG_PERIOD_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
        if (t->stop) break;
        int n = cut_expired(t, s->metrics, nc_now(), notes, 16);
        if (!n) continue;
        pthread_mutex_unlock(&t->mu); /* log without holding up connections */
        report_cuts(s, notes, n, 16);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* The table's mutex and condition variable (on the monotonic clock, as nc_now). */
static int table_init(conn_table *t, nc_err *e) {
    pthread_condattr_t ca;
    int err = pthread_mutex_init(&t->mu, NULL);
    if (err) return nc_fail(e, NC_EIO, "http: cannot create the connection table's mutex: %s", strerror(err));
    if ((err = pthread_condattr_init(&ca)) == 0) {
        err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        if (!err) err = pthread_cond_init(&t->cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (err) {
        pthread_mutex_destroy(&t->mu);
        return nc_fail(e, NC_EIO, "http: cannot create the watchdog's condition variable: %s", strerror(err));
    }
    return NC_OK;
}

/* Stops and joins the watchdog (if it runs). */
static void watchdog_stop(conn_table *t) {
    if (!t->started) return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    t->started = 0;
}

/* Frees entries left (none once libmicrohttpd has stopped) and the synchronisation objects. */
static void table_destroy(conn_table *t) {
    while (t->head) {
        conn_track *k = t->head;
        t->head = k->next;
        free(k);
    }
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
}

/* ======================= log budget ======================= */

/* 1 when a line may be logged now (at most HTTP_LOG_BURST a second), with *dropped set to the
 * lines refused since the last one allowed; 0 when it must be dropped (and is counted). */
static int budget_take(log_budget *b, long *dropped) {
    double now = nc_now();
    pthread_mutex_lock(&b->mu);
    if (now - b->window >= 1.0) {
        b->window = now;
        b->used = 0;
    }
    int ok = b->used < HTTP_LOG_BURST;
    if (ok) {
        b->used++;
        *dropped = b->dropped;
        b->dropped = 0;
    } else {
        b->dropped++;
    }
    pthread_mutex_unlock(&b->mu);
    return ok;
}

/* libmicrohttpd's own diagnostics (bind failures, protocol errors, connection limit) become log
 * events. A flood of malformed requests causes one each, hence the budget. */
static void mhd_logger(void *cls, const char *fmt, va_list ap) {
    http_server *s = cls;
    long dropped = 0;
    if (!budget_take(&s->budget, &dropped)) return;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    buf[strcspn(buf, "\n")] = '\0';
    slog_kv(s->lg, SLOG_WARN, "http_library", "msg", json_string(buf), "log_lines_dropped",
            dropped ? json_integer(dropped) : NULL, NULL);
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
static void dispatch_later(http_resp *rs) {
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
    const char *expect = values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    const char *cl = values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = values_get(v, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return (expect && !strcasecmp(expect, "100-continue")) || (cl && strtoull(cl, NULL, 10) > HTTP_DISCARD_BYTES) ||
           (te && strcasecmp(te, "chunked") != 0) || st->lengths_differ;
}

/* First call of a request (its headers are complete): state, route, and the refusals that need
 * no body. A refusal is answered at once only when answer_before_body says so; otherwise at
 * the final call, so the client can read it and the connection stays open for the next request. */
static enum MHD_Result first_call(http_server *s, struct MHD_Connection *c, const char *url, const char *method,
                                  void **req_cls) {
    track_phase_set(s, c, TRACK_BODY, s->header_timeout);
    req_state *st = *req_cls ? *req_cls : calloc(1, sizeof *st);
    if (!st) return MHD_NO;
    *req_cls = st;
    st->begun = 1;
    atomic_fetch_add(&s->inflight, 1);
    http_values v = {.conn = c};
    if (!request_begin(&s->core, st, &v, url, method) || !st->has_body) return MHD_YES;
    if (!answer_before_body(st, &v)) {
        track_phase_set(s, c, TRACK_DISCARD, HTTP_DISCARD_SECONDS);
        return MHD_YES;
    }
    http_resp rs = {0};
    request_finish(&s->core, st, &v, url, method, &rs);
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
        track_body(s, c, *upload_size);
        int keep_on = request_body(&s->core, st, upload_data, *upload_size);
        *upload_size = 0;
        if (st->too_large && !was_large) track_phase_set(s, c, TRACK_DISCARD, HTTP_DISCARD_SECONDS);
        return keep_on ? MHD_YES : MHD_NO; /* beyond the discard bound: close, unanswered */
    }
    if (st->status) return MHD_YES; /* refused early and already answered */
    if (st->later) return unpark(s, c, st);
    track_phase_set(s, c, TRACK_HANDLING, 0);
    http_values v = {.conn = c};
    http_resp rs = {0};
    request_finish(&s->core, st, &v, url, method, &rs);
    if (rs.later_) return park(s, c, st, &rs);
    return queue(s, c, st, &rs);
}

/* The request line has arrived: the target is seen here as sent, before libmicrohttpd decodes
 * it, so the request state starts here (NULL when out of memory: first_call tries again). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    (void)cls, (void)c;
    req_state *st = calloc(1, sizeof *st);
    if (st) {
        st->target_nul = target_has_nul(uri);
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
    track_phase_set(s, c, TRACK_HEADERS, (double)s->core.o.conn_timeout + s->header_timeout);
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
    request_free(st);
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
    watchdog_stop(&s->tab);
    /* libmicrohttpd must not be stopped with suspended connections: parked requests wait on
     * work (a store commit) that finishes by itself, so wait for them. */
    while (atomic_load(&s->parked) > 0) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (s->d) MHD_stop_daemon(s->d);
    if (s->listen_fd != MHD_INVALID_SOCKET) close(s->listen_fd);
    table_destroy(&s->tab);
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
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)ss,
                            MHD_OPTION_ARRAY, extra,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_connections,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->conn_timeout,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, o->max_header * HTTP_POOL_FACTOR,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
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
    if (table_init(&s->tab, e) != NC_OK) {
        pthread_mutex_destroy(&s->budget.mu);
        free(s);
        return NULL;
    }
    if (!(s->d = start_daemon(s, o, &ss))) {
        nc_fail(e, NC_EIO, "setting 'listen': cannot serve on %s:%d (address in use or not local?)", o->host, o->port);
        server_free(s);
        return NULL;
    }
    if ((err = pthread_create(&s->tab.thread, NULL, watchdog_main, s)) != 0) {
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

/* ======================= http_dispatch ======================= */

#define DISPATCH_PIECE 1000 /* body bytes per upload call, as libmicrohttpd hands over reads */

/* Splits the query string q (modified in place) into args[] as libmicrohttpd does
 * (MHD_parse_arguments_): "&"-separated, name "=" value, "+" as space, then %XX decoded by
 * libmicrohttpd's own MHD_http_unescape; a name without "=" gets value NULL. args has room for
 * one entry per "&" plus one. Returns the number of entries. */
static int parse_query(char *q, http_kv *args) {
    int n = 0;
    while (q && *q) {
        char *amp = strchr(q, '&');
        if (amp) *amp = '\0';
        char *eq = strchr(q, '=');
        if (eq) *eq = '\0';
        for (char *p = q; *p; p++)
            if (*p == '+') *p = ' ';
        MHD_http_unescape(q);
        if (eq) {
            for (char *p = eq + 1; *p; p++)
                if (*p == '+') *p = ' ';
            MHD_http_unescape(eq + 1);
        }
        args[n++] = (http_kv){q, eq ? eq + 1 : NULL};
        q = amp ? amp + 1 : NULL;
    }
    return n;
}

/* The headers a client sending this body would have sent: the caller's, with Content-Length
 * replaced by the body's length (none without a body, or with a Transfer-Encoding). out has
 * room for n + 1 entries; cl holds the length's text. Returns the number of entries. */
static int body_headers(const http_kv *in, int n, size_t body_len, http_kv *out, char *cl, size_t cap) {
    int m = 0, chunked = 0;
    for (int i = 0; i < n; i++) {
        if (!in[i].name || !in[i].value || name_equal(in[i].name, MHD_HTTP_HEADER_CONTENT_LENGTH)) continue;
        if (name_equal(in[i].name, MHD_HTTP_HEADER_TRANSFER_ENCODING)) chunked = 1;
        out[m++] = in[i];
    }
    if (body_len > 0 && !chunked) {
        snprintf(cl, cap, "%zu", body_len);
        out[m++] = (http_kv){MHD_HTTP_HEADER_CONTENT_LENGTH, cl};
    }
    return m;
}

void http_dispatch(const http_opts *o, const http_route *routes, int n, void *app, const char *method,
                   const char *url, const http_kv *headers, int n_headers, const char *body, size_t body_len,
                   http_resp *rs) {
    http_core k = {*o, routes, n, app};
    size_t n_amp = 0;
    for (const char *p = url; *p; p++) n_amp += *p == '&';
    char *path = strdup(url), cl[32];
    http_kv *args = malloc((n_amp + 1) * sizeof *args);
    http_kv *hdrs = malloc(((size_t)(n_headers > 0 ? n_headers : 0) + 1) * sizeof *hdrs);
    if (!path || !args || !hdrs) {
        http_problem(rs, 503, "out of memory");
        free(path), free(args), free(hdrs);
        return;
    }
    char *q = strchr(path, '?');
    if (q) *q++ = '\0';
    http_values v = {NULL, args, parse_query(q, args), hdrs, body_headers(headers, n_headers, body_len, hdrs, cl, sizeof cl)};
    MHD_http_unescape(path); /* after the query is split off, as libmicrohttpd does */
    req_state st = {.target_nul = target_has_nul(url)};
    st.target_len = strlen(url);
    request_begin(&k, &st, &v, path, method);
    for (size_t at = 0; at < body_len; at += DISPATCH_PIECE) /* the daemon would close past the bound */
        if (!request_body(&k, &st, body + at, body_len - at < DISPATCH_PIECE ? body_len - at : DISPATCH_PIECE)) break;
    request_finish(&k, &st, &v, path, method, rs);
    if (rs->later_) dispatch_later(rs);
    request_free(&st);
    free(path), free(args), free(hdrs);
}
