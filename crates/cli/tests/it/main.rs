//! The `zentro` binary against a real relay and the Meta stand-in, with the device token in the
//! real Secret Service (scripts/test.sh provides one).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use zentro_meta_sim::{Customer, Inbound, MetaSim, SimConfig};
use zentro_relay::config::VerifyToken;
use zentro_relay::credentials::hash_password;
use zentro_relay::store::ChannelKind;
use zentro_relay::{Config, Store};

#[path = "../support/mod.rs"]
mod support;

mod assist;
mod automation;
mod broadcasts;
mod templates;

use support::{closed_port, stderr, zentro, zentro_with};

const PASSWORD: &str = "correct horse battery";

/// `zentro`'s exit codes (`Exit` in src/exit.rs), spelled out here: they are a public contract,
/// so these tests notice if one ever changes.
mod exit {
    pub const OTHER: Option<i32> = Some(1);
    pub const USAGE: Option<i32> = Some(2);
    pub const SIGN_IN: Option<i32> = Some(3);
    pub const NETWORK: Option<i32> = Some(4);
    pub const FORBIDDEN: Option<i32> = Some(6);
}

/// Signs `data_dir` in to `relay` as `email` (with [`PASSWORD`]), which must succeed.
fn login(data_dir: &std::path::Path, relay: &str, email: &str) -> Output {
    let login = zentro(
        data_dir,
        &["login", "--relay", relay, "--email", email],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(login.status.success(), "{}", stderr(&login));
    login
}

/// What `zentro args` printed on `data_dir`, as JSON.
fn json(data_dir: &std::path::Path, args: &[&str]) -> Value {
    serde_json::from_slice(&zentro(data_dir, args, None).stdout).unwrap()
}

/// The actions of the entries of an audit log as `zentro audit --json` prints it.
fn actions(audit: &Value) -> Vec<&str> {
    audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

/// A channel a relay's store starts with: a WhatsApp number, its WhatsApp Business account and
/// its name.
struct Channel<'a> {
    number: &'a str,
    waba: Option<&'a str>,
    name: &'a str,
}

/// Sets up a relay to seal channel tokens (with a new key) and talk to `sim` as Meta.
fn talking_to(sim: &MetaSim) -> impl FnOnce(&mut Config) + use<> {
    let graph_url = sim.base_url();
    move |relay_config| {
        relay_config.token_keys = Some(zentro_relay::sealing::TokenKeys {
            current: zentro_relay::sealing::TokenKey::parse(
                &zentro_relay::sealing::TokenKey::generate(),
            )
            .unwrap(),
            previous: None,
        });
        let mut app = zentro_relay::config::MetaApp::new(SimConfig::default().app_id, "5566");
        app.graph_url = graph_url;
        relay_config.meta_app = Some(app);
    }
}

/// A relay on a free loopback port, running until the test ends, on a store in `dir`/relay that
/// holds the workspace `workspace` owned by `email` (`owner`, with [`PASSWORD`]) and `channel`;
/// `adjust` changes its settings. Returns its URL.
async fn serve_relay(
    dir: &std::path::Path,
    (workspace, email, owner): (&str, &str, &str),
    channel: Option<Channel<'_>>,
    app_secret: zentro_meta::AppSecret,
    adjust: impl FnOnce(&mut Config),
) -> String {
    let store = Store::open(&dir.join("relay")).await.unwrap();
    let ws = store
        .create_workspace(workspace, email, owner, &hash_password(PASSWORD))
        .await
        .unwrap();
    if let Some(channel) = channel {
        store
            .add_channel(
                &ws.id,
                ChannelKind::Whatsapp,
                channel.number,
                channel.waba,
                channel.name,
            )
            .await
            .unwrap();
    }
    store.close().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = format!("http://{}", listener.local_addr().unwrap());
    let mut relay_config = Config::new(dir.join("relay"), app_secret, VerifyToken::new("v"));
    adjust(&mut relay_config);
    tokio::spawn(zentro_relay::run(
        relay_config,
        listener,
        std::future::pending::<()>(),
    ));
    relay
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sync_list_show_and_search_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig::default();
    let relay = serve_relay(
        dir.path(),
        ("Acme Support", "agent@acme.test", "Agent"),
        Some(Channel {
            number: "P1",
            waba: None,
            name: "",
        }),
        config.app_secret.clone(),
        |_| {},
    )
    .await;
    let sim = MetaSim::start(config).await.unwrap();
    sim.set_webhook_url(format!("{relay}/webhooks/meta"));
    let channel_token = sim.add_whatsapp_number("W1", "P1", "15550001111");
    let ana = Customer {
        id: "US.1".into(),
        phone: Some("16505551234".into()),
        name: "Ana Souza".into(),
    };
    sim.customer_writes("P1", &ana, Inbound::Text("Where is my refund?".into()))
        .await;
    sim.customer_writes("P1", &ana, Inbound::Text("It has been two weeks".into()))
        .await;
    sim.settle(Duration::from_secs(5)).await;

    let data = dir.path().join("device");
    let data = data.as_path();
    // Not signed in yet: exit code 3 with what to do.
    let early = zentro(data, &["sync"], None);
    assert_eq!(early.status.code(), exit::SIGN_IN, "{}", stderr(&early));
    assert!(stderr(&early).contains("zentro login"));

    let wrong = zentro(
        data,
        &["login", "--relay", &relay, "--email", "agent@acme.test"],
        Some("not the password\n"),
    );
    assert_eq!(wrong.status.code(), exit::SIGN_IN, "{}", stderr(&wrong));
    assert!(!stderr(&wrong).contains("not the password"));

    let login = login(data, &relay, "agent@acme.test");
    assert!(stderr(&login).contains("Signed in to Acme Support"));
    let account = std::fs::read_to_string(data.join("account.json")).unwrap();
    assert!(
        !account.contains("zdt_") && !account.contains(PASSWORD),
        "no secret in the account file"
    );

    let sync = zentro(data, &["sync"], None);
    assert!(sync.status.success(), "{}", stderr(&sync));
    assert!(
        stderr(&sync).contains("synced"),
        "progress on stderr: {}",
        stderr(&sync)
    );

    let list = json(data, &["conversations", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["contact_name"], "Ana Souza");
    assert_eq!(list[0]["unread_count"], 2);
    let id = list[0]["id"].as_i64().unwrap().to_string();

    let people = String::from_utf8(zentro(data, &["conversations"], None).stdout).unwrap();
    assert!(
        people
            .lines()
            .next()
            .unwrap()
            .starts_with("    ID  CHANNEL"),
        "{people}"
    );
    let show = String::from_utf8(zentro(data, &["show", &id], None).stdout).unwrap();
    let lines: Vec<&str> = show.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].ends_with("Where is my refund?") && lines[1].ends_with("It has been two weeks"),
        "oldest first: {show}"
    );

    let hits = json(data, &["search", "refu", "--json"]);
    assert_eq!(hits[0]["conversation_id"].as_i64().unwrap().to_string(), id);

    // Reply: without the channel's token it says what to do; with it, Meta receives one send.
    let graph = sim.base_url();
    let env = [("ZENTRO_GRAPH_URL", graph.as_str())];
    let no_token = zentro_with(data, &["send", &id, "We are on it"], None, &env);
    assert_eq!(no_token.status.code(), exit::OTHER, "{}", stderr(&no_token));
    assert!(
        stderr(&no_token).contains("reconnect the channel"),
        "{}",
        stderr(&no_token)
    );
    let stored = zentro(
        data,
        &["channel-token", "whatsapp:P1"],
        Some(&format!("{}\n", channel_token.expose())),
    );
    assert!(stored.status.success(), "{}", stderr(&stored));
    let sent = zentro_with(data, &["send", &id, "Refund issued today"], None, &env);
    assert!(sent.status.success(), "{}", stderr(&sent));
    assert_eq!(sim.state().sent.len(), 1);
    assert_eq!(
        sim.state().sent[0].body["text"]["body"],
        "Refund issued today"
    );
    sim.settle(Duration::from_secs(5)).await;
    assert!(zentro(data, &["sync"], None).status.success());
    let show = String::from_utf8(zentro(data, &["show", &id], None).stdout).unwrap();
    assert!(show.contains("Refund issued today  [read]"), "{show}");
    let cache_bytes = std::fs::read(data.join("cache.sqlite")).unwrap();
    // No WAL file (checkpointed and removed) holds nothing; any other read error fails the test.
    let wal_bytes = match std::fs::read(data.join("cache.sqlite-wal")) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("could not read the WAL: {e}"),
    };
    for secret in [channel_token.expose().as_bytes(), PASSWORD.as_bytes()] {
        assert!(
            !cache_bytes.windows(secret.len()).any(|w| w == secret),
            "a secret reached the cache file"
        );
        assert!(
            !wal_bytes.windows(secret.len()).any(|w| w == secret),
            "a secret reached the WAL"
        );
    }

    // Data rights from the command line: list, export, erase (the owner may).
    let contacts = json(data, &["contacts", "--json"]);
    assert_eq!(contacts[0]["name"], "Ana Souza");
    let contact = contacts[0]["id"].as_i64().unwrap().to_string();
    let archive = dir.path().join("ana.zip");
    let exported = zentro(
        data,
        &[
            "export",
            "--contact",
            &contact,
            "--out",
            archive.to_str().unwrap(),
        ],
        None,
    );
    assert!(exported.status.success(), "{}", stderr(&exported));
    assert!(stderr(&exported).contains("recorded in the audit log"));
    assert!(std::fs::metadata(&archive).unwrap().len() > 0);
    let unconfirmed = zentro(data, &["erase", "--contact", &contact], None);
    assert_eq!(
        unconfirmed.status.code(),
        exit::USAGE,
        "{}",
        stderr(&unconfirmed)
    );
    assert!(stderr(&unconfirmed).contains("--yes"));
    let erased = zentro(data, &["erase", "--contact", &contact, "--yes"], None);
    assert!(erased.status.success(), "{}", stderr(&erased));
    assert!(String::from_utf8_lossy(&erased.stdout).starts_with("sha256:"));
    let after = json(data, &["contacts", "--json"]);
    assert_eq!(after.as_array().unwrap().len(), 0);
    let audit = json(data, &["audit", "--json"]);
    let actions = actions(&audit);
    assert!(
        actions.contains(&"data.export") && actions.contains(&"data.erasure"),
        "{actions:?}"
    );
    assert!(!audit.to_string().contains("Ana Souza"));

    let token_probe = zentro(data, &["logout"], None);
    assert!(token_probe.status.success(), "{}", stderr(&token_probe));
    assert_eq!(
        zentro(data, &["sync"], None).status.code(),
        exit::SIGN_IN,
        "signed out"
    );
}

#[test]
fn an_unreachable_relay_is_a_network_failure() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let out = zentro(
        dir.path(),
        &[
            "login",
            "--relay",
            &format!("http://127.0.0.1:{port}"),
            "--email",
            "a@b.c",
        ],
        Some("password123\n"),
    );
    assert_eq!(out.status.code(), exit::NETWORK, "{}", stderr(&out));
    assert!(stderr(&out).contains("could not be reached"));
    let usage = zentro(dir.path(), &["frobnicate"], None);
    assert_eq!(usage.status.code(), exit::USAGE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_invites_an_agent_who_joins_and_only_admins_read_the_audit_log() {
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
    let agent = dir.path().join("agent");
    login(&owner, &relay, "owner@team.test");

    // The code alone on stdout, for scripts; the link and expiry for people on stderr.
    let invite = zentro(
        &owner,
        &[
            "team",
            "invite",
            "--email",
            "ana@team.test",
            "--role",
            "agent",
            "--name",
            "Ana",
        ],
        None,
    );
    assert!(invite.status.success(), "{}", stderr(&invite));
    let code = String::from_utf8(invite.stdout.clone())
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(code.len(), 24, "{code}");
    assert!(stderr(&invite).contains("zentro://invite?relay="));

    let short = zentro(
        &agent,
        &["join", "--relay", &relay, "--code", &code],
        Some("short\n"),
    );
    assert_eq!(short.status.code(), exit::OTHER);
    assert!(
        stderr(&short).contains("at least 10 characters"),
        "{}",
        stderr(&short)
    );
    let joined = zentro(
        &agent,
        &[
            "join",
            "--relay",
            &relay,
            "--code",
            &code,
            "--device-name",
            "Ana's laptop",
        ],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(joined.status.success(), "{}", stderr(&joined));
    assert!(stderr(&joined).contains("as ana@team.test (agent)"));

    // The agent is refused the audit log with a reason (exit 6); the owner reads it.
    let refused = zentro(&agent, &["audit"], None);
    assert_eq!(
        refused.status.code(),
        exit::FORBIDDEN,
        "{}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains("only admins"),
        "{}",
        stderr(&refused)
    );
    let audit = zentro(&owner, &["audit", "--json"], None);
    assert!(audit.status.success(), "{}", stderr(&audit));
    let entries: Value = serde_json::from_slice(&audit.stdout).unwrap();
    let actions = actions(&entries);
    for expected in ["member.joined", "member.invited", "sign_in"] {
        assert!(actions.contains(&expected), "{expected} not in {actions:?}");
    }

    // Deactivated, the agent's device is refused at once (exit 3: sign in again).
    let deactivated = zentro(&owner, &["team", "deactivate", "ana@team.test"], None);
    assert!(deactivated.status.success(), "{}", stderr(&deactivated));
    let sync = zentro(&agent, &["sync"], None);
    assert_eq!(sync.status.code(), exit::SIGN_IN, "{}", stderr(&sync));
    let members = json(&owner, &["team", "list", "--json"]);
    let ana = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "ana@team.test")
        .unwrap();
    assert_eq!(ana["status"], "deactivated");
    assert!(ana["last_sign_in_at"].as_i64().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_are_checked_at_meta_and_disconnected_from_the_command_line() {
    let sim = MetaSim::start(SimConfig::default()).await.unwrap();
    let meta_token = sim.add_whatsapp_number("102290129340777", "106540352240777", "15550107777");
    let dir = tempfile::tempdir().unwrap();
    let relay = serve_relay(
        dir.path(),
        ("Acme", "owner@team.test", "Olga"),
        Some(Channel {
            number: "106540352240777",
            waba: Some("102290129340777"),
            name: "Support",
        }),
        SimConfig::default().app_secret,
        talking_to(&sim),
    )
    .await;
    let owner = dir.path().join("owner");
    login(&owner, &relay, "owner@team.test");
    let channel = "whatsapp:106540352240777";
    let set = zentro(
        &owner,
        &["channels", "set-token", channel],
        Some(&format!("{}\n", meta_token.expose())),
    );
    assert!(set.status.success(), "{}", stderr(&set));

    let check = zentro(&owner, &["channels", "check", channel], None);
    assert!(check.status.success(), "{}", stderr(&check));
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "connected");
    sim.state().revoke_token(&meta_token);
    let check = zentro(&owner, &["channels", "check", channel], None);
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        "disconnected"
    );
    assert!(stderr(&check).contains("reconnect"), "{}", stderr(&check));

    let off = zentro(&owner, &["channels", "disconnect", channel], None);
    assert!(off.status.success(), "{}", stderr(&off));
    let channels = json(&owner, &["channels", "list", "--json"]);
    assert_eq!(channels[0]["token_version"], Value::Null);
    assert_eq!(channels[0]["health"], "disconnected");
    let unknown = zentro(&owner, &["channels", "check", "whatsapp:1"], None);
    assert_eq!(unknown.status.code(), exit::USAGE);
}
