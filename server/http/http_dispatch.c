/* http_dispatch.c - the socketless path (http_dispatch in http.h): the same request steps as
 * the daemon's, for tests and fuzzing. */
#include "http_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        if (!in[i].name || !in[i].value || http_name_equal(in[i].name, MHD_HTTP_HEADER_CONTENT_LENGTH)) continue;
        if (http_name_equal(in[i].name, MHD_HTTP_HEADER_TRANSFER_ENCODING)) chunked = 1;
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
    req_state st = {.target_nul = http_target_has_nul(url)};
    st.target_len = strlen(url);
    http_request_begin(&k, &st, &v, path, method);
    for (size_t at = 0; at < body_len; at += DISPATCH_PIECE) /* the daemon would close past the bound */
        if (!http_request_body(&k, &st, body + at, body_len - at < DISPATCH_PIECE ? body_len - at : DISPATCH_PIECE)) break;
    http_request_finish(&k, &st, &v, path, method, rs);
    if (rs->later_) http_dispatch_later(rs);
    http_request_free(&st);
    free(path), free(args), free(hdrs);
}
