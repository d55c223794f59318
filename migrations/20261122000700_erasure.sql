-- Erasure (privacy promise P14): the search index forgets removed entries for good (FTS5
-- secure-delete: no token of an erased message stays in the index's segments), and media files of
-- an erased customer wait here until the erasure's transaction has committed, then are overwritten
-- and deleted. A row with an empty path only asks for the WAL to be checkpointed and truncated.
-- Never edit this file once released; add a new migration instead.

INSERT INTO search_index (search_index, rank) VALUES ('secure-delete', 1);

CREATE TABLE erasure_cleanup (
    path  TEXT PRIMARY KEY
) STRICT;
