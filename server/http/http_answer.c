/* http_answer.c - building answers and reading a request's values (see http.h): the one place
 * that knows whether a request came from libmicrohttpd or from http_dispatch. */
#include "http_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ======================= request values ======================= */

/* Names compare as libmicrohttpd compares them: ASCII letters without regard to case, nothing
 * else folded (strcasecmp would follow the locale). */
int http_name_equal(const char *a, const char *b) {
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
        if (kv[i].name && http_name_equal(kv[i].name, name)) return kv[i].value;
    return NULL;
}

/* A header (MHD_HEADER_KIND) or query argument (MHD_GET_ARGUMENT_KIND) of the request. */
const char *http_values_get(const http_values *v, enum MHD_ValueKind kind, const char *name) {
    if (v->conn) return MHD_lookup_connection_value(v->conn, kind, name);
    if (kind == MHD_GET_ARGUMENT_KIND) return kv_find(v->query, v->n_query, name);
    return kv_find(v->headers, v->n_headers, name);
}

const char *http_query(const http_req *rq, const char *name) {
    if (!rq->values) return rq->conn ? MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name) : NULL;
    return http_values_get(rq->values, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const http_req *rq, const char *name) {
    if (!rq->values) return rq->conn ? MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name) : NULL;
    return http_values_get(rq->values, MHD_HEADER_KIND, name);
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
