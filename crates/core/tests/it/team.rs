//! Team events applied to a real cache file: every device converges on the same state.

use serde_json::{Value, json};
use zentro_core::Cache;
use zentro_core::actions::{
    self, ContactChanges, ContactRef, ConversationAction, ConversationStatus, TeamError, TeamEvent,
};
use zentro_core::apply::{RelayEvent, apply_batch};

fn inbound(seq: i64, customer: &str, id: &str, ts: i64) -> RelayEvent {
    RelayEvent::webhook(
        seq,
        json!({ "object": "whatsapp_business_account", "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "phone_number_id": "P1" },
            "contacts": [{ "profile": { "name": "Ana Souza" }, "user_id": customer }],
            "messages": [{ "from_user_id": customer, "id": id, "timestamp": ts.to_string(), "type": "text", "text": { "body": "hello" } }] }}]}]}),
    )
}

fn team_event(seq: i64, author: &str, event: &TeamEvent) -> RelayEvent {
    RelayEvent {
        seq,
        kind: event.kind().into(),
        at: 1_760_000_500_000 + seq,
        author: Some(author.into()),
        payload: serde_json::to_value(event).unwrap(),
    }
}

fn ana() -> ContactRef {
    ContactRef {
        channel_kind: "whatsapp".into(),
        channel_external_id: "P1".into(),
        customer_id: "BR.1".into(),
    }
}

async fn only_conversation(cache: &Cache) -> i64 {
    sqlx::query_scalar("SELECT id FROM conversations")
        .fetch_one(cache.pool())
        .await
        .unwrap()
}

/// The state of conversation `id`, which must be in `cache`.
async fn state_of(cache: &Cache, id: i64) -> actions::ConversationState {
    actions::conversation_state(cache, id)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn assignment_status_notes_labels_and_contact_edits_apply_once_in_log_order() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    let mut events = vec![inbound(1, "BR.1", "wamid.1", 1_760_000_000)];
    let team_events = [
        TeamEvent::Assigned {
            conversation: ana(),
            assignee: Some("m_bo".into()),
        },
        TeamEvent::StatusChanged {
            conversation: ana(),
            status: ConversationStatus::Pending,
            snoozed_until: None,
        },
        TeamEvent::NoteAdded {
            conversation: ana(),
            note_id: "n1".into(),
            body: "VIP, @bo please call".into(),
            mentions: vec!["m_bo".into()],
            at: 5,
        },
        TeamEvent::Labeled {
            conversation: ana(),
            label: "refund".into(),
            added: true,
        },
        TeamEvent::Labeled {
            conversation: ana(),
            label: "vip".into(),
            added: true,
        },
        TeamEvent::Labeled {
            conversation: ana(),
            label: "refund".into(),
            added: false,
        },
        TeamEvent::ContactEdited {
            contact: ana(),
            changes: ContactChanges {
                display_name: Some("Ana S. Souza".into()),
                email: Some(Some("ana@example.com".into())),
                attributes: [
                    ("plan".to_string(), Some("gold".to_string())),
                    ("city".to_string(), Some("Recife".to_string())),
                ]
                .into(),
                restricted: Some(true),
            },
        },
        TeamEvent::ContactEdited {
            contact: ana(),
            changes: ContactChanges {
                attributes: [("city".to_string(), None)].into(),
                ..ContactChanges::default()
            },
        },
    ];
    for (i, e) in team_events.iter().enumerate() {
        events.push(team_event(2 + i as i64, "m_ana", e));
    }
    let report = apply_batch(&cache, "ws", &events).await.unwrap();
    assert_eq!(report.applied, events.len());
    let again = apply_batch(&cache, "ws", &events).await.unwrap();
    assert_eq!(again.skipped, events.len());

    let id = only_conversation(&cache).await;
    let state = state_of(&cache, id).await;
    assert_eq!(state.assignee.as_deref(), Some("m_bo"));
    assert_eq!(state.status, "pending");
    assert_eq!(state.labels, vec!["vip".to_string()]);
    let notes = actions::notes(&cache, id).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        notes[0].author_member_id, "m_ana",
        "the relay's author, not the payload"
    );
    assert_eq!(notes[0].mentions, vec!["m_bo".to_string()]);

    let restricted: bool = sqlx::query_scalar("SELECT restricted FROM contacts")
        .fetch_one(cache.pool())
        .await
        .unwrap();
    assert!(
        restricted,
        "an admin restricted the contact; a later edit without it keeps it"
    );
    let (name, email, attributes): (String, Option<String>, String) =
        sqlx::query_as("SELECT display_name, email, attributes FROM contacts")
            .fetch_one(cache.pool())
            .await
            .unwrap();
    assert_eq!(name, "Ana S. Souza");
    assert_eq!(email.as_deref(), Some("ana@example.com"));
    assert_eq!(
        serde_json::from_str::<Value>(&attributes).unwrap(),
        json!({ "plan": "gold" })
    );

    // The edited name and the email are searchable; the old spelling is gone.
    let hits = zentro_core::inbox::search(&cache, "ana@exam", 10)
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);

    // The timeline: assignment, status, labels (notes are their own list), in order, once.
    let activity: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, actor_member_id FROM conversation_activity ORDER BY seq")
            .fetch_all(cache.pool())
            .await
            .unwrap();
    let kinds: Vec<&str> = activity.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        ["assigned", "status", "labeled", "labeled", "unlabeled"]
    );
    assert!(activity.iter().all(|(_, actor)| actor == "m_ana"));
}

#[tokio::test]
async fn a_customer_writing_again_reopens_a_resolved_or_snoozed_conversation() {
    let resolve = TeamEvent::StatusChanged {
        conversation: ana(),
        status: ConversationStatus::Resolved,
        snoozed_until: None,
    };
    let snooze = TeamEvent::StatusChanged {
        conversation: ana(),
        status: ConversationStatus::Snoozed,
        snoozed_until: Some(1_900_000_000_000),
    };
    let (_dir, cache) = crate::support::cache_with(&[
        inbound(1, "BR.1", "wamid.1", 1_760_000_000),
        team_event(2, "m_ana", &resolve),
    ])
    .await;
    let id = only_conversation(&cache).await;
    assert_eq!(state_of(&cache, id).await.status, "resolved");

    // A redelivery of the old message does not reopen it…
    crate::support::apply(&cache, &[inbound(3, "BR.1", "wamid.1", 1_760_000_000)]).await;
    assert_eq!(state_of(&cache, id).await.status, "resolved");

    // …a new message does, in the same conversation.
    crate::support::apply(
        &cache,
        &[
            inbound(4, "BR.1", "wamid.2", 1_760_000_100),
            team_event(5, "m_ana", &snooze),
        ],
    )
    .await;
    let state = state_of(&cache, id).await;
    assert_eq!(
        (state.status.as_str(), state.snoozed_until),
        ("snoozed", Some(1_900_000_000_000))
    );
    // Not yet time: still snoozed; past its time: open again, on every device alike.
    assert_eq!(
        actions::wake_snoozed(&cache, 1_899_999_999_999)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        actions::wake_snoozed(&cache, 1_900_000_000_000)
            .await
            .unwrap(),
        1
    );
    assert_eq!(state_of(&cache, id).await.status, "open");
    crate::support::apply(&cache, &[team_event(6, "m_ana", &snooze)]).await;
    crate::support::apply(&cache, &[inbound(7, "BR.1", "wamid.3", 1_760_000_200)]).await;
    let state = state_of(&cache, id).await;
    assert_eq!((state.status.as_str(), state.snoozed_until), ("open", None));
    assert_eq!(
        only_conversation(&cache).await,
        id,
        "one conversation per contact"
    );
}

#[tokio::test]
async fn events_about_unknown_conversations_or_of_unknown_shape_are_skipped_without_stopping_sync()
{
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    let stranger = ContactRef {
        customer_id: "nobody".into(),
        ..ana()
    };
    let mut forged = team_event(
        2,
        "m_ana",
        &TeamEvent::Assigned {
            conversation: ana(),
            assignee: None,
        },
    );
    forged.kind = "team.note_added".into(); // kind and payload disagree
    let events = [
        team_event(
            1,
            "m_ana",
            &TeamEvent::Assigned {
                conversation: stranger,
                assignee: Some("m_bo".into()),
            },
        ),
        forged,
        RelayEvent {
            seq: 3,
            kind: "team.from_the_future".into(),
            at: 0,
            author: Some("m_ana".into()),
            payload: json!({ "type": "x" }),
        },
    ];
    let report = apply_batch(&cache, "ws", &events).await.unwrap();
    assert_eq!((report.applied, report.ignored, report.cursor), (0, 3, 3));
}

#[tokio::test]
async fn invalid_changes_are_refused_before_they_are_queued() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    let bad = [
        TeamEvent::NoteAdded {
            conversation: ana(),
            note_id: "n".into(),
            body: "  ".into(),
            mentions: vec![],
            at: 0,
        },
        TeamEvent::Labeled {
            conversation: ana(),
            label: "".into(),
            added: true,
        },
        TeamEvent::StatusChanged {
            conversation: ana(),
            status: ConversationStatus::Snoozed,
            snoozed_until: None,
        },
        TeamEvent::ContactEdited {
            contact: ana(),
            changes: ContactChanges {
                display_name: Some(" ".into()),
                ..ContactChanges::default()
            },
        },
    ];
    for event in &bad {
        let error = actions::queue(&cache, event, 0).await.unwrap_err();
        assert!(matches!(error, TeamError::Invalid(_)), "{event:?}: {error}");
    }
    assert_eq!(actions::waiting(&cache).await.unwrap(), 0);
    let key = actions::queue(
        &cache,
        &TeamEvent::Assigned {
            conversation: ana(),
            assignee: None,
        },
        0,
    )
    .await
    .unwrap();
    assert!(!key.is_empty());
    assert_eq!(actions::waiting(&cache).await.unwrap(), 1);
}

#[tokio::test]
async fn canned_replies_are_saved_replaced_and_deleted_for_the_whole_team() {
    let save = |shortcut: &str, body: &str| TeamEvent::CannedReplySaved {
        shortcut: shortcut.into(),
        body: body.into(),
    };
    let (_dir, cache) = crate::support::cache_with(&[
        team_event(1, "m_ana", &save("refund", "Refunds take 5 days.")),
        team_event(2, "m_ana", &save("hours", "We open at 9.")),
        team_event(3, "m_bo", &save("REFUND", "Refunds take 3-5 working days.")),
        team_event(
            4,
            "m_bo",
            &TeamEvent::CannedReplyDeleted {
                shortcut: "hours".into(),
            },
        ),
    ])
    .await;
    let canned = actions::canned_replies(&cache).await.unwrap();
    assert_eq!(canned.len(), 1, "{canned:?}");
    assert_eq!(
        canned[0].body, "Refunds take 3-5 working days.",
        "shortcuts ignore case"
    );

    for bad in [save("", "x"), save("two words", "x"), save("ok", "  ")] {
        assert!(
            matches!(
                actions::queue(&cache, &bad, 0).await,
                Err(TeamError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
}

fn instagram_text(seq: i64, customer: &str, mid: &str) -> RelayEvent {
    RelayEvent::webhook(
        seq,
        json!({ "object": "instagram", "entry": [{ "id": "IG1", "time": 1760000000000i64, "messaging": [{
            "sender": { "id": customer }, "recipient": { "id": "IG1" }, "timestamp": 1760000000000i64 + seq,
            "message": { "mid": mid, "text": "hi from instagram" } }] }] }),
    )
}

fn contact(kind: &str, channel: &str, customer: &str) -> ContactRef {
    ContactRef {
        channel_kind: kind.into(),
        channel_external_id: channel.into(),
        customer_id: customer.into(),
    }
}

async fn conversation_of(cache: &Cache, customer: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT c.id FROM conversations c JOIN contacts k ON k.id = c.contact_id WHERE k.external_id = ?",
    )
    .bind(customer)
    .fetch_one(cache.pool())
    .await
    .unwrap()
}

async fn others(cache: &Cache, customer: &str) -> Vec<String> {
    let id = conversation_of(cache, customer).await;
    zentro_core::inbox::identities(cache, id)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.customer_id)
        .collect()
}

#[tokio::test]
async fn linked_identities_make_one_customer_on_every_device_and_unlink_cleanly() {
    let ana_wa = contact("whatsapp", "P1", "BR.1");
    let ana_ig = contact("instagram", "IG1", "IGSID1");
    let bo_wa = contact("whatsapp", "P1", "BR.2");
    let link = |a: &ContactRef, b: &ContactRef| TeamEvent::ContactsLinked {
        contact: a.clone(),
        with: b.clone(),
    };
    let mut events = vec![
        inbound(1, "BR.1", "wamid.1", 1_760_000_000),
        instagram_text(2, "IGSID1", "ig_m1"),
        inbound(3, "BR.2", "wamid.2", 1_760_000_100),
    ];
    let team_events = [
        link(&ana_wa, &ana_ig),
        // Linking into a person joins it: Bo's WhatsApp turns out to be Ana's second number.
        link(&bo_wa, &ana_ig),
        TeamEvent::ContactUnlinked {
            contact: bo_wa.clone(),
        },
        // A contact this device does not have is skipped, not an error.
        link(&ana_wa, &contact("messenger", "PAGE9", "PSID9")),
    ];
    for (i, e) in team_events.iter().enumerate() {
        events.push(team_event(4 + i as i64, "m_ana", e));
    }

    // Two devices apply the same log (one in two batches) and agree.
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = Cache::open_in(one.path()).await.unwrap();
    let second = Cache::open_in(two.path()).await.unwrap();
    let report = apply_batch(&first, "ws", &events).await.unwrap();
    assert_eq!(report.applied, events.len() - 1, "{report:?}");
    apply_batch(&second, "ws", &events[..5]).await.unwrap();
    // Before the unlink, all three were one person.
    let mut before = others(&second, "BR.2").await;
    before.sort();
    assert_eq!(before, vec!["BR.1".to_string(), "IGSID1".to_string()]);
    apply_batch(&second, "ws", &events[5..]).await.unwrap();

    for cache in [&first, &second] {
        assert_eq!(others(cache, "BR.1").await, vec!["IGSID1".to_string()]);
        assert_eq!(others(cache, "IGSID1").await, vec!["BR.1".to_string()]);
        assert!(others(cache, "BR.2").await.is_empty());
        let ig = zentro_core::inbox::identities(cache, conversation_of(cache, "BR.1").await)
            .await
            .unwrap();
        assert_eq!(ig[0].channel_kind, "instagram");
        assert_eq!(
            ig[0].conversation_id,
            conversation_of(cache, "IGSID1").await
        );
    }

    // Unlinking one of two leaves two contacts on their own.
    let unlink = team_event(
        20,
        "m_ana",
        &TeamEvent::ContactUnlinked {
            contact: ana_ig.clone(),
        },
    );
    apply_batch(&first, "ws", &[unlink]).await.unwrap();
    assert!(others(&first, "BR.1").await.is_empty());
    let keys: Vec<Option<String>> = sqlx::query_scalar("SELECT person_key FROM contacts")
        .fetch_all(first.pool())
        .await
        .unwrap();
    assert!(keys.iter().all(Option::is_none), "{keys:?}");

    // Candidates to link: by name, phone, username or id, never the contact itself.
    let ana = conversation_of(&second, "BR.1").await;
    let found = zentro_core::inbox::link_candidates(&second, ana, "BR.", 10)
        .await
        .unwrap();
    assert_eq!(
        found
            .iter()
            .map(|i| i.customer_id.as_str())
            .collect::<Vec<_>>(),
        vec!["BR.2"],
        "not Ana herself, not her linked Instagram (it does not match), Bo matches"
    );
    let linked_already = zentro_core::inbox::link_candidates(&second, ana, "IGSID", 10)
        .await
        .unwrap();
    assert!(linked_already.is_empty(), "already the same person");
    assert!(
        zentro_core::inbox::link_candidates(&second, ana, "%", 10)
            .await
            .unwrap()
            .is_empty(),
        "LIKE wildcards are taken literally"
    );

    // Linking a contact to itself is refused before it is queued.
    assert!(link(&ana_wa, &ana_wa).validate().is_err());
}

#[tokio::test]
async fn conversation_actions_become_team_events_named_as_every_device_knows_them() {
    let arrivals = [
        inbound(1, "BR.1", "wamid.1", 1_760_000_000),
        inbound(2, "BR.2", "wamid.2", 1_760_000_001),
    ];
    let (_dir, cache) = crate::support::cache_with(&arrivals).await;
    let (ana_id, other_id) = (
        conversation_of(&cache, "BR.1").await,
        conversation_of(&cache, "BR.2").await,
    );
    let now = 1_900_000_000_000;
    let event = |action| actions::event(&cache, ana_id, action, now);

    let snoozed = event(ConversationAction::SetStatus {
        status: ConversationStatus::Snoozed,
        snooze_hours: Some(2),
    })
    .await
    .unwrap();
    assert_eq!(
        snoozed,
        TeamEvent::StatusChanged {
            conversation: ana(),
            status: ConversationStatus::Snoozed,
            snoozed_until: Some(now + 2 * 3_600_000),
        }
    );

    let note = |body: &str| ConversationAction::AddNote {
        body: body.into(),
        mentions: vec!["m_bo".into()],
    };
    let (first, second) = (
        event(note("call her")).await.unwrap(),
        event(note("call her")).await.unwrap(),
    );
    let note_id = |e: &TeamEvent| match e {
        TeamEvent::NoteAdded { note_id, at, .. } => {
            assert_eq!(*at, now);
            note_id.clone()
        }
        other => panic!("not a note: {other:?}"),
    };
    assert!(note_id(&first).starts_with(&format!("note-{now}-")));
    assert_ne!(
        note_id(&first),
        note_id(&second),
        "two notes in the same ms differ"
    );

    let edited = |email: &str| ConversationAction::EditContact {
        display_name: None,
        email: Some(email.into()),
        restricted: None,
    };
    let email_of = |e: TeamEvent| match e {
        TeamEvent::ContactEdited { contact, changes } => {
            assert_eq!(contact, ana());
            changes.email
        }
        other => panic!("not an edit: {other:?}"),
    };
    assert_eq!(
        email_of(event(edited(" ana@example.com ")).await.unwrap()),
        Some(Some("ana@example.com".into()))
    );
    assert_eq!(email_of(event(edited("  ")).await.unwrap()), Some(None));

    let linked = event(ConversationAction::LinkContact {
        other_conversation_id: u32::try_from(other_id).unwrap(),
    })
    .await
    .unwrap();
    assert_eq!(
        linked,
        TeamEvent::ContactsLinked {
            contact: ana(),
            with: ContactRef {
                customer_id: "BR.2".into(),
                ..ana()
            },
        }
    );

    assert!(matches!(
        actions::event(&cache, 999, ConversationAction::UnlinkContact, now).await,
        Err(TeamError::NoConversation(999))
    ));
}
