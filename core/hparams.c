/* hparams.c - see hparams.h. */
#include "hparams.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(field) offsetof(nc_hparams, field)
const nc_hparam_desc nc_hparam_table[] = {
    {"embedding_size", NC_HP_INT, F(embedding_size), 1, 4096, "embedding dimension d"},
    {"n_layers", NC_HP_INT, F(n_layers), 1, 16, "LightGCN propagation layers"},
    {"hyper_layers", NC_HP_INT, F(hyper_layers), 1, 8, "context layer is E_{2*hyper_layers}"},
    {"learning_rate", NC_HP_FLOAT, F(learning_rate), 1e-7, 10, "Adam learning rate"},
    {"reg_weight", NC_HP_FLOAT, F(reg_weight), 0, 10, "embedding regularisation weight"},
    {"ssl_temp", NC_HP_FLOAT, F(ssl_temp), 1e-4, 100, "contrastive temperature tau"},
    {"ssl_reg", NC_HP_FLOAT, F(ssl_reg), 0, 10, "structure-contrastive weight"},
    {"alpha", NC_HP_FLOAT, F(alpha), 0, 100, "item weight in the structure term"},
    {"ssl_negatives", NC_HP_INT, F(ssl_negatives), 0, 1 << 30,
     "0 = exact structure term; N = sampled softmax over N uniform rows per side"},
    {"ssl_stratum_size", NC_HP_INT, F(ssl_stratum_size), 0, 1 << 30,
     "with ssl_negatives: k-means strata of ~S rows, own stratum exact (0 = off)"},
    {"ssl_memory", NC_HP_INT, F(ssl_memory), 0, 1,
     "with ssl_negatives: 1 = each row keeps its last negative gradient, applied every step"},
    {"exact_limit", NC_HP_FLOAT, F(exact_limit), 0, 1e30,
     "pairs x (users + items) above which the fast path is picked (0 = never)"},
    {"proto_reg", NC_HP_FLOAT, F(proto_reg), 0, 10, "prototype-contrastive weight"},
    {"num_clusters", NC_HP_INT, F(num_clusters), 1, 1000000, "k-means clusters per table"},
    {"warm_up_step", NC_HP_INT, F(warm_up_step), 0, 100000, "first epoch with the proto term"},
    {"train_batch_size", NC_HP_INT, F(train_batch_size), 1, 1 << 24, "training batch size"},
    {"epochs", NC_HP_INT, F(epochs), 1, 100000, "maximum epochs"},
    {"stopping_step", NC_HP_INT, F(stopping_step), 1, 100000, "early-stopping patience"},
    {"min_epochs", NC_HP_INT, F(min_epochs), 0, 100000, "never stop early before this epoch"},
    {"min_delta", NC_HP_FLOAT, F(min_delta), 0, 1,
     "early stop: progress = valid NDCG@10 above the last progress by this fraction"},
    {"warm_patience", NC_HP_INT, F(warm_patience), 0, 100000,
     "warm start: stop after this + 1 evaluations without progress, from epoch 0 (0 = cold rule)"},
    {"max_seconds", NC_HP_FLOAT, F(max_seconds), 0, 1e9,
     "stop after the first epoch that ends this long after the start, keeping the best (0 = none)"},
    {"eval_step", NC_HP_INT, F(eval_step), 1, 100000, "evaluate every N epochs"},
    {"eval_users", NC_HP_INT, F(eval_users), 0, 2147483647,
     "validate on a fixed random sample of N valid users, test on all (0 = all)"},
    {"kmeans_niter", NC_HP_INT, F(kmeans_niter), 1, 10000, "k-means iterations"},
    {"kmeans_seed", NC_HP_INT, F(kmeans_seed), 0, 2147483647, "k-means seed"},
    {"kmeans_max_points", NC_HP_INT, F(kmeans_max_points), 1, 1 << 24,
     "k-means sample cap per centroid"},
    {"threads", NC_HP_INT, F(threads), 0, 1024, "threads for training (0 = all cores)"},
    {"seed", NC_HP_U64, F(seed), 0, 9007199254740991.0, "random seed (up to 2^53 - 1, exact in JSON)"},
    {NULL, 0, 0, 0, 0, NULL},
};
#undef F

void nc_hparams_default(nc_hparams *hp) {
    memset(hp, 0, sizeof *hp);
    hp->embedding_size = 64;
    hp->n_layers = 3;
    hp->hyper_layers = 1;
    hp->learning_rate = 1e-3f;
    hp->reg_weight = 1e-4f;
    hp->ssl_temp = 0.1f;
    hp->ssl_reg = 1e-7f;
    hp->alpha = 1.0f;
    hp->ssl_negatives = 0;
    hp->ssl_stratum_size = 0;
    hp->exact_limit = 1e10f;
    hp->proto_reg = 8e-8f;
    hp->num_clusters = 1000;
    hp->warm_up_step = 20;
    hp->train_batch_size = 4096;
    hp->epochs = 300;
    hp->stopping_step = 10;
    hp->min_epochs = 60;
    hp->min_delta = 0;
    hp->warm_patience = 2;
    hp->eval_step = 1;
    hp->kmeans_niter = 25;
    hp->kmeans_seed = 1234;
    hp->kmeans_max_points = 256;
    hp->threads = 0;
    hp->seed = 2020;
}

/* Names compare with '-' and '_' treated alike, so --ssl-reg and --ssl_reg both work. */
static int name_eq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
        if (x != y) return 0;
    }
    return *a == *b;
}

const nc_hparam_desc *nc_hparam_find(const char *name) {
    for (const nc_hparam_desc *d = nc_hparam_table; d->name; d++)
        if (name_eq(d->name, name)) return d;
    return NULL;
}

int nc_hparams_set(nc_hparams *hp, const char *name, const char *value, nc_err *e) {
    const nc_hparam_desc *d = nc_hparam_find(name);
    if (!d) return nc_fail(e, NC_EINVAL, "unknown setting '%s'", name);
    if (!value || !*value) return nc_fail(e, NC_EINVAL, "setting '%s' needs a value", d->name);
    char *end = NULL;
    errno = 0;
    double x;
    unsigned long long u = 0;
    if (d->type == NC_HP_U64) {
        if (value[0] == '-') return nc_fail(e, NC_EINVAL, "%s: '%s' is negative", d->name, value);
        u = strtoull(value, &end, 10);
        x = (double)u;
    } else if (d->type == NC_HP_INT) {
        long long v = strtoll(value, &end, 10);
        x = (double)v;
    } else {
        x = strtod(value, &end);
    }
    if (errno || end == value || *end || !isfinite(x))
        return nc_fail(e, NC_EINVAL, "%s: '%s' is not a valid %s", d->name, value,
                       d->type == NC_HP_FLOAT ? "number" : "integer");
    if (x < d->min || x > d->max)
        return nc_fail(e, NC_EINVAL, "%s: %s is out of range [%g, %g]", d->name, value, d->min,
                       d->max);
    char *p = (char *)hp + d->offset;
    if (d->type == NC_HP_INT) *(int32_t *)p = (int32_t)x;
    else if (d->type == NC_HP_U64) *(uint64_t *)p = u;
    else *(float *)p = (float)x;
    return NC_OK;
}

double nc_hparam_get(const nc_hparams *hp, const nc_hparam_desc *d) {
    const char *p = (const char *)hp + d->offset;
    if (d->type == NC_HP_INT) return *(const int32_t *)p;
    if (d->type == NC_HP_U64) return (double)*(const uint64_t *)p;
    return *(const float *)p;
}

int nc_hparams_validate(const nc_hparams *hp, nc_err *e) {
    for (const nc_hparam_desc *d = nc_hparam_table; d->name; d++) {
        double x = nc_hparam_get(hp, d);
        if (!(x >= d->min && x <= d->max))
            return nc_fail(e, NC_EINVAL, "%s: %g is out of range [%g, %g]", d->name, x, d->min,
                           d->max);
    }
    return NC_OK;
}

/* The shortest %g form of x that reads back as x (at most 9 digits, enough for any float). */
static int shortest_float(float x, char *buf, size_t cap) {
    for (int p = 6; p < 9; p++) {
        snprintf(buf, cap, "%.*g", p, x);
        if (strtof(buf, NULL) == x) return p;
    }
    return 9;
}

/* One setting, "name=value" for a log or "--name value" for a command line, where the value
 * reads back as the same number. Returns snprintf's count. */
static int format_one(const nc_hparams *hp, const nc_hparam_desc *d, int as_flag, char *buf,
                      size_t cap) {
    const char *p = (const char *)hp + d->offset;
    char name[64];
    snprintf(name, sizeof name, "%s%s", as_flag ? "--" : "", d->name);
    for (char *c = name; as_flag && *c; c++)
        if (*c == '_') *c = '-';
    const char *sep = as_flag ? " " : "=";
    if (d->type == NC_HP_INT) return snprintf(buf, cap, "%s%s%d", name, sep, *(const int32_t *)p);
    if (d->type == NC_HP_U64)
        return snprintf(buf, cap, "%s%s%llu", name, sep, (unsigned long long)*(const uint64_t *)p);
    const float x = *(const float *)p;
    char tmp[32];
    return snprintf(buf, cap, "%s%s%.*g", name, sep, as_flag ? shortest_float(x, tmp, sizeof tmp) : 6,
                    x);
}

/* Every setting, space-separated, as format_one writes it; stops before one that does not fit. */
static size_t format_all(const nc_hparams *hp, int as_flag, char *buf, size_t cap) {
    size_t n = 0;
    if (cap) buf[0] = '\0';
    for (const nc_hparam_desc *d = nc_hparam_table; d->name; d++) {
        if (n && n + 1 < cap) buf[n] = ' ';
        size_t at = n ? n + 1 : 0;
        if (at >= cap) break;
        int w = format_one(hp, d, as_flag, buf + at, cap - at);
        if (w < 0 || (size_t)w >= cap - at) {
            buf[n] = '\0';
            break;
        }
        n = at + (size_t)w;
    }
    return n;
}

size_t nc_hparams_format(const nc_hparams *hp, char *buf, size_t cap) {
    return format_all(hp, 0, buf, cap);
}

size_t nc_hparams_format_flags(const nc_hparams *hp, char *buf, size_t cap) {
    return format_all(hp, 1, buf, cap);
}
