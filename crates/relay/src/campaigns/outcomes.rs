//! Campaign outcomes from the workspace's log (ADR 0021 §3, §5): the campaign worker follows
//! the log of every workspace with campaigns (its own cursor, `campaign_progress`, saved in the
//! commit that applies what it read):
//! - a WhatsApp status naming a campaign's recipient (`biz_opaque_callback_data` =
//!   `campaign:<id>:<customer>`) moves it forward: sent, delivered, read, or failed with Meta's
//!   code and words. One naming a recipient still `sending` (the relay stopped before Meta's
//!   answer, or the answer never came), or given up on as unknown since, settles it as sent,
//!   with its `message.sent` event: Meta had it, so it is never sent again;
//! - any status of a number is evidence its webhooks keep flowing (`statuses_seen_at`), which
//!   is what lets a recipient no status named be queued again after the settle time;
//! - a customer's message marks their campaign messages sent before it `replied`.

use std::collections::HashMap;

use zentro_events::campaigns::parse_callback_data;
use zentro_events::clock::now_ms;
use zentro_meta::webhook::{DeliveryState, Direction, Event, Platform, Route};

use super::CampaignError;
use crate::http::AppState;
use crate::routing::WEBHOOK_EVENT_KIND;
use crate::sequencer::{Lane, in_commit};
use crate::store::{self, CampaignRow, StoredEvent};

/// Most events of one workspace read at once.
const BATCH: i64 = 500;

/// Most batches of one workspace in one round.
const BATCHES_PER_ROUND: usize = 8;

/// Where the worker is in each followed log, as this instance read them.
#[derive(Default)]
pub struct Cursors {
    read: HashMap<String, i64>,
}

/// What one event of the log means to campaigns.
enum Outcome {
    /// A status naming a recipient.
    Status {
        campaign: String,
        customer: String,
        state: DeliveryState,
        message_id: String,
        error: Option<String>,
        /// Its text, for the `message.sent` event when the status settles a `sending` one.
        body: String,
    },
    /// A status of the number came in at the log's time `at`.
    Seen { channel: String, at: i64 },
    /// The customer wrote at `at`.
    Reply {
        channel: String,
        customer: String,
        at: i64,
    },
}

/// Reads what every followed log gained and applies it.
pub async fn follow_all(state: &AppState, cursors: &mut Cursors) -> Result<(), CampaignError> {
    for workspace in state.store.campaign_workspaces().await? {
        if let Err(error) = follow(state, cursors, &workspace).await {
            cursors.read.remove(&workspace);
            tracing::error!(%error, workspace = %workspace, "the campaign worker could not read a log");
        }
    }
    Ok(())
}

/// Reads a workspace's new events (at most [`BATCHES_PER_ROUND`] batches) and applies them.
async fn follow(
    state: &AppState,
    cursors: &mut Cursors,
    workspace: &str,
) -> Result<(), CampaignError> {
    let mut cursor = match cursors.read.get(workspace) {
        Some(cursor) => *cursor,
        None => state.store.campaign_cursor(workspace).await?.unwrap_or(0),
    };
    let mut campaigns: HashMap<String, Option<CampaignRow>> = HashMap::new();
    for _ in 0..BATCHES_PER_ROUND {
        let events = state.store.events_after(workspace, cursor, BATCH).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            break;
        };
        let full = events.len() as i64 >= BATCH;
        let mut outcomes = Vec::new();
        for event in &events {
            read(state, workspace, &mut campaigns, event, &mut outcomes).await?;
        }
        apply(state, workspace, outcomes, last).await?;
        cursor = last;
        cursors.read.insert(workspace.to_string(), cursor);
        if !full {
            break;
        }
    }
    Ok(())
}

/// What one event means to campaigns.
async fn read(
    state: &AppState,
    workspace: &str,
    campaigns: &mut HashMap<String, Option<CampaignRow>>,
    event: &StoredEvent,
    outcomes: &mut Vec<Outcome>,
) -> Result<(), CampaignError> {
    if event.kind != WEBHOOK_EVENT_KIND {
        return Ok(());
    }
    let items = zentro_meta::webhook::parse_value(&event.payload).unwrap_or_default();
    for item in items {
        let Route::WhatsAppPhoneNumber(channel) = &item.route else {
            continue;
        };
        match &item.event {
            Event::Status(status) => {
                outcomes.push(Outcome::Seen {
                    channel: channel.clone(),
                    at: event.at,
                });
                let Some((campaign, customer)) = status
                    .callback_data
                    .as_deref()
                    .and_then(parse_callback_data)
                else {
                    continue;
                };
                if !campaigns.contains_key(campaign) {
                    let row = state.store.campaign(workspace, campaign).await?;
                    campaigns.insert(campaign.to_string(), row);
                }
                let Some(Some(row)) = campaigns.get(campaign) else {
                    // Another workspace's campaign cannot be named from this log.
                    continue;
                };
                let error = status.errors.first().map(|e| {
                    format!(
                        "{}: {}",
                        e.code,
                        e.details
                            .clone()
                            .or_else(|| e.message.clone())
                            .unwrap_or_default()
                    )
                });
                outcomes.push(Outcome::Status {
                    campaign: campaign.to_string(),
                    customer: customer.to_string(),
                    state: status.state.clone(),
                    message_id: status.message_id.clone(),
                    error,
                    body: body_of(state, row, customer).await?,
                });
            }
            Event::Message(message)
                if message.direction == Direction::Inbound
                    && message.platform == Platform::WhatsApp =>
            {
                outcomes.push(Outcome::Reply {
                    channel: channel.clone(),
                    customer: message.customer.id.clone(),
                    at: message.sent_at.timestamp_millis().max(event.at),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// The text desks show for a campaign's message to `customer`, for the `message.sent` event of
/// one a status settles: the template's body filled as it was sent, when the recipient still
/// waits for it (otherwise the event exists already and this is not used).
async fn body_of(
    state: &AppState,
    campaign: &CampaignRow,
    customer: &str,
) -> Result<String, CampaignError> {
    let fallback = format!("[template {}]", campaign.template_name);
    let Some(recipient) = state
        .store
        .campaign_recipient(&campaign.id, customer)
        .await?
    else {
        return Ok(fallback);
    };
    if !super::send::awaits_metas_word(&recipient) {
        return Ok(fallback);
    }
    let template = state
        .store
        .templates(&campaign.workspace_id)
        .await?
        .into_iter()
        .find(|t| t.name == campaign.template_name && t.language == campaign.template_language);
    Ok(super::send::template_send(campaign, template.as_ref(), &recipient).1)
}

/// Position in the forward-only order of a recipient's statuses.
fn rank(status: &str) -> u8 {
    match status {
        "queued" => 0,
        "sending" => 1,
        "sent" => 2,
        "delivered" => 3,
        "read" => 4,
        "replied" => 5,
        // failed, skipped, cancelled: final.
        _ => u8::MAX,
    }
}

/// In a writer's commit (the background lane): the outcomes applied and the cursor moved to
/// `last`.
async fn apply(
    state: &AppState,
    workspace: &str,
    outcomes: Vec<Outcome>,
    last: i64,
) -> Result<(), CampaignError> {
    let ws = workspace.to_string();
    let writes = in_commit(move |tx| {
        Box::pin(async move {
            let now = now_ms();
            let mut appended = Vec::new();
            let mut seen: HashMap<String, i64> = HashMap::new();
            for outcome in outcomes {
                match outcome {
                    Outcome::Seen { channel, at } => {
                        let kept = seen.entry(channel).or_insert(at);
                        *kept = (*kept).max(at);
                    }
                    Outcome::Reply {
                        channel,
                        customer,
                        at,
                    } => {
                        store::mark_replied_in(tx, &ws, &channel, &customer, at, now).await?;
                    }
                    Outcome::Status {
                        campaign,
                        customer,
                        state,
                        message_id,
                        error,
                        body,
                    } => {
                        let status = Named {
                            campaign,
                            customer,
                            state,
                            message_id,
                            error,
                            body,
                        };
                        appended.extend(apply_status(tx, &ws, status, now).await?);
                    }
                }
            }
            for (channel, at) in seen {
                store::see_statuses_in(tx, &ws, &channel, at).await?;
            }
            store::save_campaign_cursor_in(tx, &ws, last).await?;
            Ok(appended)
        })
    });
    state
        .sequencer
        .write_in_commit(Lane::Background, vec![workspace.to_string()], writes)
        .await?;
    Ok(())
}

/// A status naming a recipient, as read from the log.
struct Named {
    campaign: String,
    customer: String,
    state: DeliveryState,
    message_id: String,
    error: Option<String>,
    body: String,
}

/// Inside `tx`: a status naming a recipient moves it forward (only ever forward; `failed` from
/// anything short of `replied`); one naming a recipient still `queued` or `sending`, or given up
/// on as unknown, first settles it as sent, with its `message.sent` event. The events appended.
async fn apply_status(
    tx: &mut store::WriteTx,
    ws: &str,
    status: Named,
    now: i64,
) -> Result<Vec<(String, crate::automation::feed::FedEvent)>, store::StoreError> {
    let mut appended = Vec::new();
    let Named {
        campaign,
        customer,
        state,
        message_id,
        error,
        body,
    } = status;
    let Some(row) = store::recipient_in(tx, &campaign, &customer).await? else {
        return Ok(appended);
    };
    let channel = channel_of(tx, ws, &campaign).await?;
    let target = match state {
        DeliveryState::Failed => "failed",
        DeliveryState::Delivered => "delivered",
        DeliveryState::Read | DeliveryState::Played => "read",
        _ => "sent",
    };
    if target != "failed" && super::send::awaits_metas_word(&row) {
        // Meta had it: settled as sent, never sent again.
        let fed = super::send::sent_in(tx, &campaign, ws, &channel, &row, &message_id, &body, now)
            .await?;
        appended.extend(fed);
    }
    let Some(mut row) = store::recipient_in(tx, &campaign, &customer).await? else {
        return Ok(appended);
    };
    let forward = if target == "failed" {
        rank(&row.status) < rank("replied") || super::send::awaits_metas_word(&row)
    } else {
        rank(target) > rank(&row.status) && rank(&row.status) != u8::MAX
    };
    if forward {
        row.status = target.into();
        if target == "failed" {
            row.error = error;
        }
        row.message_id.get_or_insert(message_id);
        row.updated_at = now;
        store::update_recipient_in(tx, &row).await?;
    }
    Ok(appended)
}

/// The number a campaign sends from, inside `tx`.
async fn channel_of(
    tx: &mut store::WriteTx,
    workspace: &str,
    campaign: &str,
) -> Result<String, store::StoreError> {
    Ok(
        crate::sql!(tx.conn(), Campaigns::campaign(workspace, campaign))?
            .map(|c| c.channel_id)
            .unwrap_or_default(),
    )
}
