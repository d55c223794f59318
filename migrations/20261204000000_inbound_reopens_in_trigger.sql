-- A customer writing again reopens a resolved, pending or snoozed conversation: done by the trigger
-- that already updates the conversation for every new message, instead of by a second statement
-- over the batch's conversations (one less pass per synced batch).
-- Never edit this file once released; add a new migration instead.

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
        snoozed_until = CASE WHEN new.direction = 'inbound' THEN NULL ELSE snoozed_until END
    WHERE id = new.conversation_id;
END;
