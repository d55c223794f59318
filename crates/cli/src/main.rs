//! `zentro`: the headless companion of Zentro Desk, over the same core as the app.
//!
//! Exit codes: 0 success; 2 usage error; 3 not signed in or the relay refused the credentials
//! (sign in again); 4 network failure (check the address and the network); 5 no keychain; 1 any
//! other failure; 6 the member's role does not allow it. Output for people is aligned text; `--json` gives scripts JSON. Progress goes
//! to standard error.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use zentro_core::Cache;
use zentro_core::account::Account;
use zentro_core::inbox;
use zentro_core::sync::{Progress, RelayClient, SyncError, catch_up, follow};
use zentro_core::vault::{Secret, Vault, VaultError};

#[derive(Parser)]
#[command(
    name = "zentro",
    version,
    about = "Zentro Desk from the command line: sign in, sync, read and search the local cache."
)]
struct Cli {
    /// The data directory (cache and account); the app's own by default.
    #[arg(long, global = true, env = "ZENTRO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Keep the device token in the Linux kernel keyring instead of the Secret Service (headless servers).
    #[arg(long, global = true)]
    kernel_keyring: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in to a relay (the password is read from standard input).
    Login {
        /// The relay's address, e.g. https://relay.acme.example
        #[arg(long)]
        relay: String,
        /// Your email.
        #[arg(long)]
        email: String,
        /// A name for this device, shown to admins.
        #[arg(long, default_value = "zentro CLI")]
        device_name: String,
    },
    /// Accept an invitation: choose your password (read from standard input) and sign in.
    Join {
        /// The relay's address (from the invitation link).
        #[arg(long)]
        relay: String,
        /// The invitation code.
        #[arg(long)]
        code: String,
        /// A name for this device, shown to admins.
        #[arg(long, default_value = "zentro CLI")]
        device_name: String,
    },
    /// Sign out: revoke this device's token and forget it (and the channel tokens it kept).
    Logout,
    /// The team: members, invitations, roles (admins change them).
    #[command(subcommand)]
    Team(TeamCommand),
    /// Signed-in devices: yours, or everyone's for admins.
    #[command(subcommand)]
    Devices(DevicesCommand),
    /// The workspace's audit log, newest first (admins).
    Audit {
        /// How many entries.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Entries older than this id (for paging).
        #[arg(long)]
        before: Option<i64>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// The workspace's channels, and their Meta tokens.
    #[command(subcommand)]
    Channels(ChannelsCommand),
    /// List the customers in this cache, with the ids `erase` takes.
    Contacts {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Export a customer's data (or everyone's, `--all`) to a ZIP archive: JSON, CSV, readable
    /// transcripts and media (admins; recorded in the audit log).
    Export {
        /// The contact id (from `zentro contacts`).
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        contact: Option<i64>,
        /// Every contact of the cache.
        #[arg(long)]
        all: bool,
        /// The archive to write (.zip).
        #[arg(long)]
        out: PathBuf,
    },
    /// Erase a customer everywhere (admins): every device deletes them, the relay purges its log,
    /// and the audit log keeps a receipt without identifiers. Asks first on a terminal.
    Erase {
        /// The contact id (from `zentro contacts`).
        #[arg(long)]
        contact: i64,
        /// Do not ask (for scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Bring the cache up to date with the relay.
    Sync {
        /// Keep following new events until interrupted.
        #[arg(long)]
        follow: bool,
    },
    /// List conversations, most recent activity first.
    Conversations {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Show a conversation's latest messages, oldest first.
    Show {
        /// The conversation id (from `zentro conversations`).
        conversation: i64,
        /// How many messages.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Reply in a conversation: written to the outbox, sent through Meta, announced to teammates.
    Send {
        /// The conversation id.
        conversation: i64,
        /// The text.
        text: String,
    },
    /// Store a channel's Meta access token in the keychain (read from standard input), for
    /// channels connected by hand.
    ChannelToken {
        /// The channel id as this cache knows it (e.g. whatsapp:106540352242922).
        channel: String,
    },
    /// Search all history.
    Search {
        /// What to look for (words; the last may be a prefix).
        query: String,
        /// How many conversations.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TeamCommand {
    /// List the members.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Invite someone by email; prints the one-time code and link to hand them.
    Invite {
        /// Their email.
        #[arg(long)]
        email: String,
        /// owner, admin or agent.
        #[arg(long, default_value = "agent")]
        role: String,
        /// Their name.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Change a member's role.
    SetRole {
        /// Their email.
        email: String,
        /// owner, admin or agent.
        role: String,
    },
    /// Deactivate a member: every session of theirs ends at once.
    Deactivate {
        /// Their email.
        email: String,
    },
    /// Reactivate a deactivated member.
    Activate {
        /// Their email.
        email: String,
    },
    /// Remove a member.
    Remove {
        /// Their email.
        email: String,
    },
}

#[derive(Subcommand)]
enum DevicesCommand {
    /// List devices.
    List {
        /// Everyone's (admins).
        #[arg(long)]
        all: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Sign a device out.
    Revoke {
        /// The device id (from `zentro devices list`).
        id: String,
    },
}

#[derive(Subcommand)]
enum ChannelsCommand {
    /// List the workspace's channels, whether you may use each and whether a token is stored.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Store or rotate a channel's Meta token on the relay, sealed (admins; read from standard input).
    SetToken {
        /// The channel (relay id, or kind:external_id as in `channels list`).
        channel: String,
    },
    /// Revoke a channel's token on the relay (admins): every device drops its copy.
    RevokeToken {
        /// The channel (relay id, or kind:external_id).
        channel: String,
    },
    /// Fetch the tokens of the channels you may use into the keychain, and drop the others.
    Fetch,
    /// Ask the relay to check a channel at Meta now and print its health.
    Check {
        /// The channel (relay id, or kind:external_id).
        channel: String,
    },
    /// Disconnect a channel (admins): unsubscribed at Meta, its token deleted everywhere; its
    /// conversations stay.
    Disconnect {
        /// The channel (relay id, or kind:external_id).
        channel: String,
    },
}

/// A failure with the exit code it maps to.
struct Failure {
    code: u8,
    message: String,
}

impl From<SyncError> for Failure {
    fn from(error: SyncError) -> Self {
        let code = match error {
            SyncError::Unauthorized => 3,
            SyncError::Network(_) | SyncError::BadAddress(_) => 4,
            SyncError::Forbidden(_) => 6,
            SyncError::WorkspaceTerminated => 3,
            _ => 1,
        };
        let mut message = error.to_string();
        if code == 3 {
            message.push_str(" (zentro login --relay URL --email EMAIL)");
        }
        Self { code, message }
    }
}

impl From<zentro_core::account::SignInError> for Failure {
    fn from(error: zentro_core::account::SignInError) -> Self {
        use zentro_core::account::SignInError;
        match error {
            SignInError::Relay(e) => e.into(),
            SignInError::Vault(e) => e.into(),
            other => fail(1, other.to_string()),
        }
    }
}

impl From<zentro_core::rights::ErasureError> for Failure {
    fn from(error: zentro_core::rights::ErasureError) -> Self {
        use zentro_core::rights::ErasureError;
        match error {
            ErasureError::Relay(e) => e.into(),
            ErasureError::NoContact => fail(2, error.to_string()),
            other => fail(1, other.to_string()),
        }
    }
}

impl From<zentro_core::export::ExportError> for Failure {
    fn from(error: zentro_core::export::ExportError) -> Self {
        use zentro_core::export::ExportError;
        match error {
            ExportError::Relay(e) => e.into(),
            ExportError::NoContact => fail(2, error.to_string()),
            other => fail(1, other.to_string()),
        }
    }
}

impl From<zentro_core::channel_tokens::RefreshError> for Failure {
    fn from(error: zentro_core::channel_tokens::RefreshError) -> Self {
        use zentro_core::channel_tokens::RefreshError;
        match error {
            RefreshError::Relay(e) => e.into(),
            RefreshError::Vault(e) => e.into(),
            other => fail(1, other.to_string()),
        }
    }
}

impl From<VaultError> for Failure {
    fn from(error: VaultError) -> Self {
        let code = if matches!(error, VaultError::Unavailable(_)) {
            5
        } else {
            1
        };
        Self {
            code,
            message: format!("{error}; on a headless server, pass --kernel-keyring"),
        }
    }
}

impl From<zentro_core::CacheError> for Failure {
    fn from(error: zentro_core::CacheError) -> Self {
        Self {
            code: 1,
            message: error.to_string(),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Self {
            code: 1,
            message: error.to_string(),
        }
    }
}

fn fail(code: u8, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

fn default_data_dir() -> Result<PathBuf, Failure> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| {
            fail(
                2,
                "no data directory: pass --data-dir or set ZENTRO_DATA_DIR",
            )
        })?;
    Ok(base.join("app.zentro.desk"))
}

struct Context {
    data_dir: PathBuf,
    vault: Vault,
}

impl Context {
    /// The signed-in relay and this device's token.
    async fn relay(&self) -> Result<(RelayClient, Secret), Failure> {
        let account = self.account()?;
        let token = self.token(&account).await?;
        Ok((RelayClient::new(&account.relay_url)?, token))
    }

    fn account(&self) -> Result<Account, Failure> {
        Account::load(&self.data_dir)?.ok_or_else(|| {
            fail(
                3,
                "not signed in: run `zentro login --relay URL --email EMAIL` first",
            )
        })
    }

    async fn token(&self, account: &Account) -> Result<Secret, Failure> {
        let vault = self.vault.clone();
        let entry = Vault::device_entry(&account.relay_url, &account.email);
        let token = tokio::task::spawn_blocking(move || vault.read(&entry))
            .await
            .map_err(|e| fail(1, e.to_string()))??;
        token.ok_or_else(|| {
            fail(
                3,
                "this device has no token in the keychain: run `zentro login` again",
            )
        })
    }
}

async fn sqlx_state(cache: &Cache, client_id: &str) -> Result<(String, Option<String>), Failure> {
    zentro_core::outbox::state(cache, client_id)
        .await
        .map_err(|e| fail(1, e.to_string()))
}

fn read_password() -> Result<Secret, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(fail(2, "no password on standard input"));
    }
    Ok(Secret::new(password))
}

fn report(progress: Progress) {
    if progress.caught_up {
        eprintln!(
            "synced: up to event {} ({} applied)",
            progress.cursor, progress.applied
        );
    } else {
        eprintln!(
            "catching up: event {}, {} behind ({} applied so far, {:.0} events/s)",
            progress.cursor, progress.behind, progress.applied, progress.rate
        );
    }
}

fn time(ms: i64) -> String {
    zentro_core::utc::UtcTime::from_ms(ms).minutes()
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let data_dir = match cli.data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    let vault = if cli.kernel_keyring {
        #[cfg(target_os = "linux")]
        {
            Vault::kernel_keyring()
        }
        #[cfg(not(target_os = "linux"))]
        return Err(fail(2, "--kernel-keyring exists only on Linux"));
    } else {
        Vault::system()
    };
    let ctx = Context { data_dir, vault };
    match cli.command {
        Command::Login {
            relay,
            email,
            device_name,
        } => {
            let password = read_password()?;
            let account = zentro_core::account::sign_in(
                &ctx.data_dir,
                ctx.vault.clone(),
                &relay,
                &email,
                &password,
                &device_name,
            )
            .await?;
            eprintln!(
                "Signed in to {} as {} ({}).",
                account.workspace_name, account.email, account.role
            );
        }
        Command::Join {
            relay,
            code,
            device_name,
        } => {
            if std::io::stdin().is_terminal() {
                eprintln!("Choose a password (at least 10 characters).");
            }
            let password = read_password()?;
            let account = zentro_core::account::join(
                &ctx.data_dir,
                ctx.vault.clone(),
                &relay,
                &code,
                &password,
                &device_name,
            )
            .await?;
            eprintln!(
                "Joined {} as {} ({}).",
                account.workspace_name, account.email, account.role
            );
        }
        Command::Team(command) => team(&ctx, command).await?,
        Command::Devices(command) => devices(&ctx, command).await?,
        Command::Audit {
            limit,
            before,
            json,
        } => {
            let (client, token) = ctx.relay().await?;
            let page = client.audit(&token, before, limit.clamp(1, 500)).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "entries": page.entries.iter().map(|e| serde_json::json!({
                            "id": e.id, "at": e.at, "actor_email": e.actor_email, "device": e.device,
                            "action": e.action, "subject": e.subject,
                            "details": serde_json::from_str::<serde_json::Value>(&e.details).unwrap_or_default(),
                        })).collect::<Vec<_>>(),
                        "next_before": page.next_before,
                    }))
                    .map_err(|e| fail(1, e.to_string()))?
                );
            } else {
                println!(
                    "{:<16}  {:<24}  {:<22}  {:<28}  DEVICE",
                    "WHEN", "WHO", "WHAT", "SUBJECT"
                );
                for e in &page.entries {
                    println!(
                        "{:<16}  {:<24}  {:<22}  {:<28}  {}",
                        time(e.at),
                        e.actor_email.as_deref().unwrap_or("(operator)"),
                        e.action,
                        e.subject.as_deref().unwrap_or("-"),
                        e.device.as_deref().unwrap_or("-")
                    );
                }
                if let Some(next) = page.next_before {
                    eprintln!("more: zentro audit --before {next}");
                }
            }
        }
        Command::Channels(command) => channels(&ctx, command).await?,
        Command::Contacts { json } => {
            let cache = Cache::open_in(&ctx.data_dir).await?;
            let contacts = inbox::contacts(&cache).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&contacts).map_err(|e| fail(1, e.to_string()))?
                );
            } else {
                println!(
                    "{:>6}  {:<24}  {:<10}  {:<18}  CONVERSATIONS",
                    "ID", "NAME", "CHANNEL", "PHONE/USERNAME"
                );
                for c in contacts {
                    println!(
                        "{:>6}  {:<24}  {:<10}  {:<18}  {}{}",
                        c.id,
                        c.name,
                        c.channel_kind,
                        c.phone.or(c.username).unwrap_or(c.customer_id),
                        c.conversations,
                        if c.restricted { "  (restricted)" } else { "" }
                    );
                }
            }
        }
        Command::Export { contact, all, out } => {
            let (client, token) = ctx.relay().await?;
            let cache = Cache::open_in(&ctx.data_dir).await?;
            let scope = match (contact, all) {
                (Some(id), false) => zentro_core::export::Scope::Contact(id),
                _ => zentro_core::export::Scope::All,
            };
            let mut last_report = std::time::Instant::now();
            let summary = zentro_core::export::export_recorded(
                &cache,
                &client,
                &token,
                scope,
                &out,
                now_ms(),
                &mut |p| {
                    if last_report.elapsed() > std::time::Duration::from_secs(1) {
                        last_report = std::time::Instant::now();
                        eprintln!(
                            "exporting: {}/{} contacts, {}/{} messages",
                            p.contacts_done, p.contacts_total, p.messages_done, p.messages_total
                        );
                    }
                },
            )
            .await?;
            eprintln!(
                "Exported {} contact(s), {} message(s), {} media file(s) ({} bytes); recorded in the audit log.",
                summary.contacts, summary.messages, summary.media_files, summary.bytes
            );
            println!("{}", summary.path);
        }
        Command::Erase { contact, yes } => {
            let (client, token) = ctx.relay().await?;
            let cache = Cache::open_in(&ctx.data_dir).await?;
            let preview = zentro_core::rights::preview(&cache, contact).await?;
            if !yes {
                if !std::io::stdin().is_terminal() {
                    return Err(fail(
                        2,
                        "refusing to erase without confirmation: pass --yes",
                    ));
                }
                eprint!(
                    "Erase {} ({} {}) everywhere: {} conversation(s), {} message(s), {} note(s), {} media file(s)? This cannot be undone. Type 'erase' to confirm: ",
                    preview.name,
                    preview.channel_kind,
                    preview.identity,
                    preview.conversations,
                    preview.messages,
                    preview.notes,
                    preview.media_files
                );
                let _ = std::io::stderr().flush();
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer)?;
                if answer.trim() != "erase" {
                    return Err(fail(1, "not erased"));
                }
            }
            let receipt =
                zentro_core::rights::erase_everywhere(&cache, &client, &token, contact).await?;
            eprintln!(
                "Erased: {} conversation(s), {} message(s), {} media file(s) here; {} event(s) purged from the relay. Every other device erases them at its next sync.",
                receipt.conversations,
                receipt.messages,
                receipt.media_files,
                receipt.relay_events_purged
            );
            println!("sha256:{}", receipt.hash);
        }
        Command::Logout => {
            let account = ctx.account()?;
            if let Ok(token) = ctx.token(&account).await {
                let client = RelayClient::new(&account.relay_url)?;
                if let Err(error) = client.sign_out(&token).await {
                    eprintln!(
                        "warning: the relay did not confirm the sign-out ({error}); the token is forgotten here anyway"
                    );
                }
            }
            let (vault, entry) = (
                ctx.vault.clone(),
                Vault::device_entry(&account.relay_url, &account.email),
            );
            tokio::task::spawn_blocking(move || vault.delete(&entry))
                .await
                .map_err(|e| fail(1, e.to_string()))??;
            let cache = Cache::open_in(&ctx.data_dir).await?;
            let removed = zentro_core::channel_tokens::forget_all(&cache, &ctx.vault)
                .await
                .map_err(|e| fail(1, e.to_string()))?;
            Account::remove(&ctx.data_dir)?;
            eprintln!("Signed out ({removed} channel token(s) removed from the keychain).");
        }
        Command::Sync { follow: keep } => {
            let account = ctx.account()?;
            let token = ctx.token(&account).await?;
            let cache = Cache::open_in(&ctx.data_dir).await?;
            let client = RelayClient::new(&account.relay_url)?;
            let forget = |cache: Cache| {
                let (data_dir, vault) = (ctx.data_dir.clone(), ctx.vault.clone());
                let entry = Vault::device_entry(&account.relay_url, &account.email);
                async move {
                    let done = zentro_core::account::forget_workspace(
                        &data_dir,
                        cache,
                        Some(&vault),
                        &entry,
                    )
                    .await;
                    fail(
                        3,
                        format!(
                            "the workspace was terminated by its owner; its data was deleted from this computer ({} files, {} keychain entries)",
                            done.files, done.keychain_entries
                        ),
                    )
                }
            };
            if keep {
                let stop = CancellationToken::new();
                let signal = stop.clone();
                tokio::spawn(async move {
                    let _ = tokio::signal::ctrl_c().await;
                    signal.cancel();
                });
                match follow(
                    &cache,
                    &client,
                    &token,
                    &account.workspace_id,
                    &stop,
                    &mut report,
                )
                .await
                {
                    Err(SyncError::WorkspaceTerminated) => return Err(forget(cache).await),
                    other => other?,
                }
            } else {
                match catch_up(&cache, &client, &token, &account.workspace_id, &mut report).await {
                    Err(SyncError::WorkspaceTerminated) => return Err(forget(cache).await),
                    other => {
                        other?;
                    }
                }
                zentro_core::rights::cleanup(&cache).await?;
                // Team events written while offline go out, and media that arrived come in.
                zentro_core::team::flush(&cache, &client, &token).await?;
                match zentro_core::channel_tokens::refresh(&cache, &client, &token, &ctx.vault)
                    .await
                {
                    Ok(done) if done.stored + done.removed > 0 => eprintln!(
                        "Channel tokens: {} stored in the keychain, {} removed.",
                        done.stored, done.removed
                    ),
                    Ok(_) => {}
                    Err(error) => eprintln!("warning: channel tokens not updated: {error}"),
                }
                let graph = graph_client()?;
                let tokens = channel_tokens(&ctx.vault);
                let media = tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current().block_on(zentro_core::media::download_due(
                        &cache,
                        &graph,
                        &tokens,
                        &ctx.data_dir,
                        now_ms(),
                        500,
                    ))
                })?;
                if media.stored + media.retrying > 0 {
                    eprintln!(
                        "Media: {} downloaded, {} to retry later.",
                        media.stored, media.retrying
                    );
                }
            }
        }
        Command::Conversations { limit, json } => {
            let cache = Cache::open_in(&ctx.data_dir).await?;
            let list = inbox::conversations(&cache, None, limit.clamp(1, 1000)).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).map_err(|e| fail(1, e.to_string()))?
                );
            } else {
                println!(
                    "{:>6}  {:<9}  {:<8}  {:>6}  {:<16}  {:<24}  LAST MESSAGE",
                    "ID", "CHANNEL", "STATUS", "UNREAD", "ACTIVITY (UTC)", "CUSTOMER"
                );
                for c in list {
                    println!(
                        "{:>6}  {:<9}  {:<8}  {:>6}  {:<16}  {:<24}  {}",
                        c.id,
                        c.channel_kind,
                        c.status,
                        c.unread_count,
                        time(c.last_activity_at),
                        c.contact_name,
                        c.preview
                    );
                }
            }
        }
        Command::Show {
            conversation,
            limit,
            json,
        } => {
            let cache = Cache::open_in(&ctx.data_dir).await?;
            let mut messages =
                inbox::messages(&cache, conversation, None, limit.clamp(1, 1000)).await?;
            if messages.is_empty() {
                return Err(fail(
                    1,
                    format!(
                        "conversation {conversation} has no messages here (see `zentro conversations`)"
                    ),
                ));
            }
            messages.reverse();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&messages).map_err(|e| fail(1, e.to_string()))?
                );
            } else {
                for m in messages {
                    let who = if m.direction == "inbound" {
                        "customer"
                    } else {
                        "us"
                    };
                    let text = if m.deleted {
                        "(unsent by the customer)".to_string()
                    } else {
                        m.body
                            .or(m.caption)
                            .unwrap_or_else(|| format!("[{}]", m.kind))
                    };
                    let status = m
                        .delivery_status
                        .map(|s| format!("  [{s}]"))
                        .unwrap_or_default();
                    println!("{}  {:<8}  {text}{status}", time(m.sent_at), who);
                }
            }
        }
        Command::ChannelToken { channel } => {
            let token = read_password()?;
            let (vault, entry) = (ctx.vault.clone(), Vault::channel_entry(&channel));
            tokio::task::spawn_blocking(move || vault.store(&entry, &token))
                .await
                .map_err(|e| fail(1, e.to_string()))??;
            eprintln!("Stored the token of {channel} in the keychain.");
        }
        Command::Send { conversation, text } => {
            let account = ctx.account()?;
            let token = ctx.token(&account).await?;
            let cache = Cache::open_in(&ctx.data_dir).await?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let client_id = zentro_core::outbox::queue_reply(
                &cache,
                &account.member_id,
                conversation,
                &text,
                None,
                now,
            )
            .await
            .map_err(|e| fail(1, e.to_string()))?;
            let graph = graph_client()?;
            let tokens = channel_tokens(&ctx.vault);
            let report = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(zentro_core::outbox::deliver_due(
                    &cache, &graph, &tokens, now,
                ))
            })
            .map_err(|e| fail(1, e.to_string()))?;
            let client = RelayClient::new(&account.relay_url)?;
            for sent in &report.accepted {
                let payload = serde_json::to_value(sent).map_err(|e| fail(1, e.to_string()))?;
                client
                    .publish(&token, "message.sent", payload, &sent.client_id)
                    .await?;
            }
            if report.accepted.iter().any(|s| s.client_id == client_id) {
                eprintln!("Sent.");
            } else {
                let (state, error): (String, Option<String>) =
                    sqlx_state(&cache, &client_id).await?;
                return Err(fail(
                    if state == "queued" { 4 } else { 1 },
                    format!("not sent ({state}): {}", error.unwrap_or_default()),
                ));
            }
        }
        Command::Search { query, limit, json } => {
            let cache = Cache::open_in(&ctx.data_dir).await?;
            let hits = inbox::search(&cache, &query, limit.clamp(1, 200)).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&hits).map_err(|e| fail(1, e.to_string()))?
                );
            } else {
                for h in hits {
                    println!("{:>6}  {}", h.conversation_id, h.snippet);
                }
            }
        }
    }
    Ok(())
}

async fn member_by_email(
    client: &RelayClient,
    token: &Secret,
    email: &str,
) -> Result<zentro_core::sync::Teammate, Failure> {
    client
        .members(token)
        .await?
        .into_iter()
        .find(|m| m.email.eq_ignore_ascii_case(email.trim()))
        .ok_or_else(|| fail(2, format!("no member {email} (see `zentro team list`)")))
}

async fn team(ctx: &Context, command: TeamCommand) -> Result<(), Failure> {
    use zentro_core::members::MemberChange;
    let (client, token) = ctx.relay().await?;
    let change = |email: String, change: MemberChange| {
        let (client, token) = (client.clone(), token.clone());
        async move {
            let member = member_by_email(&client, &token, &email).await?;
            let updated = client.update_member(&token, &member.id, &change).await?;
            eprintln!("{}: {} ({}).", updated.email, updated.status, updated.role);
            Ok::<(), Failure>(())
        }
    };
    match command {
        TeamCommand::List { json } => {
            let members = client.members(&token).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&members).map_err(|e| fail(1, e.to_string()))?
                );
            } else {
                println!(
                    "{:<32}  {:<24}  {:<6}  {:<11}  LAST SIGN-IN",
                    "EMAIL", "NAME", "ROLE", "STATUS"
                );
                for m in members {
                    println!(
                        "{:<32}  {:<24}  {:<6}  {:<11}  {}",
                        m.email,
                        m.display_name,
                        m.role,
                        m.status,
                        m.last_sign_in_at
                            .map(time)
                            .unwrap_or_else(|| "never".into())
                    );
                }
            }
        }
        TeamCommand::Invite { email, role, name } => {
            let invitation = client.invite(&token, &email, &name, &role).await?;
            eprintln!(
                "Invited {} as {}; the code works once, until {} UTC. Hand them:",
                invitation.member.email,
                invitation.member.role,
                time(invitation.expires_at)
            );
            println!("{}", invitation.code);
            eprintln!("  link: {}", invitation.link);
        }
        TeamCommand::SetRole { email, role } => {
            change(
                email,
                MemberChange {
                    role: Some(role),
                    status: None,
                },
            )
            .await?
        }
        TeamCommand::Deactivate { email } => {
            change(
                email,
                MemberChange {
                    role: None,
                    status: Some("deactivated".into()),
                },
            )
            .await?
        }
        TeamCommand::Activate { email } => {
            change(
                email,
                MemberChange {
                    role: None,
                    status: Some("active".into()),
                },
            )
            .await?
        }
        TeamCommand::Remove { email } => {
            let member = member_by_email(&client, &token, &email).await?;
            client.remove_member(&token, &member.id).await?;
            eprintln!("Removed {}.", member.email);
        }
    }
    Ok(())
}

async fn devices(ctx: &Context, command: DevicesCommand) -> Result<(), Failure> {
    let (client, token) = ctx.relay().await?;
    match command {
        DevicesCommand::List { all, json } => {
            let devices = client.devices(&token, all).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&devices).map_err(|e| fail(1, e.to_string()))?
                );
            } else {
                println!(
                    "{:<32}  {:<28}  {:<24}  {:<16}  LAST SEEN",
                    "ID", "MEMBER", "NAME", "SIGNED IN"
                );
                for d in devices {
                    println!(
                        "{:<32}  {:<28}  {:<24}  {:<16}  {}{}",
                        d.id,
                        d.member_email,
                        d.name,
                        time(d.created_at),
                        time(d.last_seen_at),
                        if d.current { "  (this device)" } else { "" }
                    );
                }
            }
        }
        DevicesCommand::Revoke { id } => {
            client.revoke_device(&token, &id).await?;
            eprintln!("Signed out device {id}.");
        }
    }
    Ok(())
}

async fn channels(ctx: &Context, command: ChannelsCommand) -> Result<(), Failure> {
    let (client, token) = ctx.relay().await?;
    let find = |channels: Vec<zentro_core::channel_tokens::ChannelInfo>, wanted: &str| {
        channels
            .into_iter()
            .find(|c| c.id == wanted || c.cache_id() == wanted)
            .ok_or_else(|| {
                fail(
                    2,
                    format!("no channel {wanted} (see `zentro channels list`)"),
                )
            })
    };
    match command {
        ChannelsCommand::List { json } => {
            let channels = client.channels(&token).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&channels).map_err(|e| fail(1, e.to_string()))?
                );
            } else {
                println!(
                    "{:<32}  {:<30}  {:<20}  {:<8}  {:<7}  HEALTH",
                    "ID", "CHANNEL", "NAME", "TOKEN", "ALLOWED"
                );
                for c in channels {
                    println!(
                        "{:<32}  {:<30}  {:<20}  {:<8}  {:<7}  {}",
                        c.id,
                        c.cache_id(),
                        c.display_name,
                        c.token_version
                            .map(|v| format!("v{v}"))
                            .unwrap_or_else(|| "none".into()),
                        if c.allowed { "yes" } else { "no" },
                        c.health
                    );
                }
            }
        }
        ChannelsCommand::SetToken { channel } => {
            let channel = find(client.channels(&token).await?, &channel)?;
            let meta_token = read_password()?;
            let updated = client
                .set_channel_token(&token, &channel.id, &meta_token)
                .await?;
            eprintln!(
                "Stored the token of {} on the relay (version {}).",
                updated.cache_id(),
                updated.token_version.unwrap_or_default()
            );
        }
        ChannelsCommand::RevokeToken { channel } => {
            let channel = find(client.channels(&token).await?, &channel)?;
            client.revoke_channel_token(&token, &channel.id).await?;
            eprintln!(
                "Revoked the token of {}; devices drop it when they next sync.",
                channel.cache_id()
            );
        }
        ChannelsCommand::Check { channel } => {
            let channel = find(client.channels(&token).await?, &channel)?;
            let checked = client.check_channel(&token, &channel.id).await?;
            println!("{}", checked.health);
            if let Some(reason) = &checked.health_reason {
                eprintln!("{}: {reason}", checked.cache_id());
            }
        }
        ChannelsCommand::Disconnect { channel } => {
            let channel = find(client.channels(&token).await?, &channel)?;
            client.disconnect_channel(&token, &channel.id).await?;
            eprintln!(
                "Disconnected {}: Meta no longer sends its messages here and devices drop its token when they next sync. An owner can connect it again from the app.",
                channel.cache_id()
            );
        }
        ChannelsCommand::Fetch => {
            let cache = Cache::open_in(&ctx.data_dir).await?;
            let done =
                zentro_core::channel_tokens::refresh(&cache, &client, &token, &ctx.vault).await?;
            eprintln!(
                "{} channel token(s) stored in the keychain, {} removed.",
                done.stored, done.removed
            );
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// The Graph API client (`ZENTRO_GRAPH_URL` points it at a stand-in, for tests and the sandbox).
fn graph_client() -> Result<zentro_meta::graph::GraphClient, Failure> {
    let graph_url = std::env::var("ZENTRO_GRAPH_URL")
        .unwrap_or_else(|_| zentro_meta::platform::GRAPH_BASE_URL.to_string());
    let graph =
        zentro_meta::graph::GraphClient::new(&graph_url).map_err(|e| fail(1, e.to_string()))?;
    Ok(match url::Url::parse(&graph_url) {
        // A stand-in serves its media itself.
        Ok(base) if std::env::var_os("ZENTRO_GRAPH_URL").is_some() => {
            graph.with_media_policy(zentro_meta::graph::MediaHostPolicy::meta().allow_origin(&base))
        }
        _ => graph,
    })
}

/// Channel tokens from the keychain, by cache channel id.
fn channel_tokens(
    vault: &Vault,
) -> impl Fn(&str) -> Option<zentro_meta::AccessToken> + Sync + use<> {
    let vault = vault.clone();
    move |channel: &str| {
        vault
            .read(&Vault::channel_entry(channel))
            .ok()
            .flatten()
            .map(|s| zentro_meta::AccessToken::new(s.expose()))
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
