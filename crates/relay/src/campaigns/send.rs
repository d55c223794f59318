//! One slot of a running campaign (ADR 0021 §2–§4): at most `per_second` recipients, and no
//! more than the number's messaging limit leaves room for, each checked at their turn (consent,
//! restriction, erasure), marked `sending` in one commit before the requests leave, sent to Meta
//! concurrently, and what Meta answered recorded in one commit (`sent` with its `message.sent`
//! event, authored `campaign:<id>`, or the failure). Meta's "slow down" codes queue the recipient
//! again for as long as Meta says; a temporary failure (5xx, network) queues it again after a
//! doubling wait, [`MOST_ATTEMPTS`] times at most, then fails it with Meta's last code and words;
//! its "stop" codes pause the whole campaign with Meta's code and words. A recipient left `sending` (no answer, or the relay stopped) is never sent blindly:
//! Meta's status webhooks settle it ([`super::outcomes`]), or, once the number's webhooks kept
//! flowing for `campaign_settle` and none named it, it is queued again; nothing heard of it for
//! `campaign_unknown_after`, it is `failed` with an unknown outcome, never sent again.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use tokio::time::Instant;
use zentro_events::campaigns::{callback_data, campaign_author};
use zentro_events::clock::now_ms;
use zentro_events::templates::{ContactFacts, TemplateVariable, fill};
use zentro_events::{ContactRef, MESSAGE_SENT, MessageSent, erasure_hash};
use zentro_meta::AccessToken;
use zentro_meta::graph::{
    Accepted, GraphError, Outgoing, Recipient, TemplateComponent, TemplateComponentKind,
    TemplateParameter, WhatsAppSend,
};

use super::{CampaignError, Worker, change};
use crate::automation::feed::{self, FedEvent};
use crate::http::AppState;
use crate::sequencer::{Lane, in_commit};
use crate::store::{
    self, CampaignRow, Channel, ChannelKind, NewAuditEntry, RecipientRow, StoreError, TemplateRow,
};

/// Requests to Meta in flight at once within a slot.
const CONCURRENT_SENDS: usize = 32;

/// Most recipients of one slot (a faster pace takes several slots a second).
const MOST_PER_SLOT: i64 = 500;

/// How long a number's messaging limit, as Meta said it, is believed.
const LIMIT_FRESH: Duration = Duration::from_secs(60);

/// Meta's temporary failures (5xx, network) a recipient gets before it is `failed` with the last
/// one's code and words. The waits between them double from `campaign_retry_first` up to
/// `campaign_retry_most`: by default 5 s, 10 s, … 640 s, 900 s, about 36 minutes in all.
pub const MOST_ATTEMPTS: i64 = 10;

/// The moving window of the messaging limit.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What the slot knows of the campaign's channel and template.
struct Setting {
    token: AccessToken,
    template: Option<TemplateRow>,
}

/// One recipient to send to, with its text as desks will show it.
struct Planned {
    recipient: RecipientRow,
    send: WhatsAppSend,
    body: String,
}

/// Sends a slot of the campaign; how many requests went to Meta. The campaign may come back
/// paused (Meta's code, the messaging limit, the template) or completed.
pub async fn slot(
    state: &AppState,
    worker: &mut Worker,
    campaign: &mut CampaignRow,
) -> Result<usize, CampaignError> {
    let now = now_ms();
    requeue_unsettled(state, campaign).await?;
    let setting = match setting(state, campaign).await? {
        Ok(setting) => setting,
        Err(reason) => {
            pause(state, campaign, reason, None).await?;
            return Ok(0);
        }
    };
    let room = match room_in_limit(state, worker, campaign, &setting.token, now).await? {
        Ok(room) => room,
        Err((reason, until)) => {
            pause(state, campaign, reason, Some(until)).await?;
            return Ok(0);
        }
    };
    let size = campaign.per_second.clamp(1, MOST_PER_SLOT).min(room);
    let due = state
        .store
        .campaign_recipients_in(&campaign.id, "queued", now, size)
        .await?;
    if due.is_empty() {
        complete_if_done(state, campaign).await?;
        return Ok(0);
    }
    let (planned, skipped) = check(state, campaign, &setting, due).await?;
    mark_sending(state, &planned, &skipped, now).await?;
    let answers = send_all(state, &campaign.channel_id, &setting.token, &planned).await;
    let tried = answers.len();
    let stop = record(state, campaign, answers).await?;
    if let Some(reason) = stop {
        pause(state, campaign, reason, None).await?;
    }
    Ok(tried)
}

/// What a recipient given up on says (its `error`; its status is `failed`).
pub const OUTCOME_UNKNOWN: &str = "unknown";

/// Whether Meta's word on `recipient` is still awaited: not yet sent (`queued`), its request
/// left without an answer (`sending`), or given up on as unknown, which a late status from Meta
/// still settles as sent.
pub(crate) fn awaits_metas_word(recipient: &RecipientRow) -> bool {
    match recipient.status.as_str() {
        "queued" | "sending" => true,
        "failed" => recipient
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with(&format!("{OUTCOME_UNKNOWN}: "))),
        _ => false,
    }
}

/// Recipients left `sending` (the relay stopped, or Meta never answered) that Meta's status
/// webhooks did not settle. Those whose request never reached Meta, as far as anyone can tell (the
/// number's status webhooks kept flowing for the settle time since, and none named them), are
/// queued again. Those of whom nothing was heard for `campaign_unknown_after` since their request
/// left (the number sends no more webhooks) are given up on: `failed` with an unknown outcome,
/// never sent again (exactly once wins over at least once), so the campaign can complete.
async fn requeue_unsettled(state: &AppState, campaign: &CampaignRow) -> Result<(), CampaignError> {
    let settle = state.config.campaign_settle.as_millis() as i64;
    let give_up = state.config.campaign_unknown_after.as_millis() as i64;
    let now = now_ms();
    let waiting = state
        .store
        .campaign_recipients_in(&campaign.id, "sending", i64::MAX, MOST_PER_SLOT)
        .await?;
    let mut requeued = 0;
    let mut unknown = 0;
    let mut changed = Vec::new();
    for mut r in waiting {
        let Some(at) = r.sending_at else { continue };
        if at + settle <= campaign.statuses_seen_at {
            r.status = "queued".into();
            r.sending_at = None;
            r.next_attempt_at = 0;
            requeued += 1;
        } else if at + give_up <= now {
            r.status = "failed".into();
            r.error = Some(format!(
                "{OUTCOME_UNKNOWN}: the relay stopped while this message was being sent and no \
                 status from Meta named it within {} minutes; not sent again",
                give_up / 60_000
            ));
            unknown += 1;
        } else {
            continue;
        }
        r.updated_at = now;
        changed.push(r);
    }
    if changed.is_empty() {
        return Ok(());
    }
    if requeued > 0 {
        tracing::warn!(campaign = %campaign.id, recipients = requeued, "no status from Meta named these messages while its webhooks kept flowing: sent again");
    }
    if unknown > 0 {
        tracing::warn!(campaign = %campaign.id, recipients = unknown, "no status from Meta named these messages in time: their outcome is unknown, not sent again");
    }
    let writes = in_commit(move |tx| {
        Box::pin(async move {
            for r in &changed {
                store::update_recipient_in(tx, r).await?;
            }
            Ok(Vec::new())
        })
    });
    state
        .sequencer
        .write_in_commit(Lane::Background, Vec::new(), writes)
        .await
        .map_err(CampaignError::from)
}

/// The channel's token and the template as the relay keeps it; otherwise why the campaign
/// cannot go on (the reason it pauses with).
async fn setting(
    state: &AppState,
    campaign: &CampaignRow,
) -> Result<Result<Setting, String>, CampaignError> {
    let Some(channel) = state
        .store
        .channel_by_external_id(ChannelKind::Whatsapp, &campaign.channel_id)
        .await?
        .filter(|c| c.workspace_id == campaign.workspace_id)
    else {
        return Ok(Err(
            "the WhatsApp number is no longer connected to this workspace".into(),
        ));
    };
    let template = state
        .store
        .templates(&campaign.workspace_id)
        .await?
        .into_iter()
        .find(|t| {
            t.name == campaign.template_name
                && t.language == campaign.template_language
                && channel
                    .account_id
                    .as_deref()
                    .is_none_or(|a| a == t.account_id)
        });
    if let Some(t) = &template
        && matches!(t.status.as_str(), "PAUSED" | "DISABLED")
    {
        let why = t.reason.clone().unwrap_or_else(|| "no reason given".into());
        return Ok(Err(format!(
            "Meta {} the template {} ({}): {why}",
            t.status.to_lowercase(),
            t.name,
            t.language
        )));
    }
    if state.graph.is_none() {
        return Ok(Err(
            "the relay has no Meta app configured, so it cannot send".into(),
        ));
    }
    Ok(token_of(state, &channel)
        .await
        .map(|token| Setting { token, template }))
}

/// The channel's token, opened; otherwise why it cannot be.
async fn token_of(state: &AppState, channel: &Channel) -> Result<AccessToken, String> {
    let keys = state
        .config
        .token_keys
        .as_ref()
        .ok_or("the relay keeps no channel tokens (no token key is configured)")?;
    let sealed = state
        .store
        .channel_token(&channel.id)
        .await
        .map_err(|_| "the relay could not read the channel's token".to_string())?
        .ok_or("no token is stored for this number; an owner must connect it")?;
    keys.open(&channel.id, &sealed.sealed)
        .map(|t| AccessToken::new(t.as_str()))
        .map_err(|_| {
            "the relay cannot open this number's token (its key changed); reconnect it".into()
        })
}

/// How many more customers the number may reach now under its portfolio's messaging limit (as
/// Meta says it, read with the channel's token), counting the customers its campaigns reached
/// in the last 24 hours; when none, why and until when.
async fn room_in_limit(
    state: &AppState,
    worker: &mut Worker,
    campaign: &CampaignRow,
    token: &AccessToken,
    now: i64,
) -> Result<Result<i64, (String, i64)>, CampaignError> {
    let fresh = worker
        .limits
        .get(&campaign.channel_id)
        .filter(|(_, at)| at.elapsed() < LIMIT_FRESH)
        .map(|(limit, _)| *limit);
    let limit = match fresh {
        Some(limit) => limit,
        None => {
            let Some(graph) = state.graph.as_ref() else {
                return Ok(Ok(i64::MAX));
            };
            let limit = match graph.phone_number(&campaign.channel_id, token).await {
                Ok(number) => number.messaging_limit(),
                Err(error) => {
                    // Unknown: a new portfolio's limit, the smallest there is.
                    tracing::warn!(%error, "could not read the number's messaging limit");
                    Some(250)
                }
            };
            worker
                .limits
                .insert(campaign.channel_id.clone(), (limit, Instant::now()));
            limit
        }
    };
    let Some(limit) = limit else {
        return Ok(Ok(i64::MAX));
    };
    let (reached, first) = state
        .store
        .campaign_reach_since(&campaign.channel_id, now - DAY_MS)
        .await?;
    let room = limit as i64 - reached;
    if room > 0 {
        return Ok(Ok(room));
    }
    let until = first.unwrap_or(now) + DAY_MS;
    let at = utc_minute(until);
    Ok(Err((
        format!(
            "the number's messaging limit of {limit} customers in 24 hours is reached; it resumes by itself at {at}"
        ),
        until,
    )))
}

/// Checks each due recipient at their turn: erased, restricted (P14), opted out, or (a marketing
/// template) never opted in are skipped with the reason; the others get their send.
async fn check(
    state: &AppState,
    campaign: &CampaignRow,
    setting: &Setting,
    due: Vec<RecipientRow>,
) -> Result<(Vec<Planned>, Vec<RecipientRow>), CampaignError> {
    let workspace = &campaign.workspace_id;
    let restricted: HashSet<String> = state
        .store
        .restricted_customers(workspace)
        .await?
        .into_iter()
        .collect();
    let erasures = state.store.erasures(workspace).await?;
    let channel = format!("whatsapp:{}", campaign.channel_id);
    let marketing = campaign.category.eq_ignore_ascii_case("MARKETING");
    let (mut planned, mut skipped) = (Vec::new(), Vec::new());
    for mut recipient in due {
        let contact = ContactRef {
            channel_kind: "whatsapp".into(),
            channel_external_id: campaign.channel_id.clone(),
            customer_id: recipient.customer_id.clone(),
        };
        let erased = erasures
            .iter()
            .any(|e| erasure_hash(&e.salt, &channel, &recipient.customer_id) == e.hash);
        let consent = state.store.consent(workspace, &contact).await?;
        let reason = if erased {
            Some("erased")
        } else if restricted.contains(&recipient.customer_id) {
            Some("restricted")
        } else if consent.as_ref().is_some_and(|c| !c.opted_in) {
            Some("opted_out")
        } else if marketing && consent.is_none() {
            Some("no_consent")
        } else {
            None
        };
        if let Some(reason) = reason {
            recipient.status = "skipped".into();
            recipient.skip_reason = Some(reason.into());
            skipped.push(recipient);
            continue;
        }
        let (send, body) = template_send(campaign, setting.template.as_ref(), &recipient);
        planned.push(Planned {
            recipient,
            send,
            body,
        });
    }
    Ok((planned, skipped))
}

/// The template send to one recipient (its variables filled from what the desk knew of them,
/// with their fallbacks) and its text as desks show it.
pub(crate) fn template_send(
    campaign: &CampaignRow,
    template: Option<&TemplateRow>,
    recipient: &RecipientRow,
) -> (WhatsAppSend, String) {
    let phone = recipient
        .customer_id
        .chars()
        .all(|c| c.is_ascii_digit())
        .then(|| recipient.customer_id.clone());
    let facts = ContactFacts {
        name: recipient.name.clone(),
        phone: phone.clone(),
    };
    let variables: Vec<TemplateVariable> = template
        .and_then(|t| serde_json::from_str(&t.variables).ok())
        .unwrap_or_default();
    let values = fill(&variables, &facts);
    let body = template
        .map(crate::http::templates::template_body)
        .unwrap_or_else(|| format!("[template {}]", campaign.template_name));
    let text = values.iter().enumerate().fold(body, |text, (i, v)| {
        text.replace(&format!("{{{{{}}}}}", i + 1), v)
    });
    let components = if values.is_empty() {
        Vec::new()
    } else {
        vec![TemplateComponent {
            kind: TemplateComponentKind::Body,
            parameters: values.into_iter().map(TemplateParameter::text).collect(),
        }]
    };
    let to = match phone {
        Some(phone) => Recipient::Phone(phone),
        None => Recipient::UserId(recipient.customer_id.clone()),
    };
    let send = WhatsAppSend {
        to,
        message: Outgoing::Template {
            name: campaign.template_name.clone(),
            language: campaign.template_language.clone(),
            components,
        },
        reply_to: None,
        callback_data: callback_data(&campaign.id, &recipient.customer_id),
    };
    (send, text)
}

/// In one commit, the next (the prompt lane, so consent, a restriction and a cancellation read
/// just before still hold when it commits): the recipients about to be sent become `sending`
/// (from here on they are never sent blindly again), the skipped ones get their outcome.
async fn mark_sending(
    state: &AppState,
    planned: &[Planned],
    skipped: &[RecipientRow],
    now: i64,
) -> Result<(), CampaignError> {
    let mut rows: Vec<RecipientRow> = skipped
        .iter()
        .cloned()
        .map(|mut r| {
            r.updated_at = now;
            r
        })
        .collect();
    rows.extend(planned.iter().map(|p| {
        let mut r = p.recipient.clone();
        r.status = "sending".into();
        r.sending_at = Some(now);
        r.updated_at = now;
        r
    }));
    let writes = in_commit(move |tx| {
        Box::pin(async move {
            for r in &rows {
                store::update_recipient_in(tx, r).await?;
            }
            Ok(Vec::new())
        })
    });
    state
        .sequencer
        .write_in_commit(Lane::Prompt, Vec::new(), writes)
        .await
        .map_err(CampaignError::from)
}

/// Sends every planned message, [`CONCURRENT_SENDS`] at a time.
async fn send_all<'a>(
    state: &AppState,
    channel_id: &str,
    token: &AccessToken,
    planned: &'a [Planned],
) -> Vec<(&'a Planned, Result<Accepted, GraphError>)> {
    let Some(graph) = state.graph.as_ref() else {
        return Vec::new();
    };
    let mut sends = Vec::with_capacity(planned.len());
    for p in planned {
        sends.push(send_one(graph, channel_id, token, p));
    }
    futures_util::stream::iter(sends)
        .buffer_unordered(CONCURRENT_SENDS)
        .collect()
        .await
}

/// Sends one planned message.
async fn send_one<'a>(
    graph: &zentro_meta::graph::GraphClient,
    channel_id: &str,
    token: &AccessToken,
    planned: &'a Planned,
) -> (&'a Planned, Result<Accepted, GraphError>) {
    (
        planned,
        graph.send_whatsapp(channel_id, token, &planned.send).await,
    )
}

/// What a refusal means for the recipient and the campaign.
enum After {
    /// Meta asked to slow down: queued again, not before this time (not an attempt).
    Wait(i64),
    /// A temporary failure (Meta's code and words): tried again later, a bounded number of times.
    Temporary(String),
    /// Failed for good, with Meta's words.
    Fail(String),
    /// No answer: stays `sending` until Meta's webhooks settle it.
    Unknown,
    /// The campaign stops (Meta's code and words); the recipient was not sent and waits.
    Stop(String),
}

/// ADR 0021 §4: Meta's answer classified.
fn after(error: &GraphError, now: i64) -> After {
    let wait = |d: Duration| now + d.as_millis() as i64;
    match error {
        GraphError::PairRateLimited { retry_after }
        | GraphError::ThroughputLimited { retry_after }
        | GraphError::Throttled { retry_after, .. } => After::Wait(wait(*retry_after)),
        GraphError::Transient {
            code,
            status,
            message,
        } => After::Temporary(match code {
            Some(code) => format!("{code}: {message}"),
            None => format!("HTTP {status}: {message}"),
        }),
        GraphError::Unreachable(_) => After::Temporary(error.to_string()),
        GraphError::Ambiguous(_) => After::Unknown,
        GraphError::Template { code, message } | GraphError::QualityLimited { code, message } => {
            After::Stop(format!("Meta {code}: {message}"))
        }
        GraphError::TokenInvalid => After::Stop(format!("Meta 190: {error}")),
        GraphError::PermissionDenied { code } => After::Stop(format!("Meta {code}: {error}")),
        GraphError::Undeliverable { details } => After::Fail(format!(
            "131026: {}",
            details
                .as_deref()
                .unwrap_or("the message cannot be delivered to this customer")
        )),
        GraphError::Rejected { code, message } => After::Fail(format!("{code}: {message}")),
        other => After::Fail(other.to_string()),
    }
}

/// How long a recipient waits after its `attempts`-th temporary failure (ms): the first wait,
/// doubled each time, never more than the most.
fn retry_wait(config: &crate::config::Config, attempts: i64) -> i64 {
    let first = config.campaign_retry_first.as_millis() as i64;
    let most = config.campaign_retry_most.as_millis() as i64;
    let doublings = attempts.clamp(1, 32) - 1;
    first.saturating_mul(1 << doublings).min(most)
}

/// The recipient as Meta's refusal `error` leaves it, or `None` when it stays `sending` (no
/// answer: Meta's webhooks will tell); `stop` gets why the campaign stops, when Meta says so.
fn refused(
    state: &AppState,
    campaign: &CampaignRow,
    mut r: RecipientRow,
    error: &GraphError,
    now: i64,
    stop: &mut Option<String>,
) -> Option<RecipientRow> {
    match after(error, now) {
        After::Wait(at) => {
            r.status = "queued".into();
            r.sending_at = None;
            r.next_attempt_at = at;
        }
        After::Temporary(why) => {
            r.attempts += 1;
            r.sending_at = None;
            if r.attempts >= MOST_ATTEMPTS {
                r.status = "failed".into();
                r.error = Some(format!(
                    "{why} (gave up after {} temporary failures)",
                    r.attempts
                ));
            } else {
                r.status = "queued".into();
                r.next_attempt_at = now + retry_wait(&state.config, r.attempts);
            }
        }
        After::Fail(why) => {
            r.status = "failed".into();
            r.error = Some(why);
        }
        After::Unknown => {
            tracing::warn!(campaign = %campaign.id, %error, "no answer from Meta: its status webhooks will tell");
            return None;
        }
        After::Stop(why) => {
            r.status = "queued".into();
            r.sending_at = None;
            stop.get_or_insert(why);
        }
    }
    Some(r)
}

/// In one commit: what Meta answered for each message of the slot. Returns why the campaign
/// stops, when Meta said it must.
async fn record(
    state: &AppState,
    campaign: &CampaignRow,
    answers: Vec<(&Planned, Result<Accepted, GraphError>)>,
) -> Result<Option<String>, CampaignError> {
    let now = now_ms();
    let mut stop = None;
    let mut accepted = Vec::new();
    let mut changed = Vec::new();
    for (planned, answer) in answers {
        let mut r = planned.recipient.clone();
        r.updated_at = now;
        match answer {
            Ok(answer) => {
                accepted.push((r, answer.message_id, planned.body.clone()));
                continue;
            }
            Err(error) => match refused(state, campaign, r, &error, now, &mut stop) {
                Some(r) => changed.push(r),
                None => continue,
            },
        }
    }
    let campaign_id = campaign.id.clone();
    let workspace = campaign.workspace_id.clone();
    let channel = campaign.channel_id.clone();
    let writes = in_commit(move |tx| {
        Box::pin(async move {
            for r in &changed {
                store::update_recipient_in(tx, r).await?;
            }
            let mut appended = Vec::new();
            for (r, message_id, body) in &accepted {
                let fed = sent_in(
                    tx,
                    &campaign_id,
                    &workspace,
                    &channel,
                    r,
                    message_id,
                    body,
                    now,
                )
                .await?;
                appended.extend(fed);
            }
            Ok(appended)
        })
    });
    state
        .sequencer
        .write_in_commit(
            Lane::Background,
            vec![campaign.workspace_id.clone()],
            writes,
        )
        .await?;
    Ok(stop)
}

/// Inside `tx`: Meta accepted the recipient's message `message_id`. It becomes `sent` (unless a
/// status webhook already took it further) and, the first time only, its `message.sent` event
/// (authored `campaign:<id>`, keyed by campaign and customer) and audit row are appended.
#[allow(clippy::too_many_arguments)] // one recipient's whole outcome, in the caller's commit
pub(crate) async fn sent_in(
    tx: &mut store::WriteTx,
    campaign_id: &str,
    workspace: &str,
    channel: &str,
    recipient: &RecipientRow,
    message_id: &str,
    body: &str,
    now: i64,
) -> Result<Vec<(String, FedEvent)>, StoreError> {
    let Some(mut current) = store::recipient_in(tx, campaign_id, &recipient.customer_id).await?
    else {
        // Erased meanwhile: nothing of the customer is kept.
        return Ok(Vec::new());
    };
    // One given up on is settled long after its request left: it was sent then, not now, so
    // desks place it before what the customer wrote since.
    let sent_at = match current.status.as_str() {
        "failed" => current.sending_at.unwrap_or(now),
        _ => now,
    };
    if awaits_metas_word(&current) {
        current.status = "sent".into();
        current.error = None;
    }
    current
        .message_id
        .get_or_insert_with(|| message_id.to_string());
    current.sent_at.get_or_insert(sent_at);
    current.updated_at = now;
    store::update_recipient_in(tx, &current).await?;
    let author = campaign_author(campaign_id);
    let client_id = callback_data(campaign_id, &recipient.customer_id);
    let sent = MessageSent {
        client_id: client_id.clone(),
        external_id: message_id.to_string(),
        channel_kind: "whatsapp".into(),
        channel_external_id: channel.to_string(),
        customer_id: recipient.customer_id.clone(),
        body: body.to_string(),
        reply_to: None,
        sent_at,
        author_member_id: author.clone(),
    };
    let key = format!("campaign-sent:{campaign_id}:{}", recipient.customer_id);
    let events = [store::NewAppend {
        kind: MESSAGE_SENT,
        dedup_key: &key,
        author: Some(&author),
        payload: serde_json::to_string(&sent).unwrap_or_default(),
    }];
    let (seqs, fed) = feed::append_in(tx, workspace, &events).await?;
    if let Some(Some(seq)) = seqs.first() {
        let entry = NewAuditEntry {
            workspace_id: workspace,
            actor_id: None,
            actor_email: Some(&author),
            device: Some("relay"),
            action: "message.sent",
            subject: Some(&recipient.customer_id),
            details: json!({
                "seq": seq,
                "channel_kind": "whatsapp",
                "channel_external_id": channel,
                "customer_id": recipient.customer_id,
                "external_id": message_id,
                "client_id": client_id,
                "campaign": campaign_id,
            }),
        };
        crate::sql!(tx.conn(), team::record_many(&[entry], now))?;
    }
    Ok(fed)
}

/// Pauses the campaign with `reason` (and, for the messaging limit, when it resumes by itself).
async fn pause(
    state: &AppState,
    campaign: &mut CampaignRow,
    reason: String,
    until: Option<i64>,
) -> Result<(), CampaignError> {
    tracing::warn!(campaign = %campaign.id, %reason, "a campaign paused");
    campaign.state = "paused".into();
    campaign.paused_reason = Some(reason);
    campaign.paused_until = until;
    change(state, campaign, "running", "paused", None).await?;
    Ok(())
}

/// Completes the campaign once every recipient has an outcome (none queued or sending).
async fn complete_if_done(
    state: &AppState,
    campaign: &mut CampaignRow,
) -> Result<(), CampaignError> {
    let counts: HashMap<String, i64> = state
        .store
        .campaign_counts(&campaign.id)
        .await?
        .into_iter()
        .collect();
    let open =
        counts.get("queued").copied().unwrap_or(0) + counts.get("sending").copied().unwrap_or(0);
    if open > 0 {
        return Ok(());
    }
    campaign.state = "completed".into();
    campaign.finished_at = Some(now_ms());
    change(state, campaign, "running", "completed", None).await?;
    Ok(())
}

/// `YYYY-MM-DD HH:MM UTC` of a time in UTC ms (the messaging limit's "until").
pub fn utc_minute(ms: i64) -> String {
    let (year, month, day, second) = utc_civil(ms);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        second / 3600,
        second % 3600 / 60
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ` (ISO 8601, UTC) of a time in UTC ms (the recipients' CSV).
pub fn utc_iso(ms: i64) -> String {
    let (year, month, day, second) = utc_civil(ms);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second / 3600,
        second % 3600 / 60,
        second % 60
    )
}

/// The UTC year, month, day and second of the day of a time in UTC ms.
fn utc_civil(ms: i64) -> (i64, i64, i64, i64) {
    let seconds = ms.div_euclid(1000);
    let (days, second) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_in_utc() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minute(1_796_601_600_000), "2026-12-07 00:00 UTC");
        assert_eq!(utc_minute(951_782_400_000 + 61_000), "2000-02-29 00:01 UTC");
        assert_eq!(utc_iso(951_782_400_000 + 61_999), "2000-02-29T00:01:01Z");
        assert_eq!(utc_iso(1_796_634_300_000), "2026-12-07T09:05:00Z");
    }
}
