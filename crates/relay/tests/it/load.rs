//! The load generator (`zentro-relay-load`, the relay benchmark's tool) against a relay on a
//! real socket: what it reports is what happened.

use serde_json::Value;

use crate::support::{PASSWORD, SECRET, ServedRelay};

const LOAD: &str = env!("CARGO_BIN_EXE_zentro-relay-load");

async fn load(relay: &ServedRelay, secret: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let output = tokio::process::Command::new(LOAD)
        .args(["--url", &format!("{}/webhooks/meta", relay.base)])
        .args([
            "--phone-number-id",
            "P1",
            "--rate",
            "200",
            "--duration",
            "2",
        ])
        .args(["--concurrency", "16", "--json"])
        .args(extra)
        .env("ZENTRO_RELAY_META_APP_SECRET", secret)
        .env("ZENTRO_RELAY_LOAD_PASSWORD", PASSWORD)
        .output()
        .await
        .unwrap();
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code(), report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_webhook_sent_is_accepted_and_reaches_each_following_device() {
    let relay = ServedRelay::start("owner@acme.test", "P1").await;
    let (code, report) = load(
        &relay,
        SECRET,
        &["--devices", "2", "--email", "owner@acme.test"],
    )
    .await;
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["sent"], 400);
    assert_eq!(report["accepted"], 400);
    assert!(report["p99_ms"].as_f64().unwrap() > 0.0, "{report}");
    let devices = report["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2);
    for device in devices {
        assert_eq!(device["received"], 400, "{report}");
        assert!(device["lag_p99_ms"].as_u64().is_some(), "{report}");
    }
    // The devices acknowledged what they received, as desktops do (each second, so after they
    // signed in): the relay saw them.
    let owner = relay.sign_in("owner@acme.test").await;
    let listed = relay.get_json(&owner, "/v1/devices").await;
    let load_devices: Vec<&Value> = listed["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("load device"))
        })
        .collect();
    assert_eq!(load_devices.len(), 2, "{listed}");
    for device in load_devices {
        assert!(
            device["last_seen_at"].as_i64() > device["created_at"].as_i64(),
            "{device}"
        );
    }
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_reported_as_refused_webhooks_and_a_failing_exit() {
    let relay = ServedRelay::start("owner@acme.test", "P1").await;
    let (code, report) = load(&relay, "not-the-app-secret", &[]).await;
    assert_eq!(code, Some(2), "{report}");
    assert_eq!(report["accepted"], 0);
    assert_eq!(report["failed"], 400);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_without_a_member_to_sign_in_as_are_refused_before_sending() {
    let relay = ServedRelay::start("owner@acme.test", "P1").await;
    let (code, report) = load(&relay, SECRET, &["--devices", "1"]).await;
    assert_ne!(code, Some(0));
    assert!(report.is_null(), "nothing was sent: {report}");
    relay.stop().await;
}
