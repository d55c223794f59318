//! Configuration from flags and the environment, validated at start-up.

use crate::store::DatabaseLocation;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use zentro_meta::AppSecret;

use crate::sealing::{TokenKey, TokenKeys};

/// A secret that never prints (the verify token).
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyToken(String);

impl VerifyToken {
    /// Wraps the token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// Constant-time comparison with what Meta sent.
    pub fn matches(&self, candidate: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.0.len() == candidate.len() && bool::from(self.0.as_bytes().ct_eq(candidate.as_bytes()))
    }
}

impl std::fmt::Debug for VerifyToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifyToken([redacted])")
    }
}

/// The relay's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the SQLite database (without [`database_url`](Self::database_url)) and other files
    /// live.
    pub data_dir: PathBuf,
    /// A `postgres://` URL: the relay keeps its data in that PostgreSQL database instead (several
    /// instances may share it). May hold a password: never logged.
    pub database_url: Option<String>,
    /// The Meta app secret (webhook signatures).
    pub app_secret: AppSecret,
    /// The verify token entered in Meta's App Dashboard.
    pub verify_token: VerifyToken,
    /// How long an unacknowledged event is kept.
    pub retention: Duration,
    /// How long an event every device acknowledged is kept before it is pruned.
    pub prune_grace: Duration,
    /// How long a device token may go unused before it expires (`ZENTRO_RELAY_DEVICE_IDLE_DAYS`).
    pub device_idle: Duration,
    /// Sign-in attempts allowed per address per minute.
    pub sign_in_per_address: u32,
    /// Sign-in attempts allowed per account per 15 minutes.
    pub sign_in_per_account: u32,
    /// The keys that seal channel tokens; without them the relay keeps no channel tokens.
    pub token_keys: Option<TokenKeys>,
    /// How long an invitation code stays valid.
    pub invitation_ttl: Duration,
    /// The relay's address as devices reach it, for invitation links (`zentro://invite?…`).
    pub public_url: Option<String>,
    /// The Meta app, for connecting channels from the app and checking their health; without it
    /// channels are added by the operator (`zentro-relay channel add`) and not checked.
    pub meta_app: Option<MetaApp>,
    /// How often each connected channel is checked at Meta.
    pub channel_check_interval: Duration,
    /// How often the workspaces' automation decides on new events and sends what is due
    /// (`ZENTRO_RELAY_AUTOMATION_INTERVAL_MS`).
    pub automation_interval: Duration,
    /// How long Meta's status webhooks of a number must keep flowing, none naming a campaign's
    /// message left `sending`, before it is taken as never sent and sent again (ADR 0021;
    /// `ZENTRO_RELAY_CAMPAIGN_SETTLE_MS`).
    pub campaign_settle: Duration,
    /// How long after its request left a campaign message left `sending`, that no status webhook
    /// named (its number sends no more), is given up on: `failed` with an unknown outcome, never
    /// sent again, so its campaign completes (ADR 0021; `ZENTRO_RELAY_CAMPAIGN_UNKNOWN_AFTER_MS`).
    pub campaign_unknown_after: Duration,
    /// The wait after a campaign recipient's first temporary failure at Meta (5xx, network); it
    /// doubles with each next one, up to [`Self::campaign_retry_most`] (ADR 0021).
    pub campaign_retry_first: Duration,
    /// The longest wait between a campaign recipient's temporary failures.
    pub campaign_retry_most: Duration,
    /// How long a signup window's link stays valid.
    pub signup_ttl: Duration,
    /// Shared files a workspace may keep at once (`ZENTRO_RELAY_SHARED_FILES_PER_WORKSPACE`).
    pub shared_files_per_workspace: u32,
    /// Bytes of shared files a workspace may keep at once (`ZENTRO_RELAY_SHARED_MB_PER_WORKSPACE`).
    pub shared_bytes_per_workspace: u64,
    /// The reverse proxies whose `X-Forwarded-For` names the client (`ZENTRO_RELAY_TRUSTED_PROXIES`).
    pub trusted_proxies: crate::ratelimit::TrustedProxies,
    /// Refused Meta callbacks (bad signatures) allowed per address per minute.
    pub meta_refusals_per_address: u32,
    /// Writes (events, shared files, channel checks, audit reports) allowed per session per minute.
    pub writes_per_session: u32,
    /// How long a quarantined webhook waits for its channel (`ZENTRO_RELAY_QUARANTINE_DAYS`).
    pub quarantine_retention: Duration,
    /// The most webhooks the quarantine keeps; the oldest go first
    /// (`ZENTRO_RELAY_QUARANTINE_MAX_ITEMS`).
    pub quarantine_max_items: u64,
    /// The bearer token that unlocks per-workspace series on `/metrics`; without it (or without
    /// the right one) a caller sees only aggregates, never a workspace id.
    pub metrics_token: Option<VerifyToken>,
    /// The certificate and key when the relay serves HTTPS itself (reloaded when they change).
    pub tls: Option<crate::tls::TlsFiles>,
    /// How long since a member's last live session was seen before they count as offline
    /// (90 s; shorter in tests).
    pub presence_window: Duration,
    /// How often the presence sweep announces members whose presence changed (15 s).
    pub presence_sweep_interval: Duration,
}

/// The Meta app's public settings (the secret is [`Config::app_secret`]).
#[derive(Debug, Clone)]
pub struct MetaApp {
    /// The app id (public: the signup page's `FB.init` gets it).
    pub app_id: String,
    /// The Facebook Login for Business configuration of Embedded Signup (WhatsApp).
    pub signup_config_id: String,
    /// The Facebook Login for Business configuration that shares Pages and Instagram accounts;
    /// without it those are connected with a Page token by an admin.
    pub login_config_id: Option<String>,
    /// Graph API base (Meta's, or meta-sim's in tests and the sandbox).
    pub graph_url: String,
    /// The JavaScript SDK the signup page loads.
    pub sdk_url: String,
}

impl MetaApp {
    /// The app at Meta's real addresses.
    pub fn new(app_id: impl Into<String>, signup_config_id: impl Into<String>) -> Self {
        Self {
            app_id: app_id.into(),
            signup_config_id: signup_config_id.into(),
            login_config_id: None,
            graph_url: zentro_meta::platform::GRAPH_BASE_URL.into(),
            sdk_url: zentro_meta::platform::JS_SDK_URL.into(),
        }
    }

    /// The origin Meta's dialog posts its messages from when it is not facebook.com (meta-sim's),
    /// derived from the SDK's address.
    pub fn stand_in_origin(&self) -> Option<String> {
        let url = url::Url::parse(&self.sdk_url).ok()?;
        let host = url.host_str()?;
        if zentro_meta::platform::is_login_host(host) {
            return None;
        }
        Some(url.origin().ascii_serialization())
    }
}

impl Config {
    /// Settings for tests: a data dir and the two Meta secrets, defaults elsewhere.
    pub fn new(data_dir: PathBuf, app_secret: AppSecret, verify_token: VerifyToken) -> Self {
        Self {
            data_dir,
            database_url: None,
            app_secret,
            verify_token,
            retention: Duration::from_secs(30 * 24 * 3600),
            prune_grace: Duration::from_secs(3600),
            device_idle: Duration::from_secs(90 * 24 * 3600),
            sign_in_per_address: 30,
            sign_in_per_account: 10,
            token_keys: None,
            invitation_ttl: Duration::from_secs(7 * 24 * 3600),
            public_url: None,
            meta_app: None,
            channel_check_interval: Duration::from_secs(30 * 60),
            automation_interval: Duration::from_millis(500),
            campaign_settle: Duration::from_secs(10 * 60),
            campaign_unknown_after: Duration::from_secs(60 * 60),
            campaign_retry_first: Duration::from_secs(5),
            campaign_retry_most: Duration::from_secs(15 * 60),
            signup_ttl: Duration::from_secs(15 * 60),
            shared_files_per_workspace: 200,
            shared_bytes_per_workspace: 500 * 1024 * 1024,
            trusted_proxies: crate::ratelimit::TrustedProxies::default(),
            meta_refusals_per_address: 60,
            writes_per_session: 1200,
            quarantine_retention: Duration::from_secs(7 * 24 * 3600),
            quarantine_max_items: 10_000,
            metrics_token: None,
            tls: None,
            presence_window: crate::store::PRESENCE_WINDOW,
            presence_sweep_interval: Duration::from_secs(15),
        }
    }
}

/// Flags shared by every subcommand that touches the database.
#[derive(Debug, Clone, Args)]
pub struct DataDirArgs {
    /// Folder holding the relay's database (SQLite, without --database-url) and other files.
    #[arg(long, env = "ZENTRO_RELAY_DATA_DIR", default_value = "./relay-data")]
    pub data_dir: PathBuf,
    /// Keep the data in PostgreSQL instead (postgres://user:password@host/db): several relay
    /// instances may share one database.
    #[arg(long, env = "ZENTRO_RELAY_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

impl DataDirArgs {
    /// The database these flags name: PostgreSQL when a URL is given, else SQLite in the folder.
    pub fn location(&self) -> DatabaseLocation {
        DatabaseLocation::new(&self.data_dir, self.database_url.as_deref())
    }
}

impl Config {
    /// The database the relay keeps its data in.
    pub fn database(&self) -> DatabaseLocation {
        DatabaseLocation::new(&self.data_dir, self.database_url.as_deref())
    }
}

/// Flags of `zentro-relay serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ZENTRO_RELAY_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,
    /// Where the database lives.
    #[command(flatten)]
    pub data: DataDirArgs,
    /// The Meta app secret (or use --meta-app-secret-file).
    #[arg(long, env = "ZENTRO_RELAY_META_APP_SECRET", hide_env_values = true)]
    pub meta_app_secret: Option<String>,
    /// A file holding the Meta app secret.
    #[arg(long, env = "ZENTRO_RELAY_META_APP_SECRET_FILE")]
    pub meta_app_secret_file: Option<PathBuf>,
    /// The webhook verify token entered in Meta's App Dashboard (or use --meta-verify-token-file).
    #[arg(long, env = "ZENTRO_RELAY_META_VERIFY_TOKEN", hide_env_values = true)]
    pub meta_verify_token: Option<String>,
    /// A file holding the verify token.
    #[arg(long, env = "ZENTRO_RELAY_META_VERIFY_TOKEN_FILE")]
    pub meta_verify_token_file: Option<PathBuf>,
    /// Days an event no device acknowledged is kept.
    #[arg(long, env = "ZENTRO_RELAY_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u64,
    /// Minutes an event every device acknowledged is kept.
    #[arg(long, env = "ZENTRO_RELAY_PRUNE_GRACE_MINUTES", default_value_t = 60)]
    pub prune_grace_minutes: u64,
    /// Days a device token may go unused before it expires (the device signs in again).
    #[arg(long, env = "ZENTRO_RELAY_DEVICE_IDLE_DAYS", default_value_t = 90)]
    pub device_idle_days: u64,
    #[command(flatten)]
    /// Where the channel-token keys come from.
    pub keys: TokenKeyArgs,
    /// Hours an invitation code stays valid.
    #[arg(long, env = "ZENTRO_RELAY_INVITATION_HOURS", default_value_t = 72)]
    pub invitation_hours: u64,
    /// The relay's public address (https://relay.example.com), for invitation links.
    #[arg(long, env = "ZENTRO_RELAY_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    /// The Meta app, for connecting channels from the app.
    pub meta_app: MetaAppArgs,
    /// Shared files (for Instagram) a workspace may keep at once.
    #[arg(
        long,
        env = "ZENTRO_RELAY_SHARED_FILES_PER_WORKSPACE",
        default_value_t = 200
    )]
    pub shared_files_per_workspace: u32,
    /// Megabytes of shared files a workspace may keep at once.
    #[arg(
        long,
        env = "ZENTRO_RELAY_SHARED_MB_PER_WORKSPACE",
        default_value_t = 500
    )]
    pub shared_mb_per_workspace: u64,
    /// Reverse proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For is believed.
    #[arg(long, env = "ZENTRO_RELAY_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Sign-in attempts allowed per client address per minute.
    #[arg(long, env = "ZENTRO_RELAY_SIGN_IN_PER_ADDRESS", default_value_t = 30)]
    pub sign_in_per_address: u32,
    /// Sign-in attempts allowed per client address and account per 15 minutes.
    #[arg(long, env = "ZENTRO_RELAY_SIGN_IN_PER_ACCOUNT", default_value_t = 10)]
    pub sign_in_per_account: u32,
    /// Refused Meta callbacks (bad signatures) allowed per address per minute.
    #[arg(
        long,
        env = "ZENTRO_RELAY_META_REFUSALS_PER_ADDRESS",
        default_value_t = 60
    )]
    pub meta_refusals_per_address: u32,
    /// Writes allowed per device session per minute.
    #[arg(long, env = "ZENTRO_RELAY_WRITES_PER_SESSION", default_value_t = 1200)]
    pub writes_per_session: u32,
    /// Days a quarantined webhook waits for its channel.
    #[arg(long, env = "ZENTRO_RELAY_QUARANTINE_DAYS", default_value_t = 7)]
    pub quarantine_days: u64,
    /// The most webhooks the quarantine keeps (the oldest go first).
    #[arg(
        long,
        env = "ZENTRO_RELAY_QUARANTINE_MAX_ITEMS",
        default_value_t = 10_000
    )]
    pub quarantine_max_items: u64,
    /// The relay runs behind a TLS-terminating proxy (Caddy, nginx, a load balancer): only then
    /// may it listen on an address other than loopback, and `--public-url` must be https.
    #[arg(
        long,
        env = "ZENTRO_RELAY_BEHIND_TLS_PROXY",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub behind_tls_proxy: bool,
    /// A bearer token for per-workspace series on `/metrics` (or use --metrics-token-file);
    /// without it `/metrics` shows aggregates only.
    #[arg(long, env = "ZENTRO_RELAY_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// A file holding the metrics token.
    #[arg(long, env = "ZENTRO_RELAY_METRICS_TOKEN_FILE")]
    pub metrics_token_file: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM, leaf first; with --tls-key). Read again when
    /// it changes, without a restart.
    #[arg(long, env = "ZENTRO_RELAY_TLS_CERT_FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "ZENTRO_RELAY_TLS_KEY_FILE")]
    pub tls_key: Option<PathBuf>,
}

/// Refuses a listen address and public address that would carry devices' passwords, tokens and
/// customers' messages in plain text over a network (promise P16). When the relay serves HTTPS
/// itself (`serves_tls`) any address will do; plain HTTP is served only on loopback, unless
/// `behind_tls_proxy` says a TLS-terminating proxy on this machine or network answers the
/// devices — and then the public address must be `https://`. A public address is
/// always `https://` (or plain `http://` to loopback, for a relay used on this computer only):
/// desks refuse anything else, so invitation links naming it would not work.
pub fn check_transport(
    listen: SocketAddr,
    behind_tls_proxy: bool,
    serves_tls: bool,
    public_url: Option<&str>,
) -> anyhow::Result<()> {
    let public = match public_url {
        Some(text) => Some(url::Url::parse(text).map_err(|e| {
            anyhow::anyhow!("ZENTRO_RELAY_PUBLIC_URL is not a web address ({e}): set it to https://relay.example.com")
        })?),
        None => None,
    };
    if let Some(url) = &public {
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            anyhow::bail!(
                "ZENTRO_RELAY_PUBLIC_URL must be the relay's https:// address (devices refuse a plain http:// relay away from their own computer), not {}",
                url.origin().ascii_serialization()
            );
        }
    }
    if serves_tls {
        return Ok(());
    }
    if !behind_tls_proxy {
        if listen.ip().is_loopback() {
            return Ok(());
        }
        anyhow::bail!(
            "refusing to serve plain HTTP on {listen}, which is not loopback: passwords, device tokens and customers' messages would cross the network unencrypted. Serve HTTPS (ZENTRO_RELAY_TLS_CERT_FILE and ZENTRO_RELAY_TLS_KEY_FILE), or listen on 127.0.0.1 (ZENTRO_RELAY_LISTEN) behind a TLS-terminating proxy, and if that proxy is on another machine set ZENTRO_RELAY_BEHIND_TLS_PROXY=1 with ZENTRO_RELAY_PUBLIC_URL=https://…"
        );
    }
    if public.is_none_or(|u| u.scheme() != "https") {
        anyhow::bail!(
            "behind a TLS proxy (ZENTRO_RELAY_BEHIND_TLS_PROXY) the relay needs its public https:// address: set ZENTRO_RELAY_PUBLIC_URL=https://relay.example.com (invitation links and Meta's callbacks name it)"
        );
    }
    Ok(())
}

/// The Meta app's public settings (connecting channels, channel health).
#[derive(Debug, Clone, Args)]
pub struct MetaAppArgs {
    /// The Meta app's id (App Dashboard → App settings → Basic).
    #[arg(long, env = "ZENTRO_RELAY_META_APP_ID")]
    pub meta_app_id: Option<String>,
    /// The Facebook Login for Business configuration id of Embedded Signup.
    #[arg(long, env = "ZENTRO_RELAY_META_SIGNUP_CONFIG_ID")]
    pub meta_signup_config_id: Option<String>,
    /// The Facebook Login for Business configuration id for Pages and Instagram.
    #[arg(long, env = "ZENTRO_RELAY_META_LOGIN_CONFIG_ID")]
    pub meta_login_config_id: Option<String>,
    /// The Graph API's address.
    #[arg(long, env = "ZENTRO_RELAY_META_GRAPH_URL", default_value = zentro_meta::platform::GRAPH_BASE_URL)]
    pub meta_graph_url: String,
    /// The address of Meta's JavaScript SDK.
    #[arg(long, env = "ZENTRO_RELAY_META_SDK_URL", default_value = zentro_meta::platform::JS_SDK_URL)]
    pub meta_sdk_url: String,
    /// Minutes between two health checks of each connected channel.
    #[arg(long, env = "ZENTRO_RELAY_CHANNEL_CHECK_MINUTES", default_value_t = 30)]
    pub channel_check_minutes: u64,
    /// Milliseconds between two rounds of the workspaces' automation (deciding on new events,
    /// sending what is due): how long a customer waits for a greeting at most, beyond Meta.
    #[arg(
        long,
        env = "ZENTRO_RELAY_AUTOMATION_INTERVAL_MS",
        default_value_t = 500
    )]
    pub automation_interval_ms: u64,
    /// Milliseconds Meta's status webhooks of a number must keep flowing, none naming a campaign
    /// message whose answer never came, before it is sent again (ADR 0021).
    #[arg(
        long,
        env = "ZENTRO_RELAY_CAMPAIGN_SETTLE_MS",
        default_value_t = 600_000
    )]
    pub campaign_settle_ms: u64,
    /// Milliseconds after which a campaign message whose answer never came, and that no status
    /// webhook named, is given up on as unknown and never sent again (ADR 0021).
    #[arg(
        long,
        env = "ZENTRO_RELAY_CAMPAIGN_UNKNOWN_AFTER_MS",
        default_value_t = 3_600_000
    )]
    pub campaign_unknown_after_ms: u64,
}

impl MetaAppArgs {
    /// The validated settings; `None` when no app id is set.
    pub fn into_meta_app(self) -> anyhow::Result<Option<MetaApp>> {
        let numeric = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        let Some(app_id) = self.meta_app_id.map(|v| v.trim().to_string()) else {
            if self.meta_signup_config_id.is_some() {
                anyhow::bail!(
                    "ZENTRO_RELAY_META_SIGNUP_CONFIG_ID is set without ZENTRO_RELAY_META_APP_ID: set the app id too"
                );
            }
            return Ok(None);
        };
        if !numeric(&app_id) {
            anyhow::bail!(
                "ZENTRO_RELAY_META_APP_ID must be the app's numeric id from Meta's App Dashboard"
            );
        }
        let config_id = self
            .meta_signup_config_id
            .map(|v| v.trim().to_string())
            .unwrap_or_default();
        if !numeric(&config_id) {
            anyhow::bail!(
                "ZENTRO_RELAY_META_SIGNUP_CONFIG_ID must be the numeric id of the Embedded Signup configuration (App Dashboard → Facebook Login for Business → Configurations)"
            );
        }
        let login_config_id = self.meta_login_config_id.map(|v| v.trim().to_string());
        if login_config_id.as_deref().is_some_and(|v| !numeric(v)) {
            anyhow::bail!(
                "ZENTRO_RELAY_META_LOGIN_CONFIG_ID must be the numeric id of the Facebook Login for Business configuration for Pages"
            );
        }
        for (name, value) in [
            ("ZENTRO_RELAY_META_GRAPH_URL", &self.meta_graph_url),
            ("ZENTRO_RELAY_META_SDK_URL", &self.meta_sdk_url),
        ] {
            match url::Url::parse(value) {
                Ok(u) if u.scheme() == "https" || u.scheme() == "http" => {}
                _ => anyhow::bail!("{name} must be an http(s) address, not {value:?}"),
            }
        }
        Ok(Some(MetaApp {
            app_id,
            signup_config_id: config_id,
            login_config_id,
            graph_url: self.meta_graph_url.trim_end_matches('/').to_string(),
            sdk_url: self.meta_sdk_url,
        }))
    }
}

/// Where the channel-token sealing keys come from.
#[derive(Debug, Clone, Args)]
pub struct TokenKeyArgs {
    /// The key that seals channel tokens: 32 random bytes as base64 (`zentro-relay key generate`).
    #[arg(long, env = "ZENTRO_RELAY_TOKEN_KEY", hide_env_values = true)]
    pub token_key: Option<String>,
    /// A file holding that key.
    #[arg(long, env = "ZENTRO_RELAY_TOKEN_KEY_FILE")]
    pub token_key_file: Option<PathBuf>,
    /// During a key rotation: the previous key, so tokens sealed under it still open.
    #[arg(long, env = "ZENTRO_RELAY_TOKEN_KEY_PREVIOUS", hide_env_values = true)]
    pub token_key_previous: Option<String>,
    /// A file holding the previous key.
    #[arg(long, env = "ZENTRO_RELAY_TOKEN_KEY_PREVIOUS_FILE")]
    pub token_key_previous_file: Option<PathBuf>,
}

impl TokenKeyArgs {
    /// The keys, `None` when no key is configured.
    pub fn into_keys(self) -> anyhow::Result<Option<TokenKeys>> {
        let parse = |value: &Option<String>,
                     file: &Option<PathBuf>,
                     env: &str|
         -> anyhow::Result<Option<TokenKey>> {
            if value.is_none() && file.is_none() {
                return Ok(None);
            }
            let text = secret_from(value, file, "token key", env)?;
            TokenKey::parse(&text)
                .map(Some)
                .map_err(|e| anyhow::anyhow!("{env}: {e}"))
        };
        let current = parse(
            &self.token_key,
            &self.token_key_file,
            "ZENTRO_RELAY_TOKEN_KEY",
        )?;
        let previous = parse(
            &self.token_key_previous,
            &self.token_key_previous_file,
            "ZENTRO_RELAY_TOKEN_KEY_PREVIOUS",
        )?;
        match (current, previous) {
            (Some(current), previous) => Ok(Some(TokenKeys { current, previous })),
            (None, Some(_)) => anyhow::bail!(
                "a previous token key was given without the current one: set ZENTRO_RELAY_TOKEN_KEY too"
            ),
            (None, None) => Ok(None),
        }
    }
}

fn secret_from(
    value: &Option<String>,
    file: &Option<PathBuf>,
    name: &str,
    env: &str,
) -> anyhow::Result<String> {
    let secret = match (value, file) {
        (Some(_), Some(_)) => {
            anyhow::bail!("give the {name} either directly or as a file, not both")
        }
        (Some(v), None) => v.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("could not read the {name} file {}: {e}", path.display()))?
            .trim()
            .to_string(),
        (None, None) => {
            anyhow::bail!("the {name} is missing: set {env} (or {env}_FILE, or the matching flag)")
        }
    };
    if secret.trim().is_empty() {
        anyhow::bail!("the {name} is empty: set {env} to the value from Meta's App Dashboard");
    }
    Ok(secret)
}

impl ServeArgs {
    /// Validates the flags into a [`Config`]; errors say what to set.
    pub fn into_config(self) -> anyhow::Result<Config> {
        let (app_secret, verify_token) = self.meta_secrets()?;
        let retention = at_least_one(
            self.retention_days,
            DAY,
            "the retention must be at least 1 day (ZENTRO_RELAY_RETENTION_DAYS)",
        )?;
        let mut config = Config::new(self.data.data_dir, app_secret, verify_token);
        config.database_url = self.data.database_url;
        config.retention = retention;
        config.prune_grace = Duration::from_secs(self.prune_grace_minutes * 60);
        config.device_idle = at_least_one(
            self.device_idle_days,
            DAY,
            "device tokens must be allowed at least 1 idle day (ZENTRO_RELAY_DEVICE_IDLE_DAYS)",
        )?;
        config.token_keys = self.keys.into_keys()?;
        config.invitation_ttl = at_least_one(
            self.invitation_hours,
            3600,
            "invitations must stay valid at least 1 hour (ZENTRO_RELAY_INVITATION_HOURS)",
        )?;
        config.public_url = self
            .public_url
            .map(|u| u.trim().trim_end_matches('/').to_string())
            .filter(|u| !u.is_empty());
        config.channel_check_interval = at_least_one(
            self.meta_app.channel_check_minutes,
            60,
            "channels are checked at most every minute (ZENTRO_RELAY_CHANNEL_CHECK_MINUTES)",
        )?;
        if !(50..=60_000).contains(&self.meta_app.automation_interval_ms) {
            anyhow::bail!(
                "the automation runs every 50 to 60000 ms (ZENTRO_RELAY_AUTOMATION_INTERVAL_MS)"
            );
        }
        config.automation_interval = Duration::from_millis(self.meta_app.automation_interval_ms);
        if self.meta_app.campaign_settle_ms < 1_000 {
            anyhow::bail!(
                "campaign messages settle after at least 1000 ms (ZENTRO_RELAY_CAMPAIGN_SETTLE_MS)"
            );
        }
        config.campaign_settle = Duration::from_millis(self.meta_app.campaign_settle_ms);
        if self.meta_app.campaign_unknown_after_ms < 1_000 {
            anyhow::bail!(
                "campaign messages are given up on after at least 1000 ms (ZENTRO_RELAY_CAMPAIGN_UNKNOWN_AFTER_MS)"
            );
        }
        config.campaign_unknown_after =
            Duration::from_millis(self.meta_app.campaign_unknown_after_ms);
        config.meta_app = self.meta_app.into_meta_app()?;
        config.shared_files_per_workspace = self.shared_files_per_workspace;
        config.shared_bytes_per_workspace =
            self.shared_mb_per_workspace.saturating_mul(1024 * 1024);
        config.trusted_proxies = self
            .trusted_proxies
            .parse()
            .map_err(|e| anyhow::anyhow!("ZENTRO_RELAY_TRUSTED_PROXIES: {e}"))?;
        let limits = [
            self.sign_in_per_address,
            self.sign_in_per_account,
            self.meta_refusals_per_address,
            self.writes_per_session,
        ];
        set_rate_limits(&mut config, limits)?;
        if self.quarantine_days == 0 || self.quarantine_max_items == 0 {
            anyhow::bail!(
                "the quarantine keeps webhooks at least 1 day (ZENTRO_RELAY_QUARANTINE_DAYS) and at least 1 (ZENTRO_RELAY_QUARANTINE_MAX_ITEMS)"
            );
        }
        config.quarantine_retention = Duration::from_secs(self.quarantine_days * DAY);
        config.quarantine_max_items = self.quarantine_max_items;
        config.tls = tls_files(self.tls_cert, self.tls_key)?;
        let (tls, public_url) = (config.tls.is_some(), config.public_url.as_deref());
        check_transport(self.listen, self.behind_tls_proxy, tls, public_url)?;
        config.metrics_token = metrics_token(&self.metrics_token, &self.metrics_token_file)?;
        Ok(config)
    }

    /// The Meta app secret and the webhook verify token, both required.
    fn meta_secrets(&self) -> anyhow::Result<(AppSecret, VerifyToken)> {
        let app_secret = secret_from(
            &self.meta_app_secret,
            &self.meta_app_secret_file,
            "Meta app secret",
            "ZENTRO_RELAY_META_APP_SECRET",
        )?;
        let verify_token = secret_from(
            &self.meta_verify_token,
            &self.meta_verify_token_file,
            "Meta verify token",
            "ZENTRO_RELAY_META_VERIFY_TOKEN",
        )?;
        Ok((AppSecret::new(app_secret), VerifyToken::new(verify_token)))
    }
}

/// Seconds in a day.
const DAY: u64 = 24 * 3600;

/// `value` units of `unit_secs` seconds, or the error `message` when `value` is 0.
fn at_least_one(value: u64, unit_secs: u64, message: &str) -> anyhow::Result<Duration> {
    if value == 0 {
        anyhow::bail!("{message}");
    }
    Ok(Duration::from_secs(value * unit_secs))
}

/// Sets the rate limits (sign-in per address and per account, Meta refusals per address, writes
/// per session), each at least 1.
fn set_rate_limits(config: &mut Config, limits: [u32; 4]) -> anyhow::Result<()> {
    let names = [
        "ZENTRO_RELAY_SIGN_IN_PER_ADDRESS",
        "ZENTRO_RELAY_SIGN_IN_PER_ACCOUNT",
        "ZENTRO_RELAY_META_REFUSALS_PER_ADDRESS",
        "ZENTRO_RELAY_WRITES_PER_SESSION",
    ];
    if let Some((name, _)) = names.iter().zip(limits).find(|(_, value)| *value == 0) {
        anyhow::bail!("{name} must be at least 1");
    }
    let [per_address, per_account, refusals, writes] = limits;
    config.sign_in_per_address = per_address;
    config.sign_in_per_account = per_account;
    config.meta_refusals_per_address = refusals;
    config.writes_per_session = writes;
    Ok(())
}

/// The certificate and key to serve HTTPS with (both or neither), checked by loading them once.
fn tls_files(
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
) -> anyhow::Result<Option<crate::tls::TlsFiles>> {
    match (cert, key) {
        (Some(cert), Some(key)) => {
            let files = crate::tls::TlsFiles { cert, key };
            files.load()?;
            Ok(Some(files))
        }
        (None, None) => Ok(None),
        _ => anyhow::bail!(
            "to serve HTTPS set both ZENTRO_RELAY_TLS_CERT_FILE and ZENTRO_RELAY_TLS_KEY_FILE"
        ),
    }
}

/// The bearer token of `/metrics`' per-workspace series, when one is given.
fn metrics_token(
    value: &Option<String>,
    file: &Option<PathBuf>,
) -> anyhow::Result<Option<VerifyToken>> {
    if value.is_none() && file.is_none() {
        return Ok(None);
    }
    let token = secret_from(value, file, "metrics token", "ZENTRO_RELAY_METRICS_TOKEN")?;
    Ok(Some(VerifyToken::new(token.trim())))
}
