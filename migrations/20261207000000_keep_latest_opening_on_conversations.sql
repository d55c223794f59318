-- Reports (issue 23): the rollups of migration 20261206200000_keep_report_rollups.sql kept at a
-- fraction of their cost per message (measured in docs/benchmarks.md, "Reports and the cost of
-- their rollups"); they mean what they meant (docs/reports.md).
-- - Every conversation row names its latest opening (`report_episode_id`) and whether it is
--   resolved (`report_episode_resolved`), kept by triggers on `report_episodes`: a message's
--   triggers find the opening with the conversation row instead of three look-ups.
-- - SQLite sets up a trigger's whole program for every row, whatever its WHEN says, at a cost in
--   proportion to the program's size. So a message runs small triggers that hand it to a table
--   that never keeps a row: its BEFORE trigger counts a customer's message into an open opening
--   that already had one (most messages) and drops the row; any other row reaches the AFTER
--   trigger with the full rules. The satisfaction survey's answer takes the same shape.
-- - `report_counts` is rebuilt with a CHECK SQLite tests without building a temporary table for
--   every row (its `IN (...)` list of four values did).
-- Never edit this file once released; add a new migration instead.

ALTER TABLE conversations ADD COLUMN report_episode_id INTEGER;           -- latest opening (reports)
ALTER TABLE conversations ADD COLUMN report_episode_resolved INTEGER NOT NULL DEFAULT 0;

UPDATE conversations SET
    report_episode_id = (SELECT max(e.id) FROM report_episodes e WHERE e.conversation_id = conversations.id),
    report_episode_resolved = coalesce((
        SELECT e.resolved_at IS NOT NULL FROM report_episodes e
        WHERE e.id = (SELECT max(x.id) FROM report_episodes x WHERE x.conversation_id = conversations.id)), 0);

-- An opening starts: it is its conversation's latest.
CREATE TRIGGER report_episode_latest AFTER INSERT ON report_episodes
WHEN new.conversation_id IS NOT NULL
BEGIN
    UPDATE conversations SET report_episode_id = new.id, report_episode_resolved = (new.resolved_at IS NOT NULL)
    WHERE id = new.conversation_id;
END;

-- The latest opening is resolved (or, should that ever happen, opened again).
CREATE TRIGGER report_episode_resolution AFTER UPDATE OF resolved_at ON report_episodes
WHEN new.conversation_id IS NOT NULL AND (old.resolved_at IS NULL) <> (new.resolved_at IS NULL)
BEGIN
    UPDATE conversations SET report_episode_resolved = (new.resolved_at IS NOT NULL)
    WHERE id = new.conversation_id AND report_episode_id = new.id;
END;

-- An erasure deletes a customer's openings (before their conversations): none is left to name.
CREATE TRIGGER report_episode_forgotten AFTER DELETE ON report_episodes
WHEN old.conversation_id IS NOT NULL
BEGIN
    UPDATE conversations SET
        report_episode_id = (SELECT max(e.id) FROM report_episodes e WHERE e.conversation_id = old.conversation_id),
        report_episode_resolved = coalesce((
            SELECT e.resolved_at IS NOT NULL FROM report_episodes e
            WHERE e.id = (SELECT max(x.id) FROM report_episodes x WHERE x.conversation_id = old.conversation_id)), 0)
    WHERE id = old.conversation_id AND report_episode_id = old.id;
END;

-- The triggers that name `report_counts` go first, then the table is rebuilt; they are created
-- again below.
DROP TRIGGER report_message_counted;
DROP TRIGGER report_message_accepted;
DROP TRIGGER report_message_author;
DROP TRIGGER report_activity;

CREATE TABLE report_counts_rebuilt (
    bucket        INTEGER NOT NULL,
    episode_id    INTEGER NOT NULL,
    measure       TEXT NOT NULL
                  CHECK (measure = 'received' OR measure = 'sent' OR measure = 'automated' OR measure = 'assigned'),
    member_id     TEXT NOT NULL DEFAULT '',
    channel_kind  TEXT NOT NULL,
    count         INTEGER NOT NULL,
    PRIMARY KEY (bucket, episode_id, measure, member_id)
) STRICT, WITHOUT ROWID;

INSERT INTO report_counts_rebuilt (bucket, episode_id, measure, member_id, channel_kind, count)
SELECT bucket, episode_id, measure, member_id, channel_kind, count FROM report_counts;

DROP TABLE report_counts;

ALTER TABLE report_counts_rebuilt RENAME TO report_counts;

-- The rules a message's arrival follows (those of report_message_counted in migration
-- 20261206200000_keep_report_rollups.sql, the latest opening read from the conversation row).
-- `report_message_arrived` hands every message Meta has to this table, which never keeps a row:
-- a customer's message into an open opening that already had one (most messages) is counted
-- before it is stored and the row is dropped (RAISE(IGNORE) ends that insert, not the message's);
-- any other is stored, follows the full rules, and is deleted. The full rules' trigger thus runs
-- only when it has something to do.
CREATE TABLE report_message_arrivals (
    id                INTEGER PRIMARY KEY,   -- the message
    conversation_id   INTEGER NOT NULL,
    direction         TEXT NOT NULL,
    kind              TEXT NOT NULL,
    body              TEXT,
    sent_at           INTEGER NOT NULL,
    author_member_id  TEXT
) STRICT;

CREATE TRIGGER report_message_counted_in_opening BEFORE INSERT ON report_message_arrivals
WHEN new.direction = 'inbound' AND EXISTS (
    SELECT 1 FROM conversations c JOIN report_episodes e ON e.id = c.report_episode_id
    WHERE c.id = new.conversation_id AND NOT c.report_episode_resolved AND e.first_inbound_at < new.sent_at)
BEGIN
    INSERT INTO report_counts (bucket, episode_id, measure, member_id, channel_kind, count)
    SELECT new.sent_at / 900000, e.id, 'received', '', e.channel_kind, 1
    FROM conversations c JOIN report_episodes e ON e.id = c.report_episode_id
    WHERE c.id = new.conversation_id
    ON CONFLICT (bucket, episode_id, measure, member_id) DO UPDATE SET count = count + 1;

    SELECT RAISE(IGNORE);
END;

CREATE TRIGGER report_message_counted AFTER INSERT ON report_message_arrivals
BEGIN
    INSERT INTO report_episodes (conversation_id, channel_kind, team_id, assignee_id, opened_by, reopened, opened_at)
    SELECT c.id, ch.kind, c.team_id, c.assignee_id,
           CASE WHEN new.direction = 'inbound' THEN 'customer' ELSE 'business' END,
           c.report_episode_id IS NOT NULL, new.sent_at
    FROM conversations c
    JOIN contacts k ON k.id = c.contact_id
    JOIN channels ch ON ch.id = k.channel_id
    WHERE c.id = new.conversation_id
      AND (c.report_episode_id IS NULL
           OR (new.direction = 'inbound' AND c.report_episode_resolved
               -- The satisfaction survey's answer (the rule of `messages_survey_answer`,
               -- migration 20261206210000_csat_ratings.sql) reopens nothing.
               AND NOT (c.status = 'resolved'
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
    FROM conversations c JOIN report_episodes e ON e.id = c.report_episode_id
    WHERE c.id = new.conversation_id
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
      AND id = (SELECT report_episode_id FROM conversations WHERE id = new.conversation_id)
      AND (first_inbound_at IS NULL OR new.sent_at < first_inbound_at);

    UPDATE report_episodes SET first_response_at = new.sent_at, first_response_by = new.author_member_id
    WHERE new.direction = 'outbound'
      AND substr(coalesce(new.author_member_id, ''), 1, 11) <> 'automation:'
      AND conversation_id = new.conversation_id
      AND first_inbound_at <= new.sent_at
      AND (resolved_at IS NULL OR new.sent_at <= resolved_at)
      AND (first_response_at IS NULL OR new.sent_at < first_response_at);

    DELETE FROM report_message_arrivals WHERE id = new.id;
END;

-- Every message Meta has goes through `report_message_arrivals`.
CREATE TRIGGER report_message_arrived AFTER INSERT ON messages
WHEN new.external_id IS NOT NULL
BEGIN
    INSERT INTO report_message_arrivals (id, conversation_id, direction, kind, body, sent_at, author_member_id)
    VALUES (new.id, new.conversation_id, new.direction, new.kind, new.body, new.sent_at, new.author_member_id);
END;






CREATE TRIGGER report_message_accepted AFTER UPDATE OF external_id ON messages
WHEN old.external_id IS NULL AND new.external_id IS NOT NULL
BEGIN
    INSERT INTO report_episodes (conversation_id, channel_kind, team_id, assignee_id, opened_by, reopened, opened_at)
    SELECT c.id, ch.kind, c.team_id, c.assignee_id,
           CASE WHEN new.direction = 'inbound' THEN 'customer' ELSE 'business' END,
           c.report_episode_id IS NOT NULL, new.sent_at
    FROM conversations c
    JOIN contacts k ON k.id = c.contact_id
    JOIN channels ch ON ch.id = k.channel_id
    WHERE c.id = new.conversation_id
      AND (c.report_episode_id IS NULL OR (new.direction = 'inbound' AND c.report_episode_resolved));

    INSERT INTO report_counts (bucket, episode_id, measure, member_id, channel_kind, count)
    SELECT new.sent_at / 900000, e.id,
           CASE WHEN new.direction = 'inbound' THEN 'received'
                WHEN substr(coalesce(new.author_member_id, ''), 1, 11) = 'automation:' THEN 'automated'
                ELSE 'sent' END,
           CASE WHEN new.direction = 'outbound'
                 AND substr(coalesce(new.author_member_id, ''), 1, 11) <> 'automation:'
                THEN coalesce(new.author_member_id, '') ELSE '' END,
           e.channel_kind, 1
    FROM conversations c JOIN report_episodes e ON e.id = c.report_episode_id
    WHERE c.id = new.conversation_id
    ON CONFLICT (bucket, episode_id, measure, member_id) DO UPDATE SET count = count + 1;

    UPDATE report_episodes SET first_response_at = new.sent_at, first_response_by = new.author_member_id
    WHERE new.direction = 'outbound'
      AND substr(coalesce(new.author_member_id, ''), 1, 11) <> 'automation:'
      AND conversation_id = new.conversation_id
      AND first_inbound_at <= new.sent_at
      AND (resolved_at IS NULL OR new.sent_at <= resolved_at)
      AND (first_response_at IS NULL OR new.sent_at < first_response_at);
END;

-- Unchanged, created again with the table it names.
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

CREATE TRIGGER report_activity AFTER INSERT ON conversation_activity
BEGIN
    UPDATE report_episodes SET assignee_id = new.detail ->> '$.assignee'
    WHERE new.kind = 'assigned'
      AND id = (SELECT report_episode_id FROM conversations WHERE id = new.conversation_id);

    INSERT INTO report_counts (bucket, episode_id, measure, member_id, channel_kind, count)
    SELECT new.at / 900000, e.id, 'assigned', new.detail ->> '$.assignee', e.channel_kind, 1
    FROM conversations c JOIN report_episodes e ON e.id = c.report_episode_id
    WHERE new.kind = 'assigned' AND (new.detail ->> '$.assignee') IS NOT NULL
      AND c.id = new.conversation_id
    ON CONFLICT (bucket, episode_id, measure, member_id) DO UPDATE SET count = count + 1;

    UPDATE report_episodes SET team_id = new.detail ->> '$.team'
    WHERE new.kind = 'routed'
      AND id = (SELECT report_episode_id FROM conversations WHERE id = new.conversation_id);

    UPDATE report_episodes SET resolved_at = new.at, resolved_by = new.actor_member_id
    WHERE new.kind = 'status' AND (new.detail ->> '$.status') = 'resolved' AND resolved_at IS NULL
      AND id = (SELECT report_episode_id FROM conversations WHERE id = new.conversation_id);

    INSERT INTO report_episodes (conversation_id, channel_kind, team_id, assignee_id, opened_by, reopened, opened_at)
    SELECT c.id, e.channel_kind, c.team_id, c.assignee_id, 'member', 1, new.at
    FROM conversations c
    JOIN report_episodes e ON e.id = c.report_episode_id
    WHERE new.kind = 'status' AND (new.detail ->> '$.status') <> 'resolved'
      AND c.id = new.conversation_id AND c.report_episode_resolved;
END;

-- The satisfaction survey's answer (migration 20261206210000_csat_ratings.sql): the same rule and
-- effect, its trigger run only for a customer's message into a resolved conversation.
DROP TRIGGER IF EXISTS messages_survey_answer;

CREATE TABLE survey_answer_candidates (
    id               INTEGER PRIMARY KEY,   -- the message
    conversation_id  INTEGER NOT NULL,
    direction        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    body             TEXT,
    caption          TEXT,
    file_name        TEXT,
    sent_at          INTEGER NOT NULL
) STRICT;

CREATE TRIGGER survey_answer_unlikely BEFORE INSERT ON survey_answer_candidates
WHEN (SELECT status FROM conversations WHERE id = new.conversation_id) IS NOT 'resolved'
BEGIN
    SELECT RAISE(IGNORE);
END;

CREATE TRIGGER messages_survey_answer AFTER INSERT ON survey_answer_candidates
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

    DELETE FROM survey_answer_candidates WHERE id = new.id;
END;

CREATE TRIGGER messages_survey_answer_candidate AFTER INSERT ON messages
WHEN new.direction = 'inbound'
BEGIN
    INSERT INTO survey_answer_candidates (id, conversation_id, direction, kind, body, caption, file_name, sent_at)
    VALUES (new.id, new.conversation_id, new.direction, new.kind, new.body, new.caption, new.file_name, new.sent_at);
END;
