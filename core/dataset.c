/* dataset.c - see dataset.h.
 *
 * Design: the id map is open addressing with linear probing over a power-of-two table of
 * internal ids (load factor <= 1/2), hashing with FNV-1a plus a final mix so sequential numeric
 * ids spread well. The loader reads the file in 1 MiB chunks into one growing buffer, parses
 * every complete line in place and carries the unfinished tail over to the next read, so it
 * allocates only when an id is new or the output arrays grow. */
#include "dataset.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ==== id maps ========================================================================== */

/* FNV-1a, then a murmur-style finaliser: FNV's low bits alone cluster on "1", "2", "3"... */
static uint64_t hash_id(const char *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* True when the owned id equals s[0..len) exactly; a NUL inside s never matches. */
static int id_equal(const char *owned, const char *s, size_t len) {
    size_t i = 0;
    while (i < len && owned[i] != '\0' && owned[i] == s[i]) i++;
    return i == len && owned[len] == '\0';
}

void nc_idmap_init(nc_idmap *m) { memset(m, 0, sizeof *m); }

void nc_idmap_free(nc_idmap *m) {
    for (size_t i = 0; i < m->n; i++) free(m->ids[i]);
    free(m->ids);
    free(m->slots);
    nc_idmap_init(m);
}

/* Slot index holding s, or the empty slot where it would go. Table must be non-empty. */
static size_t idmap_probe(const nc_idmap *m, const char *s, size_t len) {
    size_t mask = m->nslots - 1, i = (size_t)hash_id(s, len) & mask;
    while (m->slots[i] >= 0 && !id_equal(m->ids[m->slots[i]], s, len)) i = (i + 1) & mask;
    return i;
}

/* Replaces the table by one of nslots slots and re-inserts ids 0..n-1: used to grow, and to
 * forget ids after a failed load. */
static int idmap_rehash(nc_idmap *m, size_t nslots, nc_err *e) {
    int32_t *slots = nc_malloc(nslots, sizeof *slots, e);
    if (!slots) return NC_ENOMEM;
    for (size_t i = 0; i < nslots; i++) slots[i] = -1;
    free(m->slots);
    m->slots = slots;
    m->nslots = nslots;
    for (size_t id = 0; id < m->n; id++) {
        size_t len = strlen(m->ids[id]);
        m->slots[idmap_probe(m, m->ids[id], len)] = (int32_t)id;
    }
    return NC_OK;
}

/* Keeps the table at most half full and ids[] large enough for one more id. */
static int idmap_make_room(nc_idmap *m, nc_err *e) {
    if (m->n >= (size_t)INT32_MAX)
        return nc_fail(e, NC_EINVAL, "too many distinct ids (more than %d)", INT32_MAX);
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        char **ids = realloc(m->ids, cap * sizeof *ids);
        if (!ids) return nc_fail(e, NC_ENOMEM, "out of memory growing an id map to %zu ids", cap);
        m->ids = ids;
        m->cap = cap;
    }
    if (2 * (m->n + 1) > m->nslots) {
        int rc = idmap_rehash(m, m->nslots ? m->nslots * 2 : 128, e);
        if (rc) return rc;
    }
    return NC_OK;
}

int nc_idmap_intern(nc_idmap *m, const char *s, size_t len, int32_t *out, nc_err *e) {
    if (len == 0) return nc_fail(e, NC_EINVAL, "empty id");
    if (len > NC_MAX_ID_LEN)
        return nc_fail(e, NC_EINVAL, "id of %zu bytes is longer than %d", len, NC_MAX_ID_LEN);
    if (memchr(s, '\0', len)) return nc_fail(e, NC_EINVAL, "id holds a NUL byte");
    if (m->nslots) {
        size_t i = idmap_probe(m, s, len);
        if (m->slots[i] >= 0) {
            *out = m->slots[i];
            return NC_OK;
        }
    }
    int rc = idmap_make_room(m, e);
    if (rc) return rc;
    char *copy = nc_malloc(len + 1, 1, e);
    if (!copy) return NC_ENOMEM;
    memcpy(copy, s, len);
    copy[len] = '\0';
    int32_t id = (int32_t)m->n;
    m->ids[m->n++] = copy;
    m->slots[idmap_probe(m, s, len)] = id;
    *out = id;
    return NC_OK;
}

int32_t nc_idmap_find(const nc_idmap *m, const char *s, size_t len) {
    if (!m->nslots || len == 0 || len > NC_MAX_ID_LEN) return -1;
    return m->slots[idmap_probe(m, s, len)];
}

/* Forgets ids n0..n-1 so a failed load leaves the map as it found it. */
static void idmap_truncate(nc_idmap *m, size_t n0) {
    if (m->n <= n0) return;
    for (size_t i = n0; i < m->n; i++) free(m->ids[i]);
    m->n = n0;
    for (size_t i = 0; i < m->nslots; i++) m->slots[i] = -1;
    for (size_t id = 0; id < m->n; id++)
        m->slots[idmap_probe(m, m->ids[id], strlen(m->ids[id]))] = (int32_t)id;
}

int nc_idmap_copy(nc_idmap *dst, const nc_idmap *src, nc_err *e) {
    if (dst == src) return NC_OK;
    nc_idmap_free(dst);
    for (size_t i = 0; i < src->n; i++) {
        int32_t id;
        int rc = nc_idmap_intern(dst, src->ids[i], strlen(src->ids[i]), &id, e);
        if (rc) {
            nc_idmap_free(dst);
            return rc;
        }
    }
    return NC_OK;
}

/* ==== interaction arrays =============================================================== */

void nc_inter_init(nc_interactions *x) { memset(x, 0, sizeof *x); }

void nc_inter_free(nc_interactions *x) {
    free(x->user);
    free(x->item);
    free(x->ts);
    free(x->w);
    nc_inter_init(x);
}

int nc_inter_reserve(nc_interactions *x, size_t cap, nc_err *e) {
    if (cap <= x->cap && x->user) return NC_OK;
    if (cap == 0) cap = 1;
    if (cap > SIZE_MAX / sizeof(int64_t))
        return nc_fail(e, NC_ENOMEM, "cannot hold %zu interactions", cap);
    int32_t *u = realloc(x->user, cap * sizeof *u);
    if (u) x->user = u;
    int32_t *i = realloc(x->item, cap * sizeof *i);
    if (i) x->item = i;
    int64_t *t = realloc(x->ts, cap * sizeof *t);
    if (t) x->ts = t;
    uint8_t *w = x->w ? realloc(x->w, cap) : NULL;
    if (w) x->w = w;
    if (!u || !i || !t || (x->w && !w))
        return nc_fail(e, NC_ENOMEM, "out of memory growing interactions to %zu rows", cap);
    x->cap = cap;
    return NC_OK;
}

int nc_inter_push(nc_interactions *x, int32_t user, int32_t item, int64_t ts, nc_err *e) {
    if (x->n == x->cap) {
        int rc = nc_inter_reserve(x, x->cap ? x->cap * 2 : 1024, e);
        if (rc) return rc;
    }
    x->user[x->n] = user;
    x->item[x->n] = item;
    x->ts[x->n] = ts;
    if (x->w) x->w[x->n] = 1;
    x->n++;
    return NC_OK;
}

/* Gives x a weight array of its capacity, every row weighing 1: the first weight other than 1
 * needs it, and until then the rows carry none. */
static int inter_alloc_w(nc_interactions *x, nc_err *e) {
    if (x->w) return NC_OK;
    x->w = nc_malloc(x->cap ? x->cap : 1, 1, e);
    if (!x->w) return NC_ENOMEM;
    memset(x->w, 1, x->cap ? x->cap : 1);
    return NC_OK;
}

int nc_inter_push_w(nc_interactions *x, int32_t user, int32_t item, int64_t ts, uint8_t w,
                    nc_err *e) {
    if (w > NC_FEEDBACK_MAX_WEIGHT)
        return nc_fail(e, NC_EINVAL, "weight %u is above %d", (unsigned)w, NC_FEEDBACK_MAX_WEIGHT);
    int rc = nc_inter_push(x, user, item, ts, e);
    if (!rc && w != 1) rc = inter_alloc_w(x, e);
    if (rc) return rc;
    if (x->w) x->w[x->n - 1] = w;
    return NC_OK;
}

int nc_inter_copy(nc_interactions *dst, const nc_interactions *src, nc_err *e) {
    if (dst == src) return NC_OK;
    nc_inter_free(dst);
    int rc = nc_inter_reserve(dst, src->n, e);
    if (rc) return rc;
    if (src->n) {
        memcpy(dst->user, src->user, src->n * sizeof *src->user);
        memcpy(dst->item, src->item, src->n * sizeof *src->item);
        memcpy(dst->ts, src->ts, src->n * sizeof *src->ts);
    }
    if (src->w && (rc = inter_alloc_w(dst, e))) return rc;
    if (src->w && src->n) memcpy(dst->w, src->w, src->n);
    dst->n = src->n;
    return NC_OK;
}

/* Fibonacci hashing of a packed (user, item) key into a table of 2^bits slots. */
static size_t pair_slot(uint64_t key, int bits) {
    return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> (64 - bits));
}

/* Where row r's (user, item) key sits in the set, or where it goes; *dup says it was there. The
 * key of user -1, item -1 is the empty marker, so it lives in slot nslots (one spare slot). */
static size_t pair_find(uint64_t *set, size_t nslots, int bits, uint64_t key, int *dup) {
    const uint64_t empty = UINT64_MAX;
    if (key == empty) {
        *dup = set[nslots] == 0;
        set[nslots] = 0;
        return nslots;
    }
    size_t i = pair_slot(key, bits), mask = nslots - 1;
    while (set[i] != empty && set[i] != key) i = (i + 1) & mask;
    *dup = set[i] == key;
    set[i] = key;
    return i;
}

size_t nc_inter_dedup(nc_interactions *x, nc_err *e) {
    nc_err_clear(e);
    if (x->n < 2) return 0;
    int bits = 4;
    while (((size_t)1 << bits) < 2 * x->n) bits++;
    size_t nslots = (size_t)1 << bits;
    uint64_t *set = nc_malloc(nslots + 1, sizeof *set, e);
    size_t *kept = x->w ? nc_malloc(nslots + 1, sizeof *kept, e) : NULL; /* slot -> kept row */
    if (!set || (x->w && !kept)) {
        free(set);
        return 0;
    }
    memset(set, 0xff, (nslots + 1) * sizeof *set);
    size_t w = 0;
    for (size_t r = 0; r < x->n; r++) {
        uint64_t key = ((uint64_t)(uint32_t)x->user[r] << 32) | (uint32_t)x->item[r];
        int dup;
        size_t slot = pair_find(set, nslots, bits, key, &dup);
        if (dup) {
            if (x->w && x->w[r] > x->w[kept[slot]]) x->w[kept[slot]] = x->w[r];
            continue;
        }
        if (kept) kept[slot] = w;
        x->user[w] = x->user[r];
        x->item[w] = x->item[r];
        x->ts[w] = x->ts[r];
        if (x->w) x->w[w] = x->w[r];
        w++;
    }
    free(set);
    free(kept);
    size_t removed = x->n - w;
    x->n = w;
    return removed;
}

/* An id that would not read back as the same single CSV field. */
static int id_csv_unsafe(const char *s) { return strpbrk(s, ",\r\n") != NULL; }

/* The reader trims blanks and removes one surrounding pair of quotes, so an id it would change
 * is written inside quotes, which the reader removes again. */
static const char *id_csv_quote(const char *s) {
    size_t n = strlen(s);
    int q = s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t' ||
            (n >= 2 && s[0] == '"' && s[n - 1] == '"');
    return q ? "\"" : "";
}

int nc_inter_write_csv(FILE *f, const nc_idmap *users, const nc_idmap *items,
                       const nc_interactions *x, nc_err *e) {
    if (fputs(x->w ? "user,item,timestamp,weight\n" : "user,item,timestamp\n", f) == EOF)
        return nc_fail(e, NC_EIO, "write failed: %s", strerror(errno));
    for (size_t r = 0; r < x->n; r++) {
        int32_t u = x->user[r], i = x->item[r];
        if (u < 0 || (size_t)u >= users->n || i < 0 || (size_t)i >= items->n)
            return nc_fail(e, NC_EINVAL, "row %zu: user %d or item %d is not in the id maps", r,
                           u, i);
        if (id_csv_unsafe(users->ids[u]) || id_csv_unsafe(items->ids[i]))
            return nc_fail(e, NC_EINVAL, "row %zu: id '%s' or '%s' holds ',' or a line break",
                           r, users->ids[u], items->ids[i]);
        const char *qu = id_csv_quote(users->ids[u]), *qi = id_csv_quote(items->ids[i]);
        if (fprintf(f, "%s%s%s,%s%s%s,%lld", qu, users->ids[u], qu, qi, items->ids[i], qi,
                    (long long)x->ts[r]) < 0 ||
            (x->w && fprintf(f, ",%u", (unsigned)x->w[r]) < 0) || fputc('\n', f) == EOF)
            return nc_fail(e, NC_EIO, "write failed at row %zu: %s", r, strerror(errno));
    }
    if (fflush(f) == EOF || ferror(f))
        return nc_fail(e, NC_EIO, "write failed: %s", strerror(errno));
    return NC_OK;
}

/* ==== loading ========================================================================== */

#define CHUNK (1u << 20)

typedef struct loader {
    const char *path;
    const nc_load_opts *o;
    nc_format fmt;          /* resolved format */
    size_t line;            /* 1-based number of the line being parsed */
    int seen_content;       /* a non-blank line was parsed (header check done) */
    nc_idmap *users, *items;
    nc_interactions *out;
    nc_err *e;              /* the loader's own (never NULL); copied to the caller's at the end */
} loader;

typedef struct span {
    const char *p;
    size_t n;
} span;

void nc_load_opts_default(nc_load_opts *o) {
    o->fmt = NC_FMT_AUTO;
    o->ts_col = 2;
    o->rating_col = -1;
    o->min_rating = 0;
    o->weight_col = -1;
    o->types = NULL;
    o->type_index = 0;
    o->weight_missing = -1;
}

/* Field and token separators that are never part of an id's ends. */
static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Refuses control bytes: a NUL or similar in a "text" file means it is binary. */
static int check_text(loader *L, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 && c != '\t')
            return nc_fail(L->e, NC_EINVAL,
                           "%s:%zu: byte 0x%02x at column %zu: not a text file", L->path,
                           L->line, c, i + 1);
    }
    return NC_OK;
}

/* Field with surrounding blanks and one surrounding pair of double quotes removed. */
static span trim_field(const char *p, size_t n) {
    while (n && is_blank(*p)) p++, n--;
    while (n && is_blank(p[n - 1])) n--;
    if (n >= 2 && p[0] == '"' && p[n - 1] == '"') p++, n -= 2;
    return (span){p, n};
}

/* Integer timestamp, optional sign, optional fractional part (truncated). */
static int parse_ts(span s, int64_t *out) {
    size_t i = 0;
    int neg = 0;
    if (i < s.n && (s.p[i] == '-' || s.p[i] == '+')) neg = s.p[i++] == '-';
    size_t d0 = i;
    uint64_t v = 0;
    for (; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++) {
        if (v > ((uint64_t)INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
    }
    if (i == d0) return -1;
    if (i < s.n && s.p[i] == '.')
        for (i++; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++) {}
    if (i != s.n) return -1;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

/* A finite decimal number (ratings are short; longer fields are not numbers we accept). */
static int parse_num(span s, double *out) {
    char buf[64];
    if (s.n == 0 || s.n >= sizeof buf) return -1;
    memcpy(buf, s.p, s.n);
    buf[s.n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + s.n || errno || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* For messages: which format a line was read as. */
static const char *fmt_name(nc_format f) {
    return f == NC_FMT_CSV   ? "CSV"
           : f == NC_FMT_TSV ? "TSV"
           : f == NC_FMT_ADJ ? "adjacency"
                             : "auto";
}

/* Checks one id field and interns it, with the file and line in any error. */
static int intern_field(loader *L, nc_idmap *m, const char *what, span s, int32_t *out) {
    if (s.n == 0) return nc_fail(L->e, NC_EINVAL, "%s:%zu: empty %s id", L->path, L->line, what);
    if (s.n > NC_MAX_ID_LEN)
        return nc_fail(L->e, NC_EINVAL, "%s:%zu: %s id of %zu bytes is longer than %d", L->path,
                       L->line, what, s.n, NC_MAX_ID_LEN);
    nc_err sub;
    int rc = nc_idmap_intern(m, s.p, s.n, out, &sub);
    if (rc) return nc_fail(L->e, rc, "%s:%zu: %s", L->path, L->line, sub.msg);
    return NC_OK;
}

/* Appends a row, with the file and line in the (out of memory) error. */
static int push_row(loader *L, int32_t u, int32_t i, int64_t ts, uint8_t w) {
    nc_err sub;
    int rc = nc_inter_push_w(L->out, u, i, ts, w, &sub);
    return rc ? nc_fail(L->e, rc, "%s:%zu: %s", L->path, L->line, sub.msg) : NC_OK;
}

/* The RecBole/pandas-style header names a user column by one of these. */
static int is_header_name(span s) {
    static const char *names[] = {"user", "user_id", "userid", "uid", "users"};
    size_t n = s.n;
    const char *colon = memchr(s.p, ':', s.n);
    if (colon) n = (size_t)(colon - s.p);
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        if (strlen(names[k]) != n) continue;
        size_t i = 0;
        while (i < n && tolower((unsigned char)s.p[i]) == names[k][i]) i++;
        if (i == n) return 1;
    }
    return 0;
}

/* The weight of a row from its weight field f: 1 without a weight column, else the field's
 * feedback type's weight or the field as a whole number. -1 when f is neither. */
static int weight_field(const loader *L, span f, uint8_t *w) {
    *w = 1;
    if (L->o->weight_col < 0) return 0;
    if (!L->o->types) return nc_feedback_weight_of(f.p, f.n, w);
    int k = nc_feedback_find(L->o->types, f.p, f.n);
    if (k < 0) return -1;
    *w = L->o->type_index ? (uint8_t)k : L->o->types->t[k].weight;
    return 0;
}

/* The message for a weight field weight_field refused (or a row without one). */
static int weight_error(loader *L, int have, span f) {
    int32_t col = L->o->weight_col + 1;
    int fn = (int)(f.n > 64 ? 64 : f.n);
    if (!have)
        return nc_fail(L->e, NC_EINVAL, "%s:%zu: no %s in column %d", L->path, L->line,
                       L->o->types ? "feedback type" : "weight", col);
    if (!L->o->types)
        return nc_fail(L->e, NC_EINVAL, "%s:%zu: bad weight '%.*s' in column %d (a whole number "
                       "0..%d)", L->path, L->line, fn, f.p, col, NC_FEEDBACK_MAX_WEIGHT);
    char allowed[512];
    return nc_fail(L->e, NC_EINVAL, "%s:%zu: unknown feedback type '%.*s' in column %d "
                   "(allowed: %s)", L->path, L->line, fn, f.p, col,
                   nc_feedback_format(L->o->types, allowed, sizeof allowed));
}

/* Parses one CSV/TSV line (no line terminator): user, item, optional timestamp, rating and
 * weight. */
static int parse_sv_line(loader *L, const char *p, size_t n) {
    char sep = L->fmt == NC_FMT_TSV ? '\t' : ',';
    int32_t ts_col = L->o->ts_col, r_col = L->o->rating_col, w_col = L->o->weight_col;
    span f_user = {0}, f_item = {0}, f_ts = {0}, f_r = {0}, f_w = {0};
    int have_ts = 0, have_r = 0, have_w = 0;
    int32_t col = 0;
    const char *end = p + n;
    for (const char *s = p;; col++) {
        const char *q = memchr(s, sep, (size_t)(end - s));
        span f = trim_field(s, (size_t)((q ? q : end) - s));
        if (col == 0) f_user = f;
        if (col == 1) f_item = f;
        if (col == ts_col) f_ts = f, have_ts = 1;
        if (col == r_col) f_r = f, have_r = 1;
        if (col == w_col) f_w = f, have_w = 1;
        if (!q) break;
        s = q + 1;
    }
    int first = !L->seen_content;
    L->seen_content = 1;
    int64_t ts = 0;
    double rating = 0;
    int ts_ok = !have_ts || parse_ts(f_ts, &ts) == 0;
    int r_ok = !have_r || parse_num(f_r, &rating) == 0;
    uint8_t w = !have_w && L->o->weight_missing >= 0 ? (uint8_t)L->o->weight_missing : 1;
    int w_ok = (!have_w && (w_col < 0 || L->o->weight_missing >= 0)) ||
               (have_w && weight_field(L, f_w, &w) == 0);
    if (first && col >= 1 && (is_header_name(f_user) || !ts_ok || !r_ok || (have_w && !w_ok)))
        return NC_OK;
    if (col < 1)
        return nc_fail(L->e, NC_EINVAL, "%s:%zu: expected at least 2 %s fields (%s), found 1",
                       L->path, L->line, fmt_name(L->fmt),
                       sep == '\t' ? "user<TAB>item" : "user,item");
    if (!ts_ok)
        return nc_fail(L->e, NC_EINVAL, "%s:%zu: bad timestamp '%.*s' in column %d", L->path,
                       L->line, (int)(f_ts.n > 64 ? 64 : f_ts.n), f_ts.p, ts_col + 1);
    if (r_col >= 0 && !have_r)
        return nc_fail(L->e, NC_EINVAL, "%s:%zu: no rating in column %d", L->path, L->line,
                       r_col + 1);
    if (!r_ok)
        return nc_fail(L->e, NC_EINVAL, "%s:%zu: bad rating '%.*s' in column %d", L->path,
                       L->line, (int)(f_r.n > 64 ? 64 : f_r.n), f_r.p, r_col + 1);
    if (!w_ok) return weight_error(L, have_w, f_w);
    if (have_r && rating < L->o->min_rating) return NC_OK; /* ids of skipped rows stay unknown */
    if (w == 0 && !L->o->type_index) return NC_OK; /* no positive: skipped like a low rating */
    int32_t u, i;
    int rc = intern_field(L, L->users, "user", f_user, &u);
    if (!rc) rc = intern_field(L, L->items, "item", f_item, &i);
    return rc ? rc : push_row(L, u, i, ts, w);
}

/* Next whitespace-separated token of [*p, end), advancing *p; n == 0 at the end. */
static span next_token(const char **p, const char *end) {
    const char *s = *p;
    while (s < end && is_blank(*s)) s++;
    const char *t = s;
    while (t < end && !is_blank(*t)) t++;
    *p = t;
    return (span){s, (size_t)(t - s)};
}

/* Parses one adjacency line: a user, then its items. */
static int parse_adj_line(loader *L, const char *p, size_t n) {
    const char *end = p + n;
    int32_t u, i;
    L->seen_content = 1;
    int rc = intern_field(L, L->users, "user", next_token(&p, end), &u);
    if (rc) return rc;
    for (span t; (t = next_token(&p, end)).n;) {
        rc = intern_field(L, L->items, "item", t, &i);
        if (!rc) rc = push_row(L, u, i, 0, L->o->weight_missing >= 0 ? (uint8_t)L->o->weight_missing : 1);
        if (rc) return rc;
    }
    return NC_OK;
}

/* One line without its '\n': strips '\r', skips blank lines, refuses binary bytes. */
static int parse_line(loader *L, const char *p, size_t n) {
    if (n && p[n - 1] == '\r') n--;
    int rc = check_text(L, p, n);
    if (rc) return rc;
    size_t k = 0;
    while (k < n && is_blank(p[k])) k++;
    if (k == n) return NC_OK;
    return L->fmt == NC_FMT_ADJ ? parse_adj_line(L, p, n) : parse_sv_line(L, p, n);
}

/* Names a compressed format from its magic bytes, or NULL. */
static const char *compressed_magic(const unsigned char *b, size_t n) {
    if (n >= 6 && !memcmp(b, "\xfd" "7zXZ\0", 6)) return "xz";
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) return "gzip";
    if (n >= 3 && !memcmp(b, "BZh", 3)) return "bzip2";
    if (n >= 4 && !memcmp(b, "\x28\xb5\x2f\xfd", 4)) return "zstd";
    if (n >= 4 && !memcmp(b, "PK\x03\x04", 4)) return "zip";
    return NULL;
}

/* Resolves NC_FMT_AUTO from the first line of buf[0..n) holding a tab, comma or space. */
static int detect_format(loader *L, const char *buf, size_t n, int eof) {
    size_t line = 1, first_content = 0;
    for (const char *p = buf, *end = buf + n; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end; /* a partial last line counts too */
        const char *q = p;
        while (q < le && (is_blank(*q) || *q == '\r')) q++;
        if (q < le) {
            if (!first_content) first_content = line;
            if (memchr(q, '\t', (size_t)(le - q))) L->fmt = NC_FMT_TSV;
            else if (memchr(q, ',', (size_t)(le - q))) L->fmt = NC_FMT_CSV;
            else if (memchr(q, ' ', (size_t)(le - q))) L->fmt = NC_FMT_ADJ;
            if (L->fmt != NC_FMT_AUTO) return NC_OK;
        }
        if (!nl) break;
        p = nl + 1;
    }
    if (!first_content && !eof)
        return nc_fail(L->e, NC_EINVAL, "%s: the first %zu bytes hold only blank lines", L->path,
                       n);
    if (!first_content) return NC_OK; /* only blank lines: reported as an empty file */
    return nc_fail(L->e, NC_EINVAL,
                   "%s:%zu: only one field per line; expected 'user,item', 'user<TAB>item' or "
                   "'user item ...' (adjacency)", L->path, first_content);
}

/* A control byte in the first chunk, reported at its line before the format is guessed (the
 * parser checks every later line itself). */
static int check_binary(loader *L, const char *buf, size_t n) {
    size_t line = 1, col = 1;
    for (size_t k = 0; k < n; k++, col++) {
        unsigned char c = (unsigned char)buf[k];
        if (c == '\n') line++, col = 0;
        else if (c < 0x20 && c != '\t' && c != '\r')
            return nc_fail(L->e, NC_EINVAL, "%s:%zu: byte 0x%02x at column %zu: not a text file",
                           L->path, line, c, col);
    }
    return NC_OK;
}

/* Checks of the first bytes: compressed or binary files, a UTF-8 BOM, the format. Returns the
 * number of bytes to skip (the BOM) through *skip. */
static int first_chunk(loader *L, const char *buf, size_t n, int eof, size_t *skip) {
    const char *z = compressed_magic((const unsigned char *)buf, n);
    if (z)
        return nc_fail(L->e, NC_EINVAL, "%s: %s-compressed data; decompress it first", L->path, z);
    int rc = check_binary(L, buf, n);
    if (rc) return rc;
    *skip = n >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3) ? 3 : 0;
    if (L->fmt != NC_FMT_AUTO) return NC_OK;
    return detect_format(L, buf + *skip, n - *skip, eof);
}

/* Parses the complete lines of buf[0..n) and returns how many bytes were consumed. */
static int parse_lines(loader *L, const char *buf, size_t n, size_t *used) {
    const char *p = buf, *end = buf + n, *nl;
    while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
        int rc = parse_line(L, p, (size_t)(nl - p));
        if (rc) return rc;
        L->line++;
        p = nl + 1;
    }
    *used = (size_t)(p - buf);
    return NC_OK;
}

/* Reads all of fd through one buffer that grows only for lines longer than a chunk. */
static int read_all(loader *L, int fd, size_t *bytes_total) {
    size_t cap = CHUNK, len = 0;
    char *buf = nc_malloc(cap, 1, L->e);
    if (!buf) return NC_ENOMEM;
    int rc = NC_OK, started = 0;
    for (;;) {
        if (len == cap) { /* one line fills the buffer */
            if (cap > NC_MAX_LINE_LEN) {
                rc = nc_fail(L->e, NC_EINVAL, "%s:%zu: line longer than %u bytes", L->path,
                             L->line, NC_MAX_LINE_LEN);
                break;
            }
            size_t ncap = cap * 2 > NC_MAX_LINE_LEN + 1 ? NC_MAX_LINE_LEN + 1 : cap * 2;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = nc_fail(L->e, NC_ENOMEM, "%s: out of memory for a %zu-byte line", L->path,
                             ncap);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = nc_fail(L->e, NC_EIO, "%s: read failed: %s", L->path, strerror(errno));
            break;
        }
        int eof = r == 0;
        len += (size_t)r;
        *bytes_total += (size_t)r;
        size_t used = 0;
        if (!started && (len >= CHUNK || eof)) {
            started = 1;
            rc = first_chunk(L, buf, len, eof, &used);
            if (rc) break;
            if (L->fmt == NC_FMT_AUTO) break; /* only blank lines */
        }
        if (!started) continue;
        size_t used2;
        rc = parse_lines(L, buf + used, len - used, &used2);
        if (rc) break;
        used += used2;
        memmove(buf, buf + used, len - used);
        len -= used;
        if (eof) {
            if (len) rc = parse_line(L, buf, len);
            break;
        }
    }
    free(buf);
    return rc;
}

/* Opens path for reading with messages for the usual ways that fails. */
static int open_input(const char *path, int *fd_out, nc_err *e) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return nc_fail(e, NC_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return nc_fail(e, NC_EIO, "%s: cannot stat: %s", path, strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return nc_fail(e, NC_EIO, "%s: is a directory, not an interaction file", path);
    }
    *fd_out = fd;
    return NC_OK;
}

/* Columns 0 and 1 are always user and item, so options may not point there. */
static int check_opts(const char *path, const nc_load_opts *o, nc_err *e) {
    if (o->fmt < NC_FMT_AUTO || o->fmt > NC_FMT_ADJ)
        return nc_fail(e, NC_EINVAL, "%s: unknown format %d", path, (int)o->fmt);
    int32_t c[3] = {o->ts_col, o->rating_col, o->weight_col};
    int bad = 0;
    for (int k = 0; k < 3; k++) {
        bad |= c[k] < -1 || c[k] == 0 || c[k] == 1;
        for (int j = 0; j < k; j++) bad |= c[k] >= 0 && c[k] == c[j];
    }
    if (bad)
        return nc_fail(e, NC_EINVAL, "%s: bad columns: timestamp %d, rating %d, weight %d "
                       "(0-based, distinct; 0 and 1 are user and item)", path, o->ts_col,
                       o->rating_col, o->weight_col);
    if (o->weight_missing < -1 || o->weight_missing > NC_FEEDBACK_MAX_WEIGHT ||
        (o->type_index && !o->types))
        return nc_fail(e, NC_EINVAL, "%s: weight_missing %d or type_index without types", path,
                       o->weight_missing);
    if (o->weight_col >= 0 && o->fmt == NC_FMT_ADJ)
        return nc_fail(e, NC_EINVAL, "%s: adjacency lists have no weight column", path);
    if (!isfinite(o->min_rating))
        return nc_fail(e, NC_EINVAL, "%s: min_rating must be finite", path);
    return NC_OK;
}

int nc_load_file_opts(const char *path, const nc_load_opts *o, nc_idmap *users, nc_idmap *items,
                      nc_interactions *out, nc_err *e) {
    int rc = check_opts(path, o, e);
    if (rc) return rc;
    size_t u0 = users->n, i0 = items->n, r0 = out->n, bytes = 0;
    nc_err err;
    nc_err_clear(&err);
    loader L = {.path = path, .o = o, .fmt = o->fmt, .line = 1, .users = users, .items = items,
                .out = out, .e = &err};
    int fd = -1;
    rc = open_input(path, &fd, e);
    if (rc) return rc;
    rc = read_all(&L, fd, &bytes);
    close(fd);
    if (!rc && !L.seen_content)
        rc = nc_fail(&err, NC_EINVAL, "%s: empty file (%zu bytes, no data lines)", path, bytes);
    else if (!rc && out->n == r0)
        rc = nc_fail(&err, NC_EINVAL, "%s: no interactions in %zu lines%s", path, L.line - 1,
                     o->rating_col >= 0 || o->weight_col >= 0
                         ? " (after the rating filter and leaving out rows of weight 0)" : "");
    if (rc) {
        out->n = r0;
        idmap_truncate(users, u0);
        idmap_truncate(items, i0);
        return nc_fail(e, rc, "%s", err.msg);
    }
    return NC_OK;
}

int nc_load_file(const char *path, nc_format fmt, nc_idmap *users, nc_idmap *items,
                 nc_interactions *out, nc_err *e) {
    nc_load_opts o;
    nc_load_opts_default(&o);
    o.fmt = fmt;
    return nc_load_file_opts(path, &o, users, items, out, e);
}

/* ==== splitting ======================================================================== */

void nc_split_counts(size_t n, const double ratios[3], size_t cnt[3]) {
    /* RecBole's _calcu_split_ids, term by term (ratios already normalised by their sum) */
    cnt[1] = (size_t)(ratios[1] * (double)n);
    cnt[2] = (size_t)(ratios[2] * (double)n);
    cnt[0] = n - cnt[1] - cnt[2];
    for (int i = 1; i < 3; i++) {
        if (cnt[0] <= 1) break;
        double x = ratios[3 - i] * (double)n;
        if (0 < x && x < 1) {
            cnt[3 - i]++;
            cnt[0]--;
        }
    }
}

/* Validates the ratios and normalises them by their sum, as RecBole does before cutting. */
static int check_ratios(const double r[3], double norm[3], nc_err *e) {
    for (int k = 0; k < 3; k++)
        if (!(r[k] >= 0) || !isfinite(r[k]))
            return nc_fail(e, NC_EINVAL, "split ratio %d is %g; ratios must be >= 0", k, r[k]);
    double sum = r[0] + r[1] + r[2];
    if (fabs(sum - 1.0) > 1e-6)
        return nc_fail(e, NC_EINVAL, "split ratios %g/%g/%g sum to %.9g, not 1", r[0], r[1], r[2],
                       sum);
    if (!(r[0] > 0)) return nc_fail(e, NC_EINVAL, "split train ratio must be > 0");
    for (int k = 0; k < 3; k++) norm[k] = r[k] / sum; /* as RecBole normalises */
    return NC_OK;
}

/* Seeded Fisher-Yates permutation of 0..n-1 into perm (caller-allocated, n entries). */
static void shuffle_rows(size_t *perm, size_t n, uint64_t seed) {
    nc_rng rng;
    nc_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)nc_rng_below(&rng, i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}

/* Frees the outputs and sizes them exactly for the totals of the per-user counts, with weight
 * arrays when the input has one. */
static int prepare_outputs(nc_interactions *out[3], const size_t tot[3], int weighted,
                           nc_err *e) {
    for (int k = 0; k < 3; k++) {
        nc_inter_free(out[k]);
        int rc = nc_inter_reserve(out[k], tot[k], e);
        if (!rc && weighted) rc = inter_alloc_w(out[k], e);
        if (rc) return rc;
    }
    return NC_OK;
}

int nc_split(const nc_interactions *all, size_t n_users, const double ratios[3], uint64_t seed,
             nc_interactions *train, nc_interactions *valid, nc_interactions *test, nc_err *e) {
    double r[3];
    int rc = check_ratios(ratios, r, e);
    if (rc) return rc;
    nc_interactions *out[3] = {train, valid, test};
    for (int k = 0; k < 3; k++)
        if (out[k] == all) return nc_fail(e, NC_EINVAL, "split output %d aliases its input", k);
    for (size_t j = 0; j < all->n; j++)
        if (all->user[j] < 0 || (size_t)all->user[j] >= n_users)
            return nc_fail(e, NC_EINVAL, "row %zu: user %d is outside 0..%zu", j, all->user[j],
                           n_users);
    size_t *perm = nc_malloc(all->n, sizeof *perm, e);
    size_t *seen = nc_calloc(n_users, sizeof *seen, e);
    size_t *cut = nc_malloc(2 * n_users, sizeof *cut, e); /* per user: end of train, of valid */
    if (!perm || !seen || !cut) {
        rc = NC_ENOMEM;
        goto done;
    }
    for (size_t j = 0; j < all->n; j++) seen[all->user[j]]++;
    size_t tot[3] = {0, 0, 0};
    for (size_t u = 0; u < n_users; u++) {
        size_t c[3];
        nc_split_counts(seen[u], r, c);
        cut[2 * u] = c[0];
        cut[2 * u + 1] = c[0] + c[1];
        for (int k = 0; k < 3; k++) tot[k] += c[k];
        seen[u] = 0;
    }
    rc = prepare_outputs(out, tot, all->w != NULL, e);
    if (rc) goto done;
    shuffle_rows(perm, all->n, seed);
    for (size_t j = 0; j < all->n; j++) {
        size_t row = perm[j];
        int32_t u = all->user[row];
        size_t rank = seen[u]++;
        nc_interactions *o = rank < cut[2 * u] ? train : rank < cut[2 * u + 1] ? valid : test;
        o->user[o->n] = u;
        o->item[o->n] = all->item[row];
        o->ts[o->n] = all->ts[row];
        if (all->w) o->w[o->n] = all->w[row];
        o->n++;
    }
done:
    free(perm);
    free(seen);
    free(cut);
    if (rc)
        for (int k = 0; k < 3; k++) nc_inter_free(out[k]);
    return rc;
}

/* ==== dataset ========================================================================== */

void nc_dataset_init(nc_dataset *d) {
    nc_idmap_init(&d->users);
    nc_idmap_init(&d->items);
    nc_inter_init(&d->train);
    nc_inter_init(&d->valid);
    nc_inter_init(&d->test);
}

void nc_dataset_free(nc_dataset *d) {
    nc_idmap_free(&d->users);
    nc_idmap_free(&d->items);
    nc_inter_free(&d->train);
    nc_inter_free(&d->valid);
    nc_inter_free(&d->test);
}
