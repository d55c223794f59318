//! kill -9 while batches are being applied: the cache holds exactly the batches whose commit
//! finished (each together with its cursor), never part of one.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use zentro_core::Cache;
use zentro_core::apply::{RelayEvent, apply_batch, cursor};

const EVENTS: i64 = 3_000;
const BATCH: usize = 750;
/// The batch the child is killed in (the third of four), and the message half-way through it
/// whose insertion never finishes: batches 1 and 2 commit, batch 3 stalls with half of its rows
/// written, batch 4 never starts.
const STALLED_BATCH: i64 = 3;
const STALL_AT: i64 = (STALLED_BATCH - 1) * BATCH as i64 + BATCH as i64 / 2;
const CHILD: &str = "ZENTRO_CRASH_CHILD";

fn events() -> Vec<RelayEvent> {
    (1..=EVENTS)
        .map(|seq| RelayEvent::webhook(seq, json!({ "object": "whatsapp_business_account", "entry": [{ "id": "W", "changes": [{ "field": "messages", "value": {
                "messaging_product": "whatsapp", "metadata": { "phone_number_id": "P1" },
                "contacts": [{ "profile": { "name": format!("Customer {}", seq % 500) }, "user_id": format!("US.{}", seq % 500) }],
                "messages": [{ "from_user_id": format!("US.{}", seq % 500), "id": format!("wamid.{seq}"), "timestamp": "1750000000",
                               "type": "text", "text": { "body": format!("message number {seq}") } }] }}]}]})))
        .collect()
}

/// Inserting message `STALL_AT` runs a query that takes hours (a cross join of 10^12 rows), so
/// the child's transaction for that batch stays open, half-written, until it is killed.
fn stall() -> String {
    format!(
        "CREATE TABLE crash_spin (x INTEGER);
         INSERT INTO crash_spin WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000) SELECT i FROM n;
         CREATE TRIGGER crash_stall AFTER INSERT ON messages WHEN NEW.external_id = 'wamid.{STALL_AT}'
         BEGIN SELECT count(*) FROM crash_spin a, crash_spin b, crash_spin c; END;"
    )
}

/// Kills the child however the test ends, so a failed assertion leaves no process spinning.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether some connection holds the cache's write lock right now (one attempt, no waiting:
/// `SQLITE_BUSY`, whose extended codes keep 5 in their low byte).
async fn write_lock_held(probe: &mut sqlx::SqliteConnection) -> bool {
    match probe.begin_with("BEGIN IMMEDIATE").await {
        Ok(tx) => {
            tx.rollback().await.unwrap();
            false
        }
        Err(error)
            if error
                .as_database_error()
                .and_then(|e| e.code())
                .and_then(|code| code.parse::<i32>().ok())
                .is_some_and(|code| code & 0xff == 5) =>
        {
            true
        }
        Err(error) => panic!("could not probe the cache's write lock: {error}"),
    }
}

#[tokio::test]
async fn a_crash_mid_batch_leaves_whole_batches_only() {
    if let Some(dir) = std::env::var_os(CHILD) {
        let cache = Cache::open_in(Path::new(&dir)).await.unwrap();
        sqlx::raw_sql(&stall()).execute(cache.pool()).await.unwrap();
        for chunk in events().chunks(BATCH) {
            let report = apply_batch(&cache, "ws", chunk).await.unwrap();
            println!("committed {}", report.cursor);
        }
        println!("done");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Killed(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "crash::a_crash_mid_batch_leaves_whole_batches_only",
                "--exact",
                "--nocapture",
            ])
            .env(CHILD, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    // Wait for the batches before the stalled one to commit…
    let committed_before = (STALLED_BATCH - 1) * BATCH as i64;
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    loop {
        let line = lines
            .next()
            .expect("the child stopped before its second batch committed")
            .unwrap();
        if line == format!("committed {committed_before}") {
            break;
        }
    }
    // …then until the stalled batch's transaction holds the write lock (and keeps holding it:
    // not a checkpoint passing by), and kill the child inside it.
    let mut probe = SqliteConnectOptions::new()
        .filename(dir.path().join("cache.sqlite"))
        .connect()
        .await
        .unwrap();
    sqlx::query("PRAGMA busy_timeout = 0")
        .execute(&mut probe)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut held_since = None;
    loop {
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "the child ended before it could be killed mid-batch"
        );
        if write_lock_held(&mut probe).await {
            let since = *held_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() >= Duration::from_millis(300) {
                break;
            }
        } else {
            held_since = None;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "batch {STALLED_BATCH} never started writing"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    probe.close().await.unwrap();
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let after: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(
        after.is_empty(),
        "the child committed more after batch {}: {after:?}",
        STALLED_BATCH - 1
    );

    // The cache opens, is intact, and holds the two committed batches and nothing of the third.
    let cache = Cache::open_in(dir.path()).await.unwrap();
    let integrity = crate::support::pragma(&cache, "integrity_check").await;
    assert_eq!(integrity, "ok");
    let applied = cursor(&cache, "ws").await.unwrap();
    let messages = i64::from(cache.status().await.unwrap().counts.messages);
    assert!(
        0 < applied && applied < EVENTS,
        "the kill came after some batches and before the last: cursor {applied}"
    );
    assert_eq!(
        applied, committed_before,
        "exactly the batches whose commit finished"
    );
    assert_eq!(
        messages, applied,
        "exactly the committed batches' messages: nothing of the half-written batch"
    );
    let indexed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM search_index WHERE kind = 'message'")
            .fetch_one(cache.pool())
            .await
            .unwrap();
    assert_eq!(indexed, applied, "the search index moved with the messages");

    // Catching up from there completes it, once.
    sqlx::raw_sql("DROP TRIGGER crash_stall; DROP TABLE crash_spin;")
        .execute(cache.pool())
        .await
        .unwrap();
    let all = events();
    crate::support::apply(&cache, &all).await;
    assert_eq!(
        i64::from(cache.status().await.unwrap().counts.messages),
        EVENTS
    );
    assert_eq!(cursor(&cache, "ws").await.unwrap(), EVENTS);
}
