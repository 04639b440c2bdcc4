-- schema.sql - the complete current schema of the nclrec interaction store, for reading.
--
-- The daemon does not run this file: it applies sql/migrations/NNNN_*.sql in order (compiled
-- into the binary, see server/sql_embed.c) and records the last one applied in
-- PRAGMA user_version. This file must describe the same tables and indexes as all the
-- migrations applied to an empty database; tests/test_store.c checks that they agree.
--
-- user_version: 5

PRAGMA application_id = 1852009586; -- 'nclr'

-- One row: the sequence counter and the live row counts (kept here so statistics need no
-- full-table COUNT(*)).
CREATE TABLE counters (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq       INTEGER NOT NULL,  -- highest sequence number ever committed
    n_interactions INTEGER NOT NULL,  -- rows in interactions
    n_users        INTEGER NOT NULL,  -- rows in users
    n_items        INTEGER NOT NULL,  -- rows in items
    model_version  INTEGER NOT NULL DEFAULT 0  -- highest model version handed out (0002)
);
INSERT INTO counters (id, last_seq, n_interactions, n_users, n_items) VALUES (1, 0, 0, 0, 0);

-- External ids interned to small integers, so an interaction row holds two integers.
-- A user row exists exactly while the user has interactions (deletion removes it).
CREATE TABLE users (
    id  INTEGER PRIMARY KEY,
    ext TEXT NOT NULL UNIQUE CHECK (length(CAST(ext AS BLOB)) BETWEEN 1 AND 256)
);

-- Items are never removed. pop counts the distinct users with a live interaction with the
-- item: the popularity ranking served to users with no history.
CREATE TABLE items (
    id  INTEGER PRIMARY KEY,
    ext TEXT NOT NULL UNIQUE CHECK (length(CAST(ext AS BLOB)) BETWEEN 1 AND 256),
    pop INTEGER NOT NULL DEFAULT 0 CHECK (pop >= 0),
    meta TEXT,                     -- the catalogue document (0003), NULL: seen only in interactions
    deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),  -- removed from the catalogue
    meta_seq INTEGER               -- sequence number of the last catalogue write
);
CREATE INDEX items_pop ON items (pop DESC, id);
CREATE INDEX items_meta_seq ON items (meta_seq) WHERE meta_seq IS NOT NULL;

-- The event log of accepted interactions, in acceptance order (seq). Repeated (user, item)
-- pairs are kept: training merges them (with the largest weight of their types).
CREATE TABLE interactions (
    seq     INTEGER PRIMARY KEY,                       -- from counters.last_seq
    user_id INTEGER NOT NULL REFERENCES users (id),
    item_id INTEGER NOT NULL REFERENCES items (id),
    ts      INTEGER NOT NULL,                          -- seconds since the epoch
    type    TEXT NOT NULL DEFAULT 'view'               -- feedback type (0005)
            CHECK (length(CAST(type AS BLOB)) BETWEEN 1 AND 32)
);
CREATE INDEX interactions_user_item ON interactions (user_id, item_id);

-- Tombstones: one row per user deletion, with its own sequence number, so a reader that
-- follows the changefeed learns of deletions, and serving can tell that a user was deleted
-- after a model was trained (such a user is served as unknown).
CREATE TABLE deletions (
    seq       INTEGER PRIMARY KEY,   -- from counters.last_seq
    user      TEXT NOT NULL,         -- the external id that was deleted
    n_deleted INTEGER NOT NULL,      -- interactions removed
    at        INTEGER NOT NULL       -- wall-clock seconds since the epoch
);
CREATE INDEX deletions_user ON deletions (user, seq);

-- Idempotency-Key records: a retried request with the same key and the same content gets
-- the original answer instead of being counted again. Rows older than the configured window
-- are pruned by the writer.
CREATE TABLE idempotency (
    key          TEXT PRIMARY KEY,
    request_hash INTEGER NOT NULL,   -- 64-bit hash of the request's events
    created_at   INTEGER NOT NULL,   -- wall-clock seconds since the epoch
    n_accepted   INTEGER NOT NULL,
    first_seq    INTEGER NOT NULL,
    last_seq     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX idempotency_created ON idempotency (created_at);

-- What each retrain did (the start-up training included), newest 1,000 kept by the writer:
-- /model's history and the page's chart of the last models' held-out metrics.
CREATE TABLE retrain_runs (
    id       INTEGER PRIMARY KEY,
    ended_at INTEGER NOT NULL,       -- wall-clock seconds since the epoch
    outcome  TEXT NOT NULL,          -- swapped, rejected, failed, cancelled, skipped
    version  INTEGER NOT NULL,       -- the model built, 0 when none
    recall20 REAL NOT NULL,          -- held-out, -1 when not evaluated
    ndcg20   REAL NOT NULL,
    detail   TEXT NOT NULL           -- why it was rejected, failed or skipped
);
