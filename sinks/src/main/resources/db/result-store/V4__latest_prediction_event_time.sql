-- The job deletes latest_prediction rows whose event time has fallen behind its watermark by the retention
-- (result-store.latest-prediction.retention, by default the feature spec's entityTtl): by this index, in chunks.
CREATE INDEX IF NOT EXISTS latest_prediction_event_time ON latest_prediction (event_time);
