//! The outbox: a reply is written here (and shown as "waiting") before anything is sent, then
//! sent through Meta's Graph API with the channel's token, tagged with its client id so status
//! webhooks find it.
//!
//! - Outside the customer-service window a free-form reply is refused before it is written.
//! - Offline (Meta unreachable: nothing was sent) it waits and goes out once the network is back.
//! - Rate limits wait as long as Meta says; other transient failures back off.
//! - A timeout after the request left is *ambiguous*: never retried blindly; the status webhook
//!   carrying the client id reconciles it.
//! - Once Meta accepted it, a `message.sent` team event tells every other device.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use zentro_meta::AccessToken;
use zentro_meta::graph::{
    Accepted, GraphClient, GraphError, MessagingType, MessengerOutgoing, MessengerSend, Outgoing,
    Recipient, TemplateComponent, TemplateComponentKind, TemplateParameter, WhatsAppSend,
};
use zentro_meta::platform;
use zentro_meta::webhook::Platform;

use crate::cache::{Cache, CacheError};

/// Why a reply cannot be queued or was not sent.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The customer-service window is closed: only an approved template may be sent.
    #[error(
        "the 24-hour window closed {hours_ago} h ago (the customer's last message); send an approved template instead"
    )]
    WindowClosed {
        /// Hours since the window closed.
        hours_ago: i64,
    },
    /// The customer never wrote on this channel, so no window is open.
    #[error("the customer has not written on this channel yet; send an approved template instead")]
    NoWindow,
    /// The text is empty or too long for the channel.
    #[error("{0}")]
    Invalid(String),
    /// The conversation does not exist in this cache.
    #[error("conversation {0} not found")]
    NoConversation(i64),
    /// The cache failed.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl From<sqlx::Error> for OutboxError {
    fn from(e: sqlx::Error) -> Self {
        Self::Cache(CacheError::Query(e))
    }
}

/// What an outbox entry asks to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyPayload {
    /// The text (for a template, its body with the variables filled in, as shown in the thread).
    pub text: String,
    /// The Meta id of the message it quotes.
    pub reply_to: Option<String>,
    /// A WhatsApp template to send instead of free text (outside the 24-hour window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateChoice>,
    /// A file to send (the text is its caption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<AttachmentRef>,
}

/// A file waiting in the content-addressed store to be uploaded and sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// Where it is stored.
    pub path: String,
    /// Its MIME type.
    pub mime: String,
    /// Its name, as the customer will see it (documents).
    pub file_name: String,
}

/// A file an agent attaches to a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The name the customer sees (documents); a path's last part, never a path.
    pub file_name: String,
    /// Its MIME type.
    pub mime: String,
    /// The whole file, read before queueing (checked against the platform's size limit).
    pub bytes: Vec<u8>,
}

/// How WhatsApp sends a file of this MIME type.
pub fn media_kind(mime: &str) -> zentro_meta::webhook::MediaKind {
    use zentro_meta::webhook::MediaKind;
    match mime.split(';').next().unwrap_or_default().trim() {
        "image/jpeg" | "image/png" => MediaKind::Image,
        "image/webp" => MediaKind::Sticker,
        m if m.starts_with("video/") => MediaKind::Video,
        m if m.starts_with("audio/") => MediaKind::Audio,
        _ => MediaKind::Document,
    }
}

/// An approved template and the values of its body variables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TemplateChoice {
    /// The template's name as approved in the WhatsApp Business Account.
    pub name: String,
    /// Its language code.
    pub language: String,
    /// `{{1}}`, `{{2}}`… in order.
    pub variables: Vec<String>,
}

/// The `message.sent` team event: a reply Meta accepted, for every device to show.
pub use zentro_events::MessageSent;

/// A new client id: `cm_` and 128 random bits in hex.
fn new_client_id() -> String {
    format!("cm_{}", zentro_events::clock::random_id())
}

struct Target {
    channel_id: String,
    kind: String,
    channel_external_id: String,
    customer_id: String,
    phone: Option<String>,
    last_inbound_at: Option<i64>,
}

async fn target(cache: &Cache, conversation_id: i64) -> Result<Target, OutboxError> {
    sqlx::query_as!(
        Target,
        r#"SELECT ch.id AS channel_id, ch.kind, ch.external_id AS channel_external_id, k.external_id AS customer_id,
                  k.phone, c.last_inbound_at
           FROM conversations c JOIN contacts k ON k.id = c.contact_id JOIN channels ch ON ch.id = k.channel_id WHERE c.id = ?"#,
        conversation_id
    )
    .fetch_optional(cache.pool())
    .await?
    .ok_or(OutboxError::NoConversation(conversation_id))
}

/// Writes a queued entry to the outbox (in the caller's transaction, with its message row).
async fn insert_entry(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    client_id: &str,
    conversation_id: i64,
    actor: &str,
    payload: &str,
    now: i64,
) -> Result<(), OutboxError> {
    sqlx::query!(
        "INSERT INTO outbox (client_id, conversation_id, actor_member_id, payload, state, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, 'queued', ?, ?)",
        client_id,
        conversation_id,
        actor,
        payload,
        now,
        now
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Free-form messages need the customer's window open (24 hours since they last wrote).
fn check_window(t: &Target, now: i64) -> Result<(), OutboxError> {
    let window = if t.kind == "whatsapp" {
        platform::WHATSAPP_SERVICE_WINDOW
    } else {
        platform::MESSENGER_STANDARD_WINDOW
    };
    let last = t.last_inbound_at.ok_or(OutboxError::NoWindow)?;
    let closes = last + window.as_millis() as i64;
    if now >= closes {
        return Err(OutboxError::WindowClosed {
            hours_ago: (now - closes) / 3_600_000,
        });
    }
    Ok(())
}

/// Checks the window and the text, then writes the reply to the outbox and shows it as waiting.
/// Returns its client id. `actor` is the member asking for the send (privacy promise P2).
pub async fn queue_reply(
    cache: &Cache,
    actor: &str,
    conversation_id: i64,
    text: &str,
    reply_to: Option<&str>,
    now: i64,
) -> Result<String, OutboxError> {
    let t = target(cache, conversation_id).await?;
    check_window(&t, now)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(OutboxError::Invalid("the reply is empty".into()));
    }
    let too_long = match t.kind.as_str() {
        "whatsapp" => text.chars().count() > platform::WHATSAPP_TEXT_MAX_CHARS,
        "instagram" => text.len() > platform::INSTAGRAM_TEXT_MAX_BYTES,
        _ => text.chars().count() > platform::MESSENGER_TEXT_MAX_CHARS,
    };
    if too_long {
        return Err(OutboxError::Invalid(format!(
            "the reply is too long for {}",
            t.kind
        )));
    }
    let client_id = new_client_id();
    let payload = serde_json::to_string(&ReplyPayload {
        text: text.to_string(),
        reply_to: reply_to.map(str::to_string),
        template: None,
        attachment: None,
    })
    .unwrap_or_default();
    let mut tx = cache.pool().begin_with("BEGIN IMMEDIATE").await?;
    insert_entry(&mut tx, &client_id, conversation_id, actor, &payload, now).await?;
    sqlx::query!("INSERT INTO messages (conversation_id, client_id, direction, kind, body, sent_at, delivery_status, author_member_id, quoted_external_id)
         VALUES (?, ?, 'outbound', 'text', ?, ?, 'pending', ?, ?)", conversation_id, client_id, text, now, actor, reply_to)
    .execute(&mut *tx)
    .await?;
    // Activity and preview follow by trigger; answering marks the conversation read.
    sqlx::query!(
        "UPDATE conversations SET unread_count = 0 WHERE id = ?",
        conversation_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(client_id)
}

/// What one delivery pass did.
#[derive(Debug, Default)]
pub struct DeliveryReport {
    /// Accepted by Meta: `(client id, Meta's id)`, to publish as `message.sent`.
    pub accepted: Vec<MessageSent>,
    /// Will be tried again later.
    pub waiting: usize,
    /// Failed for good (shown with the reason).
    pub failed: usize,
    /// Outcome unknown; reconciled from status webhooks.
    pub ambiguous: usize,
    /// Channels (cache ids) whose sends Meta refused for a dead token or a lost permission: the
    /// relay is asked to check them, so every device sees them disconnected.
    pub refused_channels: Vec<String>,
}

/// Puts a file at a short-lived public address for Meta to fetch: Instagram takes a reply's file
/// only by link. The desk's implementation shares it through the workspace's relay.
pub trait FileLinks: Send + Sync {
    /// The public address of `bytes`; an [`GraphError::Unreachable`] failure is retried later.
    fn share<'a>(
        &'a self,
        file_name: &'a str,
        mime: &'a str,
        bytes: Vec<u8>,
    ) -> futures_util::future::BoxFuture<'a, Result<String, GraphError>>;
}

/// Sends every due outbox entry once, with no way to share files by link (Instagram files then
/// fail with the reason); see [`deliver_due_with_links`].
pub async fn deliver_due(
    cache: &Cache,
    graph: &GraphClient,
    token_for: &(dyn Fn(&str) -> Option<AccessToken> + Sync),
    now: i64,
) -> Result<DeliveryReport, OutboxError> {
    deliver_due_with_links(cache, graph, token_for, None, now).await
}

/// Sends every due outbox entry once. `token_for` returns the Meta token of a channel (from the
/// vault); `links` shares Instagram files by link. Nothing is sent twice: an entry is marked
/// `sending` before the call and only a failure known to have sent nothing returns it to the queue.
pub async fn deliver_due_with_links(
    cache: &Cache,
    graph: &GraphClient,
    token_for: &(dyn Fn(&str) -> Option<AccessToken> + Sync),
    links: Option<&dyn FileLinks>,
    now: i64,
) -> Result<DeliveryReport, OutboxError> {
    let pass = Pass {
        cache,
        graph,
        token_for,
        links,
        now,
    };
    let mut report = DeliveryReport::default();
    for entry in due_entries(cache, now).await? {
        pass.deliver(entry, &mut report).await?;
    }
    Ok(report)
}

/// An outbox entry whose time to be sent has come, as stored.
struct DueEntry {
    client_id: String,
    conversation_id: i64,
    actor: String,
    /// The [`ReplyPayload`] as JSON.
    payload: String,
    attempts: i64,
    created_at: i64,
}

/// The queued entries due at `now`, oldest first.
async fn due_entries(cache: &Cache, now: i64) -> Result<Vec<DueEntry>, OutboxError> {
    // `state IN ('queued', 'sending')` word for word, so SQLite can use the partial index
    // `outbox_due` (it matches only its exact terms): sent entries stay in the outbox, and this
    // runs every few seconds.
    let due = sqlx::query!("SELECT client_id, conversation_id, actor_member_id, payload, attempts, created_at FROM outbox WHERE state IN ('queued', 'sending') AND state = 'queued' AND next_attempt_at <= ? ORDER BY created_at", now)
        .fetch_all(cache.pool())
        .await?;
    Ok(due
        .into_iter()
        .map(|row| DueEntry {
            client_id: row.client_id,
            conversation_id: row.conversation_id,
            actor: row.actor_member_id,
            payload: row.payload,
            attempts: row.attempts,
            created_at: row.created_at,
        })
        .collect())
}

/// One delivery pass: the cache, Meta's client, the channels' tokens and the pass's time.
struct Pass<'a> {
    cache: &'a Cache,
    graph: &'a GraphClient,
    token_for: &'a (dyn Fn(&str) -> Option<AccessToken> + Sync),
    links: Option<&'a dyn FileLinks>,
    now: i64,
}

impl Pass<'_> {
    /// Sends one entry: fails it when this device has no token for its channel, else claims it,
    /// sends it and records what Meta answered.
    async fn deliver(
        &self,
        entry: DueEntry,
        report: &mut DeliveryReport,
    ) -> Result<(), OutboxError> {
        let payload: ReplyPayload = serde_json::from_str(&entry.payload)
            .map_err(|e| OutboxError::Invalid(e.to_string()))?;
        let t = target(self.cache, entry.conversation_id).await?;
        let Some(token) = (self.token_for)(&t.channel_id) else {
            fail(
                self.cache,
                &entry.client_id,
                "this device has no token for the channel; reconnect the channel",
            )
            .await?;
            report.failed += 1;
            return Ok(());
        };
        claim(self.cache, &entry.client_id).await?;
        let dispatch = Dispatch {
            graph: self.graph,
            token: &token,
            target: &t,
            links: self.links,
        };
        let result = dispatch.send(&payload, &entry.client_id).await;
        self.record(entry, &t, payload, result, report).await
    }

    /// Records what Meta answered: accepted (to announce), unknown (reconciled from statuses),
    /// not sent (back to the queue, after a backoff) or refused for good.
    async fn record(
        &self,
        entry: DueEntry,
        t: &Target,
        payload: ReplyPayload,
        result: Result<Accepted, GraphError>,
        report: &mut DeliveryReport,
    ) -> Result<(), OutboxError> {
        match result {
            Ok(accepted) => {
                record_accepted(self.cache, &entry.client_id, &accepted.message_id).await?;
                report
                    .accepted
                    .push(message_sent(entry, t, payload, accepted.message_id));
            }
            Err(GraphError::Ambiguous(reason)) => {
                record_ambiguous(self.cache, &entry.client_id, &reason).await?;
                report.ambiguous += 1;
            }
            Err(error) => match error.retry_after() {
                Some(wait) => {
                    let next_attempt_at =
                        self.now + backoff(wait, entry.attempts).as_millis() as i64;
                    requeue(self.cache, &entry.client_id, next_attempt_at, &error).await?;
                    report.waiting += 1;
                }
                None => {
                    if error.disconnects_channel()
                        && !report.refused_channels.contains(&t.channel_id)
                    {
                        report.refused_channels.push(t.channel_id.clone());
                    }
                    fail_refused(self.cache, &entry.client_id, &error).await?;
                    report.failed += 1;
                }
            },
        }
        Ok(())
    }
}

/// Claims an entry before the call: a crash now leaves it `sending`, never sent twice.
async fn claim(cache: &Cache, client_id: &str) -> Result<(), OutboxError> {
    sqlx::query!("UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE client_id = ? AND state = 'queued'", client_id)
        .execute(cache.pool())
        .await?;
    Ok(())
}

/// How long a reply known not to have been sent waits: as long as Meta says, and at least
/// 2^attempts seconds (up to 64).
fn backoff(wait: Duration, attempts: i64) -> Duration {
    wait.max(Duration::from_secs(
        2u64.saturating_pow(attempts.clamp(0, 6) as u32),
    ))
}

/// The `message.sent` event of an entry Meta accepted as `external_id`.
fn message_sent(
    entry: DueEntry,
    t: &Target,
    payload: ReplyPayload,
    external_id: String,
) -> MessageSent {
    MessageSent {
        client_id: entry.client_id,
        external_id,
        channel_kind: t.kind.clone(),
        channel_external_id: t.channel_external_id.clone(),
        customer_id: t.customer_id.clone(),
        body: payload.text,
        reply_to: payload.reply_to,
        sent_at: entry.created_at,
        author_member_id: entry.actor,
    }
}

/// Marks an entry accepted with Meta's id on its message, then applies a status that arrived
/// before the id was known.
async fn record_accepted(
    cache: &Cache,
    client_id: &str,
    message_id: &str,
) -> Result<(), OutboxError> {
    let mut tx = cache.pool().begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query!(
        "UPDATE outbox SET state = 'accepted', last_error = NULL WHERE client_id = ?",
        client_id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("UPDATE messages SET external_id = ?, delivery_status = 'sent' WHERE client_id = ? AND external_id IS NULL", message_id, client_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    crate::apply::apply_pending_status(cache, message_id).await?;
    Ok(())
}

/// Marks an entry whose outcome is unknown (reconciled later from status webhooks).
async fn record_ambiguous(cache: &Cache, client_id: &str, reason: &str) -> Result<(), OutboxError> {
    sqlx::query!(
        "UPDATE outbox SET state = 'ambiguous', last_error = ? WHERE client_id = ?",
        reason,
        client_id
    )
    .execute(cache.pool())
    .await?;
    Ok(())
}

/// Puts an entry known not to have been sent (offline, rate-limited, temporary) back in the
/// queue until `next_attempt_at`.
async fn requeue(
    cache: &Cache,
    client_id: &str,
    next_attempt_at: i64,
    error: &GraphError,
) -> Result<(), OutboxError> {
    let error = error.to_string();
    sqlx::query!("UPDATE outbox SET state = 'queued', next_attempt_at = ?, last_error = ? WHERE client_id = ?", next_attempt_at, error, client_id)
        .execute(cache.pool())
        .await?;
    Ok(())
}

/// Fails an entry Meta refused for good, with the reason and Meta's error code on its message.
async fn fail_refused(
    cache: &Cache,
    client_id: &str,
    error: &GraphError,
) -> Result<(), OutboxError> {
    fail(cache, client_id, &error.to_string()).await?;
    if let Some(code) = error.code() {
        sqlx::query!(
            "UPDATE messages SET error_code = ? WHERE client_id = ?",
            code,
            client_id
        )
        .execute(cache.pool())
        .await?;
    }
    Ok(())
}

/// One reply on its way to Meta: the client, the channel's token and where it goes.
struct Dispatch<'a> {
    graph: &'a GraphClient,
    token: &'a AccessToken,
    target: &'a Target,
    links: Option<&'a dyn FileLinks>,
}

impl Dispatch<'_> {
    /// Sends the payload on the target's platform, tagged with its client id (WhatsApp).
    async fn send(&self, payload: &ReplyPayload, client_id: &str) -> Result<Accepted, GraphError> {
        match self.target.kind.as_str() {
            "whatsapp" => self.send_whatsapp(payload, client_id).await,
            kind => self.send_messenger(payload, kind).await,
        }
    }

    async fn send_whatsapp(
        &self,
        payload: &ReplyPayload,
        client_id: &str,
    ) -> Result<Accepted, GraphError> {
        let t = self.target;
        let to = match &t.phone {
            Some(phone) => Recipient::Phone(phone.clone()),
            None => Recipient::UserId(t.customer_id.clone()),
        };
        let send = WhatsAppSend {
            to,
            message: self.whatsapp_message(payload).await?,
            reply_to: payload.reply_to.clone(),
            callback_data: client_id.to_string(),
        };
        self.graph
            .send_whatsapp(&t.channel_external_id, self.token, &send)
            .await
    }

    /// The WhatsApp message of a payload: its file (uploaded first), its template or its text.
    async fn whatsapp_message(&self, payload: &ReplyPayload) -> Result<Outgoing, GraphError> {
        if let Some(file) = &payload.attachment {
            let media_id = self.upload_to_whatsapp(file).await?;
            return Ok(whatsapp_media(file, &payload.text, media_id));
        }
        Ok(match &payload.template {
            Some(template) => template_message(template),
            None => Outgoing::Text {
                body: payload.text.clone(),
                preview_url: true,
            },
        })
    }

    /// Uploads a stored file to WhatsApp; returns its media id.
    async fn upload_to_whatsapp(&self, file: &AttachmentRef) -> Result<String, GraphError> {
        let bytes = read_attached(file).await?;
        self.graph
            .upload_media(
                &self.target.channel_external_id,
                self.token,
                &file.mime,
                &file.file_name,
                bytes.into(),
            )
            .await
    }

    /// Sends on Messenger or Instagram (`kind`), as a response to the customer.
    async fn send_messenger(
        &self,
        payload: &ReplyPayload,
        kind: &str,
    ) -> Result<Accepted, GraphError> {
        let message = match &payload.attachment {
            Some(file) => self.messenger_file(file).await?,
            None => MessengerOutgoing::Text(payload.text.clone()),
        };
        let send = MessengerSend {
            platform: if kind == "instagram" {
                Platform::Instagram
            } else {
                Platform::Messenger
            },
            recipient_id: self.target.customer_id.clone(),
            message,
            messaging_type: MessagingType::Response,
        };
        self.graph
            .send_messenger(&self.target.channel_external_id, self.token, &send)
            .await
    }

    /// A stored file as a Messenger attachment: uploaded to Messenger, or shared by link for
    /// Instagram, which has no upload API (Meta fetches the file by link).
    async fn messenger_file(&self, file: &AttachmentRef) -> Result<MessengerOutgoing, GraphError> {
        let kind = messenger_attachment_kind(&file.mime);
        let bytes = read_attached(file).await?;
        if self.target.kind == "instagram" {
            let Some(links) = self.links else {
                return Err(GraphError::InvalidInput(
                    "files to Instagram go through the team's relay, which this \
                     sender has not got; send it from the app"
                        .into(),
                ));
            };
            let url = links.share(&file.file_name, &file.mime, bytes).await?;
            return Ok(MessengerOutgoing::Attachment {
                kind: kind.to_string(),
                url,
            });
        }
        let attachment_id = self
            .graph
            .upload_messenger_attachment(
                &self.target.channel_external_id,
                self.token,
                kind,
                &file.mime,
                &file.file_name,
                bytes.into(),
            )
            .await?;
        Ok(MessengerOutgoing::Uploaded {
            kind: kind.to_string(),
            attachment_id,
        })
    }
}

/// The bytes of an attached file, or why it cannot be sent.
async fn read_attached(file: &AttachmentRef) -> Result<Vec<u8>, GraphError> {
    tokio::fs::read(&file.path).await.map_err(|e| {
        GraphError::InvalidInput(format!(
            "the attached file is gone from this computer ({e}); attach it again"
        ))
    })
}

/// An uploaded file as a WhatsApp message: `text` is its caption (audio and stickers carry
/// none), and a document keeps its name.
fn whatsapp_media(file: &AttachmentRef, text: &str, media_id: String) -> Outgoing {
    use zentro_meta::webhook::MediaKind;
    let kind = media_kind(&file.mime);
    let caption = Some(text.to_string())
        .filter(|c| !c.trim().is_empty() && !matches!(kind, MediaKind::Audio | MediaKind::Sticker));
    Outgoing::Media {
        kind,
        source: zentro_meta::graph::MediaSource::Id(media_id),
        caption,
        filename: (kind == MediaKind::Document).then(|| file.file_name.clone()),
    }
}

/// An approved template with its body variables.
fn template_message(template: &TemplateChoice) -> Outgoing {
    Outgoing::Template {
        name: template.name.clone(),
        language: template.language.clone(),
        components: vec![TemplateComponent {
            kind: TemplateComponentKind::Body,
            parameters: template
                .variables
                .iter()
                .map(|v| TemplateParameter::text(v.clone()))
                .collect(),
        }],
    }
}

/// How Messenger and Instagram name a file of this MIME type.
fn messenger_attachment_kind(mime: &str) -> &'static str {
    use zentro_meta::webhook::MediaKind;
    match media_kind(mime) {
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::Audio => "audio",
        _ => "file",
    }
}

async fn fail(cache: &Cache, client_id: &str, reason: &str) -> Result<(), OutboxError> {
    let mut tx = cache.pool().begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query!(
        "UPDATE outbox SET state = 'failed', last_error = ? WHERE client_id = ?",
        reason,
        client_id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE messages SET delivery_status = 'failed', error_message = ? WHERE client_id = ?",
        reason,
        client_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// An outbox entry's state (`queued`, `sending`, `accepted`, `failed`, `ambiguous`) and last error.
pub async fn state(
    cache: &Cache,
    client_id: &str,
) -> Result<(String, Option<String>), OutboxError> {
    let row = sqlx::query!(
        "SELECT state, last_error FROM outbox WHERE client_id = ?",
        client_id
    )
    .fetch_one(cache.pool())
    .await?;
    Ok((row.state, row.last_error))
}

/// Tries a failed reply again; returns the client id of the attempt.
///
/// A reply Meta never accepted is put back in the queue as it was (same client id, so a late
/// status for an earlier attempt still finds it). A reply Meta accepted and later reported as
/// failed (the customer's phone was unreachable, say) is sent again as a new reply, checked
/// against the 24-hour window like any other.
pub async fn retry(
    cache: &Cache,
    actor: &str,
    client_id: &str,
    now: i64,
) -> Result<String, OutboxError> {
    let row = sqlx::query!(
        r#"SELECT m.conversation_id, m.body, m.quoted_external_id, m.external_id, o.state AS "state?"
           FROM messages m LEFT JOIN outbox o ON o.client_id = m.client_id
           WHERE m.client_id = ? AND m.delivery_status = 'failed'"#,
        client_id
    )
    .fetch_optional(cache.pool())
    .await?
    .ok_or_else(|| OutboxError::Invalid("only a failed reply can be tried again".into()))?;
    if row.external_id.is_none() && row.state.as_deref() == Some("failed") {
        let mut tx = cache.pool().begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query!(
            "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = ?, last_error = NULL WHERE client_id = ?",
            now,
            client_id
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE messages SET delivery_status = 'pending', error_code = NULL, error_message = NULL WHERE client_id = ?",
            client_id
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(client_id.to_string());
    }
    let text = row.body.unwrap_or_default();
    queue_reply(
        cache,
        actor,
        row.conversation_id,
        &text,
        row.quoted_external_id.as_deref(),
        now,
    )
    .await
}

/// The approved WhatsApp templates a conversation's channel may send, from Meta (a network call).
pub async fn templates(
    cache: &Cache,
    graph: &GraphClient,
    token_for: &(dyn Fn(&str) -> Option<AccessToken> + Sync),
    conversation_id: i64,
) -> Result<Vec<zentro_meta::graph::MessageTemplate>, OutboxError> {
    let row = sqlx::query!(
        r#"SELECT ch.id AS "id!", ch.kind, ch.account_id FROM conversations c JOIN contacts k ON k.id = c.contact_id
           JOIN channels ch ON ch.id = k.channel_id WHERE c.id = ?"#,
        conversation_id
    )
    .fetch_optional(cache.pool())
    .await?
    .ok_or(OutboxError::NoConversation(conversation_id))?;
    if row.kind != "whatsapp" {
        return Err(OutboxError::Invalid(
            "templates are for WhatsApp; Messenger and Instagram only allow replies within their window".into(),
        ));
    }
    let account = row.account_id.ok_or_else(|| {
        OutboxError::Invalid(
            "this number's WhatsApp Business Account is not known yet; wait for the next message"
                .into(),
        )
    })?;
    let token = token_for(&row.id).ok_or_else(|| {
        OutboxError::Invalid(
            "this device has no token for the channel; reconnect the channel".into(),
        )
    })?;
    let mut list = graph
        .message_templates(&account, &token)
        .await
        .map_err(|e| OutboxError::Invalid(format!("Meta did not list the templates: {e}")))?;
    list.retain(|t| t.is_approved());
    Ok(list)
}

/// A template's body with its variables filled in (`{{1}}` → the first value…).
pub fn render_template(body: &str, variables: &[String]) -> String {
    variables
        .iter()
        .enumerate()
        .fold(body.to_string(), |text, (i, value)| {
            text.replace(&format!("{{{{{}}}}}", i + 1), value)
        })
}

/// Queues an approved WhatsApp template (allowed outside the 24-hour window); `preview` is its
/// body with the variables filled in, shown in the thread. Returns the client id.
pub async fn queue_template(
    cache: &Cache,
    actor: &str,
    conversation_id: i64,
    choice: TemplateChoice,
    preview: &str,
    now: i64,
) -> Result<String, OutboxError> {
    let t = target(cache, conversation_id).await?;
    if t.kind != "whatsapp" {
        return Err(OutboxError::Invalid(
            "templates are for WhatsApp conversations".into(),
        ));
    }
    if choice.variables.iter().any(|v| v.trim().is_empty()) {
        return Err(OutboxError::Invalid(
            "fill in every variable of the template".into(),
        ));
    }
    let client_id = new_client_id();
    let payload = serde_json::to_string(&ReplyPayload {
        text: preview.to_string(),
        reply_to: None,
        template: Some(choice),
        attachment: None,
    })
    .unwrap_or_default();
    let mut tx = cache.pool().begin_with("BEGIN IMMEDIATE").await?;
    insert_entry(&mut tx, &client_id, conversation_id, actor, &payload, now).await?;
    sqlx::query!(
        "INSERT INTO messages (conversation_id, client_id, direction, kind, body, sent_at, delivery_status, author_member_id)
         VALUES (?, ?, 'outbound', 'template', ?, ?, 'pending', ?)",
        conversation_id,
        client_id,
        preview,
        now,
        actor
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(client_id)
}

/// Stores the file (content-addressed, under `data_dir`), shows it in the thread and queues it for
/// sending with `caption` (WhatsApp only: Messenger and Instagram files carry none). Checked
/// against the window and the platform's types and size limits
/// before anything is written. Returns the client id.
pub async fn queue_attachment(
    cache: &Cache,
    data_dir: &std::path::Path,
    actor: &str,
    conversation_id: i64,
    attachment: Attachment,
    caption: &str,
    now: i64,
) -> Result<String, OutboxError> {
    let t = target(cache, conversation_id).await?;
    let kind = check_attachment(&t, &attachment, caption, now)?;
    let (sha256, path) = crate::media::store(data_dir, &attachment.bytes)
        .await
        .map_err(OutboxError::Invalid)?;
    let path_text = path.to_string_lossy().into_owned();
    let caption = caption.trim();
    let client_id = new_client_id();
    let payload = attachment_payload(caption, &path_text, &attachment);
    let kind_name = kind.as_str();
    let caption = (!caption.is_empty()).then_some(caption);
    let mut tx = cache.pool().begin_with("BEGIN IMMEDIATE").await?;
    insert_entry(&mut tx, &client_id, conversation_id, actor, &payload, now).await?;
    sqlx::query!(
        "INSERT INTO messages (conversation_id, client_id, direction, kind, caption, file_name, media_mime, media_path,
                               media_sha256, sent_at, delivery_status, author_member_id)
         VALUES (?, ?, 'outbound', ?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
        conversation_id,
        client_id,
        kind_name,
        caption,
        attachment.file_name,
        attachment.mime,
        path_text,
        sha256,
        now,
        actor
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(client_id)
}

/// Checks a file before anything is written: no caption off WhatsApp, the window open, a type the
/// platform takes, not empty and within its size limit. Returns how it is sent.
fn check_attachment(
    t: &Target,
    attachment: &Attachment,
    caption: &str,
    now: i64,
) -> Result<zentro_meta::webhook::MediaKind, OutboxError> {
    let platform_name = platform_name(&t.kind);
    if !zentro_meta::platform::files_carry_captions(&t.kind) && !caption.trim().is_empty() {
        return Err(OutboxError::Invalid(format!(
            "a file on {platform_name} carries no caption: send the file alone, then the text as a reply"
        )));
    }
    check_window(t, now)?;
    let kind = media_kind(&attachment.mime);
    let limit = attachment_limit(t, attachment, kind)?;
    if attachment.bytes.is_empty() {
        return Err(OutboxError::Invalid("the file is empty".into()));
    }
    if attachment.bytes.len() as u64 > limit {
        return Err(OutboxError::Invalid(format!(
            "{} is too large for {platform_name}: a {} may be at most {} MB",
            attachment.file_name,
            kind.as_str(),
            limit / (1024 * 1024)
        )));
    }
    Ok(kind)
}

/// A channel kind's name as the agent knows it.
fn platform_name(kind: &str) -> &'static str {
    match kind {
        "messenger" => "Messenger",
        "instagram" => "Instagram",
        _ => "WhatsApp",
    }
}

/// The most bytes the target's platform takes for this file (Instagram refuses some types).
fn attachment_limit(
    t: &Target,
    attachment: &Attachment,
    kind: zentro_meta::webhook::MediaKind,
) -> Result<u64, OutboxError> {
    Ok(match t.kind.as_str() {
        "messenger" => platform::MESSENGER_ATTACHMENT_MAX_BYTES,
        "instagram" => platform::instagram_attachment_limit(&attachment.mime).ok_or_else(|| {
            OutboxError::Invalid(format!(
                "Instagram takes PNG or JPEG images, audio, video and PDF files; {} is {}",
                attachment.file_name, attachment.mime
            ))
        })?,
        _ => platform::whatsapp_upload_limit(kind.as_str()),
    })
}

/// The outbox payload of a stored file and its caption.
fn attachment_payload(caption: &str, path: &str, attachment: &Attachment) -> String {
    serde_json::to_string(&ReplyPayload {
        text: caption.to_string(),
        reply_to: None,
        template: None,
        attachment: Some(AttachmentRef {
            path: path.to_string(),
            mime: attachment.mime.clone(),
            file_name: attachment.file_name.clone(),
        }),
    })
    .unwrap_or_default()
}
