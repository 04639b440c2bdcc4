/* replica_state.h - what a replica knows of the primary's interactions, in memory: for every
 * user the distinct items in order of first interaction (with counts) and the sequence number
 * of the user's latest deletion, for every item its number of users, and the cursor: the
 * primary's sequence number up to which the changefeed has been applied.
 *
 * It answers the two questions the request path asks of the store (store.h), with the same
 * meaning and the same result types, so a replica serves exactly what its primary would:
 * rstate_user_items is store_user_items (seen-item exclusion and fold-in), rstate_popular is
 * store_popular (users with nothing to go on). Sequence numbers are the primary's, so a
 * deletion compares with a model's data watermark as it does on the primary.
 *
 * Why memory and not a local SQLite: the state is rebuilt from the changefeed at start (a page
 * of thousands of events per request), it is small (12 bytes per distinct user-item pair plus
 * growth room), and a copy that can never drift from the primary's sequence numbers is simpler
 * than a second database. The cost: a restarted replica answers /recommend only after it has
 * caught up with a reachable primary.
 *
 * One difference from the store: among items with equally many users, the store ranks the one
 * it saw first; the replica ranks the one the changefeed brought first, which differs only for
 * items whose earliest interactions were deleted before the replica read them.
 *
 * Thread-safety: every function may be called from any thread at once (a writer-preferring
 * read-write lock; readers copy out what they need).
 *
 * Ownership: rstate_new's result is the caller's (rstate_free); every list handed out is a
 * copy for the caller (store_items_free). */
#ifndef NCLREC_REPLICA_STATE_H
#define NCLREC_REPLICA_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "store/store.h"

typedef struct replica_state replica_state; /* opaque */

typedef enum { RSTATE_INTERACTION = 0, RSTATE_DELETION = 1 } rstate_kind;

/* One changefeed event; strings borrowed for the call. */
typedef struct rstate_event {
    int64_t seq;
    rstate_kind kind;
    const char *user;
    const char *item;      /* NULL for a deletion */
    const char *feedback;  /* an interaction's feedback type, NULL = "view" */
} rstate_event;

/* A new empty state (cursor 0) keeping popular_k items in its popularity list. Caller frees
 * it with rstate_free. NULL with e filled when out of memory. */
replica_state *rstate_new(int popular_k, nc_err *e);
void rstate_free(replica_state *s);

/* Applies ev[0..n) in order (each seq must be above the cursor and the one before), then sets
 * the cursor to `cursor` (>= the last event's seq): the primary's watermark when the page was
 * the last one. On failure (a bad id, out of memory, an event out of order) the events before
 * the bad one stay applied and the cursor stops at the last of them, so fetching again from
 * the cursor resumes exactly there. */
int rstate_apply(replica_state *s, const rstate_event *ev, size_t n, int64_t cursor, nc_err *e);

/* Limits a user's items (rstate_user_items, rstate_user_items_mapped) to those of interactions
 * of the feedback types "a,b" (copied; NULL or "" = every type, the default), as the store's
 * seen_types option does; popularity still counts every type. Call before the first event. */
int rstate_seen_types(replica_state *s, const char *types, nc_err *e);

/* Forgets everything (cursor 0): the primary's sequence went backwards (a new database). */
void rstate_reset(replica_state *s);

/* The cursor: the primary's sequence number applied up to. */
int64_t rstate_cursor(replica_state *s);

typedef struct rstate_stats {
    int64_t cursor;
    int64_t users;           /* users with at least one live interaction */
    int64_t pairs;           /* live distinct (user, item) pairs */
    int64_t interactions;    /* live interactions */
    int64_t deletions;       /* deletions applied */
} rstate_stats;

void rstate_stats_get(replica_state *s, rstate_stats *out);

/* As store_user_items: out is filled fresh (free with store_items_free). */
int rstate_user_items(replica_state *s, const char *user, store_items *out, int64_t *deleted_seq, nc_err *e);

/* As store_seen_mapped (the same contract: out receives map(ctx, item) for each of user's
 * items in order, -1s left out, remembered per tag): the fast /recommend path on a replica.
 * Returns 1, or 0 when out could not grow. */
int rstate_user_items_mapped(replica_state *s, const char *user, uint64_t tag, store_item_map_fn map, void *ctx,
                             store_ids *out, int64_t *deleted_seq);

/* As store_popular: the min(k, popular_k) items with the most users, recomputed at most every
 * half second after a change. out is filled fresh. */
int rstate_popular(replica_state *s, int k, store_items *out, nc_err *e);

#endif
