//! Promises P2 and P8: every send and every restriction of a customer is in the audit log, in the
//! name of the member whose device published it, with the conversation and Meta's id — never the
//! text.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::TestRelay;

const TEXT: &str = "Your refund of 120 EUR was issued to card 4242";

fn sent(author: &str) -> Value {
    json!({
        "client_id": "cm_0001", "external_id": "wamid.OUT1", "channel_kind": "whatsapp",
        "channel_external_id": "P1", "customer_id": "US.1", "body": TEXT, "reply_to": null,
        "sent_at": 1_750_000_000_000i64, "author_member_id": author,
    })
}

fn restriction(restricted: bool) -> Value {
    json!({
        "type": "contact_edited",
        "contact": { "channel_kind": "whatsapp", "channel_external_id": "P1", "customer_id": "US.1" },
        "changes": { "restricted": restricted },
    })
}

async fn publish(relay: &TestRelay, token: &str, kind: &str, payload: Value, key: &str) {
    let response = relay
        .post(
            Some(token),
            "/v1/events",
            json!({ "kind": kind, "payload": payload, "idempotency_key": key }),
        )
        .await;
    assert!(
        response.status.is_success(),
        "{kind}: {:?}",
        response.json()
    );
}

async fn audit(relay: &TestRelay, owner: &str) -> Vec<Value> {
    let log = relay.get(Some(owner), "/v1/audit").await;
    assert_eq!(log.status, StatusCode::OK);
    log.json()["entries"].as_array().unwrap().clone()
}

#[tokio::test]
async fn every_send_and_restriction_is_audited_with_member_conversation_and_meta_id_never_text() {
    let (relay, owner) = TestRelay::with_owner("P1").await;
    let agent = relay.join(&owner, "agent@acme.test", "agent").await;
    let agent_id = relay.member_id(&owner, "agent@acme.test").await;
    let owner_id = relay.member_id(&owner, "owner@acme.test").await;

    // The agent's device sends a reply, claiming in the payload to be the owner; then retries it.
    publish(&relay, &agent, "message.sent", sent(&owner_id), "cm_0001").await;
    publish(&relay, &agent, "message.sent", sent(&owner_id), "cm_0001").await;
    // The owner restricts the customer, then lifts it.
    publish(
        &relay,
        &owner,
        "team.contact_edited",
        restriction(true),
        "r1",
    )
    .await;
    publish(
        &relay,
        &owner,
        "team.contact_edited",
        restriction(false),
        "r2",
    )
    .await;
    // Edits that are not restrictions are not audited.
    publish(
        &relay,
        &agent,
        "team.contact_edited",
        json!({ "type": "contact_edited",
                "contact": { "channel_kind": "whatsapp", "channel_external_id": "P1", "customer_id": "US.1" },
                "changes": { "display_name": "Ana S." } }),
        "e1",
    )
    .await;

    let entries = audit(&relay, &owner).await;
    let of = |action: &str| -> Vec<&Value> {
        entries.iter().filter(|e| e["action"] == action).collect()
    };
    let sends = of("message.sent");
    assert_eq!(
        sends.len(),
        1,
        "one entry per send, retries included: {entries:#?}"
    );
    let send = sends[0];
    assert_eq!(
        send["actor_id"],
        agent_id.as_str(),
        "the caller, not the payload's author"
    );
    assert_eq!(send["actor_email"], "agent@acme.test");
    assert_eq!(send["device"], "agent laptop");
    assert_eq!(send["subject"], "US.1");
    assert_eq!(send["details"]["external_id"], "wamid.OUT1");
    assert_eq!(send["details"]["channel_kind"], "whatsapp");
    assert_eq!(send["details"]["channel_external_id"], "P1");
    assert_eq!(send["details"]["customer_id"], "US.1");

    let restricted = of("contact.restricted");
    assert_eq!(restricted.len(), 1, "{entries:#?}");
    assert_eq!(restricted[0]["actor_id"], owner_id.as_str());
    assert_eq!(restricted[0]["subject"], "US.1");
    assert_eq!(restricted[0]["details"]["channel_external_id"], "P1");
    let lifted = of("contact.unrestricted");
    assert_eq!(lifted.len(), 1, "{entries:#?}");
    assert_eq!(lifted[0]["actor_id"], owner_id.as_str());
    assert!(
        entries
            .iter()
            .all(|e| !e["action"].as_str().unwrap().starts_with("team.")),
        "{entries:#?}"
    );

    let everything = serde_json::to_string(&entries).unwrap();
    assert!(
        !everything.contains("refund"),
        "message text in the audit log: {everything}"
    );
    assert!(!everything.contains("4242"), "{everything}");
}
