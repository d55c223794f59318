//! `zentro templates list`, `refresh` and `create` against a real relay and the Meta stand-in:
//! an owner reads the account's templates from Meta and submits one, which Meta's review then
//! approves; a bad template gets Meta's explanation and a usage error.

use std::time::Duration;

use zentro_meta_sim::{MetaSim, SimConfig};

use super::{Channel, exit, json, login, serve_relay, talking_to};
use crate::support::{stderr, zentro};

const WABA: &str = "102290129340888";
const NUMBER: &str = "106540352240888";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_are_listed_refreshed_and_created_from_the_command_line() {
    let sim = MetaSim::start(SimConfig::default()).await.unwrap();
    let meta_token = sim.add_whatsapp_number(WABA, NUMBER, "15550108888");
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
        talking_to(&sim),
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

    assert_eq!(
        json(&owner, &["templates", "list", "--json"]),
        serde_json::json!([])
    );
    let refresh = zentro(&owner, &["templates", "refresh"], None);
    assert!(refresh.status.success(), "{}", stderr(&refresh));
    let table = String::from_utf8_lossy(&refresh.stdout).to_string();
    assert!(
        table.contains("order_ready") && table.contains("APPROVED") && table.contains("Hi {{1}}"),
        "{table}"
    );

    let create = [
        "templates",
        "create",
        "--name",
        "restock_notice",
        "--category",
        "marketing",
        "--body",
        "Hi {{1}}, {{2}} is back in stock.",
        "--example",
        "Ana",
        "--example",
        "Espresso",
        "--footer",
        "Reply STOP to opt out",
        "--json",
    ];
    let created = zentro(&owner, &create, None);
    assert!(created.status.success(), "{}", stderr(&created));
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(created["status"], "PENDING");
    assert_eq!(created["category"], "MARKETING");
    // The same name and language again: Meta's explanation, and no success.
    let again = zentro(&owner, &create, None);
    assert_eq!(again.status.code(), exit::OTHER, "{}", stderr(&again));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    let bad = zentro(
        &owner,
        &[
            "templates",
            "create",
            "--name",
            "x",
            "--category",
            "promo",
            "--body",
            "Hi",
        ],
        None,
    );
    assert_eq!(bad.status.code(), exit::USAGE, "{}", stderr(&bad));

    sim.review_template(WABA, "restock_notice", "en_US", "APPROVED", "NONE")
        .await;
    sim.settle(Duration::from_secs(5)).await;
    let list = json(&owner, &["templates", "list", "--json"]);
    let restock = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "restock_notice")
        .cloned()
        .unwrap();
    assert_eq!(restock["status"], "APPROVED");
    assert_eq!(restock["variables"][0]["fallback"], "there");
}
