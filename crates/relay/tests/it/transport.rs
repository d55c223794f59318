//! Promise P16 on the relay: no plaintext listener off loopback unless a TLS proxy is declared
//! (with an https public address), `/metrics` names no workspace without the metrics token, and
//! traces carry no query string.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use zentro_relay::Config;
use zentro_relay::config::{ServeArgs, VerifyToken};

use crate::support::TestRelay;

#[derive(Parser)]
struct Serve {
    #[command(flatten)]
    args: ServeArgs,
}

/// The settings `zentro-relay serve` makes of `args` (after an app secret and a verify token), or
/// why it refuses them.
pub(crate) fn config(args: &[&str]) -> anyhow::Result<Config> {
    let mut argv = vec![
        "serve",
        "--meta-app-secret",
        "s",
        "--meta-verify-token",
        "v",
    ];
    argv.extend_from_slice(args);
    Serve::try_parse_from(argv).unwrap().args.into_config()
}

fn refusal(args: &[&str]) -> String {
    match config(args) {
        Ok(_) => panic!("{args:?} was accepted"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn plaintext_off_loopback_is_refused_unless_behind_a_tls_proxy_with_an_https_public_url() {
    for listen in ["0.0.0.0:8787", "192.0.2.10:8787", "[::]:8787"] {
        let message = refusal(&["--listen", listen]);
        assert!(message.contains("not loopback"), "{listen}: {message}");
        assert!(
            message.contains("ZENTRO_RELAY_BEHIND_TLS_PROXY"),
            "{listen}: {message}"
        );
    }
    let message = refusal(&["--listen", "0.0.0.0:8787", "--behind-tls-proxy"]);
    assert!(message.contains("ZENTRO_RELAY_PUBLIC_URL"), "{message}");
    let message = refusal(&[
        "--listen",
        "0.0.0.0:8787",
        "--behind-tls-proxy",
        "--public-url",
        "http://relay.example.com",
    ]);
    assert!(message.contains("https://"), "{message}");
    // A plain-http public address is refused on loopback too: desks would refuse its links.
    let message = refusal(&["--public-url", "http://relay.example.com"]);
    assert!(message.contains("https://"), "{message}");

    for accepted in [
        &["--listen", "127.0.0.1:8787"][..],
        &["--listen", "[::1]:8787"][..],
        &["--public-url", "http://127.0.0.1:8787"][..],
        &[
            "--listen",
            "0.0.0.0:8787",
            "--behind-tls-proxy",
            "--public-url",
            "https://relay.example.com",
        ][..],
    ] {
        if let Err(error) = config(accepted) {
            panic!("{accepted:?} was refused: {error}");
        }
    }
}

#[test]
fn the_served_binary_refuses_to_start_on_a_public_plaintext_address() {
    let dir = tempfile::tempdir().unwrap();
    // Started anyway, it would run until killed: give it ten seconds, then stop it.
    let serve = |envs: &[(&str, &str)]| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_zentro-relay"))
            .arg("serve")
            .env("ZENTRO_RELAY_DATA_DIR", dir.path())
            .env("ZENTRO_RELAY_META_APP_SECRET", "s")
            .env("ZENTRO_RELAY_META_VERIFY_TOKEN", "v")
            .env("ZENTRO_RELAY_LISTEN", "0.0.0.0:0")
            .env_remove("ZENTRO_RELAY_PUBLIC_URL")
            .env_remove("ZENTRO_RELAY_BEHIND_TLS_PROXY")
            .envs(envs.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
        }
        child.wait_with_output().unwrap()
    };
    let refused = serve(&[]);
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        message.contains("ZENTRO_RELAY_BEHIND_TLS_PROXY"),
        "{message}"
    );
    // The flag from the environment is read, and then the public address is required.
    let refused = serve(&[("ZENTRO_RELAY_BEHIND_TLS_PROXY", "1")]);
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(message.contains("ZENTRO_RELAY_PUBLIC_URL"), "{message}");
}

async fn metrics(relay: &TestRelay, bearer: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get("/metrics");
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = relay.request(request.body(Body::empty()).unwrap()).await;
    (
        response.status,
        String::from_utf8_lossy(&response.body).into_owned(),
    )
}

#[tokio::test]
async fn metrics_show_anyone_aggregates_and_only_the_token_holder_each_workspace() {
    let relay = TestRelay::start_with(|c| {
        c.metrics_token = Some(VerifyToken::new("scrape-secret-0123456789"))
    })
    .await;
    let acme = relay.workspace("Acme", "owner@acme.test", "P1").await;
    let other = relay.workspace("Other", "owner@other.test", "P2").await;
    let _devices = (
        relay.sign_in("owner@acme.test").await,
        relay.sign_in("owner@other.test").await,
    );
    relay.post_wa_text("P1", "wamid.1", "hi").await;
    relay.post_wa_text("P2", "wamid.2", "hi").await;

    let (status, anonymous) = metrics(&relay, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        anonymous.contains("zentro_webhooks_accepted_total 2"),
        "{anonymous}"
    );
    assert!(
        anonymous.contains("zentro_oldest_unacknowledged_event_age_seconds "),
        "{anonymous}"
    );
    for id in [&acme, &other] {
        assert!(
            !anonymous.contains(id.as_str()),
            "a workspace id: {anonymous}"
        );
    }
    assert!(!anonymous.contains("workspace="), "{anonymous}");

    let (status, scraper) = metrics(&relay, Some("scrape-secret-0123456789")).await;
    assert_eq!(status, StatusCode::OK);
    for id in [&acme, &other] {
        assert!(
            scraper.contains(&format!(
                "zentro_oldest_unacknowledged_event_age_seconds{{workspace=\"{id}\"}}"
            )),
            "{scraper}"
        );
    }

    let (status, body) = metrics(&relay, Some("guess")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!body.contains(acme.as_str()));
    // A relay without a metrics token gives nobody the per-workspace series.
    let open = TestRelay::start().await;
    open.workspace("Acme", "owner@acme.test", "P1").await;
    assert_eq!(metrics(&open, Some("")).await.0, StatusCode::UNAUTHORIZED);
}

/// Everything the relay traces while `run` runs, at debug level, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn traces_name_the_route_never_the_query_string_or_a_capability_in_the_path() {
    let (relay, token) = TestRelay::with_owner("P1").await;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    relay
        .get(
            Some(&token),
            "/v1/events?after=0&limit=7&name=Secret-Invoice-Ana.pdf",
        )
        .await;
    relay
        .request(
            Request::get("/shared/capability-7f3a9c/report.pdf?download=1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    drop(guard);
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("/v1/events"), "the route is traced: {logs}");
    for secret in [
        "after=",
        "Secret-Invoice",
        "download=1",
        "capability-7f3a9c",
        &token,
    ] {
        assert!(!logs.contains(secret), "{secret} in the traces:\n{logs}");
    }
}
