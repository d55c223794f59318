-- Files shared with Meta by link (ADR 0012, section 7), served from the database so that every
-- relay instance on PostgreSQL answers /shared/...; they never enter the event log and are
-- deleted an hour after they were shared. On SQLite the relay keeps them in the shared-files
-- folder of its data directory (a 25 MB upload must not hold the one writer's lock); the table is
-- here so that both backends have the same schema. Times: UTC milliseconds. Paired with
-- crates/relay-postgres/migrations/20261206112000_shared_files.sql (same version, same columns).
-- Never edit this file once released; add a new pair of migrations.
CREATE TABLE shared_files (
    token         TEXT PRIMARY KEY,             -- the unguessable part of its address
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    mime          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    body          BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX shared_files_by_workspace ON shared_files (workspace_id, expires_at);
CREATE INDEX shared_files_by_expiry ON shared_files (expires_at);
