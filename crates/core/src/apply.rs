//! Applying the relay's events to the cache.
//!
//! A batch of events is applied in **one** transaction together with the sync cursor, so a crash
//! leaves either all of it or none. Applying an event twice changes nothing: messages are keyed
//! by Meta's ids, statuses only move forward, reactions and edits overwrite. Several messages
//! from one customer at once (an album) land in one conversation (a unique index allows one
//! active conversation per contact, and the apply is a single writer).

use serde::Deserialize;
use sqlx::{Row, Sqlite, Transaction};
use zentro_meta::webhook::{
    self, Content, DeliveryState, Direction, Event, Message, Platform, Route, WebhookItem,
};

use crate::cache::{Cache, CacheError};

/// An event of the relay's log for this device's workspace.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RelayEvent {
    /// Position in the workspace's log.
    pub seq: i64,
    /// `meta.webhook` or a team event kind.
    pub kind: String,
    /// When the relay appended it (UTC ms).
    pub at: i64,
    /// The event's JSON (for `meta.webhook`, Meta's own shape).
    pub payload: serde_json::Value,
}

/// What applying a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Events applied now.
    pub applied: usize,
    /// Events skipped because the cursor was already past them.
    pub skipped: usize,
    /// Events of kinds this version does not handle (kept moving; nothing stored).
    pub ignored: usize,
    /// The cursor after the batch.
    pub cursor: i64,
}

type Tx = Transaction<'static, Sqlite>;

/// Where this device is in a workspace's log.
pub async fn cursor(cache: &Cache, workspace_id: &str) -> Result<i64, CacheError> {
    Ok(
        sqlx::query_scalar("SELECT applied_seq FROM sync_cursors WHERE workspace_id = ?")
            .bind(workspace_id)
            .fetch_optional(cache.pool())
            .await?
            .unwrap_or(0),
    )
}

/// Applies `events` (in seq order) and moves the cursor, all in one transaction.
pub async fn apply_batch(
    cache: &Cache,
    workspace_id: &str,
    events: &[RelayEvent],
) -> Result<ApplyReport, CacheError> {
    let mut tx: Tx = cache.pool().begin_with("BEGIN IMMEDIATE").await?;
    let mut cursor: i64 =
        sqlx::query_scalar("SELECT applied_seq FROM sync_cursors WHERE workspace_id = ?")
            .bind(workspace_id)
            .fetch_optional(&mut *tx)
            .await?
            .unwrap_or(0);
    let mut report = ApplyReport::default();
    for event in events {
        if event.seq <= cursor {
            report.skipped += 1;
            continue;
        }
        match event.kind.as_str() {
            "meta.webhook" => {
                let items = webhook::parse_value(&event.payload).unwrap_or_default();
                for item in &items {
                    apply_item(&mut tx, item).await?;
                }
                report.applied += 1;
            }
            "message.sent" => {
                match serde_json::from_value::<crate::outbox::MessageSent>(event.payload.clone()) {
                    Ok(sent) => {
                        apply_message_sent(&mut tx, &sent).await?;
                        report.applied += 1;
                    }
                    Err(_) => report.ignored += 1,
                }
            }
            _ => report.ignored += 1,
        }
        cursor = event.seq;
    }
    sqlx::query(
        "INSERT INTO sync_cursors (workspace_id, applied_seq, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (workspace_id) DO UPDATE SET applied_seq = excluded.applied_seq, updated_at = excluded.updated_at",
    )
    .bind(workspace_id)
    .bind(cursor)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    report.cursor = cursor;
    Ok(report)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The cache's channel id for a route, created on first sight.
async fn channel_for(
    tx: &mut Tx,
    route: &Route,
    platform: Platform,
) -> Result<Option<String>, CacheError> {
    let external = match route {
        Route::WhatsAppPhoneNumber(id) | Route::Page(id) | Route::InstagramAccount(id) => id,
        Route::WhatsAppAccount(_) | Route::Unroutable => return Ok(None),
    };
    let id = format!("{}:{external}", platform.as_str());
    sqlx::query("INSERT INTO channels (id, kind, external_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
        .bind(&id)
        .bind(platform.as_str())
        .bind(external)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
    Ok(Some(id))
}

async fn contact_for(
    tx: &mut Tx,
    channel_id: &str,
    customer: &webhook::Customer,
) -> Result<i64, CacheError> {
    let now = now_ms();
    let row = sqlx::query(
        "INSERT INTO contacts (channel_id, external_id, display_name, phone, username, parent_user_id, created_at, updated_at)
         VALUES (?1, ?2, COALESCE(?3, ''), ?4, ?5, ?6, ?7, ?7)
         ON CONFLICT (channel_id, external_id) DO UPDATE SET
             display_name = CASE WHEN ?3 IS NOT NULL AND ?3 <> '' THEN ?3 ELSE contacts.display_name END,
             phone = COALESCE(?4, contacts.phone),
             username = COALESCE(?5, contacts.username),
             parent_user_id = COALESCE(?6, contacts.parent_user_id)
         RETURNING id",
    )
    .bind(channel_id)
    .bind(&customer.id)
    .bind(&customer.name)
    .bind(&customer.phone)
    .bind(&customer.username)
    .bind(&customer.parent_user_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let id: i64 = row.get(0);
    // Names and numbers are searchable.
    let text = [
        customer.name.as_deref(),
        customer.phone.as_deref(),
        customer.username.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    // Index rows: rowid = -contact id for contacts, message id for messages, so replacing or
    // removing one is a key lookup, never a scan of the index.
    sqlx::query("DELETE FROM search_index WHERE rowid = ?")
        .bind(-id)
        .execute(&mut **tx)
        .await?;
    if !text.is_empty() {
        sqlx::query("INSERT INTO search_index (rowid, text, kind, ref_id, conversation_id) VALUES (?, ?, 'contact', ?, NULL)")
            .bind(-id)
            .bind(text)
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(id)
}

/// The contact's active conversation, reopening the latest resolved one or creating one.
async fn conversation_for(
    tx: &mut Tx,
    contact_id: i64,
    at: i64,
    reopen: bool,
) -> Result<i64, CacheError> {
    if let Some(id) = sqlx::query_scalar::<_, i64>(
        "SELECT id FROM conversations WHERE contact_id = ? AND status <> 'resolved'",
    )
    .bind(contact_id)
    .fetch_optional(&mut **tx)
    .await?
    {
        return Ok(id);
    }
    if let Some(id) = sqlx::query_scalar::<_, i64>("SELECT id FROM conversations WHERE contact_id = ? ORDER BY last_activity_at DESC, id DESC LIMIT 1")
        .bind(contact_id)
        .fetch_optional(&mut **tx)
        .await?
    {
        if reopen {
            sqlx::query("UPDATE conversations SET status = 'open', snoozed_until = NULL WHERE id = ?").bind(id).execute(&mut **tx).await?;
        }
        return Ok(id);
    }
    let id = sqlx::query_scalar("INSERT INTO conversations (contact_id, last_activity_at, created_at) VALUES (?, ?, ?) RETURNING id")
        .bind(contact_id)
        .bind(at)
        .bind(at)
        .fetch_one(&mut **tx)
        .await?;
    Ok(id)
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

fn preview(s: &Stored) -> String {
    let text = s
        .body
        .clone()
        .or_else(|| s.caption.clone())
        .or_else(|| s.file_name.clone())
        .unwrap_or_else(|| format!("[{}]", s.kind));
    text.chars().take(140).collect()
}

async fn apply_message(tx: &mut Tx, item: &WebhookItem, m: &Message) -> Result<(), CacheError> {
    let Some(channel) = channel_for(tx, &item.route, m.platform).await? else {
        return Ok(());
    };
    let contact = contact_for(tx, &channel, &m.customer).await?;
    let at = m.sent_at.timestamp_millis();
    let inbound = m.direction == Direction::Inbound;
    let conversation = conversation_for(tx, contact, at, inbound).await?;
    let s = stored(&m.content);
    let raw = matches!(m.content, Content::Unsupported { .. }).then(|| item.envelope.to_string());
    let inserted = sqlx::query(
        "INSERT INTO messages (conversation_id, external_id, direction, kind, body, sent_at, raw, quoted_external_id, caption,
                               file_name, media_id, media_url, media_mime, media_sha256, delivery_status)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (external_id) DO NOTHING
         RETURNING id",
    )
    .bind(conversation)
    .bind(&m.id)
    .bind(if inbound { "inbound" } else { "outbound" })
    .bind(&s.kind)
    .bind(&s.body)
    .bind(at)
    .bind(raw)
    .bind(m.context.as_ref().and_then(|c| c.quoted_id.clone()))
    .bind(&s.caption)
    .bind(&s.file_name)
    .bind(&s.media_id)
    .bind(&s.media_url)
    .bind(&s.media_mime)
    .bind(&s.media_sha256)
    .bind(if inbound { None } else { Some("sent") })
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = inserted else { return Ok(()) }; // a redelivery, or our own send already recorded
    let message_id: i64 = row.get(0);
    sqlx::query(
        "UPDATE conversations SET last_activity_at = MAX(last_activity_at, ?1), last_message_preview = ?2,
             unread_count = unread_count + ?3, last_inbound_at = CASE WHEN ?3 = 1 THEN MAX(COALESCE(last_inbound_at, 0), ?1) ELSE last_inbound_at END
         WHERE id = ?4",
    )
    .bind(at)
    .bind(preview(&s))
    .bind(i64::from(inbound))
    .bind(conversation)
    .execute(&mut **tx)
    .await?;
    let text = [
        s.body.as_deref(),
        s.caption.as_deref(),
        s.file_name.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    if !text.trim().is_empty() {
        sqlx::query("INSERT INTO search_index (rowid, text, kind, ref_id, conversation_id) VALUES (?, ?, 'message', ?, ?)")
            .bind(message_id)
            .bind(text)
            .bind(message_id)
            .bind(conversation)
            .execute(&mut **tx)
            .await?;
    }
    // A status that overtook this message applies now.
    apply_pending_in(tx, &m.id).await
}

/// A reply Meta accepted, as another device (or this one) announced it.
async fn apply_message_sent(
    tx: &mut Tx,
    sent: &crate::outbox::MessageSent,
) -> Result<(), CacheError> {
    // This device's own reply: it only needs Meta's id.
    let own = sqlx::query(
        "UPDATE messages SET external_id = COALESCE(external_id, ?) WHERE client_id = ?",
    )
    .bind(&sent.external_id)
    .bind(&sent.client_id)
    .execute(&mut **tx)
    .await?;
    if own.rows_affected() == 0 {
        let Some(platform) = Platform::parse(&sent.channel_kind) else {
            return Ok(());
        };
        let route = match platform {
            Platform::WhatsApp => Route::WhatsAppPhoneNumber(sent.channel_external_id.clone()),
            Platform::Messenger => Route::Page(sent.channel_external_id.clone()),
            Platform::Instagram => Route::InstagramAccount(sent.channel_external_id.clone()),
        };
        let Some(channel) = channel_for(tx, &route, platform).await? else {
            return Ok(());
        };
        let contact = contact_for(
            tx,
            &channel,
            &webhook::Customer {
                id: sent.customer_id.clone(),
                ..webhook::Customer::default()
            },
        )
        .await?;
        let conversation = conversation_for(tx, contact, sent.sent_at, false).await?;
        let inserted = sqlx::query(
            "INSERT INTO messages (conversation_id, external_id, client_id, direction, kind, body, sent_at, delivery_status, author_member_id, quoted_external_id)
             VALUES (?, ?, ?, 'outbound', 'text', ?, ?, 'sent', ?, ?) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(conversation)
        .bind(&sent.external_id)
        .bind(&sent.client_id)
        .bind(&sent.body)
        .bind(sent.sent_at)
        .bind(&sent.author_member_id)
        .bind(&sent.reply_to)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = inserted {
            let id: i64 = row.get(0);
            sqlx::query("INSERT INTO search_index (rowid, text, kind, ref_id, conversation_id) VALUES (?, ?, 'message', ?, ?)")
                .bind(id)
                .bind(&sent.body)
                .bind(id)
                .bind(conversation)
                .execute(&mut **tx)
                .await?;
            sqlx::query("UPDATE conversations SET last_activity_at = MAX(last_activity_at, ?1), last_message_preview = ?2 WHERE id = ?3")
                .bind(sent.sent_at)
                .bind(sent.body.chars().take(140).collect::<String>())
                .bind(conversation)
                .execute(&mut **tx)
                .await?;
        }
    }
    apply_pending_in(tx, &sent.external_id).await
}

async fn apply_pending_in(tx: &mut Tx, external_id: &str) -> Result<(), CacheError> {
    if let Some(row) = sqlx::query("DELETE FROM pending_statuses WHERE external_id = ? RETURNING status, error_code, error_message, at")
        .bind(external_id)
        .fetch_optional(&mut **tx)
        .await?
    {
        let state = DeliveryState::parse(row.get::<String, _>(0).as_str());
        set_status(tx, external_id, &state, row.get(1), row.get(2), row.get(3)).await?;
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
    let row = sqlx::query("SELECT delivery_status FROM messages WHERE external_id = ?")
        .bind(external_id)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(row) => {
            let current: Option<String> = row.get(0);
            let current = current
                .filter(|c| c != "pending")
                .map(|c| DeliveryState::parse(&c));
            if status_advances(current.as_ref(), state) {
                let failed = *state == DeliveryState::Failed;
                sqlx::query("UPDATE messages SET delivery_status = ?, status_at = ?, error_code = ?, error_message = ? WHERE external_id = ?")
                    .bind(state.as_str())
                    .bind(at)
                    .bind(if failed { code } else { None })
                    .bind(if failed { message } else { None })
                    .bind(external_id)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        None => {
            let current: Option<String> =
                sqlx::query_scalar("SELECT status FROM pending_statuses WHERE external_id = ?")
                    .bind(external_id)
                    .fetch_optional(&mut **tx)
                    .await?;
            let current = current.map(|c| DeliveryState::parse(&c));
            if status_advances(current.as_ref(), state) {
                sqlx::query(
                    "INSERT INTO pending_statuses (external_id, status, error_code, error_message, at) VALUES (?, ?, ?, ?, ?)
                     ON CONFLICT (external_id) DO UPDATE SET status = excluded.status, error_code = excluded.error_code,
                         error_message = excluded.error_message, at = excluded.at",
                )
                .bind(external_id)
                .bind(state.as_str())
                .bind(code)
                .bind(message)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

async fn apply_item(tx: &mut Tx, item: &WebhookItem) -> Result<(), CacheError> {
    match &item.event {
        Event::Message(m) => apply_message(tx, item, m).await?,
        Event::Status(s) => {
            // A send whose outcome was unknown (a timeout) is recognised by its client id.
            if let Some(client_id) = &s.callback_data {
                let claimed = sqlx::query("UPDATE messages SET external_id = ? WHERE client_id = ? AND external_id IS NULL")
                    .bind(&s.message_id)
                    .bind(client_id)
                    .execute(&mut **tx)
                    .await?;
                if claimed.rows_affected() > 0 {
                    sqlx::query("UPDATE outbox SET state = 'accepted', last_error = NULL WHERE client_id = ? AND state IN ('ambiguous', 'sending')")
                        .bind(client_id)
                        .execute(&mut **tx)
                        .await?;
                }
            }
            let error = s.errors.first();
            let message = error.map(|e| {
                e.details
                    .clone()
                    .or_else(|| e.message.clone())
                    .unwrap_or_default()
            });
            set_status(
                tx,
                &s.message_id,
                &s.state,
                error.map(|e| e.code),
                message,
                s.at.timestamp_millis(),
            )
            .await?;
        }
        Event::Reaction(r) => match &r.emoji {
            Some(emoji) => {
                sqlx::query(
                    "INSERT INTO reactions (message_external_id, reactor, emoji, at) VALUES (?, 'customer', ?, ?)
                     ON CONFLICT (message_external_id, reactor) DO UPDATE SET emoji = excluded.emoji, at = excluded.at
                     WHERE excluded.at >= reactions.at",
                )
                .bind(&r.message_id)
                .bind(emoji)
                .bind(r.at.timestamp_millis())
                .execute(&mut **tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM reactions WHERE message_external_id = ? AND reactor = 'customer' AND at <= ?")
                    .bind(&r.message_id)
                    .bind(r.at.timestamp_millis())
                    .execute(&mut **tx)
                    .await?;
            }
        },
        Event::Edit(e) => {
            let updated = sqlx::query("UPDATE messages SET body = ?, edited_at = ? WHERE external_id = ? AND (edited_at IS NULL OR edited_at <= ?) RETURNING id")
                .bind(&e.text)
                .bind(e.at.timestamp_millis())
                .bind(&e.message_id)
                .bind(e.at.timestamp_millis())
                .fetch_optional(&mut **tx)
                .await?;
            if let Some(row) = updated {
                let id: i64 = row.get(0);
                sqlx::query("UPDATE search_index SET text = ? WHERE rowid = ?")
                    .bind(&e.text)
                    .bind(id)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Event::Deleted(d) => {
            // The customer unsent it: its content goes, the fact that it existed stays.
            let deleted = sqlx::query("UPDATE messages SET body = NULL, caption = NULL, media_url = NULL, deleted_at = ? WHERE external_id = ? RETURNING id")
                .bind(d.at.timestamp_millis())
                .bind(&d.message_id)
                .fetch_optional(&mut **tx)
                .await?;
            if let Some(row) = deleted {
                sqlx::query("DELETE FROM search_index WHERE rowid = ?")
                    .bind(row.get::<i64, _>(0))
                    .execute(&mut **tx)
                    .await?;
            }
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
    let Some(channel) = channel_for(tx, &item.route, platform).await? else {
        return Ok(());
    };
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT m.external_id FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN contacts k ON k.id = c.contact_id
         WHERE k.channel_id = ? AND k.external_id = ? AND m.direction = 'outbound' AND m.sent_at <= ? AND m.external_id IS NOT NULL",
    )
    .bind(channel)
    .bind(customer)
    .bind(watermark)
    .fetch_all(&mut **tx)
    .await?;
    for id in ids {
        set_status(tx, &id, &state, None, None, watermark).await?;
    }
    Ok(())
}
