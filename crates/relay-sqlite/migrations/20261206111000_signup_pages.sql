-- The Pages a Facebook Login shared (ADR 0012, section 6), between POST /signup/pages/accounts
-- and POST /signup/pages/connect, so that any relay instance can connect them: one row per Page,
-- its Page token sealed with the relay's token key (associated data: the signup id). The user id
-- and the permission check are those of the login, the same on every row of a signup. Deleted when
-- the signup connects, fails or is cancelled, and by the pruner once expired (10 minutes).
-- Paired with crates/relay-postgres/migrations/20261206111000_signup_pages.sql (same version, same
-- columns). Never edit this file once released; add a new pair of migrations.
CREATE TABLE signup_pages (
    signup_id           TEXT NOT NULL REFERENCES signups (id) ON DELETE CASCADE,
    position            INTEGER NOT NULL,       -- the order Meta listed them in
    page_id             TEXT NOT NULL,
    name                TEXT NOT NULL,
    key_id              TEXT NOT NULL,          -- which key sealed the Page token
    nonce               BLOB NOT NULL,
    ciphertext          BLOB NOT NULL,
    instagram_id        TEXT,                   -- the linked Instagram account, if any
    instagram_username  TEXT,
    user_id             TEXT,                   -- the login's app-scoped user id
    permissions         TEXT NOT NULL,          -- JSON: the login's PermissionCheck
    expires_at          INTEGER NOT NULL,
    PRIMARY KEY (signup_id, page_id)
) STRICT;

CREATE INDEX signup_pages_by_expiry ON signup_pages (expires_at);
