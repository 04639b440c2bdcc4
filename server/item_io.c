/* item_io.c - see item_io.h. */
#include "item_io.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store.h"

/* Reads every line of path into docs (checked, one JSON object each); *n how many. */
static int read_docs(const char *path, json_t ***docs, size_t *n, nc_err *e) {
    FILE *f = fopen(path, "r");
    if (!f) return nc_fail(e, NC_EIO, "cannot open %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, room = 0;
    ssize_t len;
    int rc = NC_OK;
    *docs = NULL;
    *n = 0;
    for (size_t no = 1; rc == NC_OK && (len = getline(&line, &cap, f)) >= 0; no++) {
        json_error_t je;
        nc_err de;
        if (len <= 1 && (len == 0 || line[0] == '\n')) continue; /* blank lines are fine */
        json_t *j = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &je);
        const char *id = json_string_value(json_object_get(j, "id"));
        if (!j) rc = nc_fail(e, NC_EINVAL, "%s:%zu: not a JSON object: %s", path, no, je.text);
        else if (!id || store_check_id("item", id, &de) != NC_OK || item_doc_check(j, &de) != NC_OK)
            rc = nc_fail(e, NC_EINVAL, "%s:%zu: %s", path, no, id ? de.msg : "an item needs a string \"id\"");
        else if (nc_reserve((void **)docs, &room, *n + 1, sizeof **docs, 256, "item documents", e) != NC_OK)
            rc = NC_ENOMEM;
        if (rc) json_decref(j);
        else (*docs)[(*n)++] = j;
    }
    if (rc == NC_OK && ferror(f)) rc = nc_fail(e, NC_EIO, "reading %s: %s", path, strerror(errno));
    free(line);
    fclose(f);
    return rc;
}

/* The idempotency key of chunk at..at+m of the file: its content's hash and its position. */
static void chunk_key(json_t *const *docs, size_t at, size_t m, char *key, size_t cap) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = at; i < at + m; i++) {
        char *t = json_dumps(docs[i], JSON_COMPACT | JSON_SORT_KEYS);
        for (const unsigned char *p = (const unsigned char *)(t ? t : ""); *p; p++) h = (h ^ *p) * 1099511628211ULL;
        free(t);
    }
    snprintf(key, cap, "nclrec-import-items:%016llx:%zu", (unsigned long long)h, at);
}

int item_io_import(nc_store *s, const char *path, int max_batch, int64_t *n_items, int64_t *n_replayed, nc_err *e) {
    json_t **docs = NULL;
    size_t n = 0;
    int64_t done = 0, replayed = 0;
    int rc = read_docs(path, &docs, &n, e);
    store_item_write *w = rc ? NULL : nc_calloc((size_t)max_batch, sizeof *w, e);
    if (!rc && !w) rc = NC_ENOMEM;
    for (size_t at = 0; !rc && at < n; at += (size_t)max_batch) {
        size_t m = n - at < (size_t)max_batch ? n - at : (size_t)max_batch;
        char key[96];
        store_append_result res;
        for (size_t i = 0; i < m; i++) /* the id stays in the document: the merge reads only its fields */
            w[i] = (store_item_write){json_string_value(json_object_get(docs[at + i], "id")), STORE_ITEM_PUT,
                                      docs[at + i], NULL, 0};
        chunk_key(docs, at, m, key, sizeof key);
        rc = store_write_items(s, w, m, key, &res, e);
        for (size_t i = 0; i < m; i++) free(w[i].doc);
        done += rc ? 0 : (int64_t)m;
        replayed += !rc && res.replayed ? (int64_t)m : 0;
    }
    free(w);
    for (size_t i = 0; i < n; i++) json_decref(docs[i]);
    free(docs);
    if (n_items) *n_items = done;
    if (n_replayed) *n_replayed = replayed;
    return rc;
}

/* store_items_each's callback: one line per document that is not deleted. */
typedef struct export_ctx {
    FILE *out;
    int64_t n;
    int err;        /* errno of a failed write, or -1 when out of memory; 0 */
} export_ctx;

static int export_one(void *ctx, const char *item, const char *doc, int64_t seq) {
    export_ctx *x = ctx;
    (void)seq;
    if (!doc) return NC_OK;
    json_t *j = json_loads(doc, 0, NULL);
    if (j) json_object_set_new(j, "id", json_string(item));
    char *t = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    int rc = t && fprintf(x->out, "%s\n", t) >= 0 ? NC_OK : NC_EIO;
    if (rc) x->err = t ? errno : -1;
    x->n += rc == NC_OK;
    free(t);
    json_decref(j);
    return rc;
}

int item_io_export(nc_store *s, FILE *out, int64_t *n_items, nc_err *e) {
    export_ctx x = {out, 0, 0};
    int rc = store_items_each(s, export_one, &x, e);
    if (x.err) rc = nc_fail(e, x.err < 0 ? NC_ENOMEM : NC_EIO, "writing the items: %s",
                            x.err < 0 ? "out of memory" : strerror(x.err));
    if (n_items) *n_items = x.n;
    return rc;
}
