//! Consent to marketing messages on a real relay serving on loopback, against meta-sim, with no
//! desk connected (issue 24): a customer's STOP opts them out at once and is confirmed exactly
//! once, START opts them back in, with the workspace's automation off or never set up; members
//! record consent within their role, never the customer's keyword; every change is audited.

use std::time::Duration;

use serde_json::{Value, json};
use zentro_events::ContactRef;
use zentro_meta_sim::{Customer, Inbound, MetaSim};
use zentro_relay::Store;
use zentro_relay::store::ChannelKind;

use crate::support::{
    Joined, Number, PASSWORD, ServedRelay, relay_with_a_connected_number, str_of, wait_until,
};

const OWNER: &str = "owner@acme.test";
const NUMBER: &str = "106540352242923";
const WABA: &str = "102290129340399";
const OTHER_OWNER: &str = "owner@globex.test";

const STOPPED: &str =
    "You will no longer receive marketing messages from us. Reply START to receive them again.";
const STARTED: &str = "You will receive our marketing messages again. Reply STOP to stop them.";

/// A served relay with a WhatsApp number connected to meta-sim (its token sealed), no
/// automation setup saved, the owner signed in and an agent and an admin who joined; and
/// another workspace (Globex) on the same relay.
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
        display: "+1 555 0101",
    };
    let globex = async |store: &Store| {
        let hash = zentro_relay::credentials::hash_password(PASSWORD);
        store
            .create_workspace("Globex", OTHER_OWNER, "Owner", &hash)
            .await
            .unwrap();
    };
    let (sim, relay) = relay_with_a_connected_number(OWNER, number, globex).await;
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

fn customer(n: usize) -> Customer {
    Customer {
        id: format!("1555111{n:04}"),
        phone: Some(format!("1555111{n:04}")),
        name: format!("Customer {n}"),
    }
}

fn contact(c: &Customer) -> ContactRef {
    ContactRef {
        channel_kind: "whatsapp".into(),
        channel_external_id: NUMBER.into(),
        customer_id: c.id.clone(),
    }
}

/// The texts meta-sim accepted for `to`, in order.
fn sent_to(sim: &MetaSim, to: &str) -> Vec<String> {
    sim.state()
        .sent
        .iter()
        .filter(|m| m.to == to)
        .map(|m| str_of(&m.body["text"]["body"]).to_string())
        .collect()
}

async fn writes(w: &Workspace, c: &Customer, text: &str) {
    w.sim
        .customer_writes(NUMBER, c, Inbound::Text(text.into()))
        .await;
}

/// The log's events of `kind`, as the device holding `token` reads them.
async fn events_of(w: &Workspace, token: &str, kind: &str) -> Vec<Value> {
    let page = w
        .relay
        .get_json(token, "/v1/events?after=0&limit=1000")
        .await;
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

/// The audit log's `contact.consent` entries, oldest first.
async fn consent_audit(w: &Workspace) -> Vec<Value> {
    let audit = w.relay.get_json(&w.owner, "/v1/audit").await;
    let mut entries: Vec<Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "contact.consent")
        .cloned()
        .collect();
    entries.reverse();
    entries
}

async fn acme(store: &Store) -> String {
    store
        .workspace_of_account(ChannelKind::Whatsapp, WABA)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn stop_opts_out_at_once_confirms_once_and_start_opts_back_in_without_any_automation() {
    let w = workspace().await;
    let c = customer(1);
    let store = Store::open_at(&w.relay.database).await.unwrap();
    let ws = acme(&store).await;
    assert!(
        !store
            .may_receive_marketing(&ws, &contact(&c))
            .await
            .unwrap()
    );

    writes(&w, &c, "  Stop! ").await;
    wait_until(10, "the opt-out's confirmation", || {
        !sent_to(&w.sim, &c.id).is_empty()
    })
    .await;
    let recorded = events_of(&w, &w.owner, "team.consent_recorded").await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["author"], "automation:consent");
    assert_eq!(recorded[0]["payload"]["opted_in"], false);
    assert_eq!(recorded[0]["payload"]["source"], "keyword");
    assert_eq!(
        recorded[0]["payload"]["contact"]["customer_id"],
        c.id.as_str()
    );
    let now = store.consent(&ws, &contact(&c)).await.unwrap().unwrap();
    assert!(!now.opted_in);

    // A second STOP changes nothing and sends nothing; "please stop" is a sentence, not a
    // keyword. START, after them in the log, opts back in: its confirmation is the second
    // message the customer gets (the worker reads in order, so nothing came in between).
    writes(&w, &c, "STOP").await;
    writes(&w, &c, "please stop sending me these").await;
    writes(&w, &c, "start").await;
    wait_until(10, "the opt-in's confirmation", || {
        sent_to(&w.sim, &c.id).len() >= 2
    })
    .await;
    assert_eq!(sent_to(&w.sim, &c.id), [STOPPED, STARTED]);
    assert!(
        store
            .may_receive_marketing(&ws, &contact(&c))
            .await
            .unwrap()
    );
    let recorded = events_of(&w, &w.owner, "team.consent_recorded").await;
    let states: Vec<&Value> = recorded.iter().map(|e| &e["payload"]["opted_in"]).collect();
    assert_eq!(states, [false, true]);
    // Every desk learns what was sent, in the consent rule's name, and it is audited (P2, P8).
    // The relay records a send once Meta answered it, a moment after meta-sim counted it.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let sent = loop {
        let sent = events_of(&w, &w.owner, "message.sent").await;
        if sent.len() >= 2 || tokio::time::Instant::now() >= deadline {
            break sent;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let authors: Vec<&str> = sent.iter().map(|e| str_of(&e["author"])).collect();
    assert_eq!(authors, ["automation:consent", "automation:consent"]);
    let audit = consent_audit(&w).await;
    let changes: Vec<(&Value, &str)> = audit
        .iter()
        .map(|e| (&e["details"]["opted_in"], str_of(&e["actor_email"])))
        .collect();
    assert_eq!(
        changes,
        [
            (&json!(false), "automation:consent"),
            (&json!(true), "automation:consent")
        ]
    );
    // Nothing more goes out later.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sent_to(&w.sim, &c.id).len(), 2);

    // Erased (P14): the relay keeps no consent of the customer any more.
    let erasure = json!({ "identifiers": [c.id], "salt": "0".repeat(32), "hash": "a".repeat(64) });
    let (status, body) = w
        .relay
        .call(&w.owner, "POST", "/v1/erasures", erasure)
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    assert_eq!(store.consent(&ws, &contact(&c)).await.unwrap(), None);
    store.close().await;
}

#[tokio::test]
async fn the_workspaces_own_keywords_and_confirmations_apply_with_its_automation_switched_off() {
    let w = workspace().await;
    let setup = json!({
        "enabled": false,
        "consent": {
            "stop": ["Abmelden"],
            "start": ["Anmelden"],
            "stopped_reply": { "text": "Sie sind abgemeldet." },
            "started_reply": { "text": "Sie sind wieder angemeldet." }
        }
    });
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
    let c = customer(2);
    writes(&w, &c, "ABMELDEN").await;
    // STOP is not this workspace's keyword any more.
    writes(&w, &c, "STOP").await;
    writes(&w, &c, "anmelden").await;
    wait_until(10, "both confirmations", || {
        sent_to(&w.sim, &c.id).len() >= 2
    })
    .await;
    assert_eq!(
        sent_to(&w.sim, &c.id),
        ["Sie sind abgemeldet.", "Sie sind wieder angemeldet."]
    );
    // A setup without a stop keyword is refused: customers must always be able to opt out.
    let current = w.relay.get_json(&w.owner, "/v1/automation").await;
    let (status, body) = w
        .relay
        .call(
            &w.owner,
            "PUT",
            "/v1/automation",
            json!({ "expected_version": current["version"], "setup": { "consent": { "stop": [] } } }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
}

/// A consent record as a device publishes it.
fn record(c: &Customer, opted_in: bool, source: &str) -> Value {
    json!({ "type": "consent_recorded", "contact": { "channel_kind": "whatsapp",
        "channel_external_id": NUMBER, "customer_id": c.id }, "opted_in": opted_in,
        "source": source, "at": 1_760_000_000_000_i64, "note": "asked by phone" })
}

async fn publish(w: &Workspace, token: &str, key: &str, payload: Value) -> (u16, Value) {
    w.relay
        .call(
            token,
            "POST",
            "/v1/events",
            json!({ "kind": "team.consent_recorded", "idempotency_key": key, "payload": payload }),
        )
        .await
}

#[tokio::test]
async fn members_record_consent_within_their_role_and_never_the_customers_keyword() {
    let w = workspace().await;
    let c = customer(3);
    let store = Store::open_at(&w.relay.database).await.unwrap();
    let ws = acme(&store).await;

    // Nobody may claim the customer wrote STOP or START: 403 from every role.
    for (i, token) in [&w.agent.token, &w.admin.token, &w.owner]
        .iter()
        .enumerate()
    {
        let (status, body) =
            publish(&w, token, &format!("kw-{i}"), record(&c, false, "keyword")).await;
        assert_eq!(status, 403, "{body}");
    }
    // Imports and forms opt customers in wholesale: admins only.
    for source in ["form", "import"] {
        let (status, body) = publish(&w, &w.agent.token, source, record(&c, true, source)).await;
        assert_eq!(status, 403, "{body}");
    }
    assert!(
        events_of(&w, &w.owner, "team.consent_recorded")
            .await
            .is_empty()
    );
    assert_eq!(store.consent(&ws, &contact(&c)).await.unwrap(), None);

    // What the customer told the agent, then an admin's import after it.
    let (status, body) = publish(&w, &w.agent.token, "told", record(&c, true, "agent")).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = publish(&w, &w.admin.token, "import", record(&c, false, "import")).await;
    assert_eq!(status, 201, "{body}");
    let recorded = events_of(&w, &w.owner, "team.consent_recorded").await;
    let authors: Vec<&str> = recorded.iter().map(|e| str_of(&e["author"])).collect();
    assert_eq!(
        authors,
        [w.agent.member_id.as_str(), w.admin.member_id.as_str()]
    );
    // The relay keeps the latest for campaigns once its worker read them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = store.consent(&ws, &contact(&c)).await.unwrap();
        if now.as_ref().is_some_and(|n| n.source == "import") {
            assert!(!now.unwrap().opted_in);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay kept {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Audited in the callers' names: in or out and the source, never the note (P2, P8).
    let audit = consent_audit(&w).await;
    let actors: Vec<&str> = audit.iter().map(|e| str_of(&e["actor_id"])).collect();
    assert_eq!(
        actors,
        [w.agent.member_id.as_str(), w.admin.member_id.as_str()]
    );
    assert_eq!(audit[0]["details"]["source"], "agent");
    assert_eq!(audit[1]["details"]["opted_in"], false);
    assert!(!json!(audit).to_string().contains("asked by phone"));

    // A member of another workspace naming this one's customer writes only to their own log:
    // this workspace's consent does not move.
    let (status, body) = publish(&w, &w.other_owner, "other", record(&c, true, "agent")).await;
    assert!(status == 201 || status == 403, "{status} {body}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let now = store.consent(&ws, &contact(&c)).await.unwrap().unwrap();
    assert_eq!((now.opted_in, now.source.as_str()), (false, "import"));
    assert_eq!(consent_audit(&w).await.len(), 2);
    store.close().await;
}
