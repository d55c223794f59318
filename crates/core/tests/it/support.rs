//! Relay events as the core tests feed them to `apply_batch`.

use serde_json::json;
use zentro_core::apply::RelayEvent;

/// A WhatsApp text from `customer` (a business-scoped id like `US.100`; its phone is derived from
/// it) named `name`, sent at `at_secs` (Unix seconds), as the relay delivers it.
pub fn wa_text(
    seq: i64,
    customer: &str,
    name: &str,
    wamid: &str,
    body: &str,
    at_secs: i64,
) -> RelayEvent {
    let phone = format!("1650{}", customer.trim_start_matches("US."));
    RelayEvent::webhook(
        seq,
        json!({ "object": "whatsapp_business_account", "entry": [{ "id": "W", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "phone_number_id": "P" },
            "contacts": [{ "profile": { "name": name }, "user_id": customer, "wa_id": phone }],
            "messages": [{ "from_user_id": customer, "from": phone, "id": wamid,
                           "timestamp": at_secs.to_string(), "type": "text", "text": { "body": body } }] }}]}]}),
    )
}

/// Whether nothing is at `path`: `false` if something is, a panic if the file system cannot say
/// (a permission error is not "deleted").
pub fn absent(path: &std::path::Path) -> bool {
    !path
        .try_exists()
        .unwrap_or_else(|e| panic!("could not tell whether {} exists: {e}", path.display()))
}
