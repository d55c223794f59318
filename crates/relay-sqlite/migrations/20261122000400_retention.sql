-- Retention periods per workspace (privacy promise P12), set by admins; NULL means keep.
-- Never edit this file once released; add a new migration.

ALTER TABLE workspaces ADD COLUMN conversation_retention_days INTEGER;
ALTER TABLE workspaces ADD COLUMN media_retention_days INTEGER;
