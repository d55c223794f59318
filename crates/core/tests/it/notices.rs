//! Which arrivals become OS notifications.

use serde_json::json;
use zentro_core::Cache;
use zentro_core::actions::{ContactRef, TeamEvent};
use zentro_core::apply::RelayEvent;
use zentro_core::members::Member;
use zentro_core::notices::{self, NoticeKind};

fn inbound(seq: i64, customer: &str, name: &str, id: &str) -> RelayEvent {
    RelayEvent::webhook(
        seq,
        json!({ "object": "whatsapp_business_account", "entry": [{ "id": "W", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "phone_number_id": "P" },
            "contacts": [{ "profile": { "name": name }, "user_id": customer }],
            "messages": [{ "from_user_id": customer, "id": id, "timestamp": "1760000000", "type": "text", "text": { "body": format!("hello from {name}") } }] }}]}]}),
    )
}

fn team(seq: i64, author: &str, event: &TeamEvent) -> RelayEvent {
    RelayEvent {
        seq,
        kind: event.kind().into(),
        at: 0,
        author: Some(author.into()),
        payload: serde_json::to_value(event).unwrap(),
    }
}

fn reference(customer: &str) -> ContactRef {
    ContactRef {
        channel_kind: "whatsapp".into(),
        channel_external_id: "P".into(),
        customer_id: customer.into(),
    }
}

#[tokio::test]
async fn new_conversations_my_conversations_and_mentions_notify_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    let me = Member {
        id: "m_bo".into(),
        email: "bo@acme.test".into(),
        display_name: "Bo Lind".into(),
        role: zentro_core::members::Role::Agent,
    };
    crate::support::apply(
        &cache,
        &[
            inbound(1, "US.1", "Ana", "w1"),
            inbound(2, "US.2", "Chen", "w2"),
        ],
    )
    .await;
    let start = notices::cursor_now(&cache).await.unwrap();

    // Ana's conversation is mine, Chen's is someone else's; Dee is new; Ana's is open on screen.
    let ana = reference("US.1");
    crate::support::apply(
        &cache,
        &[
            team(
                3,
                "m_lead",
                &TeamEvent::Assigned {
                    conversation: ana.clone(),
                    assignee: Some("m_bo".into()),
                },
            ),
            team(
                4,
                "m_lead",
                &TeamEvent::Assigned {
                    conversation: reference("US.2"),
                    assignee: Some("m_eve".into()),
                },
            ),
            inbound(5, "US.1", "Ana", "w3"),
            inbound(6, "US.2", "Chen", "w4"),
            inbound(7, "US.3", "Dee", "w5"),
            team(
                8,
                "m_lead",
                &TeamEvent::NoteAdded {
                    conversation: reference("US.2"),
                    note_id: "n1".into(),
                    body: "@bo can you call?".into(),
                    mentions: vec!["bo".into()],
                    at: 0,
                },
            ),
            team(
                9,
                "m_bo",
                &TeamEvent::NoteAdded {
                    conversation: reference("US.2"),
                    note_id: "n2".into(),
                    body: "note to @bo self".into(),
                    mentions: vec!["bo".into()],
                    at: 0,
                },
            ),
        ],
    )
    .await;
    let (found, next) = notices::since(&cache, start, &me, None).await.unwrap();
    let kinds: Vec<(NoticeKind, String)> =
        found.iter().map(|n| (n.kind, n.title.clone())).collect();
    assert_eq!(
        kinds,
        [
            (NoticeKind::Message, "Ana".to_string()),
            (NoticeKind::NewConversation, "Dee".to_string()),
            (
                NoticeKind::Mention,
                "You were mentioned in a note".to_string()
            ),
        ]
    );
    assert_eq!(found[0].body, "hello from Ana");

    // Nothing twice; and not for the conversation being read.
    let (again, _) = notices::since(&cache, next, &me, None).await.unwrap();
    assert!(again.is_empty());
    let ana_id = found[0].conversation_id;
    let (reading, _) = notices::since(&cache, start, &me, Some(ana_id))
        .await
        .unwrap();
    assert!(reading.iter().all(|n| n.conversation_id != ana_id));
    assert_eq!(notices::unread_total(&cache).await.unwrap(), 5);
}
