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
    /// Checks the documented limits (Instagram counts UTF-8 bytes, Messenger characters).
    pub fn validate(&self) -> Result<(), GraphError> {
        if let MessengerOutgoing::Text(text) = &self.message {
            if text.trim().is_empty() {
                return Err(GraphError::InvalidInput("the text is empty".into()));
            }
            match self.platform {
                Platform::Instagram if text.len() > platform::INSTAGRAM_TEXT_MAX_BYTES => {
                    return Err(GraphError::InvalidInput(
                        "the text is longer than Instagram's 1,000 bytes".into(),
                    ));
                }
                Platform::Messenger
                    if text.chars().count() > platform::MESSENGER_TEXT_MAX_CHARS =>
                {
                    return Err(GraphError::InvalidInput(
                        "the text is longer than Messenger's 2,000 characters".into(),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The JSON body Meta expects.
    pub fn to_json(&self) -> Value {
        let message = match &self.message {
            MessengerOutgoing::Text(text) => json!({ "text": text }),
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
}
