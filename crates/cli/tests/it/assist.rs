//! `zentro assist summary` and `draft` against a real relay and the OpenAI-compatible stand-in:
//! refused while AI is off; once an owner turns it on, the answer streams to standard output with
//! identifiers masked on the way out (and put back in the draft), the key comes from the relay
//! once and then from the keychain, and each request is recorded on the relay without content.

use std::time::Duration;

use serde_json::{Value, json};
use zentro_assist_sim::{AssistSim, AssistSimConfig};
use zentro_meta_sim::{Customer, Inbound, MetaSim, SimConfig};

use super::{Channel, PASSWORD, actions, exit, json as json_of, login, serve_relay};
use crate::support::{stderr, zentro};

/// Turns AI assist on as `email` (an owner), naming `sim` as the provider.
async fn turn_on(relay: &str, email: &str, sim: &AssistSim) {
    let http = reqwest::Client::new();
    let session: Value = http
        .post(format!("{relay}/v1/sessions"))
        .json(&json!({ "email": email, "password": PASSWORD, "device_name": "owner's browser" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let saved = http
        .put(format!("{relay}/v1/assist"))
        .bearer_auth(session["token"].as_str().unwrap())
        .json(&json!({
            "enabled": true, "base_url": sim.base_url(), "model": "sim-small",
            "api_key": sim.api_key(), "monthly_budget_tokens": 100_000,
        }))
        .send()
        .await
        .unwrap();
    assert!(saved.status().is_success(), "{:?}", saved.text().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_and_summaries_stream_masked_with_the_key_from_the_keychain() {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig::default();
    let relay = serve_relay(
        dir.path(),
        ("Acme", "owner@acme.test", "Olga"),
        Some(Channel {
            number: "P1",
            waba: None,
            name: "",
        }),
        config.app_secret.clone(),
        |c| {
            c.token_keys = Some(zentro_relay::sealing::TokenKeys {
                current: zentro_relay::sealing::TokenKey::parse(
                    &zentro_relay::sealing::TokenKey::generate(),
                )
                .unwrap(),
                previous: None,
            });
        },
    )
    .await;
    let meta = MetaSim::start(config).await.unwrap();
    meta.set_webhook_url(format!("{relay}/webhooks/meta"));
    meta.add_whatsapp_number("W1", "P1", "15550001111");
    let ana = Customer {
        id: "US.1".into(),
        phone: Some("16505551234".into()),
        name: "Ana Souza".into(),
    };
    let text = "My order 88812345 is late, write to ana@example.com";
    meta.customer_writes("P1", &ana, Inbound::Text(text.into()))
        .await;
    meta.settle(Duration::from_secs(5)).await;
    let ai = AssistSim::start(AssistSimConfig::default()).await.unwrap();

    let data = dir.path().join("owner");
    login(&data, &relay, "owner@acme.test");
    assert!(zentro(&data, &["sync"], None).status.success());
    let id = json_of(&data, &["conversations", "--json"])[0]["id"]
        .as_i64()
        .unwrap()
        .to_string();

    let off = zentro(&data, &["assist", "draft", &id], None);
    assert_eq!(off.status.code(), exit::FORBIDDEN, "{}", stderr(&off));
    assert!(
        stderr(&off).contains("AI assist is off"),
        "{}",
        stderr(&off)
    );
    assert!(ai.requests().is_empty());

    turn_on(&relay, "owner@acme.test", &ai).await;
    let draft = zentro(&data, &["assist", "draft", &id], None);
    assert!(draft.status.success(), "{}", stderr(&draft));
    let printed = String::from_utf8_lossy(&draft.stdout);
    assert!(
        printed.contains("My order 88812345 is late, write to ana@example.com"),
        "unmasked for the agent: {printed}"
    );
    let sent = ai.requests()[0].text();
    for identifier in ["88812345", "ana@example.com", "Ana Souza"] {
        assert!(!sent.contains(identifier), "{identifier} was sent: {sent}");
    }
    assert!(
        sent.contains("Customer: My order [number 1] is late, write to [email 1]"),
        "{sent}"
    );
    assert_eq!(
        ai.requests()[0].bearer.as_deref(),
        Some(ai.api_key().as_str())
    );

    let summary = zentro(&data, &["assist", "summary", &id, "--show-request"], None);
    assert!(summary.status.success(), "{}", stderr(&summary));
    assert!(
        String::from_utf8_lossy(&summary.stdout).contains("[email 1]"),
        "a summary stays masked"
    );
    let shown = stderr(&summary);
    assert!(
        shown.contains(&format!("POST {}/chat/completions", ai.base_url()))
            && shown.contains("[number 1]"),
        "{shown}"
    );
    assert!(
        !shown.contains(&ai.api_key()),
        "what is shown never holds the key"
    );

    // A rewrite of the agent's own draft, and suggested labels (printed, not applied).
    ai.answer_next("Your order [number 1] ships tomorrow.");
    let rewrite = zentro(
        &data,
        &[
            "assist",
            "rewrite",
            &id,
            "--style",
            "shorter",
            "Order 88812345 will ship tomorrow, sorry!",
        ],
        None,
    );
    assert!(rewrite.status.success(), "{}", stderr(&rewrite));
    assert!(
        String::from_utf8_lossy(&rewrite.stdout).contains("Your order 88812345 ships tomorrow."),
        "a rewrite is unmasked for the agent"
    );
    let sent = ai.requests().last().unwrap().text();
    assert!(
        sent.contains("Make it shorter") && !sent.contains("88812345"),
        "{sent}"
    );
    ai.answer_next("intent: delivery\nsentiment: negative");
    let labels = zentro(&data, &["assist", "labels", &id], None);
    assert!(labels.status.success(), "{}", stderr(&labels));
    assert_eq!(
        String::from_utf8_lossy(&labels.stdout),
        "intent:delivery\nsentiment:negative\n"
    );

    let audit = json_of(&data, &["audit", "--json"]);
    let actions = actions(&audit);
    assert_eq!(
        actions.iter().filter(|a| **a == "assist.used").count(),
        4,
        "{actions:?}"
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "assist.key_issued")
            .count(),
        1,
        "the second run took the key from the keychain"
    );
    let text = audit.to_string();
    assert!(
        !text.contains("88812345") && !text.contains(&ai.api_key()),
        "the audit holds no content and no key"
    );
}
