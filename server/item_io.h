/* item_io.h - bulk load and back-up of the catalogue (`nclrec import --items`, `nclrec export
 * --items`): JSON lines, one item document (item_doc.h) with its "id" per line.
 *
 * Import reads and checks the whole file first (a bad line refuses the file, naming the line,
 * before anything is written), then writes it as PUTs in chunks of the store's max_batch, each
 * with an idempotency key from the chunk's content and position, so a re-run after an
 * interruption skips the chunks already committed. Export writes the document of every item
 * with a catalogue write that is not deleted, in sequence order; import reads it back.
 *
 * Ownership: the store and export's FILE are the caller's (neither closed). Threading: a
 * subcommand's, on the calling thread; the store may be shared with a running daemon's writer. */
#ifndef NCLREC_ITEM_IO_H
#define NCLREC_ITEM_IO_H

#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

/* *n_items (may be NULL): documents written; *n_replayed (may be NULL): of those, in chunks
 * an earlier run had committed. NC_EINVAL for a bad file (message "PATH:LINE: ..."). */
int item_io_import(nc_store *s, const char *path, int max_batch, int64_t *n_items, int64_t *n_replayed, nc_err *e);

/* Writes the documents to out (the caller's, not closed); *n_items (may be NULL) counts them. */
int item_io_export(nc_store *s, FILE *out, int64_t *n_items, nc_err *e);

#endif
