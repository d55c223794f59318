-- The Pages a Facebook Login shared (ADR 0012, section 6), between POST /signup/pages/accounts
-- and POST /signup/pages/connect, so that any relay instance can connect them: one row per Page,
-- its Page token sealed with the relay's token key (associated data: the signup id). The user id
-- and the permission check are those of the login, the same on every row of a signup. Deleted when
-- the signup connects, fails or is cancelled, and by the pruner once expired (10 minutes).
-- Paired with crates/relay-sqlite/migrations/20261206111000_signup_pages.sql (same version, same
-- columns). Never edit this file once released; add a new pair of migrations.
CREATE TABLE signup_pages (
    signup_id           text NOT NULL REFERENCES signups (id) ON DELETE CASCADE,
    position            bigint NOT NULL,        -- the order Meta listed them in
    page_id             text NOT NULL,
    name                text NOT NULL,
    key_id              text NOT NULL,          -- which key sealed the Page token
    nonce               bytea NOT NULL,
    ciphertext          bytea NOT NULL,
    instagram_id        text,                   -- the linked Instagram account, if any
    instagram_username  text,
    user_id             text,                   -- the login's app-scoped user id
    permissions         text NOT NULL,          -- JSON: the login's PermissionCheck
    expires_at          bigint NOT NULL,
    PRIMARY KEY (signup_id, page_id)
);

CREATE INDEX signup_pages_by_expiry ON signup_pages (expires_at);
