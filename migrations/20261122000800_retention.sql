-- The workspace's retention periods as the relay announced them (`workspace.retention` events);
-- NULL means keep. One row.
-- Never edit this file once released; add a new migration instead.

CREATE TABLE retention (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    conversation_days  INTEGER,
    media_days         INTEGER,
    updated_at         INTEGER NOT NULL
) STRICT;
