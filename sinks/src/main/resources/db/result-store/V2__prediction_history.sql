-- prediction_history: every prediction, idempotent per event, model and version.
CREATE TABLE IF NOT EXISTS prediction_history (
    event_id TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    event_time TIMESTAMPTZ NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    predicted_class INTEGER,
    predicted_label TEXT,
    probabilities DOUBLE PRECISION[] NOT NULL,
    inference_time TIMESTAMPTZ NOT NULL,
    written_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, model_name, model_version)
);
CREATE INDEX IF NOT EXISTS prediction_history_entity ON prediction_history (entity_id, model_name, event_time DESC);
CREATE INDEX IF NOT EXISTS prediction_history_event_time ON prediction_history (event_time);
