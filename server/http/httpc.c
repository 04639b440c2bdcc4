/* httpc.c - see httpc.h. Sections: URLs, the socket with timeouts, the response. */
#include "httpc.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* ======================= URLs ======================= */

/* Copies s[0..n) into dst (cap bytes) or fails naming what was too long. */
static int copy_part(char *dst, size_t cap, const char *s, size_t n, const char *what, const char *url, nc_err *e) {
    if (n >= cap) return nc_fail(e, NC_EINVAL, "URL '%.200s': the %s is longer than %zu bytes", url, what, cap - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
    return NC_OK;
}

int httpc_parse_url(const char *url, httpc_url *out, nc_err *e) {
    memset(out, 0, sizeof *out);
    if (!strncasecmp(url, "https://", 8))
        return nc_fail(e, NC_EINVAL, "URL '%.200s': TLS is not supported; reach the primary over a private network "
                       "or through a TLS-terminating proxy, with an http:// URL", url);
    if (strncasecmp(url, "http://", 7) != 0)
        return nc_fail(e, NC_EINVAL, "URL '%.200s' must start with http://", url);
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == '?' || *c == '#')
            return nc_fail(e, NC_EINVAL, "URL '%.200s': spaces, '?' and '#' are not allowed", url);
    const char *h = url + 7, *end;
    if (*h == '[') {
        end = strchr(h, ']');
        if (!end) return nc_fail(e, NC_EINVAL, "URL '%.200s': '[' without ']'", url);
        if (copy_part(out->host, sizeof out->host, h + 1, (size_t)(end - h - 1), "host", url, e)) return NC_EINVAL;
        end++;
    } else {
        end = h + strcspn(h, ":/");
        if (copy_part(out->host, sizeof out->host, h, (size_t)(end - h), "host", url, e)) return NC_EINVAL;
    }
    if (!out->host[0]) return nc_fail(e, NC_EINVAL, "URL '%.200s' has no host", url);
    snprintf(out->port, sizeof out->port, "80");
    if (*end == ':') {
        const char *p = end + 1, *q = p + strcspn(p, "/");
        long port = 0;
        for (const char *d = p; d < q; d++)
            port = isdigit((unsigned char)*d) && port < 100000 ? port * 10 + (*d - '0') : 100000;
        if (q == p || port < 1 || port > 65535)
            return nc_fail(e, NC_EINVAL, "URL '%.200s': the port must be 1 to 65535", url);
        snprintf(out->port, sizeof out->port, "%ld", port);
        end = q;
    } else if (*end && *end != '/') {
        return nc_fail(e, NC_EINVAL, "URL '%.200s' is not http://HOST[:PORT][/PATH]", url);
    }
    size_t n = strlen(end);
    while (n && end[n - 1] == '/') n--;
    return copy_part(out->prefix, sizeof out->prefix, end, n, "path", url, e);
}

/* ======================= the socket with timeouts ======================= */

/* Waits until fd is ready for events (POLLIN/POLLOUT) or timeout seconds pass. */
static int wait_fd(int fd, short events, double timeout, const char *what, const httpc_url *u, nc_err *e) {
    struct pollfd p = {fd, events, 0};
    int ms = (int)(timeout * 1000), rc;
    while ((rc = poll(&p, 1, ms)) < 0 && errno == EINTR) {}
    if (rc == 0) return nc_fail(e, NC_EIO, "%s:%s: no answer within %g s while %s", u->host, u->port, timeout, what);
    if (rc < 0) return nc_fail(e, NC_EIO, "%s:%s: poll: %s", u->host, u->port, strerror(errno));
    return NC_OK;
}

/* A non-blocking connect to one address, bounded by the timeout. Returns the fd or -1. */
static int connect_one(const struct addrinfo *ai, double timeout, const httpc_url *u, nc_err *e) {
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return nc_fail(e, NC_EIO, "socket: %s", strerror(errno)), -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        int err = errno, soerr = 0;
        socklen_t len = sizeof soerr;
        if (err != EINPROGRESS) {
            nc_fail(e, NC_EIO, "cannot connect to %s:%s: %s", u->host, u->port, strerror(err));
        } else if (wait_fd(fd, POLLOUT, timeout, "connecting", u, e) == NC_OK) {
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0) return fd;
            nc_fail(e, NC_EIO, "cannot connect to %s:%s: %s", u->host, u->port, strerror(soerr ? soerr : errno));
        }
        close(fd);
        return -1;
    }
    return fd;
}

/* Resolves the host and connects to the first address that answers. */
static int dial(const httpc_url *u, double timeout, nc_err *e) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(u->host, u->port, &hints, &res);
    if (g != 0 || !res) return nc_fail(e, NC_EIO, "cannot resolve '%s': %s", u->host, gai_strerror(g)), -1;
    int fd = -1;
    for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) fd = connect_one(ai, timeout, u, e);
    freeaddrinfo(res);
    return fd;
}

static int send_all(int fd, const char *buf, size_t n, double timeout, const httpc_url *u, nc_err *e) {
    while (n) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
        if (w > 0) {
            buf += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (wait_fd(fd, POLLOUT, timeout, "sending the request", u, e)) return NC_EIO;
        } else {
            return nc_fail(e, NC_EIO, "%s:%s: send: %s", u->host, u->port, strerror(errno));
        }
    }
    return NC_OK;
}

/* Reads what is available (waiting up to the timeout). Returns bytes read, 0 at the end of the
 * connection, -1 on error (e filled). */
static ssize_t recv_some(int fd, char *buf, size_t cap, double timeout, const char *what, const httpc_url *u, nc_err *e) {
    for (;;) {
        ssize_t r = recv(fd, buf, cap, 0);
        if (r >= 0) return r;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return nc_fail(e, NC_EIO, "%s:%s: recv: %s", u->host, u->port, strerror(errno)), -1;
        if (wait_fd(fd, POLLIN, timeout, what, u, e)) return -1;
    }
}

/* ======================= the response ======================= */

void httpc_resp_free(httpc_resp *r) {
    free(r->body);
    free(r->head);
    memset(r, 0, sizeof *r);
}

const char *httpc_header(const httpc_resp *r, const char *name, char *buf, size_t cap) {
    size_t nl = strlen(name);
    if (!r->head) return NULL;
    for (const char *line = r->head; *line;) {
        const char *eol = strstr(line, "\r\n");
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > nl && line[nl] == ':' && !strncasecmp(line, name, nl)) {
            const char *v = line + nl + 1, *end = line + len;
            while (v < end && (*v == ' ' || *v == '\t')) v++;
            while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
            snprintf(buf, cap, "%.*s", (int)(end - v), v);
            return buf;
        }
        line += len + (eol ? 2 : 0);
    }
    return NULL;
}

/* Appends body bytes: to the sink, or to the collected body. */
typedef struct body_acc {
    const httpc_opts *o;
    httpc_resp *r;
    size_t cap;
} body_acc;

static int body_put(body_acc *b, const char *data, size_t n, nc_err *e) {
    if (!n) return NC_OK;
    if (b->r->body_len + n > b->o->max_body)
        return nc_fail(e, NC_EFORMAT, "the response body is larger than %zu bytes", b->o->max_body);
    if (b->o->sink) {
        int rc = b->o->sink(b->o->sink_ctx, data, n, e);
        if (rc) return rc;
    } else {
        if (b->r->body_len + n + 1 > b->cap) {
            size_t cap = b->cap ? b->cap : 4096;
            while (cap < b->r->body_len + n + 1) cap *= 2;
            char *p = realloc(b->r->body, cap);
            if (!p) return nc_fail(e, NC_ENOMEM, "out of memory for a %zu-byte response body", cap);
            b->r->body = p;
            b->cap = cap;
        }
        memcpy(b->r->body + b->r->body_len, data, n);
        b->r->body[b->r->body_len + n] = '\0';
    }
    b->r->body_len += n;
    return NC_OK;
}

/* Reads the status line and headers into r->head; the bytes after them (the body's start) are
 * left in buf[0..*extra). */
static int read_head(int fd, const httpc_url *u, double timeout, httpc_resp *r, char *buf, size_t *extra, nc_err *e) {
    size_t len = 0;
    char *end = NULL;
    r->head = malloc(HTTPC_MAX_HEAD + 1);
    if (!r->head) return nc_fail(e, NC_ENOMEM, "out of memory for response headers");
    while (!end) {
        if (len == HTTPC_MAX_HEAD)
            return nc_fail(e, NC_EFORMAT, "%s:%s: response headers longer than %d bytes", u->host, u->port, HTTPC_MAX_HEAD);
        ssize_t n = recv_some(fd, r->head + len, HTTPC_MAX_HEAD - len, timeout, "reading the response headers", u, e);
        if (n < 0) return NC_EIO;
        if (n == 0) return nc_fail(e, NC_EIO, "%s:%s closed the connection before a complete response", u->host, u->port);
        len += (size_t)n;
        r->head[len] = '\0';
        end = strstr(r->head, "\r\n\r\n");
    }
    *extra = len - (size_t)(end + 4 - r->head);
    memcpy(buf, end + 4, *extra);
    end[2] = '\0'; /* keep the last header's CRLF: httpc_header splits on it */
    int major, minor, status;
    if (sscanf(r->head, "HTTP/%d.%d %3d", &major, &minor, &status) != 3 || status < 100 || status > 599)
        return nc_fail(e, NC_EFORMAT, "%s:%s: not an HTTP response: '%.40s'", u->host, u->port, r->head);
    r->status = status;
    return NC_OK;
}

/* Reads the body as the headers frame it. */
static int read_body(int fd, const httpc_url *u, const httpc_opts *o, httpc_resp *r, char *buf, size_t extra, nc_err *e) {
    char v[64];
    body_acc b = {o, r, 0};
    if (httpc_header(r, "Transfer-Encoding", v, sizeof v) && strcasecmp(v, "identity"))
        return nc_fail(e, NC_EFORMAT, "%s:%s: Transfer-Encoding '%s' is not supported", u->host, u->port, v);
    r->content_length = -1;
    if (httpc_header(r, "Content-Length", v, sizeof v)) {
        char *endp;
        long long cl = strtoll(v, &endp, 10);
        if (!v[0] || *endp || cl < 0) return nc_fail(e, NC_EFORMAT, "%s:%s: bad Content-Length '%s'", u->host, u->port, v);
        r->content_length = cl;
    }
    if (r->status < 200 || r->status == 204 || r->status == 304) return NC_OK;
    if (r->content_length > (int64_t)o->max_body)
        return nc_fail(e, NC_EFORMAT, "%s:%s: the body has %lld bytes; at most %zu are accepted", u->host, u->port,
                       (long long)r->content_length, o->max_body);
    size_t want = r->content_length >= 0 ? (size_t)r->content_length : o->max_body + 1;
    if (extra > want) extra = want;
    int rc = body_put(&b, buf, extra, e);
    while (!rc && r->body_len < want) {
        size_t cap = want - r->body_len < 65536 ? want - r->body_len : 65536;
        ssize_t n = recv_some(fd, buf, cap, o->timeout, "reading the response body", u, e);
        if (n < 0) return NC_EIO;
        if (n == 0) break;
        rc = body_put(&b, buf, (size_t)n, e);
    }
    if (!rc && r->content_length >= 0 && r->body_len < (size_t)r->content_length)
        return nc_fail(e, NC_EIO, "%s:%s closed the connection after %zu of %lld body bytes", u->host, u->port, r->body_len,
                       (long long)r->content_length);
    if (!rc && !o->sink && !r->body) r->body = calloc(1, 1);
    return rc;
}

int httpc_get(const httpc_url *u, const char *path, const httpc_opts *o, httpc_resp *r, nc_err *e) {
    memset(r, 0, sizeof *r);
    char req[4096 + 600];
    int n = snprintf(req, sizeof req, "GET %s%s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: nclrec-replica\r\n"
                     "Accept: */*\r\nConnection: close\r\n", u->prefix, path, strchr(u->host, ':') ? "[" : "",
                     u->host, strchr(u->host, ':') ? "]" : "", u->port);
    if (o->bearer && o->bearer[0] && n > 0 && (size_t)n < sizeof req)
        n += snprintf(req + n, sizeof req - (size_t)n, "Authorization: Bearer %s\r\n", o->bearer);
    if (o->if_none_match && n > 0 && (size_t)n < sizeof req)
        n += snprintf(req + n, sizeof req - (size_t)n, "If-None-Match: %s\r\n", o->if_none_match);
    if (n > 0 && (size_t)n < sizeof req) n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    if (n <= 0 || (size_t)n >= sizeof req) return nc_fail(e, NC_EINVAL, "request for '%.100s' is too long", path);
    char *buf = malloc(65536 > HTTPC_MAX_HEAD ? 65536 : HTTPC_MAX_HEAD);
    if (!buf) return nc_fail(e, NC_ENOMEM, "out of memory for a receive buffer");
    int fd = dial(u, o->timeout, e), rc = fd < 0 ? NC_EIO : NC_OK;
    size_t extra = 0;
    if (!rc) rc = send_all(fd, req, (size_t)n, o->timeout, u, e);
    if (!rc) rc = read_head(fd, u, o->timeout, r, buf, &extra, e);
    if (!rc) rc = read_body(fd, u, o, r, buf, extra, e);
    if (fd >= 0) close(fd);
    free(buf);
    return rc;
}
