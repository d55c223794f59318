//! The engine's inputs read from the workspace's log: Meta's webhooks (customers' messages and
//! their answers to menus), people's replies, team events, erasures, presence and setup changes.
//! The relay reads them from its log; a desk previewing a setup builds the same inputs from its
//! cache.

use serde::Deserialize;
use serde_json::Value;
use zentro_events::{
    ContactRef, MESSAGE_SENT, MessageSent, TeamEvent, WORKSPACE_AUTOMATION, WORKSPACE_PRESENCE,
    automation_rule, written_by_relay,
};
use zentro_meta::webhook::{self, Content, Direction, Event};

use crate::engine::{Input, Presence};
use crate::setup::Setup;

/// The kind of the relay's erasure event (`{salt, hash}`).
const CONTACT_ERASED: &str = "contact.erased";

/// The kind of the relay's event about a channel (its view: `kind`, `external_id`, `agents`…).
const CHANNEL_CHANGED: &str = "channel.changed";

/// What an event of the log means to the engine (most events mean nothing; a webhook may carry
/// several messages).
pub fn inputs_from_log(kind: &str, author: Option<&str>, payload: &Value) -> Vec<Input> {
    let by_relay = written_by_relay(author);
    match kind {
        "meta.webhook" => webhook_inputs(payload),
        MESSAGE_SENT if automation_rule(author).is_none() => MessageSent::deserialize(payload)
            .map(|sent| Input::PersonReplied {
                contact: ContactRef {
                    channel_kind: sent.channel_kind,
                    channel_external_id: sent.channel_external_id,
                    customer_id: sent.customer_id,
                },
            })
            .into_iter()
            .collect(),
        CONTACT_ERASED if by_relay => {
            #[derive(Deserialize)]
            struct Notice {
                salt: String,
                hash: String,
            }
            Notice::deserialize(payload)
                .map(|n| Input::Erased {
                    salt: n.salt,
                    hash: n.hash,
                })
                .into_iter()
                .collect()
        }
        WORKSPACE_PRESENCE if by_relay => {
            #[derive(Deserialize)]
            struct Changed {
                member_id: String,
                presence: Presence,
            }
            Changed::deserialize(payload)
                .map(|c| Input::Presence {
                    member: c.member_id,
                    presence: c.presence,
                })
                .into_iter()
                .collect()
        }
        CHANNEL_CHANGED if by_relay => {
            let text = |k: &str| payload.get(k).and_then(Value::as_str);
            let agents = payload.get("agents").and_then(Value::as_array);
            match (text("kind"), text("external_id"), agents) {
                (Some(kind), Some(id), Some(agents)) => vec![Input::ChannelAgents {
                    channel: format!("{kind}:{id}"),
                    agents: agents
                        .iter()
                        .filter_map(|a| a.as_str().map(str::to_string))
                        .collect(),
                }],
                _ => Vec::new(),
            }
        }
        WORKSPACE_AUTOMATION if by_relay => payload
            .get("setup")
            .and_then(|s| Setup::deserialize(s).ok())
            .map(|s| Input::SetupChanged(Box::new(s)))
            .into_iter()
            .collect(),
        kind if kind.starts_with(zentro_events::KIND_PREFIX) => TeamEvent::deserialize(payload)
            .ok()
            .and_then(|event| team_input(event, automation_rule(author).is_some()))
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

fn team_input(event: TeamEvent, by_automation: bool) -> Option<Input> {
    Some(match event {
        TeamEvent::Assigned {
            conversation,
            assignee,
        } => Input::Assigned {
            contact: conversation,
            assignee,
        },
        TeamEvent::Routed { conversation, team } => Input::Routed {
            contact: conversation,
            team,
            by_automation,
        },
        TeamEvent::StatusChanged {
            conversation,
            status,
            ..
        } => Input::StatusChanged {
            contact: conversation,
            status,
            by_automation,
        },
        TeamEvent::ContactEdited { contact, changes } => Input::Restricted {
            contact,
            restricted: changes.restricted?,
        },
        _ => return None,
    })
}

/// Customers' messages in a webhook (echoes of the business's own messages are not customers').
fn webhook_inputs(payload: &Value) -> Vec<Input> {
    let items = webhook::parse_value(payload).unwrap_or_default();
    items.iter().filter_map(webhook_item_input).collect()
}

/// What one parsed webhook item means to the engine: a customer's message, or nothing. The
/// relay calls it on the items it has just parsed on the way in (so the automation need not read
/// and parse them again); [`inputs_from_log`] calls it on the items of a stored webhook, so both
/// give the same inputs.
pub fn webhook_item_input(item: &webhook::WebhookItem) -> Option<Input> {
    let Event::Message(message) = &item.event else {
        return None;
    };
    if message.direction != Direction::Inbound {
        return None;
    }
    let (platform, channel_id) = item.route.channel()?;
    let (text, choice) = answer(&message.content);
    Some(Input::CustomerMessage {
        contact: ContactRef {
            channel_kind: platform.as_str().to_string(),
            channel_external_id: channel_id.to_string(),
            customer_id: message.customer.id.clone(),
        },
        at: message.sent_at.timestamp_millis(),
        text,
        choice,
        language: None,
    })
}

/// The text of a message and the menu choice it carries, if any.
fn answer(content: &Content) -> (Option<String>, Option<String>) {
    match content {
        Content::Text { body } => (Some(body.clone()), None),
        Content::QuickReply { text, payload } => (Some(text.clone()), Some(payload.clone())),
        Content::InteractiveReply(reply) => (reply.title.clone(), reply.id.clone()),
        Content::TemplateButton { text, payload } => (Some(text.clone()), payload.clone()),
        Content::Attachments { text, .. } => (text.clone(), None),
        _ => (None, None),
    }
}
