//! A team's world on loopback, as the end-to-end and WebDriver suites set it up: a real relay
//! serving one workspace and its owner from a temporary folder, and Meta's stand-in with the
//! team's WhatsApp number, its webhooks going to the relay.
#![allow(clippy::unwrap_used)] // set-up fails the test loudly

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use zentro_meta_sim::{MetaSim, SimConfig};
use zentro_relay::config::{MetaApp, VerifyToken};
use zentro_relay::credentials::hash_password;
use zentro_relay::sealing::{TokenKey, TokenKeys};
use zentro_relay::store::ChannelKind;
use zentro_relay::{Config, Store};

/// Every owner's password.
pub const PASSWORD: &str = "correct horse battery";

/// Who a test's relay starts with: the workspace and its owner.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    /// The workspace's name.
    pub workspace: &'static str,
    /// The owner's email (signing in with [`PASSWORD`]).
    pub email: &'static str,
    /// The owner's display name.
    pub name: &'static str,
}

/// The end-to-end suite's workspace: "Acme", owned by `owner@acme.test`.
pub const ACME: Owner = Owner {
    workspace: "Acme",
    email: "owner@acme.test",
    name: "Owner",
};

/// The WebDriver suite's workspace: "Acme Support", owned by Ana (`ana@acme.test`).
pub const ACME_SUPPORT: Owner = Owner {
    workspace: "Acme Support",
    email: "ana@acme.test",
    name: "Ana",
};

/// Sealing keys with one fresh key: the relay can keep channel tokens and the AI provider's key.
pub fn fresh_token_keys() -> TokenKeys {
    TokenKeys {
        current: TokenKey::parse(&TokenKey::generate()).unwrap(),
        previous: None,
    }
}

/// Meta's app as a relay connecting channels through the stand-in `sim` knows it (its Graph API
/// and SDK), with `login_config_id` for Facebook Login for Business.
pub fn meta_app(sim: &MetaSim, login_config_id: Option<&str>) -> MetaApp {
    MetaApp {
        app_id: SimConfig::default().app_id,
        signup_config_id: "5566778899".into(),
        login_config_id: login_config_id.map(str::to_string),
        graph_url: sim.base_url(),
        sdk_url: format!("{}/sim/sdk.js", sim.base_url()),
    }
}

/// A relay store in `dir` with `owner`'s workspace; returns the store, still open, and the
/// workspace's id.
pub async fn workspace_store(dir: &Path, owner: &Owner) -> (Store, String) {
    let store = Store::open(dir).await.unwrap();
    let workspace = store
        .create_workspace(
            owner.workspace,
            owner.email,
            owner.name,
            &hash_password(PASSWORD),
        )
        .await
        .unwrap();
    (store, workspace.id)
}

/// A relay serving on a loopback port until `stop` is sent.
pub struct ServedRelay {
    /// Where it answers (`http://127.0.0.1:PORT`).
    pub url: String,
    /// Tells it to shut down.
    pub stop: oneshot::Sender<()>,
    /// Its task, which ends once it shut down.
    pub server: JoinHandle<anyhow::Result<()>>,
}

/// Runs a relay with `config` on a free loopback port.
pub async fn serve_relay(config: Config) -> ServedRelay {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(zentro_relay::run(config, listener, async {
        let _ = stopped.await;
    }));
    ServedRelay { url, stop, server }
}

/// A team's relay on a loopback port, serving one workspace from `relay` in a temporary folder
/// until stopped or dropped.
pub struct TeamRelay {
    /// Where desks reach it (`http://127.0.0.1:PORT`).
    pub url: String,
    /// The workspace's id.
    pub workspace: String,
    /// The temporary folder holding the relay's data (in `relay`).
    pub dir: tempfile::TempDir,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    server: Mutex<Option<JoinHandle<anyhow::Result<()>>>>,
}

impl TeamRelay {
    /// Starts the relay with `owner`'s workspace; `prepare` adds to its store (channels…) and
    /// `adjust` to its settings (Meta's app secret, token keys…) before it serves.
    pub async fn start<F>(
        owner: &Owner,
        prepare: impl FnOnce(Store, String) -> F,
        adjust: impl FnOnce(&mut Config),
    ) -> Self
    where
        F: std::future::Future<Output = Store>,
    {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("relay");
        let (store, workspace) = workspace_store(&data, owner).await;
        prepare(store, workspace.clone()).await.close().await;
        let mut config = Config::new(
            data,
            SimConfig::default().app_secret,
            VerifyToken::new("verify"),
        );
        adjust(&mut config);
        let served = serve_relay(config).await;
        Self {
            url: served.url,
            workspace,
            dir,
            stop: Mutex::new(Some(served.stop)),
            server: Mutex::new(Some(served.server)),
        }
    }

    /// The relay's data folder.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("relay")
    }

    /// Tells the relay to shut down, without waiting for it.
    pub fn signal_stop(&self) {
        if let Some(stop) = self.stop.lock().unwrap().take() {
            let _ = stop.send(());
        }
    }

    /// Stops serving and waits until the relay has shut down; its error, if it ended with one.
    pub async fn shut_down(&self) -> anyhow::Result<()> {
        self.signal_stop();
        let server = self.server.lock().unwrap().take();
        match server {
            Some(server) => server.await?,
            None => Ok(()),
        }
    }

    /// Stops serving and waits until the relay has shut down.
    pub async fn stop(&self) {
        let _ = self.shut_down().await;
    }
}

/// A team as it runs for real: its relay, and Meta's stand-in with the team's WhatsApp number
/// (connected to the workspace as the channel "Support"), whose webhooks go to the relay.
pub struct World {
    /// Meta's stand-in.
    pub sim: MetaSim,
    /// The number's token at Meta (the relay does not hold it until a test stores it there).
    pub channel_token: zentro_meta::AccessToken,
    /// The team's relay.
    pub relay: TeamRelay,
    /// The WhatsApp number customers write to.
    pub phone: String,
}

impl World {
    /// Starts Meta's stand-in with `sim_config` and the number `phone` of the WhatsApp
    /// business account `waba`, then the relay of `owner`'s workspace with that channel, Meta's
    /// app secret, and what `adjust` changes (it sees the stand-in, for Meta's addresses).
    pub async fn start(
        owner: &Owner,
        sim_config: SimConfig,
        phone: &str,
        waba: &str,
        adjust: impl FnOnce(&mut Config, &MetaSim),
    ) -> Self {
        let app_secret = sim_config.app_secret.clone();
        let sim = MetaSim::start(sim_config).await.unwrap();
        let channel_token = sim.add_whatsapp_number(waba, phone, "15550783881");
        let relay = TeamRelay::start(
            owner,
            |store, workspace| async move {
                store
                    .add_channel(
                        &workspace,
                        ChannelKind::Whatsapp,
                        phone,
                        Some(waba),
                        "Support",
                    )
                    .await
                    .unwrap();
                store
            },
            |config| {
                config.app_secret = app_secret;
                adjust(config, &sim);
            },
        )
        .await;
        sim.set_webhook_url(format!("{}/webhooks/meta", relay.url));
        Self {
            sim,
            channel_token,
            relay,
            phone: phone.to_string(),
        }
    }
}
