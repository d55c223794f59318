//! Files handed to Meta by link. Instagram takes a reply's file only as a public URL that Meta
//! fetches (no upload API), so a device puts the file here for a short while: `POST
//! /v1/shared-files` (a member's device) returns an unguessable address under `/shared/…` that
//! anyone holding it may fetch until it expires ([`TTL`]). Nothing lists these files; they never
//! enter the event log and are deleted when they expire. On SQLite they are kept in the data
//! directory's [`FOLDER`] (one relay process serves them, and a 25 MB body must not hold the
//! database's one writer); on PostgreSQL in the database's `shared_files` table, so that every
//! relay instance serves them ([`crate::Store::keeps_shared_files`]; the pruner deletes them once
//! expired).
//!
//! The relay's origin also serves the signup page, so nothing here may be active content: only
//! the types Instagram takes are kept ([`zentro_meta::platform::instagram_attachment_limit`]),
//! they are served as attachments (images inline) under `Content-Security-Policy: sandbox` and
//! `nosniff`, and each workspace keeps at most [`crate::Config::shared_files_per_workspace`] files
//! and [`crate::Config::shared_bytes_per_workspace`] bytes at once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use zentro_events::clock::{now_ms, random_bytes};

use super::{ApiError, AppState, Authenticated};
use crate::roles::Permission;
use crate::store::{SharedFile, SharedUsage};

/// How long a shared file can be fetched: Meta fetches it within seconds of the send.
pub const TTL: Duration = Duration::from_secs(60 * 60);

/// The largest file (Instagram's limit for video, audio and PDF).
pub const MAX_BYTES: usize = 25 * 1024 * 1024;

/// The folder, in the relay's data directory.
pub const FOLDER: &str = "shared-files";

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    /// The workspace that shared it (its quota); absent in files kept before quotas.
    #[serde(default)]
    workspace: String,
    /// How large it is.
    #[serde(default)]
    bytes: u64,
    mime: String,
    name: String,
    /// Unix seconds.
    expires_at: u64,
}

/// Unix seconds.
fn now() -> u64 {
    u64::try_from(now_ms() / 1000).unwrap_or(0)
}

fn folder(state: &AppState) -> PathBuf {
    state.config.data_dir.join(FOLDER)
}

/// `?name=` of an upload.
#[derive(Debug, Deserialize)]
pub struct Upload {
    /// The file's name, shown by whoever opens it.
    #[serde(default)]
    name: String,
}

fn clean_name(name: &str) -> String {
    let name: String = name
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(80)
        .collect();
    if name.trim_matches('.').is_empty() {
        "file".into()
    } else {
        name
    }
}

/// `POST /v1/shared-files?name=…`: keeps the body (with its `Content-Type`) for [`TTL`] and
/// answers `{url, expires_at}`.
pub async fn share(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(upload): Query<Upload>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    auth.require(Permission::Answer)?;
    if body.is_empty() {
        return Err(ApiError::BadRequest("the file is empty".into()));
    }
    let mime = accepted_type(&headers, body.len() as u64)?;
    fits_quota_alone(&state, body.len() as u64)?;
    let token = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let name = clean_name(&upload.name);
    let expires_at = now() + TTL.as_secs();
    let meta = Meta {
        workspace: auth.0.workspace_id.clone(),
        bytes: body.len() as u64,
        mime,
        name: name.clone(),
        expires_at,
    };
    if state.store.keeps_shared_files() {
        keep_in_database(&state, &token, &meta, &body).await?;
    } else {
        // One upload at a time checks the quota and writes, so two cannot both fit the last place.
        let _quota = QUOTA.lock().await;
        within_quota(&state, &auth.0.workspace_id, body.len() as u64).await?;
        keep(&folder(&state), &token, &body, &meta)
            .await
            .map_err(|e| ApiError::Internal(format!("a shared file could not be kept: {e}")))?;
    }
    let base = super::meta_callbacks::base_url(&state, &headers);
    let url = format!("{}/shared/{token}/{name}", base.trim_end_matches('/'));
    tracing::info!(
        workspace = %auth.0.workspace_id,
        bytes = body.len(),
        "a file is shared for Meta to fetch"
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({ "url": url, "expires_at": expires_at })),
    )
        .into_response())
}

/// The file's type from `Content-Type`, when Instagram takes it at this size: 400 for a type
/// missing or not taken, 413 for a file too large for its type.
fn accepted_type(headers: &HeaderMap, bytes: u64) -> Result<String, ApiError> {
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|m| m.contains('/') && m.len() <= 100)
        .ok_or_else(|| ApiError::BadRequest("say the file's type in Content-Type".into()))?;
    let (mime, limit) = instagram_type(mime)?;
    if bytes > limit {
        return Err(ApiError::Refused {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "too_large",
            message: format!(
                "Instagram takes {mime} files up to {} MB",
                limit / (1024 * 1024)
            ),
        });
    }
    Ok(mime)
}

/// Writes the file and its description (`{token}.json`) into `dir`.
async fn keep(dir: &Path, token: &str, body: &[u8], meta: &Meta) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    tokio::fs::write(dir.join(token), body).await?;
    tokio::fs::write(
        dir.join(format!("{token}.json")),
        serde_json::to_vec(meta).map_err(std::io::Error::other)?,
    )
    .await
}

/// Keeps the file in the database if its workspace's quota allows (checked and written in one
/// transaction, under a lock on the workspace's shared files: PostgreSQL).
async fn keep_in_database(
    state: &AppState,
    token: &str,
    meta: &Meta,
    body: &[u8],
) -> Result<(), ApiError> {
    let now_ms = now_ms();
    let file = SharedFile {
        token: token.to_string(),
        workspace_id: meta.workspace.clone(),
        name: meta.name.clone(),
        mime: meta.mime.clone(),
        body: body.to_vec(),
        created_at: now_ms,
        expires_at: i64::try_from(meta.expires_at).unwrap_or(i64::MAX / 1000) * 1000,
    };
    let kept = state
        .store
        .share_file(&file, now_ms, |usage| {
            over_quota(state, &meta.workspace, &Usage::of(usage), meta.bytes).is_none()
        })
        .await?;
    match kept {
        Ok(()) => Ok(()),
        Err(usage) => Err(
            over_quota(state, &meta.workspace, &Usage::of(&usage), meta.bytes)
                .unwrap_or_else(|| ApiError::TooManyRequests(Duration::from_secs(1))),
        ),
    }
}

/// `GET /shared/{token}/{name}`: the file, until it expires (then, or for any other address, 404).
pub async fn fetch(
    State(state): State<AppState>,
    UrlPath((token, _name)): UrlPath<(String, String)>,
) -> Response {
    let not_found = || StatusCode::NOT_FOUND.into_response();
    if token.len() != 43
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return not_found();
    }
    if state.store.keeps_shared_files() {
        return match state.store.shared_file(&token, now_ms()).await {
            Ok(Some(file)) => serve(&file.mime, &file.name, file.body),
            Ok(None) => not_found(),
            Err(error) => ApiError::from(error).into_response(),
        };
    }
    let dir = folder(&state);
    let Ok(meta) = tokio::fs::read(dir.join(format!("{token}.json"))).await else {
        return not_found();
    };
    let Ok(meta) = serde_json::from_slice::<Meta>(&meta) else {
        return not_found();
    };
    if meta.expires_at <= now() {
        remove(&dir, &token).await;
        return not_found();
    }
    match tokio::fs::read(dir.join(&token)).await {
        Ok(bytes) => serve(&meta.mime, &meta.name, bytes),
        Err(_) => not_found(),
    }
}

/// A shared file as served: its type if it passes the allow-list (files kept before the list are
/// served only if they pass it too; else 404), images inline and the rest as attachments, under
/// `Content-Security-Policy: sandbox` and `nosniff`.
fn serve(mime: &str, name: &str, bytes: Vec<u8>) -> Response {
    let Ok((mime, _)) = instagram_type(mime) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let disposition = if mime.starts_with("image/") {
        "inline"
    } else {
        "attachment"
    };
    (
        [
            (header::CONTENT_TYPE, mime),
            (
                header::CONTENT_DISPOSITION,
                format!("{disposition}; filename=\"{}\"", clean_name(name)),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CONTENT_SECURITY_POLICY, "sandbox".to_string()),
        ],
        bytes,
    )
        .into_response()
}

/// Serialises uploads' quota check and write.
static QUOTA: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The MIME types taken (besides `audio/*` and `video/*`), named in refusals.
const TAKEN: &str = "image/jpeg, image/png, application/pdf, audio/*, video/*";

/// The file's type as served (lowercase, no parameters) and the largest size Instagram takes for
/// it; 415 for any type Instagram does not take.
fn instagram_type(mime: &str) -> Result<(String, u64), ApiError> {
    let essence = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let token = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    let well_formed =
        matches!(essence.split_once('/'), Some((kind, sub)) if token(kind) && token(sub));
    match zentro_meta::platform::instagram_attachment_limit(&essence) {
        Some(limit) if well_formed => Ok((essence, limit)),
        _ => Err(ApiError::Refused {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_type",
            message: format!("Instagram takes only these files: {TAKEN}"),
        }),
    }
}

/// 413 when a file alone is larger than a workspace's byte quota.
fn fits_quota_alone(state: &AppState, adding: u64) -> Result<(), ApiError> {
    let max_bytes = state.config.shared_bytes_per_workspace;
    if adding > max_bytes {
        return Err(ApiError::Refused {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "too_large",
            message: format!(
                "this relay keeps at most {max_bytes} bytes of shared files per workspace"
            ),
        });
    }
    Ok(())
}

/// What a workspace's live shared files take (times: Unix seconds).
#[derive(Clone, Copy)]
struct Usage {
    count: u64,
    bytes: u64,
    first_expiry: u64,
}

impl Usage {
    /// The usage the database counted (times in UTC ms).
    fn of(usage: &SharedUsage) -> Self {
        Self {
            count: u64::try_from(usage.count).unwrap_or(0),
            bytes: u64::try_from(usage.bytes).unwrap_or(0),
            first_expiry: usage
                .first_expiry
                .map_or(u64::MAX, |ms| u64::try_from(ms / 1000).unwrap_or(0)),
        }
    }
}

/// 429 when the workspace already keeps its quota of files or `adding` bytes would pass its byte
/// quota (retry when its oldest file expires); `None` when the file fits.
fn over_quota(state: &AppState, workspace: &str, usage: &Usage, adding: u64) -> Option<ApiError> {
    let Usage {
        count,
        bytes,
        first_expiry,
    } = *usage;
    if count >= u64::from(state.config.shared_files_per_workspace)
        || bytes.saturating_add(adding) > state.config.shared_bytes_per_workspace
    {
        tracing::warn!(workspace, count, bytes, "shared-file quota reached");
        return Some(ApiError::TooManyRequests(Duration::from_secs(
            first_expiry.saturating_sub(now()).clamp(1, TTL.as_secs()),
        )));
    }
    None
}

/// 429 when the workspace's files in the folder leave no room for `adding` bytes ([`over_quota`]).
async fn within_quota(state: &AppState, workspace: &str, adding: u64) -> Result<(), ApiError> {
    let now = now();
    let mut usage = Usage {
        count: 0,
        bytes: 0,
        first_expiry: u64::MAX,
    };
    if let Ok(mut entries) = tokio::fs::read_dir(folder(state)).await {
        while let Ok(Some(entry)) = entries.next_entry().await {
            if !entry.file_name().to_string_lossy().ends_with(".json") {
                continue;
            }
            let Ok(raw) = tokio::fs::read(entry.path()).await else {
                continue;
            };
            let Ok(meta) = serde_json::from_slice::<Meta>(&raw) else {
                continue;
            };
            if meta.workspace == workspace && meta.expires_at > now {
                usage.count += 1;
                usage.bytes += meta.bytes;
                usage.first_expiry = usage.first_expiry.min(meta.expires_at);
            }
        }
    }
    over_quota(state, workspace, &usage, adding).map_or(Ok(()), Err)
}

async fn remove(dir: &Path, token: &str) {
    let _ = tokio::fs::remove_file(dir.join(token)).await;
    let _ = tokio::fs::remove_file(dir.join(format!("{token}.json"))).await;
}

/// Deletes the shared files in the folder that expired (or whose description is unreadable);
/// returns how many. Those in the database (PostgreSQL) are deleted by the pruner
/// ([`crate::prune_shared_state`]).
pub async fn sweep(data_dir: &Path) -> usize {
    let dir = data_dir.join(FOLDER);
    let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
        return 0;
    };
    let mut removed = 0;
    let now = now();
    while let Ok(Some(entry)) = entries.next_entry().await {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(token) = file_name.strip_suffix(".json") else {
            continue;
        };
        let expired = match tokio::fs::read(entry.path()).await {
            Ok(meta) => serde_json::from_slice::<Meta>(&meta).map_or(true, |m| m.expires_at <= now),
            Err(_) => true,
        };
        if expired {
            remove(&dir, token).await;
            removed += 1;
        }
    }
    removed
}

/// Sweeps every few minutes until the relay stops.
pub fn sweep_periodically(state: &AppState) {
    let (data_dir, shutdown) = (state.config.data_dir.clone(), state.shutdown.clone());
    tokio::spawn(async move {
        loop {
            let removed = sweep(&data_dir).await;
            if removed > 0 {
                tracing::info!(removed, "expired shared files deleted");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(5 * 60)) => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_file_names_are_kept_to_safe_characters() {
        assert_eq!(clean_name("photo 1.jpg"), "photo1.jpg");
        assert_eq!(clean_name("../../etc/passwd"), "....etcpasswd");
        assert_eq!(clean_name("\"><script>"), "script");
        assert_eq!(clean_name(""), "file");
        assert_eq!(clean_name(".."), "file");
    }
}
