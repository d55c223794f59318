-- Pruning and the unacknowledged-age metric work per workspace: find a workspace's events by time
-- with an index seek instead of walking every workspace's old events (with a correlated lookup
-- each), which held the writer lock for ~150 ms per million events and stalled webhook commits.
-- Never edit this file once released; add a new migration.

DROP INDEX events_by_time;
CREATE INDEX events_by_workspace_time ON events (workspace_id, at);
