/* rec_explain.h - the "explain" object of GET /recommend?...&explain=1: the user's prototype, its
 * nearest items, and each recommended item's own prototype (core/explain.h does the math).
 *
 * Threading: any thread (reads the model only). Ownership: m and user are borrowed. */
#ifndef NCLREC_REC_EXPLAIN_H
#define NCLREC_REC_EXPLAIN_H

#include "http/http.h"
#include "live_model.h"

/* Adds "explain" to the 200 answer of /recommend in rs (left as it is otherwise). m and user
 * are borrowed; rs's body is replaced. */
void explain_add(const live_model *m, const char *user, http_resp *rs);

#endif
