//! What the relay's storage holds and hands out, shared by its two backends
//! (`zentro-relay-sqlite`, `zentro-relay-postgres`) and the relay (`zentro_relay::store`, which
//! picks a backend and keeps the logic the two share: transactions, audit entries, routing).
//!
//! Rows are plain data with no driver in them: each backend reads its own rows into these types.
//! The one exception is [`campaign_sql`], SQL written once and run by both backends through sqlx's
//! generic traits.

pub mod access;
pub mod assist;
pub mod automation;
pub mod campaign_sql;
pub mod campaigns;
pub mod channels;
pub mod connections;
pub mod consent;
pub mod gaps;
pub mod shared_files;
pub mod signup_pages;
pub mod team;
pub mod templates;

use std::str::FromStr;

use serde::Serialize;

/// A channel kind as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// WhatsApp number.
    Whatsapp,
    /// Facebook Page.
    Messenger,
    /// Instagram account.
    Instagram,
}

impl ChannelKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Whatsapp => "whatsapp",
            Self::Messenger => "messenger",
            Self::Instagram => "instagram",
        }
    }
}

impl FromStr for ChannelKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "whatsapp" => Ok(Self::Whatsapp),
            "messenger" => Ok(Self::Messenger),
            "instagram" => Ok(Self::Instagram),
            other => Err(format!(
                "unknown channel kind {other:?} (whatsapp, messenger or instagram)"
            )),
        }
    }
}

/// A channel row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Channel {
    /// A random id the relay gives the channel when it is added; the API names it by this.
    pub id: String,
    /// Owning workspace.
    pub workspace_id: String,
    /// `whatsapp`, `messenger` or `instagram` (a [`ChannelKind`] as text).
    pub kind: String,
    /// phone_number_id, Page id or Instagram account id.
    pub external_id: String,
    /// WABA id (WhatsApp).
    pub account_id: Option<String>,
    /// Name shown to people.
    pub display_name: String,
    /// What the relay last saw at Meta: `connected`, `attention`, `disconnected` or `unknown`.
    pub health: String,
    /// Why it needs attention or is disconnected, for people.
    pub health_reason: Option<String>,
    /// When Meta was last asked (ms since the epoch).
    pub health_checked_at: Option<i64>,
    /// The number as customers dial it (WhatsApp).
    pub phone_number: Option<String>,
    /// Meta's quality rating of the number: `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
    pub quality_rating: Option<String>,
}

impl Channel {
    /// How the audit log names the channel: `kind:external_id`.
    pub fn audit_subject(&self) -> String {
        format!("{}:{}", self.kind, self.external_id)
    }
}

/// A member as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// A random id the relay gives the member when the workspace is created (its owner) or when
    /// the member is invited.
    pub id: String,
    /// Email (the username).
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// owner, admin or agent.
    pub role: String,
}

/// A workspace as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workspace {
    /// A random id the relay gives the workspace when it is created; all its rows name it.
    pub id: String,
    /// What people call the workspace, given when it is created.
    pub name: String,
}

/// A member's credentials, for sign-in.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The member the email belongs to.
    pub member: Member,
    /// The workspace the member belongs to, which a sign-in opens.
    pub workspace: Workspace,
    /// argon2id hash, if a password was set.
    pub password_hash: Option<String>,
    /// active, invited, deactivated.
    pub status: String,
}

/// The device session behind a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionContext {
    /// Session id.
    pub session_id: String,
    /// Member id.
    pub member_id: String,
    /// Workspace id.
    pub workspace_id: String,
    /// The member's role.
    pub role: zentro_events::roles::Role,
    /// The member's email (for the audit log).
    pub email: String,
    /// The device's name (for the audit log).
    pub device_name: String,
}

/// A member as teammates see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberSummary {
    /// The member's id, as in [`Member::id`].
    pub id: String,
    /// The email the member signs in with.
    pub email: String,
    /// The name teammates see, given at invitation or when the workspace was created.
    pub display_name: String,
    /// owner, admin or agent.
    pub role: String,
    /// invited, active or deactivated.
    pub status: String,
    /// When the member was created or invited (UTC ms).
    pub created_at: i64,
    /// Their last successful sign-in (UTC ms).
    pub last_sign_in_at: Option<i64>,
}

/// One event of a workspace's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    /// Position in the workspace's log.
    pub seq: i64,
    /// `meta.webhook` or a team event kind.
    pub kind: String,
    /// When the relay appended it (UTC ms).
    pub at: i64,
    /// The member who published a team event (`None` for Meta's webhooks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The event's JSON.
    pub payload: serde_json::Value,
}

/// A quarantined webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantineEntry {
    /// Its row number, growing with each arrival (`ID` in `zentro-relay quarantine list`).
    pub id: i64,
    /// When it arrived (UTC ms).
    pub received_at: i64,
    /// Route kind, if it parsed.
    pub route_kind: Option<String>,
    /// Route id, if it parsed.
    pub route_id: Option<String>,
    /// Why it is here.
    pub reason: String,
    /// Size of the stored body.
    pub bytes: i64,
}

/// An event to append.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    /// Its position in the workspace's log.
    pub seq: i64,
    /// `meta.webhook` or a team event kind.
    pub kind: &'a str,
    /// When the relay appended it (UTC ms).
    pub at: i64,
    /// What makes a redelivery recognisable (unique per workspace).
    pub dedup_key: &'a str,
    /// The member who published a team event.
    pub author: Option<&'a str>,
    /// The event's JSON, as devices receive it.
    pub payload: &'a str,
    /// The channel it concerns, when the appender knows it (the automation's events: their
    /// conversation's channel, looked up in the same transaction). `None`: the database's
    /// `events_channel` trigger works it out from the payload, as for every other event.
    pub channel_id: Option<&'a str>,
}

/// A token as stored: which key, the nonce, the ciphertext with its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The sealing key's fingerprint.
    pub key_id: String,
    /// 24 random bytes.
    pub nonce: Vec<u8>,
    /// Ciphertext and tag.
    pub ciphertext: Vec<u8>,
}
