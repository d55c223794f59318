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
    /// Something unexpected; the UI shows the message.
    Internal,
}

/// A failed command, as the UI receives it.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct CommandError {
    /// What kind of failure.
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
