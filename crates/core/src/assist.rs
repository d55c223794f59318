//! A conversation of this desk's cache as AI assist takes it (`zentro_assist::Conversation`): the
//! customer's identifiers (masked before sending), whether they are restricted (P14: never sent),
//! the latest messages, and the hash the relay's audit names it by; and AI assist's settings as
//! the relay last announced them (`workspace.assist`), so every desk shows whether AI is on and
//! where text goes.

use serde::{Deserialize, Serialize};
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

/// AI assist's settings as the relay announces them to every desk (`workspace.assist`); never the
/// key, and not what is spent (that is read from the relay when a request is made).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AssistAnnouncement {
    /// Whether an owner turned it on.
    pub enabled: bool,
    /// Where text goes, once named.
    pub provider: Option<crate::relay_client::AssistProvider>,
    /// Whether identifiers are masked before sending.
    pub masking: bool,
    /// Whether suggested labels are applied without an agent's action.
    pub auto_labels: bool,
    /// Tokens allowed per month (`None`: no limit).
    #[cfg_attr(feature = "specta", specta(type = Option<specta_typescript::Number>))]
    pub monthly_budget_tokens: Option<u64>,
    /// Whether the provider has a key.
    pub key_set: bool,
    /// The key's version.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub key_version: i64,
    /// Which save this is; an older one never replaces a newer one.
    #[cfg_attr(feature = "specta", specta(type = specta_typescript::Number))]
    pub version: i64,
}

impl AssistAnnouncement {
    /// Whether requests can be made: on, with a provider named.
    pub fn is_on(&self) -> bool {
        self.enabled && self.provider.is_some()
    }
}

/// Keeps `announcement` unless the cache has a newer version; whether it was kept.
pub(crate) async fn keep_announcement(
    tx: &mut sqlx::SqliteConnection,
    announcement: &AssistAnnouncement,
    at: i64,
) -> Result<bool, CacheError> {
    let settings = serde_json::to_string(announcement).unwrap_or_default();
    let stored = sqlx::query!(
        r#"
        INSERT INTO assist_settings (id, version, settings, saved_at) VALUES (1, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET
            version = excluded.version,
            settings = excluded.settings,
            saved_at = excluded.saved_at
        WHERE excluded.version >= assist_settings.version
        "#,
        announcement.version,
        settings,
        at
    )
    .execute(&mut *tx)
    .await?;
    Ok(stored.rows_affected() > 0)
}

/// AI assist's settings as the relay last announced them; `None` when it never did (AI is off).
pub async fn announced_settings(cache: &Cache) -> Result<Option<AssistAnnouncement>, CacheError> {
    let row = sqlx::query_scalar!("SELECT settings FROM assist_settings WHERE id = 1")
        .fetch_optional(cache.pool())
        .await?;
    Ok(row.and_then(|json| serde_json::from_str(&json).ok()))
}
