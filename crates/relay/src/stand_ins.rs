//! Templates standing in for automated messages once a customer's 24-hour window closed (issue
//! 22's open item, issue 24): WhatsApp allows only an approved template then, so an away message,
//! a survey or a hand-back due after the window goes as the template an admin chose for it
//! (`stands_in_for` of `PUT /v1/templates/uses`), its variables filled from what the relay knows
//! of the customer (their number; names live in desks' caches, so a name variable takes its
//! fallback). Without an approved one, the message is not sent, and the reason is recorded: it is
//! never sent as free text outside the window.

use std::collections::HashMap;

use zentro_events::clock::now_ms;
use zentro_events::templates::{ContactFacts, TemplateVariable, fill};
use zentro_meta::graph::{
    Outgoing, Recipient, TemplateComponent, TemplateComponentKind, TemplateParameter, WhatsAppSend,
};
use zentro_meta::platform::WHATSAPP_SERVICE_WINDOW;

use crate::http::AppState;
use crate::store::{AutomatedMessage, ChannelKind, TemplateRow};

/// A template send replacing an automated message, and its text as desks show it.
#[derive(Debug, Clone)]
pub struct StandIn {
    /// The send, tagged with the message's outbox id like the message itself would be.
    pub send: WhatsAppSend,
    /// The template's body with its variables filled.
    pub text: String,
}

/// Whether a message's window closed before now.
pub fn outside_window(message: &AutomatedMessage, now: i64) -> bool {
    now > message.window_opened_at + WHATSAPP_SERVICE_WINDOW.as_millis() as i64
}

/// For each due WhatsApp message whose window closed: its stand-in (the message's text becomes
/// the template's, as desks will show it), or why there is none (the message is then not sent).
/// Messages inside their window are not in the map.
pub async fn stand_ins(
    state: &AppState,
    due: &mut [AutomatedMessage],
) -> HashMap<String, Result<StandIn, String>> {
    let now = now_ms();
    let mut templates: HashMap<String, Vec<TemplateRow>> = HashMap::new();
    let mut chosen = HashMap::new();
    for message in due
        .iter()
        .filter(|m| m.channel_kind == "whatsapp" && outside_window(m, now))
    {
        if !templates.contains_key(&message.workspace_id) {
            let kept = state
                .store
                .templates(&message.workspace_id)
                .await
                .unwrap_or_else(|error| {
                    tracing::error!(%error, "could not read the workspace's templates");
                    Vec::new()
                });
            templates.insert(message.workspace_id.clone(), kept);
        }
        let account = match state
            .store
            .channel_by_external_id(ChannelKind::Whatsapp, &message.channel_external_id)
            .await
        {
            Ok(channel) => channel.and_then(|c| c.account_id),
            Err(error) => {
                tracing::error!(%error, "could not read a channel for an automated message");
                None
            }
        };
        let choice = choose(
            message,
            account.as_deref(),
            &templates[&message.workspace_id],
        );
        chosen.insert(message.id.clone(), choice);
    }
    for message in due.iter_mut() {
        if let Some(Ok(stand_in)) = chosen.get(&message.id) {
            message.body = stand_in.text.clone();
        }
    }
    chosen
}

/// The approved template of the message's account standing in for its rule, filled in.
fn choose(
    message: &AutomatedMessage,
    account: Option<&str>,
    templates: &[TemplateRow],
) -> Result<StandIn, String> {
    let rule = &message.rule;
    let template = templates
        .iter()
        .find(|t| Some(t.account_id.as_str()) == account && t.stands_in_for.as_deref() == Some(rule))
        .ok_or_else(|| {
            format!(
                "the 24-hour window closed and no template stands in for the `{rule}` message: not sent as free text"
            )
        })?;
    if template.category != "UTILITY" {
        return Err(format!(
            "the 24-hour window closed and the template {} standing in for the `{rule}` message is now {} (Meta reclassified it), not UTILITY: not sent",
            template.name, template.category
        ));
    }
    if template.status != "APPROVED" {
        return Err(format!(
            "the 24-hour window closed and the template {} standing in for the `{rule}` message is {}, not approved: not sent",
            template.name, template.status
        ));
    }
    let variables: Vec<TemplateVariable> =
        serde_json::from_str(&template.variables).unwrap_or_default();
    let facts = ContactFacts {
        name: None,
        phone: message
            .customer_id
            .chars()
            .all(|c| c.is_ascii_digit())
            .then(|| message.customer_id.clone()),
    };
    let values = fill(&variables, &facts);
    let body = crate::http::templates::template_body(template);
    let text = values.iter().enumerate().fold(body, |text, (i, v)| {
        text.replace(&format!("{{{{{}}}}}", i + 1), v)
    });
    let components = if values.is_empty() {
        Vec::new()
    } else {
        vec![TemplateComponent {
            kind: TemplateComponentKind::Body,
            parameters: values.into_iter().map(TemplateParameter::text).collect(),
        }]
    };
    let to = if message.customer_id.chars().all(|c| c.is_ascii_digit()) {
        Recipient::Phone(message.customer_id.clone())
    } else {
        Recipient::UserId(message.customer_id.clone())
    };
    Ok(StandIn {
        send: WhatsAppSend {
            to,
            message: Outgoing::Template {
                name: template.name.clone(),
                language: template.language.clone(),
                components,
            },
            reply_to: None,
            callback_data: message.id.clone(),
        },
        text,
    })
}
