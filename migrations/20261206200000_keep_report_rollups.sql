-- Reports (issue 23): content-free rollups that every report reads, kept by triggers while the
-- log is applied. They depend only on the order in which messages and team events reach the cache
-- (the log's order, whatever the batch sizes), so two desks that applied the same log hold the
-- same rollups. Retention deletes conversations, not their rollups (privacy promise P12): an
-- expired conversation's openings only lose the conversation's id. An erasure (P14) deletes the
-- customer's openings and their counts (`zentro_core::reports::rollups::forget_contact`).
-- Definitions: docs/reports.md.
-- Never edit this file once released; add a new migration instead.

-- One row per opening of a conversation: from the customer's message that starts it (or reopens
-- it after a resolution), a member's reopening, or the business's first message, to its
-- resolution. No content and no customer identifier: only the cache's conversation id, NULL
-- once retention deleted the conversation.
CREATE TABLE report_episodes (
    id                 INTEGER PRIMARY KEY,
    conversation_id    INTEGER,              -- NULL once the conversation expired
    channel_kind       TEXT NOT NULL,
    team_id            TEXT,                 -- the conversation's team during the opening (the latest)
    assignee_id        TEXT,                 -- its assignee during the opening (the latest)
    opened_by          TEXT NOT NULL CHECK (opened_by IN ('customer', 'member', 'business')),
    reopened           INTEGER NOT NULL DEFAULT 0,   -- a resolved conversation opened again
    opened_at          INTEGER NOT NULL,
    first_inbound_at   INTEGER,              -- the customer's first message of the opening
    first_response_at  INTEGER,              -- a person's first reply at or after it
    first_response_by  TEXT,                 -- who wrote it (NULL: a person the log did not name)
    resolved_at        INTEGER,
    resolved_by        TEXT
) STRICT;

CREATE INDEX report_episodes_by_conversation ON report_episodes (conversation_id)
    WHERE conversation_id IS NOT NULL;
CREATE INDEX report_episodes_by_opening ON report_episodes (opened_at);
CREATE INDEX report_episodes_by_first_inbound ON report_episodes (first_inbound_at)
    WHERE first_inbound_at IS NOT NULL;
CREATE INDEX report_episodes_by_first_response ON report_episodes (first_response_at)
    WHERE first_response_at IS NOT NULL;
CREATE INDEX report_episodes_by_resolution ON report_episodes (resolved_at)
    WHERE resolved_at IS NOT NULL;

-- Messages and assignments counted per UTC quarter-hour (`time_ms / 900000`: every time zone's
-- day and hour boundaries fall on one) and opening. Measures: `received` (customers' messages),
-- `sent` (people's messages; `member_id` the author, '' when the log did not name one),
-- `automated` (the automation's messages: not sent by a person), `assigned` (`member_id` the
-- assignee).
CREATE TABLE report_counts (
    bucket        INTEGER NOT NULL,
    episode_id    INTEGER NOT NULL,
    measure       TEXT NOT NULL CHECK (measure IN ('received', 'sent', 'automated', 'assigned')),
    member_id     TEXT NOT NULL DEFAULT '',
    channel_kind  TEXT NOT NULL,
    count         INTEGER NOT NULL,
    PRIMARY KEY (bucket, episode_id, measure, member_id)
) STRICT, WITHOUT ROWID;

-- A message counts once Meta has it (an external id): on arrival, or, for a reply this desk
-- queued, when Meta accepted it. (Whether it starts an opening is asked first, on its own: most
-- messages do not, and then the conversation's channel is never looked up.) It opens an opening when its conversation has none, or when the
-- customer writes to a resolved one (except to answer the satisfaction survey: docs/reports.md,
-- "Satisfaction (CSAT)"); a customer's earlier first message moves the opening's
-- first response; a person's reply may be the first response of the opening it answers.
CREATE TRIGGER report_message_counted AFTER INSERT ON messages
WHEN new.external_id IS NOT NULL
BEGIN
    INSERT INTO report_episodes (conversation_id, channel_kind, team_id, assignee_id, opened_by, reopened, opened_at)
    SELECT c.id, ch.kind, c.team_id, c.assignee_id,
           CASE WHEN new.direction = 'inbound' THEN 'customer' ELSE 'business' END,
           EXISTS (SELECT 1 FROM report_episodes WHERE conversation_id = new.conversation_id), new.sent_at
    FROM conversations c
    JOIN contacts k ON k.id = c.contact_id
    JOIN channels ch ON ch.id = k.channel_id
    WHERE c.id = new.conversation_id
      AND NOT EXISTS (
          SELECT 1 FROM report_episodes e
          WHERE e.id = (SELECT max(id) FROM report_episodes WHERE conversation_id = new.conversation_id)
            AND (new.direction <> 'inbound' OR e.resolved_at IS NULL
                 -- The satisfaction survey's answer (the rule of `messages_survey_answer`,
                 -- migration 20261206210000_csat_ratings.sql) reopens nothing.
                 OR ((SELECT status FROM conversations WHERE id = new.conversation_id) = 'resolved'
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
                         ORDER BY m.id DESC LIMIT 1), 0))));

    -- A survey's answer is counted `received` under the opening it rates (the latest, resolved).
    INSERT INTO report_counts (bucket, episode_id, measure, member_id, channel_kind, count)
    SELECT new.sent_at / 900000, e.id,
           CASE WHEN new.direction = 'inbound' THEN 'received'
                WHEN substr(coalesce(new.author_member_id, ''), 1, 11) = 'automation:' THEN 'automated'
                ELSE 'sent' END,
           CASE WHEN new.direction = 'outbound'
                 AND substr(coalesce(new.author_member_id, ''), 1, 11) <> 'automation:'
                THEN coalesce(new.author_member_id, '') ELSE '' END,
           e.channel_kind, 1
    FROM report_episodes e
    WHERE e.id = (SELECT max(id) FROM report_episodes WHERE conversation_id = new.conversation_id)
    ON CONFLICT (bucket, episode_id, measure, member_id) DO UPDATE SET count = count + 1;

    UPDATE report_episodes SET
        opened_at = CASE WHEN opened_by = 'customer' THEN min(opened_at, new.sent_at) ELSE opened_at END,
        first_inbound_at = new.sent_at,
        first_response_at = (
            SELECT min(m.sent_at) FROM messages m
            WHERE m.conversation_id = new.conversation_id AND m.direction = 'outbound'
              AND m.external_id IS NOT NULL
              AND substr(coalesce(m.author_member_id, ''), 1, 11) <> 'automation:'
              AND m.sent_at >= new.sent_at
              AND (report_episodes.resolved_at IS NULL OR m.sent_at <= report_episodes.resolved_at)),
        first_response_by = (
            SELECT m.author_member_id FROM messages m
            WHERE m.conversation_id = new.conversation_id AND m.direction = 'outbound'
              AND m.external_id IS NOT NULL
              AND substr(coalesce(m.author_member_id, ''), 1, 11) <> 'automation:'
              AND m.sent_at >= new.sent_at
              AND (report_episodes.resolved_at IS NULL OR m.sent_at <= report_episodes.resolved_at)
            ORDER BY m.sent_at, m.id LIMIT 1)
    WHERE new.direction = 'inbound'
      AND id = (SELECT max(id) FROM report_episodes WHERE conversation_id = new.conversation_id)
      AND (first_inbound_at IS NULL OR new.sent_at < first_inbound_at);

    UPDATE report_episodes SET first_response_at = new.sent_at, first_response_by = new.author_member_id
    WHERE new.direction = 'outbound'
      AND substr(coalesce(new.author_member_id, ''), 1, 11) <> 'automation:'
      AND conversation_id = new.conversation_id
      AND first_inbound_at <= new.sent_at
      AND (resolved_at IS NULL OR new.sent_at <= resolved_at)
      AND (first_response_at IS NULL OR new.sent_at < first_response_at);
END;

-- The same, for a reply this desk queued, when Meta accepts it (other desks receive it with its
-- id already).
CREATE TRIGGER report_message_accepted AFTER UPDATE OF external_id ON messages
WHEN old.external_id IS NULL AND new.external_id IS NOT NULL
BEGIN
    INSERT INTO report_episodes (conversation_id, channel_kind, team_id, assignee_id, opened_by, reopened, opened_at)
    SELECT c.id, ch.kind, c.team_id, c.assignee_id,
           CASE WHEN new.direction = 'inbound' THEN 'customer' ELSE 'business' END,
           EXISTS (SELECT 1 FROM report_episodes WHERE conversation_id = new.conversation_id), new.sent_at
    FROM conversations c
    JOIN contacts k ON k.id = c.contact_id
    JOIN channels ch ON ch.id = k.channel_id
    WHERE c.id = new.conversation_id
      AND NOT EXISTS (
          SELECT 1 FROM report_episodes e
          WHERE e.id = (SELECT max(id) FROM report_episodes WHERE conversation_id = new.conversation_id)
            AND (new.direction <> 'inbound' OR e.resolved_at IS NULL));

    INSERT INTO report_counts (bucket, episode_id, measure, member_id, channel_kind, count)
    SELECT new.sent_at / 900000, e.id,
           CASE WHEN new.direction = 'inbound' THEN 'received'
                WHEN substr(coalesce(new.author_member_id, ''), 1, 11) = 'automation:' THEN 'automated'
                ELSE 'sent' END,
           CASE WHEN new.direction = 'outbound'
                 AND substr(coalesce(new.author_member_id, ''), 1, 11) <> 'automation:'
                THEN coalesce(new.author_member_id, '') ELSE '' END,
           e.channel_kind, 1
    FROM report_episodes e
    WHERE e.id = (SELECT max(id) FROM report_episodes WHERE conversation_id = new.conversation_id)
    ON CONFLICT (bucket, episode_id, measure, member_id) DO UPDATE SET count = count + 1;

    UPDATE report_episodes SET first_response_at = new.sent_at, first_response_by = new.author_member_id
    WHERE new.direction = 'outbound'
      AND substr(coalesce(new.author_member_id, ''), 1, 11) <> 'automation:'
      AND conversation_id = new.conversation_id
      AND first_inbound_at <= new.sent_at
      AND (resolved_at IS NULL OR new.sent_at <= resolved_at)
      AND (first_response_at IS NULL OR new.sent_at < first_response_at);
END;

-- A reply stored before the log named its author (Meta's echo came first) learns it: its count
-- moves to the author (or to `automated` for the automation), and a first response it gave is
-- credited to them, or, for the automation, worked out again without it.
CREATE TRIGGER report_message_author AFTER UPDATE OF author_member_id ON messages
WHEN new.direction = 'outbound' AND new.external_id IS NOT NULL
 AND old.external_id IS NOT NULL
 AND old.author_member_id IS NOT new.author_member_id
BEGIN
    INSERT INTO report_counts (bucket, episode_id, measure, member_id, channel_kind, count)
    SELECT new.sent_at / 900000, e.id,
           CASE WHEN substr(coalesce(new.author_member_id, ''), 1, 11) = 'automation:' THEN 'automated' ELSE 'sent' END,
           CASE WHEN substr(coalesce(new.author_member_id, ''), 1, 11) = 'automation:' THEN '' ELSE coalesce(new.author_member_id, '') END,
           e.channel_kind, 1
    FROM report_episodes e
    WHERE e.id = (
        SELECT max(r.episode_id) FROM report_counts r JOIN report_episodes x ON x.id = r.episode_id
        WHERE r.bucket = new.sent_at / 900000 AND x.conversation_id = new.conversation_id AND r.count > 0
          AND r.measure = CASE WHEN substr(coalesce(old.author_member_id, ''), 1, 11) = 'automation:' THEN 'automated' ELSE 'sent' END
          AND r.member_id = CASE WHEN substr(coalesce(old.author_member_id, ''), 1, 11) = 'automation:' THEN '' ELSE coalesce(old.author_member_id, '') END)
    ON CONFLICT (bucket, episode_id, measure, member_id) DO UPDATE SET count = count + 1;

    UPDATE report_counts SET count = count - 1
    WHERE bucket = new.sent_at / 900000
      AND measure = CASE WHEN substr(coalesce(old.author_member_id, ''), 1, 11) = 'automation:' THEN 'automated' ELSE 'sent' END
      AND member_id = CASE WHEN substr(coalesce(old.author_member_id, ''), 1, 11) = 'automation:' THEN '' ELSE coalesce(old.author_member_id, '') END
      AND episode_id = (
        SELECT max(r.episode_id) FROM report_counts r JOIN report_episodes x ON x.id = r.episode_id
        WHERE r.bucket = new.sent_at / 900000 AND x.conversation_id = new.conversation_id AND r.count > 0
          AND r.measure = CASE WHEN substr(coalesce(old.author_member_id, ''), 1, 11) = 'automation:' THEN 'automated' ELSE 'sent' END
          AND r.member_id = CASE WHEN substr(coalesce(old.author_member_id, ''), 1, 11) = 'automation:' THEN '' ELSE coalesce(old.author_member_id, '') END);

    UPDATE report_episodes SET first_response_by = new.author_member_id
    WHERE substr(coalesce(new.author_member_id, ''), 1, 11) <> 'automation:'
      AND conversation_id = new.conversation_id AND first_response_at = new.sent_at
      AND first_response_by IS old.author_member_id;

    UPDATE report_episodes SET
        first_response_at = (
            SELECT min(m.sent_at) FROM messages m
            WHERE m.conversation_id = new.conversation_id AND m.direction = 'outbound'
              AND m.external_id IS NOT NULL
              AND substr(coalesce(m.author_member_id, ''), 1, 11) <> 'automation:'
              AND m.sent_at >= report_episodes.first_inbound_at
              AND (report_episodes.resolved_at IS NULL OR m.sent_at <= report_episodes.resolved_at)),
        first_response_by = (
            SELECT m.author_member_id FROM messages m
            WHERE m.conversation_id = new.conversation_id AND m.direction = 'outbound'
              AND m.external_id IS NOT NULL
              AND substr(coalesce(m.author_member_id, ''), 1, 11) <> 'automation:'
              AND m.sent_at >= report_episodes.first_inbound_at
              AND (report_episodes.resolved_at IS NULL OR m.sent_at <= report_episodes.resolved_at)
            ORDER BY m.sent_at, m.id LIMIT 1)
    WHERE substr(coalesce(new.author_member_id, ''), 1, 11) = 'automation:'
      AND conversation_id = new.conversation_id AND first_response_at = new.sent_at;
END;

-- Team events, through the activity line each leaves: an assignment (counted for the assignee)
-- and a routing set the current opening's assignee and team; a resolution ends it; moving a
-- resolved conversation to any other status is a member's reopening.
CREATE TRIGGER report_activity AFTER INSERT ON conversation_activity
BEGIN
    UPDATE report_episodes SET assignee_id = new.detail ->> '$.assignee'
    WHERE new.kind = 'assigned'
      AND id = (SELECT max(id) FROM report_episodes WHERE conversation_id = new.conversation_id);

    INSERT INTO report_counts (bucket, episode_id, measure, member_id, channel_kind, count)
    SELECT new.at / 900000, e.id, 'assigned', new.detail ->> '$.assignee', e.channel_kind, 1
    FROM report_episodes e
    WHERE new.kind = 'assigned' AND (new.detail ->> '$.assignee') IS NOT NULL
      AND e.id = (SELECT max(id) FROM report_episodes WHERE conversation_id = new.conversation_id)
    ON CONFLICT (bucket, episode_id, measure, member_id) DO UPDATE SET count = count + 1;

    UPDATE report_episodes SET team_id = new.detail ->> '$.team'
    WHERE new.kind = 'routed'
      AND id = (SELECT max(id) FROM report_episodes WHERE conversation_id = new.conversation_id);

    UPDATE report_episodes SET resolved_at = new.at, resolved_by = new.actor_member_id
    WHERE new.kind = 'status' AND (new.detail ->> '$.status') = 'resolved' AND resolved_at IS NULL
      AND id = (SELECT max(id) FROM report_episodes WHERE conversation_id = new.conversation_id);

    INSERT INTO report_episodes (conversation_id, channel_kind, team_id, assignee_id, opened_by, reopened, opened_at)
    SELECT c.id, e.channel_kind, c.team_id, c.assignee_id, 'member', 1, new.at
    FROM conversations c
    JOIN report_episodes e
      ON e.id = (SELECT max(id) FROM report_episodes WHERE conversation_id = new.conversation_id)
    WHERE new.kind = 'status' AND (new.detail ->> '$.status') <> 'resolved'
      AND c.id = new.conversation_id AND e.resolved_at IS NOT NULL;
END;

-- Retention deletes a conversation: its openings stay, without its id.
CREATE TRIGGER report_conversation_expired AFTER DELETE ON conversations
BEGIN
    UPDATE report_episodes SET conversation_id = NULL WHERE conversation_id = old.id;
END;

-- What an existing cache already holds: one opening per conversation (earlier resolutions and
-- reopenings are not reconstructed), its messages and assignments counted.
INSERT INTO report_episodes (conversation_id, channel_kind, team_id, assignee_id, opened_by, reopened,
                             opened_at, first_inbound_at, resolved_at, resolved_by)
SELECT c.id, ch.kind, c.team_id, c.assignee_id,
       CASE WHEN i.first_inbound IS NULL THEN 'business' ELSE 'customer' END, 0,
       coalesce(i.first_inbound, i.first_message), i.first_inbound,
       CASE WHEN c.status = 'resolved' THEN coalesce(
           (SELECT max(a.at) FROM conversation_activity a
            WHERE a.conversation_id = c.id AND a.kind = 'status' AND (a.detail ->> '$.status') = 'resolved'),
           c.last_activity_at) END,
       CASE WHEN c.status = 'resolved' THEN
           (SELECT a.actor_member_id FROM conversation_activity a
            WHERE a.conversation_id = c.id AND a.kind = 'status' AND (a.detail ->> '$.status') = 'resolved'
            ORDER BY a.at DESC, a.id DESC LIMIT 1) END
FROM conversations c
JOIN contacts k ON k.id = c.contact_id
JOIN channels ch ON ch.id = k.channel_id
JOIN (SELECT conversation_id,
             min(sent_at) AS first_message,
             min(CASE WHEN direction = 'inbound' THEN sent_at END) AS first_inbound
      FROM messages WHERE external_id IS NOT NULL GROUP BY conversation_id) i
  ON i.conversation_id = c.id
ORDER BY c.id;

UPDATE report_episodes SET
    first_response_at = (
        SELECT min(m.sent_at) FROM messages m
        WHERE m.conversation_id = report_episodes.conversation_id AND m.direction = 'outbound'
          AND m.external_id IS NOT NULL
          AND substr(coalesce(m.author_member_id, ''), 1, 11) <> 'automation:'
          AND m.sent_at >= report_episodes.first_inbound_at
          AND (report_episodes.resolved_at IS NULL OR m.sent_at <= report_episodes.resolved_at)),
    first_response_by = (
        SELECT m.author_member_id FROM messages m
        WHERE m.conversation_id = report_episodes.conversation_id AND m.direction = 'outbound'
          AND m.external_id IS NOT NULL
          AND substr(coalesce(m.author_member_id, ''), 1, 11) <> 'automation:'
          AND m.sent_at >= report_episodes.first_inbound_at
          AND (report_episodes.resolved_at IS NULL OR m.sent_at <= report_episodes.resolved_at)
        ORDER BY m.sent_at, m.id LIMIT 1)
WHERE first_inbound_at IS NOT NULL;

INSERT INTO report_counts (bucket, episode_id, measure, member_id, channel_kind, count)
SELECT m.sent_at / 900000, e.id,
       CASE WHEN m.direction = 'inbound' THEN 'received'
            WHEN substr(coalesce(m.author_member_id, ''), 1, 11) = 'automation:' THEN 'automated'
            ELSE 'sent' END AS measure,
       CASE WHEN m.direction = 'outbound'
             AND substr(coalesce(m.author_member_id, ''), 1, 11) <> 'automation:'
            THEN coalesce(m.author_member_id, '') ELSE '' END AS member,
       e.channel_kind, count(*)
FROM messages m JOIN report_episodes e ON e.conversation_id = m.conversation_id
WHERE m.external_id IS NOT NULL
GROUP BY 1, 2, 3, 4;

INSERT INTO report_counts (bucket, episode_id, measure, member_id, channel_kind, count)
SELECT a.at / 900000, e.id, 'assigned', a.detail ->> '$.assignee', e.channel_kind, count(*)
FROM conversation_activity a JOIN report_episodes e ON e.conversation_id = a.conversation_id
WHERE a.kind = 'assigned' AND (a.detail ->> '$.assignee') IS NOT NULL
GROUP BY 1, 2, 4;
