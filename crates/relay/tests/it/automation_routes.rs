//! The automation setup (`/v1/automation`) and presence (`/v1/presence`) routes: versioned saves
//! by admins only, checked setups, each workspace's own, the log and audit entries they leave,
//! and presence announced when members set it and when their devices go silent.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::stream::Sse;
use crate::support::{ServedRelay, TestRelay};

/// A setup with one team of `members`, open on weekdays 9 to 17 in `time_zone`, with a greeting.
fn setup_with(members: &[&str], time_zone: &str) -> Value {
    let day = json!([{ "start": "09:00", "end": "17:00" }]);
    json!({
        "enabled": true,
        "hours": {
            "time_zone": time_zone,
            "weekly": [day, day, day, day, day, [], []],
        },
        "teams": [{ "id": "sales", "name": "Sales", "members": members,
                    "assignment": "round_robin" }],
        "greeting": { "text": "Hello! We answer within the hour." },
    })
}

/// The workspace's events of `kind` as the device holding `token` reads them.
async fn events_of(relay: &TestRelay, token: &str, kind: &str) -> Vec<Value> {
    relay
        .events(token, 0)
        .await
        .into_iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

#[tokio::test]
async fn a_saved_setup_reads_back_with_its_version_and_is_in_the_log_and_the_audit() {
    let (relay, owner) = TestRelay::with_owner("P1").await;
    let agent = relay.join(&owner, "agent@acme.test", "agent").await;
    let agent_id = relay.member_id(&owner, "agent@acme.test").await;
    let owner_id = relay.member_id(&owner, "owner@acme.test").await;

    let never = relay.get_json(&agent, "/v1/automation").await;
    assert_eq!(never["version"], 0);
    assert_eq!(never["saved_at"], Value::Null);
    assert_eq!(never["setup"]["enabled"], false);

    let setup = setup_with(&[&agent_id], "Europe/Lisbon");
    let saved = relay
        .put(
            Some(&owner),
            "/v1/automation",
            json!({ "expected_version": 0, "setup": setup }),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{:?}", saved.json());
    assert_eq!(saved.json(), json!({ "version": 1 }));

    // Any member reads it, as saved.
    let read = relay.get_json(&agent, "/v1/automation").await;
    assert_eq!(read["version"], 1);
    assert_eq!(read["saved_by"], owner_id);
    assert!(read["saved_at"].as_i64().unwrap() > 0);
    assert_eq!(read["setup"]["teams"][0]["members"], json!([agent_id]));
    assert_eq!(read["setup"]["hours"]["time_zone"], "Europe/Lisbon");

    // The next save starts from version 1.
    let again = relay
        .put(
            Some(&owner),
            "/v1/automation",
            json!({ "expected_version": 1, "setup": setup_with(&[], "UTC") }),
        )
        .await;
    assert_eq!(again.json(), json!({ "version": 2 }));

    // Every save is a workspace.automation event in the relay's name, read by every member.
    let events = events_of(&relay, &agent, "workspace.automation").await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["author"], "relay");
    assert_eq!(events[0]["payload"]["version"], 1);
    assert_eq!(events[0]["payload"]["saved_by"], owner_id);
    assert_eq!(events[0]["payload"]["setup"]["teams"][0]["id"], "sales");
    assert_eq!(events[1]["payload"]["version"], 2);

    // And an audit entry, which names no text of the setup.
    let audit = relay.get_json(&owner, "/v1/audit").await;
    let saves: Vec<&Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "automation.saved")
        .collect();
    assert_eq!(saves.len(), 2, "{audit}");
    assert_eq!(saves[1]["actor_email"], "owner@acme.test");
    assert_eq!(saves[1]["details"]["version"], 1);
    let summary = saves[1]["details"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("1 teams") && summary.contains("hours on"),
        "{summary}"
    );
    assert!(!audit.to_string().contains("within the hour"), "{audit}");
}

#[tokio::test]
async fn a_save_from_a_stale_version_is_refused_and_changes_nothing() {
    let (relay, owner) = TestRelay::with_owner("").await;
    let admin = relay.join(&owner, "admin@acme.test", "admin").await;
    let first = relay
        .put(
            Some(&admin),
            "/v1/automation",
            json!({ "expected_version": 0, "setup": setup_with(&[], "UTC") }),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.json());

    // The owner's editor was opened before the admin saved.
    let stale = relay
        .put(
            Some(&owner),
            "/v1/automation",
            json!({ "expected_version": 0, "setup": setup_with(&[], "Europe/Paris") }),
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.json()["error"]["code"], "version_conflict");
    assert!(
        stale.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("version 1"),
        "{:?}",
        stale.json()
    );
    let read = relay.get_json(&owner, "/v1/automation").await;
    assert_eq!(read["version"], 1);
    assert_eq!(read["setup"]["hours"]["time_zone"], "UTC");
    assert_eq!(
        events_of(&relay, &owner, "workspace.automation")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn an_invalid_setup_is_refused_with_what_to_fix() {
    let (relay, owner) = TestRelay::with_owner("").await;
    let put = |setup: Value| {
        let relay = &relay;
        let owner = &owner;
        async move {
            relay
                .put(
                    Some(owner),
                    "/v1/automation",
                    json!({ "expected_version": 0, "setup": setup }),
                )
                .await
        }
    };

    let stranger = put(setup_with(&["m_not_in_this_workspace"], "UTC")).await;
    assert_eq!(stranger.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(stranger.json()["error"]["code"], "invalid");
    let message = stranger.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("m_not_in_this_workspace") && message.contains("not a member"),
        "{message}"
    );

    let zone = put(setup_with(&[], "Mars/Olympus")).await;
    assert_eq!(zone.status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = zone.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("Mars/Olympus") && message.contains("time zone"),
        "{message}"
    );

    // A field the setup does not have: serde's message names it.
    let unknown = put(json!({ "enabled": true, "tems": [] })).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.json()["error"]["code"], "invalid");
    assert!(
        unknown.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tems"),
        "{:?}",
        unknown.json()
    );

    assert_eq!(relay.get_json(&owner, "/v1/automation").await["version"], 0);
    assert!(
        events_of(&relay, &owner, "workspace.automation")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn an_agent_cannot_save_the_setup() {
    let (relay, owner) = TestRelay::with_owner("").await;
    let agent = relay.join(&owner, "agent@acme.test", "agent").await;
    let refused = relay
        .put(
            Some(&agent),
            "/v1/automation",
            json!({ "expected_version": 0, "setup": setup_with(&[], "UTC") }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("admins and owners"),
        "{:?}",
        refused.json()
    );
    assert_eq!(relay.get_json(&owner, "/v1/automation").await["version"], 0);
    assert!(
        events_of(&relay, &owner, "workspace.automation")
            .await
            .is_empty()
    );
    let audit = relay.get_json(&owner, "/v1/audit").await;
    assert!(!audit.to_string().contains("automation.saved"), "{audit}");
}

#[tokio::test]
async fn a_member_of_another_workspace_neither_reads_nor_writes_this_ones_setup() {
    let (relay, acme_owner) = TestRelay::with_owner("").await;
    let acme_agent = relay.join(&acme_owner, "agent@acme.test", "agent").await;
    let acme_agent_id = relay.member_id(&acme_owner, "agent@acme.test").await;
    let saved = relay
        .put(
            Some(&acme_owner),
            "/v1/automation",
            json!({ "expected_version": 0, "setup": setup_with(&[&acme_agent_id], "UTC") }),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK);
    relay.workspace("Globex", "owner@globex.test", "").await;
    let globex_owner = relay.sign_in("owner@globex.test").await;

    // Globex's owner reads Globex's (never saved), not Acme's.
    let read = relay.get_json(&globex_owner, "/v1/automation").await;
    assert_eq!(read["version"], 0);
    assert!(!read.to_string().contains(&acme_agent_id));

    // Naming Acme's member in Globex's setup is refused: members are checked per workspace.
    let borrowed = relay
        .put(
            Some(&globex_owner),
            "/v1/automation",
            json!({ "expected_version": 0, "setup": setup_with(&[&acme_agent_id], "UTC") }),
        )
        .await;
    assert_eq!(borrowed.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A save by Globex's owner, even one naming Acme's version, changes Globex's only.
    let own = relay
        .put(
            Some(&globex_owner),
            "/v1/automation",
            json!({ "expected_version": 0, "setup": setup_with(&[], "Asia/Tokyo") }),
        )
        .await;
    assert_eq!(own.json(), json!({ "version": 1 }));
    let acme = relay.get_json(&acme_agent, "/v1/automation").await;
    assert_eq!(acme["version"], 1);
    assert_eq!(acme["setup"]["hours"]["time_zone"], "UTC");
    assert_eq!(
        events_of(&relay, &acme_agent, "workspace.automation")
            .await
            .len(),
        1
    );
    let presence = relay.get_json(&globex_owner, "/v1/presence").await;
    assert!(!presence.to_string().contains(&acme_agent_id), "{presence}");
}

#[tokio::test]
async fn setting_presence_announces_it_once_and_lists_it() {
    let (relay, owner) = TestRelay::with_owner("").await;
    let agent = relay.join(&owner, "agent@acme.test", "agent").await;
    let agent_id = relay.member_id(&owner, "agent@acme.test").await;

    let away = relay
        .put(Some(&agent), "/v1/presence", json!({ "status": "away" }))
        .await;
    assert_eq!(away.status, StatusCode::OK, "{:?}", away.json());
    assert_eq!(away.json(), json!({ "presence": "away" }));
    // The same again changes nothing, and announces nothing.
    relay
        .put(Some(&agent), "/v1/presence", json!({ "status": "away" }))
        .await;
    let back = relay
        .put(
            Some(&agent),
            "/v1/presence",
            json!({ "status": "available" }),
        )
        .await;
    assert_eq!(back.json(), json!({ "presence": "available" }));

    let events = events_of(&relay, &owner, "workspace.presence").await;
    let said: Vec<(&Value, &Value, &Value)> = events
        .iter()
        .map(|e| {
            (
                &e["author"],
                &e["payload"]["member_id"],
                &e["payload"]["presence"],
            )
        })
        .collect();
    assert_eq!(
        said,
        [
            (&json!("relay"), &json!(agent_id), &json!("away")),
            (&json!("relay"), &json!(agent_id), &json!("available")),
        ]
    );

    let listed = relay.get_json(&owner, "/v1/presence").await;
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["member_id"] == agent_id)
        .unwrap()
        .clone();
    assert_eq!(row["status"], "available");
    assert_eq!(row["presence"], "available");
    assert!(row["last_seen_at"].as_i64().is_some());

    let refused = relay
        .put(Some(&agent), "/v1/presence", json!({ "status": "offline" }))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// On a served relay (the presence sweep runs, every 100 ms here, with a 3 s window): a member
/// whose device goes silent is announced offline; a device following the stream stays present.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_whose_devices_go_silent_goes_offline_and_a_streaming_one_stays() {
    let relay = ServedRelay::start_on(
        |config| {
            config.presence_window = Duration::from_millis(3000);
            config.presence_sweep_interval = Duration::from_millis(100);
        },
        async |store| {
            let hash = zentro_relay::credentials::hash_password(crate::support::PASSWORD);
            store
                .create_workspace("Acme", "owner@acme.test", "Owner", &hash)
                .await
                .unwrap();
        },
    )
    .await;
    let owner = relay.sign_in("owner@acme.test").await;
    let silent = relay
        .join(&owner, "silent@acme.test", "agent", "silent laptop")
        .await;
    let streaming = relay
        .join(&owner, "streaming@acme.test", "agent", "streaming laptop")
        .await;
    for token in [&silent.token, &streaming.token] {
        let (status, answer) = relay
            .call(
                token,
                "PUT",
                "/v1/presence",
                json!({ "status": "available" }),
            )
            .await;
        assert_eq!((status, &answer["presence"]), (200, &json!("available")));
    }
    // From here on, both are available; one device follows the stream, the other says nothing.
    let (_, page) = relay
        .call(&owner, "GET", "/v1/events?after=0", Value::Null)
        .await;
    let head = page["head"].as_i64().unwrap();
    let mut stream = Sse::open(&relay.base, &streaming.token, Some(head), None).await;
    let opened_at = zentro_events::clock::now_ms();

    // The stream tells of the silent member going offline once the window passed.
    loop {
        let (_, event) = stream.next().await.unwrap();
        if event["kind"] == "workspace.presence"
            && event["payload"]["member_id"] == silent.member_id
        {
            assert_eq!(event["author"], "relay");
            assert_eq!(event["payload"]["presence"], "offline");
            break;
        }
    }
    assert!(zentro_events::clock::now_ms() >= opened_at + 2000);
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let presence = relay.get_json(&owner, "/v1/presence").await;
    let of = |member: &str| {
        presence
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["member_id"] == member)
            .unwrap()
            .clone()
    };
    assert_eq!(of(&silent.member_id)["presence"], "offline", "{presence}");
    assert_eq!(
        of(&streaming.member_id)["presence"],
        "available",
        "{presence}"
    );
    // The stream records its session in use every second here (a third of the window).
    assert!(
        of(&streaming.member_id)["last_seen_at"].as_i64().unwrap() > opened_at + 3000,
        "{presence}"
    );
    let (_, events) = relay
        .call(
            &owner,
            "GET",
            &format!("/v1/events?after={head}"),
            Value::Null,
        )
        .await;
    let said = |member: &str| -> Vec<String> {
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "workspace.presence" && e["payload"]["member_id"] == member)
            .map(|e| e["payload"]["presence"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(said(&silent.member_id), ["offline"], "{events}");
    assert!(said(&streaming.member_id).is_empty(), "{events}");
    drop(stream);
    relay.stop().await;
}
