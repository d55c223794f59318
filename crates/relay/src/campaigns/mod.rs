//! Broadcast campaigns sent by the relay (issue 24, ADR 0021): a WhatsApp template to the
//! recipients a desk chose, paced, exactly once each, while every desk may be closed.
//!
//! One instance at a time (the holder of [`CAMPAIGN_LEASE`]) runs the campaign worker; every
//! `config.automation_interval`, or sooner when a campaign's next slot comes:
//! - it follows the logs of the workspaces with campaigns ([`outcomes`]): Meta's status webhooks
//!   move recipients to sent, delivered, read or failed (they carry the recipient back in
//!   `biz_opaque_callback_data`), a customer's message after their campaign message marks them
//!   `replied`;
//! - it starts scheduled campaigns when their time comes, resumes those the messaging limit
//!   paused once the window frees, and sends the next slot of each running one ([`send`]): each
//!   recipient checked at their turn (consent, restriction, erasure), marked `sending` in a commit
//!   before the request leaves, `sent` with its `message.sent` event in one commit after Meta's
//!   answer; Meta's "slow down" codes wait, its "stop" codes pause the whole campaign with Meta's
//!   words.
//!
//! Each state change is a relay-only `workspace.campaign` event ([`announce`]) and an audit row.

pub mod outcomes;
pub mod send;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;
use zentro_events::campaigns::{
    Campaign, CampaignCounts, CampaignState, RecipientStatus, SkipReason,
};
use zentro_events::clock::random_id;
use zentro_events::{RELAY_AUTHOR, WORKSPACE_CAMPAIGN};

use crate::http::AppState;
use crate::store::{CampaignRow, NewAuditEntry, StoreError};

/// Name of the campaign worker's lease (see [`crate::Store::take_lease`]).
pub const CAMPAIGN_LEASE: &str = "campaigns";

/// Messages per second a campaign sends when its creator does not say.
pub const DEFAULT_PER_SECOND: u32 = 20;

/// The most messages per second a campaign may ask for (Meta's highest throughput per number).
pub const MAX_PER_SECOND: u32 = 1_000;

/// Why the campaign worker or a campaign route could not go on.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log's writer failed or is stopping.
    #[error(transparent)]
    Sequencer(#[from] crate::sequencer::SequencerError),
}

/// What the worker keeps between rounds, on the lease holder.
#[derive(Default)]
pub struct Worker {
    /// When each running campaign may send its next slot.
    next_slot: HashMap<String, Instant>,
    /// Each number's messaging limit as Meta said (`None`: unlimited), and when it was read.
    limits: HashMap<String, (Option<u64>, Instant)>,
    /// Where the worker is in each followed log.
    cursors: outcomes::Cursors,
}

/// Runs the campaign worker until the relay stops.
pub async fn run_periodically(state: AppState) {
    let every = state.config.automation_interval;
    let lease = lease_length(&state);
    let mut worker = Worker::default();
    let mut pause = every;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = state.shutdown.cancelled() => {
                let _ = state.store.release_lease(CAMPAIGN_LEASE, &state.instance_id).await;
                return;
            }
        }
        pause = every;
        match state
            .store
            .take_lease(CAMPAIGN_LEASE, &state.instance_id, lease)
            .await
        {
            Ok(true) => {
                if let Some(next) = run_once(&state, &mut worker).await {
                    pause = next.saturating_duration_since(Instant::now()).min(every);
                }
            }
            Ok(false) => worker = Worker::default(),
            Err(error) => tracing::error!(%error, "could not take the campaign lease"),
        }
    }
}

/// How long the campaign worker's lease lasts: three rounds, at least 10 s.
fn lease_length(state: &AppState) -> Duration {
    (3 * state.config.automation_interval).max(Duration::from_secs(10))
}

/// One round: outcomes read from the logs, then every live campaign driven. When the next slot
/// of a running campaign comes, if one does.
pub async fn run_once(state: &AppState, worker: &mut Worker) -> Option<Instant> {
    if let Err(error) = outcomes::follow_all(state, &mut worker.cursors).await {
        tracing::error!(%error, "the campaign worker could not read the logs");
    }
    let campaigns = match state.store.live_campaigns().await {
        Ok(campaigns) => campaigns,
        Err(error) => {
            tracing::error!(%error, "could not list the live campaigns");
            return None;
        }
    };
    let mut next = None::<Instant>;
    for campaign in campaigns {
        match drive(state, worker, campaign).await {
            Ok(Some(at)) => next = Some(next.map_or(at, |n| n.min(at))),
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "a campaign could not be driven"),
        }
    }
    next
}

/// Moves one campaign on: started when due, resumed when the messaging limit's window freed,
/// its next slot sent when it is running and the slot came.
async fn drive(
    state: &AppState,
    worker: &mut Worker,
    mut campaign: CampaignRow,
) -> Result<Option<Instant>, CampaignError> {
    let now = zentro_events::clock::now_ms();
    match campaign.state.as_str() {
        "scheduled" if campaign.send_at.is_none_or(|at| at <= now) => {
            campaign.state = "running".into();
            campaign.started_at.get_or_insert(now);
            if change(state, &mut campaign, "scheduled", "started", None)
                .await?
                .is_none()
            {
                return Ok(None);
            }
        }
        "paused" if campaign.paused_until.is_some_and(|until| until <= now) => {
            campaign.state = "running".into();
            campaign.paused_reason = None;
            campaign.paused_until = None;
            if change(state, &mut campaign, "paused", "resumed", None)
                .await?
                .is_none()
            {
                return Ok(None);
            }
        }
        _ => {}
    }
    if campaign.state != "running" {
        worker.next_slot.remove(&campaign.id);
        return Ok(None);
    }
    let slot = worker
        .next_slot
        .get(&campaign.id)
        .copied()
        .unwrap_or_else(Instant::now);
    if slot > Instant::now() {
        return Ok(Some(slot));
    }
    // The round's writes may have waited behind webhooks (ADR 0013 §9): the lease is renewed
    // before the slot sends, so no other instance can take it while the slot's `sending` marks
    // (prompt) commit.
    if !state
        .store
        .take_lease(CAMPAIGN_LEASE, &state.instance_id, lease_length(state))
        .await?
    {
        return Ok(None);
    }
    let sent = send::slot(state, worker, &mut campaign).await?;
    if campaign.state != "running" {
        worker.next_slot.remove(&campaign.id);
        return Ok(None);
    }
    // At most `per_second` messages in any second: the next slot comes when this one's share of
    // the second has passed.
    let per_second = campaign.per_second.max(1) as f64;
    let next = Instant::now().max(slot) + Duration::from_secs_f64(sent.max(1) as f64 / per_second);
    let next = if sent == 0 {
        // Nothing due yet (retries waiting, or messages waiting for Meta's word): look again soon.
        Instant::now() + state.config.automation_interval
    } else {
        next
    };
    worker.next_slot.insert(campaign.id.clone(), next);
    Ok(Some(next))
}

/// The campaign as desks see it, with its recipients counted.
pub async fn view(state: &AppState, row: &CampaignRow) -> Result<Campaign, StoreError> {
    let counts = state.store.campaign_counts(&row.id).await?;
    Ok(view_with(row, &counts))
}

/// The campaign as desks see it, given its counts.
pub fn view_with(row: &CampaignRow, counts: &[(String, i64)]) -> Campaign {
    let mut c = CampaignCounts::default();
    for (status, n) in counts {
        let n = *n as u32;
        match status.as_str() {
            "queued" => c.queued = n,
            "sending" => c.sending = n,
            "sent" => c.sent = n,
            "delivered" => c.delivered = n,
            "read" => c.read = n,
            "replied" => c.replied = n,
            "failed" => c.failed = n,
            "skipped" => c.skipped = n,
            "cancelled" => c.cancelled = n,
            _ => {}
        }
    }
    Campaign {
        id: row.id.clone(),
        name: row.name.clone(),
        channel_id: row.channel_id.clone(),
        template_name: row.template_name.clone(),
        template_language: row.template_language.clone(),
        category: row.category.clone(),
        audience: row.audience.clone(),
        state: state_of(&row.state),
        paused_reason: row.paused_reason.clone(),
        per_second: row.per_second as u32,
        send_at: row.send_at,
        created_by: row.created_by.clone(),
        created_at: row.created_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        counts: c,
    }
}

/// A stored state as the wire names it.
pub fn state_of(name: &str) -> CampaignState {
    match name {
        "scheduled" => CampaignState::Scheduled,
        "running" => CampaignState::Running,
        "paused" => CampaignState::Paused,
        "cancelled" => CampaignState::Cancelled,
        "completed" => CampaignState::Completed,
        _ => CampaignState::Draft,
    }
}

/// A stored recipient status as the wire names it.
pub fn status_of(name: &str) -> RecipientStatus {
    match name {
        "sending" => RecipientStatus::Sending,
        "sent" => RecipientStatus::Sent,
        "delivered" => RecipientStatus::Delivered,
        "read" => RecipientStatus::Read,
        "replied" => RecipientStatus::Replied,
        "failed" => RecipientStatus::Failed,
        "skipped" => RecipientStatus::Skipped,
        "cancelled" => RecipientStatus::Cancelled,
        _ => RecipientStatus::Queued,
    }
}

/// A stored skip reason as the wire names it.
pub fn skip_reason_of(name: &str) -> Option<SkipReason> {
    Some(match name {
        "no_consent" => SkipReason::NoConsent,
        "opted_out" => SkipReason::OptedOut,
        "restricted" => SkipReason::Restricted,
        "erased" => SkipReason::Erased,
        "duplicate" => SkipReason::Duplicate,
        _ => return None,
    })
}

/// Who changed a campaign, for its audit row: a member's device, or the relay itself.
pub struct Actor<'a> {
    /// The member, when one did.
    pub member_id: Option<&'a str>,
    /// Their email, or `relay`.
    pub email: &'a str,
    /// Their device's name, or `relay`.
    pub device: &'a str,
}

/// The relay acting on its own (a campaign started on time, paused by Meta, completed).
const RELAY_ACTOR: Actor<'static> = Actor {
    member_id: None,
    email: "relay",
    device: "relay",
};

/// Saves a campaign's new state if it is still in state `from`, tells every desk (a
/// `workspace.campaign` event carrying the campaign, never its recipients) and audits it (P2,
/// P8). `change` names what happened (`created`, `scheduled`, `started`, `paused`, `resumed`,
/// `cancelled`, `completed`). `None` when someone else changed it first (nothing is done).
pub async fn change(
    state: &AppState,
    campaign: &mut CampaignRow,
    from: &str,
    change: &str,
    actor: Option<&Actor<'_>>,
) -> Result<Option<Campaign>, CampaignError> {
    if !state.store.update_campaign(campaign, from).await? {
        return Ok(None);
    }
    let view = view(state, campaign).await?;
    announce(state, &campaign.workspace_id, &view, change, actor).await?;
    Ok(Some(view))
}

/// The `workspace.campaign` event of a change and its audit row.
pub async fn announce(
    state: &AppState,
    workspace_id: &str,
    view: &Campaign,
    change: &str,
    actor: Option<&Actor<'_>>,
) -> Result<(), CampaignError> {
    let payload = json!({ "change": change, "campaign": view });
    let key = format!("{WORKSPACE_CAMPAIGN}:{}:{change}:{}", view.id, random_id());
    state
        .sequencer
        .publish(
            workspace_id,
            RELAY_AUTHOR,
            WORKSPACE_CAMPAIGN,
            payload,
            &key,
        )
        .await?;
    let actor = actor.unwrap_or(&RELAY_ACTOR);
    let action = format!("campaign.{change}");
    state
        .store
        .record(NewAuditEntry {
            workspace_id,
            actor_id: actor.member_id,
            actor_email: Some(actor.email),
            device: Some(actor.device),
            action: &action,
            subject: Some(&view.id),
            details: json!({
                "name": view.name,
                "channel_id": view.channel_id,
                "template": view.template_name,
                "state": view.state,
                "paused_reason": view.paused_reason,
                "counts": view.counts,
            }),
        })
        .await?;
    Ok(())
}
