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

use std::time::Duration;

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
use crate::http::AppState;
use crate::store::{self, AutomatedMessage, ChannelKind, NewAuditEntry, StoreError};

/// Tries before a message that keeps failing temporarily is given up (`failed`).
pub const MAX_ATTEMPTS: i64 = 8;

/// The customer-service window: free-form messages only this long after the customer's last.
const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Most messages sent in one round.
const ROUND: i64 = 200;

/// Sends the messages that are due.
pub async fn send_due(state: &AppState, engines: &Engines) {
    let due = match state.store.due_automated_messages(now_ms(), ROUND).await {
        Ok(due) => due,
        Err(error) => {
            tracing::error!(%error, "could not read the automation's outbox");
            return;
        }
    };
    for message in due {
        if let Err(error) = send_one(state, engines, &message).await {
            tracing::error!(%error, id = %message.id, "an automated message could not be recorded");
        }
    }
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
            announce_sent(state, &message, external_id).await?;
        }
    }
    Ok(())
}

async fn send_one(
    state: &AppState,
    engines: &Engines,
    message: &AutomatedMessage,
) -> Result<(), StoreError> {
    let now = now_ms();
    let give_up = |state_name: &'static str, why: String| async move {
        tracing::warn!(id = %message.id, reason = %why, "an automated message was not sent");
        state
            .store
            .set_automated_message_state(&message.id, state_name, message.attempts, now, Some(&why))
            .await
    };
    if now > message.window_opened_at + WINDOW_MS {
        return give_up(
            "expired",
            "the 24-hour window closed before it could be sent".into(),
        )
        .await;
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
        return give_up(
            "failed",
            "the customer's processing is restricted: nothing automated is sent".into(),
        )
        .await;
    }
    let token = match channel_token(state, message).await {
        Ok(token) => token,
        Err(why) => return give_up("failed", why).await,
    };
    let Some(graph) = state.graph.as_ref() else {
        return give_up(
            "failed",
            "the relay has no Meta app configured, so it cannot send".into(),
        )
        .await;
    };
    let attempts = message.attempts + 1;
    state
        .store
        .set_automated_message_state(&message.id, "sending", attempts, now, None)
        .await?;
    let outgoing: Outgoing = serde_json::from_str(&message.message)
        .map_err(|e| StoreError::NotFound(format!("a readable automated message ({e})")))?;
    let result = match message.channel_kind.as_str() {
        "whatsapp" => {
            let send = whatsapp_send(message, &outgoing);
            graph
                .send_whatsapp(&message.channel_external_id, &token, &send)
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
                .send_messenger(&message.channel_external_id, &token, &send)
                .await
        }
    };
    match result {
        Ok(Accepted { message_id, .. }) => announce_sent(state, message, &message_id).await,
        Err(error) => failed(state, message, attempts, &error).await,
    }
}

/// What a failure means for the message: when to try again, or why not.
async fn failed(
    state: &AppState,
    message: &AutomatedMessage,
    attempts: i64,
    error: &GraphError,
) -> Result<(), StoreError> {
    let now = now_ms();
    let wait = |d: Duration| now + d.as_millis() as i64;
    let backoff = wait(Duration::from_secs(2u64.pow(attempts.clamp(0, 8) as u32)));
    let (state_name, next) = match error {
        GraphError::PairRateLimited { retry_after }
        | GraphError::ThroughputLimited { retry_after }
        | GraphError::Throttled { retry_after, .. } => ("queued", wait(*retry_after)),
        GraphError::Unreachable(_) | GraphError::Transient { .. } if attempts < MAX_ATTEMPTS => {
            ("queued", backoff)
        }
        GraphError::Ambiguous(_) => ("unknown", now),
        GraphError::WindowClosed { .. } => ("expired", now),
        _ => ("failed", now),
    };
    tracing::warn!(id = %message.id, %error, next = state_name, "Meta did not accept an automated message");
    state
        .store
        .set_automated_message_state(
            &message.id,
            state_name,
            attempts,
            next,
            Some(&error.to_string()),
        )
        .await
}

/// Marks the message sent and tells every desk, in one transaction (once: a second call finds it
/// sent and changes nothing).
async fn announce_sent(
    state: &AppState,
    message: &AutomatedMessage,
    external_id: &str,
) -> Result<(), StoreError> {
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    if !store::finish_automated_message_in(&mut tx, &message.id, external_id, now).await? {
        return Ok(());
    }
    let author = automation_author(&message.rule);
    let sent = MessageSent {
        client_id: message.id.clone(),
        external_id: external_id.to_string(),
        channel_kind: message.channel_kind.clone(),
        channel_external_id: message.channel_external_id.clone(),
        customer_id: message.customer_id.clone(),
        body: message.body.clone(),
        reply_to: None,
        sent_at: message.decided_at,
        author_member_id: author.clone(),
    };
    let payload = serde_json::to_value(&sent).unwrap_or_default();
    let seq = store::append_in(
        &mut tx,
        &message.workspace_id,
        MESSAGE_SENT,
        &format!("automation-sent:{}", message.id),
        Some(&author),
        &payload,
    )
    .await?;
    if let Some(seq) = seq {
        store::notify_appended(&mut tx, &message.workspace_id, seq).await?;
        // P2: every send has its audit row, naming the rule (never the text).
        let entry = NewAuditEntry {
            workspace_id: &message.workspace_id,
            actor_id: None,
            actor_email: Some(&author),
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
        };
        crate::sql!(tx.conn(), team::record(&entry, now))?;
    }
    tx.commit().await?;
    if let Some(seq) = seq {
        state.notifier.notify(&message.workspace_id, seq);
    }
    Ok(())
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
