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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_are_saved_on_or_off_with_three_teams_and_three_available_agents() {
    let relay = ServedRelay::start("owner@acme.test", "P1").await;
    for (rules, enabled) in [("on", true), ("off", false)] {
        let (code, report) = load(
            &relay,
            SECRET,
            &[
                "--rules",
                rules,
                "--email",
                "owner@acme.test",
                "--messages-per-customer",
                "3",
            ],
        )
        .await;
        assert_eq!(code, Some(0), "{report}");
        let owner = relay.sign_in("owner@acme.test").await;
        let saved = relay.get_json(&owner, "/v1/automation").await;
        assert_eq!(saved["setup"]["enabled"], enabled, "{saved}");
        let teams = saved["setup"]["teams"].as_array().unwrap();
        assert_eq!(teams.len(), 3, "{saved}");
        for team in teams {
            assert_eq!(team["assignment"], "round_robin", "{saved}");
            assert_eq!(team["members"].as_array().unwrap().len(), 3, "{saved}");
        }
        assert_eq!(
            saved["setup"]["menu"]["options"].as_array().unwrap().len(),
            3
        );
        // The second run signed the same three agents in again (no new members).
        let presence = relay.get_json(&owner, "/v1/presence").await;
        let available = presence
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["presence"] == "available")
            .filter(|p| {
                teams[0]["members"]
                    .as_array()
                    .unwrap()
                    .contains(&p["member_id"])
            })
            .count();
        assert_eq!(available, 3, "{presence}");
        let members = relay.get_json(&owner, "/v1/members").await;
        assert_eq!(members["members"].as_array().unwrap().len(), 4, "{members}");
    }
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graph_stand_in_accepts_sends_as_meta_does_and_counts_them() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _stand_in = tokio::process::Command::new(LOAD)
        .args(["--serve-meta", &format!("127.0.0.1:{port}")])
        .env("ZENTRO_RELAY_META_APP_SECRET", SECRET)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut counts = Value::Null;
    for _ in 0..100 {
        if let Ok(r) = http.get(format!("{base}/bench/sends")).send().await {
            counts = r.json().await.unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(counts["sends"], 0, "{counts}");
    // The relay's own Graph client reads its answer as Meta's.
    let graph = zentro_meta::graph::GraphClient::new(&base).unwrap();
    let token = zentro_meta::AccessToken::new("EAABbenchstandintoken123");
    let send = zentro_meta::graph::WhatsAppSend {
        to: zentro_meta::graph::Recipient::Phone("16505551234".into()),
        message: zentro_meta::graph::Outgoing::Text {
            body: "Hi!".into(),
            preview_url: false,
        },
        reply_to: None,
        callback_data: "auto:1".into(),
    };
    let accepted = graph.send_whatsapp("P1", &token, &send).await.unwrap();
    assert!(accepted.message_id.starts_with("wamid."), "{accepted:?}");
    // Not a send: refused, as Meta refuses an unknown call.
    let refused = http.get(format!("{base}/v22.0/P1")).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    let counts: Value = http
        .get(format!("{base}/bench/sends"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts["sends"], 1, "{counts}");
    assert_eq!(counts["text"], 1, "{counts}");
    assert_eq!(counts["refused"], 1, "{counts}");
}
