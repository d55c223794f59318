-- Team accounts: invitations, the audit log, encrypted channel tokens and who may use a channel.
-- Times are UTC milliseconds since the Unix epoch.
-- Never edit this file once released; add a new migration.

-- A one-time code for an invited member to pick a password. Only a hash of the code is kept.
CREATE TABLE invitations (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    member_id    TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    code_hash    BLOB NOT NULL UNIQUE,
    created_by   TEXT,                          -- the inviting member
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
) STRICT;

CREATE INDEX invitations_by_member ON invitations (member_id);

-- Who did what, when, from which device. Never message content or secrets.
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    at            INTEGER NOT NULL,
    actor_id      TEXT,                         -- the member acting (NULL: the relay's operator)
    actor_email   TEXT,                         -- kept, so the entry still reads after a removal
    device        TEXT,                         -- the acting device's name
    action        TEXT NOT NULL,                -- sign_in, sign_in.failed, member.invited, …
    subject       TEXT,                         -- whom or what it concerns (a member's email, a channel)
    details       TEXT NOT NULL DEFAULT '{}'    -- JSON, never content or secrets
) STRICT;

CREATE INDEX audit_log_by_workspace ON audit_log (workspace_id, id);

-- A channel's Meta access token, sealed with XChaCha20-Poly1305 under a key that is never in this
-- database (ZENTRO_RELAY_TOKEN_KEY). The channel's id is the associated data.
CREATE TABLE channel_tokens (
    channel_id    TEXT PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    key_id        TEXT NOT NULL,                -- which key sealed it (a fingerprint, not the key)
    nonce         BLOB NOT NULL,
    ciphertext    BLOB NOT NULL,
    version       INTEGER NOT NULL,             -- grows with every rotation
    updated_at    INTEGER NOT NULL,
    updated_by    TEXT
) STRICT;

-- Agents allowed on a channel. A channel without rows is open to every member; owners and admins
-- may always use every channel.
CREATE TABLE channel_access (
    channel_id  TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    member_id   TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    PRIMARY KEY (channel_id, member_id)
) STRICT, WITHOUT ROWID;
