//! Commands about the local cache.

use tauri::State;
use zentro_core::CacheStatus;

use crate::{AppState, CommandError};

/// Opens the local cache (creating and migrating it on first use) and summarises it.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn cache_status(state: State<'_, AppState>) -> Result<CacheStatus, CommandError> {
    Ok(state.cache().await?.status().await?)
}
