//! Teams and the automation, on Team → Automation: the workspace's setup (read by any member,
//! saved by admins — the relay refuses agents), trying a setup on this desk's last week before
//! saving it, and members' presence (one's own status, and everyone's).

use serde::Serialize;
use tauri::State;
use zentro_automation::Setup;
use zentro_core::automation_preview::{self, AutomationPreview};
use zentro_core::relay_client::automation as relay;

use crate::{AppState, CommandError};

/// The workspace's automation setup as the relay keeps it.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AutomationSetup {
    /// Which save this is (0: never saved, and `setup` is the default); a save names the
    /// version it replaces.
    #[specta(type = specta_typescript::Number)]
    pub version: i64,
    /// The setup itself.
    pub setup: Setup,
    /// When it was saved (UTC ms), `None` if never.
    #[specta(type = Option<specta_typescript::Number>)]
    pub saved_at: Option<i64>,
    /// The member who saved it, `None` if never.
    pub saved_by: Option<String>,
}

impl From<relay::AutomationSetupView> for AutomationSetup {
    fn from(view: relay::AutomationSetupView) -> Self {
        Self {
            version: view.version,
            setup: view.setup,
            saved_at: view.saved_at,
            saved_by: view.saved_by,
        }
    }
}

/// A member's presence, as the relay works it out.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct MemberPresence {
    /// The member's id.
    pub member_id: String,
    /// What the member set: `available` or `away`.
    pub status: String,
    /// What counts for assignment: the status, or `offline` when none of their sessions was seen
    /// in the last 90 seconds.
    pub presence: String,
    /// When one of their sessions was last seen (UTC ms), `None` if never.
    #[specta(type = Option<specta_typescript::Number>)]
    pub last_seen_at: Option<i64>,
}

impl From<relay::MemberPresence> for MemberPresence {
    fn from(p: relay::MemberPresence) -> Self {
        Self {
            member_id: p.member_id,
            status: p.status,
            presence: p.presence,
            last_seen_at: p.last_seen_at,
        }
    }
}

/// The workspace's automation setup, its version and who saved it last.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn automation_setup(state: State<'_, AppState>) -> Result<AutomationSetup, CommandError> {
    state
        .with_relay(async |relay, token| relay.automation_setup(token).await.map(Into::into))
        .await
}

/// Saves `setup` in place of version `expected_version` (admins and owners); the new version.
/// `conflict` when someone saved meanwhile, `invalid` with what to fix.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(expected_version = expected_version), err(Display, level = "warn"))]
pub async fn save_automation_setup(
    state: State<'_, AppState>,
    expected_version: u32,
    setup: Setup,
) -> Result<u32, CommandError> {
    let version = state
        .with_relay(async |relay, token| {
            relay
                .save_automation_setup(token, i64::from(expected_version), &setup)
                .await
        })
        .await?;
    Ok(u32::try_from(version).unwrap_or(u32::MAX))
}

/// What `setup` would have done over the last 7 days of this desk's cache, before it is saved.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn preview_automation(
    state: State<'_, AppState>,
    setup: Setup,
) -> Result<AutomationPreview, CommandError> {
    let cache = state.cache().await?;
    let now = zentro_events::clock::now_ms();
    Ok(automation_preview::preview(&cache, &setup, now).await?)
}

/// Sets this member's own status (`available` or `away`); the presence that now counts
/// (`available`, `away` or `offline`).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(status = %status), err(Display, level = "warn"))]
pub async fn set_presence(
    state: State<'_, AppState>,
    status: String,
) -> Result<String, CommandError> {
    state
        .with_relay(async |relay, token| relay.set_presence(token, &status).await)
        .await
}

/// Every member's presence.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn presence(state: State<'_, AppState>) -> Result<Vec<MemberPresence>, CommandError> {
    state
        .with_relay(async |relay, token| {
            relay
                .presence(token)
                .await
                .map(|all| all.into_iter().map(Into::into).collect())
        })
        .await
}
