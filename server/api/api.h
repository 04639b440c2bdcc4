/* api.h - what the files of server/api/ share; not used outside this folder (serve.c, the
 * tests and the benchmarks use routes.h).
 *
 * One file per group of routes: recommend.c (/recommend, /similar), interactions.c (POST
 * /interactions, DELETE /users/{id}), item_routes.c (/items), ops.c (/livez, /readyz,
 * /metrics, /model, POST /admin/retrain, /openapi.yaml), replication.c (a primary's feeds),
 * ui.c (the page); routes.c holds the shared helpers of routes.h and the table naming every
 * handler below. A handler decodes and validates the request, calls the module that does the
 * work (store, live model, replica, retrain) and encodes the answer.
 *
 * Every handler has http.h's http_handler contract: ap is the srv_app (routes.h), rs is
 * filled before it returns (or handed to http_later). Threading: handlers run on any HTTP
 * thread at once; they share only the srv_app, whose parts are each made for that. */
#ifndef NCLREC_API_H
#define NCLREC_API_H

#include "routes.h"

/* recommend.c */
void h_recommend(void *ap, const http_req *rq, http_resp *rs);
void h_recommend_session(void *ap, const http_req *rq, http_resp *rs);
void h_similar(void *ap, const http_req *rq, http_resp *rs);

/* interactions.c */
void h_interactions(void *ap, const http_req *rq, http_resp *rs);
void h_delete_user(void *ap, const http_req *rq, http_resp *rs);

/* ops.c */
void h_livez(void *ap, const http_req *rq, http_resp *rs);
void h_readyz(void *ap, const http_req *rq, http_resp *rs);
void h_metrics(void *ap, const http_req *rq, http_resp *rs);
void h_model(void *ap, const http_req *rq, http_resp *rs);
void h_retrain(void *ap, const http_req *rq, http_resp *rs);
void h_openapi(void *ap, const http_req *rq, http_resp *rs);

/* replication.c (a primary's feeds, replica/feed.h) */
void replication_h_checkpoint(void *ap, const http_req *rq, http_resp *rs);
void replication_h_changes(void *ap, const http_req *rq, http_resp *rs);

#endif
