//! Teams, presence, the automation's setup and first-response targets (issue 22) on a real cache
//! built from the relay's events: routing sets the team, the list filters and marks SLA, the
//! automation's messages are not a person's reply, and the relay's own kinds count only when
//! the relay wrote them.

use serde_json::{Value, json};
use zentro_core::Cache;
use zentro_core::apply::{RelayEvent, apply_batch};
use zentro_core::inbox::{self, ConversationFilter, ConversationSummary};
use zentro_core::members::{Member, Role};

/// The first customer message of each test, Unix seconds.
const T0_SECS: i64 = 1_780_000_000;
const T0: i64 = T0_SECS * 1000;
const MINUTE: i64 = 60_000;

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

fn routed(seq: i64, author: &str, customer: &str, team: Option<&str>) -> RelayEvent {
    event(
        seq,
        "team.routed",
        Some(author),
        T0,
        json!({ "type": "routed", "conversation": contact(customer), "team": team }),
    )
}

/// A reply Meta accepted, to `customer`, sent at `at` (ms), published by `author`.
fn sent(seq: i64, author: &str, customer: &str, id: &str, at: i64) -> RelayEvent {
    event(
        seq,
        "message.sent",
        Some(author),
        at,
        json!({ "client_id": format!("c-{id}"), "external_id": id, "channel_kind": "whatsapp",
                "channel_external_id": "P", "customer_id": customer, "body": "Hi!", "reply_to": null,
                "sent_at": at, "author_member_id": author }),
    )
}

/// The relay's `workspace.automation` event: version `version` of a setup whose team `billing`
/// (members m_ana) answers within `minutes`, and `sales` (no target).
fn setup_event(seq: i64, author: &str, version: i64, minutes: u32) -> RelayEvent {
    event(
        seq,
        "workspace.automation",
        Some(author),
        T0,
        json!({ "version": version, "saved_by": "m_admin", "setup": {
            "enabled": true,
            "teams": [
                { "id": "billing", "name": "Billing", "members": ["m_ana"], "first_response_minutes": minutes },
                { "id": "sales", "name": "Sales", "members": ["m_ana"] }
            ]
        }}),
    )
}

async fn list_at(cache: &Cache, filter: &ConversationFilter, now: i64) -> Vec<ConversationSummary> {
    inbox::conversations_at(cache, filter, None, 50, now)
        .await
        .unwrap()
}

/// The only conversation's `(first_response_due_at, sla)` at `now`.
async fn standing(cache: &Cache, now: i64) -> (Option<i64>, Option<String>) {
    let list = list_at(cache, &ConversationFilter::default(), now).await;
    assert_eq!(list.len(), 1);
    (list[0].first_response_due_at, list[0].sla.clone())
}

fn names(list: &[ConversationSummary]) -> Vec<&str> {
    list.iter().map(|c| c.contact_name.as_str()).collect()
}

fn team_filter(team: &str) -> ConversationFilter {
    ConversationFilter {
        team: Some(team.into()),
        ..ConversationFilter::default()
    }
}

#[tokio::test]
async fn routing_sets_and_clears_the_team_and_the_list_filters_by_it() {
    let (_dir, cache) = crate::support::cache_with(&[
        crate::support::wa_text(1, "US.1", "Ana", "wamid.1", "billing please", T0_SECS),
        crate::support::wa_text(2, "US.2", "Bo", "wamid.2", "hello", T0_SECS + 1),
        routed(3, "automation:menu", "US.1", Some("billing")),
    ])
    .await;
    let now = T0 + MINUTE;
    assert_eq!(
        names(&list_at(&cache, &team_filter("billing"), now).await),
        ["Ana"]
    );
    assert_eq!(names(&list_at(&cache, &team_filter(""), now).await), ["Bo"]);
    assert!(list_at(&cache, &team_filter("sales"), now).await.is_empty());
    let all = list_at(&cache, &ConversationFilter::default(), now).await;
    assert_eq!(all[1].team_id.as_deref(), Some("billing"));
    assert_eq!(all[0].team_id, None);

    // The activity line names the rule that routed it.
    let line: (String, String, String) = sqlx::query_as(
        "SELECT kind, actor_member_id, detail FROM conversation_activity WHERE seq = 3",
    )
    .fetch_one(cache.pool())
    .await
    .unwrap();
    assert_eq!(
        line,
        (
            "routed".into(),
            "automation:menu".into(),
            r#"{"team":"billing"}"#.into()
        )
    );

    // A member moves it out of any team.
    crate::support::apply(&cache, &[routed(4, "m_bo", "US.1", None)]).await;
    assert_eq!(
        names(&list_at(&cache, &team_filter(""), now).await),
        ["Bo", "Ana"]
    );
    assert!(
        list_at(&cache, &team_filter("billing"), now)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn the_first_response_is_due_from_the_customers_first_unanswered_message() {
    // Ana writes at T0; billing answers within 30 minutes: due at T0 + 30 min, due soon from
    // T0 + 24 min (a fifth of 30 is 6 minutes, less than 10).
    let (_dir, cache) = crate::support::cache_with(&[
        setup_event(1, "relay", 1, 30),
        crate::support::wa_text(2, "US.1", "Ana", "wamid.1", "hello", T0_SECS),
        routed(3, "automation:menu", "US.1", Some("billing")),
        // The greeting is the automation's: no person answered.
        sent(4, "automation:greeting", "US.1", "wamid.out1", T0 + 1000),
        // A second message while waiting does not move the clock.
        crate::support::wa_text(5, "US.1", "Ana", "wamid.2", "anyone?", T0_SECS + 120),
    ])
    .await;
    let due = T0 + 30 * MINUTE;
    assert_eq!(
        standing(&cache, T0 + 24 * MINUTE - 1).await,
        (Some(due), None)
    );
    assert_eq!(
        standing(&cache, T0 + 24 * MINUTE).await,
        (Some(due), Some("due_soon".into()))
    );
    assert_eq!(
        standing(&cache, due).await,
        (Some(due), Some("breached".into()))
    );

    // A person answers at T0 + 5 min: nothing is due.
    crate::support::apply(
        &cache,
        &[sent(6, "m_ana", "US.1", "wamid.out2", T0 + 5 * MINUTE)],
    )
    .await;
    assert_eq!(standing(&cache, due).await, (None, None));

    // Ana writes again at T0 + 10 min: due 30 minutes later.
    crate::support::apply(
        &cache,
        &[crate::support::wa_text(
            7,
            "US.1",
            "Ana",
            "wamid.3",
            "thanks, one more",
            T0_SECS + 600,
        )],
    )
    .await;
    assert_eq!(
        standing(&cache, T0 + 41 * MINUTE).await,
        (Some(T0 + 40 * MINUTE), Some("breached".into()))
    );

    // A 2-hour target: due soon only in the last 10 minutes (a fifth would be 24).
    crate::support::apply(&cache, &[setup_event(8, "relay", 2, 120)]).await;
    let due = T0 + 130 * MINUTE;
    assert_eq!(
        standing(&cache, due - 10 * MINUTE - 1).await,
        (Some(due), None)
    );
    assert_eq!(
        standing(&cache, due - 10 * MINUTE).await.1.as_deref(),
        Some("due_soon")
    );

    // Not open: nothing is marked.
    crate::support::apply(
        &cache,
        &[event(
            9,
            "team.status_changed",
            Some("m_ana"),
            T0,
            json!({ "type": "status_changed", "conversation": contact("US.1"), "status": "pending", "snoozed_until": null }),
        )],
    )
    .await;
    assert_eq!(standing(&cache, due).await, (None, None));
}

#[tokio::test]
async fn a_team_without_a_target_or_no_team_marks_nothing() {
    let (_dir, cache) = crate::support::cache_with(&[
        setup_event(1, "relay", 1, 30),
        crate::support::wa_text(2, "US.1", "Ana", "wamid.1", "hello", T0_SECS),
    ])
    .await;
    assert_eq!(standing(&cache, T0 + 99 * MINUTE).await, (None, None));
    crate::support::apply(&cache, &[routed(3, "m_bo", "US.1", Some("sales"))]).await;
    assert_eq!(standing(&cache, T0 + 99 * MINUTE).await, (None, None));
}

#[tokio::test]
async fn an_automated_message_shows_its_rule_and_is_no_persons_reply_even_after_its_echo() {
    // Messenger echoes what the relay sent before the relay's `message.sent` names its rule.
    let echo = RelayEvent::webhook(
        3,
        json!({ "object": "page", "entry": [{ "id": "PAGE1", "messaging": [{ "sender": { "id": "PAGE1" }, "recipient": { "id": "PSID1" },
            "timestamp": T0 + 1000, "message": { "mid": "mid.auto", "is_echo": true, "text": "Hi! Pick a team" } }] }] }),
    );
    let inbound = RelayEvent::webhook(
        2,
        json!({ "object": "page", "entry": [{ "id": "PAGE1", "messaging": [{ "sender": { "id": "PSID1" }, "recipient": { "id": "PAGE1" },
            "timestamp": T0, "message": { "mid": "mid.in", "text": "hello" } }] }] }),
    );
    let named = event(
        6,
        "message.sent",
        Some("automation:menu"),
        T0 + 1000,
        json!({ "client_id": "ob-1", "external_id": "mid.auto", "channel_kind": "messenger",
                "channel_external_id": "PAGE1", "customer_id": "PSID1", "body": "Hi! Pick a team",
                "reply_to": null, "sent_at": T0 + 1000, "author_member_id": "automation:menu" }),
    );
    let (_dir, cache) =
        crate::support::cache_with(&[setup_event(1, "relay", 1, 30), inbound, echo]).await;
    let messenger = json!({ "type": "routed", "conversation":
        { "channel_kind": "messenger", "channel_external_id": "PAGE1", "customer_id": "PSID1" }, "team": "billing" });
    crate::support::apply(
        &cache,
        &[event(
            5,
            "team.routed",
            Some("automation:menu"),
            T0,
            messenger,
        )],
    )
    .await;
    // Until the rule is named, the echo reads as someone's reply (sent from Meta's own inbox).
    assert_eq!(standing(&cache, T0 + 31 * MINUTE).await, (None, None));

    // Once it is, the wait runs from the customer's message again.
    crate::support::apply(&cache, &[named]).await;
    assert_eq!(
        standing(&cache, T0 + 31 * MINUTE).await,
        (Some(T0 + 30 * MINUTE), Some("breached".into()))
    );
    let conversation = list_at(&cache, &ConversationFilter::default(), T0).await[0].id;
    let thread = inbox::messages(&cache, conversation, None, 10)
        .await
        .unwrap();
    let automated = thread
        .iter()
        .find(|m| m.external_id.as_deref() == Some("mid.auto"))
        .unwrap();
    assert_eq!(automated.author_label.as_deref(), Some("Automation (menu)"));
    assert_eq!(
        automated.author_member_id, None,
        "the automation is no member"
    );
}

#[tokio::test]
async fn setup_and_presence_come_from_the_relay_alone() {
    let (_dir, cache) = crate::support::cache_with(&[]).await;
    let batch = [
        // A member's forged setup: ignored.
        setup_event(1, "m_agent", 7, 5),
        setup_event(2, "relay", 3, 30),
        // An older version arriving late changes nothing.
        setup_event(3, "relay", 2, 45),
        event(
            4,
            "workspace.presence",
            Some("relay"),
            T0 + 5,
            json!({ "member_id": "m_ana", "presence": "away" }),
        ),
        event(
            5,
            "workspace.presence",
            Some("m_ana"),
            T0 + 6,
            json!({ "member_id": "m_ana", "presence": "available" }),
        ),
        event(
            6,
            "workspace.presence",
            Some("relay"),
            T0 + 7,
            json!({ "member_id": "m_bo", "presence": "asleep" }),
        ),
    ];
    let report = apply_batch(&cache, "ws", &batch).await.unwrap();
    assert_eq!((report.applied, report.ignored), (2, 4));
    let kept = zentro_core::teams::cached_setup(&cache)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kept.version, kept.saved_at, kept.saved_by.as_str()),
        (3, T0, "m_admin")
    );
    assert_eq!(
        kept.setup.team("billing").unwrap().first_response_minutes,
        Some(30)
    );
    let presence = zentro_core::teams::presence(&cache).await.unwrap();
    assert_eq!(presence.len(), 1);
    assert_eq!(
        (
            presence[0].member_id.as_str(),
            presence[0].presence.as_str(),
            presence[0].changed_at
        ),
        ("m_ana", "away", T0 + 5)
    );
}

#[tokio::test]
async fn a_breach_of_your_teams_target_is_noticed_once() {
    let (_dir, cache) = crate::support::cache_with(&[
        setup_event(1, "relay", 1, 30),
        crate::support::wa_text(2, "US.1", "Ana", "wamid.1", "hello", T0_SECS),
        routed(3, "automation:menu", "US.1", Some("billing")),
    ])
    .await;
    let member = |id: &str| Member {
        id: id.into(),
        email: format!("{id}@example.com"),
        display_name: id.into(),
        role: Role::Agent,
    };
    let due = T0 + 30 * MINUTE;
    let ana = member("m_ana");
    let breaches = |after, now, who: &Member| {
        let who = who.clone();
        let cache = &cache;
        async move {
            zentro_core::notices::breaches(cache, &who, after, now, None)
                .await
                .unwrap()
        }
    };
    assert!(
        breaches(due - 2 * MINUTE, due - MINUTE, &ana)
            .await
            .is_empty()
    );
    let found = breaches(due - MINUTE, due, &ana).await;
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].kind,
        zentro_core::notices::NoticeKind::FirstResponseBreached
    );
    assert_eq!(found[0].title, "Ana");
    assert!(breaches(due, due + MINUTE, &ana).await.is_empty(), "once");
    assert!(
        breaches(due - MINUTE, due, &member("m_bo"))
            .await
            .is_empty(),
        "not in the team"
    );
}

#[tokio::test]
async fn the_preview_replays_the_last_week_through_a_setup() {
    use zentro_core::automation_preview::{PreviewMessage, preview};
    let now = T0 + 10 * 24 * 60 * MINUTE;
    let hour_secs = 3_600;
    let now_secs = now / 1000;
    let restrict = event(
        10,
        "team.contact_edited",
        Some("m_admin"),
        now - 40 * MINUTE,
        json!({ "type": "contact_edited", "contact": contact("US.4"), "changes": { "restricted": true } }),
    );
    let (_dir, cache) = crate::support::cache_with(&[
        // Eight days ago: outside the week replayed.
        crate::support::wa_text(
            1,
            "US.0",
            "Old",
            "wamid.0",
            "hi",
            now_secs - 8 * 24 * hour_secs,
        ),
        crate::support::wa_text(2, "US.1", "Ana", "wamid.1", "hi", now_secs - 3 * hour_secs),
        // What the automation in force did: left out, the setup under trial decides.
        sent(
            3,
            "automation:greeting",
            "US.1",
            "wamid.g1",
            now - 3 * 60 * MINUTE + 1000,
        ),
        crate::support::wa_text(
            4,
            "US.1",
            "Ana",
            "wamid.1b",
            "still there?",
            now_secs - 5 * hour_secs / 2,
        ),
        crate::support::wa_text(
            5,
            "US.2",
            "Bo",
            "wamid.2",
            "hello",
            now_secs - 2 * hour_secs,
        ),
        sent(7, "m_bo", "US.2", "wamid.r2", now - 110 * MINUTE),
        crate::support::wa_text(8, "US.3", "Cy", "wamid.3", "hey", now_secs - hour_secs),
        crate::support::wa_text(9, "US.4", "Di", "wamid.4", "yo", now_secs - 30 * 60),
        // An admin restricts Di (P14): nothing automated, from the start of the replay.
        restrict,
    ])
    .await;
    let setup: zentro_automation::Setup = serde_json::from_value(json!({
        "enabled": true,
        "greeting": { "text": "Hello from Sandbox" },
        "channel_teams": { "whatsapp:P": "billing" },
        "capacities": { "m_ana": 1 },
        "teams": [{ "id": "billing", "name": "Billing", "members": ["m_ana", "m_bo"], "assignment": "round_robin" }]
    }))
    .unwrap();
    let result = preview(&cache, &setup, now).await.unwrap();

    // By hand: Ana, Bo and Cy each start a conversation: a greeting as they write, the channel's
    // team, and round robin — Ana's to m_ana, Bo's to m_bo, Cy's to m_bo again (m_ana is at her
    // capacity of 1). Ana's second message is no new conversation: no second greeting. Di is
    // restricted: nothing. Old wrote before the week.
    assert_eq!(result.since, now - 7 * 24 * 60 * MINUTE);
    assert_eq!(result.conversations_replayed, 4);
    assert_eq!(
        (result.messages_sent, result.routed, result.assigned),
        (3, 3, 3)
    );
    /// A conversation as the preview shows it: name, team, assignee, messages.
    type Shown<'a> = (
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        &'a [PreviewMessage],
    );
    let got: Vec<Shown> = result
        .conversations
        .iter()
        .map(|c| {
            (
                c.contact_name.as_str(),
                c.team.as_deref(),
                c.assignee.as_deref(),
                c.messages.as_slice(),
            )
        })
        .collect();
    let greeting = |at: i64| {
        vec![PreviewMessage {
            rule: "greeting".into(),
            text: "Hello from Sandbox".into(),
            at,
        }]
    };
    assert_eq!(
        got,
        [
            (
                "Cy",
                Some("billing"),
                Some("m_bo"),
                greeting(now - 60 * MINUTE).as_slice()
            ),
            (
                "Bo",
                Some("billing"),
                Some("m_bo"),
                greeting(now - 120 * MINUTE).as_slice()
            ),
            (
                "Ana",
                Some("billing"),
                Some("m_ana"),
                greeting(now - 180 * MINUTE).as_slice()
            ),
        ]
    );
    assert!(
        result
            .conversations
            .iter()
            .all(|c| c.channel_kind == "whatsapp")
    );
}
