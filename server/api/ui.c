/* ui.c - see ui.h. The files are embedded as spec.c embeds openapi.yaml (.incbin relative to
 * the top of the tree, where make runs). */
#include "ui.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define UI_EMBED(sym, file)                                                                   \
    __asm__(".section .rodata\n.global " #sym "_start\n.global " #sym "_end\n.balign 16\n" #sym \
            "_start:\n.incbin \"" file "\"\n" #sym "_end:\n.byte 0\n.previous\n");           \
    extern const char sym##_start[], sym##_end[];

UI_EMBED(nclrec_ui_html, "server/api/ui/index.html")
UI_EMBED(nclrec_ui_js, "server/api/ui/app.js")
UI_EMBED(nclrec_ui_css, "server/api/ui/style.css")

typedef struct ui_file {
    const char *name, *ctype, *start, *end;
} ui_file;

static const ui_file ui_files[] = {
    {"index.html", "text/html; charset=utf-8", nclrec_ui_html_start, nclrec_ui_html_end},
    {"app.js", "text/javascript; charset=utf-8", nclrec_ui_js_start, nclrec_ui_js_end},
    {"style.css", "text/css; charset=utf-8", nclrec_ui_css_start, nclrec_ui_css_end},
};

static void send_file(const ui_file *f, http_resp *rs) {
    http_text(rs, 200, f->ctype, f->start, (size_t)(f->end - f->start));
    http_add_header(rs, "Cache-Control", "no-cache");
}

void ui_h_index(void *ap, const http_req *rq, http_resp *rs) {
    (void)ap;
    (void)rq;
    send_file(&ui_files[0], rs);
}

void ui_h_file(void *ap, const http_req *rq, http_resp *rs) {
    (void)ap;
    for (size_t i = 0; i < sizeof ui_files / sizeof ui_files[0]; i++)
        if (!strcmp(rq->param, ui_files[i].name)) {
            send_file(&ui_files[i], rs);
            return;
        }
    http_problem(rs, 404, "the page has no file '%.64s' (it has index.html, app.js, style.css)", rq->param);
}

/* name{a="x",b="y"} value: the labels into o; returns the text after the closing brace, or
 * NULL when the line is not of that form. Our own renderer writes no escapes in labels. */
static const char *parse_labels(const char *p, const char *end, json_t *o) {
    while (p < end && *p != '}') {
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq || eq + 1 >= end || eq[1] != '"') return NULL;
        const char *q = memchr(eq + 2, '"', (size_t)(end - eq - 2));
        if (!q) return NULL;
        char key[64];
        size_t kl = (size_t)(eq - p);
        if (kl == 0 || kl >= sizeof key) return NULL;
        memcpy(key, p, kl);
        key[kl] = '\0';
        json_object_set_new(o, key, json_stringn(eq + 2, (size_t)(q - eq - 2)));
        p = q + 1;
        if (p < end && *p == ',') p++;
    }
    return p < end ? p + 1 : NULL;
}

/* One sample line into arr; lines that do not parse are skipped (our renderer writes none). */
static void parse_sample(const char *p, const char *end, json_t *arr) {
    const char *n = p;
    while (p < end && *p != '{' && *p != ' ') p++;
    json_t *labels = json_object();
    if (!labels || p == n || p >= end) {
        json_decref(labels);
        return;
    }
    size_t nlen = (size_t)(p - n);
    if (*p == '{' && !(p = parse_labels(p + 1, end, labels))) {
        json_decref(labels);
        return;
    }
    char num[64];
    size_t vlen = (size_t)(end - p);
    if (vlen >= sizeof num) vlen = sizeof num - 1;
    memcpy(num, p, vlen);
    num[vlen] = '\0';
    char *stop;
    double v = strtod(num, &stop);
    if (stop == num) {
        json_decref(labels);
        return;
    }
    json_array_append_new(arr, json_pack("{s:s%, s:o, s:f}", "name", n, nlen, "labels", labels, "value", v));
}

void ui_metrics_json(const char *text, size_t len, http_resp *rs) {
    json_t *arr = json_array();
    const char *p = text, *end = text + len;
    while (arr && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le > p && *p != '#') parse_sample(p, le, arr);
        p = le + 1;
    }
    if (!arr) {
        http_problem(rs, 500, "out of memory for the metrics");
        return;
    }
    http_json(rs, 200, json_pack("{s:o}", "samples", arr));
}
