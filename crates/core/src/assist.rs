//! A conversation of this desk's cache as AI assist takes it (`zentro_assist::Conversation`): the
//! customer's identifiers (masked before sending), whether they are restricted (P14: never sent),
//! the latest messages, and the hash the relay's audit names it by.

use zentro_assist::{Author, Conversation, Customer, Message};

use crate::cache::{Cache, CacheError};
use crate::inbox;

/// A conversation ready for AI assist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssistConversation {
    /// What the features take.
    pub conversation: Conversation,
    /// How usage records name it ([`zentro_assist::conversation_hash`]).
    pub reference: String,
}

/// The conversation `conversation_id` with its latest `limit` messages, or `None` when this cache
/// does not have it.
pub async fn assist_conversation(
    cache: &Cache,
    workspace_id: &str,
    conversation_id: i64,
    limit: i64,
) -> Result<Option<AssistConversation>, CacheError> {
    let Some(details) = inbox::conversation_details(cache, conversation_id).await? else {
        return Ok(None);
    };
    let mut views = inbox::messages(cache, conversation_id, None, limit).await?;
    views.reverse();
    let messages = views
        .into_iter()
        .filter(|m| !m.deleted)
        .filter_map(|m| {
            let text = m
                .body
                .or(m.caption)
                .unwrap_or_else(|| format!("[{}]", m.kind));
            let author = if m.direction == "inbound" {
                Author::Customer
            } else if m.author_label.is_some() {
                Author::Automation
            } else {
                Author::Agent(String::new())
            };
            (!text.trim().is_empty()).then_some(Message { author, text })
        })
        .collect();
    // The link names the relay's channel id, as every desk of the workspace knows it.
    let channel = match crate::links::parse(&details.link) {
        Ok(crate::links::DeepLink::Conversation { channel_id, .. }) => channel_id,
        _ => String::new(),
    };
    let reference = zentro_assist::conversation_hash(workspace_id, &channel, &details.customer_id);
    Ok(Some(AssistConversation {
        conversation: Conversation {
            id: conversation_id,
            restricted: details.restricted,
            customer: Customer {
                name: details.contact_name,
                customer_id: details.customer_id,
                phone: details.phone,
                email: details.email,
                username: details.username,
            },
            messages,
        },
        reference,
    }))
}
