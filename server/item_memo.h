/* item_memo.h - a caller's number for each item of an id map, remembered for one tag.
 *
 * Why: /recommend excludes a user's items as model item ids. The in-memory copies of users'
 * items (the store's, store_seen.c; a replica's, replica_state.c) hold their own item numbers;
 * turning each into the model's through a hash look-up of its string, on every request, cost
 * more than the rest of the request. The memo asks the caller's map once per item and tag (a
 * model version) and answers from an array afterwards:
 *
 *   ids[i] = the caller's number of the owner's item i, MAP_UNKNOWN until first asked
 *
 * Locking: the owner's read-write lock protects it. item_memo_ensure is called with the read
 * lock held (it may trade it for the write lock for a moment to resize or re-tag the table);
 * item_memo_map_list with the read lock held (readers fill entries with relaxed atomics:
 * every reader computes the same value). item_memo_free with no reader left.
 *
 * Ownership: a plain struct inside the owner (start zeroed); item_memo_free releases it. */
#ifndef NCLREC_ITEM_MEMO_H
#define NCLREC_ITEM_MEMO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "store.h"

typedef struct item_memo {
    uint64_t tag;
    int set;
    atomic_int *ids;  /* n entries */
    size_t n;
} item_memo;

/* With lock read-held: makes the table belong to tag and cover n_items items (keeping what is
 * remembered for the same tag). Returns 1 when the table can be used, 0 when not (another tag
 * took it meanwhile, or no memory: item_memo_get then asks map every time). The read lock is
 * held again on return. */
int item_memo_ensure(item_memo *m, pthread_rwlock_t *lock, uint64_t tag, size_t n_items);

/* Forgets everything (the owner's item numbering starts again). Write lock held, or no
 * reader left. */
void item_memo_free(item_memo *m);

/* With the read lock held: appends the caller's numbers of list[0..n) (the owner's item
 * numbers, strings in items) to out, leaving out -1s; use is item_memo_ensure's answer.
 * 1, or 0 when out could not grow. */
int item_memo_map_list(item_memo *m, int use, const nc_idmap *items, const int32_t *list, uint32_t n,
                       store_item_map_fn map, void *ctx, store_ids *out);

#endif
