//! Webhooks as Meta sends them: payload builders for simulated customers, and a sender that
//! signs the exact bytes (with non-ASCII escaped as `\uXXXX`, as Meta does), retries failures
//! and injects the configured faults (duplicates, late deliveries).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::Notify;
use zentro_meta::signature::sign_webhook;

use crate::{SimConfig, SimState};

/// A simulated customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// BSUID (WhatsApp), PSID (Messenger) or IGSID (Instagram).
    pub id: String,
    /// Phone number (WhatsApp), when the customer shows it.
    pub phone: Option<String>,
    /// Profile name.
    pub name: String,
}

/// What a simulated customer sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// A text message with this body.
    Text(String),
    /// A photo (stored so it can be downloaded).
    Image {
        /// The JPEG's bytes, kept as media the desk can download (`image/jpeg`).
        bytes: Vec<u8>,
        /// The text sent with the photo; `None` sends none.
        caption: Option<String>,
    },
    /// A voice note.
    Voice {
        /// The recording's bytes, kept as media (`audio/ogg; codecs=opus`).
        bytes: Vec<u8>,
    },
    /// A PDF document, with its file name.
    Document {
        /// The PDF's bytes, kept as media (`application/pdf`).
        bytes: Vec<u8>,
        /// The file name the customer's phone shows and sends.
        filename: String,
    },
    /// A location pin.
    Location {
        /// Degrees north (negative: south).
        latitude: f64,
        /// Degrees east (negative: west).
        longitude: f64,
        /// Place name.
        name: String,
    },
    /// A contact card.
    ContactCard {
        /// The card's formatted name.
        name: String,
        /// The card's one phone number (sent as type `CELL`).
        phone: String,
    },
    /// A reply quoting one of the business's messages.
    Reply {
        /// The quoted message id.
        quoted_id: String,
        /// What the customer wrote under the quote.
        text: String,
    },
    /// A reaction (None removes it).
    Reaction {
        /// The message reacted to.
        message_id: String,
        /// The emoji; `None` removes the customer's earlier reaction.
        emoji: Option<String>,
    },
    /// A tap on a reply button (WhatsApp `interactive` `button_reply`; on Messenger and
    /// Instagram a quick reply whose payload is the id).
    ButtonReply {
        /// The button id.
        id: String,
        /// The button's label, as the customer saw it.
        title: String,
    },
    /// A row picked from a list (WhatsApp `interactive` `list_reply`; on Messenger and
    /// Instagram a quick reply whose payload is the id).
    ListReply {
        /// The row id.
        id: String,
        /// The row's title, as the customer saw it.
        title: String,
        /// The row's description, when it had one.
        description: Option<String>,
    },
    /// A tap on a quick reply (Messenger and Instagram: a text carrying `quick_reply.payload`;
    /// on WhatsApp the nearest thing, a template's quick-reply `button` with its payload).
    QuickReply {
        /// The quick reply's title, posted as the customer's text.
        text: String,
        /// The payload the business gave it.
        payload: String,
    },
    /// A message type the platform does not support (e.g. a poll).
    Unsupported,
}

fn wa_timestamp(at: DateTime<Utc>) -> String {
    at.timestamp().to_string()
}

/// A WhatsApp inbound webhook body.
#[allow(clippy::too_many_arguments)]
pub(crate) fn whatsapp_inbound(
    waba_id: &str,
    phone_number_id: &str,
    display: &str,
    customer: &Customer,
    id: &str,
    at: DateTime<Utc>,
    message: &Inbound,
    media_id: Option<&str>,
    sha256: Option<&str>,
) -> Value {
    let mut m = json!({ "from_user_id": customer.id, "id": id, "timestamp": wa_timestamp(at) });
    if let Some(phone) = &customer.phone {
        m["from"] = json!(phone);
    }
    let (kind, part) = whatsapp_message_part(&mut m, message, display, media_id, sha256);
    m["type"] = json!(kind);
    if !part.is_null() {
        m[kind] = part;
    }
    let mut contact = json!({ "profile": { "name": customer.name }, "user_id": customer.id });
    if let Some(phone) = &customer.phone {
        contact["wa_id"] = json!(phone);
    }
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": waba_id, "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": display, "phone_number_id": phone_number_id },
        "contacts": [contact],
        "messages": [m],
    }}]}]})
}

/// The WhatsApp `type` of an inbound message and its part (`Null` when it has none); contacts,
/// quotes and errors go on the message `m` itself.
fn whatsapp_message_part(
    m: &mut Value,
    message: &Inbound,
    display: &str,
    media_id: Option<&str>,
    sha256: Option<&str>,
) -> (&'static str, Value) {
    match message {
        Inbound::Text(body) => ("text", json!({ "body": body })),
        Inbound::Image { caption, .. } => {
            let mut part = json!({ "id": media_id, "mime_type": "image/jpeg", "sha256": sha256 });
            if let Some(c) = caption {
                part["caption"] = json!(c);
            }
            ("image", part)
        }
        Inbound::Voice { .. } => (
            "audio",
            json!({ "id": media_id, "mime_type": "audio/ogg; codecs=opus", "sha256": sha256, "voice": true }),
        ),
        Inbound::Document { filename, .. } => (
            "document",
            json!({ "id": media_id, "mime_type": "application/pdf", "sha256": sha256, "filename": filename }),
        ),
        Inbound::Location {
            latitude,
            longitude,
            name,
        } => (
            "location",
            json!({ "latitude": latitude, "longitude": longitude, "name": name }),
        ),
        Inbound::ContactCard { name, phone } => {
            m["contacts"] = json!([{ "name": { "formatted_name": name }, "phones": [{ "phone": phone, "type": "CELL" }] }]);
            ("contacts", Value::Null)
        }
        Inbound::Reply { quoted_id, text } => {
            m["context"] = json!({ "from": display, "id": quoted_id });
            ("text", json!({ "body": text }))
        }
        Inbound::Reaction { message_id, emoji } => (
            "reaction",
            json!({ "message_id": message_id, "emoji": emoji.clone().unwrap_or_default() }),
        ),
        Inbound::ButtonReply { id: button, title } => (
            "interactive",
            json!({ "type": "button_reply", "button_reply": { "id": button, "title": title } }),
        ),
        Inbound::ListReply {
            id: row,
            title,
            description,
        } => {
            let mut reply = json!({ "id": row, "title": title });
            if let Some(d) = description {
                reply["description"] = json!(d);
            }
            (
                "interactive",
                json!({ "type": "list_reply", "list_reply": reply }),
            )
        }
        Inbound::QuickReply { text, payload } => {
            ("button", json!({ "text": text, "payload": payload }))
        }
        Inbound::Unsupported => {
            m["errors"] = json!([{ "code": 131051, "title": "Message type unknown", "message": "Message type unknown",
                                   "error_data": { "details": "Message type is currently not supported." } }]);
            ("unsupported", json!({ "type": "poll" }))
        }
    }
}

/// A Messenger or Instagram inbound webhook body.
pub(crate) fn messaging_inbound(
    instagram: bool,
    page_id: &str,
    customer: &Customer,
    mid: &str,
    at: DateTime<Utc>,
    message: &Inbound,
) -> Value {
    let ms = at.timestamp_millis();
    let event = match message {
        Inbound::Reaction { message_id, emoji } => json!({ "reaction": match emoji {
            Some(e) => json!({ "mid": message_id, "action": "react", "reaction": "other", "emoji": e }),
            None => json!({ "mid": message_id, "action": "unreact" }),
        }}),
        Inbound::Reply { quoted_id, text } => {
            json!({ "message": { "mid": mid, "text": text, "reply_to": { "mid": quoted_id } } })
        }
        Inbound::Image { .. } => {
            json!({ "message": { "mid": mid, "attachments": [{ "type": "image", "payload": {
            "url": format!("https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id={mid}") } }] } })
        }
        Inbound::Voice { .. } => {
            json!({ "message": { "mid": mid, "attachments": [{ "type": "audio", "payload": {
            "url": format!("https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id={mid}") } }] } })
        }
        Inbound::Location {
            latitude,
            longitude,
            ..
        } => json!({ "message": { "mid": mid, "attachments": [{ "type": "location",
            "payload": { "coordinates": { "lat": latitude, "long": longitude } } }] } }),
        Inbound::ButtonReply { id, title } | Inbound::ListReply { id, title, .. } => {
            json!({ "message": { "mid": mid, "text": title, "quick_reply": { "payload": id } } })
        }
        Inbound::QuickReply { text, payload } => {
            json!({ "message": { "mid": mid, "text": text, "quick_reply": { "payload": payload } } })
        }
        Inbound::Unsupported => json!({ "message": { "mid": mid, "is_unsupported": true } }),
        Inbound::Text(text) => json!({ "message": { "mid": mid, "text": text } }),
        Inbound::Document { filename, .. } => {
            json!({ "message": { "mid": mid, "attachments": [{ "type": "file", "payload": {
            "url": format!("https://lookaside.fbsbx.com/file/{filename}") } }] } })
        }
        Inbound::ContactCard { name, .. } => json!({ "message": { "mid": mid, "text": name } }),
    };
    let mut event = event;
    event["sender"] = json!({ "id": customer.id });
    event["recipient"] = json!({ "id": page_id });
    event["timestamp"] = json!(ms);
    json!({ "object": if instagram { "instagram" } else { "page" }, "entry": [{ "id": page_id, "time": ms, "messaging": [event] }] })
}

/// Renders JSON the way Meta puts it on the wire: non-ASCII characters escaped as `\uXXXX`
/// (UTF-16 code units). The signature is computed over exactly these bytes.
pub fn meta_json_bytes(value: &Value) -> Vec<u8> {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len() + 16);
    let mut units = [0u16; 2];
    for ch in text.chars() {
        if ch.is_ascii() {
            out.push(ch);
        } else {
            for unit in ch.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out.into_bytes()
}

/// What happened to a webhook's first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookDelivery {
    /// The receiver answered with this HTTP status (retries follow if it was not 2xx).
    Answered(u16),
    /// The receiver could not be reached (retries follow).
    Unreachable,
    /// Held back on purpose (a late delivery); it goes out later.
    Late,
    /// No webhook URL is configured.
    NoReceiver,
}

/// Posts signed webhooks to the configured URL.
#[derive(Clone)]
pub struct WebhookSender {
    config: SimConfig,
    state: Arc<Mutex<SimState>>,
    http: reqwest::Client,
    in_flight: Arc<AtomicUsize>,
    idle: Arc<Notify>,
    rng: Arc<Mutex<fastrand::Rng>>,
}

impl WebhookSender {
    pub(crate) fn new(config: SimConfig, state: Arc<Mutex<SimState>>) -> Self {
        let rng = fastrand::Rng::with_seed(config.seed);
        Self {
            config,
            state,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap_or_default(),
            in_flight: Arc::new(AtomicUsize::new(0)),
            idle: Arc::new(Notify::new()),
            rng: Arc::new(Mutex::new(rng)),
        }
    }

    fn dice(&self, p: f64) -> bool {
        p > 0.0 && self.rng.lock().map(|mut r| r.f64() < p).unwrap_or(false)
    }

    fn url(&self) -> Option<String> {
        self.state.lock().ok().and_then(|s| s.webhook_url.clone())
    }

    async fn attempt(&self, url: &str, bytes: &[u8]) -> WebhookDelivery {
        let signature = sign_webhook(&self.config.app_secret, bytes);
        let result = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(bytes.to_vec())
            .send()
            .await;
        match result {
            Ok(response) => WebhookDelivery::Answered(response.status().as_u16()),
            Err(_) => WebhookDelivery::Unreachable,
        }
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let in_flight = self.in_flight.clone();
        let idle = self.idle.clone();
        tokio::spawn(async move {
            task.await;
            if in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
                idle.notify_waiters();
            }
        });
    }

    /// Retries in the background with the configured delays until a 2xx or the list runs out.
    fn retry_later(&self, url: String, bytes: Arc<Vec<u8>>) {
        let sender = self.clone();
        self.spawn(async move {
            for delay in sender.config.retry_delays.clone() {
                tokio::time::sleep(delay).await;
                if let WebhookDelivery::Answered(status) = sender.attempt(&url, &bytes).await
                    && (200..300).contains(&status)
                {
                    return;
                }
            }
            tracing::warn!(
                "meta-sim gave up delivering a webhook after {} retries",
                sender.config.retry_delays.len()
            );
        });
    }

    /// Delivers `body` (signed), applying the configured faults. The first attempt is awaited
    /// unless the delivery is late; retries, duplicates and late deliveries run in the background.
    pub async fn deliver(&self, body: Value) -> WebhookDelivery {
        let Some(url) = self.url() else {
            return WebhookDelivery::NoReceiver;
        };
        let bytes = Arc::new(meta_json_bytes(&body));
        if self.dice(self.config.duplicate_rate) {
            let delay =
                Duration::from_millis(self.rng.lock().map(|mut r| r.u64(0..50)).unwrap_or(0));
            self.deliver_after(delay, url.clone(), bytes.clone());
        }
        if self.dice(self.config.late_rate) {
            let max = self.config.max_extra_delay.as_millis() as u64;
            let delay =
                Duration::from_millis(self.rng.lock().map(|mut r| r.u64(0..=max)).unwrap_or(0));
            self.deliver_after(delay, url, bytes);
            return WebhookDelivery::Late;
        }
        self.attempt_or_retry(url, bytes).await
    }

    /// One attempt now; anything but a 2xx answer schedules the retries.
    async fn attempt_or_retry(&self, url: String, bytes: Arc<Vec<u8>>) -> WebhookDelivery {
        let outcome = self.attempt(&url, &bytes).await;
        if !matches!(outcome, WebhookDelivery::Answered(200..=299)) {
            self.retry_later(url, bytes);
        }
        outcome
    }

    /// One attempt (with its retries) in the background after `delay`: a duplicate or a
    /// late delivery.
    fn deliver_after(&self, delay: Duration, url: String, bytes: Arc<Vec<u8>>) {
        let sender = self.clone();
        self.spawn(async move {
            tokio::time::sleep(delay).await;
            sender.attempt_or_retry(url, bytes).await;
        });
    }

    /// Delivers `body` in the background after `delay`.
    pub(crate) fn deliver_later(&self, body: Value, delay: Duration) {
        let sender = self.clone();
        self.spawn(async move {
            tokio::time::sleep(delay).await;
            sender.deliver(body).await;
        });
    }

    /// Waits until nothing is scheduled, or `timeout` passes.
    pub async fn settle(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.in_flight.load(Ordering::SeqCst) > 0 {
            let notified = self.idle.notified();
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_is_escaped_as_utf16_units() {
        let bytes = meta_json_bytes(&json!({ "t": "Jä 😀" }));
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"t":"J\u00e4 \ud83d\ude00"}"#
        );
    }
}
