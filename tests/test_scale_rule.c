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
 *             with the default limit the same set trains exactly and records that;
 *   settings  nc_train_settings resolves the settings the training records, counts distinct
 *             pairs as the training does (repeated rows merged), refuses bad settings and empty
 *             data leaving *hp as it was; nc_hparams_format_flags reads back to the same
 *             settings. */
#include <math.h>
#include <string.h>

#include "hparams.h"
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

/* The settings of the small trainings: 2 epochs, 10 clusters, d = 16, exact_limit `limit`. */
static void small_hparams(nc_hparams *hp, float limit) {
    nc_hparams_default(hp);
    hp->epochs = 2;
    hp->min_epochs = 0;
    hp->num_clusters = 10;
    hp->embedding_size = 16;
    hp->threads = 2;
    hp->exact_limit = limit;
}

/* Trains 2 epochs of a 600 x 300 generated set with exact_limit `limit`; fills *ck. */
static int train_small(float limit, nc_checkpoint *ck, notes *n) {
    nc_dataset d;
    nc_err e;
    int rc = small_data(&d, &e);
    nc_train_opts o;
    memset(&o, 0, sizeof o);
    small_hparams(&o.hp, limit);
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

/* Parses "--name value ..." (nc_hparams_format_flags' output) into *hp; 0 when every flag
 * was accepted. */
static int parse_flags(nc_hparams *hp, char *line) {
    nc_err e;
    for (char *save, *f = strtok_r(line, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
        char *v = strtok_r(NULL, " ", &save);
        if (strncmp(f, "--", 2) != 0 || !v || nc_hparams_set(hp, f + 2, v, &e) != 0) return -1;
    }
    return 0;
}

static void test_settings(void) {
    nc_dataset d;
    nc_err e;
    CHECK(small_data(&d, &e) == 0, "data: %s", e.msg);
    nc_hparams hp, def;
    small_hparams(&def, 1e5f);
    hp = def;
    char why[512] = "";
    CHECK(nc_train_settings(&d, &hp, why, sizeof why, &e) == 0, "settings: %s", e.msg);
    CHECK(strstr(why, "fast path") != NULL, "no fast-path line: '%s'", why);
    nc_checkpoint ck;
    notes n = {{0}};
    CHECK(train_small(1e5f, &ck, &n) == 0, "training failed");
    CHECK(same(&hp, &ck.hp), "the settings differ from what the training recorded");
    CHECK(strcmp(why, n.text) == 0, "lines differ: '%s' / '%s'", why, n.text);
    nc_checkpoint_free(&ck);
    /* the flags read back to the same settings, from the defaults and from others */
    char line[4096];
    nc_hparams back;
    nc_hparams_default(&back);
    back.seed = 77;
    nc_hparams_format_flags(&hp, line, sizeof line);
    CHECK(parse_flags(&back, line) == 0 && same(&back, &hp), "flags do not read back");
    /* every row twice: the same distinct pairs, so the same batch factor (batch 16: ~5,800
     * pairs give x4, ~11,600 rows would give x8) */
    nc_hparams once = def, twice = def;
    once.train_batch_size = twice.train_batch_size = 16;
    CHECK(nc_train_settings(&d, &once, NULL, 0, &e) == 0 && once.train_batch_size == 64,
          "batch 16 x %d", once.train_batch_size / 16);
    nc_interactions *tr = &d.train;
    const size_t n0 = tr->n;
    for (size_t k = 0; k < n0; k++)
        CHECK(nc_inter_push(tr, tr->user[k], tr->item[k], 0, &e) == 0, "push: %s", e.msg);
    CHECK(nc_train_settings(&d, &twice, NULL, 0, &e) == 0 && same(&twice, &once),
          "repeated rows changed the settings: batch %d", twice.train_batch_size);
    /* a bad setting and empty data: an error naming it, *hp untouched */
    nc_hparams bad = def;
    bad.learning_rate = -1;
    CHECK(nc_train_settings(&d, &bad, why, sizeof why, &e) == NC_EINVAL &&
              strstr(e.msg, "learning_rate") && bad.learning_rate == -1 && bad.ssl_negatives == 0,
          "bad learning rate: %d %s", e.code, e.msg);
    tr->n = 0;
    nc_hparams none = def;
    CHECK(nc_train_settings(&d, &none, why, sizeof why, &e) == NC_EINVAL &&
              strstr(e.msg, "no training interactions") && same(&none, &def),
          "empty data: %d %s", e.code, e.msg);
    tr->n = n0 * 2;
    nc_dataset_free(&d);
}

int main(void) {
    RUN(test_sizes);
    RUN(test_shop);
    RUN(test_overrides);
    RUN(test_trainer_records_choice);
    RUN(test_settings);
    return TEST_REPORT();
}
