/* train_log.c - see train_log.h. */
#include "train_log.h"

#include <string.h>

int train_log_init(train_log *l) {
    memset(l, 0, sizeof *l);
    return pthread_mutex_init(&l->mu, NULL) == 0 ? 0 : -1;
}

void train_log_destroy(train_log *l) { pthread_mutex_destroy(&l->mu); }

void train_log_begin(train_log *l) {
    pthread_mutex_lock(&l->mu);
    l->n_epochs = 0;
    pthread_mutex_unlock(&l->mu);
}

/* Epochs past the cap are dropped: a curve's start and the run's end (in history) remain. */
void train_log_epoch(train_log *l, const train_epoch *e) {
    pthread_mutex_lock(&l->mu);
    if (l->n_epochs < TRAIN_LOG_EPOCHS) l->epochs[l->n_epochs++] = *e;
    pthread_mutex_unlock(&l->mu);
}

void train_log_end(train_log *l, const train_run *r) {
    pthread_mutex_lock(&l->mu);
    l->runs[l->next] = *r;
    l->next = (l->next + 1) % TRAIN_LOG_RUNS;
    if (l->n_runs < TRAIN_LOG_RUNS) l->n_runs++;
    pthread_mutex_unlock(&l->mu);
}

static json_t *epoch_json(const train_epoch *e) {
    return json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f}", "epoch", e->epoch, "bpr", e->bpr, "reg", e->reg, "ssl",
                     e->ssl, "proto", e->proto, "valid_ndcg10", e->valid_ndcg10, "seconds", e->seconds);
}

static json_t *run_json(const train_run *r) {
    char ended[32];
    nc_format_utc(r->ended_at, ended, sizeof ended);
    return json_pack("{s:s, s:s, s:I, s:f, s:f, s:s}", "ended_at", ended, "outcome", r->outcome, "version",
                     (json_int_t)r->version, "recall20", r->recall20, "ndcg20", r->ndcg20, "detail", r->detail);
}

void train_log_json(train_log *l, json_t *o) {
    json_t *ep = json_array(), *hist = json_array();
    pthread_mutex_lock(&l->mu);
    for (int i = 0; ep && i < l->n_epochs; i++) json_array_append_new(ep, epoch_json(&l->epochs[i]));
    for (int i = 0; hist && i < l->n_runs; i++) {
        int at = (l->next - l->n_runs + i + TRAIN_LOG_RUNS) % TRAIN_LOG_RUNS;
        json_array_append_new(hist, run_json(&l->runs[at]));
    }
    pthread_mutex_unlock(&l->mu);
    json_object_set_new(o, "epochs", ep ? ep : json_array());
    json_object_set_new(o, "history", hist ? hist : json_array());
}
