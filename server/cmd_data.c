/* cmd_data.c - `nclrec synth`, `nclrec import` and `nclrec export`: make a synthetic data set,
 * bulk-load interactions into the store, back the store up as CSV.
 *
 * import and export open the same store the daemon uses (DATA_DIR/nclrec.db); SQLite's locking
 * lets them run next to a running daemon (import goes through the store's writer, in chunks).
 * Progress goes to stderr, data to stdout or the named file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "config/config.h"
#include "dataset.h"
#include "item_io.h"
#include "store/store.h"
#include "synth.h"

/* ===================== synth ===================== */

static void usage_synth(FILE *f) {
    nc_synth_opts o;
    nc_synth_default(&o);
    fprintf(f,
            "usage: nclrec synth [--out FILE] [--users N] [--items N] [--communities N]\n"
            "                    [--mean-per-user X] [--zipf X] [--seed N]\n\n"
            "Writes a synthetic implicit-feedback data set as CSV (user,item,timestamp): item\n"
            "popularity follows a power law, users prefer the items of their latent community.\n"
            "Defaults: %d users, %d items, %d communities, %.0f interactions per user on\n"
            "average, zipf %.1f, seed %llu. Without --out the CSV goes to stdout.\n",
            o.n_users, o.n_items, o.n_communities, o.mean_per_user, o.zipf,
            (unsigned long long)o.seed);
}

/* Parses the value of flag f as a number in [lo, hi]; prints the problem and returns -1. */
static int num_arg(const char *f, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "nclrec synth: %s '%s' must be a number in [%g, %g]\n", f, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int parse_synth(nc_synth_opts *o, const char **out, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        double x;
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
            usage_synth(stdout);
            return 1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "nclrec synth: unknown flag or missing value '%s' (see --help)\n", f);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(f, "--out")) *out = v;
        else if (!strcmp(f, "--users") && !num_arg(f, v, 1, 1e8, &x)) o->n_users = (int32_t)x;
        else if (!strcmp(f, "--items") && !num_arg(f, v, 2, 1e8, &x)) o->n_items = (int32_t)x;
        else if (!strcmp(f, "--communities") && !num_arg(f, v, 1, 1e8, &x))
            o->n_communities = (int32_t)x;
        else if (!strcmp(f, "--mean-per-user") && !num_arg(f, v, 1, 1e6, &x))
            o->mean_per_user = x;
        else if (!strcmp(f, "--zipf") && !num_arg(f, v, 0, 3, &x)) o->zipf = x;
        else if (!strcmp(f, "--seed") && !num_arg(f, v, 0, 9e15, &x)) o->seed = (uint64_t)x;
        else {
            if (strcmp(f, "--users") && strcmp(f, "--items") && strcmp(f, "--communities") &&
                strcmp(f, "--mean-per-user") && strcmp(f, "--zipf") && strcmp(f, "--seed"))
                fprintf(stderr, "nclrec synth: unknown flag '%s' (see --help)\n", f);
            return 2;
        }
    }
    return 0;
}

int cmd_synth(int argc, char **argv) {
    nc_synth_opts o;
    nc_synth_default(&o);
    const char *out = NULL;
    int rc = parse_synth(&o, &out, argc, argv);
    if (rc) return rc == 1 ? 0 : rc;
    nc_err e;
    if (nc_synth_validate(&o, &e)) {
        fprintf(stderr, "nclrec synth: %s\n", e.msg);
        return 2;
    }
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        fprintf(stderr, "nclrec synth: cannot write %s: %s\n", out, strerror(errno));
        return 1;
    }
    rc = nc_synth_write_csv(&o, f, &e);
    if (out && fclose(f) && !rc) rc = nc_fail(&e, NC_EIO, "writing %s: %s", out, strerror(errno));
    if (rc) {
        fprintf(stderr, "nclrec synth: %s\n", e.msg);
        return 1;
    }
    return 0;
}

/* ===================== import / export ===================== */

/* The store file inside a data directory (shared with the daemon). */
static int store_path(const char *dir, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "%s/nclrec.db", dir);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static void on_rows(void *ctx, int64_t done, int64_t total) {
    const char *verb = ctx;
    if (total > 0)
        fprintf(stderr, "\r%s %lld / %lld rows (%.0f%%)", verb, (long long)done,
                (long long)total, 100.0 * done / total);
    else
        fprintf(stderr, "\r%s %lld rows", verb, (long long)done);
}

typedef struct data_cmd {
    const char *data_dir, *file, *out;
    int items;               /* --items: the catalogue (JSON lines, item_io.h), not interactions */
    nc_load_opts load;
    const char *types;       /* --feedback-types (or NCLREC_FEEDBACK_TYPES) */
    int type_col_given;      /* --type-col was given (else 3, unless a column option took 3) */
    nc_feedback_types ft;    /* load.types points here */
} data_cmd;

/* The import's type column: the set it is checked against (the daemon's, so a file cannot
 * store a type the API would refuse) and "view" for rows without one. */
static int import_types(data_cmd *c) {
    nc_err e;
    if (cfg_parse_types(c->types ? c->types : "view=1", &c->ft, &e)) {
        fprintf(stderr, "nclrec import: %s\n", e.msg);
        return 2;
    }
    int taken = c->load.weight_col == c->load.ts_col || c->load.weight_col == c->load.rating_col;
    if (!c->type_col_given && taken) c->load.weight_col = -1;
    if (c->load.weight_col < 0) return 0;
    c->load.types = &c->ft;
    c->load.type_index = 1;
    c->load.weight_missing = nc_feedback_find(&c->ft, "view", 4);
    return 0;
}

static int parse_data_cmd(data_cmd *c, int is_import, int argc, char **argv) {
    c->data_dir = getenv("NCLREC_DATA_DIR") ? getenv("NCLREC_DATA_DIR") : "./var";
    c->types = getenv("NCLREC_FEEDBACK_TYPES");
    nc_load_opts_default(&c->load);
    c->load.weight_col = 3;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
            if (is_import)
                printf("usage: nclrec import FILE [--data-dir DIR] [--min-rating R "
                       "--rating-col N] [--ts-col N]\n"
                       "                    [--type-col N] [--feedback-types T]\n"
                       "       nclrec import --items FILE [--data-dir DIR]\n\n"
                       "Loads a CSV/TSV/adjacency file into DIR/nclrec.db (default ./var or\n"
                       "$NCLREC_DATA_DIR). Column --type-col (0-based, default 3 as `nclrec export`\n"
                       "writes it; -1: none) holds each row's feedback type, one of --feedback-types\n"
                       "(default $NCLREC_FEEDBACK_TYPES or view=1); a row without it is a view. With --items, item documents as JSON lines (one object\n"
                       "with \"id\", categories, labels, hidden, available_from per line, each a PUT).\n"
                       "A bad row refuses the whole file; a re-run after an interruption skips\nchunks already "
                       "committed.\n");
            else
                printf("usage: nclrec export [--items] [--data-dir DIR] [--out FILE]\n\nWrites every "
                       "stored interaction as CSV (user,item,timestamp,type) to FILE or stdout;\nwith --items, "
                       "every item document that is not deleted, as JSON lines.\n");
            return 1;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "--data-dir") && v) c->data_dir = argv[++i];
        else if (!strcmp(f, "--items")) c->items = 1;
        else if (!is_import && !strcmp(f, "--out") && v) c->out = argv[++i];
        else if (is_import && !strcmp(f, "--min-rating") && v) c->load.min_rating = atof(argv[++i]);
        else if (is_import && !strcmp(f, "--rating-col") && v) c->load.rating_col = atoi(argv[++i]);
        else if (is_import && !strcmp(f, "--ts-col") && v) c->load.ts_col = atoi(argv[++i]);
        else if (is_import && !strcmp(f, "--type-col") && v) c->load.weight_col = atoi(argv[++i]), c->type_col_given = 1;
        else if (is_import && !strcmp(f, "--feedback-types") && v) c->types = argv[++i];
        else if (is_import && f[0] != '-' && !c->file) c->file = f;
        else {
            fprintf(stderr, "nclrec: unknown flag or missing value '%s' (see --help)\n", f);
            return 2;
        }
    }
    if (is_import && !c->file) {
        fprintf(stderr, "nclrec import: which FILE? (see --help)\n");
        return 2;
    }
    return is_import ? import_types(c) : 0;
}

static int open_store(const char *dir, nc_store **s) {
    char path[4096];
    if (store_path(dir, path, sizeof path)) {
        fprintf(stderr, "nclrec: --data-dir '%s' is too long\n", dir);
        return 2;
    }
    if (mkdir(dir, 0750) && errno != EEXIST) {
        fprintf(stderr, "nclrec: cannot create data directory %s: %s\n", dir, strerror(errno));
        return 1;
    }
    nc_err e;
    if (store_open(path, NULL, s, &e)) {
        fprintf(stderr, "nclrec: %s\n", e.msg);
        return 1;
    }
    return 0;
}

int cmd_import(int argc, char **argv) {
    data_cmd c = {0};
    int rc = parse_data_cmd(&c, 1, argc, argv);
    if (rc) return rc == 1 ? 0 : rc;
    nc_store *s;
    if ((rc = open_store(c.data_dir, &s))) return rc;
    nc_err e;
    int64_t rows = 0, replayed = 0;
    if (c.items) rc = item_io_import(s, c.file, 1000, &rows, &replayed, &e);
    else rc = store_import_file(s, c.file, &c.load, on_rows, "imported", &rows, &replayed, &e);
    store_close(s);
    fputc('\n', stderr);
    if (rc) {
        fprintf(stderr, "nclrec import: %s\n", e.msg);
        return rc == NC_EINVAL ? 2 : 1;
    }
    printf("imported=%lld already_present=%lld\n", (long long)(rows - replayed),
           (long long)replayed);
    return 0;
}

int cmd_export(int argc, char **argv) {
    data_cmd c = {0};
    int rc = parse_data_cmd(&c, 0, argc, argv);
    if (rc) return rc == 1 ? 0 : rc;
    nc_store *s;
    if ((rc = open_store(c.data_dir, &s))) return rc;
    FILE *f = c.out ? fopen(c.out, "w") : stdout;
    nc_err e;
    int64_t rows = 0;
    if (!f) rc = nc_fail(&e, NC_EIO, "cannot write %s: %s", c.out, strerror(errno));
    else if (c.items) rc = item_io_export(s, f, &rows, &e);
    else rc = store_export_csv(s, f, on_rows, "exported", &rows, &e);
    if (c.out && f && fclose(f) && !rc)
        rc = nc_fail(&e, NC_EIO, "writing %s: %s", c.out, strerror(errno));
    store_close(s);
    fputc('\n', stderr);
    if (rc) {
        fprintf(stderr, "nclrec export: %s\n", e.msg);
        return 1;
    }
    return 0;
}
