//! Media files of WhatsApp messages, kept on this machine.
//!
//! WhatsApp media ids outlive their download URLs (5 minutes) but not forever, so files are
//! fetched soon after their message arrives: a fresh URL from `GET /{media-id}`, the bytes checked
//! against Meta's SHA-256, then stored content-addressed (`media/ab/abcdef…`) under the data
//! directory — the same picture sent twice is kept once. A failed download waits and is retried
//! with backoff; a later redelivery of the message queues it again. Instagram and Messenger keep
//! only Meta's URL (platform policy), so nothing of theirs is downloaded.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use zentro_meta::AccessToken;
use zentro_meta::graph::GraphClient;
use zentro_meta::platform;

use crate::cache::{Cache, CacheError};

/// The folder, inside the data directory, that holds media files.
pub const MEDIA_DIR_NAME: &str = "media";

/// The first retry waits this long; each further one twice as long, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(30);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// What one download pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaReport {
    /// Files downloaded, verified and stored.
    pub stored: usize,
    /// Downloads that failed and will be retried.
    pub retrying: usize,
    /// Still waiting for their next attempt.
    pub waiting: usize,
}

/// Where the file with this SHA-256 (hex) lives under `data_dir`.
pub fn path_for(data_dir: &Path, sha256_hex: &str) -> PathBuf {
    let prefix = sha256_hex.get(..2).unwrap_or("00");
    data_dir.join(MEDIA_DIR_NAME).join(prefix).join(sha256_hex)
}

/// The wait before attempt number `attempts + 1`.
pub fn backoff(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 20)).unwrap_or(20);
    FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(MAX_BACKOFF)
}

/// Downloads the media that are due at `now` (UTC ms), at most `limit` of them.
///
/// `token_for` gives the Meta token of a cache channel id (from the keychain); without one the
/// download waits like any failure, with the reason recorded.
pub async fn download_due(
    cache: &Cache,
    graph: &GraphClient,
    token_for: &(dyn Fn(&str) -> Option<AccessToken> + Sync),
    data_dir: &Path,
    now: i64,
    limit: i64,
) -> Result<MediaReport, CacheError> {
    // CROSS JOIN keeps SQLite's join order: the few due downloads first (their index), then one
    // lookup each. With plain joins the planner walked channels → contacts → conversations →
    // every message and probed the queue for each: ~60-80 ms over a million messages every few
    // seconds on an idle desk, refilling a connection's page cache each time (footprint run 6).
    let due = sqlx::query!(
        r#"SELECT d.message_id AS "message_id!", d.attempts, m.media_id, ch.id AS channel_id
         FROM media_downloads d CROSS JOIN messages m ON m.id = d.message_id
         CROSS JOIN conversations c ON c.id = m.conversation_id
         CROSS JOIN contacts k ON k.id = c.contact_id CROSS JOIN channels ch ON ch.id = k.channel_id
         WHERE d.next_attempt_at <= ? ORDER BY d.next_attempt_at LIMIT ?"#,
        now,
        limit
    )
    .fetch_all(cache.pool())
    .await?;
    let mut report = MediaReport::default();
    for row in due {
        let (message_id, attempts) = (row.message_id, row.attempts);
        let (media_id, channel_id) = (row.media_id, row.channel_id);
        let outcome = match (media_id, token_for(&channel_id)) {
            (None, _) => Err("the message names no media id".to_string()),
            (_, None) => {
                Err("this device has no token for the channel; reconnect the channel".to_string())
            }
            (Some(media_id), Some(token)) => fetch(graph, &token, &media_id, data_dir).await,
        };
        match outcome {
            Ok((sha256, path)) => {
                let mut tx = cache.pool().begin().await?;
                let path = path.to_string_lossy().into_owned();
                sqlx::query!("UPDATE messages SET media_path = ?, media_sha256 = coalesce(media_sha256, ?) WHERE id = ?", path, sha256, message_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query!(
                    "DELETE FROM media_downloads WHERE message_id = ?",
                    message_id
                )
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                report.stored += 1;
            }
            Err(reason) => {
                tracing::warn!(message_id, attempts, %reason, "media download failed; will retry");
                let next = now + backoff(attempts).as_millis() as i64;
                sqlx::query!("UPDATE media_downloads SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE message_id = ?", next, reason, message_id)
                    .execute(cache.pool())
                    .await?;
                report.retrying += 1;
            }
        }
    }
    report.waiting = usize::try_from(
        sqlx::query_scalar!("SELECT count(*) FROM media_downloads")
            .fetch_one(cache.pool())
            .await?,
    )
    .unwrap_or(0);
    Ok(report)
}

/// Looks the media up, downloads it (checked against Meta's SHA-256 by the client) and stores it.
async fn fetch(
    graph: &GraphClient,
    token: &AccessToken,
    media_id: &str,
    data_dir: &Path,
) -> Result<(String, PathBuf), String> {
    let info = graph
        .media_info(media_id, token)
        .await
        .map_err(|e| e.to_string())?;
    let bytes = graph
        .download_media(&info, token, platform::WHATSAPP_MEDIA_MAX_BYTES)
        .await
        .map_err(|e| e.to_string())?;
    store(data_dir, &bytes).await
}

/// Stores `bytes` under their SHA-256 in `data_dir`'s media folder (once: the same file sent
/// twice is kept once); returns the hex digest and the path.
pub async fn store(data_dir: &Path, bytes: &[u8]) -> Result<(String, PathBuf), String> {
    let sha256 = hex::encode(Sha256::digest(bytes));
    let path = path_for(data_dir, &sha256);
    if tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Ok((sha256, path)); // the same file, already kept
    }
    let dir = path.parent().unwrap_or(data_dir);
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    // Written next to its final place, then renamed: a crash never leaves half a file under the
    // content address.
    let partial = dir.join(format!(".{sha256}.partial"));
    tokio::fs::write(&partial, bytes)
        .await
        .map_err(|e| format!("could not write {}: {e}", partial.display()))?;
    tokio::fs::rename(&partial, &path)
        .await
        .map_err(|e| format!("could not store {}: {e}", path.display()))?;
    Ok((sha256, path))
}

/// Media downloads still waiting, with the last error of each: `(message id, attempts, error)`.
pub async fn pending(cache: &Cache) -> Result<Vec<(i64, i64, Option<String>)>, CacheError> {
    Ok(sqlx::query!(
        r#"SELECT message_id AS "message_id!", attempts, last_error FROM media_downloads ORDER BY message_id"#
    )
    .fetch_all(cache.pool())
    .await?
    .into_iter()
    .map(|r| (r.message_id, r.attempts, r.last_error))
    .collect())
}
