-- The relay's database on PostgreSQL (15; nothing here needs more than 13): one baseline equal to
-- the schema SQLite's migrations (crates/relay-sqlite/migrations) produce up to and including
-- 20261206080000_health_probe.sql, so both backends start from the same tables, columns,
-- constraints, indexes (same names) and seeded rows. SQLite's data steps (backfills of erasures,
-- event authors and events.channel_id) have nothing to do on an empty database and are left out.
-- Every later schema change is a pair of files with one version: one in
-- crates/relay-sqlite/migrations, one here (e.g. 20261206100000_leases.sql).
-- Never edit this file once released; add a new pair of migrations.
--
-- Translation from SQLite (ADR 0012):
-- - INTEGER (times in UTC milliseconds since the Unix epoch, seqs, counters, 0/1 flags) -> bigint,
--   so the same Rust i64 reads them on both backends; BLOB -> bytea; TEXT -> text. JSON columns
--   (events.payload, audit_log.details, signups.outcome) stay text: the bytes devices receive are
--   the same on both.
-- - Rowid ids (`INTEGER PRIMARY KEY`: quarantine.id, audit_log.id, health_probe.id) -> identity
--   columns. Unlike a rowid, an identity never reuses the id of a deleted last row, and an insert
--   that names its id does not move the sequence (a copy from SQLite must setval afterwards).
-- - text cannot hold NUL characters (SQLite's TEXT can); the relay stores none.
-- - STRICT / WITHOUT ROWID have no equivalent and need none (PostgreSQL's types are strict).
-- - members.email is `COLLATE NOCASE UNIQUE` on SQLite: here a unique index on lower(email).
--   Queries must compare lower(email) = lower($1) (a plain `email = $1` is case-sensitive here and
--   cannot use the index; on SQLite the column's collation made every comparison and ORDER BY
--   ignore case), and an upsert names the expression: ON CONFLICT (lower(email)).
-- - The events_channel trigger (json_extract) is a BEFORE INSERT trigger in PL/pgSQL reading
--   payload::jsonb; see below.

CREATE TABLE workspaces (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    created_at  bigint NOT NULL,
    last_seq    bigint NOT NULL DEFAULT 0,      -- the sequencer: the last seq given out
    conversation_retention_days bigint,        -- retention (privacy promise P12); NULL: keep
    media_retention_days        bigint
);

CREATE TABLE members (
    id             text PRIMARY KEY,
    workspace_id   text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email          text NOT NULL,               -- unique ignoring case: members_email_key below
    display_name   text NOT NULL,
    role           text NOT NULL CHECK (role IN ('owner', 'admin', 'agent')),
    status         text NOT NULL CHECK (status IN ('invited', 'active', 'deactivated')),
    password_hash  text,                        -- argon2id PHC string
    created_at     bigint NOT NULL,
    last_sign_in_at bigint
);

-- SQLite: `email TEXT NOT NULL COLLATE NOCASE UNIQUE`. Queries must compare
-- lower(email) = lower($1). (NOCASE folds ASCII letters only, lower() every letter: two addresses
-- differing only in the case of a non-ASCII letter are one member here, two on SQLite.)
CREATE UNIQUE INDEX members_email_key ON members (lower(email));

-- One row per signed-in device. Only a hash of the token is kept.
CREATE TABLE sessions (
    id            text PRIMARY KEY,
    member_id     text NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    token_hash    bytea NOT NULL UNIQUE,
    device_name   text NOT NULL,
    created_at    bigint NOT NULL,
    last_seen_at  bigint NOT NULL,
    revoked_at    bigint,
    acked_seq     bigint NOT NULL DEFAULT 0     -- what the device has durably applied
);

CREATE INDEX sessions_by_workspace ON sessions (workspace_id) WHERE revoked_at IS NULL;

-- A WhatsApp number, Facebook Page or Instagram account, owned by one workspace.
CREATE TABLE channels (
    id            text PRIMARY KEY,
    workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('whatsapp', 'messenger', 'instagram')),
    external_id   text NOT NULL,                -- phone_number_id, Page id or Instagram account id
    account_id    text,                         -- the WABA id, for account-level WhatsApp events
    display_name  text NOT NULL DEFAULT '',
    created_at    bigint NOT NULL,
    connected_by  text,                         -- the connecting Facebook user's app-scoped id
    disconnected_at bigint,                     -- the user removed the app (deauthorize)
    health        text NOT NULL DEFAULT 'unknown', -- connected | attention | disconnected | unknown
    health_reason text,                         -- why, for people
    health_checked_at bigint,
    phone_number  text,                         -- display number (WhatsApp)
    quality_rating text,                        -- GREEN | YELLOW | RED | UNKNOWN
    UNIQUE (kind, external_id)
);

CREATE INDEX channels_by_account ON channels (kind, account_id) WHERE account_id IS NOT NULL;
CREATE INDEX channels_by_connector ON channels (connected_by) WHERE connected_by IS NOT NULL;

-- The event log: every workspace has its own gapless sequence.
CREATE TABLE events (
    workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    seq           bigint NOT NULL,
    kind          text NOT NULL,                -- meta.webhook, or a team event kind
    at            bigint NOT NULL,              -- when the relay appended it
    dedup_key     text NOT NULL,                -- Meta's id for webhooks, the idempotency key for team events
    author        text,                         -- the member who published a team event
    payload       text NOT NULL,                -- JSON
    channel_id    text,                         -- the channel it concerns (filled by events_channel)
    PRIMARY KEY (workspace_id, seq),
    UNIQUE (workspace_id, dedup_key)
);

CREATE INDEX events_by_workspace_time ON events (workspace_id, at);
CREATE INDEX events_by_channel ON events (workspace_id, channel_id, seq) WHERE channel_id IS NOT NULL;

-- Signed webhooks that did not parse or name a channel no workspace has (yet).
CREATE TABLE quarantine (
    id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    received_at  bigint NOT NULL,
    route_kind   text,                          -- whatsapp_phone_number, whatsapp_account, page, instagram_account
    route_id     text,
    reason       text NOT NULL,
    dedup_key    text NOT NULL UNIQUE,
    body         bytea NOT NULL                 -- the item's envelope, or the raw body if it did not parse
);

CREATE INDEX quarantine_by_route ON quarantine (route_kind, route_id);

-- A one-time code for an invited member to pick a password. Only a hash of the code is kept.
CREATE TABLE invitations (
    id           text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    member_id    text NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    code_hash    bytea NOT NULL UNIQUE,
    created_by   text,                          -- the inviting member
    created_at   bigint NOT NULL,
    expires_at   bigint NOT NULL,
    used_at      bigint
);

CREATE INDEX invitations_by_member ON invitations (member_id);

-- Who did what, when, from which device. Never message content or secrets.
CREATE TABLE audit_log (
    id            bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    at            bigint NOT NULL,
    actor_id      text,                         -- the member acting (NULL: the relay's operator)
    actor_email   text,                         -- kept, so the entry still reads after a removal
    device        text,                         -- the acting device's name
    action        text NOT NULL,                -- sign_in, sign_in.failed, member.invited, …
    subject       text,                         -- whom or what it concerns (a member's email, a channel)
    details       text NOT NULL DEFAULT '{}'    -- JSON, never content or secrets
);

CREATE INDEX audit_log_by_workspace ON audit_log (workspace_id, id);

-- A channel's Meta access token, sealed with XChaCha20-Poly1305 under a key that is never in this
-- database (ZENTRO_RELAY_TOKEN_KEY). The channel's id is the associated data.
CREATE TABLE channel_tokens (
    channel_id    text PRIMARY KEY REFERENCES channels (id) ON DELETE CASCADE,
    key_id        text NOT NULL,                -- which key sealed it (a fingerprint, not the key)
    nonce         bytea NOT NULL,
    ciphertext    bytea NOT NULL,
    version       bigint NOT NULL,              -- grows with every rotation
    updated_at    bigint NOT NULL,
    updated_by    text
);

-- Agents allowed on a channel. A channel without rows is open to every member; owners and admins
-- may always use every channel.
CREATE TABLE channel_access (
    channel_id  text NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    member_id   text NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    PRIMARY KEY (channel_id, member_id)
);

-- Devices of a terminated workspace are told so (410 workspace_terminated) when they next call.
-- Only the hash of each device's token is kept, and only for 90 days.
CREATE TABLE terminated_sessions (
    token_hash      bytea PRIMARY KEY,
    terminated_at   bigint NOT NULL
);

-- Each deletion request Meta sent, for its status page. The user's id is kept only as a hash.
CREATE TABLE deletion_requests (
    code              text PRIMARY KEY,     -- the confirmation code given to Meta
    user_hash         text NOT NULL,        -- SHA-256 of the app-scoped user id
    received_at       bigint NOT NULL,
    completed_at      bigint,
    channels_removed  bigint NOT NULL DEFAULT 0
);

-- One signup window: opened by an owner's device, completed by the relay's signup page with
-- Meta's code. The page's one-time token is kept only as a hash.
CREATE TABLE signups (
    id            text PRIMARY KEY,
    workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    member_id     text NOT NULL,
    kind          text NOT NULL,                  -- whatsapp
    token_hash    bytea NOT NULL UNIQUE,          -- SHA-256 of the page's one-time token
    created_at    bigint NOT NULL,
    expires_at    bigint NOT NULL,
    state         text NOT NULL DEFAULT 'pending', -- pending | working | connected | cancelled | failed
    channel_id    text,                           -- the channel it connected
    outcome       text,                           -- JSON: what happened, for people (no secrets)
    finished_at   bigint
);

CREATE INDEX signups_by_workspace ON signups (workspace_id, created_at);

-- Erasures outlive their `contact.erased` events (GET /v1/erasures). Only the salt and the salted
-- hash are kept, as long as the workspace is.
CREATE TABLE erasures (
    workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    hash          text NOT NULL,                -- salted SHA-256 naming the customer (hex)
    salt          text NOT NULL,                -- hex
    at            bigint NOT NULL,              -- when it was erased (UTC ms)
    PRIMARY KEY (workspace_id, hash)
);

-- One row `/healthz` rewrites through the sequencer's group commit: a health check that passes has
-- written to the database on the path webhooks take, so a full disk or an I/O error shows.
-- (SQLite: `id INTEGER PRIMARY KEY CHECK (id = 1)`, a rowid id like quarantine's: an identity.)
CREATE TABLE health_probe (
    id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY CHECK (id = 1),
    checked_at  bigint NOT NULL
);
INSERT INTO health_probe (id, checked_at) VALUES (1, 0);

-- Per-channel access where data flows (issue 19, item 2): every event that concerns a channel names
-- it, so a member who may not use that channel is never sent it. The same rule as SQLite's
-- events_channel trigger (20261206053000_event_channels.sql), whoever appends:
-- - only when the insert gives no channel_id, the payload is valid JSON, and the kind is
--   meta.webhook, message.sent or team.* (SQLite's LIKE ignores ASCII case: ILIKE here);
-- - meta.webhook: the channel kind from $.object (whatsapp_business_account -> whatsapp,
--   page -> messenger, instagram -> instagram, anything else: none); the external id from
--   $.entry[0].changes[0].value.metadata.phone_number_id for WhatsApp, else $.entry[0].id;
-- - other kinds: the first non-null of $.channel_kind, $.conversation.channel_kind,
--   $.contact.channel_kind, and of $.channel_external_id, $.conversation.channel_external_id,
--   $.contact.channel_external_id (JSON null counts as absent, as json_extract makes it NULL);
-- - the channel of the event's workspace with that kind and external id (a number compares as
--   its text), or NULL when there is none.
-- Differences only where SQLite's JSON and PostgreSQL's jsonb read odd values differently: a
-- payload jsonb refuses (\u0000, a lone surrogate escape) counts as malformed (no channel); JSON
-- true/false read as 'true'/'false' (SQLite: 1/0), a non-integer number as jsonb prints it (1e3:
-- '1000'; SQLite: '1000.0'), and of duplicate keys the last one counts (SQLite: the first).
-- A payload that is not JSON never fails the insert: the cast's error is caught and the event is
-- stored with no channel (the exception block is a subtransaction that writes nothing, so it
-- takes no subtransaction id). An explicit channel_id is kept as given (a copy from SQLite keeps
-- the channel_id it had, NULL included, only by disabling this trigger while copying).
CREATE FUNCTION events_channel() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    doc jsonb;
    route_kind text;                                -- the channel kind it names
    route_id text;                                  -- and the external id
BEGIN
    IF NEW.channel_id IS NOT NULL
       OR NOT (NEW.kind = 'meta.webhook' OR NEW.kind = 'message.sent' OR NEW.kind ILIKE 'team.%') THEN
        RETURN NEW;
    END IF;
    BEGIN
        doc := NEW.payload::jsonb;
    EXCEPTION WHEN data_exception THEN
        RETURN NEW;                                 -- not JSON: no channel, and the insert goes on
    END;
    IF NEW.kind = 'meta.webhook' THEN
        route_kind := CASE doc ->> 'object'
            WHEN 'whatsapp_business_account' THEN 'whatsapp'
            WHEN 'page' THEN 'messenger'
            WHEN 'instagram' THEN 'instagram' END;
        route_id := CASE doc ->> 'object'
            WHEN 'whatsapp_business_account'
                THEN doc -> 'entry' -> 0 -> 'changes' -> 0 -> 'value' -> 'metadata' ->> 'phone_number_id'
            ELSE doc -> 'entry' -> 0 ->> 'id' END;
    ELSE
        route_kind := coalesce(doc ->> 'channel_kind',
                               doc -> 'conversation' ->> 'channel_kind',
                               doc -> 'contact' ->> 'channel_kind');
        route_id := coalesce(doc ->> 'channel_external_id',
                             doc -> 'conversation' ->> 'channel_external_id',
                             doc -> 'contact' ->> 'channel_external_id');
    END IF;
    NEW.channel_id := (
        SELECT c.id FROM channels c
        WHERE c.workspace_id = NEW.workspace_id
          AND c.kind = route_kind
          AND c.external_id = route_id
        LIMIT 1);
    RETURN NEW;
END
$$;

CREATE TRIGGER events_channel BEFORE INSERT ON events
FOR EACH ROW EXECUTE FUNCTION events_channel();
