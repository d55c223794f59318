//! Rows of WhatsApp message templates (issue 24): a workspace's copy of what Meta says about its
//! accounts' templates, with what only the workspace decides (variables' contact fields and
//! fallbacks, the automated message a template carries outside the 24-hour window).

use serde::Serialize;

/// One template of one WhatsApp Business Account, as a workspace keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateRow {
    /// The WhatsApp Business Account (WABA) id.
    pub account_id: String,
    /// The name it is sent by.
    pub name: String,
    /// Its language code (`en_US`…).
    pub language: String,
    /// Meta's id for it.
    pub meta_id: String,
    /// MARKETING, UTILITY or AUTHENTICATION.
    pub category: String,
    /// PENDING, APPROVED, REJECTED, PAUSED, DISABLED, …
    pub status: String,
    /// GREEN, YELLOW, RED or UNKNOWN.
    pub quality: String,
    /// Why it was rejected or paused, as Meta said.
    pub reason: Option<String>,
    /// JSON: its components as Meta describes them.
    pub components: String,
    /// JSON: `[{field, fallback}]` per body variable, in order.
    pub variables: String,
    /// The automated message (`away`, `csat`, …) it carries once the window closed.
    pub stands_in_for: Option<String>,
    /// When the relay last changed it (UTC ms).
    pub updated_at: i64,
}
