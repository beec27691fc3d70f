-- embedding: the pooled vector of models whose manifest declares an EMBEDDING output; empty for others.
-- A constant default: PostgreSQL 11+ adds the column without rewriting the table.
ALTER TABLE latest_prediction ADD COLUMN IF NOT EXISTS embedding REAL[] NOT NULL DEFAULT '{}';
ALTER TABLE prediction_history ADD COLUMN IF NOT EXISTS embedding REAL[] NOT NULL DEFAULT '{}';
