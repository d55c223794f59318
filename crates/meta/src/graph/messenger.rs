//! Messenger and Instagram Send API: `POST /{page-id}/messages`.

use serde_json::{Value, json};

use super::GraphError;
use crate::platform;
use crate::webhook::Platform;

/// Why the business may send now (`messaging_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessagingType {
    /// A reply inside the 24-hour standard window.
    Response,
    /// A human agent's reply up to 7 days after the customer's last message (`HUMAN_AGENT` tag;
    /// needs the Human Agent feature approved in App Review).
    HumanAgent,
}

/// What to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessengerOutgoing {
    /// A text message (not blank; at most 2,000 characters on Messenger, 1,000 UTF-8 bytes on Instagram).
    Text(String),
    /// An attachment fetched by Meta from a URL.
    Attachment {
        /// `image`, `audio`, `video` or `file`.
        kind: String,
        /// A public URL.
        url: String,
    },
    /// An attachment uploaded first (Attachment Upload API), by its id.
    Uploaded {
        /// `image`, `audio`, `video` or `file`.
        kind: String,
        /// The id `message_attachments` returned.
        attachment_id: String,
    },
    /// A text with quick replies: buttons shown above the customer's composer; the one tapped
    /// comes back as a message carrying its payload. Messenger and Instagram both take them.
    QuickReplies {
        /// The text (the same limits as [`MessengerOutgoing::Text`]).
        text: String,
        /// 1 to 13 quick replies.
        replies: Vec<QuickReply>,
    },
}

/// One quick reply (Meta's `content_type: "text"` kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickReply {
    /// What the button shows and what is posted for the customer when tapped (≤ 20 characters).
    pub title: String,
    /// What the customer's answer carries back in `quick_reply.payload` (≤ 1000 characters).
    pub payload: String,
}

/// A message to send on Messenger or Instagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessengerSend {
    /// Messenger or Instagram (their text limits differ).
    pub platform: Platform,
    /// The PSID or IGSID.
    pub recipient_id: String,
    /// The content; checked against the platform's limits by `validate` before sending.
    pub message: MessengerOutgoing,
    /// Why the business may send now.
    pub messaging_type: MessagingType,
}

impl MessengerSend {
    /// Checks the documented limits (Instagram counts UTF-8 bytes, Messenger characters; quick
    /// replies: at most 13, titles and payloads within their limits).
    pub fn validate(&self) -> Result<(), GraphError> {
        match &self.message {
            MessengerOutgoing::Text(text) => self.validate_text(text),
            MessengerOutgoing::QuickReplies { text, replies } => {
                self.validate_text(text)?;
                validate_quick_replies(replies)
            }
            MessengerOutgoing::Attachment { .. } | MessengerOutgoing::Uploaded { .. } => Ok(()),
        }
    }

    /// A text: not blank, within the platform's limit.
    fn validate_text(&self, text: &str) -> Result<(), GraphError> {
        if text.trim().is_empty() {
            return Err(GraphError::InvalidInput("the text is empty".into()));
        }
        match self.platform {
            Platform::Instagram if text.len() > platform::INSTAGRAM_TEXT_MAX_BYTES => Err(
                GraphError::InvalidInput("the text is longer than Instagram's 1,000 bytes".into()),
            ),
            Platform::Messenger if text.chars().count() > platform::MESSENGER_TEXT_MAX_CHARS => {
                Err(GraphError::InvalidInput(
                    "the text is longer than Messenger's 2,000 characters".into(),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The JSON body Meta expects.
    pub fn to_json(&self) -> Value {
        let message = match &self.message {
            MessengerOutgoing::Text(text) => json!({ "text": text }),
            MessengerOutgoing::QuickReplies { text, replies } => {
                let replies: Vec<Value> = replies
                    .iter()
                    .map(|r| json!({ "content_type": "text", "title": r.title, "payload": r.payload }))
                    .collect();
                json!({ "text": text, "quick_replies": replies })
            }
            MessengerOutgoing::Attachment { kind, url } => {
                json!({ "attachment": { "type": kind, "payload": { "url": url, "is_reusable": false } } })
            }
            MessengerOutgoing::Uploaded {
                kind,
                attachment_id,
            } => {
                json!({ "attachment": { "type": kind, "payload": { "attachment_id": attachment_id } } })
            }
        };
        let mut body = json!({ "recipient": { "id": self.recipient_id }, "message": message });
        match self.messaging_type {
            MessagingType::Response => body["messaging_type"] = json!("RESPONSE"),
            MessagingType::HumanAgent => {
                body["messaging_type"] = json!("MESSAGE_TAG");
                body["tag"] = json!("HUMAN_AGENT");
            }
        }
        body
    }
}

/// Quick replies: 1 to 13, each with a title and a payload within their limits.
fn validate_quick_replies(replies: &[QuickReply]) -> Result<(), GraphError> {
    if replies.is_empty() || replies.len() > platform::MESSENGER_MAX_QUICK_REPLIES {
        return Err(GraphError::InvalidInput(format!(
            "a message needs 1 to {} quick replies, not {}",
            platform::MESSENGER_MAX_QUICK_REPLIES,
            replies.len()
        )));
    }
    for reply in replies {
        if reply.title.trim().is_empty() {
            return Err(GraphError::InvalidInput(
                "a quick reply title is empty".into(),
            ));
        }
        if reply.title.chars().count() > platform::MESSENGER_QUICK_REPLY_TITLE_MAX_CHARS {
            return Err(GraphError::InvalidInput(format!(
                "a quick reply title is longer than {} characters",
                platform::MESSENGER_QUICK_REPLY_TITLE_MAX_CHARS
            )));
        }
        if reply.payload.is_empty() {
            return Err(GraphError::InvalidInput(
                "a quick reply payload is empty".into(),
            ));
        }
        if reply.payload.chars().count() > platform::MESSENGER_QUICK_REPLY_PAYLOAD_MAX_CHARS {
            return Err(GraphError::InvalidInput(format!(
                "a quick reply payload is longer than {} characters",
                platform::MESSENGER_QUICK_REPLY_PAYLOAD_MAX_CHARS
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_agent_replies_carry_the_tag() {
        let s = MessengerSend {
            platform: Platform::Messenger,
            recipient_id: "PSID".into(),
            message: MessengerOutgoing::Text("On it!".into()),
            messaging_type: MessagingType::HumanAgent,
        };
        assert_eq!(
            s.to_json(),
            json!({"recipient":{"id":"PSID"},"message":{"text":"On it!"},"messaging_type":"MESSAGE_TAG","tag":"HUMAN_AGENT"})
        );
    }

    #[test]
    fn uploaded_attachments_are_sent_by_id() {
        let s = MessengerSend {
            platform: Platform::Messenger,
            recipient_id: "PSID".into(),
            message: MessengerOutgoing::Uploaded {
                kind: "file".into(),
                attachment_id: "123".into(),
            },
            messaging_type: MessagingType::Response,
        };
        assert_eq!(
            s.to_json(),
            json!({"recipient":{"id":"PSID"},"message":{"attachment":{"type":"file","payload":{"attachment_id":"123"}}},"messaging_type":"RESPONSE"})
        );
    }

    #[test]
    fn instagram_measures_bytes_not_characters() {
        let s = |text: String| MessengerSend {
            platform: Platform::Instagram,
            recipient_id: "IGSID".into(),
            message: MessengerOutgoing::Text(text),
            messaging_type: MessagingType::Response,
        };
        assert!(s("é".repeat(500)).validate().is_ok()); // 1,000 bytes
        assert!(s("é".repeat(501)).validate().is_err()); // 501 characters, 1,002 bytes
    }

    fn menu(platform: Platform, titles: &[&str]) -> MessengerSend {
        MessengerSend {
            platform,
            recipient_id: "PSID".into(),
            message: MessengerOutgoing::QuickReplies {
                text: "Which team?".into(),
                replies: titles
                    .iter()
                    .map(|t| QuickReply {
                        title: (*t).into(),
                        payload: format!("team:{t}"),
                    })
                    .collect(),
            },
            messaging_type: MessagingType::Response,
        }
    }

    fn refusal(send: &MessengerSend) -> String {
        match send.validate() {
            Err(GraphError::InvalidInput(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn quick_replies_are_sent_as_meta_documents() {
        assert_eq!(
            menu(Platform::Messenger, &["Sales", "Billing"]).to_json(),
            json!({"recipient":{"id":"PSID"},"messaging_type":"RESPONSE","message":{
                "text":"Which team?",
                "quick_replies":[
                    {"content_type":"text","title":"Sales","payload":"team:Sales"},
                    {"content_type":"text","title":"Billing","payload":"team:Billing"}]}})
        );
    }

    #[test]
    fn quick_replies_are_held_to_metas_limits() {
        let thirteen: Vec<String> = (0..13).map(|i| format!("t{i}")).collect();
        let titles: Vec<&str> = thirteen.iter().map(String::as_str).collect();
        assert!(menu(Platform::Instagram, &titles).validate().is_ok());
        let fourteen: Vec<String> = (0..14).map(|i| format!("t{i}")).collect();
        let titles: Vec<&str> = fourteen.iter().map(String::as_str).collect();
        assert_eq!(
            refusal(&menu(Platform::Messenger, &titles)),
            "a message needs 1 to 13 quick replies, not 14"
        );
        assert_eq!(
            refusal(&menu(Platform::Messenger, &[])),
            "a message needs 1 to 13 quick replies, not 0"
        );
        assert!(
            menu(Platform::Messenger, &[&"x".repeat(20)])
                .validate()
                .is_ok()
        );
        assert_eq!(
            refusal(&menu(Platform::Messenger, &[&"x".repeat(21)])),
            "a quick reply title is longer than 20 characters"
        );
        assert_eq!(
            refusal(&menu(Platform::Messenger, &[" "])),
            "a quick reply title is empty"
        );
        let with_payload = |payload: String| {
            let mut send = menu(Platform::Messenger, &["Sales"]);
            if let MessengerOutgoing::QuickReplies { replies, .. } = &mut send.message {
                replies[0].payload = payload;
            }
            send
        };
        assert!(with_payload("p".repeat(1000)).validate().is_ok());
        assert_eq!(
            refusal(&with_payload("p".repeat(1001))),
            "a quick reply payload is longer than 1000 characters"
        );
        assert_eq!(
            refusal(&with_payload(String::new())),
            "a quick reply payload is empty"
        );
        let mut blank_text = menu(Platform::Messenger, &["Sales"]);
        if let MessengerOutgoing::QuickReplies { text, .. } = &mut blank_text.message {
            *text = "  ".into();
        }
        assert_eq!(refusal(&blank_text), "the text is empty");
    }
}
