-- AI assist (issue 25, privacy promise P18, ADR 0016): each workspace's settings as its owners
-- saved them (off until then), the provider's API key sealed like channel tokens (XChaCha20-Poly1305
-- under the relay's token key, the associated data `assist:<workspace id>`), and the usage desks
-- record after each request — without content: who, which conversation (a hash the desks compute),
-- which feature, which provider, how many tokens. Times: UTC milliseconds. Paired with
-- crates/relay-sqlite/migrations/20261206130000_assist.sql (same version, same columns).
-- Never edit this file once released; add a new pair of migrations.
CREATE TABLE assist_settings (
    workspace_id           text PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    version                bigint NOT NULL,          -- 1 at the first save, +1 at each
    enabled                bigint NOT NULL CHECK (enabled IN (0, 1)),
    base_url               text,                      -- the provider's API base URL
    model                  text,
    masking                bigint NOT NULL CHECK (masking IN (0, 1)),
    auto_labels            bigint NOT NULL CHECK (auto_labels IN (0, 1)),
    monthly_budget_tokens  bigint,                   -- NULL: no limit
    key_id                 text,                      -- the sealed key (all three NULL: none)
    key_nonce              bytea,
    key_ciphertext         bytea,
    key_version            bigint NOT NULL,          -- grows with every new key; 0: never set
    saved_at               bigint NOT NULL,
    saved_by               text                       -- the owner who saved (kept if they go)
);

CREATE TABLE assist_usage (
    id                 text PRIMARY KEY,
    workspace_id       text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    member_id          text NOT NULL,                 -- who asked (kept if they go)
    conversation       text NOT NULL,                 -- 64 hex digits: the desks' hash of the conversation
    feature            text NOT NULL,
    provider           text NOT NULL,
    prompt_tokens      bigint NOT NULL,
    completion_tokens  bigint NOT NULL,
    at                 bigint NOT NULL
);

CREATE INDEX assist_usage_by_workspace_time ON assist_usage (workspace_id, at);
