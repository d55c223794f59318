-- The satisfaction survey (CSAT, issue 23): the customers' ratings from `team.rated` events (only
-- the relay's automation writes them, authored `automation:csat`), and the survey's answers no
-- longer reopening the conversation they rate.
--
-- A rating belongs to its conversation until the conversation expires (P12): then it keeps its
-- number, channel, team, agent and times, and loses its comment and the link (the retention pass
-- does that before deleting the conversation). An erasure (P14) deletes the customer's
-- conversations and, with them, their ratings (ON DELETE CASCADE).
-- A conversation's activity gains the kind `rated` (detail: the rating).
-- Never edit this file once released; add a new migration instead.

CREATE TABLE ratings (
    id               INTEGER PRIMARY KEY,
    conversation_id  INTEGER REFERENCES conversations (id) ON DELETE CASCADE, -- NULL once it expired
    channel_kind     TEXT NOT NULL,           -- whatsapp, messenger, instagram
    team_id          TEXT,                    -- the conversation's team when it was resolved
    member_id        TEXT,                    -- its assignee when it was resolved
    rating           INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment          TEXT,                    -- what the customer added; NULL once it expired
    resolved_at      INTEGER NOT NULL,        -- names the survey, with the conversation
    at               INTEGER NOT NULL,        -- when the customer rated (Meta's time)
    seq              INTEGER NOT NULL,        -- the latest `team.rated` event that wrote it
    UNIQUE (conversation_id, resolved_at)
) STRICT;

CREATE INDEX ratings_by_time ON ratings (at);

-- A survey's answer, as the relay's automation recognises it (crates/automation/src/csat.rs): a
-- customer's message into a resolved conversation whose previous message (stored just before it,
-- that is before it in the log, as the automation reads it: Meta's times are whole seconds and
-- may fall before the survey's) is the survey's question (`automation:csat`, at most a day
-- before) and that is a tapped choice starting with its digit or a typed digit 1 to 5; or, after
-- the comment question (`automation:csat_comment`, at most an hour before), any text. Such a message is stored and shown, and moves the reply
-- window, but does not reopen the conversation, count as unread or start a wait for a reply.
DROP TRIGGER messages_touch_conversation;

CREATE TRIGGER messages_touch_conversation AFTER INSERT ON messages
WHEN new.direction <> 'inbound' OR NOT (
    (SELECT status FROM conversations WHERE id = new.conversation_id) = 'resolved'
    AND coalesce((
        SELECT CASE
            WHEN m.direction <> 'outbound' THEN 0
            WHEN m.author_member_id = 'automation:csat' THEN
                new.sent_at <= m.sent_at + 86400000
                AND CASE WHEN new.kind IN ('interactive_reply', 'button_reply')
                         THEN substr(ltrim(coalesce(new.body, '')), 1, 1) IN ('1', '2', '3', '4', '5')
                         WHEN new.kind IN ('location', 'contacts', 'order', 'system') THEN 0
                         ELSE trim(coalesce(new.body, ''), ' ' || char(9) || char(10) || char(13))
                              IN ('1', '2', '3', '4', '5') END
            WHEN m.author_member_id = 'automation:csat_comment' THEN
                new.sent_at <= m.sent_at + 3600000
                AND new.kind NOT IN ('interactive_reply', 'button_reply', 'location', 'contacts', 'order', 'system')
                AND trim(coalesce(new.body, ''), ' ' || char(9) || char(10) || char(13)) <> ''
            ELSE 0 END
        FROM messages m
        WHERE m.conversation_id = new.conversation_id AND +m.id < new.id
        ORDER BY m.id DESC LIMIT 1), 0))
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

-- The survey's answer: the conversation shows it as its latest message and the reply window moves;
-- nothing else changes.
CREATE TRIGGER messages_survey_answer AFTER INSERT ON messages
WHEN new.direction = 'inbound'
 AND (SELECT status FROM conversations WHERE id = new.conversation_id) = 'resolved'
 AND coalesce((
        SELECT CASE
            WHEN m.direction <> 'outbound' THEN 0
            WHEN m.author_member_id = 'automation:csat' THEN
                new.sent_at <= m.sent_at + 86400000
                AND CASE WHEN new.kind IN ('interactive_reply', 'button_reply')
                         THEN substr(ltrim(coalesce(new.body, '')), 1, 1) IN ('1', '2', '3', '4', '5')
                         WHEN new.kind IN ('location', 'contacts', 'order', 'system') THEN 0
                         ELSE trim(coalesce(new.body, ''), ' ' || char(9) || char(10) || char(13))
                              IN ('1', '2', '3', '4', '5') END
            WHEN m.author_member_id = 'automation:csat_comment' THEN
                new.sent_at <= m.sent_at + 3600000
                AND new.kind NOT IN ('interactive_reply', 'button_reply', 'location', 'contacts', 'order', 'system')
                AND trim(coalesce(new.body, ''), ' ' || char(9) || char(10) || char(13)) <> ''
            ELSE 0 END
        FROM messages m
        WHERE m.conversation_id = new.conversation_id AND +m.id < new.id
        ORDER BY m.id DESC LIMIT 1), 0)
BEGIN
    UPDATE conversations SET
        last_activity_at = max(last_activity_at, new.sent_at),
        last_message_preview = CASE WHEN new.sent_at >= last_activity_at
            THEN substr(coalesce(new.body, new.caption, new.file_name, '[' || new.kind || ']'), 1, 140)
            ELSE last_message_preview END,
        last_inbound_at = max(coalesce(last_inbound_at, 0), new.sent_at)
    WHERE id = new.conversation_id;
END;
