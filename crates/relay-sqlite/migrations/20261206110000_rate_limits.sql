-- Attempt counters shared by relay instances (ADR 0012, section 6): sign-in per address, per
-- address and account, and Meta's refused callbacks per address, one row per key: its current
-- window and count, counted by one upsert per attempt. On SQLite the relay keeps these counters in memory
-- (one process owns the database); the table is here so that both backends have the same schema.
-- window_start: UTC milliseconds, the key's first attempt of the window. Old rows are pruned.
-- Paired with crates/relay-postgres/migrations/20261206110000_rate_limits.sql (same version, same
-- columns). Never edit this file once released; add a new pair of migrations.
CREATE TABLE rate_limits (
    key           TEXT NOT NULL,                -- the limiter's name, a space, the limited key
    window_start  INTEGER NOT NULL,
    count         INTEGER NOT NULL,
    PRIMARY KEY (key)
) STRICT;

CREATE INDEX rate_limits_by_window ON rate_limits (window_start);
