//! A device that was away while the relay pruned events it never received: it is told (a gap,
//! in pages and in the stream), the erasures outlive their pruned events, and device tokens
//! expire after an idle period.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use zentro_events::clock::now_ms;

use crate::support::*;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);
const SALT: &str = "00112233445566778899aabbccddeeff";
const HASH: &str = "aa00000000000000000000000000000000000000000000000000000000000001";

async fn page(relay: &TestRelay, token: &str, after: i64) -> Value {
    let response = relay
        .get(Some(token), &format!("/v1/events?after={after}"))
        .await;
    assert_eq!(response.status, StatusCode::OK);
    response.json()
}

fn seqs(page: &Value) -> Vec<i64> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect()
}

async fn erase(relay: &TestRelay, token: &str) {
    let response = relay
        .post(
            Some(token),
            "/v1/erasures",
            json!({ "identifiers": ["16505559999"], "salt": SALT, "hash": HASH }),
        )
        .await;
    assert_eq!(
        response.status,
        StatusCode::CREATED,
        "{:?}",
        response.json()
    );
}

#[tokio::test]
async fn a_device_behind_what_was_pruned_is_told_the_gap_and_gets_the_erasures() {
    let (relay, laptop) = TestRelay::with_owner("P1").await;
    let away = relay.sign_in("owner@acme.test").await;

    // An empty log right after creation is no gap.
    let fresh = page(&relay, &away, 0).await;
    assert!(fresh["gap"].is_null(), "{fresh}");

    relay.post_texts("P1", 0..3).await; // 1-3
    erase(&relay, &laptop).await; // 4: contact.erased
    tokio::time::sleep(Duration::from_millis(5)).await;
    let cut = now_ms();
    tokio::time::sleep(Duration::from_millis(5)).await;
    relay.post_texts("P1", 3..5).await; // 5-6
    relay.acknowledge(&laptop, 6).await;
    // Nothing pruned yet: no gap for anyone.
    assert!(page(&relay, &away, 0).await["gap"].is_null());

    // The away device never acknowledged; past the retention, 1-4 go anyway.
    let pruned = relay.prune_at(cut + 30 * 86_400_000).await;
    assert_eq!(pruned, 4);

    let behind = page(&relay, &away, 0).await;
    assert_eq!(behind["gap"], json!({ "from": 1, "to": 4 }), "{behind}");
    assert_eq!(seqs(&behind), [5, 6], "what remains follows");
    let partly = page(&relay, &away, 2).await;
    assert_eq!(partly["gap"], json!({ "from": 3, "to": 4 }));
    for after in [4, 5, 6] {
        assert!(
            page(&relay, &laptop, after).await["gap"].is_null(),
            "after {after}"
        );
    }

    // The erasure outlived its event: any member reads it, salt and hash only.
    let erasures = relay.get(Some(&away), "/v1/erasures").await;
    assert_eq!(erasures.status, StatusCode::OK);
    assert_eq!(
        erasures.json()["erasures"],
        json!([{ "salt": SALT, "hash": HASH }])
    );
    assert!(!String::from_utf8_lossy(&erasures.body).contains("16505559999"));

    // Everything pruned: a device that had it all has no gap, one that had nothing has.
    let pruned = relay.prune_at(now_ms() + 31 * 86_400_000).await;
    assert_eq!(pruned, 2);
    assert!(page(&relay, &laptop, 6).await["gap"].is_null());
    let empty = page(&relay, &away, 4).await;
    assert_eq!(empty["gap"], json!({ "from": 5, "to": 6 }));
    assert_eq!(seqs(&empty), Vec::<i64>::new());
    assert_eq!(
        relay.get_json(&away, "/v1/erasures").await["erasures"][0]["hash"],
        HASH,
        "kept while the workspace is"
    );
}

#[tokio::test]
async fn erasure_receipts_are_the_callers_workspace_only() {
    let relay = TestRelay::start().await;
    relay.workspace("Acme", "owner@acme.test", "P1").await;
    relay.workspace("Beta", "owner@beta.test", "P2").await;
    let acme = relay.sign_in("owner@acme.test").await;
    let beta = relay.sign_in("owner@beta.test").await;
    erase(&relay, &acme).await;
    let theirs = relay.get(Some(&beta), "/v1/erasures").await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert_eq!(theirs.json()["erasures"], json!([]));
    assert_eq!(
        relay.get(None, "/v1/erasures").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_stream_of_a_device_behind_what_was_pruned_starts_with_a_gap_event() {
    let relay = ServedRelay::start("owner@acme.test", "P1").await;
    let away = relay.sign_in("owner@acme.test").await;
    let http = reqwest::Client::new();
    for i in 0..3 {
        let body = wa_text("P1", &format!("wamid.{i}"), "x").to_string();
        let signature = zentro_meta::signature::sign_webhook(
            &zentro_meta::AppSecret::new(SECRET),
            body.as_bytes(),
        );
        let response = http
            .post(format!("{}/webhooks/meta", relay.base))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // Seq 1 goes (a second store on the same file, as the operator's CLI would be).
    let store = zentro_relay::Store::open_at(&relay.database).await.unwrap();
    let first = store
        .events_after(&workspace_of(&store).await, 0, 1)
        .await
        .unwrap()[0]
        .at;
    let pruned = store
        .prune(first + 1 + 30 * 86_400_000, HOUR, 30 * DAY)
        .await
        .unwrap();
    assert!(pruned >= 1);
    let kept = store
        .events_after(&workspace_of(&store).await, 0, 10)
        .await
        .unwrap();
    let oldest = kept[0].seq;
    store.close().await;

    let response = http
        .get(format!("{}/v1/events?after=0", relay.base))
        .bearer_auth(&away)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let blocks = tokio::time::timeout(Duration::from_secs(10), async {
        use futures_util::StreamExt;
        loop {
            let blocks: Vec<String> = text
                .split("\n\n")
                .filter(|b| b.contains("data:"))
                .map(str::to_string)
                .collect();
            if blocks.len() >= 2 {
                return blocks;
            }
            let chunk = body.next().await.unwrap().unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("the gap and the first kept event");
    assert!(blocks[0].lines().any(|l| l == "event: gap"), "{blocks:?}");
    let data: Value = serde_json::from_str(
        blocks[0]
            .lines()
            .find_map(|l| l.strip_prefix("data:"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(data["gap"], json!({ "from": 1, "to": oldest - 1 }));
    assert!(blocks[1].contains(&format!("id: {oldest}")), "{blocks:?}");
    relay.stop().await;
}

async fn workspace_of(store: &zentro_relay::Store) -> String {
    store.channels(None).await.unwrap()[0].workspace_id.clone()
}

/// Sets the last use of every session of the relay's database (the test's clock).
async fn last_used(relay: &TestRelay, token_of: Option<&str>, at: i64) {
    let db = RawDatabase::open(&relay.database()).await;
    match token_of.map(zentro_relay::credentials::token_hash) {
        Some(hash) => {
            db.execute(
                "UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2",
                &[Bind::Int(at), Bind::Bytes(Some(hash.as_slice()))],
            )
            .await
        }
        None => {
            db.execute("UPDATE sessions SET last_seen_at = $1", &[Bind::Int(at)])
                .await
        }
    }
    db.close().await;
}

async fn last_seen(relay: &TestRelay, token: &str) -> i64 {
    let db = RawDatabase::open(&relay.database()).await;
    let hash = zentro_relay::credentials::token_hash(token);
    let at = db
        .fetch_i64(
            "SELECT last_seen_at FROM sessions WHERE token_hash = $1",
            &[Bind::Bytes(Some(hash.as_slice()))],
        )
        .await;
    db.close().await;
    at
}

#[tokio::test]
async fn a_device_token_idle_past_the_limit_is_refused_and_a_used_one_is_not() {
    let (relay, idle) = TestRelay::with_owner("P1").await;
    let used = relay.sign_in("owner@acme.test").await;
    let day = 86_400_000;
    let current = |token: String| {
        let relay = &relay;
        async move { relay.get(Some(&token), "/v1/sessions/current").await }
    };

    // 91 days without use (the default limit is 90): signed out, with a code the desk reads.
    last_used(&relay, Some(&idle), now_ms() - 91 * day).await;
    let refused = current(idle.clone()).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json()["error"]["code"], "session_expired");
    // Revoked for good: it does not come back by being used.
    last_used(&relay, Some(&idle), now_ms()).await;
    assert_eq!(current(idle.clone()).await.status, StatusCode::UNAUTHORIZED);

    // 89 days: still valid, and the use is recorded.
    last_used(&relay, Some(&used), now_ms() - 89 * day).await;
    assert_eq!(current(used.clone()).await.status, StatusCode::OK);
    assert!(last_seen(&relay, &used).await > now_ms() - 60_000);
    // Recorded at most once an hour, not on every request.
    let recent = now_ms() - 10 * 60_000;
    last_used(&relay, Some(&used), recent).await;
    assert_eq!(current(used.clone()).await.status, StatusCode::OK);
    assert_eq!(last_seen(&relay, &used).await, recent);
}

#[tokio::test]
async fn the_idle_limit_is_configurable() {
    let relay = TestRelay::start_with(|c| c.device_idle = Duration::from_secs(7 * 86_400)).await;
    relay.workspace("Acme", "owner@acme.test", "P1").await;
    let token = relay.sign_in("owner@acme.test").await;
    last_used(&relay, None, now_ms() - 8 * 86_400_000).await;
    let refused = relay.get(Some(&token), "/v1/events?after=0").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json()["error"]["code"], "session_expired");
}

#[tokio::test]
async fn devices_idle_past_the_limit_are_signed_out_and_hold_no_events_back() {
    let (relay, laptop) = TestRelay::with_owner("P1").await;
    let forgotten = relay.sign_in("owner@acme.test").await;
    relay.post_texts("P1", 0..3).await;
    relay.acknowledge(&laptop, 3).await;
    last_used(&relay, Some(&forgotten), now_ms() - 91 * 86_400_000).await;
    let later = now_ms() + 2 * 3_600_000;
    // The forgotten laptop holds the delivered events back…
    assert_eq!(relay.prune_at(later).await, 0);
    // …until the pruner's pass signs it out.
    let idle = relay.state.config.device_idle;
    assert_eq!(
        relay
            .store()
            .expire_idle_sessions(now_ms(), idle)
            .await
            .unwrap(),
        1
    );
    assert_eq!(relay.prune_at(later).await, 3);
    assert_eq!(
        relay
            .get(Some(&forgotten), "/v1/sessions/current")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        relay
            .get(Some(&laptop), "/v1/sessions/current")
            .await
            .status,
        StatusCode::OK
    );
}
