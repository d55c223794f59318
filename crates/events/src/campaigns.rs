//! Broadcast campaigns as the relay and desks exchange them (issue 24, ADR 0021): a WhatsApp
//! template sent to a list of opted-in customers, from the relay, paced, exactly once each.
//!
//! The desk chooses the audience from its cache (labels, attributes, last activity) and hands the
//! relay the recipients with what it knows of them (their name, for the template's variables);
//! the relay checks every recipient again when their turn comes (consent, restriction, erasure)
//! and records each one's outcome. These are the shapes of the relay's `/v1/campaigns` routes.

use serde::{Deserialize, Serialize};

/// The longest campaign name.
pub const MAX_NAME: usize = 120;

/// Most recipients one `POST /v1/campaigns/{id}/recipients` call adds.
pub const MAX_RECIPIENTS_PER_CALL: usize = 2_000;

/// Most recipients of one campaign (the highest messaging limit below "unlimited").
pub const MAX_RECIPIENTS: usize = 100_000;

/// Where a campaign is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum CampaignState {
    /// Created; recipients may still be added; nothing goes out.
    Draft,
    /// Waiting for its time (`send_at`).
    Scheduled,
    /// Sending, at the pace allowed.
    Running,
    /// Stopped by an admin or by Meta (`paused_reason` says which); resumable.
    Paused,
    /// Stopped for good by an admin; recipients not reached stay `cancelled`.
    Cancelled,
    /// Every recipient has an outcome.
    Completed,
}

/// What happened to one recipient. `sent`, `delivered`, `read` and `replied` follow each other
/// as Meta's status webhooks and the customer's answer arrive; the others are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum RecipientStatus {
    /// Waiting for its turn.
    Queued,
    /// The request to Meta left and no answer came yet (or the relay stopped meanwhile); never
    /// sent again until Meta's webhooks settle it (ADR 0021).
    Sending,
    /// Meta accepted it.
    Sent,
    /// Meta delivered it to the customer's phone.
    Delivered,
    /// The customer read it.
    Read,
    /// The customer wrote back after it.
    Replied,
    /// Meta refused it or could not deliver it (`reason` has Meta's code and words).
    Failed,
    /// Not sent on purpose (`reason`: see [`SkipReason`]).
    Skipped,
    /// The campaign was cancelled before its turn.
    Cancelled,
}

/// Why a recipient was not sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum SkipReason {
    /// A marketing template, and the customer never opted in.
    NoConsent,
    /// The customer opted out (a stop keyword, or an agent recorded it).
    OptedOut,
    /// The customer's processing is restricted (P14).
    Restricted,
    /// The customer's data was erased.
    Erased,
    /// Listed twice in one campaign: the first entry is the one sent.
    Duplicate,
}

/// A campaign to create (`POST /v1/campaigns`, admins): a draft until it is started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NewCampaign {
    /// What the team calls it ("Spring restock"); shown with every message it sends.
    pub name: String,
    /// The WhatsApp channel (its phone number id) it is sent from.
    pub channel_id: String,
    /// The template's name, as the relay keeps it (`GET /v1/templates`).
    pub template_name: String,
    /// The template's language code.
    pub template_language: String,
    /// How the audience was chosen, as the desk describes it (kept for the record and the UI).
    pub audience: String,
    /// Most messages per second (at most Meta's throughput; `None`: the relay's default).
    pub per_second: Option<u32>,
}

/// One recipient as a desk hands it over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NewRecipient {
    /// The customer's WhatsApp id (`wa_id`).
    pub customer_id: String,
    /// Their name as the desk knows it, for the template's name variables.
    pub name: Option<String>,
}

/// When to start (`POST /v1/campaigns/{id}/start`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CampaignStart {
    /// Milliseconds since the epoch; `None` is now. The desk converts the admin's time in the
    /// workspace's time zone.
    pub send_at: Option<i64>,
}

/// Recipients by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CampaignCounts {
    /// Waiting for their turn.
    pub queued: u32,
    /// In flight or waiting for Meta to settle them.
    pub sending: u32,
    /// Accepted by Meta, not yet delivered.
    pub sent: u32,
    /// Delivered, not read.
    pub delivered: u32,
    /// Read, no answer.
    pub read: u32,
    /// Answered.
    pub replied: u32,
    /// Refused or undeliverable.
    pub failed: u32,
    /// Not sent on purpose.
    pub skipped: u32,
    /// Not reached before a cancel.
    pub cancelled: u32,
}

/// A campaign as the relay reports it (`GET /v1/campaigns`, `GET /v1/campaigns/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Campaign {
    /// The relay's id for it.
    pub id: String,
    /// What the team calls it.
    pub name: String,
    /// The channel it is sent from.
    pub channel_id: String,
    /// The template's name.
    pub template_name: String,
    /// The template's language.
    pub template_language: String,
    /// The template's category when created (MARKETING needs consent).
    pub category: String,
    /// How the audience was chosen.
    pub audience: String,
    /// Where it is.
    pub state: CampaignState,
    /// Why it is paused: an admin's pause, or Meta's code and words (a paused template, a
    /// quality limit), or the messaging limit until a time.
    pub paused_reason: Option<String>,
    /// Most messages per second.
    pub per_second: u32,
    /// When it is due, in ms since the epoch.
    pub send_at: Option<i64>,
    /// Who created it (member id).
    pub created_by: String,
    /// When, ms.
    pub created_at: i64,
    /// When its first message went, ms.
    pub started_at: Option<i64>,
    /// When its last recipient got an outcome, ms.
    pub finished_at: Option<i64>,
    /// Recipients by outcome.
    pub counts: CampaignCounts,
}

/// One recipient's outcome (`GET /v1/campaigns/{id}/recipients`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CampaignRecipient {
    /// The customer's WhatsApp id.
    pub customer_id: String,
    /// Their name as the desk gave it.
    pub name: Option<String>,
    /// Where they are.
    pub status: RecipientStatus,
    /// Why it was skipped, when it was.
    pub skip_reason: Option<SkipReason>,
    /// Meta's code and words, when it failed.
    pub error: Option<String>,
    /// Meta's message id, once accepted.
    pub message_id: Option<String>,
    /// When its status last changed, ms.
    pub updated_at: i64,
}

/// A page of recipients, in the order they were added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RecipientPage {
    /// This page.
    pub recipients: Vec<CampaignRecipient>,
    /// Pass as `after` for the next page; `None` at the end.
    pub next: Option<String>,
}

/// A campaign a customer received (`GET /v1/campaigns/received?channel_id=&customer_id=`): what the
/// contact panel shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ReceivedCampaign {
    /// The campaign's id.
    pub campaign_id: String,
    /// Its name.
    pub name: String,
    /// The template sent.
    pub template_name: String,
    /// What happened to this customer's message.
    pub status: RecipientStatus,
    /// When its status last changed, ms.
    pub updated_at: i64,
}

/// The `author` of the `message.sent` event a campaign's message becomes: `campaign:<id>`, so the
/// inbox names the campaign beside the message.
pub fn campaign_author(campaign_id: &str) -> String {
    format!("{CAMPAIGN_AUTHOR_PREFIX}{campaign_id}")
}

/// Prefix of a campaign's author.
pub const CAMPAIGN_AUTHOR_PREFIX: &str = "campaign:";

/// The campaign that sent a message, if its author is one (`campaign:<id>`).
pub fn campaign_of(author: Option<&str>) -> Option<&str> {
    author?
        .strip_prefix(CAMPAIGN_AUTHOR_PREFIX)
        .filter(|id| !id.is_empty())
}

/// The `biz_opaque_callback_data` a campaign's message carries, which Meta's status webhooks
/// return: how the relay settles a message whose answer it never got (ADR 0021).
pub fn callback_data(campaign_id: &str, customer_id: &str) -> String {
    format!("campaign:{campaign_id}:{customer_id}")
}

/// The campaign and customer a status webhook's `biz_opaque_callback_data` names, if it names one.
pub fn parse_callback_data(data: &str) -> Option<(&str, &str)> {
    let rest = data.strip_prefix("campaign:")?;
    let (campaign, customer) = rest.split_once(':')?;
    (!campaign.is_empty() && !customer.is_empty()).then_some((campaign, customer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_data_names_the_campaign_and_customer_back() {
        let data = callback_data("c_1", "4915112345678");
        assert_eq!(parse_callback_data(&data), Some(("c_1", "4915112345678")));
        assert_eq!(parse_callback_data("outbox:7"), None);
        assert_eq!(parse_callback_data("campaign::1"), None);
    }

    #[test]
    fn a_campaign_author_names_its_campaign() {
        assert_eq!(campaign_of(Some(&campaign_author("c_9"))), Some("c_9"));
        assert_eq!(campaign_of(Some("automation:greeting")), None);
        assert_eq!(campaign_of(Some("campaign:")), None);
        assert_eq!(campaign_of(None), None);
        assert!(crate::written_by_relay(Some("campaign:c_9")));
    }

    #[test]
    fn statuses_travel_in_snake_case() {
        assert_eq!(
            serde_json::to_string(&RecipientStatus::Replied).unwrap(),
            "\"replied\""
        );
        assert_eq!(
            serde_json::to_string(&SkipReason::NoConsent).unwrap(),
            "\"no_consent\""
        );
    }
}
