//! `zentro broadcasts …` against a real relay and the Meta stand-in: an owner creates a campaign
//! with its recipients from a file, starts it, follows it to its end and reads every recipient's
//! outcome, as a list and as the relay's CSV; a campaign that ended cannot be paused.

use std::time::Duration;

use zentro_meta_sim::{MetaSim, SimConfig};

use super::{Channel, json, login, serve_relay};
use crate::support::{stderr, zentro};

const WABA: &str = "102290129340999";
const NUMBER: &str = "106540352240999";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_is_created_started_and_followed_from_the_command_line() {
    let sim = MetaSim::start(SimConfig::default()).await.unwrap();
    let meta_token = sim.add_whatsapp_number(WABA, NUMBER, "15550109999");
    sim.state().add_template_text(
        "order_ready",
        "en_US",
        "Hi {{1}}, your order is ready.",
        "APPROVED",
    );
    let dir = tempfile::tempdir().unwrap();
    let relay = serve_relay(
        dir.path(),
        ("Acme", "owner@team.test", "Olga"),
        Some(Channel {
            number: NUMBER,
            waba: Some(WABA),
            name: "Support",
        }),
        SimConfig::default().app_secret,
        |relay_config| {
            relay_config.token_keys = Some(zentro_relay::sealing::TokenKeys {
                current: zentro_relay::sealing::TokenKey::parse(
                    &zentro_relay::sealing::TokenKey::generate(),
                )
                .unwrap(),
                previous: None,
            });
            let mut app = zentro_relay::config::MetaApp::new(SimConfig::default().app_id, "5566");
            app.graph_url = sim.base_url();
            relay_config.meta_app = Some(app);
            relay_config.automation_interval = Duration::from_millis(100);
        },
    )
    .await;
    sim.set_webhook_url(format!("{relay}/webhooks/meta"));
    let owner = dir.path().join("owner");
    login(&owner, &relay, "owner@team.test");
    let set = zentro(
        &owner,
        &["channels", "set-token", &format!("whatsapp:{NUMBER}")],
        Some(&format!("{}\n", meta_token.expose())),
    );
    assert!(set.status.success(), "{}", stderr(&set));
    let refresh = zentro(&owner, &["templates", "refresh"], None);
    assert!(refresh.status.success(), "{}", stderr(&refresh));
    assert_eq!(
        json(&owner, &["broadcasts", "list", "--json"]),
        serde_json::json!([])
    );

    let list = dir.path().join("recipients.csv");
    std::fs::write(
        &list,
        "# customer_id,name\n15550001001,Ana Lima\n15550001002,Bo\n\n15550001003\n",
    )
    .unwrap();
    let created = zentro(
        &owner,
        &[
            "broadcasts",
            "create",
            "--name",
            "Orders ready",
            "--channel",
            NUMBER,
            "--template",
            "order_ready",
            "--per-second",
            "10",
            "--recipients",
            list.to_str().unwrap(),
            "--json",
        ],
        None,
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let campaign: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(campaign["state"], "draft");
    assert_eq!(campaign["counts"]["queued"], 3);
    let id = campaign["id"].as_str().unwrap().to_string();

    let start = zentro(&owner, &["broadcasts", "start", &id], None);
    assert!(start.status.success(), "{}", stderr(&start));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let shown = json(&owner, &["broadcasts", "show", &id, "--json"]);
        if shown["state"] == "completed" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "completed: {shown}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for n in ["15550001001", "15550001002", "15550001003"] {
        assert_eq!(sim.state().sends_to(NUMBER, n), 1, "{n} once");
    }
    let outcomes = json(&owner, &["broadcasts", "recipients", &id, "--json"]);
    let outcomes = outcomes.as_array().unwrap();
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[0]["name"], "Ana Lima");
    assert!(
        outcomes.iter().all(|r| r["message_id"].is_string()),
        "{outcomes:?}"
    );
    // The desk's download: the relay's CSV, each recipient once with the outcome Meta gave.
    let csv = zentro(&owner, &["broadcasts", "recipients", &id, "--csv"], None);
    assert!(csv.status.success(), "{}", stderr(&csv));
    let csv = String::from_utf8(csv.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0], "customer_id,name,status,skip_reason,error,message_id,updated_at",
        "{csv}"
    );
    assert_eq!(lines.len(), 4, "a header and three rows: {csv}");
    assert!(lines[1].starts_with("15550001001,Ana Lima,"), "{csv}");
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.contains(",wamid.") && l.ends_with('Z')),
        "{csv}"
    );
    let table = zentro(&owner, &["broadcasts", "list"], None);
    assert!(String::from_utf8_lossy(&table.stdout).contains("Orders ready"));
    // An ended campaign cannot be paused: the relay's reason, and a failure.
    let pause = zentro(&owner, &["broadcasts", "pause", &id], None);
    assert!(!pause.status.success());
    assert!(
        stderr(&pause).contains("cannot be paused"),
        "{}",
        stderr(&pause)
    );
}
