//! This computer's sign-in: what the status bar shows, signing in to a relay or joining a
//! workspace with an invitation (then the desk restarts against it), and what the sign-in screen
//! remembers.

use tauri::State;
use zentro_core::account::{Account, Remembered, SignInError};
use zentro_core::vault::{Secret, Vault};

use crate::desk_runner::{DeskKind, DeskStatus};
use crate::{AppState, CommandError, ErrorCode};

/// What runs behind the inbox, and how sync is doing.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub fn desk_status(state: State<'_, AppState>) -> DeskStatus {
    state.status()
}

/// Signs this computer in to a relay (the token goes to the keychain) and syncs with it instead of
/// the sandbox.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn sign_in(
    state: State<'_, AppState>,
    relay_url: String,
    email: String,
    password: String,
) -> Result<DeskStatus, CommandError> {
    let signed_in = zentro_core::account::sign_in(
        &state.data_dir,
        Vault::system(),
        &relay_url,
        &email,
        &Secret::new(password),
        &device_name(),
    )
    .await;
    switch_to_relay(&state, signed_in).await
}

/// Accepts an invitation with a new password, and syncs with that workspace instead.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn join_workspace(
    state: State<'_, AppState>,
    relay_url: String,
    code: String,
    password: String,
) -> Result<DeskStatus, CommandError> {
    let joined = zentro_core::account::join(
        &state.data_dir,
        Vault::system(),
        &relay_url,
        &code,
        &Secret::new(password),
        &device_name(),
    )
    .await;
    switch_to_relay(&state, joined).await
}

/// What the sign-in screen remembers (the last relay and email) and whether the first-run choice
/// was made.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all)]
pub fn remembered_sign_in(state: State<'_, AppState>) -> Remembered {
    Remembered::load(&state.data_dir)
}

/// Records the first-run choice (the sandbox or a relay), so it is not asked again.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub fn finish_welcome(state: State<'_, AppState>) -> Result<(), CommandError> {
    let mut remembered = Remembered::load(&state.data_dir);
    remembered.welcomed = true;
    remembered.save(&state.data_dir).map_err(|e| {
        CommandError::new(
            ErrorCode::Internal,
            format!("Could not save the choice: {e}"),
        )
    })
}

/// How this computer names itself to the relay.
fn device_name() -> String {
    format!(
        "Zentro Desk on {}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "this computer".into())
    )
}

/// After a sign-in (or joining): stops the current desk and starts one against the relay.
async fn switch_to_relay(
    state: &AppState,
    signed_in: Result<Account, SignInError>,
) -> Result<DeskStatus, CommandError> {
    signed_in?;
    state.stop_desk().await;
    let status = state.update_status(|s| *s = DeskStatus::starting());
    state.relaunch(DeskKind::SignedIn);
    Ok(status)
}
