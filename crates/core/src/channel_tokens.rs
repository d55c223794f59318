//! The Meta tokens of the team's channels, as a device keeps them: the relay hands each channel's
//! token to signed-in devices of members allowed on it, the device stores it in the OS keychain
//! (entry `channel-token:<kind>:<external id>`, the channel id the cache uses), and forgets it
//! when the token is revoked, when the member loses access, or when the device is signed out.
//!
//! Devices learn of changes from `channel.changed` events in the workspace's log (they carry ids
//! and the token's version, never the token). The relay calls (the channel list, a channel's token,
//! setting, revoking, access) are [`RelayClient`]'s (`relay_client/channels.rs`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use zentro_events::clock::now_ms;

use crate::cache::Cache;
use crate::relay_client::{RelayClient, SyncError};
use crate::vault::{Secret, Vault, VaultError};

/// The log event that says a channel, its token or its access list changed.
pub const CHANNEL_CHANGED: &str = "channel.changed";

/// A channel of the workspace, as the relay shows it to this member.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ChannelInfo {
    /// The relay's id of the channel.
    pub id: String,
    /// whatsapp, messenger or instagram.
    pub kind: String,
    /// phone_number_id, Page id or Instagram account id.
    pub external_id: String,
    /// A name people recognise.
    #[serde(default)]
    pub display_name: String,
    /// The version of the token the relay holds, if it holds one.
    #[cfg_attr(feature = "specta", specta(type = Option<f64>))]
    pub token_version: Option<i64>,
    /// Agents allowed on it (member ids); empty means everyone.
    #[serde(default)]
    pub agents: Vec<String>,
    /// Whether this member may use it.
    pub allowed: bool,
    /// What the relay last saw at Meta: `connected`, `attention`, `disconnected` or `unknown`.
    #[serde(default = "unknown_health")]
    pub health: String,
    /// Why it needs attention or is disconnected.
    #[serde(default)]
    pub health_reason: Option<String>,
    /// The number as customers dial it (WhatsApp).
    #[serde(default)]
    pub phone_number: Option<String>,
    /// Meta's quality rating of the number (`GREEN`, `YELLOW`, `RED`).
    #[serde(default)]
    pub quality_rating: Option<String>,
    /// Admins only: members who may no longer use it (removed, deactivated, taken off its list)
    /// but whose devices were handed its current token: rotate it.
    #[serde(default)]
    pub rotation_advised: Vec<RotationAdvised>,
}

/// A member whose device holds a channel's current token though they may no longer use it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RotationAdvised {
    /// The member's id (perhaps removed).
    pub member_id: String,
    /// Their sign-in email, to tell the admin who it is.
    pub email: String,
}

fn unknown_health() -> String {
    "unknown".into()
}

impl ChannelInfo {
    /// The id the cache (and the keychain entry) uses: `kind:external_id`.
    pub fn cache_id(&self) -> String {
        format!("{}:{}", self.kind, self.external_id)
    }
}

/// Why the channel tokens could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The relay refused or could not be reached.
    #[error(transparent)]
    Relay(#[from] SyncError),
    /// The keychain failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The cache could not be read.
    #[error("could not read the cache: {0}")]
    Cache(String),
}

/// What a refresh changed in the keychain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Tokens fetched and stored (new or rotated).
    pub stored: usize,
    /// Tokens removed (revoked, access lost, channel removed).
    pub removed: usize,
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, VaultError> + Send + 'static,
) -> Result<T, VaultError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| VaultError::Failed(e.to_string()))?
}

/// The channel ids the cache knows (every channel a webhook named).
async fn cached_channels(cache: &Cache) -> Result<Vec<String>, RefreshError> {
    sqlx::query_scalar!(r#"SELECT id AS "id!" FROM channels ORDER BY id"#)
        .fetch_all(cache.pool())
        .await
        .map_err(|e| RefreshError::Cache(e.to_string()))
}

/// The tokens this device fetched from the relay: cache id → version.
async fn kept(cache: &Cache) -> Result<HashMap<String, i64>, RefreshError> {
    let rows = sqlx::query!(
        r#"SELECT channel_id AS "channel_id!", version AS "version!" FROM kept_channel_tokens"#
    )
    .fetch_all(cache.pool())
    .await
    .map_err(|e| RefreshError::Cache(e.to_string()))?;
    Ok(rows
        .into_iter()
        .map(|r| (r.channel_id, r.version))
        .collect())
}

async fn drop_token(cache: &Cache, vault: &Vault, cache_id: &str) -> Result<(), RefreshError> {
    let (vault, entry) = (vault.clone(), Vault::channel_entry(cache_id));
    blocking(move || vault.delete(&entry)).await?;
    sqlx::query!(
        "DELETE FROM kept_channel_tokens WHERE channel_id = ?",
        cache_id
    )
    .execute(cache.pool())
    .await
    .map_err(|e| RefreshError::Cache(e.to_string()))?;
    Ok(())
}

/// Brings the keychain's channel tokens in line with the relay: fetches the tokens that are new or
/// rotated, and deletes the ones this device fetched before for channels the member may no longer
/// use, whose token was revoked, or that were removed. Tokens stored by hand (`zentro
/// channel-token`) for channels the relay holds no token for are left alone.
pub async fn refresh(
    cache: &Cache,
    relay: &RelayClient,
    token: &Secret,
    vault: &Vault,
) -> Result<Refreshed, RefreshError> {
    let channels = relay.channels(token).await?;
    let mut known = kept(cache).await?;
    let mut done = Refreshed::default();
    for channel in channels.iter().filter(|c| c.allowed) {
        let Some(version) = channel.token_version else {
            continue;
        };
        let cache_id = channel.cache_id();
        if known.remove(&cache_id) == Some(version) {
            continue; // already kept, and current
        }
        let (secret, version) = match relay.channel_token(token, &channel.id).await {
            Ok(found) => found,
            // Revoked or restricted between the two calls: dropped below.
            Err(SyncError::Forbidden(_)) | Err(SyncError::Refused { .. }) => {
                known.insert(cache_id, 0);
                continue;
            }
            Err(other) => return Err(other.into()),
        };
        let (writer, entry) = (vault.clone(), Vault::channel_entry(&cache_id));
        blocking(move || writer.store(&entry, &secret)).await?;
        let now = now_ms();
        sqlx::query!(
            "INSERT INTO kept_channel_tokens (channel_id, version, fetched_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (channel_id) DO UPDATE SET version = ?2, fetched_at = ?3",
            cache_id,
            version,
            now
        )
        .execute(cache.pool())
        .await
        .map_err(|e| RefreshError::Cache(e.to_string()))?;
        done.stored += 1;
    }
    // What is left was kept before and is no longer granted.
    for cache_id in known.keys() {
        drop_token(cache, vault, cache_id).await?;
        done.removed += 1;
    }
    if done != Refreshed::default() {
        tracing::info!(
            stored = done.stored,
            removed = done.removed,
            "channel tokens updated"
        );
    }
    Ok(done)
}

/// Deletes every channel token this device holds from the keychain — fetched from the relay or
/// stored by hand — because the device was signed out or revoked. Returns how many there were.
pub async fn forget_all(cache: &Cache, vault: &Vault) -> Result<usize, RefreshError> {
    let mut candidates: Vec<String> = kept(cache).await?.into_keys().collect();
    candidates.extend(cached_channels(cache).await?);
    candidates.sort();
    candidates.dedup();
    let mut removed = 0;
    for cache_id in candidates {
        let (reader, entry) = (vault.clone(), Vault::channel_entry(&cache_id));
        let held = blocking(move || reader.read(&entry)).await?.is_some();
        drop_token(cache, vault, &cache_id).await?;
        removed += usize::from(held);
    }
    Ok(removed)
}
