/* jbuf.c - see jbuf.h. */
#include "jbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jbuf_init(jbuf *b, size_t hint) {
    b->len = 0;
    b->failed = 0;
    b->cap = hint < 64 ? 64 : hint;
    b->p = malloc(b->cap);
    if (!b->p) b->failed = 1;
}

/* Room for n more bytes and a NUL; 0 when there is none. */
static int grow(jbuf *b, size_t n) {
    if (b->failed) return 0;
    if (b->len + n + 1 <= b->cap) return 1;
    size_t cap = b->cap * 2;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

void jbuf_raw(jbuf *b, const char *s, size_t n) {
    if (!grow(b, n)) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void jbuf_str(jbuf *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF"; /* jansson writes \u001F */
    size_t n = strlen(s);
    if (!grow(b, 6 * n + 2)) return; /* the worst case: every byte as \u00XX */
    char *o = b->p + b->len;
    *o++ = '"';
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') {
            *o++ = '\\';
            *o++ = (char)*c;
        } else if (*c >= 0x20) {
            *o++ = (char)*c;
        } else {
            const char *short_esc = *c == '\b' ? "b" : *c == '\f' ? "f" : *c == '\n' ? "n" : *c == '\r' ? "r" : *c == '\t' ? "t" : NULL;
            *o++ = '\\';
            if (short_esc) {
                *o++ = *short_esc;
            } else {
                memcpy(o, "u00", 3);
                o[3] = hex[*c >> 4];
                o[4] = hex[*c & 15];
                o += 5;
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
}

void jbuf_real(jbuf *b, double x) {
    if (!isfinite(x)) {
        jbuf_lit(b, "null");
        return;
    }
    char t[40], out[40];
    snprintf(t, sizeof t, "%.8g", x);
    size_t n = 0;
    for (const char *c = t; *c; c++) { /* jansson drops an exponent's '+' and leading zeros */
        out[n++] = *c;
        if (*c != 'e') continue;
        if (c[1] == '-') out[n++] = *++c;
        else if (c[1] == '+') c++;
        while (c[1] == '0' && c[2]) c++;
    }
    if (!memchr(out, '.', n) && !memchr(out, 'e', n)) {
        out[n++] = '.';
        out[n++] = '0';
    }
    jbuf_raw(b, out, n);
}

char *jbuf_take(jbuf *b, size_t *len) {
    char *p = b->failed ? NULL : b->p;
    if (p) p[b->len] = '\0';
    else free(b->p);
    *len = p ? b->len : 0;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void jbuf_free(jbuf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
