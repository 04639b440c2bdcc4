/* hparams.h - every NCL hyper-parameter and training setting, with NCL.md's defaults, and a
 * table that describes each one (name, type, range, help) so the command line, the daemon's
 * configuration and the checkpoint all read and write them the same way. */
#ifndef NCLREC_HPARAMS_H
#define NCLREC_HPARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct nc_hparams {
    int32_t embedding_size;   /* d = 64 */
    int32_t n_layers;         /* 3 */
    int32_t hyper_layers;     /* 1: the context layer is E_{2*hyper_layers} */
    float learning_rate;      /* Adam lr 1e-3 */
    float reg_weight;         /* 1e-4 */
    float ssl_temp;           /* tau 0.1 */
    float ssl_reg;            /* 1e-7 */
    float alpha;              /* item weight of the structure term, 1 */
    int32_t ssl_negatives;    /* 0: structure term's softmax over all users / items (NCL.md);
                                 N > 0: over the positive and N uniformly drawn rows per side,
                                 an approximation (our addition, docs/scaling.md) */
    int32_t ssl_stratum_size; /* with ssl_negatives > 0: 0 = uniform sample alone; S > 0 = each
                                 side split by k-means into strata of ~S rows, an anchor's own
                                 stratum summed exactly (ssl_strata_tmpl.h) */
    int32_t ssl_memory;       /* with ssl_negatives > 0: 1 = every row's last sampled negative
                                 gradient is kept and applied at every step (ssl_sampled_tmpl.h) */
    float exact_limit;        /* size rule: when neither of the two above is set and training
                                 pairs x (users + items) exceeds this, the trainer picks the
                                 fast path (core/scale_rule.h); 0 = always exact */
    float proto_reg;          /* 8e-8 */
    int32_t num_clusters;     /* k of the E-step, 1000 */
    int32_t warm_up_step;     /* proto joins at this 0-based epoch, 20 */
    int32_t train_batch_size; /* 4096 */
    int32_t epochs;           /* at most, 300 */
    int32_t stopping_step;    /* patience, 10 */
    int32_t min_epochs;       /* never stop before this many epochs (our addition), 60 */
    float min_delta;          /* early stop: an evaluation is progress only when it beats the
                                 last progress by this fraction; 0 = the reference's rule
                                 (core/early_stop.h, our addition) */
    int32_t warm_patience;    /* a warm start stops after this + 1 evaluations without
                                 progress, min_epochs aside; 0 = the cold rule, 2 */
    float max_seconds;        /* time budget: stop after the first epoch that ends this many
                                 seconds after the start, the best epoch kept; 0 = none (our
                                 addition) */
    int32_t eval_step;        /* evaluate every N epochs, 1 */
    int32_t eval_users;       /* validate on a fixed random sample of this many valid users
                                 (test metrics stay on all); 0 = all (our addition) */
    int32_t kmeans_niter;     /* faiss Kmeans default 25 */
    int32_t kmeans_seed;      /* faiss Kmeans default 1234 */
    int32_t kmeans_max_points;/* per centroid, faiss default 256 */
    int32_t threads;          /* 0 = all cores */
    uint64_t seed;            /* initialisation, shuffling, negatives: 2020 */
} nc_hparams;

typedef enum { NC_HP_INT, NC_HP_FLOAT, NC_HP_U64 } nc_hp_type;

typedef struct nc_hparam_desc {
    const char *name;   /* flag name without dashes: "learning_rate"; "-" forms accepted too */
    nc_hp_type type;
    size_t offset;      /* offsetof(nc_hparams, field) */
    double min, max;    /* inclusive range */
    const char *help;
} nc_hparam_desc;

/* The table, terminated by an entry with name == NULL. Read-only. */
extern const nc_hparam_desc nc_hparam_table[];

void nc_hparams_default(nc_hparams *hp);
/* Finds a setting by name ("ssl_reg" or "ssl-reg"); NULL if there is none. */
const nc_hparam_desc *nc_hparam_find(const char *name);
/* Parses value for the named setting and stores it. Errors name the setting and the value. */
int nc_hparams_set(nc_hparams *hp, const char *name, const char *value, nc_err *e);
/* Checks every field is in range and the combination makes sense. */
int nc_hparams_validate(const nc_hparams *hp, nc_err *e);
/* Writes "name=value name=value ..." into buf (for logs); returns chars written. */
size_t nc_hparams_format(const nc_hparams *hp, char *buf, size_t cap);
/* Writes "--name value --name value ..." (every setting, '-' for '_', each float in the shortest
 * form that reads back as the same float, so that `nclrec train` given them runs with the same
 * numbers) into buf; stops before a setting that does not fit; returns chars written. */
size_t nc_hparams_format_flags(const nc_hparams *hp, char *buf, size_t cap);
/* Value of a setting as a double, for generic printing. */
double nc_hparam_get(const nc_hparams *hp, const nc_hparam_desc *dsc);

#endif
