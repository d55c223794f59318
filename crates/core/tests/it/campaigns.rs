//! Broadcast campaigns as a desk learns them (issue 24, ADR 0021): the relay's
//! `workspace.campaign` event is kept (never a member's forgery), and a message a campaign sent
//! names the campaign in the thread, not a member.

use serde_json::{Value, json};
use zentro_core::apply::RelayEvent;
use zentro_core::inbox;

const T0_SECS: i64 = 1_780_000_000;

fn announced(seq: i64, author: &str, name: &str, state: &str) -> RelayEvent {
    RelayEvent {
        seq,
        kind: "workspace.campaign".into(),
        at: T0_SECS * 1000 + seq,
        author: Some(author.into()),
        payload: json!({ "change": "started", "campaign": {
            "id": "c_spring", "name": name, "channel_id": "ch_1",
            "template_name": "restock_notice", "template_language": "en_US",
            "category": "MARKETING", "audience": "label espresso", "state": state,
            "paused_reason": null, "per_second": 20, "send_at": null, "created_by": "m_admin",
            "created_at": T0_SECS * 1000, "started_at": null, "finished_at": null,
            "counts": { "queued": 0, "sending": 0, "sent": 0, "delivered": 0, "read": 0,
                        "replied": 0, "failed": 0, "skipped": 0, "cancelled": 0 },
        }}),
    }
}

fn sent(seq: i64, author: &str, id: &str) -> RelayEvent {
    let at = T0_SECS * 1000 + seq * 1000;
    RelayEvent {
        seq,
        kind: "message.sent".into(),
        at,
        author: Some(author.into()),
        payload: json!({ "client_id": format!("c-{id}"), "external_id": id,
            "channel_kind": "whatsapp", "channel_external_id": "P", "customer_id": "US.1",
            "body": "Hi Ana, espresso is back in stock.", "reply_to": null, "sent_at": at,
            "author_member_id": author }),
    }
}

/// Who the thread names as the author of each of the conversation's messages sent by someone.
async fn authors(cache: &zentro_core::cache::Cache) -> Vec<(Option<String>, Option<String>)> {
    let conversation = inbox::conversations(cache, None, 1).await.unwrap()[0].id;
    let mut thread = inbox::messages(cache, conversation, None, 10)
        .await
        .unwrap();
    thread.reverse();
    thread
        .into_iter()
        .filter(|m| m.direction == "outbound")
        .map(|m| (m.author_label, m.author_member_id))
        .collect()
}

fn label(name: &str) -> (Option<String>, Option<String>) {
    (Some(name.to_string()), None)
}

#[tokio::test]
async fn a_campaigns_message_names_the_campaign_the_relay_announced() {
    let (_dir, cache) = crate::support::cache_with(&[
        crate::support::wa_text(1, "US.1", "Ana", "wamid.1", "hello", T0_SECS),
        // Sent before this desk heard of the campaign: named as a campaign all the same.
        sent(2, "campaign:c_spring", "wamid.out1"),
    ])
    .await;
    assert_eq!(authors(&cache).await, [label("Campaign")]);

    crate::support::apply(
        &cache,
        &[
            announced(3, "relay", "Spring restock", "running"),
            // A member cannot rename it: only the relay writes workspace events.
            announced(4, "m_agent", "Free money", "running"),
            sent(5, "m_ana", "wamid.out2"),
        ],
    )
    .await;
    assert_eq!(
        authors(&cache).await,
        [
            label("Campaign (Spring restock)"),
            (None, Some("m_ana".to_string()))
        ]
    );
    let kept: (String, String) = sqlx::query_as("SELECT name, state FROM campaigns")
        .fetch_one(cache.pool())
        .await
        .unwrap();
    assert_eq!(kept, ("Spring restock".into(), "running".into()));

    // Its next state replaces what was kept.
    let mut paused = announced(6, "relay", "Spring restock", "paused");
    paused.payload["campaign"]["paused_reason"] = Value::from("Meta paused the template (132015)");
    crate::support::apply(&cache, &[paused]).await;
    let kept: (String, Option<String>) =
        sqlx::query_as("SELECT state, paused_reason FROM campaigns")
            .fetch_one(cache.pool())
            .await
            .unwrap();
    assert_eq!(
        kept,
        (
            "paused".into(),
            Some("Meta paused the template (132015)".into())
        )
    );
}

/// The relay announces `{change, campaign}` (crates/relay/src/campaigns/mod.rs): a desk keeps
/// the campaign inside it.
#[tokio::test]
async fn the_relays_announcement_with_its_change_is_kept() {
    let (_dir, cache) = crate::support::cache_with(&[crate::support::wa_text(
        1, "US.1", "Ana", "wamid.1", "hello", T0_SECS,
    )])
    .await;
    let mut event = announced(2, "relay", "Spring restock", "paused");
    event.payload["change"] = Value::from("paused");
    event.payload["campaign"]["paused_reason"] = Value::from("Paused by an admin");
    crate::support::apply(&cache, &[event, sent(3, "campaign:c_spring", "wamid.out1")]).await;
    let kept: (String, String, Option<String>) =
        sqlx::query_as("SELECT name, state, paused_reason FROM campaigns")
            .fetch_one(cache.pool())
            .await
            .unwrap();
    assert_eq!(
        kept,
        (
            "Spring restock".into(),
            "paused".into(),
            Some("Paused by an admin".into())
        )
    );
    assert_eq!(authors(&cache).await, [label("Campaign (Spring restock)")]);
}
