//! kill -9 while batches are being applied: the cache holds exactly the batches whose commit
//! finished (each together with its cursor), never part of one.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::json;
use zentro_core::Cache;
use zentro_core::apply::{RelayEvent, apply_batch, cursor};

const EVENTS: i64 = 3_000;
const BATCH: usize = 750;

fn events() -> Vec<RelayEvent> {
    (1..=EVENTS)
        .map(|seq| RelayEvent::webhook(seq, json!({ "object": "whatsapp_business_account", "entry": [{ "id": "W", "changes": [{ "field": "messages", "value": {
                "messaging_product": "whatsapp", "metadata": { "phone_number_id": "P1" },
                "contacts": [{ "profile": { "name": format!("Customer {}", seq % 500) }, "user_id": format!("US.{}", seq % 500) }],
                "messages": [{ "from_user_id": format!("US.{}", seq % 500), "id": format!("wamid.{seq}"), "timestamp": "1750000000",
                               "type": "text", "text": { "body": format!("message number {seq}") } }] }}]}]})))
        .collect()
}

#[tokio::test]
async fn a_crash_mid_batch_leaves_whole_batches_only() {
    if let Some(dir) = std::env::var_os("ZENTRO_CRASH_CHILD") {
        let cache = Cache::open_in(std::path::Path::new(&dir)).await.unwrap();
        for chunk in events().chunks(BATCH) {
            let report = apply_batch(&cache, "ws", chunk).await.unwrap();
            println!("committed {}", report.cursor);
        }
        println!("done");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash::a_crash_mid_batch_leaves_whole_batches_only",
            "--exact",
            "--nocapture",
        ])
        .env("ZENTRO_CRASH_CHILD", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Let the first batch commit, then kill it while the next one is being written.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("the child stopped early").unwrap();
        if line.starts_with("committed") {
            break;
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(150));
    child.kill().unwrap();
    child.wait().unwrap();

    let cache = Cache::open_in(dir.path()).await.unwrap();
    let applied = cursor(&cache, "ws").await.unwrap();
    let messages = i64::from(cache.status().await.unwrap().counts.messages);
    assert!(applied >= BATCH as i64, "the first batch was committed");
    assert_eq!(
        applied % BATCH as i64,
        0,
        "the cursor only ever lands on a batch boundary"
    );
    assert_eq!(
        messages, applied,
        "exactly the committed batches' messages: nothing of a half-written batch"
    );
    let indexed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM search_index WHERE kind = 'message'")
            .fetch_one(cache.pool())
            .await
            .unwrap();
    assert_eq!(indexed, applied, "the search index moved with the messages");

    // Catching up from there completes it, once.
    let all = events();
    apply_batch(&cache, "ws", &all).await.unwrap();
    assert_eq!(
        i64::from(cache.status().await.unwrap().counts.messages),
        EVENTS
    );
    assert_eq!(cursor(&cache, "ws").await.unwrap(), EVENTS);
}
