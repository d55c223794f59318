//! The sequencer: the single writer that gives every event of a workspace the next seq (and
//! records the devices' cursors in the same commits).
//!
//! Handlers hand it jobs over a channel; it commits whatever has queued up in **one**
//! transaction (group commit: one fsync for many webhooks) and only then answers each job, so a
//! webhook is acknowledged to Meta only once it is durable. After each commit it wakes the streams
//! of the workspaces that received events.

mod lane;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use zentro_events::clock::now_ms;
use zentro_meta::webhook::WebhookItem;

use crate::automation::feed::{Fed, FedEvent, Feed};
use crate::metrics::Metrics;
use crate::routing::{WEBHOOK_EVENT_KIND, route_key};
use crate::store::{self, Store, StoreError};
use lane::BackgroundLane;
pub use lane::{BACKGROUND_SHARE, Lane};

/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 1024;

/// What a team event publication returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The event's seq.
    pub seq: i64,
    /// Whether this call created it (`false`: the idempotency key was seen before).
    pub created: bool,
}

/// A webhook item made ready for the writer on the request's own thread: routed and serialized.
struct PreparedItem {
    route: Option<(&'static str, String)>,
    key: String,
    envelope: String,
    /// What it means to the automation, when the automation follows some workspace.
    fed: Option<Fed>,
}

/// The writer's transaction.
type Tx = crate::store::WriteTx;

/// Where a job's answer goes: sent only after the batch holding it has committed.
type Reply<T> = oneshot::Sender<Result<T, SequencerError>>;

/// A team event to append.
struct TeamEvent {
    workspace_id: String,
    author: String,
    kind: String,
    payload: serde_json::Value,
    key: String,
}

/// Writes another part of the relay (the automation) has the writer run inside one of its group
/// commits (the next, or a later one for [`Lane::Background`]), under a savepoint of their own: a function of the writer's transaction that returns
/// the events it appended (each with its workspace, as [`crate::automation::feed::append_in`]
/// gives them): the writer notifies those workspaces' streams and hands the events to the feeds
/// following them once the batch has committed. If it fails, only its writes are undone (the
/// batch's webhooks still commit) and its caller gets the error.
pub type InCommit = Box<
    dyn for<'t> FnOnce(
            &'t mut Tx,
        ) -> futures_util::future::BoxFuture<
            't,
            Result<Vec<(String, FedEvent)>, StoreError>,
        > + Send,
>;

/// Writes for [`Sequencer::write_in_commit`], typed: a closure over the writer's transaction
/// gets its signature right only from a bound like this one.
pub fn in_commit<F>(writes: F) -> InCommit
where
    F: for<'t> FnOnce(
            &'t mut Tx,
        ) -> futures_util::future::BoxFuture<
            't,
            Result<Vec<(String, FedEvent)>, StoreError>,
        > + Send
        + 'static,
{
    Box::new(writes)
}

/// Writes to run in a group commit, and the workspaces they append to (locked with the batch's
/// others, in id order, on PostgreSQL).
struct Writes {
    workspaces: Vec<String>,
    writes: InCommit,
}

/// Writes waiting for a commit, with their lane and where their answer goes.
struct PendingWrites {
    lane: Lane,
    writes: Writes,
    reply: Reply<()>,
}

/// A device's cursor to record.
struct Cursor {
    workspace_id: String,
    session_id: String,
    seq: i64,
}

/// What a handler hands the writer: the work and the reply of its own type.
enum Job {
    Webhook {
        items: Vec<PreparedItem>,
        reply: Reply<()>,
    },
    Unparseable {
        body: Bytes,
        reason: String,
        reply: Reply<()>,
    },
    Team {
        event: TeamEvent,
        reply: Reply<Published>,
    },
    Acknowledge {
        cursor: Cursor,
        reply: Reply<Option<i64>>,
    },
    Probe {
        reply: Reply<()>,
    },
    Writes(PendingWrites),
}

/// A job's work without its reply, in arrival order within a batch.
enum Work {
    Webhook(Vec<PreparedItem>),
    Unparseable { body: Bytes, reason: String },
    Team(TeamEvent),
    Acknowledge(Cursor),
    Probe,
}

/// The replies of a batch, by type, each list in arrival order.
#[derive(Default)]
struct Replies {
    stored: Vec<Reply<()>>,
    published: Vec<Reply<Published>>,
    acknowledged: Vec<Reply<Option<i64>>>,
    written: Vec<Reply<()>>,
}

/// What a committed batch answers, by type, each list in the order of [`Replies`]' lists.
#[derive(Default)]
struct Answers {
    published: Vec<Published>,
    acknowledged: Vec<Option<i64>>,
    written: Vec<Result<(), SequencerError>>,
    /// How long each of `written` took, in the same order.
    written_took: Vec<Duration>,
}

impl Replies {
    /// Splits jobs into their work (in arrival order), the writes handed in (their replies not
    /// yet among these: which of them run in this commit is decided after), and the replies.
    fn split(batch: Vec<Job>) -> (Vec<Work>, Vec<PendingWrites>, Self) {
        let mut replies = Self::default();
        let mut writes = Vec::new();
        let work = batch
            .into_iter()
            .filter_map(|job| {
                Some(match job {
                    Job::Webhook { items, reply } => {
                        replies.stored.push(reply);
                        Work::Webhook(items)
                    }
                    Job::Unparseable {
                        body,
                        reason,
                        reply,
                    } => {
                        replies.stored.push(reply);
                        Work::Unparseable { body, reason }
                    }
                    Job::Team { event, reply } => {
                        replies.published.push(reply);
                        Work::Team(event)
                    }
                    Job::Acknowledge { cursor, reply } => {
                        replies.acknowledged.push(reply);
                        Work::Acknowledge(cursor)
                    }
                    Job::Probe { reply } => {
                        replies.stored.push(reply);
                        Work::Probe
                    }
                    Job::Writes(pending) => {
                        writes.push(pending);
                        return None;
                    }
                })
            })
            .collect();
        (work, writes, replies)
    }

    /// Answers every job of a committed batch.
    fn answer(self, answers: Answers) {
        for reply in self.stored {
            let _ = reply.send(Ok(()));
        }
        for (reply, published) in self.published.into_iter().zip(answers.published) {
            let _ = reply.send(Ok(published));
        }
        for (reply, acked) in self.acknowledged.into_iter().zip(answers.acknowledged) {
            let _ = reply.send(Ok(acked));
        }
        for (reply, written) in self.written.into_iter().zip(answers.written) {
            let _ = reply.send(written);
        }
    }

    /// Fails every job of a batch that did not commit.
    fn fail(self, error: &SequencerError) {
        for reply in self.stored {
            let _ = reply.send(Err(error.clone()));
        }
        for reply in self.published {
            let _ = reply.send(Err(error.clone()));
        }
        for reply in self.acknowledged {
            let _ = reply.send(Err(error.clone()));
        }
        for reply in self.written {
            let _ = reply.send(Err(error.clone()));
        }
    }

    fn len(&self) -> usize {
        self.stored.len() + self.published.len() + self.acknowledged.len() + self.written.len()
    }
}

/// Wakes the event streams of a workspace when its log grows.
#[derive(Debug, Default, Clone)]
pub struct Notifier {
    senders: Arc<Mutex<HashMap<String, watch::Sender<i64>>>>,
}

impl Notifier {
    /// A receiver that changes whenever the workspace's log grows.
    pub fn subscribe(&self, workspace_id: &str) -> watch::Receiver<i64> {
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        senders
            .entry(workspace_id.to_string())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Tells the workspace's streams that its log grew (to `seq`). Every call wakes them, even
    /// with a seq below one seen before (another instance's wake-up may arrive after a later
    /// local one): a stream reads from its own cursor, never from this value, so a stale or
    /// forged wake-up costs one read and can never hold a real one back.
    pub fn notify(&self, workspace_id: &str, seq: i64) {
        let senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = senders.get(workspace_id) {
            sender.send_replace(seq);
        }
    }

    /// Wakes every open stream, whatever it has seen: after wake-ups may have been lost (the
    /// connection that listens for other instances' commits was re-established), each re-reads
    /// from its cursor. A lost wake-up costs one read, never an event.
    pub fn wake_all(&self) {
        let senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        for sender in senders.values() {
            sender.send_modify(|_| {});
        }
    }
}

/// The handle handlers use to append.
#[derive(Debug, Clone)]
pub struct Sequencer {
    jobs: mpsc::Sender<Job>,
    outcomes: Arc<Outcomes>,
    feed: Feed,
    consent_feed: Feed,
}

/// How long a failed commit keeps `/healthz` unhealthy when no commit of events has succeeded
/// since: a nearly full disk may still take the probe's one small row while every webhook fails.
pub const RECENT_FAILURE: std::time::Duration = std::time::Duration::from_secs(5);

/// When the writer last failed a batch and last committed one that carried more than the health
/// probe (UTC ms; 0: never).
#[derive(Debug, Default)]
struct Outcomes {
    failed_at: std::sync::atomic::AtomicI64,
    committed_at: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

/// Why the sequencer could not store a job; nothing of the job was stored either way.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SequencerError {
    /// The database failed the batch holding the job (retry later).
    #[error("the event log could not be written: {0}")]
    Store(#[source] Arc<StoreError>),
    /// The writer has stopped: the relay is shutting down.
    #[error("the event log could not be written: the relay is stopping")]
    Stopped,
}

impl Sequencer {
    /// Starts the writer task.
    pub fn start(store: Store, notifier: Notifier, metrics: Arc<Metrics>) -> Self {
        let (tx, rx) = mpsc::channel(8192);
        let outcomes = Arc::new(Outcomes::default());
        let feed = Feed::default();
        let consent_feed = Feed::default();
        let writer_state = WriterState {
            store,
            notifier,
            metrics,
            outcomes: outcomes.clone(),
            feeds: [feed.clone(), consent_feed.clone()],
        };
        tokio::spawn(writer(writer_state, rx));
        Self {
            jobs: tx,
            outcomes,
            feed,
            consent_feed,
        }
    }

    /// What this writer committed, handed to the automation for the workspaces it follows.
    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    /// What this writer committed, handed to the consent worker ([`crate::consent`]) for the
    /// workspaces it follows (every workspace, on the instance holding its lease).
    pub fn consent_feed(&self) -> &Feed {
        &self.consent_feed
    }

    /// Whether a batch failed within [`RECENT_FAILURE`] before `now` with no batch of events
    /// committed since: webhooks are being refused even if a small write still succeeds.
    pub fn failing_recently(&self, now: i64) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let failed = self.outcomes.failed_at.load(Relaxed);
        failed > self.outcomes.committed_at.load(Relaxed)
            && now - failed < RECENT_FAILURE.as_millis() as i64
    }

    /// Durably stores a verified webhook's items (routing, de-duplicating, quarantining).
    pub async fn webhook(&self, items: Vec<WebhookItem>) -> Result<(), SequencerError> {
        let automated = self.feed.following_any() || self.consent_feed.following_any();
        let items = items
            .into_iter()
            .map(|item| PreparedItem {
                route: route_key(&item.route).map(|(kind, id)| (kind, id.to_string())),
                envelope: item.envelope.to_string(),
                fed: automated.then(|| Fed::of_webhook_item(&item)),
                key: item.key,
            })
            .collect();
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Webhook { items, reply }, rx).await
    }

    /// Durably quarantines a verified body that is not a Meta notification.
    pub async fn unparseable(&self, body: Bytes, reason: String) -> Result<(), SequencerError> {
        let (reply, rx) = oneshot::channel();
        let job = Job::Unparseable {
            body,
            reason,
            reply,
        };
        self.submit(job, rx).await
    }

    /// Records what a device has applied, in the next group commit: a cursor written beside the
    /// log would have to win SQLite's write lock from a writer that commits back to back (over a
    /// second under load), and would make that writer back off in turn. Returns the session's
    /// acknowledged seq, `None` if the session is gone.
    pub async fn acknowledge(
        &self,
        workspace_id: &str,
        session_id: &str,
        seq: i64,
    ) -> Result<Option<i64>, SequencerError> {
        let (reply, rx) = oneshot::channel();
        let job = Job::Acknowledge {
            cursor: Cursor {
                workspace_id: workspace_id.into(),
                session_id: session_id.into(),
                seq,
            },
            reply,
        };
        self.submit(job, rx).await
    }

    /// Writes the health probe's row in the next group commit: `Ok` once that commit is durable,
    /// so a caller knows the database takes writes on the path webhooks take.
    pub async fn probe(&self) -> Result<(), SequencerError> {
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Probe { reply }, rx).await
    }

    /// Hands `job` to the writer and waits for its answer on `answer`.
    async fn submit<T>(
        &self,
        job: Job,
        answer: oneshot::Receiver<Result<T, SequencerError>>,
    ) -> Result<T, SequencerError> {
        self.jobs
            .send(job)
            .await
            .map_err(|_| SequencerError::Stopped)?;
        answer.await.map_err(|_| SequencerError::Stopped)?
    }

    /// Runs `writes` inside a group commit, under a savepoint of their own (see [`InCommit`]);
    /// `workspaces`: those they may append to. `Ok` once committed: a writer of its own would
    /// have to win SQLite's write lock from a writer that commits back to back, and each commit
    /// of its own costs a wait for the disk. [`Lane::Prompt`] writes go in the next commit;
    /// [`Lane::Background`] ones yield to webhooks while the writer is saturated (see [`lane`]).
    pub async fn write_in_commit(
        &self,
        lane: Lane,
        workspaces: Vec<String>,
        writes: InCommit,
    ) -> Result<(), SequencerError> {
        let (reply, rx) = oneshot::channel();
        let job = Job::Writes(PendingWrites {
            lane,
            writes: Writes { workspaces, writes },
            reply,
        });
        self.submit(job, rx).await
    }

    /// Appends an event published by a device (`author`: its member) or written by one of the
    /// relay's routes; the same idempotency key returns the same seq. The relay's own kinds
    /// (`contact.*`, `workspace.*`, `channel.*`, `meta.*`) are always stored in the relay's name
    /// ([`zentro_events::RELAY_AUTHOR`]), which is how desks tell them from a device's.
    pub async fn publish(
        &self,
        workspace_id: &str,
        author: &str,
        kind: &str,
        payload: serde_json::Value,
        idempotency_key: &str,
    ) -> Result<Published, SequencerError> {
        // Its own namespace of keys too, so no device's key can stand in for a route's.
        let (author, key) = match zentro_events::writer_of(kind) {
            Some(zentro_events::Writer::Relay) => (
                zentro_events::RELAY_AUTHOR,
                format!("relay:{idempotency_key}"),
            ),
            _ => (author, format!("team:{idempotency_key}")),
        };
        let (reply, rx) = oneshot::channel();
        let job = Job::Team {
            event: TeamEvent {
                workspace_id: workspace_id.into(),
                author: author.into(),
                kind: kind.into(),
                payload,
                key,
            },
            reply,
        };
        self.submit(job, rx).await
    }
}

/// Which workspace owns a route, remembered briefly so a busy channel costs no lookup per batch.
/// Only found routes are kept (an added channel is seen at once); entries expire after a second.
#[derive(Default)]
struct RouteCache {
    entries: HashMap<(&'static str, String), (String, std::time::Instant)>,
}

impl RouteCache {
    const TTL: std::time::Duration = std::time::Duration::from_secs(1);

    fn get(&self, kind: &'static str, id: &str) -> Option<String> {
        self.entries
            .get(&(kind, id.to_string()))
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(w, _)| w.clone())
    }

    fn put(&mut self, kind: &'static str, id: &str, workspace: &str) {
        if self.entries.len() > 10_000 {
            self.entries.clear();
        }
        self.entries.insert(
            (kind, id.to_string()),
            (workspace.to_string(), std::time::Instant::now()),
        );
    }
}

/// What the writer task works with.
struct WriterState {
    store: Store,
    notifier: Notifier,
    metrics: Arc<Metrics>,
    outcomes: Arc<Outcomes>,
    /// The automation's feed and the consent worker's.
    feeds: [Feed; 2],
}

async fn writer(state: WriterState, mut rx: mpsc::Receiver<Job>) {
    use std::sync::atomic::Ordering::Relaxed;
    let WriterState {
        store,
        notifier,
        metrics,
        outcomes,
        feeds,
    } = state;
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut route_cache = RouteCache::default();
    let mut background = BackgroundLane::default();
    while let Some(idle) = gather(&mut rx, &mut batch, background.patience()).await {
        let (work, pending, mut replies) = Replies::split(std::mem::take(&mut batch));
        let (prompt, behind): (Vec<_>, Vec<_>) =
            pending.into_iter().partition(|p| p.lane == Lane::Prompt);
        background.hold(behind);
        let alone = work.is_empty() && prompt.is_empty();
        let admitted = background.admit(alone);
        let admitted_count = admitted.len();
        if background.held() > 0 {
            metrics.commits_ahead_of_background.fetch_add(1, Relaxed);
        }
        let mut writes = Vec::with_capacity(admitted_count + prompt.len());
        for p in admitted.into_iter().chain(prompt) {
            writes.push(p.writes);
            replies.written.push(p.reply);
        }
        let started = Instant::now();
        let mut grown: HashMap<String, i64> = HashMap::new();
        let only_probes = work.iter().all(|w| matches!(w, Work::Probe));
        let mut fed = Followed::new(&feeds);
        let mut batch_work = BatchWork {
            work: &work,
            writes,
            grown: &mut grown,
            route_cache: &mut route_cache,
            fed: &mut fed,
        };
        let outcome = commit(&store, &metrics, &mut batch_work).await;
        if let Ok(answers) = &outcome {
            // A failed commit teaches nothing of what writes cost, and earns nothing.
            let took = answers.written_took[..admitted_count].iter().sum();
            background.settle(idle, started.elapsed(), took, admitted_count, alone);
        }
        match outcome {
            Ok(answers) => {
                if !only_probes {
                    outcomes.committed_at.store(now_ms(), Relaxed);
                }
                replies.answer(answers);
                for (workspace, seq) in grown {
                    notifier.notify(&workspace, seq);
                }
            }
            Err(error) => {
                // Nothing of the batch was stored: every caller gets an error (Meta will retry).
                tracing::error!(%error, jobs = replies.len(), "committing to the event log failed");
                outcomes.failed_at.store(now_ms(), Relaxed);
                replies.fail(&SequencerError::Store(Arc::new(error)));
            }
        }
    }
}

/// Gathers the next batch's jobs into `batch`: waits for the first one at most `patience` (for
/// ever without: see [`BackgroundLane::patience`]; with background writes held, a batch without
/// jobs runs them, as when the relay stops), then takes whatever else has queued up. How long
/// it waited; `None` once the relay stops with nothing left to write.
async fn gather(
    rx: &mut mpsc::Receiver<Job>,
    batch: &mut Vec<Job>,
    patience: Option<Duration>,
) -> Option<Duration> {
    let waiting = Instant::now();
    match patience {
        None => batch.push(rx.recv().await?),
        Some(patience) => {
            if let Ok(Some(job)) = tokio::time::timeout(patience, rx.recv()).await {
                batch.push(job);
            }
        }
    }
    let idle = waiting.elapsed();
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(idle)
}

/// What a batch did, counted for the metrics once it has committed.
#[derive(Default)]
struct Tally {
    appended: u64,
    duplicates: u64,
    quarantined: u64,
}

/// Webhook items per workspace, in arrival order.
type WorkspaceItems<'a> = Vec<(String, Vec<&'a PreparedItem>)>;

/// The events a batch appends to the workspaces the automation and the consent worker follow,
/// handed to each once the batch has committed (see [`Feed`]).
struct Followed<'f> {
    feeds: Vec<FeedBatch<'f>>,
}

/// What one batch appends to one feed's followed workspaces.
struct FeedBatch<'f> {
    feed: &'f Feed,
    /// Per followed workspace this batch appends to: its first seq and its events, in seq order.
    appended: HashMap<String, (i64, Vec<FedEvent>)>,
    /// Workspaces this batch appends to that this feed does not follow.
    unfollowed: HashSet<String>,
}

impl FeedBatch<'_> {
    /// Whether this feed keeps `workspace`'s events (asked of the feed once a batch).
    fn wants(&mut self, workspace: &str, seq: i64) -> bool {
        if !self.feed.following_any() || self.unfollowed.contains(workspace) {
            return false;
        }
        if !self.appended.contains_key(workspace) {
            if !self.feed.follows(workspace) {
                self.unfollowed.insert(workspace.to_string());
                return false;
            }
            self.appended
                .insert(workspace.to_string(), (seq, Vec::new()));
        }
        true
    }
}

impl<'f> Followed<'f> {
    fn new(feeds: &'f [Feed]) -> Self {
        let feeds = feeds
            .iter()
            .map(|feed| FeedBatch {
                feed,
                appended: HashMap::new(),
                unfollowed: HashSet::new(),
            })
            .collect();
        Self { feeds }
    }

    /// Keeps an appended event for the feeds following its workspace (`fed` computed only
    /// then, once).
    fn add(&mut self, workspace: &str, seq: i64, at: i64, fed: impl FnOnce() -> Fed) {
        let wanting: Vec<usize> = (0..self.feeds.len())
            .filter(|&i| self.feeds[i].wants(workspace, seq))
            .collect();
        let Some((&last, rest)) = wanting.split_last() else {
            return;
        };
        let fed = fed();
        for &i in rest {
            push(&mut self.feeds[i], workspace, seq, at, fed.clone());
        }
        push(&mut self.feeds[last], workspace, seq, at, fed);
    }

    /// Commits `tx`, the feeds told first that these seqs are on their way and then what became
    /// of them (kept if committed, forgotten if not).
    async fn commit(&mut self, tx: Tx) -> Result<(), StoreError> {
        let appended: Vec<_> = self
            .feeds
            .iter_mut()
            .map(|batch| (batch.feed, std::mem::take(&mut batch.appended)))
            .collect();
        for (feed, appended) in &appended {
            for (workspace, (first, _)) in appended {
                feed.committing(workspace, *first);
            }
        }
        let result = tx.commit().await;
        for (feed, appended) in appended {
            for (workspace, (_, events)) in appended {
                let events = if result.is_ok() { events } else { Vec::new() };
                feed.committed(&workspace, events);
            }
        }
        result
    }
}

/// Adds an event to what a batch appends to a followed workspace.
fn push(batch: &mut FeedBatch<'_>, workspace: &str, seq: i64, at: i64, fed: Fed) {
    if let Some((_, events)) = batch.appended.get_mut(workspace) {
        events.push(FedEvent { seq, at, fed });
    }
}

/// What one batch commits, and what it tells afterwards.
struct BatchWork<'b, 'f> {
    work: &'b [Work],
    writes: Vec<Writes>,
    grown: &'b mut HashMap<String, i64>,
    route_cache: &'b mut RouteCache,
    fed: &'b mut Followed<'f>,
}

/// Commits a batch in one transaction: the webhooks first, then everything else in arrival order,
/// then the writes handed in ([`Sequencer::write_in_commit`]).
async fn commit(
    store: &Store,
    metrics: &Metrics,
    batch: &mut BatchWork<'_, '_>,
) -> Result<Answers, StoreError> {
    use std::sync::atomic::Ordering::Relaxed;
    let BatchWork {
        work,
        writes,
        grown,
        route_cache,
        fed,
    } = batch;
    let work: &[Work] = work;
    let mut tx = store.begin().await?;
    let mut tally = Tally::default();
    let now = now_ms();
    let per_workspace = route_webhooks(&mut tx, work, route_cache, &mut tally).await?;
    let written_to: Vec<&str> = writes
        .iter()
        .flat_map(|w| w.workspaces.iter().map(String::as_str))
        .collect();
    lock_appended_workspaces(&mut tx, &per_workspace, work, &written_to).await?;
    append_webhooks(&mut tx, &per_workspace, now, grown, &mut tally, fed).await?;
    let mut answers = write_the_rest(&mut tx, work, now, grown, &mut tally, fed).await?;
    (answers.written, answers.written_took) =
        run_writes(&mut tx, std::mem::take(writes), grown, fed).await?;
    for (workspace, seq) in grown.iter() {
        store::notify_appended(&mut tx, workspace, *seq).await?;
    }
    fed.commit(tx).await?;
    metrics.events_appended.fetch_add(tally.appended, Relaxed);
    metrics
        .webhook_duplicates
        .fetch_add(tally.duplicates, Relaxed);
    metrics
        .webhooks_quarantined
        .fetch_add(tally.quarantined, Relaxed);
    Ok(answers)
}

/// Locks the counter row of every workspace this batch appends to, in id order, until commit
/// (on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already admits one writer). Held to commit, the lock
/// makes one workspace's commits happen in seq order across relay instances, so no stream ever
/// sees a seq before a smaller one commits; taken before the dedup checks, it makes them see
/// everything the previous holder committed (ADR 0012 §2, §3).
async fn lock_appended_workspaces(
    tx: &mut Tx,
    per_workspace: &WorkspaceItems<'_>,
    work: &[Work],
    written_to: &[&str],
) -> Result<(), StoreError> {
    if !tx.is_postgres() {
        return Ok(());
    }
    let mut ids: Vec<&str> = per_workspace.iter().map(|(w, _)| w.as_str()).collect();
    ids.extend(work.iter().filter_map(|w| match w {
        Work::Team(event) => Some(event.workspace_id.as_str()),
        _ => None,
    }));
    ids.extend(written_to);
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    store::lock_workspaces(tx, &ids).await
}

/// Routes every webhook item (one lookup per distinct route) and groups them per workspace, in
/// arrival order, dropping repeats inside the batch and quarantining items no workspace owns.
async fn route_webhooks<'a>(
    tx: &mut Tx,
    work: &'a [Work],
    route_cache: &mut RouteCache,
    tally: &mut Tally,
) -> Result<WorkspaceItems<'a>, StoreError> {
    let mut routes: HashMap<(&'static str, &str), Option<String>> = HashMap::new();
    let mut per_workspace: WorkspaceItems<'a> = Vec::new();
    let mut seen_in_batch: HashSet<(String, &str)> = HashSet::new();
    let items = work.iter().flat_map(|w| match w {
        Work::Webhook(items) => items.as_slice(),
        _ => &[],
    });
    for item in items {
        let Some((kind, id)) = &item.route else {
            store::quarantine_in(
                tx,
                None,
                "the item names no channel",
                &item.key,
                item.envelope.as_bytes(),
            )
            .await?;
            tally.quarantined += 1;
            continue;
        };
        let mut workspace =
            workspace_of(tx, (*kind, id.as_str()), &mut routes, route_cache).await?;
        if workspace.is_none() && tx.is_postgres() {
            workspace = recheck_under_route_lock(tx, (*kind, id.as_str()), &mut routes).await?;
        }
        let Some(workspace) = workspace else {
            store::quarantine_in(
                tx,
                Some((kind, id)),
                "no workspace has this channel",
                &item.key,
                item.envelope.as_bytes(),
            )
            .await?;
            tally.quarantined += 1;
            continue;
        };
        if !seen_in_batch.insert((workspace.clone(), item.key.as_str())) {
            tally.duplicates += 1;
            continue;
        }
        match per_workspace.iter_mut().find(|(w, _)| *w == workspace) {
            Some((_, list)) => list.push(item),
            None => per_workspace.push((workspace, vec![item])),
        }
    }
    Ok(per_workspace)
}

/// On PostgreSQL, before quarantining webhooks of a route nobody seemed to have: locks the route
/// (a channel being added for it holds the same lock until it commits) and looks again, so the
/// webhooks go to a channel committed meanwhile, or are quarantined where that channel's release
/// will find them (`store::lock_route`).
async fn recheck_under_route_lock<'a>(
    tx: &mut Tx,
    route: (&'static str, &'a str),
    routes: &mut HashMap<(&'static str, &'a str), Option<String>>,
) -> Result<Option<String>, StoreError> {
    store::lock_route(tx, route.0, route.1).await?;
    let found = store::workspace_for_route(tx, route.0, route.1).await?;
    routes.insert(route, found.clone());
    Ok(found)
}

/// The workspace a route belongs to: from this batch's lookups, the cache, or the database (then
/// cached when found).
async fn workspace_of<'a>(
    tx: &mut Tx,
    route: (&'static str, &'a str),
    routes: &mut HashMap<(&'static str, &'a str), Option<String>>,
    route_cache: &mut RouteCache,
) -> Result<Option<String>, StoreError> {
    if let Some(workspace) = routes.get(&route) {
        return Ok(workspace.clone());
    }
    let (kind, id) = route;
    let workspace = match route_cache.get(kind, id) {
        Some(w) => Some(w),
        None => {
            let found = store::workspace_for_route(tx, kind, id).await?;
            if let Some(w) = &found {
                route_cache.put(kind, id, w);
            }
            found
        }
    };
    routes.insert(route, workspace.clone());
    Ok(workspace)
}

/// Per workspace: drops redeliveries already in the log, then appends the rest with consecutive
/// seqs in a few multi-row statements.
async fn append_webhooks(
    tx: &mut Tx,
    per_workspace: &WorkspaceItems<'_>,
    now: i64,
    grown: &mut HashMap<String, i64>,
    tally: &mut Tally,
    fed: &mut Followed<'_>,
) -> Result<(), StoreError> {
    for (workspace, items) in per_workspace {
        let keys: Vec<&str> = items.iter().map(|item| item.key.as_str()).collect();
        let existing = store::existing_keys(tx, workspace, &keys).await?;
        let fresh: Vec<&PreparedItem> = items
            .iter()
            .copied()
            .filter(|item| !existing.contains(&item.key))
            .collect();
        tally.duplicates += (items.len() - fresh.len()) as u64;
        if fresh.is_empty() {
            continue;
        }
        let first = store::allocate_seqs(tx, workspace, fresh.len() as i64).await?;
        let rows: Vec<store::NewEvent<'_>> = fresh
            .iter()
            .enumerate()
            .map(|(i, item)| store::NewEvent {
                seq: first + i as i64,
                kind: WEBHOOK_EVENT_KIND,
                at: now,
                dedup_key: &item.key,
                author: None,
                payload: &item.envelope,
                channel_id: None,
            })
            .collect();
        for (i, item) in fresh.iter().enumerate() {
            fed.add(workspace, first + i as i64, now, || match &item.fed {
                Some(fed) => fed.clone(),
                // Prepared before the automation followed anything: as the log would give it.
                None => Fed::Other {
                    kind: WEBHOOK_EVENT_KIND.into(),
                    author: None,
                    payload: serde_json::from_str(&item.envelope)
                        .unwrap_or(serde_json::Value::Null),
                },
            });
        }
        store::insert_events(tx, workspace, &rows).await?;
        let last = first + rows.len() as i64 - 1;
        tally.appended += rows.len() as u64;
        grown.insert(workspace.clone(), last);
    }
    Ok(())
}

/// Everything but webhooks, one by one in arrival order (rare next to webhooks).
async fn write_the_rest(
    tx: &mut Tx,
    work: &[Work],
    now: i64,
    grown: &mut HashMap<String, i64>,
    tally: &mut Tally,
    fed: &mut Followed<'_>,
) -> Result<Answers, StoreError> {
    let mut answers = Answers::default();
    let mut cursors: Vec<&Cursor> = Vec::new();
    let mut probe = false;
    for job in work {
        match job {
            Work::Webhook(_) => {}
            Work::Unparseable { body, reason } => {
                let key = format!("unparseable:{}", hex::encode(&sha2_digest(body)[..16]));
                store::quarantine_in(tx, None, reason, &key, body).await?;
                tally.quarantined += 1;
            }
            Work::Team(event) => {
                let published = append_team_event(tx, event, now, grown, tally).await?;
                if published.created {
                    fed.add(&event.workspace_id, published.seq, now, || Fed::Other {
                        kind: event.kind.clone(),
                        author: Some(event.author.clone()),
                        payload: event.payload.clone(),
                    });
                }
                answers.published.push(published);
            }
            Work::Acknowledge(cursor) => cursors.push(cursor),
            Work::Probe => probe = true,
        }
    }
    answers.acknowledged = acknowledge_all(tx, &cursors, now).await?;
    // Last, once: the probe's row is one row all instances write.
    if probe {
        store::probe_in(tx, now).await?;
    }
    Ok(answers)
}

/// Runs the writes handed in, each under a savepoint: one that fails is undone alone, and its
/// caller told. The workspaces they appended to grow, and the feeds following them get what
/// they appended (as the ingest's events, once the batch has committed). Each one's outcome,
/// and how long each took.
async fn run_writes(
    tx: &mut Tx,
    writes: Vec<Writes>,
    grown: &mut HashMap<String, i64>,
    fed: &mut Followed<'_>,
) -> Result<(Vec<Result<(), SequencerError>>, Vec<Duration>), StoreError> {
    let mut results = Vec::with_capacity(writes.len());
    let mut took = Vec::with_capacity(writes.len());
    for Writes { writes, .. } in writes {
        let started = Instant::now();
        store::savepoint_in(tx, store::Savepoint::Begin).await?;
        match writes(tx).await {
            Ok(appended) => {
                store::savepoint_in(tx, store::Savepoint::Release).await?;
                for (workspace, event) in appended {
                    let last = grown.entry(workspace.clone()).or_insert(event.seq);
                    *last = (*last).max(event.seq);
                    fed.add(&workspace, event.seq, event.at, || event.fed);
                }
                results.push(Ok(()));
            }
            Err(error) => {
                store::savepoint_in(tx, store::Savepoint::RollBack).await?;
                results.push(Err(SequencerError::Store(Arc::new(error))));
            }
        }
        took.push(started.elapsed());
    }
    Ok((results, took))
}

/// Records the cursors, in session order rather than arrival order, so that two instances'
/// batches lock the same sessions' rows in the same order and cannot deadlock; answers in
/// arrival order.
async fn acknowledge_all(
    tx: &mut Tx,
    cursors: &[&Cursor],
    now: i64,
) -> Result<Vec<Option<i64>>, StoreError> {
    let mut order: Vec<usize> = (0..cursors.len()).collect();
    order.sort_by(|a, b| cursors[*a].session_id.cmp(&cursors[*b].session_id));
    let mut acknowledged = vec![None; cursors.len()];
    for i in order {
        let cursor = cursors[i];
        acknowledged[i] = store::acknowledge_in(
            tx,
            &cursor.workspace_id,
            &cursor.session_id,
            cursor.seq,
            now,
        )
        .await?;
    }
    Ok(acknowledged)
}

/// Appends one team event, or finds the seq its idempotency key already has.
async fn append_team_event(
    tx: &mut Tx,
    event: &TeamEvent,
    now: i64,
    grown: &mut HashMap<String, i64>,
    tally: &mut Tally,
) -> Result<Published, StoreError> {
    let TeamEvent {
        workspace_id,
        author,
        kind,
        payload,
        key,
    } = event;
    if let Some(seq) = store::seq_of(tx, workspace_id, key).await? {
        return Ok(Published {
            seq,
            created: false,
        });
    }
    let seq = store::allocate_seqs(tx, workspace_id, 1).await?;
    let payload = payload.to_string();
    let row = store::NewEvent {
        seq,
        kind,
        at: now,
        dedup_key: key,
        author: Some(author),
        payload: &payload,
        channel_id: None,
    };
    store::insert_events(tx, workspace_id, std::slice::from_ref(&row)).await?;
    tally.appended += 1;
    grown.insert(workspace_id.clone(), seq);
    Ok(Published { seq, created: true })
}

fn sha2_digest(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ChannelKind;

    const NUMBER: &str = "106540352242922";

    /// A webhook's items: one customer's text to [`NUMBER`].
    fn a_text(wamid: &str) -> Vec<WebhookItem> {
        let body = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": "1", "phone_number_id": NUMBER },
                "contacts": [{ "profile": { "name": "Ana" }, "wa_id": "34600000001" }],
                "messages": [{ "from": "34600000001", "id": wamid, "timestamp": "1700000000",
                               "type": "text", "text": { "body": "hello" } }]
            }}]}]
        });
        zentro_meta::webhook::parse_value(&body).unwrap()
    }

    /// A store in a new folder (kept while the returned dir lives) with the workspace "Acme";
    /// returns its id.
    async fn acme() -> (tempfile::TempDir, Store, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let ws = store
            .create_workspace("Acme", "owner@acme.test", "Owner", "hash")
            .await
            .unwrap()
            .id;
        (dir, store, ws)
    }

    /// Writes handed to the writer run inside its group commit under a savepoint: writes that
    /// fail are undone alone (their caller is told; the webhooks committed with them stay), and
    /// writes that succeed commit with the batch. The feed gets the webhooks of a followed
    /// workspace, parsed, with the seq and time the log has.
    #[tokio::test]
    async fn writes_in_a_group_commit_that_fail_are_undone_alone() {
        let (_dir, store, ws) = acme().await;
        store
            .add_channel(&ws, ChannelKind::Whatsapp, NUMBER, None, "")
            .await
            .unwrap();
        let sequencer = Sequencer::start(store.clone(), Notifier::default(), Arc::default());
        sequencer.feed().follow(&ws);
        let progress = |cursor: i64| {
            let ws = ws.clone();
            in_commit(move |tx| {
                Box::pin(async move {
                    store::save_automation_progress_in(tx, &ws, cursor, "{}", 1).await?;
                    if cursor < 0 {
                        return Err(StoreError::NotFound("on purpose".into()));
                    }
                    Ok(Vec::new())
                })
            })
        };
        let (failed, webhook) = tokio::join!(
            sequencer.write_in_commit(Lane::Prompt, vec![ws.clone()], progress(-1)),
            sequencer.webhook(a_text("wamid.1")),
        );
        assert!(failed.is_err(), "the caller of failing writes is told");
        webhook.unwrap();
        let stored = store.events_after(&ws, 0, 10).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(
            store.automation_progress(&ws).await.unwrap(),
            None,
            "what the failing writes wrote was undone"
        );
        sequencer
            .write_in_commit(Lane::Prompt, vec![ws.clone()], progress(42))
            .await
            .unwrap();
        let saved = store.automation_progress(&ws).await.unwrap();
        assert_eq!(saved.map(|(cursor, _)| cursor), Some(42));
        let fed = sequencer.feed().take(&ws, 0, 10);
        assert_eq!(fed.len(), 1);
        assert_eq!((fed[0].seq, fed[0].at), (stored[0].seq, stored[0].at));
        assert!(matches!(
            &fed[0].fed,
            Fed::Webhook {
                input: Some(zentro_automation::Input::CustomerMessage { .. }),
                ..
            }
        ));
    }

    /// Background writes yield to webhooks while the writer is saturated, and are never starved:
    /// under a flood of webhooks group commits run while they wait, and still every one commits
    /// while the flood goes on, in the order handed in. With the writer idle, one goes in the
    /// next commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn background_writes_yield_to_a_flood_of_webhooks_but_all_go_in_order() {
        use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
        let (_dir, store, ws) = acme().await;
        store
            .add_channel(&ws, ChannelKind::Whatsapp, NUMBER, None, "")
            .await
            .unwrap();
        let metrics = Arc::new(Metrics::default());
        let sequencer = Sequencer::start(store.clone(), Notifier::default(), metrics.clone());
        let flooding = Arc::new(AtomicBool::new(true));
        let flood: Vec<_> = (0..64)
            .map(|task| {
                let (sequencer, flooding) = (sequencer.clone(), flooding.clone());
                tokio::spawn(async move {
                    let mut n = 0;
                    while flooding.load(Relaxed) {
                        let wamid = format!("wamid.{task}.{n}");
                        sequencer.webhook(a_text(&wamid)).await.unwrap();
                        n += 1;
                    }
                })
            })
            .collect();
        // Each write takes 2 ms of the writer and notes its turn: 80 of them are more than the
        // lane may bank or admit at once (100 ms at an estimate of 2 ms each), so some must wait
        // behind webhooks.
        let ran = Arc::new(Mutex::new(Vec::new()));
        let write = |n: usize| {
            let (ws, ran) = (ws.clone(), ran.clone());
            in_commit(move |tx| {
                Box::pin(async move {
                    store::save_automation_progress_in(tx, &ws, n as i64, "{}", 1).await?;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    ran.lock().unwrap().push(n);
                    Ok(Vec::new())
                })
            })
        };
        while store.events_after(&ws, 0, 200).await.unwrap().len() < 200 {
            tokio::task::yield_now().await;
        }
        let before = metrics.commits_ahead_of_background.load(Relaxed);
        let writes = (1..=80)
            .map(|n| sequencer.write_in_commit(Lane::Background, vec![ws.clone()], write(n)));
        let all = futures_util::future::join_all(writes);
        let written = tokio::time::timeout(Duration::from_secs(120), all)
            .await
            .expect("background writes were starved by the flood");
        let ahead = metrics.commits_ahead_of_background.load(Relaxed) - before;
        flooding.store(false, Relaxed);
        for task in flood {
            task.await.unwrap();
        }
        assert!(written.iter().all(Result::is_ok));
        assert!(ahead > 0, "no background write waited behind the webhooks");
        assert_eq!(
            *ran.lock().unwrap(),
            (1..=80).collect::<Vec<_>>(),
            "out of order"
        );
        let saved = store.automation_progress(&ws).await.unwrap();
        assert_eq!(saved.map(|(cursor, _)| cursor), Some(80));
        let idle = metrics.commits_ahead_of_background.load(Relaxed);
        sequencer
            .write_in_commit(Lane::Background, vec![ws.clone()], write(81))
            .await
            .unwrap();
        assert_eq!(
            metrics.commits_ahead_of_background.load(Relaxed),
            idle,
            "a background write waited with the writer idle"
        );
    }

    /// The channel of each of a workspace's events (the first ten), in seq order.
    async fn channel_ids(store: &Store, ws: &str) -> Result<Vec<Option<String>>, StoreError> {
        let rows = crate::read!(store, access::events_after(ws, 0, 10))?;
        Ok(rows.into_iter().map(|(_, channel)| channel).collect())
    }

    /// The automation's events name their conversation's channel themselves: the same channel
    /// the `events_channel` trigger finds (and none for a channel the workspace does not have),
    /// written with the row, so the trigger need not run (seen with the trigger dropped).
    #[tokio::test]
    async fn appends_naming_their_channel_get_the_id_the_trigger_would_give() {
        let (_dir, store, ws) = acme().await;
        let (channel, _) = store
            .add_channel(&ws, ChannelKind::Whatsapp, NUMBER, None, "")
            .await
            .unwrap();
        let sequencer = Sequencer::start(store.clone(), Notifier::default(), Arc::default());
        let routed = |key: &'static str, number: &'static str, named: bool| {
            let ws = ws.clone();
            in_commit(move |tx| {
                Box::pin(async move {
                    let payload = serde_json::json!({ "type": "routed", "team": "sales",
                        "conversation": { "channel_kind": "whatsapp",
                            "channel_external_id": number, "customer_id": "34600000001" } });
                    let events = [store::NewAppend {
                        kind: "team.routed",
                        dedup_key: key,
                        author: Some("automation:menu"),
                        payload: payload.to_string(),
                    }];
                    let channels = [("whatsapp", number)];
                    let channels: &[(&str, &str)] = if named { &channels } else { &[] };
                    let feed = crate::automation::feed::append_on_channels_in;
                    let (_, appended) = feed(tx, &ws, &events, channels).await?;
                    Ok(appended)
                })
            })
        };
        for (key, number, named) in [
            ("by-trigger", NUMBER, false),
            ("named", NUMBER, true),
            ("by-trigger-elsewhere", "999", false),
            ("named-elsewhere", "999", true),
        ] {
            let writes = routed(key, number, named);
            sequencer
                .write_in_commit(Lane::Prompt, vec![ws.clone()], writes)
                .await
                .unwrap();
        }
        let id = Some(channel.id.clone());
        assert_eq!(
            channel_ids(&store, &ws).await.unwrap(),
            [id.clone(), id.clone(), None, None]
        );
        // Without the trigger, only the events that named their channel have it.
        let drop_trigger = in_commit(|tx| {
            Box::pin(async move {
                let crate::store::Connection::Sqlite(conn) = tx.conn() else {
                    unreachable!("the unit tests run on SQLite")
                };
                sqlx::query("DROP TRIGGER events_channel")
                    .execute(conn)
                    .await?;
                Ok(Vec::new())
            })
        });
        sequencer
            .write_in_commit(Lane::Prompt, Vec::new(), drop_trigger)
            .await
            .unwrap();
        for (key, named) in [("not-named", false), ("named-again", true)] {
            let writes = routed(key, NUMBER, named);
            sequencer
                .write_in_commit(Lane::Prompt, vec![ws.clone()], writes)
                .await
                .unwrap();
        }
        assert_eq!(channel_ids(&store, &ws).await.unwrap()[4..], [None, id]);
    }

    /// What writes in a group commit append reaches every feed following the workspace (the
    /// decider and the consent worker need not read it back from the log), with the seq and time
    /// the log has; what a failing write appended never does.
    #[tokio::test]
    async fn what_writes_append_reaches_the_feeds_and_what_they_undo_does_not() {
        let (_dir, store, ws) = acme().await;
        let sequencer = Sequencer::start(store.clone(), Notifier::default(), Arc::default());
        sequencer.feed().follow(&ws);
        sequencer.consent_feed().follow(&ws);
        let note = |key: &'static str, fail: bool| {
            let ws = ws.clone();
            in_commit(move |tx| {
                Box::pin(async move {
                    let events = [store::NewAppend {
                        kind: "team.note",
                        dedup_key: key,
                        author: Some("automation:test"),
                        payload: r#"{"text":"hi"}"#.into(),
                    }];
                    let (_, appended) =
                        crate::automation::feed::append_in(tx, &ws, &events).await?;
                    if fail {
                        return Err(StoreError::NotFound("on purpose".into()));
                    }
                    Ok(appended)
                })
            })
        };
        let failed = sequencer.write_in_commit(Lane::Prompt, vec![ws.clone()], note("a", true));
        assert!(failed.await.is_err());
        sequencer
            .write_in_commit(Lane::Prompt, vec![ws.clone()], note("b", false))
            .await
            .unwrap();
        let stored = store.events_after(&ws, 0, 10).await.unwrap();
        assert_eq!(stored.len(), 1, "only the write that succeeded appended");
        for feed in [sequencer.feed(), sequencer.consent_feed()] {
            let fed = feed.take(&ws, 0, 10);
            assert_eq!(
                fed.len(),
                1,
                "the feed has what committed, not what was undone"
            );
            assert_eq!((fed[0].seq, fed[0].at), (stored[0].seq, stored[0].at));
            let Fed::Other {
                kind,
                author,
                payload,
            } = &fed[0].fed
            else {
                panic!("a team event is fed as the log has it");
            };
            assert_eq!(
                (kind.as_str(), author.as_deref(), payload),
                ("team.note", stored[0].author.as_deref(), &stored[0].payload)
            );
        }
    }
}
