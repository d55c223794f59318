-- Devices of a terminated workspace are told so (410 workspace_terminated) when they next call,
-- so each deletes the workspace's data (privacy promise P5). Only the hash of each device's token
-- is kept, and only for 90 days.
-- Never edit this file once released; add a new migration.

CREATE TABLE terminated_sessions (
    token_hash      BLOB PRIMARY KEY,
    terminated_at   INTEGER NOT NULL
) STRICT;
