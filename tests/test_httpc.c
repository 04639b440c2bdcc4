/* test_httpc.c - the replica's HTTP client (server/http/httpc.h) against a fake server on 127.0.0.1:
 * URL parsing and refusals (https, no host, bad port); a Content-Length body collected whole
 * or streamed to a sink, across several writes; the request line and the headers sent; header
 * lookup; 304 without a body; a body without Content-Length read to the end; refusals of a
 * truncated body, a chunked body, a body above the cap, a malformed status line; a silent
 * server cut off by the timeout; a closed port. */
#include <stdio.h>
#include <string.h>

#include "fake_http.h"
#include "http/httpc.h"
#include "testhelp.h"

static void test_parse_url(void) {
    httpc_url u;
    nc_err e;
    CHECK(httpc_parse_url("http://127.0.0.1:8080", &u, &e) == NC_OK, "%s", e.msg);
    CHECK(!strcmp(u.host, "127.0.0.1") && !strcmp(u.port, "8080") && !strcmp(u.prefix, ""), "%s %s %s", u.host, u.port, u.prefix);
    CHECK(httpc_parse_url("http://primary/api/v1/", &u, &e) == NC_OK, "%s", e.msg);
    CHECK(!strcmp(u.host, "primary") && !strcmp(u.port, "80") && !strcmp(u.prefix, "/api/v1"), "%s %s %s", u.host, u.port, u.prefix);
    CHECK(httpc_parse_url("http://[::1]:9000/x", &u, &e) == NC_OK, "%s", e.msg);
    CHECK(!strcmp(u.host, "::1") && !strcmp(u.port, "9000") && !strcmp(u.prefix, "/x"), "%s %s %s", u.host, u.port, u.prefix);
    CHECK(httpc_parse_url("https://primary:443", &u, &e) == NC_EINVAL && strstr(e.msg, "TLS is not supported"), "%s", e.msg);
    CHECK(httpc_parse_url("ftp://primary", &u, &e) == NC_EINVAL && strstr(e.msg, "http://"), "%s", e.msg);
    CHECK(httpc_parse_url("http://:80", &u, &e) == NC_EINVAL && strstr(e.msg, "no host"), "%s", e.msg);
    CHECK(httpc_parse_url("http://h:0", &u, &e) == NC_EINVAL && strstr(e.msg, "port"), "%s", e.msg);
    CHECK(httpc_parse_url("http://h:99999", &u, &e) == NC_EINVAL, "port above 65535");
    CHECK(httpc_parse_url("http://h:80x", &u, &e) == NC_EINVAL, "junk in the port");
    CHECK(httpc_parse_url("http://h/a?b", &u, &e) == NC_EINVAL, "a query in the base URL");
}

/* The canned answers, by the first path segment of the request. */
static void handler(void *ctx, const char *req, char **reply, size_t *len, int *hang_ms) {
    (void)ctx;
    static const char *const answers[][2] = {
        {"GET /ok ", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Thing:  spaced value  \r\nContent-Length: 11\r\n\r\nhello world"},
        {"GET /nm ", "HTTP/1.1 304 Not Modified\r\nETag: \"4\"\r\n\r\n"},
        {"GET /eof ", "HTTP/1.0 200 OK\r\n\r\nread to the end"},
        {"GET /short ", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten.."},
        {"GET /chunked ", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
        {"GET /big ", "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"},
        {"GET /junk ", "SMTP ready\r\n\r\n"},
        {"GET /silent ", ""},
        {"GET /p/x/y?q=1 ", "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno"},
    };
    for (size_t i = 0; i < sizeof answers / sizeof *answers; i++)
        if (!strncmp(req, answers[i][0], strlen(answers[i][0]))) {
            *len = strlen(answers[i][1]);
            *reply = fake_dup(answers[i][1], *len);
            *hang_ms = !strcmp(answers[i][0], "GET /silent ") ? 1500 : 0;
            return;
        }
    *len = 0;
    *reply = NULL;
}

typedef struct collect {
    char buf[64];
    size_t n;
    int calls;
} collect;

static int sink(void *ctx, const char *data, size_t n, nc_err *e) {
    collect *c = ctx;
    if (c->n + n >= sizeof c->buf) return nc_fail(e, NC_EINVAL, "sink full");
    memcpy(c->buf + c->n, data, n);
    c->n += n;
    c->calls++;
    return NC_OK;
}

static void test_against_server(void) {
    fake_server s;
    CHECK(fake_start(&s, handler, NULL) == 0, "fake server");
    char url[64], v[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s.port);
    httpc_url u;
    nc_err e = {0};
    CHECK(httpc_parse_url(url, &u, &e) == NC_OK, "%s", e.msg);
    httpc_opts o = {.timeout = 2, .max_body = 1000, .bearer = "k3y", .if_none_match = "\"3\""};
    httpc_resp r;

    CHECK(httpc_get(&u, "/ok", &o, &r, &e) == NC_OK, "%s", e.msg);
    CHECK(r.status == 200 && r.content_length == 11 && r.body_len == 11 && !strcmp(r.body, "hello world"), "%d %s", r.status, r.body);
    CHECK(httpc_header(&r, "x-thing", v, sizeof v) && !strcmp(v, "spaced value"), "header '%s'", v);
    CHECK(!httpc_header(&r, "X-Missing", v, sizeof v), "absent header");
    CHECK(strstr(s.last_req, "GET /ok HTTP/1.1\r\n") && strstr(s.last_req, "\r\nAuthorization: Bearer k3y\r\n") &&
          strstr(s.last_req, "\r\nIf-None-Match: \"3\"\r\n") && strstr(s.last_req, "\r\nConnection: close\r\n"),
          "request: %s", s.last_req);
    httpc_resp_free(&r);

    collect c = {0};
    httpc_opts os = o;
    os.sink = sink;
    os.sink_ctx = &c;
    CHECK(httpc_get(&u, "/ok", &os, &r, &e) == NC_OK && r.body == NULL, "streamed: %s", e.msg);
    CHECK(c.n == 11 && !memcmp(c.buf, "hello world", 11), "the sink got the body (%zu bytes)", c.n);
    httpc_resp_free(&r);

    CHECK(httpc_get(&u, "/nm", &o, &r, &e) == NC_OK && r.status == 304 && r.body_len == 0, "304: %s", e.msg);
    httpc_resp_free(&r);
    CHECK(httpc_get(&u, "/eof", &o, &r, &e) == NC_OK && r.content_length == -1 && !strcmp(r.body, "read to the end"),
          "no Content-Length: %s", e.msg);
    httpc_resp_free(&r);
    CHECK(httpc_get(&u, "/x/y?q=1", &o, &r, &e) == NC_EIO && strstr(e.msg, "closed the connection"), "no answer: %s", e.msg);
    httpc_resp_free(&r);
    httpc_url up = u;
    snprintf(up.prefix, sizeof up.prefix, "/p");
    CHECK(httpc_get(&up, "/x/y?q=1", &o, &r, &e) == NC_OK && r.status == 404 && !strcmp(r.body, "no"), "prefix: %s", e.msg);
    httpc_resp_free(&r);

    CHECK(httpc_get(&u, "/short", &o, &r, &e) == NC_EIO && strstr(e.msg, "10 of 100"), "truncated: %s", e.msg);
    httpc_resp_free(&r);
    CHECK(httpc_get(&u, "/chunked", &o, &r, &e) == NC_EFORMAT && strstr(e.msg, "chunked"), "chunked: %s", e.msg);
    httpc_resp_free(&r);
    CHECK(httpc_get(&u, "/big", &o, &r, &e) == NC_EFORMAT && strstr(e.msg, "5000"), "over the cap: %s", e.msg);
    httpc_resp_free(&r);
    CHECK(httpc_get(&u, "/junk", &o, &r, &e) == NC_EFORMAT && strstr(e.msg, "not an HTTP response"), "junk: %s", e.msg);
    httpc_resp_free(&r);

    httpc_opts ot = o;
    ot.timeout = 0.3;
    double t0 = nc_now();
    CHECK(httpc_get(&u, "/silent", &ot, &r, &e) == NC_EIO && strstr(e.msg, "no answer within"), "silent: %s", e.msg);
    double took = nc_now() - t0;
    CHECK(took < 1.2, "the timeout cut the wait short (%.2f s)", took);
    httpc_resp_free(&r);
    fake_stop(&s);

    /* the server is gone: its port refuses */
    CHECK(httpc_get(&u, "/ok", &o, &r, &e) == NC_EIO && strstr(e.msg, "cannot connect"), "closed port: %s", e.msg);
    httpc_resp_free(&r);
}

int main(void) {
    RUN(test_parse_url);
    RUN(test_against_server);
    return TEST_REPORT();
}
