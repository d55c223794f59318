//! The Pages a Facebook Login shared, kept between listing them and connecting the chosen ones.

use crate::Sealed;

/// One Page a login shared, as stored: its Page token sealed (associated data: the signup id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupPage {
    /// Where Meta listed it (0 first).
    pub position: i64,
    /// The Page id.
    pub page_id: String,
    /// The Page's name.
    pub name: String,
    /// The Page token, sealed with the relay's token key.
    pub token: Sealed,
    /// The linked Instagram professional account's id.
    pub instagram_id: Option<String>,
    /// The linked Instagram account's username.
    pub instagram_username: Option<String>,
    /// The login's app-scoped user id (the same on every Page of a signup).
    pub user_id: Option<String>,
    /// The login's permission check, as JSON (the same on every Page of a signup).
    pub permissions: String,
    /// When the choice expires (UTC ms).
    pub expires_at: i64,
}
