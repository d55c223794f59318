//! The satisfaction survey on a real cache built from the relay's events: the customer's answer
//! does not reopen the resolved conversation, `team.rated` events become ratings (only the
//! relay's automation's), the figures per agent and team, and what retention (P12) and erasure
//! (P14) leave of them.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[allow(dead_code)]
#[path = "it/support.rs"]
mod support;

use serde_json::{Value, json};
use zentro_core::Cache;
use zentro_core::apply::RelayEvent;
use zentro_core::rights::{enforce_retention, erasure_hash};
use zentro_core::satisfaction::{Satisfaction, satisfaction};

use support::{apply, cache_with, wa_message, wa_text};

const T0_SECS: i64 = 1_780_000_000;
const T0: i64 = T0_SECS * 1000;
const MINUTE: i64 = 60_000;
const DAY: i64 = 24 * 60 * MINUTE;

fn event(seq: i64, kind: &str, author: Option<&str>, at: i64, payload: Value) -> RelayEvent {
    RelayEvent {
        seq,
        kind: kind.into(),
        at,
        author: author.map(str::to_string),
        payload,
    }
}

fn contact(customer: &str) -> Value {
    json!({ "channel_kind": "whatsapp", "channel_external_id": "P", "customer_id": customer })
}

/// A reply Meta accepted, to `customer`, queued at `at` (ms), published by `author` (a member,
/// or the automation's rule).
fn sent(seq: i64, author: &str, customer: &str, body: &str, at: i64) -> RelayEvent {
    event(
        seq,
        "message.sent",
        Some(author),
        at,
        json!({ "client_id": format!("c-{seq}"), "external_id": format!("wamid.out{seq}"),
                "channel_kind": "whatsapp", "channel_external_id": "P", "customer_id": customer,
                "body": body, "reply_to": null, "sent_at": at, "author_member_id": author }),
    )
}

fn team_event(seq: i64, author: &str, at: i64, payload: Value) -> RelayEvent {
    let kind = format!("team.{}", payload["type"].as_str().unwrap());
    event(seq, &kind, Some(author), at, payload)
}

/// The customer taps a row of the survey's WhatsApp list, at `at_secs`.
fn taps(seq: i64, customer: &str, rating: u8, at_secs: i64) -> RelayEvent {
    let title = format!("{rating} {}", "★".repeat(usize::from(rating)));
    wa_message(
        seq,
        customer,
        "Ada",
        &format!("wamid.in{seq}"),
        at_secs,
        "interactive",
        json!({ "type": "list_reply", "list_reply": { "id": format!("csat:{rating}"), "title": title } }),
    )
}

fn rated(seq: i64, customer: &str, rating: u8, comment: Option<&str>, rated_at: i64) -> RelayEvent {
    team_event(
        seq,
        "automation:csat",
        rated_at,
        json!({ "type": "rated", "conversation": contact(customer), "rating": rating,
                "comment": comment, "agent": "m_ana", "team": "sales",
                "resolved_at": T0 + 5 * MINUTE, "rated_at": rated_at }),
    )
}

/// `customer` wrote at T0, was routed to Sales and given to Ana, Ana answered and resolved the
/// conversation at T0 + 5 min, and the survey went out then (seq `first`..`first + 5`).
fn served_and_asked(first: i64, customer: &str) -> Vec<RelayEvent> {
    let conversation = contact(customer);
    vec![
        wa_text(
            first,
            customer,
            "Ada",
            &format!("wamid.in{first}"),
            "my order?",
            T0_SECS,
        ),
        team_event(
            first + 1,
            "automation:channel_team",
            T0,
            json!({ "type": "routed", "conversation": conversation, "team": "sales" }),
        ),
        team_event(
            first + 2,
            "automation:round_robin",
            T0,
            json!({ "type": "assigned", "conversation": conversation, "assignee": "m_ana" }),
        ),
        sent(first + 3, "m_ana", customer, "It ships today.", T0 + MINUTE),
        team_event(
            first + 4,
            "m_ana",
            T0 + 5 * MINUTE,
            json!({ "type": "status_changed", "conversation": conversation, "status": "resolved" }),
        ),
        sent(
            first + 5,
            "automation:csat",
            customer,
            "How did we do?\n1. 1 ★\n2. 2 ★★\n3. 3 ★★★\n4. 4 ★★★★\n5. 5 ★★★★★",
            T0 + 5 * MINUTE,
        ),
    ]
}

/// `(status, unread_count, awaiting_since)` of the customer's conversation.
async fn conversation(cache: &Cache, customer: &str) -> (String, i64, Option<i64>) {
    sqlx::query_as(
        "SELECT c.status, c.unread_count, c.awaiting_since FROM conversations c
         JOIN contacts k ON k.id = c.contact_id WHERE k.external_id = ?",
    )
    .bind(customer)
    .fetch_one(cache.pool())
    .await
    .unwrap()
}

async fn all_time(cache: &Cache) -> Satisfaction {
    satisfaction(cache, 0, i64::MAX, None, None, None)
        .await
        .unwrap()
}

/// Ada rates 4 by tapping, then comments; the conversation stays resolved throughout.
fn ada_rates_and_comments() -> Vec<RelayEvent> {
    let mut events = served_and_asked(1, "US.1");
    let answered = T0 + 6 * MINUTE;
    events.extend([
        taps(7, "US.1", 4, answered / 1000),
        rated(8, "US.1", 4, None, answered),
        sent(
            9,
            "automation:csat_comment",
            "US.1",
            "Anything to add?",
            answered + 1000,
        ),
        wa_text(
            10,
            "US.1",
            "Ada",
            "wamid.in10",
            "Slow, but kind.",
            answered / 1000 + 60,
        ),
        rated(11, "US.1", 4, Some("Slow, but kind."), answered),
    ]);
    events
}

#[tokio::test]
async fn a_rating_and_its_comment_are_recorded_without_reopening_the_conversation() {
    let (_dir, cache) = cache_with(&ada_rates_and_comments()).await;
    assert_eq!(
        conversation(&cache, "US.1").await,
        ("resolved".into(), 1, None),
        "the answer and the comment reopened nothing, waited for nobody, and are not unread"
    );
    let figures = all_time(&cache).await;
    assert_eq!(figures.responses, 1);
    assert_eq!(figures.average, Some(4.0));
    assert_eq!(figures.satisfied, 1);
    assert_eq!(figures.distribution, [0, 0, 0, 1, 0]);
    assert_eq!(figures.by_agent.len(), 1);
    assert_eq!(figures.by_agent[0].member_id, "m_ana");
    assert_eq!(figures.by_team[0].team_id, "sales");
    assert_eq!(figures.comments.len(), 1);
    let comment = &figures.comments[0];
    assert_eq!(comment.comment, "Slow, but kind.");
    assert_eq!(comment.at, T0 + 6 * MINUTE, "when the rating was given");
    assert!(comment.conversation_id.is_some());

    // The customer writing again afterwards reopens it, as always.
    apply(
        &cache,
        &[wa_text(
            12,
            "US.1",
            "Ada",
            "wamid.in12",
            "one more thing",
            T0_SECS + 3600,
        )],
    )
    .await;
    assert_eq!(conversation(&cache, "US.1").await.0, "open");
}

#[tokio::test]
async fn an_answer_in_the_survey_s_second_counts_though_meta_s_time_falls_before_it() {
    let mut events = served_and_asked(1, "US.1");
    // The survey was queued 0.7 s into the second the customer tapped in (Meta's whole seconds).
    let survey = events.last_mut().unwrap();
    survey.payload["sent_at"] = json!(T0 + 5 * MINUTE + 700);
    events.push(taps(7, "US.1", 5, (T0 + 5 * MINUTE) / 1000));
    let (_dir, cache) = cache_with(&events).await;
    assert_eq!(conversation(&cache, "US.1").await.0, "resolved");
}

#[tokio::test]
async fn a_message_that_is_no_answer_reopens_and_a_late_answer_too() {
    let mut events = served_and_asked(1, "US.1");
    events.push(wa_text(
        7,
        "US.1",
        "Ada",
        "wamid.in7",
        "still waiting",
        T0_SECS + 360,
    ));
    events.extend(served_and_asked(20, "US.2"));
    events.push(taps(26, "US.2", 5, (T0 + 5 * MINUTE + DAY) / 1000 + 1));
    let (_dir, cache) = cache_with(&events).await;
    assert_eq!(conversation(&cache, "US.1").await.0, "open");
    assert_eq!(conversation(&cache, "US.2").await.0, "open", "a day later");
    assert_eq!(all_time(&cache).await.responses, 0);
}

#[tokio::test]
async fn a_typed_digit_answers_and_only_the_automation_rates() {
    let mut events = served_and_asked(1, "US.1");
    let answered = T0 + 6 * MINUTE;
    events.extend([
        wa_text(7, "US.1", "Ada", "wamid.in7", " 2 ", answered / 1000),
        // A member forging a rating (the relay refuses it; a desk ignores it anyway).
        team_event(
            8,
            "m_ana",
            answered,
            json!({ "type": "rated", "conversation": contact("US.1"), "rating": 5,
                    "agent": "m_ana", "resolved_at": T0, "rated_at": answered }),
        ),
    ]);
    let (_dir, cache) = cache_with(&events).await;
    assert_eq!(conversation(&cache, "US.1").await.0, "resolved");
    assert_eq!(all_time(&cache).await.responses, 0, "the forged rating");
    apply(&cache, &[rated(9, "US.1", 2, None, answered)]).await;
    let figures = all_time(&cache).await;
    assert_eq!(figures.distribution, [0, 1, 0, 0, 0]);
    assert!(figures.comments.is_empty());
}

#[tokio::test]
async fn figures_filter_by_range_channel_team_and_agent() {
    let mut events = ada_rates_and_comments();
    events.extend(served_and_asked(20, "US.2"));
    let answered = T0 + 7 * MINUTE;
    events.extend([
        taps(26, "US.2", 1, answered / 1000),
        team_event(
            27,
            "automation:csat",
            answered,
            json!({ "type": "rated", "conversation": contact("US.2"), "rating": 1,
                    "agent": "m_bo", "team": "billing",
                    "resolved_at": T0 + 5 * MINUTE, "rated_at": answered }),
        ),
    ]);
    let (_dir, cache) = cache_with(&events).await;
    let figures = all_time(&cache).await;
    assert_eq!(figures.responses, 2);
    assert_eq!(figures.average, Some(2.5));
    assert_eq!(figures.satisfied, 1);
    let agents: Vec<(&str, i64, f64)> = figures
        .by_agent
        .iter()
        .map(|a| (a.member_id.as_str(), a.responses, a.average))
        .collect();
    assert_eq!(agents, [("m_ana", 1, 4.0), ("m_bo", 1, 1.0)]);
    let only = |channel, team, agent| satisfaction(&cache, 0, i64::MAX, channel, team, agent);
    assert_eq!(
        only(None, None, Some("m_bo")).await.unwrap().average,
        Some(1.0)
    );
    assert_eq!(only(None, Some("sales"), None).await.unwrap().responses, 1);
    assert_eq!(
        only(Some("messenger"), None, None).await.unwrap().responses,
        0
    );
    assert_eq!(
        only(Some("whatsapp"), None, None).await.unwrap().responses,
        2
    );
    // The range is [since, until): Ada's rating at T0 + 6 min, Bo's at T0 + 7 min.
    let range = satisfaction(&cache, T0 + 6 * MINUTE, T0 + 7 * MINUTE, None, None, None)
        .await
        .unwrap();
    assert_eq!(range.distribution, [0, 0, 0, 1, 0]);
}

#[tokio::test]
async fn retention_keeps_the_number_and_erasure_removes_the_customers_ratings() {
    let mut events = ada_rates_and_comments();
    events.extend(served_and_asked(20, "US.2"));
    events.push(team_event(
        26,
        "automation:csat",
        T0 + 7 * MINUTE,
        json!({ "type": "rated", "conversation": contact("US.2"), "rating": 5,
                "comment": "Great", "agent": "m_bo", "team": "sales",
                "resolved_at": T0 + 5 * MINUTE, "rated_at": T0 + 7 * MINUTE }),
    ));
    let (_dir, cache) = cache_with(&events).await;
    assert_eq!(all_time(&cache).await.responses, 2);

    // The customer US.2 is erased (P14): their rating goes with them.
    let salt = "00ff".repeat(8);
    let notice = json!({ "salt": salt, "hash": erasure_hash(&salt, "whatsapp:P", "US.2") });
    apply(
        &cache,
        &[event(30, "contact.erased", Some("relay"), T0, notice)],
    )
    .await;
    let figures = all_time(&cache).await;
    assert_eq!(figures.responses, 1);
    assert_eq!(figures.by_agent[0].member_id, "m_ana");

    // Ada's conversation expires (P12): her rating still counts, without comment or link.
    apply(
        &cache,
        &[event(
            31,
            "workspace.retention",
            Some("relay"),
            T0,
            json!({ "conversation_days": 30, "media_days": null }),
        )],
    )
    .await;
    let report = enforce_retention(&cache, T0 + 400 * DAY).await.unwrap();
    assert_eq!(report.conversations, 1);
    let figures = all_time(&cache).await;
    assert_eq!(figures.responses, 1);
    assert_eq!(figures.average, Some(4.0));
    assert_eq!(figures.by_agent[0].member_id, "m_ana");
    assert!(figures.comments.is_empty(), "the comment expired with it");
    let kept: Vec<(Option<i64>, Option<String>)> =
        sqlx::query_as("SELECT conversation_id, comment FROM ratings")
            .fetch_all(cache.pool())
            .await
            .unwrap();
    assert_eq!(kept, [(None, None)]);
}

/// The report's day (UTC) of `at` (ms), `YYYY-MM-DD`.
fn day_of(at: i64) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

#[tokio::test]
async fn the_report_carries_the_surveys_figures_of_its_days_and_none_outside() {
    let (_dir, cache) = cache_with(&ada_rates_and_comments()).await;
    let query = |since: String, until: String| zentro_core::reports::ReportQuery {
        since,
        until,
        time_zone: "UTC".into(),
        channel_kind: None,
        team_id: None,
        member_id: None,
        business_hours_only: false,
    };
    let answered = T0 + 6 * MINUTE;
    let on_the_day = query(day_of(answered), day_of(answered));
    let report = zentro_core::reports::report(&cache, &on_the_day, answered + DAY)
        .await
        .unwrap();
    let figures = report.satisfaction.expect("the day has a rating");
    assert_eq!(figures.responses, 1);
    assert_eq!(figures.satisfied, 1);
    assert_eq!(figures.distribution, vec![0, 0, 0, 1, 0]);
    assert_eq!(figures.comments[0].comment, "Slow, but kind.");

    // The day before: no rating, and this cache has no setup asking for them: nothing to show.
    let before = query(day_of(answered - DAY), day_of(answered - DAY));
    let report = zentro_core::reports::report(&cache, &before, answered + DAY)
        .await
        .unwrap();
    assert_eq!(report.satisfaction, None);
}
