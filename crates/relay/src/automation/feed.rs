//! The log as this instance's sequencer appended it, handed to its followers in memory: the
//! decider follows an automated workspace's log from here, and the consent worker
//! ([`crate::consent`]) every workspace's, from a feed of its own
//! ([`crate::sequencer::Sequencer::consent_feed`]), instead of reading every webhook back from
//! the database and parsing it again (the ingest parsed it moments before).
//!
//! The database stays the truth. A feed holds only what the sequencer committed, for the
//! workspaces its follower follows, and at most [`FOLLOWED_AT_MOST`] events each (past that it
//! drops them): the webhooks and members' team events of each group commit, and what writes
//! run inside it ([`crate::sequencer::Sequencer::write_in_commit`]: the decider's, the sender's
//! and the consent worker's) appended through [`append_in`]. Whatever a feed lacks (what was
//! appended outside a group commit, another instance's appends, what was dropped, what came
//! before its follower started following) the follower reads from the log ([`next_events`]);
//! every event it reads comes from one or the other, in seq order, with the time the log gives
//! it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zentro_automation::{Input, webhook_item_input};
use zentro_meta::webhook::{Event, WebhookItem};

use crate::store::{self, NewAppend, Store, StoreError, WriteTx};

/// Most events kept for one followed workspace: a decider that fell further behind reads the
/// rest from the log.
pub const FOLLOWED_AT_MOST: usize = 50_000;

/// What the automation needs of one appended event.
#[derive(Debug, Clone)]
pub enum Fed {
    /// A webhook item, as the ingest parsed it: what it means to the engine, and the statuses
    /// naming one of the automation's messages `(automated message id, Meta's id)`.
    Webhook {
        /// The engine's input (a customer's message), if any.
        input: Option<Input>,
        /// Statuses settling automated messages.
        settled: Vec<(String, String)>,
    },
    /// Any other event (a team event, written by the relay or a member): read as from the log.
    Other {
        /// Its kind.
        kind: String,
        /// Its author.
        author: Option<String>,
        /// Its JSON.
        payload: serde_json::Value,
    },
}

impl Fed {
    /// What a webhook item means to the automation (computed on the request's thread, before
    /// the writer's turn).
    pub fn of_webhook_item(item: &WebhookItem) -> Self {
        Self::Webhook {
            input: webhook_item_input(item),
            settled: settled_by(item).into_iter().collect(),
        }
    }
}

/// `(automated message id, Meta's id)` if the item is a WhatsApp status naming one of the
/// automation's messages (its id travels as `biz_opaque_callback_data`).
pub fn settled_by(item: &WebhookItem) -> Option<(String, String)> {
    match &item.event {
        Event::Status(status) => {
            let id = status
                .callback_data
                .as_ref()
                .filter(|c| c.starts_with("auto:"))?;
            Some((id.clone(), status.message_id.clone()))
        }
        _ => None,
    }
}

/// One committed event of a followed workspace.
#[derive(Debug, Clone)]
pub struct FedEvent {
    /// Its seq in the workspace's log.
    pub seq: i64,
    /// When it was appended (UTC ms), as the log has it.
    pub at: i64,
    /// What it says.
    pub fed: Fed,
}

/// One followed workspace's events, by seq, and the seqs the sequencer is committing.
#[derive(Debug, Default)]
struct Buffer {
    events: BTreeMap<i64, FedEvent>,
    /// The smallest seq of a batch being committed (its events arrive once it has committed).
    committing: Option<i64>,
}

/// Where the next event after a cursor is, as far as the feed knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// In the feed, at once: take it.
    Here,
    /// Being committed by the sequencer: it arrives in a moment.
    Committing,
    /// Missing, but the feed holds a later event at this seq: read up to it from the log.
    GapBefore(i64),
    /// The feed knows of nothing after the cursor.
    Nothing,
}

/// The shared buffers (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct Feed {
    buffers: Arc<Mutex<HashMap<String, Buffer>>>,
    /// Whether any workspace is followed (so the ingest skips the work when none is).
    any: Arc<AtomicBool>,
}

impl Feed {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Buffer>> {
        self.buffers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether any workspace is followed: if not, the ingest need not prepare anything for it.
    pub fn following_any(&self) -> bool {
        self.any.load(Ordering::Relaxed)
    }

    /// Starts keeping a workspace's committed events (from the next commit on).
    pub fn follow(&self, workspace: &str) {
        let mut buffers = self.lock();
        buffers.entry(workspace.to_string()).or_default();
        self.any.store(true, Ordering::Relaxed);
    }

    /// Stops keeping a workspace's events, dropping what is kept.
    pub fn unfollow(&self, workspace: &str) {
        let mut buffers = self.lock();
        buffers.remove(workspace);
        self.any.store(!buffers.is_empty(), Ordering::Relaxed);
    }

    /// Stops keeping anything (the instance no longer runs the automation).
    pub fn unfollow_all(&self) {
        let mut buffers = self.lock();
        buffers.clear();
        self.any.store(false, Ordering::Relaxed);
    }

    /// Whether a workspace is followed.
    pub fn follows(&self, workspace: &str) -> bool {
        self.lock().contains_key(workspace)
    }

    /// Before the sequencer commits a batch appending to a workspace from `first` on: the
    /// decider waits for it rather than reading those seqs from the log.
    pub fn committing(&self, workspace: &str, first: i64) {
        if let Some(buffer) = self.lock().get_mut(workspace) {
            buffer.committing = Some(first);
        }
    }

    /// After the sequencer's batch committed (`events`, in seq order) or failed (`events`
    /// empty): the events kept (up to [`FOLLOWED_AT_MOST`]) and the wait over.
    pub fn committed(&self, workspace: &str, events: impl IntoIterator<Item = FedEvent>) {
        let mut buffers = self.lock();
        let Some(buffer) = buffers.get_mut(workspace) else {
            return;
        };
        buffer.committing = None;
        for event in events {
            if buffer.events.len() >= FOLLOWED_AT_MOST {
                break;
            }
            buffer.events.insert(event.seq, event);
        }
    }

    /// Where the event after `cursor` is, as far as the feed knows (dropping what is kept up to
    /// `cursor`: the decider has it).
    pub fn next(&self, workspace: &str, cursor: i64) -> Next {
        let mut buffers = self.lock();
        let Some(buffer) = buffers.get_mut(workspace) else {
            return Next::Nothing;
        };
        drop_through(buffer, cursor);
        let kept = buffer.events.keys().next().copied();
        if kept == Some(cursor + 1) {
            return Next::Here;
        }
        match (kept, buffer.committing) {
            (_, Some(first)) if first <= cursor + 1 => Next::Committing,
            (Some(a), Some(b)) => Next::GapBefore(a.min(b)),
            (Some(seq), None) | (None, Some(seq)) => Next::GapBefore(seq),
            (None, None) => Next::Nothing,
        }
    }

    /// The events kept right after `cursor`, consecutive, at most `limit`.
    pub fn take(&self, workspace: &str, cursor: i64, limit: usize) -> Vec<FedEvent> {
        let mut buffers = self.lock();
        let Some(buffer) = buffers.get_mut(workspace) else {
            return Vec::new();
        };
        drop_through(buffer, cursor);
        let mut taken = Vec::new();
        let mut expected = cursor + 1;
        while taken.len() < limit {
            match buffer.events.first_key_value() {
                Some((&seq, _)) if seq == expected => {
                    if let Some((_, event)) = buffer.events.pop_first() {
                        taken.push(event);
                    }
                    expected += 1;
                }
                _ => break,
            }
        }
        taken
    }
}

/// Times a follower waits [`COMMITTING_WAIT`] for a batch the sequencer is committing before
/// leaving it to the next round.
const COMMITTING_WAITS: u32 = 5;

/// How long a follower waits for a batch being committed, each time.
const COMMITTING_WAIT: Duration = Duration::from_millis(2);

/// A follower's next events after `cursor` (at most `batch`): from `feed` when it has them,
/// else from the log (only up to the feed's next event, so nothing is read twice). Empty: the
/// log has nothing after `cursor`. `None`: the next events are still being committed (the next
/// round takes them).
pub async fn next_events(
    feed: &Feed,
    store: &Store,
    workspace: &str,
    cursor: i64,
    batch: i64,
) -> Result<Option<Vec<FedEvent>>, StoreError> {
    let mut waits = 0;
    let mut looked_at_head = false;
    loop {
        let up_to = match feed.next(workspace, cursor) {
            Next::Here => return Ok(Some(feed.take(workspace, cursor, batch as usize))),
            Next::Committing if waits < COMMITTING_WAITS => {
                waits += 1;
                tokio::time::sleep(COMMITTING_WAIT).await;
                continue;
            }
            Next::Committing => return Ok(None),
            Next::GapBefore(seq) => seq - 1,
            // The feed lacks what the log may have (another writer's, or before following):
            // the head decides; looked at again in the feed in case it just came in.
            Next::Nothing if !looked_at_head => {
                let head = store.last_seq(workspace).await?;
                if head <= cursor {
                    return Ok(Some(Vec::new()));
                }
                looked_at_head = true;
                continue;
            }
            Next::Nothing => cursor + batch,
        };
        let limit = (up_to - cursor).clamp(1, batch);
        let stored = store.events_after(workspace, cursor, limit).await?;
        return Ok(Some(
            stored
                .into_iter()
                .map(|e| FedEvent {
                    seq: e.seq,
                    at: e.at,
                    fed: Fed::Other {
                        kind: e.kind,
                        author: e.author,
                        payload: e.payload,
                    },
                })
                .collect(),
        ));
    }
}

/// Appends events to a workspace's log inside a write the sequencer runs in its group commit
/// ([`store::append_many_in`]): each one's seq (`None`: the log had its key already), and the
/// new ones as the feeds keep them, for the writes to hand back to the sequencer (so that no
/// follower reads them back from the log).
pub(crate) async fn append_in(
    tx: &mut WriteTx,
    workspace: &str,
    events: &[NewAppend<'_>],
) -> Result<(Vec<Option<i64>>, Vec<(String, FedEvent)>), StoreError> {
    append_on_channels_in(tx, workspace, events, &[]).await
}

/// [`append_in`], each event naming its conversation's channel `(kind, external id)` in
/// `channels` (one per event), written with it instead of by the database's trigger
/// ([`store::append_many_in`]).
pub(crate) async fn append_on_channels_in(
    tx: &mut WriteTx,
    workspace: &str,
    events: &[NewAppend<'_>],
    channels: &[(&str, &str)],
) -> Result<(Vec<Option<i64>>, Vec<(String, FedEvent)>), StoreError> {
    let (seqs, at) = store::append_many_in(tx, workspace, events, channels).await?;
    let fed = events
        .iter()
        .zip(&seqs)
        .filter_map(|(event, seq)| {
            let fed = Fed::Other {
                kind: event.kind.to_string(),
                author: event.author.map(str::to_string),
                payload: serde_json::from_str(&event.payload).unwrap_or(serde_json::Value::Null),
            };
            Some((
                workspace.to_string(),
                FedEvent {
                    seq: (*seq)?,
                    at,
                    fed,
                },
            ))
        })
        .collect();
    Ok((seqs, fed))
}

/// Drops the kept events up to `cursor`.
fn drop_through(buffer: &mut Buffer, cursor: i64) {
    while buffer
        .events
        .first_key_value()
        .is_some_and(|(&seq, _)| seq <= cursor)
    {
        buffer.events.pop_first();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn other(seq: i64) -> FedEvent {
        FedEvent {
            seq,
            at: 1,
            fed: Fed::Other {
                kind: "team.note".into(),
                author: None,
                payload: serde_json::Value::Null,
            },
        }
    }

    #[test]
    fn only_followed_workspaces_are_kept_and_taken_in_consecutive_order() {
        let feed = Feed::default();
        feed.committed("w", [other(1)]);
        assert!(!feed.following_any());
        assert_eq!(feed.next("w", 0), Next::Nothing);
        feed.follow("w");
        assert!(feed.following_any());
        feed.committed("w", [other(3), other(4)]);
        // Seq 2 (say, the decider's own append) is not here: read it from the log first.
        assert_eq!(feed.next("w", 1), Next::GapBefore(3));
        assert!(feed.take("w", 1, 10).is_empty());
        assert_eq!(feed.next("w", 2), Next::Here);
        let taken: Vec<i64> = feed.take("w", 2, 10).iter().map(|e| e.seq).collect();
        assert_eq!(taken, [3, 4]);
        assert_eq!(feed.next("w", 4), Next::Nothing);
        feed.unfollow("w");
        assert!(!feed.following_any());
    }

    #[test]
    fn a_batch_being_committed_is_waited_for_and_a_failed_one_is_not() {
        let feed = Feed::default();
        feed.follow("w");
        feed.committing("w", 5);
        assert_eq!(feed.next("w", 4), Next::Committing);
        feed.committed("w", []);
        assert_eq!(feed.next("w", 4), Next::Nothing);
        feed.committing("w", 5);
        feed.committed("w", [other(5)]);
        assert_eq!(feed.take("w", 4, 1).len(), 1);
    }

    #[test]
    fn a_full_buffer_drops_what_comes_after() {
        let feed = Feed::default();
        feed.follow("w");
        feed.committed("w", (1..=FOLLOWED_AT_MOST as i64 + 10).map(other));
        let taken = feed.take("w", 0, usize::MAX);
        assert_eq!(taken.len(), FOLLOWED_AT_MOST);
        assert_eq!(feed.next("w", FOLLOWED_AT_MOST as i64), Next::Nothing);
    }
}
