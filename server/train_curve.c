/* train_curve.c - see train_curve.h. */
#include "train_curve.h"

int train_curve_header(FILE *f) {
    return fputs("epoch,bpr,reg,ssl,proto,valid_ndcg10,best_ndcg10,best_epoch,epoch_seconds,seconds\n", f) < 0 ? -1 : 0;
}

/* valid_ndcg10 is -1 for an epoch that was not evaluated, as the trainer reports it. */
int train_curve_row(FILE *f, const nc_progress *p) {
    int w = fprintf(f, "%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%d,%.3f,%.3f\n", p->epoch, p->bpr, p->reg, p->ssl, p->proto,
                    p->valid_ndcg10, p->best_ndcg10, p->best_epoch, p->epoch_seconds, p->seconds);
    return w < 0 || fflush(f) != 0 ? -1 : 0;
}
