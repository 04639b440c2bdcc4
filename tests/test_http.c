/* test_http.c - the HTTP layer (server/http/http.c) on its own, with a small route table of echo
 * handlers:
 *   - parity: each request is sent to the real daemon on 127.0.0.1 over a socket and run
 *     through http_dispatch; status, content type, Allow / WWW-Authenticate and body must be
 *     identical (routing, 404/405/401/415/413, query decoding with "+", %XX, names without "=",
 *     repeated and differently-cased names, header lookups, chunked bodies, %00 refused);
 *   - the header deadline: a silent connection and a client trickling its headers are cut after
 *     header_timeout although each byte resets libmicrohttpd's idle timeout, a trickled body is
 *     cut too, each cut is counted in the metrics; a slow handler and a kept-alive connection's
 *     second request are not cut.
 * Every socket read has a timeout, so a daemon that misbehaves fails the test instead of hanging
 * it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "testhelp.h"

#define KEY "sekret-key"

/* ---- echo handlers ---- */

static int each_arg(void *cls, const char *name, const char *value) {
    json_array_append_new(cls, json_pack("[s, s?]", name, value));
    return 0;
}

/* Everything a handler can see of the request, as JSON. */
static void h_echo(void *app, const http_req *rq, http_resp *rs) {
    (void)app;
    json_t *args = json_array();
    http_each_query(rq, each_arg, args);
    const char *q[] = {"user", "k", "a b", "e", "flag", ""};
    json_t *named = json_object();
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) json_object_set_new(named, q[i], json_string(http_query(rq, q[i])));
    const char *h[] = {"Authorization", "content-type", "IDEMPOTENCY-KEY", "X-Absent"};
    json_t *hdrs = json_object();
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) json_object_set_new(hdrs, h[i], json_string(http_header(rq, h[i])));
    http_json(rs, 200, json_pack("{s:s, s:s, s:s?, s:s%, s:o, s:o, s:o}", "method", rq->method, "path", rq->path,
                                 "param", rq->param, "body", rq->body, rq->body_len, "args", args, "named", named,
                                 "headers", hdrs));
}

static void h_slow(void *app, const http_req *rq, http_resp *rs) {
    (void)app, (void)rq;
    struct timespec ts = {1, 600 * 1000 * 1000};
    nanosleep(&ts, NULL);
    http_text(rs, 200, "text/plain", "slow", 4);
}

static const http_route routes[] = {
    {"GET", "/echo", h_echo, HTTP_AUTH_READ},
    {"POST", "/echo", h_echo, HTTP_AUTH_WRITE | HTTP_BODY_JSON},
    {"DELETE", "/things/{id}", h_echo, HTTP_AUTH_WRITE},
    {"GET", "/slow", h_slow, 0},
};
static const int n_routes = sizeof routes / sizeof routes[0];

static http_opts test_opts(int header_timeout) {
    return (http_opts){.host = "127.0.0.1", .port = 0, .threads = 2, .max_connections = 16, .conn_timeout = 20,
                       .header_timeout = header_timeout, .max_body = 64, .max_header = 8192, .api_key = KEY};
}

/* ---- a client ---- */

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* Reads until the peer closes or timeout_ms passes without data; returns bytes read, -1 on timeout. */
static long recv_until_close(int fd, char *buf, size_t cap, int timeout_ms) {
    size_t n = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) != 1) return -1;
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r <= 0) break;
        n += (size_t)r;
        if (n == cap - 1) break;
    }
    buf[n] = '\0';
    return (long)n;
}

/* A parsed response: status, a few headers, body. */
typedef struct reply {
    int status;
    char ctype[128], allow[64], www[64];
    const char *body;
} reply;

static void header_value(const char *head, const char *name, char *out, size_t cap) {
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n"))
        if (!strncasecmp(l + 2, name, nl) && l[2 + nl] == ':') {
            const char *v = l + 3 + nl;
            while (*v == ' ') v++;
            snprintf(out, cap, "%.*s", (int)strcspn(v, "\r"), v);
            return;
        }
}

static int parse_reply(char *raw, reply *r) {
    char *end = strstr(raw, "\r\n\r\n");
    if (!end || sscanf(raw, "HTTP/1.%*d %d", &r->status) != 1) return -1;
    end[2] = '\0';
    header_value(raw, "Content-Type", r->ctype, sizeof r->ctype);
    header_value(raw, "Allow", r->allow, sizeof r->allow);
    header_value(raw, "WWW-Authenticate", r->www, sizeof r->www);
    r->body = end + 4;
    return 0;
}

/* ---- parity ---- */

typedef struct req_case {
    const char *method, *target;
    const char *hdr[3][2];  /* up to 3 headers; NULL name ends */
    const char *body;       /* NULL: none */
    int chunked;            /* send the body chunked */
} req_case;

static const req_case cases[] = {
    {"GET", "/echo?user=u1&k=5", {{0}}, NULL, 0},
    {"GET", "/echo?USER=upper&user=lower&user=second", {{0}}, NULL, 0},
    {"GET", "/echo?a+b=c+d&e=%41%zz%4&flag&=v&&k=1%0", {{0}}, NULL, 0},
    {"GET", "/ec%68o?user=%E2%82%AC", {{0}}, NULL, 0},
    {"GET", "/echo%3Fuser=1", {{0}}, NULL, 0},
    {"GET", "/echo?", {{0}}, NULL, 0},
    {"GET", "/echo?user=u1%00x", {{0}}, NULL, 0},
    {"GET", "/echo%00/more", {{0}}, NULL, 0},
    {"GET", "/echo?user=%0A%01%7F%FF", {{0}}, NULL, 0},
    {"GET", "/nope", {{0}}, NULL, 0},
    {"PUT", "/echo", {{0}}, NULL, 0},
    {"GET", "/things/x", {{0}}, NULL, 0},
    {"POST", "/echo", {{"Content-Type", "application/json"}}, "{}", 0},
    {"POST", "/echo", {{"Authorization", "Bearer wrong"}, {"Content-Type", "application/json"}}, "{}", 0},
    {"POST", "/echo", {{"Authorization", "Bearer " KEY}, {"Content-Type", "text/plain"}}, "{}", 0},
    {"POST", "/echo", {{"Authorization", "Bearer " KEY}}, "{}", 0},
    {"POST", "/echo", {{"Authorization", "bearer   " KEY "  "}, {"content-type", "APPLICATION/JSON; charset=utf-8"},
                       {"idempotency-key", "k-1"}}, "{\"a\":1}", 0},
    {"POST", "/echo", {{"Authorization", "Bearer " KEY}, {"Content-Type", "application/json"}},
     "[0123456789, 0123456789, 0123456789, 0123456789, 0123456789, 0123456789, 0123456789]", 0},
    {"POST", "/echo", {{"Authorization", "Bearer " KEY}, {"Content-Type", "application/json"}}, "", 0},
    {"POST", "/echo", {{"Authorization", "Bearer " KEY}, {"Content-Type", "application/json"}}, "{\"chunk\":1}", 1},
    {"POST", "/echo", {{"Authorization", "Bearer " KEY}, {"Content-Type", "application/json"}},
     "[0123456789, 0123456789, 0123456789, 0123456789, 0123456789, 0123456789, 0123456789]", 1},
    {"DELETE", "/things/abc%20d%2Be", {{"Authorization", "Bearer " KEY}}, NULL, 0},
    {"DELETE", "/things/a%2Fb", {{"Authorization", "Bearer " KEY}}, NULL, 0},
    {"DELETE", "/things/", {{"Authorization", "Bearer " KEY}}, NULL, 0},
    {"DELETE", "/things/x", {{0}}, NULL, 0},
    {"DELETE", "/things/u1%00x", {{"Authorization", "Bearer " KEY}}, NULL, 0},
};

/* The request as bytes on the wire. */
static size_t wire(const req_case *c, char *out, size_t cap) {
    size_t n = (size_t)snprintf(out, cap, "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n", c->method, c->target);
    for (int i = 0; i < 3 && c->hdr[i][0]; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s: %s\r\n", c->hdr[i][0], c->hdr[i][1]);
    if (c->body && c->chunked)
        n += (size_t)snprintf(out + n, cap - n, "Transfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
                              strlen(c->body), c->body);
    else if (c->body)
        n += (size_t)snprintf(out + n, cap - n, "Content-Length: %zu\r\n\r\n%s", strlen(c->body), c->body);
    else
        n += (size_t)snprintf(out + n, cap - n, "\r\n");
    return n;
}

static void test_parity(void) {
    http_opts o = test_opts(0);
    nc_err e = {0};
    http_server *s = http_start(&o, routes, n_routes, NULL, NULL, NULL, &e);
    CHECK(s != NULL, "http_start: %s", e.msg);
    if (!s) return;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const req_case *c = &cases[i];
        static char out[4096], raw[16384];
        size_t n = wire(c, out, sizeof out);
        int fd = connect_to(http_port(s));
        long got = fd >= 0 && send_all(fd, out, n) == 0 ? recv_until_close(fd, raw, sizeof raw, 5000) : -1;
        if (fd >= 0) close(fd);
        reply r = {0};
        CHECK(got > 0 && parse_reply(raw, &r) == 0, "case %zu (%s %s): no parsable answer", i, c->method, c->target);
        if (got <= 0 || !r.status) continue;
        http_kv hk[3];
        int nh = 0;
        for (; nh < 3 && c->hdr[nh][0]; nh++) hk[nh] = (http_kv){c->hdr[nh][0], c->hdr[nh][1]};
        if (c->chunked) hk[nh++] = (http_kv){"Transfer-Encoding", "chunked"};
        http_resp d = {0};
        http_dispatch(&o, routes, n_routes, NULL, c->method, c->target, hk, nh, c->body, c->body ? strlen(c->body) : 0, &d);
        const char *allow = "", *www = "";
        for (int h = 0; h < d.n_hdr; h++) {
            if (!strcmp(d.hdr_name[h], "Allow")) allow = d.hdr_val[h];
            if (!strcmp(d.hdr_name[h], "WWW-Authenticate")) www = d.hdr_val[h];
        }
        CHECK(d.status == r.status, "case %zu (%s %s): dispatch %d, daemon %d", i, c->method, c->target, d.status, r.status);
        CHECK(d.ctype && !strcmp(d.ctype, r.ctype), "case %zu: content type '%s' vs '%s'", i, d.ctype, r.ctype);
        CHECK(!strcmp(allow, r.allow) && !strcmp(www, r.www), "case %zu: Allow '%s' vs '%s', WWW-Authenticate '%s' vs '%s'",
              i, allow, r.allow, www, r.www);
        CHECK(d.body && d.len == strlen(r.body) && !memcmp(d.body, r.body, d.len), "case %zu (%s %s): body\n  %.*s\nvs\n  %s",
              i, c->method, c->target, (int)d.len, d.body ? d.body : "", r.body);
        free(d.body);
    }
    http_stop(s);
}

/* The cases cover what they claim: a few answers checked by value. */
static void test_dispatch_values(void) {
    http_opts o = test_opts(0);
    http_resp d = {0};
    http_dispatch(&o, routes, n_routes, NULL, "GET", "/echo?a+b=c+d&e=%41%zz&flag&USER=x", NULL, 0, NULL, 0, &d);
    CHECK(d.status == 200 && strstr(d.body, "\"a b\":\"c d\"") && strstr(d.body, "\"e\":\"A%zz\"") &&
              strstr(d.body, "[\"flag\",null]") && strstr(d.body, "\"user\":\"x\""),
          "decoding: %s", d.body);
    free(d.body);
    d = (http_resp){0};
    http_dispatch(&o, routes, n_routes, NULL, "GET", "/echo?user=u1%00x", NULL, 0, NULL, 0, &d);
    CHECK(d.status == 400 && strstr(d.body, "NUL"), "%%00 in a query value is refused: %d %s", d.status, d.body);
    free(d.body);
    d = (http_resp){0};
    http_dispatch(&o, routes, n_routes, NULL, "PUT", "/echo", NULL, 0, NULL, 0, &d);
    CHECK(d.status == 405 && d.n_hdr == 1 && !strcmp(d.hdr_val[0], "GET, POST") &&
              !strcmp(d.ctype, "application/problem+json"), "405: %d %s", d.status, d.body);
    free(d.body);
    d = (http_resp){0};
    http_kv h[] = {{"Authorization", "Bearer " KEY}, {"Content-Type", "application/json"}, {"Content-Length", "1"}};
    static const char big[65] = {0};
    http_dispatch(&o, routes, n_routes, NULL, "POST", "/echo", h, 3, big, sizeof big, &d);
    CHECK(d.status == 413, "65 bytes over a cap of 64 (a Content-Length header is ignored): %d", d.status);
    free(d.body);
    d = (http_resp){0};
    http_dispatch(&o, routes, n_routes, NULL, "POST", "/echo", h, 2, big, 64, &d);
    CHECK(d.status == 200 && strstr(d.body, "\"body\":\"\\u0000"), "64 bytes with NULs: %d %s", d.status, d.body);
    free(d.body);
}

/* ---- header deadline ---- */

/* Sends head at once, then one byte of rest every 300 ms; returns the seconds from the
 * connection until the server closed it, or -1 when it was still open after max_s. */
static double trickle(int port, const char *head, const char *req, double max_s) {
    int fd = connect_to(port);
    if (fd < 0) return -1;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (send_all(fd, head, strlen(head)) != 0) {
        close(fd);
        return -1;
    }
    double el = 0;
    for (size_t i = 0; el < max_s; i += req[i] != '\0') {
        if (req[i] && send(fd, req + i, 1, MSG_NOSIGNAL) != 1) break;
        struct pollfd p = {fd, POLLIN, 0};
        char c;
        if (poll(&p, 1, 300) == 1 && recv(fd, &c, 1, 0) <= 0) break;
        clock_gettime(CLOCK_MONOTONIC, &t);
        el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9;
    }
    close(fd);
    clock_gettime(CLOCK_MONOTONIC, &t);
    el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9;
    return el < max_s ? el : -1;
}

/* One request on an open connection; returns the status, 0 when none came within 5 s. */
static int request_on(int fd, const char *path) {
    char req[256], buf[4096];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    if (send_all(fd, req, (size_t)n) != 0) return 0;
    size_t got = 0;
    while (got < sizeof buf - 1) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) != 1) return 0;
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r <= 0) break;
        got += (size_t)r;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        const char *cl = strcasestr(buf, "Content-Length:");
        if (end && cl && (size_t)(buf + got - (end + 4)) >= strtoul(cl + 15, NULL, 10)) break;
    }
    int status = 0;
    return sscanf(buf, "HTTP/1.%*d %d", &status) == 1 ? status : 0;
}

static void test_deadline(void) {
    http_opts o = test_opts(1);
    prom m;
    const char *pat[] = {"/echo", "/echo", "/things/{id}", "/slow"}, *meth[] = {"GET", "POST", "DELETE", "GET"};
    prom_init(&m, pat, meth, n_routes);
    nc_err e = {0};
    http_server *s = http_start(&o, routes, n_routes, NULL, NULL, &m, &e);
    CHECK(s != NULL, "http_start: %s", e.msg);
    if (!s) return;
    int port = http_port(s);
    /* conn_timeout is 20 s: only the deadline (1 s) can end these within 5 s */
    double silent = trickle(port, "", "", 5);
    CHECK(silent >= 0.8 && silent < 5, "a silent connection is cut after header_timeout: %.2f s", silent);
    double slow_hdr = trickle(port, "", "GET /echo?user=u1 HTTP/1.1\r\nHost: t\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaa\r\n\r\n", 5);
    CHECK(slow_hdr >= 0.8 && slow_hdr < 5, "headers trickled at 3 bytes/s are cut: %.2f s", slow_hdr);
    double slow_body = trickle(port, "POST /echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " KEY "\r\nContent-Type: "
                                     "application/json\r\nContent-Length: 60\r\n\r\n",
                               "[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]", 5);
    CHECK(slow_body >= 0.8 && slow_body < 5, "a body trickled at 3 bytes/s is cut: %.2f s", slow_body);
    unsigned long long cuts = atomic_load(&m.http_deadline_cuts);
    CHECK(cuts == 3, "cuts counted: %llu (after %.2f, %.2f, %.2f s)", cuts, silent, slow_hdr, slow_body);
    /* a handler slower than header_timeout, then a second request on the same connection */
    int fd = connect_to(port);
    int st1 = fd >= 0 ? request_on(fd, "/slow") : 0;
    int st2 = fd >= 0 ? request_on(fd, "/echo") : 0;
    if (fd >= 0) close(fd);
    CHECK(st1 == 200 && st2 == 200, "slow handler %d, then keep-alive request %d", st1, st2);
    cuts = atomic_load(&m.http_deadline_cuts);
    CHECK(cuts == 3, "nothing more cut: %llu", cuts);
    http_stop(s);
}

int main(void) {
    RUN(test_parity);
    RUN(test_dispatch_values);
    RUN(test_deadline);
    return TEST_REPORT();
}
