-- The workspace's automation (issue 22): the setup admins save, each member's presence, and what
-- the relay's automation worker keeps between runs (where it is in the log, the engine's state,
-- each conversation's state) and the replies it decided to send (an outbox, retried until Meta
-- takes them or their window closes). Everything goes with its workspace; a member's presence
-- goes with the member. Times: UTC milliseconds. JSON columns are written and read by the relay
-- only. Paired with crates/relay-postgres/migrations/20261206120000_automation.sql (same version,
-- same columns). Never edit this file once released; add a new pair of migrations.
CREATE TABLE automation_setups (
    workspace_id  TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,             -- 1 at the first save, +1 at each
    setup         TEXT NOT NULL,                -- JSON: zentro_automation::Setup
    saved_at      INTEGER NOT NULL,
    saved_by      TEXT                          -- the member who saved it (kept if they go)
) STRICT;

CREATE TABLE member_presence (
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    member_id     TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    -- what the member chose
    status        TEXT NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'away')),
    -- the effective presence the log last announced (workspace.presence)
    announced     TEXT NOT NULL DEFAULT 'offline' CHECK (announced IN ('available', 'away', 'offline')),
    changed_at    INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, member_id)
) STRICT;

CREATE TABLE automation_progress (
    workspace_id  TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    cursor        INTEGER NOT NULL,             -- the last seq of the log the worker applied
    engine        TEXT NOT NULL,                -- JSON: the engine's own state
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE automation_conversations (
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    contact_key   TEXT NOT NULL,                -- "<kind>|<channel external id>|<customer id>"
    state         TEXT NOT NULL,                -- JSON: the conversation's automation state
    PRIMARY KEY (workspace_id, contact_key)
) STRICT;

CREATE TABLE automated_messages (
    id                   TEXT PRIMARY KEY,      -- also the message.sent event's client_id
    workspace_id         TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    channel_kind         TEXT NOT NULL,
    channel_external_id  TEXT NOT NULL,
    customer_id          TEXT NOT NULL,
    rule                 TEXT NOT NULL,         -- the automation's rule (greeting, away, menu, ...)
    message              TEXT NOT NULL,         -- JSON: what is sent to Meta
    body                 TEXT NOT NULL,         -- the text as the thread shows it
    window_opened_at     INTEGER NOT NULL,      -- the customer's last message
    state                TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'unknown', 'failed', 'expired')),
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      INTEGER NOT NULL,
    decided_at           INTEGER NOT NULL,
    external_id          TEXT,                  -- Meta's id of the message, once sent
    error                TEXT,                  -- why the last attempt failed (no secrets)
    updated_at           INTEGER NOT NULL
) STRICT;

CREATE INDEX automated_messages_due ON automated_messages (state, next_attempt_at);
CREATE INDEX automated_messages_by_customer ON automated_messages (workspace_id, customer_id);
