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

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{Sqlite, Transaction};
use zentro_meta::webhook::{
    self, Content, DeliveryState, Direction, Event, Message, Platform, Route, Status, WebhookItem,
};

use crate::cache::{Cache, CacheError};
use crate::team::{ContactRef, TeamEvent};

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
        // The relay's own kinds count only when the relay wrote them (its routes stamp the
        // author): a device could never publish them, and a desk does not take one that claims to.
        if zentro_events::writer_of(&event.kind) == Some(zentro_events::Writer::Relay)
            && !zentro_events::written_by_relay(event.author.as_deref())
        {
            tracing::warn!(seq = event.seq, kind = %event.kind, "ignored: a relay event the relay did not write");
            report.ignored += 1;
            cursor = event.seq;
            continue;
        }
        match event.kind.as_str() {
            "meta.webhook" => {
                let items = webhook::parse_value(&event.payload).unwrap_or_default();
                for item in &items {
                    match &item.event {
                        Event::Message(m) => runs.messages.extend(message_row(item, m)),
                        Event::Status(s) => runs.statuses.push(s.clone()),
                        _ => {
                            runs.flush(&mut tx).await?;
                            apply_item(&mut tx, item).await?;
                        }
                    }
                }
                report.applied += 1;
            }
            zentro_events::MESSAGE_SENT => {
                match serde_json::from_value::<crate::outbox::MessageSent>(event.payload.clone()) {
                    Ok(mut sent) if sent.validate().is_ok() => {
                        // Who sent it is who published it, not what the payload claims.
                        if let Some(author) = &event.author {
                            sent.author_member_id.clone_from(author);
                        }
                        runs.flush(&mut tx).await?;
                        apply_message_sent(&mut tx, &sent).await?;
                        report.applied += 1;
                    }
                    _ => report.ignored += 1,
                }
            }
            crate::rights::RETENTION_EVENT => {
                match serde_json::from_value::<crate::rights::Retention>(event.payload.clone()) {
                    Ok(retention) if retention_in_range(&retention) => {
                        runs.flush(&mut tx).await?;
                        crate::rights::apply_retention(&mut tx, &retention, event.at).await?;
                        report.applied += 1;
                    }
                    Ok(retention) => {
                        tracing::warn!(
                            seq = event.seq,
                            ?retention,
                            "ignored: a retention period outside 1 to 3650 days"
                        );
                        report.ignored += 1;
                    }
                    Err(_) => report.ignored += 1,
                }
            }
            crate::rights::CONTACT_ERASED => {
                match serde_json::from_value::<crate::rights::ErasureNotice>(event.payload.clone())
                {
                    Ok(notice) => {
                        runs.flush(&mut tx).await?;
                        crate::rights::apply_erasure(&mut tx, &notice).await?;
                        report.applied += 1;
                    }
                    Err(_) => report.ignored += 1,
                }
            }
            kind if kind.starts_with(crate::team::KIND_PREFIX) => {
                match serde_json::from_value::<TeamEvent>(event.payload.clone()) {
                    Ok(team) if team.kind() == kind && team.validate().is_ok() => {
                        runs.flush(&mut tx).await?;
                        if apply_team(&mut tx, event, &team).await? {
                            report.applied += 1;
                        } else {
                            report.ignored += 1;
                        }
                    }
                    _ => report.ignored += 1,
                }
            }
            _ => report.ignored += 1,
        }
        cursor = event.seq;
    }
    runs.flush(&mut tx).await?;
    let now = now_ms();
    sqlx::query!("INSERT INTO sync_cursors (workspace_id, applied_seq, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (workspace_id) DO UPDATE SET applied_seq = excluded.applied_seq, updated_at = excluded.updated_at", workspace_id, cursor, now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    cache.checkpoint_soon();
    report.cursor = cursor;
    Ok(report)
}

/// Whether announced retention periods are ones the relay allows ([`crate::rights::RETENTION_DAYS`],
/// or kept): a desk never deletes on a period below a day, whatever reaches it.
fn retention_in_range(retention: &crate::rights::Retention) -> bool {
    [retention.conversation_days, retention.media_days]
        .into_iter()
        .flatten()
        .all(|days| crate::rights::RETENTION_DAYS.contains(&days))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
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

/// A message ready to be stored: one element of the JSON array a run is inserted from.
///
/// Only what the message statement reads is serialized, and absent values are left out: SQLite
/// walks an element's keys for every `->>`, so a text message's 7 keys cost far less than all 28.
/// The channel and customer fields feed [`distinct_channels`] and [`CustomerRow`] instead.
#[derive(Debug, Serialize)]
struct MessageRow {
    channel_id: String,
    /// WhatsApp: the Business Account (the webhook's entry id).
    #[serde(skip)]
    account_id: Option<String>,
    #[serde(skip)]
    channel_kind: &'static str,
    #[serde(skip)]
    channel_external_id: String,
    customer_id: String,
    #[serde(skip)]
    name: Option<String>,
    #[serde(skip)]
    phone: Option<String>,
    #[serde(skip)]
    username: Option<String>,
    #[serde(skip)]
    parent_user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<String>,
    direction: &'static str,
    kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    caption: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_mime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quoted: Option<String>,
    at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    /// WhatsApp media: the file is fetched from Meta and kept (Instagram keeps only the URL).
    #[serde(skip)]
    download: bool,
}

fn message_row(item: &WebhookItem, m: &Message) -> Option<MessageRow> {
    let external = channel_external_id(&item.route)?;
    let s = stored(&m.content);
    let inbound = m.direction == Direction::Inbound;
    let download = m.platform == Platform::WhatsApp && s.media_id.is_some();
    let account_id = (m.platform == Platform::WhatsApp)
        .then(|| {
            item.envelope
                .pointer("/entry/0/id")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .flatten();
    Some(MessageRow {
        account_id,
        channel_id: channel_id(m.platform, external),
        channel_kind: m.platform.as_str(),
        channel_external_id: external.to_string(),
        customer_id: m.customer.id.clone(),
        name: m.customer.name.clone().filter(|n| !n.is_empty()),
        phone: m.customer.phone.clone(),
        username: m.customer.username.clone(),
        parent_user_id: m.customer.parent_user_id.clone(),
        external_id: Some(m.id.clone()),
        client_id: None,
        author: None,
        direction: if inbound { "inbound" } else { "outbound" },
        raw: matches!(m.content, Content::Unsupported { .. }).then(|| item.envelope.to_string()),
        quoted: m.context.as_ref().and_then(|c| c.quoted_id.clone()),
        at: m.sent_at.timestamp_millis(),
        status: (!inbound).then_some("sent"),
        download,
        kind: s.kind,
        body: s.body,
        caption: s.caption,
        file_name: s.file_name,
        media_id: s.media_id,
        media_url: s.media_url,
        media_mime: s.media_mime,
        media_sha256: s.media_sha256,
    })
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
        store_messages(tx, &mut self.messages).await?;
        store_statuses(tx, &mut self.statuses).await
    }
}

/// A message's delivery state as known before a run of statuses, and what the run makes of it.
struct Delivery {
    /// Whether the message row exists (else the state waits in `pending_statuses`).
    stored: bool,
    state: Option<DeliveryState>,
    changed: bool,
    error_code: Option<i64>,
    error_message: Option<String>,
    at: i64,
}

impl Delivery {
    /// What the cache holds for a message before the run (`stored`: in `messages`).
    fn before(stored: bool, state: Option<DeliveryState>) -> Self {
        Self {
            stored,
            state,
            changed: false,
            error_code: None,
            error_message: None,
            at: 0,
        }
    }
}

/// Applies a run of statuses with a fixed number of statements: sends recognised by their client
/// id get Meta's id, each message's state is folded forward in order (see [`status_advances`]),
/// and the final states are written at once — to the messages, or to `pending_statuses` for
/// messages not here yet. Then empties `statuses`.
async fn store_statuses(tx: &mut Tx, statuses: &mut Vec<Status>) -> Result<(), CacheError> {
    if statuses.is_empty() {
        return Ok(());
    }
    // A send whose outcome was unknown (a timeout) is recognised by its client id.
    let claims: Vec<serde_json::Value> = statuses
        .iter()
        .filter_map(|s| {
            s.callback_data
                .as_ref()
                .map(|client_id| json!({ "id": s.message_id, "client_id": client_id }))
        })
        .collect();
    if !claims.is_empty() {
        let claims = json!(claims).to_string();
        let claimed: Vec<Option<String>> = sqlx::query_scalar!("UPDATE messages SET external_id = r.value ->> 'id'
             FROM json_each(?1) r WHERE messages.client_id = r.value ->> 'client_id' AND messages.external_id IS NULL
             RETURNING messages.client_id", claims)
            .fetch_all(&mut **tx)
            .await?;
        if !claimed.is_empty() {
            let claimed = json!(claimed).to_string();
            sqlx::query!("UPDATE outbox SET state = 'accepted', last_error = NULL
                 WHERE client_id IN (SELECT value FROM json_each(?1)) AND state IN ('ambiguous', 'sending')", claimed)
                .execute(&mut **tx)
                .await?;
        }
    }
    // Where each message stands now.
    let ids = json!(
        statuses
            .iter()
            .map(|s| s.message_id.as_str())
            .collect::<Vec<_>>()
    )
    .to_string();
    let mut known: HashMap<String, Delivery> = HashMap::new();
    for row in sqlx::query!(r#"SELECT external_id AS "external_id!", delivery_status FROM messages WHERE external_id IN (SELECT value FROM json_each(?1))"#, ids)
        .fetch_all(&mut **tx)
        .await?
    {
        let state = row.delivery_status.filter(|c| c != "pending").map(|c| DeliveryState::parse(&c));
        known.insert(row.external_id, Delivery::before(true, state));
    }
    for row in sqlx::query!("SELECT external_id, status FROM pending_statuses WHERE external_id IN (SELECT value FROM json_each(?1))", ids)
        .fetch_all(&mut **tx)
        .await?
    {
        known
            .entry(row.external_id)
            .or_insert_with(|| Delivery::before(false, Some(DeliveryState::parse(&row.status))));
    }
    // Forward only, in the order Meta reported them.
    for status in statuses.iter() {
        let delivery = known
            .entry(status.message_id.clone())
            .or_insert_with(|| Delivery::before(false, None));
        if status_advances(delivery.state.as_ref(), &status.state) {
            let error = status
                .errors
                .first()
                .filter(|_| status.state == DeliveryState::Failed);
            delivery.state = Some(status.state.clone());
            delivery.changed = true;
            delivery.error_code = error.map(|e| e.code);
            delivery.error_message = error.map(|e| {
                e.details
                    .clone()
                    .or_else(|| e.message.clone())
                    .unwrap_or_default()
            });
            delivery.at = status.at.timestamp_millis();
        }
    }
    let (mut updates, mut pending) = (Vec::new(), Vec::new());
    for (id, d) in known.iter().filter(|(_, d)| d.changed) {
        let row = json!({ "id": id, "status": d.state.as_ref().map(DeliveryState::as_str), "code": d.error_code, "message": d.error_message, "at": d.at });
        if d.stored {
            updates.push(row)
        } else {
            pending.push(row)
        }
    }
    if !updates.is_empty() {
        let updates = json!(updates).to_string();
        sqlx::query!("UPDATE messages SET delivery_status = r.value ->> 'status', status_at = r.value ->> 'at',
                 error_code = r.value ->> 'code', error_message = r.value ->> 'message'
             FROM json_each(?1) r WHERE messages.external_id = r.value ->> 'id'", updates)
            .execute(&mut **tx)
            .await?;
    }
    if !pending.is_empty() {
        let pending = json!(pending).to_string();
        sqlx::query!("INSERT INTO pending_statuses (external_id, status, error_code, error_message, at)
             SELECT r.value ->> 'id', r.value ->> 'status', r.value ->> 'code', r.value ->> 'message', r.value ->> 'at' FROM json_each(?1) r WHERE true
             ON CONFLICT (external_id) DO UPDATE SET status = excluded.status, error_code = excluded.error_code,
                 error_message = excluded.error_message, at = excluded.at", pending)
            .execute(&mut **tx)
            .await?;
    }
    statuses.clear();
    Ok(())
}

/// A run's customer as the contact and conversation statements read it (a small JSON element:
/// SQLite converts an element to text for every field it reads).
#[derive(Serialize)]
struct CustomerRow<'a> {
    channel_id: &'a str,
    customer_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_user_id: Option<&'a str>,
    at: i64,
}

impl<'a> CustomerRow<'a> {
    fn of(row: &'a MessageRow) -> Self {
        Self {
            channel_id: &row.channel_id,
            customer_id: &row.customer_id,
            name: row.name.as_deref(),
            phone: row.phone.as_deref(),
            username: row.username.as_deref(),
            parent_user_id: row.parent_user_id.as_deref(),
            at: row.at,
        }
    }
}

/// The channels a run came in on, each once, with the Business Account if any row named one.
fn distinct_channels(rows: &[MessageRow]) -> Vec<serde_json::Value> {
    let mut channels: Vec<(&str, &str, &str, Option<&str>)> = Vec::new();
    for row in rows {
        match channels.iter_mut().find(|c| c.0 == row.channel_id) {
            Some(channel) => channel.3 = channel.3.max(row.account_id.as_deref()),
            None => channels.push((
                &row.channel_id,
                row.channel_kind,
                &row.channel_external_id,
                row.account_id.as_deref(),
            )),
        }
    }
    channels
        .into_iter()
        .map(|(id, kind, external_id, account_id)| {
            json!({ "channel_id": id, "channel_kind": kind, "channel_external_id": external_id, "account_id": account_id })
        })
        .collect()
}

/// Stores a run of messages (and their channels, contacts and conversations) with a fixed number
/// of statements, then empties `rows`.
async fn store_messages(tx: &mut Tx, rows: &mut Vec<MessageRow>) -> Result<(), CacheError> {
    if rows.is_empty() {
        return Ok(());
    }
    let data = serde_json::to_string(&*rows).unwrap_or_else(|_| "[]".into());
    let customers = serde_json::to_string(&rows.iter().map(CustomerRow::of).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into());
    let now = now_ms();
    // Channels: created on first sight; a WhatsApp number learns its Business Account.
    let channels = json!(distinct_channels(rows)).to_string();
    sqlx::query!("INSERT INTO channels (id, kind, external_id, account_id, created_at)
         SELECT r.value ->> 'channel_id', r.value ->> 'channel_kind', r.value ->> 'channel_external_id', r.value ->> 'account_id', ?2
         FROM json_each(?1) r WHERE true
         ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id
         WHERE excluded.account_id IS NOT NULL AND channels.account_id IS NOT excluded.account_id", channels, now)
    .execute(&mut **tx)
    .await?;
    // Contacts: new ones are created; known ones only change when Meta says something new (so
    // an unchanged contact costs no write and no search-index churn).
    sqlx::query!("WITH r AS MATERIALIZED (SELECT key, jsonb(value) AS value FROM json_each(?1))
         INSERT INTO contacts (channel_id, external_id, display_name, phone, username, parent_user_id, created_at, updated_at)
         SELECT r.value ->> 'channel_id', r.value ->> 'customer_id', coalesce(r.value ->> 'name', ''), r.value ->> 'phone',
                r.value ->> 'username', r.value ->> 'parent_user_id', ?2, ?2
         FROM r WHERE true ORDER BY r.key
         ON CONFLICT (channel_id, external_id) DO UPDATE SET
             display_name = CASE WHEN excluded.display_name <> '' THEN excluded.display_name ELSE contacts.display_name END,
             phone = coalesce(excluded.phone, contacts.phone),
             username = coalesce(excluded.username, contacts.username),
             parent_user_id = coalesce(excluded.parent_user_id, contacts.parent_user_id),
             updated_at = excluded.updated_at
         WHERE (excluded.display_name <> '' AND excluded.display_name IS NOT contacts.display_name)
            OR (excluded.phone IS NOT NULL AND excluded.phone IS NOT contacts.phone)
            OR (excluded.username IS NOT NULL AND excluded.username IS NOT contacts.username)
            OR (excluded.parent_user_id IS NOT NULL AND excluded.parent_user_id IS NOT contacts.parent_user_id)", customers, now)
    .execute(&mut **tx)
    .await?;
    // A contact's first message opens their conversation; later ones reuse it.
    sqlx::query!("WITH r AS MATERIALIZED (SELECT key, jsonb(value) AS value FROM json_each(?1))
         INSERT INTO conversations (contact_id, last_activity_at, created_at)
         SELECT k.id, min(r.value ->> 'at'), min(r.value ->> 'at')
         FROM r JOIN contacts k ON k.channel_id = r.value ->> 'channel_id' AND k.external_id = r.value ->> 'customer_id'
         WHERE NOT EXISTS (SELECT 1 FROM conversations c WHERE c.contact_id = k.id)
         GROUP BY k.id ORDER BY min(r.key)", customers)
    .execute(&mut **tx)
    .await?;
    // Into the contact's active conversation, else their latest. Redeliveries (and this device's
    // own sends, already recorded) conflict and are skipped.
    sqlx::query!("WITH r AS MATERIALIZED (SELECT key, jsonb(value) AS value FROM json_each(?1)) INSERT INTO messages (conversation_id, external_id, client_id, author_member_id, direction, kind, body, caption, file_name,
                               media_id, media_url, media_mime, media_sha256, raw, quoted_external_id, sent_at, delivery_status)
         SELECT coalesce((SELECT c.id FROM conversations c WHERE c.contact_id = k.id AND c.status <> 'resolved'),
                         (SELECT c.id FROM conversations c WHERE c.contact_id = k.id ORDER BY c.last_activity_at DESC, c.id DESC LIMIT 1)),
                r.value ->> 'external_id', r.value ->> 'client_id', r.value ->> 'author', r.value ->> 'direction', r.value ->> 'kind',
                r.value ->> 'body', r.value ->> 'caption', r.value ->> 'file_name', r.value ->> 'media_id', r.value ->> 'media_url',
                r.value ->> 'media_mime', r.value ->> 'media_sha256', r.value ->> 'raw', r.value ->> 'quoted', r.value ->> 'at',
                r.value ->> 'status'
         FROM r JOIN contacts k ON k.channel_id = r.value ->> 'channel_id' AND k.external_id = r.value ->> 'customer_id'
         WHERE true ORDER BY r.key
         ON CONFLICT DO NOTHING", data)
    .execute(&mut **tx)
    .await?;
    // WhatsApp media to fetch: new messages, and redeliveries of ones whose file is still missing.
    let downloads: Vec<&str> = rows
        .iter()
        .filter(|r| r.download)
        .filter_map(|r| r.external_id.as_deref())
        .collect();
    if !downloads.is_empty() {
        let downloads_json = json!(downloads).to_string();
        sqlx::query!("INSERT INTO media_downloads (message_id, next_attempt_at)
             SELECT m.id, ?2 FROM messages m WHERE m.external_id IN (SELECT value FROM json_each(?1)) AND m.media_path IS NULL
             ON CONFLICT (message_id) DO UPDATE SET next_attempt_at = min(media_downloads.next_attempt_at, excluded.next_attempt_at)", downloads_json, now)
        .execute(&mut **tx)
        .await?;
    }
    // Statuses that overtook their (outbound) message apply now. (A redelivered message has none
    // waiting: its statuses applied when it first arrived.)
    let outbound: Vec<&str> = rows
        .iter()
        .filter(|r| r.direction == "outbound")
        .filter_map(|r| r.external_id.as_deref())
        .collect();
    if !outbound.is_empty() {
        let outbound_json = json!(outbound).to_string();
        let waiting: Vec<String> = sqlx::query_scalar!("SELECT external_id FROM pending_statuses WHERE external_id IN (SELECT value FROM json_each(?))", outbound_json)
        .fetch_all(&mut **tx)
        .await?;
        for external_id in waiting {
            apply_pending_in(tx, &external_id).await?;
        }
    }
    rows.clear();
    Ok(())
}

/// The cache's contact for a reference: its id and person key.
async fn contact_in(
    tx: &mut Tx,
    target: &ContactRef,
) -> Result<Option<(i64, Option<String>)>, CacheError> {
    let row = sqlx::query!(
        r#"SELECT k.id AS "id!", k.person_key FROM contacts k JOIN channels ch ON ch.id = k.channel_id
           WHERE ch.kind = ? AND ch.external_id = ? AND k.external_id = ?"#,
        target.channel_kind,
        target.channel_external_id,
        target.customer_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(|r| (r.id, r.person_key)))
}

/// The cache's conversation for a reference: the contact's active one, else their latest.
async fn conversation_for(tx: &mut Tx, target: &ContactRef) -> Result<Option<i64>, CacheError> {
    Ok(sqlx::query_scalar!(r#"SELECT c.id AS "id!" FROM channels ch JOIN contacts k ON k.channel_id = ch.id JOIN conversations c ON c.contact_id = k.id
         WHERE ch.kind = ? AND ch.external_id = ? AND k.external_id = ?
         ORDER BY c.status <> 'resolved' DESC, c.last_activity_at DESC, c.id DESC LIMIT 1"#, target.channel_kind, target.channel_external_id, target.customer_id)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Applies a team event; `false` when the conversation or contact is not in this cache.
async fn apply_team(tx: &mut Tx, event: &RelayEvent, team: &TeamEvent) -> Result<bool, CacheError> {
    let actor = event.author.clone().unwrap_or_default();
    let (conversation, kind, detail) = match team {
        TeamEvent::Assigned {
            conversation,
            assignee,
        } => {
            let Some(id) = conversation_for(tx, conversation).await? else {
                return Ok(false);
            };
            sqlx::query!(
                "UPDATE conversations SET assignee_id = ? WHERE id = ?",
                assignee,
                id
            )
            .execute(&mut **tx)
            .await?;
            (id, "assigned", json!({ "assignee": assignee }))
        }
        TeamEvent::StatusChanged {
            conversation,
            status,
            snoozed_until,
        } => {
            let Some(id) = conversation_for(tx, conversation).await? else {
                return Ok(false);
            };
            let until = (*status == crate::team::ConversationStatus::Snoozed)
                .then_some(*snoozed_until)
                .flatten();
            let status_name = status.as_str();
            sqlx::query!(
                "UPDATE conversations SET status = ?, snoozed_until = ? WHERE id = ?",
                status_name,
                until,
                id
            )
            .execute(&mut **tx)
            .await?;
            (
                id,
                "status",
                json!({ "status": status.as_str(), "snoozed_until": until }),
            )
        }
        TeamEvent::NoteAdded {
            conversation,
            note_id,
            body,
            mentions,
            at,
        } => {
            let Some(id) = conversation_for(tx, conversation).await? else {
                return Ok(false);
            };
            let mentions_json = json!(mentions).to_string();
            sqlx::query!("INSERT INTO notes (id, conversation_id, author_member_id, body, mentions, created_at) VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO NOTHING", note_id, id, actor, body, mentions_json, at)
            .execute(&mut **tx)
            .await?;
            return Ok(true);
        }
        TeamEvent::Labeled {
            conversation,
            label,
            added,
        } => {
            let Some(id) = conversation_for(tx, conversation).await? else {
                return Ok(false);
            };
            let label = label.trim();
            if *added {
                sqlx::query!(
                    "INSERT INTO labels (name) VALUES (?) ON CONFLICT (name) DO NOTHING",
                    label
                )
                .execute(&mut **tx)
                .await?;
                sqlx::query!("INSERT INTO conversation_labels (conversation_id, label_id) SELECT ?, id FROM labels WHERE name = ? ON CONFLICT DO NOTHING", id, label)
                    .execute(&mut **tx)
                    .await?;
            } else {
                sqlx::query!("DELETE FROM conversation_labels WHERE conversation_id = ? AND label_id = (SELECT id FROM labels WHERE name = ?)", id, label)
                    .execute(&mut **tx)
                    .await?;
            }
            (
                id,
                if *added { "labeled" } else { "unlabeled" },
                json!({ "label": label }),
            )
        }
        TeamEvent::CannedReplySaved { shortcut, body } => {
            sqlx::query!(
                "INSERT INTO canned_replies (shortcut, body, updated_by, updated_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (shortcut) DO UPDATE SET body = excluded.body, updated_by = excluded.updated_by,
                     updated_at = excluded.updated_at",
                shortcut,
                body,
                actor,
                event.at
            )
            .execute(&mut **tx)
            .await?;
            return Ok(true);
        }
        TeamEvent::CannedReplyDeleted { shortcut } => {
            sqlx::query!("DELETE FROM canned_replies WHERE shortcut = ?", shortcut)
                .execute(&mut **tx)
                .await?;
            return Ok(true);
        }
        TeamEvent::ContactEdited { contact, changes } => {
            let attributes =
                serde_json::to_string(&changes.attributes).unwrap_or_else(|_| "{}".into());
            let display_name = changes.display_name.as_deref().map(str::trim);
            let email = changes.email.is_some();
            let email2 = changes.email.clone().flatten();
            let restricted = changes.restricted;
            let updated = sqlx::query!("UPDATE contacts SET
                     display_name = coalesce(?1, display_name),
                     email = CASE WHEN ?2 THEN ?3 ELSE email END,
                     attributes = json_patch(attributes, ?4),
                     restricted = coalesce(?9, restricted),
                     updated_at = ?5
                 WHERE channel_id = (SELECT id FROM channels WHERE kind = ?6 AND external_id = ?7) AND external_id = ?8", display_name, email, email2, attributes, event.at, contact.channel_kind, contact.channel_external_id, contact.customer_id, restricted)
            .execute(&mut **tx)
            .await?;
            return Ok(updated.rows_affected() > 0);
        }
        TeamEvent::ContactsLinked { contact, with } => {
            let (Some(one), Some(other)) =
                (contact_in(tx, contact).await?, contact_in(tx, with).await?)
            else {
                // A contact this device does not have (a channel it does not see).
                return Ok(false);
            };
            let key = one.1.unwrap_or_else(|| contact.person_key());
            let joined = other.1.unwrap_or_else(|| with.person_key());
            sqlx::query!(
                "UPDATE contacts SET person_key = ?1 WHERE id IN (?2, ?3) OR person_key = ?4",
                key,
                one.0,
                other.0,
                joined
            )
            .execute(&mut **tx)
            .await?;
            return Ok(true);
        }
        TeamEvent::ContactUnlinked { contact } => {
            let Some((id, Some(key))) = contact_in(tx, contact).await? else {
                return Ok(false);
            };
            sqlx::query!("UPDATE contacts SET person_key = NULL WHERE id = ?", id)
                .execute(&mut **tx)
                .await?;
            // A person of one identity is just a contact again.
            sqlx::query!(
                "UPDATE contacts SET person_key = NULL WHERE person_key = ?1
                 AND (SELECT count(*) FROM contacts WHERE person_key = ?1) = 1",
                key
            )
            .execute(&mut **tx)
            .await?;
            return Ok(true);
        }
    };
    let detail = detail.to_string();
    sqlx::query!("INSERT INTO conversation_activity (conversation_id, seq, kind, actor_member_id, detail, at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT DO NOTHING", conversation, event.seq, kind, actor, detail, event.at)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

/// How a message's content is stored: (kind, body, caption, file name, media id, media URL, MIME, sha256).
struct Stored {
    kind: String,
    body: Option<String>,
    caption: Option<String>,
    file_name: Option<String>,
    media_id: Option<String>,
    media_url: Option<String>,
    media_mime: Option<String>,
    media_sha256: Option<String>,
}

fn stored(content: &Content) -> Stored {
    let mut s = Stored {
        kind: String::new(),
        body: None,
        caption: None,
        file_name: None,
        media_id: None,
        media_url: None,
        media_mime: None,
        media_sha256: None,
    };
    match content {
        Content::Text { body } => {
            s.kind = "text".into();
            s.body = Some(body.clone());
        }
        Content::Media(m) => {
            s.kind = if m.voice {
                "voice".into()
            } else {
                m.kind.as_str().into()
            };
            s.caption = m.caption.clone();
            s.file_name = m.filename.clone();
            s.media_id = m.id.clone();
            s.media_url = m.url.clone();
            s.media_mime = m.mime_type.clone();
            s.media_sha256 = m.sha256.clone();
        }
        Content::Attachments { text, items } => {
            s.kind = items
                .first()
                .map(|a| a.kind.clone())
                .unwrap_or_else(|| "attachment".into());
            s.body = text.clone();
            s.media_url = items.first().and_then(|a| a.url.clone());
            s.file_name = items.first().and_then(|a| a.title.clone());
        }
        Content::Location(l) => {
            s.kind = "location".into();
            s.body = Some(
                format!(
                    "{} {}",
                    l.name.clone().unwrap_or_default(),
                    l.address.clone().unwrap_or_default()
                )
                .trim()
                .to_string(),
            );
            // A map of the pin, to open in the browser.
            s.media_url = Some(format!(
                "https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=17/{lat:.6}/{lon:.6}",
                lat = l.latitude,
                lon = l.longitude
            ));
        }
        Content::Contacts(cs) => {
            s.kind = "contacts".into();
            s.body = Some(
                cs.iter()
                    .map(|c| format!("{} {}", c.name, c.phones.join(" ")))
                    .collect::<Vec<_>>()
                    .join("; "),
            );
        }
        Content::InteractiveReply(r) => {
            s.kind = "interactive_reply".into();
            s.body = r.title.clone();
        }
        Content::TemplateButton { text, .. } | Content::QuickReply { text, .. } => {
            s.kind = "button_reply".into();
            s.body = Some(text.clone());
        }
        Content::Order(o) => {
            s.kind = "order".into();
            s.body = Some(format!(
                "{} item(s){}",
                o.items.len(),
                o.text
                    .as_ref()
                    .map(|t| format!(": {t}"))
                    .unwrap_or_default()
            ));
        }
        Content::System(n) => {
            s.kind = "system".into();
            s.body = n.body.clone();
        }
        Content::RequestWelcome => s.kind = "request_welcome".into(),
        Content::Unsupported { kind, .. } => s.kind = format!("unsupported:{kind}"),
    }
    s
}

/// A reply Meta accepted, as another device (or this one) announced it.
async fn apply_message_sent(
    tx: &mut Tx,
    sent: &crate::outbox::MessageSent,
) -> Result<(), CacheError> {
    // This device's own reply: it only needs Meta's id.
    let own = sqlx::query!(
        "UPDATE messages SET external_id = COALESCE(external_id, ?) WHERE client_id = ?",
        sent.external_id,
        sent.client_id
    )
    .execute(&mut **tx)
    .await?;
    if own.rows_affected() == 0 {
        let Some(platform) = Platform::parse(&sent.channel_kind) else {
            return Ok(());
        };
        let mut rows = vec![MessageRow {
            channel_id: channel_id(platform, &sent.channel_external_id),
            account_id: None,
            channel_kind: platform.as_str(),
            channel_external_id: sent.channel_external_id.clone(),
            customer_id: sent.customer_id.clone(),
            name: None,
            phone: None,
            username: None,
            parent_user_id: None,
            external_id: Some(sent.external_id.clone()),
            client_id: Some(sent.client_id.clone()),
            author: Some(sent.author_member_id.clone()),
            direction: "outbound",
            kind: "text".into(),
            body: Some(sent.body.clone()),
            caption: None,
            file_name: None,
            media_id: None,
            media_url: None,
            media_mime: None,
            media_sha256: None,
            raw: None,
            quoted: sent.reply_to.clone(),
            at: sent.sent_at,
            status: Some("sent"),
            download: false,
        }];
        store_messages(tx, &mut rows).await?;
        // Meta's echo may have been first: the message exists; record who wrote it.
        sqlx::query!("UPDATE messages SET author_member_id = coalesce(author_member_id, ?) WHERE external_id = ?", sent.author_member_id, sent.external_id)
            .execute(&mut **tx)
            .await?;
    }
    apply_pending_in(tx, &sent.external_id).await
}

async fn apply_pending_in(tx: &mut Tx, external_id: &str) -> Result<(), CacheError> {
    if let Some(row) = sqlx::query!("DELETE FROM pending_statuses WHERE external_id = ? RETURNING status, error_code, error_message, at", external_id)
        .fetch_optional(&mut **tx)
        .await?
    {
        let state = DeliveryState::parse(&row.status);
        set_status(tx, external_id, &state, row.error_code, row.error_message, row.at).await?;
    }
    Ok(())
}

/// Applies statuses that arrived before a message got its Meta id (this device's own send).
pub async fn apply_pending_status(cache: &Cache, external_id: &str) -> Result<(), CacheError> {
    let mut tx: Tx = cache.pool().begin_with("BEGIN IMMEDIATE").await?;
    apply_pending_in(&mut tx, external_id).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether `new` may replace `current`: forward only (sent < delivered < read < played); failed
/// replaces only a message not yet delivered, and a later success replaces failed.
pub fn status_advances(current: Option<&DeliveryState>, new: &DeliveryState) -> bool {
    match (current, new) {
        (None, _) => true,
        (Some(DeliveryState::Failed), n) => n.rank().is_some_and(|r| r >= 2),
        (Some(c), DeliveryState::Failed) => c.rank().is_none_or(|r| r < 2),
        (Some(c), n) => match (c.rank(), n.rank()) {
            (Some(a), Some(b)) => b > a,
            (None, Some(_)) => true,
            _ => false,
        },
    }
}

async fn set_status(
    tx: &mut Tx,
    external_id: &str,
    state: &DeliveryState,
    code: Option<i64>,
    message: Option<String>,
    at: i64,
) -> Result<(), CacheError> {
    let row = sqlx::query!(
        "SELECT delivery_status FROM messages WHERE external_id = ?",
        external_id
    )
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some(row) => {
            let current: Option<String> = row.delivery_status;
            let current = current
                .filter(|c| c != "pending")
                .map(|c| DeliveryState::parse(&c));
            if status_advances(current.as_ref(), state) {
                let failed = *state == DeliveryState::Failed;
                let state2 = state.as_str();
                let (code, message) = if failed {
                    (code, message)
                } else {
                    (None, None)
                };
                sqlx::query!("UPDATE messages SET delivery_status = ?, status_at = ?, error_code = ?, error_message = ? WHERE external_id = ?", state2, at, code, message, external_id)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        None => {
            let current: Option<String> = sqlx::query_scalar!(
                "SELECT status FROM pending_statuses WHERE external_id = ?",
                external_id
            )
            .fetch_optional(&mut **tx)
            .await?;
            let current = current.map(|c| DeliveryState::parse(&c));
            if status_advances(current.as_ref(), state) {
                let state3 = state.as_str();
                sqlx::query!("INSERT INTO pending_statuses (external_id, status, error_code, error_message, at) VALUES (?, ?, ?, ?, ?)
                     ON CONFLICT (external_id) DO UPDATE SET status = excluded.status, error_code = excluded.error_code,
                         error_message = excluded.error_message, at = excluded.at", external_id, state3, code, message, at)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

async fn apply_item(tx: &mut Tx, item: &WebhookItem) -> Result<(), CacheError> {
    match &item.event {
        // Messages and statuses are stored in runs (see `store_messages`, `store_statuses`).
        Event::Message(_) | Event::Status(_) => {}
        Event::Reaction(r) => match &r.emoji {
            Some(emoji) => {
                let at = r.at.timestamp_millis();
                sqlx::query!("INSERT INTO reactions (message_external_id, reactor, emoji, at) VALUES (?, 'customer', ?, ?)
                     ON CONFLICT (message_external_id, reactor) DO UPDATE SET emoji = excluded.emoji, at = excluded.at
                     WHERE excluded.at >= reactions.at", r.message_id, emoji, at)
                .execute(&mut **tx)
                .await?;
            }
            None => {
                let at2 = r.at.timestamp_millis();
                sqlx::query!("DELETE FROM reactions WHERE message_external_id = ? AND reactor = 'customer' AND at <= ?", r.message_id, at2)
                    .execute(&mut **tx)
                    .await?;
            }
        },
        Event::Edit(e) => {
            // The search row follows by trigger.
            let at3 = e.at.timestamp_millis();
            let at4 = e.at.timestamp_millis();
            sqlx::query!("UPDATE messages SET body = ?, edited_at = ? WHERE external_id = ? AND (edited_at IS NULL OR edited_at <= ?)", e.text, at3, e.message_id, at4)
                .execute(&mut **tx)
                .await?;
        }
        Event::Deleted(d) => {
            // The customer unsent it: its content goes, the fact that it existed stays.
            // Its search row goes by trigger.
            let at5 = d.at.timestamp_millis();
            sqlx::query!("UPDATE messages SET body = NULL, caption = NULL, media_url = NULL, deleted_at = ? WHERE external_id = ?", at5, d.message_id)
                .execute(&mut **tx)
                .await?;
        }
        Event::Read(r) => {
            if let Some(mid) = &r.message_id {
                set_status(
                    tx,
                    mid,
                    &DeliveryState::Read,
                    None,
                    None,
                    r.at.timestamp_millis(),
                )
                .await?;
            }
            if let Some(watermark) = r.watermark {
                mark_outbound_before(
                    tx,
                    item,
                    r.platform,
                    &r.customer_id,
                    watermark.timestamp_millis(),
                    DeliveryState::Read,
                )
                .await?;
            }
        }
        Event::Delivery(d) => {
            for mid in &d.message_ids {
                set_status(
                    tx,
                    mid,
                    &DeliveryState::Delivered,
                    None,
                    None,
                    d.at.timestamp_millis(),
                )
                .await?;
            }
            if let Some(watermark) = d.watermark {
                mark_outbound_before(
                    tx,
                    item,
                    d.platform,
                    &d.customer_id,
                    watermark.timestamp_millis(),
                    DeliveryState::Delivered,
                )
                .await?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Messenger receipts: every outbound message to the customer sent up to the watermark.
async fn mark_outbound_before(
    tx: &mut Tx,
    item: &WebhookItem,
    platform: Platform,
    customer: &str,
    watermark: i64,
    state: DeliveryState,
) -> Result<(), CacheError> {
    let Some(external) = channel_external_id(&item.route) else {
        return Ok(());
    };
    let channel = channel_id(platform, external);
    let ids: Vec<String> = sqlx::query_scalar!(r#"SELECT m.external_id AS "external_id!" FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN contacts k ON k.id = c.contact_id
         WHERE k.channel_id = ? AND k.external_id = ? AND m.direction = 'outbound' AND m.sent_at <= ? AND m.external_id IS NOT NULL"#, channel, customer, watermark)
    .fetch_all(&mut **tx)
    .await?;
    for id in ids {
        set_status(tx, &id, &state, None, None, watermark).await?;
    }
    Ok(())
}
