//! Every payload under `tests/corpus/*.json` (written from Meta's documented shapes) must yield
//! exactly the items listed in its `.expected` file, one line per item.
//! After an intended change, refresh with `ZENTRO_UPDATE_CORPUS=1 cargo test -p zentro-meta corpus`
//! and review the diff.

use std::fmt::Write;
use std::path::Path;

use zentro_meta::webhook::{self, Content, Event, InteractiveKind, WebhookItem};

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

fn content(c: &Content) -> String {
    match c {
        Content::Text { body } => format!("text {body:?}"),
        Content::Media(m) => format!(
            "{} id={} mime={} caption={:?} file={} url={}{}{}",
            m.kind.as_str(),
            opt(&m.id),
            opt(&m.mime_type),
            m.caption.as_deref().unwrap_or(""),
            opt(&m.filename),
            m.url.is_some(),
            if m.voice { " voice" } else { "" },
            if m.animated { " animated" } else { "" }
        ),
        Content::Attachments { text, items } => {
            let list: Vec<String> = items
                .iter()
                .map(|a| format!("{}{}", a.kind, if a.url.is_some() { "+url" } else { "" }))
                .collect();
            format!(
                "attachments [{}] text={:?}",
                list.join(", "),
                text.as_deref().unwrap_or("")
            )
        }
        Content::Location(l) => format!("location {},{} {}", l.latitude, l.longitude, opt(&l.name)),
        Content::Contacts(cs) => {
            let list: Vec<String> = cs
                .iter()
                .map(|c| {
                    format!(
                        "{} {:?} {:?} {}",
                        c.name,
                        c.phones,
                        c.emails,
                        opt(&c.organization)
                    )
                })
                .collect();
            format!("contacts [{}]", list.join("; "))
        }
        Content::InteractiveReply(r) => {
            let kind = match &r.kind {
                InteractiveKind::ButtonReply => "button_reply".to_string(),
                InteractiveKind::ListReply => "list_reply".to_string(),
                InteractiveKind::FlowReply => "flow_reply".to_string(),
                InteractiveKind::CallPermissionReply => "call_permission_reply".to_string(),
                InteractiveKind::Other(o) => format!("other:{o}"),
            };
            format!(
                "interactive {kind} id={} title={} desc={} json={}",
                opt(&r.id),
                opt(&r.title),
                opt(&r.description),
                opt(&r.response_json)
            )
        }
        Content::TemplateButton { text, payload } => {
            format!("template_button {text:?} payload={}", opt(payload))
        }
        Content::QuickReply { text, payload } => format!("quick_reply {text:?} payload={payload}"),
        Content::Order(o) => {
            let items: Vec<String> = o
                .items
                .iter()
                .map(|i| {
                    format!(
                        "{}x{}@{}{}",
                        i.quantity, i.product_retailer_id, i.item_price, i.currency
                    )
                })
                .collect();
            format!(
                "order catalog={} [{}] text={}",
                opt(&o.catalog_id),
                items.join(", "),
                opt(&o.text)
            )
        }
        Content::System(s) => format!(
            "system {} new_wa_id={} user_id={}",
            s.kind,
            opt(&s.new_wa_id),
            opt(&s.user_id)
        ),
        Content::RequestWelcome => "request_welcome".into(),
        Content::Unsupported { kind, .. } => format!("unsupported type={kind}"),
    }
}

fn describe(item: &WebhookItem) -> String {
    let mut line = format!(
        "{} | {:?} | {} | ",
        item.key,
        item.route,
        item.at
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "-".into())
    );
    let event = match &item.event {
        Event::Message(m) => {
            let mut s = format!(
                "message {} {:?} customer={} phone={} name={} username={} {}",
                m.platform.as_str(),
                m.direction,
                m.customer.id,
                opt(&m.customer.phone),
                opt(&m.customer.name),
                opt(&m.customer.username),
                content(&m.content)
            );
            if let Some(c) = &m.context {
                let _ = write!(
                    s,
                    " context(quoted={} forwarded={} frequently={} product={:?} story={:?})",
                    opt(&c.quoted_id),
                    c.forwarded,
                    c.frequently_forwarded,
                    c.referred_product,
                    c.story
                );
            }
            if let Some(r) = &m.referral {
                let _ = write!(
                    s,
                    " referral({} {} ctwa={})",
                    opt(&r.source_type),
                    opt(&r.source_id),
                    r.ctwa_clid.is_some()
                );
            }
            if let Some(app) = &m.app_id {
                let _ = write!(s, " app={app}");
            }
            if !m.errors.is_empty() {
                let _ = write!(
                    s,
                    " errors={:?}",
                    m.errors.iter().map(|e| e.code).collect::<Vec<_>>()
                );
            }
            s
        }
        Event::Status(s) => format!(
            "status {} {} user={} cb={} pricing={} errors={:?}",
            s.message_id,
            s.state.as_str(),
            opt(&s.recipient_user_id),
            opt(&s.callback_data),
            opt(&s.pricing_category),
            s.errors
                .iter()
                .map(|e| (e.code, e.details.clone().unwrap_or_default()))
                .collect::<Vec<_>>()
        ),
        Event::Reaction(r) => format!(
            "reaction {} on={} by={} emoji={}",
            r.platform.as_str(),
            r.message_id,
            r.customer.id,
            r.emoji.as_deref().unwrap_or("(removed)")
        ),
        Event::Read(r) => format!(
            "read {} by={} watermark={:?} mid={}",
            r.platform.as_str(),
            r.customer_id,
            r.watermark.map(|w| w.timestamp_millis()),
            opt(&r.message_id)
        ),
        Event::Delivery(d) => format!(
            "delivery {} by={} mids={:?} watermark={:?}",
            d.platform.as_str(),
            d.customer_id,
            d.message_ids,
            d.watermark.map(|w| w.timestamp_millis())
        ),
        Event::Edit(e) => format!(
            "edit {} {} -> {:?} (#{})",
            e.platform.as_str(),
            e.message_id,
            e.text.as_deref().unwrap_or(""),
            e.edit_count
        ),
        Event::Deleted(d) => format!(
            "deleted {} {} by={}",
            d.platform.as_str(),
            d.message_id,
            d.customer_id
        ),
        Event::Postback(p) => format!(
            "postback {} by={} title={} payload={}",
            p.platform.as_str(),
            p.customer_id,
            opt(&p.title),
            opt(&p.payload)
        ),
        Event::Referral(r) => format!(
            "referral {} by={} ref={} source={}",
            r.platform.as_str(),
            r.customer_id,
            opt(&r.referral.reference),
            opt(&r.referral.source_type)
        ),
        Event::TemplateStatus(t) => format!(
            "template {} {} {} {} reason={}",
            t.template_id,
            opt(&t.name),
            opt(&t.language),
            t.event,
            opt(&t.reason)
        ),
        Event::AccountUpdate(a) => format!("account_update {}", a.event),
        Event::PhoneNumberQuality(q) => format!(
            "phone_quality {} {} limit={}",
            q.event,
            opt(&q.display_phone_number),
            opt(&q.current_limit)
        ),
        Event::UserPreference(p) => format!(
            "user_preference {} {} {} phone={}",
            p.customer.id,
            p.category,
            p.value,
            opt(&p.customer.phone)
        ),
        Event::PlatformErrors(es) => {
            format!("errors {:?}", es.iter().map(|e| e.code).collect::<Vec<_>>())
        }
        Event::Unsupported(u) => format!("unsupported ({})", u.reason),
    };
    line.push_str(&event);
    line
}

#[test]
fn every_corpus_payload_yields_exactly_its_expected_items() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the corpus is missing");
    let update = std::env::var_os("ZENTRO_UPDATE_CORPUS").is_some();
    let mut failures = Vec::new();
    for file in files {
        let body = std::fs::read(&file).unwrap();
        let items = webhook::parse(&body).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let actual: String = items.iter().map(|i| describe(i) + "\n").collect();
        let expected_path = file.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- actual\n{actual}",
                file.display()
            ));
        }
        // Each item's envelope parses back to exactly that item.
        for item in &items {
            let again = webhook::parse_value(&item.envelope).unwrap();
            assert_eq!(
                again.len(),
                1,
                "{}: envelope of {} yields {} items",
                file.display(),
                item.key,
                again.len()
            );
            assert_eq!(
                &again[0],
                item,
                "{}: envelope of {} does not round-trip",
                file.display(),
                item.key
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn keys_are_unique_within_the_corpus_except_true_redeliveries() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let body = std::fs::read(dir.join("wa_statuses.json")).unwrap();
    let items = webhook::parse(&body).unwrap();
    let keys: std::collections::HashSet<_> = items.iter().map(|i| i.key.clone()).collect();
    assert_eq!(
        keys.len(),
        items.len(),
        "sent, delivered and read of one message are three distinct events"
    );
}

#[test]
fn a_redelivered_body_yields_the_same_keys() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    for name in [
        "wa_media_album.json",
        "messenger_events.json",
        "wa_account_fields.json",
    ] {
        let body = std::fs::read(dir.join(name)).unwrap();
        let first: Vec<_> = webhook::parse(&body)
            .unwrap()
            .into_iter()
            .map(|i| i.key)
            .collect();
        // Meta re-sends the same notification, possibly re-ordered inside a new batch.
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let again: Vec<_> = webhook::parse(value.to_string().as_bytes())
            .unwrap()
            .into_iter()
            .map(|i| i.key)
            .collect();
        assert_eq!(first, again, "{name}");
    }
}

#[test]
fn bodies_that_are_not_notifications_are_errors_not_panics() {
    assert!(webhook::parse(b"").is_err());
    assert!(webhook::parse(b"[]").is_err());
    assert!(webhook::parse(b"{\"entry\":[]}").is_err());
    assert_eq!(webhook::parse(b"{\"object\":\"page\"}").unwrap(), vec![]);
}
