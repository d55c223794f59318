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

/// What every Messenger and Instagram event carries: the platform, who wrote to whom, and when.
struct Head<'a> {
    platform: Platform,
    /// The Page or Instagram account the entry is for.
    entry_id: &'a str,
    sender: String,
    recipient: String,
    /// The event's time, or the epoch when it has none.
    when: DateTime<Utc>,
}

impl Head<'_> {
    /// The platform's name, which every key starts with.
    fn prefix(&self) -> &'static str {
        self.platform.as_str()
    }
}

/// An event understood: its idempotency key and what it says. `Err` tells why it was not.
type Parsed = Result<(String, Event), &'static str>;

/// Reads one kind of messaging event from the field that carries it.
type ParseKind = fn(&Head<'_>, &Value) -> Parsed;

/// The kinds of messaging event, by the field that carries each, in the order they are tried.
const EVENT_KINDS: [(&str, ParseKind); 7] = [
    ("message", message_event),
    ("message_edit", edit_event),
    ("reaction", reaction_event),
    ("read", read_event),
    ("delivery", delivery_event),
    ("postback", postback_event),
    ("referral", referral_event),
];

fn messaging_event(
    platform: Platform,
    entry_id: &str,
    event: &Value,
) -> (String, Option<DateTime<Utc>>, Event) {
    let at = millis(event, "timestamp");
    let head = Head {
        platform,
        entry_id,
        sender: id_of(event, "sender").unwrap_or_default(),
        recipient: id_of(event, "recipient").unwrap_or_default(),
        when: at.unwrap_or(DateTime::UNIX_EPOCH),
    };
    let parsed = EVENT_KINDS
        .iter()
        .find_map(|(field, parse)| event.get(*field).map(|part| parse(&head, part)))
        .unwrap_or(Err("messaging event of an unknown kind"));
    match parsed {
        Ok((key, parsed)) => (key, at, parsed),
        Err(reason) => (
            derived_key(&format!("{}:event", head.prefix()), event),
            at,
            Event::Unsupported(Unsupported {
                reason: reason.to_string(),
                raw: event.clone(),
            }),
        ),
    }
}

/// A message from the customer, or the echo of one the business sent (or its deletion).
fn message_event(head: &Head<'_>, message: &Value) -> Parsed {
    let p = head.prefix();
    let mid = text(message, "mid").ok_or("message without mid")?;
    let is_echo = message
        .get("is_echo")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || (!head.entry_id.is_empty()
            && head.sender == head.entry_id
            && head.recipient != head.entry_id);
    // For an echo, the sender is the business and the customer is the recipient.
    let customer_id = if is_echo {
        head.recipient.clone()
    } else {
        head.sender.clone()
    };
    if customer_id.is_empty() {
        return Err("message without a customer");
    }
    if message
        .get("is_deleted")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        let deleted = MessageDeleted {
            platform: head.platform,
            message_id: mid.clone(),
            customer_id,
            at: head.when,
        };
        return Ok((format!("{p}:deleted:{mid}"), Event::Deleted(deleted)));
    }
    let context = message.get("reply_to").map(|r| MessageContext {
        quoted_id: text(r, "mid"),
        story: r.get("story").map(|s| (text(s, "id"), text(s, "url"))),
        ..MessageContext::default()
    });
    let msg = Message {
        id: mid.clone(),
        platform: head.platform,
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
        sent_at: head.when,
        context,
        referral: message.get("referral").map(referral),
        content: message_content(message),
        errors: Vec::new(),
    };
    Ok((format!("{p}:message:{mid}"), Event::Message(Box::new(msg))))
}

/// The customer edited a message.
fn edit_event(head: &Head<'_>, edit: &Value) -> Parsed {
    let mid = text(edit, "mid").ok_or("edit without mid")?;
    let edit_count = edit.get("num_edit").and_then(Value::as_i64).unwrap_or(0);
    let e = MessageEdit {
        platform: head.platform,
        message_id: mid.clone(),
        customer_id: head.sender.clone(),
        text: text(edit, "text"),
        edit_count,
        at: head.when,
    };
    let key = format!("{}:edit:{mid}:{edit_count}", head.prefix());
    Ok((key, Event::Edit(e)))
}

/// The customer reacted to a message (or took the reaction back).
fn reaction_event(head: &Head<'_>, reaction: &Value) -> Parsed {
    let mid = text(reaction, "mid").ok_or("reaction without mid")?;
    let action = text(reaction, "action").unwrap_or_else(|| "react".into());
    let emoji = if action == "unreact" {
        None
    } else {
        text(reaction, "emoji").or_else(|| text(reaction, "reaction"))
    };
    let key = format!(
        "{}:reaction:{}:{mid}:{action}:{}:{}",
        head.prefix(),
        head.sender,
        emoji.clone().unwrap_or_default(),
        head.when.timestamp_millis()
    );
    let r = Reaction {
        platform: head.platform,
        id: None,
        message_id: mid,
        customer: Customer {
            id: head.sender.clone(),
            ..Customer::default()
        },
        emoji,
        at: head.when,
    };
    Ok((key, Event::Reaction(r)))
}

/// The customer read the conversation up to a message or a time.
fn read_event(head: &Head<'_>, read: &Value) -> Parsed {
    let watermark = millis(read, "watermark");
    let message_id = text(read, "mid");
    let mark = message_id
        .clone()
        .or_else(|| watermark.map(|w| w.timestamp_millis().to_string()))
        .unwrap_or_default();
    let r = ReadReceipt {
        platform: head.platform,
        customer_id: head.sender.clone(),
        watermark,
        message_id,
        at: head.when,
    };
    let key = format!("{}:read:{}:{mark}", head.prefix(), head.sender);
    Ok((key, Event::Read(r)))
}

/// Messages reached the customer.
fn delivery_event(head: &Head<'_>, delivery: &Value) -> Parsed {
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
        platform: head.platform,
        customer_id: head.sender.clone(),
        message_ids,
        watermark,
        at: head.when,
    };
    let key = format!("{}:delivery:{}:{mark}", head.prefix(), head.sender);
    Ok((key, Event::Delivery(d)))
}

/// The customer tapped a button.
fn postback_event(head: &Head<'_>, postback: &Value) -> Parsed {
    let p = head.prefix();
    let id = text(postback, "mid");
    let key = match &id {
        Some(mid) => format!("{p}:postback:{mid}"),
        None => format!(
            "{p}:postback:{}:{}",
            head.sender,
            head.when.timestamp_millis()
        ),
    };
    let pb = Postback {
        platform: head.platform,
        customer_id: head.sender.clone(),
        id,
        title: text(postback, "title"),
        payload: text(postback, "payload"),
        referral: postback.get("referral").map(referral),
        at: head.when,
    };
    Ok((key, Event::Postback(pb)))
}

/// The customer came through a link, an ad or a QR code.
fn referral_event(head: &Head<'_>, r: &Value) -> Parsed {
    let key = format!(
        "{}:referral:{}:{}",
        head.prefix(),
        head.sender,
        head.when.timestamp_millis()
    );
    let event = ReferralEvent {
        platform: head.platform,
        customer_id: head.sender.clone(),
        referral: referral(r),
        at: head.when,
    };
    Ok((key, Event::Referral(event)))
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
