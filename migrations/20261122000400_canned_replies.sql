-- Canned replies shared by the team: typed as /shortcut in the composer.
-- Never edit this file once released; add a new migration instead.

CREATE TABLE canned_replies (
    shortcut    TEXT PRIMARY KEY COLLATE NOCASE,   -- without the slash: "refund"
    body        TEXT NOT NULL,
    updated_by  TEXT NOT NULL,                     -- member id
    updated_at  INTEGER NOT NULL
) STRICT;
