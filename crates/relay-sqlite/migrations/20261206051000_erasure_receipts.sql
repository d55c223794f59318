-- Erasures outlive their `contact.erased` events: a device that comes back after the relay pruned
-- the event still erases the customer (GET /v1/erasures). Only the salt and the salted hash are
-- kept, as long as the workspace is. Never edit this file once released; add a new migration.

CREATE TABLE erasures (
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    hash          TEXT NOT NULL,                -- salted SHA-256 naming the customer (hex)
    salt          TEXT NOT NULL,                -- hex
    at            INTEGER NOT NULL,             -- when it was erased (UTC ms)
    PRIMARY KEY (workspace_id, hash)
) STRICT, WITHOUT ROWID;

-- The erasures made before this table: their receipts in the audit log.
INSERT OR IGNORE INTO erasures (workspace_id, hash, salt, at)
SELECT workspace_id, substr(subject, 8), json_extract(details, '$.salt'), at
FROM audit_log
WHERE action = 'data.erasure' AND subject LIKE 'sha256:%' AND json_extract(details, '$.salt') IS NOT NULL;
