-- Files shared with Meta by link (ADR 0012, section 7), served from the database so that every
-- relay instance answers /shared/...; they never enter the event log and are deleted an hour after
-- they were shared. A workspace's quota is counted under pg_advisory_xact_lock on the workspace
-- (never its counter row). Times: UTC milliseconds. Paired with
-- crates/relay-sqlite/migrations/20261206112000_shared_files.sql (same version, same columns).
-- Never edit this file once released; add a new pair of migrations.
CREATE TABLE shared_files (
    token         text PRIMARY KEY,             -- the unguessable part of its address
    workspace_id  text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          text NOT NULL,
    mime          text NOT NULL,
    size          bigint NOT NULL,
    body          bytea NOT NULL,
    created_at    bigint NOT NULL,
    expires_at    bigint NOT NULL
);

CREATE INDEX shared_files_by_workspace ON shared_files (workspace_id, expires_at);
CREATE INDEX shared_files_by_expiry ON shared_files (expires_at);
