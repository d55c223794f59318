-- Attempt counters shared by relay instances (ADR 0012, section 6): sign-in per address, per
-- address and account, and Meta's refused callbacks per address, one row per key: its current
-- window and count, counted by one upsert per attempt. window_start: UTC milliseconds, the key's first attempt
-- of the window (a window starts at its first attempt, as in memory). Old rows are pruned. Paired with
-- crates/relay-sqlite/migrations/20261206110000_rate_limits.sql (same version, same columns).
-- Never edit this file once released; add a new pair of migrations.
CREATE TABLE rate_limits (
    key           text NOT NULL,                -- the limiter's name, a space, the limited key
    window_start  bigint NOT NULL,
    count         bigint NOT NULL,
    PRIMARY KEY (key)
);

CREATE INDEX rate_limits_by_window ON rate_limits (window_start);
