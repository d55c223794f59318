-- Team events (assignment, status, notes, labels, contact edits) and their offline queue,
-- downloaded media, and triggers that keep the search index and each conversation's summary in
-- step with its messages, so applying a batch is a handful of statements.
-- Never edit this file once released; add a new migration instead.

-- What teammates did in a conversation, in the relay's order: shown in the conversation's timeline.
CREATE TABLE conversation_activity (
    id               INTEGER PRIMARY KEY,
    conversation_id  INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,       -- the relay event that did it
    kind             TEXT NOT NULL,          -- assigned, status, labeled, unlabeled
    actor_member_id  TEXT NOT NULL,
    detail           TEXT NOT NULL,          -- JSON: the new assignee, status, label
    at               INTEGER NOT NULL,
    UNIQUE (seq, conversation_id)
) STRICT;

CREATE INDEX conversation_activity_by_conversation ON conversation_activity (conversation_id, at);

ALTER TABLE notes ADD COLUMN mentions TEXT NOT NULL DEFAULT '[]';   -- JSON array of member ids
CREATE INDEX notes_by_conversation ON notes (conversation_id, created_at);

-- Team events written on this device and not yet accepted by the relay (offline, or the relay was
-- unreachable). Published in order, each with its own idempotency key, so a retry never doubles.
CREATE TABLE team_outbox (
    idempotency_key  TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT
) STRICT;

-- WhatsApp media still to download (or that failed and waits for a retry). The file, once
-- verified, is stored content-addressed and its path written to messages.media_path.
CREATE TABLE media_downloads (
    message_id       INTEGER PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT
) STRICT;

CREATE INDEX media_downloads_due ON media_downloads (next_attempt_at);

-- Search rows follow their messages and contacts. Rowids: message id for messages, minus the
-- contact id for contacts, so replacing or removing one is a key lookup.
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages
WHEN new.deleted_at IS NULL AND trim(coalesce(new.body, '') || coalesce(new.caption, '') || coalesce(new.file_name, '')) <> ''
BEGIN
    INSERT INTO search_index (rowid, text, kind, ref_id, conversation_id)
    VALUES (new.id, trim(coalesce(new.body, '') || ' ' || coalesce(new.caption, '') || ' ' || coalesce(new.file_name, '')),
            'message', new.id, new.conversation_id);
END;

CREATE TRIGGER messages_search_update AFTER UPDATE OF body, caption, file_name, deleted_at ON messages
BEGIN
    DELETE FROM search_index WHERE rowid = old.id;
    INSERT INTO search_index (rowid, text, kind, ref_id, conversation_id)
    SELECT new.id, trim(coalesce(new.body, '') || ' ' || coalesce(new.caption, '') || ' ' || coalesce(new.file_name, '')),
           'message', new.id, new.conversation_id
    WHERE new.deleted_at IS NULL AND trim(coalesce(new.body, '') || coalesce(new.caption, '') || coalesce(new.file_name, '')) <> '';
END;

CREATE TRIGGER messages_search_delete AFTER DELETE ON messages
BEGIN
    DELETE FROM search_index WHERE rowid = old.id;
END;

CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts
WHEN trim(new.display_name || ' ' || coalesce(new.phone, '') || ' ' || coalesce(new.username, '') || ' ' || coalesce(new.email, '')) <> ''
BEGIN
    INSERT INTO search_index (rowid, text, kind, ref_id, conversation_id)
    VALUES (-new.id, trim(new.display_name || ' ' || coalesce(new.phone, '') || ' ' || coalesce(new.username, '') || ' ' || coalesce(new.email, '')),
            'contact', new.id, NULL);
END;

CREATE TRIGGER contacts_search_update AFTER UPDATE OF display_name, phone, username, email ON contacts
WHEN new.display_name IS NOT old.display_name OR new.phone IS NOT old.phone
  OR new.username IS NOT old.username OR new.email IS NOT old.email
BEGIN
    DELETE FROM search_index WHERE rowid = -old.id;
    INSERT INTO search_index (rowid, text, kind, ref_id, conversation_id)
    SELECT -new.id, trim(new.display_name || ' ' || coalesce(new.phone, '') || ' ' || coalesce(new.username, '') || ' ' || coalesce(new.email, '')),
           'contact', new.id, NULL
    WHERE trim(new.display_name || ' ' || coalesce(new.phone, '') || ' ' || coalesce(new.username, '') || ' ' || coalesce(new.email, '')) <> '';
END;

CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts
BEGIN
    DELETE FROM search_index WHERE rowid = -old.id;
END;

-- A new message moves its conversation: activity time, preview, unread count and the customer's
-- last message (which opens the 24-hour window).
CREATE TRIGGER messages_touch_conversation AFTER INSERT ON messages
BEGIN
    UPDATE conversations SET
        last_activity_at = max(last_activity_at, new.sent_at),
        last_message_preview = CASE WHEN new.sent_at >= last_activity_at
            THEN substr(coalesce(new.body, new.caption, new.file_name, '[' || new.kind || ']'), 1, 140)
            ELSE last_message_preview END,
        unread_count = unread_count + (new.direction = 'inbound'),
        last_inbound_at = CASE WHEN new.direction = 'inbound' THEN max(coalesce(last_inbound_at, 0), new.sent_at) ELSE last_inbound_at END
    WHERE id = new.conversation_id;
END;
