/* testhelp.h - the tiny unit-test harness every tests/test_*.c binary uses (after redis's).
 *
 * A test is a function `static void test_name(void)`; register it with RUN(test_name) in main.
 * CHECK(cond, fmt, ...) records a failure with file:line and a message but keeps going, so one
 * run shows every broken assertion. A test passes when none of its CHECKs failed. main ends with
 * `return TEST_REPORT();`, which prints `<binary>: P passed, F failed` and exits non-zero on any
 * failure; tests/run.sh adds those lines up into the final `N passed, N failed`. */
#ifndef NCLREC_TESTHELP_H
#define NCLREC_TESTHELP_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int th_passed, th_failed, th_cur_failed;
static const char *th_cur_name;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            th_cur_failed++;                                                    \
            fprintf(stderr, "  FAIL %s (%s:%d): %s: ", th_cur_name, __FILE__,   \
                    __LINE__, #cond);                                           \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

/* |a-b| <= atol + rtol*|b| */
#define CHECK_CLOSE(a, b, atol, rtol)                                           \
    do {                                                                        \
        double th_a = (double)(a), th_b = (double)(b);                          \
        CHECK(fabs(th_a - th_b) <= (atol) + (rtol)*fabs(th_b),                  \
              "%s = %.10g, expected %s = %.10g", #a, th_a, #b, th_b);           \
    } while (0)

#define RUN(fn)                                                                 \
    do {                                                                        \
        th_cur_name = #fn;                                                      \
        th_cur_failed = 0;                                                      \
        fn();                                                                   \
        if (th_cur_failed) {                                                    \
            th_failed++;                                                        \
            fprintf(stderr, "not ok %s\n", #fn);                                \
        } else {                                                                \
            th_passed++;                                                        \
            printf("ok %s\n", #fn);                                             \
        }                                                                       \
        fflush(stdout);                                                         \
    } while (0)

#define TEST_REPORT()                                                           \
    (printf("%s: %d passed, %d failed\n", __FILE__, th_passed, th_failed),      \
     th_failed ? 1 : 0)

#endif
