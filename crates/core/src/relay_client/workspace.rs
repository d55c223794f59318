//! The workspace itself: its name, its termination, its retention periods.

use reqwest::Method;
use serde_json::json;

use super::{RelayClient, SyncError};
use crate::rights::Retention;
use crate::vault::Secret;

impl RelayClient {
    /// Renames the workspace (owners).
    pub async fn rename_workspace(&self, token: &Secret, name: &str) -> Result<(), SyncError> {
        self.act(
            Method::PATCH,
            "/v1/workspace",
            token,
            Some(json!({ "name": name })),
        )
        .await
    }

    /// Terminates the workspace for good (owners): `confirm` must be its exact name. Every
    /// device, this one included, is signed out.
    pub async fn terminate_workspace(
        &self,
        token: &Secret,
        confirm: &str,
    ) -> Result<(), SyncError> {
        self.act(
            Method::DELETE,
            "/v1/workspace",
            token,
            Some(json!({ "confirm": confirm })),
        )
        .await
    }

    /// The workspace's retention periods.
    pub async fn retention(&self, token: &Secret) -> Result<Retention, SyncError> {
        self.get("/v1/workspace/retention", token).await
    }

    /// Sets the workspace's retention periods (admins); every device enforces them.
    pub async fn set_retention(
        &self,
        token: &Secret,
        retention: &Retention,
    ) -> Result<Retention, SyncError> {
        self.send_json(Method::PUT, "/v1/workspace/retention", token, json!({ "conversation_days": retention.conversation_days, "media_days": retention.media_days }))
        .await
    }
}
