use std::time::Duration;

use zentro_events::clock::now_ms;
use zentro_relay::store::PRUNE_CHUNK;

use crate::support::*;

#[tokio::test]
async fn acknowledged_events_go_after_the_grace_and_unacknowledged_ones_after_the_retention() {
    let (relay, laptop) = TestRelay::with_owner("P1").await;
    let _closed_laptop = relay.sign_in("owner@acme.test").await;
    relay.post_texts("P1", 0..4).await;
    relay.acknowledge(&laptop, 4).await;
    let now = now_ms();

    // One device has not acknowledged: nothing goes before the retention period.
    assert_eq!(relay.prune_at(now + 2 * 3_600_000).await, 0);
    assert_eq!(relay.events(&laptop, 0).await.len(), 4);
    // After 30 days, even unacknowledged events go.
    assert_eq!(relay.prune_at(now + 31 * 86_400_000).await, 4);
}

#[tokio::test]
async fn events_every_device_has_are_pruned_after_the_grace_period() {
    let (relay, a) = TestRelay::with_owner("P1").await;
    let b = relay.sign_in("owner@acme.test").await;
    relay.post_texts("P1", 0..3).await;
    for (token, seq) in [(&a, 3), (&b, 2)] {
        relay.acknowledge(token, seq).await;
    }
    let now = now_ms();
    assert_eq!(
        relay.prune_at(now + 60_000).await,
        0,
        "still within the grace period"
    );
    assert_eq!(
        relay.prune_at(now + 2 * 3_600_000).await,
        2,
        "seq 1 and 2 are on every device"
    );
    let left: Vec<i64> = relay
        .events(&a, 0)
        .await
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(left, [3]);
}

/// One signed webhook carrying `count` customer messages for a phone number (wamids `prefix.N`).
fn wa_texts(phone_number_id: &str, prefix: &str, count: usize) -> Vec<u8> {
    let mut body = wa_text(phone_number_id, &format!("{prefix}.0"), "x");
    let messages = body
        .pointer_mut("/entry/0/changes/0/value/messages")
        .and_then(serde_json::Value::as_array_mut)
        .unwrap();
    let first = messages[0].clone();
    for i in 1..count {
        let mut message = first.clone();
        message["id"] = format!("{prefix}.{i}").into();
        messages.push(message);
    }
    body.to_string().into_bytes()
}

#[tokio::test]
async fn a_backlog_larger_than_one_pruning_chunk_goes_entirely_and_only_from_its_workspace() {
    let relay = TestRelay::start().await;
    let acme = relay.workspace("Acme", "owner@acme.test", "P1").await;
    let beta = relay.workspace("Beta", "owner@beta.test", "P2").await;
    let acme_laptop = relay.sign_in("owner@acme.test").await;
    let _beta_laptop = relay.sign_in("owner@beta.test").await;
    let (delivered, undelivered) = (2 * PRUNE_CHUNK as usize + 17, PRUNE_CHUNK as usize + 3);
    for (phone, count) in [("P1", delivered), ("P2", undelivered)] {
        let response = relay.post_signed(&wa_texts(phone, phone, count)).await;
        assert_eq!(response.status, axum::http::StatusCode::OK);
    }
    relay.acknowledge(&acme_laptop, delivered as i64).await;
    let count = |workspace: String| {
        let store = relay.store().clone();
        async move {
            store
                .events_after(&workspace, 0, 10_000)
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(count(acme.clone()).await, delivered);
    assert_eq!(count(beta.clone()).await, undelivered);

    let now = now_ms();
    let pruned = relay.prune_at(now + 2 * 3_600_000).await;
    assert_eq!(pruned, delivered as u64, "everything Acme's device has");
    assert_eq!(count(acme.clone()).await, 0);
    assert_eq!(
        count(beta.clone()).await,
        undelivered,
        "Beta's device has none yet"
    );

    let pruned = relay.prune_at(now + 31 * 86_400_000).await;
    assert_eq!(
        pruned, undelivered as u64,
        "past the retention, delivered or not"
    );
    assert_eq!(count(beta).await, 0);
}

#[tokio::test]
async fn the_oldest_unacknowledged_age_is_that_of_the_first_event_some_device_lacks() {
    let relay = TestRelay::start().await;
    let acme = relay.workspace("Acme", "owner@acme.test", "P1").await;
    let laptop = relay.sign_in("owner@acme.test").await;
    for i in 0..3 {
        relay.post_texts("P1", i..i + 1).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let events = relay.store().events_after(&acme, 0, 10).await.unwrap();
    relay.acknowledge(&laptop, 1).await;
    let now = now_ms() + 60_000;
    assert_eq!(
        relay.store().oldest_unacknowledged(now).await.unwrap(),
        [(acme.clone(), now - events[1].at)]
    );
    relay.acknowledge(&laptop, 3).await;
    assert_eq!(relay.store().oldest_unacknowledged(now).await.unwrap(), []);
}

/// A text from `phone` to the business number `to`, as Meta sends it.
fn text_from(to: &str, wamid: &str, phone: &str) -> Vec<u8> {
    let mut body = wa_text(to, wamid, "my address is 1 Main St");
    body["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] = phone.into();
    body["entry"][0]["changes"][0]["value"]["messages"][0]["from"] = phone.into();
    body.to_string().into_bytes()
}

#[tokio::test]
async fn an_erasure_purge_removes_the_customers_events_only() {
    let relay = TestRelay::start().await;
    let acme = relay.workspace("Acme", "owner@acme.test", "P1").await;
    for (to, wamid, phone) in [
        ("P1", "wamid.1", "16505551234"),
        ("P1", "wamid.2", "16505550000"),
        ("P1", "wamid.3", "16505551234"),
        // A number no workspace has (yet): quarantined.
        ("P9", "wamid.4", "16505551234"),
        ("P9", "wamid.5", "16505550000"),
    ] {
        let response = relay.post_signed(&text_from(to, wamid, phone)).await;
        assert_eq!(response.status, axum::http::StatusCode::OK);
    }
    assert_eq!(relay.store().quarantine().await.unwrap().len(), 2);

    let purged = relay
        .store()
        .purge_mentions(&acme, &["16505551234".to_string()])
        .await
        .unwrap();
    // The quarantined ones are addressed to no channel of Acme's: not Acme's to purge (tenants.rs).
    assert_eq!(purged, (2, 0));
    let left = relay.store().events_after(&acme, 0, 100).await.unwrap();
    let text = serde_json::to_string(&left.iter().map(|e| &e.payload).collect::<Vec<_>>()).unwrap();
    assert_eq!(left.len(), 1);
    assert!(!text.contains("16505551234") && text.contains("16505550000"));
    assert_eq!(relay.store().quarantine().await.unwrap().len(), 2);
}
