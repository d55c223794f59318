//! WhatsApp Cloud API sends: `POST /{phone-number-id}/messages`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::GraphError;
use crate::platform;
use crate::webhook::MediaKind;

/// Who to send to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A phone number (E.164 digits; a leading `+` is tolerated).
    Phone(String),
    /// A business-scoped user id (for customers who hide their number).
    UserId(String),
}

/// A media file to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    /// A media id returned by an upload.
    Id(String),
    /// A public HTTPS link Meta fetches.
    Link(String),
}

/// A template parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateParameter {
    /// A text variable, positional or named (`parameter_name`).
    Text {
        /// What replaces the variable in the template's text.
        text: String,
        /// The variable's name for named templates.
        name: Option<String>,
    },
    /// A header image.
    Image(MediaSource),
    /// A header document.
    Document {
        /// An uploaded media id, or a link Meta fetches.
        source: MediaSource,
        /// Its file name.
        filename: Option<String>,
    },
    /// A header video.
    Video(MediaSource),
    /// A quick-reply button payload.
    Payload(String),
}

impl TemplateParameter {
    /// A positional text variable (`{{1}}`, `{{2}}`…, in the order given).
    pub fn text(value: impl Into<String>) -> Self {
        Self::Text {
            text: value.into(),
            name: None,
        }
    }
}

/// Which part of a template a set of parameters fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateComponentKind {
    /// The header (text, image, video or document).
    Header,
    /// The main text, with its `{{n}}` variables.
    Body,
    /// A button (`sub_type` url / quick_reply / copy_code, and its index).
    Button {
        /// `url`, `quick_reply`, …
        sub_type: String,
        /// The button's position.
        index: u32,
    },
}

/// Parameters for one part of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateComponent {
    /// Which part.
    pub kind: TemplateComponentKind,
    /// Its parameters, in order.
    pub parameters: Vec<TemplateParameter>,
}

/// A reply button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyButton {
    /// The id the customer's reply carries back (≤ 256 characters).
    pub id: String,
    /// The title (≤ 20 characters).
    pub title: String,
}

/// A section of an interactive list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListSection {
    /// Section title (≤ 24 characters).
    pub title: String,
    /// The section's rows; all sections together hold at most 10.
    pub rows: Vec<ListRow>,
}

/// A row of an interactive list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    /// The id the reply carries back (≤ 200 characters).
    pub id: String,
    /// Title (≤ 24 characters).
    pub title: String,
    /// Description (≤ 72 characters).
    pub description: Option<String>,
}

/// What to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A text message.
    Text {
        /// The text (≤ 4096 characters).
        body: String,
        /// Whether to show a link preview.
        preview_url: bool,
    },
    /// A media file.
    Media {
        /// Which media type to send it as (image, video, audio, document, sticker).
        kind: MediaKind,
        /// An uploaded media id, or a link Meta fetches.
        source: MediaSource,
        /// Caption (not for audio and stickers).
        caption: Option<String>,
        /// File name (documents).
        filename: Option<String>,
    },
    /// An approved template (the only thing allowed outside the 24-hour window).
    Template {
        /// Template name.
        name: String,
        /// Language code, e.g. `en_US`.
        language: String,
        /// The values for the template's variables, part by part; empty for a template without variables.
        components: Vec<TemplateComponent>,
    },
    /// Reply buttons.
    Buttons {
        /// Body text (≤ 1024 characters).
        body: String,
        /// 1–3 buttons.
        buttons: Vec<ReplyButton>,
        /// Footer text (≤ 60 characters).
        footer: Option<String>,
    },
    /// An interactive list.
    List {
        /// Body text (≤ 1024 characters).
        body: String,
        /// The button that opens the list (≤ 20 characters).
        button: String,
        /// 1–10 sections (1–10 rows in all).
        sections: Vec<ListSection>,
    },
    /// A reaction to a message; `None` removes it.
    Reaction {
        /// The wamid reacted to.
        message_id: String,
        /// The emoji to react with; `None` removes an earlier reaction.
        emoji: Option<String>,
    },
}

/// A message to send on WhatsApp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsAppSend {
    /// Who receives it: a phone number or a BSUID.
    pub to: Recipient,
    /// The content; checked against Meta's limits by `validate` before sending.
    pub message: Outgoing,
    /// The wamid to quote.
    pub reply_to: Option<String>,
    /// Our client message id, echoed back in every status webhook (≤ 512 bytes).
    pub callback_data: String,
}

/// Meta accepted a send. Accepted is not delivered: the status webhooks tell the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The message id to correlate statuses and echoes with.
    pub message_id: String,
    /// `accepted`, `held_for_quality_assessment`, …
    pub status: Option<String>,
}

fn too_long(what: &str, limit: usize) -> GraphError {
    GraphError::InvalidInput(format!("{what} is longer than {limit} characters"))
}

fn media_json(source: &MediaSource) -> Value {
    match source {
        MediaSource::Id(id) => json!({ "id": id }),
        MediaSource::Link(link) => json!({ "link": link }),
    }
}

fn parameter_json(p: &TemplateParameter) -> Value {
    match p {
        TemplateParameter::Text {
            text,
            name: Some(name),
        } => json!({ "type": "text", "text": text, "parameter_name": name }),
        TemplateParameter::Text { text, name: None } => json!({ "type": "text", "text": text }),
        TemplateParameter::Image(s) => json!({ "type": "image", "image": media_json(s) }),
        TemplateParameter::Video(s) => json!({ "type": "video", "video": media_json(s) }),
        TemplateParameter::Document { source, filename } => {
            let mut doc = media_json(source);
            if let Some(f) = filename {
                doc["filename"] = json!(f);
            }
            json!({ "type": "document", "document": doc })
        }
        TemplateParameter::Payload(payload) => json!({ "type": "payload", "payload": payload }),
    }
}

impl WhatsAppSend {
    /// Checks the documented limits, so a request Meta would refuse is never sent.
    pub fn validate(&self) -> Result<(), GraphError> {
        if self.callback_data.len() > platform::WHATSAPP_CALLBACK_DATA_MAX_BYTES {
            return Err(GraphError::InvalidInput(
                "callback data is longer than 512 bytes".into(),
            ));
        }
        match &self.message {
            Outgoing::Text { body, .. } => {
                if body.trim().is_empty() {
                    return Err(GraphError::InvalidInput("the text is empty".into()));
                }
                if body.chars().count() > platform::WHATSAPP_TEXT_MAX_CHARS {
                    return Err(too_long("the text", platform::WHATSAPP_TEXT_MAX_CHARS));
                }
            }
            Outgoing::Media {
                caption: Some(c), ..
            } if c.chars().count() > platform::WHATSAPP_CAPTION_MAX_CHARS => {
                return Err(too_long(
                    "the caption",
                    platform::WHATSAPP_CAPTION_MAX_CHARS,
                ));
            }
            Outgoing::Buttons {
                body,
                buttons,
                footer,
            } => validate_buttons(body, buttons, footer.as_deref())?,
            Outgoing::List {
                body,
                button,
                sections,
            } => validate_list(body, button, sections)?,
            _ => {}
        }
        Ok(())
    }

    /// The JSON body Meta expects.
    pub fn to_json(&self) -> Value {
        let mut body = json!({ "messaging_product": "whatsapp", "recipient_type": "individual" });
        match &self.to {
            Recipient::Phone(phone) => body["to"] = json!(phone.trim_start_matches('+')),
            Recipient::UserId(id) => body["recipient"] = json!(id),
        }
        if !self.callback_data.is_empty() {
            body["biz_opaque_callback_data"] = json!(self.callback_data);
        }
        if let Some(quoted) = &self.reply_to {
            body["context"] = json!({ "message_id": quoted });
        }
        let (kind, part) = self.message.to_json();
        body["type"] = json!(kind);
        body[kind] = part;
        body
    }
}

/// Reply buttons: a body within its limit, 1 to 3 buttons, each with an id and a title within
/// their limits, and a footer within its limit.
fn validate_buttons(
    body: &str,
    buttons: &[ReplyButton],
    footer: Option<&str>,
) -> Result<(), GraphError> {
    validate_interactive_body(body)?;
    if buttons.is_empty() || buttons.len() > platform::WHATSAPP_MAX_REPLY_BUTTONS {
        return Err(GraphError::InvalidInput(format!(
            "a message needs 1 to {} reply buttons, not {}",
            platform::WHATSAPP_MAX_REPLY_BUTTONS,
            buttons.len()
        )));
    }
    for button in buttons {
        check_label(
            "a button title",
            &button.title,
            platform::WHATSAPP_BUTTON_TITLE_MAX_CHARS,
        )?;
        check_label(
            "a button id",
            &button.id,
            platform::WHATSAPP_BUTTON_ID_MAX_CHARS,
        )?;
    }
    if let Some(footer) = footer
        && footer.chars().count() > platform::WHATSAPP_INTERACTIVE_FOOTER_MAX_CHARS
    {
        return Err(too_long(
            "the footer",
            platform::WHATSAPP_INTERACTIVE_FOOTER_MAX_CHARS,
        ));
    }
    Ok(())
}

/// A list message: a body and a button label within their limits, 1 to 10 sections holding 1 to
/// 10 rows in all, each row with an id and a title (and a description, if any) within their
/// limits.
fn validate_list(body: &str, button: &str, sections: &[ListSection]) -> Result<(), GraphError> {
    validate_interactive_body(body)?;
    check_label(
        "the list button",
        button,
        platform::WHATSAPP_LIST_BUTTON_MAX_CHARS,
    )?;
    if sections.is_empty() || sections.len() > platform::WHATSAPP_LIST_MAX_SECTIONS {
        return Err(GraphError::InvalidInput(format!(
            "a list needs 1 to {} sections, not {}",
            platform::WHATSAPP_LIST_MAX_SECTIONS,
            sections.len()
        )));
    }
    let rows: usize = sections.iter().map(|s| s.rows.len()).sum();
    if rows == 0 || rows > platform::WHATSAPP_LIST_MAX_ROWS {
        return Err(GraphError::InvalidInput(format!(
            "a list needs 1 to {} rows in all, not {rows}",
            platform::WHATSAPP_LIST_MAX_ROWS
        )));
    }
    for section in sections {
        if section.title.chars().count() > platform::WHATSAPP_LIST_SECTION_TITLE_MAX_CHARS {
            return Err(too_long(
                "a list section title",
                platform::WHATSAPP_LIST_SECTION_TITLE_MAX_CHARS,
            ));
        }
        for row in &section.rows {
            validate_row(row)?;
        }
    }
    Ok(())
}

/// One row of a list: an id, a title and an optional description within their limits.
fn validate_row(row: &ListRow) -> Result<(), GraphError> {
    check_label(
        "a list row title",
        &row.title,
        platform::WHATSAPP_LIST_ROW_TITLE_MAX_CHARS,
    )?;
    check_label(
        "a list row id",
        &row.id,
        platform::WHATSAPP_LIST_ROW_ID_MAX_CHARS,
    )?;
    if let Some(description) = &row.description
        && description.chars().count() > platform::WHATSAPP_LIST_ROW_DESCRIPTION_MAX_CHARS
    {
        return Err(too_long(
            "a list row description",
            platform::WHATSAPP_LIST_ROW_DESCRIPTION_MAX_CHARS,
        ));
    }
    Ok(())
}

/// The body of an interactive message: not blank, within its limit.
fn validate_interactive_body(body: &str) -> Result<(), GraphError> {
    if body.trim().is_empty() {
        return Err(GraphError::InvalidInput(
            "an interactive message needs a body text".into(),
        ));
    }
    if body.chars().count() > platform::WHATSAPP_INTERACTIVE_BODY_MAX_CHARS {
        return Err(too_long(
            "the body of an interactive message",
            platform::WHATSAPP_INTERACTIVE_BODY_MAX_CHARS,
        ));
    }
    Ok(())
}

/// A label (title, id) that must be there and within `limit` characters.
fn check_label(what: &str, label: &str, limit: usize) -> Result<(), GraphError> {
    if label.trim().is_empty() {
        return Err(GraphError::InvalidInput(format!("{what} is empty")));
    }
    if label.chars().count() > limit {
        return Err(too_long(what, limit));
    }
    Ok(())
}

impl Outgoing {
    /// Meta's `type` for the message and the JSON of its part (the field named by the type).
    fn to_json(&self) -> (&'static str, Value) {
        match self {
            Outgoing::Text { body, preview_url } => {
                ("text", json!({ "body": body, "preview_url": preview_url }))
            }
            Outgoing::Media {
                kind,
                source,
                caption,
                filename,
            } => (kind.as_str(), media_part_json(source, caption, filename)),
            Outgoing::Template {
                name,
                language,
                components,
            } => (
                "template",
                json!({ "name": name, "language": { "code": language }, "components": components.iter().map(component_json).collect::<Vec<_>>() }),
            ),
            Outgoing::Buttons {
                body,
                buttons,
                footer,
            } => ("interactive", buttons_json(body, buttons, footer)),
            Outgoing::List {
                body,
                button,
                sections,
            } => (
                "interactive",
                json!({ "type": "list", "body": { "text": body }, "action": { "button": button, "sections": sections.iter().map(section_json).collect::<Vec<_>>() } }),
            ),
            Outgoing::Reaction { message_id, emoji } => (
                "reaction",
                json!({ "message_id": message_id, "emoji": emoji.clone().unwrap_or_default() }),
            ),
        }
    }
}

/// An image, video, document, audio or sticker: its source, caption and file name.
fn media_part_json(
    source: &MediaSource,
    caption: &Option<String>,
    filename: &Option<String>,
) -> Value {
    let mut part = media_json(source);
    if let Some(c) = caption {
        part["caption"] = json!(c);
    }
    if let Some(f) = filename {
        part["filename"] = json!(f);
    }
    part
}

/// One component of a template (header, body or a button) with its parameters.
fn component_json(c: &TemplateComponent) -> Value {
    let parameters: Vec<Value> = c.parameters.iter().map(parameter_json).collect();
    match &c.kind {
        TemplateComponentKind::Header => json!({ "type": "header", "parameters": parameters }),
        TemplateComponentKind::Body => json!({ "type": "body", "parameters": parameters }),
        TemplateComponentKind::Button { sub_type, index } => json!({
            "type": "button", "sub_type": sub_type, "index": index.to_string(), "parameters": parameters
        }),
    }
}

/// An interactive message with reply buttons.
fn buttons_json(body: &str, buttons: &[ReplyButton], footer: &Option<String>) -> Value {
    let buttons: Vec<Value> = buttons
        .iter()
        .map(|b| json!({ "type": "reply", "reply": { "id": b.id, "title": b.title } }))
        .collect();
    let mut part =
        json!({ "type": "button", "body": { "text": body }, "action": { "buttons": buttons } });
    if let Some(f) = footer {
        part["footer"] = json!({ "text": f });
    }
    part
}

/// One section of a list message, with its rows.
fn section_json(s: &ListSection) -> Value {
    let rows: Vec<Value> = s
        .rows
        .iter()
        .map(|r| match &r.description {
            Some(d) => json!({ "id": r.id, "title": r.title, "description": d }),
            None => json!({ "id": r.id, "title": r.title }),
        })
        .collect();
    json!({ "title": s.title, "rows": rows })
}

#[derive(Deserialize)]
pub(crate) struct SendResponse {
    #[serde(default)]
    pub messages: Vec<SentMessage>,
}

#[derive(Deserialize)]
pub(crate) struct SentMessage {
    pub id: String,
    #[serde(default)]
    pub message_status: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(message: Outgoing) -> WhatsAppSend {
        WhatsAppSend {
            to: Recipient::Phone("+16505551234".into()),
            message,
            reply_to: None,
            callback_data: "c1".into(),
        }
    }

    #[test]
    fn text_body_matches_metas_shape() {
        let mut s = send(Outgoing::Text {
            body: "Hi".into(),
            preview_url: true,
        });
        s.reply_to = Some("wamid.A".into());
        assert_eq!(
            s.to_json(),
            json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234",
                   "biz_opaque_callback_data":"c1","context":{"message_id":"wamid.A"},
                   "type":"text","text":{"body":"Hi","preview_url":true}})
        );
    }

    #[test]
    fn a_bsuid_recipient_uses_the_recipient_field() {
        let mut s = send(Outgoing::Reaction {
            message_id: "wamid.A".into(),
            emoji: None,
        });
        s.to = Recipient::UserId("US.1".into());
        let body = s.to_json();
        assert_eq!(body["recipient"], "US.1");
        assert!(body.get("to").is_none());
        assert_eq!(body["reaction"], json!({"message_id":"wamid.A","emoji":""}));
    }

    #[test]
    fn template_components_are_rendered_in_order() {
        let s = send(Outgoing::Template {
            name: "order_update_v1".into(),
            language: "en_US".into(),
            components: vec![
                TemplateComponent {
                    kind: TemplateComponentKind::Header,
                    parameters: vec![TemplateParameter::Image(MediaSource::Link(
                        "https://x/p.jpg".into(),
                    ))],
                },
                TemplateComponent {
                    kind: TemplateComponentKind::Body,
                    parameters: vec![
                        TemplateParameter::text("Ana"),
                        TemplateParameter::text("#1042"),
                    ],
                },
                TemplateComponent {
                    kind: TemplateComponentKind::Button {
                        sub_type: "url".into(),
                        index: 0,
                    },
                    parameters: vec![TemplateParameter::text("1042")],
                },
            ],
        });
        let t = &s.to_json()["template"];
        assert_eq!(t["language"]["code"], "en_US");
        assert_eq!(t["components"][1]["parameters"][1]["text"], "#1042");
        assert_eq!(t["components"][2]["index"], "0");
    }

    #[test]
    fn limits_are_checked_before_sending() {
        assert!(
            send(Outgoing::Text {
                body: "x".repeat(4097),
                preview_url: false
            })
            .validate()
            .is_err()
        );
        assert!(
            send(Outgoing::Text {
                body: "x".repeat(4096),
                preview_url: false
            })
            .validate()
            .is_ok()
        );
        assert!(
            send(Outgoing::Text {
                body: "  ".into(),
                preview_url: false
            })
            .validate()
            .is_err()
        );
        let four = (0..4)
            .map(|i| ReplyButton {
                id: i.to_string(),
                title: "t".into(),
            })
            .collect();
        assert!(
            send(Outgoing::Buttons {
                body: "b".into(),
                buttons: four,
                footer: None
            })
            .validate()
            .is_err()
        );
        let mut s = send(Outgoing::Text {
            body: "x".into(),
            preview_url: false,
        });
        s.callback_data = "c".repeat(513);
        assert!(s.validate().is_err());
    }

    fn buttons(titles: &[&str]) -> Outgoing {
        Outgoing::Buttons {
            body: "Which team?".into(),
            buttons: titles
                .iter()
                .enumerate()
                .map(|(i, t)| ReplyButton {
                    id: format!("b{i}"),
                    title: (*t).into(),
                })
                .collect(),
            footer: None,
        }
    }

    fn list(button: &str, rows: Vec<ListRow>) -> Outgoing {
        Outgoing::List {
            body: "Which team?".into(),
            button: button.into(),
            sections: vec![ListSection {
                title: "Teams".into(),
                rows,
            }],
        }
    }

    fn row(id: &str, title: &str) -> ListRow {
        ListRow {
            id: id.into(),
            title: title.into(),
            description: None,
        }
    }

    fn refusal(message: Outgoing) -> String {
        match send(message).validate() {
            Err(GraphError::InvalidInput(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn reply_buttons_are_held_to_metas_limits() {
        assert!(
            send(buttons(&["Sales", "Billing", "Support"]))
                .validate()
                .is_ok()
        );
        assert!(send(buttons(&[&"x".repeat(20)])).validate().is_ok());
        assert_eq!(
            refusal(buttons(&["a", "b", "c", "d"])),
            "a message needs 1 to 3 reply buttons, not 4"
        );
        assert_eq!(
            refusal(buttons(&[])),
            "a message needs 1 to 3 reply buttons, not 0"
        );
        assert_eq!(
            refusal(buttons(&[&"x".repeat(21)])),
            "a button title is longer than 20 characters"
        );
        assert_eq!(refusal(buttons(&[" "])), "a button title is empty");
        let Outgoing::Buttons { buttons: b, .. } = buttons(&["ok"]) else {
            unreachable!()
        };
        let long_body = Outgoing::Buttons {
            body: "x".repeat(1025),
            buttons: b.clone(),
            footer: None,
        };
        assert_eq!(
            refusal(long_body),
            "the body of an interactive message is longer than 1024 characters"
        );
        let long_footer = Outgoing::Buttons {
            body: "x".repeat(1024),
            buttons: b,
            footer: Some("f".repeat(61)),
        };
        assert_eq!(
            refusal(long_footer),
            "the footer is longer than 60 characters"
        );
    }

    #[test]
    fn lists_are_held_to_metas_limits() {
        let ten: Vec<ListRow> = (0..10).map(|i| row(&format!("r{i}"), "Row")).collect();
        assert!(send(list(&"b".repeat(20), ten.clone())).validate().is_ok());
        let mut eleven = ten.clone();
        eleven.push(row("r10", "Row"));
        assert_eq!(
            refusal(list("Choose", eleven)),
            "a list needs 1 to 10 rows in all, not 11"
        );
        assert_eq!(
            refusal(list("Choose", vec![])),
            "a list needs 1 to 10 rows in all, not 0"
        );
        assert_eq!(
            refusal(list(&"b".repeat(21), ten)),
            "the list button is longer than 20 characters"
        );
        assert!(
            send(list("Choose", vec![row("r", &"t".repeat(24))]))
                .validate()
                .is_ok()
        );
        assert_eq!(
            refusal(list("Choose", vec![row("r", &"t".repeat(25))])),
            "a list row title is longer than 24 characters"
        );
        assert_eq!(
            refusal(list("Choose", vec![row(&"i".repeat(201), "t")])),
            "a list row id is longer than 200 characters"
        );
        let mut described = row("r", "t");
        described.description = Some("d".repeat(73));
        assert_eq!(
            refusal(list("Choose", vec![described])),
            "a list row description is longer than 72 characters"
        );
        let long_body = Outgoing::List {
            body: "x".repeat(1025),
            button: "Choose".into(),
            sections: vec![ListSection {
                title: "Teams".into(),
                rows: vec![row("r", "t")],
            }],
        };
        assert_eq!(
            refusal(long_body),
            "the body of an interactive message is longer than 1024 characters"
        );
    }
}
