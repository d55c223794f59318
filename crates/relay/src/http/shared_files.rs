//! Files handed to Meta by link. Instagram takes a reply's file only as a public URL that Meta
//! fetches (no upload API), so a device puts the file here for a short while: `POST
//! /v1/shared-files` (a member's device) returns an unguessable address under `/shared/…` that
//! anyone holding it may fetch until it expires ([`TTL`]). Nothing lists these files, they are
//! kept on disk only (never in the database or the event log) and deleted when they expire.
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
    // One upload at a time checks the quota and writes, so two cannot both fit the last place.
    let _quota = QUOTA.lock().await;
    within_quota(&state, &auth.0.workspace_id, body.len() as u64).await?;
    let token = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let name = clean_name(&upload.name);
    let expires_at = now() + TTL.as_secs();
    let dir = folder(&state);
    let meta = Meta {
        workspace: auth.0.workspace_id.clone(),
        bytes: body.len() as u64,
        mime,
        name: name.clone(),
        expires_at,
    };
    keep(&dir, &token, &body, &meta)
        .await
        .map_err(|e| ApiError::Internal(format!("a shared file could not be kept: {e}")))?;
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
        Ok(bytes) => {
            // Files kept before the allow-list are served only if they pass it too.
            let Ok((mime, _)) = instagram_type(&meta.mime) else {
                return not_found();
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
                        format!("{disposition}; filename=\"{}\"", clean_name(&meta.name)),
                    ),
                    (header::CACHE_CONTROL, "no-store".to_string()),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
                    (header::CONTENT_SECURITY_POLICY, "sandbox".to_string()),
                ],
                bytes,
            )
                .into_response()
        }
        Err(_) => not_found(),
    }
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

/// 429 when the workspace already keeps its quota of files or `adding` bytes would pass its byte
/// quota (retry when its oldest file expires); 413 when the file alone is larger than that.
async fn within_quota(state: &AppState, workspace: &str, adding: u64) -> Result<(), ApiError> {
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
    let now = now();
    let (mut count, mut bytes, mut first_expiry) = (0u64, 0u64, u64::MAX);
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
                count += 1;
                bytes += meta.bytes;
                first_expiry = first_expiry.min(meta.expires_at);
            }
        }
    }
    if count >= u64::from(state.config.shared_files_per_workspace)
        || bytes.saturating_add(adding) > max_bytes
    {
        tracing::warn!(workspace, count, bytes, "shared-file quota reached");
        return Err(ApiError::TooManyRequests(Duration::from_secs(
            first_expiry.saturating_sub(now).clamp(1, TTL.as_secs()),
        )));
    }
    Ok(())
}

async fn remove(dir: &Path, token: &str) {
    let _ = tokio::fs::remove_file(dir.join(token)).await;
    let _ = tokio::fs::remove_file(dir.join(format!("{token}.json"))).await;
}

/// Deletes the shared files that expired (or whose description is unreadable); returns how many.
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
