-- Background work runs once across relay instances (ADR 0012, section 5): a job (pruning,
-- quarantine trimming, idle-session expiry, channel checks, the shared-files sweep) takes its
-- lease before a run and renews it between chunks; when the holder dies the lease expires and
-- another instance takes over. expires_at: UTC milliseconds since the Unix epoch, by the
-- database's clock. Paired with crates/relay-sqlite/migrations/20261206100000_leases.sql (same
-- version, same columns). Never edit this file once released; add a new pair of migrations.
CREATE TABLE leases (name text PRIMARY KEY, holder text NOT NULL, expires_at bigint NOT NULL);
