/* ui.h - the operator's page (GET /ui: server/ui/index.html, app.js, style.css compiled into
 * the binary) and the JSON form of /metrics it reads. The page's files hold no data and are
 * served without the key; every route the page reads is a read like any other (closed by
 * --auth-reads, the key typed into the page).
 *
 * Threading: the files are constant; any thread. Ownership: ui_metrics_json borrows text. */
#ifndef NCLREC_UI_H
#define NCLREC_UI_H

#include <stddef.h>

#include "http/http.h"

/* GET /ui and GET /ui/{file}. ap is unused (the files are constant). */
void ui_h_index(void *ap, const http_req *rq, http_resp *rs);
void ui_h_file(void *ap, const http_req *rq, http_resp *rs);

/* Answers the Prometheus text exposition (text, len bytes; borrowed) as JSON:
 * {"samples": [{"name", "labels": {...}, "value"}...]}, comments dropped. */
void ui_metrics_json(const char *text, size_t len, http_resp *rs);

#endif
