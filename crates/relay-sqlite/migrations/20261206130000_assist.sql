-- AI assist (issue 25, privacy promise P18, ADR 0016): each workspace's settings as its owners
-- saved them (off until then), the provider's API key sealed like channel tokens (XChaCha20-Poly1305
-- under the relay's token key, the associated data `assist:<workspace id>`), and the usage desks
-- record after each request — without content: who, which conversation (a hash the desks compute),
-- which feature, which provider, how many tokens. Times: UTC milliseconds. Paired with
-- crates/relay-postgres/migrations/20261206130000_assist.sql (same version, same columns).
-- Never edit this file once released; add a new pair of migrations.
CREATE TABLE assist_settings (
    workspace_id           TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    version                INTEGER NOT NULL,          -- 1 at the first save, +1 at each
    enabled                INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    base_url               TEXT,                      -- the provider's API base URL
    model                  TEXT,
    masking                INTEGER NOT NULL CHECK (masking IN (0, 1)),
    auto_labels            INTEGER NOT NULL CHECK (auto_labels IN (0, 1)),
    monthly_budget_tokens  INTEGER,                   -- NULL: no limit
    key_id                 TEXT,                      -- the sealed key (all three NULL: none)
    key_nonce              BLOB,
    key_ciphertext         BLOB,
    key_version            INTEGER NOT NULL,          -- grows with every new key; 0: never set
    saved_at               INTEGER NOT NULL,
    saved_by               TEXT                       -- the owner who saved (kept if they go)
) STRICT;

CREATE TABLE assist_usage (
    id                 TEXT PRIMARY KEY,
    workspace_id       TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    member_id          TEXT NOT NULL,                 -- who asked (kept if they go)
    conversation       TEXT NOT NULL,                 -- 64 hex digits: the desks' hash of the conversation
    feature            TEXT NOT NULL,
    provider           TEXT NOT NULL,
    prompt_tokens      INTEGER NOT NULL,
    completion_tokens  INTEGER NOT NULL,
    at                 INTEGER NOT NULL
) STRICT;

CREATE INDEX assist_usage_by_workspace_time ON assist_usage (workspace_id, at);
