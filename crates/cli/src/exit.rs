//! How a command ends: the exit codes scripts rely on, and the failure that carries one.

use zentro_core::relay_client::SyncError;
use zentro_core::vault::VaultError;

/// The process's exit status. The numbers are a public contract: scripts and tests depend on
/// them, so a value never changes and a new meaning gets a new number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// The command did what it was asked.
    Ok = 0,
    /// Any failure without a more specific code.
    Other = 1,
    /// The command line or its input was not usable (a missing password, an unknown member,
    /// channel or contact, no confirmation).
    Usage = 2,
    /// Not signed in, or the relay refused the credentials: sign in again.
    SignIn = 3,
    /// The network failed or the relay's address is wrong: check both (a reply still queued
    /// counts here).
    Network = 4,
    /// No keychain to keep the device token in.
    NoKeychain = 5,
    /// The member's role does not allow it.
    Forbidden = 6,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit as u8)
    }
}

/// A failure with the exit code it maps to.
pub struct Failure {
    /// What the process exits with.
    pub exit: Exit,
    /// What `error:` says on standard error.
    pub message: String,
}

/// A failure ending with `exit` and saying `message`.
pub fn fail(exit: Exit, message: impl Into<String>) -> Failure {
    Failure {
        exit,
        message: message.into(),
    }
}

/// Any displayable error, as a failure without a more specific code.
pub fn other(error: impl std::fmt::Display) -> Failure {
    fail(Exit::Other, error.to_string())
}

impl From<SyncError> for Failure {
    fn from(error: SyncError) -> Self {
        let exit = match error {
            SyncError::Unauthorized => Exit::SignIn,
            SyncError::Network(_) | SyncError::BadAddress(_) => Exit::Network,
            SyncError::Forbidden(_) => Exit::Forbidden,
            SyncError::WorkspaceTerminated => Exit::SignIn,
            _ => Exit::Other,
        };
        let mut message = error.to_string();
        if exit == Exit::SignIn {
            message.push_str(" (zentro login --relay URL --email EMAIL)");
        }
        fail(exit, message)
    }
}

impl From<zentro_core::account::SignInError> for Failure {
    fn from(error: zentro_core::account::SignInError) -> Self {
        use zentro_core::account::SignInError;
        match error {
            SignInError::Relay(e) => e.into(),
            SignInError::Vault(e) => e.into(),
            other => fail(Exit::Other, other.to_string()),
        }
    }
}

impl From<zentro_core::rights::ErasureError> for Failure {
    fn from(error: zentro_core::rights::ErasureError) -> Self {
        use zentro_core::rights::ErasureError;
        match error {
            ErasureError::Relay(e) => e.into(),
            ErasureError::NoContact => fail(Exit::Usage, error.to_string()),
            other => fail(Exit::Other, other.to_string()),
        }
    }
}

impl From<zentro_core::export::ExportError> for Failure {
    fn from(error: zentro_core::export::ExportError) -> Self {
        use zentro_core::export::ExportError;
        match error {
            ExportError::Relay(e) => e.into(),
            ExportError::NoContact => fail(Exit::Usage, error.to_string()),
            other => fail(Exit::Other, other.to_string()),
        }
    }
}

impl From<zentro_core::channel_tokens::RefreshError> for Failure {
    fn from(error: zentro_core::channel_tokens::RefreshError) -> Self {
        use zentro_core::channel_tokens::RefreshError;
        match error {
            RefreshError::Relay(e) => e.into(),
            RefreshError::Vault(e) => e.into(),
            other => fail(Exit::Other, other.to_string()),
        }
    }
}

impl From<zentro_core::relay_client::automation::SaveAutomationError> for Failure {
    fn from(error: zentro_core::relay_client::automation::SaveAutomationError) -> Self {
        use zentro_core::relay_client::automation::SaveAutomationError;
        match error {
            SaveAutomationError::Relay(e) => e.into(),
            SaveAutomationError::Invalid(_) => fail(Exit::Usage, error.to_string()),
            SaveAutomationError::Conflict => fail(Exit::Other, error.to_string()),
        }
    }
}

impl From<VaultError> for Failure {
    fn from(error: VaultError) -> Self {
        let exit = if matches!(error, VaultError::Unavailable(_)) {
            Exit::NoKeychain
        } else {
            Exit::Other
        };
        fail(
            exit,
            format!("{error}; on a headless server, pass --kernel-keyring"),
        )
    }
}

impl From<zentro_core::CacheError> for Failure {
    fn from(error: zentro_core::CacheError) -> Self {
        other(error)
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        other(error)
    }
}
