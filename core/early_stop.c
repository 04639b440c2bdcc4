/* early_stop.c - see early_stop.h. */
#include "early_stop.h"

#include <math.h>

void nc_stopper_init(nc_stopper *s, const nc_hparams *hp, int warm) {
    const int warm_rule = warm && hp->warm_patience > 0;
    s->best = -1;
    s->mark = -1;
    s->best_epoch = -1;
    s->fails = 0;
    s->patience = warm_rule ? hp->warm_patience : hp->stopping_step;
    s->min_epochs = warm_rule ? 0 : hp->min_epochs;
    s->min_delta = hp->min_delta;
}

/* The best and the progress mark move separately so that min_delta only decides when to
 * stop: a small gain is still kept as the best model. */
int nc_stopper_update(nc_stopper *s, int32_t epoch, double ndcg10, int *improved) {
    const double r = round(ndcg10 * 1e4) / 1e4;
    *improved = r > s->best;
    if (*improved) {
        s->best = r;
        s->best_epoch = epoch;
    }
    if (s->mark < 0 || r > s->mark * (1.0 + s->min_delta)) {
        s->mark = r;
        s->fails = 0;
    } else {
        s->fails++;
    }
    return s->fails > s->patience && epoch + 1 >= s->min_epochs;
}
