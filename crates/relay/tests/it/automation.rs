//! The workspace's automation on a real relay serving on loopback, against meta-sim, with no desk
//! connected: what customers receive, where their conversations land, and that a crash neither
//! loses nor doubles an automated message.

use std::time::Duration;

use serde_json::{Value, json};
use zentro_meta_sim::{Customer, Inbound, MetaSim};
use zentro_relay::sealing::TokenKey;
use zentro_relay::store::{ChannelKind, DatabaseLocation};

use crate::support::{
    Joined, Number, PASSWORD, RawDatabase, ServedRelay, relay_with_a_connected_number,
    start_meta_sim, str_of, wait_until,
};

const OWNER: &str = "owner@acme.test";
const NUMBER: &str = "106540352242922";
const WABA: &str = "102290129340398";

/// A served relay with a WhatsApp channel connected to meta-sim (its token sealed on the relay),
/// the owner signed in and three agents who joined.
struct Workspace {
    sim: MetaSim,
    relay: ServedRelay,
    owner: String,
    agents: Vec<Joined>,
}

async fn workspace() -> Workspace {
    let number = Number {
        waba: WABA,
        id: NUMBER,
        display: "+1 555 0100",
    };
    let (sim, relay) = relay_with_a_connected_number(OWNER, number, async |_| {}).await;
    let owner = relay.sign_in(OWNER).await;
    let mut agents = Vec::new();
    for name in ["ana", "bo", "cy"] {
        let email = format!("{name}@acme.test");
        agents.push(relay.join(&owner, &email, "agent", name).await);
    }
    Workspace {
        sim,
        relay,
        owner,
        agents,
    }
}

/// The workspace Acme of [`OWNER`] with the WhatsApp number [`NUMBER`], its Meta token sealed
/// under `key` as the relay keeps it (for a relay the test runs as a process of its own).
async fn acme_with_a_connected_number(store: &zentro_relay::Store, key: &TokenKey, token: &str) {
    let hash = zentro_relay::credentials::hash_password(PASSWORD);
    let ws = store
        .create_workspace("Acme", OWNER, "Owner", &hash)
        .await
        .unwrap();
    let (channel, _) = store
        .add_channel(&ws.id, ChannelKind::Whatsapp, NUMBER, Some(WABA), "")
        .await
        .unwrap();
    let sealed = key.seal(&channel.id, token);
    store
        .set_channel_token(&channel.id, &sealed, None)
        .await
        .unwrap();
}

/// Business hours closed all week (so the away message applies), or open all week.
fn hours(open: bool) -> Value {
    let day = if open {
        json!([{ "start": "00:00", "end": "24:00" }])
    } else {
        json!([])
    };
    json!({ "time_zone": "Europe/Lisbon", "weekly": [day, day, day, day, day, day, day] })
}

/// Hours, a greeting, an away message, a menu routing to Sales (the three agents, round robin)
/// or Billing.
fn setup(w: &Workspace, open: bool) -> Value {
    let members: Vec<&str> = w.agents.iter().map(|a| a.member_id.as_str()).collect();
    json!({
        "enabled": true,
        "hours": hours(open),
        "teams": [
            { "id": "sales", "name": "Sales", "members": members, "assignment": "round_robin" },
            { "id": "billing", "name": "Billing", "members": [members[0]], "assignment": "manual" }
        ],
        "greeting": { "text": "Hi! Thanks for writing to Acme." },
        "away": { "text": "We are closed now; we answer from 9:00." },
        "menu": {
            "prompt": { "text": "What can we help you with?" },
            "options": [
                { "id": "sales", "title": "Buying", "team": "sales" },
                { "id": "billing", "title": "Billing", "team": "billing" }
            ],
            "retry": { "text": "Please choose one of these:" }
        }
    })
}

async fn save(w: &Workspace, setup: Value) {
    let current = w.relay.get_json(&w.owner, "/v1/automation").await;
    let (status, body) = w
        .relay
        .call(
            &w.owner,
            "PUT",
            "/v1/automation",
            json!({ "expected_version": current["version"], "setup": setup }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn available(w: &Workspace, agents: &[&Joined]) {
    for agent in agents {
        let (status, body) = w
            .relay
            .call(
                &agent.token,
                "PUT",
                "/v1/presence",
                json!({ "status": "available" }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
}

fn customer(n: usize) -> Customer {
    Customer {
        id: format!("1555000{n:04}"),
        phone: Some(format!("1555000{n:04}")),
        name: format!("Customer {n}"),
    }
}

/// What meta-sim accepted for `to`, in order: `(type, text)`.
fn sent_to(sim: &MetaSim, to: &str) -> Vec<(String, String)> {
    sim.state()
        .sent
        .iter()
        .filter(|m| m.to == to)
        .map(|m| {
            let kind = str_of(&m.body["type"]).to_string();
            let text = match kind.as_str() {
                "interactive" => str_of(&m.body["interactive"]["body"]["text"]).to_string(),
                _ => str_of(&m.body["text"]["body"]).to_string(),
            };
            (kind, text)
        })
        .collect()
}

/// The customer taps a menu option (WhatsApp `interactive.button_reply`), as Meta posts it.
async fn taps(sim: &MetaSim, c: &Customer, n: usize, id: &str, title: &str) {
    let at = (zentro_events::clock::now_ms() / 1000).to_string();
    let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "changes": [{
        "field": "messages", "value": { "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550100", "phone_number_id": NUMBER },
        "contacts": [{ "profile": { "name": c.name }, "wa_id": c.id }],
        "messages": [{ "from": c.id, "id": format!("wamid.tap{n}-{}", c.id), "timestamp": at,
            "type": "interactive", "interactive": { "type": "button_reply",
            "button_reply": { "id": id, "title": title } } }] } }] }] });
    let delivery = sim.post_webhook(body).await;
    assert!(
        matches!(delivery, zentro_meta_sim::WebhookDelivery::Answered(200)),
        "{delivery:?}"
    );
}

/// The log's events of `kind`, as the owner's device reads them.
async fn events_of(w: &Workspace, kind: &str) -> Vec<Value> {
    let page = w
        .relay
        .get_json(&w.owner, "/v1/events?after=0&limit=1000")
        .await;
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn greeting_and_menu_reach_the_customer_and_the_answer_routes_and_assigns() {
    let w = workspace().await;
    save(&w, setup(&w, true)).await;
    available(&w, &[&w.agents[0]]).await;
    let c = customer(1);
    w.sim
        .customer_writes(NUMBER, &c, Inbound::Text("hello".into()))
        .await;
    wait_until(10, "the greeting and the menu", || {
        sent_to(&w.sim, &c.id).len() >= 2
    })
    .await;
    let sent = sent_to(&w.sim, &c.id);
    assert_eq!(
        sent,
        [
            ("text".into(), "Hi! Thanks for writing to Acme.".into()),
            ("interactive".into(), "What can we help you with?".into())
        ]
    );
    taps(&w.sim, &c, 1, "sales", "Buying").await;
    let mut assigned = Vec::new();
    for _ in 0..100 {
        assigned = events_of(&w, "team.assigned").await;
        if !assigned.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let routed = events_of(&w, "team.routed").await;
    assert_eq!(routed.len(), 1, "{routed:?}");
    assert_eq!(routed[0]["author"], "automation:menu");
    assert_eq!(routed[0]["payload"]["team"], "sales");
    assert_eq!(assigned.len(), 1, "{assigned:?}");
    assert_eq!(assigned[0]["author"], "automation:round_robin");
    assert_eq!(
        assigned[0]["payload"]["assignee"],
        w.agents[0].member_id.as_str()
    );
    // Every desk learns what was sent, in the automation's name.
    let announced = events_of(&w, "message.sent").await;
    let authors: Vec<&str> = announced.iter().map(|e| str_of(&e["author"])).collect();
    assert_eq!(authors, ["automation:greeting", "automation:menu"]);
    assert_eq!(sent_to(&w.sim, &c.id).len(), 2, "nothing more was sent");
    // P2: every automated send has its audit row, naming the rule, never the text.
    let audit = w.relay.get_json(&w.owner, "/v1/audit").await;
    let sends: Vec<&Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "message.sent")
        .collect();
    let mut rules: Vec<&str> = sends.iter().map(|e| str_of(&e["actor_email"])).collect();
    rules.sort();
    assert_eq!(rules, ["automation:greeting", "automation:menu"], "{audit}");
    for entry in sends {
        assert_eq!(entry["details"]["customer_id"], c.id.as_str());
        assert!(!entry.to_string().contains("Thanks for writing"), "{entry}");
    }
}

#[tokio::test]
async fn nine_conversations_split_three_ways_within_capacity() {
    let w = workspace().await;
    let mut s = setup(&w, true);
    // Room for eight: the ninth waits until Cy resolves one of his.
    s["capacities"] = json!({
        w.agents[0].member_id.clone(): 3,
        w.agents[1].member_id.clone(): 3,
        w.agents[2].member_id.clone(): 2,
    });
    save(&w, s).await;
    available(&w, &w.agents.iter().collect::<Vec<_>>()).await;
    for n in 0..9 {
        let c = customer(n);
        w.sim
            .customer_writes(NUMBER, &c, Inbound::Text("hi".into()))
            .await;
        wait_until(10, "the menu", || sent_to(&w.sim, &c.id).len() >= 2).await;
        taps(&w.sim, &c, n, "sales", "Buying").await;
    }
    let mut assigned = Vec::new();
    for _ in 0..100 {
        assigned = events_of(&w, "team.assigned").await;
        if assigned.len() >= 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let count = |i: usize| {
        assigned
            .iter()
            .filter(|e| e["payload"]["assignee"] == w.agents[i].member_id.as_str())
            .count()
    };
    assert_eq!((count(0), count(1), count(2)), (3, 3, 2), "{assigned:?}");
    assert_eq!(assigned.len(), 8, "the ninth waits for a free place");
    // Cy resolves one of his: the waiting conversation goes to him.
    let his = assigned
        .iter()
        .find(|e| e["payload"]["assignee"] == w.agents[2].member_id.as_str())
        .unwrap();
    let resolve = json!({ "kind": "team.status_changed", "idempotency_key": "resolve-1",
        "payload": { "type": "status_changed", "conversation": his["payload"]["conversation"], "status": "resolved" } });
    let (status, body) = w
        .relay
        .call(&w.agents[2].token, "POST", "/v1/events", resolve)
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    let mut after = Vec::new();
    for _ in 0..100 {
        after = events_of(&w, "team.assigned").await;
        if after.len() == 9 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(after.len(), 9, "{after:?}");
    assert_eq!(
        after[8]["payload"]["assignee"],
        w.agents[2].member_id.as_str()
    );
}

#[tokio::test]
async fn the_away_message_goes_once_outside_hours() {
    let w = workspace().await;
    save(&w, setup(&w, false)).await;
    let c = customer(7);
    w.sim
        .customer_writes(NUMBER, &c, Inbound::Text("hello?".into()))
        .await;
    wait_until(10, "the away message and the menu", || {
        sent_to(&w.sim, &c.id).len() >= 2
    })
    .await;
    w.sim
        .customer_writes(NUMBER, &c, Inbound::Text("anyone there?".into()))
        .await;
    w.sim
        .customer_writes(NUMBER, &c, Inbound::Text("hello??".into()))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent = sent_to(&w.sim, &c.id);
    let away: Vec<_> = sent
        .iter()
        .filter(|(_, t)| t.starts_with("We are closed"))
        .collect();
    assert_eq!(away.len(), 1, "{sent:?}");
    assert!(
        !sent.iter().any(|(_, t)| t.starts_with("Hi!")),
        "no greeting while closed"
    );
}

#[tokio::test]
async fn a_restricted_customer_gets_nothing_automated() {
    let w = workspace().await;
    save(&w, setup(&w, true)).await;
    available(&w, &[&w.agents[0]]).await;
    let c = customer(3);
    let contact =
        json!({ "channel_kind": "whatsapp", "channel_external_id": NUMBER, "customer_id": c.id });
    let restrict = json!({ "kind": "team.contact_edited", "idempotency_key": "restrict-3",
        "payload": { "type": "contact_edited", "contact": contact, "changes": { "restricted": true } } });
    let (status, body) = w.relay.call(&w.owner, "POST", "/v1/events", restrict).await;
    assert!(status == 200 || status == 201, "{status} {body}");
    w.sim
        .customer_writes(NUMBER, &c, Inbound::Text("hi".into()))
        .await;
    taps(&w.sim, &c, 3, "sales", "Buying").await;
    // A customer who is not restricted, after them: once they are served, the restricted one's
    // events were decided too (the automation follows the log in order).
    let d = customer(4);
    w.sim
        .customer_writes(NUMBER, &d, Inbound::Text("hi".into()))
        .await;
    wait_until(10, "the other customer's menu", || {
        sent_to(&w.sim, &d.id).len() >= 2
    })
    .await;
    assert!(sent_to(&w.sim, &c.id).is_empty());
    assert!(events_of(&w, "team.routed").await.is_empty());
    assert!(events_of(&w, "team.assigned").await.is_empty());
}

/// An admin switches the automation off while its messages wait for Meta's next try: they never
/// go, and the outbox says why.
#[tokio::test]
async fn messages_still_waiting_when_the_automation_is_switched_off_never_go() {
    let w = workspace().await;
    save(&w, setup(&w, true)).await;
    available(&w, &[&w.agents[0]]).await;
    // Meta refuses the first try: the greeting waits seconds for its next, the menu behind it.
    w.sim.state().inject_send_errors(&[(500, 2)]);
    let c = customer(6);
    w.sim
        .customer_writes(NUMBER, &c, Inbound::Text("hello".into()))
        .await;
    let db = RawDatabase::open(&w.relay.database).await;
    let count = async |sql: &str| db.fetch_i64(sql, &[]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while count("SELECT COUNT(*) FROM automated_messages WHERE state = 'queued' AND attempts >= 1")
        .await
        == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the greeting was tried once"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut off = setup(&w, true);
    off["enabled"] = json!(false);
    save(&w, off).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let failed = "SELECT COUNT(*) FROM automated_messages
                  WHERE state = 'failed' AND error LIKE '%switched off%'";
    while count(failed).await < 2 {
        assert!(tokio::time::Instant::now() < deadline, "both given up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count("SELECT COUNT(*) FROM automated_messages").await, 2);
    assert!(sent_to(&w.sim, &c.id).is_empty());
    assert!(events_of(&w, "message.sent").await.is_empty());
}

/// The relay's binary, killed with SIGKILL after it decided to send but before it sent: on
/// restart the messages go out exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_between_deciding_and_sending_neither_loses_nor_doubles() {
    let sim = start_meta_sim().await;
    let token = sim.add_whatsapp_number(WABA, NUMBER, "+1 555 0100");
    let dir = tempfile::tempdir().unwrap();
    let database_url = crate::support::fresh_database().await;
    let location = DatabaseLocation::new(dir.path(), database_url.as_deref());
    let key_text = TokenKey::generate();
    let key = TokenKey::parse(&key_text).unwrap();
    let store = zentro_relay::Store::open_at(&location).await.unwrap();
    acme_with_a_connected_number(&store, &key, token.expose()).await;
    store.close().await;
    let port = crate::crash::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let serve = || {
        crate::crash::serve_with_meta_app(
            dir.path(),
            database_url.as_deref(),
            port,
            &sim,
            &key_text,
            &[],
        )
    };
    let mut relay = serve();
    crate::crash::wait_healthy(&base).await;
    sim.set_webhook_url(format!("{base}/webhooks/meta"));
    let owner = crate::support::post_json(
        &format!("{base}/v1/sessions"),
        &json!({ "email": OWNER, "password": PASSWORD, "device_name": "laptop" }),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let setup = json!({ "enabled": true,
        "greeting": { "text": "Hi! Thanks for writing to Acme." },
        "menu": { "prompt": { "text": "What can we help you with?" },
            "options": [{ "id": "sales", "title": "Buying", "team": "sales" }],
            "retry": { "text": "Please choose:" } },
        "teams": [{ "id": "sales", "name": "Sales" }] });
    let (status, body) = crate::support::call_at(
        &base,
        Some(&owner),
        "PUT",
        "/v1/automation",
        json!({ "expected_version": 0, "setup": setup }),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Meta fails the first sends: the decided messages wait in the outbox for their next try.
    sim.state().inject_send_errors(&[(500, 2), (500, 2)]);
    let c = customer(5);
    sim.customer_writes(NUMBER, &c, Inbound::Text("hello".into()))
        .await;
    let db = RawDatabase::open(&location).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        // Both decided and waiting (the greeting tried and refused, the menu held back behind it):
        // the next try is seconds away, so the kill lands between deciding and sending.
        let waiting = db
            .fetch_i64(
                "SELECT COUNT(*) FROM automated_messages WHERE state = 'queued'",
                &[],
            )
            .await;
        let tried = db
            .fetch_i64(
                "SELECT COUNT(*) FROM automated_messages WHERE attempts >= 1",
                &[],
            )
            .await;
        if waiting == 2 && tried >= 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the two messages were decided and tried"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    relay.kill().unwrap(); // SIGKILL: decided, not sent
    relay.wait().unwrap();
    assert!(sent_to(&sim, &c.id).is_empty());

    let mut relay = serve();
    crate::crash::wait_healthy(&base).await;
    wait_until(30, "both messages sent after the restart", || {
        sent_to(&sim, &c.id).len() >= 2
    })
    .await;
    // Long enough for a double to show (the automation runs every 100 ms).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = sent_to(&sim, &c.id);
    assert_eq!(
        sent,
        [
            ("text".into(), "Hi! Thanks for writing to Acme.".into()),
            ("interactive".into(), "What can we help you with?".into())
        ]
    );
    let page = crate::support::get_json(&base, &owner, "/v1/events?after=0&limit=1000").await;
    let announced = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "message.sent")
        .count();
    assert_eq!(announced, 2, "each announced once");
    db.close().await;
    relay.kill().unwrap();
    relay.wait().unwrap();
}

/// The customer taps a row of a WhatsApp list (`interactive.list_reply`), as Meta posts it.
async fn taps_row(sim: &MetaSim, c: &Customer, n: usize, id: &str, title: &str) {
    let at = (zentro_events::clock::now_ms() / 1000).to_string();
    let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "changes": [{
        "field": "messages", "value": { "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550100", "phone_number_id": NUMBER },
        "contacts": [{ "profile": { "name": c.name }, "wa_id": c.id }],
        "messages": [{ "from": c.id, "id": format!("wamid.row{n}-{}", c.id), "timestamp": at,
            "type": "interactive", "interactive": { "type": "list_reply",
            "list_reply": { "id": id, "title": title } } }] } }] }] });
    let delivery = sim.post_webhook(body).await;
    assert!(
        matches!(delivery, zentro_meta_sim::WebhookDelivery::Answered(200)),
        "{delivery:?}"
    );
}

/// A device publishes `kind` with `payload` under `key`; returns the relay's status and body.
async fn publish(
    w: &Workspace,
    token: &str,
    kind: &str,
    key: &str,
    payload: Value,
) -> (u16, Value) {
    let event = json!({ "kind": kind, "idempotency_key": key, "payload": payload });
    w.relay.call(token, "POST", "/v1/events", event).await
}

/// `agent` answers the customer `c` and resolves the conversation, as their desk publishes it.
async fn answer_and_resolve(w: &Workspace, agent: &Joined, c: &Customer) {
    let conversation =
        json!({ "channel_kind": "whatsapp", "channel_external_id": NUMBER, "customer_id": c.id });
    let reply = json!({ "client_id": format!("reply-{}", c.id), "external_id": format!("wamid.reply-{}", c.id),
        "channel_kind": "whatsapp", "channel_external_id": NUMBER, "customer_id": c.id,
        "body": "It ships today.", "reply_to": null, "sent_at": zentro_events::clock::now_ms(),
        "author_member_id": agent.member_id });
    let (status, body) = publish(
        w,
        &agent.token,
        "message.sent",
        &format!("reply-{}", c.id),
        reply,
    )
    .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    let resolve =
        json!({ "type": "status_changed", "conversation": conversation, "status": "resolved" });
    let key = format!("resolve-{}", c.id);
    let (status, body) = publish(w, &agent.token, "team.status_changed", &key, resolve).await;
    assert!(status == 200 || status == 201, "{status} {body}");
}

/// The setup of [`setup`] with the satisfaction survey on.
fn setup_with_survey(w: &Workspace) -> Value {
    let mut s = setup(w, true);
    s["csat"] =
        json!({ "question": { "text": "How did we do?" }, "thanks": { "text": "Thank you!" } });
    s
}

#[tokio::test]
async fn a_resolution_asks_the_customer_and_the_tapped_rating_is_in_the_log() {
    let w = workspace().await;
    save(&w, setup_with_survey(&w)).await;
    available(&w, &[&w.agents[0]]).await;
    let c = customer(11);
    w.sim
        .customer_writes(NUMBER, &c, Inbound::Text("hello".into()))
        .await;
    wait_until(10, "the greeting and the menu", || {
        sent_to(&w.sim, &c.id).len() >= 2
    })
    .await;
    taps(&w.sim, &c, 1, "sales", "Buying").await;
    for _ in 0..100 {
        if !events_of(&w, "team.assigned").await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    answer_and_resolve(&w, &w.agents[0], &c).await;
    wait_until(10, "the survey", || sent_to(&w.sim, &c.id).len() >= 3).await;
    let survey = w
        .sim
        .state()
        .sent
        .iter()
        .rfind(|m| m.to == c.id)
        .map(|m| m.body.clone())
        .unwrap();
    assert_eq!(survey["interactive"]["type"], "list", "{survey}");
    assert_eq!(survey["interactive"]["body"]["text"], "How did we do?");
    let rows: Vec<&str> = survey["interactive"]["action"]["sections"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| str_of(&r["id"]))
        .collect();
    assert_eq!(rows, ["csat:1", "csat:2", "csat:3", "csat:4", "csat:5"]);

    taps_row(&w.sim, &c, 2, "csat:4", "4 ★★★★").await;
    let mut rated = Vec::new();
    for _ in 0..100 {
        rated = events_of(&w, "team.rated").await;
        if !rated.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rated.len(), 1, "{rated:?}");
    assert_eq!(rated[0]["author"], "automation:csat");
    let payload = &rated[0]["payload"];
    assert_eq!(payload["rating"], 4);
    assert_eq!(payload["agent"], w.agents[0].member_id.as_str());
    assert_eq!(payload["team"], "sales");
    assert_eq!(payload["conversation"]["customer_id"], c.id.as_str());
    wait_until(10, "the thanks", || {
        sent_to(&w.sim, &c.id)
            .last()
            .is_some_and(|(_, t)| t == "Thank you!")
    })
    .await;
    // The answer is no new conversation: no greeting, no menu again.
    let sent = sent_to(&w.sim, &c.id);
    assert_eq!(sent.len(), 4, "{sent:?}");

    // A member cannot forge a rating: the relay refuses the kind from any device.
    let forged = json!({ "type": "rated", "conversation": payload["conversation"], "rating": 5,
        "agent": w.agents[1].member_id, "resolved_at": 1, "rated_at": 2 });
    for token in [&w.agents[1].token, &w.owner] {
        let (status, body) = publish(&w, token, "team.rated", "forged-1", forged.clone()).await;
        assert_eq!(status, 403, "{body}");
    }
    assert_eq!(events_of(&w, "team.rated").await.len(), 1);
}

#[tokio::test]
async fn a_restricted_customer_gets_no_survey() {
    let w = workspace().await;
    save(&w, setup_with_survey(&w)).await;
    let c = customer(12);
    let contact =
        json!({ "channel_kind": "whatsapp", "channel_external_id": NUMBER, "customer_id": c.id });
    let restrict =
        json!({ "type": "contact_edited", "contact": contact, "changes": { "restricted": true } });
    let (status, body) =
        publish(&w, &w.owner, "team.contact_edited", "restrict-12", restrict).await;
    assert!(status == 200 || status == 201, "{status} {body}");
    w.sim
        .customer_writes(NUMBER, &c, Inbound::Text("hi".into()))
        .await;
    answer_and_resolve(&w, &w.agents[0], &c).await;
    // Someone else after them: once they are greeted, the restricted one's resolution was
    // decided too (the automation follows the log in order).
    let d = customer(13);
    w.sim
        .customer_writes(NUMBER, &d, Inbound::Text("hi".into()))
        .await;
    wait_until(10, "the other customer's greeting", || {
        !sent_to(&w.sim, &d.id).is_empty()
    })
    .await;
    let to_restricted: Vec<_> = w
        .sim
        .state()
        .sent
        .iter()
        .filter(|m| m.to == c.id && m.body["type"] == "interactive")
        .map(|m| m.body.clone())
        .collect();
    assert!(to_restricted.is_empty(), "{to_restricted:?}");
    assert!(sent_to(&w.sim, &c.id).is_empty());
}
