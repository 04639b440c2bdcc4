/* test_config.c - the daemon's settings (server/config/config.h): defaults, flag forms, environment
 * overrides and their precedence, training hyper-parameters, refusals that name the setting,
 * the key file, and that the logged configuration never holds the key. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "base/log.h"
#include "testhelp.h"

/* Loads argv (a NULL-terminated list after the command name) into c from the defaults. */
static int load(srv_config *c, nc_err *e, const char **args) {
    const char *argv[32] = {"serve"};
    int argc = 1, help = 0;
    for (; args[argc - 1]; argc++) argv[argc] = args[argc - 1];
    cfg_defaults(c);
    return cfg_load(c, argc, (char **)argv, &help, e);
}

static void test_defaults(void) {
    srv_config c;
    nc_err e;
    const char *none[] = {NULL};
    CHECK(load(&c, &e, none) == NC_OK, "%s", e.msg);
    CHECK(!strcmp(c.host, "127.0.0.1") && c.port == 8080, "listen %s:%d", c.host, c.port);
    CHECK(!strcmp(c.data_dir, "./var"), "data_dir %s", c.data_dir);
    CHECK(c.k_default == 10 && c.k_max == 1000 && c.auth_reads == 0, "limits");
    CHECK(c.hp.embedding_size == 64, "hyper-parameters keep NCL's defaults");
}

static void test_flag_forms(void) {
    srv_config c;
    nc_err e;
    const char *args[] = {"--data-dir", "/tmp/x", "--k_max=50", "--auth-reads", "--listen", "[::1]:9000",
                          "--access-log", "false", "--epochs", "7", "--retrain-margin=0.25", NULL};
    CHECK(load(&c, &e, args) == NC_OK, "%s", e.msg);
    CHECK(!strcmp(c.data_dir, "/tmp/x"), "data_dir %s", c.data_dir);
    CHECK(c.k_max == 50, "k_max %d", c.k_max);
    CHECK(c.auth_reads == 1, "a bare boolean flag means true");
    CHECK(c.access_log == 0, "an explicit false");
    CHECK(!strcmp(c.host, "::1") && c.port == 9000, "IPv6 listen %s:%d", c.host, c.port);
    CHECK(c.hp.epochs == 7, "hyper-parameter flag: epochs %d", c.hp.epochs);
    CHECK_CLOSE(c.retrain_margin, 0.25, 1e-12, 0);
}

static void test_env_and_precedence(void) {
    srv_config c;
    nc_err e;
    setenv("NCLREC_K_MAX", "77", 1);
    setenv("NCLREC_BATCH_MAX", "12", 1);
    setenv("NCLREC_LEARNING_RATE", "0.01", 1);
    const char *args[] = {"--batch-max", "34", NULL};
    int rc = load(&c, &e, args);
    unsetenv("NCLREC_K_MAX");
    unsetenv("NCLREC_BATCH_MAX");
    unsetenv("NCLREC_LEARNING_RATE");
    CHECK(rc == NC_OK, "%s", e.msg);
    CHECK(c.k_max == 77, "environment applies: k_max %d", c.k_max);
    CHECK(c.batch_max == 34, "the flag beats the environment: batch_max %d", c.batch_max);
    CHECK_CLOSE(c.hp.learning_rate, 0.01, 1e-7, 0);
}

/* Each refusal names the setting (and where the value came from). */
static void refused(const char *const *args, const char *needle) {
    srv_config c;
    nc_err e = {0};
    CHECK(load(&c, &e, (const char **)args) == NC_EINVAL, "%s should be refused", args[0]);
    CHECK(strstr(e.msg, needle) != NULL, "message '%s' lacks '%s'", e.msg, needle);
}

static void test_refusals(void) {
    const char *a1[] = {"--k-max", "0", NULL}, *a2[] = {"--listen", "nocolon", NULL},
               *a3[] = {"--listen", "h:70000", NULL}, *a4[] = {"--bogus", "1", NULL},
               *a5[] = {"--sync", "maybe", NULL}, *a6[] = {"--max-body", "12abc", NULL},
               *a7[] = {"--k-default", "20", "--k-max", "10", NULL}, *a8[] = {"--threads", "2", NULL},
               *a9[] = {"--k-max", NULL}, *a10[] = {"stray", NULL}, *a11[] = {"--auth-reads=perhaps", NULL},
               *a12[] = {"--api-key", "has space", NULL}, *a13[] = {"--api-key-file", "/nonexistent/key", NULL},
               *a14[] = {"--epochs", "0", NULL}, *a15[] = {"--conn-timeout", "2.5", NULL};
    refused(a1, "k_max");
    refused(a2, "listen");
    refused(a3, "listen");
    refused(a4, "bogus");
    refused(a5, "sync");
    refused(a6, "max_body");
    refused(a7, "k_default");
    refused(a8, "threads"); /* training threads are retrain_threads */
    refused(a9, "missing value");
    refused(a10, "stray");
    refused(a11, "auth_reads");
    refused(a12, "api_key");
    refused(a13, "api_key_file");
    refused(a14, "epochs");
    refused(a15, "whole number");
    setenv("NCLREC_PORT_TYPO", "1", 1); /* unknown NCLREC_* variables are not ours to judge */
    setenv("NCLREC_CONN_TIMEOUT", "soon", 1);
    const char *none[] = {NULL};
    refused(none, "NCLREC_CONN_TIMEOUT");
    unsetenv("NCLREC_CONN_TIMEOUT");
    unsetenv("NCLREC_PORT_TYPO");
}

static void test_key_file_and_secrecy(void) {
    char path[] = "/tmp/nclrec-keyXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    CHECK(write(fd, "k3y-from-file\nsecond line\n", 26) == 26, "write");
    close(fd);
    srv_config c;
    nc_err e;
    const char *args[] = {"--api-key-file", path, NULL};
    CHECK(load(&c, &e, args) == NC_OK, "%s", e.msg);
    unlink(path);
    CHECK(!strcmp(c.api_key, "k3y-from-file"), "key '%s'", c.api_key);
    json_t *j = cfg_to_json(&c);
    char *s = json_dumps(j, 0);
    CHECK(s && !strstr(s, "k3y-from-file"), "the key leaked into the config dump");
    CHECK(s && strstr(s, "\"api_key\": \"set\""), "dump says whether a key is set: %s", s ? s : "");
    free(s);
    json_decref(j);
}

static void test_help_and_log_levels(void) {
    srv_config c;
    nc_err e;
    int help = 0;
    const char *argv[] = {"serve", "--k-max", "0", "--help"};
    cfg_defaults(&c);
    CHECK(cfg_load(&c, 4, (char **)argv, &help, &e) == NC_OK && help == 1, "--help wins over bad values");
    slog_level l;
    CHECK(slog_level_parse("warn", &l) == 0 && l == SLOG_WARN, "warn");
    CHECK(slog_level_parse("loud", &l) == -1, "unknown level");
}

int main(void) {
    RUN(test_defaults);
    RUN(test_flag_forms);
    RUN(test_env_and_precedence);
    RUN(test_refusals);
    RUN(test_key_file_and_secrecy);
    RUN(test_help_and_log_levels);
    return TEST_REPORT();
}
