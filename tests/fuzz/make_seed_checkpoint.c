/* make_seed_checkpoint.c - writes the seed corpus of fuzz_checkpoint.c: tiny valid checkpoints
 * made by nc_checkpoint_write, and damaged copies of one of them, each aimed at one check of
 * the reader (truncation, bad magic, other version, wrong lengths, inconsistent dimensions,
 * duplicate and unknown sections, out-of-range values). Copies whose damage is not about the
 * checksum get their CRC-32 trailer recomputed, so the reader gets past it.
 *
 * Usage: make_seed_checkpoint DIR   (run once; the output is committed under
 * tests/fuzz/corpus/checkpoint/, so the files only change when the format does.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

#define HEADER_BYTES 16
#define SECTION_HEADER_BYTES 12

/* A checkpoint of nu users, ni items, dim 4, k centroids per table, every field non-zero;
 * with_assign 0 leaves the optional assignments out. */
static int make_ckpt(nc_checkpoint *c, int nu, int ni, int k, int with_assign, nc_err *e) {
    nc_checkpoint_init(c);
    c->hp.embedding_size = 4;
    c->hp.num_clusters = k > 0 ? k : 1;
    c->meta = (nc_train_meta){7, 1.7e9, 3.5, 99, 12, 9, 30, 4, 4};
    for (int i = 0; i < NC_N_TOPK; i++) c->valid.recall[i] = c->test.ndcg[i] = 0.1 * (i + 1);
    c->valid.n_users = c->test.n_users = nu;
    c->n_users = nu, c->n_items = ni, c->dim = 4, c->k_user = k, c->k_item = k;
    char id[32];
    int32_t got;
    for (int i = 0; i < nu; i++) {
        snprintf(id, sizeof id, "user%d", i);
        if (nc_idmap_intern(&c->users, id, strlen(id), &got, e)) return e->code;
    }
    for (int i = 0; i < ni; i++) {
        snprintf(id, sizeof id, "item-\xc3\xa9%d", i);
        if (nc_idmap_intern(&c->items, id, strlen(id), &got, e)) return e->code;
    }
    size_t d = 4;
    c->E0 = nc_calloc((size_t)(nu + ni) * d + 1, 4, e);
    c->user_emb = nc_calloc((size_t)nu * d + 1, 4, e);
    c->item_emb = nc_calloc((size_t)ni * d + 1, 4, e);
    c->cent_user = nc_calloc((size_t)k * d + 1, 4, e);
    c->cent_item = nc_calloc((size_t)k * d + 1, 4, e);
    if (!c->E0 || !c->user_emb || !c->item_emb || !c->cent_user || !c->cent_item) return NC_ENOMEM;
    for (size_t i = 0; i < (size_t)(nu + ni) * d; i++) c->E0[i] = 0.25f * (float)i - 1;
    for (size_t i = 0; i < (size_t)nu * d; i++) c->user_emb[i] = 0.5f - 0.125f * (float)i;
    for (size_t i = 0; i < (size_t)ni * d; i++) c->item_emb[i] = 0.0625f * (float)i;
    for (size_t i = 0; i < (size_t)k * d; i++) c->cent_user[i] = c->cent_item[i] = 0.5f;
    if (with_assign && k > 0) {
        c->assign_user = nc_malloc((size_t)nu + 1, 4, e);
        c->assign_item = nc_malloc((size_t)ni + 1, 4, e);
        if (!c->assign_user || !c->assign_item) return NC_ENOMEM;
        for (int i = 0; i < nu; i++) c->assign_user[i] = i % k;
        for (int i = 0; i < ni; i++) c->assign_item[i] = i % (k + 1) - 1; /* some -1 */
    }
    return NC_OK;
}

/* Writes a checkpoint file through the real writer; returns 0 or prints why not. */
static int write_ckpt(const char *dir, const char *name, int nu, int ni, int k, int with_assign) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    nc_checkpoint c;
    nc_err e;
    int rc = make_ckpt(&c, nu, ni, k, with_assign, &e);
    if (!rc) rc = nc_checkpoint_write(path, &c, &e);
    nc_checkpoint_free(&c);
    if (rc) fprintf(stderr, "%s: %s\n", path, e.msg);
    return rc;
}

/* The whole file in a malloc'd buffer, or NULL. */
static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = NULL;
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (len >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1)) &&
        fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = len > 0 ? (size_t)len : 0;
    return buf;
}

/* Little-endian, as the format stores every integer. */
static void put32(uint8_t *b, uint32_t v) {
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}

/* The inverse of put32. */
static uint32_t get32(const uint8_t *b) {
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Offset of the 12-byte header of section tag in buf, or 0 when absent. */
static size_t find_section(const uint8_t *buf, size_t n, const char *tag) {
    size_t at = HEADER_BYTES;
    while (at + SECTION_HEADER_BYTES <= n - 4) {
        uint64_t len = get32(buf + at + 4) | (uint64_t)get32(buf + at + 8) << 32;
        if (!memcmp(buf + at, tag, 4)) return at;
        at += SECTION_HEADER_BYTES + (size_t)len;
    }
    return 0;
}

/* Writes buf[0..n) to DIR/name, first recomputing the trailer when fix_crc is set. */
static int emit(const char *dir, const char *name, uint8_t *buf, size_t n, int fix_crc) {
    if (fix_crc && n >= 4) put32(buf + n - 4, nc_crc32(0, buf, n - 4));
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(buf, 1, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) perror(path);
    return ok ? 0 : 1;
}

/* A copy of base with one 32-bit field changed, written with a fixed CRC. */
static int emit_patched(const char *dir, const char *name, const uint8_t *base, size_t n,
                        size_t off, uint32_t v) {
    uint8_t *b = malloc(n);
    if (!b) return 1;
    memcpy(b, base, n);
    put32(b + off, v);
    int rc = emit(dir, name, b, n, 1);
    free(b);
    return rc;
}

/* A copy of base with extra bytes spliced in at off (a whole extra section, say). */
static int emit_spliced(const char *dir, const char *name, const uint8_t *base, size_t n,
                        size_t off, const uint8_t *extra, size_t n_extra, int bump_sections) {
    uint8_t *b = malloc(n + n_extra);
    if (!b) return 1;
    memcpy(b, base, off);
    memcpy(b + off, extra, n_extra);
    memcpy(b + off + n_extra, base + off, n - off);
    if (bump_sections) put32(b + 12, get32(b + 12) + 1);
    int rc = emit(dir, name, b, n + n_extra, 1);
    free(b);
    return rc;
}

/* Damaged copies of the valid file base[0..n). */
static int emit_variants(const char *dir, const uint8_t *base, size_t n) {
    int bad = 0;
    uint8_t *b = malloc(n + 64);
    if (!b) return 1;
    size_t cuts[] = {0, 5, 15, 16, 27, n / 2, n - 5, n - 4, n - 1};
    const char *cut_names[] = {"trunc_empty", "trunc_magic", "trunc_header", "trunc_no_sections",
                               "trunc_section_header", "trunc_half", "trunc_before_trailer",
                               "trunc_no_trailer", "trunc_last_byte"};
    char name[64];
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        memcpy(b, base, cuts[i]);
        snprintf(name, sizeof name, "%s.ckpt", cut_names[i]);
        bad |= emit(dir, name, b, cuts[i], 0);
    }
    memcpy(b, base, n);
    b[n / 2] ^= 0x40; /* one flipped bit, trailer left as it was */
    bad |= emit(dir, "corrupt_flipped_bit.ckpt", b, n, 0);
    memcpy(b, base, n);
    memcpy(b, "NCLRECKQ", 8);
    bad |= emit(dir, "bad_magic.ckpt", b, n, 1);
    memcpy(b, base, n);
    memcpy(b + n, "garbage!", 8);
    bad |= emit(dir, "trailing_bytes.ckpt", b, n + 8, 1);
    bad |= emit_patched(dir, "version_2.ckpt", base, n, 8, 2);
    bad |= emit_patched(dir, "sections_0.ckpt", base, n, 12, 0);
    bad |= emit_patched(dir, "sections_huge.ckpt", base, n, 12, 0xffffffffu);
    size_t dims = find_section(base, n, "DIMS"), hpar = find_section(base, n, "HPAR");
    size_t emb0 = find_section(base, n, "EMB0"), uids = find_section(base, n, "UIDS");
    size_t asgu = find_section(base, n, "ASGU"), metr = find_section(base, n, "METR");
    if (!dims || !hpar || !emb0 || !uids || !asgu || !metr) {
        fprintf(stderr, "a section is missing from the valid file\n");
        free(b);
        return 1;
    }
    size_t pd = dims + SECTION_HEADER_BYTES;
    bad |= emit_patched(dir, "dims_more_users.ckpt", base, n, pd, get32(base + pd) + 1);
    bad |= emit_patched(dir, "dims_negative_items.ckpt", base, n, pd + 4, 0xffffffffu);
    bad |= emit_patched(dir, "dims_dim_zero.ckpt", base, n, pd + 8, 0);
    bad |= emit_patched(dir, "dims_dim_huge.ckpt", base, n, pd + 8, 0x7fffffffu);
    bad |= emit_patched(dir, "dims_k_huge.ckpt", base, n, pd + 12, 0x40000000u);
    bad |= emit_patched(dir, "emb0_length_huge.ckpt", base, n, emb0 + 4, 0xfffffff0u);
    bad |= emit_patched(dir, "emb0_length_64bit.ckpt", base, n, emb0 + 8, 1);
    bad |= emit_patched(dir, "emb0_tag_unknown.ckpt", base, n, emb0, 0x5a5a5a5au);
    bad |= emit_patched(dir, "uids_tag_is_iids.ckpt", base, n, uids, get32((const uint8_t *)"IIDS"));
    bad |= emit_patched(dir, "uids_first_length_huge.ckpt", base, n, uids + 12, 0xffffffffu);
    bad |= emit_patched(dir, "uids_first_length_zero.ckpt", base, n, uids + 12, 0);
    bad |= emit_patched(dir, "asgu_out_of_range.ckpt", base, n, asgu + 12, 1000);
    bad |= emit_patched(dir, "hpar_count_huge.ckpt", base, n, hpar + 12, 0x7fffffffu);
    bad |= emit_patched(dir, "metr_nk_huge.ckpt", base, n, metr + 12, 1000);
    /* the 12th byte of HPAR's first entry is its value: embedding_size out of range */
    bad |= emit_patched(dir, "hpar_first_value_huge.ckpt", base, n,
                        hpar + 12 + 4 + 2 + strlen("embedding_size") + 1, 0xfffffffbu);
    static const uint8_t unknown[] = {'Z', 'Z', 'Z', 'Z', 3, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c'};
    bad |= emit_spliced(dir, "unknown_section.ckpt", base, n, HEADER_BYTES, unknown,
                        sizeof unknown, 1);
    uint64_t dlen = get32(base + dims + 4);
    bad |= emit_spliced(dir, "duplicate_dims.ckpt", base, n, dims, base + dims,
                        SECTION_HEADER_BYTES + (size_t)dlen, 1);
    free(b);
    return bad;
}

/* Valid files first (through the real writer), then the damaged copies of valid_small. */
int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int bad = write_ckpt(dir, "valid_small.ckpt", 3, 4, 2, 1);
    bad |= write_ckpt(dir, "valid_no_assign.ckpt", 2, 2, 1, 0);
    bad |= write_ckpt(dir, "valid_no_clusters.ckpt", 1, 1, 0, 0);
    bad |= write_ckpt(dir, "valid_empty.ckpt", 0, 0, 0, 0);
    if (bad) return 1;
    char path[1024];
    snprintf(path, sizeof path, "%s/valid_small.ckpt", dir);
    size_t n = 0;
    uint8_t *base = slurp(path, &n);
    if (!base || n < 64) {
        fprintf(stderr, "%s: cannot read it back\n", path);
        free(base);
        return 1;
    }
    bad = emit_variants(dir, base, n);
    free(base);
    return bad ? 1 : 0;
}
