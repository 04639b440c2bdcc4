/* fuzz_dataset.c - libFuzzer harness for the interaction-file loaders (core/dataset.c).
 *
 * The input is the bytes of one interaction file. It is loaded five ways: AUTO, CSV, TSV and
 * ADJ with the default options, and AUTO with ML-100K's rating filter (rating column 2,
 * timestamp column 3, minimum 3). Besides "no memory error", the harness checks the loader's
 * contract (dataset.h) and aborts when it does not hold:
 *   - a failed load returns a negative code, fills the message, and leaves the id maps and the
 *     rows exactly as they were (they start non-empty, so the roll-back has something to keep);
 *   - a successful load appends rows whose ids are inside the maps, and every id finds itself;
 *     nc_idmap_find with other keys (raw input lines, ids followed by a NUL byte) returns -1
 *     or an id equal to exactly the key's bytes;
 *   - nc_inter_dedup leaves no repeated (user, item) pair; nc_split keeps every row;
 *   - rows written with nc_inter_write_csv (when it accepts the ids) and read back as CSV come
 *     back with the same external ids and timestamps (checked on the first successful load).
 * The loader reads 1 MiB chunks, and a short input never reaches a chunk boundary. So for one
 * input in 16 (chosen by a hash of the bytes, hence the same on every replay) the harness also
 * loads it behind a blank line long enough to put the chunk boundary inside the input, and
 * requires exactly the outcome of the same file without the padding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "fuzz_util.h"

#define LOADER_CHUNK (1u << 20) /* dataset.c reads this much at a time */
#define PAD_MAX_INPUT (64u << 10)

/* What a load appends to: one user, one item and one row are already there. */
typedef struct world {
    nc_idmap users, items;
    nc_interactions rows;
} world;

/* A world holding the row (u-seed, i-seed, 7). */
static void world_init(world *w) {
    nc_err e;
    int32_t u, i;
    nc_idmap_init(&w->users);
    nc_idmap_init(&w->items);
    nc_inter_init(&w->rows);
    FUZZ_ASSERT(nc_idmap_intern(&w->users, "u-seed", 6, &u, &e) == NC_OK, "%s", e.msg);
    FUZZ_ASSERT(nc_idmap_intern(&w->items, "i-seed", 6, &i, &e) == NC_OK, "%s", e.msg);
    FUZZ_ASSERT(nc_inter_push(&w->rows, u, i, 7, &e) == NC_OK, "%s", e.msg);
}

/* Frees what world_init and the loads put in w. */
static void world_free(world *w) {
    nc_idmap_free(&w->users);
    nc_idmap_free(&w->items);
    nc_inter_free(&w->rows);
}

/* Every id of m finds its own internal id: the hash table agrees with the id array. */
static void check_map(const nc_idmap *m, const char *what) {
    for (size_t k = 0; k < m->n; k++) {
        int32_t got = nc_idmap_find(m, m->ids[k], strlen(m->ids[k]));
        FUZZ_ASSERT(got == (int32_t)k, "%s id %zu ('%s') finds %d", what, k, m->ids[k], got);
    }
}

/* nc_idmap_find on any bytes returns -1 or an id equal to exactly those bytes. */
static void check_find(const nc_idmap *m, const char *key, size_t len, const char *what) {
    int32_t got = nc_idmap_find(m, key, len);
    FUZZ_ASSERT(got == -1 || (got >= 0 && (size_t)got < m->n && strlen(m->ids[got]) == len &&
                              memcmp(m->ids[got], key, len) == 0),
                "%s map: find of %zu bytes '%.*s' returned %d", what, len, (int)len, key, got);
}

/* Lookups with keys the loader never interns: every raw line of the input (NUL bytes and all),
 * and each known id followed by a NUL and a few input bytes (an id with a NUL in it cannot be
 * in the map, so nothing may match it). */
static void check_lookups(const nc_idmap *m, const uint8_t *data, size_t n, const char *what) {
    const char *p = (const char *)data, *end = p + n;
    for (int k = 0; p < end && k < 32; k++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        check_find(m, p, len, what);
        p += len + 1;
    }
    char key[NC_MAX_ID_LEN + 16];
    size_t extra = n < 8 ? n : 8;
    for (size_t k = 0; k < m->n && k < 8; k++) {
        size_t len = strlen(m->ids[k]);
        if (len + 1 + extra > NC_MAX_ID_LEN) continue;
        memcpy(key, m->ids[k], len);
        key[len] = '\0';
        memcpy(key + len + 1, data, extra);
        check_find(m, key, len + 1 + extra, what);
    }
}

/* The rows of w refer only to ids in its maps, and the maps are consistent. */
static void check_world(const world *w) {
    check_map(&w->users, "user");
    check_map(&w->items, "item");
    for (size_t j = 0; j < w->rows.n; j++)
        FUZZ_ASSERT(w->rows.user[j] >= 0 && (size_t)w->rows.user[j] < w->users.n &&
                        w->rows.item[j] >= 0 && (size_t)w->rows.item[j] < w->items.n,
                    "row %zu: user %d item %d outside maps of %zu/%zu", j, w->rows.user[j],
                    w->rows.item[j], w->users.n, w->items.n);
}

/* Orders (user, item) keys for the duplicate check. */
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* After dedup no pair repeats, and what went plus what stayed is what was there. */
static void check_dedup(const world *w) {
    nc_interactions x;
    nc_err e;
    nc_inter_init(&x);
    FUZZ_ASSERT(nc_inter_copy(&x, &w->rows, &e) == NC_OK, "copy: %s", e.msg);
    size_t gone = nc_inter_dedup(&x, &e);
    FUZZ_ASSERT(e.code == NC_OK, "dedup: %s", e.msg);
    FUZZ_ASSERT(gone + x.n == w->rows.n, "dedup removed %zu of %zu, kept %zu", gone, w->rows.n,
                x.n);
    uint64_t *key = malloc(x.n * sizeof *key);
    FUZZ_ASSERT(key != NULL, "out of memory");
    for (size_t j = 0; j < x.n; j++) key[j] = (uint64_t)(uint32_t)x.user[j] << 32 | (uint32_t)x.item[j];
    qsort(key, x.n, sizeof *key, cmp_u64);
    for (size_t j = 1; j < x.n; j++)
        FUZZ_ASSERT(key[j] != key[j - 1], "dedup kept pair %016llx twice",
                    (unsigned long long)key[j]);
    free(key);
    nc_inter_free(&x);
}

/* The 80/10/10 split puts every row somewhere. */
static void check_split(const world *w) {
    static const double ratios[3] = {0.8, 0.1, 0.1};
    nc_interactions part[3];
    nc_err e;
    for (int k = 0; k < 3; k++) nc_inter_init(&part[k]);
    int rc = nc_split(&w->rows, w->users.n, ratios, 7, &part[0], &part[1], &part[2], &e);
    FUZZ_ASSERT(rc == NC_OK, "split: %s", e.msg);
    FUZZ_ASSERT(part[0].n + part[1].n + part[2].n == w->rows.n, "split %zu+%zu+%zu of %zu rows",
                part[0].n, part[1].n, part[2].n, w->rows.n);
    for (int k = 0; k < 3; k++) nc_inter_free(&part[k]);
}

/* The rows of a and b are the same external (user, item, ts) triples in the same order. */
static void check_same_rows(const world *a, const world *b, const char *what) {
    FUZZ_ASSERT(a->rows.n == b->rows.n, "%s: %zu rows, then %zu", what, a->rows.n, b->rows.n);
    for (size_t j = 0; j < a->rows.n; j++) {
        const char *ua = a->users.ids[a->rows.user[j]], *ub = b->users.ids[b->rows.user[j]];
        const char *ia = a->items.ids[a->rows.item[j]], *ib = b->items.ids[b->rows.item[j]];
        FUZZ_ASSERT(!strcmp(ua, ub) && !strcmp(ia, ib) && a->rows.ts[j] == b->rows.ts[j],
                    "%s: row %zu was ('%s', '%s', %lld), is ('%s', '%s', %lld)", what, j, ua, ia,
                    (long long)a->rows.ts[j], ub, ib, (long long)b->rows.ts[j]);
    }
}

/* Writes w as CSV and reads it back: the same rows, unless the writer refused the ids. */
static void check_roundtrip(const world *w) {
    char *buf = NULL, path[64];
    size_t len = 0;
    nc_err e;
    FILE *f = open_memstream(&buf, &len);
    FUZZ_ASSERT(f != NULL, "open_memstream failed");
    int rc = nc_inter_write_csv(f, &w->users, &w->items, &w->rows, &e);
    fclose(f);
    if (rc == NC_OK) {
        world back;
        nc_idmap_init(&back.users);
        nc_idmap_init(&back.items);
        nc_inter_init(&back.rows);
        int fd = fuzz_memfile(buf, len, path, sizeof path);
        if (fd >= 0) {
            rc = nc_load_file(path, NC_FMT_CSV, &back.users, &back.items, &back.rows, &e);
            close(fd);
            FUZZ_ASSERT(rc == NC_OK, "written CSV does not load: %s", e.msg);
            check_same_rows(w, &back, "CSV round trip");
        }
        world_free(&back);
    } else {
        FUZZ_ASSERT(rc == NC_EINVAL && e.msg[0], "write_csv: rc %d, '%s'", rc, e.msg);
    }
    free(buf);
}

/* Loads head[0..nh) + data[0..n) into a fresh world w (the caller frees it) and checks the
 * loader's contract; returns the loader's code. */
static int load_checked(const nc_load_opts *o, const char *head, size_t nh, const uint8_t *data,
                        size_t n, world *w) {
    char path[64];
    nc_err e;
    world_init(w);
    int fd = fuzz_memfile2(head, nh, data, n, path, sizeof path);
    if (fd < 0) return NC_EIO;
    nc_err_clear(&e);
    int rc = nc_load_file_opts(path, o, &w->users, &w->items, &w->rows, &e);
    close(fd);
    if (rc != NC_OK) {
        FUZZ_ASSERT(rc < 0 && e.code == rc && e.msg[0], "failed load: rc %d, code %d, '%s'", rc,
                    e.code, e.msg);
        FUZZ_ASSERT(w->users.n == 1 && w->items.n == 1 && w->rows.n == 1,
                    "failed load ('%s') left %zu users, %zu items, %zu rows", e.msg, w->users.n,
                    w->items.n, w->rows.n);
        check_world(w);
        return rc;
    }
    FUZZ_ASSERT(w->rows.n > 1, "successful load added no row");
    check_world(w);
    check_lookups(&w->users, data, n, "user");
    check_lookups(&w->items, data, n, "item");
    return rc;
}

/* FNV-1a of the input: picks the inputs that also get the chunk-boundary load. */
static uint32_t input_hash(const uint8_t *data, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ data[i]) * 16777619u;
    return h;
}

/* The input behind a blank line of spaces, so the loader's first 1 MiB chunk ends inside it,
 * against the same file with an empty blank line: the outcome must be identical. */
static void check_chunk_boundary(const uint8_t *data, size_t n, uint32_t h) {
    static const char *lead[3] = {"f,f\n", "f\tf\n", "f f\n"};
    static const nc_format fmt[3] = {NC_FMT_CSV, NC_FMT_TSV, NC_FMT_ADJ};
    int v = (int)((h >> 8) % 3);
    size_t lead_n = strlen(lead[v]), cut = 1 + (h >> 12) % n; /* input bytes in chunk 1 */
    size_t pad_n = LOADER_CHUNK - cut; /* lead line + spaces + '\n' */
    char *pad = malloc(pad_n);
    FUZZ_ASSERT(pad != NULL, "out of memory");
    memcpy(pad, lead[v], lead_n);
    memset(pad + lead_n, ' ', pad_n - lead_n - 1);
    pad[pad_n - 1] = '\n';
    char short_head[8];
    memcpy(short_head, lead[v], lead_n);
    short_head[lead_n] = '\n';
    nc_load_opts o;
    nc_load_opts_default(&o);
    o.fmt = fmt[v];
    world a, b;
    int rc_a = load_checked(&o, short_head, lead_n + 1, data, n, &a);
    int rc_b = load_checked(&o, pad, pad_n, data, n, &b);
    FUZZ_ASSERT(rc_a == rc_b, "chunk boundary after %zu input bytes changes rc %d to %d", cut,
                rc_a, rc_b);
    FUZZ_ASSERT(a.users.n == b.users.n && a.items.n == b.items.n,
                "chunk boundary changes the maps: %zu/%zu to %zu/%zu", a.users.n, a.items.n,
                b.users.n, b.items.n);
    check_same_rows(&a, &b, "chunk boundary");
    world_free(&a);
    world_free(&b);
    free(pad);
}

/* libFuzzer entry: the input loaded every way, then the chunk-boundary check for 1 in 16.
 * Always returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    static const struct {
        nc_format fmt;
        int32_t ts_col, rating_col;
        double min_rating;
    } variant[] = {
        {NC_FMT_AUTO, 2, -1, 0}, {NC_FMT_CSV, 2, -1, 0}, {NC_FMT_TSV, 2, -1, 0},
        {NC_FMT_ADJ, 2, -1, 0},  {NC_FMT_AUTO, 3, 2, 3},
    };
    int tripped = 0; /* the CSV round trip runs once per input: each load costs a 1 MiB buffer */
    for (size_t v = 0; v < sizeof variant / sizeof *variant; v++) {
        nc_load_opts o;
        nc_load_opts_default(&o);
        o.fmt = variant[v].fmt;
        o.ts_col = variant[v].ts_col;
        o.rating_col = variant[v].rating_col;
        o.min_rating = variant[v].min_rating;
        world w;
        if (load_checked(&o, NULL, 0, data, n, &w) == NC_OK) {
            check_dedup(&w);
            check_split(&w);
            if (!tripped++) check_roundtrip(&w);
        }
        world_free(&w);
    }
    uint32_t h = input_hash(data, n);
    if (n > 0 && n <= PAD_MAX_INPUT && (h & 15) == 0) check_chunk_boundary(data, n, h);
    return 0;
}
