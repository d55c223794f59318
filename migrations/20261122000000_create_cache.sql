-- The desktop's local cache: the first schema.
-- Never edit this file once released; add a new migration instead (see README.md here).
-- Times are UTC milliseconds since the Unix epoch.

-- A channel the workspace answers on: a WhatsApp number, a Facebook Page or an Instagram account.
CREATE TABLE channels (
    id            TEXT PRIMARY KEY,             -- the relay's id for the channel
    kind          TEXT NOT NULL CHECK (kind IN ('whatsapp', 'messenger', 'instagram')),
    external_id   TEXT NOT NULL,                -- phone_number_id, Page id or Instagram account id
    display_name  TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    UNIQUE (kind, external_id)
) STRICT;

-- A customer as one channel knows them (business-scoped user id, IGSID or PSID).
CREATE TABLE contacts (
    id            INTEGER PRIMARY KEY,
    channel_id    TEXT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    external_id   TEXT NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    phone         TEXT,
    username      TEXT,
    email         TEXT,
    created_at    INTEGER NOT NULL,
    UNIQUE (channel_id, external_id)
) STRICT;

-- A thread with one contact.
CREATE TABLE conversations (
    id                INTEGER PRIMARY KEY,
    contact_id        INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    status            TEXT NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'pending', 'snoozed', 'resolved')),
    snoozed_until     INTEGER,
    assignee_id       TEXT,                     -- the relay's member id
    last_inbound_at   INTEGER,                  -- opens the 24-hour customer-service window
    last_activity_at  INTEGER NOT NULL,
    unread_count      INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL
) STRICT;

CREATE INDEX conversations_by_activity ON conversations (last_activity_at DESC, id DESC);
CREATE INDEX conversations_by_contact ON conversations (contact_id);

-- One message in a conversation, inbound or outbound.
CREATE TABLE messages (
    id                INTEGER PRIMARY KEY,
    conversation_id   INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    external_id       TEXT UNIQUE,              -- wamid or mid; NULL until Meta accepted an outgoing one
    client_id         TEXT UNIQUE,              -- the id a device gave an outgoing message
    direction         TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    kind              TEXT NOT NULL,            -- text, image, audio, ..., unsupported
    body              TEXT,
    sent_at           INTEGER NOT NULL,
    delivery_status   TEXT CHECK (delivery_status IN ('pending', 'sent', 'delivered', 'read', 'played', 'failed')),
    error_code        INTEGER,
    error_message     TEXT,
    raw               TEXT                      -- Meta's JSON for this item, kept for types we do not render
) STRICT;

CREATE INDEX messages_by_conversation ON messages (conversation_id, sent_at DESC, id DESC);

-- How far this device has applied the relay's event log, one row per relay workspace.
CREATE TABLE sync_cursors (
    workspace_id  TEXT PRIMARY KEY,
    applied_seq   INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL
) STRICT;
