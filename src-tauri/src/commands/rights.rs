//! Customers' data rights (admins): exports (recorded in the audit log, written to the Downloads
//! folder with progress sent over a channel), erasure everywhere, and the workspace's retention
//! periods.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tauri::State;
use tauri::ipc::Channel;
use zentro_core::export::{ExportProgress, ExportSummary, Scope};
use zentro_core::rights::{ErasurePreview, ErasureReceipt, Retention};
use zentro_events::clock::now_ms;

use crate::{AppState, CommandError, ErrorCode};

/// How far the running export is.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct ExportProgressed {
    /// Contacts written whole to the archive so far.
    pub contacts_done: u32,
    /// Contacts in the export.
    pub contacts_total: u32,
    /// Messages written so far, across all contacts.
    pub messages_done: u32,
    /// Messages in the export.
    pub messages_total: u32,
}

/// The file name prefix of every export (the only files `reveal_export` shows).
const PREFIX: &str = "zentro-export-";

fn target(state: &AppState, name: &str) -> PathBuf {
    let dir = if state.downloads.is_dir() {
        state.downloads.clone()
    } else {
        state.data_dir.join("exports")
    };
    let _ = std::fs::create_dir_all(&dir);
    let date = today();
    let mut path = dir.join(format!("{PREFIX}{name}-{date}.zip"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{PREFIX}{name}-{date}-{n}.zip"));
        n += 1;
    }
    path
}

fn today() -> String {
    zentro_core::utc::UtcTime::from_ms(now_ms()).date()
}

fn export_error(error: zentro_core::export::ExportError) -> CommandError {
    use zentro_core::export::ExportError;
    match error {
        ExportError::NoContact => CommandError::new(ErrorCode::NotFound, error.to_string()),
        ExportError::Relay(inner) => {
            let mut converted = CommandError::from(inner);
            converted.message = format!(
                "{} Exports are recorded in the audit log first; nothing was exported.",
                converted.message
            );
            converted
        }
        ExportError::Cache(inner) => inner.into(),
        ExportError::Write { .. } => CommandError::new(ErrorCode::Internal, error.to_string()),
    }
}

async fn run(
    progress: Channel<ExportProgressed>,
    state: &AppState,
    scope: Scope,
    name: &str,
) -> Result<ExportSummary, CommandError> {
    let desk = state.running_desk().await?;
    let out = target(state, name);
    let (relay, token) = desk.relay_access();
    let clamp = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    zentro_core::export::export_recorded(
        desk.cache(),
        relay,
        token,
        scope,
        &out,
        now_ms(),
        &mut |p: ExportProgress| {
            let _ = progress.send(ExportProgressed {
                contacts_done: clamp(p.contacts_done),
                contacts_total: clamp(p.contacts_total),
                messages_done: clamp(p.messages_done),
                messages_total: clamp(p.messages_total),
            });
        },
    )
    .await
    .map_err(export_error)
}

/// Exports the customer of a conversation to the Downloads folder (admins).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(conversation_id = conversation_id), err(Display, level = "warn"))]
pub async fn export_contact(
    state: State<'_, AppState>,
    conversation_id: u32,
    progress: Channel<ExportProgressed>,
) -> Result<ExportSummary, CommandError> {
    let cache = state.cache().await?;
    let contact = zentro_core::rights::contact_of(&cache, conversation_id.into())
        .await
        .map_err(|e| CommandError::new(ErrorCode::NotFound, e.to_string()))?;
    run(
        progress,
        &state,
        Scope::Contact(contact),
        &format!("contact-{contact}"),
    )
    .await
}

/// Exports every customer of this cache to the Downloads folder (admins).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn export_all(
    state: State<'_, AppState>,
    progress: Channel<ExportProgressed>,
) -> Result<ExportSummary, CommandError> {
    run(progress, &state, Scope::All, "all").await
}

/// Shows an export in the file manager.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub fn reveal_export(path: String) -> Result<(), CommandError> {
    let path = PathBuf::from(path);
    let is_export = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(".zip"));
    if !is_export || !path.is_file() {
        return Err(CommandError::new(
            ErrorCode::NotFound,
            "That export is no longer there.",
        ));
    }
    tauri_plugin_opener::reveal_item_in_dir(&path).map_err(|e| {
        CommandError::new(
            ErrorCode::Internal,
            format!("The file manager could not be opened: {e}"),
        )
    })
}

fn erasure_error(error: zentro_core::rights::ErasureError) -> CommandError {
    use zentro_core::rights::ErasureError;
    match error {
        ErasureError::NoContact => CommandError::new(ErrorCode::NotFound, error.to_string()),
        ErasureError::Relay(inner) => {
            let mut converted = CommandError::from(inner);
            converted.message = format!("{} Nothing was deleted.", converted.message);
            converted
        }
        ErasureError::Cache(inner) => inner.into(),
    }
}

/// What erasing the customer of a conversation would delete, for the confirmation.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(conversation_id = conversation_id), err(Display, level = "warn"))]
pub async fn erasure_preview(
    state: State<'_, AppState>,
    conversation_id: u32,
) -> Result<ErasurePreview, CommandError> {
    let cache = state.cache().await?;
    let contact = zentro_core::rights::contact_of(&cache, conversation_id.into())
        .await
        .map_err(erasure_error)?;
    zentro_core::rights::preview(&cache, contact)
        .await
        .map_err(erasure_error)
}

/// Erases a customer everywhere (admins): every device deletes them and the relay purges them.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(contact_id = contact_id), err(Display, level = "warn"))]
pub async fn erase_contact(
    state: State<'_, AppState>,
    contact_id: u32,
) -> Result<ErasureReceipt, CommandError> {
    let desk = state.running_desk().await?;
    desk.erase_contact(contact_id.into())
        .await
        .map_err(erasure_error)
}

/// The workspace's retention periods.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn retention(state: State<'_, AppState>) -> Result<Retention, CommandError> {
    state
        .with_relay(async |relay, token| relay.retention(token).await)
        .await
}

/// Sets the workspace's retention periods (admins); every device enforces them.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn set_retention(
    state: State<'_, AppState>,
    retention: Retention,
) -> Result<Retention, CommandError> {
    state
        .with_relay(async |relay, token| relay.set_retention(token, &retention).await)
        .await
}
