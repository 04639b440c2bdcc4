/* train_curve.h - `nclrec train --curve FILE`: one CSV row per epoch, so a run can be plotted
 * (the daemon's page draws its own retrains from GET /model).
 *
 * Threading: the training thread's (the progress callback). Ownership: the FILE is the
 * caller's. */
#ifndef NCLREC_TRAIN_CURVE_H
#define NCLREC_TRAIN_CURVE_H

#include <stdio.h>

#include "train.h"

/* Writes the header line to f (the caller's open file). Returns 0, or -1 on a write error. */
int train_curve_header(FILE *f);
/* Writes p's row (p at NC_PHASE_EPOCH_END) and flushes, so an interrupted run keeps its
 * epochs. Returns 0, or -1 on a write error. */
int train_curve_row(FILE *f, const nc_progress *p);

#endif
