//! The operator's command line on whichever backend the suite runs on (a data directory, or
//! `ZENTRO_RELAY_DATABASE_URL`): every subcommand that touches the database works on both.

use std::io::Write;
use std::process::Stdio;

use serde_json::Value;
use zentro_relay::Store;
use zentro_relay::sealing::{TokenKey, TokenKeys};
use zentro_relay::store::DatabaseLocation;

use crate::crash::{cli, relay_command, serve, wait_healthy};
use crate::support::{fresh_database, post_webhook, wa_text};

/// Runs a subcommand with extra environment and `stdin`; its standard output.
fn run(
    dir: &std::path::Path,
    database: Option<&str>,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: &str,
) -> String {
    let mut command = relay_command(dir, database);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subcommand_works_on_the_suites_backend() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database().await;
    let db = url.as_deref();
    let location = DatabaseLocation::new(dir.path(), db);
    let create = [
        "workspace",
        "create",
        "--name",
        "Acme",
        "--owner-email",
        "o@acme.test",
    ];
    let workspace = cli(dir.path(), db, &create, Some(crate::support::PASSWORD));
    let add = [
        "channel",
        "add",
        "--workspace",
        &workspace,
        "--kind",
        "whatsapp",
    ];
    cli(
        dir.path(),
        db,
        &[&add[..], &["--external-id", "P1"]].concat(),
        None,
    );
    let listed: Value =
        serde_json::from_str(&cli(dir.path(), db, &["channel", "list", "--json"], None)).unwrap();
    assert_eq!(listed[0]["external_id"], "P1", "{listed}");
    assert_eq!(listed[0]["workspace_id"], workspace.as_str());
    let channel = listed[0]["id"].as_str().unwrap().to_string();

    // A token sealed under one key, then sealed again under a new one.
    let old_key = cli(dir.path(), db, &["key", "generate"], None);
    let new_key = cli(dir.path(), db, &["key", "generate"], None);
    let token = "EAAGm0PX4ZCpsBAtoken-of-the-operator";
    let set = ["channel", "set-token", "--channel", &channel];
    run(
        dir.path(),
        db,
        &[("ZENTRO_RELAY_TOKEN_KEY", &old_key)],
        &set,
        token,
    );
    let rotation = [
        ("ZENTRO_RELAY_TOKEN_KEY", new_key.as_str()),
        ("ZENTRO_RELAY_TOKEN_KEY_PREVIOUS", old_key.as_str()),
    ];
    run(dir.path(), db, &rotation, &["channel", "reseal"], "");
    let store = Store::open_at(&location).await.unwrap();
    let sealed = store.channel_token(&channel).await.unwrap().unwrap();
    let new_only = TokenKeys {
        current: TokenKey::parse(&new_key).unwrap(),
        previous: None,
    };
    assert_eq!(
        new_only.open(&channel, &sealed.sealed).unwrap().as_str(),
        token
    );
    store.close().await;

    // A webhook for a number nobody has waits in the quarantine, which the CLI lists.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut relay = serve(dir.path(), db, port);
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base).await;
    post_webhook(&base, &wa_text("P-UNKNOWN", "wamid.q", "hello")).await;
    relay.kill().unwrap();
    relay.wait().unwrap();
    let quarantined: Value = serde_json::from_str(&cli(
        dir.path(),
        db,
        &["quarantine", "list", "--json"],
        None,
    ))
    .unwrap();
    assert_eq!(quarantined[0]["route_id"], "P-UNKNOWN", "{quarantined}");
}
