-- latest_prediction: one row per entity and model. IF NOT EXISTS: databases from before migrations keep theirs.
-- Released migrations are never edited: a change is a new migration.
CREATE TABLE IF NOT EXISTS latest_prediction (
    entity_id TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_time TIMESTAMPTZ NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    predicted_class INTEGER,
    predicted_label TEXT,
    probabilities DOUBLE PRECISION[] NOT NULL,
    inference_time TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (entity_id, model_name)
);
