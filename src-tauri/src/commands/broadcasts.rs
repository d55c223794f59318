//! The Broadcasts page (issue 24, ADR 0021): what a campaign can be made of, its audience
//! counted on this desk's cache, creating it (admins), the campaigns with their progress and
//! recipients as the relay reports them, pausing, resuming and cancelling (admins), the
//! recipients saved as CSV, and the campaigns a customer received (the contact panel).

use serde::Serialize;
use tauri::State;
use zentro_core::audience::{self, Audience, AudienceFilter};
use zentro_core::broadcasts::{
    self, BroadcastDraft, BroadcastOptions, BroadcastTemplate, CampaignAction,
};
use zentro_events::campaigns::{
    Campaign, CampaignCounts, CampaignRecipient, CampaignState, ReceivedCampaign, RecipientPage,
    RecipientStatus, SkipReason,
};
use zentro_events::clock::now_ms;

use super::reports::{desk_time_zone, save_csv};
use crate::{AppState, CommandError};

/// A campaign as the page shows it (the relay's, with times as numbers).
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct CampaignView {
    /// The relay's id for it.
    pub id: String,
    /// What the team calls it.
    pub name: String,
    /// The WhatsApp number (phone number id) it is sent from.
    pub channel_id: String,
    /// The template's name.
    pub template_name: String,
    /// The template's language.
    pub template_language: String,
    /// The template's category when created.
    pub category: String,
    /// How the audience was chosen, in words.
    pub audience: String,
    /// Where it is.
    pub state: CampaignState,
    /// Why it is paused: an admin, or Meta's code and words, or the messaging limit.
    pub paused_reason: Option<String>,
    /// Most messages a second.
    pub per_second: u32,
    /// When it is due (UTC ms).
    #[specta(type = Option<specta_typescript::Number>)]
    pub send_at: Option<i64>,
    /// Who created it (member id).
    pub created_by: String,
    /// When (UTC ms).
    #[specta(type = specta_typescript::Number)]
    pub created_at: i64,
    /// When its first message went (UTC ms).
    #[specta(type = Option<specta_typescript::Number>)]
    pub started_at: Option<i64>,
    /// When its last recipient got an outcome (UTC ms).
    #[specta(type = Option<specta_typescript::Number>)]
    pub finished_at: Option<i64>,
    /// Recipients by outcome.
    pub counts: CampaignCounts,
}

impl From<Campaign> for CampaignView {
    fn from(c: Campaign) -> Self {
        Self {
            id: c.id,
            name: c.name,
            channel_id: c.channel_id,
            template_name: c.template_name,
            template_language: c.template_language,
            category: c.category,
            audience: c.audience,
            state: c.state,
            paused_reason: c.paused_reason,
            per_second: c.per_second,
            send_at: c.send_at,
            created_by: c.created_by,
            created_at: c.created_at,
            started_at: c.started_at,
            finished_at: c.finished_at,
            counts: c.counts,
        }
    }
}

/// One recipient's outcome, as the recipients table shows it.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct RecipientView {
    /// Their WhatsApp id.
    pub customer_id: String,
    /// Their name as the desk gave it.
    pub name: Option<String>,
    /// Where they are.
    pub status: RecipientStatus,
    /// Why they were skipped.
    pub skip_reason: Option<SkipReason>,
    /// Meta's code and words, when it failed.
    pub error: Option<String>,
    /// When the status last changed (UTC ms).
    #[specta(type = specta_typescript::Number)]
    pub updated_at: i64,
}

impl From<CampaignRecipient> for RecipientView {
    fn from(r: CampaignRecipient) -> Self {
        Self {
            customer_id: r.customer_id,
            name: r.name,
            status: r.status,
            skip_reason: r.skip_reason,
            error: r.error,
            updated_at: r.updated_at,
        }
    }
}

/// A page of recipients.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct RecipientsPage {
    /// This page, in the order they were added.
    pub recipients: Vec<RecipientView>,
    /// The cursor of the next page; `None` at the end.
    pub next: Option<String>,
}

impl From<RecipientPage> for RecipientsPage {
    fn from(page: RecipientPage) -> Self {
        Self {
            recipients: page.recipients.into_iter().map(Into::into).collect(),
            next: page.next,
        }
    }
}

/// A campaign a customer received, as the contact panel lists it.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ReceivedView {
    /// The campaign's id.
    pub campaign_id: String,
    /// Its name.
    pub name: String,
    /// The template sent.
    pub template_name: String,
    /// What happened to this customer's message.
    pub status: RecipientStatus,
    /// When its status last changed (UTC ms).
    #[specta(type = specta_typescript::Number)]
    pub updated_at: i64,
}

impl From<ReceivedCampaign> for ReceivedView {
    fn from(r: ReceivedCampaign) -> Self {
        Self {
            campaign_id: r.campaign_id,
            name: r.name,
            template_name: r.template_name,
            status: r.status,
            updated_at: r.updated_at,
        }
    }
}

/// The workspace's WhatsApp numbers, labels, attribute names and time zone, and whether this
/// member may manage campaigns.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn broadcast_options(
    state: State<'_, AppState>,
) -> Result<BroadcastOptions, CommandError> {
    let desk = state.running_desk().await?;
    let (relay, token) = desk.relay_access();
    Ok(broadcasts::options(desk.cache(), relay, token, desk.member(), &desk_time_zone()).await?)
}

/// The approved templates WhatsApp number `channel_id` may send; with `refresh`, read from Meta
/// again first (admins).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(channel_id = %channel_id, refresh = refresh), err(Display, level = "warn"))]
pub async fn broadcast_templates(
    state: State<'_, AppState>,
    channel_id: String,
    refresh: bool,
) -> Result<Vec<BroadcastTemplate>, CommandError> {
    let desk = state.running_desk().await?;
    let (relay, token) = desk.relay_access();
    let cache = desk.cache();
    Ok(broadcasts::approved_templates(cache, relay, token, &channel_id, refresh).await?)
}

/// How many customers `filter` chooses for a marketing (or other) template, the first of them
/// and those left out by reason; days in `time_zone`. Counted on this desk's cache only.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(channel_id = %filter.channel_id), err(Display, level = "warn"))]
pub async fn broadcast_audience(
    state: State<'_, AppState>,
    filter: AudienceFilter,
    marketing: bool,
    time_zone: String,
) -> Result<Audience, CommandError> {
    let cache = state.cache().await?;
    Ok(audience::evaluate(&cache, &filter, marketing, &time_zone, now_ms()).await?)
}

/// Creates campaign `draft` (admins): the eligible recipients handed to the relay, started now
/// or at its time in the workspace's time zone.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(template = %draft.template_name), err(Display, level = "warn"))]
pub async fn create_broadcast(
    state: State<'_, AppState>,
    draft: BroadcastDraft,
) -> Result<CampaignView, CommandError> {
    let desk = state.running_desk().await?;
    let (relay, token) = desk.relay_access();
    let zone = desk_time_zone();
    let created = broadcasts::create(
        desk.cache(),
        relay,
        token,
        desk.member(),
        &draft,
        &zone,
        now_ms(),
    );
    Ok(created.await?.into())
}

/// The workspace's campaigns, newest first.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn broadcasts(state: State<'_, AppState>) -> Result<Vec<CampaignView>, CommandError> {
    let list = state
        .with_relay(async |relay, token| relay.campaigns(token).await)
        .await?;
    Ok(list.into_iter().map(Into::into).collect())
}

/// One campaign with its counts.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(id = %id), err(Display, level = "warn"))]
pub async fn broadcast(
    state: State<'_, AppState>,
    id: String,
) -> Result<CampaignView, CommandError> {
    let campaign = state
        .with_relay(async |relay, token| relay.campaign(token, &id).await)
        .await?;
    Ok(campaign.into())
}

/// A page of a campaign's recipients with their outcomes, after cursor `after`.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(id = %id), err(Display, level = "warn"))]
pub async fn broadcast_recipients(
    state: State<'_, AppState>,
    id: String,
    after: Option<String>,
) -> Result<RecipientsPage, CommandError> {
    let page = state
        .with_relay(async |relay, token| {
            relay
                .campaign_recipients(token, &id, after.as_deref())
                .await
        })
        .await?;
    Ok(page.into())
}

/// Pauses, resumes or cancels a campaign (admins).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(id = %id, action = ?action), err(Display, level = "warn"))]
pub async fn steer_broadcast(
    state: State<'_, AppState>,
    id: String,
    action: CampaignAction,
) -> Result<CampaignView, CommandError> {
    let desk = state.running_desk().await?;
    let (relay, token) = desk.relay_access();
    Ok(broadcasts::steer(relay, token, desk.member(), &id, action)
        .await?
        .into())
}

/// Saves every recipient of a campaign with their outcome as CSV in the Downloads folder, named
/// after `name`; where it went.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(id = %id), err(Display, level = "warn"))]
pub async fn save_broadcast_csv(
    state: State<'_, AppState>,
    id: String,
    name: String,
) -> Result<String, CommandError> {
    let csv = state
        .with_relay(async |relay, token| broadcasts::recipients_csv(relay, token, &id).await)
        .await?;
    save_csv(&state, &format!("campaign {name}"), &csv)
}

/// The campaigns the customer of a conversation received on its WhatsApp number, newest first.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(conversation_id = conversation_id), err(Display, level = "warn"))]
pub async fn campaigns_received(
    state: State<'_, AppState>,
    conversation_id: u32,
) -> Result<Vec<ReceivedView>, CommandError> {
    let desk = state.running_desk().await?;
    let (relay, token) = desk.relay_access();
    let received =
        broadcasts::received_in_conversation(desk.cache(), relay, token, conversation_id.into());
    Ok(received.await?.into_iter().map(Into::into).collect())
}
