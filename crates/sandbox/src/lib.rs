//! The sandbox: Zentro Desk with no Meta account and no server to install.
//!
//! [`Sandbox::start`] runs, in this process and on loopback only, a real relay (its own SQLite
//! file under the given folder) and meta-sim (the stand-in for Meta), creates a workspace with a
//! WhatsApp number, a Facebook Page and an Instagram account, and signs a device in. The
//! [`customers`] module then plays a few customers who write in on all three channels — text,
//! photos, voice notes, locations, quoted replies, reactions — and answer the agent's replies
//! after a short delay. The workspace's [`automation`] is on: business hours, a greeting or away
//! message and a menu bot whose answer (the customers tap one) routes the conversation to a team
//! and assigns it to the signed-in member. Every message takes the real path: a signed webhook to the relay, the
//! relay's log, the device's sync, the cache.
//!
//! Nothing of the sandbox is a secret worth keeping: its tokens and password live in memory for
//! the session, and its folder is wiped at each start.

pub mod automation;
pub mod customers;
mod picture;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use zentro_core::members::Identity;
use zentro_core::relay_client::RelayClient;
use zentro_core::vault::Secret;
use zentro_meta::AccessToken;
use zentro_meta::graph::{GraphClient, MediaHostPolicy};
use zentro_meta_sim::{MetaSim, SimConfig};
use zentro_relay::config::VerifyToken;
use zentro_relay::credentials::hash_password;
use zentro_relay::store::ChannelKind;
use zentro_relay::{Config, Store};

/// The sandbox's WhatsApp phone_number_id.
pub const WHATSAPP_NUMBER: &str = "100000000000001";
/// Its WhatsApp Business Account.
pub const WHATSAPP_ACCOUNT: &str = "200000000000001";
/// The sandbox's Facebook Page.
pub const PAGE: &str = "300000000000001";
/// The sandbox's Instagram account.
pub const INSTAGRAM: &str = "400000000000001";
/// The sandbox Meta app's Embedded Signup configuration id.
pub const SIGNUP_CONFIGURATION: &str = "500000000000001";
/// The sandbox Meta app's Facebook Login configuration id (Pages and Instagram).
pub const LOGIN_CONFIGURATION: &str = "500000000000002";
/// A second Page (with an Instagram account) the sandbox's owner can connect from the app.
pub const SECOND_PAGE: (&str, &str, &str, &str) = (
    "300000000000002",
    "Sandbox Coffee Roastery",
    "400000000000002",
    "sandboxroastery",
);
/// The signed-in agent's email.
pub const AGENT_EMAIL: &str = "you@sandbox.zentro.invalid";

/// A running sandbox: meta-sim and a relay in this process, a workspace with the agent signed in,
/// and the channels' tokens held in memory. [`Sandbox::stop`] ends its tasks.
pub struct Sandbox {
    sim: Arc<MetaSim>,
    relay_url: String,
    identity: Identity,
    device_token: Secret,
    channel_tokens: Arc<Tokens>,
    folder: PathBuf,
    stop: CancellationToken,
    tasks: tokio_util::task::TaskTracker,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("relay_url", &self.relay_url)
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Starts a fresh sandbox in `folder` (wiped first): relay, meta-sim, workspace, channels,
    /// and a signed-in device. Customers start writing once [`Sandbox::start_customers`] is called.
    pub async fn start(folder: &Path) -> anyhow::Result<Self> {
        clear_folder(folder)?;
        let relay_dir = folder.join("relay");
        let password = format!("sandbox-{:016x}", fastrand::u64(..));
        create_workspace(&relay_dir, &password).await?;

        let sim_config = SimConfig {
            status_delay: std::time::Duration::from_millis(700),
            ..SimConfig::default()
        };
        let sim = MetaSim::start(sim_config.clone()).await?;
        let relay_config = relay_config(relay_dir, &sim_config, &sim)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let relay_url = format!("http://{}", listener.local_addr()?);
        let stop = CancellationToken::new();
        let tasks = tokio_util::task::TaskTracker::new();
        spawn_relay(&tasks, relay_config, listener, stop.clone());

        let channel_tokens = set_up_meta(&sim, &relay_url);
        let client = RelayClient::new(&relay_url)?;
        let (device_token, identity) = client
            .sign_in(
                AGENT_EMAIL,
                &Secret::new(password),
                "this computer (sandbox)",
            )
            .await
            .context("could not sign in to the sandbox relay")?;
        connect_channels(&client, &device_token, &channel_tokens).await?;
        publish_canned_replies(&client, &device_token).await?;
        automation::save(&client, &device_token, &identity.member.id).await?;
        Ok(Self {
            sim: Arc::new(sim),
            relay_url,
            identity,
            device_token,
            channel_tokens: Arc::new(std::sync::RwLock::new(channel_tokens)),
            folder: folder.to_path_buf(),
            stop,
            tasks,
        })
    }

    /// The relay's address (loopback).
    pub fn relay_url(&self) -> &str {
        &self.relay_url
    }

    /// The signed-in member and workspace.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The device's relay token.
    pub fn device_token(&self) -> &Secret {
        &self.device_token
    }

    /// The folder holding the sandbox's relay and cache.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// A Graph client pointed at meta-sim (which serves its own media).
    pub fn graph(&self) -> anyhow::Result<GraphClient> {
        let base = url::Url::parse(&self.sim.base_url())?;
        Ok(GraphClient::new(&self.sim.base_url())?
            .with_media_policy(MediaHostPolicy::meta().allow_origin(&base)))
    }

    /// The channel tokens, by cache channel id.
    pub fn tokens(&self) -> zentro_core::desk::TokenSource {
        let tokens = self.channel_tokens.clone();
        Arc::new(move |channel: &str| read(&tokens).get(channel).cloned())
    }

    /// Takes into memory the tokens of channels connected since the start (through the
    /// sandbox's Embedded Signup), as a real device takes them into its keychain. Returns how many.
    pub async fn adopt_channel_tokens(&self) -> anyhow::Result<usize> {
        let relay = RelayClient::new(&self.relay_url)?;
        let mut adopted = 0;
        for channel in relay.channels(&self.device_token).await? {
            let known = read(&self.channel_tokens).contains_key(&channel.cache_id());
            if known || channel.token_version.is_none() {
                continue;
            }
            let (token, _) = relay.channel_token(&self.device_token, &channel.id).await?;
            write(&self.channel_tokens)
                .insert(channel.cache_id(), AccessToken::new(token.expose()));
            adopted += 1;
        }
        Ok(adopted)
    }

    /// The Meta stand-in, for tests that drive customers themselves.
    pub fn sim(&self) -> &MetaSim {
        &self.sim
    }

    /// Starts the simulated customers: an opening burst right away, then someone writes every
    /// `pace` or so, and customers answer the agent's replies after a short delay.
    pub fn start_customers(&self, pace: std::time::Duration) {
        let (sim, stop) = (self.sim.clone(), self.stop.clone());
        self.tasks
            .spawn(async move { customers::play(sim, pace, stop).await });
    }

    /// Opens the sandbox's cache and starts a desk over it, as the app does.
    pub async fn start_desk(&self) -> anyhow::Result<zentro_core::desk::Desk> {
        let cache = zentro_core::Cache::open_in(&self.folder).await?;
        Ok(zentro_core::desk::Desk::start(
            zentro_core::desk::DeskConfig {
                cache,
                relay: RelayClient::new(&self.relay_url)?,
                token: self.device_token.clone(),
                workspace_id: self.identity.workspace.id.clone(),
                member: self.identity.member.clone(),
                graph: self.graph()?,
                tokens: self.tokens(),
                data_dir: self.folder.clone(),
                channel_keychain: None,
            },
        ))
    }

    /// Stops the customers and the relay.
    pub async fn stop(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// The channel tokens, by cache channel id, shared with the desk's token source.
type Tokens = std::sync::RwLock<HashMap<String, AccessToken>>;

/// Reads the tokens even if a thread panicked while holding them: each change is one insert.
fn read(tokens: &Tokens) -> std::sync::RwLockReadGuard<'_, HashMap<String, AccessToken>> {
    tokens
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Changes the tokens, poison-tolerant as [`read`].
fn write(tokens: &Tokens) -> std::sync::RwLockWriteGuard<'_, HashMap<String, AccessToken>> {
    tokens
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Wipes `folder` (if it exists) and creates it empty.
fn clear_folder(folder: &Path) -> anyhow::Result<()> {
    if folder.exists() {
        std::fs::remove_dir_all(folder)
            .with_context(|| format!("could not clear the sandbox folder {}", folder.display()))?;
    }
    std::fs::create_dir_all(folder)
        .with_context(|| format!("could not create the sandbox folder {}", folder.display()))
}

/// The relay's store with the sandbox's workspace, its owner (signing in with `password`) and
/// its three channels.
async fn create_workspace(relay_dir: &Path, password: &str) -> anyhow::Result<()> {
    let store = Store::open(relay_dir).await?;
    let workspace = store
        .create_workspace(
            "Sandbox Coffee Co.",
            AGENT_EMAIL,
            "You",
            &hash_password(password),
        )
        .await?;
    for (kind, id, account, name) in [
        (
            ChannelKind::Whatsapp,
            WHATSAPP_NUMBER,
            Some(WHATSAPP_ACCOUNT),
            "WhatsApp +1 555 0100",
        ),
        (
            ChannelKind::Messenger,
            PAGE,
            None,
            "Sandbox Coffee Co. (Page)",
        ),
        (ChannelKind::Instagram, INSTAGRAM, None, "@sandboxcoffee"),
    ] {
        store
            .add_channel(&workspace.id, kind, id, account, name)
            .await?;
    }
    store.close().await;
    Ok(())
}

/// The relay's configuration: meta-sim's app secret, and Embedded Signup against meta-sim's
/// dialog with tokens sealed under a key that lives as long as the session (connecting channels
/// works in the sandbox too).
fn relay_config(
    relay_dir: PathBuf,
    sim_config: &SimConfig,
    sim: &MetaSim,
) -> anyhow::Result<Config> {
    let mut config = Config::new(
        relay_dir,
        sim_config.app_secret.clone(),
        VerifyToken::new(format!("{:016x}", fastrand::u64(..))),
    );
    config.token_keys = Some(zentro_relay::sealing::TokenKeys {
        current: zentro_relay::sealing::TokenKey::parse(
            &zentro_relay::sealing::TokenKey::generate(),
        )?,
        previous: None,
    });
    config.meta_app = Some(zentro_relay::config::MetaApp {
        app_id: sim_config.app_id.clone(),
        signup_config_id: SIGNUP_CONFIGURATION.into(),
        login_config_id: Some(LOGIN_CONFIGURATION.into()),
        graph_url: sim.base_url(),
        sdk_url: format!("{}/sim/sdk.js", sim.base_url()),
    });
    Ok(config)
}

/// Runs the relay on `listener` until `stop`.
fn spawn_relay(
    tasks: &tokio_util::task::TaskTracker,
    config: Config,
    listener: tokio::net::TcpListener,
    stop: CancellationToken,
) {
    tasks.spawn(async move {
        if let Err(error) =
            zentro_relay::run(config, listener, async move { stop.cancelled().await }).await
        {
            tracing::error!(%error, "the sandbox relay stopped");
        }
    });
}

/// Meta's side of the sandbox: the templates, the webhooks to the relay, the WhatsApp number,
/// the Page and the Instagram account (their tokens, by cache channel id, are returned), and a
/// second Page to connect from the app.
fn set_up_meta(sim: &MetaSim, relay_url: &str) -> HashMap<String, AccessToken> {
    for (name, body) in customers::TEMPLATES {
        sim.state()
            .add_template_text(name, "en_US", body, "APPROVED");
    }
    sim.set_webhook_url(format!("{relay_url}/webhooks/meta"));
    let mut channel_tokens = HashMap::new();
    channel_tokens.insert(
        format!("whatsapp:{WHATSAPP_NUMBER}"),
        sim.add_whatsapp_number(WHATSAPP_ACCOUNT, WHATSAPP_NUMBER, "15550100"),
    );
    channel_tokens.insert(format!("messenger:{PAGE}"), sim.add_page(PAGE, false));
    channel_tokens.insert(
        format!("instagram:{INSTAGRAM}"),
        sim.add_page(INSTAGRAM, true),
    );
    let (page, name, instagram, username) = SECOND_PAGE;
    sim.state()
        .add_login_page(page, name, Some((instagram, username)));
    for object in [WHATSAPP_ACCOUNT, PAGE, INSTAGRAM] {
        sim.state().subscribe_app_to(object);
    }
    channel_tokens
}

/// The channels as a connected team has them: tokens sealed on the relay, checked at Meta.
async fn connect_channels(
    client: &RelayClient,
    device_token: &Secret,
    channel_tokens: &HashMap<String, AccessToken>,
) -> anyhow::Result<()> {
    for channel in client.channels(device_token).await? {
        if let Some(meta) = channel_tokens.get(&channel.cache_id()) {
            client
                .set_channel_token(device_token, &channel.id, &Secret::new(meta.expose()))
                .await?;
            client.check_channel(device_token, &channel.id).await?;
        }
    }
    Ok(())
}

/// The team's canned replies, as an admin would have saved them.
async fn publish_canned_replies(client: &RelayClient, device_token: &Secret) -> anyhow::Result<()> {
    for (shortcut, body) in customers::CANNED_REPLIES {
        let payload = zentro_core::actions::TeamEvent::CannedReplySaved {
            shortcut: (*shortcut).into(),
            body: (*body).into(),
        };
        let value = serde_json::to_value(&payload)?;
        client
            .publish(
                device_token,
                payload.kind(),
                value,
                &format!("sandbox-canned-{shortcut}"),
            )
            .await?;
    }
    Ok(())
}
