-- The relay's database: workspaces, members, device sessions, channels, the per-workspace event
-- log and the quarantine. Times are UTC milliseconds since the Unix epoch.
-- Never edit this file once released; add a new migration.

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL DEFAULT 0      -- the sequencer: the last seq given out
) STRICT;

CREATE TABLE members (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email          TEXT NOT NULL COLLATE NOCASE UNIQUE,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'agent')),
    status         TEXT NOT NULL CHECK (status IN ('invited', 'active', 'deactivated')),
    password_hash  TEXT,                        -- argon2id PHC string
    created_at     INTEGER NOT NULL,
    last_sign_in_at INTEGER
) STRICT;

-- One row per signed-in device. Only a hash of the token is kept.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    member_id     TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    token_hash    BLOB NOT NULL UNIQUE,
    device_name   TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    revoked_at    INTEGER,
    acked_seq     INTEGER NOT NULL DEFAULT 0    -- what the device has durably applied
) STRICT;

CREATE INDEX sessions_by_workspace ON sessions (workspace_id) WHERE revoked_at IS NULL;

-- A WhatsApp number, Facebook Page or Instagram account, owned by one workspace.
CREATE TABLE channels (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('whatsapp', 'messenger', 'instagram')),
    external_id   TEXT NOT NULL,                -- phone_number_id, Page id or Instagram account id
    account_id    TEXT,                         -- the WABA id, for account-level WhatsApp events
    display_name  TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    UNIQUE (kind, external_id)
) STRICT;

CREATE INDEX channels_by_account ON channels (kind, account_id) WHERE account_id IS NOT NULL;

-- The event log: every workspace has its own gapless sequence.
CREATE TABLE events (
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    kind          TEXT NOT NULL,                -- meta.webhook, or a team event kind
    at            INTEGER NOT NULL,             -- when the relay appended it
    dedup_key     TEXT NOT NULL,                -- Meta's id for webhooks, the idempotency key for team events
    author        TEXT,                         -- the member who published a team event
    payload       TEXT NOT NULL,                -- JSON
    PRIMARY KEY (workspace_id, seq),
    UNIQUE (workspace_id, dedup_key)
) STRICT, WITHOUT ROWID;

CREATE INDEX events_by_time ON events (at);

-- Signed webhooks that did not parse or name a channel no workspace has (yet).
CREATE TABLE quarantine (
    id           INTEGER PRIMARY KEY,
    received_at  INTEGER NOT NULL,
    route_kind   TEXT,                          -- whatsapp_phone_number, whatsapp_account, page, instagram_account
    route_id     TEXT,
    reason       TEXT NOT NULL,
    dedup_key    TEXT NOT NULL UNIQUE,
    body         BLOB NOT NULL                  -- the item's envelope, or the raw body if it did not parse
) STRICT;

CREATE INDEX quarantine_by_route ON quarantine (route_kind, route_id);
