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
use zentro_relay::config::VerifyToken;
use zentro_relay::credentials::hash_password;
use zentro_relay::store::ChannelKind;
use zentro_relay::{Config, Store};

pub(crate) const PASSWORD: &str = "correct horse battery";
pub(crate) const PHONE: &str = "106540352242922";

/// A relay serving on a loopback port until `stop` is sent.
pub(crate) struct Served {
    pub(crate) url: String,
    pub(crate) stop: tokio::sync::oneshot::Sender<()>,
    pub(crate) server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Runs a relay with `config` on a free loopback port.
pub(crate) async fn serve_relay(config: Config) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(zentro_relay::run(config, listener, async {
        let _ = stopped.await;
    }));
    Served { url, stop, server }
}

/// A relay store in `dir` with the workspace "Acme", owned by `owner@acme.test` (password
/// [`PASSWORD`]); returns the store, still open, and the workspace's id.
pub(crate) async fn acme_store(dir: &std::path::Path) -> (Store, String) {
    let store = Store::open(dir).await.unwrap();
    let ws = store
        .create_workspace("Acme", "owner@acme.test", "Owner", &hash_password(PASSWORD))
        .await
        .unwrap();
    (store, ws.id)
}

pub(crate) struct World {
    pub(crate) sim: MetaSim,
    pub(crate) channel_token: zentro_meta::AccessToken,
    pub(crate) relay_url: String,
    pub(crate) workspace: String,
    /// The WhatsApp number customers write to.
    pub(crate) phone: String,
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) stop: tokio::sync::oneshot::Sender<()>,
    pub(crate) server: tokio::task::JoinHandle<anyhow::Result<()>>,
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
    let dir = tempfile::tempdir().unwrap();
    let (store, workspace) = acme_store(&dir.path().join("relay")).await;
    store
        .add_channel(
            &workspace,
            ChannelKind::Whatsapp,
            phone,
            Some("102290129340398"),
            "Support",
        )
        .await
        .unwrap();
    let mut relay_config = Config::new(
        dir.path().join("relay"),
        config.app_secret.clone(),
        VerifyToken::new("verify"),
    );
    adjust(&mut relay_config);
    let relay = serve_relay(relay_config).await;
    let sim = MetaSim::start(config).await.unwrap();
    sim.set_webhook_url(format!("{}/webhooks/meta", relay.url));
    let channel_token = sim.add_whatsapp_number("102290129340398", phone, "15550783881");
    World {
        sim,
        channel_token,
        relay_url: relay.url,
        workspace,
        phone: phone.to_string(),
        _dir: dir,
        stop: relay.stop,
        server: relay.server,
    }
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
        catch_up(&d.cache, &d.client, &d.token, &self.workspace, &mut |_| {})
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
    let client = RelayClient::new(&world.relay_url).unwrap();
    let (token, identity) = client
        .sign_in("owner@acme.test", &Secret::new(PASSWORD), name)
        .await
        .unwrap();
    assert_eq!(identity.workspace.id, world.workspace);
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
