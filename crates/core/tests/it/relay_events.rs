//! What a desk takes from the log (issue 19, item 1): the relay's own kinds only when the relay
//! wrote them, retention periods only in range, a sent reply in its publisher's name, and
//! malformed payloads of any kind ignored without failing the batch.

use serde_json::{Value, json};
use zentro_core::Cache;
use zentro_core::apply::{RelayEvent, apply_batch};
use zentro_core::rights::{Retention, erasure_hash, retention};

const AT: i64 = 1_780_000_000_000;

fn event(seq: i64, kind: &str, author: Option<&str>, payload: Value) -> RelayEvent {
    RelayEvent {
        seq,
        kind: kind.into(),
        at: AT,
        author: author.map(str::to_string),
        payload,
    }
}

async fn contacts(cache: &Cache) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM contacts")
        .fetch_one(cache.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_erasure_counts_only_when_the_relay_wrote_it() {
    let (_dir, cache) = crate::support::cache_with(&[crate::support::wa_text(
        1,
        "US.1",
        "Ana",
        "wamid.1",
        "hello",
        AT / 1000,
    )])
    .await;
    let salt = "1".repeat(32);
    let notice = json!({ "salt": salt, "hash": erasure_hash(&salt, "whatsapp:P", "US.1") });

    let forged = apply_batch(
        &cache,
        "ws",
        &[event(2, "contact.erased", Some("m_agent"), notice.clone())],
    )
    .await
    .unwrap();
    assert_eq!((forged.applied, forged.ignored), (0, 1));
    assert_eq!(
        contacts(&cache).await,
        1,
        "a member's contact.erased erases nothing"
    );

    let real = apply_batch(
        &cache,
        "ws",
        &[event(3, "contact.erased", Some("relay"), notice)],
    )
    .await
    .unwrap();
    assert_eq!(real.applied, 1);
    assert_eq!(contacts(&cache).await, 0, "the relay's erasure erases");
}

#[tokio::test]
async fn retention_is_taken_from_the_relay_alone_and_never_below_a_day() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    let days = |conversation: Value, media: Value| json!({ "conversation_days": conversation, "media_days": media });
    let batch = [
        // A member's retention event: ignored, whatever it says.
        event(
            1,
            "workspace.retention",
            Some("m_admin"),
            days(json!(30), json!(30)),
        ),
        // Out of range, even from the relay: ignored.
        event(
            2,
            "workspace.retention",
            Some("relay"),
            days(json!(0), json!(null)),
        ),
        event(
            3,
            "workspace.retention",
            Some("relay"),
            days(json!(null), json!(0)),
        ),
        event(
            4,
            "workspace.retention",
            Some("relay"),
            days(json!(-5), json!(-5)),
        ),
        event(
            5,
            "workspace.retention",
            Some("relay"),
            days(json!(i64::MAX), json!(null)),
        ),
        event(
            6,
            "workspace.retention",
            Some("relay"),
            days(json!("0"), json!(null)),
        ),
    ];
    let report = apply_batch(&cache, "ws", &batch).await.unwrap();
    assert_eq!((report.applied, report.ignored, report.cursor), (0, 6, 6));
    assert_eq!(retention(&cache).await.unwrap(), Retention::default());
    // Nothing to enforce: no deletion on a forged or absurd period.
    zentro_core::rights::enforce_retention(&cache, AT)
        .await
        .unwrap();

    let report = apply_batch(
        &cache,
        "ws",
        &[event(
            7,
            "workspace.retention",
            Some("relay"),
            days(json!(1), json!(3650)),
        )],
    )
    .await
    .unwrap();
    assert_eq!(report.applied, 1);
    assert_eq!(
        retention(&cache).await.unwrap(),
        Retention {
            conversation_days: Some(1),
            media_days: Some(3650)
        }
    );
}

#[tokio::test]
async fn a_sent_reply_is_in_its_publishers_name_not_the_payloads() {
    let sent = json!({ "client_id": "cm_1", "external_id": "wamid.out1", "channel_kind": "whatsapp",
        "channel_external_id": "P", "customer_id": "US.1", "body": "Hello", "reply_to": null,
        "sent_at": AT, "author_member_id": "m_forged" });
    let (_dir, cache) = crate::support::cache_with(&[
        crate::support::wa_text(1, "US.1", "Ana", "wamid.1", "hello", AT / 1000),
        event(2, "message.sent", Some("m_real"), sent),
    ])
    .await;
    let author: Option<String> = sqlx::query_scalar(
        "SELECT author_member_id FROM messages WHERE external_id = 'wamid.out1'",
    )
    .fetch_one(cache.pool())
    .await
    .unwrap();
    assert_eq!(author.as_deref(), Some("m_real"));
}

#[tokio::test]
async fn malformed_payloads_of_every_kind_are_ignored_without_failing() {
    // Ana's conversation, for the events that name it.
    let (_dir, cache) = crate::support::cache_with(&[crate::support::wa_text(
        1,
        "US.1",
        "Ana",
        "wamid.1",
        "hello",
        AT / 1000,
    )])
    .await;
    // The relay's own kinds, every team event kind, and kinds no desk knows.
    let kinds: Vec<&str> = [
        "meta.webhook",
        "message.sent",
        "workspace.retention",
        "workspace.automation",
        "workspace.presence",
        "contact.erased",
        "channel.changed",
    ]
    .into_iter()
    .chain(zentro_core::actions::TeamEvent::KINDS)
    .chain(["team.unheard_of", "something.else"])
    .collect();
    let junk = [
        json!(null),
        json!(1),
        json!("x"),
        json!([]),
        json!({}),
        json!({ "type": "assigned" }),
        json!({ "type": "labeled", "conversation": { "channel_kind": "fax", "channel_external_id": "", "customer_id": "" }, "label": "", "added": true }),
        json!({ "type": "canned_reply_saved", "shortcut": "", "body": "" }),
        // A routing to an empty team id (and to a conversation nobody has).
        json!({ "type": "routed", "conversation": { "channel_kind": "whatsapp", "channel_external_id": "P", "customer_id": "US.1" }, "team": "" }),
        json!({ "type": "routed", "conversation": { "channel_kind": "whatsapp", "channel_external_id": "P", "customer_id": "US.404" }, "team": "billing" }),
        json!({ "version": "1", "setup": {}, "saved_by": "m_admin" }),
        json!({ "version": 1, "setup": { "teams": "all" }, "saved_by": "m_admin" }),
        json!({ "member_id": "m_ana", "presence": "asleep" }),
        json!({ "conversation_days": i64::MIN, "media_days": i64::MAX }),
        json!({ "salt": 1, "hash": [] }),
        json!({ "entry": [{ "changes": [{ "value": { "messages": [{ "id": null }] } }] }] }),
    ];
    let mut seq = 1;
    let mut batch = Vec::new();
    for kind in kinds {
        for payload in &junk {
            for author in [None, Some("relay"), Some("m_agent")] {
                seq += 1;
                batch.push(event(seq, kind, author, payload.clone()));
            }
        }
    }
    let report = apply_batch(&cache, "ws", &batch).await.unwrap();
    assert_eq!(report.cursor, seq, "the desk moves past all of it");
    assert_eq!(retention(&cache).await.unwrap(), Retention::default());
    let canned: i64 = sqlx::query_scalar("SELECT count(*) FROM canned_replies")
        .fetch_one(cache.pool())
        .await
        .unwrap();
    assert_eq!(canned, 0, "an empty canned reply is not stored");
    let teams: i64 =
        sqlx::query_scalar("SELECT count(*) FROM conversations WHERE team_id IS NOT NULL")
            .fetch_one(cache.pool())
            .await
            .unwrap();
    assert_eq!(teams, 0, "no conversation joined a team");
    assert_eq!(
        zentro_core::teams::cached_setup(&cache).await.unwrap(),
        None
    );
    assert!(
        zentro_core::teams::presence(&cache)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_period_below_a_day_kept_from_before_deletes_nothing() {
    let (_dir, cache) = crate::support::cache_with(&[crate::support::wa_text(
        1,
        "US.1",
        "Ana",
        "wamid.1",
        "hello",
        (AT - 3_600_000) / 1000,
    )])
    .await;
    // What a forged event left in a cache before desks checked periods.
    sqlx::query(
        "INSERT INTO retention (id, conversation_days, media_days, updated_at) VALUES (1, 0, 0, 0)",
    )
    .execute(cache.pool())
    .await
    .unwrap();
    let report = zentro_core::rights::enforce_retention(&cache, AT)
        .await
        .unwrap();
    assert_eq!(report, zentro_core::rights::RetentionReport::default());
    assert_eq!(contacts(&cache).await, 1, "the conversation stays");
}
