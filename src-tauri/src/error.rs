//! The one error type the UI sees: `{code, message}`.
//!
//! The UI branches on `code` only; `message` is for people. Add a code only when the UI does
//! something different for it.

use serde::Serialize;
use zentro_core::CacheError;

/// What kind of failure a command had; the UI branches on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The local cache could not be opened or updated; the UI offers to try again.
    CacheUnavailable,
    /// The customer's 24-hour window is closed: only a template may be sent; the composer says so.
    WindowClosed,
    /// What the user entered can't be used as is (empty, too long); shown next to the input.
    Invalid,
    /// The conversation or message is not in this cache (any more); the UI reloads.
    NotFound,
    /// Nothing syncs (signed out, or still starting): the action can't be queued yet.
    SignedOut,
    /// The member's role does not allow it; the message names who may. The UI disables the action.
    Forbidden,
    /// The relay could not be reached; the UI offers to try again.
    Offline,
    /// Someone else saved the same thing meanwhile (the automation setup): the UI reloads it and
    /// lets the user apply their change again.
    Conflict,
    /// A customer's file that may not be opened (a program or a script, or a type the desk does
    /// not open): the UI shows the warning and offers to save it instead.
    NotOpenable,
    /// Something unexpected; the UI shows the message.
    Internal,
}

/// A failed command, as the UI receives it.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct CommandError {
    /// What kind of failure, for the UI to branch on (never shown as is).
    pub code: ErrorCode,
    /// What happened and what to do, for people.
    pub message: String,
}

impl CommandError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl From<CacheError> for CommandError {
    fn from(error: CacheError) -> Self {
        match error {
            CacheError::CreateDir { .. } | CacheError::Open { .. } => Self::new(
                ErrorCode::CacheUnavailable,
                format!(
                    "Zentro Desk could not open its local cache: {error}. \
                     Check that the disk has free space and the folder is writable, then try again."
                ),
            ),
            CacheError::Migrate(_) => Self::new(
                ErrorCode::CacheUnavailable,
                format!(
                    "Zentro Desk could not update its local cache: {error}. Nothing was changed; \
                     free some disk space and try again, or reinstall the latest version."
                ),
            ),
            CacheError::Query(_) => Self::new(
                ErrorCode::Internal,
                format!("Reading the local cache failed: {error}."),
            ),
        }
    }
}

impl From<zentro_core::outbox::OutboxError> for CommandError {
    fn from(error: zentro_core::outbox::OutboxError) -> Self {
        use zentro_core::outbox::OutboxError;
        let message = error.to_string();
        match error {
            OutboxError::WindowClosed { .. } | OutboxError::NoWindow => {
                Self::new(ErrorCode::WindowClosed, message)
            }
            OutboxError::Invalid(_) => Self::new(ErrorCode::Invalid, message),
            OutboxError::NoConversation(_) => Self::new(ErrorCode::NotFound, message),
            OutboxError::Cache(error) => error.into(),
        }
    }
}

impl From<zentro_core::actions::TeamError> for CommandError {
    fn from(error: zentro_core::actions::TeamError) -> Self {
        use zentro_core::actions::TeamError;
        match error {
            TeamError::Invalid(message) => Self::new(ErrorCode::Invalid, message),
            TeamError::NoConversation(_) => Self::new(ErrorCode::NotFound, error.to_string()),
            TeamError::Cache(error) => error.into(),
        }
    }
}

impl From<zentro_core::relay_client::SyncError> for CommandError {
    fn from(error: zentro_core::relay_client::SyncError) -> Self {
        use zentro_core::relay_client::SyncError;
        let message = error.to_string();
        match error {
            SyncError::Unauthorized => Self::new(
                ErrorCode::SignedOut,
                "The relay no longer accepts this computer's sign-in. Sign in again.",
            ),
            SyncError::Forbidden(_) => Self::new(ErrorCode::Forbidden, message),
            SyncError::WorkspaceTerminated => Self::new(
                ErrorCode::SignedOut,
                "The workspace was terminated by its owner; its data is deleted from this computer.",
            ),
            SyncError::Network(_) => Self::new(ErrorCode::Offline, message),
            SyncError::RateLimited(_) | SyncError::BadAddress(_) | SyncError::Refused { .. } => {
                Self::new(ErrorCode::Invalid, message)
            }
            SyncError::Relay(_) => Self::new(ErrorCode::Internal, message),
            SyncError::Cache(error) => error.into(),
        }
    }
}

impl From<zentro_core::relay_client::automation::SaveAutomationError> for CommandError {
    fn from(error: zentro_core::relay_client::automation::SaveAutomationError) -> Self {
        use zentro_core::relay_client::automation::SaveAutomationError;
        match error {
            SaveAutomationError::Conflict => Self::new(ErrorCode::Conflict, error.to_string()),
            SaveAutomationError::Invalid(_) => Self::new(ErrorCode::Invalid, error.to_string()),
            SaveAutomationError::Relay(error) => error.into(),
        }
    }
}

impl From<zentro_core::broadcasts::BroadcastError> for CommandError {
    fn from(error: zentro_core::broadcasts::BroadcastError) -> Self {
        use zentro_core::broadcasts::BroadcastError;
        match error {
            BroadcastError::NotAdmin => Self::new(
                ErrorCode::Forbidden,
                "Only admins and owners create, pause, resume and cancel campaigns.",
            ),
            BroadcastError::TemplateNotApproved { .. }
            | BroadcastError::NoRecipients
            | BroadcastError::Invalid(_) => Self::new(ErrorCode::Invalid, error.to_string()),
            BroadcastError::Relay(zentro_core::relay_client::SyncError::Network(reason)) => {
                Self::new(
                    ErrorCode::Offline,
                    format!(
                        "The relay could not be reached ({reason}); nothing was sent. Check the network and try again."
                    ),
                )
            }
            BroadcastError::Relay(error) => error.into(),
            BroadcastError::Cache(error) => error.into(),
        }
    }
}

impl From<zentro_core::audience::AudienceError> for CommandError {
    fn from(error: zentro_core::audience::AudienceError) -> Self {
        use zentro_core::audience::AudienceError;
        match error {
            AudienceError::Invalid(message) => Self::new(ErrorCode::Invalid, message),
            AudienceError::Cache(error) => error.into(),
        }
    }
}

impl From<zentro_core::account::SignInError> for CommandError {
    fn from(error: zentro_core::account::SignInError) -> Self {
        use zentro_core::account::SignInError;
        use zentro_core::relay_client::SyncError;
        match error {
            SignInError::Relay(SyncError::Unauthorized) => {
                Self::new(ErrorCode::Invalid, "Wrong email or password.")
            }
            SignInError::Relay(SyncError::BadAddress(e)) => Self::new(
                ErrorCode::Invalid,
                format!("That relay address does not work: {e}"),
            ),
            SignInError::Relay(error) => error.into(),
            other => Self::new(ErrorCode::Internal, format!("Signing in failed: {other}")),
        }
    }
}

impl From<zentro_core::reports::ReportError> for CommandError {
    fn from(error: zentro_core::reports::ReportError) -> Self {
        use zentro_core::reports::ReportError;
        match error {
            ReportError::Date { .. }
            | ReportError::Range { .. }
            | ReportError::TooLong { .. }
            | ReportError::TimeZone(_) => Self::new(
                ErrorCode::Invalid,
                format!("That report can't be made: {error}."),
            ),
            ReportError::Cache(error) => error.into(),
        }
    }
}

impl From<zentro_core::assist_requests::AssistRequestError> for CommandError {
    fn from(error: zentro_core::assist_requests::AssistRequestError) -> Self {
        use zentro_core::assist_requests::{AssistError, AssistRequestError};
        match error {
            AssistRequestError::Assist(error) => {
                let code = match &error {
                    // Not for this conversation or not now: the UI disables the action.
                    AssistError::Off
                    | AssistError::Restricted
                    | AssistError::BudgetSpent { .. }
                    | AssistError::KeyRejected => ErrorCode::Forbidden,
                    // Worth trying again: the UI offers to.
                    AssistError::Unreachable { .. }
                    | AssistError::Timeout
                    | AssistError::RateLimited { .. } => ErrorCode::Offline,
                    AssistError::Provider { status, .. } if *status >= 500 => ErrorCode::Offline,
                    AssistError::NothingToSend(_)
                    | AssistError::BadSettings(_)
                    | AssistError::ContextTooLong => ErrorCode::Invalid,
                    _ => ErrorCode::Internal,
                };
                Self::new(code, error.user_message())
            }
            AssistRequestError::NoConversation(_) => {
                Self::new(ErrorCode::NotFound, error.to_string())
            }
            AssistRequestError::Relay(error) => error.into(),
            AssistRequestError::Cache(error) => error.into(),
            AssistRequestError::Keychain(error) => Self::new(
                ErrorCode::Internal,
                format!("The AI provider's key could not be read: {error}"),
            ),
        }
    }
}
