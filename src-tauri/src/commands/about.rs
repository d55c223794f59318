//! Settings → About: the version, where this computer keeps the app's data and logs.

use serde::Serialize;
use tauri::State;

use crate::{AppState, CommandError, ErrorCode};

/// What the About page shows.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct About {
    /// The app's version.
    pub version: String,
    /// Where the cache, media and account live.
    pub data_folder: String,
    /// Where the log files go (daily files, the last 7 kept).
    pub logs_folder: String,
}

/// The app's version and folders.
#[tauri::command]
#[specta::specta]
pub fn about(state: State<'_, AppState>) -> About {
    About {
        version: env!("CARGO_PKG_VERSION").to_string(),
        data_folder: state.data_dir.display().to_string(),
        logs_folder: state.logs.display().to_string(),
    }
}

/// Opens the log folder in the system's file manager.
#[tauri::command]
#[specta::specta]
pub fn open_logs_folder(state: State<'_, AppState>) -> Result<(), CommandError> {
    std::fs::create_dir_all(&state.logs).map_err(|e| {
        CommandError::new(
            ErrorCode::Internal,
            format!("The log folder could not be created: {e}"),
        )
    })?;
    tauri_plugin_opener::open_path(&state.logs, None::<&str>).map_err(|e| {
        CommandError::new(
            ErrorCode::Internal,
            format!(
                "The log folder could not be opened ({e}); it is {}",
                state.logs.display()
            ),
        )
    })
}
