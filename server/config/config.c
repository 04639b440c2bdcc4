/* config.c - see config.h. The table below is the single source of truth for every option. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/httpc.h"

typedef enum { CT_STR, CT_INT, CT_I64, CT_DBL, CT_BOOL } cfg_type;

enum { CF_SECRET = 1 };

typedef struct cfg_desc {
    const char *name;      /* flag without dashes; env is NCLREC_ + upper-case name */
    cfg_type type;
    size_t offset, size;   /* field within srv_config; size for strings */
    double min, max;       /* numeric range, inclusive */
    const char *choices;   /* "a|b" for enumerated strings, else NULL */
    const char *def;       /* built-in default as text */
    int flags;
    const char *help;
} cfg_desc;

#define O(f) offsetof(srv_config, f), sizeof(((srv_config *)0)->f)
static const cfg_desc table[] = {
    {"listen", CT_STR, O(listen), 0, 0, NULL, "127.0.0.1:8080", 0, "address to serve on, HOST:PORT (port 0 = any free port)"},
    {"data_dir", CT_STR, O(data_dir), 0, 0, NULL, "./var", 0, "directory for the store, checkpoints and state"},
    {"http_threads", CT_INT, O(http_threads), 0, 256, NULL, "0", 0, "HTTP worker threads, each polling its connections with poll() (0 = one per core)"},
    {"max_connections", CT_INT, O(max_connections), 1, 1000000, NULL, "1024", 0, "concurrent connections accepted"},
    {"conn_timeout", CT_INT, O(conn_timeout), 1, 3600, NULL, "30", 0, "seconds an idle or slow connection is kept"},
    {"header_timeout", CT_INT, O(header_timeout), 1, 3600, NULL, "10", 0,
     "seconds a client has to send a request's headers (then its body at 500 bytes/s) before it is cut off"},
    {"max_body", CT_I64, O(max_body), 16, 1 << 28, NULL, "1048576", 0, "largest request body in bytes (413 beyond)"},
    {"max_header", CT_I64, O(max_header), 4096, 1 << 24, NULL, "32768", 0, "bytes for the request line and headers of a connection"},
    {"api_key", CT_STR, O(api_key), 0, 0, NULL, "", CF_SECRET, "bearer key for writes and admin (empty = no auth)"},
    {"api_key_file", CT_STR, O(api_key_file), 0, 0, NULL, "", 0, "file holding the API key (first line)"},
    {"auth_reads", CT_BOOL, O(auth_reads), 0, 1, NULL, "false", 0, "require the key for reads too"},
    {"k_default", CT_INT, O(k_default), 1, 100000, NULL, "10", 0, "k when a request gives none"},
    {"k_max", CT_INT, O(k_max), 1, 100000, NULL, "1000", 0, "largest k accepted"},
    {"batch_max", CT_INT, O(batch_max), 1, 1000000, NULL, "1000", 0, "interactions per POST /interactions"},
    {"max_exclude", CT_INT, O(max_exclude), 0, 100000, NULL, "1000", 0, "ids accepted in exclude="},
    {"feedback_types", CT_STR, O(feedback_types), 0, 0, NULL, "view=1", 0,
     "event types of POST /interactions with their training weights, name=weight,... (0..100; 'view', the type of events without one, weighs 1 unless given)"},
    {"exclude_types", CT_STR, O(exclude_types), 0, 0, NULL, "", 0,
     "types whose items /recommend leaves out as the user's own, name,... (empty = every type)"},
    {"idempotency_window", CT_I64, O(idempotency_window), 1, 365LL * 86400, NULL, "86400", 0, "seconds an Idempotency-Key is remembered"},
    {"sync", CT_STR, O(sync), 0, 0, "full|normal", "full", 0, "SQLite synchronous: full survives power loss, normal only process crashes"},
    {"keep_checkpoints", CT_INT, O(keep_checkpoints), 1, 1000, NULL, "3", 0, "checkpoints kept in DATA_DIR/models"},
    {"foldin", CT_STR, O(foldin), 0, 0, "ials|mean", "ials", 0, "fold-in for users the model lacks: ridge fit or mean of items"},
    {"foldin_reg", CT_DBL, O(foldin_reg), 1e-6, 1e6, NULL, "0.1", 0, "ridge weight of the ials fold-in"},
    {"foldin_alpha", CT_DBL, O(foldin_alpha), 0, 1e6, NULL, "1", 0, "extra weight of the user's own items in the ials fold-in"},
    {"rec_cache_mb", CT_INT, O(rec_cache_mb), 0, 1000000, NULL, "64", 0,
     "MiB per model for known users' ranked candidates, kept after their first request (exact; idle lists evicted when full; 0 = scan every time)"},
    {"popular_n", CT_INT, O(popular_n), 1, 1000000, NULL, "1000", 0, "items kept in the popularity fallback"},
    {"retrain_interval", CT_DBL, O(retrain_interval), 0, 1e9, NULL, "3600", 0, "seconds between retrain checks (0 = only on request)"},
    {"retrain_min_new", CT_I64, O(retrain_min_new), 0, 1e15, NULL, "1000", 0, "new interactions needed for a timed retrain"},
    {"retrain_threads", CT_INT, O(retrain_threads), 0, 1024, NULL, "0", 0, "training threads (0 = all cores but one)"},
    {"retrain_nice", CT_INT, O(retrain_nice), 0, 19, NULL, "10", 0, "niceness added to the training thread"},
    {"retrain_margin", CT_DBL, O(retrain_margin), 0, 1, NULL, "0.01", 0, "swap unless held-out Recall@20 drops by more than this"},
    {"retrain_on_start", CT_BOOL, O(retrain_on_start), 0, 1, NULL, "true", 0, "train at start when the store has data but no checkpoint exists"},
    {"eval_fraction", CT_DBL, O(eval_fraction), 0, 0.5, NULL, "0.2", 0, "share of each user's rows held out for validation and test"},
    {"seed_synthetic", CT_BOOL, O(seed_synthetic), 0, 1, NULL, "false", 0, "seed an empty store with generated data"},
    {"synth_users", CT_I64, O(synth_users), 1, 1e8, NULL, "2000", 0, "users of the generated data"},
    {"synth_items", CT_I64, O(synth_items), 1, 1e8, NULL, "1000", 0, "items of the generated data"},
    {"synth_per_user", CT_DBL, O(synth_per_user), 1, 1e6, NULL, "30", 0, "mean interactions per user of the generated data"},
    {"synth_seed", CT_I64, O(synth_seed), 0, 9.2e18, NULL, "2020", 0, "seed of the generated data"},
    {"role", CT_STR, O(role), 0, 0, "standalone|primary|replica", "standalone", 0, "standalone; primary (also serves the replication feeds); replica (reads only, follows --primary)"},
    {"primary", CT_STR, O(primary), 0, 0, NULL, "", 0, "replica: base URL of the primary, http://HOST:PORT (no TLS: a private network or a TLS-terminating proxy)"},
    {"replica_poll", CT_DBL, O(replica_poll), 0.01, 3600, NULL, "1", 0, "replica: seconds between polls of the primary's model and changefeed"},
    {"replica_timeout", CT_DBL, O(replica_timeout), 0.1, 3600, NULL, "5", 0, "replica: seconds of silence from the primary before a poll fails"},
    {"replica_page", CT_INT, O(replica_page), 1, 10000, NULL, "1000", 0, "replica: changefeed events asked for per request"},
    {"shutdown_deadline", CT_DBL, O(shutdown_deadline), 0.1, 3600, NULL, "10", 0, "seconds from SIGTERM to exit"},
    {"log_level", CT_STR, O(log_level), 0, 0, "debug|info|warn|error", "info", 0, "lowest level logged"},
    {"access_log", CT_BOOL, O(access_log), 0, 1, NULL, "false", 0, "log one line per request"},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0, NULL},
};
#undef O

/* Names compare with '-' and '_' alike, so --data-dir and --data_dir are the same option. */
static int name_eq(const char *a, const char *b, size_t blen) {
    size_t i = 0;
    for (; a[i] && i < blen; i++) {
        char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
        if (x != y) return 0;
    }
    return a[i] == '\0' && i == blen;
}

static const cfg_desc *find_desc(const char *name, size_t len) {
    for (const cfg_desc *d = table; d->name; d++)
        if (name_eq(d->name, name, len)) return d;
    return NULL;
}

/* The training thread count is a daemon setting (retrain_threads), so the hyper-parameter of
 * the same meaning is not offered separately. */
static const nc_hparam_desc *find_hp(const char *name, size_t len) {
    char buf[64];
    if (len >= sizeof buf) return NULL;
    memcpy(buf, name, len);
    buf[len] = '\0';
    const nc_hparam_desc *h = nc_hparam_find(buf);
    return (h && strcmp(h->name, "threads") != 0) ? h : NULL;
}

static int parse_bool(const char *v, int *out) {
    static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) return *out = 1, 0;
        if (!strcasecmp(v, no[i])) return *out = 0, 0;
    }
    return -1;
}

static int in_choices(const char *choices, const char *v) {
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

/* Parses a whole-string number; rejects trailing junk, empty strings, NaN and overflow. */
static int parse_num(const char *v, double *out) {
    if (!*v || isspace((unsigned char)*v)) return -1;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (*end || errno == ERANGE || isnan(x)) return -1;
    *out = x;
    return 0;
}

static int set_numeric(srv_config *c, const cfg_desc *d, const char *v, const char *src, nc_err *e) {
    double x;
    if (parse_num(v, &x) != 0)
        return nc_fail(e, NC_EINVAL, "%s: setting '%s': '%s' is not a number", src, d->name, v);
    if (x < d->min || x > d->max)
        return nc_fail(e, NC_EINVAL, "%s: setting '%s': %s is outside [%.15g, %.15g]", src, d->name, v,
                       d->min, d->max);
    if ((d->type == CT_INT || d->type == CT_I64) && x != floor(x))
        return nc_fail(e, NC_EINVAL, "%s: setting '%s': '%s' is not a whole number", src, d->name, v);
    char *f = (char *)c + d->offset;
    if (d->type == CT_INT) *(int *)f = (int)x;
    else if (d->type == CT_I64) *(int64_t *)f = (int64_t)x;
    else *(double *)f = x;
    return NC_OK;
}

static int set_one(srv_config *c, const cfg_desc *d, const char *v, const char *src, nc_err *e) {
    char *f = (char *)c + d->offset;
    switch (d->type) {
    case CT_STR:
        if (strlen(v) >= d->size)
            return nc_fail(e, NC_EINVAL, "%s: setting '%s': value longer than %zu bytes", src,
                           d->name, d->size - 1);
        if (d->choices && !in_choices(d->choices, v))
            return nc_fail(e, NC_EINVAL, "%s: setting '%s': '%s' is not one of %s", src, d->name,
                           (d->flags & CF_SECRET) ? "(secret)" : v, d->choices);
        memcpy(f, v, strlen(v) + 1);
        return NC_OK;
    case CT_BOOL:
        if (parse_bool(v, (int *)f) != 0)
            return nc_fail(e, NC_EINVAL, "%s: setting '%s': '%s' is not true/false", src, d->name, v);
        return NC_OK;
    default:
        return set_numeric(c, d, v, src, e);
    }
}

/* Sets an option or a training hyper-parameter by name; src says where the value came from. */
static int set_by_name(srv_config *c, const char *name, size_t len, const char *v, const char *src,
                       nc_err *e) {
    const cfg_desc *d = find_desc(name, len);
    if (d) return set_one(c, d, v, src, e);
    const nc_hparam_desc *h = find_hp(name, len);
    if (!h) return nc_fail(e, NC_EINVAL, "%s: unknown setting '%.*s' (see --help)", src, (int)len, name);
    nc_err he;
    if (nc_hparams_set(&c->hp, h->name, v, &he) != NC_OK)
        return nc_fail(e, NC_EINVAL, "%s: %s", src, he.msg);
    return NC_OK;
}

void cfg_defaults(srv_config *c) {
    memset(c, 0, sizeof *c);
    nc_hparams_default(&c->hp);
    for (const cfg_desc *d = table; d->name; d++) {
        nc_err e;
        if (set_one(c, d, d->def, "default", &e) != NC_OK) abort(); /* a bug in the table */
    }
    nc_feedback_default(&c->ft); /* what cfg_validate derives from the default feedback_types */
}

int cfg_set_default(srv_config *c, const char *name, const char *value, nc_err *e) {
    return set_by_name(c, name, strlen(name), value, "default", e);
}

/* NCLREC_ + upper-cased name with '-' as '_'. */
static void env_name(const char *name, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "NCLREC_");
    for (; *name && n + 1 < cap; name++)
        buf[n++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
    buf[n] = '\0';
}

static int apply_env(srv_config *c, nc_err *e) {
    char env[96], src[128];
    for (const cfg_desc *d = table; d->name; d++) {
        env_name(d->name, env, sizeof env);
        const char *v = getenv(env);
        snprintf(src, sizeof src, "environment %s", env);
        if (v && set_one(c, d, v, src, e) != NC_OK) return NC_EINVAL;
    }
    for (const nc_hparam_desc *h = nc_hparam_table; h->name; h++) {
        if (!strcmp(h->name, "threads")) continue;
        env_name(h->name, env, sizeof env);
        const char *v = getenv(env);
        snprintf(src, sizeof src, "environment %s", env);
        if (v && set_by_name(c, h->name, strlen(h->name), v, src, e) != NC_OK) return NC_EINVAL;
    }
    return NC_OK;
}

/* One argument at *i: "--name=value", "--name value", or a bare "--flag" for booleans. */
static int apply_arg(srv_config *c, int argc, char **argv, int *i, nc_err *e) {
    const char *a = argv[*i];
    if (strncmp(a, "--", 2) != 0 || !a[2])
        return nc_fail(e, NC_EINVAL, "command line: unexpected argument '%s' (see --help)", a);
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const cfg_desc *d = find_desc(name, len);
    char src[160];
    snprintf(src, sizeof src, "command line --%.*s", (int)(len < 100 ? len : 100), name);
    if (eq) return set_by_name(c, name, len, eq + 1, src, e);
    if (d && d->type == CT_BOOL && (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0 ||
                                    parse_bool(argv[*i + 1], &(int){0}) != 0))
        return set_one(c, d, "true", src, e);
    if (*i + 1 >= argc)
        return nc_fail(e, NC_EINVAL, "%s: missing value", src);
    (*i)++;
    return set_by_name(c, name, len, argv[*i], src, e);
}

int cfg_load(srv_config *c, int argc, char **argv, int *help, nc_err *e) {
    *help = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            *help = 1;
            return NC_OK;
        }
    if (apply_env(c, e) != NC_OK) return NC_EINVAL;
    for (int i = 1; i < argc; i++)
        if (apply_arg(c, argc, argv, &i, e) != NC_OK) return NC_EINVAL;
    return cfg_validate(c, e);
}

/* Splits listen into host and port: "h:p", "[v6]:p"; host must not be empty. */
static int parse_listen(srv_config *c, nc_err *e) {
    const char *l = c->listen, *colon;
    size_t hlen;
    if (l[0] == '[') {
        const char *rb = strchr(l, ']');
        if (!rb || rb[1] != ':')
            return nc_fail(e, NC_EINVAL, "setting 'listen': '%s' is not [ADDR]:PORT", l);
        hlen = (size_t)(rb - l - 1);
        memcpy(c->host, l + 1, hlen);
        colon = rb + 1;
    } else {
        colon = strrchr(l, ':');
        if (!colon || colon == l)
            return nc_fail(e, NC_EINVAL, "setting 'listen': '%s' is not HOST:PORT", l);
        hlen = (size_t)(colon - l);
        memcpy(c->host, l, hlen);
    }
    c->host[hlen] = '\0';
    double p;
    if (hlen == 0 || parse_num(colon + 1, &p) != 0 || p < 0 || p > 65535 || p != floor(p))
        return nc_fail(e, NC_EINVAL, "setting 'listen': '%s' needs a host and a port 0-65535", l);
    c->port = (int)p;
    return NC_OK;
}

/* Reads the first line of api_key_file into api_key, so the key never shows in `ps`. */
static int read_key_file(srv_config *c, nc_err *e) {
    FILE *f = fopen(c->api_key_file, "r");
    if (!f)
        return nc_fail(e, NC_EINVAL, "setting 'api_key_file': cannot open '%s': %s",
                       c->api_key_file, strerror(errno));
    char buf[CFG_STR_MAX];
    int ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    if (!ok) return nc_fail(e, NC_EINVAL, "setting 'api_key_file': '%s' is empty", c->api_key_file);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!buf[0]) return nc_fail(e, NC_EINVAL, "setting 'api_key_file': '%s' has an empty first line", c->api_key_file);
    memcpy(c->api_key, buf, strlen(buf) + 1);
    return NC_OK;
}

int cfg_parse_types(const char *spec, nc_feedback_types *ft, nc_err *e) {
    nc_err fe;
    if (nc_feedback_parse(spec, ft, &fe) != NC_OK)
        return nc_fail(e, NC_EINVAL, "setting 'feedback_types': %s", fe.msg);
    if (nc_feedback_find(ft, "view", 4) >= 0) return NC_OK;
    if (ft->n == NC_FEEDBACK_MAX_TYPES)
        return nc_fail(e, NC_EINVAL, "setting 'feedback_types': %d types leave no room for 'view'",
                       NC_FEEDBACK_MAX_TYPES);
    snprintf(ft->t[ft->n].name, sizeof ft->t[0].name, "view");
    ft->t[ft->n++].weight = 1;
    return NC_OK;
}

/* The type set, and every excluded type in it. */
static int validate_types(srv_config *c, nc_err *e) {
    if (cfg_parse_types(c->feedback_types, &c->ft, e) != NC_OK) return NC_EINVAL;
    char allowed[CFG_STR_MAX];
    nc_feedback_format(&c->ft, allowed, sizeof allowed);
    for (const char *p = c->exclude_types; *p;) {
        size_t len = strcspn(p, ",");
        if (nc_feedback_find(&c->ft, p, len) < 0)
            return nc_fail(e, NC_EINVAL, "setting 'exclude_types': '%.*s' is not a feedback type (allowed: %s)",
                           (int)len, p, allowed);
        p += len;
        if (*p && !*++p) return nc_fail(e, NC_EINVAL, "setting 'exclude_types': '%s' ends with ','", c->exclude_types);
    }
    return NC_OK;
}

/* Derives role_id; a replica needs an http:// primary, and only a replica takes one (a primary
 * URL given to another role is a mistake that would otherwise pass unnoticed). */
static int validate_role(srv_config *c, nc_err *e) {
    c->role_id = !strcmp(c->role, "primary") ? SRV_ROLE_PRIMARY
               : !strcmp(c->role, "replica") ? SRV_ROLE_REPLICA : SRV_ROLE_STANDALONE;
    if (c->role_id != SRV_ROLE_REPLICA && c->primary[0])
        return nc_fail(e, NC_EINVAL, "setting 'primary': only a replica follows a primary (role is '%s'; "
                       "add --role replica)", c->role);
    if (c->role_id != SRV_ROLE_REPLICA) return NC_OK;
    if (!c->primary[0])
        return nc_fail(e, NC_EINVAL, "setting 'primary': role replica needs the primary's URL (--primary http://HOST:PORT)");
    httpc_url u;
    nc_err ue;
    if (httpc_parse_url(c->primary, &u, &ue) != NC_OK) return nc_fail(e, NC_EINVAL, "setting 'primary': %s", ue.msg);
    return NC_OK;
}

int cfg_validate(srv_config *c, nc_err *e) {
    if (parse_listen(c, e) != NC_OK) return NC_EINVAL;
    if (!c->data_dir[0]) return nc_fail(e, NC_EINVAL, "setting 'data_dir': must not be empty");
    if (c->k_default > c->k_max)
        return nc_fail(e, NC_EINVAL, "setting 'k_default': %d is larger than k_max %d", c->k_default, c->k_max);
    if (validate_role(c, e) != NC_OK) return NC_EINVAL;
    if (validate_types(c, e) != NC_OK) return NC_EINVAL;
    if (c->api_key_file[0] && read_key_file(c, e) != NC_OK) return NC_EINVAL;
    for (const char *k = c->api_key; *k; k++)
        if ((unsigned char)*k <= ' ' || (unsigned char)*k >= 127)
            return nc_fail(e, NC_EINVAL, "setting 'api_key': only printable ASCII without spaces is allowed");
    nc_err he;
    if (nc_hparams_validate(&c->hp, &he) != NC_OK) return nc_fail(e, NC_EINVAL, "%s", he.msg);
    return NC_OK;
}

/* A field's current value as text, for --help defaults and the start-up log. */
static void value_text(const srv_config *c, const cfg_desc *d, char *buf, size_t cap) {
    const char *f = (const char *)c + d->offset;
    switch (d->type) {
    case CT_STR: snprintf(buf, cap, "%s", f); break;
    case CT_INT: snprintf(buf, cap, "%d", *(const int *)f); break;
    case CT_I64: snprintf(buf, cap, "%lld", (long long)*(const int64_t *)f); break;
    case CT_DBL: snprintf(buf, cap, "%g", *(const double *)f); break;
    case CT_BOOL: snprintf(buf, cap, "%s", *(const int *)f ? "true" : "false"); break;
    }
}

/* "data_dir" as the flag users type: "data-dir" (both spellings are accepted). */
static const char *flag_name(const char *name, char *buf, size_t cap) {
    size_t i = 0;
    for (; name[i] && i + 1 < cap; i++) buf[i] = name[i] == '_' ? '-' : name[i];
    buf[i] = '\0';
    return buf;
}

void cfg_print_help(FILE *f, const char *cmd, const srv_config *defaults) {
    char env[96], val[CFG_STR_MAX], flag[64];
    fprintf(f, "usage: nclrec %s [--option value | --option=value]...\n\noptions (environment override, default):\n", cmd);
    for (const cfg_desc *d = table; d->name; d++) {
        env_name(d->name, env, sizeof env);
        value_text(defaults, d, val, sizeof val);
        if (d->flags & CF_SECRET) snprintf(val, sizeof val, "%s", "unset");
        fprintf(f, "  --%-20s %s\n  %-22s (%s, default %s%s%s)\n", flag_name(d->name, flag, sizeof flag), d->help, "", env,
                val[0] ? val : "\"\"", d->choices ? "; one of " : "", d->choices ? d->choices : "");
    }
    fprintf(f, "\ntraining hyper-parameters (same forms, e.g. --epochs 40 or NCLREC_EPOCHS=40):\n");
    for (const nc_hparam_desc *h = nc_hparam_table; h->name; h++) {
        if (!strcmp(h->name, "threads")) continue;
        fprintf(f, "  --%-20s %s (default %g)\n", flag_name(h->name, flag, sizeof flag), h->help,
                nc_hparam_get(&defaults->hp, h));
    }
}

json_t *cfg_to_json(const srv_config *c) {
    json_t *o = json_object();
    char val[CFG_STR_MAX];
    if (!o) return NULL;
    for (const cfg_desc *d = table; d->name; d++) {
        const char *f = (const char *)c + d->offset;
        if (d->flags & CF_SECRET) {
            json_object_set_new(o, d->name, json_string(f[0] ? "set" : "unset"));
        } else if (d->type == CT_STR) {
            json_object_set_new(o, d->name, json_string(f));
        } else if (d->type == CT_BOOL) {
            json_object_set_new(o, d->name, json_boolean(*(const int *)f));
        } else if (d->type == CT_DBL) {
            json_object_set_new(o, d->name, json_real(*(const double *)f));
        } else {
            value_text(c, d, val, sizeof val);
            json_object_set_new(o, d->name, json_integer(strtoll(val, NULL, 10)));
        }
    }
    json_object_set_new(o, "hparams", cfg_hparams_json(&c->hp));
    return o;
}

json_t *cfg_hparams_json(const nc_hparams *hp) {
    json_t *o = json_object();
    char buf[32];
    for (const nc_hparam_desc *h = nc_hparam_table; o && h->name; h++) {
        const char *f = (const char *)hp + h->offset;
        json_t *v;
        if (h->type == NC_HP_FLOAT) {
            v = json_real((double)*(const float *)f);
        } else if (h->type == NC_HP_INT) {
            v = json_integer(*(const int32_t *)f);
        } else { /* 64-bit unsigned: JSON integers stop at INT64_MAX, beyond it a string */
            uint64_t u = *(const uint64_t *)f;
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)u);
            v = u <= (uint64_t)INT64_MAX ? json_integer((json_int_t)u) : json_string(buf);
        }
        json_object_set_new(o, h->name, v);
    }
    return o;
}
