-- AI assist's settings as the relay last announced them (`workspace.assist`, issue 25), so every
-- desk shows whether AI is on and where text goes, even offline. Never the provider's key (that
-- stays in the OS keychain). One row; a newer version replaces it.
CREATE TABLE assist_settings (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    version   INTEGER NOT NULL,
    settings  TEXT NOT NULL,                 -- JSON: zentro_core::assist::AssistAnnouncement
    saved_at  INTEGER NOT NULL
) STRICT;
