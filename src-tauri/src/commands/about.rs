//! Settings → About: the version and its updates, where this computer keeps the app's data and
//! logs, and how the app starts.

use serde::Serialize;
use tauri::State;

use zentro_core::preferences::Preferences;
use zentro_core::updates::UpdateStatus;

use crate::self_update::SelfUpdate;
use crate::{AppState, CommandError, ErrorCode};

/// What the About page shows.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct About {
    /// The version running, as built (`CARGO_PKG_VERSION`, e.g. `0.4.1`).
    pub version: String,
    /// Where the cache, media and account live.
    pub data_folder: String,
    /// Where the log files go (daily files, the last 7 kept).
    pub logs_folder: String,
    /// Whether the app starts hidden in the tray.
    pub start_minimized: bool,
}

/// The app's version and folders.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub fn about(state: State<'_, AppState>) -> About {
    About {
        version: env!("CARGO_PKG_VERSION").to_string(),
        data_folder: state.data_dir.display().to_string(),
        logs_folder: state.logs.display().to_string(),
        start_minimized: Preferences::load(&state.data_dir).start_minimized,
    }
}

/// Opens the log folder in the system's file manager.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn open_logs_folder(state: State<'_, AppState>) -> Result<(), CommandError> {
    std::fs::create_dir_all(&state.logs).map_err(|e| {
        CommandError::new(
            ErrorCode::Internal,
            format!("The log folder could not be created: {e}"),
        )
    })?;
    crate::launch::open_in_background(state.logs.clone())
        .await
        .map_err(|e| {
            CommandError::new(
                ErrorCode::Internal,
                format!(
                    "The log folder could not be opened ({e}); it is {}",
                    state.logs.display()
                ),
            )
        })
}

/// Starts the app hidden in the tray (`true`) or with its window (`false`), from the next start.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(on = on), err(Display, level = "warn"))]
pub fn set_start_minimized(state: State<'_, AppState>, on: bool) -> Result<About, CommandError> {
    Preferences::update(&state.data_dir, |p| p.start_minimized = on).map_err(|e| {
        CommandError::new(
            ErrorCode::Internal,
            format!("The setting could not be saved: {e}"),
        )
    })?;
    Ok(about(state))
}

fn self_update(state: &AppState) -> Result<&SelfUpdate, CommandError> {
    state.self_update.get().map(|s| s.as_ref()).ok_or_else(|| {
        CommandError::new(
            ErrorCode::Internal,
            "Updates are not available in this window.",
        )
    })
}

/// What is known about updates: the version running, the update server, the last check and
/// an update on offer.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub fn update_status(state: State<'_, AppState>) -> Result<UpdateStatus, CommandError> {
    Ok(self_update(&state)?.status())
}

/// Asks the update server now; a failure is in the status's `problem`.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn check_for_update(state: State<'_, AppState>) -> Result<UpdateStatus, CommandError> {
    Ok(self_update(&state)?.check().await)
}

/// Downloads, verifies and installs the offered update, then restarts into it (progress arrives
/// as `UpdateStatusChanged`). Fails with the reason, the installed app unchanged.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn install_update(state: State<'_, AppState>) -> Result<UpdateStatus, CommandError> {
    self_update(&state)?
        .install()
        .await
        .map_err(|reason| CommandError::new(ErrorCode::Internal, reason))
}

/// Chooses this installation's update server (`null`: the app's own).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub fn set_update_endpoint(
    state: State<'_, AppState>,
    endpoint: Option<String>,
) -> Result<UpdateStatus, CommandError> {
    self_update(&state)?
        .set_endpoint(endpoint.as_deref())
        .map_err(|reason| CommandError::new(ErrorCode::Invalid, reason))
}

/// The `zentro://` link opened last, if the UI has not taken it yet (announced by
/// `LinkOpened`; also asked for once at start, for the link the app was started with).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub fn take_link(state: State<'_, AppState>) -> Option<crate::deep_links::OpenedLink> {
    state.take_link()
}
