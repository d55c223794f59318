//! Files handed to Meta by link. Instagram takes a reply's file only as a public URL that Meta
//! fetches (no upload API), so a device puts the file here for a short while: `POST
//! /v1/shared-files` (a member's device) returns an unguessable address under `/shared/…` that
//! anyone holding it may fetch until it expires ([`TTL`]). Nothing lists these files, they are
//! kept on disk only (never in the database or the event log) and deleted when they expire.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::json;

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
    mime: String,
    name: String,
    /// Unix seconds.
    expires_at: u64,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
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
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|m| m.contains('/') && m.len() <= 100)
        .ok_or_else(|| ApiError::BadRequest("say the file's type in Content-Type".into()))?
        .to_string();
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(e.to_string()))?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let name = clean_name(&upload.name);
    let expires_at = now() + TTL.as_secs();
    let dir = folder(&state);
    let meta = Meta {
        mime,
        name: name.clone(),
        expires_at,
    };
    let write = async {
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::write(dir.join(&token), &body).await?;
        tokio::fs::write(
            dir.join(format!("{token}.json")),
            serde_json::to_vec(&meta).map_err(std::io::Error::other)?,
        )
        .await
    };
    write
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
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, meta.mime),
                (
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"{}\"", meta.name),
                ),
                (header::CACHE_CONTROL, "no-store".to_string()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => not_found(),
    }
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
