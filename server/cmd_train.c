/* cmd_train.c - `nclrec train` and `nclrec eval`: train NCL from interaction files and write a
 * checkpoint; report a saved model's metrics on data files.
 *
 * Output contract: human progress goes to stderr (a live bar on a terminal, one plain line per
 * epoch otherwise); the final metrics go to stdout as one line of key=value pairs a script can
 * read. Exit codes: 0 ok, 1 run-time failure, 2 bad usage or bad input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "commands.h"
#include "dataset.h"
#include "feedback.h"
#include "hparams.h"
#include "metrics.h"
#include "train.h"
#include "train_curve.h"

/* Where the data comes from: a pre-split set of files, or one file split per user. */
typedef struct data_args {
    const char *train, *valid, *test;
    nc_load_opts load;
    double ratios[3];
    int split_given;
    uint64_t split_seed;
    nc_feedback_types types; /* --feedback-types; load.types points here when given */
} data_args;

typedef struct train_args {
    data_args data;
    const char *out, *warm;
    const char *curve;    /* --curve FILE, or NULL */
    nc_hparams hp;
    int quiet, timings;
    int settings;         /* --settings: print the resolved settings, do not train */
} train_args;

static void usage_data(FILE *f) {
    fprintf(f,
            "data:\n"
            "  --train FILE          training interactions (or all of them, with --split)\n"
            "  --valid FILE          validation interactions (pre-split set)\n"
            "  --test FILE           test interactions (pre-split set)\n"
            "  --split A,B,C         split --train per user with these ratios (default\n"
            "                        0.8,0.1,0.1 when no --valid/--test is given)\n"
            "  --split-seed N        seed of the split permutation (default 2020)\n"
            "  --format F            csv | tsv | adj (default: recognised from the content)\n"
            "  --ts-col N            CSV/TSV column of the timestamp, 0-based (default 2)\n"
            "  --rating-col N        CSV/TSV column of a rating to filter on (default: none)\n"
            "  --min-rating R        with --rating-col, keep rows rated >= R (e.g. ML-100K:\n"
            "                        --rating-col 2 --ts-col 3 --min-rating 3)\n"
            "  --weight-col N        CSV/TSV column of each row's training weight, 0-based: a\n"
            "                        whole number 0..100, or a type of --feedback-types; a\n"
            "                        row of weight w is sampled as a positive w times per\n"
            "                        epoch, weight 0 leaves the row out (default: none, all 1)\n"
            "  --feedback-types T    the weight column holds these type names, e.g.\n"
            "                        view=1,click=1,purchase=3 (an unknown type is an error)\n"
            "files: CSV/TSV `user,item[,timestamp]` (string ids, optional header) or\n"
            "adjacency lists `user item item ...` (a user may span several lines)\n");
}

static void usage_train(FILE *f) {
    fprintf(f, "usage: nclrec train --train FILE [--valid FILE --test FILE | --split A,B,C]\n"
               "                    --out MODEL [--curve FILE] [--quiet] [hyper-parameters]\n"
               "       nclrec train --train FILE [data flags] --settings [hyper-parameters]\n\n");
    usage_data(f);
    fprintf(f, "  --out FILE            checkpoint to write (atomically)\n"
               "  --warm MODEL          start from MODEL's embeddings for the ids it knows (as\n"
               "                        the daemon's retrain does)\n"
               "  --curve FILE          write one CSV line per epoch (losses, valid ndcg@10, seconds)\n"
               "  --quiet               no progress output\n"
               "  --timings             one line per epoch with seconds per part\n"
               "  --settings            print the settings this training would run with (after\n"
               "                        the size rule) as flags on one line, and exit\n"
               "\nhyper-parameters (NCL.md defaults):\n");
    nc_hparams hp;
    nc_hparams_default(&hp);
    for (const nc_hparam_desc *d = nc_hparam_table; d->name; d++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", d->name);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_') *p = '-';
        fprintf(f, "  %-22s %s (default %g)\n", flag, d->help, nc_hparam_get(&hp, d));
    }
}

static int parse_ratios(const char *s, double r[3]) {
    char *end;
    for (int k = 0; k < 3; k++) {
        errno = 0;
        r[k] = strtod(s, &end);
        if (errno || end == s || r[k] < 0 || r[k] > 1) return -1;
        if (k < 2 && *end != ',') return -1;
        s = end + 1;
    }
    double sum = r[0] + r[1] + r[2];
    return (*end == '\0' && sum > 0.999999 && sum < 1.000001 && r[0] > 0) ? 0 : -1;
}

static int parse_format(const char *s, nc_format *f) {
    if (!strcmp(s, "csv")) *f = NC_FMT_CSV;
    else if (!strcmp(s, "tsv")) *f = NC_FMT_TSV;
    else if (!strcmp(s, "adj")) *f = NC_FMT_ADJ;
    else if (!strcmp(s, "auto")) *f = NC_FMT_AUTO;
    else return -1;
    return 0;
}

/* Parses a whole number for flag f into *out; prints the problem and returns -1 if it isn't. */
static int parse_int(const char *f, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "nclrec: %s '%s' must be a whole number in [%ld, %ld]\n", f, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

/* Handles one data flag at argv[*i]. Returns 1 if consumed, 0 if not a data flag, -1 on a bad
 * value (message printed). */
static int parse_data_flag(data_args *a, int argc, char **argv, int *i) {
    const char *f = argv[*i];
    const char *names[] = {"--train", "--valid", "--test", "--split", "--split-seed",
                           "--format", "--ts-col", "--rating-col", "--min-rating",
                           "--weight-col", "--feedback-types"};
    int which = -1;
    for (int k = 0; k < (int)(sizeof names / sizeof *names); k++)
        if (!strcmp(f, names[k])) which = k;
    if (which < 0) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "nclrec: %s needs a value\n", f);
        return -1;
    }
    const char *v = argv[++*i];
    char *end;
    long x;
    switch (which) {
    case 0: a->train = v; break;
    case 1: a->valid = v; break;
    case 2: a->test = v; break;
    case 3:
        if (parse_ratios(v, a->ratios)) {
            fprintf(stderr, "nclrec: --split '%s': need three ratios in [0,1] summing to 1, "
                            "train > 0 (e.g. 0.8,0.1,0.1)\n", v);
            return -1;
        }
        a->split_given = 1;
        break;
    case 4:
        errno = 0;
        a->split_seed = strtoull(v, &end, 10);
        if (errno || *end || v[0] == '-' || !*v) {
            fprintf(stderr, "nclrec: --split-seed '%s' is not a non-negative integer\n", v);
            return -1;
        }
        break;
    case 5:
        if (parse_format(v, &a->load.fmt)) {
            fprintf(stderr, "nclrec: --format '%s': use csv, tsv or adj\n", v);
            return -1;
        }
        break;
    case 6:
    case 7:
    case 9:
        if (parse_int(f, v, -1, 1000, &x)) return -1;
        *(which == 6 ? &a->load.ts_col : which == 7 ? &a->load.rating_col
                                                    : &a->load.weight_col) = (int32_t)x;
        break;
    case 10: {
        nc_err e;
        if (nc_feedback_parse(v, &a->types, &e)) {
            fprintf(stderr, "nclrec: --feedback-types '%s': %s\n", v, e.msg);
            return -1;
        }
        a->load.types = &a->types;
        break;
    }
    case 8:
        errno = 0;
        a->load.min_rating = strtod(v, &end);
        if (errno || end == v || *end) {
            fprintf(stderr, "nclrec: --min-rating '%s' is not a number\n", v);
            return -1;
        }
        break;
    }
    return 1;
}

static void data_args_default(data_args *a) {
    memset(a, 0, sizeof *a);
    a->ratios[0] = 0.8;
    a->ratios[1] = 0.1;
    a->ratios[2] = 0.1;
    a->split_seed = 2020;
    nc_load_opts_default(&a->load);
}

static int check_data_args(const data_args *a) {
    if (!a->train) {
        fprintf(stderr, "nclrec: --train FILE is required (see --help)\n");
        return -1;
    }
    if (a->load.types && a->load.weight_col < 0) {
        fprintf(stderr, "nclrec: --feedback-types needs --weight-col (the column of the types)\n");
        return -1;
    }
    if ((a->valid || a->test) && a->split_given) {
        fprintf(stderr, "nclrec: give either --valid/--test files or --split, not both\n");
        return -1;
    }
    return 0;
}

/* Counts ids that occur in valid/test but never in train: real catalogue entries the model
 * knows only from its initialisation (they still count in the metrics, as in the reference). */
static void report_cold(const nc_dataset *d) {
    char *u = calloc(d->users.n + 1, 1), *it = calloc(d->items.n + 1, 1);
    if (!u || !it) {
        free(u);
        free(it);
        return;
    }
    for (size_t k = 0; k < d->train.n; k++) {
        u[d->train.user[k]] = 1;
        it[d->train.item[k]] = 1;
    }
    size_t cu = 0, ci = 0;
    for (size_t k = 0; k < d->users.n; k++) cu += !u[k];
    for (size_t k = 0; k < d->items.n; k++) ci += !it[k];
    if (cu || ci)
        fprintf(stderr, "note: %zu users and %zu items appear only in valid/test data; they stay "
                        "in the catalogue and count in the metrics\n", cu, ci);
    free(u);
    free(it);
}

/* Loads the files named in a into d (whose id maps may already hold ids: eval starts them from
 * the model's maps so model ids keep their numbers). Returns 0 or an exit code. */
static int load_data(const data_args *a, nc_dataset *d, int quiet) {
    nc_err e;
    nc_err_clear(&e);
    int rc;
    if (a->valid || a->test) {
        rc = nc_load_file_opts(a->train, &a->load, &d->users, &d->items, &d->train, &e);
        if (!rc && a->valid) rc = nc_load_file_opts(a->valid, &a->load, &d->users, &d->items, &d->valid, &e);
        if (!rc && a->test) rc = nc_load_file_opts(a->test, &a->load, &d->users, &d->items, &d->test, &e);
    } else {
        nc_interactions all;
        nc_inter_init(&all);
        rc = nc_load_file_opts(a->train, &a->load, &d->users, &d->items, &all, &e);
        if (!rc) nc_inter_dedup(&all, &e);
        if (!rc) rc = nc_split(&all, d->users.n, a->ratios, a->split_seed, &d->train, &d->valid,
                               &d->test, &e);
        nc_inter_free(&all);
    }
    if (rc) {
        fprintf(stderr, "nclrec: %s\n", e.msg);
        return rc == NC_ENOMEM || rc == NC_EINTERNAL ? 1 : 2;
    }
    if (d->train.n == 0) {
        fprintf(stderr, "nclrec: %s: the split leaves no training interactions\n", a->train);
        return 2;
    }
    if (!quiet) {
        fprintf(stderr, "data: %zu users, %zu items; train %zu, valid %zu, test %zu interactions\n",
                d->users.n, d->items.n, d->train.n, d->valid.n, d->test.n);
        report_cold(d);
    }
    return 0;
}

static void print_metrics_line(const char *prefix, const nc_metrics *m) {
    char buf[512];
    nc_metrics_format(m, buf, sizeof buf);
    printf("%s%s\n", prefix, buf);
}

/* ===================== progress ===================== */

typedef struct progress_ctx {
    int tty, quiet, timings;
    FILE *curve;        /* --curve's file, or NULL */
    const char *curve_path;
} progress_ctx;

/* A bar on a terminal, one line per epoch elsewhere; notes always get a line. */
static int on_progress(const nc_progress *p, void *vctx) {
    progress_ctx *c = vctx;
    if (p->phase == NC_PHASE_LOG) {
        if (!c->quiet) fprintf(stderr, "%snote: %s\n", c->tty ? "\r\033[K" : "", p->message);
        return 0;
    }
    if (p->phase == NC_PHASE_EPOCH_END && c->curve && train_curve_row(c->curve, p) != 0) {
        fprintf(stderr, "nclrec train: cannot write --curve %s: %s\n", c->curve_path, strerror(errno));
        return 1; /* stops training: the caller asked for the curve */
    }
    if (c->quiet) return 0;
    if (p->phase == NC_PHASE_BATCH) {
        if (!c->tty) return 0;
        int w = 30, fill = p->n_batches ? (int)((long)w * p->batch / p->n_batches) : 0;
        char bar[64];
        for (int k = 0; k < w; k++) bar[k] = k < fill ? '#' : '.';
        bar[w] = '\0';
        fprintf(stderr, "\r\033[Kepoch %3d [%s] %d/%d bpr %.4f ssl %.4f proto %.4f %6.1fs",
                p->epoch, bar, p->batch, p->n_batches, p->bpr, p->ssl, p->proto, p->seconds);
        return 0;
    }
    if (p->phase == NC_PHASE_EPOCH_END) {
        fprintf(stderr, "%sepoch %3d  bpr %.5f reg %.4f ssl %.5f proto %.5f  valid ndcg@10 %.4f "
                        "(best %.4f @%d)  %.2fs/epoch  %.0fs\n",
                c->tty ? "\r\033[K" : "", p->epoch, p->bpr, p->reg, p->ssl, p->proto,
                p->valid_ndcg10, p->best_ndcg10, p->best_epoch, p->epoch_seconds, p->seconds);
        if (c->timings)
            fprintf(stderr, "timing epoch=%d total=%.3f prop=%.3f ssl=%.3f proto=%.3f bpr=%.3f "
                            "kmeans=%.3f adam=%.3f sample=%.3f eval=%.3f flops=%.4g\n",
                    p->epoch, p->epoch_seconds, p->t_prop, p->t_ssl, p->t_proto, p->t_bpr,
                    p->t_kmeans, p->t_adam, p->t_sample, p->t_eval, p->flops);
        fflush(stderr);
    }
    return 0;
}

/* ===================== train ===================== */

static int parse_train_args(train_args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    data_args_default(&a->data);
    nc_hparams_default(&a->hp);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
            usage_train(stdout);
            return 1;
        }
        int r = parse_data_flag(&a->data, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(f, "--quiet")) {
            a->quiet = 1;
        } else if (!strcmp(f, "--timings")) {
            a->timings = 1;
        } else if (!strcmp(f, "--settings")) {
            a->settings = 1;
        } else if (!strcmp(f, "--out") && i + 1 < argc) {
            a->out = argv[++i];
        } else if (!strcmp(f, "--warm") && i + 1 < argc) {
            a->warm = argv[++i];
        } else if (!strcmp(f, "--curve") && i + 1 < argc) {
            a->curve = argv[++i];
        } else if (!strncmp(f, "--", 2) && nc_hparam_find(f + 2)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "nclrec train: %s needs a value\n", f);
                return 2;
            }
            nc_err e;
            if (nc_hparams_set(&a->hp, f + 2, argv[++i], &e)) {
                fprintf(stderr, "nclrec train: --%s\n", e.msg);
                return 2;
            }
        } else {
            fprintf(stderr, "nclrec train: unknown flag or missing value '%s' (see --help)\n", f);
            return 2;
        }
    }
    if (check_data_args(&a->data)) return 2;
    if (!a->out && !a->settings) {
        fprintf(stderr, "nclrec train: --out FILE is required\n");
        return 2;
    }
    return 0;
}

/* --settings: the rule's line on stderr, the resolved settings as flags on stdout (a script
 * passes them to another run, e.g. the exact term with the fast path's batch). */
static int print_settings(const nc_dataset *d, nc_hparams hp, int quiet) {
    char why[512], flags[4096];
    nc_err e;
    nc_err_clear(&e);
    if (nc_train_settings(d, &hp, why, sizeof why, &e)) {
        fprintf(stderr, "nclrec train: %s\n", e.msg);
        return e.code == NC_EINVAL ? 2 : 1;
    }
    if (!quiet) fprintf(stderr, "note: %s\n", why);
    nc_hparams_format_flags(&hp, flags, sizeof flags);
    printf("%s\n", flags);
    return 0;
}

int cmd_train(int argc, char **argv) {
    train_args a;
    int rc = parse_train_args(&a, argc, argv);
    if (rc) return rc == 1 ? 0 : rc;
    nc_dataset d;
    nc_dataset_init(&d);
    if ((rc = load_data(&a.data, &d, a.quiet))) {
        nc_dataset_free(&d);
        return rc;
    }
    if (a.settings) {
        rc = print_settings(&d, a.hp, a.quiet);
        nc_dataset_free(&d);
        return rc;
    }
    progress_ctx pc = {isatty(2), a.quiet, a.timings, NULL, a.curve};
    nc_checkpoint ck, warm;
    nc_checkpoint_init(&warm);
    nc_err e;
    nc_err_clear(&e);
    if (a.warm && nc_checkpoint_read(a.warm, &warm, &e)) {
        fprintf(stderr, "nclrec train: --warm: %s\n", e.msg);
        nc_dataset_free(&d);
        return 2;
    }
    if (a.curve && (!(pc.curve = fopen(a.curve, "w")) || train_curve_header(pc.curve) != 0)) {
        fprintf(stderr, "nclrec train: cannot write --curve %s: %s\n", a.curve, strerror(errno));
        if (pc.curve) fclose(pc.curve);
        nc_checkpoint_free(&warm);
        nc_dataset_free(&d);
        return 1;
    }
    nc_train_opts o = {.hp = a.hp, .progress = on_progress, .progress_ctx = &pc,
                       .progress_every_batch = pc.tty, .warm = a.warm ? &warm : NULL};
    rc = nc_train(&d, &o, &ck, &e);
    nc_dataset_free(&d);
    nc_checkpoint_free(&warm);
    if (pc.curve && fclose(pc.curve) != 0 && !rc) {
        fprintf(stderr, "nclrec train: cannot write --curve %s: %s\n", a.curve, strerror(errno));
        nc_checkpoint_free(&ck);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "nclrec train: %s\n", e.msg);
        return rc == NC_EINVAL ? 2 : 1;
    }
    ck.meta.model_version = (uint64_t)time(NULL);
    rc = nc_checkpoint_write(a.out, &ck, &e);
    if (rc) {
        fprintf(stderr, "nclrec train: %s\n", e.msg);
        nc_checkpoint_free(&ck);
        return 1;
    }
    if (!a.quiet)
        fprintf(stderr, "best epoch %d of %d; %.1fs; wrote %s\n", ck.meta.best_epoch,
                ck.meta.epochs_run, ck.meta.train_seconds, a.out);
    struct rusage ru;
    long rss_kb = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
    printf("best_epoch=%d epochs=%d seconds=%.1f peak_rss_mb=%.0f ", ck.meta.best_epoch,
           ck.meta.epochs_run, ck.meta.train_seconds, rss_kb / 1024.0);
    print_metrics_line("", &ck.test);
    nc_checkpoint_free(&ck);
    return 0;
}

/* ===================== eval ===================== */

static void usage_eval(FILE *f) {
    fprintf(f, "usage: nclrec eval --model MODEL --train FILE [--valid FILE --test FILE | "
               "--split A,B,C]\n\n"
               "Reports Recall@K and NDCG@K (K = 10, 20, 50) of a saved model: on valid (train\n"
               "items masked) and on test (train and valid items masked). Ids the model does not\n"
               "know get a zero embedding.\n\n");
    usage_data(f);
}

/* Copies the model's id maps into d so model ids keep their numbers while loading data. */
static int seed_maps(nc_dataset *d, const nc_checkpoint *ck, nc_err *e) {
    for (int s = 0; s < 2; s++) {
        const nc_idmap *src = s ? &ck->items : &ck->users;
        nc_idmap *dst = s ? &d->items : &d->users;
        for (size_t k = 0; k < src->n; k++) {
            int32_t id;
            int rc = nc_idmap_intern(dst, src->ids[k], strlen(src->ids[k]), &id, e);
            if (rc) return rc;
        }
    }
    return NC_OK;
}

/* Embeddings for the dataset's ids: the model's rows, zero rows for ids it never saw. */
static float *padded(const float *rows, size_t known, size_t total, int32_t dim) {
    float *out = calloc(total * (size_t)dim + 1, sizeof(float));
    if (out) memcpy(out, rows, known * (size_t)dim * sizeof(float));
    return out;
}

static int eval_model(const nc_checkpoint *ck, const nc_dataset *d) {
    float *ue = padded(ck->user_emb, (size_t)ck->n_users, d->users.n, ck->dim);
    float *ie = padded(ck->item_emb, (size_t)ck->n_items, d->items.n, ck->dim);
    nc_err e;
    nc_err_clear(&e);
    int rc = (!ue || !ie) ? nc_fail(&e, NC_ENOMEM, "out of memory") : NC_OK;
    nc_metrics mv = {0}, mt = {0};
    if (!rc && d->valid.n)
        rc = nc_evaluate(ue, ie, (int32_t)d->users.n, (int32_t)d->items.n, ck->dim, &d->valid,
                         &d->train, NULL, &mv, &e);
    if (!rc && d->test.n)
        rc = nc_evaluate(ue, ie, (int32_t)d->users.n, (int32_t)d->items.n, ck->dim, &d->test,
                         &d->train, &d->valid, &mt, &e);
    free(ue);
    free(ie);
    if (rc) {
        fprintf(stderr, "nclrec eval: %s\n", e.msg);
        return 1;
    }
    if (d->valid.n) print_metrics_line("valid ", &mv);
    if (d->test.n) print_metrics_line("test ", &mt);
    return 0;
}

int cmd_eval(int argc, char **argv) {
    data_args a;
    data_args_default(&a);
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage_eval(stdout);
            return 0;
        }
        int r = parse_data_flag(&a, argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            model = argv[++i];
        } else {
            fprintf(stderr, "nclrec eval: unknown flag or missing value '%s' (see --help)\n",
                    argv[i]);
            return 2;
        }
    }
    if (!model) {
        fprintf(stderr, "nclrec eval: --model FILE is required\n");
        return 2;
    }
    if (check_data_args(&a)) return 2;
    nc_checkpoint ck;
    nc_err e;
    if (nc_checkpoint_read(model, &ck, &e)) {
        fprintf(stderr, "nclrec eval: %s\n", e.msg);
        return 2;
    }
    nc_dataset d;
    nc_dataset_init(&d);
    int rc = seed_maps(&d, &ck, &e) ? 1 : load_data(&a, &d, 1);
    if (!rc) rc = eval_model(&ck, &d);
    nc_dataset_free(&d);
    nc_checkpoint_free(&ck);
    return rc;
}
