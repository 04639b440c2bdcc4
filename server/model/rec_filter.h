/* rec_filter.h - the catalogue's rules applied to the candidates of /recommend and /similar:
 * items the catalogue blocks (hidden, deleted, not yet available) are never answered, and a
 * category= filter restricts the answer to items of those categories, still the exact top k
 * among them.
 *
 * Blocked items join the request's exclusions (as model ids), so a kept candidate list is
 * filtered by them exactly as by the user's items (rec_cache.h): a write that hides an item
 * takes effect on the next request, lists and all. The category filter does not go through
 * the index: it scores only the items of the categories (their ids from the catalogue's
 * per-category lists, their model ids remembered per model until the catalogue changes), so a
 * filter of 1% of the catalogue costs about 1% of a scan.
 *
 * Ownership: out lists are the caller's (store_ids: start zeroed, free(ids)). */
#ifndef NCLREC_REC_FILTER_H
#define NCLREC_REC_FILTER_H

#include "catalogue.h"
#include "live_model.h"
#include "store/store.h"

/* What a request asks beyond k: category= values (borrowed) and offset=. */
typedef struct rec_filter {
    char **cats;
    size_t n_cats;
    int offset;
} rec_filter;

/* Appends the model ids of the items c blocks now (wall clock) to out. */
int rec_filter_blocked(catalogue *c, const live_model *m, store_ids *out, nc_err *e);

/* The model ids of the items in any of f's categories, without repeats, into out (emptied
 * first; in no particular order). */
int rec_filter_subset(catalogue *c, const live_model *m, const rec_filter *f, store_ids *out, nc_err *e);

/* The exact top k rows of subset by inner product with q, skipping excl[0..n_excl) (any
 * order), best first, ties by lower id (the index's order); up to k into ids/sc, *got how
 * many. */
int rec_filter_scan(const live_model *m, const float *q, const store_ids *subset, const int32_t *excl, size_t n_excl,
                    int32_t k, int32_t *ids, float *sc, int32_t *got, nc_err *e);

/* 1 when item may be answered under f: not blocked and, with categories, in one of them
 * (for the popular list, which holds external ids). */
int rec_filter_allows(catalogue *c, const rec_filter *f, const char *item);

/* Parses the request's category= (repeatable) and offset= into f (f->cats points into the
 * request; free(f->cats) after). k: the request's k, k_max the bound on k + offset. 1, or 0
 * with a 400 in rs. */
struct http_req;
struct http_resp;
int rec_filter_parse(const struct http_req *rq, struct http_resp *rs, int k, int k_max, rec_filter *f);

/* The same from a JSON body (POST /recommend): category (a string or an array of them; the
 * strings are borrowed from the tree) and offset (may be NULL each). NC_EINVAL with e naming
 * the field. */
#include <jansson.h>
int rec_filter_from_json(const json_t *category, const json_t *offset, int k, int k_max, rec_filter *f, nc_err *e);

#endif
