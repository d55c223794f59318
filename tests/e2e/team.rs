//! A channel's Meta token travels from the admin, sealed through the relay, into the OS keychain
//! of the team's devices (the real Secret Service), is used to answer a customer, and is dropped
//! when revoked or when the device is signed out. A planted token is then searched for in every
//! file, log line and an export: found only in the keychain.

use std::io::Write;
use std::sync::{Arc, Mutex};

use zentro_core::Cache;
use zentro_core::desk::{Desk, DeskConfig, SyncState};
use zentro_core::members::Member;
use zentro_core::members::Role;
use zentro_core::relay_client::RelayClient;
use zentro_core::vault::{Secret, Vault};
use zentro_meta::graph::{GraphClient, MediaHostPolicy};
use zentro_meta_sim::SimConfig;
use zentro_tests::team::fresh_token_keys;

use crate::support::{
    PASSWORD, answer_the_first_customer, contains, customer, files_holding, keychain, shut_down,
    wait_for, world_with,
};

/// A number no other test uses: keychain entries are shared by the tests of one session.
const PHONE: &str = "106540350009001";

/// A desk as the app runs it for a signed-in member: its own cache in `dir`, Meta at `graph_url`,
/// channel tokens in the real keychain `vault` (`None`: a desk without one, as in the sandbox).
/// Returns the desk and its cache.
pub(crate) async fn keychain_desk(
    relay: &RelayClient,
    token: &Secret,
    identity: &zentro_core::members::Identity,
    graph_url: &str,
    dir: &std::path::Path,
    vault: Option<&Vault>,
) -> (Desk, Cache) {
    let cache = Cache::open_in(dir).await.unwrap();
    let base = url::Url::parse(graph_url).unwrap();
    let graph = GraphClient::new(graph_url)
        .unwrap()
        .with_media_policy(MediaHostPolicy::meta().allow_origin(&base));
    let reader = vault.cloned();
    let desk = Desk::start(DeskConfig {
        cache: cache.clone(),
        relay: relay.clone(),
        token: token.clone(),
        workspace_id: identity.workspace.id.clone(),
        member: Member {
            id: identity.member.id.clone(),
            email: identity.member.email.clone(),
            display_name: identity.member.display_name.clone(),
            role: identity.member.role,
        },
        graph,
        tokens: Arc::new(move |channel: &str| {
            // A keychain error is not "no token": it fails the test, loudly.
            reader
                .as_ref()?
                .read(&Vault::channel_entry(channel))
                .unwrap_or_else(|e| panic!("could not read {channel}'s token: {e}"))
                .map(|s| zentro_meta::AccessToken::new(s.expose()))
        }),
        data_dir: dir.to_path_buf(),
        channel_keychain: vault.cloned(),
    });
    (desk, cache)
}

/// Everything logged in this test process (the relay's and the desk's), to search.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_token_reaches_allowed_devices_keychains_only_and_is_dropped_when_revoked() {
    let logs = Logs::default();
    let writer = logs.clone();
    let _ = tracing_subscriber::fmt()
        .with_env_filter("debug,hyper=info,reqwest=info,sqlx=info")
        .with_writer(move || writer.clone())
        .try_init();

    let key = fresh_token_keys();
    let w = world_with(SimConfig::default(), PHONE, |c| c.token_keys = Some(key)).await;
    let planted = w.channel_token.expose().to_string();
    let vault = Vault::system();
    let entry = Vault::channel_entry(&format!("whatsapp:{PHONE}"));

    // The owner stores the channel's token on the relay from one device…
    let admin = RelayClient::new(&w.relay.url).unwrap();
    let (admin_token, _) = admin
        .sign_in("owner@acme.test", &Secret::new(PASSWORD), "admin desk")
        .await
        .unwrap();
    let channel = admin.channels(&admin_token).await.unwrap().remove(0);
    let stored = admin
        .set_channel_token(&admin_token, &channel.id, &Secret::new(planted.clone()))
        .await
        .unwrap();
    assert_eq!(stored.token_version, Some(1));

    // …and an agent's laptop, running its desk, gets it into its keychain.
    let invitation = admin
        .invite(&admin_token, "agent@acme.test", "Agent", Role::Agent)
        .await
        .unwrap();
    let laptop_dir = tempfile::tempdir().unwrap();
    let relay = RelayClient::new(&w.relay.url).unwrap();
    let (token, identity) = relay
        .accept_invitation(&invitation.code, &Secret::new(PASSWORD), "agent laptop")
        .await
        .unwrap();
    let (desk, cache) = keychain_desk(
        &relay,
        &token,
        &identity,
        &w.sim.base_url(),
        laptop_dir.path(),
        Some(&vault),
    )
    .await;
    wait_for("the token in the agent's keychain", || async {
        keychain(&vault, &entry).await.as_deref() == Some(planted.as_str())
    })
    .await;

    // The token works: a customer writes, the agent answers through Meta with it.
    w.text_from(&customer(3), "Is my order on its way?").await;
    answer_the_first_customer(&desk, &cache, &w.sim, "It ships today.").await;
    assert_eq!(
        w.sim.state().sent[0].body["text"]["body"],
        "It ships today."
    );

    // Revoked on the relay: the device drops its copy on the next sync.
    admin
        .revoke_channel_token(&admin_token, &channel.id)
        .await
        .unwrap();
    wait_for("the token gone from the keychain", || async {
        keychain(&vault, &entry).await.is_none()
    })
    .await;

    // Rotated in again: fetched again. Then the device is signed out by an admin: it drops it.
    admin
        .set_channel_token(&admin_token, &channel.id, &Secret::new(planted.clone()))
        .await
        .unwrap();
    wait_for("the rotated token in the keychain", || async {
        keychain(&vault, &entry).await.is_some()
    })
    .await;
    let laptop = admin
        .devices(&admin_token, true)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.name == "agent laptop")
        .unwrap();
    admin.revoke_device(&admin_token, &laptop.id).await.unwrap();
    wait_for("the revoked device signed out", || async {
        desk.sync_state() == SyncState::SignedOut
    })
    .await;
    wait_for("the token gone after the revocation", || async {
        keychain(&vault, &entry).await.is_none()
    })
    .await;
    desk.stop().await;
    // An export of everything this laptop holds.
    let archive = laptop_dir.path().join("everything.zip");
    zentro_core::export::export(
        &cache,
        zentro_core::export::Scope::All,
        &archive,
        0,
        &mut |_| {},
    )
    .await
    .unwrap();
    cache.close().await;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&archive).unwrap()).unwrap();
    assert!(zip.len() > 3, "the export has content");
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        assert!(
            !contains(&bytes, &planted),
            "the token is in the export's {}",
            entry.name()
        );
        assert!(
            !contains(&bytes, token.expose()),
            "the device token is in the export"
        );
    }

    // The audit log shows who got the token, and the secret is nowhere but where it was sent.
    let audit = admin.audit(&admin_token, None, 200).await.unwrap();
    let issued = audit
        .entries
        .iter()
        .filter(|e| e.action == "channel.token_issued")
        .count();
    assert_eq!(issued, 2, "fetched once per version: {:?}", audit.entries);
    assert!(!format!("{audit:?}").contains(&planted));
    shut_down(&w).await;
    let relay_files = files_holding(w.relay.dir.path(), &planted);
    assert!(
        relay_files.is_empty(),
        "the token in clear in {relay_files:?}"
    );
    let device_files = files_holding(laptop_dir.path(), &planted);
    assert!(
        device_files.is_empty(),
        "the token in clear in {device_files:?}"
    );
    let logged = logs.0.lock().unwrap().clone();
    assert!(!logged.is_empty(), "logs were captured");
    assert!(!contains(&logged, &planted), "the token reached a log line");
    assert!(
        !contains(&logged, token.expose()),
        "the device token reached a log line"
    );
}
