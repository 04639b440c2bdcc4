/* foldin_quality.c - how good are fold-in embeddings for users a model never saw?
 *
 * Protocol: split every user's interactions 80/10/10 (train/valid/test, nc_split). Hold out
 * every tenth user (H). Model A trains on everybody's train rows; model B on the train rows of
 * users outside H only. For the users of H, Recall@20 and NDCG@20 on their test rows (masking
 * their train and valid rows, which are their known history) are measured for:
 *   trained   model A's own embeddings of them (the best a retrain can do),
 *   fold-in   model B's item embeddings with a user vector folded in from the history
 *             (server/model/foldin.h: ials with several alphas and lambda 0.1, and mean),
 *   popular   items ranked by how many users of B's training data have them.
 *
 * usage: foldin_quality [--data FILE] [--epochs N] [--threads N] [--lr X]
 *   without --data, the synthetic data set of `nclrec run` (2000 users, 1000 items). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "model/foldin.h"
#include "metrics.h"
#include "synth.h"
#include "train.h"

#define DIE(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr), exit(1))

typedef struct args {
    const char *data;
    int epochs, threads;
    double lr;
} args;

static int held(int32_t u) { return u % 10 == 0; }

/* Keeps the rows of x whose user is (keep_held = 1) or is not (0) held out. */
static void filter(const nc_interactions *x, int keep_held, nc_interactions *out) {
    nc_err e;
    nc_inter_init(out);
    for (size_t r = 0; r < x->n; r++)
        if (held(x->user[r]) == keep_held && nc_inter_push(out, x->user[r], x->item[r], x->ts[r], &e) != NC_OK)
            DIE("%s", e.msg);
}

static void load(const args *a, nc_dataset *d) {
    nc_err e;
    nc_interactions all;
    nc_inter_init(&all);
    nc_dataset_init(d);
    if (a->data) {
        if (nc_load_file(a->data, NC_FMT_AUTO, &d->users, &d->items, &all, &e) != NC_OK) DIE("%s", e.msg);
    } else {
        nc_synth_opts so;
        nc_synth_default(&so);
        if (nc_synth_generate(&so, &d->users, &d->items, &all, &e) != NC_OK) DIE("%s", e.msg);
    }
    nc_inter_dedup(&all, &e);
    const double ratios[3] = {0.8, 0.1, 0.1};
    if (nc_split(&all, d->users.n, ratios, 2020, &d->train, &d->valid, &d->test, &e) != NC_OK) DIE("%s", e.msg);
    nc_inter_free(&all);
}

static void train(const args *a, const nc_dataset *d, nc_checkpoint *ck) {
    nc_train_opts o = {0};
    nc_err e;
    nc_hparams_default(&o.hp);
    o.hp.epochs = a->epochs;
    o.hp.min_epochs = a->epochs / 4;
    o.hp.stopping_step = 5;
    o.hp.learning_rate = (float)a->lr;
    o.hp.num_clusters = 100;
    o.hp.warm_up_step = 3;
    o.hp.threads = a->threads;
    if (nc_train(d, &o, ck, &e) != NC_OK) DIE("training: %s", e.msg);
}

static void report(const char *name, const float *ue, const float *ie, int32_t dim, const nc_dataset *d,
                   const nc_interactions *pos) {
    nc_metrics m;
    nc_err e;
    if (nc_evaluate(ue, ie, (int32_t)d->users.n, (int32_t)d->items.n, dim, pos, &d->train, &d->valid, &m, &e) != NC_OK)
        DIE("%s", e.msg);
    printf("| %-22s | %.4f | %.4f | %lld |\n", name, m.recall[1], m.ndcg[1], (long long)m.n_users);
}

/* User vectors for H folded in from each user's train + valid items on B's item embeddings. */
static float *fold_all(const nc_checkpoint *b, const nc_dataset *d, foldin_method method, double alpha) {
    int32_t dim = b->dim, nu = (int32_t)d->users.n;
    float *ue = calloc((size_t)nu * dim, sizeof(float));
    int32_t *items = malloc((d->train.n + d->valid.n + 1) * sizeof *items);
    double *g = malloc(sizeof(double) * (size_t)dim * dim);
    if (!ue || !items || !g) DIE("out of memory");
    foldin_gram(b->item_emb, b->n_items, dim, g);
    for (int32_t u = 0; u < nu; u += 10) {
        size_t n = 0;
        for (size_t r = 0; r < d->train.n; r++) if (d->train.user[r] == u) items[n++] = d->train.item[r];
        for (size_t r = 0; r < d->valid.n; r++) if (d->valid.user[r] == u) items[n++] = d->valid.item[r];
        nc_err e;
        int rc = method == FOLDIN_MEAN ? foldin_mean(b->item_emb, b->n_items, dim, items, n, ue + (size_t)u * dim, &e)
                                       : foldin_ials(b->item_emb, b->n_items, dim, g, items, n, alpha, 0.1,
                                                     ue + (size_t)u * dim, &e);
        (void)rc; /* a user with no history keeps a zero vector, as the server would fall back */
    }
    free(items);
    free(g);
    return ue;
}

/* Popularity over B's training rows as a 1-dimensional model: user = 1, item = count. */
static void report_popular(const nc_dataset *d, const nc_dataset *db, const nc_interactions *pos) {
    float *ue = malloc(d->users.n * sizeof(float)), *ie = calloc(d->items.n, sizeof(float));
    if (!ue || !ie) DIE("out of memory");
    for (size_t u = 0; u < d->users.n; u++) ue[u] = 1;
    for (size_t r = 0; r < db->train.n; r++) ie[db->train.item[r]] += 1;
    report("popular", ue, ie, 1, d, pos);
    free(ue);
    free(ie);
}

int main(int argc, char **argv) {
    args a = {NULL, 30, 0, 0.005};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data")) a.data = argv[i + 1];
        else if (!strcmp(argv[i], "--epochs")) a.epochs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) a.threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--lr")) a.lr = atof(argv[i + 1]);
        else DIE("usage: foldin_quality [--data FILE] [--epochs N] [--threads N] [--lr X]");
    }
    nc_dataset d, db;
    load(&a, &d);
    nc_dataset_init(&db);
    db.users = d.users; /* shared maps: B knows the ids of H but never trains on their rows */
    db.items = d.items;
    filter(&d.train, 0, &db.train);
    filter(&d.valid, 0, &db.valid);
    filter(&d.test, 0, &db.test);
    nc_interactions pos;
    filter(&d.test, 1, &pos);
    fprintf(stderr, "%zu users (%zu held out: %zu test rows), %zu items\n", d.users.n, (d.users.n + 9) / 10, pos.n, d.items.n);
    nc_checkpoint ca, cb;
    train(&a, &d, &ca);
    train(&a, &db, &cb);
    printf("| method (held-out users) | Recall@20 | NDCG@20 | users |\n|---|---|---|---|\n");
    report("trained (model A)", ca.user_emb, ca.item_emb, ca.dim, &d, &pos);
    const double alphas[] = {0.1, 0.3, 1, 3, 10, 100};
    char name[64];
    for (int i = 0; i < 6; i++) {
        float *ue = fold_all(&cb, &d, FOLDIN_IALS, alphas[i]);
        snprintf(name, sizeof name, "fold-in ials alpha=%g", alphas[i]);
        report(name, ue, cb.item_emb, cb.dim, &d, &pos);
        free(ue);
    }
    float *ue = fold_all(&cb, &d, FOLDIN_MEAN, 0);
    report("fold-in mean", ue, cb.item_emb, cb.dim, &d, &pos);
    free(ue);
    report_popular(&d, &db, &pos);
    nc_checkpoint_free(&ca);
    nc_checkpoint_free(&cb);
    nc_inter_free(&pos);
    nc_inter_free(&db.train);
    nc_inter_free(&db.valid);
    nc_inter_free(&db.test);
    nc_dataset_free(&d);
    return 0;
}
