//! Customers' messages and what happens to them later: runs of messages stored with a fixed
//! number of statements (with their channels, contacts and conversations), how each kind of
//! content is stored, and reactions, edits and unsends.

use serde::Serialize;
use serde_json::json;
use zentro_events::clock::now_ms;
use zentro_meta::webhook::{
    Attachment, Content, Direction, Event, Location, Media, Message, MessageDeleted, MessageEdit,
    Platform, Reaction, WebhookItem,
};

use super::statuses::{Receipt, apply_pending_in, apply_receipt};
use super::{Tx, channel_external_id, channel_id};
use crate::cache::CacheError;

/// A message ready to be stored: one element of the JSON array a run is inserted from.
///
/// Only what the message statement reads is serialized, and absent values are left out: SQLite
/// walks an element's keys for every `->>`, so a text message's 7 keys cost far less than all 28.
/// The channel and customer fields feed [`distinct_channels`] and [`CustomerRow`] instead.
#[derive(Debug, Serialize)]
pub(super) struct MessageRow {
    pub(super) channel_id: String,
    /// WhatsApp: the Business Account (the webhook's entry id).
    #[serde(skip)]
    pub(super) account_id: Option<String>,
    #[serde(skip)]
    pub(super) channel_kind: &'static str,
    #[serde(skip)]
    pub(super) channel_external_id: String,
    pub(super) customer_id: String,
    #[serde(skip)]
    pub(super) name: Option<String>,
    #[serde(skip)]
    pub(super) phone: Option<String>,
    #[serde(skip)]
    pub(super) username: Option<String>,
    #[serde(skip)]
    pub(super) parent_user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) author: Option<String>,
    pub(super) direction: &'static str,
    pub(super) kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) caption: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) file_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) media_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) media_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) media_mime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) media_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) raw: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) quoted: Option<String>,
    pub(super) at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) status: Option<&'static str>,
    /// WhatsApp media: the file is fetched from Meta and kept (Instagram keeps only the URL).
    #[serde(skip)]
    pub(super) download: bool,
}

/// The row for a message that came in (or, as an echo, went out) on a channel of this
/// workspace; `None` when the item names no channel.
pub(super) fn message_row(item: &WebhookItem, m: &Message) -> Option<MessageRow> {
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
pub(super) async fn store_messages(
    tx: &mut Tx,
    rows: &mut Vec<MessageRow>,
) -> Result<(), CacheError> {
    if rows.is_empty() {
        return Ok(());
    }
    let data = serde_json::to_string(&*rows).unwrap_or_else(|_| "[]".into());
    let customers = serde_json::to_string(&rows.iter().map(CustomerRow::of).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into());
    let now = now_ms();
    upsert_channels(tx, rows, now).await?;
    upsert_contacts(tx, &customers, now).await?;
    open_conversations(tx, &customers).await?;
    insert_messages(tx, &data).await?;
    queue_downloads(tx, rows, now).await?;
    apply_overtaken_statuses(tx, rows).await?;
    rows.clear();
    Ok(())
}

/// Channels: created on first sight; a WhatsApp number learns its Business Account.
async fn upsert_channels(tx: &mut Tx, rows: &[MessageRow], now: i64) -> Result<(), CacheError> {
    let channels = json!(distinct_channels(rows)).to_string();
    sqlx::query!(
        r#"
        INSERT INTO channels (id, kind, external_id, account_id, created_at)
        SELECT r.value ->> 'channel_id', r.value ->> 'channel_kind',
               r.value ->> 'channel_external_id', r.value ->> 'account_id', ?2
        FROM json_each(?1) r WHERE true
        ON CONFLICT (id) DO UPDATE SET account_id = excluded.account_id
        WHERE excluded.account_id IS NOT NULL AND channels.account_id IS NOT excluded.account_id
        "#,
        channels,
        now
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Contacts (`customers`: [`CustomerRow`]s as JSON): new ones are created; known ones only change
/// when Meta says something new (so an unchanged contact costs no write and no search-index
/// churn).
async fn upsert_contacts(tx: &mut Tx, customers: &str, now: i64) -> Result<(), CacheError> {
    sqlx::query!(
        r#"
        WITH r AS MATERIALIZED (SELECT key, jsonb(value) AS value FROM json_each(?1))
        INSERT INTO contacts (channel_id, external_id, display_name, phone, username,
                              parent_user_id, created_at, updated_at)
        SELECT r.value ->> 'channel_id', r.value ->> 'customer_id', coalesce(r.value ->> 'name', ''),
               r.value ->> 'phone', r.value ->> 'username', r.value ->> 'parent_user_id', ?2, ?2
        FROM r WHERE true ORDER BY r.key
        ON CONFLICT (channel_id, external_id) DO UPDATE SET
            display_name = CASE WHEN excluded.display_name <> '' THEN excluded.display_name
                                ELSE contacts.display_name END,
            phone = coalesce(excluded.phone, contacts.phone),
            username = coalesce(excluded.username, contacts.username),
            parent_user_id = coalesce(excluded.parent_user_id, contacts.parent_user_id),
            updated_at = excluded.updated_at
        WHERE (excluded.display_name <> '' AND excluded.display_name IS NOT contacts.display_name)
           OR (excluded.phone IS NOT NULL AND excluded.phone IS NOT contacts.phone)
           OR (excluded.username IS NOT NULL AND excluded.username IS NOT contacts.username)
           OR (excluded.parent_user_id IS NOT NULL
               AND excluded.parent_user_id IS NOT contacts.parent_user_id)
        "#,
        customers,
        now
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A contact's first message opens their conversation; later ones reuse it.
async fn open_conversations(tx: &mut Tx, customers: &str) -> Result<(), CacheError> {
    sqlx::query!(
        r#"
        WITH r AS MATERIALIZED (SELECT key, jsonb(value) AS value FROM json_each(?1))
        INSERT INTO conversations (contact_id, last_activity_at, created_at)
        SELECT k.id, min(r.value ->> 'at'), min(r.value ->> 'at')
        FROM r
        JOIN contacts k
          ON k.channel_id = r.value ->> 'channel_id' AND k.external_id = r.value ->> 'customer_id'
        WHERE NOT EXISTS (SELECT 1 FROM conversations c WHERE c.contact_id = k.id)
        GROUP BY k.id ORDER BY min(r.key)
        "#,
        customers
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The messages (`data`: [`MessageRow`]s as JSON), into the contact's active conversation, else
/// their latest. Redeliveries (and this device's own sends, already recorded) conflict and
/// are skipped.
async fn insert_messages(tx: &mut Tx, data: &str) -> Result<(), CacheError> {
    sqlx::query!(
        r#"
        WITH r AS MATERIALIZED (SELECT key, jsonb(value) AS value FROM json_each(?1))
        INSERT INTO messages (conversation_id, external_id, client_id, author_member_id, direction,
                              kind, body, caption, file_name, media_id, media_url, media_mime,
                              media_sha256, raw, quoted_external_id, sent_at, delivery_status)
        SELECT coalesce(
                   (SELECT c.id FROM conversations c
                    WHERE c.contact_id = k.id AND c.status <> 'resolved'),
                   (SELECT c.id FROM conversations c
                    WHERE c.contact_id = k.id
                    ORDER BY c.last_activity_at DESC, c.id DESC LIMIT 1)),
               r.value ->> 'external_id', r.value ->> 'client_id', r.value ->> 'author',
               r.value ->> 'direction', r.value ->> 'kind', r.value ->> 'body',
               r.value ->> 'caption', r.value ->> 'file_name', r.value ->> 'media_id',
               r.value ->> 'media_url', r.value ->> 'media_mime', r.value ->> 'media_sha256',
               r.value ->> 'raw', r.value ->> 'quoted', r.value ->> 'at', r.value ->> 'status'
        FROM r
        JOIN contacts k
          ON k.channel_id = r.value ->> 'channel_id' AND k.external_id = r.value ->> 'customer_id'
        WHERE true ORDER BY r.key
        ON CONFLICT DO NOTHING
        "#,
        data
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// WhatsApp media to fetch: new messages, and redeliveries of ones whose file is still missing.
async fn queue_downloads(tx: &mut Tx, rows: &[MessageRow], now: i64) -> Result<(), CacheError> {
    let downloads: Vec<&str> = rows
        .iter()
        .filter(|r| r.download)
        .filter_map(|r| r.external_id.as_deref())
        .collect();
    if downloads.is_empty() {
        return Ok(());
    }
    let downloads_json = json!(downloads).to_string();
    sqlx::query!(
        r#"
            INSERT INTO media_downloads (message_id, next_attempt_at)
            SELECT m.id, ?2 FROM messages m
            WHERE m.external_id IN (SELECT value FROM json_each(?1)) AND m.media_path IS NULL
            ON CONFLICT (message_id) DO UPDATE SET
                next_attempt_at = min(media_downloads.next_attempt_at, excluded.next_attempt_at)
            "#,
        downloads_json,
        now
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Statuses that overtook their (outbound) message apply now. (A redelivered message has none
/// waiting: its statuses applied when it first arrived.)
async fn apply_overtaken_statuses(tx: &mut Tx, rows: &[MessageRow]) -> Result<(), CacheError> {
    let outbound: Vec<&str> = rows
        .iter()
        .filter(|r| r.direction == "outbound")
        .filter_map(|r| r.external_id.as_deref())
        .collect();
    if outbound.is_empty() {
        return Ok(());
    }
    let outbound_json = json!(outbound).to_string();
    let waiting: Vec<String> = sqlx::query_scalar!(
        r#"
            SELECT external_id FROM pending_statuses
            WHERE external_id IN (SELECT value FROM json_each(?))
            "#,
        outbound_json
    )
    .fetch_all(&mut **tx)
    .await?;
    for external_id in waiting {
        apply_pending_in(tx, &external_id).await?;
    }
    Ok(())
}

/// How a message's content is stored: (kind, body, caption, file name, media id, media URL, MIME, sha256).
#[derive(Default)]
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

impl Stored {
    /// Content of `kind` stored as `body` alone.
    fn text(kind: impl Into<String>, body: Option<String>) -> Self {
        Self {
            kind: kind.into(),
            body,
            ..Self::default()
        }
    }

    /// One WhatsApp media item (a voice note is its own kind).
    fn media(m: &Media) -> Self {
        Self {
            kind: if m.voice {
                "voice".into()
            } else {
                m.kind.as_str().into()
            },
            caption: m.caption.clone(),
            file_name: m.filename.clone(),
            media_id: m.id.clone(),
            media_url: m.url.clone(),
            media_mime: m.mime_type.clone(),
            media_sha256: m.sha256.clone(),
            ..Self::default()
        }
    }

    /// Messenger or Instagram attachments: the first one, with the text.
    fn attachments(text: &Option<String>, items: &[Attachment]) -> Self {
        let first = items.first();
        Self {
            kind: first
                .map(|a| a.kind.clone())
                .unwrap_or_else(|| "attachment".into()),
            body: text.clone(),
            media_url: first.and_then(|a| a.url.clone()),
            file_name: first.and_then(|a| a.title.clone()),
            ..Self::default()
        }
    }

    /// A location: its name and address, with a map of the pin to open in the browser.
    fn location(l: &Location) -> Self {
        let body = format!(
            "{} {}",
            l.name.clone().unwrap_or_default(),
            l.address.clone().unwrap_or_default()
        )
        .trim()
        .to_string();
        Self {
            media_url: Some(format!(
                "https://www.openstreetmap.org/?mlat={lat:.6}&mlon={lon:.6}#map=17/{lat:.6}/{lon:.6}",
                lat = l.latitude,
                lon = l.longitude
            )),
            ..Self::text("location", Some(body))
        }
    }
}

/// How `content` is stored, by its kind.
fn stored(content: &Content) -> Stored {
    match content {
        Content::Text { body } => Stored::text("text", Some(body.clone())),
        Content::Media(m) => Stored::media(m),
        Content::Attachments { text, items } => Stored::attachments(text, items),
        Content::Location(l) => Stored::location(l),
        Content::Contacts(cs) => Stored::text(
            "contacts",
            Some(
                cs.iter()
                    .map(|c| format!("{} {}", c.name, c.phones.join(" ")))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        ),
        Content::InteractiveReply(r) => Stored::text("interactive_reply", r.title.clone()),
        Content::TemplateButton { text, .. } | Content::QuickReply { text, .. } => {
            Stored::text("button_reply", Some(text.clone()))
        }
        Content::Order(o) => Stored::text(
            "order",
            Some(format!(
                "{} item(s){}",
                o.items.len(),
                o.text
                    .as_ref()
                    .map(|t| format!(": {t}"))
                    .unwrap_or_default()
            )),
        ),
        Content::System(n) => Stored::text("system", n.body.clone()),
        Content::RequestWelcome => Stored::text("request_welcome", None),
        Content::Unsupported { kind, .. } => Stored::text(format!("unsupported:{kind}"), None),
    }
}

/// Applies a webhook item that is not stored in a run. Every kind of item is named, so a new
/// one cannot be dropped without a decision.
pub(super) async fn apply_item(tx: &mut Tx, item: &WebhookItem) -> Result<(), CacheError> {
    match &item.event {
        // Messages and statuses are stored in runs (see `store_messages`, `store_statuses`).
        Event::Message(_) | Event::Status(_) => {}
        Event::Reaction(reaction) => apply_reaction(tx, reaction).await?,
        Event::Edit(edit) => apply_edit(tx, edit).await?,
        Event::Deleted(deleted) => apply_unsend(tx, deleted).await?,
        Event::Read(read) => apply_receipt(tx, item, Receipt::Read(read)).await?,
        Event::Delivery(delivery) => apply_receipt(tx, item, Receipt::Delivery(delivery)).await?,
        // Not kept in the cache.
        Event::Postback(_)
        | Event::Referral(_)
        | Event::TemplateStatus(_)
        | Event::AccountUpdate(_)
        | Event::PhoneNumberQuality(_)
        | Event::UserPreference(_)
        | Event::PlatformErrors(_)
        | Event::Unsupported(_) => {}
    }
    Ok(())
}

/// The customer's reaction to a message, or its removal (`emoji: None`); an older one never
/// overrides a newer.
async fn apply_reaction(tx: &mut Tx, reaction: &Reaction) -> Result<(), CacheError> {
    let at = reaction.at.timestamp_millis();
    match &reaction.emoji {
        Some(emoji) => {
            sqlx::query!(
                r#"
                        INSERT INTO reactions (message_external_id, reactor, emoji, at)
                        VALUES (?, 'customer', ?, ?)
                        ON CONFLICT (message_external_id, reactor) DO UPDATE SET
                            emoji = excluded.emoji,
                            at = excluded.at
                        WHERE excluded.at >= reactions.at
                        "#,
                reaction.message_id,
                emoji,
                at
            )
            .execute(&mut **tx)
            .await?;
        }
        None => {
            sqlx::query!(
                r#"
                        DELETE FROM reactions
                        WHERE message_external_id = ? AND reactor = 'customer' AND at <= ?
                        "#,
                reaction.message_id,
                at
            )
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// The customer edited a message: its new text, unless a later edit is already here. The search
/// row follows by trigger.
async fn apply_edit(tx: &mut Tx, edit: &MessageEdit) -> Result<(), CacheError> {
    let edited_at = edit.at.timestamp_millis();
    sqlx::query!(
        r#"
                UPDATE messages SET body = ?, edited_at = ?
                WHERE external_id = ? AND (edited_at IS NULL OR edited_at <= ?)
                "#,
        edit.text,
        edited_at,
        edit.message_id,
        edited_at
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The customer unsent a message: its content goes, the fact that it existed stays. Its search
/// row goes by trigger.
async fn apply_unsend(tx: &mut Tx, deleted: &MessageDeleted) -> Result<(), CacheError> {
    let deleted_at = deleted.at.timestamp_millis();
    sqlx::query!(
        r#"
                UPDATE messages SET body = NULL, caption = NULL, media_url = NULL, deleted_at = ?
                WHERE external_id = ?
                "#,
        deleted_at,
        deleted.message_id
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
