-- The automation's outbox, indexed by what its sender reads (issue 22, docs/benchmarks.md run 7):
-- only queued replies, by when they are due. The sender reads the earliest due first, about as
-- many rows as it sends in a round however long the queue; the index it replaces held every reply
-- whatever its state, and was written again at each step of a reply (queued, sending, sent), and
-- a read in the order replies were decided sorted the whole due queue every round. Paired with
-- crates/relay-sqlite/migrations/20261207153000_automation_queue_index.sql (same version, same
-- index). Never edit this file once released; add a new pair of migrations.
DROP INDEX automated_messages_due;
CREATE INDEX automated_messages_queued ON automated_messages (next_attempt_at) WHERE state = 'queued';
