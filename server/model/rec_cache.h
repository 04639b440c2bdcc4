/* rec_cache.h - each known user's ranked candidates under one model, kept after a first scan.
 *
 * Why it is exact: a user the model knows is answered with the same query vector (its trained
 * embedding) for the model's whole life, and the items excluded when a list was made (the
 * user's items at that moment) stay excluded at every later request: a history only grows,
 * except through a deletion, and a deletion changes the user's deleted_seq, which the entry
 * records and must match. So the top C items of one full scan answer any later request of the
 * user - the first k of them not excluded now (the history since, and exclude=) - exactly as a
 * new scan would, as long as at least k survive that filter, or the scan returned fewer than C
 * items (then the list is every candidate). Otherwise the caller scans again. The order is the
 * index's (score, then lower id), and the scores are the scan's own numbers.
 *
 * Layout: one atomic pointer per model user, NULL until a list is kept, each to an immutable
 * entry (n candidates in rank order, and the same ids sorted for the exclusion look-ups):
 *
 *   slots[u] --> | used | ref | deleted_seq | n | complete | filter | ids[n] | scores[n] | sorted[n] | rank[n] |
 *
 * (used: the list was made for a request or has answered one - a warm-up's list nobody asked
 * for is not, and is not carried on to the next model. ref: it has answered since the
 * eviction clock last passed it.)
 *
 * (filter: 512 bits, one per hashed candidate id, so that most excluded ids - a user's whole
 * history - are dismissed without the binary search.)
 *
 * An entry is never changed once published (but for its two flags); a list that ran short is
 * replaced by a new scan's. The bytes held are bounded by a budget: when a new list does not
 * fit, lists are evicted by a clock (second chance: a list that answered since the hand last
 * passed keeps its place once more), so the users who keep asking keep their lists and the
 * ones who stopped make room. While the cache is full, a user without a list gets one only at
 * their second miss within a while (a doorkeeper bit per user, cleared once more users were
 * turned away than there are lists): when demand is spread over more users than fit, making
 * and evicting a list per request would cost more than scanning. A warm-up's list never
 * evicts (it stops at the budget).
 *
 * Readers take no lock and never wait: each counts itself in one of two epoch buckets while it
 * holds an entry, and a replaced or evicted entry is freed only once every reader that could
 * have seen it has left (rec_cache.c, "safe reclamation"); its bytes count until then.
 * Writers (puts) serialise on a mutex.
 *
 * Ownership: rec_cache_create's result is the caller's, freed with rec_cache_free once no
 * thread reads it (the live model frees it with itself). */
#ifndef NCLREC_REC_CACHE_H
#define NCLREC_REC_CACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Longest list kept: the filter's scratch lives on the stack. */
#define REC_CACHE_MAX_LIST 1024

typedef struct rec_cache rec_cache;

/* A cache for n_users users holding at most budget bytes of entries; NULL when budget is 0,
 * n_users < 1 or memory is short (the caller then simply always scans). Each eviction adds 1
 * to *evictions (borrowed, may be NULL; it must outlive the cache). */
rec_cache *rec_cache_create(int32_t n_users, size_t budget, atomic_uint_fast64_t *evictions);
/* Frees every entry and the cache. NULL is fine. Not thread-safe: no reader may remain. */
void rec_cache_free(rec_cache *c);

/* Answers from user u's list: the first k candidates whose id is not in excl (model item ids,
 * any order, duplicates fine) into the caller's out_ids / out_scores (k each). Returns 1 with
 * *out_n set when the list answers exactly; -1 when u has no list yet, -2 when u's list has
 * fewer than k candidates left (both: a scan worth keeping, see rec_cache_put); 0 otherwise
 * (no cache, a list made before the user's latest deletion - deleted_seq differs -, or the
 * first miss of a user while the cache is full: scan, do not keep). Marks the list as used
 * and recently asked for. Thread-safe. */
int rec_cache_answer(rec_cache *c, int32_t u, int64_t deleted_seq, const int32_t *excl, size_t n_excl,
                     int32_t k, int32_t *out_ids, float *out_scores, int32_t *out_n);

/* rec_cache_put's flags. */
enum {
    REC_PUT_REPLACE = 1, /* in place of u's list (after rec_cache_answer said -2) */
    REC_PUT_WARM = 2,    /* made ahead of requests (a warm-up), not for one: unused until asked */
};

/* Keeps a copy of u's scan result (n ids and scores in rank order; complete = 1 when the scan
 * returned every candidate, i.e. fewer than it was asked for). A list u already has stays,
 * unless flags has REC_PUT_REPLACE. Makes room by evicting other lists (not with
 * REC_PUT_WARM). Returns 1 when u now has a list (this one, or one another thread kept first),
 * 0 when it was not kept: n above REC_CACHE_MAX_LIST, no room (the budget, or evicted lists
 * that a reader may still hold), or no memory. Thread-safe. */
int rec_cache_put(rec_cache *c, int32_t u, int64_t deleted_seq, const int32_t *ids, const float *scores, int32_t n,
                  int complete, int flags);

/* 1 when u's list was made for a request or has answered one (a list made by a warm-up and
 * never asked for is not): the users worth a list under the next model. Thread-safe. */
int rec_cache_used(rec_cache *c, int32_t u);

/* Candidates in u's list, 0 when u has none. Thread-safe. */
int32_t rec_cache_len(rec_cache *c, int32_t u);

/* Bytes held by entries, replaced and evicted ones not yet freed included (for /metrics and
 * tests). Thread-safe. */
size_t rec_cache_bytes(const rec_cache *c);

#endif
