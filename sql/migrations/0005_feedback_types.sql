-- 0005_feedback_types.sql - each interaction's feedback type (view, click, purchase, ...).
--
-- The name as the client sent it (the daemon's --feedback-types says which names exist and
-- what each weighs in training, so the weights can change without touching the rows). Rows
-- stored before types existed read as 'view', the type of an event that names none; adding
-- a column with a constant default rewrites no row, so the migration is instant on any size.
ALTER TABLE interactions ADD COLUMN type TEXT NOT NULL DEFAULT 'view'
    CHECK (length(CAST(type AS BLOB)) BETWEEN 1 AND 32);
