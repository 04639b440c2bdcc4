/* checkpoint.c - see checkpoint.h for the file layout and the guarantees.
 *
 * Writing streams every section straight from the caller's arrays through a CRC into a temp
 * file; every write error is sticky (writer.rc) and reported once with the path and errno.
 * Reading is two steps: (1) walk the sections, checking each length against what is left of
 * the file before allocating, reading payloads into buffers of their own while the CRC runs,
 * then compare the trailer; (2) only then decode and cross-check the contents, moving the
 * large arrays into the struct without copying. So a corrupt byte is reported as a checksum
 * mismatch, not as whatever nonsense it decodes to, and no length can make us allocate more
 * than the file holds. */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "arrays are written as they sit in memory: little-endian hosts only");
_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE float32/float64 expected");

#define MAGIC "NCLRECKP"
#define MAGIC_BYTES 8
#define HEADER_BYTES 16
#define SECTION_HEADER_BYTES 12
#define TRAILER_BYTES 4
#define META_BYTES 64
#define DIMS_BYTES 20
#define MAX_HP_NAME 64

enum {
    S_HPAR, S_META, S_METR, S_DIMS, S_UIDS, S_IIDS, S_EMB0, S_UEMB, S_IEMB,
    S_CENU, S_CENI, S_ASGU, S_ASGI, S_COUNT
};
static const char section_tag[S_COUNT][5] = {"HPAR", "META", "METR", "DIMS", "UIDS",
                                             "IIDS", "EMB0", "UEMB", "IEMB", "CENU",
                                             "CENI", "ASGU", "ASGI"};

/* ============================== CRC-32 ============================== */

/* Four bits at a time: a 16-entry table is small enough to read and check by eye, and still
 * runs at a few hundred MB/s, plenty for model files. Polynomial 0xEDB88320 (reflected). */
static const uint32_t crc_nibble[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
    0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
    0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c};

uint32_t nc_crc32(uint32_t crc, const void *data, size_t n) {
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
    }
    return ~crc;
}

/* ============================== little-endian scalars ============================== */

static uint32_t le32(const uint8_t *b) {
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t le64(const uint8_t *b) { return (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32; }

/* The low n bytes of v, least significant first, whatever the host. */
static void put_le(uint8_t *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t tag_code(const char *t) { return le32((const uint8_t *)t); }

/* Floats travel as their IEEE bit patterns, so they round-trip exactly. */
static uint64_t f64_bits(double x) {
    uint64_t u;
    memcpy(&u, &x, 8);
    return u;
}

/* The inverse of f64_bits. */
static double bits_f64(uint64_t u) {
    double x;
    memcpy(&x, &u, 8);
    return x;
}

/* ============================== init / free ============================== */

void nc_checkpoint_init(nc_checkpoint *c) {
    memset(c, 0, sizeof *c);
    nc_hparams_default(&c->hp);
    nc_idmap_init(&c->users);
    nc_idmap_init(&c->items);
}

void nc_checkpoint_free(nc_checkpoint *c) {
    free(c->E0);
    free(c->user_emb);
    free(c->item_emb);
    free(c->cent_user);
    free(c->cent_item);
    free(c->assign_user);
    free(c->assign_item);
    nc_idmap_free(&c->users);
    nc_idmap_free(&c->items);
    nc_checkpoint_init(c);
}

/* ============================== writing ============================== */

typedef struct writer {
    FILE *f;
    const char *path; /* the temp file, for messages */
    uint32_t crc;     /* of everything written so far */
    int rc;           /* first failure; every w_* is a no-op after it */
    nc_err *e;
} writer;

/* The one place bytes reach the file, so the CRC covers exactly what was written. */
static void w_bytes(writer *w, const void *p, size_t n) {
    if (w->rc || n == 0) return;
    w->crc = nc_crc32(w->crc, p, n);
    if (fwrite(p, 1, n, w->f) != n)
        w->rc = nc_fail(w->e, NC_EIO, "writing %s: %s", w->path, strerror(errno));
}

/* A little-endian integer of n bytes. */
static void w_le(writer *w, uint64_t v, int n) {
    uint8_t b[8];
    put_le(b, v, n);
    w_bytes(w, b, (size_t)n);
}

/* Section header; the payload of exactly len bytes must follow. */
static void w_section(writer *w, int s, uint64_t len) {
    w_le(w, tag_code(section_tag[s]), 4);
    w_le(w, len, 8);
}

/* A whole array as one section, straight from the caller's memory (little-endian host). */
static void w_array(writer *w, int s, const void *p, uint64_t count, size_t elem) {
    w_section(w, s, count * elem);
    w_bytes(w, p, (size_t)(count * elem));
}

/* Every setting of nc_hparam_table by name, so the section survives new settings. */
static void w_hparams(writer *w, const nc_hparams *hp) {
    uint64_t len = 4;
    uint32_t count = 0;
    for (const nc_hparam_desc *d = nc_hparam_table; d->name; d++, count++)
        len += 2 + strlen(d->name) + 1 + 8;
    w_section(w, S_HPAR, len);
    w_le(w, count, 4);
    for (const nc_hparam_desc *d = nc_hparam_table; d->name; d++) {
        const char *p = (const char *)hp + d->offset;
        uint64_t v;
        if (d->type == NC_HP_INT) v = (uint64_t)(int64_t)*(const int32_t *)p;
        else if (d->type == NC_HP_FLOAT) v = f64_bits(*(const float *)p);
        else v = *(const uint64_t *)p;
        w_le(w, strlen(d->name), 2);
        w_bytes(w, d->name, strlen(d->name));
        w_le(w, (uint64_t)d->type, 1);
        w_le(w, v, 8);
    }
}

/* Field by field, never the struct itself: its padding and layout are not a format. */
static void w_meta(writer *w, const nc_train_meta *m) {
    w_section(w, S_META, META_BYTES);
    w_le(w, m->model_version, 8);
    w_le(w, f64_bits(m->trained_at), 8);
    w_le(w, f64_bits(m->train_seconds), 8);
    w_le(w, (uint64_t)m->data_watermark, 8);
    w_le(w, (uint32_t)m->epochs_run, 4);
    w_le(w, (uint32_t)m->best_epoch, 4);
    w_le(w, (uint64_t)m->n_train, 8);
    w_le(w, (uint64_t)m->n_valid, 8);
    w_le(w, (uint64_t)m->n_test, 8);
}

/* The K values go first, so a reader with other K values can match them. */
static void w_metrics(writer *w, const nc_metrics *valid, const nc_metrics *test) {
    w_section(w, S_METR, 4 + 4 * NC_N_TOPK + 2 * (16 * NC_N_TOPK + 8));
    w_le(w, NC_N_TOPK, 4);
    for (int i = 0; i < NC_N_TOPK; i++) w_le(w, (uint32_t)nc_topk_ks[i], 4);
    const nc_metrics *m[2] = {valid, test};
    for (int j = 0; j < 2; j++) {
        for (int i = 0; i < NC_N_TOPK; i++) w_le(w, f64_bits(m[j]->recall[i]), 8);
        for (int i = 0; i < NC_N_TOPK; i++) w_le(w, f64_bits(m[j]->ndcg[i]), 8);
        w_le(w, (uint64_t)m[j]->n_users, 8);
    }
}

/* Written before any array, and the reader checks every array against it. */
static void w_dims(writer *w, const nc_checkpoint *c) {
    w_section(w, S_DIMS, DIMS_BYTES);
    int32_t v[5] = {c->n_users, c->n_items, c->dim, c->k_user, c->k_item};
    for (int i = 0; i < 5; i++) w_le(w, (uint32_t)v[i], 4);
}

/* Ids in internal-id order: reading interns them back in the same order. */
static void w_ids(writer *w, int s, const nc_idmap *m) {
    uint64_t len = 0;
    for (size_t i = 0; i < m->n; i++) len += 4 + strlen(m->ids[i]);
    w_section(w, s, len);
    for (size_t i = 0; i < m->n; i++) {
        w_le(w, strlen(m->ids[i]), 4);
        w_bytes(w, m->ids[i], strlen(m->ids[i]));
    }
}

/* Header, the sections in checkpoint.h's order, then the CRC of all of it. */
static void w_all(writer *w, const nc_checkpoint *c) {
    uint64_t nu = (uint64_t)c->n_users, ni = (uint64_t)c->n_items, d = (uint64_t)c->dim;
    w_bytes(w, MAGIC, MAGIC_BYTES);
    w_le(w, NC_CKPT_VERSION, 4);
    w_le(w, S_COUNT, 4);
    w_hparams(w, &c->hp);
    w_meta(w, &c->meta);
    w_metrics(w, &c->valid, &c->test);
    w_dims(w, c);
    w_ids(w, S_UIDS, &c->users);
    w_ids(w, S_IIDS, &c->items);
    w_array(w, S_EMB0, c->E0, (nu + ni) * d, 4);
    w_array(w, S_UEMB, c->user_emb, nu * d, 4);
    w_array(w, S_IEMB, c->item_emb, ni * d, 4);
    w_array(w, S_CENU, c->cent_user, (uint64_t)c->k_user * d, 4);
    w_array(w, S_CENI, c->cent_item, (uint64_t)c->k_item * d, 4);
    w_array(w, S_ASGU, c->assign_user, c->assign_user ? nu : 0, 4);
    w_array(w, S_ASGI, c->assign_item, c->assign_item ? ni : 0, 4);
    uint32_t crc = w->crc;
    w_le(w, crc, 4);
}

/* Assignments must name a centroid or be -1, or the reader would refuse the file. */
static int check_assign(const int32_t *a, int32_t n, int32_t k, const char *what, nc_err *e) {
    for (int32_t i = 0; a && i < n; i++)
        if (a[i] < -1 || a[i] >= k)
            return nc_fail(e, NC_EINVAL, "checkpoint: %s %d assigned to cluster %d of %d", what,
                           (int)i, (int)a[i], (int)k);
    return NC_OK;
}

/* Refuses what the reader would refuse, before any file is touched. */
static int check_writable(const nc_checkpoint *c, nc_err *e) {
    if (c->n_users < 0 || c->n_items < 0 || c->dim < 1 || c->k_user < 0 || c->k_item < 0)
        return nc_fail(e, NC_EINVAL,
                       "checkpoint: bad dimensions n_users=%d n_items=%d dim=%d k=%d/%d",
                       (int)c->n_users, (int)c->n_items, (int)c->dim, (int)c->k_user,
                       (int)c->k_item);
    if (c->dim != c->hp.embedding_size)
        return nc_fail(e, NC_EINVAL, "checkpoint: dim %d but embedding_size %d", (int)c->dim,
                       (int)c->hp.embedding_size);
    if (c->users.n != (size_t)c->n_users || c->items.n != (size_t)c->n_items)
        return nc_fail(e, NC_EINVAL, "checkpoint: id maps hold %zu users / %zu items, "
                       "dimensions say %d / %d", c->users.n, c->items.n, (int)c->n_users,
                       (int)c->n_items);
    int need_emb = c->n_users + (int64_t)c->n_items > 0;
    if ((need_emb && (!c->E0 || (c->n_users && !c->user_emb) || (c->n_items && !c->item_emb)))
        || (c->k_user && !c->cent_user) || (c->k_item && !c->cent_item))
        return nc_fail(e, NC_EINVAL, "checkpoint: NULL embedding or centroid array");
    int rc = check_assign(c->assign_user, c->n_users, c->k_user, "user", e);
    return rc ? rc : check_assign(c->assign_item, c->n_items, c->k_item, "item", e);
}

/* The rename is only durable once the directory entry is on disk. */
static int fsync_dir(const char *path, nc_err *e) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= sizeof dir) return nc_fail(e, NC_EINVAL, "path too long: %s", path);
    if (!slash) strcpy(dir, ".");
    else if (n == 0) strcpy(dir, "/");
    else memcpy(dir, path, n), dir[n] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return nc_fail(e, NC_EIO, "wrote %s but cannot open its directory %s: %s", path,
                               dir, strerror(errno));
    int rc = NC_OK;
    if (fsync(fd) != 0)
        rc = nc_fail(e, NC_EIO, "wrote %s but fsync of directory %s failed: %s", path, dir,
                     strerror(errno));
    close(fd);
    return rc;
}

/* Streams c into the already-open temp file and makes it durable; closes f either way. */
static int write_and_sync(FILE *f, const char *tmp, const nc_checkpoint *c, nc_err *e) {
    writer w = {f, tmp, 0, NC_OK, e};
    w_all(&w, c);
    int rc = w.rc;
    if (!rc && fflush(f) != 0)
        rc = nc_fail(e, NC_EIO, "writing %s: %s", tmp, strerror(errno));
    if (!rc && fsync(fileno(f)) != 0)
        rc = nc_fail(e, NC_EIO, "fsync %s: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && !rc) rc = nc_fail(e, NC_EIO, "closing %s: %s", tmp, strerror(errno));
    return rc;
}

int nc_checkpoint_write(const char *path, const nc_checkpoint *c, nc_err *e) {
    int rc = check_writable(c, e);
    if (rc) return rc;
    size_t cap = strlen(path) + 32;
    char *tmp = nc_malloc(cap, 1, e);
    if (!tmp) return NC_ENOMEM;
    snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        rc = nc_fail(e, NC_EIO, "cannot create %s: %s", tmp, strerror(errno));
        if (fd >= 0) close(fd), unlink(tmp);
        free(tmp);
        return rc;
    }
    rc = write_and_sync(f, tmp, c, e);
    if (!rc && rename(tmp, path) != 0)
        rc = nc_fail(e, NC_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc) unlink(tmp);
    else rc = fsync_dir(path, e);
    free(tmp);
    return rc;
}

/* ============================== reading: structure ============================== */

typedef struct raw {
    uint8_t *p; /* payload, owned until moved into the checkpoint; NULL when len is 0 */
    uint64_t len;
    int present;
} raw;

typedef struct reader {
    FILE *f;
    const char *path;
    int64_t size, pos; /* file size, bytes consumed */
    uint32_t crc;      /* of the bytes consumed */
    nc_err *e;
} reader;

/* Bytes left for section headers and payloads (the trailer is reserved); may be negative. */
static int64_t room(const reader *r) { return r->size - TRAILER_BYTES - r->pos; }

/* The one place bytes come in, so the CRC covers everything but the trailer. */
static int r_bytes(reader *r, void *p, size_t n, int crc) {
    if (n && fread(p, 1, n, r->f) != n) {
        if (ferror(r->f)) return nc_fail(r->e, NC_EIO, "reading %s: %s", r->path,
                                         strerror(errno));
        return nc_fail(r->e, NC_EFORMAT, "%s: truncated at byte %lld (file shrank while read)",
                       r->path, (long long)r->pos);
    }
    if (crc) r->crc = nc_crc32(r->crc, p, n);
    r->pos += (int64_t)n;
    return NC_OK;
}

/* Sections this build does not know still count towards the CRC, a block at a time. */
static int r_skip(reader *r, uint64_t n) {
    uint8_t buf[4096];
    while (n > 0) {
        size_t b = n < sizeof buf ? (size_t)n : sizeof buf;
        int rc = r_bytes(r, buf, b, 1);
        if (rc) return rc;
        n -= b;
    }
    return NC_OK;
}

/* 'EMB0' for a printable tag, 0x... for garbage, so a message shows what was in the file. */
static void tag_name(uint32_t tag, char out[16]) {
    uint8_t b[4];
    put_le(b, tag, 4);
    int printable = 1;
    for (int i = 0; i < 4; i++) printable &= b[i] >= 0x20 && b[i] < 0x7f;
    if (printable) snprintf(out, 16, "'%c%c%c%c'", b[0], b[1], b[2], b[3]);
    else snprintf(out, 16, "0x%08x", tag);
}

/* Slot of a known tag, -1 for a tag from another build (skipped). */
static int find_section(uint32_t tag) {
    for (int s = 0; s < S_COUNT; s++)
        if (tag_code(section_tag[s]) == tag) return s;
    return -1;
}

/* Tells a foreign file, a cut-off file and another version apart before anything else. */
static int r_header(reader *r, uint32_t *n_sections) {
    uint8_t h[HEADER_BYTES];
    size_t got = fread(h, 1, sizeof h, r->f);
    if (got == 0 && r->size == 0)
        return nc_fail(r->e, NC_EFORMAT, "%s: empty file, not an nclrec checkpoint", r->path);
    if (memcmp(h, MAGIC, got < MAGIC_BYTES ? got : MAGIC_BYTES) != 0)
        return nc_fail(r->e, NC_EFORMAT, "%s: not an nclrec checkpoint (bad magic)", r->path);
    if (got < sizeof h)
        return nc_fail(r->e, NC_EFORMAT, "%s: truncated at byte %zu (in the %d-byte header)",
                       r->path, got, HEADER_BYTES);
    uint32_t version = le32(h + 8);
    if (version != NC_CKPT_VERSION)
        return nc_fail(r->e, NC_EFORMAT, "%s: format version %u, this build reads %d", r->path,
                       version, NC_CKPT_VERSION);
    *n_sections = le32(h + 12);
    r->crc = nc_crc32(0, h, sizeof h);
    r->pos = HEADER_BYTES;
    return NC_OK;
}

/* One section: its header, a length check against the rest of the file, then the payload. */
static int r_section(reader *r, uint32_t i, uint32_t n_sections, raw *sec) {
    uint8_t h[SECTION_HEADER_BYTES];
    if (room(r) < SECTION_HEADER_BYTES)
        return nc_fail(r->e, NC_EFORMAT, "%s: truncated at byte %lld (header of section %u of "
                       "%u)", r->path, (long long)r->size, i + 1, n_sections);
    int64_t at = r->pos;
    int rc = r_bytes(r, h, sizeof h, 1);
    if (rc) return rc;
    uint32_t tag = le32(h);
    uint64_t len = le64(h + 4);
    int s = find_section(tag);
    if (room(r) < 0 || len > (uint64_t)room(r)) {
        char name[16];
        tag_name(tag, name);
        return nc_fail(r->e, NC_EFORMAT, "%s: truncated at byte %lld (section %u of %u, %s "
                       "at byte %lld, claims %llu bytes, %lld remain)", r->path,
                       (long long)r->size, i + 1, n_sections, name, (long long)at,
                       (unsigned long long)len, (long long)(room(r) > 0 ? room(r) : 0));
    }
    if (s < 0) return r_skip(r, len);
    if (sec[s].present)
        return nc_fail(r->e, NC_EFORMAT, "%s: section '%s' appears twice", r->path,
                       section_tag[s]);
    sec[s].present = 1;
    sec[s].len = len;
    if (len == 0) return NC_OK;
    sec[s].p = nc_aligned_alloc((size_t)len, 1, r->e);
    if (!sec[s].p) return NC_ENOMEM;
    return r_bytes(r, sec[s].p, (size_t)len, 1);
}

/* Step 1: header, every section, nothing left over, then the CRC. */
static int r_structure(reader *r, raw *sec) {
    uint32_t n_sections = 0;
    int rc = r_header(r, &n_sections);
    for (uint32_t i = 0; rc == NC_OK && i < n_sections; i++)
        rc = r_section(r, i, n_sections, sec);
    if (rc) return rc;
    if (room(r) < 0)
        return nc_fail(r->e, NC_EFORMAT, "%s: truncated at byte %lld (no checksum)", r->path,
                       (long long)r->size);
    if (room(r) > 0)
        return nc_fail(r->e, NC_EFORMAT, "%s: %lld unexpected bytes after the last of %u "
                       "sections (corrupted)", r->path, (long long)room(r), n_sections);
    uint8_t t[TRAILER_BYTES];
    uint32_t computed = r->crc;
    rc = r_bytes(r, t, sizeof t, 0);
    if (rc) return rc;
    if (le32(t) != computed)
        return nc_fail(r->e, NC_EFORMAT, "%s: checksum mismatch (corrupted): stored %08x, "
                       "computed %08x", r->path, le32(t), computed);
    return NC_OK;
}

/* ============================== reading: contents ============================== */

/* Bounds-checked walk over a payload; once it runs past the end it stays bad and reads 0. */
typedef struct cursor {
    const uint8_t *p;
    uint64_t left;
    int bad;
} cursor;

/* n bytes, or NULL (and the cursor marked bad) if the payload is shorter. */
static const uint8_t *cur_take(cursor *k, uint64_t n) {
    if (k->bad || n > k->left) {
        k->bad = 1;
        return NULL;
    }
    const uint8_t *p = k->p;
    k->p += n;
    k->left -= n;
    return p;
}

/* A little-endian integer of n bytes; 0 once the cursor is bad. */
static uint64_t cur_le(cursor *k, int n) {
    const uint8_t *p = cur_take(k, (uint64_t)n);
    uint64_t v = 0;
    for (int i = 0; p && i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* A section whose CRC is fine but whose layout is not this format's: a writer bug. */
static int bad_section(const char *path, int s, nc_err *e) {
    return nc_fail(e, NC_EFORMAT, "%s: section '%s' is malformed", path, section_tag[s]);
}

/* One stored setting into hp, if this build knows its name; type and range must agree. */
static int hp_apply(nc_hparams *hp, const char *name, unsigned type, uint64_t v,
                    const char *path, nc_err *e) {
    const nc_hparam_desc *d = nc_hparam_find(name);
    if (!d) return NC_OK; /* from a newer build: not ours to interpret */
    if (type != (unsigned)d->type)
        return nc_fail(e, NC_EFORMAT, "%s: hyper-parameter %s stored with type %u, expected %d",
                       path, name, type, (int)d->type);
    char *p = (char *)hp + d->offset;
    double x = d->type == NC_HP_INT ? (double)(int64_t)v
             : d->type == NC_HP_FLOAT ? bits_f64(v) : (double)v;
    if (d->type != NC_HP_U64 && !(x >= d->min && x <= d->max))
        return nc_fail(e, NC_EFORMAT, "%s: hyper-parameter %s = %g is outside %g..%g", path,
                       name, x, d->min, d->max);
    if (d->type == NC_HP_INT) *(int32_t *)p = (int32_t)(int64_t)v;
    else if (d->type == NC_HP_FLOAT) *(float *)p = (float)x;
    else *(uint64_t *)p = v;
    return NC_OK;
}

/* Settings by name over nc_hparams_default (set by nc_checkpoint_init). */
static int d_hparams(const raw *r, nc_hparams *hp, const char *path, nc_err *e) {
    cursor k = {r->p, r->len, 0};
    uint32_t count = (uint32_t)cur_le(&k, 4);
    for (uint32_t i = 0; i < count && !k.bad; i++) {
        uint16_t nl = (uint16_t)cur_le(&k, 2);
        const uint8_t *name = cur_take(&k, nl);
        unsigned type = (unsigned)cur_le(&k, 1);
        uint64_t v = cur_le(&k, 8);
        if (k.bad || nl >= MAX_HP_NAME) continue; /* too long to be one of ours */
        char buf[MAX_HP_NAME];
        memcpy(buf, name, nl);
        buf[nl] = '\0';
        int rc = hp_apply(hp, buf, type, v, path, e);
        if (rc) return rc;
    }
    return k.bad || k.left ? bad_section(path, S_HPAR, e) : NC_OK;
}

/* The mirror of w_meta. */
static int d_meta(const raw *r, nc_train_meta *m, const char *path, nc_err *e) {
    if (r->len != META_BYTES) return bad_section(path, S_META, e);
    cursor k = {r->p, r->len, 0};
    m->model_version = cur_le(&k, 8);
    m->trained_at = bits_f64(cur_le(&k, 8));
    m->train_seconds = bits_f64(cur_le(&k, 8));
    m->data_watermark = (int64_t)cur_le(&k, 8);
    m->epochs_run = (int32_t)cur_le(&k, 4);
    m->best_epoch = (int32_t)cur_le(&k, 4);
    m->n_train = (int64_t)cur_le(&k, 8);
    m->n_valid = (int64_t)cur_le(&k, 8);
    m->n_test = (int64_t)cur_le(&k, 8);
    return NC_OK;
}

/* Metrics are matched by K, so a build with other K values keeps the ones both know. */
static int d_metrics(const raw *r, nc_metrics *valid, nc_metrics *test, const char *path,
                     nc_err *e) {
    cursor k = {r->p, r->len, 0};
    uint32_t nk = (uint32_t)cur_le(&k, 4);
    if (k.bad || r->len != 4 + 4 * (uint64_t)nk + 2 * (16 * (uint64_t)nk + 8))
        return bad_section(path, S_METR, e);
    int slot[64];
    if (nk > 64) return bad_section(path, S_METR, e);
    for (uint32_t i = 0; i < nk; i++) {
        int32_t K = (int32_t)cur_le(&k, 4);
        slot[i] = -1;
        for (int j = 0; j < NC_N_TOPK; j++)
            if (nc_topk_ks[j] == K) slot[i] = j;
    }
    nc_metrics *m[2] = {valid, test};
    for (int t = 0; t < 2; t++) {
        for (uint32_t i = 0; i < nk; i++) {
            double v = bits_f64(cur_le(&k, 8));
            if (slot[i] >= 0) m[t]->recall[slot[i]] = v;
        }
        for (uint32_t i = 0; i < nk; i++) {
            double v = bits_f64(cur_le(&k, 8));
            if (slot[i] >= 0) m[t]->ndcg[slot[i]] = v;
        }
        m[t]->n_users = (int64_t)cur_le(&k, 8);
    }
    return NC_OK;
}

/* Decoded first: every other section is checked against these numbers. */
static int d_dims(const raw *r, nc_checkpoint *c, const char *path, nc_err *e) {
    if (r->len != DIMS_BYTES) return bad_section(path, S_DIMS, e);
    cursor k = {r->p, r->len, 0};
    c->n_users = (int32_t)cur_le(&k, 4);
    c->n_items = (int32_t)cur_le(&k, 4);
    c->dim = (int32_t)cur_le(&k, 4);
    c->k_user = (int32_t)cur_le(&k, 4);
    c->k_item = (int32_t)cur_le(&k, 4);
    if (c->n_users < 0 || c->n_items < 0 || c->dim < 1 || c->k_user < 0 || c->k_item < 0)
        return nc_fail(e, NC_EFORMAT, "%s: inconsistent dimensions: n_users=%d n_items=%d "
                       "dim=%d k_user=%d k_item=%d", path, (int)c->n_users, (int)c->n_items,
                       (int)c->dim, (int)c->k_user, (int)c->k_item);
    return NC_OK;
}

/* Interns the stored ids in order, so internal id i is again the i-th id. */
static int d_ids(const raw *r, int s, int32_t n, nc_idmap *m, const char *path, nc_err *e) {
    cursor k = {r->p, r->len, 0};
    for (int32_t i = 0; i < n; i++) {
        uint32_t len = (uint32_t)cur_le(&k, 4);
        const uint8_t *id = cur_take(&k, len);
        if (k.bad)
            return nc_fail(e, NC_EFORMAT, "%s: inconsistent dimensions: section '%s' holds "
                           "%d ids, DIMS says %d", path, section_tag[s], (int)i, (int)n);
        int32_t got = -1;
        nc_err sub;
        int rc = nc_idmap_intern(m, (const char *)id, len, &got, &sub);
        if (rc)
            return nc_fail(e, rc == NC_ENOMEM ? rc : NC_EFORMAT, "%s: section '%s', id %d: %s",
                           path, section_tag[s], (int)i, sub.msg);
        if (got != i)
            return nc_fail(e, NC_EFORMAT, "%s: section '%s': id '%.*s' appears twice", path,
                           section_tag[s], (int)(len < 80 ? len : 80), (const char *)id);
    }
    if (k.left)
        return nc_fail(e, NC_EFORMAT, "%s: inconsistent dimensions: section '%s' holds more "
                       "than the %d ids DIMS says", path, section_tag[s], (int)n);
    return NC_OK;
}

/* Moves a payload of exactly count elements into *dst. optional: an empty payload is also
 * fine and leaves *dst NULL (assignments that were never computed). */
static int d_array(raw *r, int s, uint64_t count, void **dst, int optional, const char *path,
                   nc_err *e) {
    if (r->len != count * 4 && !(optional && r->len == 0))
        return nc_fail(e, NC_EFORMAT, "%s: inconsistent dimensions: section '%s' holds %llu "
                       "bytes, DIMS needs %llu", path, section_tag[s],
                       (unsigned long long)r->len, (unsigned long long)(count * 4));
    *dst = r->p;
    r->p = NULL;
    return NC_OK;
}

static int d_assign(const int32_t *a, int32_t n, int32_t k, int s, const char *path,
                    nc_err *e) {
    for (int32_t i = 0; a && i < n; i++)
        if (a[i] < -1 || a[i] >= k)
            return nc_fail(e, NC_EFORMAT, "%s: inconsistent dimensions: section '%s' puts row "
                           "%d in cluster %d of %d", path, section_tag[s], (int)i, (int)a[i],
                           (int)k);
    return NC_OK;
}

/* Every array against DIMS, then the assignments against k. */
static int d_arrays(raw *sec, nc_checkpoint *c, const char *path, nc_err *e) {
    uint64_t nu = (uint64_t)c->n_users, ni = (uint64_t)c->n_items, d = (uint64_t)c->dim;
    int rc = d_array(&sec[S_EMB0], S_EMB0, (nu + ni) * d, (void **)&c->E0, 0, path, e);
    if (!rc) rc = d_array(&sec[S_UEMB], S_UEMB, nu * d, (void **)&c->user_emb, 0, path, e);
    if (!rc) rc = d_array(&sec[S_IEMB], S_IEMB, ni * d, (void **)&c->item_emb, 0, path, e);
    if (!rc)
        rc = d_array(&sec[S_CENU], S_CENU, (uint64_t)c->k_user * d, (void **)&c->cent_user, 0,
                     path, e);
    if (!rc)
        rc = d_array(&sec[S_CENI], S_CENI, (uint64_t)c->k_item * d, (void **)&c->cent_item, 0,
                     path, e);
    if (!rc) rc = d_array(&sec[S_ASGU], S_ASGU, nu, (void **)&c->assign_user, 1, path, e);
    if (!rc) rc = d_array(&sec[S_ASGI], S_ASGI, ni, (void **)&c->assign_item, 1, path, e);
    if (!rc) rc = d_assign(c->assign_user, c->n_users, c->k_user, S_ASGU, path, e);
    if (!rc) rc = d_assign(c->assign_item, c->n_items, c->k_item, S_ASGI, path, e);
    return rc;
}

/* Step 2: every section present, then each decoded and checked against DIMS. */
static int d_all(raw *sec, nc_checkpoint *c, const char *path, nc_err *e) {
    for (int s = 0; s < S_COUNT; s++)
        if (!sec[s].present)
            return nc_fail(e, NC_EFORMAT, "%s: missing section '%s'", path, section_tag[s]);
    int rc = d_dims(&sec[S_DIMS], c, path, e);
    if (!rc) rc = d_hparams(&sec[S_HPAR], &c->hp, path, e);
    if (!rc && c->hp.embedding_size != c->dim)
        rc = nc_fail(e, NC_EFORMAT, "%s: inconsistent dimensions: embedding_size %d, dim %d",
                     path, (int)c->hp.embedding_size, (int)c->dim);
    if (!rc) rc = d_meta(&sec[S_META], &c->meta, path, e);
    if (!rc) rc = d_metrics(&sec[S_METR], &c->valid, &c->test, path, e);
    if (!rc) rc = d_ids(&sec[S_UIDS], S_UIDS, c->n_users, &c->users, path, e);
    if (!rc) rc = d_ids(&sec[S_IIDS], S_IIDS, c->n_items, &c->items, path, e);
    if (!rc) rc = d_arrays(sec, c, path, e);
    return rc;
}

int nc_checkpoint_read(const char *path, nc_checkpoint *c, nc_err *e) {
    nc_checkpoint_init(c);
    FILE *f = fopen(path, "rb");
    if (!f) return nc_fail(e, NC_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        int rc = nc_fail(e, NC_EIO, "%s: not a regular file", path);
        fclose(f);
        return rc;
    }
    reader r = {f, path, (int64_t)st.st_size, 0, 0, e};
    raw sec[S_COUNT];
    memset(sec, 0, sizeof sec);
    int rc = r_structure(&r, sec);
    fclose(f);
    if (rc == NC_OK) rc = d_all(sec, c, path, e);
    for (int s = 0; s < S_COUNT; s++) free(sec[s].p);
    if (rc) nc_checkpoint_free(c);
    return rc;
}
