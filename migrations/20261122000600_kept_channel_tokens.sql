-- Which channel tokens this device fetched from the relay into the OS keychain, and their
-- version: no secret here (the tokens are in the keychain, entry channel-token:<channel_id>).
-- Lets the device fetch only rotated tokens and drop the revoked ones, even after a restart.
-- Never edit this file once released; add a new migration instead.

CREATE TABLE kept_channel_tokens (
    channel_id  TEXT PRIMARY KEY,       -- kind:external_id, as in channels.id
    version     INTEGER NOT NULL,
    fetched_at  INTEGER NOT NULL
) STRICT;
