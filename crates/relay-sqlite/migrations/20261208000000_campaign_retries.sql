-- Broadcast campaigns retry a temporary failure of Meta's (5xx, network) a bounded number of
-- times (ADR 0021, amendment of 2026-12-08): `attempts` counts a recipient's temporary failures
-- so far; rate-limit waits (130429, 131056) are not attempts. Paired with
-- crates/relay-postgres/migrations/20261208000000_campaign_retries.sql (same version, same columns).
-- Never edit this file once released; add a new pair of migrations.
ALTER TABLE campaign_recipients ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
