//! A signed-in desk: the cache of one workspace, kept in step with its relay while the app runs.
//!
//! [`Desk::start`] spawns the background work the app (or any long-running client) needs:
//! - **sync**: follow the relay's stream from the stored cursor, apply, acknowledge, reconnect;
//! - **outbox**: send queued replies through Meta, announce the accepted ones (`message.sent`);
//! - **team**: publish queued team events in order;
//! - **media**: fetch WhatsApp media that arrived;
//! - **profiles**: name Messenger and Instagram customers (their webhooks carry only an id).
//!
//! Everything the UI shows comes from the cache; the desk only tells listeners *that* something
//! changed ([`DeskEvent`]), so they re-read what they display. Each loop waits on a short timer
//! or a nudge (a reply was queued), and survives network failures: work stays queued in the
//! cache until it succeeds.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;
use zentro_events::clock::now_ms;
use zentro_meta::AccessToken;
use zentro_meta::graph::GraphClient;

use crate::actions::{self, TeamError, TeamEvent};
use crate::cache::Cache;
use crate::members::Member;
use crate::outbox::{self, MessageSent, OutboxError};
use crate::relay_client::{RelayClient, SyncError};
use crate::sync::{self, Progress};
use crate::vault::Secret;

/// Gives the Meta token of a cache channel id (from the keychain, or the sandbox's memory).
pub type TokenSource = Arc<dyn Fn(&str) -> Option<AccessToken> + Send + Sync>;

/// Something listeners should know: re-read, or show the new sync state.
#[derive(Debug, Clone, PartialEq)]
pub enum DeskEvent {
    /// The cache changed (events applied, a reply queued or sent, media stored).
    Changed,
    /// How sync is doing.
    Sync(SyncState),
}

/// The connection to the relay, as the status bar shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncState {
    /// Connecting, or catching up.
    CatchingUp(Progress),
    /// Up to date and following live.
    Live,
    /// Up to date and following live, after the relay had pruned events this device never
    /// received: every erasure it remembers was applied, and what remains synced. Shown to
    /// people (older conversations may lack messages) until the desk restarts.
    Resynced(crate::gaps::Resync),
    /// The relay could not be reached; retrying on its own.
    Offline {
        /// What went wrong, for people.
        reason: String,
    },
    /// The relay no longer accepts this device: sign in again.
    SignedOut,
    /// The owner terminated the workspace: its data was deleted from this computer.
    Terminated {
        /// Files deleted.
        files: usize,
        /// Keychain entries deleted.
        keychain_entries: usize,
    },
    /// Following live; the member lost or was given channels: a lost channel's data was deleted
    /// from this computer, a given one's history fetched ([`crate::channel_access`]).
    ChannelAccess(crate::channel_access::AccessChange),
}

/// What a desk is connected to.
pub struct DeskConfig {
    /// The workspace's cache.
    pub cache: Cache,
    /// The workspace's relay, for the event stream, team events and channel tokens.
    pub relay: RelayClient,
    /// This device's relay token.
    pub token: Secret,
    /// The relay's id of the workspace this cache belongs to.
    pub workspace_id: String,
    /// Who is signed in.
    pub member: Member,
    /// Meta's Graph API (or the sandbox's stand-in).
    pub graph: GraphClient,
    /// Channel tokens.
    pub tokens: TokenSource,
    /// Where media files are stored.
    pub data_dir: PathBuf,
    /// The keychain that keeps the team's channel tokens, fetched from the relay (`None` in the
    /// sandbox, whose tokens live in memory).
    pub channel_keychain: Option<crate::vault::Vault>,
}

/// Instagram files are shared through the workspace's relay, for Meta to fetch.
impl outbox::FileLinks for DeskConfig {
    fn share<'a>(
        &'a self,
        file_name: &'a str,
        mime: &'a str,
        bytes: Vec<u8>,
    ) -> futures_util::future::BoxFuture<'a, Result<String, zentro_meta::graph::GraphError>> {
        Box::pin(async move {
            use zentro_meta::graph::GraphError;
            self.relay
                .share_file(&self.token, file_name, mime, bytes)
                .await
                .map_err(|error| match error {
                    SyncError::Network(reason) => GraphError::Unreachable(format!(
                        "the relay could not be reached to pass the file to Instagram ({reason})"
                    )),
                    other => GraphError::InvalidInput(format!(
                        "the relay did not take the file for Instagram: {other}"
                    )),
                })
        })
    }
}

/// Background upkeep: whether the channel tokens must be compared with the relay's, and when
/// retention was last enforced.
#[derive(Default)]
struct KeptTokens {
    stale: std::sync::atomic::AtomicBool,
    retention_checked_at: std::sync::atomic::AtomicI64,
}

/// How often the desk looks for new customer messages to label automatically.
const AUTO_LABELS_EVERY: Duration = Duration::from_secs(2);

/// How often retention periods are enforced.
const RETENTION_EVERY_MS: i64 = 10 * 60 * 1000;

/// A running desk. Dropping it does not stop it; call [`Desk::stop`].
pub struct Desk {
    config: Arc<DeskConfig>,
    events: broadcast::Sender<DeskEvent>,
    nudge: Arc<Notify>,
    state: Arc<Mutex<SyncState>>,
    stop: CancellationToken,
    tasks: tokio_util::task::TaskTracker,
    teammates: Mutex<Vec<crate::members::Teammate>>,
    kept: Arc<KeptTokens>,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk")
            .field("workspace_id", &self.config.workspace_id)
            .field("member", &self.config.member.id)
            .finish_non_exhaustive()
    }
}

impl Desk {
    /// Starts the background work on the current tokio runtime.
    pub fn start(config: DeskConfig) -> Self {
        let (events, _) = broadcast::channel(256);
        let desk = Self {
            config: Arc::new(config),
            events,
            nudge: Arc::new(Notify::new()),
            state: Arc::new(Mutex::new(SyncState::CatchingUp(Progress {
                cursor: 0,
                applied: 0,
                behind: 0,
                rate: 0.0,
                caught_up: false,
                channel_changes: 0,
                resynced: None,
            }))),
            stop: CancellationToken::new(),
            tasks: tokio_util::task::TaskTracker::new(),
            teammates: Mutex::new(Vec::new()),
            kept: Arc::new(KeptTokens {
                stale: std::sync::atomic::AtomicBool::new(true),
                ..KeptTokens::default()
            }),
        };
        desk.spawn_sync();
        desk.spawn_senders();
        desk.spawn_auto_labels();
        desk
    }

    /// The cache this desk keeps.
    pub fn cache(&self) -> &Cache {
        &self.config.cache
    }

    /// Who is signed in.
    pub fn member(&self) -> &Member {
        &self.config.member
    }

    /// What an AI assist request needs of this desk: the relay, the cache, the workspace and the
    /// keychain that keeps the provider's key ([`crate::assist_requests`]).
    pub fn assist(&self) -> crate::assist_requests::AssistAccess<'_> {
        crate::assist_requests::AssistAccess {
            relay: &self.config.relay,
            token: &self.config.token,
            workspace_id: &self.config.workspace_id,
            cache: &self.config.cache,
            keychain: self.config.channel_keychain.as_ref(),
        }
    }

    /// The relay and this device's token, for team administration (members, devices, the audit
    /// log, channels); the relay checks the member's role on every call.
    pub fn relay_access(&self) -> (&RelayClient, &Secret) {
        (&self.config.relay, &self.config.token)
    }

    /// The team's channels changed (one was just connected from this device): bring the channel
    /// tokens in the keychain up to date now rather than after the next sync.
    pub fn channels_changed(&self) {
        self.kept
            .stale
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.nudge.notify_one();
    }

    /// The workspace's members (from the relay; the last list when it is unreachable).
    pub async fn members(&self) -> Result<Vec<crate::members::Teammate>, SyncError> {
        match self.config.relay.members(&self.config.token).await {
            Ok(list) => {
                *self
                    .teammates
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = list.clone();
                Ok(list)
            }
            Err(error) => {
                let known = self
                    .teammates
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                if known.is_empty() {
                    Err(error)
                } else {
                    Ok(known)
                }
            }
        }
    }

    /// The sync state now.
    pub fn sync_state(&self) -> SyncState {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Listens to changes and sync states.
    pub fn subscribe(&self) -> broadcast::Receiver<DeskEvent> {
        self.events.subscribe()
    }

    /// Queues a reply (checked against the 24-hour window first) and sends it as soon as it can.
    pub async fn reply(
        &self,
        conversation_id: i64,
        text: &str,
        reply_to: Option<&str>,
    ) -> Result<String, OutboxError> {
        let client_id = outbox::queue_reply(
            &self.config.cache,
            &self.config.member.id,
            conversation_id,
            text,
            reply_to,
            now_ms(),
        )
        .await?;
        Ok(self.queued(client_id))
    }

    /// Tells the UI the cache changed and wakes the sender for what was just queued (`id`).
    fn queued(&self, id: String) -> String {
        let _ = self.events.send(DeskEvent::Changed);
        self.nudge.notify_one();
        id
    }

    /// The approved WhatsApp templates this conversation's number may send (asks Meta).
    pub async fn templates(
        &self,
        conversation_id: i64,
    ) -> Result<Vec<zentro_meta::graph::MessageTemplate>, OutboxError> {
        outbox::templates(
            &self.config.cache,
            &self.config.graph,
            self.config.tokens.as_ref(),
            conversation_id,
        )
        .await
    }

    /// Queues a template with its variables (`body` is the template's text, rendered for the
    /// thread); it goes out as soon as it can.
    pub async fn send_template(
        &self,
        conversation_id: i64,
        choice: outbox::TemplateChoice,
        body: &str,
    ) -> Result<String, OutboxError> {
        let preview = outbox::render_template(body, &choice.variables);
        let id = outbox::queue_template(
            &self.config.cache,
            &self.config.member.id,
            conversation_id,
            choice,
            &preview,
            now_ms(),
        )
        .await?;
        Ok(self.queued(id))
    }

    /// Keeps the file, shows it in the thread and sends it with `caption` as soon as it can.
    pub async fn attach(
        &self,
        conversation_id: i64,
        attachment: outbox::Attachment,
        caption: &str,
    ) -> Result<String, OutboxError> {
        let id = outbox::queue_attachment(
            &self.config.cache,
            &self.config.data_dir,
            &self.config.member.id,
            conversation_id,
            attachment,
            caption,
            now_ms(),
        )
        .await?;
        Ok(self.queued(id))
    }

    /// Tries a failed reply again (see [`outbox::retry`]); returns the attempt's client id.
    pub async fn retry(&self, client_id: &str) -> Result<String, OutboxError> {
        let id = outbox::retry(
            &self.config.cache,
            &self.config.member.id,
            client_id,
            now_ms(),
        )
        .await?;
        Ok(self.queued(id))
    }

    /// Queues a team event (assign, status, note, label, contact edit) and publishes it as soon as
    /// it can; every device, this one included, applies it when it comes back from the relay.
    pub async fn act(&self, event: &TeamEvent) -> Result<String, TeamError> {
        let key = actions::queue(&self.config.cache, event, now_ms()).await?;
        self.nudge.notify_one();
        Ok(key)
    }

    /// Erases a customer everywhere (admins): the relay purges and tells every device, then this
    /// device erases them at once.
    pub async fn erase_contact(
        &self,
        contact_id: i64,
    ) -> Result<crate::rights::ErasureReceipt, crate::rights::ErasureError> {
        let receipt = crate::rights::erase_everywhere(
            &self.config.cache,
            &self.config.relay,
            &self.config.token,
            contact_id,
        )
        .await?;
        let _ = self.events.send(DeskEvent::Changed);
        Ok(receipt)
    }

    /// Resolves once the desk was stopped.
    pub async fn stopped(&self) {
        self.stop.cancelled().await;
    }

    /// Stops the background work and waits for it.
    pub async fn stop(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }

    fn set_state(&self, state: SyncState) {
        Self::publish_state(&self.state, &self.events, state);
    }

    fn publish_state(
        slot: &Mutex<SyncState>,
        events: &broadcast::Sender<DeskEvent>,
        state: SyncState,
    ) {
        let mut current = slot.lock().unwrap_or_else(PoisonError::into_inner);
        if *current != state {
            *current = state.clone();
            let _ = events.send(DeskEvent::Sync(state));
        }
    }

    /// Follows the relay in the background, publishing how sync is doing, until it stops or the
    /// relay ends this device's access (see [`sync_ended`]).
    fn spawn_sync(&self) {
        let (config, stop, nudge, kept) = (
            self.config.clone(),
            self.stop.clone(),
            self.nudge.clone(),
            self.kept.clone(),
        );
        let status = SyncStatus {
            state: self.state.clone(),
            events: self.events.clone(),
        };
        self.tasks.spawn(async move {
            let mut on_progress = progress_reporter(status.clone(), nudge, kept);
            let mut on_interrupt = |error: &SyncError| status.publish(offline(error));
            let result = sync::follow_reporting(
                &config.cache,
                &config.relay,
                &config.token,
                &config.workspace_id,
                &stop,
                &mut on_progress,
                &mut on_interrupt,
            )
            .await;
            if let Err(error) = result {
                sync_ended(&config, &status, &stop, error).await;
            }
        });
    }

    /// One loop for everything that goes out (replies, team events) and media that come in: it
    /// runs every few seconds, and at once when nudged.
    fn spawn_senders(&self) {
        let (config, events, stop, nudge, kept) = (
            self.config.clone(),
            self.events.clone(),
            self.stop.clone(),
            self.nudge.clone(),
            self.kept.clone(),
        );
        self.tasks.spawn(async move {
            loop {
                refresh_tokens(&config, &kept, &events).await;
                enforce_retention(&config, &kept, &events).await;
                if let Err(error) = send_once(&config, &events).await {
                    tracing::warn!(%error, "sending queued work failed; will retry");
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = nudge.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(3)) => {}
                }
            }
        });
    }

    /// Labels new customer messages in the background when an owner turned automatic labels on
    /// ([`crate::auto_labels`]): a round every [`AUTO_LABELS_EVERY`]; what it queues goes out with
    /// the next team events (nudged).
    fn spawn_auto_labels(&self) {
        let (config, stop, nudge) = (self.config.clone(), self.stop.clone(), self.nudge.clone());
        self.tasks.spawn(async move {
            let mut pause = crate::auto_labels::ProviderPause::default();
            loop {
                let access = crate::assist_requests::AssistAccess {
                    relay: &config.relay,
                    token: &config.token,
                    workspace_id: &config.workspace_id,
                    cache: &config.cache,
                    keychain: config.channel_keychain.as_ref(),
                };
                let round = tokio::select! {
                    _ = stop.cancelled() => return,
                    round = crate::auto_labels::label_new_messages(&access, &config.member.id, now_ms(), &mut pause) => round,
                };
                match round {
                    Ok(round) if round.labelled > 0 => nudge.notify_one(),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "automatic labels could not run; will retry"),
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(AUTO_LABELS_EVERY) => {}
                }
            }
        });
    }

    /// Used by tests and the app's shutdown: marks the desk as stopped for the status bar.
    pub fn mark_offline(&self, reason: &str) {
        self.set_state(SyncState::Offline {
            reason: reason.to_string(),
        });
    }
}

/// The sync state's slot and the channel it is announced on, as the sync task holds them.
#[derive(Clone)]
struct SyncStatus {
    state: Arc<Mutex<SyncState>>,
    events: broadcast::Sender<DeskEvent>,
}

impl SyncStatus {
    /// Keeps `state` and tells listeners, when it changed.
    fn publish(&self, state: SyncState) {
        Desk::publish_state(&self.state, &self.events, state);
    }
}

/// The sync state after `error`: offline, with the reason for people.
fn offline(error: &SyncError) -> SyncState {
    SyncState::Offline {
        reason: error.to_string(),
    }
}

/// What sync's progress sets off: the channel tokens marked stale when channels changed,
/// listeners told and the senders nudged when events were applied (new media to fetch, statuses
/// for the outbox), and the state published (catching up, live, or live after a resync).
fn progress_reporter(
    status: SyncStatus,
    nudge: Arc<Notify>,
    kept: Arc<KeptTokens>,
) -> impl FnMut(Progress) + Send {
    let mut resynced = None;
    move |p: Progress| {
        if p.resynced.is_some() {
            resynced = p.resynced;
        }
        if p.channel_changes > 0 {
            kept.stale.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        if p.applied > 0 {
            let _ = status.events.send(DeskEvent::Changed);
            nudge.notify_one();
        }
        let next = if p.caught_up {
            resynced.map_or(SyncState::Live, SyncState::Resynced)
        } else {
            SyncState::CatchingUp(p)
        };
        status.publish(next);
    }
}

/// Sync stopped with `error`: a terminated workspace is forgotten, a signed-out device drops
/// what it kept, anything else shows as offline.
async fn sync_ended(
    config: &DeskConfig,
    status: &SyncStatus,
    stop: &CancellationToken,
    error: SyncError,
) {
    match error {
        SyncError::WorkspaceTerminated => {
            forget_terminated_workspace(config, status).await;
            // Nothing is left to send or fetch.
            stop.cancel();
        }
        SyncError::Unauthorized => {
            sign_out_device(config).await;
            status.publish(SyncState::SignedOut)
        }
        error => status.publish(offline(&error)),
    }
}

/// The owner terminated the workspace: its data and this device's keychain entries go, and the
/// state says what was deleted.
async fn forget_terminated_workspace(config: &DeskConfig, status: &SyncStatus) {
    let entry = crate::vault::Vault::device_entry(config.relay.base_url(), &config.member.email);
    let done = crate::account::forget_workspace(
        &config.data_dir,
        config.cache.clone(),
        config.channel_keychain.as_ref(),
        &entry,
    )
    .await;
    status.publish(SyncState::Terminated {
        files: done.files,
        keychain_entries: done.keychain_entries,
    });
}

/// Signed out, revoked or removed: no customer's file stays opened here, and this device keeps
/// no channel token any more.
async fn sign_out_device(config: &DeskConfig) {
    crate::customer_files::shred_all_copies(&config.data_dir).await;
    if let Some(vault) = &config.channel_keychain {
        match crate::channel_tokens::forget_all(&config.cache, vault).await {
            Ok(n) => tracing::info!(
                removed = n,
                "device signed out: channel tokens removed from the keychain"
            ),
            Err(error) => {
                tracing::warn!(%error, "could not remove channel tokens from the keychain")
            }
        }
    }
}

/// Enforces the workspace's retention periods now and then, and reports what it deleted to the
/// audit log (counts only).
async fn enforce_retention(
    config: &DeskConfig,
    kept: &KeptTokens,
    events: &broadcast::Sender<DeskEvent>,
) {
    use std::sync::atomic::Ordering;
    let now = now_ms();
    if now - kept.retention_checked_at.load(Ordering::SeqCst) < RETENTION_EVERY_MS {
        return;
    }
    kept.retention_checked_at.store(now, Ordering::SeqCst);
    match crate::rights::enforce_retention(&config.cache, now).await {
        Ok(report) if report != crate::rights::RetentionReport::default() => {
            let _ = events.send(DeskEvent::Changed);
            let details = serde_json::to_value(report).unwrap_or_default();
            if let Err(error) = config
                .relay
                .report(
                    &config.token,
                    "data.retention",
                    "retention periods",
                    details,
                )
                .await
            {
                tracing::warn!(%error, "could not report the retention run to the audit log");
            }
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "enforcing retention failed; will retry"),
    }
}

/// Fetches or forgets channel tokens when the log said they changed (and once at start).
async fn refresh_tokens(
    config: &DeskConfig,
    kept: &KeptTokens,
    events: &broadcast::Sender<DeskEvent>,
) {
    use std::sync::atomic::Ordering;
    if !kept.stale.swap(false, Ordering::SeqCst) {
        return;
    }
    // The channels this member may use: a lost one's data goes, a given one's history comes.
    match crate::channel_access::reconcile(
        &config.cache,
        &config.relay,
        &config.token,
        &config.workspace_id,
    )
    .await
    {
        Ok(change) if !change.is_empty() => {
            let _ = events.send(DeskEvent::Changed);
            let _ = events.send(DeskEvent::Sync(SyncState::ChannelAccess(change)));
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%error, "could not bring channel access up to date; will retry");
            kept.stale.store(true, Ordering::SeqCst);
        }
    }
    let Some(vault) = &config.channel_keychain else {
        return;
    };
    if let Err(error) =
        crate::channel_tokens::refresh(&config.cache, &config.relay, &config.token, vault).await
    {
        tracing::warn!(%error, "could not update the channel tokens; will retry");
        kept.stale.store(true, Ordering::SeqCst);
    }
}

/// Meta refused sends on these channels (190, lost permission): the relay checks them at Meta and,
/// when it agrees, tells every device the channel is disconnected. Best effort: the periodic
/// check finds it too.
async fn report_refused_channels(config: &DeskConfig, cache_ids: &[String]) {
    let channels = match config.relay.channels(&config.token).await {
        Ok(c) => c,
        Err(error) => {
            tracing::warn!(%error, "could not report a refused channel to the relay");
            return;
        }
    };
    for channel in channels
        .iter()
        .filter(|c| cache_ids.contains(&c.cache_id()))
    {
        match config.relay.check_channel(&config.token, &channel.id).await {
            Ok(checked) => {
                tracing::info!(channel = %checked.id, health = %checked.health, "a refused channel was checked")
            }
            Err(error) => tracing::warn!(%error, "the relay could not check a refused channel"),
        }
    }
}

async fn send_once(
    config: &DeskConfig,
    events: &broadcast::Sender<DeskEvent>,
) -> Result<(), String> {
    let now = now_ms();
    let report = outbox::deliver_due_with_links(
        &config.cache,
        &config.graph,
        config.tokens.as_ref(),
        Some(config),
        now,
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut changed = report.failed + report.ambiguous > 0 || !report.accepted.is_empty();
    if !report.refused_channels.is_empty() {
        report_refused_channels(config, &report.refused_channels).await;
    }
    // Erasures applied from the log: their media files and the WAL.
    crate::rights::cleanup(&config.cache)
        .await
        .map_err(|e| e.to_string())?;
    changed |= actions::wake_snoozed(&config.cache, now)
        .await
        .map_err(|e| e.to_string())?
        > 0;
    announce_sent(config, &report.accepted, now).await?;
    publish_team_events(config).await?;
    changed |= fetch_incoming(config, now).await?;
    if changed {
        let _ = events.send(DeskEvent::Changed);
    }
    Ok(())
}

/// Queues a `message.sent` for every reply Meta accepted. Announced through the team queue: if
/// the relay is unreachable now, it goes out later, once.
async fn announce_sent(
    config: &DeskConfig,
    accepted: &[MessageSent],
    now: i64,
) -> Result<(), String> {
    for sent in accepted {
        let payload = serde_json::to_value(sent).map_err(|e| e.to_string())?;
        actions::queue_announcement(
            &config.cache,
            "message.sent",
            &payload,
            &sent.client_id,
            now,
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Publishes the queued team events, if any wait.
async fn publish_team_events(config: &DeskConfig) -> Result<(), String> {
    if actions::waiting(&config.cache)
        .await
        .map_err(|e| e.to_string())?
        > 0
    {
        actions::flush(&config.cache, &config.relay, &config.token)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Fetches what came in without its content: WhatsApp media files, and the names of Messenger
/// and Instagram customers (up to 20 of each). Returns whether the cache changed.
async fn fetch_incoming(config: &DeskConfig, now: i64) -> Result<bool, String> {
    let media = crate::media::download_due(
        &config.cache,
        &config.graph,
        config.tokens.as_ref(),
        &config.data_dir,
        now,
        20,
    )
    .await
    .map_err(|e| e.to_string())?;
    let named = crate::profiles::fetch_missing(
        &config.cache,
        &config.graph,
        config.tokens.as_ref(),
        now,
        20,
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(media.stored > 0 || named > 0)
}

/// Why the desk of a data directory could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Nobody signed in here (no `account.json`).
    #[error("nobody is signed in on this computer")]
    NoAccount,
    /// The keychain holds no device token for the account: sign in again.
    #[error("this computer's sign-in is missing from the keychain; sign in again")]
    NoToken,
    /// The keychain could not be used.
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    /// The account file or cache could not be read.
    #[error("{0}")]
    Local(String),
}

/// Starts the desk of the member signed in to `data_dir` (see `zentro login`): its cache, its
/// device token from `vault`, channel tokens from `vault`, and Meta's Graph API
/// (`ZENTRO_GRAPH_URL` points it at a stand-in).
pub async fn open_signed_in(
    data_dir: &std::path::Path,
    vault: crate::vault::Vault,
) -> Result<Desk, OpenError> {
    use crate::account::Account;
    use crate::vault::Vault;

    let account = Account::load(data_dir)
        .map_err(|e| OpenError::Local(format!("could not read the account file: {e}")))?
        .ok_or(OpenError::NoAccount)?;
    let entry = Vault::device_entry(&account.relay_url, &account.email);
    let reader = vault.clone();
    let token = tokio::task::spawn_blocking(move || reader.read(&entry))
        .await
        .map_err(|e| OpenError::Local(e.to_string()))??
        .ok_or(OpenError::NoToken)?;
    let cache = Cache::open_in(data_dir)
        .await
        .map_err(|e| OpenError::Local(e.to_string()))?;
    let relay =
        RelayClient::new(&account.relay_url).map_err(|e| OpenError::Local(e.to_string()))?;
    let graph_url = std::env::var("ZENTRO_GRAPH_URL")
        .unwrap_or_else(|_| zentro_meta::platform::GRAPH_BASE_URL.to_string());
    let graph = GraphClient::new(&graph_url).map_err(|e| OpenError::Local(e.to_string()))?;
    let keychain = vault.clone();
    let tokens: TokenSource = Arc::new(move |channel: &str| {
        vault
            .read(&Vault::channel_entry(channel))
            .ok()
            .flatten()
            .map(|s| AccessToken::new(s.expose()))
    });
    Ok(Desk::start(DeskConfig {
        cache,
        relay,
        token,
        workspace_id: account.workspace_id.clone(),
        member: Member {
            id: account.member_id.clone(),
            email: account.email.clone(),
            display_name: account.member_name.clone(),
            role: account.role,
        },
        graph,
        tokens,
        data_dir: data_dir.to_path_buf(),
        channel_keychain: Some(keychain),
    }))
}
