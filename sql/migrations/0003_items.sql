-- 0003_items.sql - the catalogue: what a shop says about an item beyond its id.
--
-- meta is the item's document as the API shows it, canonical JSON written by the daemon:
-- {"categories":[...],"labels":{...},"hidden":bool,"available_from":"RFC 3339"|null}.
-- NULL for an item seen only in interactions (no categories, shown). deleted marks an item
-- removed from the catalogue (DELETE /items/{id}); the row stays, as interactions refer to it.
-- meta_seq is the sequence number (counters.last_seq) of the item's last catalogue write, so
-- the changefeed carries each item's latest document once: rows with meta_seq > N.
ALTER TABLE items ADD COLUMN meta TEXT;
ALTER TABLE items ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1));
ALTER TABLE items ADD COLUMN meta_seq INTEGER;
CREATE INDEX items_meta_seq ON items (meta_seq) WHERE meta_seq IS NOT NULL;
