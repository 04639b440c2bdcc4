/* feedback.h - feedback types and their training weights ("click=1,purchase=3").
 *
 * A shop's events are of a few kinds (view, click, purchase, ...) that say more or less about
 * what a user wants. Each type carries an integer weight 0..NC_FEEDBACK_MAX_WEIGHT: the trainer
 * samples an interaction of weight w as a positive w times per epoch (core/train.h), and weight
 * 0 keeps the event (it still counts as seen) but makes it no positive at all. The same table
 * serves `nclrec train` (a type column in the data file) and the daemon (--feedback-types).
 *
 * Type names are 1..NC_FEEDBACK_NAME_LEN bytes of [A-Za-z0-9_.-]; the set holds at most
 * NC_FEEDBACK_MAX_TYPES names, each once. The first type of the set is not special: the
 * daemon's default type is "view" whatever the order.
 *
 * Ownership: nc_feedback_types is a plain value (no pointers); copy it freely. */
#ifndef NCLREC_FEEDBACK_H
#define NCLREC_FEEDBACK_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define NC_FEEDBACK_MAX_TYPES 32
#define NC_FEEDBACK_NAME_LEN 32
#define NC_FEEDBACK_MAX_WEIGHT 100

typedef struct nc_feedback_type {
    char name[NC_FEEDBACK_NAME_LEN + 1];
    uint8_t weight;
} nc_feedback_type;

typedef struct nc_feedback_types {
    int n;
    nc_feedback_type t[NC_FEEDBACK_MAX_TYPES];
} nc_feedback_types;

/* The set a daemon starts with when none is configured: view=1. */
void nc_feedback_default(nc_feedback_types *ft);

/* Parses "name=weight,name=weight,..." into *ft (overwritten; left unchanged on failure). The
 * error names the entry that is wrong: a bad name, a weight that is not a whole number in
 * 0..NC_FEEDBACK_MAX_WEIGHT, a name given twice, too many types, an empty set. */
int nc_feedback_parse(const char *spec, nc_feedback_types *ft, nc_err *e);

/* 1 when s[0..len) is a valid type name (1..NC_FEEDBACK_NAME_LEN bytes of [A-Za-z0-9_.-]). */
int nc_feedback_name_ok(const char *s, size_t len);

/* Index of the type named s[0..len) (not necessarily NUL-terminated), or -1. */
int nc_feedback_find(const nc_feedback_types *ft, const char *s, size_t len);

/* Writes the set as "click=1,purchase=3" into buf (cap > 0; cut short when it does not fit),
 * for messages and for the daemon's configuration dump. Returns buf. */
char *nc_feedback_format(const nc_feedback_types *ft, char *buf, size_t cap);

/* Weight of s[0..len) as a bare whole number 0..NC_FEEDBACK_MAX_WEIGHT into *w; -1 when it is
 * not one. */
int nc_feedback_weight_of(const char *s, size_t len, uint8_t *w);

#endif
