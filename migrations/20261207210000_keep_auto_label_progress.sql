-- How far this desk has looked for new customer messages to label automatically (issue 25, when
-- an owner turned automatic labels on): the highest `messages.id` considered. One row, written
-- when automatic labelling first runs on this desk (from then on, never the history before).
CREATE TABLE auto_label_progress (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    last_message_id  INTEGER NOT NULL
) STRICT;
