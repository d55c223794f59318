//! `zentro report` on a data folder whose cache was built by applying the relay's events: the
//! `--json` object the issue lists, the filters, the default range, and clear errors.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

#[path = "support/mod.rs"]
#[allow(dead_code)] // shared with the other suites; this one runs `zentro` with an environment
mod support;

use serde_json::{Value, json};
use zentro_core::Cache;
use zentro_core::apply::{RelayEvent, apply_batch};

use support::{stderr, zentro_with};

/// Monday 2026-11-30 09:00 UTC.
const T9: i64 = 1_796_029_200_000;
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

fn customer(seq: i64, customer: &str, wamid: &str, at: i64) -> RelayEvent {
    RelayEvent::webhook(
        seq,
        json!({ "object": "whatsapp_business_account", "entry": [{ "id": "W", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": { "phone_number_id": "P" },
            "contacts": [{ "profile": { "name": "Ana" }, "user_id": customer }],
            "messages": [{ "from_user_id": customer, "id": wamid, "timestamp": (at / 1000).to_string(),
                           "type": "text", "text": { "body": "hello" } }] }}]}]}),
    )
}

fn conversation(customer: &str) -> Value {
    json!({ "channel_kind": "whatsapp", "channel_external_id": "P", "customer_id": customer })
}

/// A data folder whose cache holds a Billing team and one conversation: the customer writes at
/// 09:00, is routed to Billing and assigned to Ana, who answers at 09:10 and resolves at 09:30;
/// another customer writes at 09:05 and waits.
async fn data_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    let events = [
        event(
            1,
            "workspace.automation",
            Some("relay"),
            T9 - MINUTE,
            json!({ "version": 1, "saved_by": "m_admin",
            "setup": { "teams": [{ "id": "billing", "name": "Billing", "members": ["m_ana"] }] } }),
        ),
        customer(2, "US.1", "w1", T9),
        event(
            3,
            "team.routed",
            Some("m_ana"),
            T9 + MINUTE,
            json!({ "type": "routed", "conversation": conversation("US.1"), "team": "billing" }),
        ),
        event(
            4,
            "team.assigned",
            Some("m_ana"),
            T9 + MINUTE,
            json!({ "type": "assigned", "conversation": conversation("US.1"), "assignee": "m_ana" }),
        ),
        event(
            5,
            "message.sent",
            Some("m_ana"),
            T9 + 10 * MINUTE,
            json!({ "client_id": "c1", "external_id": "r1", "channel_kind": "whatsapp", "channel_external_id": "P",
                    "customer_id": "US.1", "body": "Hi", "reply_to": null, "sent_at": T9 + 10 * MINUTE,
                    "author_member_id": "m_ana" }),
        ),
        event(
            6,
            "team.status_changed",
            Some("m_ana"),
            T9 + 30 * MINUTE,
            json!({ "type": "status_changed", "conversation": conversation("US.1"), "status": "resolved" }),
        ),
        customer(7, "US.2", "w2", T9 + 5 * MINUTE),
    ];
    apply_batch(&cache, "ws", &events).await.unwrap();
    cache.close().await;
    dir
}

/// Runs `zentro report args` on `dir` in UTC.
fn report(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    zentro_with(dir, &all, None, &[("TZ", "UTC")])
}

fn json_of(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "{}", stderr(output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn the_json_report_has_the_members_the_issue_lists() {
    let dir = data_folder().await;
    let day = ["--since", "2026-11-30", "--until", "2026-11-30", "--json"];
    let got = json_of(&report(dir.path(), &day));
    assert_eq!(got["since"], "2026-11-30");
    assert_eq!(got["until"], "2026-11-30");
    assert_eq!(got["time_zone"], "UTC");
    assert_eq!(
        got["conversations"],
        json!({ "opened": 2, "resolved": 1, "reopened": 0 })
    );
    assert_eq!(got["messages"], json!({ "received": 2, "sent": 1 }));
    assert_eq!(
        got["first_response_seconds"],
        json!({ "median": 600, "p90": 600, "count": 1 })
    );
    assert_eq!(
        got["resolution_seconds"],
        json!({ "median": 1800, "p90": 1800, "count": 1 })
    );
    // US.2 waits (the queue is now: well past 09:05 of that Monday).
    assert_eq!(got["queue"]["open_unassigned"], 1);
    assert!(got["queue"]["oldest_waiting_seconds"].as_i64().unwrap() > 0);
    // Not signed in: the agent is named by id, with an empty email.
    assert_eq!(
        got["by_agent"],
        json!([{ "member_id": "m_ana", "email": "", "assigned": 1, "replied": 1, "resolved": 1,
                 "first_response_median_seconds": 600 }])
    );
    assert_eq!(
        got["by_channel"],
        json!([{ "channel_kind": "whatsapp", "received": 2, "sent": 1 }])
    );
    let heatmap = got["received_by_weekday_hour"].as_array().unwrap();
    assert_eq!(heatmap.len(), 7);
    assert!(
        heatmap
            .iter()
            .all(|day| day.as_array().unwrap().len() == 24)
    );
    assert_eq!(heatmap[0][9], 2, "Monday, 09:00–10:00 UTC");
    assert_eq!(got["sla"], Value::Null, "no team has a target");

    // In São Paulo those messages came on Monday 06:00.
    let output = zentro_with(
        dir.path(),
        &[
            "report",
            "--since",
            "2026-11-30",
            "--until",
            "2026-11-30",
            "--json",
        ],
        None,
        &[("TZ", "America/Sao_Paulo")],
    );
    let got = json_of(&output);
    assert_eq!(got["time_zone"], "America/Sao_Paulo");
    assert_eq!(got["received_by_weekday_hour"][0][6], 2);
}

#[tokio::test]
async fn filters_take_names_and_unknown_ones_are_clear_errors() {
    let dir = data_folder().await;
    let day = ["--since", "2026-11-30", "--until", "2026-11-30", "--json"];
    let billing = json_of(&report(
        dir.path(),
        &[&day[..], &["--team", "billing"]].concat(),
    ));
    assert_eq!(billing["messages"]["received"], 1);
    let by_name = json_of(&report(
        dir.path(),
        &[&day[..], &["--team", "Billing"]].concat(),
    ));
    assert_eq!(by_name, billing);
    let messenger = json_of(&report(
        dir.path(),
        &[&day[..], &["--channel", "messenger"]].concat(),
    ));
    assert_eq!(messenger["messages"]["received"], 0);

    let unknown = report(dir.path(), &[&day[..], &["--team", "Sales"]].concat());
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("no team named \"Sales\"")
            && stderr(&unknown).contains("Billing (billing)"),
        "{}",
        stderr(&unknown)
    );
    let agent = report(
        dir.path(),
        &[&day[..], &["--agent", "nobody@acme.test"]].concat(),
    );
    assert!(!agent.status.success());
    assert!(
        stderr(&agent).contains("nobody@acme.test"),
        "{}",
        stderr(&agent)
    );
    let backwards = report(
        dir.path(),
        &["--since", "2026-12-08", "--until", "2026-12-01"],
    );
    assert_eq!(backwards.status.code(), Some(2));
    assert!(
        stderr(&backwards).contains("before it starts"),
        "{}",
        stderr(&backwards)
    );
    let bad = report(dir.path(), &["--since", "7 Dec"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("YYYY-MM-DD"), "{}", stderr(&bad));
}

#[tokio::test]
async fn the_default_range_is_the_last_30_days_and_people_get_a_summary() {
    let dir = data_folder().await;
    let got = json_of(&report(dir.path(), &["--json"]));
    let until = got["until"].as_str().unwrap();
    assert_eq!(
        zentro_core::reports::first_of_days(until, 30).unwrap(),
        got["since"].as_str().unwrap()
    );
    assert_eq!(got["daily"].as_array().unwrap().len(), 30);

    let text = report(
        dir.path(),
        &["--since", "2026-11-30", "--until", "2026-11-30"],
    );
    assert!(text.status.success(), "{}", stderr(&text));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("Conversations   opened 2  resolved 1  reopened 0"),
        "{text}"
    );
    assert!(text.contains("First response  median 10m 00s"), "{text}");
    assert!(text.contains("m_ana"), "{text}");
    assert!(text.contains("Mon 09:00 (2)"), "{text}");
}
