-- The workspace's automation (issue 22): the setup admins save, each member's presence, and what
-- the relay's automation worker keeps between runs (where it is in the log, the engine's state,
-- each conversation's state) and the replies it decided to send (an outbox, retried until Meta
-- takes them or their window closes). Everything goes with its workspace; a member's presence
-- goes with the member. Times: UTC milliseconds. JSON columns are written and read by the relay
-- only (text, as on SQLite). Paired with crates/relay-sqlite/migrations/20261206120000_automation.sql
-- (same version, same columns). Never edit this file once released; add a new pair of migrations.
CREATE TABLE automation_setups (
    workspace_id  text PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    version       bigint NOT NULL,              -- 1 at the first save, +1 at each
    setup         text NOT NULL,                -- JSON: zentro_automation::Setup
    saved_at      bigint NOT NULL,
    saved_by      text                          -- the member who saved it (kept if they go)
);

CREATE TABLE member_presence (
    workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    member_id     text NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    -- what the member chose
    status        text NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'away')),
    -- the effective presence the log last announced (workspace.presence)
    announced     text NOT NULL DEFAULT 'offline' CHECK (announced IN ('available', 'away', 'offline')),
    changed_at    bigint NOT NULL,
    PRIMARY KEY (workspace_id, member_id)
);

CREATE TABLE automation_progress (
    workspace_id  text PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    cursor        bigint NOT NULL,              -- the last seq of the log the worker applied
    engine        text NOT NULL,                -- JSON: the engine's own state
    updated_at    bigint NOT NULL
);

CREATE TABLE automation_conversations (
    workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    contact_key   text NOT NULL,                -- "<kind>|<channel external id>|<customer id>"
    state         text NOT NULL,                -- JSON: the conversation's automation state
    PRIMARY KEY (workspace_id, contact_key)
);

CREATE TABLE automated_messages (
    id                   text PRIMARY KEY,      -- also the message.sent event's client_id
    workspace_id         text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    channel_kind         text NOT NULL,
    channel_external_id  text NOT NULL,
    customer_id          text NOT NULL,
    rule                 text NOT NULL,         -- the automation's rule (greeting, away, menu, ...)
    message              text NOT NULL,         -- JSON: what is sent to Meta
    body                 text NOT NULL,         -- the text as the thread shows it
    window_opened_at     bigint NOT NULL,       -- the customer's last message
    state                text NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'unknown', 'failed', 'expired')),
    attempts             bigint NOT NULL DEFAULT 0,
    next_attempt_at      bigint NOT NULL,
    decided_at           bigint NOT NULL,
    external_id          text,                  -- Meta's id of the message, once sent
    error                text,                  -- why the last attempt failed (no secrets)
    updated_at           bigint NOT NULL
);

CREATE INDEX automated_messages_due ON automated_messages (state, next_attempt_at);
CREATE INDEX automated_messages_by_customer ON automated_messages (workspace_id, customer_id);
