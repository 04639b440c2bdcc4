/* feed.h - the two feeds a primary (`--role primary`) serves to its replicas.
 *
 *   GET /replication/checkpoint   the checkpoint file of the model being served, as bytes
 *       (application/octet-stream), with headers
 *         ETag: "VERSION"              X-Model-Version: VERSION
 *         X-Checkpoint-Crc32: XXXXXXXX (the file's own CRC-32 trailer: the CRC of every byte
 *                                       before the last four, lower-case hex)
 *       A request with If-None-Match: "VERSION" of the same model gets 304 and no body, so a
 *       replica polls cheaply. The file is checked against its CRC before it is sent (500
 *       when it is corrupt on disk: the replica keeps its model).
 *
 *   GET /replication/changes?after=SEQ&limit=N   the changefeed: every interaction and every
 *       user deletion with a sequence number above SEQ, merged in sequence order, at most N
 *       (1..FEED_MAX_LIMIT, default FEED_DEFAULT_LIMIT) per page:
 *         {"after":SEQ, "next":M, "last_seq":L, "more":bool,
 *          "events":[{"seq":..,"type":"interaction","user":..,"item":..,"timestamp":..},
 *                    {"seq":..,"type":"deletion","user":..},
                    {"seq":..,"type":"item","item":..,"doc":{...}|null}, ...]}
 *       An item event is the item's latest catalogue write (item_doc.h; null: deleted), so an
 *       item written several times appears once, at its last write's seq.
 *       L is the primary's watermark when the page was read, M the SEQ of the next request
 *       (the last event's seq when more is true, else L: the sequence has gaps where deleted
 *       interactions were), so following `next` until `more` is false reads everything up to L
 *       from one consistent snapshot per page. Interactions deleted before they were read never
 *       appear; their user's deletion does. L below SEQ means the primary's store is not the
 *       one the replica followed (a new database): the replica starts again from 0.
 *
 * The handlers are api/replication.c. Both need the API key whenever one is configured
 * (replicas send theirs), and answer 404 on a daemon of another role. Sequence numbers are the store's own (store.h).
 *
 * The changefeed reads the store's tables (sql/migrations/0001_init.sql) through a read-only
 * SQLite connection of its own: the store's API answers counts of changes, not the rows. Two
 * range scans on the sequence keys per page (interactions, deletions), merged here, so a page
 * costs O(limit) however far behind the replica is.
 *
 * Thread-safety: handlers run on any HTTP thread; the connection is used under a mutex. */
#ifndef NCLREC_FEED_H
#define NCLREC_FEED_H

#include <jansson.h>
#include <stdint.h>

#include "common.h"

#define FEED_DEFAULT_LIMIT 1000
#define FEED_MAX_LIMIT 10000

typedef struct feed feed; /* opaque: the read connection of the changefeed */

/* Opens a read-only connection to the store's database at db_path (which store_open has
 * already created and migrated). The result is owned by the caller (feed_close). */
feed *feed_open(const char *db_path, nc_err *e);
/* Closes the connection. NULL is fine; no request may be using it. */
void feed_close(feed *f);

/* One page of the changefeed (format above) as a new JSON object (caller owns it). NC_EIO
 * (with e naming the database) when the store cannot be read. */
int feed_changes(feed *f, int64_t after, int limit, json_t **out, nc_err *e);

/* Reads the whole checkpoint file at path into *buf (malloc'd, the caller frees; *len bytes)
 * and checks its CRC-32 trailer (*crc): what GET /replication/checkpoint sends. NC_OK, NC_EIO
 * (cannot read: e.g. pruned meanwhile) or NC_EFORMAT (corrupt). */
int feed_read_checkpoint(const char *path, char **buf, size_t *len, uint32_t *crc, nc_err *e);

#endif
