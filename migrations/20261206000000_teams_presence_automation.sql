-- Teams, presence and the automation (issue 22): the team a conversation is routed to
-- (`team.routed` events), the workspace's automation setup as its latest `workspace.automation`
-- event carried it, members' presence from `workspace.presence` events, and what the first-response
-- target (SLA) runs from: when a person last wrote to the customer, and the customer's first
-- message since (automated messages, authored `automation:<rule>`, are not a person's reply).
-- A conversation's activity gains the kind `routed` (detail: the team).
-- Never edit this file once released; add a new migration instead.

ALTER TABLE conversations ADD COLUMN team_id TEXT;                 -- the team's id in the setup; NULL: no team
ALTER TABLE conversations ADD COLUMN last_reply_at INTEGER;        -- a person's latest message to the customer
ALTER TABLE conversations ADD COLUMN awaiting_since INTEGER;       -- the customer's first message after it; NULL: answered

-- Breaches to notify: open conversations of a team waiting for a first response, by when they wait from.
CREATE INDEX conversations_awaiting ON conversations (team_id, awaiting_since)
    WHERE status = 'open' AND awaiting_since IS NOT NULL;

-- The workspace's automation setup (one row): the latest `workspace.automation` event's.
CREATE TABLE automation_setup (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    version   INTEGER NOT NULL,
    setup     TEXT NOT NULL,                 -- JSON: zentro_automation::Setup
    saved_at  INTEGER NOT NULL,
    saved_by  TEXT NOT NULL                  -- member id
) STRICT;

-- Each member's effective presence, from `workspace.presence` events.
CREATE TABLE presence (
    member_id   TEXT PRIMARY KEY,
    presence    TEXT NOT NULL CHECK (presence IN ('available', 'away', 'offline')),
    changed_at  INTEGER NOT NULL
) STRICT;

-- The same trigger as before (activity, preview, unread count, reply window, reopening), which
-- also keeps `last_reply_at` and `awaiting_since`: a customer's message after the last reply
-- starts the wait if none runs; a person's message (not the automation's) ends the wait it
-- answers, and a later customer message (older messages may arrive late) starts the next one.
DROP TRIGGER messages_touch_conversation;

CREATE TRIGGER messages_touch_conversation AFTER INSERT ON messages
BEGIN
    UPDATE conversations SET
        last_activity_at = max(last_activity_at, new.sent_at),
        last_message_preview = CASE WHEN new.sent_at >= last_activity_at
            THEN substr(coalesce(new.body, new.caption, new.file_name, '[' || new.kind || ']'), 1, 140)
            ELSE last_message_preview END,
        unread_count = unread_count + (new.direction = 'inbound'),
        last_inbound_at = CASE WHEN new.direction = 'inbound' THEN max(coalesce(last_inbound_at, 0), new.sent_at) ELSE last_inbound_at END,
        status = CASE WHEN new.direction = 'inbound' THEN 'open' ELSE status END,
        snoozed_until = CASE WHEN new.direction = 'inbound' THEN NULL ELSE snoozed_until END,
        awaiting_since = CASE
            WHEN new.direction = 'inbound' THEN
                CASE WHEN new.sent_at > coalesce(last_reply_at, -1)
                     THEN min(coalesce(awaiting_since, new.sent_at), new.sent_at)
                     ELSE awaiting_since END
            WHEN substr(coalesce(new.author_member_id, ''), 1, 11) = 'automation:' THEN awaiting_since
            WHEN awaiting_since IS NULL OR awaiting_since > new.sent_at THEN awaiting_since
            ELSE (SELECT min(m.sent_at) FROM messages m
                  WHERE m.conversation_id = new.conversation_id AND m.direction = 'inbound' AND m.sent_at > new.sent_at)
        END,
        last_reply_at = CASE
            WHEN new.direction = 'outbound' AND substr(coalesce(new.author_member_id, ''), 1, 11) <> 'automation:'
            THEN max(coalesce(last_reply_at, new.sent_at), new.sent_at)
            ELSE last_reply_at END
    WHERE id = new.conversation_id;
END;

-- Meta's echo of an automated message may be stored before the relay's `message.sent` names its
-- rule: once it does, the echo was no person's reply, and the wait is worked out again.
CREATE TRIGGER messages_automated_author AFTER UPDATE OF author_member_id ON messages
WHEN new.direction = 'outbound'
 AND substr(coalesce(new.author_member_id, ''), 1, 11) = 'automation:'
 AND substr(coalesce(old.author_member_id, ''), 1, 11) <> 'automation:'
BEGIN
    UPDATE conversations SET last_reply_at = (
        SELECT max(m.sent_at) FROM messages m
        WHERE m.conversation_id = new.conversation_id AND m.direction = 'outbound'
          AND substr(coalesce(m.author_member_id, ''), 1, 11) <> 'automation:')
    WHERE id = new.conversation_id;
    UPDATE conversations SET awaiting_since = (
        SELECT min(m.sent_at) FROM messages m
        WHERE m.conversation_id = new.conversation_id AND m.direction = 'inbound'
          AND m.sent_at > coalesce(conversations.last_reply_at, -1))
    WHERE id = new.conversation_id;
END;

-- Conversations already in the cache.
UPDATE conversations SET last_reply_at = (
    SELECT max(m.sent_at) FROM messages m
    WHERE m.conversation_id = conversations.id AND m.direction = 'outbound'
      AND substr(coalesce(m.author_member_id, ''), 1, 11) <> 'automation:');
UPDATE conversations SET awaiting_since = (
    SELECT min(m.sent_at) FROM messages m
    WHERE m.conversation_id = conversations.id AND m.direction = 'inbound'
      AND m.sent_at > coalesce(conversations.last_reply_at, -1));
