/* item_routes.h - the catalogue routes of the API (openapi.yaml, tag "items"):
 *
 *   PUT    /items/{id}   create or replace the item's document (item_doc.h)
 *   PATCH  /items/{id}   change the fields given; 404 for an item the store does not have
 *   GET    /items/{id}   the document ({"id", categories, labels, hidden, available_from});
 *                        an item seen only in interactions has no categories
 *   DELETE /items/{id}   remove it from the catalogue (never served again until a PUT)
 *   POST   /items        an array of documents with "id" (PUT each), all or nothing
 *
 * Writes go through the store's writer (store/store.h, the catalogue), honour Idempotency-Key as
 * POST /interactions does, and are applied to the serving catalogue (catalogue.h) before they
 * are acknowledged. A replica answers writes with 307 (routes.c) and reads from the catalogue
 * it follows the changefeed into.
 *
 * Threading: handlers run on any HTTP thread at once (api.h); item_routes_load runs once at
 * start-up, before the daemon serves. Ownership: a->catalogue, made by item_routes_load, is
 * the srv_app's (freed by serve.c). */
#ifndef NCLREC_ITEM_ROUTES_H
#define NCLREC_ITEM_ROUTES_H

#include "routes.h"

void item_h_put(void *app, const http_req *rq, http_resp *rs);
void item_h_patch(void *app, const http_req *rq, http_resp *rs);
void item_h_get(void *app, const http_req *rq, http_resp *rs);
void item_h_delete(void *app, const http_req *rq, http_resp *rs);
void item_h_batch(void *app, const http_req *rq, http_resp *rs);

/* Creates a->catalogue and, with a store, loads every catalogue write from it (start-up). */
int item_routes_load(srv_app *a, nc_err *e);

#endif
