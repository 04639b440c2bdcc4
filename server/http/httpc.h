/* httpc.h - a minimal blocking HTTP/1.1 client, just enough for a replica to read its primary's
 * feeds: GET only, plain TCP (no TLS), bodies framed by Content-Length (or, without one, by the
 * end of the connection; chunked bodies are refused), one request per connection
 * ("Connection: close"), and a timeout on every wait.
 *
 * No TLS on purpose: replicas talk to their primary over a private network, or through a
 * TLS-terminating proxy on each end. A URL with another scheme than http:// is refused.
 *
 * Timeouts: connect, every send and every read wait at most opts.timeout seconds of silence,
 * so a primary that stops answering costs a bounded wait per call, however large the body.
 *
 * Thread-safety: no shared state; any number of calls may run at once. */
#ifndef NCLREC_HTTPC_H
#define NCLREC_HTTPC_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define HTTPC_MAX_HEAD 16384 /* bytes of status line and headers accepted */

/* A parsed base URL "http://HOST[:PORT][/PREFIX]" (IPv6 as "[ADDR]"). Plain value. */
typedef struct httpc_url {
    char host[256];    /* without brackets */
    char port[8];      /* "80" when absent */
    char prefix[256];  /* path prefix without a trailing '/', "" for none */
} httpc_url;

/* Parses url into *out. NC_EINVAL names the problem: another scheme (https: "TLS is not
 * supported..."), no host, a bad port, a too long part. */
int httpc_parse_url(const char *url, httpc_url *out, nc_err *e);

/* Receives the body in pieces as it arrives; returns NC_OK or an error code (with e filled) to
 * abort the transfer. */
typedef int (*httpc_sink)(void *ctx, const char *data, size_t n, nc_err *e);

typedef struct httpc_opts {
    double timeout;            /* seconds of silence allowed on each wait (> 0) */
    size_t max_body;           /* a longer body is refused (NC_EFORMAT) */
    const char *bearer;        /* sent as "Authorization: Bearer ..." unless NULL or "" */
    const char *if_none_match; /* sent as "If-None-Match: ..." unless NULL */
    httpc_sink sink;           /* NULL: the body is collected into resp->body */
    void *sink_ctx;
} httpc_opts;

typedef struct httpc_resp {
    int status;                /* e.g. 200, 304 */
    int64_t content_length;    /* -1 when the response carried none */
    size_t body_len;           /* bytes of body received */
    char *body;                /* without a sink: malloc'd, NUL-terminated (owned) */
    char *head;                /* the header lines, malloc'd (owned) */
} httpc_resp;

/* GETs base->prefix + path (path starts with '/' and may carry a query string) and fills *r
 * (zeroed first; free it with httpc_resp_free, also after a failure). Any status is a success
 * of the call: the caller judges r->status. Fails with NC_EIO when the server cannot be
 * reached, stops answering within opts.timeout or closes the connection before the whole body,
 * NC_EFORMAT for a malformed response or a body above max_body, or the sink's code. */
int httpc_get(const httpc_url *base, const char *path, const httpc_opts *o, httpc_resp *r, nc_err *e);

/* The value of response header name (case-insensitive) copied into buf (cap bytes, trimmed),
 * or NULL when the response has no such header. */
const char *httpc_header(const httpc_resp *r, const char *name, char *buf, size_t cap);

/* Frees the body and headers of r; leaves it zeroed. */
void httpc_resp_free(httpc_resp *r);

#endif
