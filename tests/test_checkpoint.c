/* test_checkpoint.c - nc_checkpoint: every field survives a round trip; every kind of damage
 * is refused with the message checkpoint.h promises (truncation at every length, every
 * flipped byte, bad magic, future version, absurd lengths, inconsistent dimensions, empty or
 * missing file) and leaves the struct freed; hyper-parameters are stored by name (unknown
 * names and sections are skipped, missing ones keep defaults); a failed write leaves the
 * previous file intact and no temp file behind. Files live in a fresh directory under /tmp. */
#include "checkpoint.h"
#include "testhelp.h"

#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

/* A path inside the test's private directory (four rotating buffers, so two can be live). */
static const char *in_dir(const char *name) {
    static char buf[4][512];
    static int slot;
    char *p = buf[slot++ & 3];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

/* ============================== building and comparing ============================== */

static void fill(float *x, size_t n, nc_rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(2 * nc_rng_uniform(r) - 1);
}

/* A small checkpoint with every field set to something other than its zero/default. */
static void make_ckpt(nc_checkpoint *c, int nu, int ni, int dim, int ku, int ki, uint64_t seed) {
    nc_rng r;
    nc_rng_seed(&r, seed);
    nc_err e;
    nc_checkpoint_init(c);
    c->hp.embedding_size = dim;
    c->hp.ssl_temp = 0.05f;
    c->hp.num_clusters = ku > 0 ? ku : 1;
    c->hp.proto_reg = 1.25e-7f;
    c->hp.seed = 0xfedcba9876543210ULL;
    c->meta = (nc_train_meta){42, 1.7e9 + 0.25, 12.5, 1234567, 33, 21, 1000, 100, 99};
    for (int i = 0; i < NC_N_TOPK; i++) {
        c->valid.recall[i] = 0.1 * (i + 1), c->valid.ndcg[i] = 0.05 * (i + 1);
        c->test.recall[i] = 0.11 * (i + 1), c->test.ndcg[i] = 0.06 * (i + 1);
    }
    c->valid.n_users = nu - 1, c->test.n_users = nu - 2;
    c->n_users = nu, c->n_items = ni, c->dim = dim, c->k_user = ku, c->k_item = ki;
    char id[64];
    int32_t got;
    for (int i = 0; i < nu; i++) {
        snprintf(id, sizeof id, "user-%d-\xc3\xa9", i * 7); /* UTF-8 is just bytes */
        nc_idmap_intern(&c->users, id, strlen(id), &got, &e);
    }
    for (int i = 0; i < ni; i++) {
        snprintf(id, sizeof id, "i%d", i);
        nc_idmap_intern(&c->items, id, strlen(id), &got, &e);
    }
    c->E0 = malloc(sizeof(float) * (size_t)(nu + ni) * dim + 1);
    c->user_emb = malloc(sizeof(float) * (size_t)nu * dim + 1);
    c->item_emb = malloc(sizeof(float) * (size_t)ni * dim + 1);
    fill(c->E0, (size_t)(nu + ni) * dim, &r);
    fill(c->user_emb, (size_t)nu * dim, &r);
    fill(c->item_emb, (size_t)ni * dim, &r);
    if (ku) {
        c->cent_user = malloc(sizeof(float) * (size_t)ku * dim);
        fill(c->cent_user, (size_t)ku * dim, &r);
        c->assign_user = malloc(sizeof(int32_t) * (size_t)nu + 1);
        for (int i = 0; i < nu; i++) c->assign_user[i] = (int32_t)nc_rng_below(&r, ku + 1) - 1;
    }
    if (ki) {
        c->cent_item = malloc(sizeof(float) * (size_t)ki * dim);
        fill(c->cent_item, (size_t)ki * dim, &r);
        c->assign_item = malloc(sizeof(int32_t) * (size_t)ni + 1);
        for (int i = 0; i < ni; i++) c->assign_item[i] = (int32_t)nc_rng_below(&r, ki);
    }
}

/* Two NULL arrays (or empty ones) are equal: that is how a checkpoint without them reads. */
static int arrays_equal(const void *a, const void *b, size_t bytes) {
    if (!a || !b) return a == b || bytes == 0;
    return memcmp(a, b, bytes) == 0;
}

/* Field by field, naming the first one that differs. */
static void check_equal(const nc_checkpoint *a, const nc_checkpoint *b) {
    for (const nc_hparam_desc *d = nc_hparam_table; d->name; d++)
        CHECK(nc_hparam_get(&a->hp, d) == nc_hparam_get(&b->hp, d), "hp %s", d->name);
    CHECK(a->hp.seed == b->hp.seed, "hp seed (all 64 bits)");
    CHECK(!memcmp(&a->meta, &b->meta, sizeof a->meta), "meta");
    CHECK(!memcmp(&a->valid, &b->valid, sizeof a->valid), "valid metrics");
    CHECK(!memcmp(&a->test, &b->test, sizeof a->test), "test metrics");
    CHECK(a->n_users == b->n_users && a->n_items == b->n_items && a->dim == b->dim, "dims");
    CHECK(a->k_user == b->k_user && a->k_item == b->k_item, "k");
    CHECK(a->users.n == b->users.n && a->items.n == b->items.n, "id map sizes");
    for (size_t i = 0; i < a->users.n && i < b->users.n; i++)
        CHECK(!strcmp(a->users.ids[i], b->users.ids[i]), "user id %zu", i);
    for (size_t i = 0; i < a->items.n && i < b->items.n; i++)
        CHECK(!strcmp(a->items.ids[i], b->items.ids[i]), "item id %zu", i);
    if (a->users.n)
        CHECK(nc_idmap_find(&b->users, a->users.ids[0], strlen(a->users.ids[0])) == 0,
              "read map is searchable");
    size_t nu = (size_t)a->n_users, ni = (size_t)a->n_items, d = (size_t)a->dim;
    CHECK(arrays_equal(a->E0, b->E0, 4 * (nu + ni) * d), "E0");
    CHECK(arrays_equal(a->user_emb, b->user_emb, 4 * nu * d), "user_emb");
    CHECK(arrays_equal(a->item_emb, b->item_emb, 4 * ni * d), "item_emb");
    CHECK(arrays_equal(a->cent_user, b->cent_user, 4 * (size_t)a->k_user * d), "cent_user");
    CHECK(arrays_equal(a->cent_item, b->cent_item, 4 * (size_t)a->k_item * d), "cent_item");
    CHECK(!a->assign_user == !b->assign_user && arrays_equal(a->assign_user, b->assign_user,
                                                             4 * nu), "assign_user");
    CHECK(!a->assign_item == !b->assign_item && arrays_equal(a->assign_item, b->assign_item,
                                                             4 * ni), "assign_item");
}

/* A struct that nc_checkpoint_read left "freed": nothing to leak, nothing dangling. */
static int is_freed(const nc_checkpoint *c) {
    return !c->E0 && !c->user_emb && !c->item_emb && !c->cent_user && !c->cent_item &&
           !c->assign_user && !c->assign_item && c->users.n == 0 && !c->users.ids &&
           c->items.n == 0 && c->n_users == 0 && c->dim == 0;
}

/* ============================== file helpers ============================== */

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return b;
}

/* Writes a forged file directly, bypassing the code under test. */
static void spit(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        if (n) fwrite(b, 1, n, f);
        fclose(f);
    }
}

/* Reads path expecting failure with code and a message containing want. */
static void expect_refused(const char *path, int code, const char *want, const char *what) {
    nc_checkpoint c;
    nc_err e;
    e.msg[0] = 0;
    int rc = nc_checkpoint_read(path, &c, &e);
    CHECK(rc == code && strstr(e.msg, want), "%s: rc %d, want %d, message '%s' lacks '%s'",
          what, rc, code, e.msg, want);
    CHECK(is_freed(&c), "%s: struct not left freed", what);
}

/* Files in dir whose name contains ".tmp.", i.e. leftovers of a write. */
static int count_temp_files(void) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *de; d && (de = readdir(d));) n += strstr(de->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return n;
}

/* ===== a tiny independent parser/serialiser, to forge files that differ in one place ===== */

typedef struct tsec {
    uint32_t tag;
    uint64_t len;
    uint8_t *p; /* borrowed from the parsed buffer or owned by the test */
} tsec;

typedef struct tfile {
    uint32_t version;
    int n;
    tsec s[32];
} tfile;

static uint32_t rd32(const uint8_t *b) { uint32_t v; memcpy(&v, b, 4); return v; }
static uint64_t rd64(const uint8_t *b) { uint64_t v; memcpy(&v, b, 8); return v; }

/* Splits a file the code under test wrote; 0 if the layout is as checkpoint.h says. */
static int tf_parse(uint8_t *b, size_t n, tfile *t) {
    if (n < 20 || memcmp(b, "NCLRECKP", 8)) return -1;
    t->version = rd32(b + 8);
    t->n = (int)rd32(b + 12);
    size_t pos = 16;
    for (int i = 0; i < t->n; i++) {
        t->s[i].tag = rd32(b + pos);
        t->s[i].len = rd64(b + pos + 4);
        t->s[i].p = b + pos + 12;
        pos += 12 + t->s[i].len;
    }
    return pos + 4 == n ? 0 : -1;
}

/* Serialises t with a correct CRC into a malloc'ed buffer. */
static uint8_t *tf_build(const tfile *t, size_t *n) {
    size_t cap = 20;
    for (int i = 0; i < t->n; i++) cap += 12 + t->s[i].len;
    uint8_t *b = malloc(cap), *p = b;
    memcpy(p, "NCLRECKP", 8), p += 8;
    memcpy(p, &t->version, 4), p += 4;
    uint32_t ns = (uint32_t)t->n;
    memcpy(p, &ns, 4), p += 4;
    for (int i = 0; i < t->n; i++) {
        memcpy(p, &t->s[i].tag, 4), memcpy(p + 4, &t->s[i].len, 8), p += 12;
        memcpy(p, t->s[i].p, t->s[i].len), p += t->s[i].len;
    }
    uint32_t crc = nc_crc32(0, b, (size_t)(p - b));
    memcpy(p, &crc, 4), p += 4;
    *n = (size_t)(p - b);
    return b;
}

/* Index of the section with this tag, -1 if absent. */
static int tf_find(const tfile *t, const char *tag) {
    for (int i = 0; i < t->n; i++)
        if (!memcmp(&t->s[i].tag, tag, 4)) return i;
    return -1;
}

/* Writes the reference checkpoint, parses it into *t and returns the raw bytes. */
static uint8_t *reference_file(const char *name, nc_checkpoint *c, tfile *t, size_t *n) {
    nc_err e;
    make_ckpt(c, 5, 4, 3, 2, 2, 9);
    CHECK(nc_checkpoint_write(in_dir(name), c, &e) == NC_OK, "write: %s", e.msg);
    uint8_t *b = slurp(in_dir(name), n);
    CHECK(b && tf_parse(b, *n, t) == 0, "test parser cannot read the file");
    return b;
}

/* ============================== tests ============================== */

static void test_crc32_known_value(void) {
    CHECK(nc_crc32(0, "123456789", 9) == 0xCBF43926u, "check value %08x",
          nc_crc32(0, "123456789", 9));
    CHECK(nc_crc32(nc_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u, "chained");
    CHECK(nc_crc32(0, "", 0) == 0, "empty");
}

static void test_round_trip(void) {
    nc_checkpoint a, b, z, zb;
    nc_err e;
    make_ckpt(&a, 37, 23, 8, 4, 3, 1);
    int rc = nc_checkpoint_write(in_dir("rt.ckpt"), &a, &e);
    CHECK(rc == NC_OK, "write: %s", e.msg);
    rc = nc_checkpoint_read(in_dir("rt.ckpt"), &b, &e);
    CHECK(rc == NC_OK, "read: %s", e.msg);
    if (rc == NC_OK) check_equal(&a, &b);
    CHECK(count_temp_files() == 0, "temp file left after a successful write");
    /* overwrite in place with no centroids or assignments, items only */
    make_ckpt(&z, 0, 6, 4, 0, 0, 2);
    CHECK(nc_checkpoint_write(in_dir("rt.ckpt"), &z, &e) == NC_OK, "write 2: %s", e.msg);
    rc = nc_checkpoint_read(in_dir("rt.ckpt"), &zb, &e);
    CHECK(rc == NC_OK, "read 2: %s", e.msg);
    if (rc == NC_OK) check_equal(&z, &zb);
    CHECK(!zb.assign_user && !zb.cent_user && zb.k_user == 0, "no clusters read back");
    nc_checkpoint_free(&a), nc_checkpoint_free(&b), nc_checkpoint_free(&z);
    nc_checkpoint_free(&zb);
    CHECK(is_freed(&a), "free leaves an initialised struct");
}

static void test_truncated_at_every_length(void) {
    nc_checkpoint c;
    tfile t;
    size_t n = 0;
    uint8_t *b = reference_file("ref.ckpt", &c, &t, &n);
    int bad = 0;
    char want[64];
    for (size_t len = 0; b && len < n; len++) {
        spit(in_dir("cut.ckpt"), b, len);
        nc_checkpoint r;
        nc_err e;
        int rc = nc_checkpoint_read(in_dir("cut.ckpt"), &r, &e);
        snprintf(want, sizeof want, len ? "truncated at byte %zu" : "empty file", len);
        if (rc != NC_EFORMAT || !strstr(e.msg, want) || !is_freed(&r)) {
            if (bad++ < 5)
                fprintf(stderr, "  cut at %zu: rc %d '%s', want '%s'\n", len, rc, e.msg, want);
        }
    }
    CHECK(bad == 0, "%d of %zu truncations not reported as such", bad, n);
    free(b);
    nc_checkpoint_free(&c);
}

static void test_every_flipped_byte_is_refused(void) {
    nc_checkpoint c;
    tfile t;
    size_t n = 0;
    uint8_t *b = reference_file("ref.ckpt", &c, &t, &n);
    int accepted = 0, crc_msgs = 0;
    for (size_t i = 0; b && i < n; i++) {
        b[i] ^= 0x10;
        spit(in_dir("flip.ckpt"), b, n);
        b[i] ^= 0x10;
        nc_checkpoint r;
        nc_err e;
        int rc = nc_checkpoint_read(in_dir("flip.ckpt"), &r, &e);
        accepted += rc != NC_EFORMAT || !is_freed(&r);
        crc_msgs += strstr(e.msg, "checksum mismatch (corrupted)") != NULL;
    }
    CHECK(accepted == 0, "%d of %zu single-byte corruptions not refused", accepted, n);
    /* a byte inside a payload, and the trailer itself, are checksum failures */
    int s = tf_find(&t, "EMB0");
    size_t at = s >= 0 ? (size_t)(t.s[s].p - b) + 5 : 0;
    b[at] ^= 1;
    spit(in_dir("flip.ckpt"), b, n);
    b[at] ^= 1;
    expect_refused(in_dir("flip.ckpt"), NC_EFORMAT, "checksum mismatch (corrupted)", "E0 byte");
    b[n - 1] ^= 0x80;
    spit(in_dir("flip.ckpt"), b, n);
    expect_refused(in_dir("flip.ckpt"), NC_EFORMAT, "checksum mismatch (corrupted)", "trailer");
    CHECK(crc_msgs > (int)n / 2, "only %d of %zu flips reported as checksum mismatch", crc_msgs,
          n);
    free(b);
    nc_checkpoint_free(&c);
}

static void test_bad_magic_and_foreign_files(void) {
    nc_checkpoint c;
    tfile t;
    size_t n = 0;
    uint8_t *b = reference_file("ref.ckpt", &c, &t, &n);
    if (b) {
        memcpy(b, "GGUF\0\0\0\3", 8);
        spit(in_dir("magic.ckpt"), b, n);
    }
    expect_refused(in_dir("magic.ckpt"), NC_EFORMAT, "not an nclrec checkpoint", "bad magic");
    spit(in_dir("text.ckpt"), "user,item\n1,2\n", 14);
    expect_refused(in_dir("text.ckpt"), NC_EFORMAT, "not an nclrec checkpoint", "text file");
    spit(in_dir("short.ckpt"), "NCLR", 4);
    expect_refused(in_dir("short.ckpt"), NC_EFORMAT, "truncated at byte 4", "magic prefix");
    spit(in_dir("empty.ckpt"), "", 0);
    expect_refused(in_dir("empty.ckpt"), NC_EFORMAT, "empty file", "empty file");
    expect_refused(in_dir("missing.ckpt"), NC_EIO, "No such file", "missing file");
    expect_refused(dir, NC_EIO, "not a regular file", "a directory");
    free(b);
    nc_checkpoint_free(&c);
}

static void test_future_version(void) {
    nc_checkpoint c;
    tfile t;
    size_t n = 0, m = 0;
    uint8_t *b = reference_file("ref.ckpt", &c, &t, &n);
    t.version = 2; /* with a correct CRC: only the version is wrong */
    uint8_t *f = tf_build(&t, &m);
    spit(in_dir("v2.ckpt"), f, m);
    expect_refused(in_dir("v2.ckpt"), NC_EFORMAT, "format version 2, this build reads 1", "v2");
    free(f), free(b);
    nc_checkpoint_free(&c);
}

/* A length that claims more than the file holds must be refused before any allocation. */
static void test_huge_length_claims(void) {
    nc_checkpoint c;
    tfile t;
    size_t n = 0;
    uint8_t *b = reference_file("ref.ckpt", &c, &t, &n);
    int s = tf_find(&t, "EMB0");
    CHECK(s >= 0, "no EMB0 section");
    if (b && s >= 0) {
        uint8_t *len_field = t.s[s].p - 8;
        uint64_t huge[2] = {1ULL << 40, ~0ULL};
        for (int i = 0; i < 2; i++) {
            memcpy(len_field, &huge[i], 8);
            uint32_t crc = nc_crc32(0, b, n - 4); /* even with a matching checksum */
            memcpy(b + n - 4, &crc, 4);
            spit(in_dir("huge.ckpt"), b, n);
            char want[64];
            snprintf(want, sizeof want, "claims %llu bytes", (unsigned long long)huge[i]);
            expect_refused(in_dir("huge.ckpt"), NC_EFORMAT, want, "huge length");
            expect_refused(in_dir("huge.ckpt"), NC_EFORMAT, "truncated at byte", "huge length");
        }
    }
    free(b);
    nc_checkpoint_free(&c);
}

/* DIMS disagreeing with the arrays (with a valid CRC) is refused, not read out of bounds. */
static void test_inconsistent_dimensions(void) {
    nc_checkpoint c;
    tfile t;
    size_t n = 0, m = 0;
    uint8_t *b = reference_file("ref.ckpt", &c, &t, &n);
    int s = tf_find(&t, "DIMS");
    CHECK(s >= 0, "no DIMS section");
    for (int field = 0; b && s >= 0 && field < 5; field++) {
        uint8_t *p = t.s[s].p + 4 * field;
        int32_t old;
        memcpy(&old, p, 4);
        int32_t v = old + 1;
        memcpy(p, &v, 4);
        uint8_t *f = tf_build(&t, &m);
        memcpy(p, &old, 4);
        spit(in_dir("dims.ckpt"), f, m);
        free(f);
        expect_refused(in_dir("dims.ckpt"), NC_EFORMAT, "inconsistent dimensions", "DIMS + 1");
    }
    free(b);
    nc_checkpoint_free(&c);
}

/* Adds an 8-byte int setting to an HPAR payload being rebuilt. */
static uint8_t *hp_entry(uint8_t *p, const char *name, uint8_t type, uint64_t v) {
    uint16_t nl = (uint16_t)strlen(name);
    memcpy(p, &nl, 2), memcpy(p + 2, name, nl), p[2 + nl] = type, memcpy(p + 3 + nl, &v, 8);
    return p + 11 + nl;
}

/* A file from an older build lacks a setting (default kept); one from a newer build has an
 * extra setting and an extra section (both skipped). */
static void test_settings_by_name_and_unknown_sections(void) {
    nc_checkpoint c, r;
    tfile t;
    size_t n = 0, m = 0;
    nc_err e;
    uint8_t *b = reference_file("ref.ckpt", &c, &t, &n);
    int s = tf_find(&t, "HPAR");
    uint8_t hp[4096], *p = hp + 4, extra[7] = "future";
    uint32_t count = 0;
    for (const nc_hparam_desc *d = nc_hparam_table; d->name; d++) {
        if (!strcmp(d->name, "ssl_temp")) continue; /* "older build" */
        double x = nc_hparam_get(&c.hp, d);
        uint64_t v;
        if (d->type == NC_HP_FLOAT) memcpy(&v, &x, 8);
        else if (d->type == NC_HP_U64) v = c.hp.seed;
        else v = (uint64_t)(int64_t)x;
        p = hp_entry(p, d->name, (uint8_t)d->type, v), count++;
    }
    p = hp_entry(p, "future_knob", 0, 5), count++;
    memcpy(hp, &count, 4);
    if (b && s >= 0) {
        t.s[s].p = hp, t.s[s].len = (uint64_t)(p - hp);
        t.s[t.n++] = (tsec){0x5a5a5a5a, sizeof extra, extra}; /* "ZZZZ" */
        uint8_t *f = tf_build(&t, &m);
        spit(in_dir("compat.ckpt"), f, m);
        free(f);
    }
    int rc = nc_checkpoint_read(in_dir("compat.ckpt"), &r, &e);
    CHECK(rc == NC_OK, "read: %s", e.msg);
    nc_hparams def;
    nc_hparams_default(&def);
    CHECK(r.hp.ssl_temp == def.ssl_temp, "missing setting keeps its default: %g", r.hp.ssl_temp);
    CHECK(r.hp.proto_reg == c.hp.proto_reg && r.hp.seed == c.hp.seed, "others read");
    c.hp.ssl_temp = def.ssl_temp;
    if (rc == NC_OK) check_equal(&c, &r);
    nc_checkpoint_free(&r);
    /* a known setting out of its range (valid CRC) is refused */
    if (b && s >= 0) {
        hp_entry(hp + 4, "embedding_size", 0, (uint64_t)-5); /* overwrite the first entry */
        uint8_t *f = tf_build(&t, &m);
        spit(in_dir("compat.ckpt"), f, m);
        free(f);
    }
    expect_refused(in_dir("compat.ckpt"), NC_EFORMAT, "embedding_size = -5", "range");
    free(b);
    nc_checkpoint_free(&c);
}

/* A directory no one may create files in, root included: sysfs or procfs, whichever is
 * mounted (a chroot may have neither at /sys); NULL when neither is. */
static const char *pseudo_fs_dir(void) {
    struct statfs sf;
    if (statfs("/sys", &sf) == 0 && sf.f_type == SYSFS_MAGIC) return "/sys";
    if (statfs("/proc", &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC) return "/proc";
    return NULL;
}

static void test_unwritable_places(void) {
    nc_checkpoint c;
    nc_err e;
    make_ckpt(&c, 3, 3, 2, 0, 0, 4);
    const char *dir = pseudo_fs_dir();
    CHECK(dir, "could not set up the pseudo-file-system check: neither sysfs at /sys nor procfs at /proc is mounted");
    if (dir) {
        char path[64], want[80];
        snprintf(path, sizeof path, "%s/nclrec-test.ckpt", dir);
        snprintf(want, sizeof want, "%s.tmp.", path);
        int rc = nc_checkpoint_write(path, &c, &e); /* even for root */
        CHECK(rc == NC_EIO && strstr(e.msg, want), "%s: rc %d %s", dir, rc, e.msg);
    }
    int rc;
    rc = nc_checkpoint_write(in_dir("no/such/dir/m.ckpt"), &c, &e);
    CHECK(rc == NC_EIO && strstr(e.msg, "No such file"), "missing dir: rc %d %s", rc, e.msg);
    spit(in_dir("plainfile"), "x", 1);
    rc = nc_checkpoint_write(in_dir("plainfile/m.ckpt"), &c, &e);
    CHECK(rc == NC_EIO && strstr(e.msg, "Not a directory"), "file as dir: rc %d %s", rc, e.msg);
    if (geteuid() != 0) { /* root ignores directory permissions */
        mkdir(in_dir("ro"), 0555);
        rc = nc_checkpoint_write(in_dir("ro/m.ckpt"), &c, &e);
        CHECK(rc == NC_EIO && strstr(e.msg, "Permission denied"), "ro: rc %d %s", rc, e.msg);
        rmdir(in_dir("ro"));
    }
    unlink(in_dir("plainfile"));
    nc_checkpoint_free(&c);
}

/* In a child limited to 4 KiB files, writing a bigger model fails half way (EFBIG): the
 * previous file must still read back unchanged and no temp file may remain. */
static void test_failed_write_keeps_previous_file(void) {
    nc_checkpoint old, big, r;
    nc_err e;
    const char *path = in_dir("keep.ckpt");
    make_ckpt(&old, 4, 4, 2, 1, 1, 5);
    CHECK(nc_checkpoint_write(path, &old, &e) == NC_OK, "first write: %s", e.msg);
    make_ckpt(&big, 200, 200, 16, 4, 4, 6); /* ~50 KB */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit lim = {4096, 4096};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &lim);
        int rc = nc_checkpoint_write(path, &big, &e);
        _exit(rc == NC_EIO && strstr(e.msg, "File too large") ? 0 : 1);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child's write did not fail with EFBIG");
    int rc = nc_checkpoint_read(path, &r, &e);
    CHECK(rc == NC_OK, "previous file unreadable: %s", e.msg);
    if (rc == NC_OK) check_equal(&old, &r);
    CHECK(count_temp_files() == 0, "temp file left behind");
    nc_checkpoint_free(&r);
    /* a checkpoint the writer refuses never touches the file either */
    big.n_users = 3;
    CHECK(nc_checkpoint_write(path, &big, &e) == NC_EINVAL && strstr(e.msg, "id maps"),
          "inconsistent checkpoint written: %s", e.msg);
    rc = nc_checkpoint_read(path, &r, &e);
    CHECK(rc == NC_OK, "previous file unreadable: %s", e.msg);
    nc_checkpoint_free(&r);
    big.n_users = 200;
    big.assign_user[7] = 4;
    CHECK(nc_checkpoint_write(path, &big, &e) == NC_EINVAL && strstr(e.msg, "user 7"),
          "bad assignment written: %s", e.msg);
    nc_checkpoint_free(&old), nc_checkpoint_free(&big);
}

/* Removes every file made here, then the directory. */
static void cleanup(void) {
    DIR *d = opendir(dir);
    for (struct dirent *de; d && (de = readdir(d));)
        if (de->d_name[0] != '.') unlink(in_dir(de->d_name));
    if (d) closedir(d);
    rmdir(dir);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/nclrec-ckpt-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_crc32_known_value);
    RUN(test_round_trip);
    RUN(test_truncated_at_every_length);
    RUN(test_every_flipped_byte_is_refused);
    RUN(test_bad_magic_and_foreign_files);
    RUN(test_future_version);
    RUN(test_huge_length_claims);
    RUN(test_inconsistent_dimensions);
    RUN(test_settings_by_name_and_unknown_sections);
    RUN(test_unwritable_places);
    RUN(test_failed_write_keeps_previous_file);
    cleanup();
    return TEST_REPORT();
}
