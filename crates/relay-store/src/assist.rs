//! Rows of AI assist: a workspace's saved settings with its sealed key, and usage without content.

use crate::Sealed;

/// A workspace's AI assist settings as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssistRow {
    /// 1 at the first save, +1 at each.
    pub version: i64,
    /// Whether an owner turned it on.
    pub enabled: bool,
    /// The provider's API base URL.
    pub base_url: Option<String>,
    /// The model asked.
    pub model: Option<String>,
    /// Whether desks mask identifiers before sending.
    pub masking: bool,
    /// Whether suggested labels are applied without an agent's action.
    pub auto_labels: bool,
    /// Tokens allowed per month (`None`: no limit).
    pub monthly_budget_tokens: Option<i64>,
    /// The provider's API key, sealed (`None`: no key).
    pub key: Option<Sealed>,
    /// Grows with every new key; 0 when none was ever set.
    pub key_version: i64,
    /// When it was saved (UTC ms).
    pub saved_at: i64,
    /// The owner who saved it.
    pub saved_by: Option<String>,
}

/// One request a desk made, without content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssistUse<'a> {
    /// The workspace.
    pub workspace_id: &'a str,
    /// Who asked.
    pub member_id: &'a str,
    /// The conversation, as the desks' hash of it.
    pub conversation: &'a str,
    /// `summary`, `draft`, `rewrite` or `labels`.
    pub feature: &'a str,
    /// The provider's host.
    pub provider: &'a str,
    /// Tokens of the prompt.
    pub prompt_tokens: i64,
    /// Tokens of the answer.
    pub completion_tokens: i64,
}
