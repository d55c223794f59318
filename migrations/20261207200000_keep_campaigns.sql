-- The workspace's broadcast campaigns as the relay last announced them (`workspace.campaign`,
-- issue 24, ADR 0021): so a campaign's messages name it in the inbox, even offline. No
-- recipients (the relay keeps those); a later announcement replaces the row.
CREATE TABLE campaigns (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    template_name      TEXT NOT NULL,
    state              TEXT NOT NULL,   -- draft, scheduled, running, paused, cancelled, completed
    paused_reason      TEXT,
    campaign           TEXT NOT NULL,   -- JSON: zentro_events::campaigns::Campaign
    announced_at       INTEGER NOT NULL
) STRICT;
