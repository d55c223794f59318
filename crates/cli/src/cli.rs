//! The command line's shape: every command, subcommand and flag, as clap parses them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use zentro_core::members::Role;

/// The whole command line: the global flags and one command.
#[derive(Parser)]
#[command(
    name = "zentro",
    version,
    about = "Zentro Desk from the command line: sign in, sync, read and search the local cache."
)]
pub struct Cli {
    /// The data directory (cache and account); the app's own by default.
    #[arg(long, global = true, env = "ZENTRO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep the device token in the Linux kernel keyring instead of the Secret Service (headless servers).
    #[arg(long, global = true)]
    pub kernel_keyring: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands, one per line of `zentro --help`.
#[derive(Subcommand)]
pub enum Command {
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
    /// List the teams (departments): their members, how each assigns, its first-response target.
    Teams {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// The workspace's automation: hours, greeting, away message, menu bot, teams and assignment
    /// (everyone reads it; admins change it).
    #[command(subcommand)]
    Automation(AutomationCommand),
    /// AI assist, when an owner turned it on: a conversation's summary or a reply draft, streamed
    /// from the workspace's provider (masked as the workspace says; restricted customers never).
    #[command(subcommand)]
    Assist(AssistCommand),
    /// Set your presence (available or away); without one, list everyone's.
    Presence {
        /// Your new status; omit it to list everyone's presence.
        status: Option<PresenceStatus>,
        /// JSON output (for the list).
        #[arg(long)]
        json: bool,
    },
    /// List the customers in this cache, with the ids `erase` takes.
    Contacts {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// A customer's consent to marketing messages: show it with its history, or record what
    /// they told you.
    #[command(subcommand)]
    Consent(ConsentCommand),
    /// The workspace's WhatsApp templates: list them, read them again from Meta, or submit a new
    /// one for Meta's review (admins).
    #[command(subcommand)]
    Templates(TemplatesCommand),
    /// Broadcast campaigns: a WhatsApp template sent by the relay to a list of customers, paced,
    /// exactly once each (reading: any member; creating, starting, pausing, resuming,
    /// cancelling: admins).
    #[command(subcommand)]
    Broadcasts(BroadcastsCommand),
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
        /// What to send, as the customer will read it (quote it in the shell).
        text: String,
    },
    /// Store a channel's Meta access token in the keychain (read from standard input), for
    /// channels connected by hand.
    ChannelToken {
        /// The channel id as this cache knows it (e.g. whatsapp:106540352242922).
        channel: String,
    },
    /// A manager's figures from the local cache (nothing is sent anywhere): conversations,
    /// messages, response and resolution times, the queue, agents, channels, teams and the
    /// busiest hours, over a range of days in this desk's time zone (`TZ`, else the system's).
    Report {
        /// The first day, YYYY-MM-DD (default: 29 days before --until).
        #[arg(long)]
        since: Option<String>,
        /// The last day, YYYY-MM-DD (default: today).
        #[arg(long)]
        until: Option<String>,
        /// Only this channel kind.
        #[arg(long)]
        channel: Option<ChannelKind>,
        /// Only this team (its name or id, as `zentro teams` lists them).
        #[arg(long)]
        team: Option<String>,
        /// Only this agent's work (their sign-in email).
        #[arg(long)]
        agent: Option<String>,
        /// Count durations in the workspace's business hours only.
        #[arg(long)]
        business_hours: bool,
        /// JSON output: the whole report.
        #[arg(long)]
        json: bool,
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

/// `zentro team …`: members and invitations.
#[derive(Subcommand)]
pub enum TeamCommand {
    /// List the members.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Invite someone by email; prints the one-time code and link to hand them.
    Invite {
        /// The address the invitation is for; they sign in with it.
        #[arg(long)]
        email: String,
        /// owner, admin or agent.
        #[arg(long, default_value = "agent")]
        role: Role,
        /// The name teammates will see them by (optional; sent to the relay as given).
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Change a member's role.
    SetRole {
        /// The member's sign-in email.
        email: String,
        /// owner, admin or agent.
        role: Role,
    },
    /// Deactivate a member: every session of theirs ends at once.
    Deactivate {
        /// The member's sign-in email.
        email: String,
    },
    /// Reactivate a deactivated member.
    Activate {
        /// The member's sign-in email.
        email: String,
    },
    /// Remove a member.
    Remove {
        /// The member's sign-in email.
        email: String,
    },
}

/// `zentro devices …`: signed-in devices.
#[derive(Subcommand)]
pub enum DevicesCommand {
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

/// `zentro channels …`: the workspace's channels and their tokens on the relay.
#[derive(Subcommand)]
pub enum ChannelsCommand {
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

/// `zentro assist …`: AI assist on one conversation of the local cache.
#[derive(Subcommand)]
pub enum AssistCommand {
    /// A summary of the conversation for the team (printed; identifiers stay masked).
    Summary {
        /// The conversation id (from `zentro conversations`).
        conversation: i64,
        /// Print what is sent (the endpoint and the exact body; never the key) to standard error
        /// before sending.
        #[arg(long)]
        show_request: bool,
    },
    /// A draft of the next reply (printed, never sent: send it with `zentro send`).
    Draft {
        /// The conversation id (from `zentro conversations`).
        conversation: i64,
        /// Print what is sent (the endpoint and the exact body; never the key) to standard error
        /// before sending.
        #[arg(long)]
        show_request: bool,
    },
    /// Your draft rewritten (printed, never sent): shorter, friendlier, more formal, or in the
    /// customer's language.
    Rewrite {
        /// The conversation id (from `zentro conversations`).
        conversation: i64,
        /// How to rewrite it.
        #[arg(long, value_enum)]
        style: RewriteStyleArg,
        /// The draft to rewrite.
        draft: String,
        /// Print what is sent (the endpoint and the exact body; never the key) to standard error
        /// before sending.
        #[arg(long)]
        show_request: bool,
    },
    /// Suggested intent and sentiment labels for the customer's latest message (printed, not
    /// applied).
    Labels {
        /// The conversation id (from `zentro conversations`).
        conversation: i64,
        /// Print what is sent (the endpoint and the exact body; never the key) to standard error
        /// before sending.
        #[arg(long)]
        show_request: bool,
    },
}

/// How `zentro assist rewrite` changes a draft.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RewriteStyleArg {
    /// Fewer words, same meaning.
    Shorter,
    /// Warmer.
    Friendlier,
    /// More formal.
    Formal,
    /// In the language the customer writes in.
    CustomersLanguage,
}

/// `zentro templates …`: the workspace's WhatsApp templates.
#[derive(Subcommand)]
pub enum TemplatesCommand {
    /// The templates as the relay last learned them from Meta: category, status, quality.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Read every WhatsApp account's templates from Meta again (admins).
    Refresh {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Submit a template for Meta's review (admins); it is PENDING until Meta decides.
    Create {
        /// Lower-case letters, digits and underscores.
        #[arg(long)]
        name: String,
        /// Language code, e.g. en_US.
        #[arg(long, default_value = "en_US")]
        language: String,
        /// marketing, utility or authentication.
        #[arg(long)]
        category: String,
        /// The body, with {{1}}, {{2}}… where the variables go.
        #[arg(long)]
        body: String,
        /// An example value for each variable, in order (Meta requires them).
        #[arg(long)]
        example: Vec<String>,
        /// A footer (no variables).
        #[arg(long)]
        footer: Option<String>,
        /// The WhatsApp channel whose account gets it (when the workspace has several).
        #[arg(long)]
        channel: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// `zentro broadcasts …`: the workspace's broadcast campaigns.
#[derive(Subcommand)]
pub enum BroadcastsCommand {
    /// The campaigns, newest first, with their state and counts.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// One campaign: its state, why it is paused, and its recipients counted by outcome.
    Show {
        /// The campaign's id.
        id: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Create a draft (admins), with its recipients from a file.
    Create {
        /// What the team calls it.
        #[arg(long)]
        name: String,
        /// The WhatsApp number (its phone number id) it is sent from.
        #[arg(long)]
        channel: String,
        /// The template's name (from `zentro templates list`).
        #[arg(long)]
        template: String,
        /// The template's language.
        #[arg(long, default_value = "en_US")]
        language: String,
        /// How the audience was chosen, for the record.
        #[arg(long, default_value = "")]
        audience: String,
        /// Most messages per second (the relay's default when absent).
        #[arg(long)]
        per_second: Option<u32>,
        /// The recipients: one `customer_id[,name]` a line (`-`: standard input).
        #[arg(long)]
        recipients: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// A campaign's recipients with their outcomes, or (`--add FILE`) add recipients to a draft.
    Recipients {
        /// The campaign's id.
        id: String,
        /// Recipients to add: one `customer_id[,name]` a line (`-`: standard input).
        #[arg(long)]
        add: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// Every recipient with their outcome as the relay's CSV (the desk's download).
        #[arg(long, conflicts_with_all = ["add", "json"])]
        csv: bool,
    },
    /// Start a draft now, or at a time (admins).
    Start {
        /// The campaign's id.
        id: String,
        /// When, in milliseconds since the epoch (now when absent).
        #[arg(long)]
        at: Option<i64>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Pause a scheduled or running campaign (admins).
    Pause {
        /// The campaign's id.
        id: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Resume a paused campaign (admins).
    Resume {
        /// The campaign's id.
        id: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a campaign for good (admins).
    Cancel {
        /// The campaign's id.
        id: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// `zentro consent …`: a customer's consent to marketing messages.
#[derive(Subcommand)]
pub enum ConsentCommand {
    /// The contact's consent on its channel now, and every record of it (newest first).
    Show {
        /// The contact id (from `zentro contacts`).
        contact: i64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Record that the customer opted in or out (the relay records their STOP and START
    /// keywords by itself).
    Record {
        /// The contact id (from `zentro contacts`).
        contact: i64,
        /// Opted in or out.
        #[arg(value_enum)]
        opt: ConsentOpt,
        /// How: `agent` (they told you), or `form` and `import` (admins).
        #[arg(long, value_enum, default_value = "agent")]
        source: ConsentSourceArg,
        /// How they told you (at most 500 characters).
        #[arg(long)]
        note: Option<String>,
    },
}

/// Opted in or out.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ConsentOpt {
    /// May receive marketing messages.
    In,
    /// May not.
    Out,
}

impl ConsentOpt {
    /// Whether it opts in.
    pub fn opted_in(self) -> bool {
        matches!(self, Self::In)
    }
}

/// How a consent was given, as a member records it.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ConsentSourceArg {
    /// The customer told you.
    Agent,
    /// A form the business collected (admins).
    Form,
    /// The business's earlier records (admins).
    Import,
}

impl From<ConsentSourceArg> for zentro_events::ConsentSource {
    fn from(source: ConsentSourceArg) -> Self {
        match source {
            ConsentSourceArg::Agent => Self::Agent,
            ConsentSourceArg::Form => Self::Form,
            ConsentSourceArg::Import => Self::Import,
        }
    }
}

/// `zentro automation …`: the workspace's automation setup on the relay.
#[derive(Subcommand)]
pub enum AutomationCommand {
    /// Show the setup, its version and who saved it.
    Show {
        /// JSON output: `{version, setup, saved_at, saved_by}`, `setup` as `set` takes it.
        #[arg(long)]
        json: bool,
    },
    /// Replace the setup with a JSON file (admins), e.g. one `show --json`'s `setup` was saved
    /// to and edited.
    Set {
        /// The setup as JSON (the `setup` object of `zentro automation show --json`).
        file: PathBuf,
        /// The version this replaces; refused if someone saved another meanwhile (default: the
        /// current one).
        #[arg(long)]
        expected_version: Option<i64>,
    },
    /// Turn the automation on (admins).
    Enable,
    /// Turn the automation off (admins): nothing automated happens; teams still route by hand.
    Disable,
}

/// A status a member sets for themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PresenceStatus {
    /// Ready to be assigned conversations.
    Available,
    /// Signed in but not taking new conversations.
    Away,
}

impl PresenceStatus {
    /// The word the relay takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Away => "away",
        }
    }
}

/// A channel kind a report can keep to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ChannelKind {
    /// WhatsApp numbers.
    Whatsapp,
    /// Facebook Pages (Messenger).
    Messenger,
    /// Instagram accounts.
    Instagram,
}

impl ChannelKind {
    /// The kind as the cache names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Whatsapp => "whatsapp",
            Self::Messenger => "messenger",
            Self::Instagram => "instagram",
        }
    }
}
