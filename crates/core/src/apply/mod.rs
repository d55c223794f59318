//! Applying the relay's events to the cache.
//!
//! A batch of events is applied in **one** transaction together with the sync cursor, so a crash
//! leaves either all of it or none. Applying an event twice changes nothing: messages are keyed
//! by Meta's ids, statuses only move forward, reactions and edits overwrite, team events are keyed
//! by their seq. Several messages from one customer at once (an album) land in one conversation
//! (one active conversation per contact, enforced by a unique index; the apply is the only writer).
//!
//! Messages and delivery statuses are stored in runs: a run of messages costs a handful of
//! set-based statements (channels, contacts, conversations, messages), whatever its length, with
//! triggers keeping the search index and the conversation summaries in step; a run of statuses is
//! folded forward per message and written in one statement. Other items apply one by one, in order.
//!
//! Where each kind of event is applied: `messages` (Meta's messages, reactions, edits, unsends),
//! `statuses` (delivery statuses and receipts), `team` (team events, one function per kind) and
//! `relay` (the relay's own events: sent replies, retention, erasure, the automation's setup and
//! members' presence).

mod consent;
mod messages;
mod relay;
mod statuses;
mod team;

use serde::Deserialize;
use sqlx::{Sqlite, Transaction};
use zentro_events::clock::now_ms;
use zentro_meta::webhook::{self, Event, Platform, Route, Status};

use crate::cache::{Cache, CacheError};

use messages::MessageRow;
pub use statuses::{apply_pending_status, status_advances};

/// An event of the relay's log for this device's workspace.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RelayEvent {
    /// Position in the workspace's log.
    pub seq: i64,
    /// `meta.webhook` or a team event kind.
    pub kind: String,
    /// When the relay appended it (UTC ms).
    pub at: i64,
    /// The member who published a team event (set by the relay, never by the device).
    #[serde(default)]
    pub author: Option<String>,
    /// The event's JSON (for `meta.webhook`, Meta's own shape).
    pub payload: serde_json::Value,
}

impl RelayEvent {
    /// A `meta.webhook` event at `seq` carrying Meta's JSON (how the relay forwards a webhook).
    pub fn webhook(seq: i64, payload: serde_json::Value) -> Self {
        Self {
            seq,
            kind: "meta.webhook".into(),
            at: 0,
            author: None,
            payload,
        }
    }
}

/// What applying a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Events applied now.
    pub applied: usize,
    /// Events skipped because the cursor was already past them.
    pub skipped: usize,
    /// Events of kinds this version does not handle, or about conversations this cache does not
    /// have (kept moving; nothing stored).
    pub ignored: usize,
    /// The cursor after the batch.
    pub cursor: i64,
}

type Tx = Transaction<'static, Sqlite>;

/// Where this device is in a workspace's log.
pub async fn cursor(cache: &Cache, workspace_id: &str) -> Result<i64, CacheError> {
    Ok(sqlx::query_scalar!(
        "SELECT applied_seq FROM sync_cursors WHERE workspace_id = ?",
        workspace_id
    )
    .fetch_optional(cache.pool())
    .await?
    .unwrap_or(0))
}

/// Applies `events` (in seq order) and moves the cursor, all in one transaction.
pub async fn apply_batch(
    cache: &Cache,
    workspace_id: &str,
    events: &[RelayEvent],
) -> Result<ApplyReport, CacheError> {
    cache.restart_wal_if_large().await;
    let mut tx: Tx = cache.pool().begin_with("BEGIN IMMEDIATE").await?;
    let mut cursor: i64 = sqlx::query_scalar!(
        "SELECT applied_seq FROM sync_cursors WHERE workspace_id = ?",
        workspace_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .unwrap_or(0);
    let mut report = ApplyReport::default();
    let mut runs = Runs::default();
    for event in events {
        if event.seq <= cursor {
            report.skipped += 1;
            continue;
        }
        if apply_event(&mut tx, &mut runs, event).await? {
            report.applied += 1;
        } else {
            report.ignored += 1;
        }
        cursor = event.seq;
    }
    runs.flush(&mut tx).await?;
    let now = now_ms();
    sqlx::query!(
        r#"
        INSERT INTO sync_cursors (workspace_id, applied_seq, updated_at)
        VALUES (?, ?, ?)
        ON CONFLICT (workspace_id) DO UPDATE SET
            applied_seq = excluded.applied_seq,
            updated_at = excluded.updated_at
        "#,
        workspace_id,
        cursor,
        now
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    cache.checkpoint_soon();
    report.cursor = cursor;
    Ok(report)
}

/// Applies one event by its kind; `false` when it is ignored (a kind this version does not
/// handle, a payload that does not parse or validate, or something this cache does not have).
async fn apply_event(tx: &mut Tx, runs: &mut Runs, event: &RelayEvent) -> Result<bool, CacheError> {
    // The relay's own kinds count only when the relay wrote them (its routes stamp the
    // author): a device could never publish them, and a desk does not take one that claims to.
    if zentro_events::writer_of(&event.kind) == Some(zentro_events::Writer::Relay)
        && !zentro_events::written_by_relay(event.author.as_deref())
    {
        tracing::warn!(seq = event.seq, kind = %event.kind, "ignored: a relay event the relay did not write");
        return Ok(false);
    }
    match event.kind.as_str() {
        "meta.webhook" => {
            apply_webhook(tx, runs, event).await?;
            Ok(true)
        }
        zentro_events::MESSAGE_SENT => relay::apply_message_sent(tx, runs, event).await,
        crate::rights::RETENTION_EVENT => relay::apply_retention(tx, runs, event).await,
        crate::rights::CONTACT_ERASED => relay::apply_erasure(tx, runs, event).await,
        zentro_events::WORKSPACE_AUTOMATION => relay::apply_automation_setup(tx, runs, event).await,
        zentro_events::WORKSPACE_PRESENCE => relay::apply_presence(tx, runs, event).await,
        zentro_events::WORKSPACE_ASSIST => relay::apply_assist_settings(tx, runs, event).await,
        zentro_events::WORKSPACE_CAMPAIGN => relay::apply_campaign(tx, runs, event).await,
        kind if kind.starts_with(crate::actions::KIND_PREFIX) => team::apply(tx, runs, event).await,
        _ => Ok(false),
    }
}

/// Meta's webhook as the relay forwarded it: messages and statuses join the current runs, every
/// other item is applied on its own, in order.
async fn apply_webhook(tx: &mut Tx, runs: &mut Runs, event: &RelayEvent) -> Result<(), CacheError> {
    let items = webhook::parse_value(&event.payload).unwrap_or_default();
    for item in &items {
        match &item.event {
            Event::Message(message) => runs.messages.extend(messages::message_row(item, message)),
            Event::Status(status) => runs.statuses.push(status.clone()),
            _ => {
                runs.flush(tx).await?;
                messages::apply_item(tx, item).await?;
            }
        }
    }
    Ok(())
}

/// The cache's channel id for a channel: `<kind>:<Meta id>`.
fn channel_id(platform: Platform, external_id: &str) -> String {
    format!("{}:{external_id}", platform.as_str())
}

/// The Meta id of the channel an item came in on.
fn channel_external_id(route: &Route) -> Option<&str> {
    match route {
        Route::WhatsAppPhoneNumber(id) | Route::Page(id) | Route::InstagramAccount(id) => Some(id),
        Route::WhatsAppAccount(_) | Route::Unroutable => None,
    }
}

/// Messages and statuses waiting to be stored together, until an item that is applied on its own
/// (or the end of the batch).
///
/// The two may interleave in Meta's order and still be stored as two runs, messages first: a
/// status only ever moves its own message forward, and one that came before its message ends the
/// same either way (waiting in `pending_statuses` until the message is stored, or applied to it).
#[derive(Default)]
struct Runs {
    messages: Vec<MessageRow>,
    statuses: Vec<Status>,
}

impl Runs {
    /// Stores the waiting messages, then the waiting statuses.
    async fn flush(&mut self, tx: &mut Tx) -> Result<(), CacheError> {
        messages::store_messages(tx, &mut self.messages).await?;
        statuses::store_statuses(tx, &mut self.statuses).await
    }
}
