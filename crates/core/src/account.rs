//! Which relay and member a data directory belongs to (`account.json`; no secrets: the device
//! token is in the vault).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// File name inside the data directory.
pub const ACCOUNT_FILE: &str = "account.json";

/// File name of what the sign-in screen remembers (no secret).
pub const REMEMBERED_FILE: &str = "sign-in.json";

/// What the sign-in screen remembers across sign-outs: the last relay and email, and whether the
/// first-run choice (sandbox or a real relay) was made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Remembered {
    /// The relay last signed in to.
    pub relay_url: Option<String>,
    /// The email last signed in with.
    pub email: Option<String>,
    /// Whether the welcome (sandbox or relay) was answered.
    #[serde(default)]
    pub welcomed: bool,
}

impl Remembered {
    /// What `data_dir` remembers (nothing yet: the defaults; an unreadable file counts as nothing).
    pub fn load(data_dir: &Path) -> Self {
        std::fs::read(data_dir.join(REMEMBERED_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Saves it (write then rename).
    pub fn save(&self, data_dir: &Path) -> std::io::Result<()> {
        save_json(data_dir, REMEMBERED_FILE, self)
    }
}

/// The signed-in member of this data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The relay's address.
    pub relay_url: String,
    /// The member's email.
    pub email: String,
    /// The member's id.
    pub member_id: String,
    /// The member's name.
    pub member_name: String,
    /// What the member may do (as stored: `owner`, `admin` or `agent`).
    pub role: crate::members::Role,
    /// The workspace's id.
    pub workspace_id: String,
    /// The workspace's name.
    pub workspace_name: String,
}

/// Writes `value` as pretty JSON to `data_dir/file_name`, atomically: a `.tmp` file first, then
/// renamed over the old one.
fn save_json(data_dir: &Path, file_name: &str, value: &impl Serialize) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let tmp = data_dir.join(format!("{file_name}.tmp"));
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(tmp, data_dir.join(file_name))
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(ACCOUNT_FILE)
}

impl Account {
    /// The account of `data_dir`, if someone signed in there.
    pub fn load(data_dir: &Path) -> std::io::Result<Option<Self>> {
        match std::fs::read(path(data_dir)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(std::io::Error::other),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Saves it (atomically: write then rename).
    pub fn save(&self, data_dir: &Path) -> std::io::Result<()> {
        save_json(data_dir, ACCOUNT_FILE, self)
    }

    /// Forgets it.
    pub fn remove(data_dir: &Path) -> std::io::Result<()> {
        match std::fs::remove_file(path(data_dir)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Why signing in did not work.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The relay refused or could not be reached.
    #[error(transparent)]
    Relay(#[from] crate::relay_client::SyncError),
    /// The keychain could not keep the device's token (nothing was saved).
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    /// The account file could not be written.
    #[error("could not save the sign-in in {0}")]
    Save(String),
}

/// Signs in to a relay from `data_dir`: the device token goes to the keychain, who and where to
/// `account.json` (no secret), and the member's cache is created.
pub async fn sign_in(
    data_dir: &Path,
    vault: crate::vault::Vault,
    relay_url: &str,
    email: &str,
    password: &crate::vault::Secret,
    device_name: &str,
) -> Result<Account, SignInError> {
    let client = crate::relay_client::RelayClient::new(relay_url)?;
    let (token, identity) = client.sign_in(email.trim(), password, device_name).await?;
    keep(data_dir, vault, &client, token, identity).await
}

/// Accepts an invitation from `data_dir`: the invitee's new password is set on the relay and this
/// device is signed in, as with [`sign_in`].
pub async fn join(
    data_dir: &Path,
    vault: crate::vault::Vault,
    relay_url: &str,
    code: &str,
    password: &crate::vault::Secret,
    device_name: &str,
) -> Result<Account, SignInError> {
    let client = crate::relay_client::RelayClient::new(relay_url)?;
    let (token, identity) = client
        .accept_invitation(code.trim(), password, device_name)
        .await?;
    keep(data_dir, vault, &client, token, identity).await
}

/// Keeps a new sign-in: the token in the keychain, who and where in `account.json`, a cache.
async fn keep(
    data_dir: &Path,
    vault: crate::vault::Vault,
    client: &crate::relay_client::RelayClient,
    token: crate::vault::Secret,
    identity: crate::members::Identity,
) -> Result<Account, SignInError> {
    use crate::vault::Vault;
    let entry = Vault::device_entry(client.base_url(), &identity.member.email);
    tokio::task::spawn_blocking(move || vault.store(&entry, &token))
        .await
        .map_err(|e| SignInError::Save(e.to_string()))??;
    let account = Account {
        relay_url: client.base_url().to_string(),
        email: identity.member.email,
        member_id: identity.member.id,
        member_name: identity.member.display_name,
        role: identity.member.role,
        workspace_id: identity.workspace.id,
        workspace_name: identity.workspace.name,
    };
    account
        .save(data_dir)
        .map_err(|e| SignInError::Save(format!("{}: {e}", data_dir.display())))?;
    let remembered = Remembered {
        relay_url: Some(account.relay_url.clone()),
        email: Some(account.email.clone()),
        welcomed: true,
    };
    if let Err(error) = remembered.save(data_dir) {
        tracing::warn!(%error, "could not remember the relay for the next sign-in");
    }
    crate::Cache::open_in(data_dir)
        .await
        .map_err(|e| SignInError::Save(e.to_string()))?;
    Ok(account)
}

/// What deleting a terminated workspace's data removed from this computer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forgotten {
    /// Files and folders deleted (the cache and its WAL, media, the account file, opened copies).
    pub files: usize,
    /// Keychain entries deleted (channel tokens, the device token).
    pub keychain_entries: usize,
}

/// Deletes everything of a terminated workspace from `data_dir` (privacy promise P5): its channel
/// tokens and this device's token from the keychain, then — with the cache closed — the cache
/// file and its WAL, the media files, the account file and the shredded opened copies of
/// customers' files ([`crate::customer_files::shred_all_copies`]). What the sign-in screen
/// remembers (the relay's address) stays.
pub async fn forget_workspace(
    data_dir: &Path,
    cache: crate::Cache,
    vault: Option<&crate::vault::Vault>,
    device_entry: &str,
) -> Forgotten {
    let mut done = Forgotten::default();
    if let Some(vault) = vault {
        match crate::channel_tokens::forget_all(&cache, vault).await {
            Ok(n) => done.keychain_entries += n,
            Err(error) => tracing::warn!(%error, "could not remove the channel tokens"),
        }
        let (vault, entry) = (vault.clone(), device_entry.to_string());
        let held = tokio::task::spawn_blocking(move || {
            let held = vault.read(&entry).ok().flatten().is_some();
            vault.delete(&entry).map(|()| held)
        })
        .await;
        match held {
            Ok(Ok(true)) => done.keychain_entries += 1,
            Ok(Ok(false)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "could not remove the device token"),
            Err(error) => tracing::warn!(%error, "could not remove the device token"),
        }
    }
    cache.close().await;
    let name = crate::cache::CACHE_FILE_NAME;
    for file in [
        name.to_string(),
        format!("{name}-wal"),
        format!("{name}-shm"),
        ACCOUNT_FILE.to_string(),
    ] {
        if std::fs::remove_file(data_dir.join(&file)).is_ok() {
            done.files += 1;
        }
    }
    if std::fs::remove_dir_all(data_dir.join(crate::media::MEDIA_DIR_NAME)).is_ok() {
        done.files += 1;
    }
    done.files += crate::customer_files::shred_all_copies(data_dir).await;
    tracing::info!(
        files = done.files,
        keychain = done.keychain_entries,
        "the terminated workspace's data was deleted"
    );
    done
}
