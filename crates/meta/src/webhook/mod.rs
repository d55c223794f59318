//! A tolerant parser for Meta's webhook bodies.
//!
//! [`parse`] turns one **already verified** POST body into [`WebhookItem`]s: one per message,
//! status, receipt, reaction or account event. Each item carries
//! - a [`Route`]: which channel it belongs to (WhatsApp `phone_number_id` or WABA id, Page id,
//!   Instagram account id), so the relay can hand it to the right workspace;
//! - a stable de-duplication [`WebhookItem::key`]: the wamid or mid where Meta gives one, the
//!   `(status id, status)` pair for statuses, and a derived key elsewhere;
//! - an [`WebhookItem::envelope`]: a minimal body in Meta's own shape holding just this item, so it
//!   can be stored, forwarded and parsed again to the same item;
//! - the typed [`Event`].
//!
//! Nothing in a batch fails the batch: an unknown type, field or attachment becomes an
//! [`Event::Unsupported`] item that keeps its raw JSON. Only a body that is not a JSON object at
//! all is an error. Timestamps are normalised to UTC (WhatsApp sends seconds as strings,
//! Messenger and Instagram integer milliseconds).

mod messaging;
mod types;
mod whatsapp;

use serde_json::Value;
use sha2::{Digest, Sha256};

pub use types::*;

/// The body is not a JSON object with an `object` field: nothing in it can be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the webhook body is not a Meta notification: {reason}")]
pub struct MalformedBody {
    /// What was wrong.
    pub reason: String,
}

/// Parses a verified webhook body into its items. Never panics.
pub fn parse(body: &[u8]) -> Result<Vec<WebhookItem>, MalformedBody> {
    let value: Value = serde_json::from_slice(body).map_err(|e| MalformedBody {
        reason: format!("invalid JSON ({e})"),
    })?;
    parse_value(&value)
}

/// Parses an already decoded webhook body.
pub fn parse_value(value: &Value) -> Result<Vec<WebhookItem>, MalformedBody> {
    let Some(object) = value.as_object() else {
        return Err(MalformedBody {
            reason: "not a JSON object".into(),
        });
    };
    let Some(kind) = object.get("object").and_then(Value::as_str) else {
        return Err(MalformedBody {
            reason: "no \"object\" field".into(),
        });
    };
    let entries: &[Value] = object
        .get("entry")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut items = Vec::new();
    for entry in entries {
        match kind {
            "whatsapp_business_account" => whatsapp::parse_entry(entry, &mut items),
            "page" => messaging::parse_entry(Platform::Messenger, entry, &mut items),
            "instagram" => messaging::parse_entry(Platform::Instagram, entry, &mut items),
            other => items.push(unsupported_item(
                other,
                Route::Unroutable,
                entry,
                format!("unknown object {other:?}"),
            )),
        }
    }
    Ok(items)
}

/// A key derived from the item's JSON, for events Meta gives no id.
pub(crate) fn derived_key(prefix: &str, raw: &Value) -> String {
    // serde_json's map keeps keys sorted, so equal JSON renders to equal bytes.
    let digest = Sha256::digest(raw.to_string().as_bytes());
    format!("{prefix}:{}", hex::encode(&digest[..16]))
}

pub(crate) fn unsupported_item(
    object: &str,
    route: Route,
    raw: &Value,
    reason: String,
) -> WebhookItem {
    let envelope = serde_json::json!({ "object": object, "entry": [raw] });
    WebhookItem {
        key: derived_key(&format!("{object}:unsupported"), raw),
        route,
        at: None,
        event: Event::Unsupported(Unsupported {
            reason,
            raw: raw.clone(),
        }),
        envelope,
    }
}
