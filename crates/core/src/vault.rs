//! The token vault: device credentials and Meta tokens in the operating system's keychain
//! (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows) — never in the
//! cache, a config file, a log or an error message. Without a keychain the vault says so; there
//! is no plaintext fallback. On a headless Linux server the kernel keyring can be chosen
//! explicitly ([`Vault::kernel_keyring`]).
//!
//! Entries, all under the service [`SERVICE`]:
//! - `relay-device:<relay url>:<email>`: the device token of a member on a relay;
//! - `channel-token:<channel id>`: the Meta access token of a channel.

use std::fmt;

use zeroize::Zeroizing;

/// The keychain service name of every entry.
pub const SERVICE: &str = "app.zentro.desk";

/// A secret value: zeroized on drop, `[redacted]` when printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What went wrong with the keychain.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No keychain is reachable (no Secret Service running, locked and the unlock was
    /// cancelled, no session bus).
    #[error(
        "no keychain is available ({0}). Zentro Desk keeps tokens only in the system keychain: start or unlock \
         your keyring (GNOME Keyring, KWallet, macOS Keychain, Windows Credential Manager) and try again"
    )]
    Unavailable(String),
    /// The keychain refused or failed.
    #[error("the keychain failed: {0}")]
    Failed(String),
}

/// Which keychain to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    System,
    #[cfg(target_os = "linux")]
    KernelKeyring,
}

/// Where secrets (device tokens, channel tokens) are kept: the platform keychain, or on Linux
/// the kernel keyring when asked for.
#[derive(Debug, Clone)]
pub struct Vault {
    backend: Backend,
}

fn map_error(error: keyring::Error) -> VaultError {
    match error {
        keyring::Error::NoStorageAccess(e) => VaultError::Unavailable(e.to_string()),
        keyring::Error::PlatformFailure(e) => VaultError::Unavailable(e.to_string()),
        other => VaultError::Failed(other.to_string()),
    }
}

impl Vault {
    /// The platform's keychain (Secret Service on Linux).
    pub fn system() -> Self {
        Self {
            backend: Backend::System,
        }
    }

    /// The Linux kernel keyring (keyutils), for headless servers, when asked for explicitly:
    /// entries live only as long as the user's session keyring.
    #[cfg(target_os = "linux")]
    pub fn kernel_keyring() -> Self {
        Self {
            backend: Backend::KernelKeyring,
        }
    }

    fn entry(&self, name: &str) -> Result<keyring::Entry, VaultError> {
        match self.backend {
            Backend::System => {
                #[cfg(target_os = "linux")]
                {
                    let credential =
                        keyring::secret_service::SsCredential::new_with_target(None, SERVICE, name)
                            .map_err(map_error)?;
                    Ok(keyring::Entry::new_with_credential(Box::new(credential)))
                }
                #[cfg(not(target_os = "linux"))]
                {
                    keyring::Entry::new(SERVICE, name).map_err(map_error)
                }
            }
            #[cfg(target_os = "linux")]
            Backend::KernelKeyring => {
                let credential =
                    keyring::keyutils::KeyutilsCredential::new_with_target(None, SERVICE, name)
                        .map_err(map_error)?;
                Ok(keyring::Entry::new_with_credential(Box::new(credential)))
            }
        }
    }

    /// Stores a secret under `name` (blocking: call it off async threads).
    pub fn store(&self, name: &str, secret: &Secret) -> Result<(), VaultError> {
        self.entry(name)?
            .set_password(secret.expose())
            .map_err(map_error)
    }

    /// Reads a secret; `None` when there is none.
    pub fn read(&self, name: &str) -> Result<Option<Secret>, VaultError> {
        match self.entry(name)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(e)),
        }
    }

    /// Deletes a secret (no error when there was none).
    pub fn delete(&self, name: &str) -> Result<(), VaultError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(e)),
        }
    }

    /// The entry name of a member's device token on a relay.
    pub fn device_entry(relay_url: &str, email: &str) -> String {
        format!(
            "relay-device:{}:{}",
            relay_url.trim_end_matches('/'),
            email.to_lowercase()
        )
    }

    /// The entry name of a workspace's AI provider key, as the relay handed out `version` of it.
    pub fn assist_entry(workspace_id: &str, version: i64) -> String {
        format!("assist-key:{workspace_id}:v{version}")
    }

    /// The entry name of a channel's Meta token.
    pub fn channel_entry(channel_id: &str) -> String {
        format!("channel-token:{channel_id}")
    }
}
