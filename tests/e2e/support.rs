//! What the end-to-end tests share: a relay and Meta's stand-in on loopback (a "world"), desks
//! signed in to it, customers writing, waiting for a condition, and looking for bytes in files
//! and in the keychain.

use std::time::Duration;

use zentro_core::relay_client::RelayClient;
use zentro_core::sync::catch_up;
use zentro_core::vault::{Secret, Vault};
use zentro_core::{Cache, inbox};
use zentro_meta::graph::{GraphClient, MediaHostPolicy};
use zentro_meta_sim::{Customer, Inbound, MetaSim, SimConfig};
use zentro_relay::{Config, Store};

use zentro_tests::team::{ACME, workspace_store};
pub(crate) use zentro_tests::team::{PASSWORD, serve_relay};

pub(crate) const PHONE: &str = "106540352242922";
/// The WhatsApp business account of the worlds' number.
pub(crate) const WABA: &str = "102290129340398";

/// A relay store in `dir` with the workspace "Acme", owned by `owner@acme.test` (password
/// [`PASSWORD`]); returns the store, still open, and the workspace's id.
pub(crate) async fn acme_store(dir: &std::path::Path) -> (Store, String) {
    workspace_store(dir, &ACME).await
}

/// The shared world ([`zentro_tests::team::World`]) with the workspace "Acme", and what the
/// end-to-end tests do in it.
pub(crate) struct World(zentro_tests::team::World);

impl std::ops::Deref for World {
    type Target = zentro_tests::team::World;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

pub(crate) async fn world(config: SimConfig) -> World {
    world_with(config, PHONE, |_| {}).await
}

/// A world whose WhatsApp number is `phone` and whose relay settings `adjust` changes.
pub(crate) async fn world_with(
    config: SimConfig,
    phone: &str,
    adjust: impl FnOnce(&mut Config),
) -> World {
    adjusted_world(config, phone, |c, _| adjust(c)).await
}

/// A world whose WhatsApp number is `phone` and whose relay settings `adjust` changes, seeing
/// Meta's stand-in.
pub(crate) async fn adjusted_world(
    config: SimConfig,
    phone: &str,
    adjust: impl FnOnce(&mut Config, &MetaSim),
) -> World {
    World(zentro_tests::team::World::start(&ACME, config, phone, WABA, adjust).await)
}

impl World {
    /// `who` writes `text` to the world's number; returns the message's id at Meta.
    pub(crate) async fn text_from(&self, who: &Customer, text: &str) -> String {
        self.sim
            .customer_writes(&self.phone, who, Inbound::Text(text.into()))
            .await
    }

    /// Brings `d` up to date with the relay (once).
    pub(crate) async fn sync(&self, d: &Device) {
        catch_up(
            &d.cache,
            &d.client,
            &d.token,
            &self.relay.workspace,
            &mut |_| {},
        )
        .await
        .unwrap();
    }

    /// Downloads the media due on `d` (as its media loop does), with `token` for every channel.
    pub(crate) async fn download_media(&self, d: &Device, token: &zentro_meta::AccessToken) {
        let base = url::Url::parse(&self.sim.base_url()).unwrap();
        let graph = GraphClient::new(&self.sim.base_url())
            .unwrap()
            .with_media_policy(MediaHostPolicy::meta().allow_origin(&base));
        let token = token.clone();
        let tokens = move |_: &str| Some(token.clone());
        zentro_core::media::download_due(
            &d.cache,
            &graph,
            &tokens,
            d._dir.path(),
            i64::MAX / 2,
            50,
        )
        .await
        .unwrap();
    }
}

pub(crate) struct Device {
    pub(crate) cache: Cache,
    pub(crate) client: RelayClient,
    pub(crate) token: Secret,
    pub(crate) member_id: String,
    pub(crate) _dir: tempfile::TempDir,
}

pub(crate) async fn device(world: &World, name: &str) -> Device {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_in(dir.path()).await.unwrap();
    let client = RelayClient::new(&world.relay.url).unwrap();
    let (token, identity) = client
        .sign_in("owner@acme.test", &Secret::new(PASSWORD), name)
        .await
        .unwrap();
    assert_eq!(identity.workspace.id, world.relay.workspace);
    Device {
        cache,
        client,
        token,
        member_id: identity.member.id,
        _dir: dir,
    }
}

pub(crate) fn customer(i: usize) -> Customer {
    Customer {
        id: format!("US.{i}"),
        phone: Some(format!("1650555{i:04}")),
        name: format!("Customer {i}"),
    }
}

/// The customer whose erasure the privacy tests follow.
pub(crate) fn zoe() -> Customer {
    Customer {
        id: "US.2002003004".into(),
        phone: Some("16505559876".into()),
        name: "Zoe Quintana".into(),
    }
}

/// The contact `who` is in `cache`, if any.
pub(crate) async fn contact_of(cache: &Cache, who: &Customer) -> Option<i64> {
    inbox::contacts(cache)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.customer_id == who.id)
        .map(|c| c.id)
}

/// Sends `request` and reads the answer as JSON.
pub(crate) async fn answer_json(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Stops the world's relay and waits (up to 10 s) until it shut down, without an error.
pub(crate) async fn shut_down(w: &World) {
    tokio::time::timeout(Duration::from_secs(10), w.relay.shut_down())
        .await
        .unwrap()
        .unwrap();
}

/// Waits (up to 10 s) for `task` to end, which it must do without an error; returns its value.
pub(crate) async fn finished<T, E: std::fmt::Debug>(
    task: tokio::task::JoinHandle<Result<T, E>>,
) -> T {
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

/// How many conversations a search for `word` finds in `cache`.
pub(crate) async fn found(cache: &Cache, word: &str) -> usize {
    inbox::search(cache, word, 10).await.unwrap().len()
}

/// Waits (up to 15 s, naming it `what` if it times out) until `check` holds.
pub(crate) async fn wait_for<F: Fn() -> Fut, Fut: std::future::Future<Output = bool>>(
    what: &str,
    check: F,
) {
    let (timeout, every) = (Duration::from_secs(15), Duration::from_millis(100));
    zentro_tests::wait::until(what, timeout, every, check).await;
}

/// Waits for a customer's message to make a conversation in `cache` (a desk's), answers it with
/// `reply` from `desk`, and waits until Meta (`sim`) got the answer; returns the conversation.
pub(crate) async fn answer_the_first_customer(
    desk: &zentro_core::desk::Desk,
    cache: &Cache,
    sim: &MetaSim,
    reply: &str,
) -> i64 {
    wait_for("the customer's message", || async {
        !inbox::conversations(cache, None, 1)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    let conversation = inbox::conversations(cache, None, 1).await.unwrap()[0].id;
    desk.reply(conversation, reply, None).await.unwrap();
    wait_for("the reply at Meta", || async {
        !sim.state().sent.is_empty()
    })
    .await;
    conversation
}

/// The keychain's secret under `entry` (an error reading it fails the test).
pub(crate) async fn keychain(vault: &Vault, entry: &str) -> Option<String> {
    let (vault, entry) = (vault.clone(), entry.to_string());
    tokio::task::spawn_blocking(move || {
        vault
            .read(&entry)
            .unwrap_or_else(|e| panic!("could not read {entry} from the keychain: {e}"))
            .map(|s| s.expose().to_string())
    })
    .await
    .unwrap()
}

/// Whether `haystack` holds the bytes of `needle`.
pub(crate) fn contains(haystack: &[u8], needle: impl AsRef<[u8]>) -> bool {
    let needle = needle.as_ref();
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir` whose bytes hold `needle`. A file or folder deleted while it is walked
/// (SQLite's `-wal`/`-shm`, a temporary file) holds nothing; any other error reading one fails
/// the test rather than counting as "nothing there". `dir` itself must exist.
pub(crate) fn files_holding(dir: &std::path::Path, needle: impl AsRef<[u8]>) -> Vec<String> {
    use std::io::ErrorKind::NotFound;
    let needle = needle.as_ref();
    let mut found = Vec::new();
    let root = dir.to_path_buf();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == NotFound && dir != root => continue,
            Err(e) => panic!("could not list {}: {e}", dir.display()),
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) if e.kind() == NotFound => continue,
                Err(e) => panic!("could not list {}: {e}", dir.display()),
            };
            let path = entry.path();
            let kind = match entry.file_type() {
                Ok(kind) => kind,
                Err(e) if e.kind() == NotFound => continue,
                Err(e) => panic!("could not stat {}: {e}", path.display()),
            };
            if kind.is_dir() {
                stack.push(path);
            } else {
                let bytes = match std::fs::read(&path) {
                    Ok(bytes) => bytes,
                    Err(e) if e.kind() == NotFound => continue,
                    Err(e) => panic!("could not read {}: {e}", path.display()),
                };
                if contains(&bytes, needle) {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    found
}
