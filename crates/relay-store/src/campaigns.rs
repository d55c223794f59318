//! Rows of broadcast campaigns (issue 24, ADR 0021): a campaign with its state, and one row per
//! recipient with its outcome.

use serde::Serialize;

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignRow {
    /// The relay's id for it.
    pub id: String,
    /// Its workspace.
    pub workspace_id: String,
    /// What the team calls it.
    pub name: String,
    /// The WhatsApp phone number id it is sent from.
    pub channel_id: String,
    /// The template's name.
    pub template_name: String,
    /// The template's language.
    pub template_language: String,
    /// The template's category when created.
    pub category: String,
    /// How the desk chose the audience.
    pub audience: String,
    /// draft, scheduled, running, paused, cancelled or completed.
    pub state: String,
    /// Why it is paused.
    pub paused_reason: Option<String>,
    /// A pause of the messaging limit ends by itself then (UTC ms).
    pub paused_until: Option<i64>,
    /// Most messages per second.
    pub per_second: i64,
    /// When it is due (UTC ms).
    pub send_at: Option<i64>,
    /// The member who created it.
    pub created_by: String,
    /// When (UTC ms).
    pub created_at: i64,
    /// When its first message went (UTC ms).
    pub started_at: Option<i64>,
    /// When its last recipient got an outcome (UTC ms).
    pub finished_at: Option<i64>,
    /// Meta's time of the newest status webhook of its number the campaign worker read (UTC ms).
    pub statuses_seen_at: i64,
}

/// One recipient of a campaign as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipientRow {
    /// Its campaign.
    pub campaign_id: String,
    /// The campaign's workspace.
    pub workspace_id: String,
    /// Its place in the order recipients were added.
    pub ordinal: i64,
    /// The customer's WhatsApp id.
    pub customer_id: String,
    /// Their name as the desk gave it.
    pub name: Option<String>,
    /// queued, sending, sent, delivered, read, replied, failed, skipped or cancelled.
    pub status: String,
    /// Why it was skipped.
    pub skip_reason: Option<String>,
    /// Meta's code and words when it failed.
    pub error: Option<String>,
    /// Meta's message id once accepted.
    pub message_id: Option<String>,
    /// When its request was about to leave (UTC ms).
    pub sending_at: Option<i64>,
    /// When Meta accepted it (UTC ms).
    pub sent_at: Option<i64>,
    /// Not tried again before (UTC ms).
    pub next_attempt_at: i64,
    /// Meta's temporary failures (5xx, network) so far; rate-limit waits do not count.
    pub attempts: i64,
    /// When its status last changed (UTC ms).
    pub updated_at: i64,
}

/// A campaign one customer received, as the contact panel lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedRow {
    /// The campaign's id.
    pub campaign_id: String,
    /// Its name.
    pub name: String,
    /// The template sent.
    pub template_name: String,
    /// The customer's outcome.
    pub status: String,
    /// When it last changed (UTC ms).
    pub updated_at: i64,
}
