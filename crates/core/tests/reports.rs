//! Reports (issue 23) on real cache files built by applying the relay's events: figures checked
//! against hand-computed expectations (resolve and reopen, snooze, reassignment, automated
//! messages, late customer messages, business hours, time zones), rollups that survive
//! retention and forget an erased customer, and the same numbers on two desks that applied the
//! same log in different batches; the satisfaction survey's answer reopening nothing.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "it/support.rs"]
#[allow(dead_code)]
mod support;

use serde_json::{Value, json};
use zentro_core::Cache;
use zentro_core::apply::{RelayEvent, apply_batch};
use zentro_core::reports::{
    AgentFigures, ChannelFigures, ConversationCounts, Durations, MessageCounts, Queue, Report,
    ReportError, ReportQuery, SlaFigures, TeamFigures, report,
};

/// Monday 2026-12-07 00:00 UTC.
const D0: i64 = 1_796_601_600_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// `h:m` on Monday 2026-12-07, UTC ms.
fn at(h: i64, m: i64) -> i64 {
    D0 + h * HOUR + m * MINUTE
}

/// The relay's log as a test writes it: each event takes the next seq.
#[derive(Default)]
struct Log {
    events: Vec<RelayEvent>,
}

impl Log {
    fn push(&mut self, kind: &str, author: Option<&str>, at: i64, payload: Value) -> &mut Self {
        let seq = self.events.len() as i64 + 1;
        self.events.push(RelayEvent {
            seq,
            kind: kind.into(),
            at,
            author: author.map(str::to_string),
            payload,
        });
        self
    }

    /// A customer's WhatsApp text, timestamped `at` by Meta (whole seconds).
    fn customer(&mut self, customer: &str, wamid: &str, at: i64) -> &mut Self {
        let seq = self.events.len() as i64 + 1;
        self.events.push(support::wa_text(
            seq,
            customer,
            customer,
            wamid,
            "hello",
            at / 1000,
        ));
        self
    }

    /// A reply Meta accepted, queued at `at` by `author` (a member or `automation:<rule>`).
    fn reply(&mut self, author: &str, customer: &str, id: &str, at: i64) -> &mut Self {
        self.push(
            "message.sent",
            Some(author),
            at,
            json!({ "client_id": format!("c-{id}"), "external_id": id, "channel_kind": "whatsapp",
                    "channel_external_id": "P", "customer_id": customer, "body": "Hi!",
                    "reply_to": null, "sent_at": at, "author_member_id": author }),
        )
    }

    fn team(&mut self, actor: &str, at: i64, payload: Value) -> &mut Self {
        let kind = format!("team.{}", payload["type"].as_str().unwrap());
        self.push(&kind, Some(actor), at, payload)
    }

    fn assign(&mut self, actor: &str, customer: &str, assignee: &str, at: i64) -> &mut Self {
        self.team(
            actor,
            at,
            json!({ "type": "assigned", "conversation": contact(customer), "assignee": assignee }),
        )
    }

    fn route(&mut self, actor: &str, customer: &str, team: &str, at: i64) -> &mut Self {
        self.team(
            actor,
            at,
            json!({ "type": "routed", "conversation": contact(customer), "team": team }),
        )
    }

    fn status(&mut self, actor: &str, customer: &str, status: &str, at: i64) -> &mut Self {
        let snoozed_until = (status == "snoozed").then_some(at + 2 * HOUR);
        self.team(
            actor,
            at,
            json!({ "type": "status_changed", "conversation": contact(customer), "status": status,
                    "snoozed_until": snoozed_until }),
        )
    }

    /// The relay's `workspace.automation`: teams Billing (a 30-minute target) and Sales (none),
    /// and `hours` if given.
    fn setup(&mut self, hours: Option<Value>) -> &mut Self {
        self.push(
            "workspace.automation",
            Some("relay"),
            D0 - DAY,
            json!({ "version": 1, "saved_by": "m_admin", "setup": {
                "enabled": true,
                "hours": hours,
                "teams": [
                    { "id": "billing", "name": "Billing", "members": ["m_ana", "m_bo"], "first_response_minutes": 30 },
                    { "id": "sales", "name": "Sales", "members": ["m_bo"] }
                ]
            }}),
        )
    }
}

fn contact(customer: &str) -> Value {
    json!({ "channel_kind": "whatsapp", "channel_external_id": "P", "customer_id": customer })
}

/// A report of the days `since` to `until` in `time_zone`, without filters.
fn query(since: &str, until: &str, time_zone: &str) -> ReportQuery {
    ReportQuery {
        since: since.into(),
        until: until.into(),
        time_zone: time_zone.into(),
        channel_kind: None,
        team_id: None,
        member_id: None,
        business_hours_only: false,
    }
}

/// Monday 2026-12-07 in UTC.
fn monday() -> ReportQuery {
    query("2026-12-07", "2026-12-07", "UTC")
}

async fn cache_with(log: &Log) -> (tempfile::TempDir, Cache) {
    support::cache_with(&log.events).await
}

/// A day of three customers (see the comments for the hand count).
fn busy_monday() -> Log {
    let mut log = Log::default();
    log.setup(None);
    // US.1: opened, greeted by the automation, routed, assigned, answered, resolved...
    log.customer("US.1", "w1", at(9, 0))
        .reply("automation:greeting", "US.1", "a1", at(9, 0) + 5_000)
        .route("automation:menu", "US.1", "billing", at(9, 1))
        .assign("automation:round_robin", "US.1", "m_ana", at(9, 2))
        .reply("m_ana", "US.1", "r1", at(9, 10))
        .reply("m_ana", "US.1", "r2", at(9, 12))
        .status("m_ana", "US.1", "resolved", at(9, 20));
    // US.2 writes, is routed to Sales and snoozed.
    log.customer("US.2", "w3", at(9, 30))
        .route("m_bo", "US.2", "sales", at(9, 31))
        .status("m_bo", "US.2", "snoozed", at(9, 40));
    // ...US.1 reopens by writing, is reassigned, answered late (breach), resolved...
    log.customer("US.1", "w2", at(10, 0))
        .assign("m_ana", "US.1", "m_bo", at(10, 5))
        .reply("m_bo", "US.1", "r3", at(10, 40))
        .status("m_bo", "US.1", "resolved", at(10, 50));
    // ...and is reopened by Ana, then resolved without a message.
    log.status("m_ana", "US.1", "open", at(11, 0))
        .status("m_ana", "US.1", "resolved", at(11, 30));
    // US.2 writes again (the snooze ends), and a message of 09:20 arrives late; Bo answers.
    log.customer("US.2", "w5", at(12, 0))
        .customer("US.2", "w4", at(9, 20))
        .reply("m_bo", "US.2", "r4", at(12, 10));
    // US.3 writes and waits.
    log.customer("US.3", "w6", at(13, 0));
    log
}

/// What [`busy_monday`] adds up to on Monday (UTC), at 14:00.
fn busy_monday_figures() -> Report {
    let mut heatmap = vec![vec![0; 24]; 7];
    heatmap[0][9] = 3; // w1, w3, w4 (late, but Meta's time counts)
    heatmap[0][10] = 1;
    heatmap[0][12] = 1;
    heatmap[0][13] = 1;
    Report {
        since: "2026-12-07".into(),
        until: "2026-12-07".into(),
        time_zone: "UTC".into(),
        business_hours_only: false,
        // Customers' openings: US.1 twice, US.2, US.3; reopened: US.1 by writing and by Ana.
        conversations: ConversationCounts {
            opened: 4,
            resolved: 3,
            reopened: 2,
        },
        // The greeting is not sent by a person.
        messages: MessageCounts {
            received: 6,
            sent: 4,
        },
        // 09:00→09:10, 10:00→10:40, 09:20 (the late first message)→12:10.
        first_response_seconds: Durations {
            median: Some(2400),
            p90: Some(10200),
            count: 3,
        },
        // 09:00→09:20, 10:00→10:50, 11:00→11:30.
        resolution_seconds: Durations {
            median: Some(1800),
            p90: Some(3000),
            count: 3,
        },
        // US.2 (answered, not waiting) and US.3 (waiting since 13:00).
        queue: Queue {
            open_unassigned: 2,
            oldest_waiting_seconds: Some(3600),
            median_waiting_seconds: Some(3600),
        },
        by_agent: vec![
            AgentFigures {
                member_id: "m_ana".into(),
                email: String::new(),
                assigned: 1,
                replied: 2,
                resolved: 2,
                first_response_median_seconds: Some(600),
            },
            AgentFigures {
                member_id: "m_bo".into(),
                email: String::new(),
                assigned: 1,
                replied: 2,
                resolved: 1,
                first_response_median_seconds: Some(2400),
            },
        ],
        by_channel: vec![ChannelFigures {
            channel_kind: "whatsapp".into(),
            received: 6,
            sent: 4,
        }],
        by_team: vec![
            TeamFigures {
                team_id: "billing".into(),
                name: "Billing".into(),
                opened: 2,
                resolved: 3,
                first_response_median_seconds: Some(600),
                sla_breached: 1,
            },
            TeamFigures {
                team_id: "sales".into(),
                name: "Sales".into(),
                opened: 1,
                resolved: 0,
                first_response_median_seconds: Some(10200),
                sla_breached: 0,
            },
        ],
        received_by_weekday_hour: heatmap,
        daily: vec![zentro_core::reports::DayFigures {
            day: "2026-12-07".into(),
            received: 6,
            sent: 4,
            opened: 4,
            resolved: 3,
        }],
        sla: Some(SlaFigures {
            breached: 1,
            met: 1,
        }),
        satisfaction: None,
    }
}

#[tokio::test]
async fn a_busy_day_adds_up_to_the_hand_count() {
    let (_dir, cache) = cache_with(&busy_monday()).await;
    let got = report(&cache, &monday(), at(14, 0)).await.unwrap();
    assert_eq!(got, busy_monday_figures());
}

#[tokio::test]
async fn filters_keep_a_channel_a_team_or_a_members_work() {
    let (_dir, cache) = cache_with(&busy_monday()).await;
    let mut sales = monday();
    sales.team_id = Some("sales".into());
    let got = report(&cache, &sales, at(14, 0)).await.unwrap();
    // US.2's opening: three messages received, Bo's reply, its first response.
    assert_eq!(
        (
            got.conversations.opened,
            got.messages.received,
            got.messages.sent
        ),
        (1, 3, 1)
    );
    assert_eq!(got.first_response_seconds.median, Some(10200));
    assert_eq!(got.by_team.len(), 1);
    assert_eq!(
        got.queue.open_unassigned, 1,
        "US.2 is Sales's, US.3 has no team"
    );

    let mut bo = monday();
    bo.member_id = Some("m_bo".into());
    let got = report(&cache, &bo, at(14, 0)).await.unwrap();
    assert_eq!(got.by_agent, busy_monday_figures().by_agent[1..].to_vec());
    // Bo's resolution (10:00→10:50) and first responses; the opening of US.1 assigned to him.
    assert_eq!(got.conversations.resolved, 1);
    assert_eq!(got.resolution_seconds.median, Some(3000));
    assert_eq!(got.first_response_seconds.count, 2);
    assert_eq!(got.messages.sent, 2);

    let mut instagram = monday();
    instagram.channel_kind = Some("instagram".into());
    let got = report(&cache, &instagram, at(14, 0)).await.unwrap();
    assert_eq!(got.messages, MessageCounts::default());
    assert_eq!(got.conversations, ConversationCounts::default());
    assert_eq!(got.queue.open_unassigned, 0);
}

#[tokio::test]
async fn two_desks_that_applied_the_same_log_in_different_batches_show_the_same_numbers() {
    let log = busy_monday();
    let (_a, one_batch) = cache_with(&log).await;
    let dir = tempfile::tempdir().unwrap();
    let batches = Cache::open_in(dir.path()).await.unwrap();
    // Batches of 1, 2, 3, 1, 2, 3, ...: runs of messages split everywhere.
    let mut rest = &log.events[..];
    for size in [1, 2, 3].into_iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (batch, after) = rest.split_at(size.min(rest.len()));
        apply_batch(&batches, "ws", batch).await.unwrap();
        rest = after;
    }
    let range = query("2026-12-01", "2026-12-31", "America/Sao_Paulo");
    let a = report(&one_batch, &range, at(14, 0)).await.unwrap();
    let b = report(&batches, &range, at(14, 0)).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(a.messages.received, 6);
    assert_eq!(rollups(&one_batch).await, rollups(&batches).await);
}

/// Every row of the rollups, as text, in key order.
async fn rollups(cache: &Cache) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT json_array(conversation_id, channel_kind, team_id, assignee_id, opened_by, reopened, opened_at,
                           first_inbound_at, first_response_at, first_response_by, resolved_at, resolved_by)
         FROM report_episodes ORDER BY id",
    )
    .fetch_all(cache.pool())
    .await
    .unwrap()
    .into_iter()
    .chain(
        sqlx::query_scalar::<_, String>(
            "SELECT json_array(bucket, episode_id, measure, member_id, channel_kind, count)
             FROM report_counts ORDER BY bucket, episode_id, measure, member_id",
        )
        .fetch_all(cache.pool())
        .await
        .unwrap(),
    )
    .collect()
}

#[tokio::test]
async fn an_automated_echo_is_no_reply_once_the_log_names_its_rule() {
    // Messenger echoes the automation's menu before the relay's `message.sent` names its rule.
    let mut log = Log::default();
    log.push(
        "meta.webhook",
        None,
        0,
        json!({ "object": "page", "entry": [{ "id": "PAGE1", "messaging": [{ "sender": { "id": "PSID1" }, "recipient": { "id": "PAGE1" },
            "timestamp": at(9, 0), "message": { "mid": "mid.in", "text": "hello" } }] }] }),
    )
    .push(
        "meta.webhook",
        None,
        0,
        json!({ "object": "page", "entry": [{ "id": "PAGE1", "messaging": [{ "sender": { "id": "PAGE1" }, "recipient": { "id": "PSID1" },
            "timestamp": at(9, 0) + 1000, "message": { "mid": "mid.auto", "is_echo": true, "text": "Pick a team" } }] }] }),
    );
    let (_dir, cache) = cache_with(&log).await;
    // Until then, the echo reads as someone's reply (sent from Meta's own inbox).
    let got = report(&cache, &monday(), at(14, 0)).await.unwrap();
    assert_eq!(got.messages.sent, 1);
    assert_eq!(got.first_response_seconds.median, Some(1));

    let named = |seq: i64, author: &str, id: &str, sent_at: i64| RelayEvent {
        seq,
        kind: "message.sent".into(),
        at: sent_at,
        author: Some(author.into()),
        payload: json!({ "client_id": format!("c-{id}"), "external_id": id, "channel_kind": "messenger",
                         "channel_external_id": "PAGE1", "customer_id": "PSID1", "body": "Hi",
                         "reply_to": null, "sent_at": sent_at, "author_member_id": author }),
    };
    support::apply(
        &cache,
        &[
            named(3, "automation:menu", "mid.auto", at(9, 0) + 1000),
            named(4, "m_ana", "mid.ana", at(9, 5)),
        ],
    )
    .await;
    let got = report(&cache, &monday(), at(14, 0)).await.unwrap();
    assert_eq!(
        got.messages,
        MessageCounts {
            received: 1,
            sent: 1
        }
    );
    assert_eq!(got.first_response_seconds.median, Some(300));
    assert_eq!(got.by_agent.len(), 1);
    assert_eq!(
        (got.by_agent[0].member_id.as_str(), got.by_agent[0].replied),
        ("m_ana", 1)
    );
    assert_eq!(got.by_channel[0].channel_kind, "messenger");
}

#[tokio::test]
async fn business_hours_count_only_open_time() {
    let hours = json!({ "time_zone": "UTC", "weekly": [
        [{ "start": "09:00", "end": "17:00" }], [{ "start": "09:00", "end": "17:00" }],
        [{ "start": "09:00", "end": "17:00" }], [{ "start": "09:00", "end": "17:00" }],
        [{ "start": "09:00", "end": "17:00" }], [], []] });
    let mut log = Log::default();
    // Friday 16:30, answered Monday 09:30, resolved Monday 10:00.
    log.setup(Some(hours))
        .customer("US.1", "w1", at(16, 30) - 3 * DAY)
        .reply("m_ana", "US.1", "r1", at(9, 30))
        .status("m_ana", "US.1", "resolved", at(10, 0));
    let (_dir, cache) = cache_with(&log).await;
    let mut range = query("2026-12-04", "2026-12-07", "UTC");
    let wall = report(&cache, &range, at(14, 0)).await.unwrap();
    assert_eq!(
        wall.first_response_seconds.median,
        Some(3 * 86_400 - 7 * 3600)
    );
    assert_eq!(
        wall.resolution_seconds.median,
        Some(3 * 86_400 - 6 * 3600 - 1800)
    );
    range.business_hours_only = true;
    let open = report(&cache, &range, at(14, 0)).await.unwrap();
    assert!(open.business_hours_only);
    // Half an hour on Friday, half an hour (then an hour) on Monday.
    assert_eq!(open.first_response_seconds.median, Some(3600));
    assert_eq!(open.resolution_seconds.median, Some(5400));
}

#[tokio::test]
async fn days_and_hours_are_the_time_zones() {
    let mut log = Log::default();
    // Monday 23:30 UTC is Tuesday 00:30 in Berlin.
    log.customer("US.1", "w1", at(23, 30));
    let (_dir, cache) = cache_with(&log).await;
    let berlin = report(
        &cache,
        &query("2026-12-08", "2026-12-08", "Europe/Berlin"),
        at(23, 59),
    )
    .await
    .unwrap();
    assert_eq!(berlin.messages.received, 1);
    assert_eq!(berlin.received_by_weekday_hour[1][0], 1);
    assert_eq!(berlin.daily[0].opened, 1);
    let utc = report(
        &cache,
        &query("2026-12-08", "2026-12-08", "UTC"),
        at(23, 59),
    )
    .await
    .unwrap();
    assert_eq!(utc.messages.received, 0);
    let utc = report(&cache, &monday(), at(23, 59)).await.unwrap();
    assert_eq!(utc.received_by_weekday_hour[0][23], 1);
    assert_eq!(utc.received_by_weekday_hour.len(), 7);
    assert!(
        utc.received_by_weekday_hour
            .iter()
            .all(|day| day.len() == 24)
    );
}

#[tokio::test]
async fn a_range_that_does_not_read_says_what_to_write() {
    let (_dir, cache) = cache_with(&Log::default()).await;
    let error = report(&cache, &query("2026-12-08", "2026-12-01", "UTC"), D0)
        .await
        .unwrap_err();
    assert!(matches!(error, ReportError::Range { .. }), "{error}");
    let error = report(&cache, &query("12/01/2026", "2026-12-01", "UTC"), D0)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("YYYY-MM-DD"), "{error}");
    let error = report(&cache, &query("2026-12-01", "2026-12-01", "Berlin"), D0)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("IANA"), "{error}");
}

#[tokio::test]
async fn retention_leaves_past_figures_and_erasure_takes_the_customer_out() {
    let mut log = Log::default();
    log.setup(None)
        .customer("US.old", "w1", at(9, 0) - 100 * DAY)
        .reply("m_ana", "US.old", "r1", at(9, 10) - 100 * DAY)
        .status("m_ana", "US.old", "resolved", at(9, 20) - 100 * DAY)
        .customer("US.new", "w2", at(9, 0))
        .assign("m_ana", "US.new", "m_bo", at(9, 1))
        .reply("m_bo", "US.new", "r2", at(9, 5));
    let (_dir, cache) = cache_with(&log).await;
    let year = query("2025-12-08", "2026-12-07", "UTC");
    let before = report(&cache, &year, at(14, 0)).await.unwrap();
    assert_eq!(
        (
            before.conversations.opened,
            before.messages.received,
            before.messages.sent
        ),
        (2, 2, 2)
    );

    // Conversations idle for 30 days go: the old one's messages are deleted, its figures stay.
    support::apply(
        &cache,
        &[RelayEvent {
            seq: 100,
            kind: "workspace.retention".into(),
            at: at(10, 0),
            author: Some("relay".into()),
            payload: json!({ "conversation_days": 30, "media_days": null }),
        }],
    )
    .await;
    let expired = zentro_core::rights::enforce_retention(&cache, at(14, 0))
        .await
        .unwrap();
    assert_eq!(expired.conversations, 1);
    assert_eq!(report(&cache, &year, at(14, 0)).await.unwrap(), before);
    let kept: Vec<Option<i64>> =
        sqlx::query_scalar("SELECT conversation_id FROM report_episodes ORDER BY id")
            .fetch_all(cache.pool())
            .await
            .unwrap();
    assert_eq!(kept.len(), 2);
    assert_eq!(
        kept[0], None,
        "the expired opening keeps no conversation id"
    );

    // US.new is erased: nothing of theirs stays in the rollups.
    let salt = "00ff";
    let hash = zentro_core::rights::erasure_hash(salt, "whatsapp:P", "US.new");
    support::apply(
        &cache,
        &[RelayEvent {
            seq: 101,
            kind: "contact.erased".into(),
            at: at(15, 0),
            author: Some("relay".into()),
            payload: json!({ "salt": salt, "hash": hash }),
        }],
    )
    .await;
    let after = report(&cache, &year, at(16, 0)).await.unwrap();
    assert_eq!(
        (
            after.conversations.opened,
            after.messages.received,
            after.messages.sent
        ),
        (1, 1, 1)
    );
    assert_eq!(after.by_agent.len(), 1, "Bo's only work was for US.new");
    assert_eq!(after.by_agent[0].member_id, "m_ana");
    assert_eq!(after.by_agent[0].assigned, 0);
    let counted: i64 = sqlx::query_scalar("SELECT coalesce(sum(count), 0) FROM report_counts")
        .fetch_one(cache.pool())
        .await
        .unwrap();
    assert_eq!(counted, 2, "the old customer's message and Ana's reply");
}

#[tokio::test]
async fn an_existing_cache_is_filled_when_the_migrations_run_and_keeps_counting_the_same() {
    // A history without reopenings, so one opening per conversation is all of it.
    let mut log = Log::default();
    log.setup(None)
        .customer("US.1", "w1", at(9, 0))
        .reply("automation:greeting", "US.1", "a1", at(9, 0) + 5_000)
        .route("automation:menu", "US.1", "billing", at(9, 1))
        .assign("automation:round_robin", "US.1", "m_ana", at(9, 2))
        .reply("m_ana", "US.1", "r1", at(9, 10))
        .status("m_ana", "US.1", "resolved", at(9, 20))
        .customer("US.2", "w2", at(9, 30))
        .reply("m_bo", "US.2", "r2", at(9, 45))
        .customer("US.3", "w3", at(13, 0));
    let (dir, cache) = cache_with(&log).await;
    let kept = report(&cache, &monday(), at(14, 0)).await.unwrap();
    let rows = rollups(&cache).await;
    assert_eq!(kept.conversations.opened, 3);

    // The cache as it was before the reports: no rollups, none of their migrations applied.
    for sql in [
        "DROP TABLE report_counts",
        "DROP TABLE report_episodes",
        "DROP TABLE report_message_arrivals",
        "DROP TABLE survey_answer_candidates",
        "DROP TRIGGER report_message_arrived",
        "DROP TRIGGER messages_survey_answer_candidate",
        "DROP TRIGGER report_message_accepted",
        "DROP TRIGGER report_message_author",
        "DROP TRIGGER report_activity",
        "DROP TRIGGER report_conversation_expired",
        "ALTER TABLE conversations DROP COLUMN report_episode_id",
        "ALTER TABLE conversations DROP COLUMN report_episode_resolved",
        "DELETE FROM _sqlx_migrations WHERE version IN (20261206200000, 20261207000000)",
    ] {
        sqlx::query(sql).execute(cache.pool()).await.unwrap();
    }
    cache.close().await;
    let cache = Cache::open_in(dir.path()).await.unwrap();
    assert_eq!(rollups(&cache).await, rows);
    assert_eq!(report(&cache, &monday(), at(14, 0)).await.unwrap(), kept);

    // What comes next is counted as in a cache that had the rollups all along: US.1 writes to
    // its resolved conversation (a reopening), US.2 and US.3 write again, Bo answers US.3.
    let mut whole = Log {
        events: log.events.clone(),
    };
    whole
        .customer("US.1", "w4", at(15, 0))
        .customer("US.2", "w5", at(15, 5))
        .customer("US.3", "w6", at(15, 6))
        .reply("m_bo", "US.3", "r3", at(15, 30));
    let next = &whole.events[log.events.len()..];
    apply_batch(&cache, "ws", next).await.unwrap();
    let (_all_along_dir, all_along) = cache_with(&whole).await;
    assert_eq!(rollups(&cache).await, rollups(&all_along).await);
    let later = report(&all_along, &monday(), at(16, 0)).await.unwrap();
    assert_eq!(later.conversations.reopened, 1);
    assert_eq!(report(&cache, &monday(), at(16, 0)).await.unwrap(), later);
}

#[tokio::test]
async fn a_survey_answer_reopens_nothing_and_counts_as_received() {
    // US.1 writes at 9:00, Ana answers at 9:05 and resolves at 9:10; the survey goes out then, the
    // customer answers "5" at 9:12 (and a comment at 9:13), then writes again at 11:00.
    let mut log = Log::default();
    log.customer("US.1", "w1", at(9, 0))
        .reply("m_ana", "US.1", "r1", at(9, 5))
        .status("m_ana", "US.1", "resolved", at(9, 10))
        .reply("automation:csat", "US.1", "q1", at(9, 10));
    let seq = log.events.len() as i64 + 1;
    log.events.push(support::wa_text(
        seq,
        "US.1",
        "US.1",
        "w2",
        "5",
        at(9, 12) / 1000,
    ));
    let (_dir, cache) = cache_with(&log).await;
    let got = report(&cache, &monday(), at(10, 0)).await.unwrap();
    assert_eq!(
        got.conversations,
        ConversationCounts {
            opened: 1,
            resolved: 1,
            reopened: 0
        },
        "the survey's answer reopened the conversation in the report"
    );
    assert_eq!(got.messages.received, 2);
    assert_eq!(got.resolution_seconds.count, 1);
    assert_eq!(got.resolution_seconds.median, Some(600));
    assert_eq!(got.queue.open_unassigned, 0);

    // A customer's next message (not an answer: the survey's answer came last) reopens it.
    let mut later = Log::default();
    later.events.push(support::wa_text(
        seq + 1,
        "US.1",
        "US.1",
        "w3",
        "one more thing",
        at(11, 0) / 1000,
    ));
    support::apply(&cache, &later.events).await;
    let got = report(&cache, &monday(), at(12, 0)).await.unwrap();
    assert_eq!(
        got.conversations,
        ConversationCounts {
            opened: 2,
            resolved: 1,
            reopened: 1
        }
    );
    assert_eq!(got.messages.received, 3);
}
