/* item_doc.h - an item's catalogue document: the checks on what a client sends, the merge of a
 * PATCH into what is stored, and the one canonical text the store, the changefeed and the API
 * all carry.
 *
 * Canonical form (a JSON object, keys sorted, compact):
 *   {"available_from": "2026-01-02T03:04:05Z" | null, "categories": ["C", ...],
 *    "hidden": bool, "labels": {"name": string | number | bool, ...}}
 * Categories follow the id rules of store.h (1..256 bytes, no ',', '"' or control characters)
 * and are kept in the order given without repeats; at most ITEM_MAX_CATEGORIES. Labels: at most
 * ITEM_MAX_LABELS, names 1..64 bytes. available_from is RFC 3339 (any offset, fractions of a
 * second dropped), stored in UTC; the item is not served before it.
 *
 * Ownership: every json_t * returned is a new reference for the caller.
 * Threading: pure functions, any thread. */
#ifndef NCLREC_ITEM_DOC_H
#define NCLREC_ITEM_DOC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define ITEM_MAX_CATEGORIES 64
#define ITEM_MAX_LABELS 64
#define ITEM_NO_TIME INT64_MIN   /* available_from absent */

/* Checks a client's document (PUT: every field optional, absent ones take their defaults;
 * PATCH: only the fields present change; either way unknown fields are refused). Returns NC_OK
 * or NC_EINVAL with e naming the field ("categories[2]: ..."). */
int item_doc_check(const json_t *body, nc_err *e);

/* The canonical document after applying body (already checked) to old (canonical, or NULL
 * for an item without one): PUT (patch = 0) replaces everything, PATCH keeps what body does
 * not name. NULL when out of memory. */
json_t *item_doc_merge(const json_t *old, const json_t *body, int patch);

/* The fields serving needs, from a canonical document. */
typedef struct item_rules {
    int hidden;
    int64_t available_from;  /* seconds since the epoch, or ITEM_NO_TIME */
} item_rules;
void item_doc_rules(const json_t *doc, item_rules *out);

/* RFC 3339 date-time ("2026-01-02T03:04:05Z", "...+02:00", fractions allowed) into seconds
 * since the epoch. Returns 0 on success, -1 when s is not one. */
int item_time_parse(const char *s, int64_t *out);

#endif
