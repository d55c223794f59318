//! The database as an attack surface: its URL's password never shows, and whoever can send
//! notifications on it cannot make a device receive anything that was not committed.

use std::time::Duration;

use zentro_relay::Store;
use zentro_relay::store::{DatabaseLocation, redact_url};

use crate::stream::Sse;
use crate::support::{ServedRelay, on_postgres, post_webhook, wa_text};

#[tokio::test]
async fn a_database_urls_password_never_appears_in_errors_or_descriptions() {
    let secret = "pw-that-must-not-leak";
    for url in [
        format!("postgres://zentro:{secret}@127.0.0.1:1/zentro"),
        format!("postgres:///zentro?host=/nonexistent&user=zentro&password={secret}"),
    ] {
        let location = DatabaseLocation::Postgres(url.clone());
        assert!(
            !location.describe().contains(secret),
            "{}",
            location.describe()
        );
        assert!(!redact_url(&url).contains(secret));
        let error = Store::open_at(&location).await.unwrap_err();
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(
            shown.contains("could not open the relay database"),
            "{shown}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_wake_up_delivers_nothing_and_holds_no_real_one_back() {
    if !on_postgres() {
        eprintln!("SKIPPED: needs PostgreSQL (notifications between instances)");
        return;
    }
    let relay = ServedRelay::start("owner@acme.test", "P1").await;
    let token = relay.sign_in("owner@acme.test").await;
    post_webhook(&relay.base, &wa_text("P1", "wamid.1", "first")).await;
    let mut stream = Sse::open(&relay.base, &token, Some(0), None).await;
    assert_eq!(stream.next().await.unwrap().0, 1);
    let workspace = relay.get_json(&token, "/v1/sessions/current").await["workspace"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Someone with access to the database notifies a far-away seq, then garbage.
    let DatabaseLocation::Postgres(url) = &relay.database else {
        unreachable!()
    };
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    for payload in [format!("{workspace} 999999"), "garbage".to_string()] {
        sqlx::query("SELECT pg_notify('zentro_events', $1)")
            .bind(&payload)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;

    // Nothing arrives from it; the next real webhook does, at once (not after the 2 s poll).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let posted = std::time::Instant::now();
    post_webhook(&relay.base, &wa_text("P1", "wamid.2", "second")).await;
    let (seq, event) = stream.next().await.unwrap();
    assert_eq!(seq, 2, "{event}");
    assert!(
        posted.elapsed() < Duration::from_millis(1500),
        "woken by the commit, not the fallback poll: {:?}",
        posted.elapsed()
    );
    relay.stop().await;
}
