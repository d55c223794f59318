//! Broadcast campaigns from this desk (issue 24, ADR 0021): what the Broadcasts page offers (the
//! workspace's WhatsApp numbers, their approved templates, labels and attributes, the workspace's
//! time zone), creating a campaign (the audience evaluated on the cache, the draft created on the
//! relay with the eligible recipients only, started now or at a time in the workspace's time
//! zone), a campaign's recipients as CSV, and the campaigns a customer received.
//!
//! The relay sends (laptops close) and checks every recipient again at its turn; this module
//! only decides who is handed over ([`crate::audience`]).

use crate::members::Role;
use serde::{Deserialize, Serialize};
use zentro_events::campaigns::{
    Campaign, CampaignStart, MAX_NAME, MAX_RECIPIENTS, NewCampaign, ReceivedCampaign,
};

use crate::audience::{self, AudienceError, AudienceFilter};
use crate::cache::{Cache, CacheError};
use crate::members::Member;
use crate::relay_client::{RelayClient, SyncError, WorkspaceTemplate};
use crate::vault::Secret;

/// The fastest pace an admin may set: Meta's highest throughput per number (messages a second).
pub const MAX_PER_SECOND: u32 = 1_000;

/// A WhatsApp number a campaign can be sent from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BroadcastChannel {
    /// The cache's and relay's id (`whatsapp:<phone number id>`).
    pub id: String,
    /// Meta's phone number id (what the relay's campaign names).
    pub external_id: String,
    /// Its name in the workspace.
    pub display_name: String,
    /// Its WhatsApp Business Account, which holds its templates (`None` until a webhook told).
    pub account_id: Option<String>,
}

/// An approved template a campaign can send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BroadcastTemplate {
    /// Its name.
    pub name: String,
    /// Its language code.
    pub language: String,
    /// MARKETING (only to opted-in customers), UTILITY or AUTHENTICATION.
    pub category: String,
    /// The body with `{{1}}`… where the variables go.
    pub body: String,
    /// GREEN, YELLOW, RED or UNKNOWN: Meta's rating of it.
    pub quality: String,
}

/// What the Broadcasts page offers to choose from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BroadcastOptions {
    /// The workspace's WhatsApp numbers this desk knows.
    pub channels: Vec<BroadcastChannel>,
    /// Every label in the cache.
    pub labels: Vec<String>,
    /// Every contact attribute name in the cache.
    pub attribute_keys: Vec<String>,
    /// The workspace's IANA time zone (its business hours'), else this computer's.
    pub time_zone: String,
    /// Whether this member may create, pause, resume and cancel campaigns (admins and owners).
    pub can_manage: bool,
}

/// A campaign an admin asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct BroadcastDraft {
    /// What the team calls it.
    pub name: String,
    /// The approved template's name.
    pub template_name: String,
    /// Its language.
    pub template_language: String,
    /// Who it goes to.
    pub audience: AudienceFilter,
    /// Most messages a second (`None`: the relay's default).
    pub per_second: Option<u32>,
    /// When to start, `YYYY-MM-DDTHH:MM` in the workspace's time zone; `None`: now.
    pub send_at: Option<String>,
}

/// Why a campaign could not be created or read.
#[derive(Debug, thiserror::Error)]
pub enum BroadcastError {
    /// Only admins and owners create and steer campaigns.
    #[error("only admins and owners create, pause, resume and cancel campaigns")]
    NotAdmin,
    /// The template is not approved by Meta (pending, rejected, paused, disabled).
    #[error(
        "the template {name} ({language}) is {status} at Meta; only APPROVED templates can be sent"
    )]
    TemplateNotApproved {
        /// The template's name.
        name: String,
        /// Its language.
        language: String,
        /// Meta's status.
        status: String,
    },
    /// The audience chose no one who may receive the template.
    #[error(
        "no customer of this audience may receive it (everyone chosen is left out, or no one is chosen)"
    )]
    NoRecipients,
    /// The draft can't be used as written; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// The relay refused or could not be reached; nothing was sent.
    #[error(transparent)]
    Relay(#[from] SyncError),
    /// The cache could not be read.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

impl From<AudienceError> for BroadcastError {
    fn from(error: AudienceError) -> Self {
        match error {
            AudienceError::Invalid(message) => Self::Invalid(message),
            AudienceError::Cache(error) => Self::Cache(error),
        }
    }
}

impl From<sqlx::Error> for BroadcastError {
    fn from(error: sqlx::Error) -> Self {
        Self::Cache(error.into())
    }
}

/// Whether `member` may create and steer campaigns.
pub fn may_manage(member: &Member) -> bool {
    member.role >= Role::Admin
}

/// The workspace's WhatsApp numbers in this cache, by name.
pub async fn channels(cache: &Cache) -> Result<Vec<BroadcastChannel>, CacheError> {
    let rows = sqlx::query!(
        r#"SELECT id AS "id!", external_id, display_name, account_id FROM channels
           WHERE kind = 'whatsapp' ORDER BY display_name, external_id"#
    )
    .fetch_all(cache.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| BroadcastChannel {
            id: r.id,
            external_id: r.external_id,
            display_name: r.display_name,
            account_id: r.account_id,
        })
        .collect())
}

/// What the Broadcasts page offers: numbers, labels, attribute names, the time zone (asked of
/// the relay; `fallback_zone` when it is not set or the relay is unreachable) and whether
/// `member` may manage campaigns.
pub async fn options(
    cache: &Cache,
    relay: &RelayClient,
    token: &Secret,
    member: &Member,
    fallback_zone: &str,
) -> Result<BroadcastOptions, CacheError> {
    let labels = sqlx::query_scalar!(r#"SELECT name AS "name!" FROM labels ORDER BY name"#)
        .fetch_all(cache.pool())
        .await?;
    // A runtime query: sqlx's SQLite checker does not know json_each's columns.
    let attribute_keys: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT a.key FROM contacts k, json_each(k.attributes) a ORDER BY 1 LIMIT 500",
    )
    .fetch_all(cache.pool())
    .await?;
    let time_zone = match workspace_time_zone(relay, token).await {
        Ok(Some(zone)) => zone,
        Ok(None) => fallback_zone.to_string(),
        Err(error) => {
            tracing::warn!(%error, "the workspace's time zone is this computer's for now");
            fallback_zone.to_string()
        }
    };
    Ok(BroadcastOptions {
        channels: channels(cache).await?,
        labels,
        attribute_keys,
        time_zone,
        can_manage: may_manage(member),
    })
}

/// The workspace's time zone: its business hours' (the automation setup), `None` when it has
/// none.
pub async fn workspace_time_zone(
    relay: &RelayClient,
    token: &Secret,
) -> Result<Option<String>, SyncError> {
    let view = relay.automation_setup(token).await?;
    Ok(view.setup.hours.map(|h| h.time_zone))
}

/// The approved templates channel `channel_id` may send (its Business Account's, or every
/// account's while the number's account is not known), as the relay last read them from Meta;
/// with `refresh`, the relay reads them from Meta first (admins; the relay refuses agents).
pub async fn approved_templates(
    cache: &Cache,
    relay: &RelayClient,
    token: &Secret,
    channel_id: &str,
    refresh: bool,
) -> Result<Vec<BroadcastTemplate>, BroadcastError> {
    let channel = channel(cache, channel_id).await?;
    let templates = if refresh {
        relay.refresh_templates(token).await?
    } else {
        relay.templates(token).await?
    };
    Ok(templates
        .iter()
        .filter(|t| t.status == "APPROVED" && of_account(t, &channel))
        .map(|t| BroadcastTemplate {
            name: t.name.clone(),
            language: t.language.clone(),
            category: t.category.clone(),
            body: t.body().to_string(),
            quality: t.quality.clone(),
        })
        .collect())
}

fn of_account(template: &WorkspaceTemplate, channel: &BroadcastChannel) -> bool {
    channel
        .account_id
        .as_deref()
        .is_none_or(|account| account == template.account_id)
}

async fn channel(cache: &Cache, channel_id: &str) -> Result<BroadcastChannel, BroadcastError> {
    channels(cache)
        .await?
        .into_iter()
        .find(|c| c.id == channel_id)
        .ok_or_else(|| {
            BroadcastError::Invalid(format!(
                "{channel_id:?} is not one of the workspace's WhatsApp numbers on this desk"
            ))
        })
}

/// The template `name` in `language` of the channel's account, if it is approved.
pub fn approved<'t>(
    templates: &'t [WorkspaceTemplate],
    channel: &BroadcastChannel,
    name: &str,
    language: &str,
) -> Result<&'t WorkspaceTemplate, BroadcastError> {
    let template = templates
        .iter()
        .find(|t| t.name == name && t.language == language && of_account(t, channel))
        .ok_or_else(|| {
            BroadcastError::Invalid(format!(
                "the number has no template {name} ({language}); refresh the templates and choose one of them"
            ))
        })?;
    if template.status != "APPROVED" {
        return Err(BroadcastError::TemplateNotApproved {
            name: name.to_string(),
            language: language.to_string(),
            status: template.status.clone(),
        });
    }
    Ok(template)
}

/// The draft's name and pace, checked.
fn check_draft(draft: &BroadcastDraft) -> Result<String, BroadcastError> {
    let name = draft.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(BroadcastError::Invalid(format!(
            "give the campaign a name of 1 to {MAX_NAME} characters"
        )));
    }
    if let Some(pace) = draft.per_second
        && !(1..=MAX_PER_SECOND).contains(&pace)
    {
        return Err(BroadcastError::Invalid(format!(
            "the pace is 1 to {MAX_PER_SECOND} messages a second"
        )));
    }
    Ok(name)
}

/// When the campaign starts: `None` now, else the draft's local time in UTC ms, which must be
/// later than `now`.
fn start_at(
    draft: &BroadcastDraft,
    time_zone: &str,
    now: i64,
) -> Result<Option<i64>, BroadcastError> {
    let Some(local) = draft.send_at.as_deref().filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let at = audience::local_time_ms(local, time_zone)?;
    if at <= now {
        let zone = audience::zone(time_zone)?;
        return Err(BroadcastError::Invalid(format!(
            "{local} in {time_zone} has passed (it is {} there); choose a later time or send now",
            audience::local_text(now, &zone)
        )));
    }
    Ok(Some(at))
}

/// Creates campaign `draft` as `member` (admins and owners): checks the template is approved
/// for the number, evaluates the audience on the cache, creates the draft on the relay, hands it
/// the eligible recipients (never one left out) and starts it now or at its time in the
/// workspace's time zone (`fallback_zone` when the workspace has none). When a step on the relay
/// fails after the draft exists, the draft is cancelled so nothing half-made is ever started.
pub async fn create(
    cache: &Cache,
    relay: &RelayClient,
    token: &Secret,
    member: &Member,
    draft: &BroadcastDraft,
    fallback_zone: &str,
    now: i64,
) -> Result<Campaign, BroadcastError> {
    if !may_manage(member) {
        return Err(BroadcastError::NotAdmin);
    }
    let name = check_draft(draft)?;
    let channel = channel(cache, &draft.audience.channel_id).await?;
    // No one even for a utility template (the widest audience): say so before asking the relay.
    let widest = audience::evaluate(cache, &draft.audience, false, fallback_zone, now).await?;
    if widest.eligible == 0 {
        return Err(BroadcastError::NoRecipients);
    }
    let templates = relay.templates(token).await?;
    let template = approved(
        &templates,
        &channel,
        &draft.template_name,
        &draft.template_language,
    )?;
    let time_zone = workspace_time_zone(relay, token)
        .await?
        .unwrap_or_else(|| fallback_zone.to_string());
    let send_at = start_at(draft, &time_zone, now)?;
    let marketing = template.category.eq_ignore_ascii_case("MARKETING");
    let recipients =
        audience::recipients(cache, &draft.audience, marketing, &time_zone, now).await?;
    if recipients.is_empty() {
        return Err(BroadcastError::NoRecipients);
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(BroadcastError::Invalid(format!(
            "a campaign reaches at most {MAX_RECIPIENTS} customers; narrow the audience"
        )));
    }
    let audience = audience::describe(cache, &draft.audience).await?;
    let created = relay
        .create_campaign(
            token,
            &NewCampaign {
                name,
                channel_id: channel.external_id.clone(),
                template_name: template.name.clone(),
                template_language: template.language.clone(),
                audience,
                per_second: draft.per_second,
            },
        )
        .await?;
    let handed = async {
        relay
            .add_campaign_recipients(token, &created.id, &recipients)
            .await?;
        relay
            .start_campaign(token, &created.id, &CampaignStart { send_at })
            .await
    };
    match handed.await {
        Ok(campaign) => Ok(campaign),
        Err(error) => {
            if let Err(cancel) = relay.cancel_campaign(token, &created.id).await {
                tracing::warn!(campaign = %created.id, error = %cancel, "a half-made campaign draft could not be cancelled");
            }
            Err(error.into())
        }
    }
}

/// What an admin does to a campaign once it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum CampaignAction {
    /// Stop sending for now (scheduled or running).
    Pause,
    /// Go on from where it stopped (the relay refuses while Meta's cause of a pause remains).
    Resume,
    /// Stop for good: recipients not reached stay `cancelled`.
    Cancel,
}

/// Pauses, resumes or cancels campaign `id` as `member` (admins and owners; the relay checks
/// again). Answers the campaign as it is now.
pub async fn steer(
    relay: &RelayClient,
    token: &Secret,
    member: &Member,
    id: &str,
    action: CampaignAction,
) -> Result<Campaign, BroadcastError> {
    if !may_manage(member) {
        return Err(BroadcastError::NotAdmin);
    }
    Ok(match action {
        CampaignAction::Pause => relay.pause_campaign(token, id).await?,
        CampaignAction::Resume => relay.resume_campaign(token, id).await?,
        CampaignAction::Cancel => relay.cancel_campaign(token, id).await?,
    })
}

/// Every recipient of campaign `id` with their outcome, as the relay's CSV (one row each, in the
/// order they were added): `customer_id,name,status,skip_reason,error,message_id,updated_at` (UTC
/// ISO 8601). Cells that a spreadsheet would run as a formula are neutralised by the relay.
pub async fn recipients_csv(
    relay: &RelayClient,
    token: &Secret,
    id: &str,
) -> Result<String, SyncError> {
    relay.campaign_recipients_csv(token, id).await
}

/// The campaigns the customer of conversation `conversation_id` received on its WhatsApp number,
/// newest first; none for a Messenger or Instagram conversation.
pub async fn received_in_conversation(
    cache: &Cache,
    relay: &RelayClient,
    token: &Secret,
    conversation_id: i64,
) -> Result<Vec<ReceivedCampaign>, BroadcastError> {
    let row = sqlx::query!(
        r#"SELECT ch.kind, ch.external_id AS channel_external_id, k.external_id AS customer_id
           FROM conversations c JOIN contacts k ON k.id = c.contact_id
           JOIN channels ch ON ch.id = k.channel_id WHERE c.id = ?"#,
        conversation_id
    )
    .fetch_optional(cache.pool())
    .await?;
    match row {
        Some(row) if row.kind == "whatsapp" => Ok(relay
            .campaigns_received(token, &row.channel_external_id, &row.customer_id)
            .await?),
        Some(_) => Ok(Vec::new()),
        None => Err(BroadcastError::Invalid(format!(
            "conversation {conversation_id} is not in this cache"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(account: &str, name: &str, status: &str) -> WorkspaceTemplate {
        WorkspaceTemplate {
            account_id: account.into(),
            name: name.into(),
            language: "en_US".into(),
            id: format!("t_{name}"),
            category: "MARKETING".into(),
            status: status.into(),
            quality: "GREEN".into(),
            reason: None,
            components: serde_json::json!([]),
            variables: Vec::new(),
            stands_in_for: None,
        }
    }

    #[test]
    fn only_an_approved_template_of_the_numbers_account_is_sent() {
        let channel = BroadcastChannel {
            id: "whatsapp:P1".into(),
            external_id: "P1".into(),
            display_name: "Shop".into(),
            account_id: Some("W1".into()),
        };
        let templates = [
            template("W1", "restock", "APPROVED"),
            template("W1", "sale", "PAUSED"),
            template("W2", "welcome", "APPROVED"),
        ];
        assert_eq!(
            approved(&templates, &channel, "restock", "en_US")
                .unwrap()
                .name,
            "restock"
        );
        assert!(matches!(
            approved(&templates, &channel, "sale", "en_US"),
            Err(BroadcastError::TemplateNotApproved { status, .. }) if status == "PAUSED"
        ));
        // Another account's template, or another language: not this number's.
        assert!(matches!(
            approved(&templates, &channel, "welcome", "en_US"),
            Err(BroadcastError::Invalid(_))
        ));
        assert!(matches!(
            approved(&templates, &channel, "restock", "pt_BR"),
            Err(BroadcastError::Invalid(_))
        ));
    }
}
