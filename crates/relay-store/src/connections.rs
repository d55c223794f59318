//! Connecting channels (Embedded Signup) and their health at Meta.

use serde::Serialize;
use serde_json::Value;

/// Where a signup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignupState {
    /// The window is open; Meta's dialog has not finished.
    Pending,
    /// The page sent Meta's code; the relay is completing it.
    Working,
    /// The channel is connected.
    Connected,
    /// The owner closed Meta's dialog.
    Cancelled,
    /// Meta or a check failed; nothing was created.
    Failed,
}

impl SignupState {
    /// The state as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Working => "working",
            Self::Connected => "connected",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    /// The state a stored name stands for (`pending` for anything unknown).
    pub fn parse(value: &str) -> Self {
        match value {
            "working" => Self::Working,
            "connected" => Self::Connected,
            "cancelled" => Self::Cancelled,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }

    /// Whether the signup is over (connected, cancelled or failed).
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Connected | Self::Cancelled | Self::Failed)
    }
}

/// One signup: an owner's attempt at connecting a channel through Meta's dialog, from the page
/// link to its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Signup {
    /// A random id the relay gives the signup when the owner starts it (`/v1/signups/{id}`).
    pub id: String,
    /// The workspace the channel goes to.
    pub workspace_id: String,
    /// The owner who started it.
    pub member_id: String,
    /// The channel kind (`whatsapp`).
    pub kind: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// After this the page refuses it.
    pub expires_at: i64,
    /// Where it is; connected, cancelled and failed are final ([`SignupState::is_finished`]).
    pub state: SignupState,
    /// The channel the signup connected (`None` until its state is connected).
    pub channel_id: Option<String>,
    /// What happened, for people: `{message, step?, error_id?, code?}` (never a secret).
    pub outcome: Option<Value>,
}

/// What a check at Meta found about a channel.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelHealth {
    /// `connected`, `attention` or `disconnected`.
    pub state: String,
    /// Why, for people (`None` when connected).
    pub reason: Option<String>,
    /// The number as customers dial it (WhatsApp), when Meta said.
    pub phone_number: Option<String>,
    /// The quality rating, when Meta said.
    pub quality_rating: Option<String>,
}

impl ChannelHealth {
    /// Connected, with what Meta said of the number.
    pub fn connected(phone_number: Option<String>, quality_rating: Option<String>) -> Self {
        Self {
            state: "connected".into(),
            reason: None,
            phone_number,
            quality_rating,
        }
    }

    /// Needs attention (it works, but something is off), with why.
    pub fn attention(reason: impl Into<String>) -> Self {
        Self {
            state: "attention".into(),
            reason: Some(reason.into()),
            ..Self::default()
        }
    }

    /// Disconnected (it cannot send or receive), with why.
    pub fn disconnected(reason: impl Into<String>) -> Self {
        Self {
            state: "disconnected".into(),
            reason: Some(reason.into()),
            ..Self::default()
        }
    }
}

/// Why a signup page token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupRefusal {
    /// Unknown, or already used.
    Invalid,
    /// Past its `expires_at`: the page link no longer works.
    Expired,
}

/// A signup as both backends read it: its columns, the state and outcome still text.
#[derive(Debug, Clone)]
pub struct SignupRow {
    /// The signup's id.
    pub id: String,
    /// The workspace the channel goes to.
    pub workspace_id: String,
    /// The owner who started it.
    pub member_id: String,
    /// The channel kind.
    pub kind: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    /// After this the page refuses it.
    pub expires_at: i64,
    /// The state as stored ([`SignupState::as_str`]).
    pub state: String,
    /// The channel it connected.
    pub channel_id: Option<String>,
    /// The outcome's JSON text.
    pub outcome: Option<String>,
}

impl From<SignupRow> for Signup {
    /// The signup with its state and outcome read (an outcome that is not JSON is dropped).
    fn from(r: SignupRow) -> Self {
        Self {
            id: r.id,
            workspace_id: r.workspace_id,
            member_id: r.member_id,
            kind: r.kind,
            created_at: r.created_at,
            expires_at: r.expires_at,
            state: SignupState::parse(&r.state),
            channel_id: r.channel_id,
            outcome: r.outcome.and_then(|o| serde_json::from_str(&o).ok()),
        }
    }
}
