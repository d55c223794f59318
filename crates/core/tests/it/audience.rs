//! A campaign's audience chosen on a real cache file (issue 24, ADR 0021): labels any of / all
//! of (on the customer or any of their conversations), attributes, last activity in the
//! workspace's time zone, and the customers left out counted apart by reason — every expectation
//! counted by hand from the customers below.

use zentro_core::Cache;
use zentro_core::audience::{
    self, AttributeEquals, AudienceError, AudienceFilter, ExcludedCounts, LabelMatch, LastActivity,
};

const DAY: i64 = 86_400_000;
/// 2026-12-07T12:00:00Z.
const NOW: i64 = 1_796_644_800_000;

/// Eight customers on WhatsApp number P1 (and one on P2, one on Instagram):
///
/// | id | name | labels | consent (latest last) | restricted | last message | city |
/// | 1 | Ana | espresso (on her) | in | | 2 days ago | Lisbon |
/// | 2 | Bea | espresso (conversation) | in, out | | 1 day ago | |
/// | 3 | Caio | espresso, beans (conversation) | — | | 3 days ago | |
/// | 4 | Dee | beans | in | yes | 1 day ago | |
/// | 5 | Eve | — | in | | 2026-12-01 23:30 New York | Porto |
/// | 6 | Fay | espresso | out, in | | 40 days ago | Lisbon |
/// | 7 | Gil | espresso on an old resolved conversation | in | | 5 days ago (open one) | |
/// | 8 | Hal | beans | in, out | yes | 1 day ago | |
/// | 9 | Ivo (P2) | espresso | in | | 1 day ago | |
/// | 10 | Jo (Instagram) | espresso | in | | 1 day ago | |
async fn shop() -> (tempfile::TempDir, Cache) {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    let eve_last: i64 = 1_796_185_800_000; // 2026-12-01T23:30-05:00 = 2026-12-02T04:30Z
    let statements = vec![
        "INSERT INTO channels (id, kind, external_id, display_name, created_at) VALUES
            ('whatsapp:P1', 'whatsapp', 'P1', 'Shop', 0), ('whatsapp:P2', 'whatsapp', 'P2', 'Café', 0),
            ('instagram:I1', 'instagram', 'I1', 'Shop IG', 0)"
            .to_string(),
        "INSERT INTO contacts (id, channel_id, external_id, display_name, phone, attributes, restricted, created_at) VALUES
            (1, 'whatsapp:P1', '351910000001', 'Ana', '+351910000001', '{\"city\":\"Lisbon\"}', 0, 0),
            (2, 'whatsapp:P1', '351910000002', 'Bea', '+351910000002', '{}', 0, 0),
            (3, 'whatsapp:P1', '351910000003', 'Caio', '+351910000003', '{}', 0, 0),
            (4, 'whatsapp:P1', '351910000004', 'Dee', '+351910000004', '{}', 1, 0),
            (5, 'whatsapp:P1', '351910000005', 'Eve', '+351910000005', '{\"city\":\"Porto\"}', 0, 0),
            (6, 'whatsapp:P1', '351910000006', 'Fay', '+351910000006', '{\"city\":\"Lisbon\"}', 0, 0),
            (7, 'whatsapp:P1', '351910000007', '', '+351910000007', '{}', 0, 0),
            (8, 'whatsapp:P1', '351910000008', 'Hal', '+351910000008', '{}', 1, 0),
            (9, 'whatsapp:P2', '351910000009', 'Ivo', '+351910000009', '{}', 0, 0),
            (10, 'instagram:I1', 'IG10', 'Jo', NULL, '{}', 0, 0)"
            .to_string(),
        format!(
            "INSERT INTO conversations (id, contact_id, status, last_inbound_at, last_activity_at, created_at) VALUES
            (1, 1, 'open', {a}, {a}, 0), (2, 2, 'open', {b}, {b}, 0), (3, 3, 'open', {c}, {c}, 0),
            (4, 4, 'open', {b}, {b}, 0), (5, 5, 'open', {e}, {e}, 0), (6, 6, 'resolved', {f}, {f}, 0),
            (70, 7, 'resolved', {g_old}, {g_old}, 0), (71, 7, 'open', {g}, {g}, 0),
            (8, 8, 'open', {b}, {b}, 0), (9, 9, 'open', {b}, {b}, 0), (10, 10, 'open', {b}, {b}, 0)",
            a = NOW - 2 * DAY,
            b = NOW - DAY,
            c = NOW - 3 * DAY,
            e = eve_last,
            f = NOW - 40 * DAY,
            g_old = NOW - 100 * DAY,
            g = NOW - 5 * DAY,
        ),
        "INSERT INTO labels (id, name) VALUES (1, 'espresso'), (2, 'beans'), (3, 'decaf')".to_string(),
        "INSERT INTO contact_labels (contact_id, label_id) VALUES (1, 1), (6, 1)".to_string(),
        "INSERT INTO conversation_labels (conversation_id, label_id) VALUES
            (2, 1), (3, 1), (3, 2), (4, 2), (70, 1), (8, 2), (9, 1), (10, 1)"
            .to_string(),
        "INSERT INTO consent_records (seq, contact_id, opted_in, source, at) VALUES
            (10, 1, 1, 'form', 0), (11, 2, 1, 'form', 0), (12, 2, 0, 'keyword', 0),
            (13, 4, 1, 'form', 0), (14, 5, 1, 'import', 0), (15, 6, 0, 'keyword', 0),
            (16, 6, 1, 'agent', 0), (17, 7, 1, 'form', 0), (18, 8, 1, 'form', 0),
            (19, 8, 0, 'keyword', 0), (20, 9, 1, 'form', 0), (21, 10, 1, 'form', 0)"
            .to_string(),
    ];
    for sql in statements {
        sqlx::query(&sql).execute(cache.pool()).await.unwrap();
    }
    (dir, cache)
}

fn on_p1() -> AudienceFilter {
    AudienceFilter {
        channel_id: "whatsapp:P1".into(),
        labels: Vec::new(),
        label_match: LabelMatch::Any,
        attributes: Vec::new(),
        last_activity: None,
    }
}

fn labelled(labels: &[&str], label_match: LabelMatch) -> AudienceFilter {
    AudienceFilter {
        labels: labels.iter().map(|l| l.to_string()).collect(),
        label_match,
        ..on_p1()
    }
}

fn excluded(no_consent: u32, opted_out: u32, restricted: u32) -> ExcludedCounts {
    ExcludedCounts {
        no_consent,
        opted_out,
        restricted,
    }
}

/// (eligible, excluded, the sample's names) of `filter`.
async fn chosen(
    cache: &Cache,
    filter: &AudienceFilter,
    marketing: bool,
) -> (u32, ExcludedCounts, Vec<String>) {
    let audience = audience::evaluate(cache, filter, marketing, "America/New_York", NOW)
        .await
        .unwrap();
    assert_eq!(audience.sample.len() as u32, audience.eligible.min(20));
    let names = audience.sample.into_iter().map(|m| m.name).collect();
    (audience.eligible, audience.excluded, names)
}

#[tokio::test]
async fn marketing_goes_only_to_the_opted_in_and_utility_to_everyone_not_opted_out_or_restricted() {
    let (_dir, cache) = shop().await;
    // Everyone on P1: Ana, Eve, Fay, Gil opted in; Bea opted out; Caio never recorded; Dee and
    // Hal restricted (Hal opted out too: counted once, as restricted).
    assert_eq!(
        chosen(&cache, &on_p1(), true).await,
        (
            4,
            excluded(1, 1, 2),
            vec!["Ana".into(), "Eve".into(), "Fay".into(), String::new()]
        )
    );
    // A utility template also reaches Caio, never recorded.
    assert_eq!(
        chosen(&cache, &on_p1(), false).await,
        (
            5,
            excluded(0, 1, 2),
            vec![
                "Ana".into(),
                "Caio".into(),
                "Eve".into(),
                "Fay".into(),
                String::new()
            ]
        )
    );
}

#[tokio::test]
async fn labels_on_the_customer_or_any_of_their_conversations_any_of_or_all_of() {
    let (_dir, cache) = shop().await;
    // espresso: Ana (on her), Bea, Caio (conversation), Fay (on her), Gil (old conversation);
    // never Ivo (other number) or Jo (Instagram).
    let espresso = labelled(&["espresso"], LabelMatch::Any);
    assert_eq!(
        chosen(&cache, &espresso, true).await,
        (
            3,
            excluded(1, 1, 0),
            vec!["Ana".into(), "Fay".into(), String::new()]
        )
    );
    // espresso or beans adds Dee and Hal, both restricted; names are matched ignoring case.
    let either = labelled(&["Espresso", "BEANS"], LabelMatch::Any);
    assert_eq!(chosen(&cache, &either, true).await.1, excluded(1, 1, 2));
    assert_eq!(chosen(&cache, &either, false).await.0, 4);
    // espresso and beans: Caio only, never recorded.
    let both = labelled(&["espresso", "beans"], LabelMatch::All);
    assert_eq!(
        chosen(&cache, &both, true).await,
        (0, excluded(1, 0, 0), vec![])
    );
    assert_eq!(
        chosen(&cache, &both, false).await,
        (1, excluded(0, 0, 0), vec!["Caio".into()])
    );
    // A label no one has chooses no one; "all of" with one unknown label too; "any of" ignores it.
    let unknown = labelled(&["nope"], LabelMatch::Any);
    assert_eq!(chosen(&cache, &unknown, false).await.0, 0);
    let all_unknown = labelled(&["espresso", "nope"], LabelMatch::All);
    assert_eq!(chosen(&cache, &all_unknown, false).await.0, 0);
    let any_unknown = labelled(&["espresso", "nope"], LabelMatch::Any);
    assert_eq!(chosen(&cache, &any_unknown, true).await.0, 3);
    // decaf exists but is on no one.
    assert_eq!(
        chosen(&cache, &labelled(&["decaf"], LabelMatch::Any), false)
            .await
            .0,
        0
    );
}

#[tokio::test]
async fn attributes_and_last_activity_narrow_the_audience() {
    let (_dir, cache) = shop().await;
    let lisbon = AudienceFilter {
        attributes: vec![AttributeEquals {
            key: "city".into(),
            value: " Lisbon ".into(),
        }],
        ..on_p1()
    };
    assert_eq!(
        chosen(&cache, &lisbon, true).await,
        (2, excluded(0, 0, 0), vec!["Ana".into(), "Fay".into()])
    );
    // Within 30 days: Fay (40 days ago) is out; Gil counts by his latest (open) conversation.
    let recent_espresso = AudienceFilter {
        last_activity: Some(LastActivity::WithinDays { days: 30 }),
        ..labelled(&["espresso"], LabelMatch::Any)
    };
    assert_eq!(
        chosen(&cache, &recent_espresso, true).await,
        (2, excluded(1, 1, 0), vec!["Ana".into(), String::new()])
    );
    // Eve wrote at 23:30 on 1 December in New York (04:30 on the 2nd in UTC): the last week of
    // November up to the 1st holds her in New York's time, not in UTC's.
    let late_november = AudienceFilter {
        last_activity: Some(LastActivity::Between {
            since: "2026-11-25".into(),
            until: "2026-12-01".into(),
        }),
        ..on_p1()
    };
    assert_eq!(
        chosen(&cache, &late_november, true).await,
        (1, excluded(0, 0, 0), vec!["Eve".into()])
    );
    let in_utc = audience::evaluate(&cache, &late_november, true, "UTC", NOW)
        .await
        .unwrap();
    assert_eq!(in_utc.eligible, 0);
}

#[tokio::test]
async fn the_recipients_are_the_eligible_only_with_their_names() {
    let (_dir, cache) = shop().await;
    let espresso = labelled(&["espresso"], LabelMatch::Any);
    let recipients = audience::recipients(&cache, &espresso, false, "UTC", NOW)
        .await
        .unwrap();
    let handed: Vec<(&str, Option<&str>)> = recipients
        .iter()
        .map(|r| (r.customer_id.as_str(), r.name.as_deref()))
        .collect();
    // Bea opted out: never handed over. Gil has no name: none is given (the template's fallback).
    assert_eq!(
        handed,
        vec![
            ("351910000001", Some("Ana")),
            ("351910000003", Some("Caio")),
            ("351910000006", Some("Fay")),
            ("351910000007", None),
        ]
    );
    let audience = audience::evaluate(&cache, &espresso, false, "UTC", NOW)
        .await
        .unwrap();
    assert_eq!(
        audience.description,
        "WhatsApp Shop (whatsapp:P1); labels any of espresso"
    );
    assert_eq!(audience.sample[0].phone.as_deref(), Some("+351910000001"));
}

#[tokio::test]
async fn a_filter_that_cannot_be_used_says_why() {
    let (_dir, cache) = shop().await;
    let instagram = AudienceFilter {
        channel_id: "instagram:I1".into(),
        ..on_p1()
    };
    let unknown_channel = AudienceFilter {
        channel_id: "whatsapp:P9".into(),
        ..on_p1()
    };
    let backwards = AudienceFilter {
        last_activity: Some(LastActivity::Between {
            since: "2026-12-02".into(),
            until: "2026-12-01".into(),
        }),
        ..on_p1()
    };
    let no_days = AudienceFilter {
        last_activity: Some(LastActivity::WithinDays { days: 0 }),
        ..on_p1()
    };
    let nameless = AudienceFilter {
        attributes: vec![AttributeEquals {
            key: " ".into(),
            value: "x".into(),
        }],
        ..on_p1()
    };
    for filter in [instagram, unknown_channel, backwards, no_days, nameless] {
        let answer = audience::evaluate(&cache, &filter, true, "UTC", NOW).await;
        assert!(
            matches!(answer, Err(AudienceError::Invalid(_))),
            "{filter:?}: {answer:?}"
        );
    }
}

mod creating {
    use super::*;
    use zentro_core::broadcasts::{self, BroadcastDraft, BroadcastError};
    use zentro_core::members::{Member, Role};
    use zentro_core::relay_client::{RelayClient, SyncError};
    use zentro_core::vault::Secret;

    fn member(role: Role) -> Member {
        Member {
            id: "m_1".into(),
            email: "ana@example.com".into(),
            display_name: "Ana".into(),
            role,
        }
    }

    fn draft(audience: AudienceFilter) -> BroadcastDraft {
        BroadcastDraft {
            name: "Spring restock".into(),
            template_name: "restock".into(),
            template_language: "en_US".into(),
            audience,
            per_second: Some(20),
            send_at: None,
        }
    }

    /// A relay address where nothing listens (a port just released).
    fn unreachable_relay() -> RelayClient {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        RelayClient::new(&format!("http://127.0.0.1:{port}")).unwrap()
    }

    async fn create(
        cache: &Cache,
        role: Role,
        draft: &BroadcastDraft,
    ) -> Result<zentro_events::campaigns::Campaign, BroadcastError> {
        broadcasts::create(
            cache,
            &unreachable_relay(),
            &Secret::new("device-token"),
            &member(role),
            draft,
            "UTC",
            NOW,
        )
        .await
    }

    #[tokio::test]
    async fn only_admins_create_and_bad_drafts_no_one_or_no_relay_say_why() {
        let (_dir, cache) = shop().await;
        let espresso = draft(labelled(&["espresso"], LabelMatch::Any));
        assert!(matches!(
            create(&cache, Role::Agent, &espresso).await,
            Err(BroadcastError::NotAdmin)
        ));
        let unnamed = BroadcastDraft {
            name: "  ".into(),
            ..espresso.clone()
        };
        assert!(matches!(
            create(&cache, Role::Admin, &unnamed).await,
            Err(BroadcastError::Invalid(_))
        ));
        let too_fast = BroadcastDraft {
            per_second: Some(0),
            ..espresso.clone()
        };
        assert!(matches!(
            create(&cache, Role::Owner, &too_fast).await,
            Err(BroadcastError::Invalid(_))
        ));
        let decaf = draft(labelled(&["decaf"], LabelMatch::Any));
        assert!(matches!(
            create(&cache, Role::Admin, &decaf).await,
            Err(BroadcastError::NoRecipients)
        ));
        // Everything checks out on the desk: the relay can't be reached, nothing was created.
        let answer = create(&cache, Role::Admin, &espresso).await;
        assert!(
            matches!(answer, Err(BroadcastError::Relay(SyncError::Network(_)))),
            "{answer:?}"
        );
    }
}
