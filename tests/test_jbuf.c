/* test_jbuf.c - the hand-written JSON of server/http/jbuf.h is the text jansson prints for the same
 * values (http_json's flags: compact, reals at precision 8): strings with quotes, backslashes,
 * control characters and UTF-8; reals from floats, integers, tiny and huge values, negative
 * zero; null for NaN and infinities; 64-bit integers; and a whole /recommend-shaped answer. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "http/jbuf.h"
#include "testhelp.h"

#define FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8) | JSON_ENCODE_ANY)

/* jansson's text for v (taken over), for comparison; the caller frees it. */
static char *jansson_text(json_t *v) {
    char *s = json_dumps(v, FLAGS);
    json_decref(v);
    return s;
}

/* jbuf's text for one value (the caller frees it): kind 's' a string (v: const char *), 'r' a
 * real (double *), 'f' a float (float *), 'i' an integer (int64_t *). */
static char *jbuf_text(char kind, const void *v) {
    jbuf b;
    size_t n;
    jbuf_init(&b, 8); /* small on purpose: growth is exercised */
    if (kind == 's') jbuf_str(&b, v);
    else if (kind == 'r') jbuf_real(&b, *(const double *)v);
    else if (kind == 'f') jbuf_float(&b, *(const float *)v);
    else jbuf_int(&b, *(const int64_t *)v);
    return jbuf_take(&b, &n);
}

static void test_strings(void) {
    static const char *fixed[] = {"", "plain", "quote\"in", "back\\slash", "tab\tnew\nline\r", "\x01\x02\x1f\x7f",
                                  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xb5", "slash/ok", "\b\f"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        char *want = jansson_text(json_string(fixed[i])), *got = jbuf_text('s', fixed[i]);
        CHECK(want && got && !strcmp(want, got), "string %zu: jansson %s, jbuf %s", i, want, got);
        free(want);
        free(got);
    }
    nc_rng r;
    nc_rng_seed(&r, 3);
    int bad = 0;
    for (int t = 0; t < 2000; t++) { /* random ASCII with control characters */
        char s[40];
        size_t n = nc_rng_next(&r) % 39;
        for (size_t i = 0; i < n; i++) s[i] = (char)(1 + nc_rng_next(&r) % 127);
        s[n] = '\0';
        char *want = jansson_text(json_string(s)), *got = jbuf_text('s', s);
        bad += !want || !got || strcmp(want, got);
        free(want);
        free(got);
    }
    CHECK(bad == 0, "%d of 2000 random strings differ", bad);
}

static void test_reals(void) {
    static const double fixed[] = {0.0, -0.0, 1.0, 3.0, -7.0, 0.5, 0.1, 1e5, 12345678.0, 123456789.0, 1e-7,
                                   -2.25e-10, 1e300, -1e-300, 4.9406564584124654e-324, 1.7976931348623157e308,
                                   (double)3.14159274f};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        char *want = jansson_text(json_real(fixed[i])), *got = jbuf_text('r', &fixed[i]);
        CHECK(want && got && !strcmp(want, got), "real %.17g: jansson %s, jbuf %s", fixed[i], want, got);
        free(want);
        free(got);
    }
    nc_rng r;
    nc_rng_seed(&r, 4);
    int bad = 0;
    for (int t = 0; t < 5000; t++) { /* floats of every magnitude, as scores are */
        uint32_t bits = (uint32_t)nc_rng_next(&r);
        float f;
        memcpy(&f, &bits, sizeof f);
        if (!isfinite(f)) continue;
        char *want = jansson_text(json_real((double)f)), *got = jbuf_text('r', &(double){f});
        bad += !want || !got || strcmp(want, got);
        if (want && got && strcmp(want, got) && bad < 5) fprintf(stderr, "  %s vs %s\n", want, got);
        free(want);
        free(got);
    }
    CHECK(bad == 0, "%d random floats print differently", bad);
    char *s = jbuf_text('r', &(double){NAN});
    CHECK(s && !strcmp(s, "null"), "NaN -> %s", s);
    free(s);
    s = jbuf_text('r', &(double){-INFINITY});
    CHECK(s && !strcmp(s, "null"), "-inf -> %s", s);
    free(s);
}

/* jbuf_int gives jansson's text: the extremes, small values, powers of ten and their
 * neighbours, random 64-bit values. */
static void test_integers(void) {
    int64_t fixed[] = {0, 1, -1, 9, 10, -10, 99, 100, INT64_MAX, INT64_MIN, INT64_MIN + 1, 4294967295, -4294967296};
    int bad = 0, n = 0;
    nc_rng r;
    nc_rng_seed(&r, 6);
    for (int t = 0; t < 20000 + 18 * 3 + 13; t++, n++) {
        int64_t x;
        if (t < 13) x = fixed[t];
        else if (t < 13 + 18 * 3) { /* 10^k - 1, 10^k, -10^k for k = 1..18 */
            int64_t p = 1;
            for (int k = 0; k <= (t - 13) / 3; k++) p *= 10;
            x = (t - 13) % 3 == 0 ? p - 1 : (t - 13) % 3 == 1 ? p : -p;
        } else {
            x = (int64_t)((uint64_t)nc_rng_next(&r) << 32 | (uint32_t)nc_rng_next(&r)) >> (nc_rng_next(&r) % 63);
        }
        char *want = jansson_text(json_integer((json_int_t)x)), *got = jbuf_text('i', &x);
        bad += !want || !got || strcmp(want, got);
        if (want && got && strcmp(want, got) && bad < 5) fprintf(stderr, "  %s vs %s\n", want, got);
        free(want);
        free(got);
    }
    CHECK(bad == 0, "%d of %d integers print differently", bad, n);
}

/* Counts floats whose fast text differs from jansson's for the same value (printing the
 * first few). */
static int float_mismatch(float f, int *shown) {
    char *want = jansson_text(json_real((double)f)), *got = jbuf_text('f', &f);
    int bad = !want || !got || strcmp(want, got);
    if (bad && (*shown)++ < 5) fprintf(stderr, "  %.9g: jansson %s, jbuf_float %s\n", (double)f, want, got);
    free(want);
    free(got);
    return bad;
}

/* jbuf_float (no printf in its range) gives jansson's text: random floats across and beyond
 * its range, a uniform range like the scores', and the neighbours of every power of ten. */
static void test_float_fast_path(void) {
    nc_rng r;
    nc_rng_seed(&r, 5);
    int bad = 0, shown = 0, n = 0;
    for (int t = 0; t < 200000; t++, n++) { /* exponents 2^-40 .. 2^32, every mantissa, both signs */
        uint32_t bits = (uint32_t)((87 + nc_rng_next(&r) % 73) << 23) | (uint32_t)(nc_rng_next(&r) & 0x807fffffu);
        float f;
        memcpy(&f, &bits, sizeof f);
        bad += float_mismatch(f, &shown);
    }
    for (int t = 0; t < 100000; t++, n++)
        bad += float_mismatch((float)((double)(nc_rng_next(&r) % 2000001) / 10000.0 - 100.0), &shown);
    for (int k = -11; k <= 9; k++) { /* around 10^k, where the digit count changes */
        float p = (float)pow(10.0, k), up = p, down = p;
        for (int i = 0; i < 200; i++, n += 2) {
            bad += float_mismatch(up, &shown) + float_mismatch(-down, &shown);
            up = nextafterf(up, INFINITY);
            down = nextafterf(down, 0.0f);
        }
    }
    static const float fixed[] = {0.0f, -0.0f, 1.0f, 100.0f, 12345678.0f, 0.5f, 1e-5f, 9.9999999e-5f, 1e-10f, 99999999.0f,
                                  1e8f, 3.4028235e38f, 1.4e-45f};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++, n++) bad += float_mismatch(fixed[i], &shown);
    CHECK(bad == 0, "%d of %d floats print differently", bad, n);
    char *s = jbuf_text('f', &(float){NAN});
    CHECK(s && !strcmp(s, "null"), "NaN -> %s", s);
    free(s);
}

/* The shape /recommend writes, next to the jansson tree it replaced. */
static void test_answer_shape(void) {
    jbuf b;
    size_t n;
    jbuf_init(&b, 16);
    jbuf_lit(&b, "{\"user\":");
    jbuf_str(&b, "u\"1");
    jbuf_lit(&b, ",\"items\":[{\"item\":");
    jbuf_str(&b, "i\\9");
    jbuf_lit(&b, ",\"score\":");
    jbuf_real(&b, 0.25);
    jbuf_lit(&b, "}],\"source\":\"ncl\"}");
    char *got = jbuf_take(&b, &n);
    char *want = jansson_text(json_pack("{s:s, s:[{s:s, s:f}], s:s}", "user", "u\"1", "items", "item", "i\\9", "score",
                                        0.25, "source", "ncl"));
    CHECK(got && want && !strcmp(got, want) && n == strlen(want), "jbuf %s, jansson %s", got, want);
    free(got);
    free(want);
    CHECK(b.p == NULL && b.len == 0, "take leaves the buffer empty");
    jbuf_free(&b);
}

int main(void) {
    RUN(test_strings);
    RUN(test_reals);
    RUN(test_integers);
    RUN(test_float_fast_path);
    RUN(test_answer_shape);
    return TEST_REPORT();
}
