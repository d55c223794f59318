//! The relay serving HTTPS itself: the certificate in the files is served, a renewal written over
//! them is served without a restart, a broken renewal keeps the previous pair, and nothing is
//! served in plain text on that port. The pairs in `tests/tls/` are self-signed test fixtures
//! (localhost, 127.0.0.1), made with `openssl req -x509 -newkey ec …`.

use std::path::Path;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use zentro_meta::AppSecret;
use zentro_relay::Config;
use zentro_relay::config::VerifyToken;
use zentro_relay::tls::TlsFiles;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/tls")
            .join(name),
    )
    .unwrap()
}

fn der(pem: &[u8]) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem).unwrap().to_vec()
}

/// The certificate the relay at `port` presents (a fresh connection each time).
async fn served_certificate(port: u16) -> Option<Vec<u8>> {
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&fixture("first.crt")).unwrap())
        .add_root_certificate(reqwest::Certificate::from_pem(&fixture("second.crt")).unwrap())
        .tls_info(true)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let response = client
        .get(format!("https://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .map_err(|e| eprintln!("https: {e:?}"))
        .ok()?;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()?
        .peer_certificate()
        .map(<[u8]>::to_vec)
}

async fn until_served(port: u16, expected: &[u8]) {
    for _ in 0..100 {
        if served_certificate(port).await.as_deref() == Some(expected) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the expected certificate was not served within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_is_served_and_a_renewed_certificate_is_taken_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("fullchain.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, fixture("first.crt")).unwrap();
    std::fs::write(&key, fixture("first.key")).unwrap();
    let mut config = Config::new(
        dir.path().join("data"),
        AppSecret::new("s"),
        VerifyToken::new("v"),
    );
    config.database_url = crate::support::fresh_database().await;
    config.tls = Some(TlsFiles {
        cert: cert.clone(),
        key: key.clone(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let relay = tokio::spawn(zentro_relay::run(config, listener, async {
        let _ = stopped.await;
    }));

    until_served(port, &der(&fixture("first.crt"))).await;

    // Plain HTTP on the same port gets nothing.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP was answered: {plain:?}");

    // A renewal (certbot writes the files over): served without a restart.
    std::fs::write(&cert, fixture("second.crt")).unwrap();
    std::fs::write(&key, fixture("second.key")).unwrap();
    until_served(port, &der(&fixture("second.crt"))).await;

    // A broken renewal keeps the pair that works.
    std::fs::write(&cert, b"not a certificate").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        served_certificate(port).await,
        Some(der(&fixture("second.crt")))
    );

    stop.send(()).unwrap();
    relay.await.unwrap().unwrap();
}

#[test]
fn serving_https_itself_allows_any_listen_address_and_needs_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert, fixture("first.crt")).unwrap();
    std::fs::write(&key, fixture("first.key")).unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let parse =
        |extra: &[&str]| crate::transport::config(&[&["--listen", "0.0.0.0:8443"], extra].concat());
    let config = parse(&["--tls-cert", cert, "--tls-key", key]).unwrap();
    assert!(config.tls.is_some());
    let message = parse(&["--tls-cert", cert]).unwrap_err().to_string();
    assert!(message.contains("ZENTRO_RELAY_TLS_KEY_FILE"), "{message}");
    // A key that is not the certificate's is refused at start.
    std::fs::write(dir.path().join("other.pem"), fixture("second.key")).unwrap();
    let other = dir.path().join("other.pem");
    let message = parse(&["--tls-cert", cert, "--tls-key", other.to_str().unwrap()])
        .unwrap_err()
        .to_string();
    assert!(message.contains("do not belong together"), "{message}");
}
