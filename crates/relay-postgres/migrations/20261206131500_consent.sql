-- Consent to marketing messages (issue 24): per customer and channel, the latest
-- `team.consent_recorded` event of the workspace's log (a member's record, or the customer's stop
-- or start keyword the relay recorded), and where the consent worker is in each workspace's log.
-- What a campaign asks before sending a marketing template: "is this customer opted in now?".
-- An erasure deletes the customer's rows (P14). Times: UTC milliseconds. Paired with
-- crates/relay-sqlite/migrations/20261206131500_consent.sql (same version, same columns).
-- Never edit this file once released; add a new pair of migrations.
CREATE TABLE consents (
    workspace_id         text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    channel_kind         text NOT NULL,
    channel_external_id  text NOT NULL,
    customer_id          text NOT NULL,
    opted_in             bigint NOT NULL CHECK (opted_in IN (0, 1)),
    source               text NOT NULL CHECK (source IN ('form', 'agent', 'keyword', 'import')),
    at                   bigint NOT NULL,      -- when it was given or withdrawn
    seq                  bigint NOT NULL,      -- the event that recorded it
    PRIMARY KEY (workspace_id, channel_kind, channel_external_id, customer_id)
);

CREATE TABLE consent_progress (
    workspace_id  text PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    cursor        bigint NOT NULL              -- the last seq of the log the worker read
);
