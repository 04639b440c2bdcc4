/* test_train_stop.c - when training stops (core/early_stop.h).
 *
 *   reference   min_delta 0: stop after stopping_step + 1 evaluations that do not strictly beat
 *               the best (4 decimals), never before min_epochs; the best is the kept epoch;
 *   min_delta   a gain below the fraction counts as no progress (the stop fires at the
 *               documented evaluation) but is still kept as the best; min_delta 0 on the same
 *               curve does not stop;
 *   warm        warm_patience P stops a warm start after P + 1 evaluations without progress
 *               even before min_epochs; a cold start with the same settings does not stop;
 *               warm_patience 0 keeps the cold rule;
 *   trainer     nc_train on small generated data stops at the epoch the rule gives for the
 *               valid curve it reported (replayed here from the rule's text, not the code),
 *               cold with min_delta and warm from the cold model with warm_patience, and a warm
 *               start with warm_patience 0 runs to the epoch limit under min_epochs;
 *   budget      max_seconds stops after the first epoch past it (a budget below any epoch's
 *               length: after epoch 0), the model still written; 0 runs every epoch. */
#include <math.h>
#include <string.h>

#include "early_stop.h"
#include "small_data.h"
#include "testhelp.h"
#include "train.h"

/* Feeds the curve; returns the 0-based epoch at which the rule said stop, or -1. */
static int32_t feed(nc_stopper *s, const double *curve, int32_t n, int32_t *best_epoch) {
    for (int32_t k = 0; k < n; k++) {
        int improved;
        if (nc_stopper_update(s, k, curve[k], &improved)) {
            *best_epoch = s->best_epoch;
            return k;
        }
    }
    *best_epoch = s->best_epoch;
    return -1;
}

static void test_reference(void) {
    nc_hparams hp;
    nc_hparams_default(&hp);
    hp.stopping_step = 2;
    hp.min_epochs = 0;
    nc_stopper s;
    nc_stopper_init(&s, &hp, 0);
    /* 0.20004 rounds to 0.2000: not better than 0.2 */
    const double c[] = {0.1, 0.2, 0.20004, 0.19, 0.2, 0.3};
    int32_t best;
    int32_t at = feed(&s, c, 6, &best);
    CHECK(at == 4 && best == 1, "stopped at %d best %d, want 4 and 1", at, best);
    hp.min_epochs = 6;
    nc_stopper_init(&s, &hp, 0);
    CHECK(feed(&s, c, 6, &best) == -1, "stopped before min_epochs 6");
    const double flat[] = {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1};
    nc_stopper_init(&s, &hp, 0);
    CHECK(feed(&s, flat, 7, &best) == 5, "flat curve with min_epochs 6: want a stop at 5");
}

static void test_min_delta(void) {
    nc_hparams hp;
    nc_hparams_default(&hp);
    hp.stopping_step = 1;
    hp.min_epochs = 0;
    hp.min_delta = 0.01f;
    /* +20%, then +0.83% and +0.92% of the last progress (0.1200): both below 1% */
    const double c[] = {0.1000, 0.1200, 0.1210, 0.1211, 0.1300};
    nc_stopper s;
    nc_stopper_init(&s, &hp, 0);
    int32_t best;
    int32_t at = feed(&s, c, 5, &best);
    CHECK(at == 3, "stopped at %d, want 3", at);
    CHECK(best == 3 && fabs(s.best - 0.1211) < 1e-9, "best %d (%g): small gains are kept",
          best, s.best);
    hp.min_delta = 0;
    nc_stopper_init(&s, &hp, 0);
    CHECK(feed(&s, c, 5, &best) == -1, "min_delta 0 stopped a rising curve");
    /* the mark is the last progress, not the best: a slow creep does not reset it */
    hp.min_delta = 0.01f;
    hp.stopping_step = 2;
    const double creep[] = {0.2000, 0.2010, 0.2015, 0.2019, 0.2100};
    nc_stopper_init(&s, &hp, 0);
    at = feed(&s, creep, 5, &best);
    CHECK(at == 3 && best == 3, "creep: stopped at %d best %d, want 3 and 3", at, best);
}

static void test_warm(void) {
    nc_hparams hp;
    nc_hparams_default(&hp); /* stopping_step 10, min_epochs 60 */
    hp.warm_patience = 1;
    const double flat[] = {0.3, 0.3, 0.3, 0.3, 0.3};
    nc_stopper s;
    int32_t best;
    nc_stopper_init(&s, &hp, 1);
    CHECK(feed(&s, flat, 5, &best) == 2, "warm: want a stop at epoch 2");
    CHECK(best == 0, "warm: best %d, want 0", best);
    nc_stopper_init(&s, &hp, 0);
    CHECK(feed(&s, flat, 5, &best) == -1, "cold with the same settings stopped");
    hp.warm_patience = 0;
    nc_stopper_init(&s, &hp, 1);
    CHECK(feed(&s, flat, 5, &best) == -1, "warm_patience 0 must keep the cold rule");
    nc_hparams d;
    nc_hparams_default(&d);
    CHECK(d.min_delta == 0 && d.warm_patience == 2, "defaults %g %d", d.min_delta,
          d.warm_patience);
}

typedef struct curve {
    double v[64];
    int32_t n;
} curve;

static int keep_curve(const nc_progress *p, void *ctx) {
    curve *c = ctx;
    if (p->phase == NC_PHASE_EPOCH_END && p->valid_ndcg10 >= 0 && c->n < 64)
        c->v[c->n++] = p->valid_ndcg10;
    return 0;
}

/* The rule as early_stop.h states it, for replaying a reported curve: the number of epochs
 * run, or n when it never fires. */
static int32_t replay(const curve *c, double min_delta, int32_t patience, int32_t min_epochs) {
    double mark = -1;
    int32_t fails = 0;
    for (int32_t k = 0; k < c->n; k++) {
        double r = round(c->v[k] * 1e4) / 1e4;
        if (mark < 0 || r > mark * (1 + min_delta)) {
            mark = r;
            fails = 0;
        } else if (++fails > patience && k + 1 >= min_epochs) {
            return k + 1;
        }
    }
    return c->n;
}

static int train_small(const nc_dataset *d, const nc_hparams *hp, const nc_checkpoint *warm,
                       curve *c, nc_checkpoint *ck) {
    nc_train_opts o;
    memset(&o, 0, sizeof o);
    o.hp = *hp;
    o.progress = keep_curve;
    o.progress_ctx = c;
    o.warm = warm;
    nc_err e;
    int rc = nc_train(d, &o, ck, &e);
    if (rc) fprintf(stderr, "train: %s\n", e.msg);
    return rc;
}

static void test_trainer(void) {
    nc_dataset d;
    nc_err e;
    CHECK(small_data(&d, &e) == 0, "synth: %s", e.msg);
    nc_hparams hp;
    nc_hparams_default(&hp);
    hp.epochs = 40;
    hp.min_epochs = 0;
    hp.stopping_step = 1;
    hp.min_delta = 0.2f;
    hp.num_clusters = 10;
    hp.embedding_size = 16;
    hp.learning_rate = 0.01f;
    hp.threads = 2;
    curve c = {{0}, 0};
    nc_checkpoint cold;
    CHECK(train_small(&d, &hp, NULL, &c, &cold) == 0, "cold training failed");
    int32_t want = replay(&c, hp.min_delta, hp.stopping_step, hp.min_epochs);
    CHECK(want < hp.epochs, "the curve never met the rule: test data too easy (%d)", c.n);
    CHECK(cold.meta.epochs_run == want && c.n == want, "cold: ran %d (%d evaluations), rule %d",
          cold.meta.epochs_run, c.n, want);
    nc_hparams w = hp;
    w.min_delta = 0.001f;
    w.min_epochs = 60;
    w.stopping_step = 10;
    w.warm_patience = 1;
    curve cw = {{0}, 0};
    nc_checkpoint warm;
    CHECK(train_small(&d, &w, &cold, &cw, &warm) == 0, "warm training failed");
    want = replay(&cw, w.min_delta, w.warm_patience, 0);
    CHECK(want < w.epochs, "warm: the rule never fired in %d evaluations", cw.n);
    CHECK(warm.meta.epochs_run == want, "warm: ran %d, rule %d", warm.meta.epochs_run, want);
    nc_checkpoint_free(&warm);
    w.warm_patience = 0;
    w.epochs = 6;
    curve c0 = {{0}, 0};
    CHECK(train_small(&d, &w, &cold, &c0, &warm) == 0, "warm (cold rule) training failed");
    CHECK(warm.meta.epochs_run == 6, "warm_patience 0 under min_epochs 60 ran %d of 6",
          warm.meta.epochs_run);
    nc_checkpoint_free(&warm);
    nc_checkpoint_free(&cold);
    nc_dataset_free(&d);
}

static void test_budget(void) {
    nc_dataset d;
    nc_err e;
    CHECK(small_data(&d, &e) == 0, "synth: %s", e.msg);
    nc_hparams hp;
    nc_hparams_default(&hp);
    hp.epochs = 5;
    hp.num_clusters = 10;
    hp.embedding_size = 16;
    hp.threads = 2;
    hp.max_seconds = 1e-6f;
    curve c = {{0}, 0};
    nc_checkpoint ck;
    CHECK(train_small(&d, &hp, NULL, &c, &ck) == 0, "training under a budget failed");
    CHECK(ck.meta.epochs_run == 1 && ck.E0 != NULL, "budget: ran %d epochs, want 1",
          ck.meta.epochs_run);
    nc_checkpoint_free(&ck);
    hp.max_seconds = 0;
    CHECK(train_small(&d, &hp, NULL, &c, &ck) == 0, "training without a budget failed");
    CHECK(ck.meta.epochs_run == 5, "no budget: ran %d of 5", ck.meta.epochs_run);
    nc_checkpoint_free(&ck);
    nc_dataset_free(&d);
}

int main(void) {
    RUN(test_reference);
    RUN(test_min_delta);
    RUN(test_warm);
    RUN(test_trainer);
    RUN(test_budget);
    return TEST_REPORT();
}
