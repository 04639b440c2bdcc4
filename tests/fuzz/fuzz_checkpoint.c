/* fuzz_checkpoint.c - libFuzzer harness for the checkpoint reader (core/checkpoint.c).
 *
 * The input is the bytes of a checkpoint file. A file whose bytes were changed almost never
 * passes the CRC-32 trailer, which would keep the fuzzer out of everything after it, so each
 * input is read twice: as it is, and (when it is long enough to have one) with its trailer
 * replaced by the right CRC of the bytes before it. Besides "no memory error", the harness
 * checks checkpoint.h's contract and aborts when it does not hold:
 *   - a refused file returns a negative code with a message, and leaves the struct freed;
 *   - an accepted file is self-consistent (id map sizes, arrays present, dim equal to
 *     embedding_size, assignments inside -1..k-1), nc_checkpoint_write accepts it, and the
 *     file it writes reads back to the same bytes of every field.
 * The written copy goes to a private file under /dev/shm (tmpfs, so fsync costs nothing) or
 * the temporary directory, and is removed at once. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "fuzz_util.h"

#define CKPT_MIN_BYTES 20 /* 16-byte header + 4-byte trailer */

/* A struct that nc_checkpoint_read left freed looks like a fresh nc_checkpoint_init. */
static void check_freed(const nc_checkpoint *c) {
    FUZZ_ASSERT(!c->E0 && !c->user_emb && !c->item_emb && !c->cent_user && !c->cent_item &&
                    !c->assign_user && !c->assign_item && c->users.n == 0 && c->items.n == 0 &&
                    c->n_users == 0 && c->n_items == 0,
                "refused checkpoint left arrays or ids behind");
}

/* Assignments name a centroid or are -1. */
static void check_assign(const int32_t *a, int32_t n, int32_t k, const char *what) {
    for (int32_t i = 0; a && i < n; i++)
        FUZZ_ASSERT(a[i] >= -1 && a[i] < k, "%s %d in cluster %d of %d", what, i, a[i], k);
}

/* What checkpoint.h promises about an accepted file. */
static void check_consistent(const nc_checkpoint *c) {
    FUZZ_ASSERT(c->n_users >= 0 && c->n_items >= 0 && c->dim >= 1 && c->k_user >= 0 &&
                    c->k_item >= 0,
                "dims %d %d %d %d %d", c->n_users, c->n_items, c->dim, c->k_user, c->k_item);
    FUZZ_ASSERT(c->dim == c->hp.embedding_size, "dim %d, embedding_size %d", c->dim,
                c->hp.embedding_size);
    FUZZ_ASSERT(c->users.n == (size_t)c->n_users && c->items.n == (size_t)c->n_items,
                "id maps %zu/%zu, dims %d/%d", c->users.n, c->items.n, c->n_users, c->n_items);
    int any = c->n_users + (int64_t)c->n_items > 0;
    FUZZ_ASSERT(!any || c->E0, "E0 missing");
    FUZZ_ASSERT(!c->n_users || c->user_emb, "user_emb missing");
    FUZZ_ASSERT(!c->n_items || c->item_emb, "item_emb missing");
    FUZZ_ASSERT(!c->k_user || c->cent_user, "cent_user missing");
    FUZZ_ASSERT(!c->k_item || c->cent_item, "cent_item missing");
    check_assign(c->assign_user, c->n_users, c->k_user, "user");
    check_assign(c->assign_item, c->n_items, c->k_item, "item");
    for (size_t k = 0; k < c->users.n; k++)
        FUZZ_ASSERT(nc_idmap_find(&c->users, c->users.ids[k], strlen(c->users.ids[k])) ==
                        (int32_t)k, "user id %zu does not find itself", k);
    for (size_t k = 0; k < c->items.n; k++)
        FUZZ_ASSERT(nc_idmap_find(&c->items, c->items.ids[k], strlen(c->items.ids[k])) ==
                        (int32_t)k, "item id %zu does not find itself", k);
}

/* Same bytes (NaN payloads included) for n floats or ints; NULL equals NULL only. */
static int same_bytes(const void *a, const void *b, size_t n) {
    if (!a || !b) return a == b;
    return memcmp(a, b, n) == 0;
}

/* Every field of a and b, bit for bit. */
static void check_same(const nc_checkpoint *a, const nc_checkpoint *b) {
    FUZZ_ASSERT(a->n_users == b->n_users && a->n_items == b->n_items && a->dim == b->dim &&
                    a->k_user == b->k_user && a->k_item == b->k_item,
                "dims changed in the round trip");
    for (const nc_hparam_desc *d = nc_hparam_table; d->name; d++)
        FUZZ_ASSERT(same_bytes((const char *)&a->hp + d->offset, (const char *)&b->hp + d->offset,
                               d->type == NC_HP_U64 ? 8 : 4),
                    "hyper-parameter %s changed in the round trip", d->name);
    const nc_train_meta *m = &a->meta, *w = &b->meta;
    FUZZ_ASSERT(m->model_version == w->model_version && same_bytes(&m->trained_at, &w->trained_at, 8)
                    && same_bytes(&m->train_seconds, &w->train_seconds, 8) &&
                    m->data_watermark == w->data_watermark && m->epochs_run == w->epochs_run &&
                    m->best_epoch == w->best_epoch && m->n_train == w->n_train &&
                    m->n_valid == w->n_valid && m->n_test == w->n_test,
                "training metadata changed in the round trip");
    const nc_metrics *ma[2] = {&a->valid, &a->test}, *mb[2] = {&b->valid, &b->test};
    for (int t = 0; t < 2; t++)
        FUZZ_ASSERT(same_bytes(ma[t]->recall, mb[t]->recall, sizeof ma[t]->recall) &&
                        same_bytes(ma[t]->ndcg, mb[t]->ndcg, sizeof ma[t]->ndcg) &&
                        ma[t]->n_users == mb[t]->n_users,
                    "metrics changed in the round trip");
    for (size_t k = 0; k < a->users.n; k++)
        FUZZ_ASSERT(!strcmp(a->users.ids[k], b->users.ids[k]), "user id %zu changed", k);
    for (size_t k = 0; k < a->items.n; k++)
        FUZZ_ASSERT(!strcmp(a->items.ids[k], b->items.ids[k]), "item id %zu changed", k);
    size_t nu = (size_t)a->n_users, ni = (size_t)a->n_items, d = (size_t)a->dim;
    FUZZ_ASSERT(same_bytes(a->E0, b->E0, (nu + ni) * d * 4) &&
                    same_bytes(a->user_emb, b->user_emb, nu * d * 4) &&
                    same_bytes(a->item_emb, b->item_emb, ni * d * 4) &&
                    same_bytes(a->cent_user, b->cent_user, (size_t)a->k_user * d * 4) &&
                    same_bytes(a->cent_item, b->cent_item, (size_t)a->k_item * d * 4) &&
                    same_bytes(a->assign_user, b->assign_user, nu * 4) &&
                    same_bytes(a->assign_item, b->assign_item, ni * 4),
                "an array changed in the round trip");
}

/* A private path for the written copy: tmpfs when there is one. */
static void scratch_path(char *buf, size_t cap) {
    struct stat st;
    const char *dir = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm"
                      : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(buf, cap, "%s/nclrec-fuzz-ckpt.%ld", dir, (long)getpid());
}

/* An accepted checkpoint is written again and read back unchanged. */
static void check_roundtrip(const nc_checkpoint *c) {
    char path[512];
    nc_err e;
    scratch_path(path, sizeof path);
    int rc = nc_checkpoint_write(path, c, &e);
    FUZZ_ASSERT(rc == NC_OK, "an accepted checkpoint cannot be written: %s", e.msg);
    nc_checkpoint back;
    rc = nc_checkpoint_read(path, &back, &e);
    unlink(path);
    FUZZ_ASSERT(rc == NC_OK, "a written checkpoint cannot be read: %s", e.msg);
    check_same(c, &back);
    nc_checkpoint_free(&back);
}

/* One read of data[0..n) with its contract checks. */
static void read_checked(const uint8_t *data, size_t n) {
    char path[64];
    int fd = fuzz_memfile(data, n, path, sizeof path);
    if (fd < 0) return;
    nc_checkpoint c;
    nc_err e;
    nc_err_clear(&e);
    int rc = nc_checkpoint_read(path, &c, &e);
    close(fd);
    if (rc != NC_OK) {
        FUZZ_ASSERT(rc < 0 && e.code == rc && e.msg[0], "refused: rc %d, code %d, '%s'", rc,
                    e.code, e.msg);
        check_freed(&c);
        return;
    }
    check_consistent(&c);
    check_roundtrip(&c);
    nc_checkpoint_free(&c);
}

/* libFuzzer entry: the input as it is, then with a correct trailer. Always returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    read_checked(data, n);
    if (n < CKPT_MIN_BYTES) return 0;
    uint8_t *fixed = malloc(n);
    FUZZ_ASSERT(fixed != NULL, "out of memory");
    memcpy(fixed, data, n);
    uint32_t crc = nc_crc32(0, fixed, n - 4);
    for (int i = 0; i < 4; i++) fixed[n - 4 + i] = (uint8_t)(crc >> (8 * i));
    if (memcmp(fixed, data, n) != 0) read_checked(fixed, n);
    free(fixed);
    return 0;
}
