//! WhatsApp templates on a real relay serving on loopback, against meta-sim (issue 24): admins
//! refresh them from Meta and create one for review; Meta's review reaches the relay as a signed
//! status webhook and every desk as a `workspace.templates` event; agents only read them, and
//! another workspace never sees or changes them.

use std::time::Duration;

use serde_json::{Value, json};
use zentro_meta_sim::MetaSim;
use zentro_relay::Store;
use zentro_relay::store::ChannelKind;

use crate::support::{Joined, Number, PASSWORD, ServedRelay, relay_with_a_connected_number};

const OWNER: &str = "owner@acme.test";
const NUMBER: &str = "106540352242924";
const WABA: &str = "102290129340400";
const OTHER_OWNER: &str = "owner@globex.test";

struct Workspace {
    sim: MetaSim,
    relay: ServedRelay,
    owner: String,
    agent: Joined,
    admin: Joined,
    other_owner: String,
}

async fn workspace() -> Workspace {
    let number = Number {
        waba: WABA,
        id: NUMBER,
        display: "+1 555 0102",
    };
    let (sim, relay) = relay_with_a_connected_number(OWNER, number, async |store| {
        let hash = zentro_relay::credentials::hash_password(PASSWORD);
        store
            .create_workspace("Globex", OTHER_OWNER, "Owner", &hash)
            .await
            .unwrap();
    })
    .await;
    sim.state().add_template_text(
        "order_ready",
        "en_US",
        "Hi {{1}}, your order is ready.",
        "APPROVED",
    );
    let owner = relay.sign_in(OWNER).await;
    let agent = relay.join(&owner, "ana@acme.test", "agent", "ana").await;
    let admin = relay.join(&owner, "al@acme.test", "admin", "al").await;
    let other_owner = relay.sign_in(OTHER_OWNER).await;
    Workspace {
        sim,
        relay,
        owner,
        agent,
        admin,
        other_owner,
    }
}

fn restock() -> Value {
    json!({
        "name": "restock_notice", "language": "en_US", "category": "MARKETING",
        "body": "Hi {{1}}, {{2}} is back in stock.", "body_examples": ["Ana", "Espresso"],
        "footer": "Reply STOP to opt out",
        "variables": [{ "field": "first_name", "fallback": "there" },
                      { "field": "fixed", "fallback": "Espresso" }],
    })
}

/// The workspace's templates as the device holding `token` lists them.
async fn listed(w: &Workspace, token: &str) -> Vec<Value> {
    let page = w.relay.get_json(token, "/v1/templates").await;
    page["templates"].as_array().unwrap().clone()
}

fn named<'a>(list: &'a [Value], name: &str) -> Option<&'a Value> {
    list.iter().find(|t| t["name"] == name)
}

/// The `workspace.templates` events the device holding `token` reads.
async fn template_events(w: &Workspace, token: &str) -> Vec<Value> {
    let page = w
        .relay
        .get_json(token, "/v1/events?after=0&limit=1000")
        .await;
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "workspace.templates")
        .cloned()
        .collect()
}

async fn wait_for_status(w: &Workspace, name: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list = listed(w, &w.agent.token).await;
        if let Some(t) = named(&list, name).filter(|t| t["status"] == status) {
            return t.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited 10 s for {name} to be {status}: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn admins_refresh_and_create_templates_and_metas_review_reaches_every_desk() {
    let w = workspace().await;
    assert!(listed(&w, &w.agent.token).await.is_empty());

    let (status, body) = w
        .relay
        .call(&w.admin.token, "POST", "/v1/templates/refresh", Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    let list = listed(&w, &w.agent.token).await;
    let ready = named(&list, "order_ready").expect("refreshed from Meta");
    assert_eq!(ready["status"], "APPROVED");
    assert_eq!(ready["category"], "UTILITY");
    assert_eq!(ready["quality"], "GREEN");
    assert_eq!(ready["account_id"], WABA);
    assert_eq!(
        ready["variables"],
        json!([{ "field": "first_name", "fallback": "there" }])
    );

    let (status, created) = w
        .relay
        .call(&w.admin.token, "POST", "/v1/templates", restock())
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["status"], "PENDING");
    assert_eq!(created["variables"][1]["fallback"], "Espresso");
    // Meta refuses the same name and language again, and the relay says why.
    let (status, refused) = w
        .relay
        .call(&w.admin.token, "POST", "/v1/templates", restock())
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("already exists"), "{refused}");

    // Meta's review arrives as a signed webhook; desks learn it from the log.
    w.sim
        .review_template(WABA, "restock_notice", "en_US", "APPROVED", "NONE")
        .await;
    wait_for_status(&w, "restock_notice", "APPROVED").await;
    w.sim
        .review_template(WABA, "restock_notice", "en_US", "PAUSED", "NONE")
        .await;
    let paused = wait_for_status(&w, "restock_notice", "PAUSED").await;
    assert_eq!(paused["quality"], "RED");
    assert!(
        paused["reason"].as_str().unwrap().contains("paused"),
        "{paused}"
    );
    // The variables an admin chose survive a refresh.
    let (status, _) = w
        .relay
        .call(&w.owner, "POST", "/v1/templates/refresh", Value::Null)
        .await;
    assert_eq!(status, 200);
    let list = listed(&w, &w.agent.token).await;
    assert_eq!(
        named(&list, "restock_notice").unwrap()["variables"][1]["fallback"],
        "Espresso"
    );

    let events = template_events(&w, &w.agent.token).await;
    let statuses: Vec<Value> = events
        .iter()
        .map(|e| {
            named(
                e["payload"]["templates"].as_array().unwrap(),
                "restock_notice",
            )
            .map(|t| t["status"].clone())
            .unwrap_or(Value::Null)
        })
        .collect();
    assert_eq!(
        statuses,
        [
            Value::Null,
            json!("PENDING"),
            json!("APPROVED"),
            json!("PAUSED"),
            json!("PAUSED")
        ]
    );
    let audit = w.relay.get_json(&w.owner, "/v1/audit").await.to_string();
    assert!(audit.contains("template.created") && audit.contains("templates.refreshed"));
}

#[tokio::test]
async fn agents_and_other_workspaces_cannot_create_refresh_or_change_templates() {
    let w = workspace().await;
    let (status, _) = w
        .relay
        .call(&w.admin.token, "POST", "/v1/templates/refresh", Value::Null)
        .await;
    assert_eq!(status, 200);
    let uses = json!({ "name": "order_ready", "language": "en_US",
        "variables": [{ "field": "name", "fallback": "friend" }], "stands_in_for": "away" });
    for (method, path, body) in [
        ("POST", "/v1/templates", restock()),
        ("POST", "/v1/templates/refresh", Value::Null),
        ("PUT", "/v1/templates/uses", uses.clone()),
    ] {
        let (status, answer) = w.relay.call(&w.agent.token, method, path, body).await;
        assert_eq!(status, 403, "agent {method} {path}: {answer}");
    }
    // Another workspace's owner sees none of Acme's templates and changes none of them.
    assert!(listed(&w, &w.other_owner).await.is_empty());
    let (status, _) = w
        .relay
        .call(&w.other_owner, "PUT", "/v1/templates/uses", uses.clone())
        .await;
    assert_eq!(status, 404);
    let (status, _) = w
        .relay
        .call(&w.other_owner, "POST", "/v1/templates", restock())
        .await;
    assert_eq!(status, 404);
    let (status, _) = w
        .relay
        .call(&w.other_owner, "POST", "/v1/templates/refresh", Value::Null)
        .await;
    assert_eq!(status, 404);
    // Nobody's device may write the relay's event.
    let (status, _) = w
        .relay
        .call(
            &w.owner,
            "POST",
            "/v1/events",
            json!({ "kind": "workspace.templates", "idempotency_key": "forged", "payload": { "templates": [] } }),
        )
        .await;
    assert_eq!(status, 403);
    assert!(
        w.sim
            .state()
            .template(WABA, "restock_notice", "en_US")
            .is_none()
    );
    let list = listed(&w, &w.agent.token).await;
    assert_eq!(
        named(&list, "order_ready").unwrap()["variables"][0]["fallback"],
        "there"
    );
    // An admin's choice, checked against the body.
    let bad = json!({ "name": "order_ready", "language": "en_US", "variables": [] });
    let (status, _) = w
        .relay
        .call(&w.admin.token, "PUT", "/v1/templates/uses", bad)
        .await;
    assert_eq!(status, 400);
    // A marketing template never stands in for an automated message (those go to customers who
    // did not opt in).
    let mut marketing = restock();
    marketing["stands_in_for"] = json!("away");
    let (status, answer) = w
        .relay
        .call(&w.admin.token, "POST", "/v1/templates", marketing)
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("UTILITY"), "{answer}");
    let (status, body) = w
        .relay
        .call(&w.admin.token, "PUT", "/v1/templates/uses", uses)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stands_in_for"], "away");
}

/// A customer's message as Meta redelivers it `hours_ago` after it was written (Meta retries a
/// webhook for days while the relay is down): its timestamp is Meta's.
fn late_text(customer: &str, wamid: &str, hours_ago: i64) -> Value {
    let at = chrono::Utc::now().timestamp() - hours_ago * 3600;
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550000102", "phone_number_id": NUMBER },
        "contacts": [{ "profile": { "name": "Ana" }, "wa_id": customer }],
        "messages": [{ "from": customer, "id": wamid, "timestamp": at.to_string(), "type": "text", "text": { "body": "hello?" } }]
    }}]}]})
}

/// The automation's outbox entry for `customer`, once it is settled (not queued or sending).
async fn settled_message(
    store: &Store,
    ws: &str,
    customer: &str,
) -> zentro_relay::store::AutomatedMessage {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let messages = store.automated_messages_of(ws).await.unwrap();
        if let Some(m) = messages.into_iter().find(|m| {
            m.customer_id == customer && !matches!(m.state.as_str(), "queued" | "sending")
        }) {
            return m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited 15 s for the automated message to {customer}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_automated_message_past_the_window_goes_as_its_template_or_not_at_all() {
    let w = workspace().await;
    w.sim.state().add_template_text(
        "we_are_closed",
        "en_US",
        "Hi {{1}}, we are closed now and answer from 9:00.",
        "APPROVED",
    );
    let (status, _) = w
        .relay
        .call(&w.admin.token, "POST", "/v1/templates/refresh", Value::Null)
        .await;
    assert_eq!(status, 200);
    let uses = json!({ "name": "we_are_closed", "language": "en_US",
        "variables": [{ "field": "first_name", "fallback": "there" }], "stands_in_for": "away" });
    let (status, body) = w
        .relay
        .call(&w.admin.token, "PUT", "/v1/templates/uses", uses)
        .await;
    assert_eq!(status, 200, "{body}");
    let closed = json!({ "time_zone": "Europe/Lisbon", "weekly": [[], [], [], [], [], [], []] });
    let setup = json!({ "enabled": true, "hours": closed,
        "away": { "text": "We are closed now; we answer from 9:00." } });
    let (status, body) = w
        .relay
        .call(
            &w.owner,
            "PUT",
            "/v1/automation",
            json!({ "expected_version": 0, "setup": setup }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let store = Store::open_at(&w.relay.database).await.unwrap();
    let ws = store
        .workspace_of_account(ChannelKind::Whatsapp, WABA)
        .await
        .unwrap()
        .unwrap();

    // Written 25 hours ago, delivered now: the away message may only go as the template.
    let late = "15551110001";
    let written = chrono::Utc::now() - chrono::Duration::hours(25);
    w.sim.state().open_window(NUMBER, late, written);
    w.sim.post_webhook(late_text(late, "wamid.LATE1", 25)).await;
    let message = settled_message(&store, &ws, late).await;
    assert_eq!(message.state, "sent", "{message:?}");
    w.sim.settle(Duration::from_secs(5)).await;
    let sent: Vec<Value> = w
        .sim
        .state()
        .sent
        .iter()
        .filter(|m| m.to == late)
        .map(|m| m.body.clone())
        .collect();
    assert_eq!(sent.len(), 1, "exactly once: {sent:?}");
    assert_eq!(sent[0]["type"], "template");
    assert_eq!(sent[0]["template"]["name"], "we_are_closed");
    assert_eq!(
        sent[0]["template"]["components"][0]["parameters"][0]["text"],
        "there"
    );
    let page = w
        .relay
        .get_json(&w.owner, "/v1/events?after=0&limit=1000")
        .await;
    let shown = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "message.sent" && e["payload"]["client_id"] == message.id.as_str())
        .cloned()
        .expect("the desks are told");
    assert!(
        shown.to_string().contains("Hi there, we are closed now"),
        "{shown}"
    );

    // Paused by Meta: nothing goes, and why is recorded.
    w.sim
        .review_template(WABA, "we_are_closed", "en_US", "PAUSED", "NONE")
        .await;
    wait_for_status(&w, "we_are_closed", "PAUSED").await;
    let paused = "15551110002";
    w.sim.state().open_window(NUMBER, paused, written);
    w.sim
        .post_webhook(late_text(paused, "wamid.LATE2", 25))
        .await;
    let message = settled_message(&store, &ws, paused).await;
    assert_eq!(message.state, "expired", "{message:?}");
    assert!(
        message.error.as_deref().unwrap().contains("PAUSED"),
        "{message:?}"
    );

    // No template stands in any more: never sent as free text.
    let uses = json!({ "name": "we_are_closed", "language": "en_US",
        "variables": [{ "field": "first_name", "fallback": "there" }] });
    let (status, _) = w
        .relay
        .call(&w.admin.token, "PUT", "/v1/templates/uses", uses)
        .await;
    assert_eq!(status, 200);
    let none = "15551110003";
    w.sim.state().open_window(NUMBER, none, written);
    w.sim.post_webhook(late_text(none, "wamid.LATE3", 25)).await;
    let message = settled_message(&store, &ws, none).await;
    assert_eq!(message.state, "expired", "{message:?}");
    assert!(
        message
            .error
            .as_deref()
            .unwrap()
            .contains("not sent as free text"),
        "{message:?}"
    );
    w.sim.settle(Duration::from_secs(5)).await;
    let to_others = w
        .sim
        .state()
        .sent
        .iter()
        .filter(|m| m.to == paused || m.to == none)
        .count();
    assert_eq!(to_others, 0);
}
