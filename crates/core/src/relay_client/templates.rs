//! The workspace's WhatsApp templates as the relay keeps them (issue 24): listing them,
//! refreshing them from Meta and creating one for Meta's review (admins).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zentro_events::templates::TemplateVariable;
use zentro_meta::graph::NewTemplate;

use super::{RelayClient, SyncError};
use crate::vault::Secret;

/// A template as `GET /v1/templates` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceTemplate {
    /// The WhatsApp Business Account holding it.
    pub account_id: String,
    /// The name it is sent by.
    pub name: String,
    /// Its language code (`en_US`…).
    pub language: String,
    /// Meta's id for it.
    pub id: String,
    /// MARKETING, UTILITY or AUTHENTICATION.
    pub category: String,
    /// PENDING, APPROVED, REJECTED, PAUSED, DISABLED, …
    pub status: String,
    /// GREEN, YELLOW, RED or UNKNOWN.
    pub quality: String,
    /// Why it was rejected or paused, as Meta said.
    pub reason: Option<String>,
    /// Header, body, footer and buttons as Meta describes them.
    pub components: Value,
    /// Which contact field fills each body variable, with its fallback.
    pub variables: Vec<TemplateVariable>,
    /// The automated message it carries once a customer's window closed.
    pub stands_in_for: Option<String>,
}

impl WorkspaceTemplate {
    /// The body's text, with `{{1}}`… where its variables go.
    pub fn body(&self) -> &str {
        self.components
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c.get("type").and_then(Value::as_str) == Some("BODY"))
            .and_then(|c| c.get("text"))
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// A template to submit: the template itself, and optionally its variables' contact fields and
/// the automated message it stands in for.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateSubmission {
    /// The WhatsApp channel whose account gets it (needed when the workspace has several).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    /// Name, language, category, body and its examples, header, footer.
    #[serde(flatten)]
    pub template: NewTemplate,
    /// Which contact field fills each body variable (the relay's defaults when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variables: Option<Vec<TemplateVariable>>,
}

#[derive(Deserialize)]
struct TemplateList {
    templates: Vec<WorkspaceTemplate>,
}

impl RelayClient {
    /// The workspace's WhatsApp templates, as the relay last learned them from Meta.
    pub async fn templates(&self, token: &Secret) -> Result<Vec<WorkspaceTemplate>, SyncError> {
        let list: TemplateList = self.get("/v1/templates", token).await?;
        Ok(list.templates)
    }

    /// Reads the templates from Meta again (admins); answers them.
    pub async fn refresh_templates(
        &self,
        token: &Secret,
    ) -> Result<Vec<WorkspaceTemplate>, SyncError> {
        let list: TemplateList = self
            .send_json(
                reqwest::Method::POST,
                "/v1/templates/refresh",
                token,
                Value::Null,
            )
            .await?;
        Ok(list.templates)
    }

    /// Submits a template to Meta for review through the relay (admins); answers it as kept
    /// (PENDING until Meta decides).
    pub async fn create_template(
        &self,
        token: &Secret,
        submission: &TemplateSubmission,
    ) -> Result<WorkspaceTemplate, SyncError> {
        let body = serde_json::to_value(submission).map_err(|e| SyncError::Relay(e.to_string()))?;
        self.send_json(reqwest::Method::POST, "/v1/templates", token, body)
            .await
    }
}
