/* common.c - see common.h. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <errno.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* OpenBLAS's own thread setter; declared here so core/ needs no cblas.h variant quirks. */
void openblas_set_num_threads(int num_threads);

int nc_fail(nc_err *e, int code, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->code = code;
    }
    return code;
}

void nc_err_clear(nc_err *e) {
    if (e) {
        e->code = NC_OK;
        e->msg[0] = '\0';
    }
}

const char *nc_strerror(int code) {
    switch (code) {
    case NC_OK: return "ok";
    case NC_EINVAL: return "invalid input";
    case NC_EIO: return "i/o error";
    case NC_ENOMEM: return "out of memory";
    case NC_ECANCEL: return "cancelled";
    case NC_EFORMAT: return "bad file format";
    case NC_EFAISS: return "faiss error";
    case NC_EINTERNAL: return "internal error";
    default: return "unknown error";
    }
}

/* n * size without silent wrap-around; 0 on overflow so the caller reports ENOMEM. */
static size_t checked_mul(size_t n, size_t size) {
    if (size && n > (size_t)-1 / size) return 0;
    return n * size;
}

void *nc_malloc(size_t n, size_t size, nc_err *e) {
    size_t bytes = checked_mul(n, size);
    void *p = bytes ? malloc(bytes) : malloc(1);
    if (!p || (!bytes && n && size))
        nc_fail(e, NC_ENOMEM, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *nc_calloc(size_t n, size_t size, nc_err *e) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) nc_fail(e, NC_ENOMEM, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *nc_aligned_alloc(size_t n, size_t size, nc_err *e) {
    size_t bytes = checked_mul(n, size);
    if (n && size && !bytes) {
        nc_fail(e, NC_ENOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) {
        nc_fail(e, NC_ENOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    return p;
}

char *nc_strdup(const char *s, nc_err *e) {
    size_t n = strlen(s) + 1;
    char *p = nc_malloc(n, 1, e);
    if (p) memcpy(p, s, n);
    return p;
}

int nc_reserve(void **p, size_t *cap, size_t need, size_t elem, size_t first, const char *what, nc_err *e) {
    if (need <= *cap) return NC_OK;
    size_t n = *cap ? *cap : (first ? first : 1);
    while (n < need) n *= 2;
    if (n > SIZE_MAX / elem) return nc_fail(e, NC_ENOMEM, "out of memory for %zu %s", n, what);
    char *q = realloc(*p, n * elem);
    if (!q) return nc_fail(e, NC_ENOMEM, "out of memory for %zu %s", n, what);
    memset(q + *cap * elem, 0, (n - *cap) * elem);
    *p = q;
    *cap = n;
    return NC_OK;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void nc_rng_seed(nc_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t nc_rng_next(nc_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t nc_rng_below(nc_rng *r, uint64_t n) {
    /* Lemire's rejection: unbiased and almost always one multiply. */
    uint64_t x = nc_rng_next(r);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = -n % n;
        while (l < t) {
            x = nc_rng_next(r);
            m = (__uint128_t)x * n;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double nc_rng_uniform(nc_rng *r) { return (double)(nc_rng_next(r) >> 11) * 0x1.0p-53; }

nc_rng nc_rng_split(const nc_rng *r, uint64_t stream) {
    uint64_t x = r->s[0] ^ rotl(r->s[1], 13) ^ rotl(r->s[2], 29) ^ rotl(r->s[3], 41);
    x ^= splitmix64(&stream);
    nc_rng out;
    nc_rng_seed(&out, x);
    return out;
}

double nc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

double nc_wall_time(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void nc_format_utc(int64_t t, char *buf, size_t cap) {
    time_t tt = (time_t)t;
    struct tm tm;
    if (!cap) return;
    buf[0] = '\0';
    if (gmtime_r(&tt, &tm)) strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void nc_set_threads(int n) {
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    omp_set_num_threads(n);       /* core/ loops and faiss (both OpenMP) */
    openblas_set_num_threads(n);  /* sgemm */
}

int nc_get_threads(void) { return omp_get_max_threads(); }
