-- WhatsApp message templates (issue 24): each workspace's copy of its WhatsApp Business Accounts'
-- templates as Meta last described them (refreshed by an admin, created through the relay, and
-- updated by Meta's `message_template_status_update` webhooks), with what only the workspace
-- knows: which contact field fills each body variable and its fallback, and which automated
-- message (`away`, `csat`, …) the template carries once the customer's 24-hour window closed.
-- Times: UTC milliseconds. Paired with
-- crates/relay-postgres/migrations/20261207100000_message_templates.sql (same version, same columns).
-- Never edit this file once released; add a new pair of migrations.
CREATE TABLE message_templates (
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    account_id     TEXT NOT NULL,          -- the WhatsApp Business Account (WABA) id
    name           TEXT NOT NULL,
    language       TEXT NOT NULL,          -- en_US, de, …
    meta_id        TEXT NOT NULL,          -- Meta's id for the template
    category       TEXT NOT NULL,          -- MARKETING, UTILITY or AUTHENTICATION
    status         TEXT NOT NULL,          -- PENDING, APPROVED, REJECTED, PAUSED, DISABLED, …
    quality        TEXT NOT NULL,          -- GREEN, YELLOW, RED or UNKNOWN
    reason         TEXT,                   -- why rejected or paused, as Meta said
    components     TEXT NOT NULL,          -- JSON: header, body, footer, buttons as Meta describes them
    variables      TEXT NOT NULL,          -- JSON: [{field, fallback}] per body variable, in order
    stands_in_for  TEXT,                   -- the automated message it carries outside the window
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, account_id, name, language)
) STRICT;

CREATE INDEX message_templates_by_account ON message_templates (account_id, name, language);
