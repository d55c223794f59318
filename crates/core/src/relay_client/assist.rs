//! AI assist's settings as the relay keeps them, the provider's key for this desk's keychain, and
//! the usage this desk records after each request (no content).

use serde::Deserialize;
use serde_json::Value;
use zentro_assist::UsageReport;

use super::{RelayClient, SyncError};
use crate::vault::Secret;

/// The provider AI assist sends to, as `GET /v1/assist` names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AssistProvider {
    /// The API's base URL.
    pub base_url: String,
    /// The model.
    pub model: String,
    /// Its host, as the desk shows "where text goes".
    pub name: String,
}

/// AI assist's settings as any member reads them (never the key).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AssistSettings {
    /// Whether an owner turned it on.
    pub enabled: bool,
    /// Where text goes, once named.
    pub provider: Option<AssistProvider>,
    /// Whether identifiers are masked before sending.
    pub masking: bool,
    /// Whether suggested labels are applied without an agent's action.
    pub auto_labels: bool,
    /// Tokens allowed per month (`None`: no limit).
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub monthly_budget_tokens: Option<u64>,
    /// Tokens used this month.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub spent_this_month: u64,
    /// Whether the provider has a key.
    pub key_set: bool,
    /// The key's version (for the keychain's copy).
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub key_version: i64,
    /// Which save this is (0: never saved); a save names the version it replaces.
    #[serde(default)]
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub version: i64,
}

/// What an owner changes (`PUT /v1/assist`); the key is sent only when a new one is given.
#[derive(Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AssistChange {
    /// On or off.
    pub enabled: bool,
    /// The provider's base URL (`https://api.openai.com/v1`, `http://localhost:11434/v1`).
    pub base_url: Option<String>,
    /// The model.
    pub model: Option<String>,
    /// Mask identifiers before sending.
    pub masking: bool,
    /// Apply suggested labels without an agent's action.
    pub auto_labels: bool,
    /// Tokens allowed per month (`None`: no limit).
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub monthly_budget_tokens: Option<u64>,
    /// A new key (`None`: keep the current one). Never logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// Forget the current key.
    pub remove_key: bool,
    /// The version the owner started from (a save over someone else's is refused).
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub expected_version: Option<i64>,
}

impl std::fmt::Debug for AssistChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssistChange")
            .field("enabled", &self.enabled)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl RelayClient {
    /// AI assist's settings and this month's spending.
    pub async fn assist_settings(&self, token: &Secret) -> Result<AssistSettings, SyncError> {
        self.get("/v1/assist", token).await
    }

    /// Changes the settings (owners; the relay refuses anyone else); the settings as saved.
    pub async fn save_assist_settings(
        &self,
        token: &Secret,
        change: &AssistChange,
    ) -> Result<AssistSettings, SyncError> {
        let body = serde_json::to_value(change).map_err(|e| SyncError::Relay(e.to_string()))?;
        self.send_json(reqwest::Method::PUT, "/v1/assist", token, body)
            .await
    }

    /// The provider's key and its version, for this desk's keychain (audited by the relay).
    pub async fn assist_key(&self, token: &Secret) -> Result<(Secret, i64), SyncError> {
        let body: Value = self.get("/v1/assist/key", token).await?;
        let key = body
            .get("key")
            .and_then(Value::as_str)
            .map(Secret::new)
            .ok_or_else(|| SyncError::Relay("no key in the answer".into()))?;
        Ok((key, body["key_version"].as_i64().unwrap_or(0)))
    }

    /// Records one request's usage (audited, counted toward the budget); answers the tokens spent
    /// this month.
    pub async fn record_assist_usage(
        &self,
        token: &Secret,
        report: &UsageReport,
    ) -> Result<u64, SyncError> {
        let body = serde_json::to_value(report).map_err(|e| SyncError::Relay(e.to_string()))?;
        let answer: Value = self
            .send_json(reqwest::Method::POST, "/v1/assist/usage", token, body)
            .await?;
        Ok(answer["spent_this_month"].as_u64().unwrap_or(0))
    }
}
