/* test_hparams.c - defaults match NCL.md; parsing refuses bad names and values; the flags
 * form reads back exactly and a short buffer ends at a whole flag. */
#include "hparams.h"
#include "testhelp.h"

#include <string.h>

static void test_defaults_match_ncl_md(void) {
    nc_hparams hp;
    nc_hparams_default(&hp);
    CHECK(hp.embedding_size == 64, "d");
    CHECK(hp.n_layers == 3 && hp.hyper_layers == 1, "layers");
    CHECK_CLOSE(hp.learning_rate, 1e-3, 0, 1e-6);
    CHECK_CLOSE(hp.reg_weight, 1e-4, 0, 1e-6);
    CHECK_CLOSE(hp.ssl_temp, 0.1, 0, 1e-6);
    CHECK_CLOSE(hp.ssl_reg, 1e-7, 0, 1e-6);
    CHECK_CLOSE(hp.alpha, 1.0, 0, 0);
    CHECK_CLOSE(hp.proto_reg, 8e-8, 0, 1e-6);
    CHECK(hp.num_clusters == 1000 && hp.warm_up_step == 20, "clusters/warm-up");
    CHECK(hp.train_batch_size == 4096 && hp.epochs == 300 && hp.stopping_step == 10, "loop");
    nc_err e;
    CHECK(nc_hparams_validate(&hp, &e) == NC_OK, "defaults valid");
}

static void test_set_parses_and_refuses(void) {
    nc_hparams hp;
    nc_hparams_default(&hp);
    nc_err e;
    CHECK(nc_hparams_set(&hp, "ssl-reg", "1e-6", &e) == NC_OK, "dash form");
    CHECK_CLOSE(hp.ssl_reg, 1e-6, 0, 1e-6);
    CHECK(nc_hparams_set(&hp, "epochs", "12", &e) == NC_OK && hp.epochs == 12, "int");
    CHECK(nc_hparams_set(&hp, "seed", "9007199254740991", &e) == NC_OK, "2^53 - 1");
    CHECK(hp.seed == 9007199254740991ULL, "largest seed value");
    CHECK(nc_hparams_set(&hp, "seed", "9007199254740992", &e) == NC_EINVAL, "2^53 refused");
    CHECK(nc_hparams_set(&hp, "nope", "1", &e) == NC_EINVAL && strstr(e.msg, "nope"), "unknown");
    CHECK(nc_hparams_set(&hp, "epochs", "12x", &e) == NC_EINVAL && strstr(e.msg, "epochs"), "junk");
    CHECK(nc_hparams_set(&hp, "epochs", "0", &e) == NC_EINVAL, "range");
    CHECK(nc_hparams_set(&hp, "learning_rate", "nan", &e) == NC_EINVAL, "nan");
    CHECK(nc_hparams_set(&hp, "seed", "-1", &e) == NC_EINVAL, "negative seed");
    CHECK(nc_hparams_set(&hp, "epochs", "", &e) == NC_EINVAL, "empty");
    CHECK(hp.epochs == 12, "failed sets leave the value alone");
}

static void test_format_flags(void) {
    nc_hparams hp;
    nc_hparams_default(&hp);
    nc_err e;
    CHECK(nc_hparams_set(&hp, "learning_rate", "0.0014142136", &e) == 0, "%s", e.msg);
    CHECK(nc_hparams_set(&hp, "seed", "9007199254740991", &e) == 0, "%s", e.msg);
    char all[4096];
    size_t n = nc_hparams_format_flags(&hp, all, sizeof all);
    CHECK(n == strlen(all) && strncmp(all, "--embedding-size 64 --n-layers 3 ", 33) == 0,
          "start: %.60s", all);
    CHECK(strstr(all, " --learning-rate 0.0014142136 ") && strstr(all, " --ssl-reg 1e-07 ") &&
              strstr(all, " --seed 9007199254740991") && !strchr(all, '_'),
          "flags: %s", all);
    nc_hparams back;
    nc_hparams_default(&back);
    CHECK(nc_hparams_set(&back, "learning-rate", "0.0014142136", &e) == 0 &&
              back.learning_rate == hp.learning_rate, "the shortest form does not read back");
    char small[40];
    n = nc_hparams_format_flags(&hp, small, sizeof small);
    CHECK(n == strlen(small) && strcmp(small, "--embedding-size 64 --n-layers 3") == 0,
          "cut: '%s' (%zu)", small, n);
}

int main(void) {
    RUN(test_defaults_match_ncl_md);
    RUN(test_set_parses_and_refuses);
    RUN(test_format_flags);
    return TEST_REPORT();
}
