//! A desk that was away while the relay pruned events it never received (issue 19, item 8): it
//! is told, erases every customer the relay remembers erasing (the `contact.erased` event itself
//! was pruned), catches up with what remains, and says so; a device token idle past the relay's
//! limit signs the desk out.

use std::time::Duration;

use zentro_core::apply::cursor;
use zentro_core::relay_client::SyncError;
use zentro_core::rights;
use zentro_core::sync::catch_up;
use zentro_events::clock::now_ms;
use zentro_meta_sim::SimConfig;
use zentro_relay::Store;

use crate::support::{Device, World, contact_of, customer, device, found, world, zoe};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// Catches `d` up, collecting the gaps it resynced.
async fn resync(w: &World, d: &Device) -> Vec<zentro_core::gaps::Resync> {
    let mut resynced = Vec::new();
    catch_up(
        &d.cache,
        &d.client,
        &d.token,
        &w.relay.workspace,
        &mut |p| resynced.extend(p.resynced),
    )
    .await
    .unwrap();
    resynced
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_away_past_the_pruning_applies_the_remembered_erasure_and_catches_up() {
    let w = world(SimConfig::default()).await;
    let admin = device(&w, "admin laptop").await;
    let away = device(&w, "laptop left in a drawer").await;
    w.text_from(&zoe(), "parcel code XYZZY-4471").await;
    w.text_from(&customer(1), "first question").await;
    w.sim.settle(Duration::from_secs(5)).await;
    w.sync(&admin).await;
    w.sync(&away).await;
    assert!(contact_of(&away.cache, &zoe()).await.is_some());
    let away_cursor = cursor(&away.cache, &w.relay.workspace).await.unwrap();

    // The laptop is away while the admin erases Zoe and customers keep writing.
    let on_admin = contact_of(&admin.cache, &zoe()).await.unwrap();
    rights::erase_everywhere(&admin.cache, &admin.client, &admin.token, on_admin)
        .await
        .unwrap();
    w.sync(&admin).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    let cut = now_ms();
    tokio::time::sleep(Duration::from_millis(10)).await;
    w.text_from(&customer(2), "while you were away").await;
    w.sim.settle(Duration::from_secs(5)).await;
    w.sync(&admin).await;

    // A month on, the relay prunes what is past its retention, delivered to the laptop or not:
    // the erasure's own event goes too.
    let store = Store::open(&w.relay.data_dir()).await.unwrap();
    let pruned = store
        .prune(cut + 30 * 86_400_000, HOUR, 30 * DAY)
        .await
        .unwrap();
    assert!(pruned >= 1);
    let kept = store
        .events_after(&w.relay.workspace, 0, 1000)
        .await
        .unwrap();
    assert!(!kept.is_empty(), "the new customer's message stays");
    assert!(kept.iter().all(|e| e.kind != "contact.erased"), "{kept:?}");
    assert!(
        kept[0].seq > away_cursor + 1,
        "the laptop's next events are gone"
    );
    let head = store.last_seq(&w.relay.workspace).await.unwrap();
    store.close().await;

    // The laptop comes back.
    let resynced = resync(&w, &away).await;
    assert!(
        contact_of(&away.cache, &zoe()).await.is_none(),
        "Zoe is erased from the laptop though her erasure's event was pruned"
    );
    assert_eq!(found(&away.cache, "XYZZY").await, 0);
    assert!(
        contact_of(&away.cache, &customer(1)).await.is_some(),
        "others stay"
    );
    assert!(
        contact_of(&away.cache, &customer(2)).await.is_some(),
        "what remains is synced"
    );
    assert_eq!(cursor(&away.cache, &w.relay.workspace).await.unwrap(), head);
    assert_eq!(resynced.len(), 1, "{resynced:?}");
    assert_eq!(resynced[0].from, away_cursor + 1);
    assert_eq!(resynced[0].to, kept[0].seq - 1);
    assert_eq!((resynced[0].erasures, resynced[0].contacts_erased), (1, 1));

    // Caught up: no gap any more.
    let again = resync(&w, &away).await;
    assert!(again.is_empty(), "{again:?}");
    w.relay.signal_stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desk_whose_token_was_idle_past_the_limit_must_sign_in_again() {
    let w = world(SimConfig::default()).await;
    let laptop = device(&w, "laptop").await;
    w.sync(&laptop).await;
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        w.relay.data_dir().join("relay.sqlite").display()
    ))
    .await
    .unwrap();
    sqlx::query("UPDATE sessions SET last_seen_at = ?")
        .bind(now_ms() - 91 * 86_400_000)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let refused = catch_up(
        &laptop.cache,
        &laptop.client,
        &laptop.token,
        &w.relay.workspace,
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(refused, SyncError::Unauthorized), "{refused:?}");
    w.relay.signal_stop();
}
