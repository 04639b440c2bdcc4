/* replica.h - a replica's poller (`--role replica --primary URL`): one thread that keeps the
 * replica's model and interaction state in step with its primary's feeds (feed.h).
 *
 * Every replica_poll seconds it
 *   1. follows the changefeed from its cursor, a page of replica_page events per request, until
 *      `more` is false, applying each page to the replica state (replica_state.h) in one step;
 *      the first time it gets to the end after start, the replica is "synced" and may answer
 *      /recommend (before that it would recommend items the user already has);
 *   2. asks for the checkpoint with If-None-Match: "VERSION" of the model it serves; on 200 it
 *      streams the body to DATA_DIR/models/incoming-PID.part, checks that it has
 *      Content-Length bytes and that the CRC-32 of all but the last four bytes equals both the
 *      X-Checkpoint-Crc32 header and the file's own trailer, renames it into place, loads it,
 *      checks its version against X-Model-Version, builds the index and swaps it in as the
 *      daemon's retrain does (requests in flight finish on the old model). A file that fails
 *      any check is deleted and counted; the served model stays.
 * The checkpoints kept on disk (keep_checkpoints) let a restarted replica serve its last model
 * at once; its interaction state is rebuilt from the changefeed (replica_state.h).
 *
 * When the primary cannot be reached (refused, silent for replica_timeout, an error status),
 * the replica keeps serving its last model and state and says so: /readyz answers 200 with
 * status "degraded" and the primary's last error, /metrics has nclrec_replica_primary_up 0 and
 * the age of the last contact. It keeps polling at the same interval and catches up from its
 * cursor when the primary is back. A primary whose watermark is below the cursor has a new
 * database: the state is cleared and read again from sequence 0.
 *
 * The replica sends its own API key (api_key / api_key_file) to the primary: give both the
 * same key. Transport: plain HTTP (httpc.h).
 *
 * Thread-safety: replica_start/replica_stop from one thread; the other functions from any. */
#ifndef NCLREC_REPLICA_H
#define NCLREC_REPLICA_H

#include <jansson.h>

#include "replica_state.h"
#include "model/model_env.h"

typedef struct replica replica;

/* Creates the replica state and the poller (role replica; env->cfg->primary is a valid URL),
 * without starting the thread. env is copied (model_env.h: what it points to must outlive the
 * replica); its store and seen are not used: the replica's own state answers users' items.
 * Changefeed item events go to env->catalogue. The result is owned by the caller
 * (replica_stop). */
replica *replica_new(const model_env *env, nc_err *e);

/* Starts the polling thread (the first poll runs at once). */
int replica_start(replica *r, nc_err *e);

/* Runs one poll (changefeed, then checkpoint) on the calling thread; NC_OK when both feeds
 * answered. Used by the thread and by tests. */
int replica_poll_once(replica *r, nc_err *e);

/* Stops and joins the thread when it runs (a poll in progress ends within replica_timeout) and
 * frees r. NULL is fine. */
void replica_stop(replica *r);

/* The state the request path reads (owned by r). */
replica_state *replica_state_get(replica *r);

/* 1 once the changefeed has been followed to its end since start. */
int replica_synced(replica *r);

/* 1 while the last poll of the primary succeeded. */
int replica_primary_up(replica *r);

/* A new JSON object describing the primary as this replica sees it (url, reachable,
 * last_contact_seconds, applied_seq, primary_seq, last_error, ...). Caller owns it. */
json_t *replica_status(replica *r);

/* The replica's metrics in the Prometheus text format, malloc'd (caller frees), or NULL when
 * out of memory. */
char *replica_metrics(replica *r);

#endif
