/* common.h - error reporting, checked allocation, seeded RNG and clocks shared by all of core/.
 *
 * Error convention (SQLite/faiss style): every fallible function returns an int, NC_OK (0) on
 * success or a negative NC_E* code, and writes a human-readable message into a caller-owned
 * nc_err. The message names the thing that is wrong (file and line, setting, value). */
#ifndef NCLREC_COMMON_H
#define NCLREC_COMMON_H

#include <stddef.h>
#include <stdint.h>

enum {
    NC_OK = 0,
    NC_EINVAL = -1,   /* bad input: data file, flag, value, model file content */
    NC_EIO = -2,      /* the operating system refused: open, read, write, fsync, rename */
    NC_ENOMEM = -3,   /* allocation failed */
    NC_ECANCEL = -4,  /* the caller asked us to stop */
    NC_EFORMAT = -5,  /* a file is not what it claims: truncated, corrupt, wrong version */
    NC_EFAISS = -6,   /* faiss threw an exception; the message holds its text */
    NC_EINTERNAL = -7 /* a bug: an invariant did not hold */
};

typedef struct nc_err {
    int code;
    char msg[1024];
} nc_err;

/* Records code and a printf-style message in e (which may be NULL) and returns code, so a
 * failure site reads `return nc_fail(e, NC_EINVAL, "%s:%zu: ...", path, line);`. */
int nc_fail(nc_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears e so a later check of e->code reads NC_OK. */
void nc_err_clear(nc_err *e);

/* Short name of a code ("invalid input", "i/o error", ...). Static string, never NULL. */
const char *nc_strerror(int code);

/* Allocation that reports failure through e. Caller owns the result and frees it with free().
 * Sizes are checked for multiplication overflow. Return NULL on failure (e is filled). */
void *nc_malloc(size_t n, size_t size, nc_err *e);
void *nc_calloc(size_t n, size_t size, nc_err *e);
/* Aligned (64 bytes) allocation for float arrays used by BLAS and SIMD loops; free() it. */
void *nc_aligned_alloc(size_t n, size_t size, nc_err *e);
char *nc_strdup(const char *s, nc_err *e);
/* Grows the array *p of *cap elements of elem bytes (doubling, from first) until it holds
 * need elements; the new elements are zeroed. The array stays the caller's. On failure
 * (NC_ENOMEM, e filled naming what) *p and *cap are unchanged. */
int nc_reserve(void **p, size_t *cap, size_t need, size_t elem, size_t first, const char *what, nc_err *e);

/* A small, fast, seedable generator (splitmix64 seeding + xoshiro256**). Value type: copy it
 * into each thread that needs an independent stream (nc_rng_split). No global state. */
typedef struct nc_rng {
    uint64_t s[4];
} nc_rng;

void nc_rng_seed(nc_rng *r, uint64_t seed);
uint64_t nc_rng_next(nc_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t nc_rng_below(nc_rng *r, uint64_t n);
/* Uniform float in [0, 1). */
double nc_rng_uniform(nc_rng *r);
/* A new generator derived from r and a stream number, independent of r's future output. */
nc_rng nc_rng_split(const nc_rng *r, uint64_t stream);

/* Monotonic seconds (CLOCK_MONOTONIC) and wall-clock seconds since the epoch. */
double nc_now(void);
double nc_wall_time(void);
/* Seconds since the epoch t as RFC 3339 in UTC to the second ("2026-12-07T05:49:33Z") into
 * buf (cap >= 21); "" when t cannot be represented. */
void nc_format_utc(int64_t t, char *buf, size_t cap);

/* Sets the number of threads used by OpenMP loops in core/, OpenBLAS and faiss together, so
 * one --threads setting drives all three without oversubscription. n <= 0 means all cores. */
void nc_set_threads(int n);
int nc_get_threads(void);

#endif
