//! `object: "page"` (Messenger) and `object: "instagram"` bodies.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::types::*;
use super::whatsapp::{referral, text};
use super::{derived_key, unsupported_item};

fn object(platform: Platform) -> &'static str {
    match platform {
        Platform::Instagram => "instagram",
        _ => "page",
    }
}

/// Messenger and Instagram timestamps: epoch milliseconds.
fn millis(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    let ms = match v.get(key)? {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        _ => return None,
    };
    DateTime::from_timestamp_millis(ms)
}

fn id_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(|p| text(p, "id"))
}

pub(crate) fn parse_entry(platform: Platform, entry: &Value, items: &mut Vec<WebhookItem>) {
    let entry_id = text(entry, "id").unwrap_or_default();
    let route = if entry_id.is_empty() {
        Route::Unroutable
    } else if platform == Platform::Instagram {
        Route::InstagramAccount(entry_id.clone())
    } else {
        Route::Page(entry_id.clone())
    };
    let mut any = false;
    for list in ["messaging", "standby"] {
        for event in entry
            .get(list)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            any = true;
            // Built from parts: `json!` would copy the event once more (by serializing it).
            let mut single = serde_json::Map::new();
            single.insert("id".into(), entry_id.clone().into());
            single.insert(
                "time".into(),
                entry.get("time").cloned().unwrap_or(Value::Null),
            );
            single.insert(list.into(), Value::Array(vec![event.clone()]));
            let mut envelope = serde_json::Map::new();
            envelope.insert("object".into(), object(platform).into());
            envelope.insert("entry".into(), Value::Array(vec![Value::Object(single)]));
            let envelope = Value::Object(envelope);
            let (key, at, parsed) = messaging_event(platform, &entry_id, event);
            items.push(WebhookItem {
                route: route.clone(),
                key,
                at,
                envelope,
                event: parsed,
            });
        }
    }
    if !any {
        // `changes` (comments, mentions…) and anything else: kept, not understood.
        items.push(unsupported_item(
            object(platform),
            route,
            entry,
            "entry without messaging events".into(),
        ));
    }
}

fn messaging_event(
    platform: Platform,
    entry_id: &str,
    event: &Value,
) -> (String, Option<DateTime<Utc>>, Event) {
    let p = platform.as_str();
    let at = millis(event, "timestamp");
    let when = at.unwrap_or(DateTime::UNIX_EPOCH);
    let sender = id_of(event, "sender").unwrap_or_default();
    let recipient = id_of(event, "recipient").unwrap_or_default();
    let unsupported = |reason: &str| {
        (
            derived_key(&format!("{p}:event"), event),
            at,
            Event::Unsupported(Unsupported {
                reason: reason.to_string(),
                raw: event.clone(),
            }),
        )
    };

    if let Some(message) = event.get("message") {
        let Some(mid) = text(message, "mid") else {
            return unsupported("message without mid");
        };
        let is_echo = message
            .get("is_echo")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            || (!entry_id.is_empty() && sender == entry_id && recipient != entry_id);
        // For an echo, the sender is the business and the customer is the recipient.
        let customer_id = if is_echo {
            recipient.clone()
        } else {
            sender.clone()
        };
        if customer_id.is_empty() {
            return unsupported("message without a customer");
        }
        if message
            .get("is_deleted")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            let deleted = MessageDeleted {
                platform,
                message_id: mid.clone(),
                customer_id,
                at: when,
            };
            return (format!("{p}:deleted:{mid}"), at, Event::Deleted(deleted));
        }
        let content = message_content(message);
        let reply_to = message.get("reply_to");
        let context = reply_to.map(|r| MessageContext {
            quoted_id: text(r, "mid"),
            story: r.get("story").map(|s| (text(s, "id"), text(s, "url"))),
            ..MessageContext::default()
        });
        let msg = Message {
            id: mid.clone(),
            platform,
            direction: if is_echo {
                Direction::Echo
            } else {
                Direction::Inbound
            },
            customer: Customer {
                id: customer_id,
                ..Customer::default()
            },
            app_id: text(message, "app_id"),
            sent_at: when,
            context,
            referral: message.get("referral").map(referral),
            content,
            errors: Vec::new(),
        };
        return (
            format!("{p}:message:{mid}"),
            at,
            Event::Message(Box::new(msg)),
        );
    }
    if let Some(edit) = event.get("message_edit") {
        let Some(mid) = text(edit, "mid") else {
            return unsupported("edit without mid");
        };
        let edit_count = edit.get("num_edit").and_then(Value::as_i64).unwrap_or(0);
        let e = MessageEdit {
            platform,
            message_id: mid.clone(),
            customer_id: sender,
            text: text(edit, "text"),
            edit_count,
            at: when,
        };
        return (format!("{p}:edit:{mid}:{edit_count}"), at, Event::Edit(e));
    }
    if let Some(reaction) = event.get("reaction") {
        let Some(mid) = text(reaction, "mid") else {
            return unsupported("reaction without mid");
        };
        let action = text(reaction, "action").unwrap_or_else(|| "react".into());
        let emoji = if action == "unreact" {
            None
        } else {
            text(reaction, "emoji").or_else(|| text(reaction, "reaction"))
        };
        let key = format!(
            "{p}:reaction:{sender}:{mid}:{action}:{}:{}",
            emoji.clone().unwrap_or_default(),
            when.timestamp_millis()
        );
        let r = Reaction {
            platform,
            id: None,
            message_id: mid,
            customer: Customer {
                id: sender,
                ..Customer::default()
            },
            emoji,
            at: when,
        };
        return (key, at, Event::Reaction(r));
    }
    if let Some(read) = event.get("read") {
        let watermark = millis(read, "watermark");
        let message_id = text(read, "mid");
        let mark = message_id
            .clone()
            .or_else(|| watermark.map(|w| w.timestamp_millis().to_string()))
            .unwrap_or_default();
        let r = ReadReceipt {
            platform,
            customer_id: sender.clone(),
            watermark,
            message_id,
            at: when,
        };
        return (format!("{p}:read:{sender}:{mark}"), at, Event::Read(r));
    }
    if let Some(delivery) = event.get("delivery") {
        let watermark = millis(delivery, "watermark");
        let message_ids: Vec<String> = delivery
            .get("mids")
            .and_then(Value::as_array)
            .map(|m| {
                m.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mark = watermark
            .map(|w| w.timestamp_millis().to_string())
            .unwrap_or_else(|| message_ids.join(","));
        let d = DeliveryReceipt {
            platform,
            customer_id: sender.clone(),
            message_ids,
            watermark,
            at: when,
        };
        return (
            format!("{p}:delivery:{sender}:{mark}"),
            at,
            Event::Delivery(d),
        );
    }
    if let Some(postback) = event.get("postback") {
        let id = text(postback, "mid");
        let key = match &id {
            Some(mid) => format!("{p}:postback:{mid}"),
            None => format!("{p}:postback:{sender}:{}", when.timestamp_millis()),
        };
        let pb = Postback {
            platform,
            customer_id: sender,
            id,
            title: text(postback, "title"),
            payload: text(postback, "payload"),
            referral: postback.get("referral").map(referral),
            at: when,
        };
        return (key, at, Event::Postback(pb));
    }
    if let Some(r) = event.get("referral") {
        let key = format!("{p}:referral:{sender}:{}", when.timestamp_millis());
        return (
            key,
            at,
            Event::Referral(ReferralEvent {
                platform,
                customer_id: sender,
                referral: referral(r),
                at: when,
            }),
        );
    }
    unsupported("messaging event of an unknown kind")
}

fn message_content(message: &Value) -> Content {
    let body = text(message, "text");
    if let Some(quick) = message.get("quick_reply") {
        return Content::QuickReply {
            text: body.unwrap_or_default(),
            payload: text(quick, "payload").unwrap_or_default(),
        };
    }
    let attachments: Vec<Attachment> = message
        .get("attachments")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|a| {
                    let payload = a.get("payload").unwrap_or(&Value::Null);
                    Attachment {
                        kind: text(a, "type").unwrap_or_else(|| "unknown".into()),
                        url: text(payload, "url"),
                        title: text(payload, "title").or_else(|| text(a, "title")),
                        sticker_id: text(payload, "sticker_id"),
                        raw: a.clone(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if !attachments.is_empty() {
        return Content::Attachments {
            text: body,
            items: attachments,
        };
    }
    match body {
        Some(body) => Content::Text { body },
        None => Content::Unsupported {
            kind: if message.get("is_unsupported").is_some() {
                "unsupported".into()
            } else {
                "empty".into()
            },
            raw: message.clone(),
        },
    }
}
