//! Erasing a customer everywhere (privacy promise P14): a relay and two devices, one offline
//! while an admin erases. Afterwards no row, search entry, media file, relay event or raw page of
//! any SQLite file holds the customer's name, phone or words; the audit log keeps a receipt with
//! a salted hash only; and the customer writing again starts a new contact.

use std::time::Duration;

use zentro_core::members::Role;
use zentro_core::{Cache, inbox, rights};
use zentro_meta::graph::GraphClient;
use zentro_meta_sim::{Customer, Inbound, SimConfig};

use crate::support::{Device, PHONE, World, contact_of, device, files_holding, found, world, zoe};

/// Zoe's name and phone, as `zoe()` writes in.
const NAME: &str = "Zoe Quintana";
const PHONE_NUMBER: &str = "16505559876";
const WORDS: &str = "parcel code XYZZY-4471";
const CAPTION: &str = "blurry receipt QWERTY-9";

fn other() -> Customer {
    Customer {
        id: "US.5005006007".into(),
        phone: Some("16505550001".into()),
        name: "Kai Other".into(),
    }
}

/// Whether nothing is at `path` (a panic if the file system cannot say).
fn absent(path: &std::path::Path) -> bool {
    !path
        .try_exists()
        .unwrap_or_else(|e| panic!("could not tell whether {} exists: {e}", path.display()))
}

/// Syncs `d` as a desk does: events, then media, then the cleanup of erased customers.
async fn sync(w: &World, d: &Device) {
    w.sync(d).await;
    w.download_media(d, &w.channel_token).await;
    rights::cleanup(&d.cache).await.unwrap();
}

async fn zoe_contact(cache: &Cache) -> Option<i64> {
    contact_of(cache, &zoe()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_customer_leaves_no_byte_on_any_device_or_the_relay() {
    let w = world(SimConfig::default()).await;
    let a = device(&w, "admin laptop").await;
    let b = device(&w, "laptop left closed").await;
    let image = b"\x89PNG\r\n\x1a\n zoe's receipt photo bytes".to_vec();
    w.text_from(&zoe(), &format!("Hi, my {WORDS}")).await;
    w.sim
        .customer_writes(
            PHONE,
            &zoe(),
            Inbound::Image {
                bytes: image.clone(),
                caption: Some(CAPTION.into()),
            },
        )
        .await;
    w.text_from(&other(), "unrelated question").await;
    w.sim.settle(Duration::from_secs(5)).await;
    sync(&w, &a).await;
    sync(&w, &b).await;
    let on_a = zoe_contact(&a.cache).await.expect("Zoe on device A");
    assert!(zoe_contact(&b.cache).await.is_some());
    assert_eq!(found(&a.cache, "XYZZY").await, 1);
    assert!(
        !files_holding(a._dir.path(), "zoe's receipt photo").is_empty(),
        "the photo was stored on A"
    );
    // The search below can find them: before the erasure every place holds them.
    let relay_dir = w.relay.dir.path().to_path_buf();
    for dir in [a._dir.path(), b._dir.path(), relay_dir.as_path()] {
        for needle in [NAME, PHONE_NUMBER, "XYZZY"] {
            assert!(
                !files_holding(dir, needle).is_empty(),
                "{needle} not found in {dir:?} before"
            );
        }
    }
    let preview = rights::preview(&a.cache, on_a).await.unwrap();
    assert_eq!(
        (preview.conversations, preview.messages, preview.media_files),
        (1, 2, 1)
    );

    // B is offline (not syncing) while A's admin erases Zoe everywhere.
    let receipt = rights::erase_everywhere(&a.cache, &a.client, &a.token, on_a)
        .await
        .unwrap();
    assert_eq!((receipt.messages, receipt.media_files), (2, 1));
    assert!(receipt.relay_events_purged >= 2, "{receipt:?}");
    assert!(zoe_contact(&a.cache).await.is_none());
    assert_eq!(found(&a.cache, "XYZZY").await, 0);
    assert_eq!(found(&a.cache, "Quintana").await, 0);
    assert_eq!(
        found(&a.cache, "unrelated").await,
        1,
        "other customers stay"
    );

    // Weeks later B syncs: it erases Zoe too.
    sync(&w, &b).await;
    assert!(zoe_contact(&b.cache).await.is_none());
    assert!(inbox::contacts(&b.cache).await.unwrap().len() == 1);

    // Not a byte left: cache files (with their WAL), media, the relay's files.
    for needle in [NAME, PHONE_NUMBER, WORDS, CAPTION, "XYZZY"] {
        for dir in [a._dir.path(), b._dir.path(), relay_dir.as_path()] {
            let found = files_holding(dir, needle);
            assert!(found.is_empty(), "{needle:?} is still in {found:?}");
        }
    }
    let photo = files_holding(a._dir.path(), "zoe's receipt photo");
    assert!(photo.is_empty(), "the photo is still in {photo:?}");

    // The receipt: who erased, with the salted hash, never an identifier.
    let audit = a.client.audit(&a.token, None, 50).await.unwrap();
    let entry = audit
        .entries
        .iter()
        .find(|e| e.action == "data.erasure")
        .expect("a receipt");
    assert_eq!(
        entry.subject.as_deref(),
        Some(format!("sha256:{}", receipt.hash).as_str())
    );
    assert_eq!(entry.actor_email.as_deref(), Some("owner@acme.test"));
    let text = format!("{audit:?}");
    for needle in [NAME, PHONE_NUMBER, zoe().id.as_str()] {
        assert!(!text.contains(needle), "{needle} in the audit log");
    }

    // Zoe writes again: a new contact, with only the new message.
    w.text_from(&zoe(), "hello again").await;
    w.sim.settle(Duration::from_secs(5)).await;
    sync(&w, &a).await;
    let again = zoe_contact(&a.cache).await.expect("a new contact");
    assert_ne!(again, on_a);
    assert_eq!(rights::preview(&a.cache, again).await.unwrap().messages, 1);
    w.relay.signal_stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cannot_erase_and_nothing_is_deleted() {
    let w = world(SimConfig::default()).await;
    let owner = device(&w, "owner laptop").await;
    let invitation = owner
        .client
        .invite(&owner.token, "agent@acme.test", "Agent", Role::Agent)
        .await
        .unwrap();
    let (agent_token, _) = owner
        .client
        .accept_invitation(
            &invitation.code,
            &zentro_core::vault::Secret::new(crate::support::PASSWORD),
            "agent laptop",
        )
        .await
        .unwrap();
    w.text_from(&zoe(), &format!("my {WORDS}")).await;
    w.sim.settle(Duration::from_secs(5)).await;
    sync(&w, &owner).await;
    let contact = zoe_contact(&owner.cache).await.unwrap();
    let refused = rights::erase_everywhere(&owner.cache, &owner.client, &agent_token, contact)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            rights::ErasureError::Relay(zentro_core::relay_client::SyncError::Forbidden(_))
        ),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("nothing was deleted"));
    assert!(zoe_contact(&owner.cache).await.is_some());
    assert_eq!(found(&owner.cache, "XYZZY").await, 1);
    w.relay.signal_stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminating_the_workspace_deletes_its_data_on_the_relay_and_every_device() {
    use std::sync::Arc;
    use zentro_core::desk::{Desk, DeskConfig, SyncState};
    use zentro_core::vault::{Secret, Vault};

    let w = world(SimConfig::default()).await;
    let laptop = device(&w, "laptop").await;
    w.text_from(&zoe(), &format!("my {WORDS}")).await;
    w.sim.settle(Duration::from_secs(5)).await;
    sync(&w, &laptop).await;
    std::fs::write(laptop._dir.path().join("account.json"), "{}").unwrap();
    // The laptop keeps its device token in the keychain, as the app does.
    let vault = Vault::system();
    let entry = Vault::device_entry(laptop.client.base_url(), "owner@acme.test");
    let (writer, name, token) = (vault.clone(), entry.clone(), laptop.token.clone());
    tokio::task::spawn_blocking(move || writer.store(&name, &token))
        .await
        .unwrap()
        .unwrap();

    // The owner terminates the workspace from another device (the name must match).
    let phone = device(&w, "phone").await;
    let wrong = phone.client.terminate_workspace(&phone.token, "acme").await;
    assert!(wrong.is_err(), "the confirmation must be the exact name");
    phone
        .client
        .terminate_workspace(&phone.token, "Acme")
        .await
        .unwrap();
    assert!(
        files_holding(w.relay.dir.path(), NAME).is_empty(),
        "the relay deleted the workspace's data at once"
    );

    // The laptop's desk learns it at its next sync and deletes everything of the workspace.
    let graph = GraphClient::new(&w.sim.base_url()).unwrap();
    let desk = Desk::start(DeskConfig {
        cache: laptop.cache.clone(),
        relay: laptop.client.clone(),
        token: laptop.token.clone(),
        workspace_id: w.relay.workspace.clone(),
        member: zentro_core::members::Member {
            id: laptop.member_id.clone(),
            email: "owner@acme.test".into(),
            display_name: "Owner".into(),
            role: Role::Owner,
        },
        graph,
        tokens: Arc::new(|_| None),
        data_dir: laptop._dir.path().to_path_buf(),
        channel_keychain: Some(vault.clone()),
    });
    crate::support::wait_for("the desk to learn of the termination", || async {
        matches!(desk.sync_state(), SyncState::Terminated { .. })
    })
    .await;
    let SyncState::Terminated {
        files,
        keychain_entries,
    } = desk.sync_state()
    else {
        unreachable!()
    };
    assert!(
        files >= 2 && keychain_entries >= 1,
        "{files} files, {keychain_entries} entries"
    );
    assert!(absent(&laptop._dir.path().join("cache.sqlite")));
    assert!(absent(&laptop._dir.path().join("account.json")));
    let (reader, name) = (vault.clone(), entry.clone());
    let left: Option<Secret> = tokio::task::spawn_blocking(move || reader.read(&name))
        .await
        .unwrap()
        .unwrap();
    assert!(left.is_none(), "the device token left the keychain");
    for needle in [NAME, WORDS] {
        let found = files_holding(laptop._dir.path(), needle);
        assert!(found.is_empty(), "{needle:?} is still in {found:?}");
    }
    desk.stop().await;
    w.relay.signal_stop();
}
