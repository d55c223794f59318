-- One row `/healthz` rewrites through the sequencer's group commit: a health check that passes has
-- written to the database on the path webhooks take, so a full disk or an I/O error shows.
CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
INSERT INTO health_probe (id, checked_at) VALUES (1, 0);
