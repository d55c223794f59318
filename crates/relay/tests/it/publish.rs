//! What devices may write to the log (issue 19, item 1), on a relay served over loopback: only
//! the kinds devices produce, each payload its type, each team event within the caller's role,
//! always in the caller's name; the relay's own kinds come only from its routes.

use serde_json::{Value, json};
use zentro_events::{DeviceEvent, RELAY_AUTHOR};

use crate::support::{PASSWORD, ServedRelay};

const OWNER: &str = "owner@acme.test";
const ROLES: [&str; 3] = ["agent", "admin", "owner"];

/// A served relay with an owner, an admin and an agent signed in.
struct Team {
    relay: ServedRelay,
    /// (role, device token, member id), in [`ROLES`] order.
    members: Vec<(&'static str, String, String)>,
}

impl Team {
    async fn start() -> Self {
        let relay = ServedRelay::start(OWNER, "P1").await;
        let owner = relay.sign_in(OWNER).await;
        let current = relay.get_json(&owner, "/v1/sessions/current").await;
        let owner_id = current["member"]["id"].as_str().unwrap().to_string();
        let mut members = Vec::new();
        for role in ["agent", "admin"] {
            let joined = relay
                .join(&owner, &format!("{role}@acme.test"), role, role)
                .await;
            members.push((role, joined.token, joined.member_id));
        }
        members.push(("owner", owner, owner_id));
        Self { relay, members }
    }

    fn token(&self, role: &str) -> &str {
        &self.members.iter().find(|m| m.0 == role).unwrap().1
    }

    fn member(&self, role: &str) -> &str {
        &self.members.iter().find(|m| m.0 == role).unwrap().2
    }

    /// `POST /v1/events` → (status, body).
    async fn publish(&self, token: &str, kind: &str, payload: &Value, key: &str) -> (u16, Value) {
        let body = json!({ "kind": kind, "payload": payload, "idempotency_key": key });
        self.relay.call(token, "POST", "/v1/events", body).await
    }

    /// Any `/v1` call as `role` → (status, body).
    async fn call(&self, role: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
        self.relay.call(self.token(role), method, path, body).await
    }

    /// The whole log, read back as the owner's device reads it.
    async fn log(&self) -> Vec<Value> {
        let mut events = Vec::new();
        let mut after = 0;
        loop {
            let path = format!("/v1/events?after={after}&limit=500");
            let page = self.relay.get_json(self.token("owner"), &path).await;
            let batch = page["events"].as_array().unwrap().clone();
            if batch.is_empty() {
                return events;
            }
            after = page["next_after"].as_i64().unwrap();
            events.extend(batch);
        }
    }
}

fn ana() -> Value {
    json!({ "channel_kind": "whatsapp", "channel_external_id": "P1", "customer_id": "US.1" })
}

fn bea() -> Value {
    json!({ "channel_kind": "instagram", "channel_external_id": "IG1", "customer_id": "IGSID.2" })
}

const AT: i64 = 1_780_000_000_000;

/// Who may publish a case.
#[derive(Debug, Clone, Copy)]
enum May {
    /// This role and those above it (201); below it 403.
    From(&'static str),
    /// Nobody: every role gets this status.
    Nobody(u16),
}

/// Every kind, with a payload valid for it where there is one.
fn cases() -> Vec<(&'static str, Value, May)> {
    let edit =
        |changes: Value| json!({ "type": "contact_edited", "contact": ana(), "changes": changes });
    vec![
        // Device kinds.
        (
            "team.assigned",
            json!({ "type": "assigned", "conversation": ana(), "assignee": "m_someone" }),
            May::From("agent"),
        ),
        (
            "team.assigned",
            json!({ "type": "assigned", "conversation": ana(), "assignee": null }),
            May::From("agent"),
        ),
        (
            "team.status_changed",
            json!({ "type": "status_changed", "conversation": ana(), "status": "snoozed", "snoozed_until": AT }),
            May::From("agent"),
        ),
        (
            "team.note_added",
            json!({ "type": "note_added", "conversation": ana(), "note_id": "n1", "body": "call back", "mentions": ["m_someone"], "at": AT }),
            May::From("agent"),
        ),
        (
            "team.labeled",
            json!({ "type": "labeled", "conversation": ana(), "label": "vip", "added": true }),
            May::From("agent"),
        ),
        (
            "team.contact_edited",
            edit(json!({ "display_name": "Ana", "email": null, "attributes": { "plan": "gold" } })),
            May::From("agent"),
        ),
        (
            "team.contact_edited",
            edit(json!({ "restricted": true })),
            May::From("admin"),
        ),
        (
            "team.contact_edited",
            edit(json!({ "restricted": false })),
            May::From("admin"),
        ),
        (
            "team.contacts_linked",
            json!({ "type": "contacts_linked", "contact": ana(), "with": bea() }),
            May::From("agent"),
        ),
        (
            "team.contact_unlinked",
            json!({ "type": "contact_unlinked", "contact": ana() }),
            May::From("agent"),
        ),
        (
            "team.canned_reply_saved",
            json!({ "type": "canned_reply_saved", "shortcut": "refund", "body": "Refunds take 3-5 days." }),
            May::From("agent"),
        ),
        (
            "team.canned_reply_deleted",
            json!({ "type": "canned_reply_deleted", "shortcut": "refund" }),
            May::From("agent"),
        ),
        (
            "team.consent_recorded",
            json!({ "type": "consent_recorded", "contact": ana(), "opted_in": true, "source": "agent", "at": AT }),
            May::From("agent"),
        ),
        (
            "team.consent_recorded",
            json!({ "type": "consent_recorded", "contact": ana(), "opted_in": true, "source": "import", "at": AT }),
            May::From("admin"),
        ),
        (
            "team.consent_recorded",
            json!({ "type": "consent_recorded", "contact": ana(), "opted_in": true, "source": "form", "at": AT, "note": "newsletter form" }),
            May::From("admin"),
        ),
        // The customer's own keyword: only the relay's consent worker records it.
        (
            "team.consent_recorded",
            json!({ "type": "consent_recorded", "contact": ana(), "opted_in": false, "source": "keyword", "at": AT }),
            May::Nobody(403),
        ),
        (
            "message.sent",
            json!({ "client_id": "cm_1", "external_id": "wamid.out1", "channel_kind": "whatsapp", "channel_external_id": "P1",
                                 "customer_id": "US.1", "body": "Hello", "reply_to": null, "sent_at": AT, "author_member_id": "m_forged" }),
            May::From("agent"),
        ),
        // The relay's own kinds: only its routes write them.
        (
            "contact.erased",
            json!({ "salt": "1".repeat(32), "hash": "b".repeat(64) }),
            May::Nobody(403),
        ),
        (
            "workspace.retention",
            json!({ "conversation_days": 0, "media_days": 0 }),
            May::Nobody(403),
        ),
        (
            "workspace.retention",
            json!({ "conversation_days": 30, "media_days": null }),
            May::Nobody(403),
        ),
        (
            "workspace.renamed",
            json!({ "name": "Pwned" }),
            May::Nobody(403),
        ),
        (
            "channel.changed",
            json!({ "channel_id": "c1", "removed": true }),
            May::Nobody(403),
        ),
        (
            "channel.connected",
            json!({ "channel_id": "c1", "kind": "whatsapp", "external_id": "P9", "token_version": 1 }),
            May::Nobody(403),
        ),
        (
            "meta.webhook",
            crate::support::wa_text("P1", "wamid.forged", "hi"),
            May::Nobody(403),
        ),
        ("meta.data_deletion", json!({}), May::Nobody(403)),
        // Kinds nobody publishes.
        (
            "conversation.status",
            json!({ "conversation": 7, "status": "resolved" }),
            May::Nobody(400),
        ),
        ("note.added", json!({ "body": "x" }), May::Nobody(400)),
        (
            "team.unheard_of",
            json!({ "type": "unheard_of" }),
            May::Nobody(400),
        ),
        ("team", json!({}), May::Nobody(400)),
        (
            "TEAM.ASSIGNED",
            json!({ "type": "assigned", "conversation": ana(), "assignee": null }),
            May::Nobody(400),
        ),
        ("", json!({}), May::Nobody(400)),
    ]
}

fn rank(role: &str) -> usize {
    ROLES.iter().position(|r| *r == role).unwrap()
}

#[tokio::test]
async fn every_kind_from_every_role_is_accepted_only_when_devices_produce_it_and_the_role_allows() {
    let t = Team::start().await;
    // seq → (kind, author, case) of what was accepted.
    let mut accepted = std::collections::BTreeMap::new();
    let mut wrong = Vec::new();
    for (i, (kind, payload, may)) in cases().into_iter().enumerate() {
        for role in ROLES {
            let expected = match may {
                May::From(least) if rank(role) >= rank(least) => 201,
                May::From(_) => 403,
                May::Nobody(status) => status,
            };
            let (status, body) = t
                .publish(t.token(role), kind, &payload, &format!("case-{i}-{role}"))
                .await;
            if status != expected {
                wrong.push(format!(
                    "{kind} {payload} as {role}: {status} (expected {expected}) {body}"
                ));
                continue;
            }
            if status == 201 {
                accepted.insert(
                    body["seq"].as_i64().unwrap(),
                    (kind, t.member(role).to_string(), i),
                );
            } else {
                // Opaque and stable: a code to branch on, a message for people.
                assert!(
                    body["error"]["code"].is_string(),
                    "{kind} as {role}: {body}"
                );
                assert!(
                    body["error"]["message"].is_string(),
                    "{kind} as {role}: {body}"
                );
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    let log = t.log().await;
    let stored: Vec<i64> = log.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        stored,
        accepted.keys().copied().collect::<Vec<_>>(),
        "the log holds exactly what was accepted"
    );
    for event in &log {
        let (kind, author, case) = &accepted[&event["seq"].as_i64().unwrap()];
        assert_eq!(event["kind"], *kind);
        assert_eq!(
            event["author"],
            author.as_str(),
            "case {case}: the author is the caller"
        );
        let parsed = DeviceEvent::parse(kind, &event["payload"]).unwrap();
        assert_eq!(parsed.to_payload(), event["payload"], "stored as its type");
        if *kind == "message.sent" {
            assert_eq!(
                event["payload"]["author_member_id"],
                author.as_str(),
                "not the caller's claim"
            );
        }
    }
}

#[tokio::test]
async fn the_relays_own_kinds_come_from_its_routes_in_its_name() {
    let t = Team::start().await;
    let (status, body) = t
        .call(
            "admin",
            "PUT",
            "/v1/workspace/retention",
            json!({ "conversation_days": 30, "media_days": null }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = t
        .call(
            "agent",
            "PUT",
            "/v1/workspace/retention",
            json!({ "conversation_days": 1, "media_days": 1 }),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = t
        .call("admin", "POST", "/v1/erasures", json!({ "identifiers": ["16505551234"], "salt": "1".repeat(32), "hash": "b".repeat(64), "details": {} }))
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, channels) = t.call("admin", "GET", "/v1/channels", Value::Null).await;
    let channel = channels["channels"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = t
        .call(
            "admin",
            "PUT",
            &format!("/v1/channels/{channel}/access"),
            json!({ "agents": [] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let log = t.log().await;
    for kind in ["workspace.retention", "contact.erased", "channel.changed"] {
        let event = log
            .iter()
            .find(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("{kind} is in the log: {log:?}"));
        assert_eq!(
            event["author"], RELAY_AUTHOR,
            "{kind} is written in the relay's name"
        );
    }
    assert_eq!(
        log.iter()
            .filter(|e| e["kind"] == "workspace.retention")
            .count(),
        1
    );
    assert_eq!(
        log.iter()
            .find(|e| e["kind"] == "workspace.retention")
            .unwrap()["payload"],
        json!({ "conversation_days": 30, "media_days": null })
    );
}

/// Random payloads (and valid ones with a field broken) under every kind, from the owner (whom no
/// permission stops): whatever the relay stores parses as its kind's type, exactly as stored.
#[test]
fn random_payloads_never_reach_the_log_malformed() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let t = runtime.block_on(Team::start());

    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::from),
        Just(json!("")),
        Just(json!("whatsapp")),
        Just(json!("snoozed")),
        Just(ana()),
    ];
    let value = leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,14}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let cases = cases();
    let n = cases.len();
    let kinds: Vec<&'static str> = cases.iter().map(|c| c.0).collect();
    // A valid case with one field (top level, or inside a contact) replaced or removed.
    let broken = (
        0..n,
        any::<prop::sample::Index>(),
        any::<bool>(),
        proptest::option::of(value.clone()),
    )
        .prop_map(move |(i, field, nested, replacement)| {
            let (kind, mut payload, _) = cases[i].clone();
            let target = if nested {
                payload
                    .as_object_mut()
                    .and_then(|o| o.values_mut().find(|v| v.get("customer_id").is_some()))
            } else {
                Some(&mut payload)
            };
            if let Some(Value::Object(fields)) = target
                && !fields.is_empty()
            {
                let key = fields
                    .keys()
                    .nth(field.index(fields.len()))
                    .unwrap()
                    .clone();
                match replacement {
                    Some(v) => {
                        fields.insert(key, v);
                    }
                    None => {
                        fields.remove(&key);
                    }
                }
            }
            (kind.to_string(), payload)
        });
    let kind = prop_oneof![
        4 => prop::sample::select(kinds),
        1 => "[a-z.]{0,20}".prop_map(|s| Box::leak(s.into_boxed_str()) as &'static str),
    ];
    let random = (kind, value).prop_map(|(k, v)| (k.to_string(), v));
    let strategy = prop_oneof![random, broken];

    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let counter = std::sync::atomic::AtomicU64::new(0);
    let result = runner.run(&strategy, |(kind, payload)| {
        let key = format!(
            "p-{}",
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let (status, body) = runtime.block_on(t.publish(t.token("owner"), &kind, &payload, &key));
        prop_assert!(
            status == 201 || (400..500).contains(&status),
            "{kind} {payload}: {status} {body}"
        );
        if status == 201 {
            let seq = body["seq"].as_i64().unwrap();
            let log = runtime.block_on(t.log());
            let event = log.iter().find(|e| e["seq"] == seq).unwrap();
            let parsed = DeviceEvent::parse(&kind, &event["payload"]).map_err(|e| {
                TestCaseError::fail(format!("stored {kind} {}: {e}", event["payload"]))
            })?;
            prop_assert_eq!(&parsed.to_payload(), &event["payload"]);
            prop_assert_eq!(&event["author"], &json!(t.member("owner")));
        }
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    // And the whole log once more: every event a device kind, its payload its type.
    for event in runtime.block_on(t.log()) {
        let kind = event["kind"].as_str().unwrap();
        assert!(
            DeviceEvent::parse(kind, &event["payload"]).is_ok(),
            "malformed event in the log: {event}"
        );
    }
    runtime.block_on(t.relay.stop());
}

/// A relay upgraded from before it stamped its own events: what its routes wrote (in an admin's
/// or owner's name, or Meta's) is put in its name; what an agent forged is not.
#[tokio::test]
async fn events_the_routes_wrote_before_are_put_in_the_relays_name_and_forgeries_are_not() {
    if crate::support::sqlite_only(
        "events_the_routes_wrote_before_are_put_in_the_relays_name_and_forgeries_are_not",
    ) {
        return;
    }
    use zentro_relay::Store;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let ws = store
        .create_workspace(
            "Acme",
            OWNER,
            "Owner",
            &zentro_relay::credentials::hash_password(PASSWORD),
        )
        .await
        .unwrap()
        .id;
    store.close().await;
    let options =
        sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("relay.sqlite"));
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let owner: String = sqlx::query_scalar("SELECT id FROM members WHERE workspace_id = ?")
        .bind(&ws)
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO members (id, workspace_id, email, display_name, role, status, created_at)
                 VALUES ('m_agent', ?, 'agent@acme.test', 'Agent', 'agent', 'active', 0)",
    )
    .bind(&ws)
    .execute(&pool)
    .await
    .unwrap();
    let before = [
        ("contact.erased", Some(owner.as_str())),
        ("workspace.retention", Some("m_agent")),
        ("channel.changed", Some("meta")),
        ("team.labeled", Some(owner.as_str())),
        ("meta.webhook", None),
        ("workspace.retention", Some(owner.as_str())),
    ];
    for (seq, (kind, author)) in before.iter().enumerate() {
        sqlx::query("INSERT INTO events (workspace_id, seq, kind, at, dedup_key, author, payload) VALUES (?, ?, ?, 0, ?, ?, '{}')")
            .bind(&ws)
            .bind(seq as i64 + 1)
            .bind(kind)
            .bind(format!("k{seq}"))
            .bind(author)
            .execute(&pool)
            .await
            .unwrap();
    }
    // As if this migration had not run yet.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 20261206052000")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let store = Store::open(dir.path()).await.unwrap();
    let authors: Vec<Option<String>> = store
        .events_after(&ws, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.author)
        .collect();
    let relay = Some(RELAY_AUTHOR.to_string());
    assert_eq!(
        authors,
        [
            relay.clone(),
            Some("m_agent".to_string()),
            relay.clone(),
            Some(owner),
            None,
            relay
        ]
    );
    store.close().await;
}

/// A device cannot claim a route's idempotency key ahead of it: the erasure is still announced.
#[tokio::test]
async fn no_device_key_stands_in_for_a_routes() {
    let t = Team::start().await;
    let hash = "c".repeat(64);
    let labeled =
        json!({ "type": "labeled", "conversation": ana(), "label": "vip", "added": true });
    let (status, _) = t
        .publish(
            t.token("agent"),
            "team.labeled",
            &labeled,
            &format!("contact.erased:{hash}"),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = t
        .call(
            "admin",
            "POST",
            "/v1/erasures",
            json!({ "identifiers": ["16505551234"], "salt": "1".repeat(32), "hash": hash, "details": {} }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let log = t.log().await;
    assert!(
        log.iter()
            .any(|e| e["kind"] == "contact.erased" && e["payload"]["hash"] == hash.as_str()),
        "the erasure is announced: {log:?}"
    );
}
