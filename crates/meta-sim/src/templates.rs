//! Message templates as Meta keeps them: created through `POST /{waba-id}/message_templates`
//! (checked as Meta checks them), reviewed (PENDING, then APPROVED or REJECTED, and later PAUSED
//! or DISABLED when their quality drops), each change announced by a signed
//! `message_template_status_update` webhook to the account's subscriber. Tests decide the review
//! ([`crate::MetaSim::review_template`]), so a run is repeatable.

use serde_json::{Value, json};

use crate::SimState;
use crate::state::Template;

/// The categories Meta accepts.
pub const CATEGORIES: [&str; 3] = ["MARKETING", "UTILITY", "AUTHENTICATION"];

/// The longest template name Meta accepts.
const MAX_NAME: usize = 512;

/// The longest body text Meta accepts.
const MAX_BODY: usize = 1024;

/// The longest text header and footer Meta accepts.
const MAX_HEADER_FOOTER: usize = 60;

/// Why Meta refused to create a template: its `(#100)` with an optional subcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRefusal {
    /// Meta's `error_subcode`, when it gives one.
    pub subcode: Option<i64>,
    /// Meta's message (`error.message`).
    pub message: String,
    /// Meta's `error_user_msg`: what to fix.
    pub user_message: String,
}

fn refused(subcode: Option<i64>, message: &str, user_message: impl Into<String>) -> CreateRefusal {
    CreateRefusal {
        subcode,
        message: message.into(),
        user_message: user_message.into(),
    }
}

/// How many `{{1}}`, `{{2}}`… variables a text has (counted from 1 while they are there).
pub fn body_variables(text: &str) -> usize {
    (1..=64)
        .take_while(|i| text.contains(&format!("{{{{{i}}}}}")))
        .count()
}

/// The numbers of every `{{n}}` in a text, in order of appearance.
fn variable_numbers(text: &str) -> Vec<usize> {
    let mut numbers = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        if let Ok(n) = after[..end].trim().parse::<usize>() {
            numbers.push(n);
        }
        rest = &after[end + 2..];
    }
    numbers
}

/// Meta's rule for names: lower-case letters, digits and underscores, at most 512 characters.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A language code as Meta spells them: `en`, `en_US`, `pt_BR`, `zh_CN`, `fil`.
fn valid_language(code: &str) -> bool {
    let (lang, region) = code.split_once('_').unwrap_or((code, ""));
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && (region.is_empty()
            || (region.len() == 2 && region.bytes().all(|b| b.is_ascii_uppercase())))
}

fn component_text(component: &Value) -> &str {
    component
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// Meta's checks of a body: present once, at most 1,024 characters, variables numbered from 1
/// without gaps, not at its very start or end, and examples for each variable.
fn check_body(components: &[Value]) -> Result<(usize, String), CreateRefusal> {
    let bodies: Vec<&Value> = components
        .iter()
        .filter(|c| c.get("type").and_then(Value::as_str) == Some("BODY"))
        .collect();
    let [body] = bodies.as_slice() else {
        return Err(refused(
            None,
            "(#100) Invalid parameter",
            "A template needs exactly one BODY component.",
        ));
    };
    let text = component_text(body).to_string();
    if text.trim().is_empty() || text.chars().count() > MAX_BODY {
        return Err(refused(
            Some(2388040),
            "(#100) Invalid parameter",
            format!("The body text must have 1 to {MAX_BODY} characters."),
        ));
    }
    let numbers = variable_numbers(&text);
    let count = body_variables(&text);
    if numbers.iter().any(|n| *n == 0 || *n > count) {
        return Err(refused(
            None,
            "(#100) Invalid parameter",
            "Variables must be numbered {{1}}, {{2}}… in order, without gaps.",
        ));
    }
    let trimmed = text.trim();
    if count > 0 && (trimmed.starts_with("{{") || trimmed.ends_with("}}")) {
        return Err(refused(
            Some(2388299),
            "(#100) Invalid parameter",
            "Variables can't be at the start or end of the template.",
        ));
    }
    let examples = body
        .pointer("/example/body_text/0")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0);
    if examples != count {
        return Err(refused(
            None,
            "(#100) Invalid parameter",
            format!(
                "The body has {count} variables: give {count} example values in example.body_text."
            ),
        ));
    }
    Ok((count, text))
}

/// Meta's checks of the other components: known types, a text header or a footer of at most 60
/// characters, no variable in the footer.
fn check_other_components(components: &[Value]) -> Result<(), CreateRefusal> {
    for component in components {
        let kind = component
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let text = component_text(component);
        match kind {
            "BODY" | "BUTTONS" => {}
            "HEADER" | "FOOTER" if text.chars().count() > MAX_HEADER_FOOTER => {
                return Err(refused(
                    Some(2388040),
                    "(#100) Invalid parameter",
                    format!(
                        "The {} text must have at most {MAX_HEADER_FOOTER} characters.",
                        kind.to_lowercase()
                    ),
                ));
            }
            "FOOTER" if text.contains("{{") => {
                return Err(refused(
                    None,
                    "(#100) Invalid parameter",
                    "A footer can't have variables.",
                ));
            }
            "HEADER" | "FOOTER" => {}
            other => {
                return Err(refused(
                    None,
                    "(#100) Invalid parameter",
                    format!(
                        "Unknown component type {other:?}: use HEADER, BODY, FOOTER or BUTTONS."
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Meta's checks of a new template's name, language and category, which it returns.
fn check_identity(body: &Value) -> Result<(String, String, String), CreateRefusal> {
    let field = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (name, language, category) = (field("name"), field("language"), field("category"));
    for (key, value) in [
        ("name", &name),
        ("language", &language),
        ("category", &category),
    ] {
        if value.is_empty() {
            return Err(refused(
                None,
                &format!("(#100) The parameter {key} is required."),
                format!("Give the template's {key}."),
            ));
        }
    }
    if !valid_name(&name) {
        return Err(refused(
            None,
            "(#100) Invalid parameter",
            "The name can only have lowercase letters, numbers and underscores (at most 512).",
        ));
    }
    if !valid_language(&language) {
        return Err(refused(
            None,
            "(#100) Invalid parameter",
            format!("{language:?} is not a supported language code (such as en_US)."),
        ));
    }
    if !CATEGORIES.contains(&category.as_str()) {
        return Err(refused(
            None,
            "(#100) Invalid parameter",
            "category must be one of {MARKETING, UTILITY, AUTHENTICATION}",
        ));
    }
    Ok((name, language, category))
}

impl SimState {
    /// A new template id, numeric as Meta's are.
    pub(crate) fn next_template_id(&mut self) -> String {
        let id = self.next_id("");
        let digits: String = id.chars().filter(char::is_ascii_digit).collect();
        format!("9{:0>15}", &digits[digits.len().saturating_sub(15)..])
    }

    /// The template `name` in `language` that account `waba_id` may send: its own, or one seeded
    /// for every account.
    pub fn template(&self, waba_id: &str, name: &str, language: &str) -> Option<&Template> {
        self.templates
            .get(&(waba_id.into(), name.into(), language.into()))
            .or_else(|| {
                self.templates
                    .get(&(String::new(), name.into(), language.into()))
            })
    }

    /// Every template account `waba_id` lists, by name then language.
    pub(crate) fn account_templates(&self, waba_id: &str) -> Vec<(&str, &str, &Template)> {
        let mut list: Vec<(&str, &str, &Template)> = self
            .templates
            .iter()
            .filter(|((waba, _, _), _)| waba.is_empty() || waba == waba_id)
            .map(|((_, name, language), t)| (name.as_str(), language.as_str(), t))
            .collect();
        list.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        list
    }

    /// Creates a template in account `waba_id` from a `POST /message_templates` body, checked
    /// as Meta checks it; it starts PENDING (in review).
    pub fn create_template(
        &mut self,
        waba_id: &str,
        body: &Value,
    ) -> Result<Template, CreateRefusal> {
        let (name, language, category) = check_identity(body)?;
        let components = body
            .get("components")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if components.is_empty() {
            return Err(refused(
                None,
                "(#100) The parameter components is required.",
                "Give the template's components.",
            ));
        }
        check_other_components(&components)?;
        let (body_parameters, text) = check_body(&components)?;
        if self.template(waba_id, &name, &language).is_some() {
            return Err(refused(
                Some(2388024),
                "(#100) Invalid parameter",
                format!(
                    "Content in this language already exists: there is already {language} content for {name}."
                ),
            ));
        }
        let template = Template {
            id: self.next_template_id(),
            body_parameters,
            body: text,
            status: "PENDING".into(),
            category,
            quality: "UNKNOWN".into(),
            components,
            reason: "NONE".into(),
        };
        self.templates
            .insert((waba_id.into(), name, language), template.clone());
        Ok(template)
    }

    /// Moves a template of account `waba_id` to `status` (APPROVED, REJECTED, PAUSED, DISABLED…)
    /// with `reason`, as Meta's review or its quality checks do, and returns the
    /// `message_template_status_update` webhook that announces it; `None` when it does not exist.
    pub fn set_template_status(
        &mut self,
        waba_id: &str,
        name: &str,
        language: &str,
        status: &str,
        reason: &str,
    ) -> Option<Value> {
        let key = if self
            .templates
            .contains_key(&(waba_id.into(), name.into(), language.into()))
        {
            (waba_id.to_string(), name.to_string(), language.to_string())
        } else {
            (String::new(), name.to_string(), language.to_string())
        };
        let now = self.now().timestamp();
        let template = self.templates.get_mut(&key)?;
        template.status = status.into();
        template.reason = reason.into();
        match status {
            // Meta pauses a template whose quality went red; it is green again once approved.
            "PAUSED" => template.quality = "RED".into(),
            "APPROVED" if template.quality == "RED" => template.quality = "YELLOW".into(),
            _ => {}
        }
        let mut value = json!({
            "event": status,
            "message_template_id": template.id.parse::<u64>().map(Value::from).unwrap_or_else(|_| json!(template.id)),
            "message_template_name": name,
            "message_template_language": language,
            "message_template_category": template.category,
            "reason": reason,
        });
        if status == "PAUSED" {
            value["other_info"] = json!({ "title": "FIRST_PAUSE", "description": "Your WhatsApp message template has been paused for 3 hours until 12 PM UTC because it had issues." });
        }
        if status == "DISABLED" {
            value["disable_info"] = json!({ "disable_date": now });
        }
        Some(json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": waba_id, "time": now, "changes": [{ "field": "message_template_status_update", "value": value }] }],
        }))
    }
}

/// A template as `GET /message_templates` lists it.
pub(crate) fn template_json(name: &str, language: &str, t: &Template) -> Value {
    json!({
        "name": name, "language": language, "status": t.status, "category": t.category,
        "id": t.id, "parameter_format": "POSITIONAL", "components": t.components,
        "quality_score": { "score": t.quality }, "rejected_reason": t.reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_found_in_order() {
        assert_eq!(
            variable_numbers("Hi {{1}}, order {{2}} {{1}}"),
            vec![1, 2, 1]
        );
        assert_eq!(body_variables("Hi {{1}}, order {{3}}"), 1);
    }

    #[test]
    fn names_and_languages_follow_metas_rules() {
        assert!(valid_name("order_update_v2"));
        assert!(!valid_name("Order update"));
        assert!(!valid_name(&"a".repeat(513)));
        assert!(valid_language("en_US") && valid_language("de") && valid_language("fil"));
        assert!(!valid_language("english") && !valid_language("en-us"));
    }
}
