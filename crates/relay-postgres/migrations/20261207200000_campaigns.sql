-- Broadcast campaigns (issue 24, ADR 0021): a WhatsApp template sent by the relay to the
-- recipients a desk chose, paced, exactly once each. `campaigns` holds one per campaign (its state,
-- and `statuses_seen_at`: the newest status webhook of its number the campaign worker read, the
-- evidence that settles a recipient left `sending` by a crash); `campaign_recipients` one row per
-- customer (its outcome; `sending_at` set in the commit before the request leaves);
-- `campaign_progress` where the campaign worker is in each workspace's log. An erasure deletes
-- the customer's recipient rows (P14). Times: UTC milliseconds. Paired with
-- crates/relay-sqlite/migrations/20261207200000_campaigns.sql (same version, same columns).
-- Never edit this file once released; add a new pair of migrations.
CREATE TABLE campaigns (
    id                 text PRIMARY KEY,
    workspace_id       text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name               text NOT NULL,
    channel_id         text NOT NULL,          -- the WhatsApp phone number id
    template_name      text NOT NULL,
    template_language  text NOT NULL,
    category           text NOT NULL,          -- MARKETING, UTILITY or AUTHENTICATION when created
    audience           text NOT NULL,
    state              text NOT NULL CHECK (state IN ('draft', 'scheduled', 'running', 'paused',
                                                      'cancelled', 'completed')),
    paused_reason      text,
    paused_until       bigint,                -- a pause of the messaging limit: resumes itself then
    per_second         bigint NOT NULL,
    send_at            bigint,
    created_by         text NOT NULL,
    created_at         bigint NOT NULL,
    started_at         bigint,
    finished_at        bigint,
    statuses_seen_at   bigint NOT NULL DEFAULT 0
);

CREATE INDEX campaigns_by_workspace ON campaigns (workspace_id, created_at);
CREATE INDEX campaigns_by_state ON campaigns (state);

CREATE TABLE campaign_recipients (
    campaign_id      text NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    workspace_id     text NOT NULL,
    ordinal         bigint NOT NULL,         -- the order they were added in
    customer_id      text NOT NULL,
    name             text,
    status           text NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered',
                                                     'read', 'replied', 'failed', 'skipped',
                                                     'cancelled')),
    skip_reason      text,
    error            text,
    message_id       text,
    sending_at       bigint,                  -- when its request was about to leave
    sent_at          bigint,                  -- when Meta accepted it
    next_attempt_at  bigint NOT NULL,
    updated_at       bigint NOT NULL,
    PRIMARY KEY (campaign_id, customer_id)
);

CREATE INDEX campaign_recipients_in_order ON campaign_recipients (campaign_id, status, ordinal);
CREATE INDEX campaign_recipients_by_customer ON campaign_recipients (workspace_id, customer_id);

CREATE TABLE campaign_progress (
    workspace_id  text PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    cursor        bigint NOT NULL              -- the last seq of the log the worker read
);
