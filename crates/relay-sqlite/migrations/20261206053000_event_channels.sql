-- Per-channel access where data flows (issue 19, item 2): every event that concerns a channel
-- names it, so a member who may not use that channel is never sent it. Meta's webhooks: the
-- channel they are routed to (WhatsApp: the phone number; Messenger: the Page; Instagram: the
-- account; account-level WhatsApp events name none). Devices' events (team.*, message.sent): the
-- channel of the conversation or contact they name (a link between two contacts: the first's).
-- Workspace-wide events (members, channels, workspace.*, contact.erased, canned replies) name
-- none and go to everyone. A trigger fills the column whoever appends (the sequencer, the CLI).

ALTER TABLE events ADD COLUMN channel_id TEXT;

CREATE TRIGGER events_channel AFTER INSERT ON events
WHEN NEW.channel_id IS NULL AND json_valid(NEW.payload)
     AND (NEW.kind = 'meta.webhook' OR NEW.kind = 'message.sent' OR NEW.kind LIKE 'team.%')
BEGIN
    UPDATE events SET channel_id = (
        SELECT c.id FROM channels c
        WHERE c.workspace_id = NEW.workspace_id
          AND c.kind = CASE
              WHEN NEW.kind = 'meta.webhook' THEN
                  CASE json_extract(NEW.payload, '$.object')
                      WHEN 'whatsapp_business_account' THEN 'whatsapp'
                      WHEN 'page' THEN 'messenger'
                      WHEN 'instagram' THEN 'instagram' END
              ELSE coalesce(json_extract(NEW.payload, '$.channel_kind'),
                            json_extract(NEW.payload, '$.conversation.channel_kind'),
                            json_extract(NEW.payload, '$.contact.channel_kind')) END
          AND c.external_id = CAST(CASE
              WHEN NEW.kind = 'meta.webhook' THEN
                  CASE json_extract(NEW.payload, '$.object')
                      WHEN 'whatsapp_business_account'
                          THEN json_extract(NEW.payload, '$.entry[0].changes[0].value.metadata.phone_number_id')
                      ELSE json_extract(NEW.payload, '$.entry[0].id') END
              ELSE coalesce(json_extract(NEW.payload, '$.channel_external_id'),
                            json_extract(NEW.payload, '$.conversation.channel_external_id'),
                            json_extract(NEW.payload, '$.contact.channel_external_id')) END AS TEXT)
        LIMIT 1)
    WHERE workspace_id = NEW.workspace_id AND seq = NEW.seq;
END;

-- What the log already holds.
UPDATE events SET channel_id = (
    SELECT c.id FROM channels c
    WHERE c.workspace_id = events.workspace_id
      AND c.kind = CASE
          WHEN events.kind = 'meta.webhook' THEN
              CASE json_extract(events.payload, '$.object')
                  WHEN 'whatsapp_business_account' THEN 'whatsapp'
                  WHEN 'page' THEN 'messenger'
                  WHEN 'instagram' THEN 'instagram' END
          ELSE coalesce(json_extract(events.payload, '$.channel_kind'),
                        json_extract(events.payload, '$.conversation.channel_kind'),
                        json_extract(events.payload, '$.contact.channel_kind')) END
      AND c.external_id = CAST(CASE
          WHEN events.kind = 'meta.webhook' THEN
              CASE json_extract(events.payload, '$.object')
                  WHEN 'whatsapp_business_account'
                      THEN json_extract(events.payload, '$.entry[0].changes[0].value.metadata.phone_number_id')
                  ELSE json_extract(events.payload, '$.entry[0].id') END
          ELSE coalesce(json_extract(events.payload, '$.channel_external_id'),
                        json_extract(events.payload, '$.conversation.channel_external_id'),
                        json_extract(events.payload, '$.contact.channel_external_id')) END AS TEXT)
    LIMIT 1)
WHERE json_valid(payload)
  AND (kind = 'meta.webhook' OR kind = 'message.sent' OR kind LIKE 'team.%');

CREATE INDEX events_by_channel ON events (workspace_id, channel_id, seq) WHERE channel_id IS NOT NULL;
