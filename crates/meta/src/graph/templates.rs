//! WhatsApp message templates in the Business Management API: listing an account's templates
//! with their category, status and quality (`GET /{waba-id}/message_templates`), and creating
//! one for Meta to review (`POST /{waba-id}/message_templates`). Sending one is an
//! [`super::Outgoing::Template`]; the review's outcome arrives as a
//! `message_template_status_update` webhook ([`crate::webhook::TemplateStatus`]).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{GraphClient, GraphError};
use crate::AccessToken;

/// What a template is for, which decides its price and who may receive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateCategory {
    /// Promotions and offers: only to customers who opted in; always charged.
    Marketing,
    /// About something the customer asked for or bought (order updates, reminders).
    Utility,
    /// One-time passcodes.
    Authentication,
}

impl TemplateCategory {
    /// Meta's spelling (`MARKETING`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Marketing => "MARKETING",
            Self::Utility => "UTILITY",
            Self::Authentication => "AUTHENTICATION",
        }
    }

    /// From Meta's spelling, any case.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "MARKETING" => Some(Self::Marketing),
            "UTILITY" => Some(Self::Utility),
            "AUTHENTICATION" => Some(Self::Authentication),
            _ => None,
        }
    }
}

/// Where a template is in Meta's review and quality checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TemplateReview {
    /// In review: cannot be sent yet.
    Pending,
    /// May be sent.
    Approved,
    /// Refused by the review: cannot be sent; edit and submit again.
    Rejected,
    /// Its quality went red: sends fail with 132015 until Meta lifts the pause.
    Paused,
    /// Paused too often: sends fail with 132016 for good.
    Disabled,
    /// Another state Meta names (FLAGGED, IN_APPEAL, ARCHIVED, …): not sendable.
    Other,
}

impl TemplateReview {
    /// From Meta's `status` or a status webhook's `event`.
    pub fn parse(text: &str) -> Self {
        match text.to_ascii_uppercase().as_str() {
            "PENDING" => Self::Pending,
            "APPROVED" => Self::Approved,
            "REJECTED" => Self::Rejected,
            "PAUSED" => Self::Paused,
            "DISABLED" => Self::Disabled,
            _ => Self::Other,
        }
    }
}

/// A template's quality score, from how customers react to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TemplateQuality {
    /// Good.
    Green,
    /// Some customers block or report it.
    Yellow,
    /// Many do: Meta may pause it.
    Red,
    /// Not sent enough yet to tell.
    Unknown,
}

impl TemplateQuality {
    /// From Meta's `quality_score.score`.
    pub fn parse(text: &str) -> Self {
        match text.to_ascii_uppercase().as_str() {
            "GREEN" | "HIGH" => Self::Green,
            "YELLOW" | "MEDIUM" => Self::Yellow,
            "RED" | "LOW" => Self::Red,
            _ => Self::Unknown,
        }
    }

    /// Meta's spelling (`GREEN`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Green => "GREEN",
            Self::Yellow => "YELLOW",
            Self::Red => "RED",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// A message template of a WhatsApp Business Account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MessageTemplate {
    /// Meta's id for it.
    #[serde(default)]
    pub id: String,
    /// The name it is sent by (lower case, unique per language in the account).
    pub name: String,
    /// Language code, e.g. `en_US`.
    pub language: String,
    /// APPROVED, PENDING, REJECTED, PAUSED, DISABLED.
    pub status: String,
    /// MARKETING, UTILITY, AUTHENTICATION.
    #[serde(default)]
    pub category: String,
    /// Header, body, footer and buttons as Meta describes them.
    #[serde(default)]
    pub components: Vec<Value>,
    /// Its quality score (`{"score": "GREEN"}`), when Meta gives one.
    #[serde(default)]
    pub quality_score: Option<Value>,
    /// Why it was rejected (`NONE` otherwise), when Meta says.
    #[serde(default)]
    pub rejected_reason: Option<String>,
}

impl MessageTemplate {
    /// The text of the component of type `kind` (`BODY`, `HEADER`, `FOOTER`).
    fn component_text(&self, kind: &str) -> Option<&str> {
        self.components
            .iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
            .and_then(|c| c.get("text"))
            .and_then(Value::as_str)
    }

    /// The body's text, with `{{1}}`… where its variables go.
    pub fn body(&self) -> Option<&str> {
        self.component_text("BODY")
    }

    /// A text header's text, with `{{1}}` where its variable goes.
    pub fn header_text(&self) -> Option<&str> {
        self.components
            .iter()
            .find(|c| {
                c.get("type").and_then(Value::as_str) == Some("HEADER")
                    && c.get("format").and_then(Value::as_str).unwrap_or("TEXT") == "TEXT"
            })
            .and_then(|c| c.get("text"))
            .and_then(Value::as_str)
    }

    /// The footer's text.
    pub fn footer(&self) -> Option<&str> {
        self.component_text("FOOTER")
    }

    /// How many `{{n}}` variables the body has.
    pub fn body_variables(&self) -> usize {
        count_variables(self.body().unwrap_or_default())
    }

    /// How many `{{n}}` variables a text header has (0 or 1).
    pub fn header_variables(&self) -> usize {
        count_variables(self.header_text().unwrap_or_default())
    }

    /// Where it is in Meta's review.
    pub fn review(&self) -> TemplateReview {
        TemplateReview::parse(&self.status)
    }

    /// Its category, when Meta names a known one.
    pub fn category(&self) -> Option<TemplateCategory> {
        TemplateCategory::parse(&self.category)
    }

    /// Its quality score.
    pub fn quality(&self) -> TemplateQuality {
        self.quality_score
            .as_ref()
            .and_then(|q| q.get("score"))
            .and_then(Value::as_str)
            .map(TemplateQuality::parse)
            .unwrap_or(TemplateQuality::Unknown)
    }

    /// Whether it can be sent now.
    pub fn is_approved(&self) -> bool {
        self.review() == TemplateReview::Approved
    }
}

/// How many `{{1}}`, `{{2}}`… variables a text has (counted from 1 while they are there).
pub fn count_variables(text: &str) -> usize {
    (1..=64)
        .take_while(|i| text.contains(&format!("{{{{{i}}}}}")))
        .count()
}

/// A template to submit for review: a body with `{{1}}`… variables (each with an example value,
/// which Meta requires), and optionally a text header and a footer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTemplate {
    /// Lower-case letters, digits and underscores.
    pub name: String,
    /// Language code, e.g. `en_US`.
    pub language: String,
    /// What it is for.
    pub category: TemplateCategory,
    /// The body, with `{{1}}`… where the variables go.
    pub body: String,
    /// One example value per body variable, in order.
    #[serde(default)]
    pub body_examples: Vec<String>,
    /// A text header (at most one variable, `{{1}}`).
    #[serde(default)]
    pub header: Option<String>,
    /// The example value of the header's variable, when it has one.
    #[serde(default)]
    pub header_example: Option<String>,
    /// A footer (no variables).
    #[serde(default)]
    pub footer: Option<String>,
}

impl NewTemplate {
    /// The request body Meta expects.
    pub fn to_json(&self) -> Value {
        let mut components = Vec::new();
        if let Some(header) = &self.header {
            let mut component = json!({ "type": "HEADER", "format": "TEXT", "text": header });
            if let Some(example) = &self.header_example {
                component["example"] = json!({ "header_text": [example] });
            }
            components.push(component);
        }
        let mut body = json!({ "type": "BODY", "text": self.body });
        if !self.body_examples.is_empty() {
            body["example"] = json!({ "body_text": [self.body_examples] });
        }
        components.push(body);
        if let Some(footer) = &self.footer {
            components.push(json!({ "type": "FOOTER", "text": footer }));
        }
        json!({
            "name": self.name,
            "language": self.language,
            "category": self.category.as_str(),
            "components": components,
        })
    }
}

/// What Meta answers to a created template.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CreatedTemplate {
    /// Meta's id for it.
    pub id: String,
    /// Usually PENDING (in review); APPROVED at once for some utility templates.
    pub status: String,
    /// The category Meta gave it (it may reclassify).
    pub category: String,
}

impl GraphClient {
    /// The message templates of a WhatsApp Business Account (first 100), with their category,
    /// status and quality.
    pub async fn message_templates(
        &self,
        waba_id: &str,
        token: &AccessToken,
    ) -> Result<Vec<MessageTemplate>, GraphError> {
        #[derive(Deserialize)]
        struct Page {
            data: Vec<MessageTemplate>,
        }
        let page: Page = self
            .get(
                &format!("{waba_id}/message_templates"),
                token,
                &[
                    (
                        "fields",
                        "id,name,language,status,category,components,quality_score,rejected_reason",
                    ),
                    ("limit", "100"),
                ],
            )
            .await?;
        Ok(page.data)
    }

    /// Submits a template for Meta's review. Meta's refusals (a bad name, a duplicate name and
    /// language, missing examples…) are [`GraphError::Rejected`] with Meta's explanation.
    pub async fn create_message_template(
        &self,
        waba_id: &str,
        token: &AccessToken,
        template: &NewTemplate,
    ) -> Result<CreatedTemplate, GraphError> {
        self.post_json(
            &format!("{waba_id}/message_templates"),
            token,
            &template.to_json(),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_template_is_rendered_as_meta_expects() {
        let t = NewTemplate {
            name: "restock".into(),
            language: "en_US".into(),
            category: TemplateCategory::Marketing,
            body: "Hi {{1}}, {{2}} is back.".into(),
            body_examples: vec!["Ana".into(), "Espresso".into()],
            header: Some("Back in stock".into()),
            header_example: None,
            footer: Some("Reply STOP to opt out".into()),
        };
        let v = t.to_json();
        assert_eq!(v["category"], "MARKETING");
        assert_eq!(v["components"][0]["type"], "HEADER");
        assert_eq!(v["components"][1]["example"]["body_text"][0][1], "Espresso");
        assert_eq!(v["components"][2]["type"], "FOOTER");
    }

    #[test]
    fn quality_and_review_are_read_from_metas_words() {
        let t: MessageTemplate = serde_json::from_value(json!({
            "id": "1", "name": "a", "language": "en", "status": "PAUSED", "category": "MARKETING",
            "components": [{ "type": "HEADER", "format": "TEXT", "text": "Hi {{1}}" },
                           { "type": "BODY", "text": "x {{1}} {{2}} y" }],
            "quality_score": { "score": "RED" }
        }))
        .unwrap();
        assert_eq!(t.review(), TemplateReview::Paused);
        assert_eq!(t.quality(), TemplateQuality::Red);
        assert_eq!(t.category(), Some(TemplateCategory::Marketing));
        assert_eq!((t.header_variables(), t.body_variables()), (1, 2));
    }
}
