//! The workspace's automation and members' presence: reading and saving the automation setup,
//! setting one's own status, and who is available.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use zentro_automation::Setup;

use super::{RelayClient, SyncError};
use crate::vault::Secret;

/// The relay's code for a save made against a version someone else replaced meanwhile.
const VERSION_CONFLICT: &str = "version_conflict";
/// The relay's code for a setup its validation refused.
const INVALID: &str = "invalid";

/// The workspace's automation setup as the relay keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutomationSetupView {
    /// Which save this is (0: never saved, `setup` is the default); a save names the version it
    /// replaces.
    pub version: i64,
    /// The setup itself.
    pub setup: Setup,
    /// When it was saved (ms since the epoch), `None` if never.
    pub saved_at: Option<i64>,
    /// The member id of whoever saved it, `None` if never.
    pub saved_by: Option<String>,
}

/// One member's presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberPresence {
    /// The member's id.
    pub member_id: String,
    /// What the member set: `available` or `away`.
    pub status: String,
    /// What counts for assignment: the status, or `offline` when none of the member's sessions
    /// was seen in the last 90 seconds.
    pub presence: String,
    /// When one of the member's sessions was last seen (ms since the epoch), `None` if never.
    pub last_seen_at: Option<i64>,
}

/// Why saving the automation setup failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveAutomationError {
    /// Someone saved a newer version since the one this save replaces.
    #[error("someone saved the automation meanwhile; reload and try again")]
    Conflict,
    /// The relay's validation refused the setup; the message says what is wrong.
    #[error("the automation setup is not valid: {0}")]
    Invalid(String),
    /// Anything else the relay or the network said.
    #[error(transparent)]
    Relay(#[from] SyncError),
}

impl RelayClient {
    /// The workspace's automation setup, its version and who saved it last (any member).
    pub async fn automation_setup(&self, token: &Secret) -> Result<AutomationSetupView, SyncError> {
        self.get("/v1/automation", token).await
    }

    /// Saves `setup` in place of version `expected_version` (admins and owners); the new
    /// version. Refused with [`SaveAutomationError::Conflict`] when someone saved meanwhile.
    pub async fn save_automation_setup(
        &self,
        token: &Secret,
        expected_version: i64,
        setup: &Setup,
    ) -> Result<i64, SaveAutomationError> {
        #[derive(Deserialize)]
        struct Body {
            version: i64,
        }
        let body = json!({ "expected_version": expected_version, "setup": setup });
        let saved: Result<Body, SyncError> = self
            .send_json(Method::PUT, "/v1/automation", token, body)
            .await;
        match saved {
            Ok(body) => Ok(body.version),
            Err(SyncError::Refused { code, .. }) if code == VERSION_CONFLICT => {
                Err(SaveAutomationError::Conflict)
            }
            Err(SyncError::Refused { code, message }) if code == INVALID => {
                Err(SaveAutomationError::Invalid(message))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Sets this member's own status (`available` or `away`); the presence that now counts
    /// (`available`, `away` or `offline`).
    pub async fn set_presence(&self, token: &Secret, status: &str) -> Result<String, SyncError> {
        #[derive(Deserialize)]
        struct Body {
            presence: String,
        }
        let body: Body = self
            .send_json(
                Method::PUT,
                "/v1/presence",
                token,
                json!({ "status": status }),
            )
            .await?;
        Ok(body.presence)
    }

    /// Every member's presence (any member).
    pub async fn presence(&self, token: &Secret) -> Result<Vec<MemberPresence>, SyncError> {
        self.get("/v1/presence", token).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answers as the relay's routes document them read as these types.
    #[test]
    fn the_relays_documented_answers_read_as_views() {
        let never_saved: AutomationSetupView = serde_json::from_value(json!({
            "version": 0, "setup": Setup::default(), "saved_at": null, "saved_by": null
        }))
        .unwrap();
        assert_eq!(never_saved.version, 0);
        assert_eq!(never_saved.setup, Setup::default());
        assert_eq!(never_saved.saved_by, None);
        let presence: Vec<MemberPresence> = serde_json::from_value(json!([
            { "member_id": "m1", "status": "away", "presence": "offline", "last_seen_at": null },
            { "member_id": "m2", "status": "available", "presence": "available", "last_seen_at": 1_765_000_000_000_i64 }
        ]))
        .unwrap();
        assert_eq!(presence[0].presence, "offline");
        assert_eq!(presence[1].last_seen_at, Some(1_765_000_000_000));
    }
}
