//! AI assist's settings as the relay keeps them, the provider's key for this desk's keychain, and
//! the usage this desk records after each request (no content).

use serde::Deserialize;
use serde_json::Value;
use zentro_assist::UsageReport;

use super::{RelayClient, SyncError};
use crate::vault::Secret;

/// The provider AI assist sends to, as `GET /v1/assist` names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AssistProvider {
    /// The API's base URL.
    pub base_url: String,
    /// The model.
    pub model: String,
    /// Its host, as the desk shows "where text goes".
    pub name: String,
}

/// AI assist's settings as any member reads them (never the key).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
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
    pub monthly_budget_tokens: Option<u64>,
    /// Tokens used this month.
    pub spent_this_month: u64,
    /// Whether the provider has a key.
    pub key_set: bool,
    /// The key's version (for the keychain's copy).
    pub key_version: i64,
}

impl RelayClient {
    /// AI assist's settings and this month's spending.
    pub async fn assist_settings(&self, token: &Secret) -> Result<AssistSettings, SyncError> {
        self.get("/v1/assist", token).await
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
