//! The sequencer: the single writer that gives every event of a workspace the next seq (and
//! records the devices' cursors in the same commits).
//!
//! Handlers hand it jobs over a channel; it commits whatever has queued up in **one**
//! transaction (group commit: one fsync for many webhooks) and only then answers each job, so a
//! webhook is acknowledged to Meta only once it is durable. After each commit it wakes the streams
//! of the workspaces that received events.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use zentro_meta::webhook::WebhookItem;

use crate::metrics::Metrics;
use crate::routing::{WEBHOOK_EVENT_KIND, route_key};
use crate::store::{self, Store, StoreError};

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
}

enum Job {
    Webhook {
        items: Vec<PreparedItem>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Unparseable {
        body: Bytes,
        reason: String,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Team {
        workspace_id: String,
        author: String,
        kind: String,
        payload: serde_json::Value,
        key: String,
        reply: oneshot::Sender<Result<Published, String>>,
    },
    Acknowledge {
        workspace_id: String,
        session_id: String,
        seq: i64,
        reply: oneshot::Sender<Result<Option<i64>, String>>,
    },
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

    fn notify(&self, workspace_id: &str, seq: i64) {
        let senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = senders.get(workspace_id) {
            sender.send_replace(seq);
        }
    }
}

/// The handle handlers use to append.
#[derive(Debug, Clone)]
pub struct Sequencer {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

/// The sequencer could not commit (the database failed or the relay is stopping).
#[derive(Debug, thiserror::Error)]
#[error("the event log could not be written: {0}")]
pub struct AppendError(pub String);

impl Sequencer {
    /// Starts the writer task.
    pub fn start(store: Store, notifier: Notifier, metrics: Arc<Metrics>) -> Self {
        let (tx, rx) = mpsc::channel(8192);
        tokio::spawn(writer(store, notifier, metrics, rx));
        Self { jobs: tx }
    }

    /// Durably stores a verified webhook's items (routing, de-duplicating, quarantining).
    pub async fn webhook(&self, items: Vec<WebhookItem>) -> Result<(), AppendError> {
        let items = items
            .into_iter()
            .map(|item| PreparedItem {
                route: route_key(&item.route).map(|(kind, id)| (kind, id.to_string())),
                envelope: item.envelope.to_string(),
                key: item.key,
            })
            .collect();
        let (reply, rx) = oneshot::channel();
        self.submit(Job::Webhook { items, reply }, rx).await
    }

    /// Durably quarantines a verified body that is not a Meta notification.
    pub async fn unparseable(&self, body: Bytes, reason: String) -> Result<(), AppendError> {
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
    ) -> Result<Option<i64>, AppendError> {
        let (reply, rx) = oneshot::channel();
        let job = Job::Acknowledge {
            workspace_id: workspace_id.into(),
            session_id: session_id.into(),
            seq,
            reply,
        };
        self.submit(job, rx).await
    }

    /// Hands `job` to the writer and waits for its answer on `answer`.
    async fn submit<T>(
        &self,
        job: Job,
        answer: oneshot::Receiver<Result<T, String>>,
    ) -> Result<T, AppendError> {
        let stopping = || AppendError("the relay is stopping".into());
        self.jobs.send(job).await.map_err(|_| stopping())?;
        answer.await.map_err(|_| stopping())?.map_err(AppendError)
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
    ) -> Result<Published, AppendError> {
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
            workspace_id: workspace_id.into(),
            author: author.into(),
            kind: kind.into(),
            payload,
            key,
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

enum Outcome {
    Done,
    Published(Published),
    Acknowledged(Option<i64>),
}

async fn writer(
    store: Store,
    notifier: Notifier,
    metrics: Arc<Metrics>,
    mut rx: mpsc::Receiver<Job>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut route_cache = RouteCache::default();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut grown: HashMap<String, i64> = HashMap::new();
        let result = commit(&store, &metrics, &batch, &mut grown, &mut route_cache).await;
        match result {
            Ok(outcomes) => {
                for (job, outcome) in batch.drain(..).zip(outcomes) {
                    match (job, outcome) {
                        (Job::Webhook { reply, .. } | Job::Unparseable { reply, .. }, _) => {
                            let _ = reply.send(Ok(()));
                        }
                        (Job::Team { reply, .. }, Outcome::Published(p)) => {
                            let _ = reply.send(Ok(p));
                        }
                        (Job::Team { reply, .. }, _) => {
                            let _ = reply.send(Err("no seq".into()));
                        }
                        (Job::Acknowledge { reply, .. }, Outcome::Acknowledged(acked)) => {
                            let _ = reply.send(Ok(acked));
                        }
                        (Job::Acknowledge { reply, .. }, _) => {
                            let _ = reply.send(Err("no cursor".into()));
                        }
                    }
                }
                for (workspace, seq) in grown {
                    notifier.notify(&workspace, seq);
                }
            }
            Err(error) => {
                // Nothing of the batch was stored: every caller gets an error (Meta will retry).
                tracing::error!(%error, jobs = batch.len(), "committing to the event log failed");
                let message = error.to_string();
                for job in batch.drain(..) {
                    match job {
                        Job::Webhook { reply, .. } | Job::Unparseable { reply, .. } => {
                            let _ = reply.send(Err(message.clone()));
                        }
                        Job::Team { reply, .. } => {
                            let _ = reply.send(Err(message.clone()));
                        }
                        Job::Acknowledge { reply, .. } => {
                            let _ = reply.send(Err(message.clone()));
                        }
                    }
                }
            }
        }
    }
}

async fn commit(
    store: &Store,
    metrics: &Metrics,
    batch: &[Job],
    grown: &mut HashMap<String, i64>,
    route_cache: &mut RouteCache,
) -> Result<Vec<Outcome>, StoreError> {
    use std::sync::atomic::Ordering::Relaxed;
    let mut tx = store.begin().await?;
    let (mut appended, mut duplicates, mut quarantined) = (0u64, 0u64, 0u64);
    let now = store::now_ms();

    // 1. Route every webhook item (one lookup per distinct route) and group them per workspace,
    //    in arrival order, dropping repeats inside the batch.
    let mut routes: HashMap<(&'static str, &str), Option<String>> = HashMap::new();
    let mut per_workspace: Vec<(String, Vec<(&str, &str)>)> = Vec::new();
    let mut seen_in_batch: HashSet<(String, &str)> = HashSet::new();
    for job in batch {
        let Job::Webhook { items, .. } = job else {
            continue;
        };
        for item in items {
            let Some((kind, id)) = &item.route else {
                store::quarantine_in(
                    &mut tx,
                    None,
                    "the item names no channel",
                    &item.key,
                    item.envelope.as_bytes(),
                )
                .await?;
                quarantined += 1;
                continue;
            };
            let workspace = match routes.get(&(*kind, id.as_str())) {
                Some(w) => w.clone(),
                None => {
                    let w = match route_cache.get(kind, id) {
                        Some(w) => Some(w),
                        None => {
                            let found = store::workspace_for_route(&mut tx, kind, id).await?;
                            if let Some(w) = &found {
                                route_cache.put(kind, id, w);
                            }
                            found
                        }
                    };
                    routes.insert((*kind, id.as_str()), w.clone());
                    w
                }
            };
            let Some(workspace) = workspace else {
                store::quarantine_in(
                    &mut tx,
                    Some((kind, id)),
                    "no workspace has this channel",
                    &item.key,
                    item.envelope.as_bytes(),
                )
                .await?;
                quarantined += 1;
                continue;
            };
            if !seen_in_batch.insert((workspace.clone(), item.key.as_str())) {
                duplicates += 1;
                continue;
            }
            match per_workspace.iter_mut().find(|(w, _)| *w == workspace) {
                Some((_, list)) => list.push((item.key.as_str(), item.envelope.as_str())),
                None => per_workspace
                    .push((workspace, vec![(item.key.as_str(), item.envelope.as_str())])),
            }
        }
    }

    // 2. Per workspace: drop redeliveries already in the log, then append the rest with
    //    consecutive seqs in a few multi-row statements.
    for (workspace, items) in &per_workspace {
        let keys: Vec<&str> = items.iter().map(|(k, _)| *k).collect();
        let existing = store::existing_keys(&mut tx, workspace, &keys).await?;
        let fresh: Vec<&(&str, &str)> = items
            .iter()
            .filter(|(k, _)| !existing.contains(*k))
            .collect();
        duplicates += (items.len() - fresh.len()) as u64;
        if fresh.is_empty() {
            continue;
        }
        let first = store::allocate_seqs(&mut tx, workspace, fresh.len() as i64).await?;
        let rows: Vec<store::NewEvent<'_>> = fresh
            .iter()
            .enumerate()
            .map(|(i, (key, envelope))| store::NewEvent {
                seq: first + i as i64,
                kind: WEBHOOK_EVENT_KIND,
                at: now,
                dedup_key: key,
                author: None,
                payload: envelope,
            })
            .collect();
        store::insert_events(&mut tx, workspace, &rows).await?;
        let last = first + rows.len() as i64 - 1;
        appended += rows.len() as u64;
        grown.insert(workspace.clone(), last);
    }

    // 3. Everything else, one by one (rare next to webhooks).
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        match job {
            Job::Webhook { .. } => outcomes.push(Outcome::Done),
            Job::Unparseable { body, reason, .. } => {
                let key = format!("unparseable:{}", hex::encode(&sha2_digest(body)[..16]));
                store::quarantine_in(&mut tx, None, reason, &key, body).await?;
                quarantined += 1;
                outcomes.push(Outcome::Done);
            }
            Job::Team {
                workspace_id,
                author,
                kind,
                payload,
                key,
                ..
            } => {
                if let Some(seq) = store::seq_of(&mut tx, workspace_id, key).await? {
                    outcomes.push(Outcome::Published(Published {
                        seq,
                        created: false,
                    }));
                    continue;
                }
                let seq = store::allocate_seqs(&mut tx, workspace_id, 1).await?;
                let payload = payload.to_string();
                let row = store::NewEvent {
                    seq,
                    kind,
                    at: now,
                    dedup_key: key,
                    author: Some(author),
                    payload: &payload,
                };
                store::insert_events(&mut tx, workspace_id, std::slice::from_ref(&row)).await?;
                appended += 1;
                grown.insert(workspace_id.clone(), seq);
                outcomes.push(Outcome::Published(Published { seq, created: true }));
            }
            Job::Acknowledge {
                workspace_id,
                session_id,
                seq,
                ..
            } => {
                let acked =
                    store::acknowledge_in(&mut tx, workspace_id, session_id, *seq, now).await?;
                outcomes.push(Outcome::Acknowledged(acked));
            }
        }
    }
    tx.commit().await?;
    metrics.events_appended.fetch_add(appended, Relaxed);
    metrics.webhook_duplicates.fetch_add(duplicates, Relaxed);
    metrics.webhooks_quarantined.fetch_add(quarantined, Relaxed);
    Ok(outcomes)
}

fn sha2_digest(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}
