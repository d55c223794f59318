//! `object: "whatsapp_business_account"` bodies.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::types::*;
use super::{derived_key, unsupported_item};

const OBJECT: &str = "whatsapp_business_account";

/// A string field (Meta sends some ids as numbers).
pub(crate) fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// WhatsApp timestamps: epoch seconds, usually as a string.
fn seconds(v: &Value, key: &str) -> Option<DateTime<Utc>> {
    let secs = match v.get(key)? {
        Value::String(s) => s.trim().parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    DateTime::from_timestamp(secs, 0)
}

pub(crate) fn errors(v: &Value) -> Vec<PlatformError> {
    array(v, "errors")
        .iter()
        .filter_map(|e| {
            Some(PlatformError {
                code: e.get("code")?.as_i64()?,
                title: text(e, "title"),
                message: text(e, "message"),
                details: e.get("error_data").and_then(|d| text(d, "details")),
            })
        })
        .collect()
}

pub(crate) fn parse_entry(entry: &Value, items: &mut Vec<WebhookItem>) {
    let waba_id = text(entry, "id").unwrap_or_default();
    let changes = array(entry, "changes");
    if changes.is_empty() {
        items.push(unsupported_item(
            OBJECT,
            account_route(&waba_id),
            entry,
            "entry without changes".into(),
        ));
    }
    for change in changes {
        let field = change
            .get("field")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let value = change.get("value").unwrap_or(&Value::Null);
        match field {
            "messages" => parse_messages_value(&waba_id, value, items),
            "message_template_status_update" => {
                items.push(template_status(&waba_id, value, change))
            }
            "account_update" => items.push(account_item(&waba_id, change, |v| {
                Event::AccountUpdate(AccountUpdate {
                    event: text(v, "event").unwrap_or_default(),
                    raw: v.clone(),
                })
            })),
            "phone_number_quality_update" => items.push(account_item(&waba_id, change, |v| {
                Event::PhoneNumberQuality(PhoneNumberQuality {
                    event: text(v, "event").unwrap_or_default(),
                    display_phone_number: text(v, "display_phone_number"),
                    current_limit: text(v, "current_limit"),
                })
            })),
            "user_preferences" => parse_user_preferences(&waba_id, value, change, items),
            _ => items.push(change_item(
                &waba_id,
                account_route(&waba_id),
                change.clone(),
                derived_key(&format!("whatsapp:{field}"), change),
                None,
                Event::Unsupported(Unsupported {
                    reason: format!("webhook field {field:?}"),
                    raw: change.clone(),
                }),
            )),
        }
    }
}

fn account_route(waba_id: &str) -> Route {
    if waba_id.is_empty() {
        Route::Unroutable
    } else {
        Route::WhatsAppAccount(waba_id.to_string())
    }
}

fn change_item(
    waba_id: &str,
    route: Route,
    change: Value,
    key: String,
    at: Option<DateTime<Utc>>,
    event: Event,
) -> WebhookItem {
    WebhookItem {
        route,
        key,
        at,
        envelope: envelope(waba_id, change),
        event,
    }
}

/// `{"object": "whatsapp_business_account", "entry": [{"id": waba_id, "changes": [change]}]}`,
/// with the change moved in (`json!` would copy it by serializing it; parsing a backlog builds
/// one envelope per item).
fn envelope(waba_id: &str, change: Value) -> Value {
    let mut entry = serde_json::Map::new();
    entry.insert("id".into(), waba_id.into());
    entry.insert("changes".into(), Value::Array(vec![change]));
    let mut body = serde_json::Map::new();
    body.insert("object".into(), OBJECT.into());
    body.insert("entry".into(), Value::Array(vec![Value::Object(entry)]));
    Value::Object(body)
}

fn account_item(waba_id: &str, change: &Value, event: impl Fn(&Value) -> Event) -> WebhookItem {
    let field = change
        .get("field")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let value = change.get("value").unwrap_or(&Value::Null);
    change_item(
        waba_id,
        account_route(waba_id),
        change.clone(),
        derived_key(&format!("whatsapp:{field}"), change),
        None,
        event(value),
    )
}

fn template_status(waba_id: &str, value: &Value, change: &Value) -> WebhookItem {
    let status = TemplateStatus {
        event: text(value, "event").unwrap_or_default(),
        template_id: text(value, "message_template_id").unwrap_or_default(),
        name: text(value, "message_template_name"),
        language: text(value, "message_template_language"),
        category: text(value, "message_template_category"),
        reason: text(value, "reason"),
        details: value
            .pointer("/other_info/description")
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    let key = format!(
        "whatsapp:template:{}:{}:{}",
        status.template_id,
        status.event,
        derived_key("v", value)
    );
    change_item(
        waba_id,
        account_route(waba_id),
        change.clone(),
        key,
        None,
        Event::TemplateStatus(status),
    )
}

fn parse_user_preferences(
    waba_id: &str,
    value: &Value,
    change: &Value,
    items: &mut Vec<WebhookItem>,
) {
    let route = phone_route(waba_id, value);
    for pref in array(value, "user_preferences") {
        let customer = Customer {
            id: text(pref, "user_id")
                .or_else(|| text(pref, "wa_id"))
                .unwrap_or_default(),
            phone: text(pref, "wa_id"),
            ..Customer::default()
        };
        let event = Event::UserPreference(UserPreference {
            category: text(pref, "category").unwrap_or_default(),
            value: text(pref, "value").unwrap_or_default(),
            at: seconds(pref, "timestamp"),
            customer,
        });
        let mut single = change.clone();
        single["value"]["user_preferences"] = json!([pref]);
        items.push(change_item(
            waba_id,
            route.clone(),
            single,
            derived_key("whatsapp:user_preferences", pref),
            seconds(pref, "timestamp"),
            event,
        ));
    }
}

fn phone_route(waba_id: &str, value: &Value) -> Route {
    match value
        .get("metadata")
        .and_then(|m| text(m, "phone_number_id"))
    {
        Some(id) => Route::WhatsAppPhoneNumber(id),
        None => account_route(waba_id),
    }
}

/// A `messages` change: inbound messages, statuses and/or errors, each made its own item.
fn parse_messages_value(waba_id: &str, value: &Value, items: &mut Vec<WebhookItem>) {
    let route = phone_route(waba_id, value);
    let contacts = array(value, "contacts");
    let base = single_change_base(value);
    let single =
        |key: &str, item: &Value, contact: Option<&Value>| single_change(&base, key, item, contact);
    for message in array(value, "messages") {
        let contact = find_contact(contacts, message);
        let change = single("messages", message, contact);
        let (key, at, event) = inbound(message, contact);
        items.push(change_item(waba_id, route.clone(), change, key, at, event));
    }
    for status in array(value, "statuses") {
        let contact = find_contact(contacts, status);
        let change = single("statuses", status, contact);
        let (key, at, event) = status_event(status);
        items.push(change_item(waba_id, route.clone(), change, key, at, event));
    }
    let value_errors = errors(value);
    if !value_errors.is_empty() {
        let mut change = single("errors", &Value::Null, None);
        change["value"]["errors"] = value.get("errors").cloned().unwrap_or(Value::Null);
        let key = derived_key("whatsapp:errors", &change);
        items.push(change_item(
            waba_id,
            route.clone(),
            change,
            key,
            None,
            Event::PlatformErrors(value_errors),
        ));
    }
    if array(value, "messages").is_empty()
        && array(value, "statuses").is_empty()
        && array(value, "errors").is_empty()
    {
        let change = json!({ "field": "messages", "value": value });
        let key = derived_key("whatsapp:messages", &change);
        let event = Event::Unsupported(Unsupported {
            reason: "messages change with nothing in it".into(),
            raw: value.clone(),
        });
        items.push(change_item(waba_id, route, change, key, None, event));
    }
}

/// What every single-item envelope keeps from the original value.
fn single_change_base(value: &Value) -> serde_json::Map<String, Value> {
    let mut base = serde_json::Map::new();
    for key in ["messaging_product", "metadata"] {
        if let Some(v) = value.get(key) {
            base.insert(key.into(), v.clone());
        }
    }
    base
}

/// A `messages` change holding one item (under `key`) and its contact. Built from parts rather
/// than with `json!`, which would copy every value it is given once more (by serializing it).
fn single_change(
    base: &serde_json::Map<String, Value>,
    key: &str,
    item: &Value,
    contact: Option<&Value>,
) -> Value {
    let mut v = base.clone();
    if let Some(c) = contact {
        v.insert("contacts".into(), Value::Array(vec![c.clone()]));
    }
    v.insert(key.into(), Value::Array(vec![item.clone()]));
    let mut change = serde_json::Map::new();
    change.insert("field".into(), "messages".into());
    change.insert("value".into(), Value::Object(v));
    Value::Object(change)
}

fn find_contact<'a>(contacts: &'a [Value], item: &Value) -> Option<&'a Value> {
    let from = text(item, "from").or_else(|| text(item, "recipient_id"));
    let user = text(item, "from_user_id").or_else(|| text(item, "recipient_user_id"));
    contacts
        .iter()
        .find(|c| {
            (user.is_some() && text(c, "user_id") == user)
                || (from.is_some() && text(c, "wa_id") == from)
        })
        .or(if contacts.len() == 1 {
            contacts.first()
        } else {
            None
        })
}

fn customer(message: &Value, contact: Option<&Value>) -> Customer {
    let contact = contact.unwrap_or(&Value::Null);
    let profile = contact.get("profile").unwrap_or(&Value::Null);
    let user_id = text(message, "from_user_id").or_else(|| text(contact, "user_id"));
    let phone = text(message, "from").or_else(|| text(contact, "wa_id"));
    Customer {
        id: user_id
            .clone()
            .or_else(|| phone.clone())
            .unwrap_or_default(),
        phone,
        username: text(profile, "username"),
        name: text(profile, "name"),
        parent_user_id: text(contact, "parent_user_id")
            .or_else(|| text(message, "from_parent_user_id")),
    }
}

fn inbound(message: &Value, contact: Option<&Value>) -> (String, Option<DateTime<Utc>>, Event) {
    let id = text(message, "id").unwrap_or_default();
    let at = seconds(message, "timestamp");
    let kind = text(message, "type").unwrap_or_default();
    let customer = customer(message, contact);
    if id.is_empty() || customer.id.is_empty() {
        let key = derived_key("whatsapp:message", message);
        return (
            key,
            at,
            Event::Unsupported(Unsupported {
                reason: "message without id or sender".into(),
                raw: message.clone(),
            }),
        );
    }
    let key = format!("whatsapp:message:{id}");
    let sent_at = at.unwrap_or(DateTime::UNIX_EPOCH);
    if kind == "reaction" {
        let reaction = message.get("reaction").unwrap_or(&Value::Null);
        let event = Event::Reaction(Reaction {
            platform: Platform::WhatsApp,
            id: Some(id),
            message_id: text(reaction, "message_id").unwrap_or_default(),
            customer,
            emoji: text(reaction, "emoji").filter(|e| !e.is_empty()),
            at: sent_at,
        });
        return (key, at, event);
    }
    let event = Event::Message(Box::new(Message {
        id,
        platform: Platform::WhatsApp,
        direction: Direction::Inbound,
        customer,
        app_id: None,
        sent_at,
        context: context(message.get("context")),
        referral: message.get("referral").map(referral),
        content: content(&kind, message),
        errors: errors(message),
    }));
    (key, at, event)
}

fn context(context: Option<&Value>) -> Option<MessageContext> {
    let c = context?;
    let referred_product = c.get("referred_product").map(|p| {
        (
            text(p, "catalog_id").unwrap_or_default(),
            text(p, "product_retailer_id").unwrap_or_default(),
        )
    });
    Some(MessageContext {
        quoted_id: text(c, "id"),
        quoted_from: text(c, "from"),
        forwarded: flag(c, "forwarded"),
        frequently_forwarded: flag(c, "frequently_forwarded"),
        referred_product,
        story: None,
    })
}

pub(crate) fn referral(r: &Value) -> Referral {
    Referral {
        source_type: text(r, "source_type").or_else(|| text(r, "source")),
        source_id: text(r, "source_id").or_else(|| text(r, "ad_id")),
        source_url: text(r, "source_url"),
        headline: text(r, "headline"),
        body: text(r, "body"),
        reference: text(r, "ref"),
        ctwa_clid: text(r, "ctwa_clid"),
        raw: r.clone(),
    }
}

fn media(kind: MediaKind, m: &Value) -> Content {
    Content::Media(Media {
        kind,
        id: text(m, "id"),
        url: text(m, "url").or_else(|| text(m, "link")),
        mime_type: text(m, "mime_type"),
        sha256: text(m, "sha256"),
        caption: text(m, "caption"),
        filename: text(m, "filename"),
        voice: flag(m, "voice"),
        animated: flag(m, "animated"),
    })
}

fn content(kind: &str, message: &Value) -> Content {
    let part = message.get(kind).unwrap_or(&Value::Null);
    let understood = match kind {
        "text" => text(part, "body").map(|body| Content::Text { body }),
        "image" => Some(media(MediaKind::Image, part)),
        "video" => Some(media(MediaKind::Video, part)),
        "audio" => Some(media(MediaKind::Audio, part)),
        "document" => Some(media(MediaKind::Document, part)),
        "sticker" => Some(media(MediaKind::Sticker, part)),
        "location" => location(part),
        "contacts" => Some(shared_contacts(message)),
        "interactive" => Some(interactive_reply(part)),
        "button" => Some(Content::TemplateButton {
            text: text(part, "text").unwrap_or_default(),
            payload: text(part, "payload"),
        }),
        "order" => Some(order(part)),
        "system" => Some(Content::System(SystemNotice {
            kind: text(part, "type").unwrap_or_default(),
            body: text(part, "body"),
            new_wa_id: text(part, "wa_id").or_else(|| text(part, "new_wa_id")),
            user_id: text(part, "user_id"),
        })),
        "request_welcome" => Some(Content::RequestWelcome),
        _ => None,
    };
    understood.unwrap_or_else(|| Content::Unsupported {
        kind: kind.to_string(),
        raw: message.clone(),
    })
}

/// A shared location: `None` without its coordinates.
fn location(part: &Value) -> Option<Content> {
    Some(Content::Location(Location {
        latitude: part.get("latitude").and_then(Value::as_f64)?,
        longitude: part.get("longitude").and_then(Value::as_f64)?,
        name: text(part, "name"),
        address: text(part, "address"),
        url: text(part, "url"),
    }))
}

/// Contact cards the customer shared (the message's `contacts` list).
fn shared_contacts(message: &Value) -> Content {
    Content::Contacts(
        array(message, "contacts")
            .iter()
            .map(|c| SharedContact {
                name: c
                    .get("name")
                    .and_then(|n| text(n, "formatted_name"))
                    .unwrap_or_default(),
                phones: array(c, "phones")
                    .iter()
                    .filter_map(|p| text(p, "phone"))
                    .collect(),
                emails: array(c, "emails")
                    .iter()
                    .filter_map(|e| text(e, "email"))
                    .collect(),
                organization: c.get("org").and_then(|o| text(o, "company")),
                raw: c.clone(),
            })
            .collect(),
    )
}

/// The customer's answer to an interactive message: a button, a list row, a flow, a
/// call permission.
fn interactive_reply(part: &Value) -> Content {
    let sub = text(part, "type").unwrap_or_default();
    let reply = part.get(&sub).unwrap_or(&Value::Null);
    let kind = match sub.as_str() {
        "button_reply" => InteractiveKind::ButtonReply,
        "list_reply" => InteractiveKind::ListReply,
        "nfm_reply" => InteractiveKind::FlowReply,
        "call_permission_reply" => InteractiveKind::CallPermissionReply,
        other => InteractiveKind::Other(other.to_string()),
    };
    Content::InteractiveReply(InteractiveReply {
        kind,
        id: text(reply, "id"),
        title: text(reply, "title").or_else(|| text(reply, "name")),
        description: text(reply, "description").or_else(|| text(reply, "body")),
        response_json: text(reply, "response_json"),
        raw: part.clone(),
    })
}

/// An order from the catalog: its items, quantities and prices.
fn order(part: &Value) -> Content {
    Content::Order(Order {
        catalog_id: text(part, "catalog_id"),
        text: text(part, "text"),
        items: array(part, "product_items")
            .iter()
            .map(|i| OrderItem {
                product_retailer_id: text(i, "product_retailer_id").unwrap_or_default(),
                quantity: number(i, "quantity"),
                item_price: number(i, "item_price"),
                currency: text(i, "currency").unwrap_or_default(),
            })
            .collect(),
    })
}

fn number(v: &Value, key: &str) -> f64 {
    match v.get(key) {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn status_event(status: &Value) -> (String, Option<DateTime<Utc>>, Event) {
    let id = text(status, "id").unwrap_or_default();
    let state = DeliveryState::parse(&text(status, "status").unwrap_or_default());
    let at = seconds(status, "timestamp");
    if id.is_empty() {
        return (
            derived_key("whatsapp:status", status),
            at,
            Event::Unsupported(Unsupported {
                reason: "status without id".into(),
                raw: status.clone(),
            }),
        );
    }
    let key = format!("whatsapp:status:{id}:{}", state.as_str());
    let event = Event::Status(Status {
        message_id: id,
        state,
        at: at.unwrap_or(DateTime::UNIX_EPOCH),
        recipient_phone: text(status, "recipient_id"),
        recipient_user_id: text(status, "recipient_user_id"),
        callback_data: text(status, "biz_opaque_callback_data"),
        pricing_category: status.get("pricing").and_then(|p| text(p, "category")),
        errors: errors(status),
    });
    (key, at, event)
}
