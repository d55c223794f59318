-- Broadcast campaigns (issue 24, ADR 0021): a WhatsApp template sent by the relay to the
-- recipients a desk chose, paced, exactly once each. `campaigns` holds one per campaign (its state,
-- and `statuses_seen_at`: the newest status webhook of its number the campaign worker read, the
-- evidence that settles a recipient left `sending` by a crash); `campaign_recipients` one row per
-- customer (its outcome; `sending_at` set in the commit before the request leaves);
-- `campaign_progress` where the campaign worker is in each workspace's log. An erasure deletes
-- the customer's recipient rows (P14). Times: UTC milliseconds. Paired with
-- crates/relay-postgres/migrations/20261207200000_campaigns.sql (same version, same columns).
-- Never edit this file once released; add a new pair of migrations.
CREATE TABLE campaigns (
    id                 TEXT PRIMARY KEY,
    workspace_id       TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    channel_id         TEXT NOT NULL,          -- the WhatsApp phone number id
    template_name      TEXT NOT NULL,
    template_language  TEXT NOT NULL,
    category           TEXT NOT NULL,          -- MARKETING, UTILITY or AUTHENTICATION when created
    audience           TEXT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('draft', 'scheduled', 'running', 'paused',
                                                      'cancelled', 'completed')),
    paused_reason      TEXT,
    paused_until       INTEGER,                -- a pause of the messaging limit: resumes itself then
    per_second         INTEGER NOT NULL,
    send_at            INTEGER,
    created_by         TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    started_at         INTEGER,
    finished_at        INTEGER,
    statuses_seen_at   INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX campaigns_by_workspace ON campaigns (workspace_id, created_at);
CREATE INDEX campaigns_by_state ON campaigns (state);

CREATE TABLE campaign_recipients (
    campaign_id      TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    workspace_id     TEXT NOT NULL,
    ordinal         INTEGER NOT NULL,         -- the order they were added in
    customer_id      TEXT NOT NULL,
    name             TEXT,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered',
                                                     'read', 'replied', 'failed', 'skipped',
                                                     'cancelled')),
    skip_reason      TEXT,
    error            TEXT,
    message_id       TEXT,
    sending_at       INTEGER,                  -- when its request was about to leave
    sent_at          INTEGER,                  -- when Meta accepted it
    next_attempt_at  INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, customer_id)
) STRICT;

CREATE INDEX campaign_recipients_in_order ON campaign_recipients (campaign_id, status, ordinal);
CREATE INDEX campaign_recipients_by_customer ON campaign_recipients (workspace_id, customer_id);

CREATE TABLE campaign_progress (
    workspace_id  TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    cursor        INTEGER NOT NULL              -- the last seq of the log the worker read
) STRICT;
