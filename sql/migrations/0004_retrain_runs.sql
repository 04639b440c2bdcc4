-- 0004_retrain_runs.sql - what each retrain did, kept across restarts for /model's history
-- (and the page's chart of the last models' held-out Recall@20 / NDCG@20).
--
-- One row per run that ended (the start-up training included): when, its outcome (swapped,
-- rejected, failed, cancelled, skipped), the version of the model it built (0 when none),
-- that model's held-out metrics (-1 when not evaluated) and why it was rejected, failed or
-- skipped. The writer keeps the newest 1,000 rows.
CREATE TABLE retrain_runs (
    id INTEGER PRIMARY KEY,
    ended_at INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    version INTEGER NOT NULL,
    recall20 REAL NOT NULL,
    ndcg20 REAL NOT NULL,
    detail TEXT NOT NULL
);
