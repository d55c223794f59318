//! Applying relay events to a real cache file.

use serde_json::{Value, json};
use zentro_core::Cache;
use zentro_core::apply::{RelayEvent, apply_batch, cursor, status_advances};
use zentro_core::inbox;
use zentro_meta::webhook::DeliveryState;

fn corpus(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../meta/tests/corpus")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The relay splits bodies into one event per item; do the same here.
fn events_from(bodies: &[Value], first_seq: i64) -> Vec<RelayEvent> {
    let mut seq = first_seq;
    let mut events = Vec::new();
    for body in bodies {
        for item in zentro_meta::webhook::parse_value(body).unwrap() {
            events.push(RelayEvent::webhook(seq, item.envelope));
            seq += 1;
        }
    }
    events
}

fn wa(phone: &str, message: Value) -> Value {
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": { "phone_number_id": phone, "display_phone_number": "1" },
        "contacts": [{ "profile": { "name": "Ana Souza" }, "user_id": "BR.1", "wa_id": "5511987654321" }],
        "messages": [message] }}]}]})
}

fn status(id: &str, state: &str, ts: i64) -> Value {
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": { "phone_number_id": "P1" },
        "statuses": [{ "id": id, "status": state, "timestamp": ts.to_string(), "recipient_id": "5511987654321",
                        "errors": if state == "failed" { json!([{ "code": 131026, "title": "Undeliverable", "error_data": { "details": "not on WhatsApp" } }]) } else { json!([]) } }] }}]}]})
}

async fn counts(cache: &Cache) -> (u32, u32, u32) {
    let s = cache.status().await.unwrap();
    (s.counts.contacts, s.counts.conversations, s.counts.messages)
}

#[tokio::test]
async fn applying_the_same_events_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    let events = events_from(
        &[
            corpus("wa_media_album.json"),
            corpus("wa_interactive_and_context.json"),
            corpus("messenger_events.json"),
        ],
        1,
    );
    let report = apply_batch(&cache, "ws", &events).await.unwrap();
    assert_eq!(report.cursor, events.len() as i64);
    let before = counts(&cache).await;
    assert!(before.2 > 10);

    // A replay (after a reconnect) and an overlapping batch.
    let again = apply_batch(&cache, "ws", &events).await.unwrap();
    assert_eq!(again.applied, 0);
    assert_eq!(again.skipped, events.len());
    assert_eq!(counts(&cache).await, before);
    // Even with the cursor reset (a restored cache), Meta's ids keep messages unique.
    sqlx::query("UPDATE sync_cursors SET applied_seq = 0")
        .execute(cache.pool())
        .await
        .unwrap();
    crate::support::apply(&cache, &events).await;
    assert_eq!(counts(&cache).await, before);
    assert_eq!(cursor(&cache, "ws").await.unwrap(), events.len() as i64);
}

#[tokio::test]
async fn an_album_makes_one_conversation_even_across_batches() {
    let images: Vec<Value> = (0..10)
        .map(|i| wa("P1", json!({ "from": "5511987654321", "from_user_id": "BR.1", "id": format!("wamid.ALBUM{i}"), "timestamp": "1750000000",
                                   "type": "image", "image": { "id": format!("{i}"), "mime_type": "image/jpeg", "sha256": "x" } })))
        .collect();
    let events = events_from(&images, 1);
    let (_dir, cache) = crate::support::cache_with(&events[..4]).await;
    crate::support::apply(&cache, &events[4..]).await;
    assert_eq!(counts(&cache).await, (1, 1, 10));
    let list = inbox::conversations(&cache, None, 10).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].unread_count, 10);
    assert_eq!(list[0].contact_name, "Ana Souza");
}

#[tokio::test]
async fn statuses_only_move_forward_and_may_arrive_before_their_message() {
    // read overtakes delivered, and both overtake the message (an echo stands in for our send).
    let mut bodies = vec![
        status("wamid.OUT", "read", 1750000003),
        status("wamid.OUT", "delivered", 1750000002),
    ];
    bodies.push(json!({ "object": "page", "entry": [{ "id": "PAGE1", "messaging": [{ "sender": { "id": "PAGE1" }, "recipient": { "id": "PSID1" },
        "timestamp": 1750000001000i64, "message": { "mid": "wamid.OUT", "is_echo": true, "text": "Your order shipped" } }] }] }));
    bodies.push(status("wamid.OUT", "sent", 1750000001));
    bodies.push(status("wamid.OUT", "failed", 1750000004));
    let (_dir, cache) = crate::support::cache_with(&events_from(&bodies, 1)).await;
    let conversation = inbox::conversations(&cache, None, 1).await.unwrap()[0].id;
    let messages = inbox::messages(&cache, conversation, None, 10)
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].direction, "outbound",
        "an echo is the business's own message"
    );
    assert_eq!(
        messages[0].delivery_status.as_deref(),
        Some("read"),
        "neither a late delivered, sent nor failed undoes read"
    );
}

#[test]
fn the_status_order_rules() {
    use DeliveryState::*;
    assert!(status_advances(None, &Sent));
    assert!(status_advances(Some(&Sent), &Read));
    assert!(!status_advances(Some(&Read), &Delivered));
    assert!(
        status_advances(Some(&Sent), &Failed),
        "failed replaces a message not yet delivered"
    );
    assert!(!status_advances(Some(&Delivered), &Failed));
    assert!(
        status_advances(Some(&Failed), &Delivered),
        "a later success replaces failed"
    );
    assert!(!status_advances(Some(&Failed), &Sent));
}

#[tokio::test]
async fn a_failed_status_keeps_its_error() {
    let echo = json!({ "object": "page", "entry": [{ "id": "PAGE1", "messaging": [{ "sender": { "id": "PAGE1" }, "recipient": { "id": "PSID1" },
        "timestamp": 1750000001000i64, "message": { "mid": "wamid.F", "is_echo": true, "text": "hello?" } }] }] });
    let (_dir, cache) = crate::support::cache_with(&events_from(
        &[echo, status("wamid.F", "failed", 1750000005)],
        1,
    ))
    .await;
    let (status, code, message): (String, i64, String) =
        sqlx::query_as("SELECT delivery_status, error_code, error_message FROM messages WHERE external_id = 'wamid.F'").fetch_one(cache.pool()).await.unwrap();
    assert_eq!((status.as_str(), code), ("failed", 131026));
    assert_eq!(message, "not on WhatsApp");
}

#[tokio::test]
async fn reactions_edits_and_unsends_update_the_message() {
    let (_dir, cache) = crate::support::cache_with(&events_from(
        &[
            corpus("messenger_events.json"),
            corpus("instagram_events.json"),
        ],
        1,
    ))
    .await;
    let edited: String =
        sqlx::query_scalar("SELECT body FROM messages WHERE external_id = 'm_AbC1'")
            .fetch_one(cache.pool())
            .await
            .unwrap();
    assert_eq!(edited, "Is the blue one available in L?");
    // react then unreact on m_Echo1: no reaction left.
    let reactions: i64 = sqlx::query_scalar("SELECT count(*) FROM reactions")
        .fetch_one(cache.pool())
        .await
        .unwrap();
    assert_eq!(reactions, 0);
    let (body, deleted): (Option<String>, Option<i64>) =
        sqlx::query_as("SELECT body, deleted_at FROM messages WHERE external_id = 'aWdfZAG1'")
            .fetch_one(cache.pool())
            .await
            .unwrap();
    assert_eq!(body, None, "an unsent message loses its content");
    assert!(deleted.is_some());
    assert!(
        inbox::search(&cache, "olá", 10).await.unwrap().is_empty(),
        "and leaves the search index"
    );
    // Unsupported items keep their raw JSON for later versions.
    let raw: Option<String> =
        sqlx::query_scalar("SELECT raw FROM messages WHERE external_id = 'aWdfZAG6'")
            .fetch_one(cache.pool())
            .await
            .unwrap();
    assert!(raw.unwrap().contains("is_unsupported"));
}

#[tokio::test]
async fn search_matches_prefixes_ranks_and_groups_by_conversation() {
    let texts = [
        "Where is my invoice for March?",
        "The invoice is attached",
        "Thanks!",
        "Can I change the delivery address?",
    ];
    let bodies: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| wa("P1", json!({ "from": "5511987654321", "from_user_id": "BR.1", "id": format!("wamid.S{i}"), "timestamp": format!("{}", 1750000000 + i), "type": "text", "text": { "body": t } })))
        .chain(std::iter::once(json!({ "object": "page", "entry": [{ "id": "PAGE1", "messaging": [{ "sender": { "id": "PSID9" }, "recipient": { "id": "PAGE1" },
            "timestamp": 1750000100000i64, "message": { "mid": "m_S", "text": "invoices please" } }] }] })))
        .collect();
    let (_dir, cache) = crate::support::cache_with(&events_from(&bodies, 1)).await;

    let hits = inbox::search(&cache, "invo", 10).await.unwrap();
    assert_eq!(
        hits.len(),
        2,
        "two conversations mention invoices, each once: {hits:?}"
    );
    assert!(
        hits.iter().all(|h| h.snippet.contains("[invoice")),
        "{hits:?}"
    );
    assert!(
        inbox::search(&cache, "delivery addr", 10).await.unwrap()[0]
            .snippet
            .contains("[address]")
    );
    assert_eq!(
        inbox::search(&cache, "souza", 10).await.unwrap().len(),
        1,
        "contact names are searchable"
    );
    assert_eq!(
        inbox::search(&cache, "5511987", 10).await.unwrap().len(),
        1,
        "and phone numbers"
    );
    assert!(
        inbox::search(&cache, "\"; DROP TABLE messages; --", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn pages_by_key_cover_everything_once() {
    let bodies: Vec<Value> = (0..25)
        .map(|i| wa("P1", json!({ "from": "5511987654321", "from_user_id": "BR.1", "id": format!("wamid.K{i}"), "timestamp": format!("{}", 1750000000 + i / 3), "type": "text", "text": { "body": format!("m{i}") } })))
        .collect();
    let (_dir, cache) = crate::support::cache_with(&events_from(&bodies, 1)).await;
    let conversation = inbox::conversations(&cache, None, 1).await.unwrap()[0].id;
    let mut seen = Vec::new();
    let mut key = None;
    loop {
        let page = inbox::messages(&cache, conversation, key, 10)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        key = page.last().map(|m| (m.sent_at, m.id));
        seen.extend(page.into_iter().map(|m| m.body.unwrap()));
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(seen[0], "m24", "newest first");
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 25);

    // Walking back down from the oldest covers the same messages in the other order.
    let oldest = inbox::messages(&cache, conversation, key, 1).await.unwrap();
    assert!(oldest.is_empty());
    let first = inbox::messages(&cache, conversation, None, 25)
        .await
        .unwrap();
    let start = first.last().unwrap();
    let mut forward = vec![start.body.clone().unwrap()];
    let mut key = (start.sent_at, start.id);
    loop {
        let page = inbox::messages_after(&cache, conversation, key, 7)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        key = (last.sent_at, last.id);
        forward.extend(page.into_iter().map(|m| m.body.unwrap()));
    }
    seen.reverse();
    assert_eq!(forward, seen, "oldest first, each once");
}

#[tokio::test]
async fn a_location_pin_keeps_its_place_name_and_a_map_link() {
    let body = wa(
        "P1",
        json!({ "from_user_id": "BR.1", "id": "wamid.L1", "timestamp": "1750000000", "type": "location",
                "location": { "latitude": 38.7139, "longitude": -9.1394, "name": "Sandbox Coffee", "address": "Rua Augusta" } }),
    );
    let (_dir, cache) = crate::support::cache_with(&events_from(&[body], 1)).await;
    let conversation = inbox::conversations(&cache, None, 1).await.unwrap()[0].id;
    let pin = &inbox::messages(&cache, conversation, None, 1)
        .await
        .unwrap()[0];
    assert_eq!(pin.kind, "location");
    assert_eq!(pin.body.as_deref(), Some("Sandbox Coffee Rua Augusta"));
    assert_eq!(
        pin.media_url.as_deref(),
        Some(
            "https://www.openstreetmap.org/?mlat=38.713900&mlon=-9.139400#map=17/38.713900/-9.139400"
        )
    );
}
