//! The Broadcasts page (issue 24, ADR 0021): what a campaign can be made of, its audience
//! counted on this desk's cache, creating it (admins), the campaigns with their progress and
//! recipients as the relay reports them, pausing, resuming and cancelling (admins), the
//! recipients saved as CSV, and the campaigns a customer received (the contact panel).

use tauri::State;
use zentro_core::audience::{self, Audience, AudienceFilter};
use zentro_core::broadcasts::{
    self, BroadcastDraft, BroadcastOptions, BroadcastTemplate, CampaignAction,
};
use zentro_events::campaigns::{Campaign, ReceivedCampaign, RecipientPage};
use zentro_events::clock::now_ms;

use super::reports::{desk_time_zone, save_csv};
use crate::{AppState, CommandError};

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
) -> Result<Campaign, CommandError> {
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
    Ok(created.await?)
}

/// The workspace's campaigns, newest first.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, err(Display, level = "warn"))]
pub async fn broadcasts(state: State<'_, AppState>) -> Result<Vec<Campaign>, CommandError> {
    let list = state
        .with_relay(async |relay, token| relay.campaigns(token).await)
        .await?;
    Ok(list)
}

/// One campaign with its counts.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(id = %id), err(Display, level = "warn"))]
pub async fn broadcast(state: State<'_, AppState>, id: String) -> Result<Campaign, CommandError> {
    let campaign = state
        .with_relay(async |relay, token| relay.campaign(token, &id).await)
        .await?;
    Ok(campaign)
}

/// A page of a campaign's recipients with their outcomes, after cursor `after`.
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(id = %id), err(Display, level = "warn"))]
pub async fn broadcast_recipients(
    state: State<'_, AppState>,
    id: String,
    after: Option<String>,
) -> Result<RecipientPage, CommandError> {
    let page = state
        .with_relay(async |relay, token| {
            relay
                .campaign_recipients(token, &id, after.as_deref())
                .await
        })
        .await?;
    Ok(page)
}

/// Pauses, resumes or cancels a campaign (admins).
#[tauri::command]
#[specta::specta]
#[tracing::instrument(skip_all, fields(id = %id, action = ?action), err(Display, level = "warn"))]
pub async fn steer_broadcast(
    state: State<'_, AppState>,
    id: String,
    action: CampaignAction,
) -> Result<Campaign, CommandError> {
    let desk = state.running_desk().await?;
    let (relay, token) = desk.relay_access();
    Ok(broadcasts::steer(relay, token, desk.member(), &id, action).await?)
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
) -> Result<Vec<ReceivedCampaign>, CommandError> {
    let desk = state.running_desk().await?;
    let (relay, token) = desk.relay_access();
    let received =
        broadcasts::received_in_conversation(desk.cache(), relay, token, conversation_id.into());
    Ok(received.await?)
}
