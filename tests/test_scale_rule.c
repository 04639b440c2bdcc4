/* test_scale_rule.c - the size rule (core/scale_rule.h): which structure term a training of a
 * given size runs, that flags override it, and that the trainer records the choice.
 *
 *   sizes     ML-1M's size keeps the exact term; 100,000 x 50,000 x 3.2 M takes the fast path
 *             (the documented settings: 4096 uniform rows per side); the boundary is strict
 *             (work == limit stays exact);
 *   shop      the fast path's batch, learning rate, weights and stop at 100,000 users are the
 *             flags of the measured shop runs (docs/scaling.md section 7); the batch factor
 *             shrinks with fewer pairs and keeps a caller's larger batch, min_delta and patience;
 *   overrides an explicit ssl_negatives / ssl_stratum_size / ssl_memory is used as given at
 *             any size, and exact_limit 0 keeps the exact term at any size;
 *   trainer   nc_train on a small generated set with a limit below its size logs the rule's
 *             line and writes the fast path's settings into the checkpoint's hyper-parameters;
 *             with the default limit the same set trains exactly and records that. */
#include <math.h>
#include <string.h>

#include "scale_rule.h"
#include "small_data.h"
#include "testhelp.h"
#include "train.h"

static void test_sizes(void) {
    nc_hparams hp, ml;
    nc_hparams_default(&hp);
    ml = hp;
    char why[512];
    CHECK(nc_scale_rule(&ml, 590733, 6039, 3628, why, sizeof why) == 0, "ML-1M: %s", why);
    CHECK(memcmp(&ml, &hp, sizeof hp) == 0, "ML-1M: the settings changed");
    CHECK(strstr(why, "exact structure term") != NULL, "ML-1M: %s", why);
    nc_hparams big = hp;
    CHECK(nc_scale_rule(&big, 3273700, 100000, 50000, why, sizeof why) == 1, "100k: %s", why);
    CHECK(big.ssl_negatives == 4096 && big.ssl_stratum_size == 0 &&
              big.ssl_memory == 0, "100k: %d %d %d", big.ssl_negatives, big.ssl_stratum_size,
          big.ssl_memory);
    CHECK(strstr(why, "fast path") && strstr(why, "ssl_negatives=4096"), "100k: %s", why);
    nc_hparams edge = hp;
    edge.exact_limit = 1000.0f * (10 + 20);
    CHECK(nc_scale_rule(&edge, 1000, 10, 20, NULL, 0) == 0, "work == limit must stay exact");
    CHECK(nc_scale_rule(&edge, 1001, 10, 20, NULL, 0) == 1, "work > limit must be fast");
}

/* Whether two settings print the same, every field (memcmp would also compare padding). */
static int same(const nc_hparams *a, const nc_hparams *b) {
    char x[2048], y[2048];
    nc_hparams_format(a, x, sizeof x);
    nc_hparams_format(b, y, sizeof y);
    return strcmp(x, y) == 0;
}

/* A float equal to want within a relative 1e-6 (the settings are products of floats). */
static int near(float got, double want) { return fabs(got - want) <= 1e-6 * fabs(want); }

static void test_shop(void) {
    nc_hparams hp;
    nc_hparams_default(&hp);
    nc_hparams s = hp;
    char why[512];
    /* the cold run's training pairs (100,000 x 50,000, train without 1%) */
    CHECK(nc_scale_rule(&s, 3175893, 100000, 50000, why, sizeof why) == 1, "%s", why);
    CHECK(s.train_batch_size == 32768, "batch %d", s.train_batch_size);
    CHECK(near(s.learning_rate, 1e-3 * sqrt(8.0)), "learning rate %g", s.learning_rate);
    CHECK(near(s.ssl_reg, 1e-7 / 8) && near(s.proto_reg, 8e-8 / 8), "weights %g %g", s.ssl_reg,
          s.proto_reg);
    CHECK(near(s.min_delta, 0.001) && s.stopping_step == 2 && s.min_epochs == 0,
          "stop %g %d %d", s.min_delta, s.stopping_step, s.min_epochs);
    CHECK(strstr(why, "train_batch_size=32768") && strstr(why, "min_delta=0.001") &&
              strstr(why, "stopping_step=2"), "the line does not list the settings: %s", why);
    /* untouched by the rule: everything else */
    nc_hparams rest = s;
    rest.ssl_negatives = hp.ssl_negatives;
    rest.train_batch_size = hp.train_batch_size;
    rest.learning_rate = hp.learning_rate;
    rest.ssl_reg = hp.ssl_reg;
    rest.proto_reg = hp.proto_reg;
    rest.min_delta = hp.min_delta;
    rest.stopping_step = hp.stopping_step;
    rest.min_epochs = hp.min_epochs;
    CHECK(same(&rest, &hp), "the rule changed another setting");
    /* 600,000 pairs: 4,096 x 2 leaves 73 batches, x 4 would leave 36 */
    nc_hparams m = hp;
    m.exact_limit = 1e9f;
    CHECK(nc_scale_rule(&m, 600000, 20000, 10000, NULL, 0) == 1, "600k pairs");
    CHECK(m.train_batch_size == 8192 && near(m.learning_rate, 1e-3 * sqrt(2.0)) &&
              near(m.ssl_reg, 1e-7 / 2), "600k pairs: batch %d lr %g ssl_reg %g",
          m.train_batch_size, m.learning_rate, m.ssl_reg);
    /* a caller's own batch of 32,768 (its learning rate kept), larger min_delta, patience 1 */
    nc_hparams c = hp;
    c.train_batch_size = 32768;
    c.min_delta = 0.01f;
    c.stopping_step = 1;
    CHECK(nc_scale_rule(&c, 3175893, 100000, 50000, NULL, 0) == 1, "own batch");
    CHECK(c.train_batch_size == 32768 && c.learning_rate == hp.learning_rate &&
              c.ssl_reg == hp.ssl_reg && near(c.min_delta, 0.01) && c.stopping_step == 1,
          "own settings changed: %d %g %g %g %d", c.train_batch_size, c.learning_rate,
          c.ssl_reg, c.min_delta, c.stopping_step);
}

static void test_overrides(void) {
    nc_hparams hp;
    nc_hparams_default(&hp);
    char why[512];
    nc_hparams a = hp;
    a.ssl_negatives = 256;
    CHECK(nc_scale_rule(&a, 3273700, 100000, 50000, why, sizeof why) == 0, "%s", why);
    CHECK(a.ssl_negatives == 256 && a.ssl_stratum_size == 0 && a.ssl_memory == 0,
          "explicit negatives changed: %d %d %d", a.ssl_negatives, a.ssl_stratum_size,
          a.ssl_memory);
    CHECK(strstr(why, "as set") != NULL, "%s", why);
    a.ssl_negatives = hp.ssl_negatives;
    CHECK(same(&a, &hp), "explicit negatives: another setting changed");
    nc_hparams b = hp;
    b.ssl_memory = 1; /* set without negatives: left for the trainer to refuse or use */
    CHECK(nc_scale_rule(&b, 3273700, 100000, 50000, NULL, 0) == 0, "explicit memory");
    nc_hparams c = hp;
    c.exact_limit = 0;
    CHECK(nc_scale_rule(&c, 32000000, 1000000, 500000, why, sizeof why) == 0, "%s", why);
    CHECK(c.ssl_negatives == 0 && c.ssl_stratum_size == 0, "exact_limit 0 picked the fast path");
    CHECK(strstr(why, "size rule off (exact_limit 0): exact structure term") != NULL,
          "exact_limit 0's line: %s", why);
}

typedef struct notes {
    char text[512];
} notes;

static int keep_notes(const nc_progress *p, void *ctx) {
    notes *n = ctx;
    if (p->phase == NC_PHASE_LOG && p->message && strstr(p->message, "size rule"))
        snprintf(n->text, sizeof n->text, "%s", p->message);
    return 0;
}

/* Trains 2 epochs of a 600 x 300 generated set with exact_limit `limit`; fills *ck. */
static int train_small(float limit, nc_checkpoint *ck, notes *n) {
    nc_dataset d;
    nc_err e;
    int rc = small_data(&d, &e);
    nc_train_opts o;
    memset(&o, 0, sizeof o);
    nc_hparams_default(&o.hp);
    o.hp.epochs = 2;
    o.hp.min_epochs = 0;
    o.hp.num_clusters = 10;
    o.hp.embedding_size = 16;
    o.hp.threads = 2;
    o.hp.exact_limit = limit;
    o.progress = keep_notes;
    o.progress_ctx = n;
    if (!rc) rc = nc_train(&d, &o, ck, &e);
    if (rc) fprintf(stderr, "train: %s\n", e.msg);
    nc_dataset_free(&d);
    return rc;
}

static void test_trainer_records_choice(void) {
    nc_checkpoint ck;
    notes n = {{0}};
    CHECK(train_small(1e5f, &ck, &n) == 0, "training failed");
    CHECK(strstr(n.text, "fast path") != NULL, "no fast-path line: '%s'", n.text);
    CHECK(ck.hp.ssl_negatives == NC_FAST_NEGATIVES && ck.hp.ssl_stratum_size == 0 &&
              ck.hp.ssl_memory == 0, "checkpoint records %d %d %d", ck.hp.ssl_negatives,
          ck.hp.ssl_stratum_size, ck.hp.ssl_memory);
    CHECK(near(ck.hp.min_delta, NC_FAST_MIN_DELTA) && ck.hp.stopping_step == NC_FAST_PATIENCE,
          "checkpoint records the stop %g %d", ck.hp.min_delta, ck.hp.stopping_step);
    nc_checkpoint_free(&ck);
    notes x = {{0}};
    CHECK(train_small(1e10f, &ck, &x) == 0, "training failed");
    CHECK(strstr(x.text, "exact structure term") != NULL, "no exact line: '%s'", x.text);
    CHECK(ck.hp.ssl_negatives == 0 && ck.hp.ssl_stratum_size == 0 && ck.hp.ssl_memory == 0,
          "exact run records %d %d %d", ck.hp.ssl_negatives, ck.hp.ssl_stratum_size,
          ck.hp.ssl_memory);
    nc_checkpoint_free(&ck);
}

int main(void) {
    RUN(test_sizes);
    RUN(test_shop);
    RUN(test_overrides);
    RUN(test_trainer_records_choice);
    return TEST_REPORT();
}
