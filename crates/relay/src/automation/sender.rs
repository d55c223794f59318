//! Sending the automation's messages: the relay's outbox (`automated_messages`), with the same
//! guarantees as a person's reply from a desk.
//!
//! - A message is marked `sending` before the request leaves; once Meta accepted it, it becomes
//!   `sent` and a `message.sent` event (author `automation:<rule>`) tells every desk, in one
//!   transaction.
//! - Meta unreachable or failing temporarily: queued again with backoff (at most
//!   [`MAX_ATTEMPTS`]); rate limits: queued again for as long as Meta says.
//! - No answer after the request left (a timeout, or the relay stopped mid-request): `unknown`,
//!   never sent again blindly. WhatsApp's status webhooks carry the message's id back
//!   (`biz_opaque_callback_data`): one naming it settles it as sent ([`reconcile`]).
//! - Past the 24-hour window (the relay was down that long): `expired`, never sent. A customer
//!   restricted meanwhile (P14): `failed`, never sent.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use futures_util::StreamExt;

use zentro_automation::Outgoing;
use zentro_events::clock::now_ms;
use zentro_events::{ContactRef, MESSAGE_SENT, MessageSent, automation_author};
use zentro_meta::AccessToken;
use zentro_meta::graph::{
    Accepted, GraphError, ListRow, ListSection, MessagingType, MessengerOutgoing, MessengerSend,
    QuickReply, Recipient, ReplyButton, WhatsAppSend,
};
use zentro_meta::webhook::Platform;

use super::Engines;
use super::feed::FedEvent;
use crate::http::AppState;
use crate::sequencer::{Lane, SequencerError, in_commit};
use crate::stand_ins::StandIn;
use crate::store::{
    self, AutomatedMessage, ChannelKind, MessageStateChange, NewAuditEntry, StoreError,
};

/// Tries before a message that keeps failing temporarily is given up (`failed`).
pub const MAX_ATTEMPTS: i64 = 8;

/// The customer-service window: free-form messages only this long after the customer's last.
const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Most messages sent in one round.
const ROUND: i64 = 500;

/// Sends the messages that are due: checked, marked `sending` together, sent to Meta
/// concurrently, and their outcomes recorded together (two commits a round, however many
/// messages: each commit waits for the disk, and webhooks wait for the writer meanwhile).
/// Whether the round was full (more may be due at once).
pub async fn send_due(state: &AppState, engines: &Engines) -> bool {
    let mut due = match state.store.due_automated_messages(now_ms(), ROUND).await {
        Ok(due) if !due.is_empty() => due,
        Ok(_) => return false,
        Err(error) => {
            tracing::error!(%error, "could not read the automation's outbox");
            return false;
        }
    };
    let full = due.len() as i64 == ROUND;
    in_decided_order(&mut due);
    let switched_off = switched_off(state, &due).await;
    // Past their window, WhatsApp messages go as a template standing in for them, or not at all.
    let stand_ins = crate::stand_ins::stand_ins(state, &mut due).await;
    let mut tokens: HashMap<(String, String), Result<AccessToken, String>> = HashMap::new();
    let mut plans = Vec::with_capacity(due.len());
    for message in due {
        // A consent confirmation goes whatever the automation does (crate::consent).
        if switched_off.contains(&message.workspace_id)
            && message.rule != crate::consent::CONSENT_RULE
        {
            let why = "the automation was switched off before it went".to_string();
            plans.push((message, Plan::GiveUp("failed", why)));
            continue;
        }
        let key = (
            message.channel_kind.clone(),
            message.channel_external_id.clone(),
        );
        if !tokens.contains_key(&key) {
            tokens.insert(key.clone(), channel_token(state, &message).await);
        }
        let plan = plan(
            state,
            engines,
            &message,
            &tokens[&key],
            stand_ins.get(&message.id),
        );
        plans.push((message, plan));
    }
    if let Err(error) = mark_sending(state, &plans).await {
        tracing::error!(%error, "could not mark automated messages as sending");
        return false;
    }
    // One conversation's messages go one after another, in the order they were decided (the
    // greeting before the menu); conversations go concurrently.
    let mut conversations: Vec<Vec<(&AutomatedMessage, &AccessToken)>> = Vec::new();
    let mut place: HashMap<(&str, &str, &str, &str), usize> = HashMap::new();
    for (message, plan) in &plans {
        if let Plan::Send(token) = plan {
            let key = (
                message.workspace_id.as_str(),
                message.channel_kind.as_str(),
                message.channel_external_id.as_str(),
                message.customer_id.as_str(),
            );
            let i = *place.entry(key).or_insert_with(|| {
                conversations.push(Vec::new());
                conversations.len() - 1
            });
            conversations[i].push((message, token));
        }
    }
    let mut sends = Vec::with_capacity(conversations.len());
    for messages in conversations {
        sends.push(send_in_order(state, messages, &stand_ins));
    }
    let outcomes: Vec<(&AutomatedMessage, Outcome)> = futures_util::stream::iter(sends)
        .buffer_unordered(CONCURRENT_SENDS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect();
    if let Err(error) = record(state, &outcomes).await {
        tracing::error!(%error, "could not record what Meta answered to automated messages");
    }
    full
}

/// Puts a round's due messages, read earliest due first (the order the outbox's index gives
/// cheaply), in the order they were decided: a conversation's messages go in that order (a
/// greeting before its menu, a message held back behind a failure after it).
fn in_decided_order(due: &mut [AutomatedMessage]) {
    due.sort_by(|a, b| (a.decided_at, &a.id).cmp(&(b.decided_at, &b.id)));
}

/// What became of a message this round.
enum Outcome {
    /// Meta answered (accepted or refused).
    Answered(Result<Accepted, GraphError>),
    /// Not tried: an earlier message of its conversation failed, so it waits to go after it.
    Held,
}

/// Sends one conversation's messages in order, stopping at the first failure (the rest are held
/// back, so they never overtake it).
async fn send_in_order<'a>(
    state: &AppState,
    messages: Vec<(&'a AutomatedMessage, &AccessToken)>,
    stand_ins: &HashMap<String, Result<StandIn, String>>,
) -> Vec<(&'a AutomatedMessage, Outcome)> {
    let mut outcomes = Vec::with_capacity(messages.len());
    let mut failed = false;
    for (message, token) in messages {
        if failed {
            outcomes.push((message, Outcome::Held));
            continue;
        }
        let result = match stand_ins.get(&message.id) {
            Some(Ok(stand_in)) => send_stand_in(state, message, token, stand_in).await,
            _ => send(state, message, token).await,
        };
        failed = result.is_err();
        outcomes.push((message, Outcome::Answered(result)));
    }
    outcomes
}

/// Sends in flight at once (Meta's throughput per number is far above this).
const CONCURRENT_SENDS: usize = 32;

/// What to do with a due message.
enum Plan {
    /// Send it with this token.
    Send(AccessToken),
    /// Never send it: its new state and why.
    GiveUp(&'static str, String),
}

/// The workspaces among the due messages' whose saved setup is switched off (or gone): what
/// the automation decided there before it was switched off is not sent (an admin switching it
/// off means "stop"). A setup that cannot be read counts as on, the message going as decided.
async fn switched_off(state: &AppState, due: &[AutomatedMessage]) -> HashSet<String> {
    let workspaces: BTreeSet<&str> = due.iter().map(|m| m.workspace_id.as_str()).collect();
    let mut off = HashSet::new();
    for workspace in workspaces {
        match state.store.automation_setup(workspace).await {
            Ok(saved) => {
                let on = saved.is_some_and(|s| s.setup.get("enabled") == Some(&true.into()));
                if !on {
                    off.insert(workspace.to_string());
                }
            }
            Err(error) => tracing::error!(%error, "could not read an automation setup"),
        }
    }
    off
}

/// The checks that need no call to Meta: the window, a restriction, the token, a Graph client.
fn plan(
    state: &AppState,
    engines: &Engines,
    message: &AutomatedMessage,
    token: &Result<AccessToken, String>,
    stand_in: Option<&Result<StandIn, String>>,
) -> Plan {
    if now_ms() > message.window_opened_at + WINDOW_MS {
        match stand_in {
            Some(Ok(_)) => {}
            Some(Err(why)) => return Plan::GiveUp("expired", why.clone()),
            None => {
                return Plan::GiveUp(
                    "expired",
                    "the 24-hour window closed before it could be sent".into(),
                );
            }
        }
    }
    let contact = ContactRef {
        channel_kind: message.channel_kind.clone(),
        channel_external_id: message.channel_external_id.clone(),
        customer_id: message.customer_id.clone(),
    };
    let restricted = engines
        .get(&message.workspace_id)
        .and_then(|e| e.conversation(&contact))
        .is_some_and(|c| c.restricted);
    if restricted {
        return Plan::GiveUp(
            "failed",
            "the customer's processing is restricted: nothing automated is sent".into(),
        );
    }
    if state.graph.is_none() {
        return Plan::GiveUp(
            "failed",
            "the relay has no Meta app configured, so it cannot send".into(),
        );
    }
    match token {
        Ok(token) => Plan::Send(token.clone()),
        Err(why) => Plan::GiveUp("failed", why.clone()),
    }
}

/// In the sequencer's next group commit (the prompt lane: the checks made just before, the
/// switch and a restriction, stay as fresh as before the lanes, and the lease cannot lapse while
/// it waits): the messages about to be sent become `sending` (a crash from here on leaves them
/// `unknown`, never sent twice), the others get their final state.
async fn mark_sending(
    state: &AppState,
    plans: &[(AutomatedMessage, Plan)],
) -> Result<(), SequencerError> {
    let now = now_ms();
    let mut changes = Vec::with_capacity(plans.len());
    for (message, plan) in plans {
        let (name, attempts, error) = match plan {
            Plan::Send(_) => ("sending", message.attempts + 1, None),
            Plan::GiveUp(name, why) => {
                tracing::warn!(id = %message.id, reason = %why, "an automated message was not sent");
                (*name, message.attempts, Some(why.clone()))
            }
        };
        changes.push(MessageStateChange {
            id: message.id.clone(),
            state: name.to_string(),
            attempts,
            next_attempt_at: now,
            error,
        });
    }
    let writes = in_commit(move |tx| {
        Box::pin(async move {
            store::set_automated_messages_state_in(tx, &changes, now).await?;
            Ok(Vec::new())
        })
    });
    state
        .sequencer
        .write_in_commit(Lane::Prompt, Vec::new(), writes)
        .await
}

/// Sends one message to Meta.
async fn send(
    state: &AppState,
    message: &AutomatedMessage,
    token: &AccessToken,
) -> Result<Accepted, GraphError> {
    let graph = state
        .graph
        .as_ref()
        .ok_or_else(|| GraphError::InvalidInput("no Graph client".into()))?;
    let outgoing: Outgoing = serde_json::from_str(&message.message)
        .map_err(|e| GraphError::InvalidInput(format!("an unreadable automated message ({e})")))?;
    match message.channel_kind.as_str() {
        "whatsapp" => {
            let send = whatsapp_send(message, &outgoing);
            graph
                .send_whatsapp(&message.channel_external_id, token, &send)
                .await
        }
        kind => {
            let platform = if kind == "instagram" {
                Platform::Instagram
            } else {
                Platform::Messenger
            };
            let send = messenger_send(platform, message, &outgoing);
            graph
                .send_messenger(&message.channel_external_id, token, &send)
                .await
        }
    }
}

/// Sends the template standing in for a WhatsApp message past its window.
async fn send_stand_in(
    state: &AppState,
    message: &AutomatedMessage,
    token: &AccessToken,
    stand_in: &StandIn,
) -> Result<Accepted, GraphError> {
    let graph = state
        .graph
        .as_ref()
        .ok_or_else(|| GraphError::InvalidInput("no Graph client".into()))?;
    graph
        .send_whatsapp(&message.channel_external_id, token, &stand_in.send)
        .await
}

/// In a group commit (the background lane: see [`crate::sequencer::Lane`]): what Meta answered,
/// for every message sent this round.
async fn record(
    state: &AppState,
    outcomes: &[(&AutomatedMessage, Outcome)],
) -> Result<(), SequencerError> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let mut accepted: Vec<(AutomatedMessage, String)> = Vec::new();
    let mut changes = Vec::new();
    // When the last failure of each conversation is tried again: what it held back goes then too.
    let mut retry_at: HashMap<(&str, &str), i64> = HashMap::new();
    for (message, outcome) in outcomes {
        let attempts = message.attempts + 1;
        let conversation = (message.workspace_id.as_str(), message.customer_id.as_str());
        let (name, attempts, next, error) = match outcome {
            Outcome::Answered(Ok(answer)) => {
                accepted.push(((*message).clone(), answer.message_id.clone()));
                continue;
            }
            Outcome::Answered(Err(error)) => {
                let (name, next) = after_failure(error, attempts, now);
                tracing::warn!(id = %message.id, %error, next = name, "Meta did not accept an automated message");
                retry_at.insert(conversation, next);
                (name, attempts, next, Some(error.to_string()))
            }
            Outcome::Held => {
                let next = retry_at.get(&conversation).copied().unwrap_or(now);
                ("queued", message.attempts, next, None)
            }
        };
        changes.push(MessageStateChange {
            id: message.id.clone(),
            state: name.to_string(),
            attempts,
            next_attempt_at: next,
            error,
        });
    }
    let mut workspaces: Vec<String> = accepted
        .iter()
        .map(|(m, _)| m.workspace_id.clone())
        .collect();
    workspaces.sort_unstable();
    workspaces.dedup();
    let writes = in_commit(move |tx| {
        Box::pin(async move {
            store::set_automated_messages_state_in(tx, &changes, now).await?;
            let accepted: Vec<(&AutomatedMessage, String)> =
                accepted.iter().map(|(m, id)| (m, id.clone())).collect();
            sent_in(tx, &accepted, now).await
        })
    });
    // The writer notifies the streams of the workspaces that grew.
    state
        .sequencer
        .write_in_commit(Lane::Background, workspaces, writes)
        .await
}

/// After this instance took the automation over: messages left `sending` by an instance that
/// stopped mid-request may have gone out; they wait for their status instead ([`reconcile`]).
pub async fn recover_interrupted(state: &AppState) {
    let workspaces = state.store.automated_workspaces().await.unwrap_or_default();
    for workspace in workspaces {
        let Ok(messages) = state.store.automated_messages_of(&workspace).await else {
            continue;
        };
        for m in messages.iter().filter(|m| m.state == "sending") {
            let _ = state
                .store
                .set_automated_message_state(
                    &m.id,
                    "unknown",
                    m.attempts,
                    m.next_attempt_at,
                    Some("the relay stopped while sending it; its status from Meta will tell whether it went"),
                )
                .await;
        }
    }
}

/// Settles messages whose fate was unknown when a status webhook names them: Meta had them.
pub async fn reconcile(state: &AppState, settled: &[(String, String)]) -> Result<(), StoreError> {
    for (id, external_id) in settled {
        let Some(message) = state.store.automated_message(id).await? else {
            continue;
        };
        if matches!(message.state.as_str(), "unknown" | "sending") {
            let mut tx = state.store.begin().await?;
            let accepted = [(&message, external_id.clone())];
            // Its own transaction: the followers read this event from the log.
            let appended = sent_in(&mut tx, &accepted, now_ms()).await?;
            for (workspace, event) in &appended {
                store::notify_appended(&mut tx, workspace, event.seq).await?;
            }
            tx.commit().await?;
            for (workspace, event) in appended {
                state.notifier.notify(&workspace, event.seq);
            }
        }
    }
    Ok(())
}

/// What a failure means for the message: its state and when to try again.
fn after_failure(error: &GraphError, attempts: i64, now: i64) -> (&'static str, i64) {
    let wait = |d: Duration| now + d.as_millis() as i64;
    let backoff = wait(Duration::from_secs(2u64.pow(attempts.clamp(0, 8) as u32)));
    match error {
        GraphError::PairRateLimited { retry_after }
        | GraphError::ThroughputLimited { retry_after }
        | GraphError::Throttled { retry_after, .. } => ("queued", wait(*retry_after)),
        GraphError::Unreachable(_) | GraphError::Transient { .. } if attempts < MAX_ATTEMPTS => {
            ("queued", backoff)
        }
        GraphError::Ambiguous(_) => ("unknown", now),
        GraphError::WindowClosed { .. } => ("expired", now),
        _ => ("failed", now),
    }
}

/// Inside `tx`: marks accepted messages sent, and for each one not sent before appends its
/// `message.sent` event (authored `automation:<rule>`) and its audit row (P2: naming the rule,
/// never the text) — one statement per table for the whole round. Returns the events appended,
/// each with its workspace (see [`super::feed::append_in`]).
async fn sent_in(
    tx: &mut store::WriteTx,
    accepted: &[(&AutomatedMessage, String)],
    now: i64,
) -> Result<Vec<(String, FedEvent)>, StoreError> {
    let pairs: Vec<(String, String)> = accepted
        .iter()
        .map(|(m, external_id)| (m.id.clone(), external_id.clone()))
        .collect();
    let finished = store::finish_automated_messages_in(tx, &pairs, now).await?;
    let mut by_workspace: BTreeMap<&str, Vec<(&AutomatedMessage, &str)>> = BTreeMap::new();
    for (message, external_id) in accepted {
        if finished.contains(&message.id) {
            by_workspace
                .entry(message.workspace_id.as_str())
                .or_default()
                .push((message, external_id.as_str()));
        }
    }
    let mut appended = Vec::new();
    for (workspace, messages) in by_workspace {
        let authors: Vec<String> = messages
            .iter()
            .map(|(m, _)| automation_author(&m.rule))
            .collect();
        let keys: Vec<String> = messages
            .iter()
            .map(|(m, _)| format!("automation-sent:{}", m.id))
            .collect();
        let events: Vec<store::NewAppend<'_>> = messages
            .iter()
            .zip(&authors)
            .zip(&keys)
            .map(|(((message, external_id), author), key)| store::NewAppend {
                kind: MESSAGE_SENT,
                dedup_key: key,
                author: Some(author),
                payload: sent_payload(message, external_id, author),
            })
            .collect();
        let channels: Vec<(&str, &str)> = messages
            .iter()
            .map(|(m, _)| (m.channel_kind.as_str(), m.channel_external_id.as_str()))
            .collect();
        let (seqs, fed) =
            super::feed::append_on_channels_in(tx, workspace, &events, &channels).await?;
        let mut entries = Vec::with_capacity(messages.len());
        for (((message, external_id), author), seq) in messages.iter().zip(&authors).zip(&seqs) {
            if let Some(seq) = seq {
                entries.push(audit_entry(message, external_id, author, *seq));
            }
        }
        crate::sql!(tx.conn(), team::record_many(&entries, now))?;
        appended.extend(fed);
    }
    Ok(appended)
}

/// The `message.sent` event of an automated message Meta accepted.
fn sent_payload(message: &AutomatedMessage, external_id: &str, author: &str) -> String {
    let sent = MessageSent {
        client_id: message.id.clone(),
        external_id: external_id.to_string(),
        channel_kind: message.channel_kind.clone(),
        channel_external_id: message.channel_external_id.clone(),
        customer_id: message.customer_id.clone(),
        body: message.body.clone(),
        reply_to: None,
        sent_at: message.decided_at,
        author_member_id: author.to_string(),
    };
    serde_json::to_string(&sent).unwrap_or_default()
}

/// The audit row of an automated message's `message.sent` event `seq` (P2: it names the rule,
/// never the text).
fn audit_entry<'a>(
    message: &'a AutomatedMessage,
    external_id: &str,
    author: &'a str,
    seq: i64,
) -> NewAuditEntry<'a> {
    NewAuditEntry {
        workspace_id: &message.workspace_id,
        actor_id: None,
        actor_email: Some(author),
        device: Some("relay"),
        action: "message.sent",
        subject: Some(&message.customer_id),
        details: serde_json::json!({
            "seq": seq,
            "channel_kind": message.channel_kind,
            "channel_external_id": message.channel_external_id,
            "customer_id": message.customer_id,
            "external_id": external_id,
            "client_id": message.id,
            "rule": message.rule,
        }),
    }
}

/// The channel's token, opened; otherwise why the message cannot go.
async fn channel_token(
    state: &AppState,
    message: &AutomatedMessage,
) -> Result<AccessToken, String> {
    let kind: ChannelKind = message.channel_kind.parse()?;
    let channel = state
        .store
        .channel_by_external_id(kind, &message.channel_external_id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "could not read a channel for an automated message");
            "the relay could not read the channel".to_string()
        })?
        .filter(|c| c.workspace_id == message.workspace_id)
        .ok_or("the channel is no longer connected to this workspace")?;
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
        .ok_or("no token is stored for this channel; an owner must connect it")?;
    keys.open(&channel.id, &sealed.sealed)
        .map(|t| AccessToken::new(t.as_str()))
        .map_err(|_| {
            "the relay cannot open this channel's token (its key changed); reconnect it".into()
        })
}

/// A WhatsApp send of an automated message: text, reply buttons (up to 3 choices) or a list.
fn whatsapp_send(message: &AutomatedMessage, outgoing: &Outgoing) -> WhatsAppSend {
    use zentro_meta::graph::Outgoing as Wa;
    let content = match outgoing {
        Outgoing::Text { text } => Wa::Text {
            body: text.clone(),
            preview_url: false,
        },
        Outgoing::Menu { text, options, .. } if options.len() <= 3 => Wa::Buttons {
            body: text.clone(),
            buttons: options
                .iter()
                .map(|(id, title)| ReplyButton {
                    id: id.clone(),
                    title: title.clone(),
                })
                .collect(),
            footer: None,
        },
        Outgoing::Menu {
            text,
            options,
            button,
        } => Wa::List {
            body: text.clone(),
            button: button.clone(),
            sections: vec![ListSection {
                title: button.clone(),
                rows: options
                    .iter()
                    .map(|(id, title)| ListRow {
                        id: id.clone(),
                        title: title.clone(),
                        description: None,
                    })
                    .collect(),
            }],
        },
    };
    // A WhatsApp id is digits; anything else is a business-scoped user id.
    let to = if message.customer_id.chars().all(|c| c.is_ascii_digit()) {
        Recipient::Phone(message.customer_id.clone())
    } else {
        Recipient::UserId(message.customer_id.clone())
    };
    WhatsAppSend {
        to,
        message: content,
        reply_to: None,
        callback_data: message.id.clone(),
    }
}

/// A Messenger or Instagram send: text, or text with quick replies.
fn messenger_send(
    platform: Platform,
    message: &AutomatedMessage,
    outgoing: &Outgoing,
) -> MessengerSend {
    let content = match outgoing {
        Outgoing::Text { text } => MessengerOutgoing::Text(text.clone()),
        Outgoing::Menu { text, options, .. } => MessengerOutgoing::QuickReplies {
            text: text.clone(),
            replies: options
                .iter()
                .map(|(id, title)| QuickReply {
                    title: title.clone(),
                    payload: id.clone(),
                })
                .collect(),
        },
    };
    MessengerSend {
        platform,
        recipient_id: message.customer_id.clone(),
        message: content,
        messaging_type: MessagingType::Response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, decided_at: i64, next_attempt_at: i64) -> AutomatedMessage {
        AutomatedMessage {
            id: id.into(),
            workspace_id: "w".into(),
            channel_kind: "whatsapp".into(),
            channel_external_id: "1065".into(),
            customer_id: "351911".into(),
            rule: "greeting".into(),
            message: r#"{"text":"Hi"}"#.into(),
            body: "Hi".into(),
            window_opened_at: decided_at,
            state: "queued".into(),
            attempts: 0,
            next_attempt_at,
            decided_at,
            external_id: None,
            error: None,
        }
    }

    /// Read earliest due first, a round still sends a conversation's messages in the order they
    /// were decided: the first, which waited for a retry, before the one decided after it.
    #[test]
    fn a_round_goes_in_the_order_decided_whatever_the_order_due() {
        let mut due = vec![
            message("auto:w:7:1", 20, 20),
            message("auto:w:7:0", 20, 20),
            message("auto:w:3:0", 10, 30),
        ];
        in_decided_order(&mut due);
        let ids: Vec<&str> = due.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["auto:w:3:0", "auto:w:7:0", "auto:w:7:1"]);
    }
}
