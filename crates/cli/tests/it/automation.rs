//! `zentro teams`, `automation` and `presence` against a real relay: an owner saves a setup from
//! a file, sees its teams with their members' emails, turns the automation on, is refused a save
//! against an old version; an agent may read but not change it, and sets their own presence.

use std::path::Path;

use serde_json::{Value, json};

use super::{PASSWORD, exit, json as json_of, login, serve_relay};
use crate::support::{stderr, zentro};

/// The owner of `owner` invites `email` as an agent, who joins on `agent`.
fn invite_agent(owner: &Path, agent: &Path, relay: &str, email: &str) {
    let invite = zentro(
        owner,
        &["team", "invite", "--email", email, "--role", "agent"],
        None,
    );
    assert!(invite.status.success(), "{}", stderr(&invite));
    let code = String::from_utf8(invite.stdout).unwrap().trim().to_string();
    let joined = zentro(
        agent,
        &["join", "--relay", relay, "--code", &code],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(joined.status.success(), "{}", stderr(&joined));
}

/// The member id of `email`, from `zentro team list --json` on `data_dir`.
fn member_id(data_dir: &Path, email: &str) -> String {
    json_of(data_dir, &["team", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email)
        .and_then(|m| m["id"].as_str())
        .unwrap()
        .to_string()
}

/// A setup with one round-robin team of `members`, answering within 15 minutes, that is the
/// default team of a WhatsApp number.
fn billing_setup(members: &[String]) -> Value {
    json!({
        "enabled": false,
        "teams": [{
            "id": "billing", "name": "Billing", "members": members,
            "assignment": "round_robin", "first_response_minutes": 15
        }],
        "channel_teams": { "whatsapp:106540352242922": "billing" },
        "greeting": { "text": "Hello! We answer within the hour." },
        "agent_keywords": ["agent", "human"]
    })
}

/// Writes `value` as JSON to `name` in `dir`; its path, as the command line takes it.
fn write_json(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_sets_teams_and_automation_from_a_file_and_an_agent_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let relay = serve_relay(
        dir.path(),
        ("Acme", "owner@team.test", "Olga"),
        None,
        zentro_meta::AppSecret::new("secret"),
        |_| {},
    )
    .await;
    let (owner, agent) = (dir.path().join("owner"), dir.path().join("agent"));
    login(&owner, &relay, "owner@team.test");
    invite_agent(&owner, &agent, &relay, "ana@team.test");

    // Never saved: version 0, the automation off, no teams.
    let shown = json_of(&agent, &["automation", "show", "--json"]);
    assert_eq!(shown["version"], 0, "{shown}");
    assert_eq!(shown["setup"]["enabled"], false);
    let no_teams = zentro(&owner, &["teams"], None);
    assert!(no_teams.status.success(), "{}", stderr(&no_teams));
    assert!(
        stderr(&no_teams).contains("No teams yet"),
        "{}",
        stderr(&no_teams)
    );

    let members = [
        member_id(&owner, "owner@team.test"),
        member_id(&owner, "ana@team.test"),
    ];
    let file = write_json(dir.path(), "setup.json", &billing_setup(&members));
    let saved = zentro(&owner, &["automation", "set", &file], None);
    assert!(saved.status.success(), "{}", stderr(&saved));
    assert!(stderr(&saved).contains("version 1"), "{}", stderr(&saved));

    // Teams show members by email, the assignment, the target and the channels they take.
    let teams = json_of(&agent, &["teams", "--json"]);
    assert_eq!(
        teams,
        json!([{
            "id": "billing", "name": "Billing",
            "members": ["owner@team.test", "ana@team.test"],
            "assignment": "round_robin", "first_response_minutes": 15, "own_hours": false,
            "channels": ["whatsapp:106540352242922"]
        }])
    );
    let table = zentro(&agent, &["teams"], None);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("owner@team.test, ana@team.test"), "{table}");
    assert!(table.contains("15 min"), "{table}");

    // Enabled: a new version, the rest kept; readable for people.
    let enabled = zentro(&owner, &["automation", "enable"], None);
    assert!(enabled.status.success(), "{}", stderr(&enabled));
    let shown = json_of(&owner, &["automation", "show", "--json"]);
    assert_eq!(shown["version"], 2);
    assert_eq!(shown["setup"]["enabled"], true);
    assert_eq!(shown["setup"]["teams"][0]["id"], "billing");
    let readable = zentro(&agent, &["automation", "show"], None);
    let readable = String::from_utf8(readable.stdout).unwrap();
    assert!(
        readable.contains("Automation: on (version 2, saved"),
        "{readable}"
    );
    assert!(readable.contains("by owner@team.test"), "{readable}");
    assert!(
        readable.contains("Billing (billing): round_robin; first response within 15 min"),
        "{readable}"
    );
    assert!(
        readable.contains("Greeting: \"Hello! We answer within the hour.\""),
        "{readable}"
    );

    // A save against an old version is refused with what to do.
    let stale = zentro(
        &owner,
        &["automation", "set", &file, "--expected-version", "1"],
        None,
    );
    assert_eq!(stale.status.code(), exit::OTHER, "{}", stderr(&stale));
    assert!(
        stderr(&stale).contains("someone saved the automation meanwhile; reload and try again"),
        "{}",
        stderr(&stale)
    );

    // Agents read but do not change it.
    let refused = zentro(&agent, &["automation", "disable"], None);
    assert_eq!(
        refused.status.code(),
        exit::FORBIDDEN,
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        json_of(&owner, &["automation", "show", "--json"])["version"],
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_setup_that_is_not_one_or_is_invalid_is_refused_as_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let relay = serve_relay(
        dir.path(),
        ("Acme", "owner@team.test", "Olga"),
        None,
        zentro_meta::AppSecret::new("secret"),
        |_| {},
    )
    .await;
    let owner = dir.path().join("owner");
    login(&owner, &relay, "owner@team.test");

    let missing = zentro(
        &owner,
        &["automation", "set", "/nonexistent/setup.json"],
        None,
    );
    assert_eq!(missing.status.code(), exit::USAGE, "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("cannot read"),
        "{}",
        stderr(&missing)
    );

    let typo = write_json(dir.path(), "typo.json", &json!({ "enabeld": true }));
    let not_a_setup = zentro(&owner, &["automation", "set", &typo], None);
    assert_eq!(not_a_setup.status.code(), exit::USAGE);
    assert!(
        stderr(&not_a_setup).contains("is not an automation setup")
            && stderr(&not_a_setup).contains("enabeld"),
        "{}",
        stderr(&not_a_setup)
    );

    // A member who is not in the workspace: the relay's validation says so.
    let stranger = write_json(
        dir.path(),
        "stranger.json",
        &billing_setup(&["no-such-member".into()]),
    );
    let invalid = zentro(&owner, &["automation", "set", &stranger], None);
    assert_eq!(invalid.status.code(), exit::USAGE, "{}", stderr(&invalid));
    assert!(
        stderr(&invalid).contains("the automation setup is not valid"),
        "{}",
        stderr(&invalid)
    );
    assert_eq!(
        json_of(&owner, &["automation", "show", "--json"])["version"],
        0,
        "nothing was saved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_set_their_own_presence_and_see_everyones() {
    let dir = tempfile::tempdir().unwrap();
    let relay = serve_relay(
        dir.path(),
        ("Acme", "owner@team.test", "Olga"),
        None,
        zentro_meta::AppSecret::new("secret"),
        |_| {},
    )
    .await;
    let (owner, agent) = (dir.path().join("owner"), dir.path().join("agent"));
    login(&owner, &relay, "owner@team.test");
    invite_agent(&owner, &agent, &relay, "ana@team.test");

    let away = zentro(&agent, &["presence", "away"], None);
    assert!(away.status.success(), "{}", stderr(&away));
    assert!(
        stderr(&away).contains("You are away (presence: away)"),
        "{}",
        stderr(&away)
    );
    let everyone = json_of(&owner, &["presence", "--json"]);
    let of = |email: &str| {
        everyone
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["email"] == email)
            .cloned()
            .unwrap_or_else(|| panic!("{email} not in {everyone}"))
    };
    assert_eq!(of("ana@team.test")["status"], "away");
    assert_eq!(of("ana@team.test")["presence"], "away");
    assert_eq!(of("owner@team.test")["status"], "available");
    assert_eq!(of("owner@team.test")["presence"], "available");

    let back = zentro(&agent, &["presence", "available"], None);
    assert!(back.status.success(), "{}", stderr(&back));
    let table = zentro(&owner, &["presence"], None);
    let table = String::from_utf8(table.stdout).unwrap();
    let ana = table
        .lines()
        .find(|l| l.starts_with("ana@team.test"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(ana.contains("available"), "{ana}");

    let bad = zentro(&agent, &["presence", "busy"], None);
    assert_eq!(bad.status.code(), exit::USAGE, "{}", stderr(&bad));
}
