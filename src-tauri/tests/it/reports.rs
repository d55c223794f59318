//! The Reports page's commands through the app's IPC on the mock runtime: a report over the
//! desk's real cache file, a range it refuses as `invalid` with what to write, and the desk's zone.

use serde_json::json;
use tauri::test::get_ipc_response;

use crate::commands::{app_in, json, main_window, request, request_with};

fn query(since: &str, until: &str, zone: &str) -> serde_json::Value {
    json!({ "query": {
        "since": since, "until": until, "time_zone": zone,
        "channel_kind": null, "team_id": null, "member_id": null, "business_hours_only": false,
    }})
}

#[test]
fn a_report_covers_each_day_of_the_range_in_the_zone_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(dir.path());
    let window = main_window(&app);

    let report = json(
        get_ipc_response(
            &window,
            request_with("report", query("2026-02-26", "2026-03-02", "Europe/Berlin")),
        )
        .unwrap(),
    );

    let days: Vec<&str> = report["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["day"].as_str().unwrap())
        .collect();
    assert_eq!(
        days,
        [
            "2026-02-26",
            "2026-02-27",
            "2026-02-28",
            "2026-03-01",
            "2026-03-02"
        ]
    );
    assert_eq!(report["time_zone"], "Europe/Berlin");
    assert_eq!(report["messages"]["received"], 0);
    assert_eq!(
        report["received_by_weekday_hour"].as_array().unwrap().len(),
        7
    );
    assert!(
        dir.path().join("cache.sqlite").is_file(),
        "the report reads the desk's own cache file"
    );
}

#[test]
fn a_range_or_zone_that_cannot_be_used_is_invalid_and_says_what_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(dir.path());
    let window = main_window(&app);

    for (since, until, zone, says) in [
        ("2026-03-02", "2026-03-01", "UTC", "before it starts"),
        ("2026-02-30", "2026-03-01", "UTC", "YYYY-MM-DD"),
        ("2026-03-01", "2026-03-01", "Mars/Olympus", "IANA name"),
    ] {
        let error = get_ipc_response(&window, request_with("report", query(since, until, zone)))
            .expect_err("refused");
        assert_eq!(error["code"], "invalid", "{since}..{until} {zone}: {error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
}

#[test]
fn the_desk_names_its_time_zone() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_in(dir.path());
    let window = main_window(&app);

    let zone = json(get_ipc_response(&window, request("desk_time_zone")).unwrap());
    let zone = zone.as_str().unwrap();
    assert!(
        zone == "UTC" || zone.contains('/'),
        "an IANA name or UTC: {zone}"
    );
}
