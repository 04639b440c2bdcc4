/* test_train_weights.c - the trainer's weighted positives (core/train.c): all weights 1 give
 * the unweighted trainer's numbers bit for bit (every epoch's losses, E0, the serving
 * embeddings, the metrics), other weights repeat pairs in the batches and change the model,
 * and pairs of weight 0 are left out. A short training of a small generated set, one thread
 * (so the floating-point sums run in one order), the same seed everywhere. */
#include "synth.h"
#include "testhelp.h"
#include "train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPOCHS 4

/* What a run reports: each epoch's mean loss terms and the trainer's notes. */
typedef struct record {
    double loss[EPOCHS][4];
    int32_t epochs;
    char notes[2048];
} record;

static int keep(const nc_progress *p, void *ctx) {
    record *r = ctx;
    if (p->phase == NC_PHASE_LOG && p->message) {
        size_t n = strlen(r->notes);
        snprintf(r->notes + n, sizeof r->notes - n, "%s\n", p->message);
    } else if (p->phase == NC_PHASE_EPOCH_END && p->epoch < EPOCHS) {
        double *l = r->loss[p->epoch];
        l[0] = p->bpr, l[1] = p->reg, l[2] = p->ssl, l[3] = p->proto;
        if (p->epoch + 1 > r->epochs) r->epochs = p->epoch + 1;
    }
    return 0;
}

/* A 300 x 200 generated set split 80/10/10. */
static int small_set(nc_dataset *d) {
    nc_synth_opts so;
    nc_synth_default(&so);
    so.n_users = 300;
    so.n_items = 200;
    so.mean_per_user = 12;
    nc_err e;
    const double ratios[3] = {0.8, 0.1, 0.1};
    nc_dataset_init(d);
    int rc = nc_synth_dataset(&so, ratios, 2020, d, &e);
    if (rc) fprintf(stderr, "synth: %s\n", e.msg);
    return rc;
}

/* EPOCHS epochs with the proto term on from epoch 1, one thread; fills *ck and *r. */
static int train_it(const nc_dataset *d, nc_checkpoint *ck, record *r) {
    nc_train_opts o;
    memset(&o, 0, sizeof o);
    nc_hparams_default(&o.hp);
    o.hp.epochs = EPOCHS;
    o.hp.min_epochs = 0;
    o.hp.warm_up_step = 1;
    o.hp.num_clusters = 10;
    o.hp.embedding_size = 16;
    o.hp.train_batch_size = 256;
    o.hp.threads = 1;
    memset(r, 0, sizeof *r);
    o.progress = keep;
    o.progress_ctx = r;
    nc_err e;
    int rc = nc_train(d, &o, ck, &e);
    if (rc) fprintf(stderr, "train: %s\n", e.msg);
    return rc;
}

/* Gives d's training rows an explicit weight array filled with w. */
static void set_weights(nc_dataset *d, uint8_t w) {
    free(d->train.w);
    d->train.w = malloc(d->train.cap);
    if (!d->train.w) exit(2);
    memset(d->train.w, w, d->train.cap);
}

static int same_floats(const float *a, const float *b, size_t n) {
    return a && b && !memcmp(a, b, n * sizeof *a);
}

/* The generated set and its unweighted run, which the other runs are compared with. */
static void baseline(nc_dataset *d, nc_checkpoint *a, record *ra) {
    if (small_set(d) || train_it(d, a, ra)) {
        fprintf(stderr, "the unweighted run failed\n");
        exit(2);
    }
    set_weights(d, 1);
}

static void test_all_ones_is_the_unweighted_run(void) {
    nc_dataset d;
    nc_checkpoint a, b;
    record ra, rb;
    baseline(&d, &a, &ra);
    CHECK(train_it(&d, &b, &rb) == 0, "all-ones run failed");
    CHECK(ra.epochs == EPOCHS && rb.epochs == EPOCHS, "epochs %d %d", ra.epochs, rb.epochs);
    CHECK(!memcmp(ra.loss, rb.loss, sizeof ra.loss), "losses differ: bpr %.17g vs %.17g",
          ra.loss[EPOCHS - 1][0], rb.loss[EPOCHS - 1][0]);
    size_t n = ((size_t)a.n_users + a.n_items) * a.dim;
    CHECK(same_floats(a.E0, b.E0, n), "E0 differs");
    CHECK(same_floats(a.user_emb, b.user_emb, (size_t)a.n_users * a.dim), "user_emb differs");
    CHECK(same_floats(a.item_emb, b.item_emb, (size_t)a.n_items * a.dim), "item_emb differs");
    CHECK(a.test.recall[1] == b.test.recall[1] && a.test.ndcg[1] == b.test.ndcg[1],
          "test metrics differ");
    CHECK(strstr(rb.notes, "weighted positives") == NULL, "all ones took the weighted path");
    nc_checkpoint_free(&a);
    nc_checkpoint_free(&b);
    nc_dataset_free(&d);
}

static void test_weights_repeat_positives(void) {
    nc_dataset d;
    nc_checkpoint a, b;
    record ra, rb;
    baseline(&d, &a, &ra);
    size_t sum = 0;
    for (size_t k = 0; k < d.train.n; k++) {
        d.train.w[k] = (uint8_t)(1 + k % 3);
        sum += d.train.w[k];
    }
    CHECK(train_it(&d, &b, &rb) == 0, "weighted run failed");
    char want[128];
    snprintf(want, sizeof want, "weighted positives: %zu distinct pairs sampled as %zu per epoch",
             d.train.n, sum);
    CHECK(strstr(rb.notes, want) != NULL, "notes lack '%s':\n%s", want, rb.notes);
    size_t n = ((size_t)a.n_users + a.n_items) * a.dim;
    CHECK(!same_floats(a.E0, b.E0, n), "weights changed nothing");
    CHECK(b.meta.n_train == (int64_t)d.train.n, "n_train %lld counts repeats",
          (long long)b.meta.n_train);
    nc_checkpoint_free(&a);
    nc_checkpoint_free(&b);
    nc_dataset_free(&d);
}

static void test_weight_zero_is_left_out(void) {
    nc_dataset d;
    if (small_set(&d)) exit(2);
    set_weights(&d, 1);
    size_t zeros = 0;
    for (size_t k = 0; k < d.train.n; k += 4) d.train.w[k] = 0, zeros++;
    nc_checkpoint b;
    record rb;
    CHECK(train_it(&d, &b, &rb) == 0, "run failed");
    char want[128];
    snprintf(want, sizeof want, "left out %zu training pairs of weight 0", zeros);
    CHECK(strstr(rb.notes, want) != NULL, "notes lack '%s':\n%s", want, rb.notes);
    CHECK(b.meta.n_train == (int64_t)(d.train.n - zeros), "n_train %lld",
          (long long)b.meta.n_train);
    CHECK(strstr(rb.notes, "weighted positives") == NULL, "ones and zeros need no repeats");
    nc_checkpoint_free(&b);
    memset(d.train.w, 0, d.train.cap);
    nc_err e;
    nc_train_opts o;
    memset(&o, 0, sizeof o);
    nc_hparams_default(&o.hp);
    o.hp.epochs = 1;
    int rc = nc_train(&d, &o, &b, &e);
    CHECK(rc == NC_EINVAL && strstr(e.msg, "weight above 0"), "all zero: %d %s", rc, e.msg);
    nc_dataset_free(&d);
}

int main(void) {
    RUN(test_all_ones_is_the_unweighted_run);
    RUN(test_weights_repeat_positives);
    RUN(test_weight_zero_is_left_out);
    return TEST_REPORT();
}
