-- Meta's Data Deletion Request and Deauthorize callbacks (privacy promise P15). Meta names the
-- Facebook user who connected channels by their app-scoped id; channels remember it.
-- Never edit this file once released; add a new migration.

ALTER TABLE channels ADD COLUMN connected_by TEXT;          -- the connecting Facebook user's app-scoped id
ALTER TABLE channels ADD COLUMN disconnected_at INTEGER;    -- the user removed the app (deauthorize)

CREATE INDEX channels_by_connector ON channels (connected_by) WHERE connected_by IS NOT NULL;

-- Each deletion request Meta sent, for its status page. The user's id is kept only as a hash.
CREATE TABLE deletion_requests (
    code              TEXT PRIMARY KEY,     -- the confirmation code given to Meta
    user_hash         TEXT NOT NULL,        -- SHA-256 of the app-scoped user id
    received_at       INTEGER NOT NULL,
    completed_at      INTEGER,
    channels_removed  INTEGER NOT NULL DEFAULT 0
) STRICT;
