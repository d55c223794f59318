-- The snoozed conversations by when they wake: every desk looks for those due every few seconds
-- (`actions::wake_snoozed`), which without it read all conversations (2-4 ms over 50,000 while
-- holding the write lock, and a refilled page cache on an idle desk: footprint run 6).
CREATE INDEX conversations_snoozed ON conversations (snoozed_until) WHERE status = 'snoozed';
