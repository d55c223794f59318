//! Per-channel access where data flows (issue 19, item 2), on a relay served over loopback: an
//! agent not allowed on a channel receives none of its webhooks, replies or team events (JSON
//! pages, the stream), is never held back by them, gets the channel's history once allowed, and
//! admins are told which channel tokens a member's devices held.

use serde_json::{Value, json};
use zentro_relay::credentials::hash_password;
use zentro_relay::sealing::{TokenKey, TokenKeys};
use zentro_relay::store::ChannelKind;

use crate::stream::Sse;
use crate::support::{PASSWORD, ServedRelay, post_webhook, wa_text};

const OWNER: &str = "owner@acme.test";

struct Desk {
    relay: ServedRelay,
    owner: String,
    /// (device token, member id) of the agents Ann and Bob.
    ann: (String, String),
    bob: (String, String),
    /// Channel ids: A (WhatsApp P1, everyone's) and B (WhatsApp P2, Bob's only).
    a: String,
    b: String,
}

fn contact(number: &str, customer: &str) -> Value {
    json!({ "channel_kind": "whatsapp", "channel_external_id": number, "customer_id": customer })
}

impl Desk {
    async fn start() -> Self {
        let relay = ServedRelay::start_on(
            |c| {
                c.token_keys = Some(TokenKeys {
                    current: TokenKey::parse(&TokenKey::generate()).unwrap(),
                    previous: None,
                })
            },
            async |store| {
                let ws = store
                    .create_workspace("Acme", OWNER, "Owner", &hash_password(PASSWORD))
                    .await
                    .unwrap();
                for number in ["P1", "P2"] {
                    store
                        .add_channel(&ws.id, ChannelKind::Whatsapp, number, None, number)
                        .await
                        .unwrap();
                }
            },
        )
        .await;
        let owner = relay.sign_in(OWNER).await;
        let mut desk = Self {
            relay,
            owner,
            ann: Default::default(),
            bob: Default::default(),
            a: String::new(),
            b: String::new(),
        };
        desk.ann = desk.join("ann@acme.test").await;
        desk.bob = desk.join("bob@acme.test").await;
        let (_, channels) = desk
            .call(&desk.owner, "GET", "/v1/channels", Value::Null)
            .await;
        for c in channels["channels"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap().to_string();
            match c["external_id"].as_str().unwrap() {
                "P1" => desk.a = id,
                _ => desk.b = id,
            }
        }
        desk.allow_on_b(&[desk.bob.1.clone()]).await;
        desk
    }

    async fn join(&self, email: &str) -> (String, String) {
        let joined = self.relay.join(&self.owner, email, "agent", email).await;
        (joined.token, joined.member_id)
    }

    async fn allow_on_b(&self, agents: &[String]) -> Value {
        let (status, body) = self
            .call(
                &self.owner,
                "PUT",
                &format!("/v1/channels/{}/access", self.b),
                json!({ "agents": agents }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn call(&self, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
        self.relay.call(token, method, path, body).await
    }

    /// The newest audit entry of `action`, as the owner reads the log.
    async fn audit_entry(&self, action: &str) -> Value {
        let (_, audit) = self
            .call(&self.owner, "GET", "/v1/audit", Value::Null)
            .await;
        let entries = audit["entries"].as_array().unwrap();
        let entry = entries.iter().find(|e| e["action"] == action);
        entry.unwrap_or_else(|| panic!("{audit}")).clone()
    }

    /// What the device holding `token` is told to rotate: the `rotation_advised` of each channel
    /// it lists, and the whole list (for messages).
    async fn rotation_advice(&self, token: &str) -> (Vec<Value>, Value) {
        let (_, channels) = self.call(token, "GET", "/v1/channels", Value::Null).await;
        let listed = channels["channels"].as_array().unwrap().iter();
        let advised = listed.map(|c| c["rotation_advised"].clone()).collect();
        (advised, channels)
    }

    async fn webhook(&self, body: &Value) {
        post_webhook(&self.relay.base, body).await;
    }

    async fn publish(&self, token: &str, kind: &str, payload: Value, key: &str) {
        let (status, body) = self
            .call(
                token,
                "POST",
                "/v1/events",
                json!({ "kind": kind, "payload": payload, "idempotency_key": key }),
            )
            .await;
        assert_eq!(status, 201, "{kind}: {body}");
    }

    /// Customers write on A and on B; the owner answers and notes on both.
    async fn traffic(&self, tag: &str) {
        self.webhook(&wa_text("P1", &format!("wamid.a-{tag}"), "hello A"))
            .await;
        self.webhook(&wa_text("P2", &format!("wamid.b-{tag}"), "secret of B"))
            .await;
        for (number, customer) in [("P1", "US.1"), ("P2", "US.2")] {
            self.publish(
                &self.owner,
                "team.note_added",
                json!({ "type": "note_added", "conversation": contact(number, customer),
                        "note_id": format!("n-{number}-{tag}"), "body": format!("note on {number}"), "mentions": [], "at": 1 }),
                &format!("note-{number}-{tag}"),
            )
            .await;
            self.publish(
                &self.owner,
                "message.sent",
                json!({ "client_id": format!("c-{number}-{tag}"), "external_id": format!("wamid.out-{number}-{tag}"),
                        "channel_kind": "whatsapp", "channel_external_id": number, "customer_id": customer,
                        "body": format!("reply on {number}"), "reply_to": null, "sent_at": 1, "author_member_id": "x" }),
                &format!("c-{number}-{tag}"),
            )
            .await;
        }
    }

    /// Every page a device reads from `after`, one event per page (skipped events included);
    /// returns the events and where the last page left the device.
    async fn pages(&self, token: &str, mut after: i64) -> (Vec<Value>, i64, i64) {
        let mut events = Vec::new();
        loop {
            let (status, page) = self
                .call(
                    token,
                    "GET",
                    &format!("/v1/events?after={after}&limit=1"),
                    Value::Null,
                )
                .await;
            assert_eq!(status, 200, "{page}");
            let next = page["next_after"].as_i64().unwrap();
            events.extend(page["events"].as_array().unwrap().iter().cloned());
            if next == after {
                return (events, after, page["head"].as_i64().unwrap());
            }
            after = next;
        }
    }
}

/// Whether an event concerns WhatsApp number P2 (channel B).
fn of_b(event: &Value) -> bool {
    let kind = event["kind"].as_str().unwrap_or_default();
    if !(kind == "meta.webhook" || kind == "message.sent" || kind.starts_with("team.")) {
        return false; // workspace-wide (channel.changed names channels, never their content)
    }
    let text = event["payload"].to_string();
    text.contains("\"P2\"") || text.contains("secret of B") || text.contains("on P2")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_not_allowed_on_a_channel_receives_none_of_its_events_in_pages_or_stream() {
    let desk = Desk::start().await;
    desk.traffic("1").await;

    let (ann, ann_end, head) = desk.pages(&desk.ann.0, 0).await;
    assert_eq!(ann_end, head, "skipped events never hold Ann's device back");
    assert!(ann.iter().all(|e| !of_b(e)), "Ann got B's events: {ann:?}");
    for kind in ["meta.webhook", "team.note_added", "message.sent"] {
        assert!(
            ann.iter().any(|e| e["kind"] == kind && !of_b(e)),
            "Ann gets A's {kind}"
        );
    }
    let (bob, bob_end, _) = desk.pages(&desk.bob.0, 0).await;
    assert_eq!(bob_end, head);
    for kind in ["meta.webhook", "team.note_added", "message.sent"] {
        assert!(
            bob.iter().any(|e| e["kind"] == kind && of_b(e)),
            "Bob, allowed on B, gets B's {kind}: {bob:?}"
        );
    }
    let (owner, _, _) = desk.pages(&desk.owner, 0).await;
    assert_eq!(owner.len(), bob.len(), "the owner and Bob see everything");

    // The stream: everything after 0, live traffic too; B's events never come, nothing stalls.
    let mut stream = Sse::open(&desk.relay.base, &desk.ann.0, Some(0), None).await;
    desk.traffic("2").await;
    desk.webhook(&wa_text("P1", "wamid.a-last", "the end"))
        .await;
    let mut streamed = Vec::new();
    loop {
        let (_, event) = stream.next().await.expect("the stream goes on");
        let last = event["payload"].to_string().contains("wamid.a-last");
        streamed.push(event);
        if last {
            break;
        }
    }
    assert!(
        streamed.iter().all(|e| !of_b(e)),
        "Ann streamed B's events: {streamed:?}"
    );
    assert!(streamed.iter().any(|e| e["kind"] == "team.note_added"));

    // Nor does she write about B's conversations.
    let (status, body) = desk
        .call(
            &desk.ann.0,
            "POST",
            "/v1/events",
            json!({ "kind": "team.note_added", "idempotency_key": "ann-on-b",
                    "payload": { "type": "note_added", "conversation": contact("P2", "US.2"),
                                 "note_id": "n-ann", "body": "hi", "mentions": [], "at": 1 } }),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    desk.relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_allowed_on_a_channel_gets_the_history_the_relay_holds_and_no_one_else_does() {
    let desk = Desk::start().await;
    desk.traffic("1").await;
    let (_, cursor, _) = desk.pages(&desk.ann.0, 0).await;
    let history = format!("/v1/channels/{}/events?after=0&before={cursor}", desk.b);

    let (status, _) = desk.call(&desk.ann.0, "GET", &history, Value::Null).await;
    assert_eq!(status, 403, "not allowed on B: no history of it");

    desk.allow_on_b(&[desk.bob.1.clone(), desk.ann.1.clone()])
        .await;
    let (status, page) = desk.call(&desk.ann.0, "GET", &history, Value::Null).await;
    assert_eq!(status, 200, "{page}");
    let events = page["events"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["meta.webhook", "team.note_added", "message.sent"],
        "B's webhook, note and reply: {page}"
    );
    assert!(events.iter().all(of_b));
    assert!(events.iter().all(|e| e["seq"].as_i64().unwrap() <= cursor));
    // From now on her pages carry B's events too.
    desk.traffic("2").await;
    let (ann, _, _) = desk.pages(&desk.ann.0, cursor).await;
    assert_eq!(ann.iter().filter(|e| of_b(e)).count(), 3);
    desk.relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_are_told_which_channel_tokens_a_members_devices_held() {
    let desk = Desk::start().await;
    let (status, body) = desk
        .call(
            &desk.owner,
            "PUT",
            &format!("/v1/channels/{}/token", desk.b),
            json!({ "token": "EAAGbChannelToken0123456789" }),
        )
        .await;
    assert!(status < 300, "{body}");
    // Bob's device fetches B's token; then he loses B.
    let (status, _) = desk
        .call(
            &desk.bob.0,
            "GET",
            &format!("/v1/channels/{}/token", desk.b),
            Value::Null,
        )
        .await;
    assert_eq!(status, 200);
    let changed = desk.allow_on_b(std::slice::from_ref(&desk.ann.1)).await;
    assert_eq!(
        changed["rotation_advised"],
        json!([{ "member_id": desk.bob.1, "email": "bob@acme.test" }]),
        "{changed}"
    );
    let (_, channels) = desk
        .call(&desk.owner, "GET", "/v1/channels", Value::Null)
        .await;
    let b = channels["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == desk.b.as_str())
        .unwrap()
        .clone();
    assert_eq!(b["rotation_advised"][0]["email"], "bob@acme.test", "{b}");
    // Allowed again, nothing to advise; removed, his devices' token is named again.
    desk.allow_on_b(&[]).await;
    let (status, removed) = desk
        .call(
            &desk.owner,
            "DELETE",
            &format!("/v1/members/{}", desk.bob.1),
            Value::Null,
        )
        .await;
    assert!(status < 300, "{removed}");
    let (advised, channels) = desk.rotation_advice(&desk.owner).await;
    assert!(
        advised.contains(&json!([{ "member_id": desk.bob.1, "email": "bob@acme.test" }])),
        "{channels}"
    );
    let entry = desk.audit_entry("member.removed").await;
    assert_eq!(
        entry["details"]["rotate_tokens"],
        json!([desk.b]),
        "{entry}"
    );
    // Agents are not told.
    let (seen_by_ann, _) = desk.rotation_advice(&desk.ann.0).await;
    assert!(seen_by_ann.iter().all(|a| *a == json!([])));
    // Rotating the token ends the advice.
    let (status, _) = desk
        .call(
            &desk.owner,
            "PUT",
            &format!("/v1/channels/{}/token", desk.b),
            json!({ "token": "EAAGbChannelToken9876543210" }),
        )
        .await;
    assert!(status < 300);
    let (advised, channels) = desk.rotation_advice(&desk.owner).await;
    assert!(advised.iter().all(|a| *a == json!([])), "{channels}");
    // Deactivating Ann, whose device fetched the new token, names it too.
    let (status, _) = desk
        .call(
            &desk.ann.0,
            "GET",
            &format!("/v1/channels/{}/token", desk.b),
            Value::Null,
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = desk
        .call(
            &desk.owner,
            "PATCH",
            &format!("/v1/members/{}", desk.ann.1),
            json!({ "status": "deactivated" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let entry = desk.audit_entry("member.status_changed").await;
    assert_eq!(
        entry["details"]["rotate_tokens"],
        json!([desk.b]),
        "{entry}"
    );
    let (advised, channels) = desk.rotation_advice(&desk.owner).await;
    let ann = json!([{ "member_id": desk.ann.1, "email": "ann@acme.test" }]);
    assert!(advised.contains(&ann), "{channels}");
    desk.relay.stop().await;
}
