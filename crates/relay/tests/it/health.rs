//! A database that stops taking writes (a full disk, an I/O error) and comes back: webhooks answer
//! 503 while it lasts (Meta retries), `/healthz` says the log cannot be written, sign-in is refused
//! without the database's words, and everything works again once the cause is gone, without a
//! restart.
//!
//! The fault is made the way SQLite fails on a full disk: the write fails and SQLite rolls the
//! transaction back by itself (`RAISE(ROLLBACK, …)` in triggers on the tables every write path
//! uses), so the relay's connection is left believing it is still inside a transaction unless
//! the relay notices.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use zentro_relay::store::DATABASE_FILE;

use crate::support::{PASSWORD, TestRelay, wa_text, wamids};

/// A second connection to the relay's database that can make every write fail, and stop.
struct Fault(SqliteConnection);

impl Fault {
    async fn reconnect(relay: &TestRelay) -> Self {
        Self(
            SqliteConnectOptions::new()
                .filename(relay._dir.path().join(DATABASE_FILE))
                .busy_timeout(std::time::Duration::from_secs(10))
                .connect()
                .await
                .unwrap(),
        )
    }

    async fn install(relay: &TestRelay) -> Self {
        let Self(mut conn) = Self::reconnect(relay).await;
        sqlx::raw_sql(
            r#"CREATE TABLE fault (on_purpose INTEGER);
               CREATE TRIGGER fault_events BEFORE INSERT ON events WHEN EXISTS (SELECT 1 FROM fault)
                 BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full (simulated)'); END;
               CREATE TRIGGER fault_sessions BEFORE INSERT ON sessions WHEN EXISTS (SELECT 1 FROM fault)
                 BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full (simulated)'); END;
               CREATE TRIGGER fault_probe BEFORE UPDATE ON health_probe
                 WHEN EXISTS (SELECT 1 FROM fault WHERE on_purpose = 2)
                 BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full (simulated)'); END;"#,
        )
        .execute(&mut conn)
        .await
        .unwrap();
        Self(conn)
    }

    /// Webhooks and sign-ins fail; `probe_too`: the health probe's small write as well (a full
    /// disk), else it still fits (a nearly full one, as seen on a real full tmpfs).
    async fn start(&mut self, probe_too: bool) {
        sqlx::query("INSERT INTO fault VALUES (?)")
            .bind(if probe_too { 2 } else { 1 })
            .execute(&mut self.0)
            .await
            .unwrap();
    }

    async fn stop(mut self) {
        sqlx::query("DELETE FROM fault")
            .execute(&mut self.0)
            .await
            .unwrap();
        self.0.close().await.unwrap();
    }
}

/// Waits until `/healthz` answers 200; panics after 15 s (a failure counts for 5 s).
async fn eventually_healthy(relay: &TestRelay) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (status, body) = healthz(relay).await;
        if status == StatusCode::OK {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {status}: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

async fn healthz(relay: &TestRelay) -> (StatusCode, String) {
    let response = relay
        .request(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    (
        response.status,
        String::from_utf8_lossy(&response.body).into_owned(),
    )
}

async fn sign_in_status(relay: &TestRelay) -> (StatusCode, serde_json::Value) {
    let body = json!({ "email": "owner@acme.test", "password": PASSWORD, "device_name": "laptop" });
    let response = relay.call("POST", "/v1/sessions", None, Some(body)).await;
    (response.status, response.json())
}

async fn post_text(relay: &TestRelay, wamid: &str) -> StatusCode {
    let body = wa_text("P1", wamid, "hello").to_string();
    relay.post_signed(body.as_bytes()).await.status
}

#[tokio::test]
async fn a_database_that_cannot_write_answers_503_and_the_relay_recovers_by_itself() {
    if crate::support::sqlite_only(
        "a_database_that_cannot_write_answers_503_and_the_relay_recovers_by_itself",
    ) {
        return;
    }
    let relay = TestRelay::start().await;
    relay.workspace("Acme", "owner@acme.test", "P1").await;
    let token = relay.sign_in("owner@acme.test").await;
    assert_eq!(post_text(&relay, "wamid.before").await, StatusCode::OK);
    assert_eq!(healthz(&relay).await.0, StatusCode::OK);

    let mut fault = Fault::install(&relay).await;
    fault.start(false).await;
    // Meta is told to retry: nothing was committed, so nothing may be acknowledged.
    for i in 0..5 {
        assert_eq!(
            post_text(&relay, &format!("wamid.during.{i}")).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    // The probe's own write still commits, but webhooks were just refused.
    let (status, body) = healthz(&relay).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("refused writes"), "{body}");
    // Refused as the relay's failure (retry), without the database's words.
    let (status, answer) = sign_in_status(&relay).await;
    assert!(status.is_server_error(), "{status} {answer}");
    assert!(!answer.to_string().contains("simulated"), "{answer}");

    fault.stop().await;
    fault = Fault::reconnect(&relay).await;
    fault.start(true).await;
    let (status, body) = healthz(&relay).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("cannot be written"), "{body}");

    fault.stop().await;
    // No restart: every later write commits (the relay's pool would otherwise hand out the
    // connection the failed commit left "inside a transaction" again and again), and the health
    // check says so within a few seconds.
    eventually_healthy(&relay).await;
    for i in 0..5 {
        assert_eq!(
            post_text(&relay, &format!("wamid.during.{i}")).await,
            StatusCode::OK,
            "Meta's retry of wamid.during.{i} after the fault"
        );
    }
    for i in 0..20 {
        assert_eq!(
            post_text(&relay, &format!("wamid.after.{i}")).await,
            StatusCode::OK
        );
        if i % 5 == 0 {
            assert_eq!(sign_in_status(&relay).await.0, StatusCode::CREATED);
        }
    }
    let mut expected = vec!["wamid.before".to_string()];
    expected.extend((0..5).map(|i| format!("wamid.during.{i}")));
    expected.extend((0..20).map(|i| format!("wamid.after.{i}")));
    assert_eq!(wamids(&relay.events(&token, 0).await), expected);
}
