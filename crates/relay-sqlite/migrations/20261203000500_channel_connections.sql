-- Connecting channels from the app (Embedded Signup) and watching their health.
-- Never edit this file once released; add a new migration.

-- One signup window: opened by an owner's device, completed by the relay's signup page with
-- Meta's code. The page's one-time token is kept only as a hash.
CREATE TABLE signups (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    member_id     TEXT NOT NULL,
    kind          TEXT NOT NULL,                  -- whatsapp
    token_hash    BLOB NOT NULL UNIQUE,           -- SHA-256 of the page's one-time token
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending', -- pending | working | connected | cancelled | failed
    channel_id    TEXT,                           -- the channel it connected
    outcome       TEXT,                           -- JSON: what happened, for people (no secrets)
    finished_at   INTEGER
) STRICT;

CREATE INDEX signups_by_workspace ON signups (workspace_id, created_at);

-- What the relay last saw of each channel at Meta.
ALTER TABLE channels ADD COLUMN health TEXT NOT NULL DEFAULT 'unknown'; -- connected | attention | disconnected | unknown
ALTER TABLE channels ADD COLUMN health_reason TEXT;                     -- why, for people
ALTER TABLE channels ADD COLUMN health_checked_at INTEGER;
ALTER TABLE channels ADD COLUMN phone_number TEXT;                      -- display number (WhatsApp)
ALTER TABLE channels ADD COLUMN quality_rating TEXT;                    -- GREEN | YELLOW | RED | UNKNOWN
