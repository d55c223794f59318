//! The database relay instances share: its URL's password never shows; whoever can send
//! notifications on it cannot make a device receive anything that was not committed; two writers
//! keep one order; background work runs on one instance at a time.

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

/// Two relay instances (each with its own writer) on one PostgreSQL append to one workspace
/// while a reader keeps reading the log: it never sees a seq before every smaller one has
/// committed (ADR 0012 §2: a batch holds its workspace's counter row until it commits), and every
/// webhook is there once at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_appending_to_one_workspace_never_show_a_later_seq_before_an_earlier_one() {
    if !on_postgres() {
        eprintln!("SKIPPED: needs PostgreSQL (two writers on one database)");
        return;
    }
    let a = crate::support::TestRelay::start().await;
    let workspace = a.workspace("Acme", "owner@acme.test", "P1").await;
    let database = a.database();
    let DatabaseLocation::Postgres(url) = &database else {
        unreachable!()
    };
    let url = url.clone();
    let b = crate::support::TestRelay::start_with(|c| c.database_url = Some(url)).await;
    let reader = Store::open_at(&database).await.unwrap();

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (done, workspace) = (done.clone(), workspace.clone());
        tokio::spawn(async move {
            let mut reads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let seqs: Vec<i64> = reader
                    .events_after(&workspace, 0, 100_000)
                    .await
                    .unwrap()
                    .iter()
                    .map(|e| e.seq)
                    .collect();
                let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
                assert_eq!(
                    seqs, expected,
                    "a later seq was visible before an earlier one"
                );
                reads += 1;
            }
            reads
        })
    };
    let senders: Vec<_> = [a, b]
        .into_iter()
        .enumerate()
        .map(|(instance, relay)| {
            tokio::spawn(async move {
                for i in 0..150 {
                    let wamid = format!("wamid.{instance}.{i}");
                    assert_eq!(relay.post_wa_text("P1", &wamid, "x").await.status, 200);
                }
                relay
            })
        })
        .collect();
    let mut relays = Vec::new();
    for sender in senders {
        relays.push(sender.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(
        watcher.await.unwrap() > 10,
        "the reader read while both wrote"
    );
    let events = relays[0]
        .store()
        .events_after(&workspace, 0, 1000)
        .await
        .unwrap();
    assert_eq!(events.len(), 300);
}

/// Background work (pruning, channel checks) runs on the holder of its lease; when the holder
/// dies (stops renewing) another instance takes the lease once it expires, and the old holder,
/// back, does not take it again while the new one renews. Both backends.
#[tokio::test]
async fn a_lease_is_held_by_one_instance_and_passes_on_when_its_holder_stops_renewing() {
    let relay = crate::support::TestRelay::start().await;
    let (a, b) = (
        Store::open_at(&relay.database()).await.unwrap(),
        Store::open_at(&relay.database()).await.unwrap(),
    );
    let ttl = Duration::from_millis(400);
    assert!(a.take_lease("prune", "instance-a", ttl).await.unwrap());
    assert!(
        !b.take_lease("prune", "instance-b", ttl).await.unwrap(),
        "held by a"
    );
    assert!(
        a.take_lease("prune", "instance-a", ttl).await.unwrap(),
        "a renews"
    );
    // Another job's lease is independent.
    assert!(
        b.take_lease("channel_health", "instance-b", ttl)
            .await
            .unwrap()
    );
    // a dies: no renewal. Once the lease expires, b takes it over, and keeps it.
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    assert!(
        b.take_lease("prune", "instance-b", ttl).await.unwrap(),
        "taken over"
    );
    assert!(
        !a.take_lease("prune", "instance-a", ttl).await.unwrap(),
        "b holds it now"
    );
    let held: Vec<(String, String)> = a
        .leases()
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.name, l.holder))
        .collect();
    assert!(
        held.contains(&("prune".into(), "instance-b".into())),
        "{held:?}"
    );
    // A stopping holder gives it up at once.
    b.release_lease("prune", "instance-b").await.unwrap();
    assert!(a.take_lease("prune", "instance-a", ttl).await.unwrap());
}
