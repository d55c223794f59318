//! Consent to marketing messages (issue 24) in a real cache file: records apply once in the
//! log's order with their history, only the relay records a customer's keyword, an erasure takes
//! them with the contact (P14) and the export carries them (P13).

use std::io::Read;

use serde_json::Value;
use zentro_core::Cache;
use zentro_core::actions::{ContactRef, TeamEvent};
use zentro_core::apply::RelayEvent;
use zentro_core::consent::{self, ConsentRecord};
use zentro_events::ConsentSource;

fn dee() -> ContactRef {
    ContactRef {
        channel_kind: "whatsapp".into(),
        channel_external_id: "P".into(),
        customer_id: "US.100".into(),
    }
}

fn recorded(seq: i64, author: &str, opted_in: bool, source: ConsentSource) -> RelayEvent {
    let event = TeamEvent::ConsentRecorded {
        contact: dee(),
        opted_in,
        source,
        at: 1_760_000_000_000 + seq,
        note: (source == ConsentSource::Agent).then(|| "asked by phone".to_string()),
    };
    RelayEvent {
        seq,
        kind: event.kind().into(),
        at: 1_760_000_000_000 + seq,
        author: Some(author.into()),
        payload: serde_json::to_value(&event).unwrap(),
    }
}

/// A cache where Dee wrote once (on channel `P`), and the id of Dee's conversation.
async fn dee_wrote() -> (tempfile::TempDir, Cache, i64) {
    let (dir, cache) = crate::support::cache_with(&[crate::support::wa_text(
        1,
        "US.100",
        "Dee",
        "wamid.1",
        "hello",
        1_760_000_000,
    )])
    .await;
    let conversation = sqlx::query_scalar("SELECT id FROM conversations")
        .fetch_one(cache.pool())
        .await
        .unwrap();
    (dir, cache, conversation)
}

fn summary(history: &[ConsentRecord]) -> Vec<(bool, &str, Option<&str>)> {
    history
        .iter()
        .map(|r| (r.opted_in, r.source.as_str(), r.recorded_by.as_deref()))
        .collect()
}

#[tokio::test]
async fn the_latest_record_in_the_logs_order_is_the_consent_and_the_rest_its_history() {
    let (_dir, cache, conversation) = dee_wrote().await;
    let before = consent::consent_of_conversation(&cache, conversation)
        .await
        .unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].opted_in, None, "never recorded: no consent");

    let events = [
        recorded(2, "m_admin", true, ConsentSource::Import),
        recorded(3, "automation:consent", false, ConsentSource::Keyword),
        recorded(4, "m_ana", true, ConsentSource::Agent),
    ];
    crate::support::apply(&cache, &events).await;
    // Applying the same events again (a replay after a crash) adds nothing.
    crate::support::apply(&cache, &events).await;
    let now = consent::consent_of_conversation(&cache, conversation)
        .await
        .unwrap();
    assert_eq!(now[0].opted_in, Some(true));
    assert_eq!(
        summary(&now[0].history),
        vec![
            (true, "agent", Some("m_ana")),
            (false, "keyword", Some("automation:consent")),
            (true, "import", Some("m_admin")),
        ]
    );
    assert_eq!(now[0].history[0].note.as_deref(), Some("asked by phone"));
    assert_eq!(now[0].history[1].at, 1_760_000_000_003);

    // A later STOP wins over the agent's opt-in.
    crate::support::apply(
        &cache,
        &[recorded(
            5,
            "automation:consent",
            false,
            ConsentSource::Keyword,
        )],
    )
    .await;
    let now = consent::consent_of_conversation(&cache, conversation)
        .await
        .unwrap();
    assert_eq!(now[0].opted_in, Some(false));
    assert_eq!(now[0].history.len(), 4);
    // The same, by contact (the CLI's `zentro consent show`).
    let contact = crate::export_contact_id(&cache, "US.100").await;
    let by_contact = consent::consent_of_contact(&cache, contact).await.unwrap();
    assert_eq!(by_contact.as_ref(), Some(&now[0]));
    assert_eq!(
        consent::consent_of_contact(&cache, 9_999).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_keyword_record_counts_only_when_the_relay_wrote_it() {
    let (_dir, cache, conversation) = dee_wrote().await;
    crate::support::apply(
        &cache,
        &[
            recorded(2, "m_ana", true, ConsentSource::Agent),
            // A member claiming the customer wrote STOP (the relay refuses this; a desk ignores
            // it even if it got into the log).
            recorded(3, "m_mallory", false, ConsentSource::Keyword),
        ],
    )
    .await;
    let now = consent::consent_of_conversation(&cache, conversation)
        .await
        .unwrap();
    assert_eq!(now[0].opted_in, Some(true));
    assert_eq!(
        summary(&now[0].history),
        vec![(true, "agent", Some("m_ana"))]
    );
}

#[tokio::test]
async fn a_member_records_what_the_customer_told_them_never_a_keyword() {
    let (_dir, cache, _) = dee_wrote().await;
    let contact = crate::export_contact_id(&cache, "US.100").await;
    let event = consent::record_event(
        &cache,
        contact,
        false,
        ConsentSource::Agent,
        Some("  said so on the phone ".into()),
        7,
    )
    .await
    .unwrap();
    assert_eq!(
        event,
        TeamEvent::ConsentRecorded {
            contact: dee(),
            opted_in: false,
            source: ConsentSource::Agent,
            at: 7,
            note: Some("said so on the phone".into()),
        }
    );
    let keyword =
        consent::record_event(&cache, contact, false, ConsentSource::Keyword, None, 7).await;
    assert!(
        keyword.is_err(),
        "a member never records the customer's keyword"
    );
    let nobody = consent::record_event(&cache, 9_999, true, ConsentSource::Agent, None, 7).await;
    assert!(nobody.is_err());
}

#[tokio::test]
async fn an_erasure_takes_the_customers_consent_records_with_them() {
    let (_dir, cache, _) = dee_wrote().await;
    crate::support::apply(
        &cache,
        &[
            recorded(2, "m_ana", true, ConsentSource::Agent),
            recorded(3, "automation:consent", false, ConsentSource::Keyword),
        ],
    )
    .await;
    let contact = crate::export_contact_id(&cache, "US.100").await;
    let rows = |cache: &Cache| {
        let pool = cache.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM consent_records")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(rows(&cache).await, 2);
    zentro_core::rights::erase_locally(&cache, contact)
        .await
        .unwrap();
    assert_eq!(
        rows(&cache).await,
        0,
        "no consent record outlives its contact"
    );
}

#[tokio::test]
async fn the_export_carries_the_consent_records_in_json_valid_against_the_schema_and_csv() {
    let (dir, cache, _) = dee_wrote().await;
    crate::support::apply(
        &cache,
        &[
            recorded(2, "m_ana", true, ConsentSource::Agent),
            recorded(3, "automation:consent", false, ConsentSource::Keyword),
        ],
    )
    .await;
    let contact = crate::export_contact_id(&cache, "US.100").await;
    let out = dir.path().join("dee.zip");
    zentro_core::export::export(
        &cache,
        zentro_core::export::Scope::Contact(contact),
        &out,
        1_763_800_000_000,
        &mut |_| {},
    )
    .await
    .unwrap();
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let mut json = String::new();
    archive
        .by_name("export.json")
        .unwrap()
        .read_to_string(&mut json)
        .unwrap();
    let json: Value = serde_json::from_str(&json).unwrap();
    let schema = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/export-schema-v1.json"),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&serde_json::from_str(&schema).unwrap()).unwrap();
    assert!(validator.is_valid(&json), "valid against the schema");
    let records = json["contact"]["consent"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["opted_in"], false);
    assert_eq!(records[0]["source"], "keyword");
    assert_eq!(records[1]["recorded_by"], "m_ana");
    assert_eq!(records[1]["note"], "asked by phone");
    let mut csv = String::new();
    archive
        .by_name("consent.csv")
        .unwrap()
        .read_to_string(&mut csv)
        .unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "consent,source,at,recorded_by,note");
    assert!(lines[1].starts_with("out,keyword,"), "{csv}");
    assert!(lines[2].starts_with("in,agent,") && lines[2].ends_with(",m_ana,asked by phone"));
}
