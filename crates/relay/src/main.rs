//! `zentro-relay`: run the relay and administer it on a fresh box.

use std::io::{BufRead, IsTerminal, Write};

use clap::{Parser, Subcommand};
use zentro_relay::config::{DataDirArgs, ServeArgs, TokenKeyArgs};
use zentro_relay::credentials::{check_password_policy, hash_password};
use zentro_relay::sealing::TokenKey;
use zentro_relay::store::{ChannelKind, NewAuditEntry, Store};

// mimalloc instead of glibc malloc, whose malloc/free took ~25 % of the relay's CPU (docs/benchmarks.md, issue 22, Run 6).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "zentro-relay",
    version,
    about = "The Zentro Desk relay: verified Meta webhooks, durable per-workspace event logs, streams to devices."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the relay.
    Serve(Box<ServeArgs>),
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Manage channels (WhatsApp numbers, Pages, Instagram accounts).
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Inspect webhooks that could not be routed.
    #[command(subcommand)]
    Quarantine(QuarantineCommand),
    /// The key that seals channel tokens.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Move a stopped SQLite relay's data (its --data-dir) into an empty PostgreSQL database, in
    /// one transaction, and verify it (row counts, and each workspace's log) before committing.
    /// Then serve with --database-url set to the same URL.
    Migrate {
        /// The PostgreSQL database to copy into (postgres://user:password@host/db); it must hold
        /// no workspace.
        #[arg(long, env = "ZENTRO_RELAY_MIGRATE_TO", hide_env_values = true)]
        to: String,
        /// Rows copied per statement (tests use small chunks to cover paging).
        #[arg(long, default_value_t = zentro_relay::migrate::CHUNK_ROWS, hide = true)]
        chunk_rows: usize,
        #[command(flatten)]
        data: DataDirArgs,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Print a new random key (base64) for ZENTRO_RELAY_TOKEN_KEY; keep it outside the data directory.
    Generate,
}

#[derive(Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace and its owner; the owner's password is read from standard input.
    /// Prints the workspace id alone on standard output.
    Create {
        /// The workspace's name.
        #[arg(long)]
        name: String,
        /// The owner's email (their username).
        #[arg(long)]
        owner_email: String,
        /// The owner's display name (defaults to the part of the email before @).
        #[arg(long)]
        owner_name: Option<String>,
        #[command(flatten)]
        data: DataDirArgs,
    },
}

#[derive(Subcommand)]
enum ChannelCommand {
    /// Add a channel to a workspace, so its webhooks route there (and release quarantined ones).
    Add {
        #[command(flatten)]
        channel: NewChannelArgs,
        #[command(flatten)]
        data: DataDirArgs,
    },
    /// Store or rotate a channel's Meta access token, sealed under the token key (the token is
    /// read from standard input).
    SetToken {
        /// The channel's id (from `channel list`).
        #[arg(long)]
        channel: String,
        #[command(flatten)]
        keys: TokenKeyArgs,
        #[command(flatten)]
        data: DataDirArgs,
    },
    /// Seal every channel token again under the current key (after a key rotation, with the old
    /// key given as the previous one).
    Reseal {
        #[command(flatten)]
        keys: TokenKeyArgs,
        #[command(flatten)]
        data: DataDirArgs,
    },
    /// List channels.
    List {
        /// Only this workspace's.
        #[arg(long)]
        workspace: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataDirArgs,
    },
}

#[derive(Subcommand)]
enum QuarantineCommand {
    /// List quarantined webhooks.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        data: DataDirArgs,
    },
}

fn read_line(prompt: &str) -> anyhow::Result<zeroize::Zeroizing<String>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    let mut line = zeroize::Zeroizing::new(String::new());
    stdin.lock().read_line(&mut line)?;
    Ok(zeroize::Zeroizing::new(
        line.trim_end_matches(['\n', '\r']).to_string(),
    ))
}

fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Owner's password (at least 10 characters): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']).to_string();
    check_password_policy(&password).map_err(|e| anyhow::anyhow!("{e}; pipe it on standard input, e.g. `printf '%s' \"$PASSWORD\" | zentro-relay workspace create …`"))?;
    Ok(password)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Workspace(WorkspaceCommand::Create {
            name,
            owner_email,
            owner_name,
            data,
        }) => create_workspace(&name, &owner_email, owner_name, &data).await,
        Command::Channel(ChannelCommand::Add { channel, data }) => {
            add_channel(channel, &data).await
        }
        Command::Channel(ChannelCommand::List {
            workspace,
            json,
            data,
        }) => list_channels(workspace.as_deref(), json, &data).await,
        Command::Key(KeyCommand::Generate) => {
            generate_key();
            Ok(())
        }
        Command::Channel(ChannelCommand::SetToken {
            channel,
            keys,
            data,
        }) => set_channel_token(&channel, keys, &data).await,
        Command::Channel(ChannelCommand::Reseal { keys, data }) => {
            reseal_channel_tokens(keys, &data).await
        }
        Command::Quarantine(QuarantineCommand::List { json, data }) => {
            list_quarantine(json, &data).await
        }
        Command::Migrate {
            to,
            chunk_rows,
            data,
        } => migrate(&to, chunk_rows, &data).await,
    }
}

/// `migrate`: copy the SQLite relay in the data directory into PostgreSQL, and print what was
/// copied and verified.
async fn migrate(to: &str, chunk_rows: usize, data: &DataDirArgs) -> anyhow::Result<()> {
    if data.database_url.is_some() {
        anyhow::bail!(
            "migrate reads the SQLite database in --data-dir and writes to --to; unset \
             --database-url (ZENTRO_RELAY_DATABASE_URL) for this command"
        );
    }
    let report = zentro_relay::migrate::migrate(&data.data_dir, to, chunk_rows).await?;
    print!("{report}");
    println!(
        "Done. Serve the relay with --database-url (ZENTRO_RELAY_DATABASE_URL) set to {}.",
        zentro_relay::store::redact_url(to)
    );
    Ok(())
}

/// `serve`: bind the listening address, then run the relay until a shutdown signal.
async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let listen = args.listen;
    let config = args.into_config()?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        anyhow::anyhow!(
            "could not listen on {listen}: {e} (is another relay running? set ZENTRO_RELAY_LISTEN)"
        )
    })?;
    zentro_relay::run(config, listener, shutdown_signal()).await
}

/// `workspace create`: the workspace and its owner (password from standard input).
async fn create_workspace(
    name: &str,
    owner_email: &str,
    owner_name: Option<String>,
    data: &DataDirArgs,
) -> anyhow::Result<()> {
    let email = owner_email.trim().to_lowercase();
    if !email.contains('@') {
        anyhow::bail!("--owner-email must be an email address");
    }
    let password = read_password()?;
    let owner_name =
        owner_name.unwrap_or_else(|| email.split('@').next().unwrap_or("owner").to_string());
    let hash = tokio::task::spawn_blocking(move || hash_password(&password)).await?;
    let store = Store::open_at(&data.location()).await?;
    let workspace = store
        .create_workspace(name.trim(), &email, &owner_name, &hash)
        .await?;
    store
        .record(NewAuditEntry {
            workspace_id: &workspace.id,
            action: "workspace.created",
            subject: Some(&email),
            details: serde_json::json!({ "by": "operator" }),
            ..Default::default()
        })
        .await?;
    eprintln!(
        "Created workspace {:?}; {email} is its owner.",
        workspace.name
    );
    println!("{}", workspace.id);
    Ok(())
}

/// The arguments of `channel add`, but the data directory.
#[derive(clap::Args)]
struct NewChannelArgs {
    /// The workspace id.
    #[arg(long)]
    workspace: String,
    /// whatsapp, messenger or instagram.
    #[arg(long)]
    kind: ChannelKind,
    /// WhatsApp phone_number_id, Page id or Instagram account id.
    #[arg(long)]
    external_id: String,
    /// WhatsApp only: the WABA id, for account-level events (template status…).
    #[arg(long)]
    waba_id: Option<String>,
    /// A name people recognise.
    #[arg(long, default_value = "")]
    name: String,
    /// The app-scoped id of the Facebook user who connected it (for Meta's data-deletion and
    /// deauthorize callbacks).
    #[arg(long)]
    meta_user_id: Option<String>,
}

/// `channel add`: route a channel to a workspace (and release its quarantined webhooks).
async fn add_channel(args: NewChannelArgs, data: &DataDirArgs) -> anyhow::Result<()> {
    let store = Store::open_at(&data.location()).await?;
    let (channel, released) = store
        .add_channel(
            &args.workspace,
            args.kind,
            args.external_id.trim(),
            args.waba_id.as_deref(),
            &args.name,
        )
        .await?;
    if let Some(user) = args
        .meta_user_id
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        store.set_channel_connector(&channel.id, user).await?;
    }
    eprintln!(
        "Added the {} channel {} to workspace {}; {released} quarantined webhook(s) delivered to it.",
        channel.kind, channel.external_id, args.workspace
    );
    println!("{}", channel.id);
    Ok(())
}

/// `channel list`: a table, or JSON with `--json`.
async fn list_channels(
    workspace: Option<&str>,
    json: bool,
    data: &DataDirArgs,
) -> anyhow::Result<()> {
    let store = Store::open_at(&data.location()).await?;
    let header = format!(
        "{:<32} {:<10} {:<20} {:<20} {:<32} NAME",
        "ID", "KIND", "EXTERNAL ID", "WABA", "WORKSPACE"
    );
    print_rows(store.channels(workspace).await?, json, &header, |c| {
        format!(
            "{:<32} {:<10} {:<20} {:<20} {:<32} {}",
            c.id,
            c.kind,
            c.external_id,
            c.account_id.unwrap_or_default(),
            c.workspace_id,
            c.display_name
        )
    })
}

/// Prints `rows` as pretty JSON when `json`, else as a table: `header`, then `line` of each row.
fn print_rows<T: serde::Serialize>(
    rows: Vec<T>,
    json: bool,
    header: &str,
    line: impl Fn(T) -> String,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!("{header}");
    for row in rows {
        println!("{}", line(row));
    }
    Ok(())
}

/// `key generate`: print a new token key.
fn generate_key() {
    println!("{}", TokenKey::generate());
    eprintln!(
        "Set it as ZENTRO_RELAY_TOKEN_KEY (or in a file named by ZENTRO_RELAY_TOKEN_KEY_FILE). \
         Losing it makes the stored channel tokens unreadable: keep a copy in your password manager."
    );
}

/// `channel set-token`: seal the token read from standard input and store it.
async fn set_channel_token(
    channel: &str,
    keys: TokenKeyArgs,
    data: &DataDirArgs,
) -> anyhow::Result<()> {
    let keys = keys.into_keys()?.ok_or_else(|| {
        anyhow::anyhow!("set ZENTRO_RELAY_TOKEN_KEY first (`zentro-relay key generate`)")
    })?;
    let token = read_line("Channel's Meta access token: ")?;
    let token = token.trim();
    if token.len() < 20 || token.chars().any(char::is_whitespace) {
        anyhow::bail!("that does not look like a Meta access token (one word, as Meta gives it)");
    }
    let store = Store::open_at(&data.location()).await?;
    let found = store
        .channels(None)
        .await?
        .into_iter()
        .find(|c| c.id == channel)
        .ok_or_else(|| anyhow::anyhow!("no channel {channel} (see `zentro-relay channel list`)"))?;
    let sealed = keys.current.seal(&found.id, token);
    let version = store.set_channel_token(&found.id, &sealed, None).await?;
    store
        .record(NewAuditEntry {
            workspace_id: &found.workspace_id,
            action: if version == 1 { "channel.token_set" } else { "channel.token_rotated" },
            subject: Some(&found.audit_subject()),
            details: serde_json::json!({ "channel_id": found.id, "version": version, "by": "operator" }),
            ..Default::default()
        })
        .await?;
    eprintln!(
        "Stored the token of {} {} (version {version}); devices fetch it when they next connect.",
        found.kind, found.external_id
    );
    Ok(())
}

/// `channel reseal`: seal every token not under the current key again under it.
async fn reseal_channel_tokens(keys: TokenKeyArgs, data: &DataDirArgs) -> anyhow::Result<()> {
    let keys = keys.into_keys()?.ok_or_else(|| {
        anyhow::anyhow!("set ZENTRO_RELAY_TOKEN_KEY (the new key) and ZENTRO_RELAY_TOKEN_KEY_PREVIOUS (the old one)")
    })?;
    let store = Store::open_at(&data.location()).await?;
    let mut resealed = 0;
    for stored in store.all_channel_tokens().await? {
        if stored.sealed.key_id == keys.current.id() {
            continue;
        }
        let token = keys.open(&stored.channel_id, &stored.sealed)?;
        let sealed = keys.current.seal(&stored.channel_id, &token);
        store
            .reseal_channel_token(&stored.channel_id, &sealed)
            .await?;
        resealed += 1;
    }
    eprintln!(
        "Sealed {resealed} channel token(s) again under key {}; the previous key is no longer needed.",
        keys.current.id()
    );
    Ok(())
}

/// `quarantine list`: a table, or JSON with `--json`.
async fn list_quarantine(json: bool, data: &DataDirArgs) -> anyhow::Result<()> {
    let store = Store::open_at(&data.location()).await?;
    let header = format!(
        "{:<6} {:<14} {:<22} {:<20} {:>8} REASON",
        "ID", "RECEIVED", "ROUTE", "ROUTE ID", "BYTES"
    );
    print_rows(store.quarantine().await?, json, &header, |e| {
        format!(
            "{:<6} {:<14} {:<22} {:<20} {:>8} {}",
            e.id,
            e.received_at,
            e.route_kind.unwrap_or_else(|| "-".into()),
            e.route_id.unwrap_or_else(|| "-".into()),
            e.bytes,
            e.reason
        )
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(error) = run(Cli::parse()).await {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
