/* fuzz_config.c - libFuzzer harness for the daemon's settings parser (server/config/config.c).
 *
 * The input is text, one item per line ('\n'; a '\r' before it is kept, as a shell would):
 *   NCLREC_NAME=value     set in the environment for this run only (other names are ignored,
 *                         so an input cannot change the sanitizers' own settings)
 *   default name=value    cfg_set_default, as cmd_run's embedded profile does
 *   anything else         one command-line argument, in order, after the subcommand "serve"
 * at most FUZZ_MAX_ITEMS items. The harness then runs cfg_defaults, the defaults, cfg_load,
 * and on success cfg_to_json and cfg_print_help. Besides "no memory error", it checks:
 *   - a refusal is NC_EINVAL with a message;
 *   - an accepted configuration has a host, a port 0..65535, k_default <= k_max and a
 *     listen address that holds the host, and cfg_to_json reports every hyper-parameter with
 *     its exact value;
 *   - the API key never shows: cfg_to_json says "set"/"unset", and an error message does not
 *     repeat a key of 16 bytes or more that the input holds only once (a key that also appears
 *     as another setting's value may be echoed as that value).
 * The environment is restored after each run. Settings may name files (api_key_file), which
 * are then opened and read: run the fuzzer with stdin from /dev/null. */
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "fuzz_util.h"

#define FUZZ_MAX_ITEMS 64
#define ENV_PREFIX "NCLREC_"

/* The input cut into NUL-terminated lines inside one owned copy. */
typedef struct items {
    char *text;               /* the copy; lines point into it */
    char *line[FUZZ_MAX_ITEMS];
    int n;
} items;

/* Splits data into lines; a NUL byte inside a line ends that line early, as argv would. */
static void items_split(items *it, const uint8_t *data, size_t n) {
    it->text = malloc(n + 1);
    FUZZ_ASSERT(it->text != NULL, "out of memory");
    memcpy(it->text, data, n);
    it->text[n] = '\0';
    it->n = 0;
    for (char *p = it->text, *end = it->text + n; p <= end && it->n < FUZZ_MAX_ITEMS;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl) *nl = '\0';
        if (nl || p < end) it->line[it->n++] = p;
        if (!nl) break;
        p = nl + 1;
    }
}

/* Environment names this run set, with the values they had before (NULL: unset). */
typedef struct env_undo {
    char *name[FUZZ_MAX_ITEMS];
    char *old[FUZZ_MAX_ITEMS];
    int n;
} env_undo;

/* Sets NAME=value from an "NCLREC_NAME=value" line, remembering how to undo it. */
static void env_apply(env_undo *u, const char *line) {
    const char *eq = strchr(line, '=');
    size_t len = (size_t)(eq - line);
    char *name = strndup(line, len);
    FUZZ_ASSERT(name != NULL, "out of memory");
    const char *old = getenv(name);
    u->old[u->n] = old ? strdup(old) : NULL;
    u->name[u->n++] = name;
    setenv(name, eq + 1, 1);
}

/* Puts every variable back as it was, last set first. */
static void env_restore(env_undo *u) {
    for (int k = u->n - 1; k >= 0; k--) {
        if (u->old[k]) setenv(u->name[k], u->old[k], 1);
        else unsetenv(u->name[k]);
        free(u->name[k]);
        free(u->old[k]);
    }
    u->n = 0;
}

/* An environment line: the prefix, at least one name byte, then '='. */
static int is_env_line(const char *s) {
    size_t np = strlen(ENV_PREFIX);
    const char *eq = strchr(s, '=');
    return strncmp(s, ENV_PREFIX, np) == 0 && eq && (size_t)(eq - s) > np;
}

/* How many times needle (non-empty) occurs in hay[0..n). */
static int count_in(const uint8_t *hay, size_t n, const char *needle) {
    size_t k = strlen(needle);
    int count = 0;
    for (size_t i = 0; k && i + k <= n; i++)
        if (!memcmp(hay + i, needle, k)) count++;
    return count;
}

/* cfg_to_json's "hparams" holds every hyper-parameter with its exact value; a 64-bit setting
 * (the seed) as a non-negative integer or, beyond JSON's int64 range, a decimal string. */
static void check_hparams_json(const srv_config *c, json_t *j) {
    json_t *hp = json_object_get(j, "hparams");
    FUZZ_ASSERT(json_is_object(hp), "cfg_to_json has no hparams object");
    for (const nc_hparam_desc *h = nc_hparam_table; h->name; h++) {
        const char *f = (const char *)&c->hp + h->offset;
        json_t *v = json_object_get(hp, h->name);
        if (h->type == NC_HP_U64) {
            uint64_t want = *(const uint64_t *)f;
            uint64_t got = json_is_integer(v) && json_integer_value(v) >= 0
                               ? (uint64_t)json_integer_value(v)
                           : json_is_string(v) ? strtoull(json_string_value(v), NULL, 10)
                                               : ~want;
            FUZZ_ASSERT(got == want, "cfg_to_json shows %s = %llu, configured %llu", h->name,
                        (unsigned long long)got, (unsigned long long)want);
        } else if (h->type == NC_HP_INT) {
            FUZZ_ASSERT(json_is_integer(v) && json_integer_value(v) == *(const int32_t *)f,
                        "cfg_to_json shows %s wrongly", h->name);
        } else {
            FUZZ_ASSERT(json_is_number(v) && json_number_value(v) == (double)*(const float *)f,
                        "cfg_to_json shows %s wrongly", h->name);
        }
    }
}

/* What an accepted configuration promises, and the key never showing in its JSON. */
static void check_accepted(const srv_config *c) {
    FUZZ_ASSERT(c->host[0] && c->port >= 0 && c->port <= 65535, "host '%s' port %d", c->host,
                c->port);
    FUZZ_ASSERT(strstr(c->listen, c->host) != NULL, "host '%s' not in listen '%s'", c->host,
                c->listen);
    FUZZ_ASSERT(c->k_default <= c->k_max, "k_default %d > k_max %d", c->k_default, c->k_max);
    json_t *j = cfg_to_json(c);
    FUZZ_ASSERT(j != NULL, "cfg_to_json returned NULL");
    const char *key = json_string_value(json_object_get(j, "api_key"));
    FUZZ_ASSERT(key && (!strcmp(key, "set") || !strcmp(key, "unset")),
                "cfg_to_json shows api_key as '%s'", key ? key : "(not a string)");
    check_hparams_json(c, j);
    json_decref(j);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    FUZZ_ASSERT(f != NULL, "open_memstream failed");
    cfg_print_help(f, "serve", c);
    fclose(f);
    free(buf);
}

/* libFuzzer entry: the lines applied as environment, defaults and argv. Always returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    items it;
    env_undo undo = {.n = 0};
    char *argv[FUZZ_MAX_ITEMS + 2];
    int argc = 0;
    srv_config c;
    nc_err e;
    items_split(&it, data, n);
    cfg_defaults(&c);
    argv[argc++] = "serve";
    int rc = NC_OK;
    for (int k = 0; k < it.n; k++) {
        char *s = it.line[k];
        if (is_env_line(s)) {
            env_apply(&undo, s);
        } else if (!strncmp(s, "default ", 8) && strchr(s + 8, '=')) {
            char *eq = strchr(s + 8, '=');
            *eq = '\0';
            if (rc == NC_OK) rc = cfg_set_default(&c, s + 8, eq + 1, &e);
        } else {
            argv[argc++] = s;
        }
    }
    argv[argc] = NULL;
    int help = 0;
    if (rc == NC_OK) {
        nc_err_clear(&e);
        rc = cfg_load(&c, argc, argv, &help, &e);
    }
    if (rc != NC_OK) {
        FUZZ_ASSERT(rc == NC_EINVAL && e.code == rc && e.msg[0], "refused: rc %d, '%s'", rc,
                    e.msg);
        if (strlen(c.api_key) >= 16 && count_in(data, n, c.api_key) == 1)
            FUZZ_ASSERT(strstr(e.msg, c.api_key) == NULL, "error message shows the API key: %s",
                        e.msg);
    } else if (!help) {
        check_accepted(&c);
    }
    env_restore(&undo);
    free(it.text);
    return 0;
}
