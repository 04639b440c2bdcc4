/* jbuf.h - an append buffer for writing a small JSON text by hand.
 *
 * Why: on /recommend, building a jansson tree (one allocation per value) and printing it cost
 * more than the ranking behind the answer. The output is the same text http_json would send:
 * compact, strings escaped as jansson escapes them, reals printed as with
 * JSON_REAL_PRECISION(8).
 *
 * Ownership: the buffer is the caller's struct; its text is malloc'd. jbuf_take hands the
 * text (NUL-terminated) to the caller, jbuf_free discards it. After an append fails for lack
 * of memory every later append does nothing and jbuf_take returns NULL.
 * Threading: a jbuf belongs to one thread at a time. */
#ifndef NCLREC_JBUF_H
#define NCLREC_JBUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct jbuf {
    char *p;
    size_t len, cap;
    int failed;
} jbuf;

/* An empty buffer with room for about hint bytes. */
void jbuf_init(jbuf *b, size_t hint);
/* Appends n raw bytes (already valid JSON). */
void jbuf_raw(jbuf *b, const char *s, size_t n);
#define jbuf_lit(b, literal) jbuf_raw((b), (literal), sizeof(literal) - 1)
/* Appends s (UTF-8, NUL-terminated) as a JSON string: quoted, with '"', '\\' and control
 * characters escaped. */
void jbuf_str(jbuf *b, const char *s);
/* Appends x as a JSON number the way jansson prints a real at precision 8 (always with a '.'
 * or an exponent); null when x is not finite (JSON has no NaN or infinity). */
void jbuf_real(jbuf *b, double x);
/* jbuf_real((double)x), the same text, computed without printf for the scores' usual range
 * (1e-10 <= |x| < 1e8, by exact integer arithmetic on the float's bits); other values go
 * through jbuf_real. */
void jbuf_float(jbuf *b, float x);
/* Appends x as a JSON integer (jansson's text for json_integer(x)). */
void jbuf_int(jbuf *b, int64_t x);
/* The text (the caller frees it) and its length; NULL when an append failed. The buffer is
 * left empty. */
char *jbuf_take(jbuf *b, size_t *len);
void jbuf_free(jbuf *b);

#endif
