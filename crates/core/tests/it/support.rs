//! What the core tests share: relay events as they feed them to `apply_batch`, a cache file
//! with events applied, and file checks.

use serde_json::{Value, json};
use zentro_core::Cache;
use zentro_core::apply::{RelayEvent, apply_batch};

/// A cache file in a new temporary folder (returned with it, so it lives as long as the test
/// holds it), with `events` applied as the relay delivers them to workspace "ws".
pub async fn cache_with(events: &[RelayEvent]) -> (tempfile::TempDir, Cache) {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    apply(&cache, events).await;
    (dir, cache)
}

/// Applies `events` to `cache` as the relay delivers them to workspace "ws"; they must apply.
pub async fn apply(cache: &Cache, events: &[RelayEvent]) {
    apply_batch(cache, "ws", events).await.unwrap();
}

/// A WhatsApp message from `customer` (a business-scoped id like `US.100`; its phone is derived
/// from it) named `name`, sent at `at_secs` (Unix seconds), as the relay delivers it: of type
/// `kind`, with `content` under that key.
pub fn wa_message(
    seq: i64,
    customer: &str,
    name: &str,
    wamid: &str,
    at_secs: i64,
    kind: &str,
    content: Value,
) -> RelayEvent {
    let phone = format!("1650{}", customer.trim_start_matches("US."));
    let mut message = json!({ "from_user_id": customer, "from": phone, "id": wamid,
                              "timestamp": at_secs.to_string(), "type": kind });
    message[kind] = content;
    RelayEvent::webhook(
        seq,
        json!({ "object": "whatsapp_business_account", "entry": [{ "id": "W", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "phone_number_id": "P" },
            "contacts": [{ "profile": { "name": name }, "user_id": customer, "wa_id": phone }],
            "messages": [message] }}]}]}),
    )
}

/// A WhatsApp text (see [`wa_message`]).
pub fn wa_text(
    seq: i64,
    customer: &str,
    name: &str,
    wamid: &str,
    body: &str,
    at_secs: i64,
) -> RelayEvent {
    wa_message(
        seq,
        customer,
        name,
        wamid,
        at_secs,
        "text",
        json!({ "body": body }),
    )
}

/// What `PRAGMA name` answers on `cache`, as text.
pub async fn pragma(cache: &Cache, name: &str) -> String {
    sqlx::query_scalar(&format!("PRAGMA {name}"))
        .fetch_one(cache.pool())
        .await
        .unwrap()
}

/// Whether nothing is at `path`: `false` if something is, a panic if the file system cannot say
/// (a permission error is not "deleted").
pub fn absent(path: &std::path::Path) -> bool {
    !path
        .try_exists()
        .unwrap_or_else(|e| panic!("could not tell whether {} exists: {e}", path.display()))
}
