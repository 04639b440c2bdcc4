-- 0002_model_version.sql - the highest model version the daemon of this store has handed out.
--
-- A retrain records its model's version here (durably) before serving the model, and the
-- next one numbers above it. Without this a model whose checkpoint could not be written
-- (full disk, unwritable model directory) was served under a version that a later model
-- would reuse after a restart, and replicas and clients that had seen the first one would
-- take the second for it.
ALTER TABLE counters ADD COLUMN model_version INTEGER NOT NULL DEFAULT 0;
