/* jbuf.c - see jbuf.h. */
#include "jbuf.h"

#include <math.h>
#include <stdint.h>
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

/* round(|x| / 10^p) for p in -17..0, halves to even, exactly: |x| = m 2^E with m < 2^24, so
 * m 10^-p < 2^81 and the shift by E (-57 <= E <= 4 in jbuf_float's range) fits 128 bits. */
static uint64_t scaled_digits(uint32_t m, int E, int p) {
    unsigned __int128 v = m;
    for (int i = 0; i < -p; i++) v *= 10;
    if (E >= 0) return (uint64_t)(v << E);
    int s = -E;
    unsigned __int128 q = v >> s, r = v & (((unsigned __int128)1 << s) - 1), half = (unsigned __int128)1 << (s - 1);
    if (r > half || (r == half && (q & 1))) q++;
    return (uint64_t)q;
}

void jbuf_float(jbuf *b, float x) {
    float ax = fabsf(x);
    if (!(ax >= 1e-10f && ax < 1e8f)) { /* zero, NaN, inf, tiny, huge: the general path */
        jbuf_real(b, (double)x);
        return;
    }
    uint32_t bits;
    memcpy(&bits, &ax, sizeof bits);
    int be = (int)(bits >> 23);
    uint32_t m = bits & 0x7fffff;
    if (be) m |= 0x800000; /* normal; a subnormal (be = 0) is below 1e-10 and never here */
    int E = (be ? be : 1) - 150;
    int e10 = (int)floor(log10((double)ax));
    uint64_t n = 0;
    for (int tries = 0; tries < 4; tries++) { /* fix an estimate off by one near a power of 10 */
        n = scaled_digits(m, E, e10 - 7);
        if (n >= 100000000u) e10++;
        else if (n < 10000000u) e10--;
        else break;
    }
    if (n < 10000000u || n >= 100000000u) { /* cannot happen; stay exact anyway */
        jbuf_real(b, (double)x);
        return;
    }
    char d[8], out[32];
    for (int i = 7; i >= 0; i--, n /= 10) d[i] = (char)('0' + n % 10);
    int nd = 8; /* %g drops trailing zeros */
    while (nd > 1 && d[nd - 1] == '0') nd--;
    size_t o = 0;
    if (x < 0) out[o++] = '-';
    if (e10 < -4) { /* %g's exponent form, then jansson's: no '+', no leading zeros */
        out[o++] = d[0];
        if (nd > 1) out[o++] = '.';
        for (int i = 1; i < nd; i++) out[o++] = d[i];
        o += (size_t)snprintf(out + o, sizeof out - o, "e-%d", -e10);
    } else if (e10 >= 0) {
        for (int i = 0; i <= e10; i++) out[o++] = d[i]; /* e10 <= 7: within the 8 digits */
        out[o++] = '.';
        if (nd > e10 + 1)
            for (int i = e10 + 1; i < nd; i++) out[o++] = d[i];
        else
            out[o++] = '0'; /* an integral value: jansson appends ".0" */
    } else {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -e10 - 1; i++) out[o++] = '0';
        for (int i = 0; i < nd; i++) out[o++] = d[i];
    }
    jbuf_raw(b, out, o);
}

void jbuf_int(jbuf *b, int64_t x) {
    char t[24];
    size_t n = 0;
    uint64_t m = x < 0 ? 0 - (uint64_t)x : (uint64_t)x; /* INT64_MIN too */
    do t[sizeof t - ++n] = (char)('0' + m % 10);
    while ((m /= 10) != 0);
    if (x < 0) t[sizeof t - ++n] = '-';
    jbuf_raw(b, t + sizeof t - n, n);
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
