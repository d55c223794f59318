//! kill -9 under load: every webhook answered 200 is delivered exactly once after a restart.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use zentro_meta::AppSecret;
use zentro_meta::signature::sign_webhook;

use crate::support::{PASSWORD, SECRET, VERIFY, get_json, post_json, wa_text};

const RELAY: &str = env!("CARGO_BIN_EXE_zentro-relay");

/// The relay's command line on a data directory and, on PostgreSQL, a database URL.
pub fn relay_command(dir: &std::path::Path, database_url: Option<&str>) -> Command {
    let mut command = Command::new(RELAY);
    command.env("ZENTRO_RELAY_DATA_DIR", dir);
    match database_url {
        Some(url) => command.env("ZENTRO_RELAY_DATABASE_URL", url),
        None => command.env_remove("ZENTRO_RELAY_DATABASE_URL"),
    };
    command
}

/// A port on loopback nothing listens on (just released), for a relay process to serve on.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `zentro-relay serve` on `port` as an operator runs it with a Meta app: meta-sim's app id and
/// Graph API, channels' tokens sealed with `token_key`, automation every 100 ms, and `env` on
/// top; its output discarded. Started again on the same database after a kill -9.
pub fn serve_with_meta_app(
    dir: &std::path::Path,
    database_url: Option<&str>,
    port: u16,
    sim: &zentro_meta_sim::MetaSim,
    token_key: &str,
    env: &[(&str, &str)],
) -> Child {
    let mut command = relay_command(dir, database_url);
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("ZENTRO_RELAY_META_APP_SECRET", SECRET)
        .env("ZENTRO_RELAY_META_VERIFY_TOKEN", VERIFY)
        .env("ZENTRO_RELAY_META_APP_ID", sim.state().app_id())
        .env("ZENTRO_RELAY_META_SIGNUP_CONFIG_ID", "778899001122")
        .env("ZENTRO_RELAY_META_GRAPH_URL", sim.base_url())
        .env("ZENTRO_RELAY_TOKEN_KEY", token_key)
        .env("ZENTRO_RELAY_AUTOMATION_INTERVAL_MS", "100")
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command.spawn().unwrap()
}

pub fn cli(
    dir: &std::path::Path,
    database_url: Option<&str>,
    args: &[&str],
    stdin: Option<&str>,
) -> String {
    let mut child = relay_command(dir, database_url)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub fn serve(dir: &std::path::Path, database_url: Option<&str>, port: u16) -> Child {
    relay_command(dir, database_url)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("ZENTRO_RELAY_META_APP_SECRET", SECRET)
        .env("ZENTRO_RELAY_META_VERIFY_TOKEN", VERIFY)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

pub async fn wait_healthy(base: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        if reqwest::get(format!("{base}/healthz"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the relay did not come up at {base} within 30 s");
}

/// How many webhooks the relay must have answered 200 before it is killed, so the kill lands
/// under load (the senders never stop before the relay dies).
const ACCEPTED_BEFORE_KILL: usize = 200;

async fn post(client: &reqwest::Client, base: &str, body: &str) -> Option<u16> {
    let signature = sign_webhook(&AppSecret::new(SECRET), body.as_bytes());
    client
        .post(format!("{base}/webhooks/meta"))
        .header("x-hub-signature-256", signature)
        .body(body.to_string())
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_webhook_answered_200_survives_kill_9_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let database = crate::support::fresh_database().await;
    let database = database.as_deref();
    let workspace = cli(
        dir.path(),
        database,
        &[
            "workspace",
            "create",
            "--name",
            "Acme",
            "--owner-email",
            "owner@acme.test",
        ],
        Some(PASSWORD),
    );
    assert_eq!(
        workspace.len(),
        32,
        "stdout carries only the workspace id: {workspace:?}"
    );
    cli(
        dir.path(),
        database,
        &[
            "channel",
            "add",
            "--workspace",
            &workspace,
            "--kind",
            "whatsapp",
            "--external-id",
            "P1",
        ],
        None,
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut relay = serve(dir.path(), database, port);
    wait_healthy(&base).await;

    // Four senders post distinct messages until the relay dies; the ledger records every 200.
    let ledger: Arc<Mutex<HashSet<String>>> = Arc::default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut senders = Vec::new();
    for s in 0..4 {
        let (ledger, client, base) = (ledger.clone(), client.clone(), base.clone());
        senders.push(tokio::spawn(async move {
            for i in 0.. {
                let wamid = format!("wamid.{s}.{i}");
                match post(&client, &base, &wa_text("P1", &wamid, "load").to_string()).await {
                    Some(200) => {
                        ledger.lock().unwrap().insert(wamid);
                    }
                    Some(_) => {}
                    None => break, // the relay is gone
                }
            }
        }));
    }
    // Wait for the load itself to reach the relay (a generous deadline, not a fixed time: a slow
    // machine only takes longer), then kill it while the senders are still posting.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let accepted = ledger.lock().unwrap().len();
        if accepted >= ACCEPTED_BEFORE_KILL {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the load reached the relay: only {accepted} webhooks answered 200 in 30 s"
        );
        assert!(
            senders.iter().all(|s| !s.is_finished()),
            "the senders post until the relay dies"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    relay.kill().unwrap(); // SIGKILL: no shutdown, no flush
    relay.wait().unwrap();
    for sender in senders {
        sender.await.unwrap();
    }
    let ledger = ledger.lock().unwrap().clone();
    assert!(ledger.len() >= ACCEPTED_BEFORE_KILL);

    // Restart on the same data; Meta redelivers some of what it had sent.
    let mut relay = serve(dir.path(), database, port);
    wait_healthy(&base).await;
    for wamid in ledger.iter().take(20) {
        assert_eq!(
            post(&client, &base, &wa_text("P1", wamid, "load").to_string()).await,
            Some(200)
        );
    }

    let body =
        json!({ "email": "owner@acme.test", "password": PASSWORD, "device_name": "auditor" });
    let session = post_json(&format!("{base}/v1/sessions"), &body).await;
    let token = session["token"].as_str().unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut after = 0;
    let mut expected_seq = 1;
    loop {
        let page = get_json(&base, token, &format!("/v1/events?after={after}")).await;
        let events = page["events"].as_array().unwrap();
        if events.is_empty() {
            break;
        }
        for event in events {
            assert_eq!(event["seq"], expected_seq, "the log has no gaps");
            expected_seq += 1;
            let id = event["payload"]
                .pointer("/entry/0/changes/0/value/messages/0/id")
                .unwrap()
                .as_str()
                .unwrap()
                .to_string();
            *seen.entry(id).or_default() += 1;
        }
        after = page["next_after"].as_i64().unwrap();
    }
    for wamid in &ledger {
        assert_eq!(
            seen.get(wamid),
            Some(&1),
            "{wamid} was answered 200 but is not in the log exactly once"
        );
    }
    assert!(seen.values().all(|&n| n == 1), "no event is duplicated");
    relay.kill().unwrap();
    let _ = relay.wait();
}
