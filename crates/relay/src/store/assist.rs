//! AI assist as the relay keeps it: each workspace's settings (saved by owners, the key sealed) and
//! the usage desks record after each request, which the monthly budget counts.

use zentro_events::clock::{now_ms, random_id};
pub use zentro_relay_store::assist::{AssistRow, AssistUse};

use super::{Result, Store};
use crate::read;

impl Store {
    /// A workspace's AI assist settings, or `None` when no owner ever saved them (off).
    pub async fn assist_settings(&self, workspace_id: &str) -> Result<Option<AssistRow>> {
        Ok(read!(self, assist::settings(workspace_id))?)
    }

    /// Stores a workspace's AI assist settings as `row` says (its version included).
    pub async fn save_assist_settings(&self, workspace_id: &str, row: &AssistRow) -> Result<()> {
        Ok(read!(self, assist::save_settings(workspace_id, row))?)
    }

    /// Records one request's usage (no content), now.
    pub async fn record_assist_use(&self, usage: &AssistUse<'_>) -> Result<()> {
        let id = random_id();
        Ok(read!(self, assist::insert_usage(&id, usage, now_ms()))?)
    }

    /// Tokens a workspace used since `since` (UTC ms).
    pub async fn assist_tokens_since(&self, workspace_id: &str, since: i64) -> Result<i64> {
        Ok(read!(self, assist::tokens_since(workspace_id, since))?)
    }
}
