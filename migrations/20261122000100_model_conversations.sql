-- The full conversation model: contact details, one active conversation per contact, message
-- details (quotes, media, edits, deletions), statuses that arrive before their message,
-- reactions, notes, labels, the outbox, and full-text search.
-- Never edit this file once released; add a new migration instead.

ALTER TABLE contacts ADD COLUMN parent_user_id TEXT;
ALTER TABLE contacts ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';   -- JSON object of custom attributes
ALTER TABLE contacts ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0;   -- kept, but no processing beyond storage
ALTER TABLE contacts ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;

ALTER TABLE conversations ADD COLUMN last_message_preview TEXT NOT NULL DEFAULT '';
ALTER TABLE conversations ADD COLUMN last_read_at INTEGER;              -- the customer read up to here (Messenger watermark)

-- Many messages from one customer at the same moment (an album) make one conversation.
CREATE UNIQUE INDEX conversations_one_active_per_contact ON conversations (contact_id) WHERE status <> 'resolved';

ALTER TABLE messages ADD COLUMN author_member_id TEXT;                   -- who sent an outbound message (the relay's member id)
ALTER TABLE messages ADD COLUMN quoted_external_id TEXT;                 -- the message it replies to
ALTER TABLE messages ADD COLUMN caption TEXT;
ALTER TABLE messages ADD COLUMN file_name TEXT;
ALTER TABLE messages ADD COLUMN media_id TEXT;                           -- Meta's media id (WhatsApp)
ALTER TABLE messages ADD COLUMN media_url TEXT;                          -- Meta's URL (Instagram: the only copy we keep)
ALTER TABLE messages ADD COLUMN media_mime TEXT;
ALTER TABLE messages ADD COLUMN media_sha256 TEXT;                       -- as Meta gave it
ALTER TABLE messages ADD COLUMN media_path TEXT;                         -- local content-addressed copy, once downloaded
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
ALTER TABLE messages ADD COLUMN status_at INTEGER;

CREATE INDEX messages_by_quote ON messages (quoted_external_id) WHERE quoted_external_id IS NOT NULL;

-- Statuses of outgoing messages whose message row does not exist yet (the status webhook can
-- overtake the team event of the device that sent it). Applied when the message arrives.
CREATE TABLE pending_statuses (
    external_id    TEXT PRIMARY KEY,
    status         TEXT NOT NULL,
    error_code     INTEGER,
    error_message  TEXT,
    at             INTEGER NOT NULL
) STRICT;

-- Reactions, keyed by the reacted-to message's external id (a reaction may arrive first).
CREATE TABLE reactions (
    message_external_id  TEXT NOT NULL,
    reactor              TEXT NOT NULL,      -- 'customer' or a member id
    emoji                TEXT NOT NULL,
    at                   INTEGER NOT NULL,
    PRIMARY KEY (message_external_id, reactor)
) STRICT;

CREATE TABLE notes (
    id               TEXT PRIMARY KEY,       -- client-made id, shared by every device
    conversation_id  INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    author_member_id TEXT NOT NULL,
    body             TEXT NOT NULL,
    created_at       INTEGER NOT NULL
) STRICT;

CREATE TABLE labels (
    id     INTEGER PRIMARY KEY,
    name   TEXT NOT NULL UNIQUE COLLATE NOCASE,
    color  TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE conversation_labels (
    conversation_id  INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    label_id         INTEGER NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    PRIMARY KEY (conversation_id, label_id)
) STRICT;

CREATE TABLE contact_labels (
    contact_id  INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    label_id    INTEGER NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    PRIMARY KEY (contact_id, label_id)
) STRICT;

-- Replies written on this device, before and while they are sent.
CREATE TABLE outbox (
    client_id        TEXT PRIMARY KEY,
    conversation_id  INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    actor_member_id  TEXT NOT NULL,          -- who asked for the send (privacy promise P2)
    payload          TEXT NOT NULL,          -- JSON: what to send
    state            TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'accepted', 'failed', 'ambiguous')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    created_at       INTEGER NOT NULL
) STRICT;

CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state IN ('queued', 'sending');

-- Full-text search over message text, captions, file names, and contact names, phones and
-- usernames. Rows point back by kind and id.
CREATE VIRTUAL TABLE search_index USING fts5 (
    text,
    kind UNINDEXED,              -- 'message' or 'contact'
    ref_id UNINDEXED,            -- messages.id or contacts.id
    conversation_id UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
);
